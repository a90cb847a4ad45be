//! Entry points for the `cargo fuzz` targets in `fuzz/fuzz_targets/` (built with `--cfg fuzzing`).
#![allow(
    clippy::expect_used,
    clippy::panic,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "fuzz hooks report failures by panicking"
)]

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::time::Duration;
use std::sync::OnceLock;

use iomt_schema::Instant;
use ring::rand::SystemRandom;

use crate::crypto::generate_signer;
use crate::endpoint::{Endpoint, EndpointConfig};
use crate::message::{ErrorMessage, Message1, Plaintext2, Plaintext3, decode_single_bstr};
use crate::record::{RecordError, RecordLayer};
use crate::static_credentials::StaticCredentials;
use crate::suite::CipherSuite;

/// message_1: an accepted message must re-encode to exactly the input.
pub fn message_1(data: &[u8]) {
    if let Ok(m) = Message1::decode(data) {
        let mut out = Vec::new();
        m.encode(&mut out);
        assert_eq!(out, data, "message_1 decoding is canonical");
    }
}

/// message_2: the outer byte string and PLAINTEXT_2, each canonical.
pub fn message_2(data: &[u8]) {
    let _ = decode_single_bstr(data);
    if let Ok(p) = Plaintext2::decode(data) {
        let mut out = Vec::new();
        p.encode(&mut out);
        assert_eq!(out, data, "PLAINTEXT_2 decoding is canonical");
    }
}

/// message_3: the outer byte string and PLAINTEXT_3, each canonical.
pub fn message_3(data: &[u8]) {
    let _ = decode_single_bstr(data);
    if let Ok(p) = Plaintext3::decode(data) {
        let mut out = Vec::new();
        p.encode(&mut out);
        assert_eq!(out, data, "PLAINTEXT_3 decoding is canonical");
    }
}

/// The EDHOC error message: codes 1 (short text), 2 and 3 re-encode exactly.
pub fn error_message(data: &[u8]) {
    let Ok(e) = ErrorMessage::decode(data) else {
        return;
    };
    let mut out = Vec::new();
    e.encode(&mut out);
    match &e {
        ErrorMessage::Unspecified(text) if text.len() < crate::message::MAX_ERROR_TEXT => {
            assert_eq!(out, data);
        }
        ErrorMessage::WrongSelectedSuite(_) | ErrorMessage::UnknownCredential => {
            assert_eq!(out, data);
        }
        _ => {}
    }
    assert_eq!(ErrorMessage::decode(&out).map(|e| e.code()), Ok(e.code()));
}

/// Record open: arbitrary bytes never open; genuine records, possibly mutated by the input,
/// open only when unmodified and never twice. The arbitrary bytes go to a session whose keys
/// never seal anything here: the keys are fixed, so records sealed under them could be
/// learned by the fuzzer and replayed.
pub fn record_open(data: &[u8]) {
    let [selector, rest @ ..] = data else {
        return;
    };
    let suite = if selector & 1 == 0 {
        CipherSuite::Suite4
    } else {
        CipherSuite::Suite6
    };
    let now = Instant::ZERO;
    let (_, mut untouched) = RecordLayer::fuzz_pair(suite, 7).expect("keys");
    let mut raw = rest.to_vec();
    assert!(
        untouched.open(now, &mut raw).is_err(),
        "random bytes never authenticate"
    );
    let (mut sender, mut receiver) = RecordLayer::fuzz_pair(suite, 9).expect("keys");
    let mut sealed = Vec::new();
    for chunk in rest.chunks(7) {
        let mut record = Vec::new();
        sender.seal(now, chunk, &mut record).expect("seal");
        sealed.push((chunk, record));
    }
    for (i, (plain, record)) in sealed.iter().enumerate() {
        let mut copy = record.clone();
        if i % 2 == 1
            && let Some(b) = copy.get_mut(usize::from(*selector >> 1) % record.len())
        {
            *b ^= 1 << (selector % 8);
        }
        let tampered = copy != *record;
        match receiver.open(now, &mut copy) {
            Ok(range) => {
                assert!(!tampered, "a modified record opened");
                assert_eq!(&copy[range], *plain);
                let mut again = record.clone();
                assert_eq!(receiver.open(now, &mut again), Err(RecordError::Replayed));
            }
            Err(_) => assert!(tampered || receiver.is_killed(), "a genuine record failed"),
        }
    }
}

struct Peers {
    initiator: Arc<StaticCredentials>,
    responder: Arc<StaticCredentials>,
}

