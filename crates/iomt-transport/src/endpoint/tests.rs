//! Deterministic two-endpoint simulations with a fake clock.
#![allow(clippy::as_conversions, reason = "test arithmetic on small counters")]

use alloc::vec;
use alloc::vec::Vec;
use std::sync::Mutex;

use iomt_identity::SoftwareKey;
use ring::rand::SystemRandom;

use super::*;
use crate::credential::{
    EadRequest, EadSlot, HandshakeNonce, IdCred, PeerCandidate, PeerCredential, Refusal,
};
use crate::message::Message1;
use crate::static_credentials::StaticCredentials;

const I: u8 = 0;
const R: u8 = 1;

/// A small deterministic generator for the link's loss, duplication and delay.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn chance(&mut self, per_mille: u64) -> bool {
        self.next() % 1000 < per_mille
    }
}

/// Credentials for both sides: each knows the other by kid, for every suite in `suites`.
fn credentials(suites: &[CipherSuite]) -> (StaticCredentials, StaticCredentials) {
    let rng = SystemRandom::new();
    let mut i = StaticCredentials::new();
    let mut r = StaticCredentials::new();
    for suite in suites {
        let (id, cred) = i.add_local_kid(
            *suite,
            &[0x0a],
            SoftwareKey::generate(suite.signature(), &rng).unwrap(),
        );
        r.add_peer(id, cred);
        let (id, cred) = r.add_local_kid(
            *suite,
            &[0x0b, 0x01],
            SoftwareKey::generate(suite.signature(), &rng).unwrap(),
        );
        i.add_peer(id, cred);
    }
    (i, r)
}

/// The device an endpoint authenticates as: the key of its first usable suite.
fn device_of(ep: &Endpoint<u8>) -> DeviceId {
    let suite = usable_suites(&ep.config, &*ep.creds)[0];
    let local = ep.creds.local(suite).unwrap();
    local.signer().public_key().device_id()
}

fn endpoint(config: EndpointConfig, creds: impl Credentials + 'static) -> Endpoint<u8> {
    Endpoint::new(config, Arc::new(creds), Arc::new(SystemRandom::new()))
}

struct InFlight {
    at: Instant,
    to: u8,
    bytes: Vec<u8>,
}

/// Two endpoints, a link and a clock.
struct Net {
    eps: [Endpoint<u8>; 2],
    now: Instant,
    flight: Vec<InFlight>,
    rng: XorShift,
    loss: u64,
    duplicate: u64,
    jitter_ms: u64,
    accept: bool,
    events: [Vec<Event<u8>>; 2],
    errors: Vec<(u8, InputError)>,
    refused: Vec<OpenError>,
    sent: [Vec<Vec<u8>>; 2],
}

impl Net {
    fn new(config: EndpointConfig, suites: &[CipherSuite]) -> Self {
        let (ci, cr) = credentials(suites);
        Self::with(endpoint(config.clone(), ci), endpoint(config, cr))
    }

    fn with(initiator: Endpoint<u8>, responder: Endpoint<u8>) -> Self {
        Self {
            eps: [initiator, responder],
            now: Instant::ZERO,
            flight: Vec::new(),
            rng: XorShift(0x9e37_79b9_7f4a_7c15),
            loss: 0,
            duplicate: 0,
            jitter_ms: 0,
            accept: true,
            events: [Vec::new(), Vec::new()],
            errors: Vec::new(),
            refused: Vec::new(),
            sent: [Vec::new(), Vec::new()],
        }
    }

    fn lossy(mut self, seed: u64, loss: u64, duplicate: u64, jitter_ms: u64) -> Self {
        self.rng = XorShift(seed | 1);
        self.loss = loss;
        self.duplicate = duplicate;
        self.jitter_ms = jitter_ms;
        self
    }

    /// Drains both endpoints' events and transmits onto the link.
    fn drain(&mut self) {
        for node in [I, R] {
            let ep = &mut self.eps[usize::from(node)];
            while let Some(e) = ep.poll_event() {
                self.events[usize::from(node)].push(e);
            }
            let mut buf = Vec::new();
            while let Some(t) = ep.poll_transmit(self.now, &mut buf) {
                self.sent[usize::from(node)].push(buf.clone());
                if self.rng.chance(self.loss) {
                    continue;
                }
                let copies = if self.rng.chance(self.duplicate) {
                    2
                } else {
                    1
                };
                for _ in 0..copies {
                    let delay = 10
                        + if self.jitter_ms > 0 {
                            self.rng.next() % self.jitter_ms
                        } else {
                            0
                        };
                    self.flight.push(InFlight {
                        at: self.now + Duration::from_millis(delay),
                        to: t.destination,
                        bytes: buf.clone(),
                    });
                }
            }
        }
    }

    fn deliver(&mut self, to: u8, bytes: &[u8]) {
        let from = 1 - to;
        match self.eps[usize::from(to)].handle_input(self.now, from, bytes) {
            Ok(Some(incoming)) if self.accept => {
                if let Err(e) = self.eps[usize::from(to)].accept(self.now, incoming) {
                    self.refused.push(e);
                }
            }
            Ok(_) => {}
            Err(e) => self.errors.push((to, e)),
        }
    }

    /// Advances to the next delivery or timer; false when nothing is left to do.
    fn step(&mut self) -> bool {
        self.drain();
        let next_flight = self.flight.iter().map(|f| f.at).min();
        let next_timer = self.eps.iter().filter_map(Endpoint::poll_timeout).min();
        let Some(next) = [next_flight, next_timer].into_iter().flatten().min() else {
            return false;
        };
        assert!(next >= self.now, "time moves forward");
        self.now = next;
        let (due, later): (Vec<_>, Vec<_>) = self.flight.drain(..).partition(|f| f.at <= self.now);
        self.flight = later;
        for f in due {
            self.deliver(f.to, &f.bytes);
        }
        for ep in &mut self.eps {
            ep.handle_timeout(self.now);
        }
        self.drain();
        true
    }

    fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Self) -> bool) -> bool {
        let end = self.now + limit;
        while self.now < end {
            if done(self) {
                return true;
            }
            if !self.step() {
                return done(self);
            }
        }
        done(self)
    }

    fn connected(&self, node: u8) -> Option<SessionId> {
        self.events[usize::from(node)].iter().find_map(|e| match e {
            Event::Connected { session, .. } => Some(*session),
            _ => None,
        })
    }

    fn closed(&self, node: u8) -> Option<&CloseReason> {
        self.events[usize::from(node)].iter().find_map(|e| match e {
            Event::Closed { reason, .. } => Some(reason),
            _ => None,
        })
    }

    fn received(&self, node: u8) -> Vec<Vec<u8>> {
        self.events[usize::from(node)]
            .iter()
            .filter_map(|e| match e {
                Event::Received { data, .. } => Some(data.clone()),
                _ => None,
            })
            .collect()
    }

    fn responder_id(&self) -> DeviceId {
        device_of(&self.eps[1])
    }

    fn both_confirmed(&self) -> bool {
        self.connected(R).is_some() && self.eps[0].sessions.values().any(|s| s.is_established())
    }
}

