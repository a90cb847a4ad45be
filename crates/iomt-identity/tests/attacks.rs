//! Regression tests for attacks found in review: each performs the attack through the public API
//! and shows it fail.
//!
//! - A reboot must not re-open rollback to an older trust package, nor forget revocations.
//! - A trust package whose revocations do not fit is refused whole, not merged in part.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use common::*;
use iomt_identity::*;

// ---------------------------------------------------------------------------------------------
// Trust state across a reboot
// ---------------------------------------------------------------------------------------------

/// A package like the fixture's, at `sequence`.
fn package(m: &Mission1, sequence: u64) -> TrustPackage {
    TrustPackage {
        sequence,
        verifiers: vec![m.verifier_public],
        x509_roots: vec![m.ca.certificate_der().to_vec()],
        reference: reference(),
        policy_digest: m.policy.digest(),
        ..TrustPackage::default()
    }
}

/// What a runtime does across a restart: encode the snapshot, decode it, restore.
fn reboot(m: &Mission1, store: &TrustStore) -> TrustStore {
    let stored = store.snapshot().encode();
    let snapshot = TrustSnapshot::decode(&stored, &TrustConfig::default()).unwrap();
    TrustStore::new(
        m.authority.public_key(),
        mission(),
        TrustStart::Restore(snapshot),
    )
    .unwrap()
}

fn revoke(m: &Mission1, sequence: u64, target: RevocationTarget) -> Vec<u8> {
    RevocationDelta {
        sequence,
        entries: vec![Revocation {
            target,
            reason: RevocationReason::DeviceLost,
            at: at(T0),
        }],
    }
    .sign(&m.authority)
    .unwrap()
}

/// Attack: after a reboot, replay an older validly signed package that still lists an anchor
/// since removed (a compromised sub-authority) and laxer reference values. Refused as a
/// rollback, and the removed anchor's credentials stay refused.
#[test]
fn older_package_after_reboot_is_a_rollback() {
    let m = Mission1::new();
    let rogue = m.device(Algorithm::Ed25519);
    let mut lax = package(&m, 3);
    lax.anchors = vec![rogue.public_key()];
    lax.reference.min_firmware = FirmwareVersion::new(0, 0, 0);
    let old = lax.sign(&m.authority).unwrap();

    let mut store = m.trust.clone();
    store.apply_package(&old).unwrap();
    store
        .apply_package(&package(&m, 5).sign(&m.authority).unwrap())
        .unwrap();

    let mut restored = reboot(&m, &store);
    assert_eq!(restored.package_sequence(), Some(5));
    assert_eq!(
        restored.apply_package(&old),
        Err(PackageError::Rollback {
            installed: 5,
            offered: 3
        })
    );
    assert_eq!(restored.package_sequence(), Some(5));
    assert_eq!(restored.reference_values(), &reference());
    let device = m.device(Algorithm::Ed25519);
    let forged = m
        .credential_for(&device.public_key(), Roles::EMPTY.with(Role::Commander), 1)
        .sign(&rogue)
        .unwrap();
    assert_eq!(
        restored.verify_credential(&forged, at(T0 + 1000)),
        Err(CredentialError::UnknownIssuer(
            rogue.public_key().short_id()
        ))
    );
    // The restored store is the persisted one, policy included.
    assert_eq!(restored.policy(), Some(&m.policy));
    assert_eq!(restored.snapshot(), store.snapshot());
}

