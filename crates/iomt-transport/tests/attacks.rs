//! Attacks from the adversarial review, each played through the public API against devices of
//! one mission, with the outcome the fixes guarantee: the attack, and its failure.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::as_conversions)]

use std::sync::Arc;
use std::time::Duration;

use iomt_identity::{Algorithm, SoftwareKey};
use iomt_schema::{DeviceId, Instant};
use iomt_testkit::*;
use iomt_transport::{
    CONN_ID_LEN, Credentials, EadItem, EadRequest, Endpoint, EndpointConfig, Event, HandshakeError,
    IdCred, IdentityCredentials, InputError, LocalCredential, MAX_OVERHEAD, PeerCandidate,
    PeerCredential, RecordError, Refusal, SessionId,
};
use ring::rand::{SecureRandom, SystemRandom};

/// Addresses on the simulated radio.
const SOLDIER: u8 = 1;
const POST: u8 = 2;
const RELAY: u8 = 3;
const VICTIM: u8 = 4;

fn endpoint(creds: Arc<dyn Credentials>) -> Endpoint<u8> {
    Endpoint::new(
        EndpointConfig::default(),
        creds,
        Arc::new(SystemRandom::new()),
    )
}

/// Everything `ep` has to send, as (destination, datagram).
fn outbox(ep: &mut Endpoint<u8>, now: Instant) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    let mut buf = Vec::new();
    while let Some(t) = ep.poll_transmit(now, &mut buf) {
        out.push((t.destination, buf[..t.len].to_vec()));
    }
    out
}

fn events(ep: &mut Endpoint<u8>) -> Vec<Event<u8>> {
    std::iter::from_fn(|| ep.poll_event()).collect()
}

fn connected(events: &[Event<u8>]) -> Option<(SessionId, DeviceId)> {
    events.iter().find_map(|e| match e {
        Event::Connected { session, peer, .. } => Some((*session, *peer)),
        _ => None,
    })
}

fn device(creds: &IdentityCredentials) -> DeviceId {
    device_of(creds)
}

/// Feeds `datagram` to `ep` as coming from `from`, accepting a new initiator.
fn deliver(ep: &mut Endpoint<u8>, now: Instant, from: u8, datagram: &[u8]) {
    if let Ok(Some(incoming)) = ep.handle_input(now, from, datagram) {
        ep.accept(now, incoming).unwrap();
    }
}

/// A captured relay, still enrolled and attested, answers the soldier's message_1 as itself.
/// The soldier asked for the post: it refuses the relay's message_2 before making message_3
/// (so the relay never reads what the soldier sends), and completes with the genuine post.
#[test]
fn a_relay_cannot_answer_in_the_posts_place() {
    let f = MissionFixture::new();
    let (soldier, post, relay) = (
        f.enrol(Algorithm::Ed25519, 3_600_000),
        f.enrol(Algorithm::Ed25519, 3_600_000),
        f.enrol(Algorithm::Ed25519, 3_600_000),
    );
    let (cs, cp, cr) = (
        Arc::new(f.credentials(&soldier)),
        Arc::new(f.credentials(&post)),
        Arc::new(f.credentials(&relay)),
    );
    let mut config = EndpointConfig::default();
    config.credential_by_value = true;
    let rng = Arc::new(SystemRandom::new());
    let mut s = Endpoint::new(config.clone(), cs.clone(), rng.clone());
    let mut p = Endpoint::new(config.clone(), cp.clone(), rng.clone());
    let mut r = Endpoint::new(config, cr.clone(), rng);
    let now = Instant::ZERO;
    let post_id = device(&cp);
    let session = s.connect(now, POST, post_id).unwrap();
    let (_, m1) = outbox(&mut s, now).remove(0);

    // The relay hears message_1 on the way and answers first, as itself.
    deliver(&mut r, now, SOLDIER, &m1);
    let (_, forged_m2) = outbox(&mut r, now).remove(0);
    assert_eq!(
        s.handle_input(now, POST, &forged_m2),
        Err(InputError::Handshake(HandshakeError::UnexpectedPeer {
            expected: post_id,
            found: device(&cr),
        }))
    );
    assert!(outbox(&mut s, now).is_empty(), "no message_3 for the relay");
    assert!(connected(&events(&mut s)).is_none());

    // The genuine post's message_2 still completes the handshake.
    deliver(&mut p, now, SOLDIER, &m1);
    let (_, m2) = outbox(&mut p, now).remove(0);
    s.handle_input(now, POST, &m2).unwrap();
    let (_, m3) = outbox(&mut s, now).remove(0);
    p.handle_input(now, SOLDIER, &m3).unwrap();
    assert_eq!(connected(&events(&mut p)).map(|c| c.1), Some(device(&cs)));
    for (_, d) in outbox(&mut p, now) {
        s.handle_input(now, POST, &d).unwrap();
    }
    assert_eq!(connected(&events(&mut s)), Some((session, post_id)));
}