fn config_with(suites: &[CipherSuite]) -> EndpointConfig {
    EndpointConfig {
        suites: suites.to_vec(),
        ..EndpointConfig::default()
    }
}

#[test]
fn handshake_and_records_on_a_clean_link() {
    for suite in [CipherSuite::Suite4, CipherSuite::Suite6] {
        let mut net = Net::new(config_with(&[suite]), &[suite]);
        let sid = net.eps[0].connect(net.now, R, net.responder_id()).unwrap();
        assert!(net.run_until(Duration::from_secs(5), Net::both_confirmed));
        let rid = net.connected(R).unwrap();
        assert_eq!(net.connected(I), Some(sid));
        for (node, kid) in [(I, vec![0x0b, 0x01]), (R, vec![0x0a])] {
            let Some(Event::Connected { info, suite: s, .. }) =
                net.events[usize::from(node)].first()
            else {
                panic!("first event is Connected");
            };
            assert_eq!(*s, suite);
            assert_eq!(info.id_cred.kid_value(), Some(&kid[..]));
        }
        // Three handshake datagrams and message_4, nothing more.
        assert_eq!(net.sent[0].len(), 2);
        assert_eq!(net.sent[1].len(), 2);

        net.eps[0].send(net.now, sid, b"hello responder").unwrap();
        net.eps[1].send(net.now, rid, b"hello initiator").unwrap();
        net.run_until(Duration::from_secs(1), |n| {
            !n.received(I).is_empty() && !n.received(R).is_empty()
        });
        assert_eq!(net.received(R), vec![b"hello responder".to_vec()]);
        assert_eq!(net.received(I), vec![b"hello initiator".to_vec()]);

        let mut a = [0; 32];
        let mut b = [0; 32];
        net.eps[0].export(sid, 40000, b"ctx", &mut a).unwrap();
        net.eps[1].export(rid, 40000, b"ctx", &mut b).unwrap();
        assert_eq!(a, b, "both sides export the same keying material");
        assert_ne!(a, [0; 32]);
    }
}

#[test]
fn lossy_reordering_duplicating_link() {
    for suite in [CipherSuite::Suite4, CipherSuite::Suite6] {
        for seed in 1..=12u64 {
            let mut net =
                Net::new(config_with(&[suite]), &[suite]).lossy(seed * 7919, 300, 200, 400);
            let sid = net.eps[0].connect(net.now, R, net.responder_id()).unwrap();
            assert!(
                net.run_until(Duration::from_secs(120), Net::both_confirmed),
                "{suite:?} seed {seed}: handshake completes, errors {:?}",
                net.errors
            );
            let rid = net.connected(R).unwrap();
            let mut sent = Vec::new();
            for n in 0..200u32 {
                let msg = n.to_be_bytes().to_vec();
                net.eps[0].send(net.now, sid, &msg).unwrap();
                net.eps[1].send(net.now, rid, &msg).unwrap();
                sent.push(msg);
                net.step();
            }
            net.run_until(Duration::from_secs(5), |n| n.flight.is_empty());
            for node in [I, R] {
                let got = net.received(node);
                let mut unique = got.clone();
                unique.sort();
                unique.dedup();
                assert_eq!(unique.len(), got.len(), "no record delivered twice");
                assert!(got.iter().all(|m| sent.contains(m)), "only what was sent");
                assert!(
                    got.len() > 60,
                    "{suite:?} seed {seed}: most records arrive ({})",
                    got.len()
                );
            }
            assert!(net.closed(I).is_none() && net.closed(R).is_none());
        }
    }
}

#[test]
fn goes_quiet_when_idle() {
    let config = EndpointConfig {
        record: RecordConfig {
            key_update_after_records: 5,
            ..RecordConfig::default()
        },
        ..config_with(&[CipherSuite::Suite4])
    };
    let mut net = Net::new(config, &[CipherSuite::Suite4]).lossy(5, 100, 100, 50);
    let sid = net.eps[0].connect(net.now, R, net.responder_id()).unwrap();
    assert!(net.run_until(Duration::from_secs(60), Net::both_confirmed));
    for n in 0..20u8 {
        net.eps[0].send(net.now, sid, &[n]).unwrap();
    }
    let mut steps = 0;
    while net.step() {
        steps += 1;
        assert!(steps < 10_000, "the endpoints go quiet");
    }
    assert!(net.eps.iter().all(|e| e.poll_timeout().is_none()));
    assert!(net.flight.is_empty());
    assert_eq!(net.eps[0].session_count(), 1);
    assert_eq!(net.eps[1].session_count(), 1);
}

#[test]
fn initiator_gives_up_after_its_retransmissions() {
    let config = EndpointConfig {
        max_retransmits: 3,
        ..config_with(&[CipherSuite::Suite4])
    };
    let mut net = Net::new(config, &[CipherSuite::Suite4]).lossy(3, 1000, 0, 0);
    net.eps[0].connect(net.now, R, net.responder_id()).unwrap();
    while net.step() {}
    assert_eq!(net.closed(I), Some(&CloseReason::TimedOut));
    // message_1 once, then three retransmissions with doubling timeouts.
    assert_eq!(net.sent[0].len(), 4);
    assert!(net.sent[0].iter().all(|d| d == &net.sent[0][0]));
    assert_eq!(net.eps[0].session_count(), 0);
    assert_eq!(
        net.now,
        Instant::ZERO + Duration::from_millis(500 + 1000 + 2000 + 4000 + 5000)
    );
}

