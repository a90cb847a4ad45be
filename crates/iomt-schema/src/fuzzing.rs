//! Entry points for the `cargo fuzz` targets in `fuzz/fuzz_targets/` (built with `--cfg fuzzing`).
#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "fuzz hooks report failures by panicking"
)]

use alloc::vec::Vec;
use core::time::Duration;

use crate::envelope::Envelope;
use crate::fragment::{Reassembler, ReassemblyLimits};
use crate::frame::{Frame, FrameView, next_delimited};
use crate::id::ShortId;
use crate::limits::Limits;
use crate::message::Chat;
use crate::precedence::Precedence;
use crate::time::{Instant, Timestamp};

/// Decodes `data` as a frame; an accepted frame must re-encode to exactly `data`, and its
/// envelope-only view must agree with the full decode. Also reads `data` as a length-delimited
/// stream: whatever frame it yields lies inside the input, right after its prefix.
pub fn decode(data: &[u8]) {
    let limits = Limits::DEFAULT;
    if let Ok(Some((frame, used))) = next_delimited(data, &limits) {
        assert!(used <= data.len() && used > frame.len());
        assert_eq!(data.get(used - frame.len()..used), Some(frame));
    }
    let full = Frame::decode_with(data, &limits);
    let view = FrameView::decode_with(data, &limits);
    if let Ok(frame) = full {
        let again = frame.to_vec();
        assert_eq!(
            again.as_deref(),
            Ok(data),
            "accepted frame must re-encode identically"
        );
        assert_eq!(frame.encoded_len(), data.len());
        let view = view.expect("a decodable frame has a parsable envelope");
        assert_eq!(view.envelope(), &frame.envelope);
        assert_eq!(view.kind(), frame.kind());
    }
}

/// Drives a small reassembler with an operation sequence read from `data`: the first bytes
/// choose an MTU and up to four frames of various sizes and precedences; then each opcode pushes
/// a fragment of one of them (intact or with one byte flipped), pushes raw input bytes, or
/// advances time. After every step the bounds must hold, and a frame completed only from intact
/// fragments must equal the original byte for byte.
pub fn reassembly(data: &[u8]) {
    let [mtu, count, rest @ ..] = data else {
        return;
    };
    let mtu = 40 + usize::from(*mtu % 120);
    let count = 1 + usize::from(*count % 4);
    let mut rest = rest;
    let mut originals: Vec<Vec<u8>> = Vec::new();
    let mut pieces: Vec<Vec<Vec<u8>>> = Vec::new();
    for seq in 0..count {
        let [size, prec, tail @ ..] = rest else {
            return;
        };
        rest = tail;
        let mut env = Envelope::new(
            ShortId::from_u64(1 + u64::try_from(seq % 2).unwrap_or(0)).into(),
            u32::try_from(seq).unwrap_or(0),
            Timestamp::MAX,
        );
        env.precedence = Precedence::from_code(*prec);
        let frame = Frame::new(
            env,
            Chat {
                text: "x".repeat(usize::from(*size) * 2),
                to: None,
                channel: None,
                unknown: Default::default(),
            },
        );
        let Ok(bytes) = frame.to_vec() else { return };
        let Ok(split) = frame.to_fragments(mtu) else {
            return;
        };
        originals.push(bytes);
        pieces.push(split);
    }
    let limits = ReassemblyLimits {
        max_messages: 2,
        max_bytes: 600,
        max_frame: 500,
        max_pieces: 6,
        timeout: Duration::from_millis(500),
        remember_completed: 2,
    };
    let mut r = Reassembler::new(limits, Limits::DEFAULT);
    let mut now = Instant::ZERO;
    let mut tainted = alloc::vec![false; count];
    while let [op, arg, tail @ ..] = rest {
        rest = tail;
        let which = usize::from(*op & 0x3f) % count;
        let list = pieces.get(which).map(Vec::as_slice).unwrap_or_default();
        let Some(piece) = list.get(usize::from(*arg) % list.len().max(1)) else {
            continue;
        };
        let result = match op >> 6 {
            0 => r.push(now, piece),
            1 => {
                let mut bad = piece.clone();
                if let Some(b) = bad.get_mut(usize::from(*arg) % piece.len().max(1)) {
                    *b ^= 1 << (op & 7);
                }
                if let Some(t) = tainted.get_mut(which) {
                    *t = true;
                }
                r.push(now, &bad)
            }
            2 => {
                now = now + Duration::from_millis(u64::from(*arg) * 4);
                r.handle_timeout(now);
                Ok(None)
            }
            _ => {
                let n = usize::from(*arg).min(rest.len());
                let (raw, tail) = rest.split_at(n);
                rest = tail;
                tainted.iter_mut().for_each(|t| *t = true);
                r.push(now, raw)
            }
        };
        if let Ok(Some(done)) = result {
            let view = FrameView::decode(&done).expect("completed frames have an envelope");
            let seq = usize::try_from(view.envelope().seq).unwrap_or(usize::MAX);
            if tainted.get(seq) == Some(&false) {
                assert_eq!(
                    Some(&done),
                    originals.get(seq),
                    "intact fragments rebuild the original"
                );
            }
        }
        assert!(r.in_progress() <= limits.max_messages);
        assert!(r.buffered_bytes() <= limits.max_bytes);
        assert!(
            r.poll_timeout().is_none_or(|t| t > now),
            "expired frames are dropped"
        );
    }
}
