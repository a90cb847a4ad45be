//! Malformed input through the public API: each bad input maps to its own typed error.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code: a failed step stops the test where it happened"
)]

use core::time::Duration;

use iomt_schema::*;

fn ts(ms: u64) -> Timestamp {
    Timestamp::from_millis(ms).unwrap()
}

fn env() -> Envelope {
    Envelope::new(ShortId::from_u64(0x0102_0304_0506_0708).into(), 1, ts(1000))
}

fn report() -> PositionReport {
    PositionReport {
        position: Position {
            lat: Latitude::new(593_293_235).unwrap(),
            lon: Longitude::new(180_685_808).unwrap(),
            altitude: Some(Altitude {
                height: Height::new(285).unwrap(),
                datum: AltitudeDatum::Ellipsoid,
            }),
            circular_error: Some(Distance::new(45).unwrap()),
            linear_error: Some(Distance::new(90).unwrap()),
        },
        affiliation: Affiliation::Friend,
        course: Some(Course::new(27_140).unwrap()),
        speed: Some(Speed::new(140).unwrap()),
        role: Some(Role::Medic),
        callsign: Some(Callsign::new("VIPER-21").unwrap()),
        unknown: UnknownFields::default(),
    }
}

/// Frames of every shape whose every strict prefix must fail as truncated.
fn samples() -> Vec<Frame> {
    let mut full = env();
    full.precedence = Precedence::Immediate;
    full.expiry = Some(Expiry(60));
    full.ack_requested = true;
    full.reference = Some(MessageRef {
        source: ShortId::from_u64(9),
        seq: 3,
    });
    full.classification.caveats = Caveats::ORCON;
    full.classification.releasable_to =
        ReleasableTo::new(&[CountryCode::new("NOR").unwrap()]).unwrap();
    full.extensions = vec![Extension {
        kind: 300,
        must_understand: false,
        value: vec![1, 2, 3],
    }];
    full.source = DeviceId::from_bytes([7; 16]).into();
    vec![
        Frame::new(env(), report()),
        Frame::new(full, report()),
        Frame::new(
            env(),
            InventoryLevel {
                items: vec![InventoryItem {
                    item: ItemCode(5_310_012_345_678),
                    quantity: 40,
                    unit: SupplyUnit::Box,
                }],
                location: None,
                unknown: UnknownFields::default(),
            },
        ),
        Frame::new(
            env(),
            Batch {
                base_position: Some(report().position),
                records: vec![BatchRecord {
                    offset_ms: 5,
                    message: report().into(),
                }],
                unknown: UnknownFields::default(),
            },
        ),
        Frame::new(
            env(),
            Chat {
                text: "contact front".into(),
                to: Some(ShortId::from_u64(2)),
                channel: Some(7),
                unknown: UnknownFields::default(),
            },
        ),
    ]
}

#[test]
fn truncation_at_every_byte_is_truncated() {
    for frame in samples() {
        let bytes = frame.to_vec().unwrap();
        for cut in 0..bytes.len() {
            let result = Frame::decode(&bytes[..cut]);
            assert!(
                matches!(result, Err(DecodeError::Truncated { .. })),
                "{:?} cut at {cut}: {result:?}",
                frame.kind()
            );
        }
        assert!(Frame::decode(&bytes).is_ok());
    }
}

fn bytes_of(frame: &Frame) -> Vec<u8> {
    frame.to_vec().unwrap()
}

/// Offset of the body in a frame from `env()` (short source, no options).
const BODY: usize = 17;

#[track_caller]
fn expect(bytes: &[u8], want: fn(&DecodeError) -> bool) {
    let got = Frame::decode(bytes);
    match &got {
        Err(e) if want(e) => {}
        other => panic!("unexpected result for {bytes:02x?}: {other:?}"),
    }
}

#[test]
fn wrong_version() {
    let mut b = bytes_of(&Frame::new(env(), Vitals::default()));
    for version in [0u8, 2, 3] {
        b[0] = (b[0] & 0x3f) | version << 6;
        expect(&b, |e| matches!(e, DecodeError::UnsupportedVersion { .. }));
    }
}

