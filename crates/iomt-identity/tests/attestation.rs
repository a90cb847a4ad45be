//! Evidence, appraisal and attestation results: the happy path and every way to fail.
#![allow(missing_docs, clippy::unwrap_used)]

use core::time::Duration;

use iomt_identity::*;
use iomt_testkit::*;

#[test]
fn affirming_round_trip() {
    let m = MissionFixture::new();
    for alg in [Algorithm::Ed25519, Algorithm::EcdsaP256] {
        let device = m.device(alg);
        let (appraisal, result) = m.attest(&device, at(T0), |_| {});
        assert_eq!(appraisal.tier(), Tier::Affirming);
        assert!(appraisal.findings().is_empty());
        assert!(appraisal.statuses().values().all(|t| *t == Tier::Affirming));
        let verified = m
            .trust
            .verify_result(&result, &device.public_key(), at(T0 + 1000))
            .unwrap();
        assert_eq!(verified.tier(), Tier::Affirming);
        assert_eq!(verified.device(), device.public_key().device_id());
        assert_eq!(verified.verifier(), m.verifier_public.short_id());
        assert_eq!(verified.expires_at(), at(T0 + 15 * 60 * 1000));
        assert_eq!(verified.require_affirming(), Ok(()));
    }
}

#[test]
fn channel_bound_challenge() {
    let m = MissionFixture::new();
    let device = m.device(Algorithm::Ed25519);
    // The transport derives the nonce from its handshake transcript (an exporter).
    let exporter = [0x5a; 32];
    let challenge = Challenge::from_channel_binding(&exporter, at(T0)).unwrap();
    let evidence = m
        .evidence(&device, &Nonce::new(&exporter).unwrap(), at(T0))
        .sign(&device)
        .unwrap();
    let appraisal = m
        .verifier
        .appraise(
            challenge,
            &device.public_key(),
            &evidence,
            m.trust.reference_values(),
            at(T0 + 10),
        )
        .unwrap();
    assert_eq!(appraisal.tier(), Tier::Affirming);
    // The same through the channel-typed constructor, and evidence from another channel fails.
    struct Channel([u8; 32]);
    impl ChannelBinding for Channel {
        fn channel_binding(&self) -> &[u8] {
            &self.0
        }
    }
    let other = Channel([0x5b; 32]);
    assert_eq!(
        m.verifier
            .appraise(
                Challenge::for_channel(&other, at(T0)).unwrap(),
                &device.public_key(),
                &evidence,
                m.trust.reference_values(),
                at(T0 + 10),
            )
            .err(),
        Some(AppraisalError::NonceMismatch)
    );
    let same = Channel(exporter);
    assert!(
        m.verifier
            .appraise(
                Challenge::for_channel(&same, at(T0)).unwrap(),
                &device.public_key(),
                &evidence,
                m.trust.reference_values(),
                at(T0 + 10),
            )
            .is_ok()
    );
    assert_eq!(
        Challenge::from_channel_binding(&[0; 7], at(T0)).err(),
        Some(BadNonce(7))
    );
    assert_eq!(
        Challenge::from_channel_binding(&[0; 65], at(T0)).err(),
        Some(BadNonce(65))
    );
}

/// Name, store, result bytes, peer key, now, expected error.
type ResultCase<'a> = (
    &'a str,
    &'a TrustStore,
    &'a [u8],
    PublicKey,
    iomt_schema::Timestamp,
    ResultError,
);

fn appraise(
    m: &MissionFixture,
    device: &SoftwareKey,
    challenge: Challenge,
    evidence: &[u8],
    now: iomt_schema::Timestamp,
) -> Result<Appraisal, AppraisalError> {
    m.verifier.appraise(
        challenge,
        &device.public_key(),
        evidence,
        m.trust.reference_values(),
        now,
    )
}