/// A flood of message_1s from spoofed addresses: once `cookie_threshold` handshakes are
/// pending, each further one is answered with a retry smaller than itself and creates
/// nothing; a genuine initiator follows the retry and completes.
#[test]
fn message_1_flood_is_answered_with_cookies() {
    let config = EndpointConfig {
        max_pending: 8,
        max_sessions: 16,
        cookie_threshold: 3,
        ..config_with(&[CipherSuite::Suite4])
    };
    let (ci, cr) = credentials(&[CipherSuite::Suite4]);
    let ci = Arc::new(ci);
    let mut responder = endpoint(config.clone(), cr);
    let target = device_of(&responder);
    let now = Instant::ZERO;
    let mut accepted = 0;
    for n in 0..200u8 {
        let mut attacker: Endpoint<u8> =
            Endpoint::new(config.clone(), ci.clone(), Arc::new(SystemRandom::new()));
        attacker.connect(now, R, target).unwrap();
        let mut buf = Vec::new();
        let t = attacker.poll_transmit(now, &mut buf).unwrap();
        match responder.handle_input(now, n, &buf[..t.len]) {
            Ok(Some(incoming)) => {
                assert!(!incoming.address_validated());
                responder.accept(now, incoming).unwrap();
                accepted += 1;
            }
            Err(InputError::AddressNotValidated) => {
                let mut retry = Vec::new();
                let r = responder.poll_transmit(now, &mut retry).unwrap();
                assert_eq!(r.destination, n, "the retry goes to the claimed address");
                assert!(
                    r.len < t.len,
                    "a retry never amplifies: {} < {}",
                    r.len,
                    t.len
                );
                assert_eq!(retry[0], 0x06);
            }
            other => panic!("{other:?}"),
        }
        while responder.poll_transmit(now, &mut buf).is_some() {}
        assert!(responder.pending_count() <= 3);
    }
    assert_eq!(accepted, 3);

    // A genuine initiator at address 250 follows the retry with its cookie.
    let mut genuine: Endpoint<u8> =
        Endpoint::new(config.clone(), ci.clone(), Arc::new(SystemRandom::new()));
    let session = genuine.connect(now, R, target).unwrap();
    let mut buf = Vec::new();
    let t = genuine.poll_transmit(now, &mut buf).unwrap();
    assert_eq!(
        responder.handle_input(now, 250, &buf[..t.len]),
        Err(InputError::AddressNotValidated)
    );
    let t = responder.poll_transmit(now, &mut buf).unwrap();
    genuine.handle_input(now, R, &buf[..t.len]).unwrap();
    let t = genuine.poll_transmit(now, &mut buf).unwrap();
    assert_eq!(buf[0], 0x07, "message_1 with the cookie");
    // The cookie is bound to the address: from elsewhere it is refused.
    assert_eq!(
        responder.handle_input(now, 251, &buf[..t.len]),
        Err(InputError::AddressNotValidated)
    );
    // A cookie from two epochs ago is no longer accepted.
    let much_later = now + config.cookie_lifetime * 2;
    assert_eq!(
        responder.handle_input(much_later, 250, &buf[..t.len]),
        Err(InputError::AddressNotValidated)
    );
    while responder.poll_transmit(now, &mut Vec::new()).is_some() {}
    let incoming = responder
        .handle_input(now, 250, &buf[..t.len])
        .unwrap()
        .unwrap();
    assert!(incoming.address_validated());
    responder.accept(now, incoming).unwrap();
    assert_eq!(genuine.session_count(), 1);
    assert!(genuine.record_stats(session).is_none());

    // The pending handshakes expire and make room again.
    let later = now + Duration::from_secs(31);
    responder.handle_timeout(later);
    assert_eq!(responder.session_count(), 0);
    assert_eq!(responder.poll_timeout(), None);
}

/// Pending handshakes are capped per address and in all; one more evicts the oldest.
#[test]
fn pending_handshakes_are_capped_per_address_and_evict_the_oldest() {
    let config = EndpointConfig {
        max_pending: 3,
        max_pending_per_peer: 2,
        cookie_threshold: usize::MAX,
        ..config_with(&[CipherSuite::Suite4])
    };
    let (ci, cr) = credentials(&[CipherSuite::Suite4]);
    let ci = Arc::new(ci);
    let mut responder = endpoint(config.clone(), cr);
    let target = device_of(&responder);
    let now = Instant::ZERO;
    let offer = |responder: &mut Endpoint<u8>, from: u8| {
        let mut initiator: Endpoint<u8> =
            Endpoint::new(config.clone(), ci.clone(), Arc::new(SystemRandom::new()));
        initiator.connect(now, R, target).unwrap();
        let mut buf = Vec::new();
        let t = initiator.poll_transmit(now, &mut buf).unwrap();
        let incoming = responder
            .handle_input(now, from, &buf[..t.len])
            .unwrap()
            .unwrap();
        responder.accept(now, incoming).unwrap()
    };
    let a1 = offer(&mut responder, 1);
    let a2 = offer(&mut responder, 1);
    let a3 = offer(&mut responder, 1);
    assert_eq!(responder.pending_count(), 2, "two per address");
    assert!(
        !responder.sessions.contains_key(&a1),
        "the address's oldest went"
    );
    let b1 = offer(&mut responder, 2);
    assert_eq!(responder.pending_count(), 3);
    let b2 = offer(&mut responder, 2);
    assert_eq!(responder.pending_count(), 3, "three in all");
    assert!(
        !responder.sessions.contains_key(&a2),
        "the oldest of all went"
    );
    for id in [a3, b1, b2] {
        assert!(responder.sessions.contains_key(&id));
    }
    let evicted: Vec<_> = core::iter::from_fn(|| responder.poll_event())
        .filter_map(|e| match e {
            Event::Closed {
                session,
                reason: CloseReason::Evicted,
            } => Some(session),
            _ => None,
        })
        .collect();
    assert_eq!(evicted, [a1, a2]);
}

#[test]
fn refused_initiator_hears_an_error_message() {
    let mut net = Net::new(config_with(&[CipherSuite::Suite4]), &[CipherSuite::Suite4]);
    net.accept = false;
    net.eps[0].connect(net.now, R, net.responder_id()).unwrap();
    net.drain();
    let m1 = net.flight.remove(0);
    let incoming = net.eps[1]
        .handle_input(net.now, I, &m1.bytes)
        .unwrap()
        .unwrap();
    assert_eq!(incoming.peer(), &I);
    assert_eq!(incoming.suite(), CipherSuite::Suite4);
    net.eps[1].refuse(incoming);
    assert_eq!(net.eps[1].session_count(), 0, "refusing stores nothing");
    // The error message is not authenticated: a hint, reported when the initiator gives up.
    net.run_until(Duration::from_secs(1), |n| n.closed(I).is_some());
    assert_eq!(net.closed(I), None);
    net.run_until(Duration::from_secs(120), |n| n.closed(I).is_some());
    assert_eq!(
        net.closed(I),
        Some(&CloseReason::Handshake(HandshakeError::PeerError(
            ErrorMessage::Unspecified("refused".into())
        )))
    );
}