/// The relay initiates toward the post with a victim's address. The post's events name the
/// relay's verified identity, never the victim's: an application that keys sessions on the
/// `DeviceId` credits nothing to the victim.
#[test]
fn an_initiator_using_a_victims_address_is_known_for_who_it_is() {
    let f = MissionFixture::new();
    let (post, relay) = (
        f.enrol(Algorithm::Ed25519, 3_600_000),
        f.enrol(Algorithm::Ed25519, 3_600_000),
    );
    let (cp, cr) = (
        Arc::new(f.credentials(&post)),
        Arc::new(f.credentials(&relay)),
    );
    cp.learn_peer(&relay.credential, Instant::ZERO).unwrap();
    cr.learn_peer(&post.credential, Instant::ZERO).unwrap();
    let mut p = endpoint(cp.clone());
    let mut r = endpoint(cr.clone());
    let now = Instant::ZERO;
    let session = r.connect(now, POST, device(&cp)).unwrap();
    for _ in 0..3 {
        for (_, d) in outbox(&mut r, now) {
            deliver(&mut p, now, VICTIM, &d);
        }
        for (_, d) in outbox(&mut p, now) {
            let _ = r.handle_input(now, POST, &d);
        }
    }
    let post_events = events(&mut p);
    let Some(Event::Connected { address, peer, .. }) = post_events.first() else {
        panic!("connected: {post_events:?}");
    };
    assert_eq!(
        *address, VICTIM,
        "the address is whatever the relay claimed"
    );
    assert_eq!(*peer, device(&cr), "the identity is the relay's");
    r.send(now, session, b"position of the victim").unwrap();
    for (_, d) in outbox(&mut r, now) {
        p.handle_input(now, VICTIM, &d).unwrap();
    }
    let Some(Event::Received { peer, .. }) = p.poll_event() else {
        panic!("a record");
    };
    assert_eq!(peer, device(&cr), "the record is credited to the relay");
}

fn established(f: &MissionFixture) -> (Endpoint<u8>, Endpoint<u8>, SessionId, SessionId) {
    let (a, b) = (
        f.enrol(Algorithm::Ed25519, 3_600_000),
        f.enrol(Algorithm::Ed25519, 3_600_000),
    );
    let (ca, cb) = (Arc::new(f.credentials(&a)), Arc::new(f.credentials(&b)));
    ca.learn_peer(&b.credential, Instant::ZERO).unwrap();
    cb.learn_peer(&a.credential, Instant::ZERO).unwrap();
    let (mut ea, mut eb) = (endpoint(ca), endpoint(cb.clone()));
    let now = Instant::ZERO;
    let sa = ea.connect(now, POST, device(&cb)).unwrap();
    for _ in 0..3 {
        for (_, d) in outbox(&mut ea, now) {
            deliver(&mut eb, now, SOLDIER, &d);
        }
        for (_, d) in outbox(&mut eb, now) {
            let _ = ea.handle_input(now, POST, &d);
        }
    }
    let sb = connected(&events(&mut eb)).unwrap().0;
    assert!(connected(&events(&mut ea)).is_some());
    (ea, eb, sa, sb)
}

