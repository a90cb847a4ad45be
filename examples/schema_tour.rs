//! A tour of the message catalogue: one frame of each kind, printed as JSON with its encoded size
//! and bytes, then a LoRa-class split and reassembly.
//!
//! Run with `cargo run --release --example schema_tour`.
#![allow(
    clippy::indexing_slicing,
    reason = "example code keeps to the calls it shows: a failed step stops it where it happened"
)]

use iomt::schema::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let squad_leader: DeviceId = "9f3a5c2e71d408b6c4f1e0a2b3d49e57".parse()?;
    let medic = ShortId::from_u64(0x51c0_a7e2_0b44_9d31);
    let uav = ShortId::from_u64(0x7a11_0e55_c3d2_4b10);
    let here = Position {
        lat: Latitude::from_f64(59.329_323_5)?,
        lon: Longitude::from_f64(18.068_580_8)?,
        altitude: Some(Altitude {
            height: Height::from_f64(28.5)?,
            datum: AltitudeDatum::MeanSeaLevel,
        }),
        circular_error: Some(Distance::from_f64(4.5)?),
        linear_error: None,
    };
    let there = Position::new(
        Latitude::from_f64(59.331_2)?,
        Longitude::from_f64(18.075_9)?,
    );
    let t0 = Timestamp::from_millis(1_795_000_000_000).ok_or("timestamp")?;
    let none = UnknownFields::default;

    let messages: Vec<Message> = vec![
        PositionReport {
            position: here,
            affiliation: Affiliation::Friend,
            course: Some(Course::from_f64(271.4)?),
            speed: Some(Speed::from_f64(1.4)?),
            role: Some(Role::Leader),
            callsign: Some(Callsign::new("VIPER-21")?),
            unknown: none(),
        }
        .into(),
        Announce {
            callsign: Callsign::new("VIPER-21")?,
            device_kind: DeviceKind::Soldier,
            capabilities: Capabilities::POSITION
                .union(Capabilities::VITALS)
                .union(Capabilities::RELAY),
            schema: Fingerprint(SCHEMA_FINGERPRINT),
            role: Some(Role::Leader),
            unit: Some("2/A/1-12 IN".into()),
            firmware: Some(FirmwareVersion {
                major: 3,
                minor: 1,
                patch: 4,
            }),
            device_id: Some(squad_leader),
            unknown: none(),
        }
        .into(),
        Track {
            track_id: 4021,
            position: there,
            affiliation: Affiliation::Hostile,
            confidence: Percent::new(80).ok_or("percent")?,
            velocity: Some(Velocity {
                east: VelocityComponent::from_f64(-3.2)?,
                north: VelocityComponent::from_f64(0.4)?,
                up: VelocityComponent::from_f64(0.0)?,
            }),
            class: Some(ObjectClass::WheeledVehicle),
            sensor: Some(SensorKind::Fused),
            unknown: none(),
        }
        .into(),
        Detection {
            sensor: SensorKind::Acoustic,
            confidence: Percent::new(65).ok_or("percent")?,
            position: None,
            bearing: Some(Course::from_f64(42.0)?),
            range: Some(Distance::from_f64(850.0)?),
            elevation: None,
            class: Some(ObjectClass::FiringPoint),
            affiliation: Some(Affiliation::Suspect),
            track_id: None,
            unknown: none(),
        }
        .into(),
        VehicleState {
            mode: VehicleMode::Mission,
            position: there,
            velocity: None,
            heading: Some(Course::from_f64(88.0)?),
            speed: Some(Speed::from_f64(14.0)?),
            waypoint: Some(here),
            unknown: none(),
        }
        .into(),
        VehicleHealth {
            status: HealthStatus::Degraded,
            energy: Percent::new(37),
            endurance_s: Some(1_260),
            link_quality: Percent::new(71),
            rssi_dbm: Some(-97),
            faults: Some(vec![FaultCode(0x0102)]),
            unknown: none(),
        }
        .into(),
        Command {
            target: uav,
            action: CommandAction::Observe,
            waypoint: Some(there),
            speed: None,
            duration_s: Some(600),
            deadline: t0.checked_add(core::time::Duration::from_secs(120)),
            subject: None,
            text: None,
            unknown: none(),
        }
        .into(),
        CommandAck {
            status: AckStatus::Wilco,
            reason: None,
            eta: t0.checked_add(core::time::Duration::from_secs(95)),
            text: None,
            unknown: none(),
        }
        .into(),
        Vitals {
            heart_rate: Some(112),
            respiration_rate: Some(22),
            spo2: Percent::new(96),
            core_temp: Some(Temperature::from_f64(38.1)?),
            skin_temp: None,
            posture: Some(Posture::Running),
            fall_detected: Some(false),
            unknown: none(),
        }
        .into(),
        WeaponState {
            status: WeaponStatus::Armed,
            weapon: Some(WeaponKind::Rifle),
            rounds_remaining: Some(17),
            shots_fired: Some(13),
            magazines: Some(5),
            unknown: none(),
        }
        .into(),
        Environment {
            temperature: Some(Temperature::from_f64(-4.5)?),
            humidity: Percent::new(83),
            pressure: Some(Pressure(101_325)),
            wind_speed: Some(Speed::from_f64(6.2)?),
            wind_direction: Some(Course::from_f64(250.0)?),
            cbrn: Some(vec![CbrnReading {
                agent: CbrnAgent::Nerve,
                level: HazardLevel::None,
                value: 0,
            }]),
            unknown: none(),
        }
        .into(),
        RelativeLocation {
            reference: squad_leader.short(),
            range: Distance::from_f64(23.4)?,
            bearing: Course::from_f64(135.0)?,
            elevation: None,
            range_error: Some(Distance::from_f64(0.3)?),
            bearing_error: None,
            method: Some(RangingMethod::UltraWideband),
            unknown: none(),
        }
        .into(),
        DeviceHealth {
            battery: Percent::new(64),
            storage_free_kib: Some(512_000),
            tamper: Some(TamperState::Intact),
            firmware: Some(FirmwareVersion {
                major: 3,
                minor: 1,
                patch: 4,
            }),
            uptime_s: Some(86_400),
            temperature: None,
            unknown: none(),
        }
        .into(),
        InventoryLevel {
            items: vec![
                InventoryItem {
                    item: ItemCode(1_305_012_345_678),
                    quantity: 12_000,
                    unit: SupplyUnit::Round,
                },
                InventoryItem {
                    item: ItemCode(8_970_001_234_567),
                    quantity: 240,
                    unit: SupplyUnit::Ration,
                },
            ],
            location: Some(there),
            unknown: none(),
        }
        .into(),
        SupplyRequest {
            item: ItemCode(6_515_013_482_123),
            quantity: 4,
            unit: SupplyUnit::Box,
            deliver_to: here,
            needed_by: t0.checked_add(core::time::Duration::from_secs(3_600)),
            class: Some(SupplyClass::Medical),
            remarks: Some("tourniquets".into()),
            unknown: none(),
        }
        .into(),
        Alert {
            kind: AlertKind::ManDown,
            state: AlertState::Raised,
            position: Some(here),
            subject: Some(medic),
            text: None,
            unknown: none(),
        }
        .into(),
        Chat {
            text: "Contact front, 300 m, moving to cover".into(),
            to: None,
            channel: Some(2),
            unknown: none(),
        }
        .into(),
        Batch {
            base_position: Some(here),
            records: (0..3)
                .map(|i| BatchRecord {
                    offset_ms: i * 1000,
                    message: Vitals {
                        heart_rate: Some(110 + u16::try_from(i).unwrap_or(0)),
                        ..Vitals::default()
                    }
                    .into(),
                })
                .collect(),
            unknown: none(),
        }
        .into(),
        Fragment {
            offset: 0,
            total_len: 4,
            payload: vec![0x40, 0x11, 0x00, 0x00],
        }
        .into(),
    ];

    println!("iomt-schema tour: protocol version {VERSION}, schema {SCHEMA_FINGERPRINT:#018x}\n");
    let mut total = 0;
    for (seq, message) in (1..).zip(messages) {
        let mut envelope = Envelope::new(squad_leader.short().into(), seq, t0);
        if matches!(message, Message::Alert(_)) {
            envelope.precedence = Precedence::Flash;
            envelope.ack_requested = true;
        }
        if let Message::CommandAck(_) = message {
            envelope.reference = Some(MessageRef {
                source: squad_leader.short(),
                seq: seq - 1,
            });
        }
        let frame = Frame::new(envelope, message);
        let bytes = frame.to_vec()?;
        assert_eq!(
            Frame::decode(&bytes)?,
            frame,
            "every frame decodes to itself"
        );
        total += bytes.len();
        println!("== {:?}: {} bytes", frame.kind(), bytes.len());
        println!("   {}", hex(&bytes));
        println!("   {}\n", serde_json::to_string(&frame.message)?);
    }
    println!("{total} bytes for one frame of each kind\n");

    // A long chat over a 50-byte link: split, deliver out of order with a duplicate, reassemble.
    let chat = Frame::new(
        Envelope::new(medic.into(), 7, t0),
        Chat {
            text: "Casualty stable, request MEDEVAC at grid 33V XF 12345 67890, LZ marked green"
                .into(),
            to: Some(squad_leader.short()),
            channel: None,
            unknown: UnknownFields::default(),
        },
    );
    let pieces = chat.to_fragments(50)?;
    let mut reassembler = Reassembler::new(ReassemblyLimits::DEFAULT, Limits::DEFAULT);
    let mut order: Vec<&Vec<u8>> = pieces.iter().rev().collect();
    order.insert(1, &pieces[0]);
    let whole = order
        .into_iter()
        .map(|p| reassembler.push(Instant::ZERO, p))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .next()
        .ok_or("the chat did not reassemble")?;
    println!(
        "a {}-byte chat crosses a 50-byte link as {} fragments ({} bytes) and reassembles: {}",
        chat.encoded_len(),
        pieces.len(),
        pieces.iter().map(Vec::len).sum::<usize>(),
        Frame::decode(&whole)? == chat
    );
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
