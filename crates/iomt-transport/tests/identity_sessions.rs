//! EDHOC sessions between devices of one mission, decided by `iomt-identity`: credentials by
//! reference and by value, attestation results and fresh evidence in EAD, and every way a
//! peer is refused.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use iomt_identity::{
    Algorithm, CredentialError, Nonce, Revocation, RevocationDelta, RevocationReason,
    RevocationTarget, SoftwareKey, Tier,
};
use iomt_schema::{Instant, Timestamp};
use iomt_testkit::*;
use iomt_transport::{
    CloseReason, Credentials, EAD_ATTESTATION_RESULT, EAD_EVIDENCE, EAD_EVIDENCE_REQUEST, EadItem,
    EadRequest, EndpointConfig, ErrorMessage, HandshakeError, IdentityCredentials, LocalCredential,
    PeerCandidate, PeerCredential, Refusal,
};

fn both_connected(link: &Link) -> bool {
    !link.connected(0).is_empty() && !link.connected(1).is_empty()
}

fn config() -> EndpointConfig {
    let mut config = EndpointConfig::default();
    config.max_retransmits = 3;
    config
}

#[test]
fn first_contact_goes_by_value_then_references_suffice() {
    let f = MissionFixture::new();
    for alg in [Algorithm::Ed25519, Algorithm::EcdsaP256] {
        let a = f.enrol(alg, 3_600_000);
        let b = f.enrol(alg, 3_600_000);
        let ca = Arc::new(f.credentials(&a));
        let cb = Arc::new(f.credentials(&b));
        let mut link = Link::new(ca.clone(), cb.clone());
        link.connect();
        assert!(link.run_until(Duration::from_secs(30), both_connected));
        // Neither knew the other: the initiator asked for the responder's credential by value
        // and sent its own by value at once. Four datagrams, nothing refused, no retry.
        link.settle();
        assert!(link.errors.is_empty(), "{:?}", link.errors);
        assert_eq!(
            link.datagrams,
            [2, 2],
            "message_1 to message_4, nothing more"
        );
        assert!(link.closed(0).is_empty() && link.closed(1).is_empty());
        assert_eq!(
            link.connected(1)[0].id_cred.by_value(),
            Some(a.credential.as_slice())
        );
        assert_eq!(
            link.connected(0)[0].id_cred.by_value(),
            Some(b.credential.as_slice())
        );
        assert_eq!(ca.cached_peers(), 1);
        assert_eq!(cb.cached_peers(), 1);
        let first_bytes = link.bytes[0] + link.bytes[1];

        // Both sides now hold the other's verified credential: references are enough.
        let mut again = Link::new(ca.clone(), cb.clone());
        again.now = link.now;
        again.connect();
        assert!(again.run_until(Duration::from_secs(5), both_connected));
        again.settle();
        assert!(again.errors.is_empty(), "{:?}", again.errors);
        assert_eq!(
            again.datagrams,
            [2, 2],
            "message_1 to message_4, nothing more"
        );
        let info = again.connected(1)[0];
        assert_eq!(
            info.id_cred.kid_value(),
            Some(&a.key.public_key().short_id().as_bytes()[..])
        );
        assert!(again.bytes[0] + again.bytes[1] < first_bytes);

        // The application learns who the peer is, as the trust store verified it.
        let peer = cb.verified_peer(info).unwrap();
        assert_eq!(peer.credential.device_id(), a.key.public_key().device_id());
        assert_eq!(peer.result.tier(), Tier::Affirming);
        assert_eq!(peer.result.key(), &a.key.public_key());
    }
}

#[test]
fn known_peers_connect_by_reference_at_once() {
    let f = MissionFixture::new();
    let a = f.enrol(Algorithm::Ed25519, 3_600_000);
    let b = f.enrol(Algorithm::Ed25519, 3_600_000);
    let ca = f.credentials(&a);
    let cb = f.credentials(&b);
    ca.learn_peer(&b.credential, Instant::ZERO).unwrap();
    cb.learn_peer(&a.credential, Instant::ZERO).unwrap();
    let mut link = Link::new(Arc::new(ca), Arc::new(cb));
    link.connect();
    assert!(link.run_until(Duration::from_secs(5), both_connected));
    link.settle();
    assert!(link.errors.is_empty(), "{:?}", link.errors);
    assert_eq!(link.datagrams, [2, 2]);
}