/// The blind kill: junk records for every short connection identifier used to end every
/// session after 64 each. Identifiers are now 4 random bytes, so junk aimed blindly finds no
/// session; and even junk aimed at the live identifier (an attacker who sees the traffic)
/// only makes the receiver ask for a new key. Genuine records flow throughout.
#[test]
fn junk_records_kill_no_session() {
    let f = MissionFixture::new();
    let (mut a, mut b, sa, sb) = established(&f);
    let now = Instant::ZERO;
    a.send(now, sa, b"first").unwrap();
    let (_, genuine) = outbox(&mut a, now).remove(0);
    b.handle_input(now, SOLDIER, &genuine).unwrap();

    // Blind: every one-byte and two-byte identifier pattern, 64 junk records each.
    let mut blind_hits = 0;
    for id in 0..=u16::MAX {
        let mut junk = vec![0x80];
        junk.extend_from_slice(&id.to_be_bytes());
        junk.extend_from_slice(&[0; CONN_ID_LEN - 2]);
        junk.resize(MAX_OVERHEAD + 8, 0x5a);
        for _ in 0..(if id < 48 { 64 } else { 1 }) {
            if b.handle_input(now, RELAY, &junk) != Err(InputError::UnknownSession) {
                blind_hits += 1;
            }
        }
    }
    assert_eq!(blind_hits, 0, "no session answers to a guessed identifier");

    // On path: 100 000 forgeries under the live identifier, each with a fresh sequence number.
    for n in 1..=100_000u32 {
        let mut junk = genuine.clone();
        junk[0] = 0x80 | ((n >> 16) & 0x0f) as u8;
        junk[1 + CONN_ID_LEN..3 + CONN_ID_LEN].copy_from_slice(&(n as u16).to_be_bytes());
        junk[3 + CONN_ID_LEN..].fill(n as u8);
        assert_eq!(
            b.handle_input(now, RELAY, &junk),
            Err(InputError::Record(RecordError::Forged))
        );
    }
    let stats = b.record_stats(sb).unwrap();
    assert_eq!(stats.forgeries, 100_000);
    assert!(
        events(&mut b)
            .iter()
            .all(|e| !matches!(e, Event::Closed { .. })),
        "the session lives"
    );
    a.send(now, sa, b"still here").unwrap();
    for (_, d) in outbox(&mut a, now) {
        b.handle_input(now, SOLDIER, &d).unwrap();
    }
    b.send(now, sb, b"and here").unwrap();
    for (_, d) in outbox(&mut b, now) {
        a.handle_input(now, POST, &d).unwrap();
    }
    assert!(matches!(b.poll_event(), Some(Event::Received { .. })));
    assert!(matches!(a.poll_event(), Some(Event::Received { .. })));
}

/// Sixteen spoofed message_1s used to fill the pending table for 30 s, each costing an X25519
/// and a signature and drawing a larger message_2 toward the spoofed address. Now only
/// `cookie_threshold` of them get that far; the rest get a retry smaller than themselves, and
/// a genuine initiator that follows its retry still gets in.
#[test]
fn spoofed_message_1s_cannot_exhaust_the_responder() {
    let f = MissionFixture::new();
    let (post, soldier) = (
        f.enrol(Algorithm::Ed25519, 3_600_000),
        f.enrol(Algorithm::Ed25519, 3_600_000),
    );
    let cp = Arc::new(f.credentials(&post));
    let cs = Arc::new(f.credentials(&soldier));
    let mut p = endpoint(cp.clone());
    let now = Instant::ZERO;
    let threshold = EndpointConfig::default().cookie_threshold;
    // Bytes the spoofed message_1s beyond the threshold carried, and bytes they drew.
    let (mut sent, mut drawn, mut signed) = (0, 0, 0);
    for n in 0..64u8 {
        let mut spoofer = endpoint(cs.clone());
        spoofer.connect(now, POST, device(&cp)).unwrap();
        let (_, m1) = outbox(&mut spoofer, now).remove(0);
        let beyond = p.pending_count() >= threshold;
        if let Ok(Some(incoming)) = p.handle_input(now, 100 + n, &m1) {
            p.accept(now, incoming).unwrap();
            signed += 1;
        }
        let replies = outbox(&mut p, now);
        if beyond {
            sent += m1.len();
            drawn += replies.iter().map(|(_, d)| d.len()).sum::<usize>();
        }
    }
    assert_eq!(signed, threshold, "signatures spent on spoofed addresses");
    assert_eq!(p.pending_count(), threshold);
    assert!(
        drawn < sent,
        "the retries amplify nothing: {drawn} of {sent} bytes"
    );

    cs.learn_peer(&post.credential, now).unwrap();
    cp.learn_peer(&soldier.credential, now).unwrap();
    let mut s = endpoint(cs);
    s.connect(now, SOLDIER, device(&cp)).unwrap();
    for _ in 0..4 {
        for (_, d) in outbox(&mut s, now) {
            deliver(&mut p, now, SOLDIER, &d);
        }
        for (to, d) in outbox(&mut p, now) {
            if to == SOLDIER {
                let _ = s.handle_input(now, POST, &d);
            }
        }
    }
    assert!(connected(&events(&mut s)).is_some(), "the soldier got in");
}

