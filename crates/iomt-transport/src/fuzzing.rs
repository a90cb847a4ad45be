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
use std::sync::{OnceLock, RwLock};

use iomt_identity::cbor::Reader;
use iomt_identity::{
    AttestationResult, Credential, Mission, Roles, SoftwareKey, Tier, TrustPackage, TrustStore,
};
use iomt_schema::rand::SeededRandom;
use iomt_schema::{DeviceId, Instant, Timestamp};

use crate::credential::{Credentials, HandshakeNonce, HandshakeRole, IdCred, PeerCandidate};
use crate::ead;
use crate::endpoint::{Endpoint, EndpointConfig};
use crate::identity::{EAD_ATTESTATION_RESULT, IdentityCredentials, WallClock};
use crate::message::{ErrorMessage, Message1, Plaintext2, Plaintext3, decode_single_bstr};
use crate::post_handshake::{BackhaulMessage, PostHandshakeAttester, PostHandshakeVerifier};
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
                assert!(matches!(
                    receiver.open(now, &mut again),
                    Err(RecordError::Replayed(_))
                ));
            }
            Err(_) => assert!(tampered, "a genuine record failed"),
        }
    }
}

struct Peers {
    initiator: Arc<StaticCredentials>,
    responder: Arc<StaticCredentials>,
    /// The responder's device for suite 4, the suite the initiator starts with.
    responder_id: DeviceId,
}