#[test]
fn wrong_selected_suite_is_renegotiated() {
    let (ci, cr) = credentials(&[CipherSuite::Suite4, CipherSuite::Suite6]);
    let initiator = endpoint(config_with(&[CipherSuite::Suite6, CipherSuite::Suite4]), ci);
    let responder = endpoint(config_with(&[CipherSuite::Suite4]), cr);
    let mut net = Net::with(initiator, responder);
    net.eps[0].connect(net.now, R, net.responder_id()).unwrap();
    assert!(net.run_until(Duration::from_secs(5), Net::both_confirmed));
    assert!(
        net.errors.iter().any(|(n, e)| *n == R
            && *e == InputError::Handshake(HandshakeError::WrongSuite { selected: 6 }))
    );
    // The second message_1 lists 6 then selects 4: SUITES_I = [6, 4].
    let second = &net.sent[0][1];
    assert_eq!(second[..4], [0x01, 0x00, 0x82, 0x06]);
    let [
        Event::Retrying {
            reason: Retry::CipherSuite,
            ..
        },
        Event::Connected { suite, .. },
        ..,
    ] = &net.events[0][..]
    else {
        panic!("retrying, then connected: {:?}", net.events[0]);
    };
    assert_eq!(*suite, CipherSuite::Suite4);
}

#[test]
fn unknown_credential_is_answered_with_code_3() {
    let rng = SystemRandom::new();
    let suite = CipherSuite::Suite6;
    let mut ci = StaticCredentials::new();
    ci.add_local_kid(
        suite,
        &[0x0a],
        SoftwareKey::generate(suite.signature(), &rng).unwrap(),
    );
    let mut cr = StaticCredentials::new();
    let (id, cred) = cr.add_local_kid(
        suite,
        &[0x0b, 0x01],
        SoftwareKey::generate(suite.signature(), &rng).unwrap(),
    );
    ci.add_peer(id, cred);
    let mut net = Net::with(
        endpoint(config_with(&[suite]), ci),
        endpoint(config_with(&[suite]), cr),
    );
    net.eps[0].connect(net.now, R, net.responder_id()).unwrap();
    net.run_until(Duration::from_secs(120), |n| {
        n.closed(I).is_some() && n.closed(R).is_some()
    });
    // The first answer is the ordinary first contact (the initiator is asked for its
    // credential by value); by value it is still unknown, and the initiator gives up with the
    // responder's error.
    assert_eq!(net.closed(R), Some(&CloseReason::ByValueRequested));
    assert!(net.events[0].iter().any(|e| matches!(
        e,
        Event::Retrying {
            reason: Retry::CredentialByValue,
            ..
        }
    )));
    assert_eq!(
        net.closed(I),
        Some(&CloseReason::Handshake(HandshakeError::PeerError(
            ErrorMessage::UnknownCredential
        )))
    );
}

/// Records what the verifier saw, and sends EAD items in every slot.
struct Observing {
    inner: StaticCredentials,
    seen: Mutex<Vec<(Vec<EadItem>, HandshakeNonce)>>,
    nonces_given: Mutex<Vec<(EadSlot, Option<HandshakeNonce>)>>,
}

impl Credentials for Observing {
    fn local(&self, suite: CipherSuite) -> Option<Arc<crate::credential::LocalCredential>> {
        self.inner.local(suite)
    }

    fn resolve_peer(&self, peer: &PeerCandidate<'_>) -> Result<PeerCredential, Refusal> {
        self.inner.resolve_peer(peer)
    }

    fn admit_peer(
        &self,
        peer: &PeerCandidate<'_>,
        credential: &PeerCredential,
    ) -> Result<(), Refusal> {
        self.seen
            .lock()
            .unwrap()
            .push((peer.ead.to_vec(), *peer.nonce));
        self.inner.admit_peer(peer, credential)
    }

    fn ead(&self, request: &EadRequest<'_>) -> Vec<EadItem> {
        self.nonces_given
            .lock()
            .unwrap()
            .push((request.slot, request.nonce.copied()));
        self.inner.ead(request)
    }

    fn understands_ead(&self, label: u64) -> bool {
        self.inner.understands_ead(label)
    }
}

fn observing(mut inner: StaticCredentials, slot: EadSlot, item: EadItem) -> Arc<Observing> {
    inner.add_ead(slot, item);
    inner.understand_ead(77);
    Arc::new(Observing {
        inner,
        seen: Mutex::new(Vec::new()),
        nonces_given: Mutex::new(Vec::new()),
    })
}

#[test]
fn ead_travels_both_ways_with_the_handshake_nonce() {
    let suite = CipherSuite::Suite4;
    let (ci, cr) = credentials(&[suite]);
    let mut ci_inner = ci;
    ci_inner.add_ead(EadSlot::Message1, EadItem::new(76, Some(vec![1])));
    let ci = observing(
        ci_inner,
        EadSlot::Message3,
        EadItem::critical(77, Some(vec![3, 3])),
    );
    let cr = observing(cr, EadSlot::Message2, EadItem::new(78, Some(vec![2])));
    let rng = Arc::new(SystemRandom::new());
    let i = Endpoint::new(config_with(&[suite]), ci.clone(), rng.clone());
    let r = Endpoint::new(config_with(&[suite]), cr.clone(), rng);
    let mut net = Net::with(i, r);
    net.eps[0].connect(net.now, R, net.responder_id()).unwrap();
    net.drain();
    let m1 = net.flight.remove(0);
    let incoming = net.eps[1]
        .handle_input(net.now, I, &m1.bytes)
        .unwrap()
        .unwrap();
    assert_eq!(incoming.ead(), [EadItem::new(76, Some(vec![1]))]);
    net.eps[1].accept(net.now, incoming).unwrap();
    assert!(net.run_until(Duration::from_secs(5), Net::both_confirmed));

    let seen_by_i = ci.seen.lock().unwrap().clone();
    let seen_by_r = cr.seen.lock().unwrap().clone();
    assert_eq!(
        seen_by_i[0].0,
        [EadItem::new(78, Some(vec![2]))],
        "EAD_2 reaches the initiator"
    );
    assert_eq!(
        seen_by_r[0].0,
        [EadItem::critical(77, Some(vec![3, 3]))],
        "EAD_3 reaches the responder"
    );
    assert_eq!(seen_by_i[0].1, seen_by_r[0].1, "one nonce per handshake");
    let given = ci.nonces_given.lock().unwrap().clone();
    assert_eq!(given[0], (EadSlot::Message1, None));
    assert_eq!(given[1], (EadSlot::Message3, Some(seen_by_i[0].1)));
}