/// Nine garbage message_2s and a spoofed error message used to burn the initiator's
/// single-use ephemeral key and its retry budget, and end the handshake. Now the initiator
/// tries each with the same key, sends nothing new, and completes with the genuine one.
#[test]
fn garbage_message_2s_and_errors_do_not_end_a_handshake() {
    let f = MissionFixture::new();
    let (soldier, post) = (
        f.enrol(Algorithm::EcdsaP256, 3_600_000),
        f.enrol(Algorithm::EcdsaP256, 3_600_000),
    );
    let (cs, cp) = (
        Arc::new(f.credentials(&soldier)),
        Arc::new(f.credentials(&post)),
    );
    cs.learn_peer(&post.credential, Instant::ZERO).unwrap();
    cp.learn_peer(&soldier.credential, Instant::ZERO).unwrap();
    let (mut s, mut p) = (endpoint(cs), endpoint(cp.clone()));
    let now = Instant::ZERO;
    s.connect(now, POST, device(&cp)).unwrap();
    let (_, m1) = outbox(&mut s, now).remove(0);
    deliver(&mut p, now, SOLDIER, &m1);
    let (_, m2) = outbox(&mut p, now).remove(0);
    let rng = SystemRandom::new();
    for n in 0..9 {
        let mut garbage = m2.clone();
        let mut noise = vec![0; garbage.len() - 8];
        rng.fill(&mut noise).unwrap();
        garbage[8..].copy_from_slice(&noise);
        garbage[8 + n] ^= 0xff;
        assert!(matches!(
            s.handle_input(now, RELAY, &garbage),
            Err(InputError::Handshake(_))
        ));
    }
    // Errors code 1 to the initiator's identifier: hints, nothing more.
    let mut error = m2[..1 + 1 + CONN_ID_LEN].to_vec();
    error[0] = 0x05;
    error.extend_from_slice(&[0x01, 0x66, b'r', b'e', b'f', b'u', b's', b'e']);
    assert_eq!(s.handle_input(now, RELAY, &error), Ok(None));
    assert!(
        outbox(&mut s, now).is_empty(),
        "no restart, no new message_1"
    );
    assert!(events(&mut s).is_empty(), "nothing ended");
    s.handle_input(now, POST, &m2).unwrap();
    let (_, m3) = outbox(&mut s, now).remove(0);
    p.handle_input(now, SOLDIER, &m3).unwrap();
    assert!(connected(&events(&mut p)).is_some());
}

/// An unauthenticated error code 3 used to switch every later reply to that address to
/// credentials by value. An insider that initiates from a victim's address (and so reads
/// message_2) answers with code 3; the post takes it as a hint, and the victim's next
/// handshake is still answered by reference.
#[test]
fn a_code_3_from_a_victims_address_does_not_switch_replies_to_values() {
    let f = MissionFixture::new();
    let (victim, post, insider) = (
        f.enrol(Algorithm::Ed25519, 3_600_000),
        f.enrol(Algorithm::Ed25519, 3_600_000),
        f.enrol(Algorithm::Ed25519, 3_600_000),
    );
    let cp = Arc::new(f.credentials(&post));
    let mut p = endpoint(cp.clone());
    let now = Instant::ZERO;
    let victims_message_2 = |p: &mut Endpoint<u8>| {
        let mut v = endpoint(Arc::new(f.credentials(&victim)));
        v.connect(now, POST, device(&cp)).unwrap();
        let (_, m1) = outbox(&mut v, now).remove(0);
        deliver(p, now, VICTIM, &m1);
        outbox(p, now).remove(0).1
    };
    let before = victims_message_2(&mut p);

    // The insider's credentials claim to know the post but cannot resolve its reference: its
    // endpoint answers message_2 with code 3, addressed to the post's C_R.
    let mut i = endpoint(Arc::new(Forgetful(f.credentials(&insider))));
    i.connect(now, POST, device(&cp)).unwrap();
    let (_, m1) = outbox(&mut i, now).remove(0);
    deliver(&mut p, now, VICTIM, &m1);
    let (_, m2) = outbox(&mut p, now).remove(0);
    assert_eq!(i.handle_input(now, POST, &m2), Ok(None), "first contact");
    let (_, code_3) = outbox(&mut i, now).remove(0);
    assert_eq!(code_3[0], 0x05, "an error message");
    assert_eq!(p.handle_input(now, VICTIM, &code_3), Ok(None));

    let after = victims_message_2(&mut p);
    assert_eq!(after.len(), before.len(), "still by reference");
}