#[test]
fn credentials_by_value_when_configured() {
    let f = MissionFixture::new();
    let a = f.enrol(Algorithm::EcdsaP256, 3_600_000);
    let b = f.enrol(Algorithm::EcdsaP256, 3_600_000);
    let mut config = EndpointConfig::default();
    config.credential_by_value = true;
    let mut link = Link::with_config(
        config,
        Arc::new(f.credentials(&a)),
        Arc::new(f.credentials(&b)),
    );
    link.connect();
    assert!(link.run_until(Duration::from_secs(5), both_connected));
    link.settle();
    assert!(link.errors.is_empty(), "{:?}", link.errors);
    assert_eq!(link.datagrams, [2, 2]);
    assert_eq!(
        link.connected(1)[0].id_cred.by_value(),
        Some(a.credential.as_slice())
    );
}

#[test]
fn handshakes_complete_over_a_lossy_link() {
    let f = MissionFixture::new();
    let a = f.enrol(Algorithm::Ed25519, 3_600_000);
    let b = f.enrol(Algorithm::Ed25519, 3_600_000);
    let ca = Arc::new(f.credentials(&a));
    let cb = Arc::new(f.credentials(&b));
    for seed in 1..=6u64 {
        let mut link = Link::new(ca.clone(), cb.clone()).lossy(seed * 104_729, 250);
        link.connect();
        assert!(
            link.run_until(Duration::from_secs(120), both_connected),
            "seed {seed}: {:?}",
            link.errors
        );
    }
}

/// Delegates to the device's real credentials, but puts `passport` (and `evidence`) in EAD
/// in place of its own: what a misbehaving or misconfigured device would send.
struct Tampered {
    inner: IdentityCredentials,
    passport: Option<Vec<u8>>,
    evidence: Option<Vec<u8>>,
}

impl Credentials for Tampered {
    fn local(&self, suite: iomt_transport::CipherSuite) -> Option<Arc<LocalCredential>> {
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
        self.inner.admit_peer(peer, credential)
    }

    fn ead(&self, request: &EadRequest<'_>) -> Vec<EadItem> {
        let mut items: Vec<EadItem> = self
            .inner
            .ead(request)
            .into_iter()
            .filter(|i| i.label != EAD_ATTESTATION_RESULT && i.label != EAD_EVIDENCE)
            .collect();
        if request.nonce.is_some() {
            items.extend(
                self.passport
                    .clone()
                    .map(|p| EadItem::new(EAD_ATTESTATION_RESULT, Some(p))),
            );
            items.extend(
                self.evidence
                    .clone()
                    .map(|e| EadItem::new(EAD_EVIDENCE, Some(e))),
            );
        }
        items
    }

    fn understands_ead(&self, label: u64) -> bool {
        self.inner.understands_ead(label)
    }
}

/// Runs `initiator` against `responder` until both are idle.
fn run(initiator: Arc<dyn Credentials>, responder: Arc<dyn Credentials>, start: Instant) -> Link {
    let mut link = Link::with_config(config(), initiator, responder);
    link.now = start;
    link.connect();
    link.settle();
    link
}