/// Attack: a device revoked before the reboot presents its credential and a still unexpired
/// attestation result after it. Both stay refused, by device and by (issuer, serial).
#[test]
fn revocations_survive_a_reboot() {
    let m = Mission1::new();
    let lost = m.device(Algorithm::EcdsaP256);
    let lost_credential = m.issue(&lost.public_key(), Roles::EMPTY.with(Role::Operator), 10);
    let (_, lost_result) = m.attest(&lost, at(T0), |_| {});
    let superseded = m.device(Algorithm::Ed25519);
    let superseded_credential =
        m.issue(&superseded.public_key(), Roles::EMPTY.with(Role::Relay), 11);
    let issuer = m.authority.public_key().short_id();

    let mut store = m.trust.clone();
    let device_delta = revoke(
        &m,
        1,
        RevocationTarget::Device(lost.public_key().device_id()),
    );
    let credential_delta = revoke(&m, 2, RevocationTarget::Credential { issuer, serial: 11 });
    store.apply_revocation(&device_delta).unwrap();
    store.apply_revocation(&credential_delta).unwrap();

    let restored = reboot(&m, &store);
    let now = at(T0 + 60_000);
    assert_eq!(
        restored.verify_credential(&lost_credential, now),
        Err(CredentialError::DeviceRevoked(
            lost.public_key().device_id()
        ))
    );
    assert_eq!(
        restored.verify_result(&lost_result, &lost.public_key(), now),
        Err(ResultError::DeviceRevoked(lost.public_key().device_id()))
    );
    assert_eq!(
        restored.verify_credential(&superseded_credential, now),
        Err(CredentialError::CredentialRevoked { issuer, serial: 11 })
    );
    assert!(restored.revocations().has_applied(issuer, 1));
    assert!(restored.revocations().has_applied(issuer, 2));

    // What the fix prevents: a store started as if new trusts them all again.
    let mut forgetful =
        TrustStore::new(m.authority.public_key(), mission(), TrustStart::FirstBoot).unwrap();
    forgetful.apply_package(&m.package).unwrap();
    assert!(forgetful.verify_credential(&lost_credential, now).is_ok());
    assert!(
        forgetful
            .verify_result(&lost_result, &lost.public_key(), now)
            .is_ok()
    );
}

/// Attack: restore a snapshot that is not this store's (another authority or mission), or
/// damaged in storage. Each is its own typed error; nothing is restored.
#[test]
fn foreign_or_corrupt_snapshot_is_refused() {
    let m = Mission1::new();
    let mut store = m.trust.clone();
    store
        .apply_revocation(&revoke(
            &m,
            1,
            RevocationTarget::Device(iomt_schema::DeviceId::from_bytes([7; 16])),
        ))
        .unwrap();
    let good = store.snapshot().encode();
    let config = TrustConfig::default();
    let restore = |bytes: &[u8]| -> Result<TrustStore, RestoreError> {
        let snapshot = TrustSnapshot::decode(bytes, &config)?;
        TrustStore::new(
            m.authority.public_key(),
            mission(),
            TrustStart::Restore(snapshot),
        )
    };
    assert!(restore(&good).is_ok());

    // Another package authority's store, for the same mission.
    let other = SoftwareKey::from_ed25519_seed(&[2; 32]).unwrap();
    let foreign_authority = TrustStore::new(other.public_key(), mission(), TrustStart::FirstBoot)
        .unwrap()
        .snapshot()
        .encode();
    // The same authority, another mission.
    let foreign_mission = TrustStore::new(
        m.authority.public_key(),
        Mission::new("op-southern").unwrap(),
        TrustStart::FirstBoot,
    )
    .unwrap()
    .snapshot()
    .encode();
    // The persisted package's signature damaged in storage.
    let mut bad_package = good.clone();
    let at_package = good
        .windows(m.package.len())
        .position(|w| w == m.package.as_slice())
        .unwrap();
    bad_package[at_package + m.package.len() - 1] ^= 0x01;
    // A newer format than this version reads.
    let mut newer = good.clone();
    assert_eq!(&newer[..3], &[0xa9, 0x00, 0x01]);
    newer[2] = 0x02;
    let mut trailing = good.clone();
    trailing.push(0);
    // The same map with its revision written in a longer form than needed: the revision
    // follows the mission (key 2, a 9-character text) and its own key 3.
    let mut long_revision = good.clone();
    let mission_field = [&[0x02, 0x69][..], b"op-nordic"].concat();
    let at_mission = good
        .windows(mission_field.len())
        .position(|w| w == mission_field.as_slice())
        .unwrap();
    let at_revision = at_mission + mission_field.len() + 1;
    assert_eq!(good[at_revision - 1], 0x03);
    let revision = good[at_revision];
    assert!(revision < 24, "a one-byte revision");
    long_revision.splice(at_revision..=at_revision, [0x18, revision]);

    let cases: Vec<(&str, Vec<u8>, RestoreError)> = vec![
        (
            "another package authority",
            foreign_authority,
            RestoreError::WrongAuthority {
                expected: m.authority.public_key().short_id(),
                found: other.public_key().short_id(),
            },
        ),
        (
            "another mission",
            foreign_mission,
            RestoreError::WrongMission {
                expected: "op-nordic".into(),
                found: "op-southern".into(),
            },
        ),
        (
            "persisted package damaged",
            bad_package,
            RestoreError::Package(PackageError::BadSignature),
        ),
        (
            "newer format",
            newer,
            RestoreError::Decode(DecodeError::OutOfRange("trust snapshot version")),
        ),
        (
            "trailing bytes",
            trailing,
            RestoreError::Decode(DecodeError::TrailingBytes),
        ),
        (
            "non-canonical integer",
            long_revision,
            RestoreError::Decode(DecodeError::NotCanonical),
        ),
        (
            "empty",
            vec![],
            RestoreError::Decode(DecodeError::Malformed {
                offset: 0,
                expected: "map",
            }),
        ),
    ];
    for (name, bytes, expected) in cases {
        assert_eq!(restore(&bytes).map(|_| ()), Err(expected), "{name}");
    }
    for cut in [1, good.len() / 2, good.len() - 1] {
        assert!(
            matches!(
                restore(&good[..cut]),
                Err(RestoreError::Decode(DecodeError::Malformed { .. }))
            ),
            "truncated to {cut} bytes"
        );
    }

    // Beyond the configured limits: refused while decoding, and again when a store with
    // smaller limits is built from a snapshot decoded under larger ones.
    let small = TrustConfig {
        revocation_capacity: 0,
        ..TrustConfig::default()
    };
    assert_eq!(
        TrustSnapshot::decode(&good, &small),
        Err(DecodeError::TooLarge {
            field: "revocations",
            limit: 0
        })
    );
    let decoded = TrustSnapshot::decode(&good, &config).unwrap();
    assert_eq!(
        TrustStore::with_config(
            m.authority.public_key(),
            mission(),
            small,
            TrustStart::Restore(decoded),
        )
        .map(|_| ()),
        Err(RestoreError::Decode(DecodeError::TooLarge {
            field: "revocations",
            limit: 0
        }))
    );
}

