//! Byte-literal vectors: each expected frame is laid out by hand from the format description in
//! `envelope.rs`, `geo.rs`, `callsign.rs`, `batch.rs` and `fragment.rs`, then checked both ways.
#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed step stops the test where it happened"
)]

use iomt_schema::*;

fn check(frame: &Frame, expected: &[u8]) {
    let bytes = frame.to_vec().unwrap();
    assert_eq!(hex(&bytes), hex(expected), "encoding");
    assert_eq!(frame.encoded_len(), expected.len());
    assert_eq!(&Frame::decode(expected).unwrap(), frame, "decoding");
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn ts(ms: u64) -> Timestamp {
    Timestamp::from_millis(ms).unwrap()
}

/// The smallest useful frame: routine, unclassified, short source, no options.
#[test]
fn minimal_chat() {
    let env = Envelope::new(ShortId::from_u64(0x0102_0304_0506_0708).into(), 1, ts(1000));
    let chat = Chat {
        text: "hi".into(),
        to: None,
        channel: None,
        unknown: UnknownFields::default(),
    };
    #[rustfmt::skip]
    let expected = [
        0x40,                                           // version 1, no flags, routine, unclassified
        0x11,                                           // kind: chat
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, // source (short)
        0x01,                                           // seq
        0x00, 0x00, 0x00, 0x00, 0x03, 0xe8,             // time: 1000 ms
        0x00,                                           // presence: no optional field
        0x02, b'h', b'i',                               // text
    ];
    check(&Frame::new(env, chat), &expected);
}

/// Every envelope option at once.
#[test]
fn full_envelope() {
    let gbr = CountryCode::new("GBR").unwrap();
    let usa = CountryCode::new("USA").unwrap();
    let env = Envelope {
        source: DeviceId::from_bytes(core::array::from_fn(|i| u8::try_from(i).unwrap())).into(),
        seq: 70_000,
        time: ts(1_795_000_000_000),
        precedence: Precedence::Flash,
        classification: Classification {
            level: Level::Secret,
            caveats: Caveats::NOFORN,
            releasable_to: ReleasableTo::new(&[usa, gbr]).unwrap(),
        },
        expiry: Some(Expiry(300)),
        ack_requested: true,
        reference: Some(MessageRef {
            source: ShortId::from_u64(0x1112_1314_1516_1718),
            seq: 300,
        }),
        extensions: vec![Extension {
            kind: 5,
            must_understand: false,
            value: vec![0xaa],
        }],
    };
    let ack = CommandAck {
        status: AckStatus::Cantco,
        reason: Some(ReasonCode::Busy),
        eta: None,
        text: None,
        unknown: UnknownFields::default(),
    };
    #[rustfmt::skip]
    let expected = [
        0x7b,                   // version 1 | flags follow | flash (3 << 3) | secret (3)
        0x3f,                   // ack, expiry, reference, marking, extensions, full source
        0x08,                   // kind: command ack
        0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
        0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, // source (full DeviceId)
        0xf0, 0xa2, 0x04,       // seq 70000
        0x01, 0xa1, 0xee, 0x56, 0x5e, 0x00, // time 1 795 000 000 000 ms
        0xac, 0x02,             // expiry 300 s
        0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0xac, 0x02, // reference
        0x01,                   // caveats: NOFORN
        0x02, b'G', b'B', b'R', b'U', b'S', b'A', // REL TO, sorted
        0x01,                   // one extension
        0x0a, 0x01, 0xaa,       // kind 5 << 1 | not must-understand, length 1, value
        0x01,                   // presence: reason
        0x03,                   // status: cantco
        0x04,                   // reason: busy
    ];
    check(&Frame::new(env, ack), &expected);
}

/// The position report the codec benchmark encodes: 43 bytes, envelope included.
#[test]
fn position_report() {
    let env = Envelope::new(
        ShortId::from_u64(0x9f3a_5c2e_71d4_08b6).into(),
        1234,
        ts(1_795_000_000_000),
    );
    let report = PositionReport {
        position: Position {
            lat: Latitude::from_f64(59.329_323_5).unwrap(),
            lon: Longitude::from_f64(18.068_580_8).unwrap(),
            altitude: Some(Altitude {
                height: Height::from_f64(28.5).unwrap(),
                datum: AltitudeDatum::MeanSeaLevel,
            }),
            circular_error: Some(Distance::from_f64(4.5).unwrap()),
            linear_error: None,
        },
        affiliation: Affiliation::Friend,
        course: Some(Course::from_f64(271.4).unwrap()),
        speed: Some(Speed::from_f64(1.4).unwrap()),
        role: None,
        callsign: Some(Callsign::new("VIPER-21").unwrap()),
        unknown: UnknownFields::default(),
    };
    #[rustfmt::skip]
    let expected = [
        0x40, 0x01,                                     // header, kind: position report
        0x9f, 0x3a, 0x5c, 0x2e, 0x71, 0xd4, 0x08, 0xb6, // source
        0xd2, 0x09,                                     // seq 1234
        0x01, 0xa1, 0xee, 0x56, 0x5e, 0x00,             // time
        0x0b,                                           // presence: course, speed, callsign
        0x23, 0x5c, 0xef, 0xb3,                         // lat 593293235e-7
        0x0a, 0xc5, 0x0b, 0xf0,                         // lon 180685808e-7
        0x0b,                                           // altitude, datum MSL (1 << 1), CE
        0xba, 0x04,                                     // altitude: zigzag(285 dm)
        0x2d,                                           // CE 45 dm
        0x03,                                           // affiliation: friend
        0x6a, 0x04,                                     // course 27140 (0.01 degree)
        0x8c, 0x01,                                     // speed 140 cm/s
        0x08, 0x58, 0x94, 0x05, 0x4a, 0xdc, 0xb1,       // callsign, six-bit packed
    ];
    check(&Frame::new(env, report), &expected);
    assert_eq!(expected.len(), 43);
}

/// A batch with a base position: record positions are deltas, record times offsets.
#[test]
fn batch_with_base_position() {
    let base = Position::new(
        Latitude::new(593_293_235).unwrap(),
        Longitude::new(180_685_808).unwrap(),
    );
    let vitals = |hr| Vitals {
        heart_rate: Some(hr),
        ..Vitals::default()
    };
    let moved = PositionReport {
        position: Position::new(
            Latitude::new(593_293_245).unwrap(),
            Longitude::new(180_685_788).unwrap(),
        ),
        affiliation: Affiliation::Friend,
        course: None,
        speed: None,
        role: None,
        callsign: None,
        unknown: UnknownFields::default(),
    };
    let batch = Batch {
        base_position: Some(base),
        records: vec![
            BatchRecord {
                offset_ms: 0,
                message: vitals(72).into(),
            },
            BatchRecord {
                offset_ms: 1000,
                message: vitals(75).into(),
            },
            BatchRecord {
                offset_ms: 2000,
                message: moved.into(),
            },
        ],
        unknown: UnknownFields::default(),
    };
    let env = Envelope::new(ShortId::from_u64(0x0102_0304_0506_0708).into(), 1, ts(1000));
    #[rustfmt::skip]
    let expected = [
        0x40, 0x12,                                     // header, kind: batch
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x01, 0x00, 0x00, 0x00, 0x00, 0x03, 0xe8,
        0x01,                                           // presence: base position
        0x23, 0x5c, 0xef, 0xb3, 0x0a, 0xc5, 0x0b, 0xf0, 0x00, // base position, absolute
        0x03,                                           // three records
        0x09, 0x00, 0x02, 0x01, 0x48,                   // vitals at +0 ms: heart rate 72
        0x09, 0xe8, 0x07, 0x02, 0x01, 0x4b,             // vitals at +1000 ms: heart rate 75
        0x01, 0xd0, 0x0f, 0x05,                         // position report at +2000 ms, 5 bytes
        0x00, 0x14, 0x27, 0x00, 0x03,                   //   lat +10 (zigzag 20), lon -20 (39), friend
    ];
    check(&Frame::new(env, batch), &expected);
}

/// A fragment's envelope repeats the original's; its body is offset, total, payload.
#[test]
fn fragments_of_a_chat() {
    let env = Envelope::new(ShortId::from_u64(0x0102_0304_0506_0708).into(), 1, ts(1000));
    let frame = Frame::new(
        env,
        Chat {
            text: "hello, world".into(),
            to: None,
            channel: None,
            unknown: UnknownFields::default(),
        },
    );
    let original = frame.to_vec().unwrap();
    assert_eq!(original.len(), 31);
    // 17 bytes of envelope + 1 of offset + 1 of total leave 10 of payload in 29.
    let pieces = frame.to_fragments(29).unwrap();
    #[rustfmt::skip]
    let header = [
        0x40, 0x13,                                     // header, kind: fragment
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x01, 0x00, 0x00, 0x00, 0x00, 0x03, 0xe8,
    ];
    let expected: Vec<Vec<u8>> = [(0u8, 0..10), (10, 10..20), (20, 20..30), (30, 30..31)]
        .into_iter()
        .map(|(offset, range)| [&header[..], &[offset, 31], &original[range]].concat())
        .collect();
    assert_eq!(pieces, expected);
    let Message::Fragment(first) = Frame::decode(&pieces[0]).unwrap().message else {
        panic!("a fragment decodes as a fragment");
    };
    assert_eq!(
        (first.offset, first.total_len, first.payload.len()),
        (0, 31, 10)
    );
}

/// A frame that fits the MTU travels whole.
#[test]
fn frame_that_fits_is_not_fragmented() {
    let env = Envelope::new(ShortId::from_u64(1).into(), 1, ts(1000));
    let frame = Frame::new(env, Vitals::default());
    let bytes = frame.to_vec().unwrap();
    assert_eq!(frame.to_fragments(bytes.len()).unwrap(), vec![bytes]);
}