#[test]
fn refused_initiators_table() {
    let f = MissionFixture::new();
    let good = f.enrol(Algorithm::Ed25519, DAY / 2);
    let responder = || -> Arc<dyn Credentials> {
        let c = f.credentials(&good);
        Arc::new(c)
    };
    let rogue = MissionFixture::new();
    let stranger = rogue.enrol(Algorithm::Ed25519, 3_600_000);
    let device = f.enrol(Algorithm::Ed25519, 3_600_000);
    let tampered = |passport: Option<Vec<u8>>| -> Arc<dyn Credentials> {
        Arc::new(Tampered {
            inner: f.credentials(&device),
            passport,
            evidence: None,
        })
    };
    let other_key = f.enrol(Algorithm::Ed25519, 3_600_000);
    let later = Instant::ZERO + Duration::from_secs(7200);

    type Is = fn(&Refusal) -> bool;
    let cases: Vec<(&str, Arc<dyn Credentials>, Instant, Is)> = vec![
        (
            "no attestation result",
            tampered(None),
            Instant::ZERO,
            |r| matches!(r, Refusal::Unattested),
        ),
        (
            "result of another device",
            tampered(Some(other_key.result.clone())),
            Instant::ZERO,
            |r| matches!(r, Refusal::Attestation(_)),
        ),
        (
            "contraindicated result",
            tampered(Some(f.result(
                &device.key.public_key(),
                Tier::Contraindicated,
                at(T0 + 3_600_000),
            ))),
            Instant::ZERO,
            |r| matches!(r, Refusal::Attestation(_)),
        ),
        (
            "warning result",
            tampered(Some(f.result(
                &device.key.public_key(),
                Tier::Warning,
                at(T0 + 3_600_000),
            ))),
            Instant::ZERO,
            |r| matches!(r, Refusal::Attestation(_)),
        ),
        (
            "result signed by an unknown verifier",
            tampered(Some(rogue.result(
                &device.key.public_key(),
                Tier::Affirming,
                at(T0 + 3_600_000),
            ))),
            Instant::ZERO,
            |r| matches!(r, Refusal::Attestation(_)),
        ),
        (
            "garbage result",
            tampered(Some(vec![0xa0, 0x01])),
            Instant::ZERO,
            |r| matches!(r, Refusal::Attestation(_)),
        ),
        (
            "expired result",
            Arc::new(f.credentials(&device)),
            later,
            |r| matches!(r, Refusal::Attestation(_)),
        ),
        (
            "credential from an unknown authority",
            Arc::new({
                // The stranger trusts our mission (so it accepts the responder); we do not
                // trust its authority.
                let store = rogue.store();
                store
                    .write()
                    .unwrap()
                    .dangerous()
                    .add_anchor(f.authority.public_key());
                store
                    .write()
                    .unwrap()
                    .dangerous()
                    .add_verifier(f.verifier_key.public_key());
                let c = IdentityCredentials::new(store, stranger.key.clone(), clock());
                c.set_credential(&stranger.credential, Instant::ZERO)
                    .unwrap();
                c.set_result(stranger.result.clone(), Instant::ZERO)
                    .unwrap();
                c
            }),
            Instant::ZERO,
            |r| matches!(r, Refusal::Credential(CredentialError::UnknownIssuer(_))),
        ),
    ];
    for (name, initiator, start, expected) in cases {
        let link = run(initiator, responder(), start);
        assert!(link.connected(1).is_empty(), "{name}: not connected");
        assert!(
            link.closed(1)
                .iter()
                .any(|r| matches!(r, CloseReason::Handshake(HandshakeError::Refused(why)) if expected(why))),
            "{name}: responder refused, got {:?}",
            link.closed(1)
        );
        assert!(
            link.closed(0).iter().any(|r| matches!(
                r,
                CloseReason::Handshake(HandshakeError::PeerError(ErrorMessage::Unspecified(_)))
            )),
            "{name}: the initiator hears the refusal, got {:?}",
            link.closed(0)
        );
    }
}

#[test]
fn refused_responders_table() {
    let f = MissionFixture::new();
    let good = f.enrol(Algorithm::EcdsaP256, 3_600_000);
    let device = f.enrol(Algorithm::EcdsaP256, 3_600_000);
    let other_key = f.enrol(Algorithm::EcdsaP256, 3_600_000);
    type Is = fn(&Refusal) -> bool;
    let cases: Vec<(&str, Option<Vec<u8>>, Is)> = vec![
        ("no attestation result", None, |r| {
            matches!(r, Refusal::Unattested)
        }),
        (
            "result of another device",
            Some(other_key.result.clone()),
            |r| matches!(r, Refusal::Attestation(_)),
        ),
        (
            "contraindicated result",
            Some(f.result(
                &device.key.public_key(),
                Tier::Contraindicated,
                at(T0 + 3_600_000),
            )),
            |r| matches!(r, Refusal::Attestation(_)),
        ),
    ];
    for (name, passport, expected) in cases {
        let responder = Arc::new(Tampered {
            inner: f.credentials(&device),
            passport,
            evidence: None,
        });
        let link = run(Arc::new(f.credentials(&good)), responder, Instant::ZERO);
        assert!(link.connected(0).is_empty(), "{name}");
        // The responder's signature verified before the initiator decided: the refusal of an
        // authenticated responder ends the handshake at once.
        assert!(
            matches!(
                link.closed(0)[..],
                [CloseReason::Handshake(HandshakeError::Refused(why))] if expected(why)
            ),
            "{name}: {:?}",
            link.closed(0)
        );
    }
}