/// Evidence that must not be appraised at all: each its own error.
#[test]
fn bad_evidence_table() {
    let m = MissionFixture::new();
    let device = m.device(Algorithm::Ed25519);
    let other = m.device(Algorithm::Ed25519);
    let now = at(T0);

    // Wrong nonce: evidence answers another challenge (a replay of an earlier round).
    let first = Challenge::new(&m.rng, now).unwrap();
    let replayed = m
        .evidence(&device, first.nonce(), now)
        .sign(&device)
        .unwrap();
    let second = Challenge::new(&m.rng, now).unwrap();
    assert_eq!(
        appraise(&m, &device, second, &replayed, now).unwrap_err(),
        AppraisalError::NonceMismatch
    );

    // Stale: appraised after the freshness window.
    let c = Challenge::new(&m.rng, now).unwrap();
    let e = m.evidence(&device, c.nonce(), now).sign(&device).unwrap();
    let late = at(T0 + 31_000);
    assert_eq!(
        appraise(&m, &device, c, &e, late).unwrap_err(),
        AppraisalError::Stale {
            age_ms: 31_000,
            limit_ms: 30_000
        }
    );

    // Issued-at long before the challenge existed.
    let c = Challenge::new(&m.rng, now).unwrap();
    let mut old = m.evidence(&device, c.nonce(), now);
    old.issued_at = at(T0 - 60_000);
    let e = old.sign(&device).unwrap();
    assert_eq!(
        appraise(&m, &device, c, &e, now).unwrap_err(),
        AppraisalError::IssuedAtOutOfWindow {
            issued_at: at(T0 - 60_000),
            earliest: at(T0 - 5000),
            latest: at(T0 + 5000),
        }
    );

    // Signed by another device than the one appraised.
    let c = Challenge::new(&m.rng, now).unwrap();
    let e = m.evidence(&other, c.nonce(), now).sign(&other).unwrap();
    assert_eq!(
        appraise(&m, &device, c, &e, now).unwrap_err(),
        AppraisalError::WrongKey {
            signer: other.public_key().short_id(),
            attester: device.public_key().short_id(),
        }
    );

    // Every tampered byte.
    let c = Challenge::new(&m.rng, now).unwrap();
    let nonce = c.nonce().clone();
    drop(c);
    let e = m.evidence(&device, &nonce, now).sign(&device).unwrap();
    for i in 0..e.len() {
        let mut bad = e.clone();
        bad[i] ^= 0x04;
        let c = Challenge::from_channel_binding(nonce.as_bytes(), now).unwrap();
        assert!(
            appraise(&m, &device, c, &bad, now).is_err(),
            "byte {i} accepted"
        );
    }
    let c = Challenge::from_channel_binding(nonce.as_bytes(), now).unwrap();
    assert!(appraise(&m, &device, c, &e, now).is_ok());
}

/// Evidence that appraises, but not affirmingly: each its own finding and tier.
#[test]
fn findings_table() {
    let m = MissionFixture::new();
    let device = m.device(Algorithm::EcdsaP256);
    let now = at(T0);
    type Tweak = fn(&mut Evidence);
    let cases: [(&str, Tweak, Finding, Tier); 6] = [
        (
            "measurement not in the reference values",
            |e| e.measurements[1] = Measurement::of(1, "kernel", b"patched kernel"),
            Finding::MeasurementNotInReference {
                component: "kernel".into(),
            },
            Tier::Contraindicated,
        ),
        (
            "lower firmware",
            |e| e.firmware = FirmwareVersion::new(1, 9, 9),
            Finding::FirmwareBelowMinimum {
                found: FirmwareVersion::new(1, 9, 9),
                minimum: FirmwareVersion::new(2, 0, 0),
            },
            Tier::Contraindicated,
        ),
        (
            "secure boot off",
            |e| e.secure_boot = false,
            Finding::SecureBootDisabled,
            Tier::Contraindicated,
        ),
        (
            "debug on",
            |e| e.debug = DebugState::Enabled,
            Finding::DebugEnabled,
            Tier::Warning,
        ),
        (
            "component missing",
            |e| {
                e.measurements.remove(2);
            },
            Finding::MissingComponent {
                component: "app".into(),
            },
            Tier::Contraindicated,
        ),
        (
            "unknown component",
            |e| e.measurements.push(Measurement::of(3, "plugin", b"x")),
            Finding::UnknownComponent {
                component: "plugin".into(),
            },
            Tier::Warning,
        ),
    ];
    for (name, tweak, finding, tier) in cases {
        let (appraisal, result) = m.attest(&device, now, tweak);
        assert_eq!(appraisal.findings(), &[finding], "{name}");
        assert_eq!(appraisal.tier(), tier, "{name}");
        let verified = m
            .trust
            .verify_result(&result, &device.public_key(), now)
            .unwrap();
        assert_eq!(verified.tier(), tier, "{name}");
        assert_eq!(
            verified.require_affirming(),
            Err(ResultError::NotAffirming(tier)),
            "{name}"
        );
    }
}

