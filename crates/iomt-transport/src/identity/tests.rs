//! The adapter's own parts: the wall clock, the peer cache and what goes in each EAD slot.

use core::time::Duration;

use iomt_identity::{
    Algorithm, AttestationResult, Credential, Mission, Roles, SoftwareKey, Tier, TrustPackage,
};
use ring::rand::SystemRandom;

use super::*;
use iomt_identity::CredentialError;

const T0: u64 = 1_800_000_000_000;

fn at(ms: u64) -> Timestamp {
    Timestamp::from_millis(ms).unwrap()
}

#[test]
fn wall_clock_follows_the_monotonic_clock_both_ways() {
    let anchor = Instant::ZERO + Duration::from_secs(100);
    let clock = WallClock::new(anchor, at(T0));
    assert_eq!(clock.at(anchor), at(T0));
    assert_eq!(
        clock.at(anchor + Duration::from_millis(1500)),
        at(T0 + 1500)
    );
    assert_eq!(clock.at(Instant::ZERO), at(T0 - 100_000));
    let early = WallClock::new(anchor, at(10));
    assert_eq!(early.at(Instant::ZERO), at(0), "saturates at the epoch");
    let late = WallClock::new(Instant::ZERO, Timestamp::MAX);
    assert_eq!(late.at(anchor), Timestamp::MAX, "saturates at the end");
}

struct Mission1 {
    authority: SoftwareKey,
    verifier: SoftwareKey,
    trust: Arc<RwLock<TrustStore>>,
}

fn mission() -> Mission1 {
    let rng = SystemRandom::new();
    let authority = SoftwareKey::generate(Algorithm::Ed25519, &rng).unwrap();
    let verifier = SoftwareKey::generate(Algorithm::Ed25519, &rng).unwrap();
    let package = TrustPackage {
        sequence: 1,
        verifiers: alloc::vec![verifier.public_key()],
        ..TrustPackage::default()
    }
    .sign(&authority)
    .unwrap();
    let mut trust = TrustStore::new(
        authority.public_key(),
        Mission::new("op-test").unwrap(),
        iomt_identity::TrustStart::FirstBoot,
    )
    .unwrap();
    trust.apply_package(&package).unwrap();
    Mission1 {
        authority,
        verifier,
        trust: Arc::new(RwLock::new(trust)),
    }
}

fn issue(m: &Mission1, key: &PublicKey) -> Vec<u8> {
    Credential {
        subject: *key,
        mission: Mission::new("op-test").unwrap(),
        roles: Roles::EMPTY,
        not_before: at(T0),
        not_after: at(T0 + 60_000),
        serial: 1,
    }
    .sign(&m.authority)
    .unwrap()
}

fn result(m: &Mission1, key: &PublicKey) -> Vec<u8> {
    AttestationResult {
        device: key.device_id(),
        key: *key,
        tier: Tier::Affirming,
        statuses: BTreeMap::new(),
        issued_at: at(T0),
        expires_at: at(T0 + 60_000),
    }
    .sign(&m.verifier)
    .unwrap()
}

fn device(m: &Mission1) -> (Arc<SoftwareKey>, IdentityCredentials) {
    let key = Arc::new(SoftwareKey::generate(Algorithm::Ed25519, &SystemRandom::new()).unwrap());
    let creds = IdentityCredentials::new(
        Arc::clone(&m.trust),
        key.clone(),
        WallClock::new(Instant::ZERO, at(T0)),
    );
    creds
        .set_credential(&issue(m, &key.public_key()), Instant::ZERO)
        .unwrap();
    creds
        .set_result(result(m, &key.public_key()), Instant::ZERO)
        .unwrap();
    (key, creds)
}

#[test]
fn the_cache_is_bounded_and_forgets_the_least_recently_used() {
    let m = mission();
    let (_, creds) = device(&m);
    let creds = creds.with_cache_capacity(2);
    let rng = SystemRandom::new();
    let keys: Vec<PublicKey> = (0..3)
        .map(|_| {
            SoftwareKey::generate(Algorithm::Ed25519, &rng)
                .unwrap()
                .public_key()
        })
        .collect();
    let kids: Vec<ShortId> = keys
        .iter()
        .map(|k| creds.learn_peer(&issue(&m, k), Instant::ZERO).unwrap())
        .collect();
    assert_eq!(creds.cached_peers(), 2);
    let cache = creds.lock_cache();
    assert!(!cache.entries.contains_key(&kids[0]), "the oldest went");
    drop(cache);
    // Using the second makes the third the least recently used.
    assert!(creds.lock_cache().touch(kids[1]).is_some());
    creds
        .learn_peer(&issue(&m, &keys[0]), Instant::ZERO)
        .unwrap();
    let cache = creds.lock_cache();
    assert!(cache.entries.contains_key(&kids[0]));
    assert!(cache.entries.contains_key(&kids[1]));
    assert!(!cache.entries.contains_key(&kids[2]));
}

