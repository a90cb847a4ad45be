//! Model-based test of the continuous-trust state machine, and authorization through it.
#![allow(missing_docs, clippy::unwrap_used)]

use iomt_identity::*;
use iomt_testkit::*;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Event {
    /// Attest with this outcome; the result is issued `age` ms ago and lives `15 min`.
    Result(Tier, u64),
    AppraisalFailed,
    Revoke,
    Advance(u64),
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        3 => (prop_oneof![Just(Tier::Affirming), Just(Tier::Warning), Just(Tier::Contraindicated)], 0u64..3)
            .prop_map(|(t, back)| Event::Result(t, back * 400_000)),
        1 => Just(Event::AppraisalFailed),
        1 => Just(Event::Revoke),
        3 => (0u64..1_200_000).prop_map(Event::Advance),
    ]
}

/// The reference model: the rules of `state.rs`, written as plainly as possible.
#[derive(Debug, Default)]
struct Model {
    state: Option<TrustState>,
    expires: u64,
    newest: Option<u64>,
}

impl Model {
    fn state(&self) -> TrustState {
        self.state.unwrap_or(TrustState::Stale)
    }
    fn result(&mut self, tier: Tier, issued: u64, expires: u64, now: u64) {
        if self.state() == TrustState::Revoked || self.newest.is_some_and(|n| issued < n) {
            return;
        }
        self.newest = Some(issued);
        self.state = Some(match tier {
            Tier::Affirming if now < expires => {
                self.expires = expires;
                TrustState::Trusted
            }
            Tier::Contraindicated => TrustState::Quarantined,
            _ if self.state() == TrustState::Quarantined => TrustState::Quarantined,
            _ => TrustState::Stale,
        });
    }
    fn failed(&mut self, now: u64) {
        if self.state() != TrustState::Revoked {
            self.newest = Some(self.newest.map_or(now, |n| n.max(now)));
            self.state = Some(TrustState::Quarantined);
        }
    }
    fn tick(&mut self, now: u64) {
        if self.state() == TrustState::Trusted && now >= self.expires {
            self.state = Some(TrustState::Stale);
        }
    }
}

/// Signs a result for `device` with the mission's verifier, issued at `issued`.
fn result_for(m: &MissionFixture, device: &SoftwareKey, tier: Tier, issued: u64) -> Vec<u8> {
    let result = AttestationResult {
        device: device.public_key().device_id(),
        key: device.public_key(),
        tier,
        statuses: Default::default(),
        issued_at: at(issued),
        expires_at: at(issued + 15 * 60 * 1000),
    };
    result.sign(&m.verifier_key).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn state_machine_matches_the_model(events in proptest::collection::vec(event(), 1..40)) {
        let m = MissionFixture::new();
        let device = m.device(Algorithm::Ed25519);
        let credential = m.trust.verify_credential(&m.issue(&device.public_key(), Roles::EMPTY.with(Role::Operator), 1), at(T0)).unwrap();
        let mut peer = PeerTrust::new(&credential);
        let mut model = Model::default();
        let mut now = T0 + 1_000_000;
        for e in events {
            match e {
                Event::Result(tier, back) => {
                    // Whole seconds, as on the wire.
                    let issued = (now - back) / 1000 * 1000;
                    let bytes = result_for(&m, &device, tier, issued);
                    match m.trust.verify_result(&bytes, &device.public_key(), at(now)) {
                        Ok(verified) => {
                            peer.on_result(&verified, at(now)).unwrap();
                            model.result(tier, issued, issued + 15 * 60 * 1000, now);
                        }
                        Err(ResultError::Expired { .. }) => {}
                        Err(other) => prop_assert!(false, "unexpected {other:?}"),
                    }
                }
                Event::AppraisalFailed => {
                    peer.on_appraisal_failed(at(now));
                    model.failed(now);
                }
                Event::Revoke => {
                    peer.on_revoked();
                    model.state = Some(TrustState::Revoked);
                }
                Event::Advance(ms) => {
                    now += ms;
                    if let Some(deadline) = peer.poll_timeout() {
                        prop_assert!(deadline.as_millis() > now - ms, "timeouts move forward");
                    }
                    peer.handle_timeout(at(now));
                    model.tick(now);
                }
            }
            prop_assert_eq!(peer.state(), model.state());
            // Authorization follows the state: a quarantined device never relays, but may
            // still reach a command post; a revoked one may do nothing.
            let relay = peer.may(&m.policy, Action::Relay);
            prop_assert_eq!(relay, peer.state() == TrustState::Trusted);
            let cp = peer.may(&m.policy, Action::ReachCommandPost);
            prop_assert_eq!(cp, peer.state() != TrustState::Revoked);
        }
        // Driven to idle: nothing left to time out once the deadline passes.
        now += 20 * 60 * 1000;
        peer.handle_timeout(at(now));
        prop_assert_eq!(peer.poll_timeout(), None);
    }
}

