//! proptest round trips of every encoded object: sign, decode, verify, get the same content
//! back, its payload deterministic CBOR throughout; and decoding never panics on arbitrary
//! bytes.
#![allow(missing_docs, clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};

use iomt_identity::*;
use iomt_schema::{DeviceId, ShortId, Timestamp};
use iomt_testkit::*;
use proptest::prelude::*;

/// Reads `bytes` as a signed object of `signer`: its payload is deterministic CBOR at every
/// level, it names `signer`, and it verifies under `signer`'s key.
fn open<T: SignedObject>(bytes: &[u8], signer: &SoftwareKey) -> T {
    let payload = iomt_identity::cose::Sign1::parse(bytes).unwrap().payload();
    let mut r = iomt_identity::cbor::Reader::new(payload);
    assert_eq!(r.item(), Ok(payload), "deterministic payload");
    let unverified = Unverified::<T>::decode(bytes).unwrap();
    assert_eq!(unverified.signer(), signer.public_key().short_id());
    unverified.verify(&signer.public_key()).unwrap()
}

fn key() -> impl Strategy<Value = SoftwareKey> {
    (any::<[u8; 32]>()).prop_map(|seed| SoftwareKey::from_ed25519_seed(&seed).unwrap())
}

fn p256() -> PublicKey {
    SoftwareKey::generate(Algorithm::EcdsaP256, &ring::rand::SystemRandom::new())
        .unwrap()
        .public_key()
}

fn public_key() -> impl Strategy<Value = PublicKey> {
    prop_oneof![
        key().prop_map(|k| k.public_key()),
        Just(()).prop_map(|()| p256())
    ]
}

/// Whole seconds, as NumericDate carries them.
fn seconds() -> impl Strategy<Value = Timestamp> {
    (0u64..(1 << 38)).prop_map(|s| Timestamp::from_millis(s * 1000).unwrap())
}

fn mission() -> impl Strategy<Value = Mission> {
    "[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?".prop_map(|s| Mission::new(&s).unwrap())
}

fn credential() -> impl Strategy<Value = Credential> {
    (
        public_key(),
        mission(),
        any::<u32>(),
        seconds(),
        1u64..(1 << 30),
        any::<u64>(),
    )
        .prop_map(
            |(subject, mission, roles, not_before, len, serial)| Credential {
                subject,
                mission,
                roles: Roles::from_bits(roles),
                not_before,
                not_after: Timestamp::from_millis(not_before.as_millis() + len * 1000).unwrap(),
                serial,
            },
        )
}

fn debug_state() -> impl Strategy<Value = DebugState> {
    prop_oneof![
        Just(DebugState::Enabled),
        Just(DebugState::Disabled),
        Just(DebugState::DisabledSinceBoot),
        Just(DebugState::DisabledPermanently),
        Just(DebugState::DisabledFullyAndPermanently),
    ]
}

fn firmware() -> impl Strategy<Value = FirmwareVersion> {
    any::<(u16, u16, u16)>().prop_map(|(a, b, c)| FirmwareVersion::new(a, b, c))
}

fn tier() -> impl Strategy<Value = Tier> {
    prop_oneof![
        Just(Tier::Affirming),
        Just(Tier::Warning),
        Just(Tier::Contraindicated)
    ]
}