#[test]
fn revocation_reaches_cached_credentials() {
    let f = MissionFixture::new();
    let a = f.enrol(Algorithm::Ed25519, 3_600_000);
    let b = f.enrol(Algorithm::Ed25519, 3_600_000);
    let store_b = f.store();
    let cb = IdentityCredentials::new(store_b.clone(), b.key.clone(), clock());
    cb.set_credential(&b.credential, Instant::ZERO).unwrap();
    cb.set_result(b.result.clone(), Instant::ZERO).unwrap();
    cb.learn_peer(&a.credential, Instant::ZERO).unwrap();
    let ca = f.credentials(&a);
    ca.learn_peer(&b.credential, Instant::ZERO).unwrap();
    let (ca, cb) = (Arc::new(ca), Arc::new(cb));

    let link = run(ca.clone(), cb.clone(), Instant::ZERO);
    assert_eq!(link.connected(1).len(), 1);

    let delta = RevocationDelta {
        sequence: 1,
        entries: vec![Revocation {
            target: RevocationTarget::Device(a.key.public_key().device_id()),
            reason: RevocationReason::KeyCompromise,
            at: at(T0),
        }],
    };
    store_b
        .write()
        .unwrap()
        .apply_revocation(&delta.sign(&*f.authority).unwrap())
        .unwrap();
    let link = run(ca, cb.clone(), Instant::ZERO + Duration::from_secs(10));
    assert!(link.connected(1).is_empty());
    assert!(link.closed(1).iter().any(|r| matches!(
        r,
        CloseReason::Handshake(HandshakeError::Refused(Refusal::Credential(
            CredentialError::DeviceRevoked(_)
        )))
    )));
    assert_eq!(
        cb.cached_peers(),
        0,
        "the revoked credential left the cache"
    );
}

#[test]
fn other_mission_is_refused() {
    let f = MissionFixture::new();
    let good = f.enrol(Algorithm::Ed25519, 3_600_000);
    let key = Arc::new(SoftwareKey::generate(Algorithm::Ed25519, &f.rng).unwrap());
    let other = iomt_identity::Mission::new("op-southern").unwrap();
    let credential = iomt_identity::Credential {
        subject: key.public_key(),
        mission: other.clone(),
        roles: iomt_identity::Roles::EMPTY,
        not_before: at(T0 - 1000),
        not_after: at(T0 + DAY),
        serial: 77,
    }
    .sign(&*f.authority)
    .unwrap();
    // The device's own store is for its mission (no package: the verifier added by hand).
    let mut store = iomt_identity::TrustStore::new(
        f.authority.public_key(),
        other,
        iomt_identity::TrustStart::FirstBoot,
    )
    .unwrap();
    store.dangerous().add_verifier(f.verifier_key.public_key());
    let c = IdentityCredentials::new(
        Arc::new(std::sync::RwLock::new(store)),
        key.clone(),
        clock(),
    );
    c.set_credential(&credential, Instant::ZERO).unwrap();
    c.set_result(
        f.result(&key.public_key(), Tier::Affirming, at(T0 + 3_600_000)),
        Instant::ZERO,
    )
    .unwrap();
    // Its credential travels by value (nobody knows it) and is refused for its mission.
    let link = run(Arc::new(f.credentials(&good)), Arc::new(c), Instant::ZERO);
    assert!(link.connected(0).is_empty());
    assert!(
        matches!(
            link.closed(0)[..],
            [CloseReason::Handshake(HandshakeError::Refused(
                Refusal::Credential(CredentialError::WrongMission { .. })
            ))]
        ),
        "{:?}",
        link.closed(0)
    );
}

