//! Trust packages (anti-rollback) and revocation deltas (idempotent, order-independent).
#![allow(missing_docs, clippy::unwrap_used)]

use iomt_identity::cbor::{CborError, CborErrorKind};
use iomt_identity::*;
use iomt_testkit::*;

fn package(m: &MissionFixture, sequence: u64) -> TrustPackage {
    TrustPackage {
        sequence,
        verifiers: vec![m.verifier_public],
        x509_roots: vec![m.ca().certificate_der().to_vec()],
        reference: reference(),
        policy_digest: m.policy.digest(),
        ..TrustPackage::default()
    }
}

/// Trust packages that must be refused: each its own error, and the store is unchanged.
#[test]
fn bad_package_table() {
    let m = MissionFixture::new();
    let mut store = m.trust.clone();
    store
        .apply_package(&package(&m, 5).sign(&m.authority).unwrap())
        .unwrap();
    let before = format!("{store:?}");

    let stranger = m.device(Algorithm::Ed25519);
    let mut forged = package(&m, 6).sign(&m.authority).unwrap();
    let n = forged.len();
    forged[n - 3] ^= 0x10;
    let mut conflicting = package(&m, 5);
    conflicting.reference.min_firmware = FirmwareVersion::new(9, 0, 0);
    let mut bad_root = package(&m, 7);
    bad_root.x509_roots = vec![b"not a certificate".to_vec()];

    let cases: Vec<(&str, Vec<u8>, PackageError)> = vec![
        (
            "rollback",
            package(&m, 4).sign(&m.authority).unwrap(),
            PackageError::Rollback {
                installed: 5,
                offered: 4,
            },
        ),
        (
            "unknown signer",
            package(&m, 6).sign(&stranger).unwrap(),
            PackageError::UnknownSigner(stranger.public_key().short_id()),
        ),
        ("bad signature", forged, PackageError::BadSignature),
        (
            "conflict at the same sequence",
            conflicting.sign(&m.authority).unwrap(),
            PackageError::Conflict(5),
        ),
        (
            "unusable X.509 anchor",
            bad_root.sign(&m.authority).unwrap(),
            PackageError::BadX509Anchor,
        ),
        (
            "garbage",
            vec![0xa0],
            PackageError::Decode(DecodeError::Cbor(CborError::new(
                0,
                CborErrorKind::UnexpectedType { found: 5 },
                "COSE_Sign1",
            ))),
        ),
    ];
    for (name, bytes, expected) in cases {
        assert_eq!(store.apply_package(&bytes), Err(expected), "{name}");
        assert_eq!(format!("{store:?}"), before, "{name} changed the store");
    }
    assert_eq!(
        store.apply_package(&package(&m, 5).sign(&m.authority).unwrap()),
        Ok(PackageOutcome::Unchanged)
    );
    assert_eq!(
        store.apply_package(&package(&m, 6).sign(&m.authority).unwrap()),
        Ok(PackageOutcome::Installed { previous: Some(5) })
    );
    assert_eq!(store.package_sequence(), Some(6));
}

#[test]
fn policy_must_match_the_package_digest() {
    let m = MissionFixture::new();
    let mut store = m.trust.clone();
    let mut other = Policy::default();
    other.states.insert(TrustState::Quarantined, Actions::NONE);
    assert_eq!(
        store.install_policy(other.clone()),
        Err(PackageError::PolicyMismatch)
    );
    assert_eq!(store.install_policy(m.policy.clone()), Ok(()));
    assert_eq!(Policy::decode(&other.encode()), Ok(other));
}

#[test]
fn package_revocations_survive_newer_packages() {
    let m = MissionFixture::new();
    let mut store = m.trust.clone();
    let device = m.device(Algorithm::Ed25519);
    let mut p = package(&m, 2);
    p.revocations = vec![Revocation {
        target: RevocationTarget::Device(device.public_key().device_id()),
        reason: RevocationReason::DeviceLost,
        at: at(T0),
    }];
    store.apply_package(&p.sign(&m.authority).unwrap()).unwrap();
    store
        .apply_package(&package(&m, 3).sign(&m.authority).unwrap())
        .unwrap();
    assert!(store.is_revoked(device.public_key().device_id()));
}

fn entry(device: u8, reason: RevocationReason, at_ms: u64) -> Revocation {
    Revocation {
        target: RevocationTarget::Device(iomt_schema::DeviceId::from_bytes([device; 16])),
        reason,
        at: at(at_ms),
    }
}