/// Attestation results a relying party must refuse: each its own error.
#[test]
fn bad_result_table() {
    let m = MissionFixture::new();
    let device = m.device(Algorithm::Ed25519);
    let other = m.device(Algorithm::Ed25519);
    let (_, good) = m.attest(&device, at(T0), |_| {});
    let key = device.public_key();

    // A result signed by a key that is not a verifier in the trust package.
    let rogue = m.device(Algorithm::Ed25519);
    let rogue_verifier = AttestationVerifier::new(rogue, AppraisalConfig::default());
    let challenge = Challenge::new(&m.rng, at(T0)).unwrap();
    let evidence = m
        .evidence(&device, challenge.nonce(), at(T0))
        .sign(&device)
        .unwrap();
    let appraisal = rogue_verifier
        .appraise(
            challenge,
            &key,
            &evidence,
            m.trust.reference_values(),
            at(T0),
        )
        .unwrap();
    let rogue_result = rogue_verifier.sign_result(&appraisal).unwrap();

    let mut revoked = m.trust.clone();
    let delta = RevocationDelta {
        sequence: 9,
        entries: vec![Revocation {
            target: RevocationTarget::Device(key.device_id()),
            reason: RevocationReason::KeyCompromise,
            at: at(T0),
        }],
    };
    revoked
        .apply_revocation(&delta.sign(&m.authority).unwrap())
        .unwrap();

    let mut forged = good.clone();
    let n = forged.len();
    forged[n - 1] ^= 1;

    let cases: Vec<ResultCase<'_>> = vec![
        (
            "unknown verifier",
            &m.trust,
            &rogue_result,
            key,
            at(T0),
            ResultError::UnknownVerifier(rogue_verifier.public_key().short_id()),
        ),
        (
            "bad signature",
            &m.trust,
            &forged,
            key,
            at(T0),
            ResultError::BadSignature {
                verifier: m.verifier.public_key().short_id(),
            },
        ),
        (
            "bound to another key",
            &m.trust,
            &good,
            other.public_key(),
            at(T0),
            ResultError::WrongKey {
                bound: key.short_id(),
                peer: other.public_key().short_id(),
            },
        ),
        (
            "expired",
            &m.trust,
            &good,
            key,
            at(T0 + 15 * 60 * 1000),
            ResultError::Expired {
                device: key.device_id(),
                expired: at(T0 + 15 * 60 * 1000),
                now: at(T0 + 15 * 60 * 1000),
            },
        ),
        (
            "issued in the future",
            &m.trust,
            &good,
            key,
            at(T0 - 6000),
            ResultError::IssuedInFuture {
                device: key.device_id(),
                issued_at: at(T0),
                now: at(T0 - 6000),
            },
        ),
        (
            "revoked device",
            &revoked,
            &good,
            key,
            at(T0),
            ResultError::DeviceRevoked(key.device_id()),
        ),
    ];
    for (name, store, bytes, peer, now, expected) in cases {
        assert_eq!(
            store.verify_result(bytes, &peer, now),
            Err(expected),
            "{name}"
        );
    }
}

#[test]
fn short_result_lifetime_is_honoured() {
    let m = MissionFixture::new();
    let verifier = AttestationVerifier::new(
        SoftwareKey::from_ed25519_seed(&[9; 32]).unwrap(),
        AppraisalConfig {
            result_lifetime: Duration::from_secs(60),
            ..AppraisalConfig::default()
        },
    );
    let device = m.device(Algorithm::Ed25519);
    let challenge = Challenge::new(&m.rng, at(T0)).unwrap();
    let evidence = m
        .evidence(&device, challenge.nonce(), at(T0))
        .sign(&device)
        .unwrap();
    let appraisal = verifier
        .appraise(
            challenge,
            &device.public_key(),
            &evidence,
            m.trust.reference_values(),
            at(T0),
        )
        .unwrap();
    let result = verifier.sign_result(&appraisal).unwrap();
    let unverified = Unverified::<AttestationResult>::decode(&result).unwrap();
    assert_eq!(unverified.signer(), verifier.public_key().short_id());
    let decoded = unverified.verify(&verifier.public_key()).unwrap();
    assert_eq!(decoded.expires_at, at(T0 + 60_000));
}