/// An attester that answers with the reference measurements, and remembers the nonces.
fn honest(
    key: Arc<SoftwareKey>,
    seen: Arc<Mutex<Vec<Nonce>>>,
) -> impl Fn(&Nonce, Timestamp) -> Option<Vec<u8>> + Send + Sync {
    move |nonce: &Nonce, now: Timestamp| {
        seen.lock().unwrap().push(nonce.clone());
        Some(evidence(&key, nonce, now))
    }
}

#[test]
fn fresh_evidence_bound_to_the_handshake() {
    let f = MissionFixture::new();
    let a = f.enrol(Algorithm::Ed25519, 3_600_000);
    let b = f.enrol(Algorithm::Ed25519, 3_600_000);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let verifier = || {
        iomt_identity::AttestationVerifier::new(
            f.verifier_key.clone(),
            iomt_identity::AppraisalConfig::default(),
        )
    };
    // Both sides ask for evidence and both can attest.
    let ca = Arc::new(
        f.credentials(&a)
            .require_fresh_evidence(verifier())
            .with_attester(honest(a.key.clone(), seen.clone())),
    );
    let cb = Arc::new(
        f.credentials(&b)
            .require_fresh_evidence(verifier())
            .with_attester(honest(b.key.clone(), seen.clone())),
    );
    ca.learn_peer(&b.credential, Instant::ZERO).unwrap();
    cb.learn_peer(&a.credential, Instant::ZERO).unwrap();
    let link = run(ca.clone(), cb.clone(), Instant::ZERO);
    assert_eq!(link.connected(0).len(), 1, "{:?}", link.closed(0));
    assert_eq!(link.connected(1).len(), 1);
    {
        let nonces = seen.lock().unwrap();
        assert_eq!(nonces.len(), 2, "each side attested once");
        assert_eq!(nonces[0], nonces[1], "over the one handshake nonce");
    }
    // The request travelled in EAD_1, the evidence in EAD_2 and EAD_3.
    for node in [0u8, 1] {
        let ead = &link.connected(node)[0].ead;
        assert!(ead.iter().any(|i| i.label == EAD_EVIDENCE));
        assert!(ead.iter().any(|i| i.label == EAD_ATTESTATION_RESULT));
    }
    assert!(
        link.connected(0)[0]
            .ead
            .iter()
            .any(|i| i.label == EAD_EVIDENCE_REQUEST)
    );

    // A second handshake has a new nonce: evidence recorded in the first is refused.
    let replayed = seen.lock().unwrap()[0].clone();
    let stale = evidence(&a.key, &replayed, at(T0));
    let replaying = Arc::new(Tampered {
        inner: f.credentials(&a),
        passport: Some(a.result.clone()),
        evidence: Some(stale),
    });
    let link = run(
        replaying,
        cb.clone(),
        Instant::ZERO + Duration::from_secs(1),
    );
    assert!(link.connected(1).is_empty());
    assert!(link.closed(1).iter().any(|r| matches!(
        r,
        CloseReason::Handshake(HandshakeError::Refused(Refusal::Attestation(_)))
    )));

    // No attester: unattested.
    let link = run(
        Arc::new(f.credentials(&a)),
        cb.clone(),
        Instant::ZERO + Duration::from_secs(2),
    );
    assert!(
        link.closed(1)
            .contains(&&CloseReason::Handshake(HandshakeError::Refused(
                Refusal::Unattested
            )))
    );

    // Evidence over the right nonce whose measurements are off: contraindicated.
    let tampered_key = a.key.clone();
    let bad_firmware = Arc::new(f.credentials(&a).with_attester(move |nonce: &Nonce, now| {
        let mut e = iomt_identity::Evidence {
            device: tampered_key.public_key().device_id(),
            nonce: nonce.clone(),
            issued_at: now,
            secure_boot: true,
            debug: iomt_identity::DebugState::DisabledPermanently,
            firmware: iomt_identity::FirmwareVersion::new(1, 0, 0),
            measurements: good_measurements(),
        };
        e.measurements[2] = iomt_identity::Measurement::of(2, "app", b"implant");
        Some(e.sign(&*tampered_key).unwrap())
    }));
    let link = run(bad_firmware, cb, Instant::ZERO + Duration::from_secs(3));
    assert!(link.closed(1).iter().any(|r| matches!(
        r,
        CloseReason::Handshake(HandshakeError::Refused(Refusal::Attestation(_)))
    )));
}