fn peers() -> &'static Peers {
    static PEERS: OnceLock<Peers> = OnceLock::new();
    PEERS.get_or_init(|| {
        // Fixed keys (Ed25519 from a fixed seed; ring makes P-256 keys only from the system's
        // generator, and suite 6 is not what the hooks run), so inputs replay across runs.
        let rng = SeededRandom::new(0x1f0e_55ed);
        let mut i = StaticCredentials::new();
        let mut r = StaticCredentials::new();
        let mut responder_id = None;
        for suite in [CipherSuite::Suite4, CipherSuite::Suite6] {
            let (id, cred) = i.add_local_kid(
                suite,
                &[1],
                SoftwareKey::generate(suite.signature(), &rng).unwrap(),
            );
            r.add_peer(id, cred);
            let (id, cred) = r.add_local_kid(
                suite,
                &[2],
                SoftwareKey::generate(suite.signature(), &rng).unwrap(),
            );
            responder_id.get_or_insert(cred.key.device_id());
            i.add_peer(id, cred);
        }
        Peers {
            initiator: Arc::new(i),
            responder: Arc::new(r),
            responder_id: responder_id.expect("a key"),
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
    let rng = Arc::new(SeededRandom::from_bytes(data));
    let p = peers();
    let mut eps = [
        Endpoint::new(config.clone(), p.initiator.clone(), rng.clone()),
        Endpoint::new(config.clone(), p.responder.clone(), rng),
    ];
    let mut now = Instant::ZERO;
    let mut queues: [Vec<Vec<u8>>; 2] = [Vec::new(), Vec::new()];
    let mut sessions = Vec::new();
    if let Ok(s) = eps[0].connect(now, 1u8, p.responder_id) {
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
                if let Ok(s) = eps[0].connect(now, 1, p.responder_id) {
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

/// Post-handshake attestation messages: what decodes re-encodes exactly; both state machines
/// take the bytes without panicking, never consume more than they are given, and the server
/// never accepts (nothing here carries a result its trust store knows).
pub fn backhaul_message(data: &[u8]) {
    if let Ok((message, len)) = BackhaulMessage::decode(data) {
        let mut out = Vec::new();
        message.encode(&mut out).expect("a decoded message encodes");
        assert_eq!(out, data[..len], "decoding is canonical");
    }
    let f = identity_fixture();
    let binding = HandshakeNonce([0x42; 32]);
    let now = at(T0);
    let mut client = PostHandshakeAttester::new(&binding, f.result.clone(), None).expect("binding");
    let policy = Arc::new(crate::BackhaulPolicy::new(Arc::clone(&f.trust)));
    let mut server =
        PostHandshakeVerifier::new(&binding, f.stranger, policy, now, &SeededRandom::new(1))
            .expect("binding");
    for chunk in data.chunks(usize::from(data.first().copied().unwrap_or(1)).max(1)) {
        if let Ok(p) = client.handle_input(now, chunk) {
            assert!(p.consumed <= chunk.len());
        }
        match server.handle_input(now, chunk) {
            Ok(p) => {
                assert!(p.consumed <= chunk.len());
                assert!(
                    p.done.is_none(),
                    "a result bound to another key was accepted"
                );
            }
            Err(_) => assert!(server.outcome().is_some_and(Result::is_err)),
        }
        let mut out = Vec::new();
        let _ = client.poll_transmit(&mut out);
        let _ = server.poll_transmit(&mut out);
    }
}

/// The identity adapter's decision on an arbitrary ID_CRED_I and EAD_3: no panic, and an
/// admission only for the genuine credential with the genuine attestation result.
///
/// Input: one byte (bit 0: ID_CRED by value as `kcwt`, else a `kid`), then ID_CRED's
/// content up to a length byte, then the EAD items.
pub fn identity_peer(data: &[u8]) {
    let [form, len, rest @ ..] = data else {
        return;
    };
    let (id, ead_bytes) = rest.split_at(usize::from(*len).min(rest.len()));
    let id_cred = if form & 1 == 1 {
        let Ok(id) = IdCred::kcwt(id) else {
            return;
        };
        id
    } else {
        IdCred::kid(id.get(..crate::MAX_KID_LEN).unwrap_or(id))
    };
    let Ok(items) = ead::decode(&mut Reader::new(ead_bytes)) else {
        return;
    };
    let f = identity_fixture();
    let nonce = HandshakeNonce([7; 32]);
    let candidate = PeerCandidate {
        role: HandshakeRole::Initiator,
        suite: CipherSuite::Suite4,
        id_cred: &id_cred,
        by_value: id_cred.by_value(),
        ead: &items,
        nonce: &nonce,
        nonce_since: Instant::ZERO,
        now: Instant::ZERO,
    };
    let Ok(accepted) = f.creds.resolve_peer(&candidate) else {
        return;
    };
    if f.creds.admit_peer(&candidate, &accepted).is_ok() {
        assert_eq!(accepted.cred, f.credential, "only the genuine credential");
        let passport = items
            .iter()
            .find(|i| i.label == EAD_ATTESTATION_RESULT)
            .and_then(|i| i.value.as_deref());
        assert_eq!(
            passport,
            Some(f.result.as_slice()),
            "only the genuine result"
        );
    }
}

const T0: u64 = 1_800_000_000_000;

fn at(ms: u64) -> Timestamp {
    Timestamp::from_millis(ms).expect("timestamp")
}

/// A mission with fixed keys (Ed25519 signs deterministically), so seed inputs made from it
/// stay valid from run to run: one device's credential and result, and a relying party that
/// knows the device's credential by kid.
struct IdentityFixture {
    creds: IdentityCredentials,
    trust: Arc<RwLock<TrustStore>>,
    credential: Vec<u8>,
    result: Vec<u8>,
    stranger: iomt_identity::PublicKey,
}

/// The fixed mission of [`identity_peer`] and [`backhaul_message`].
fn identity_fixture() -> &'static IdentityFixture {
    static FIXTURE: OnceLock<IdentityFixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let key = |seed| SoftwareKey::from_ed25519_seed(&[seed; 32]).expect("key");
        let authority = key(1);
        let verifier = key(2);
        let device = key(3);
        let relying = Arc::new(key(4));
        let mission = Mission::new("op-fuzz").expect("mission");
        let package = TrustPackage {
            sequence: 1,
            verifiers: vec![verifier.public_key()],
            ..TrustPackage::default()
        }
        .sign(&authority)
        .expect("package");
        let mut store = TrustStore::new(
            authority.public_key(),
            mission.clone(),
            iomt_identity::TrustStart::FirstBoot,
        )
        .expect("first boot");
        store.apply_package(&package).expect("package applies");
        let trust = Arc::new(RwLock::new(store));
        let issue = |subject: &SoftwareKey| {
            Credential {
                subject: subject.public_key(),
                mission: mission.clone(),
                roles: Roles::EMPTY,
                not_before: at(T0 - 1000),
                not_after: at(T0 + 60_000),
                serial: 1,
            }
            .sign(&authority)
            .expect("credential")
        };
        let result = AttestationResult {
            device: device.public_key().device_id(),
            key: device.public_key(),
            tier: Tier::Affirming,
            statuses: alloc::collections::BTreeMap::new(),
            issued_at: at(T0 - 1000),
            expires_at: at(T0 + 60_000),
        }
        .sign(&verifier)
        .expect("result");
        let credential = issue(&device);
        let creds = IdentityCredentials::new(
            Arc::clone(&trust),
            relying.clone(),
            WallClock::new(Instant::ZERO, at(T0)),
        );
        creds
            .set_credential(&issue(&relying), Instant::ZERO)
            .expect("own credential");
        creds
            .learn_peer(&credential, Instant::ZERO)
            .expect("peer credential");
        IdentityFixture {
            creds,
            trust,
            credential,
            result,
            stranger: key(5).public_key(),
        }
    })
}
