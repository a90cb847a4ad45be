//! Properties: `decode(encode(x)) == x` for every message type (and JSON likewise), and
//! `encode(decode(b)) == b` for every accepted input, including mutated encodings.
#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed step stops the test where it happened"
)]

use iomt_schema::*;
use proptest::prelude::*;
use proptest::sample::Index;

/// Limits wide enough for anything the strategies generate (proptest's default collections go
/// beyond the conservative defaults); must-understand extensions in the frame are understood.
fn limits_for(frame: &Frame) -> Limits {
    let understood: Vec<u16> = frame
        .envelope
        .extensions
        .iter()
        .filter(|e| e.must_understand)
        .map(|e| e.kind)
        .collect();
    Limits {
        max_frame: usize::MAX,
        max_text: usize::MAX,
        max_list: usize::MAX,
        max_extensions: usize::MAX,
        max_extension_len: usize::MAX,
        understood_extensions: Box::leak(understood.into_boxed_slice()),
    }
}

fn assert_roundtrip(frame: &Frame) -> Result<(), TestCaseError> {
    let limits = limits_for(frame);
    let bytes = frame
        .to_vec()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(frame.encoded_len(), bytes.len());
    prop_assert_eq!(&Frame::decode_with(&bytes, &limits).unwrap(), frame);

    let view = FrameView::decode_with(&bytes, &limits).unwrap();
    prop_assert_eq!(view.envelope(), &frame.envelope);
    prop_assert_eq!(view.kind(), frame.kind());
    prop_assert_eq!(&view.to_frame().unwrap(), frame);

    let mut exact = vec![0u8; bytes.len()];
    prop_assert_eq!(frame.encode(&mut exact), Ok(bytes.len()));
    prop_assert_eq!(&exact, &bytes);
    if !bytes.is_empty() {
        let mut short = vec![0u8; bytes.len() - 1];
        let short_result = frame.encode(&mut short);
        prop_assert!(
            matches!(short_result, Err(EncodeError::BufferTooSmall { .. })),
            "{:?}",
            short_result
        );
    }

    let json = serde_json::to_string(frame).unwrap();
    let back: Frame =
        serde_json::from_str(&json).map_err(|e| TestCaseError::fail(format!("{e}: {json}")))?;
    prop_assert_eq!(&back, frame);
    Ok(())
}

macro_rules! roundtrip {
    ($($name:ident: $ty:ty,)*) => {
        proptest! {
            $(
                #[test]
                fn $name(envelope in any::<Envelope>(), message in any::<$ty>()) {
                    assert_roundtrip(&Frame::new(envelope, message))?;
                }
            )*
        }
    };
}

roundtrip! {
    position_report: PositionReport,
    announce: Announce,
    track: Track,
    detection: Detection,
    vehicle_state: VehicleState,
    vehicle_health: VehicleHealth,
    command: Command,
    command_ack: CommandAck,
    vitals: Vitals,
    weapon_state: WeaponState,
    environment: Environment,
    relative_location: RelativeLocation,
    device_health: DeviceHealth,
    inventory_level: InventoryLevel,
    supply_request: SupplyRequest,
    alert: Alert,
    chat: Chat,
    batch: Batch,
    fragment: Fragment,
}

proptest! {
    #[test]
    fn any_frame(frame in any::<Frame>()) {
        assert_roundtrip(&frame)?;
    }

    /// Overwrite, delete or insert a few bytes of a valid encoding: whatever the decoder still
    /// accepts must re-encode to exactly the bytes it was given.
    #[test]
    fn accepted_input_reencodes_identically(
        frame in any::<Frame>(),
        edits in proptest::collection::vec((any::<Index>(), any::<u8>(), 0u8..3), 1..4),
    ) {
        let limits = limits_for(&frame);
        let mut bytes = frame.to_vec().unwrap();
        for (at, byte, op) in edits {
            let i = at.index(bytes.len() + 1);
            match op {
                0 if i < bytes.len() => bytes[i] = byte,
                1 if i < bytes.len() => {
                    bytes.remove(i);
                }
                _ => bytes.insert(i, byte),
            }
        }
        if let Ok(decoded) = Frame::decode_with(&bytes, &limits) {
            prop_assert_eq!(decoded.to_vec().unwrap(), bytes);
        }
    }

    /// Arbitrary bytes behind a valid header byte: no panic, and acceptance implies identity.
    #[test]
    fn arbitrary_bodies(kind in any::<u8>(), tail in proptest::collection::vec(any::<u8>(), 0..96)) {
        let bytes = [&[0x40, kind][..], &[1, 2, 3, 4, 5, 6, 7, 8, 1, 0, 0, 0, 0, 0, 0][..], &tail].concat();
        if let Ok(decoded) = Frame::decode(&bytes) {
            prop_assert_eq!(decoded.to_vec().unwrap(), bytes);
        }
    }
}