#[test]
fn envelope_flags() {
    let mut b = bytes_of(&Frame::new(env(), Vitals::default()));
    // Flags byte announced but empty.
    b[0] |= 0x20;
    b.insert(1, 0x00);
    expect(&b, |e| {
        matches!(
            e,
            DecodeError::NonCanonical {
                what: "empty envelope flags",
                ..
            }
        )
    });
    // Reserved flag bits.
    b[1] = 0x40;
    expect(&b, |e| {
        matches!(
            e,
            DecodeError::ReservedBits {
                what: "envelope flags",
                ..
            }
        )
    });
}

#[test]
fn non_canonical_integers() {
    // seq 1 written as two bytes.
    let mut b = bytes_of(&Frame::new(env(), Vitals::default()));
    b.splice(10..11, [0x81, 0x00]);
    expect(&b, |e| {
        matches!(
            e,
            DecodeError::NonCanonical {
                what: "sequence",
                offset: 10
            }
        )
    });
    // Presence bitmap 0 written as two bytes.
    let mut b = bytes_of(&Frame::new(env(), Vitals::default()));
    b.splice(BODY..BODY + 1, [0x80, 0x00]);
    expect(&b, |e| matches!(e, DecodeError::NonCanonical { .. }));
    // A bool other than 0 or 1.
    let vitals = Vitals {
        fall_detected: Some(true),
        ..Vitals::default()
    };
    let mut b = bytes_of(&Frame::new(env(), vitals));
    *b.last_mut().unwrap() = 2;
    expect(&b, |e| {
        matches!(e, DecodeError::NonCanonical { what: "bool", .. })
    });
}

#[test]
fn overflowing_integers() {
    // seq beyond u32.
    let mut b = bytes_of(&Frame::new(env(), Vitals::default()));
    b.splice(10..11, [0xff, 0xff, 0xff, 0xff, 0x7f]);
    expect(&b, |e| {
        matches!(
            e,
            DecodeError::Overflow {
                what: "sequence",
                ..
            }
        )
    });
    // An 11-byte varint.
    let mut b = bytes_of(&Frame::new(env(), Vitals::default()));
    b.splice(10..11, [0xff; 10].into_iter().chain([0x01]));
    expect(&b, |e| matches!(e, DecodeError::Overflow { .. }));
}

#[test]
fn bad_and_oversize_lengths() {
    let chat = |text: &str| {
        Frame::new(
            env(),
            Chat {
                text: text.into(),
                to: None,
                channel: None,
                unknown: UnknownFields::default(),
            },
        )
    };
    // Text longer than the limit.
    let b = bytes_of(&chat(&"x".repeat(2000)));
    expect(&b, |e| {
        matches!(
            e,
            DecodeError::TooLong {
                what: "text",
                len: 2000,
                max: 1024,
                ..
            }
        )
    });
    // Text length pointing past the end.
    let mut b = bytes_of(&chat("hi"));
    b[BODY + 1] = 50;
    expect(&b, |e| {
        matches!(e, DecodeError::Truncated { what: "text", .. })
    });
    // Callsign of length zero and of length 17.
    let mut b = bytes_of(&Frame::new(env(), report()));
    let at = b.len() - 7;
    b[at] = 0;
    expect(&b, |e| {
        matches!(
            e,
            DecodeError::BadLength {
                what: "callsign",
                len: 0,
                ..
            }
        )
    });
    b[at] = 17;
    expect(&b, |e| {
        matches!(
            e,
            DecodeError::BadLength {
                what: "callsign",
                len: 17,
                min: 1,
                max: 16,
                ..
            }
        )
    });
    // A list longer than the limit.
    let faults = VehicleHealth {
        status: HealthStatus::Degraded,
        energy: None,
        endurance_s: None,
        link_quality: None,
        rssi_dbm: None,
        faults: Some((0..100).map(FaultCode).collect()),
        unknown: UnknownFields::default(),
    };
    let b = bytes_of(&Frame::new(env(), faults));
    expect(&b, |e| {
        matches!(
            e,
            DecodeError::TooLong {
                what: "list",
                len: 100,
                max: 64,
                ..
            }
        )
    });
    // A whole frame beyond the limit.
    let limits = Limits {
        max_frame: 20,
        ..Limits::DEFAULT
    };
    let b = bytes_of(&Frame::new(env(), report()));
    assert!(matches!(
        Frame::decode_with(&b, &limits),
        Err(DecodeError::FrameTooLong { max: 20, .. })
    ));
    // A fragment whose payload runs past its declared total.
    let mut b = bytes_of(&Frame::new(
        env(),
        Fragment {
            offset: 4,
            total_len: 10,
            payload: vec![1, 2, 3, 4, 5, 6],
        },
    ));
    b[BODY + 1] = 9;
    expect(&b, |e| {
        matches!(
            e,
            DecodeError::BadLength {
                what: "fragment payload",
                ..
            }
        )
    });
}

