#![allow(clippy::as_conversions, reason = "test arithmetic on small counters")]
use alloc::vec::Vec;

use proptest::prelude::*;

use super::*;

fn pair_with(suite: CipherSuite, config: RecordConfig) -> (RecordLayer, RecordLayer) {
    let secret = SessionSecret::new(Secret([0x42; HASH_LEN])).unwrap();
    let i = ConnId::new(&[0x2d, 0x00, 0x00, 0x01]).unwrap();
    let r = ConnId::new(&[0x01, 0x18, 0xa0, 0x5c]).unwrap();
    (
        RecordLayer::new(
            suite,
            &secret,
            HandshakeRole::Initiator,
            i,
            r,
            config,
            Instant::ZERO,
        )
        .unwrap(),
        RecordLayer::new(
            suite,
            &secret,
            HandshakeRole::Responder,
            r,
            i,
            config,
            Instant::ZERO,
        )
        .unwrap(),
    )
}

fn pair(suite: CipherSuite) -> (RecordLayer, RecordLayer) {
    pair_with(suite, RecordConfig::default())
}

fn seal(layer: &mut RecordLayer, now: Instant, msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    layer.seal(now, msg, &mut out).unwrap();
    out
}

fn open(layer: &mut RecordLayer, now: Instant, record: &[u8]) -> Result<Vec<u8>, RecordError> {
    let mut buf = record.to_vec();
    let range = layer.open(now, &mut buf)?;
    Ok(buf[range].to_vec())
}

const SUITES: [CipherSuite; 2] = [CipherSuite::Suite4, CipherSuite::Suite6];

#[test]
fn overhead_is_23_bytes() {
    for suite in SUITES {
        let (mut i, mut r) = pair(suite);
        let to_r = seal(&mut i, Instant::ZERO, b"ping");
        let to_i = seal(&mut r, Instant::ZERO, b"pong");
        assert_eq!(to_r.len(), 4 + 7 + 16);
        assert_eq!(to_i.len(), 4 + 7 + 16);
        const { assert!(MAX_OVERHEAD == 23) };
        assert_eq!(
            to_r[1..5],
            [0x01, 0x18, 0xa0, 0x5c],
            "the receiver's identifier"
        );
        assert_eq!(to_i[1..5], [0x2d, 0x00, 0x00, 0x01]);
        assert_eq!(open(&mut r, Instant::ZERO, &to_r).unwrap(), b"ping");
        assert_eq!(open(&mut i, Instant::ZERO, &to_i).unwrap(), b"pong");
    }
}

#[test]
fn header_layout() {
    let mut out = [0; MAX_HEADER_LEN];
    let id = ConnId::new(&[0xab, 0xcd, 0xef, 0x01]).unwrap();
    write_header(&mut out, &id, 6, true, 0x1_2345_6789);
    // phase 6 % 4 = 2, update requested, sequence bits 19..16 = 0x5.
    assert_eq!(
        out,
        [
            0x80 | 0x40 | 0x10 | 0x05,
            0xab,
            0xcd,
            0xef,
            0x01,
            0x67,
            0x89
        ]
    );
    let mut record = out.to_vec();
    record.extend_from_slice(&[0; TAG_LEN]);
    let h = RecordHeader::parse(&record).unwrap();
    assert_eq!(h.receiver, id);
    assert_eq!(h.truncated_seq, 0x5_6789);
    assert_eq!(h.phase_bits, 2);
    assert!(h.update_requested());
    write_header(&mut out, &id, 1, false, 3);
    assert_eq!(out, [0x80 | 0x20, 0xab, 0xcd, 0xef, 0x01, 0x00, 0x03]);
    assert_eq!(
        RecordHeader::parse(&record[..22]),
        Err(RecordError::Truncated { len: 22 })
    );
    assert_eq!(
        RecordHeader::parse(&[]),
        Err(RecordError::Truncated { len: 0 })
    );
    assert_eq!(
        RecordHeader::parse(&[0x01; 30]),
        Err(RecordError::NotARecord(0x01))
    );
}

#[test]
fn sequence_reconstruction() {
    assert_eq!(reconstruct(0, 0), 0);
    assert_eq!(reconstruct(0, 5), 5);
    assert_eq!(reconstruct(SEQ_WINDOW - 2, 1), SEQ_WINDOW + 1);
    assert_eq!(reconstruct(SEQ_WINDOW + 3, SEQ_MASK), SEQ_WINDOW - 1);
    assert_eq!(reconstruct(10 * SEQ_WINDOW, 0), 10 * SEQ_WINDOW);
    assert_eq!(reconstruct(0, SEQ_MASK), SEQ_MASK, "nothing below zero");
}