#[test]
fn own_credential_and_result_are_checked_when_installed() {
    let f = MissionFixture::new();
    let a = f.enrol(Algorithm::Ed25519, 3_600_000);
    let b = f.enrol(Algorithm::Ed25519, 3_600_000);
    let c = IdentityCredentials::new(f.store(), a.key.clone(), clock());
    assert_eq!(
        c.set_credential(&b.credential, Instant::ZERO),
        Err(iomt_transport::SetupError::NotOurKey)
    );
    assert!(matches!(
        c.set_result(b.result.clone(), Instant::ZERO),
        Err(iomt_transport::SetupError::Result(
            iomt_identity::ResultError::WrongKey { .. }
        ))
    ));
    assert!(matches!(
        c.set_credential(
            &a.credential,
            Instant::ZERO + Duration::from_secs(2 * 86_400)
        ),
        Err(iomt_transport::SetupError::Credential(
            iomt_identity::CredentialError::Expired { .. }
        ))
    ));
    assert!(c.local(iomt_transport::CipherSuite::Suite4).is_none());
    c.set_credential(&a.credential, Instant::ZERO).unwrap();
    assert!(c.local(iomt_transport::CipherSuite::Suite4).is_some());
    assert!(c.local(iomt_transport::CipherSuite::Suite6).is_none());
}

/// The session of the first `Connected` event at `node`.
fn session_of(link: &Link, node: usize) -> iomt_transport::SessionId {
    link.events[node]
        .iter()
        .find_map(|e| match e {
            iomt_transport::Event::Connected { session, .. } => Some(*session),
            _ => None,
        })
        .unwrap()
}

/// Sends `data` as one record from `from` and returns it as `to` received it.
fn carry(link: &mut Link, from: u8, session: iomt_transport::SessionId, data: &[u8]) -> Vec<u8> {
    let to = usize::from(1 - from);
    let received = |l: &Link| {
        l.events[to]
            .iter()
            .filter(|e| matches!(e, iomt_transport::Event::Received { .. }))
            .count()
    };
    let before = received(link);
    link.eps[usize::from(from)]
        .send(link.now, session, data)
        .unwrap();
    assert!(link.run_until(Duration::from_secs(1), |l| received(l) > before));
    link.events[to]
        .iter()
        .rev()
        .find_map(|e| match e {
            iomt_transport::Event::Received { data, .. } => Some(data.clone()),
            _ => None,
        })
        .unwrap()
}

fn wall(now: Instant) -> Timestamp {
    at(T0 + now.as_nanos() / 1_000_000)
}