#[test]
fn unknown_critical_ead_ends_the_handshake() {
    let suite = CipherSuite::Suite6;
    let (mut ci, cr) = credentials(&[suite]);
    ci.add_ead(EadSlot::Message3, EadItem::critical(99, None));
    let mut net = Net::with(
        endpoint(config_with(&[suite]), ci),
        endpoint(config_with(&[suite]), cr),
    );
    net.eps[0].connect(net.now, R, net.responder_id()).unwrap();
    net.run_until(Duration::from_secs(120), |n| n.closed(I).is_some());
    assert_eq!(
        net.closed(R),
        Some(&CloseReason::Handshake(HandshakeError::CriticalEad {
            label: 99
        }))
    );
    assert!(matches!(
        net.closed(I),
        Some(CloseReason::Handshake(HandshakeError::PeerError(
            ErrorMessage::Unspecified(_)
        )))
    ));
}

/// The genuine datagrams of one handshake, captured by stepping a clean link by hand.
struct Captured {
    net: Net,
    m1: Vec<u8>,
    m2: Vec<u8>,
    m3: Vec<u8>,
}

fn capture(suite: CipherSuite) -> Captured {
    let mut net = Net::new(config_with(&[suite]), &[suite]);
    net.eps[0].connect(net.now, R, net.responder_id()).unwrap();
    net.drain();
    let m1 = net.flight.remove(0).bytes;
    let incoming = net.eps[1].handle_input(net.now, I, &m1).unwrap().unwrap();
    net.eps[1].accept(net.now, incoming).unwrap();
    net.drain();
    let m2 = net.flight.remove(0).bytes;
    net.eps[0].handle_input(net.now, R, &m2).unwrap();
    net.drain();
    let m3 = net.flight.remove(0).bytes;
    Captured { net, m1, m2, m3 }
}

/// Every byte flipped, every truncation, and extensions.
fn mutations(datagram: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for i in 0..datagram.len() {
        let mut m = datagram.to_vec();
        m[i] ^= 0x01;
        out.push(m);
        let mut m = datagram.to_vec();
        m[i] ^= 0x80;
        out.push(m);
        out.push(datagram[..i].to_vec());
    }
    for extra in [&[0x00][..], &[0xff], &[0x41, 0x00], &[0x20]] {
        let mut m = datagram.to_vec();
        m.extend_from_slice(extra);
        out.push(m);
    }
    out
}

#[test]
fn bad_message_1_creates_no_state() {
    for suite in [CipherSuite::Suite4, CipherSuite::Suite6] {
        let Captured { mut net, m1, .. } = capture(suite);
        let responder = &mut net.eps[1];
        let sessions = responder.session_count();
        for m in mutations(&m1) {
            match responder.handle_input(Instant::ZERO, 9, &m) {
                // A flip inside G_X or C_I still makes a well-formed message_1; it stays an
                // Incoming until the application accepts it.
                Ok(Some(incoming)) => assert_ne!(incoming.message_1, m1[1..]),
                Ok(None) => panic!("message_1 yields an Incoming or an error"),
                Err(e) => assert!(
                    matches!(
                        e,
                        InputError::Datagram(_)
                            | InputError::Handshake(_)
                            | InputError::UnknownSession
                            | InputError::Duplicate(MessageKind::Message1)
                            | InputError::Record(_)
                            | InputError::NotEstablished
                            | InputError::AddressNotValidated
                    ),
                    "{e:?}"
                ),
            }
            assert_eq!(responder.session_count(), sessions, "no state for {m:02x?}");
        }
        while responder.poll_event().is_some() {}
    }
}

#[test]
fn bad_message_3_leaves_the_responder_unchanged() {
    for suite in [CipherSuite::Suite4, CipherSuite::Suite6] {
        let Captured { mut net, m3, .. } = capture(suite);
        let mut kinds = Vec::new();
        for m in mutations(&m3) {
            let e = net.eps[1].handle_input(net.now, I, &m).unwrap_err();
            kinds.push(core::mem::discriminant(&e));
            assert!(
                !matches!(e, InputError::Handshake(ref h) if h.is_fatal()),
                "{e:?} must not end the handshake"
            );
            assert_eq!(net.eps[1].pending_count(), 1);
            assert!(net.eps[1].poll_event().is_none());
        }
        // The genuine message_3 still completes the handshake.
        net.eps[1].handle_input(net.now, I, &m3).unwrap();
        assert!(matches!(
            net.eps[1].poll_event(),
            Some(Event::Connected { .. })
        ));
        // Replayed message_3: answered again with message_4, reported as a duplicate.
        let _ = net.eps[1].poll_transmit(net.now, &mut Vec::new());
        assert_eq!(
            net.eps[1].handle_input(net.now, I, &m3),
            Err(InputError::Duplicate(MessageKind::Message3))
        );
        let mut m4 = Vec::new();
        assert!(net.eps[1].poll_transmit(net.now, &mut m4).is_some());
        assert_eq!(m4[0], 0x04);
    }
}

#[test]
fn bad_message_2_is_survived() {
    for suite in [CipherSuite::Suite4, CipherSuite::Suite6] {
        // Each mutation goes to a fresh initiator waiting for its own message_2.
        let config = config_with(&[suite]);
        let mut k = 0;
        loop {
            let Captured {
                mut net,
                m2: genuine,
                ..
            } = capture_until_message_2(suite, &config);
            let Some(m) = mutations(&genuine).into_iter().nth(k) else {
                break;
            };
            k += 1;
            let res = net.eps[0].handle_input(net.now, R, &m);
            match &res {
                // Typed, and (checked below) never the end of the session.
                Err(InputError::Handshake(_)) => {}
                Err(e) => assert!(
                    matches!(
                        e,
                        InputError::Datagram(_)
                            | InputError::UnknownSession
                            | InputError::Unexpected(_)
                            | InputError::Record(_)
                            // A flipped type bit makes a record addressed to our pending
                            // session when the random identifiers line up.
                            | InputError::NotEstablished
                    ),
                    "{e:?}"
                ),
                // Taken as a retry (a flipped type byte) or as an unknown reference (a flipped
                // kid): the initiator starts again, and never answers with message_3.
                Ok(_) => {}
            }
            net.drain();
            assert!(
                net.sent[0].iter().all(|d| d[0] != 0x03),
                "a mutated message_2 is never accepted: {m:02x?}"
            );
            assert!(net.closed(I).is_none(), "{res:?}");
            // The genuine message_2 still completes the handshake.
            assert!(
                net.run_until(Duration::from_secs(20), Net::both_confirmed),
                "{m:02x?}"
            );
        }
    }
}