fn revocation() -> impl Strategy<Value = Revocation> {
    let target = prop_oneof![
        any::<[u8; 16]>().prop_map(|b| RevocationTarget::Device(DeviceId::from_bytes(b))),
        (any::<[u8; 8]>(), any::<u64>()).prop_map(|(i, serial)| RevocationTarget::Credential {
            issuer: ShortId::from_bytes(i),
            serial
        }),
    ];
    (target, any::<u8>(), 0u64..(1 << 48)).prop_map(|(target, reason, at)| Revocation {
        target,
        reason: RevocationReason::from_code(reason),
        at: Timestamp::from_millis(at).unwrap(),
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn credential_round_trip(c in credential(), issuer in key()) {
        let bytes = c.sign(&issuer).unwrap();
        prop_assert_eq!(open::<Credential>(&bytes, &issuer), c.clone());
        let store = TrustStore::new(issuer.public_key(), c.mission.clone(), TrustStart::FirstBoot).unwrap();
        prop_assert!(store.verify_credential(&bytes, c.not_before).is_ok());
    }

    #[test]
    fn evidence_round_trip(
        device in key(),
        nonce in proptest::collection::vec(any::<u8>(), 8..=64),
        issued_at in seconds(),
        secure_boot in any::<bool>(),
        debug in debug_state(),
        firmware in firmware(),
        measurements in proptest::collection::btree_map((any::<u8>(), "[a-z]{1,32}"), any::<[u8; 32]>(), 0..MAX_MEASUREMENTS),
    ) {
        let evidence = Evidence {
            device: device.public_key().device_id(),
            nonce: Nonce::new(&nonce).unwrap(),
            issued_at,
            secure_boot,
            debug,
            firmware,
            measurements: measurements.into_iter().map(|((layer, component), digest)| Measurement { layer, component, digest }).collect(),
        };
        let bytes = evidence.sign(&device).unwrap();
        prop_assert_eq!(open::<Evidence>(&bytes, &device), evidence);
    }

    #[test]
    fn result_round_trip(
        verifier in key(),
        subject in public_key(),
        tier in tier(),
        statuses in proptest::collection::btree_map(
            prop_oneof![Just(AppraisedClaim::Measurements), Just(AppraisedClaim::Firmware), Just(AppraisedClaim::SecureBoot), Just(AppraisedClaim::Debug)],
            tier(), 0..4),
        issued_at in seconds(),
        life in 1u64..100_000,
    ) {
        let result = AttestationResult {
            device: subject.device_id(),
            key: subject,
            tier,
            statuses,
            issued_at,
            expires_at: Timestamp::from_millis(issued_at.as_millis() + life * 1000).unwrap(),
        };
        let bytes = result.sign(&verifier).unwrap();
        prop_assert_eq!(open::<AttestationResult>(&bytes, &verifier), result);
    }

    #[test]
    fn package_round_trip(
        authority in key(),
        sequence in any::<u64>(),
        anchors in proptest::collection::vec(key(), 0..4),
        roots in proptest::collection::btree_set(proptest::collection::vec(any::<u8>(), 0..64), 0..3),
        components in proptest::collection::btree_map("[a-z]{1,8}", proptest::collection::btree_set(any::<[u8; 32]>(), 0..3), 0..4),
        fw in firmware(),
        flags in any::<(bool, bool)>(),
        revocations in proptest::collection::vec(revocation(), 0..8),
        policy_digest in any::<[u8; 32]>(),
    ) {
        let mut anchors: Vec<PublicKey> = anchors.iter().map(|k| k.public_key()).collect();
        anchors.sort_by_key(PublicKey::short_id);
        anchors.dedup();
        let mut set = RevocationSet::default();
        revocations.iter().for_each(|r| { set.insert(*r); });
        let package = TrustPackage {
            sequence,
            anchors: anchors.clone(),
            verifiers: anchors,
            x509_roots: roots.into_iter().collect(),
            reference: ReferenceValues {
                components: components.into_iter().collect::<BTreeMap<String, BTreeSet<[u8; 32]>>>(),
                min_firmware: fw,
                require_secure_boot: flags.0,
                require_debug_disabled: flags.1,
            },
            revocations: set.entries().collect(),
            policy_digest,
        };
        let bytes = package.sign(&authority).unwrap();
        prop_assert_eq!(open::<TrustPackage>(&bytes, &authority), package);
    }

    #[test]
    fn delta_round_trip_and_merge_laws(
        anchor in key(),
        sequence in any::<u64>(),
        a in proptest::collection::vec(revocation(), 0..16),
        b in proptest::collection::vec(revocation(), 0..16),
    ) {
        let delta = RevocationDelta { sequence, entries: a.clone() };
        let bytes = delta.sign(&anchor).unwrap();
        let decoded = open::<RevocationDelta>(&bytes, &anchor);
        let mut normal = RevocationSet::default();
        a.iter().for_each(|r| { normal.insert(*r); });
        prop_assert_eq!(&decoded.entries, &normal.entries().collect::<Vec<_>>());

        // Join laws: commutative, idempotent.
        let mut sa = RevocationSet::default();
        a.iter().for_each(|r| { sa.insert(*r); });
        let mut sb = RevocationSet::default();
        b.iter().for_each(|r| { sb.insert(*r); });
        let mut ab = sa.clone();
        ab.merge(&sb);
        let mut ba = sb.clone();
        ba.merge(&sa);
        prop_assert_eq!(ab.entries().collect::<Vec<_>>(), ba.entries().collect::<Vec<_>>());
        let mut again = ab.clone();
        again.merge(&sa);
        again.merge(&sb);
        prop_assert_eq!(again.entries().collect::<Vec<_>>(), ab.entries().collect::<Vec<_>>());
    }

    #[test]
    fn policy_round_trip(grants in proptest::collection::btree_map(0u8..32, any::<u16>(), 0..10), caps in proptest::collection::vec(any::<u16>(), 4)) {
        let policy = Policy {
            roles: grants.into_iter().map(|(r, a)| (Role::from_code(r), actions(a))).collect(),
            states: [TrustState::Trusted, TrustState::Stale, TrustState::Quarantined, TrustState::Revoked]
                .into_iter().zip(caps).map(|(s, a)| (s, actions(a))).collect(),
        };
        prop_assert_eq!(Policy::decode(&policy.encode()).unwrap(), policy);
    }

    /// Persisted trust state: the snapshot of a store built through the public API decodes to
    /// itself, re-encodes to the same bytes, and restores into a store with the same state.
    #[test]
    fn snapshot_round_trip(
        authority in key(),
        mission in mission(),
        installed in any::<bool>(),
        with_policy in any::<bool>(),
        sequence in 1u64..1_000_000,
        package_revocations in proptest::collection::vec(revocation(), 0..6),
        deltas in proptest::collection::vec((any::<u64>(), proptest::collection::vec(revocation(), 0..6)), 0..5),
        intermediates in proptest::collection::vec(key(), 0..3),
    ) {
        let policy = Policy::default();
        let now = Timestamp::from_millis(T0).unwrap();
        let mut store = TrustStore::new(authority.public_key(), mission.clone(), TrustStart::FirstBoot).unwrap();
        if installed {
            let package = TrustPackage {
                sequence,
                verifiers: vec![authority.public_key()],
                revocations: package_revocations,
                policy_digest: policy.digest(),
                ..TrustPackage::default()
            };
            store.apply_package(&package.sign(&authority).unwrap()).unwrap();
            if with_policy {
                store.install_policy(policy).unwrap();
            }
        }
        for (sequence, entries) in deltas {
            let delta = RevocationDelta { sequence, entries }.sign(&authority).unwrap();
            store.apply_revocation(&delta).unwrap();
        }
        for (serial, key) in (0u64..).zip(&intermediates) {
            let credential = Credential {
                subject: key.public_key(),
                mission: mission.clone(),
                roles: Roles::EMPTY.with(Role::Authority),
                not_before: now,
                not_after: Timestamp::from_millis(T0 + DAY).unwrap(),
                serial,
            };
            store.add_authority(&credential.sign(&authority).unwrap(), now).unwrap();
        }

        let snapshot = store.snapshot();
        let bytes = snapshot.encode();
        let decoded = TrustSnapshot::decode(&bytes, &TrustConfig::default()).unwrap();
        prop_assert_eq!(&decoded, &snapshot);
        prop_assert_eq!(decoded.encode(), bytes);
        prop_assert_eq!(decoded.package_sequence(), store.package_sequence());
        prop_assert_eq!(decoded.revision(), store.revision());

        let restored = TrustStore::new(authority.public_key(), mission, TrustStart::Restore(decoded)).unwrap();
        prop_assert_eq!(restored.snapshot(), snapshot);
        prop_assert_eq!(restored.revision(), store.revision());
        prop_assert_eq!(restored.package_sequence(), store.package_sequence());
        prop_assert_eq!(restored.revocations(), store.revocations());
        prop_assert_eq!(restored.policy(), store.policy());
    }

    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = Unverified::<Credential>::decode(&bytes);
        let _ = Unverified::<Evidence>::decode(&bytes);
        let _ = Unverified::<AttestationResult>::decode(&bytes);
        let _ = Unverified::<TrustPackage>::decode(&bytes);
        let _ = Unverified::<RevocationDelta>::decode(&bytes);
        let _ = Policy::decode(&bytes);
        let _ = iomt_identity::cose::Sign1::parse(&bytes);
        let _ = CertificateIdentity::parse(&bytes);
        let _ = TrustSnapshot::decode(&bytes, &TrustConfig::default());
    }
}

fn actions(bits: u16) -> Actions {
    Actions::of(
        &Action::ALL
            .into_iter()
            .enumerate()
            .filter(|(i, _)| bits & (1 << i) != 0)
            .map(|(_, a)| a)
            .collect::<Vec<_>>(),
    )
}

#[test]
fn fixture_builds() {
    let m = MissionFixture::new();
    assert_eq!(m.trust.package_sequence(), Some(1));
}