// ---------------------------------------------------------------------------------------------
// Trust packages whose revocations do not fit
// ---------------------------------------------------------------------------------------------

/// Attack: an authority (or a replayed old package) carries more revocations than the set
/// has room for. Before, the overflow was dropped silently and the package installed anyway;
/// now the package is refused whole and the store is unchanged.
#[test]
fn package_revocations_that_do_not_fit_refuse_the_package() {
    let m = Mission1::new();
    let mut store = TrustStore::with_config(
        m.authority.public_key(),
        mission(),
        TrustConfig {
            revocation_capacity: 2,
            ..TrustConfig::default()
        },
        TrustStart::FirstBoot,
    )
    .unwrap();
    store.apply_package(&m.package).unwrap();
    store
        .apply_revocation(&revoke(
            &m,
            1,
            RevocationTarget::Device(iomt_schema::DeviceId::from_bytes([1; 16])),
        ))
        .unwrap();
    let before = format!("{store:?}");
    let revision = store.revision();

    let entry = |byte| Revocation {
        target: RevocationTarget::Device(iomt_schema::DeviceId::from_bytes([byte; 16])),
        reason: RevocationReason::KeyCompromise,
        at: at(T0),
    };
    let mut crowded = package(&m, 2);
    crowded.revocations = vec![entry(2), entry(3)];
    assert_eq!(
        store.apply_package(&crowded.sign(&m.authority).unwrap()),
        Err(PackageError::RevocationsFull(1))
    );
    assert_eq!(
        format!("{store:?}"),
        before,
        "a refused package changed the store"
    );
    assert_eq!(store.revision(), revision);
    assert_eq!(store.package_sequence(), Some(1));

    // One that fits (a known target merges without room) installs.
    let mut fits = package(&m, 2);
    fits.revocations = vec![entry(1), entry(2)];
    assert_eq!(
        store.apply_package(&fits.sign(&m.authority).unwrap()),
        Ok(PackageOutcome::Installed { previous: Some(1) })
    );
    assert_eq!(store.revocations().len(), 2);
}