fn slots(creds: &IdentityCredentials, slot: EadSlot, peer_ead: &[EadItem]) -> Vec<u64> {
    let nonce = HandshakeNonce([7; 32]);
    creds
        .ead(&EadRequest {
            slot,
            now: Instant::ZERO,
            nonce: (slot != EadSlot::Message1).then_some(&nonce),
            peer_ead,
        })
        .into_iter()
        .map(|i| i.label)
        .collect()
}

#[test]
fn what_each_slot_carries() {
    let m = mission();
    let (key, plain) = device(&m);
    let request = [EadItem::new(EAD_EVIDENCE_REQUEST, None)];
    assert_eq!(slots(&plain, EadSlot::Message1, &[]), [0u64; 0]);
    assert_eq!(
        slots(&plain, EadSlot::Message2, &[]),
        [EAD_ATTESTATION_RESULT]
    );
    // Asked for evidence without an attester: only the passport.
    assert_eq!(
        slots(&plain, EadSlot::Message3, &request),
        [EAD_ATTESTATION_RESULT]
    );

    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen_by_attester = Arc::clone(&seen);
    let verifier = iomt_identity::AttestationVerifier::new(
        SoftwareKey::generate(Algorithm::Ed25519, &SystemRandom::new()).unwrap(),
        iomt_identity::AppraisalConfig::default(),
    );
    let (_, strict) = device(&m);
    let strict =
        strict
            .require_fresh_evidence(verifier)
            .with_attester(move |nonce: &Nonce, _now| {
                seen_by_attester.lock().unwrap().push(nonce.clone());
                Some(alloc::vec![1, 2, 3])
            });
    assert_eq!(
        slots(&strict, EadSlot::Message1, &[]),
        [EAD_EVIDENCE_REQUEST]
    );
    assert_eq!(
        slots(&strict, EadSlot::Message2, &request),
        [EAD_ATTESTATION_RESULT, EAD_EVIDENCE, EAD_EVIDENCE_REQUEST]
    );
    assert_eq!(
        slots(&strict, EadSlot::Message3, &[]),
        [EAD_ATTESTATION_RESULT]
    );
    assert_eq!(
        *seen.lock().unwrap(),
        [Nonce::new(&[7; 32]).unwrap()],
        "the attester signs over the handshake nonce"
    );
    for label in [EAD_ATTESTATION_RESULT, EAD_EVIDENCE, EAD_EVIDENCE_REQUEST] {
        assert!(plain.understands_ead(label));
    }
    assert!(!plain.understands_ead(1));
    assert_eq!(key.public_key().algorithm(), Algorithm::Ed25519);
}

#[test]
fn unresolvable_references_are_unknown_credentials() {
    let m = mission();
    let (_, creds) = device(&m);
    let nonce = HandshakeNonce([1; 32]);
    for id_cred in [
        IdCred::kid(&[1, 2, 3]),
        IdCred::kid(&[9; 8]),
        IdCred::x5t(-15, &[0; 8]),
    ] {
        let candidate = PeerCandidate {
            role: crate::HandshakeRole::Initiator,
            suite: CipherSuite::Suite4,
            id_cred: &id_cred,
            by_value: None,
            ead: &[],
            nonce: &nonce,
            nonce_since: Instant::ZERO,
            now: Instant::ZERO,
        };
        assert_eq!(
            creds.resolve_peer(&candidate),
            Err(Refusal::UnknownCredential),
            "{id_cred:?}"
        );
    }
    let garbage = IdCred::kcwt(&[0x84, 0x40, 0xa0, 0x40, 0x40]).unwrap();
    let candidate = PeerCandidate {
        role: crate::HandshakeRole::Initiator,
        suite: CipherSuite::Suite4,
        id_cred: &garbage,
        by_value: garbage.by_value(),
        ead: &[],
        nonce: &nonce,
        nonce_since: Instant::ZERO,
        now: Instant::ZERO,
    };
    assert!(matches!(
        creds.resolve_peer(&candidate),
        Err(Refusal::Credential(CredentialError::Decode(_)))
    ));
    assert_eq!(creds.cached_peers(), 0);
}