#[test]
fn re_attestation_in_place_over_an_edhoc_session() {
    use iomt_identity::{AppraisalConfig, AttestationVerifier, ChannelBinding};
    use iomt_transport::post_handshake::{AttestError, Verdict};
    use iomt_transport::{
        Attester, BackhaulPolicy, EdhocBinding, PostHandshakeAttester, PostHandshakeVerifier,
    };

    let f = MissionFixture::new();
    let device = f.enrol(Algorithm::Ed25519, 3_600_000);
    let post = f.enrol(Algorithm::Ed25519, 3_600_000);
    let (cd, cp) = (
        Arc::new(f.credentials(&device)),
        Arc::new(f.credentials(&post)),
    );
    cd.learn_peer(&post.credential, Instant::ZERO).unwrap();
    cp.learn_peer(&device.credential, Instant::ZERO).unwrap();
    let mut link = run(cd.clone(), cp.clone(), Instant::ZERO);
    let (sd, sp) = (session_of(&link, 0), session_of(&link, 1));
    let bd = EdhocBinding::from_session(&link.eps[0], sd).unwrap();
    let bp = EdhocBinding::from_session(&link.eps[1], sp).unwrap();
    assert_eq!(bd.channel_binding(), bp.channel_binding(), "one binding");
    assert_eq!(bd.channel_binding().len(), 32);

    // Another session between the same two devices has another binding.
    let other = run(cd, cp, link.now);
    let bo = EdhocBinding::from_session(&other.eps[0], session_of(&other, 0)).unwrap();
    assert_ne!(bo.channel_binding(), bd.channel_binding());

    let policy = Arc::new(BackhaulPolicy::new(f.store()).require_fresh_evidence(
        AttestationVerifier::new(f.verifier_key.clone(), AppraisalConfig::default()),
    ));
    let key = device.key.clone();
    let implant = Arc::new(Mutex::new(false));
    let flag = implant.clone();
    let kept = Arc::new(Mutex::new(None::<Vec<u8>>));
    let keep = kept.clone();
    let attester: Arc<dyn Attester> = Arc::new(move |nonce: &Nonce, now: Timestamp| {
        let mut e = iomt_identity::Evidence {
            device: key.public_key().device_id(),
            nonce: nonce.clone(),
            issued_at: now,
            secure_boot: true,
            debug: iomt_identity::DebugState::DisabledPermanently,
            firmware: iomt_identity::FirmwareVersion::new(2, 4, 1),
            measurements: good_measurements(),
        };
        if *flag.lock().unwrap() {
            e.measurements[2] = iomt_identity::Measurement::of(2, "app", b"implant");
        }
        let signed = e.sign(&*key).unwrap();
        keep.lock().unwrap().get_or_insert_with(|| signed.clone());
        Some(signed)
    });
    // A device that kept its first, honest evidence and replays it in every later round.
    let kept_evidence = kept.clone();
    let replaying: Arc<dyn Attester> =
        Arc::new(move |_: &Nonce, _: Timestamp| kept_evidence.lock().unwrap().clone());

    // Round 1: the post asks, the device answers over the session, the post accepts.
    // Round 2, a minute later, with the firmware changed: contraindicated, refused.
    // Round 3: evidence over another session's binding names another nonce.
    // Round 4: evidence kept from round 1 on this very session names round 1's nonce.
    for round in 0..4 {
        link.now = link.now + Duration::from_secs(60);
        *implant.lock().unwrap() = round == 1;
        let own = if round == 2 { &bo } else { &bd };
        let mut verifier = PostHandshakeVerifier::new(
            &bp,
            device.key.public_key(),
            policy.clone(),
            wall(link.now),
            &ring::rand::SystemRandom::new(),
        )
        .unwrap();
        let answering = if round == 3 { &replaying } else { &attester };
        let mut attester =
            PostHandshakeAttester::new(own, device.result.clone(), Some(answering.clone()))
                .unwrap();
        let mut request = Vec::new();
        assert!(verifier.poll_transmit(&mut request).is_some());
        let request = carry(&mut link, 1, sp, &request);
        attester.handle_input(wall(link.now), &request).unwrap();
        let mut answer = Vec::new();
        assert!(attester.poll_transmit(&mut answer).is_some());
        let answer = carry(&mut link, 0, sd, &answer);
        let outcome = verifier.handle_input(wall(link.now), &answer);
        let mut verdict = Vec::new();
        assert!(verifier.poll_transmit(&mut verdict).is_some());
        let verdict = carry(&mut link, 1, sp, &verdict);
        let heard = attester.handle_input(wall(link.now), &verdict);
        match round {
            0 => {
                let attested = outcome.unwrap().done.unwrap();
                assert!(attested.fresh_evidence);
                assert_eq!(attested.result.key(), &device.key.public_key());
                assert!(heard.unwrap().done.is_some());
            }
            1 => {
                assert_eq!(
                    outcome.unwrap_err(),
                    AttestError::NotAffirming(Tier::Contraindicated)
                );
                assert_eq!(heard.unwrap_err(), AttestError::Refused(Verdict::Refused));
            }
            _ => {
                assert!(
                    matches!(outcome, Err(AttestError::Appraisal(_))),
                    "{outcome:?}"
                );
                assert_eq!(heard.unwrap_err(), AttestError::Refused(Verdict::Refused));
            }
        }
    }
}