/// A handshake stopped with message_2 in flight.
fn capture_until_message_2(suite: CipherSuite, config: &EndpointConfig) -> Captured {
    let mut net = Net::new(config.clone(), &[suite]);
    net.eps[0].connect(net.now, R, net.responder_id()).unwrap();
    net.drain();
    let m1 = net.flight.remove(0).bytes;
    let incoming = net.eps[1].handle_input(net.now, I, &m1).unwrap().unwrap();
    net.eps[1].accept(net.now, incoming).unwrap();
    net.drain();
    let m2 = net.flight.remove(0).bytes;
    Captured {
        net,
        m1,
        m2,
        m3: Vec::new(),
    }
}

#[test]
fn replayed_handshake_messages_after_completion() {
    for suite in [CipherSuite::Suite4, CipherSuite::Suite6] {
        let Captured {
            mut net,
            m1,
            m2,
            m3,
        } = capture(suite);
        net.eps[1].handle_input(net.now, I, &m3).unwrap();
        net.drain();
        assert!(net.run_until(Duration::from_secs(1), Net::both_confirmed));
        let before = (net.eps[0].session_count(), net.eps[1].session_count());
        assert_eq!(
            net.eps[1].handle_input(net.now, I, &m1),
            Err(InputError::Duplicate(MessageKind::Message1))
        );
        assert_eq!(
            net.eps[0].handle_input(net.now, R, &m2),
            Err(InputError::Duplicate(MessageKind::Message2))
        );
        assert_eq!(
            net.eps[1].handle_input(net.now, I, &m3),
            Err(InputError::Duplicate(MessageKind::Message3))
        );
        assert_eq!(
            (net.eps[0].session_count(), net.eps[1].session_count()),
            before
        );
        // A message_2 for an unknown connection identifier.
        let mut stray = m2.clone();
        stray[1] ^= 0x05;
        assert!(matches!(
            net.eps[0].handle_input(net.now, R, &stray),
            Err(InputError::UnknownSession | InputError::Datagram(_))
        ));
    }
}

/// Junk records addressed to a live session never end it: the receiver counts them against
/// its current key, asks the peer for its next key once the configured number is reached, and
/// genuine records keep flowing in both directions.
#[test]
fn forged_records_never_kill_the_session() {
    let config = EndpointConfig {
        record: RecordConfig {
            forgeries_before_update: 5,
            ..RecordConfig::default()
        },
        ..config_with(&[CipherSuite::Suite4])
    };
    let mut net = Net::new(config, &[CipherSuite::Suite4]);
    let sid = net.eps[0].connect(net.now, R, net.responder_id()).unwrap();
    assert!(net.run_until(Duration::from_secs(5), Net::both_confirmed));
    let rid = net.connected(R).unwrap();
    net.eps[0].send(net.now, sid, b"genuine").unwrap();
    let mut record = Vec::new();
    let _ = net.eps[0].poll_transmit(net.now, &mut record).unwrap();
    assert_eq!(net.eps[1].handle_input(net.now, I, &record), Ok(None));
    assert_eq!(
        net.eps[1].handle_input(net.now, I, &record),
        Err(InputError::Record(RecordError::Replayed(0)))
    );
    for n in 0..1000u32 {
        let mut forged = record.clone();
        *forged.last_mut().unwrap() ^= 1 + (n % 255) as u8;
        forged[6] ^= (n % 7) as u8 + 1;
        assert_eq!(
            net.eps[1].handle_input(net.now, I, &forged),
            Err(InputError::Record(RecordError::Forged))
        );
    }
    net.drain();
    assert_eq!(net.closed(R), None);
    let stats = net.eps[1].record_stats(rid).unwrap();
    assert_eq!(stats.forgeries, 1000);
    assert_eq!(stats.updates_requested, 1);
    // The responder's next record asks for the update; the initiator's next is under phase 1.
    net.eps[1].send(net.now, rid, b"reply").unwrap();
    net.run_until(Duration::from_secs(1), |n| !n.received(I).is_empty());
    net.eps[0].send(net.now, sid, b"after").unwrap();
    net.run_until(Duration::from_secs(1), |n| n.received(R).len() == 2);
    assert_eq!(net.received(R), [b"genuine".to_vec(), b"after".to_vec()]);
    assert_eq!(net.eps[1].record_stats(rid).unwrap().receive_phase, 1);
    assert_eq!(net.eps[0].record_stats(sid).unwrap().send_phase, 1);
}

#[test]
fn oversized_and_unknown_datagrams() {
    let mut net = Net::new(config_with(&[CipherSuite::Suite4]), &[CipherSuite::Suite4]);
    let big = vec![0x01; 3000];
    assert_eq!(
        net.eps[1].handle_input(net.now, I, &big),
        Err(InputError::Datagram(DatagramError::TooLarge))
    );
    assert_eq!(
        net.eps[1].handle_input(net.now, I, &[0x09, 0x00]),
        Err(InputError::Datagram(DatagramError::UnknownType(9)))
    );
    let mut record = vec![0x80, 0x01, 0x02, 0x03, 0x04];
    record.resize(MAX_OVERHEAD, 0);
    assert_eq!(
        net.eps[1].handle_input(net.now, I, &record),
        Err(InputError::UnknownSession)
    );
    assert_eq!(
        net.eps[1].handle_input(net.now, I, &record[..MAX_OVERHEAD - 1]),
        Err(InputError::Datagram(DatagramError::BadRecord(
            RecordError::Truncated {
                len: MAX_OVERHEAD - 1
            }
        )))
    );
}

#[test]
fn unknown_kid_falls_back_to_credential_by_value() {
    let rng = SystemRandom::new();
    for suite in [CipherSuite::Suite4, CipherSuite::Suite6] {
        let mut ci = StaticCredentials::new();
        let (_, initiator_cred) = ci.add_local_kid(
            suite,
            &[0x0a],
            SoftwareKey::generate(suite.signature(), &rng).unwrap(),
        );
        let mut cr = StaticCredentials::new();
        let (id, cred) = cr.add_local_kid(
            suite,
            &[0x0b],
            SoftwareKey::generate(suite.signature(), &rng).unwrap(),
        );
        ci.add_peer(id, cred);
        // The responder knows the initiator's credential, but under another kid.
        cr.add_peer(IdCred::kid(&[0x77]), initiator_cred.clone());
        let mut net = Net::with(
            endpoint(config_with(&[suite]), ci),
            endpoint(config_with(&[suite]), cr),
        );
        net.eps[0].connect(net.now, R, net.responder_id()).unwrap();
        assert!(net.run_until(Duration::from_secs(5), Net::both_confirmed));
        // The first responder session asked for the credential by value (error code 3),
        // quietly: no failure anywhere...
        assert_eq!(net.closed(R), Some(&CloseReason::ByValueRequested));
        assert!(net.errors.is_empty(), "{:?}", net.errors);
        // ...and the second accepted the credential sent by value (kccs).
        let info = net.events[1]
            .iter()
            .find_map(|e| match e {
                Event::Connected { info, .. } => Some(info.clone()),
                _ => None,
            })
            .unwrap();
        assert_eq!(
            info.id_cred.by_value(),
            Some(initiator_cred.cred.as_slice())
        );
        assert_eq!(info.credential, initiator_cred);
        assert!(net.closed(I).is_none());
    }
}