/// Credentials that say they hold every peer's credential, and resolve none: an initiator
/// with them names credentials by reference and answers every message_2 with code 3.
struct Forgetful(IdentityCredentials);

impl Credentials for Forgetful {
    fn local(&self, suite: iomt_transport::CipherSuite) -> Option<Arc<LocalCredential>> {
        self.0.local(suite)
    }

    fn resolve_peer(&self, _: &PeerCandidate<'_>) -> Result<PeerCredential, Refusal> {
        Err(Refusal::UnknownCredential)
    }

    fn admit_peer(&self, _: &PeerCandidate<'_>, _: &PeerCredential) -> Result<(), Refusal> {
        Err(Refusal::Refused)
    }

    fn ead(&self, request: &EadRequest<'_>) -> Vec<EadItem> {
        self.0.ead(request)
    }
}

/// A forged message_2 carrying another device's credential by value, signed with the
/// forger's own key, used to be verified (two signatures), cached (evicting others) and to
/// overwrite that device's stored attestation result before the handshake signature was
/// checked. Now it costs one failed signature check and writes nothing.
#[test]
fn a_forged_message_2_writes_nothing() {
    let f = MissionFixture::new();
    let (soldier, post, other) = (
        f.enrol(Algorithm::Ed25519, 3_600_000),
        f.enrol(Algorithm::Ed25519, 3_600_000),
        f.enrol(Algorithm::Ed25519, 3_600_000),
    );
    let (cs, cp) = (
        Arc::new(f.credentials(&soldier)),
        Arc::new(f.credentials(&post)),
    );
    cs.learn_peer(&post.credential, Instant::ZERO).unwrap();
    let cached = cs.cached_peers();
    // The forger answers with `other`'s credential by value, signing with its own key.
    let forger: Arc<dyn Credentials> = Arc::new(Impostor {
        credential: Arc::new(
            LocalCredential::new(
                IdCred::kcwt(&other.credential).unwrap(),
                other.credential.clone(),
                SoftwareKey::generate(Algorithm::Ed25519, &SystemRandom::new()).unwrap(),
            )
            .unwrap(),
        ),
        result: other.result.clone(),
    });
    let mut config = EndpointConfig::default();
    config.credential_by_value = true;
    let mut forged = Endpoint::new(config, forger, Arc::new(SystemRandom::new()));
    let mut s = endpoint(cs.clone());
    let mut p = endpoint(cp.clone());
    let now = Instant::ZERO;
    s.connect(now, POST, device(&cp)).unwrap();
    let (_, m1) = outbox(&mut s, now).remove(0);
    deliver(&mut forged, now, SOLDIER, &m1);
    let (_, m2) = outbox(&mut forged, now).remove(0);
    assert_eq!(
        s.handle_input(now, POST, &m2),
        Err(InputError::Handshake(HandshakeError::BadSignature))
    );
    assert_eq!(cs.cached_peers(), cached, "nothing cached");
    // The genuine post still gets through.
    deliver(&mut p, now, SOLDIER, &m1);
    for (_, d) in outbox(&mut p, now) {
        s.handle_input(now, POST, &d).unwrap();
    }
    assert_eq!(outbox(&mut s, now).len(), 1, "message_3 to the post");
}

/// A device that presents someone else's credential with its own key.
struct Impostor {
    credential: Arc<LocalCredential>,
    result: Vec<u8>,
}

impl Credentials for Impostor {
    fn local(&self, suite: iomt_transport::CipherSuite) -> Option<Arc<LocalCredential>> {
        (suite.signature() == self.credential.signer().public_key().algorithm())
            .then(|| self.credential.clone())
    }