#[test]
fn extensions() {
    let with = |kind, must_understand| {
        let mut e = env();
        e.extensions = vec![Extension {
            kind,
            must_understand,
            value: vec![0xee],
        }];
        bytes_of(&Frame::new(e, Vitals::default()))
    };
    // Unknown, not must-understand: kept.
    let frame = Frame::decode(&with(77, false)).unwrap();
    assert_eq!(frame.envelope.extension(77).unwrap().value, [0xee]);
    // Unknown must-understand: refused, unless the application understands it.
    expect(&with(77, true), |e| {
        matches!(e, DecodeError::UnknownCriticalExtension { kind: 77, .. })
    });
    let limits = Limits {
        understood_extensions: &[77],
        ..Limits::DEFAULT
    };
    assert!(Frame::decode_with(&with(77, true), &limits).is_ok());
    // Out of order, and too many.
    let mut e = env();
    e.extensions = (0..9)
        .map(|kind| Extension {
            kind,
            must_understand: false,
            value: vec![],
        })
        .collect();
    expect(&bytes_of(&Frame::new(e.clone(), Vitals::default())), |e| {
        matches!(
            e,
            DecodeError::TooLong {
                what: "extension count",
                ..
            }
        )
    });
    e.extensions.truncate(2);
    e.extensions.swap(0, 1);
    assert_eq!(
        Frame::new(e, Vitals::default()).to_vec(),
        Err(EncodeError::ExtensionOrder {
            previous: 1,
            kind: 0
        })
    );
    // Envelope with flags: header, flags, kind, source, seq, time, then the extension count at
    // 18 and the record (key, length, value) at 19..22. Add a second record with a lower kind.
    let mut b = with(5, false);
    b[18] = 2;
    b.splice(22..22, [0x08, 0x00]);
    expect(&b, |e| {
        matches!(
            e,
            DecodeError::NonCanonical {
                what: "extension order",
                ..
            }
        )
    });
    // A count the input cannot hold is refused before anything is reserved, whatever the limit.
    let unbounded = Limits {
        max_extensions: usize::MAX,
        ..Limits::DEFAULT
    };
    let mut b = with(5, false);
    b.splice(18..19, [0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert!(matches!(
        Frame::decode_with(&b, &unbounded),
        Err(DecodeError::Truncated {
            what: "extension list",
            ..
        })
    ));
}

#[test]
fn marking() {
    let mut e = env();
    e.classification.releasable_to =
        ReleasableTo::new(&[CountryCode::new("USA").unwrap()]).unwrap();
    let mut b = bytes_of(&Frame::new(e, Vitals::default()));
    let at = b.len() - 4; // country code
    b[at] = b'u';
    expect(&b, |e| {
        matches!(
            e,
            DecodeError::InvalidText {
                what: "country code",
                ..
            }
        )
    });
    b[at - 1] = 9; // count beyond the capacity
    expect(&b, |e| {
        matches!(
            e,
            DecodeError::BadLength {
                what: "releasability",
                ..
            }
        )
    });
    b[at - 1] = 0;
    b[at - 2] = 0; // no caveats, no countries: the marking should not be there
    b.truncate(at);
    b.push(0);
    expect(&b, |e| {
        matches!(
            e,
            DecodeError::NonCanonical {
                what: "empty marking",
                ..
            }
        )
    });
}

#[test]
fn out_of_range_values() {
    let b = bytes_of(&Frame::new(env(), report()));
    // Latitude 90.0000001 degrees.
    let mut bad = b.clone();
    bad[BODY + 1..BODY + 5].copy_from_slice(&900_000_001i32.to_be_bytes());
    expect(&bad, |e| {
        matches!(
            e,
            DecodeError::OutOfRange {
                what: "latitude",
                value: 900_000_001,
                min: -900_000_000,
                max: 900_000_000,
                ..
            }
        )
    });
    assert_eq!(
        Frame::decode(&bad).unwrap_err().to_string(),
        format!(
            "latitude at byte {} is 900000001, outside -900000000..=900000000",
            BODY + 1
        )
    );
    // Course 360.00 degrees.
    let mut bad = b.clone();
    // From the end: callsign (7 bytes), role (1), speed (2), then the course.
    let course = bad.len() - 7 - 1 - 2 - 2;
    bad[course..course + 2].copy_from_slice(&36_000u16.to_be_bytes());
    expect(&bad, |e| {
        matches!(e, DecodeError::OutOfRange { what: "Course", .. })
    });
    // SpO2 of 101 %.
    let vitals = Vitals {
        spo2: Some(Percent::new(100).unwrap()),
        ..Vitals::default()
    };
    let mut bad = bytes_of(&Frame::new(env(), vitals));
    *bad.last_mut().unwrap() = 101;
    expect(&bad, |e| {
        matches!(
            e,
            DecodeError::OutOfRange {
                what: "Percent",
                ..
            }
        )
    });
    // Position flags: reserved bit, and a datum without an altitude.
    let mut bad = b.clone();
    bad[BODY + 9] |= 0x80;
    expect(&bad, |e| {
        matches!(
            e,
            DecodeError::ReservedBits {
                what: "position flags",
                ..
            }
        )
    });
    let plain = PositionReport {
        position: Position::new(Latitude::new(0).unwrap(), Longitude::new(0).unwrap()),
        ..report()
    };
    let mut bad = bytes_of(&Frame::new(env(), plain));
    bad[BODY + 9] = 0x02;
    expect(&bad, |e| {
        matches!(
            e,
            DecodeError::NonCanonical {
                what: "datum without altitude",
                ..
            }
        )
    });
    // Callsign padding bits (3 characters leave 6 spare bits; 8 would leave none).
    let short_callsign = PositionReport {
        callsign: Some(Callsign::new("AB1").unwrap()),
        ..report()
    };
    let mut bad = bytes_of(&Frame::new(env(), short_callsign));
    *bad.last_mut().unwrap() |= 0x01;
    expect(&bad, |e| {
        matches!(
            e,
            DecodeError::NonCanonical {
                what: "callsign padding",
                ..
            }
        )
    });
}

#[test]
fn text_and_trailing_bytes() {
    let chat = Frame::new(
        env(),
        Chat {
            text: "ok".into(),
            to: None,
            channel: None,
            unknown: UnknownFields::default(),
        },
    );
    let mut b = bytes_of(&chat);
    b[BODY + 2] = 0xff;
    expect(&b, |e| {
        matches!(e, DecodeError::InvalidText { what: "text", .. })
    });
    let mut b = bytes_of(&chat);
    b.push(0);
    expect(&b, |e| {
        matches!(
            e,
            DecodeError::TrailingBytes {
                what: "Chat",
                count: 1,
                ..
            }
        )
    });
}

#[test]
fn nested_batches_are_refused() {
    let inner = Frame::new(env(), Batch::default());
    let inner_body = &bytes_of(&inner)[BODY..];
    // Outer batch: no base, one record of kind batch.
    let mut b = bytes_of(&Frame::new(env(), Batch::default()));
    b.truncate(BODY);
    b.extend([
        0x00,
        0x01,
        0x12,
        0x00,
        u8::try_from(inner_body.len()).unwrap(),
    ]);
    b.extend(inner_body);
    expect(&b, |e| {
        matches!(e, DecodeError::NotAllowedInBatch { kind: 0x12, .. })
    });
    let nested = Batch {
        records: vec![BatchRecord {
            offset_ms: 0,
            message: Batch::default().into(),
        }],
        ..Batch::default()
    };
    assert!(Frame::new(env(), nested).to_vec().is_err());
}

// ---- Fragments: reassembly errors and state ----

fn big_chat(seq: u32, precedence: Precedence) -> Frame {
    let mut e = env();
    e.seq = seq;
    e.precedence = precedence;
    Frame::new(
        e,
        Chat {
            text: format!("{seq:>150}"),
            to: None,
            channel: None,
            unknown: UnknownFields::default(),
        },
    )
}

fn state(r: &Reassembler) -> (usize, usize, Option<Instant>) {
    (r.in_progress(), r.buffered_bytes(), r.poll_timeout())
}

#[track_caller]
fn refused(r: &mut Reassembler, piece: &[u8], want: fn(&ReassemblyError) -> bool) {
    let before = state(r);
    match r.push(Instant::ZERO, piece) {
        Err(e) if want(&e) => {}
        other => panic!("unexpected: {other:?}"),
    }
    assert_eq!(
        state(r),
        before,
        "a refused fragment leaves the state unchanged"
    );
}

fn fragment_frame(seq: u32, offset: u32, total_len: u32, payload: Vec<u8>) -> Vec<u8> {
    let mut e = env();
    e.seq = seq;
    bytes_of(&Frame::new(
        e,
        Fragment {
            offset,
            total_len,
            payload,
        },
    ))
}

#[test]
fn fragment_overlap_and_inconsistency() {
    let frame = big_chat(1, Precedence::Routine);
    let original = bytes_of(&frame);
    let total = u32::try_from(original.len()).unwrap();
    let mut r = Reassembler::new(ReassemblyLimits::DEFAULT, Limits::DEFAULT);
    let first = fragment_frame(1, 0, total, original[..40].to_vec());
    assert_eq!(r.push(Instant::ZERO, &first), Ok(None));
    // Exact duplicate: harmless.
    assert_eq!(r.push(Instant::ZERO, &first), Ok(None));
    // Partial overlap.
    refused(
        &mut r,
        &fragment_frame(1, 30, total, original[30..60].to_vec()),
        |e| {
            matches!(
                e,
                ReassemblyError::Overlap {
                    offset: 30,
                    len: 30
                }
            )
        },
    );
    // Same range, different bytes.
    let mut forged = original[..40].to_vec();
    forged[3] ^= 0xff;
    refused(&mut r, &fragment_frame(1, 0, total, forged), |e| {
        matches!(e, ReassemblyError::Inconsistent { what: "payload" })
    });
    // Different total length for the same frame.
    refused(
        &mut r,
        &fragment_frame(1, 40, total + 1, original[40..50].to_vec()),
        |e| {
            matches!(
                e,
                ReassemblyError::Inconsistent {
                    what: "total length"
                }
            )
        },
    );
    // Different envelope for the same frame.
    let mut e = env();
    e.precedence = Precedence::Flash;
    let other = bytes_of(&Frame::new(
        e,
        Fragment {
            offset: 40,
            total_len: total,
            payload: original[40..50].to_vec(),
        },
    ));
    refused(&mut r, &other, |e| {
        matches!(e, ReassemblyError::Inconsistent { what: "envelope" })
    });
    // Not a fragment at all, and garbage.
    refused(&mut r, &original, |e| {
        matches!(
            e,
            ReassemblyError::NotAFragment {
                kind: MessageKind::Chat
            }
        )
    });
    refused(&mut r, &[0x40], |e| {
        matches!(e, ReassemblyError::Decode(DecodeError::Truncated { .. }))
    });
    // Too large to reassemble.
    refused(&mut r, &fragment_frame(2, 0, 60_000, vec![0; 8]), |e| {
        matches!(e, ReassemblyError::TooLarge { total: 60_000, .. })
    });
    // The rest completes the frame.
    let rest = fragment_frame(1, 40, total, original[40..].to_vec());
    assert_eq!(r.push(Instant::ZERO, &rest), Ok(Some(original)));
    assert_eq!(state(&r), (0, 0, None));
    // A late duplicate of a completed frame is ignored and starts nothing.
    assert_eq!(r.push(Instant::ZERO, &first), Ok(None));
    assert_eq!(state(&r), (0, 0, None));
}

#[test]
fn reassembled_frame_must_match_its_fragments() {
    // Fragments under seq 9 whose payload is a frame with seq 1.
    let original = bytes_of(&big_chat(1, Precedence::Routine));
    let total = u32::try_from(original.len()).unwrap();
    let mut r = Reassembler::new(ReassemblyLimits::DEFAULT, Limits::DEFAULT);
    assert_eq!(
        r.push(
            Instant::ZERO,
            &fragment_frame(9, 0, total, original[..50].to_vec())
        ),
        Ok(None)
    );
    assert_eq!(
        r.push(
            Instant::ZERO,
            &fragment_frame(9, 50, total, original[50..].to_vec())
        ),
        Err(ReassemblyError::Mismatch)
    );
    assert_eq!(state(&r), (0, 0, None), "the bad frame is discarded");
}

#[test]
fn too_many_pieces() {
    let original = bytes_of(&big_chat(1, Precedence::Routine));
    let total = u32::try_from(original.len()).unwrap();
    let limits = ReassemblyLimits {
        max_pieces: 2,
        ..ReassemblyLimits::DEFAULT
    };
    let mut r = Reassembler::new(limits, Limits::DEFAULT);
    for at in [0u32, 20] {
        let a = usize::try_from(at).unwrap();
        assert_eq!(
            r.push(
                Instant::ZERO,
                &fragment_frame(1, at, total, original[a..a + 10].to_vec())
            ),
            Ok(None)
        );
    }
    refused(
        &mut r,
        &fragment_frame(1, 40, total, original[40..50].to_vec()),
        |e| matches!(e, ReassemblyError::TooManyPieces { max: 2 }),
    );
    // Filling the gap joins two pieces into one: allowed.
    assert_eq!(
        r.push(
            Instant::ZERO,
            &fragment_frame(1, 10, total, original[10..20].to_vec())
        ),
        Ok(None)
    );
}

#[test]
fn full_reassembler_evicts_only_less_urgent_frames() {
    let limits = ReassemblyLimits {
        max_messages: 2,
        ..ReassemblyLimits::DEFAULT
    };
    let mut r = Reassembler::new(limits, Limits::DEFAULT);
    let first_piece = |frame: &Frame| frame.to_fragments(64).unwrap().remove(0);
    let routine = big_chat(1, Precedence::Routine);
    let flash_a = big_chat(2, Precedence::Flash);
    let flash_b = big_chat(3, Precedence::Flash);
    let routine_late = big_chat(4, Precedence::Routine);
    assert_eq!(r.push(Instant::ZERO, &first_piece(&routine)), Ok(None));
    assert_eq!(
        r.push(Instant::from_nanos(1), &first_piece(&flash_a)),
        Ok(None)
    );
    // Full: a flash frame evicts the routine one.
    assert_eq!(
        r.push(Instant::from_nanos(2), &first_piece(&flash_b)),
        Ok(None)
    );
    assert_eq!(r.in_progress(), 2);
    // Full of flash frames: a routine frame is refused and nothing changes.
    let before = state(&r);
    assert_eq!(
        r.push(Instant::from_nanos(3), &first_piece(&routine_late)),
        Err(ReassemblyError::Full {
            total: bytes_of(&routine_late).len(),
            max_frames: 2,
            max_bytes: ReassemblyLimits::DEFAULT.max_bytes,
        })
    );
    assert_eq!(state(&r), before);
    // The evicted routine frame can no longer complete from its remaining pieces.
    for piece in routine.to_fragments(64).unwrap().iter().skip(1) {
        assert_ne!(
            r.push(Instant::from_nanos(4), piece).ok().flatten(),
            Some(bytes_of(&routine))
        );
    }
}

#[test]
fn partial_frames_expire() {
    let limits = ReassemblyLimits {
        timeout: Duration::from_secs(5),
        ..ReassemblyLimits::DEFAULT
    };
    let mut r = Reassembler::new(limits, Limits::DEFAULT);
    let pieces = big_chat(1, Precedence::Routine).to_fragments(64).unwrap();
    let t0 = Instant::from_nanos(1_000);
    assert_eq!(r.push(t0, &pieces[0]), Ok(None));
    assert_eq!(r.poll_timeout(), Some(t0 + Duration::from_secs(5)));
    r.handle_timeout(t0 + Duration::from_millis(4_999));
    assert_eq!(r.in_progress(), 1);
    r.handle_timeout(t0 + Duration::from_secs(5));
    assert_eq!(state(&r), (0, 0, None), "idle after expiry");
}