fn peers() -> &'static Peers {
    static PEERS: OnceLock<Peers> = OnceLock::new();
    PEERS.get_or_init(|| {
        let rng = SystemRandom::new();
        let mut i = StaticCredentials::new();
        let mut r = StaticCredentials::new();
        for suite in [CipherSuite::Suite4, CipherSuite::Suite6] {
            let (id, cred) = i.add_local_kid(suite, &[1], generate_signer(suite, &rng).unwrap());
            r.add_peer(id, cred);
            let (id, cred) = r.add_local_kid(suite, &[2], generate_signer(suite, &rng).unwrap());
            i.add_peer(id, cred);
        }
        Peers {
            initiator: Arc::new(i),
            responder: Arc::new(r),
        }
    })
}

/// Two endpoints driven by an arbitrary sequence of deliveries (intact, mutated, dropped,
/// duplicated), injected bytes, sends, connects and timeouts. The bounds must hold and time
/// must only move forward.
pub fn session(data: &[u8]) {
    let config = EndpointConfig {
        max_sessions: 4,
        max_pending: 2,
        max_retransmits: 3,
        ..EndpointConfig::default()
    };
    let rng = Arc::new(SystemRandom::new());
    let p = peers();
    let mut eps = [
        Endpoint::new(config.clone(), p.initiator.clone(), rng.clone()),
        Endpoint::new(config.clone(), p.responder.clone(), rng),
    ];
    let mut now = Instant::ZERO;
    let mut queues: [Vec<Vec<u8>>; 2] = [Vec::new(), Vec::new()];
    let mut sessions = Vec::new();
    if let Ok(s) = eps[0].connect(now, 1u8) {
        sessions.push((0usize, s));
    }
    let mut rest = data;
    while let [op, arg, tail @ ..] = rest {
        rest = tail;
        let side = usize::from(op & 1);
        match op >> 1 & 0x7 {
            0 | 1 => {
                // Deliver the datagram `arg` picks from the other side's queue.
                let q = &mut queues[1 - side];
                if q.is_empty() {
                    continue;
                }
                let mut d = q.remove(usize::from(*arg) % q.len());
                if op >> 1 & 0x7 == 1 && !d.is_empty() {
                    let at = usize::from(*arg) % d.len();
                    d[at] ^= 1 << (arg % 8);
                }
                let from = u8::try_from(1 - side).unwrap_or(0);
                if let Ok(Some(incoming)) = eps[side].handle_input(now, from, &d) {
                    if arg & 0x80 != 0 {
                        eps[side].refuse(incoming);
                    } else if let Ok(s) = eps[side].accept(now, incoming) {
                        sessions.push((side, s));
                    }
                }
            }
            2 => {
                let q = &mut queues[1 - side];
                if !q.is_empty() {
                    let d = q[usize::from(*arg) % q.len()].clone();
                    q.push(d);
                }
            }
            3 => {
                let q = &mut queues[1 - side];
                if !q.is_empty() {
                    q.remove(usize::from(*arg) % q.len());
                }
            }
            4 => {
                now = now + Duration::from_millis(u64::from(*arg) * 37);
                for ep in &mut eps {
                    ep.handle_timeout(now);
                }
            }
            5 => {
                let n = usize::from(*arg).min(rest.len());
                let (raw, tail) = rest.split_at(n);
                rest = tail;
                let _ = eps[side].handle_input(now, 9, raw);
            }
            6 => {
                if let Some((s_side, s)) = sessions.get(usize::from(*arg) % sessions.len().max(1)) {
                    let _ = eps[*s_side].send(now, *s, &[*arg; 5]);
                }
            }
            _ => {
                if let Ok(s) = eps[0].connect(now, 1) {
                    sessions.push((0, s));
                }
            }
        }
        for (side, ep) in eps.iter_mut().enumerate() {
            while ep.poll_event().is_some() {}
            let mut buf = Vec::new();
            while let Some(t) = ep.poll_transmit(now, &mut buf) {
                assert_eq!(t.len, buf.len());
                if queues[side].len() < 64 {
                    queues[side].push(buf.clone());
                }
            }
            assert!(ep.session_count() <= config.max_sessions);
            assert!(ep.pending_count() <= config.max_pending);
        }
    }
    // Left alone, both endpoints go quiet.
    for _ in 0..1000 {
        let next = eps.iter().filter_map(Endpoint::poll_timeout).min();
        let Some(t) = next else {
            return;
        };
        assert!(t >= now, "time moves forward");
        now = t;
        for ep in &mut eps {
            ep.handle_timeout(now);
            while ep.poll_event().is_some() {}
            while ep.poll_transmit(now, &mut Vec::new()).is_some() {}
        }
    }
    panic!("the endpoints did not go quiet");
}