proptest! {
    #[test]
    fn reconstruction_is_exact_near_expected(expected in 0u64..(1 << 40), delta in -((1i64 << 19) - 1)..(1i64 << 19)) {
        let Some(seq) = expected.checked_add_signed(delta) else { return Ok(()); };
        prop_assert_eq!(reconstruct(expected, seq & SEQ_MASK), seq);
    }

    #[test]
    fn round_trips(msgs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..20), suite6 in any::<bool>()) {
        let suite = if suite6 { CipherSuite::Suite6 } else { CipherSuite::Suite4 };
        let (mut i, mut r) = pair(suite);
        let records: Vec<_> = msgs.iter().map(|m| seal(&mut i, Instant::ZERO, m)).collect();
        // Deliver in reverse: everything is within the window.
        for (record, msg) in records.iter().zip(&msgs).rev() {
            prop_assert_eq!(record.len(), msg.len() + MAX_OVERHEAD);
            prop_assert_eq!(&open(&mut r, Instant::ZERO, record).unwrap(), msg);
        }
        prop_assert_eq!(r.stats().opened, msgs.len() as u64);
    }
}

/// Every bad record gets its own error and leaves the receiver as it was: a genuine record
/// still opens afterwards and a replay of an accepted one is still refused.
#[test]
fn bad_record_table() {
    for suite in SUITES {
        let (mut i, mut r) = pair(suite);
        let now = Instant::ZERO;
        let first = seal(&mut i, now, b"first");
        assert_eq!(open(&mut r, now, &first).unwrap(), b"first");
        let mut old = Vec::new();
        for n in 0..1100u32 {
            old.push(seal(&mut i, now, &n.to_be_bytes()));
        }
        let newest = old.pop().unwrap();
        assert_eq!(open(&mut r, now, &newest).unwrap(), 1099u32.to_be_bytes());
        let pending = old.pop().unwrap();

        let mut forged = pending.clone();
        *forged.last_mut().unwrap() ^= 1;
        let mut flipped_body = pending.clone();
        flipped_body[8] ^= 0x80;
        let mut wrong_session = pending.clone();
        wrong_session[2] ^= 1;
        let truncated = pending[..MAX_HEADER_LEN + TAG_LEN - 1].to_vec();
        let mut not_record = pending.clone();
        not_record[0] &= 0x7f;
        let mut old_phase = pending.clone();
        // Phase 3 is "the one before 0", whose key never existed.
        old_phase[0] |= 0x60;

        let cases: Vec<(&str, Vec<u8>, RecordError)> = vec![
            ("replayed", newest.clone(), RecordError::Replayed(1100)),
            ("replayed first", first.clone(), RecordError::TooOld(0)),
            (
                "far outside the window",
                old[0].clone(),
                RecordError::TooOld(1),
            ),
            ("forged tag", forged, RecordError::Forged),
            ("flipped ciphertext", flipped_body, RecordError::Forged),
            (
                "truncated",
                truncated,
                RecordError::Truncated {
                    len: MAX_HEADER_LEN + TAG_LEN - 1,
                },
            ),
            ("empty", Vec::new(), RecordError::Truncated { len: 0 }),
            (
                "not a record",
                not_record,
                RecordError::NotARecord(pending[0] & 0x7f),
            ),
            ("other session", wrong_session, RecordError::WrongSession),
            ("old key phase", old_phase, RecordError::OldKeyPhase),
        ];
        for (name, bytes, err) in cases {
            let before = r.stats();
            let window = r.window.clone();
            assert_eq!(open(&mut r, now, &bytes), Err(err), "{suite:?} {name}");
            assert_eq!(r.window, window, "{name}: window unchanged");
            assert_eq!(r.stats().opened, before.opened, "{name}");
            assert_eq!(r.stats().receive_phase, before.receive_phase, "{name}");
        }
        assert_eq!(r.stats().forgeries, 2);
        assert_eq!(open(&mut r, now, &pending).unwrap(), 1098u32.to_be_bytes());
        assert_eq!(
            open(&mut r, now, &pending),
            Err(RecordError::Replayed(1099))
        );
    }
}