#[test]
fn revocation_deltas_merge_idempotently_in_any_order() {
    let m = MissionFixture::new();
    let a = RevocationDelta {
        sequence: 1,
        entries: vec![
            entry(1, RevocationReason::DeviceLost, T0),
            entry(2, RevocationReason::KeyCompromise, T0 + 5),
        ],
    }
    .sign(&m.authority)
    .unwrap();
    let b = RevocationDelta {
        sequence: 2,
        entries: vec![
            entry(2, RevocationReason::Superseded, T0 + 1),
            entry(3, RevocationReason::Contraindicated, T0),
        ],
    }
    .sign(&m.authority)
    .unwrap();

    let mut ab = m.trust.clone();
    assert_eq!(ab.apply_revocation(&a), Ok(2));
    assert_eq!(ab.apply_revocation(&b), Ok(2)); // device 2's earlier entry wins, device 3 new
    assert_eq!(ab.apply_revocation(&a), Ok(0));
    assert_eq!(ab.apply_revocation(&b), Ok(0));

    let mut ba = m.trust.clone();
    ba.apply_revocation(&b).unwrap();
    ba.apply_revocation(&a).unwrap();
    ba.apply_revocation(&b).unwrap();
    let ab_entries: Vec<_> = ab.revocations().entries().collect();
    assert_eq!(ab_entries, ba.revocations().entries().collect::<Vec<_>>());
    assert_eq!(ab_entries.len(), 3);
    assert_eq!(ab_entries[1].reason, RevocationReason::Superseded);
    assert!(
        ab.revocations()
            .has_applied(m.authority.public_key().short_id(), 2)
    );
}

#[test]
fn bad_revocation_table() {
    let m = MissionFixture::new();
    let stranger = m.device(Algorithm::Ed25519);
    let delta = RevocationDelta {
        sequence: 1,
        entries: vec![entry(1, RevocationReason::DeviceLost, T0)],
    };
    let mut forged = delta.sign(&m.authority).unwrap();
    let n = forged.len();
    forged[n - 2] ^= 0x20;
    let mut small = TrustStore::with_config(
        m.authority.public_key(),
        mission(),
        TrustConfig {
            revocation_capacity: 1,
            ..TrustConfig::default()
        },
        TrustStart::FirstBoot,
    )
    .unwrap();
    let two = RevocationDelta {
        sequence: 2,
        entries: vec![
            entry(1, RevocationReason::DeviceLost, T0),
            entry(2, RevocationReason::DeviceLost, T0),
        ],
    };
    let mut store = m.trust.clone();
    assert_eq!(
        store.apply_revocation(&delta.sign(&stranger).unwrap()),
        Err(RevocationError::UnknownIssuer(
            stranger.public_key().short_id()
        ))
    );
    assert_eq!(
        store.apply_revocation(&forged),
        Err(RevocationError::BadSignature {
            issuer: m.authority.public_key().short_id()
        })
    );
    assert_eq!(
        small.apply_revocation(&two.sign(&m.authority).unwrap()),
        Err(RevocationError::Full(0))
    );
    assert!(store.revocations().is_empty());
    assert!(small.revocations().is_empty());
}

#[test]
fn a_delta_is_small_enough_to_flood() {
    let m = MissionFixture::new();
    let one = RevocationDelta {
        sequence: 1,
        entries: vec![entry(1, RevocationReason::DeviceLost, T0)],
    };
    let bytes = one.sign(&m.authority).unwrap();
    assert!(bytes.len() <= 128, "{} bytes", bytes.len());
}

/// The revision tells a runtime when to persist: it moves with every change a snapshot
/// carries, and only then.
#[test]
fn revision_moves_with_every_persisted_change() {
    let m = MissionFixture::new();
    let mut store =
        TrustStore::new(m.authority.public_key(), mission(), TrustStart::FirstBoot).unwrap();
    let mut last = store.revision();
    let mut moved = |store: &TrustStore, expected: bool, what: &str| {
        assert_eq!(store.revision() != last, expected, "{what}");
        assert!(
            store.revision() >= last,
            "{what}: the revision never goes back"
        );
        last = store.revision();
    };
    moved(&store, false, "first boot");

    store.apply_package(&m.package).unwrap();
    moved(&store, true, "package installed");
    store.apply_package(&m.package).unwrap();
    moved(&store, false, "same package again");
    store
        .apply_package(&package(&m, 0).sign(&m.authority).unwrap())
        .unwrap_err();
    moved(&store, false, "refused package");

    store.install_policy(m.policy.clone()).unwrap();
    moved(&store, true, "policy installed");
    store.install_policy(m.policy.clone()).unwrap();
    moved(&store, false, "same policy again");

    let delta = RevocationDelta {
        sequence: 1,
        entries: vec![entry(1, RevocationReason::DeviceLost, T0)],
    }
    .sign(&m.authority)
    .unwrap();
    store.apply_revocation(&delta).unwrap();
    moved(&store, true, "delta applied");
    store.apply_revocation(&delta).unwrap();
    moved(&store, false, "same delta again");

    let sub = m.device(Algorithm::Ed25519);
    let credential = m
        .credential_for(&sub.public_key(), Roles::EMPTY.with(Role::Authority), 5)
        .sign(&m.authority)
        .unwrap();
    store.add_authority(&credential, at(T0)).unwrap();
    moved(&store, true, "authority accepted");
    store.add_authority(&credential, at(T0)).unwrap();
    moved(&store, false, "same authority again");

    store.dangerous().add_verifier(sub.public_key());
    moved(&store, false, "dangerous additions are not persisted");
}
