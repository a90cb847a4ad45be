//! Fragmentation properties: any frame, any MTU from LoRa-class to IP, any arrival order with
//! duplicates, reassembles to the original exactly once; under memory pressure the bounds hold.

use core::time::Duration;

use iomt_schema::*;
use proptest::prelude::*;
use proptest::sample::Index;

/// Frames that are not fragments themselves, within the default decode limits.
fn frame() -> impl Strategy<Value = Frame> {
    any::<Frame>().prop_filter("fragment of fragment / over limits", |f| {
        f.kind() != MessageKind::Fragment
            && f.envelope.extensions.iter().all(|e| !e.must_understand)
            && f.to_vec().is_ok_and(|b| Frame::decode(&b).is_ok())
    })
}

fn reassembler() -> Reassembler {
    Reassembler::new(
        ReassemblyLimits {
            max_frame: 1 << 20,
            max_bytes: 1 << 22,
            max_pieces: 1 << 16,
            ..ReassemblyLimits::DEFAULT
        },
        Limits::DEFAULT,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_order_with_duplicates_reassembles_once(
        frame in frame(),
        mtu in 50usize..=1200,
        order in proptest::collection::vec(any::<Index>(), 0..64),
    ) {
        let original = frame.to_vec().unwrap();
        let pieces = frame.to_fragments(mtu).unwrap();
        prop_assert!(pieces.iter().all(|p| p.len() <= mtu));
        if original.len() <= mtu {
            prop_assert_eq!(&pieces, &vec![original]);
            return Ok(());
        }
        // Every piece once, in a shuffled order, with extra duplicates anywhere.
        let mut arrivals: Vec<&Vec<u8>> = pieces.iter().collect();
        for (i, pick) in order.iter().enumerate() {
            let j = pick.index(arrivals.len());
            if i % 2 == 0 {
                let k = i % arrivals.len();
                arrivals.swap(k, j);
            } else {
                arrivals.push(&pieces[pick.index(pieces.len())]);
            }
        }
        let mut r = reassembler();
        let mut done = Vec::new();
        for piece in arrivals {
            if let Some(whole) = r.push(Instant::ZERO, piece).unwrap() {
                done.push(whole);
            }
        }
        prop_assert_eq!(done, vec![original]);
        prop_assert_eq!(r.in_progress(), 0);
        prop_assert_eq!(r.buffered_bytes(), 0);
    }

    /// Several frames' fragments interleaved, some lost, under tight limits and advancing time:
    /// the bounds hold after every step, and every frame that completes is byte-identical to its
    /// original and completes once.
    #[test]
    fn bounded_under_pressure(
        frames in proptest::collection::vec(frame(), 1..5),
        steps in proptest::collection::vec((any::<Index>(), any::<Index>(), 0u8..8), 1..120),
    ) {
        let limits = ReassemblyLimits {
            max_messages: 2,
            max_bytes: 2048,
            max_frame: 1500,
            max_pieces: 8,
            timeout: Duration::from_millis(300),
            remember_completed: 8,
        };
        let mut r = Reassembler::new(limits, Limits::DEFAULT);
        // Distinct (source, seq) per frame so a completed frame names its original.
        let originals: Vec<Vec<u8>> = frames
            .into_iter()
            .enumerate()
            .map(|(i, mut f)| {
                f.envelope.source = ShortId::from_u64(7).into();
                f.envelope.seq = u32::try_from(i).unwrap();
                f.to_vec().unwrap()
            })
            .collect();
        let pieces: Vec<Vec<Vec<u8>>> = originals
            .iter()
            .map(|b| {
                let view = FrameView::decode(b).unwrap();
                Fragments::new(&view, 60).unwrap().collect()
            })
            .collect();
        let mut completed = vec![0usize; originals.len()];
        let mut now = Instant::ZERO;
        for (which, piece, op) in steps {
            let f = which.index(originals.len());
            if op == 0 {
                now = now + Duration::from_millis(100);
                r.handle_timeout(now);
            } else if let Ok(Some(whole)) = r.push(now, &pieces[f][piece.index(pieces[f].len())]) {
                let seq = FrameView::decode(&whole).unwrap().envelope().seq;
                let seq = usize::try_from(seq).unwrap();
                prop_assert_eq!(&whole, &originals[seq]);
                completed[seq] += 1;
            }
            prop_assert!(r.in_progress() <= limits.max_messages);
            prop_assert!(r.buffered_bytes() <= limits.max_bytes);
            prop_assert!(r.poll_timeout().is_none_or(|t| t > now));
        }
        // Whole frames small enough to pass unfragmented never enter the reassembler; the rest
        // complete at most once while remembered.
        prop_assert!(completed.iter().all(|&n| n <= 1));
    }
}

#[test]
fn mtu_too_small() {
    let env = Envelope::new(
        ShortId::from_u64(1).into(),
        1,
        Timestamp::from_millis(0).unwrap(),
    );
    let frame = Frame::new(
        env,
        Chat {
            text: "x".repeat(100),
            to: None,
            channel: None,
            unknown: UnknownFields::default(),
        },
    );
    assert!(matches!(
        frame.to_fragments(19),
        Err(FragmentError::MtuTooSmall {
            mtu: 19,
            needed: 19
        })
    ));
    assert_eq!(
        frame.to_fragments(20).unwrap().len(),
        frame.encoded_len().div_ceil(1)
    );
    let bytes = frame.to_fragments(1200).unwrap().remove(0);
    let fragment = Frame::new(
        Envelope::new(
            ShortId::from_u64(1).into(),
            1,
            Timestamp::from_millis(0).unwrap(),
        ),
        Fragment {
            offset: 0,
            total_len: 10,
            payload: bytes[..5].to_vec(),
        },
    );
    assert!(matches!(
        fragment.to_fragments(1200),
        Err(FragmentError::AlreadyFragment)
    ));
}

/// The largest envelope there is still splits for a LoRa-class 50-byte link: fragments carry
/// a bounded subset of it.
#[test]
fn fully_marked_frame_splits_at_50_bytes() {
    let codes: Vec<CountryCode> = ["AUS", "CAN", "DEU", "FRA", "GBR", "NOR", "NZL", "USA"]
        .into_iter()
        .map(|c| CountryCode::new(c).unwrap())
        .collect();
    let mut env = Envelope::new(
        DeviceId::from_bytes([0xab; 16]).into(),
        u32::MAX,
        Timestamp::MAX,
    );
    env.precedence = Precedence::Flash;
    env.classification = Classification {
        level: Level::Secret,
        caveats: Caveats(u32::MAX),
        releasable_to: ReleasableTo::new(&codes).unwrap(),
    };
    env.expiry = Some(Expiry(u32::MAX));
    env.ack_requested = true;
    env.reference = Some(MessageRef {
        source: ShortId::from_u64(u64::MAX),
        seq: u32::MAX,
    });
    env.extensions = vec![Extension {
        kind: u16::MAX,
        must_understand: false,
        value: vec![0; 40],
    }];
    let frame = Frame::new(
        env,
        Chat {
            text: "x".repeat(300),
            to: None,
            channel: None,
            unknown: UnknownFields::default(),
        },
    );
    let pieces = frame.to_fragments(50).unwrap();
    assert!(pieces.iter().all(|p| p.len() <= 50));
    let view = FrameView::decode(&pieces[0]).unwrap();
    assert_eq!(view.envelope().precedence, Precedence::Flash);
    assert_eq!(view.envelope().classification.level, Level::Secret);
    let mut r = reassembler();
    let whole = pieces
        .iter()
        .rev()
        .find_map(|p| r.push(Instant::ZERO, p).unwrap());
    assert_eq!(whole, Some(frame.to_vec().unwrap()));
}