/// Junk records never end the session: once the current receive key has absorbed the
/// configured failures, this side asks for the peer's next key (the K bit), the peer moves
/// on, and the count starts again under the new key.
#[test]
fn forgeries_ask_for_a_key_update_instead_of_killing() {
    for suite in SUITES {
        let config = RecordConfig {
            forgeries_before_update: 3,
            ..RecordConfig::default()
        };
        let (mut i, mut r) = pair_with(suite, config);
        let now = Instant::ZERO;
        let good = seal(&mut i, now, b"x");
        let mut bad = good.clone();
        bad[8] ^= 1;
        for _ in 0..100 {
            assert_eq!(open(&mut r, now, &bad), Err(RecordError::Forged));
        }
        assert_eq!(r.stats().forgeries, 100);
        assert_eq!(r.stats().updates_requested, 1, "asked once");
        assert!(r.is_requesting_update());
        assert_eq!(open(&mut r, now, &good).unwrap(), b"x", "the session lives");
        // The request rides on the responder's next record; the initiator's next record is
        // under phase 1, which ends the request.
        let reply = seal(&mut r, now, b"ack");
        assert_ne!(reply[0] & 0x10, 0, "K bit set");
        assert_eq!(open(&mut i, now, &reply).unwrap(), b"ack");
        let next = seal(&mut i, now, b"y");
        assert_eq!(i.stats().send_phase, 1);
        assert_eq!(open(&mut r, now, &next).unwrap(), b"y");
        assert_eq!(r.stats().receive_phase, 1);
        assert!(!r.is_requesting_update());
        assert_eq!(seal(&mut r, now, b"z")[0] & 0x10, 0, "K bit clear again");
        // The initiator honours one request once: its next records stay in phase 1.
        let again = seal(&mut i, now, b"w");
        assert_eq!(i.stats().send_phase, 1);
        assert_eq!(open(&mut r, now, &again).unwrap(), b"w");
    }
}

/// The requester sets the K bit on every record until the new phase reaches it; the peer
/// moves on once for all of them, so it never runs more than one phase ahead of a receiver
/// that has not seen its new phase yet.
#[test]
fn a_burst_of_requests_moves_the_peer_once() {
    let config = RecordConfig {
        forgeries_before_update: 1,
        ..RecordConfig::default()
    };
    let (mut i, mut r) = pair_with(CipherSuite::Suite4, config);
    let now = Instant::ZERO;
    let mut bad = seal(&mut i, now, b"x");
    bad[8] ^= 1;
    assert_eq!(open(&mut r, now, &bad), Err(RecordError::Forged));
    let requests: Vec<_> = (0..5u8).map(|n| seal(&mut r, now, &[n])).collect();
    for (n, request) in requests.iter().enumerate() {
        assert_eq!(open(&mut i, now, request).unwrap(), [n as u8]);
        seal(&mut i, now, b"data");
    }
    assert_eq!(i.stats().send_phase, 1);
    // After the retention period a request still outstanding is honoured again.
    let later = now + config.old_key_retention;
    let late = seal(&mut r, later, b"late");
    assert_eq!(open(&mut i, later, &late).unwrap(), b"late");
    seal(&mut i, later, b"data");
    assert_eq!(i.stats().send_phase, 2);
}

/// The K bit is part of the authenticated header: flipping it on a genuine record makes the
/// record fail, and asks for nothing.
#[test]
fn update_request_bit_is_authenticated() {
    let (mut i, mut r) = pair(CipherSuite::Suite4);
    let mut record = seal(&mut i, Instant::ZERO, b"x");
    record[0] ^= 0x10;
    assert_eq!(
        open(&mut r, Instant::ZERO, &record),
        Err(RecordError::Forged)
    );
    let reply = seal(&mut r, Instant::ZERO, b"y");
    assert_eq!(open(&mut i, Instant::ZERO, &reply).unwrap(), b"y");
    seal(&mut i, Instant::ZERO, b"z");
    assert_eq!(i.stats().send_phase, 0);
}

/// A key that reaches the AEAD's integrity limit is never tried again.
#[test]
fn keys_past_the_integrity_limit_are_refused() {
    let (mut i, mut r) = pair(CipherSuite::Suite4);
    let good = seal(&mut i, Instant::ZERO, b"x");
    r.recv.forgeries = r.integrity_limit;
    assert_eq!(
        open(&mut r, Instant::ZERO, &good),
        Err(RecordError::KeyExhausted)
    );
    assert_eq!(r.integrity_limit, 1 << 36);
    let (g, _) = pair(CipherSuite::Suite6);
    assert_eq!(g.integrity_limit, 1 << 52);
    assert_eq!(r.update_after_forgeries, 1 << 20);
}