#[test]
fn replayed_old_affirming_result_does_not_lift_quarantine() {
    let m = MissionFixture::new();
    let device = m.device(Algorithm::Ed25519);
    let credential = m
        .trust
        .verify_credential(
            &m.issue(&device.public_key(), Roles::EMPTY.with(Role::Operator), 1),
            at(T0),
        )
        .unwrap();
    let mut peer = PeerTrust::new(&credential);
    let old = m
        .trust
        .verify_result(
            &result_for(&m, &device, Tier::Affirming, T0),
            &device.public_key(),
            at(T0 + 1000),
        )
        .unwrap();
    let bad = m
        .trust
        .verify_result(
            &result_for(&m, &device, Tier::Contraindicated, T0 + 2000),
            &device.public_key(),
            at(T0 + 3000),
        )
        .unwrap();
    assert_eq!(peer.on_result(&old, at(T0 + 1000)), Ok(TrustState::Trusted));
    assert_eq!(
        peer.on_result(&bad, at(T0 + 3000)),
        Ok(TrustState::Quarantined)
    );
    assert_eq!(
        peer.on_result(&old, at(T0 + 4000)),
        Ok(TrustState::Quarantined)
    );
    assert!(peer.may(&m.policy, Action::ReachCommandPost));
    assert!(!peer.may(&m.policy, Action::Relay));
    let other = m.device(Algorithm::Ed25519);
    let foreign = m
        .trust
        .verify_result(
            &result_for(&m, &other, Tier::Affirming, T0 + 5000),
            &other.public_key(),
            at(T0 + 5000),
        )
        .unwrap();
    assert_eq!(peer.on_result(&foreign, at(T0 + 5000)), Err(WrongPeer));
}

#[test]
fn revocation_set_revokes_the_peer() {
    let m = MissionFixture::new();
    let device = m.device(Algorithm::Ed25519);
    let credential = m
        .trust
        .verify_credential(
            &m.issue(&device.public_key(), Roles::EMPTY.with(Role::Relay), 77),
            at(T0),
        )
        .unwrap();
    let mut peer = PeerTrust::new(&credential);
    let mut set = RevocationSet::default();
    assert_eq!(peer.on_revocations(&set), TrustState::Stale);
    set.insert(Revocation {
        target: RevocationTarget::Credential {
            issuer: credential.issuer(),
            serial: 77,
        },
        reason: RevocationReason::KeyCompromise,
        at: at(T0),
    });
    assert_eq!(peer.on_revocations(&set), TrustState::Revoked);
    assert!(!peer.may(&m.policy, Action::ReachCommandPost));
}

#[test]
fn authorization_by_role() {
    let policy = Policy::default();
    let sensor = Roles::EMPTY.with(Role::Sensor);
    let commander = Roles::EMPTY.with(Role::Commander);
    assert!(policy.may(sensor, TrustState::Trusted, Action::Report));
    assert!(!policy.may(sensor, TrustState::Trusted, Action::IssueCommands));
    assert!(policy.may(commander, TrustState::Trusted, Action::IssueCommands));
    assert!(!policy.may(commander, TrustState::Stale, Action::IssueCommands));
    assert!(!policy.may(Roles::EMPTY, TrustState::Trusted, Action::Report));
    assert!(!policy.may(
        Roles::EMPTY.with(Role::Unknown(30)),
        TrustState::Trusted,
        Action::Report
    ));
}
