//! Enrolment through `iomt_identity::enrol`: what the authority issues, what it refuses, and
//! what the device checks before it installs anything.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use iomt_identity::enrol::{
    Enrolment, EnrolmentRequest, MissionAuthority, MissionConfig, Platform,
};
use iomt_identity::*;
use iomt_schema::Timestamp;
use iomt_schema::rand::SeededRandom;
use iomt_testkit::{DAY, T0, at, mission, platform, reference};

fn authority(seed: u64) -> MissionAuthority {
    MissionAuthority::generate(
        MissionConfig::new(mission(), reference()),
        at(T0),
        &SeededRandom::new(seed),
    )
    .unwrap()
}

/// The device holding `key` answers a fresh challenge at `now` from `platform`.
fn request(
    rng: &SeededRandom,
    key: &SoftwareKey,
    platform: &Platform,
    now: Timestamp,
) -> (Challenge, EnrolmentRequest) {
    let challenge = Challenge::new(rng, now).unwrap();
    let request = platform.request(key, challenge.nonce(), now).unwrap();
    (challenge, request)
}

#[test]
fn a_healthy_device_enrols_and_checks_what_it_received() {
    let rng = SeededRandom::new(1);
    let mut m = authority(1);
    let trust = m.provisioning().trust_store().unwrap();
    assert_eq!(trust.package_sequence(), Some(1));
    assert_eq!(trust.policy(), Some(&Policy::default()));
    assert_eq!(trust.reference_values(), &reference());
    assert_eq!(
        trust.x509_roots(),
        &[m.certificate_authority().certificate_der().to_vec()]
    );

    let now = at(T0 + 60_000);
    let roles = Roles::EMPTY.with(Role::Operator).with(Role::Relay);
    let mut serials = Vec::new();
    for alg in [Algorithm::Ed25519, Algorithm::EcdsaP256] {
        let key = SoftwareKey::generate(alg, &rng).unwrap();
        let (challenge, req) = request(&rng, &key, &platform(), now);
        assert_eq!(req.key, key.public_key());
        let enrolment = m.enrol(challenge, &req, roles, now).unwrap();

        let verified = enrolment.verify(&trust, &key.public_key(), now).unwrap();
        let credential = verified.credential.credential();
        assert_eq!(credential.subject, key.public_key());
        assert_eq!(credential.roles, roles);
        assert_eq!(credential.mission, mission());
        assert_eq!(credential.not_before, at(T0));
        assert_eq!(credential.not_after, at(T0 + 60_000 + DAY));
        assert_eq!(verified.result.tier(), Tier::Affirming);
        assert_eq!(verified.result.key(), &key.public_key());
        assert_eq!(
            verified.result.expires_at(),
            now.checked_add(AppraisalConfig::default().result_lifetime)
                .unwrap()
        );
        let cert = x509::CertificateIdentity::parse(&enrolment.certificate).unwrap();
        assert_eq!(cert.device, key.public_key().device_id());
        assert_eq!(cert.attestation_result, Some(enrolment.result.clone()));
        serials.push(credential.serial);
    }
    assert_eq!(serials, [1, 2]);
    assert_eq!(m.next_serial(), 3);
}

#[test]
fn the_same_seed_provisions_the_same_mission() {
    let (a, b, c) = (authority(7), authority(7), authority(8));
    assert_eq!(a.provisioning(), b.provisioning());
    assert_ne!(a.provisioning(), c.provisioning());
    assert_eq!(
        a.authority().public_key(),
        b.provisioning().authority,
        "the package authority is the authority key"
    );
}

#[test]
fn a_device_whose_state_is_not_affirming_gets_nothing() {
    let rng = SeededRandom::new(2);
    let mut m = authority(2);
    let now = at(T0);
    let key = SoftwareKey::generate(Algorithm::Ed25519, &rng).unwrap();
    let mut implanted = platform();
    implanted.measurements[2] = Measurement::of(2, "app", b"squad-app 2.4 + implant");
    let (challenge, req) = request(&rng, &key, &implanted, now);
    let Err(EnrolError::NotAffirming { tier, findings }) =
        m.enrol(challenge, &req, Roles::EMPTY, now)
    else {
        panic!("an implanted device was enrolled");
    };
    assert_eq!(tier, Tier::Contraindicated);
    assert_eq!(
        findings,
        [Finding::MeasurementNotInReference {
            component: "app".into()
        }]
    );
    assert_eq!(m.next_serial(), 1, "no serial spent on a refusal");

    // Re-attestation signs the result whatever the tier: relying parties quarantine on it.
    let challenge = Challenge::new(&rng, now).unwrap();
    let evidence = implanted.evidence(&key, challenge.nonce(), now).unwrap();
    let attested = m
        .attest(challenge, &key.public_key(), &evidence, now)
        .unwrap();
    assert_eq!(attested.appraisal.tier(), Tier::Contraindicated);
    let trust = m.provisioning().trust_store().unwrap();
    let result = trust
        .verify_result(&attested.result, &key.public_key(), now)
        .unwrap();
    assert_eq!(result.tier(), Tier::Contraindicated);
}