#[test]
fn key_update_by_count_survives_loss_and_reordering() {
    for suite in SUITES {
        let config = RecordConfig {
            key_update_after_records: 10,
            old_key_retention: Duration::from_secs(5),
            ..RecordConfig::default()
        };
        let (mut i, mut r) = pair_with(suite, config);
        let now = Instant::ZERO;
        let records: Vec<_> = (0..45u8).map(|n| seal(&mut i, now, &[n])).collect();
        assert_eq!(i.stats().send_phase, 4);
        // Phase 0 arrives, then phase 1 is lost, then phase 2 arrives (two ahead).
        for (n, record) in records.iter().enumerate().take(9) {
            assert_eq!(open(&mut r, now, record).unwrap(), [n as u8]);
        }
        assert_eq!(open(&mut r, now, &records[25]).unwrap(), [25]);
        assert_eq!(r.stats().receive_phase, 2);
        // A straggler from phase 1 is "the previous phase", kept for the retention period;
        // phase 0 is gone.
        assert_eq!(open(&mut r, now, &records[15]).unwrap(), [15]);
        assert_eq!(
            open(&mut r, now, &records[9]),
            Err(RecordError::OldKeyPhase)
        );
        // Phase 3, then a reordered phase-2 record within the retention period.
        assert_eq!(open(&mut r, now, &records[31]).unwrap(), [31]);
        assert_eq!(open(&mut r, now, &records[26]).unwrap(), [26]);
        // After the retention period the phase-2 key is gone.
        let later = now + Duration::from_secs(6);
        assert_eq!(r.poll_timeout(), Some(now + Duration::from_secs(5)));
        r.handle_timeout(later);
        assert_eq!(r.poll_timeout(), None);
        assert_eq!(
            open(&mut r, later, &records[27]),
            Err(RecordError::OldKeyPhase)
        );
        assert_eq!(open(&mut r, later, &records[44]).unwrap(), [44]);
        assert_eq!(r.stats().receive_phase, 4);
    }
}

#[test]
fn key_update_on_time_budget() {
    let config = RecordConfig {
        key_update_after: Duration::from_secs(60),
        ..RecordConfig::default()
    };
    let (mut i, mut r) = pair_with(CipherSuite::Suite6, config);
    let a = seal(&mut i, Instant::ZERO, b"a");
    let t = Instant::ZERO + Duration::from_secs(61);
    let b = seal(&mut i, t, b"b");
    assert_eq!(i.stats().send_phase, 1);
    assert_eq!(open(&mut r, t, &b).unwrap(), b"b");
    assert_eq!(open(&mut r, t, &a).unwrap(), b"a", "previous phase kept");
    // Directions are independent: the responder still sends in phase 0.
    let c = seal(&mut r, Instant::ZERO + Duration::from_secs(30), b"c");
    assert_eq!(r.stats().send_phase, 0);
    assert_eq!(open(&mut i, t, &c).unwrap(), b"c");
}

#[test]
fn aes_gcm_is_capped_by_its_confidentiality_limit() {
    let config = RecordConfig {
        key_update_after_records: u64::MAX,
        ..RecordConfig::default()
    };
    let (i, _) = pair_with(CipherSuite::Suite6, config);
    assert_eq!(i.update_after_records, 1 << 23);
    let (i, _) = pair_with(CipherSuite::Suite4, config);
    assert_eq!(i.update_after_records, MAX_SEQUENCE);
}

#[test]
fn sequence_numbers_never_wrap() {
    let (mut i, _) = pair(CipherSuite::Suite4);
    i.next_seq = MAX_SEQUENCE;
    let mut out = Vec::new();
    i.seal(Instant::ZERO, b"last", &mut out).unwrap();
    assert_eq!(
        i.seal(Instant::ZERO, b"more", &mut out),
        Err(RecordError::SequenceExhausted)
    );
}

#[test]
fn connection_ids_must_fit_the_header() {
    let secret = SessionSecret::new(Secret([1; HASH_LEN])).unwrap();
    let ok = ConnId::new(&[1, 2, 3, 4]).unwrap();
    for bad in [
        ConnId::new(&[]).unwrap(),
        ConnId::new(&[1]).unwrap(),
        ConnId::new(&[1, 2, 3, 4, 5]).unwrap(),
    ] {
        let r = RecordLayer::new(
            CipherSuite::Suite4,
            &secret,
            HandshakeRole::Initiator,
            ok,
            bad,
            RecordConfig::default(),
            Instant::ZERO,
        );
        assert_eq!(
            r.err(),
            Some(RecordError::UnusableConnId(bad.as_bytes().len()))
        );
    }
}