    fn resolve_peer(&self, _: &PeerCandidate<'_>) -> Result<PeerCredential, Refusal> {
        Err(Refusal::Refused)
    }

    fn admit_peer(&self, _: &PeerCandidate<'_>, _: &PeerCredential) -> Result<(), Refusal> {
        Err(Refusal::Refused)
    }

    fn ead(&self, request: &EadRequest<'_>) -> Vec<EadItem> {
        if request.nonce.is_none() {
            return Vec::new();
        }
        vec![EadItem::new(
            iomt_transport::EAD_ATTESTATION_RESULT,
            Some(self.result.clone()),
        )]
    }
}

/// Spoofed copies of a genuine message_1 used to draw its message_2 (about seven times its
/// size) again every time, toward whatever address they claimed. Now a copy is answered only
/// toward the address the handshake was opened with: with a retry while no cookie has proved
/// that address, with message_2 (at most `max_retransmits` times) once one has.
#[test]
fn replayed_message_1s_draw_nothing_larger_than_themselves() {
    let f = MissionFixture::new();
    let (soldier, post) = (
        f.enrol(Algorithm::Ed25519, 3_600_000),
        f.enrol(Algorithm::Ed25519, 3_600_000),
    );
    let cp = Arc::new(f.credentials(&post));
    let mut s = endpoint(Arc::new(f.credentials(&soldier)));
    let mut p = endpoint(cp.clone());
    let now = Instant::ZERO;
    s.connect(now, POST, device(&cp)).unwrap();
    let (_, m1) = outbox(&mut s, now).remove(0);
    deliver(&mut p, now, SOLDIER, &m1);
    outbox(&mut p, now);
    let copy = |p: &mut Endpoint<u8>, datagram: &[u8]| {
        assert_eq!(
            p.handle_input(now, VICTIM, datagram),
            Err(InputError::Duplicate(iomt_transport::MessageKind::Message1))
        );
        outbox(p, now)
    };
    let answers: Vec<_> = (0..100).flat_map(|_| copy(&mut p, &m1)).collect();
    assert_eq!(answers.len(), 100);
    for (to, answer) in &answers {
        assert_eq!(*to, SOLDIER, "never to the copy's address");
        assert_eq!(answer[0], 0x06, "a retry, not message_2");
        assert!(answer.len() < m1.len());
    }

    // The genuine soldier follows one retry: its cookie proves the address, and copies of its
    // message_1 are answered with message_2, a bounded number of times.
    s.handle_input(now, POST, &answers[0].1).unwrap();
    let (_, with_cookie) = outbox(&mut s, now).remove(0);
    let answers: Vec<_> = (0..100).flat_map(|_| copy(&mut p, &with_cookie)).collect();
    assert_eq!(
        answers.len(),
        EndpointConfig::default().max_retransmits as usize
    );
    assert!(answers.iter().all(|(to, d)| *to == SOLDIER && d[0] == 0x02));
}