#[test]
fn records_before_message_3_are_not_opened() {
    let Captured { mut net, m3, .. } = capture(CipherSuite::Suite4);
    // The initiator has keys (it sent message_3) but is not confirmed, so it cannot send yet;
    // a record-shaped datagram for the pending responder session is refused as such.
    let rid = *net.eps[1].by_local_id.keys().next().unwrap();
    let mut record = vec![0x80];
    record.extend_from_slice(rid.as_bytes());
    record.extend_from_slice(&[0; 2 + 20]);
    assert_eq!(
        net.eps[1].handle_input(net.now, I, &record),
        Err(InputError::NotEstablished)
    );
    let sid = net.eps[0].sessions.keys().copied().next().unwrap();
    assert_eq!(
        net.eps[0].send(net.now, sid, b"early"),
        Err(SendError::NotEstablished)
    );
    net.eps[1].handle_input(net.now, I, &m3).unwrap();
}

/// message_1 of a fresh handshake from `creds`, re-encoded with C_I `c_i` (what a spoofer
/// who heard the victim's message_1 sends from the victim's address).
fn spoofed_message_1(creds: &Arc<StaticCredentials>, c_i: ConnId) -> Vec<u8> {
    let mut spoofer: Endpoint<u8> = Endpoint::new(
        config_with(&[CipherSuite::Suite4]),
        creds.clone(),
        Arc::new(SystemRandom::new()),
    );
    spoofer
        .connect(Instant::ZERO, R, DeviceId::from_bytes([7; 16]))
        .unwrap();
    let mut buf = Vec::new();
    let t = spoofer.poll_transmit(Instant::ZERO, &mut buf).unwrap();
    let mut m1 = Message1::decode(&buf[1..t.len]).unwrap();
    m1.c_i = c_i;
    let mut out = vec![0x01];
    m1.encode(&mut out);
    out
}

#[test]
fn spoofed_message_1_does_not_displace_a_pending_handshake() {
    let suite = CipherSuite::Suite4;
    let (ci, cr) = credentials(&[suite]);
    let ci = Arc::new(ci);
    let mut net = Net::with(
        Endpoint::new(
            config_with(&[suite]),
            ci.clone(),
            Arc::new(SystemRandom::new()),
        ),
        endpoint(config_with(&[suite]), cr),
    );
    net.eps[0].connect(net.now, R, net.responder_id()).unwrap();
    net.drain();
    let m1 = net.flight.remove(0).bytes;
    let victim_c_i = Message1::decode(&m1[1..]).unwrap().c_i;
    let incoming = net.eps[1].handle_input(net.now, I, &m1).unwrap().unwrap();
    let victim = net.eps[1].accept(net.now, incoming).unwrap();

    // The spoofer sends another message_1 with the victim's address and C_I; it is accepted
    // as a handshake of its own and the victim's stays.
    let spoofed = spoofed_message_1(&ci, victim_c_i);
    let incoming = net.eps[1]
        .handle_input(net.now, I, &spoofed)
        .unwrap()
        .unwrap();
    let spoof = net.eps[1].accept(net.now, incoming).unwrap();
    assert_ne!(spoof, victim);
    assert_eq!(net.eps[1].pending_count(), 2);
    assert!(net.eps[1].sessions.contains_key(&victim));

    // The victim's handshake completes; the spoofed one is left behind and closed.
    assert!(net.run_until(Duration::from_secs(5), Net::both_confirmed));
    assert_eq!(net.connected(R), Some(victim));
    assert!(net.events[1].iter().any(|e| matches!(
        e,
        Event::Closed { session, reason: CloseReason::Superseded } if *session == spoof
    )));
    assert_eq!(net.eps[1].pending_count(), 0);
    assert_eq!(net.eps[1].session_count(), 1);
    assert!(
        net.eps[1]
            .by_initiator
            .iter()
            .all(|(_, _, id)| *id == victim)
    );
}

#[test]
fn unknown_responder_kid_is_answered_with_code_3_and_sent_by_value() {
    let rng = SystemRandom::new();
    for suite in [CipherSuite::Suite4, CipherSuite::Suite6] {
        let mut ci = StaticCredentials::new();
        let (id, cred) = ci.add_local_kid(
            suite,
            &[0x0a],
            SoftwareKey::generate(suite.signature(), &rng).unwrap(),
        );
        let mut cr = StaticCredentials::new();
        cr.add_peer(id, cred);
        let (_, responder_cred) = cr.add_local_kid(
            suite,
            &[0x0b],
            SoftwareKey::generate(suite.signature(), &rng).unwrap(),
        );
        // The initiator knows the responder's credential, but under another kid.
        ci.add_peer(IdCred::kid(&[0x77]), responder_cred.clone());
        let mut net = Net::with(
            endpoint(config_with(&[suite]), ci),
            endpoint(config_with(&[suite]), cr),
        );
        net.eps[0].connect(net.now, R, net.responder_id()).unwrap();
        assert!(net.run_until(Duration::from_secs(10), Net::both_confirmed));
        // The first message_2 was answered with error code 3 and the initiator said it retries,
        // without an error...
        assert!(net.events[0].iter().any(|e| matches!(
            e,
            Event::Retrying {
                reason: Retry::PeerCredentialByValue,
                ..
            }
        )));
        assert!(net.errors.is_empty(), "{:?}", net.errors);
        // ...which the responder took as a hint: that session was superseded by the restarted
        // handshake, whose message_1 asked for the credential by value...
        assert_eq!(net.closed(R), Some(&CloseReason::Superseded));
        let restarted = net.sent[0].iter().skip(1).find(|d| d[0] == 0x01).unwrap();
        let restarted = Message1::decode(&restarted[1..]).unwrap();
        assert_eq!(restarted.ead, [EadItem::new(EAD_CREDENTIAL_REQUEST, None)]);
        // ...and got it.
        let info = net.events[0]
            .iter()
            .find_map(|e| match e {
                Event::Connected { info, .. } => Some(info.clone()),
                _ => None,
            })
            .unwrap();
        assert_eq!(
            info.id_cred.by_value(),
            Some(responder_cred.cred.as_slice())
        );
        assert!(net.closed(I).is_none());
    }
}