#[test]
fn evidence_that_does_not_answer_the_challenge_is_refused() {
    let rng = SeededRandom::new(3);
    let mut m = authority(3);
    let now = at(T0);
    let key = SoftwareKey::generate(Algorithm::Ed25519, &rng).unwrap();
    let other = SoftwareKey::generate(Algorithm::Ed25519, &rng).unwrap();

    // Over another challenge's nonce (a replayed or precomputed answer).
    let (_, old) = request(&rng, &key, &platform(), now);
    let challenge = Challenge::new(&rng, now).unwrap();
    assert_eq!(
        m.enrol(challenge, &old, Roles::EMPTY, now),
        Err(EnrolError::Appraisal(AppraisalError::NonceMismatch))
    );

    // Claiming a key the evidence is not signed with (no proof of possession).
    let (challenge, mut req) = request(&rng, &key, &platform(), now);
    req.key = other.public_key();
    assert!(matches!(
        m.enrol(challenge, &req, Roles::EMPTY, now),
        Err(EnrolError::Appraisal(AppraisalError::WrongKey { .. }))
    ));

    // Too late after the challenge.
    let (challenge, req) = request(&rng, &key, &platform(), now);
    let late = at(T0 + 31_000);
    assert!(matches!(
        m.enrol(challenge, &req, Roles::EMPTY, late),
        Err(EnrolError::Appraisal(AppraisalError::Stale { .. }))
    ));
    assert_eq!(m.next_serial(), 1);
}

#[test]
fn the_device_refuses_what_is_not_its_own() {
    let rng = SeededRandom::new(4);
    let mut m = authority(4);
    let trust = m.provisioning().trust_store().unwrap();
    let now = at(T0);
    let mut enrol = |key: &SoftwareKey| {
        let (challenge, req) = request(&rng, key, &platform(), now);
        m.enrol(challenge, &req, Roles::EMPTY, now).unwrap()
    };
    let a = SoftwareKey::generate(Algorithm::Ed25519, &SeededRandom::new(40)).unwrap();
    let b = SoftwareKey::generate(Algorithm::Ed25519, &SeededRandom::new(41)).unwrap();
    let (ea, eb) = (enrol(&a), enrol(&b));
    let mine = a.public_key();
    assert!(ea.verify(&trust, &mine, now).is_ok());

    assert_eq!(eb.verify(&trust, &mine, now), Err(EnrolError::NotOurKey));
    let swapped = |f: fn(&mut Enrolment, &Enrolment)| {
        let mut e = ea.clone();
        f(&mut e, &eb);
        e.verify(&trust, &mine, now)
    };
    assert!(matches!(
        swapped(|e, other| e.result = other.result.clone()),
        Err(EnrolError::Result(ResultError::WrongKey { .. }))
    ));
    assert_eq!(
        swapped(|e, other| e.certificate = other.certificate.clone()),
        Err(EnrolError::CertificateMismatch("key"))
    );
    assert!(matches!(
        swapped(|e, _| e.certificate = b"not a certificate".to_vec()),
        Err(EnrolError::Certificate(_))
    ));

    // Another mission's authority: the device's trust store knows nothing it signed.
    let stranger = authority(5).provisioning().trust_store().unwrap();
    assert!(matches!(
        ea.verify(&stranger, &mine, now),
        Err(EnrolError::Credential(CredentialError::UnknownIssuer(_)))
    ));
    // After the credential's day.
    let later = at(T0 + DAY + 1);
    assert!(matches!(
        ea.verify(&trust, &mine, later),
        Err(EnrolError::Credential(CredentialError::Expired { .. }))
    ));
}

#[test]
fn serials_resume_where_the_last_run_stopped() {
    let mut config = MissionConfig::new(mission(), reference());
    config.first_serial = u64::MAX;
    let rng = SeededRandom::new(6);
    let key = |rng: &SeededRandom| -> Arc<dyn Signer> {
        Arc::new(SoftwareKey::generate(Algorithm::Ed25519, rng).unwrap())
    };
    let mut m = MissionAuthority::new(config, key(&rng), key(&rng), at(T0)).unwrap();
    let device = SoftwareKey::generate(Algorithm::Ed25519, &rng).unwrap();
    let (challenge, req) = request(&rng, &device, &platform(), at(T0));
    assert_eq!(
        m.enrol(challenge, &req, Roles::EMPTY, at(T0)),
        Err(EnrolError::SerialsExhausted),
        "a serial is never issued twice, and the counter never wraps"
    );

    let mut config = MissionConfig::new(mission(), reference());
    config.credential_lifetime = Duration::MAX;
    let mut m = MissionAuthority::new(config, key(&rng), key(&rng), at(T0)).unwrap();
    let (challenge, req) = request(&rng, &device, &platform(), at(T0));
    assert_eq!(
        m.enrol(challenge, &req, Roles::EMPTY, at(T0)),
        Err(EnrolError::TimeOutOfRange)
    );
}