/// A seeded simulation: a soldier and the post talk over a lossy link while an attacker on
/// the path replays, mutates and injects datagrams, floods spoofed message_1s, and sends
/// error messages and forged records to the identifiers it hears. On every seed the
/// handshake completes between the right identities, nearly everything sent arrives, no
/// honest session ends, and the post's tables stay within their bounds at every step.
#[test]
fn an_attacker_on_the_path_changes_no_outcome() {
    let f = MissionFixture::new();
    let (soldier, post, spoofer) = (
        f.enrol(Algorithm::Ed25519, 3_600_000),
        f.enrol(Algorithm::Ed25519, 3_600_000),
        f.enrol(Algorithm::Ed25519, 3_600_000),
    );
    let config = EndpointConfig::default();
    for seed in 1..=4u64 {
        let (cs, cp) = (
            Arc::new(f.credentials(&soldier)),
            Arc::new(f.credentials(&post)),
        );
        let spoofing: Arc<dyn Credentials> = Arc::new(f.credentials(&spoofer));
        let (mut s, mut p) = (endpoint(cs.clone()), endpoint(cp.clone()));
        let mut rng = XorShift(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let mut now = Instant::ZERO;
        let mut heard: Vec<Vec<u8>> = Vec::new();
        let (mut s_events, mut p_events) = (Vec::new(), Vec::new());
        let session = s.connect(now, POST, device(&cp)).unwrap();
        let (mut sent, mut injected) = (0u32, 0u32);
        for tick in 0..3_000u32 {
            now = now + Duration::from_millis(20);
            // (destination, claimed source, datagram)
            let mut air: Vec<(u8, u8, Vec<u8>)> = Vec::new();
            for (dest, d) in outbox(&mut s, now) {
                air.push((dest, SOLDIER, d));
            }
            for (dest, d) in outbox(&mut p, now) {
                air.push((dest, POST, d));
            }
            air.retain(|_| !rng.next_u64().is_multiple_of(10));
            for (_, _, d) in &air {
                heard.push(d.clone());
            }
            if heard.len() > 256 {
                heard.drain(..heard.len() - 256);
            }
            for _ in 0..2 {
                let pick = rng.next_u64();
                let (to, from) = if pick & 1 == 0 {
                    (SOLDIER, POST)
                } else {
                    (POST, SOLDIER)
                };
                let any = |rng: &mut XorShift| heard[rng.next_u64() as usize % heard.len()].clone();
                let d = match (pick >> 1) % 6 {
                    _ if heard.is_empty() => continue,
                    0 => any(&mut rng),
                    1 => {
                        let mut d = any(&mut rng);
                        let at = rng.next_u64() as usize % d.len();
                        d[at] ^= 1 << (rng.next_u64() % 8);
                        d
                    }
                    2 => {
                        let len = 1 + rng.next_u64() as usize % 120;
                        (0..len).map(|_| rng.next_u64() as u8).collect()
                    }
                    3 => {
                        let mut e = endpoint(spoofing.clone());
                        e.connect(now, POST, device(&cp)).unwrap();
                        let (_, m1) = outbox(&mut e, now).remove(0);
                        air.push((POST, 100 + (rng.next_u64() % 100) as u8, m1));
                        continue;
                    }
                    4 => {
                        // An error message to the identifier a heard handshake datagram
                        // names (messages 2 to 4 carry their receiver's C_x first).
                        let heard = any(&mut rng);
                        if !(2..=4).contains(&heard[0]) || heard.len() < 2 + CONN_ID_LEN {
                            continue;
                        }
                        let mut d = vec![0x05];
                        d.extend_from_slice(&heard[1..2 + CONN_ID_LEN]);
                        d.extend_from_slice(&[0x01, 0x61, b'x']);
                        d
                    }
                    _ => {
                        // A forged record under a heard record's header.
                        let mut d = any(&mut rng);
                        if d[0] & 0x80 == 0 || d.len() < MAX_OVERHEAD {
                            continue;
                        }
                        let tail = d.len() - 1;
                        d[tail] ^= 0x55;
                        d
                    }
                };
                injected += 1;
                air.push((to, from, d));
            }
            for (to, from, d) in air {
                let ep = match to {
                    SOLDIER => &mut s,
                    POST => &mut p,
                    _ => continue,
                };
                if let Ok(Some(incoming)) = ep.handle_input(now, from, &d) {
                    let _ = ep.accept(now, incoming);
                }
            }
            s.handle_timeout(now);
            p.handle_timeout(now);
            s_events.extend(events(&mut s));
            p_events.extend(events(&mut p));
            assert!(p.pending_count() <= config.max_pending, "seed {seed}");
            assert!(p.session_count() <= config.max_sessions, "seed {seed}");
            if tick % 10 == 0 && sent < 200 && s.send(now, session, &sent.to_be_bytes()).is_ok() {
                sent += 1;
            }
        }
        assert_eq!(
            connected(&s_events),
            Some((session, device(&cp))),
            "seed {seed}"
        );
        let (post_session, peer) = connected(&p_events).unwrap();
        assert_eq!(peer, device(&cs), "seed {seed}");
        let closed = |events: &[Event<u8>], id: SessionId| {
            events
                .iter()
                .any(|e| matches!(e, Event::Closed { session, .. } if *session == id))
        };
        assert!(!closed(&s_events, session) && !closed(&p_events, post_session));
        let received = p_events
            .iter()
            .filter(|e| {
                matches!(e, Event::Received { session, peer, .. }
                    if *session == post_session && *peer == device(&cs))
            })
            .count();
        assert_eq!(sent, 200, "seed {seed}");
        assert!(
            received >= 160,
            "seed {seed}: {received} of {sent} records arrived under {injected} injections"
        );
    }
}