#[test]
fn credentials_by_value_from_the_start() {
    let suite = CipherSuite::Suite6;
    let config = EndpointConfig {
        credential_by_value: true,
        ..config_with(&[suite])
    };
    let mut net = Net::new(config, &[suite]);
    net.eps[0].connect(net.now, R, net.responder_id()).unwrap();
    assert!(net.run_until(Duration::from_secs(5), Net::both_confirmed));
    for node in [I, R] {
        let Some(Event::Connected { info, .. }) = net.events[usize::from(node)].first() else {
            panic!("connected");
        };
        assert_eq!(
            info.id_cred.by_value(),
            Some(info.credential.cred.as_slice())
        );
    }
    assert!(net.errors.is_empty(), "{:?}", net.errors);
}

#[test]
fn recycled_buffers_carry_the_next_records() {
    let mut net = Net::new(config_with(&[CipherSuite::Suite4]), &[CipherSuite::Suite4]);
    let sid = net.eps[0].connect(net.now, R, net.responder_id()).unwrap();
    assert!(net.run_until(Duration::from_secs(5), Net::both_confirmed));
    let mut wire = Vec::new();
    let mut previous: Option<*const u8> = None;
    for n in 0..4u8 {
        net.eps[0].send(net.now, sid, &[n; 40]).unwrap();
        let t = net.eps[0].poll_transmit(net.now, &mut wire).unwrap();
        net.eps[1].handle_input(net.now, I, &wire[..t.len]).unwrap();
        let Some(Event::Received { data, .. }) = net.eps[1].poll_event() else {
            panic!("a record");
        };
        assert_eq!(data, [n; 40]);
        if let Some(ptr) = previous {
            assert_eq!(data.as_ptr(), ptr, "the recycled buffer was reused");
        }
        previous = Some(data.as_ptr());
        net.eps[1].recycle(data);
    }
    // A record that fails to open returns its buffer to the pool.
    let mut forged = wire.clone();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    assert_eq!(
        net.eps[1].handle_input(net.now, I, &forged),
        Err(InputError::Record(RecordError::Replayed(3)))
    );
    assert_eq!(net.eps[1].recycled.len(), 1);
}

#[test]
fn timers_fire_in_session_order() {
    let config = EndpointConfig {
        max_sessions: 16,
        ..config_with(&[CipherSuite::Suite4])
    };
    let mut net = Net::new(config, &[CipherSuite::Suite4]).lossy(11, 1000, 0, 0);
    for _ in 0..12 {
        net.eps[0].connect(net.now, R, net.responder_id()).unwrap();
    }
    net.drain();
    assert_eq!(net.sent[0].len(), 12);
    net.step();
    // Every retransmission fell due at once; they leave in the order the sessions were made,
    // whatever their connection identifiers hash to.
    assert_eq!(net.sent[0].len(), 24);
    assert_eq!(net.sent[0][12..], net.sent[0][..12]);
}

#[test]
fn a_refused_message_3_is_answered_again_when_repeated() {
    let rng = SystemRandom::new();
    let suite = CipherSuite::Suite4;
    let mut ci = StaticCredentials::new();
    ci.add_local_kid(
        suite,
        &[0x0a],
        SoftwareKey::generate(suite.signature(), &rng).unwrap(),
    );
    let mut cr = StaticCredentials::new();
    let (id, cred) = cr.add_local_kid(
        suite,
        &[0x0b],
        SoftwareKey::generate(suite.signature(), &rng).unwrap(),
    );
    ci.add_peer(id, cred);
    let mut net = Net::with(
        endpoint(config_with(&[suite]), ci),
        endpoint(config_with(&[suite]), cr),
    );
    net.eps[0].connect(net.now, R, net.responder_id()).unwrap();
    net.drain();
    let m1 = net.flight.remove(0).bytes;
    let incoming = net.eps[1].handle_input(net.now, I, &m1).unwrap().unwrap();
    net.eps[1].accept(net.now, incoming).unwrap();
    net.drain();
    let m2 = net.flight.remove(0).bytes;
    net.eps[0].handle_input(net.now, R, &m2).unwrap();
    net.drain();
    let m3 = net.flight.remove(0).bytes;
    // An unknown reference is the ordinary first contact: answered with code 3, no error.
    assert_eq!(net.eps[1].handle_input(net.now, I, &m3), Ok(None));
    assert!(matches!(
        net.eps[1].poll_event(),
        Some(Event::Closed {
            reason: CloseReason::ByValueRequested,
            ..
        })
    ));
    let mut buf = Vec::new();
    let t = net.eps[1].poll_transmit(net.now, &mut buf).unwrap();
    let error = buf[..t.len].to_vec();
    assert_eq!(error[0], 0x05, "an error message");
    // The error was lost; the initiator's copy of message_3 gets the same answer, and
    // anything else meets a closed session.
    assert_eq!(
        net.eps[1].handle_input(net.now, I, &m3),
        Err(InputError::Duplicate(MessageKind::Message3))
    );
    let t = net.eps[1].poll_transmit(net.now, &mut buf).unwrap();
    assert_eq!(buf[..t.len], error[..]);
    let mut other = m3.clone();
    let last = other.len() - 1;
    other[last] ^= 1;
    assert_eq!(
        net.eps[1].handle_input(net.now, I, &other),
        Err(InputError::Closed)
    );
    assert!(net.eps[1].poll_transmit(net.now, &mut buf).is_none());
}

#[test]
fn connection_identifiers_are_four_random_bytes() {
    let (creds, responder) = credentials(&[CipherSuite::Suite4]);
    let known = responder
        .local(CipherSuite::Suite4)
        .unwrap()
        .signer()
        .public_key()
        .device_id();
    let mut ep = endpoint(config_with(&[CipherSuite::Suite4]), creds);
    let mut sizes = Vec::new();
    let mut ids = Vec::new();
    let mut buf = Vec::new();
    for peer in 0..16u8 {
        // A device the credentials know: no credential request in EAD_1.
        ep.connect(Instant::ZERO, peer, known).unwrap();
        let t = ep.poll_transmit(Instant::ZERO, &mut buf).unwrap();
        // message_1 ends with C_I (there is no EAD_1 here): a 4-byte bstr.
        assert_eq!(buf[t.len - 5], 0x44);
        ids.push(buf[t.len - 4..t.len].to_vec());
        sizes.push(t.len);
    }
    sizes.dedup();
    assert_eq!(sizes.len(), 1, "every message_1 has one size: {sizes:?}");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 16, "all distinct");
}
