//! Schema evolution: what an older decoder does with a newer peer's frames, and the JSON form.
#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed step stops the test where it happened"
)]

use iomt_schema::*;

fn env() -> Envelope {
    Envelope::new(
        ShortId::from_u64(0x0102_0304_0506_0708).into(),
        1,
        Timestamp::from_millis(1000).unwrap(),
    )
}

fn report() -> PositionReport {
    PositionReport {
        position: Position::new(
            Latitude::new(593_293_235).unwrap(),
            Longitude::new(180_685_808).unwrap(),
        ),
        affiliation: Affiliation::Friend,
        course: Some(Course::new(27_140).unwrap()),
        speed: None,
        role: None,
        callsign: None,
        unknown: UnknownFields::default(),
    }
}

const BODY: usize = 17;

#[test]
fn unknown_message_kind_passes_through() {
    let mut bytes = Frame::new(env(), report()).to_vec().unwrap();
    bytes[1] = 0xc7;
    let frame = Frame::decode(&bytes).unwrap();
    let Message::Unknown { kind: 0xc7, body } = &frame.message else {
        panic!("expected an unknown kind, got {:?}", frame.message);
    };
    assert_eq!(body[..], bytes[BODY..]);
    assert_eq!(frame.kind(), MessageKind::Unknown(0xc7));
    assert_eq!(frame.to_vec().unwrap(), bytes);
    assert_eq!(FrameView::decode(&bytes).unwrap().body(), &bytes[BODY..]);
}

/// A newer schema adds optional field 4 to the position report. This decoder keeps the field's
/// presence bit and bytes, reads the fields it knows, and re-encodes the frame unchanged.
#[test]
fn newer_optional_field_passes_through() {
    let mut bytes = Frame::new(env(), report()).to_vec().unwrap();
    assert_eq!(bytes[BODY], 0x01, "presence: course only");
    bytes[BODY] |= 0x10;
    bytes.extend([0x2a, 0x07]);
    let frame = Frame::decode(&bytes).unwrap();
    let Message::PositionReport(decoded) = &frame.message else {
        panic!("expected a position report");
    };
    assert_eq!(decoded.position, report().position);
    assert_eq!(decoded.course, report().course);
    assert_eq!(decoded.unknown.bits(), 0x10);
    assert_eq!(decoded.unknown.tail(), [0x2a, 0x07]);
    assert_eq!(frame.to_vec().unwrap(), bytes);
    let json = serde_json::to_string(&frame).unwrap();
    assert_eq!(serde_json::from_str::<Frame>(&json).unwrap(), frame);
    // Without the new presence bit the extra bytes are garbage.
    bytes[BODY] &= !0x10;
    assert!(matches!(
        Frame::decode(&bytes),
        Err(DecodeError::TrailingBytes { .. })
    ));
}

#[test]
fn unknown_codes_are_kept() {
    let mut bytes = Frame::new(env(), report()).to_vec().unwrap();
    let affiliation = BODY + 1 + 8 + 1;
    bytes[affiliation] = 200;
    let frame = Frame::decode(&bytes).unwrap();
    let Message::PositionReport(r) = &frame.message else {
        panic!("expected a position report");
    };
    assert_eq!(r.affiliation, Affiliation::Unknown(200));
    assert_eq!(frame.to_vec().unwrap(), bytes);
    assert!(serde_json::to_string(&r.affiliation).unwrap() == "200");
    // Classification levels 5 to 7 have no name yet.
    let mut bytes = Frame::new(env(), Vitals::default()).to_vec().unwrap();
    bytes[0] |= 0x06;
    let frame = Frame::decode(&bytes).unwrap();
    assert_eq!(frame.envelope.classification.level, Level::Unknown(6));
    assert_eq!(frame.to_vec().unwrap(), bytes);
    // A level that does not fit the three-bit field cannot be sent.
    let mut e = env();
    e.classification.level = Level::Unknown(9);
    assert_eq!(
        Frame::new(e, Vitals::default()).to_vec(),
        Err(EncodeError::OutOfRange {
            what: "classification level",
            value: 9,
            max: 7
        })
    );
}

/// The fingerprint is a snapshot: changing any message layout or kind code changes it, and this
/// test must then be updated on purpose, together with the protocol documentation.
#[test]
fn schema_fingerprint_is_pinned() {
    let description: Vec<&str> = schema_description().collect();
    assert!(description.contains(
        &"PositionReport{position:Position;affiliation:Affiliation;?course:Course;speed:Speed;role:Role;callsign:Callsign;}"
    ));
    assert!(description.contains(&"InventoryLevel{items:[InventoryItem];?location:Position;}"));
    assert!(description.contains(&"InventoryItem(item:ItemCode;quantity:u32;unit:SupplyUnit;)"));
    assert_eq!(description.len(), 2 * 19 + 3);
    // Cross-checked with an independent FNV-1a over the printed description.
    assert_eq!(
        SCHEMA_FINGERPRINT, 0x72c9_80ad_5426_888b,
        "got {SCHEMA_FINGERPRINT:#018x}"
    );
}

/// JSON carries human units and names.
#[test]
fn json_form() {
    let mut e = env();
    e.precedence = Precedence::Immediate;
    e.classification = Classification {
        level: Level::Restricted,
        caveats: Caveats::NONE,
        releasable_to: ReleasableTo::new(&[CountryCode::new("NOR").unwrap()]).unwrap(),
    };
    let report = PositionReport {
        position: Position {
            altitude: Some(Altitude {
                height: Height::from_f64(28.5).unwrap(),
                datum: AltitudeDatum::MeanSeaLevel,
            }),
            ..report().position
        },
        callsign: Some(Callsign::new("VIPER-21").unwrap()),
        ..report()
    };
    let frame = Frame::new(e, report);
    let json = serde_json::to_value(&frame).unwrap();
    let expected = serde_json::json!({
        "envelope": {
            "source": {"short": "0102030405060708"},
            "seq": 1,
            "time": 1000,
            "precedence": "immediate",
            "classification": {"level": "restricted", "releasable_to": ["NOR"]},
            "ack_requested": false
        },
        "message": {"position_report": {
            "position": {
                "lat": 59.3293235,
                "lon": 18.0685808,
                "altitude": {"height": 28.5, "datum": "msl"}
            },
            "affiliation": "friend",
            "course": 271.4,
            "callsign": "VIPER-21"
        }}
    });
    assert_eq!(json, expected);
    assert_eq!(serde_json::from_value::<Frame>(expected).unwrap(), frame);
    // Out-of-range JSON is refused, not clamped.
    let bad = r#"{"lat": 90.5, "lon": 0.0}"#;
    assert!(serde_json::from_str::<Position>(bad).is_err());
}
