//! Compact credentials and their X.509 twins: issuing, verifying, and every way to fail.
#![allow(missing_docs, clippy::unwrap_used, clippy::as_conversions)]

use iomt_identity::cbor::{CborError, CborErrorKind};
use iomt_identity::*;
use iomt_testkit::*;

/// Name, store, credential bytes, now, expected error.
type CredentialCase<'a> = (
    &'a str,
    &'a TrustStore,
    &'a [u8],
    iomt_schema::Timestamp,
    CredentialError,
);

fn sensor() -> Roles {
    Roles::EMPTY.with(Role::Sensor).with(Role::Relay)
}

#[test]
fn issued_credential_verifies_and_exposes_its_claims() {
    let m = MissionFixture::new();
    for alg in [Algorithm::Ed25519, Algorithm::EcdsaP256] {
        let device = m.device(alg);
        let bytes = m.issue(&device.public_key(), sensor(), 42);
        let verified = m.trust.verify_credential(&bytes, at(T0 + 1000)).unwrap();
        assert_eq!(verified.device_id(), device.public_key().device_id());
        assert_eq!(verified.public_key(), &device.public_key());
        assert_eq!(verified.roles(), sensor());
        assert_eq!(verified.serial(), 42);
        assert_eq!(verified.issuer(), m.authority.public_key().short_id());
        assert_eq!(verified.kid(), device.public_key().short_id());
        assert_eq!(verified.mission(), &mission());
        let unverified = Unverified::<Credential>::decode(&bytes).unwrap();
        assert_eq!(unverified.signer(), m.authority.public_key().short_id());
        assert_eq!(
            unverified.subject_key_unverified(),
            &device.public_key(),
            "the subject key is readable before verification, for EDHOC"
        );
        assert_eq!(
            unverified.verify(&m.authority.public_key()),
            Ok(verified.credential().clone())
        );
    }
}

/// The size target: the compact credential is at most half the DER size of the X.509 Ed25519
/// leaf for the same identity.
#[test]
fn compact_credential_is_at_most_half_the_x509_leaf() {
    let m = MissionFixture::new();
    let device = m.device(Algorithm::Ed25519);
    let credential = m.credential_for(&device.public_key(), sensor(), 0x0102_0304);
    let compact = m.ca().issue_compact(&credential).unwrap();
    let x509 = m.ca().issue_x509(&credential, None).unwrap();
    println!(
        "compact credential {} bytes, X.509 leaf {} bytes",
        compact.len(),
        x509.len()
    );
    assert!(
        compact.len() * 2 <= x509.len(),
        "{} vs {}",
        compact.len(),
        x509.len()
    );
}

#[test]
fn x509_form_carries_the_same_identity() {
    let m = MissionFixture::new();
    let device = m.device(Algorithm::EcdsaP256);
    let credential = m.credential_for(&device.public_key(), sensor(), 99);
    let der = m
        .ca()
        .issue_x509(&credential, Some(b"result bytes"))
        .unwrap();
    let id = CertificateIdentity::parse(&der).unwrap();
    assert_eq!(id.key, device.public_key());
    assert_eq!(id.device, device.public_key().device_id());
    assert_eq!(id.mission, mission());
    assert_eq!(id.serial, Some(99));
    assert_eq!(id.attestation_result.as_deref(), Some(&b"result bytes"[..]));
    assert_eq!(
        x509::device_uri(&mission(), id.device),
        format!("iomt://op-nordic/{}", device.public_key().device_id())
    );
}

#[test]
fn every_tampered_byte_is_refused() {
    let m = MissionFixture::new();
    let device = m.device(Algorithm::Ed25519);
    let bytes = m.issue(&device.public_key(), sensor(), 7);
    for i in 0..bytes.len() {
        for bit in [0x01, 0x80] {
            let mut bad = bytes.clone();
            bad[i] ^= bit;
            assert!(
                m.trust.verify_credential(&bad, at(T0 + 1)).is_err(),
                "byte {i} ^ {bit:#x} accepted"
            );
        }
    }
    assert!(
        m.trust
            .verify_credential(&bytes[..bytes.len() - 1], at(T0 + 1))
            .is_err()
    );
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(
        m.trust.verify_credential(&longer, at(T0 + 1)),
        Err(CredentialError::Decode(DecodeError::Cbor(CborError::new(
            bytes.len(),
            CborErrorKind::TrailingBytes { count: 1 },
            "end of input"
        ))))
    );
}

/// One row per way a credential can fail, each with its own error.
#[test]
fn bad_credential_table() {
    let m = MissionFixture::new();
    let device = m.device(Algorithm::Ed25519);
    let key = device.public_key();
    let good = m.issue(&key, sensor(), 7);
    let now = at(T0 + 1000);

    let stranger = m.device(Algorithm::Ed25519);
    let wrong_issuer = m.credential_for(&key, sensor(), 7).sign(&stranger).unwrap();

    let mut other_mission = m.credential_for(&key, sensor(), 7);
    other_mission.mission = Mission::new("op-southern").unwrap();
    let other_mission = other_mission.sign(&m.authority).unwrap();

    // A signature over the same claims by the right kid but another key: swap the signature.
    let mut forged = good.clone();
    let n = forged.len();
    forged[n - 64..].copy_from_slice(&wrong_issuer[wrong_issuer.len() - 64..]);

    let mut revoked_device = m.trust.clone();
    let delta = RevocationDelta {
        sequence: 1,
        entries: vec![Revocation {
            target: RevocationTarget::Device(key.device_id()),
            reason: RevocationReason::DeviceLost,
            at: at(T0),
        }],
    };
    revoked_device
        .apply_revocation(&delta.sign(&m.authority).unwrap())
        .unwrap();

    let mut revoked_serial = m.trust.clone();
    let delta = RevocationDelta {
        sequence: 2,
        entries: vec![Revocation {
            target: RevocationTarget::Credential {
                issuer: m.authority.public_key().short_id(),
                serial: 7,
            },
            reason: RevocationReason::Superseded,
            at: at(T0),
        }],
    };
    revoked_serial
        .apply_revocation(&delta.sign(&m.authority).unwrap())
        .unwrap();

    let cases: Vec<CredentialCase<'_>> = vec![
        (
            "wrong issuer",
            &m.trust,
            &wrong_issuer,
            now,
            CredentialError::UnknownIssuer(stranger.public_key().short_id()),
        ),
        (
            "forged signature",
            &m.trust,
            &forged,
            now,
            CredentialError::BadSignature {
                issuer: m.authority.public_key().short_id(),
            },
        ),
        (
            "expired",
            &m.trust,
            &good,
            at(T0 + DAY),
            CredentialError::Expired {
                device: key.device_id(),
                serial: 7,
                not_after: at(T0 + DAY),
                now: at(T0 + DAY),
            },
        ),
        (
            "not yet valid",
            &m.trust,
            &good,
            at(T0 - 1),
            CredentialError::NotYetValid {
                device: key.device_id(),
                serial: 7,
                not_before: at(T0),
                now: at(T0 - 1),
            },
        ),
        (
            "revoked device",
            &revoked_device,
            &good,
            now,
            CredentialError::DeviceRevoked(key.device_id()),
        ),
        (
            "revoked credential",
            &revoked_serial,
            &good,
            now,
            CredentialError::CredentialRevoked {
                issuer: m.authority.public_key().short_id(),
                serial: 7,
            },
        ),
        (
            "wrong scope",
            &m.trust,
            &other_mission,
            now,
            CredentialError::WrongMission {
                expected: "op-nordic".into(),
                found: "op-southern".into(),
            },
        ),
        (
            "garbage",
            &m.trust,
            b"\x01\x02",
            now,
            CredentialError::Decode(DecodeError::Cbor(CborError::new(
                0,
                CborErrorKind::UnexpectedType { found: 0 },
                "COSE_Sign1",
            ))),
        ),
    ];
    for (name, store, bytes, now, expected) in cases {
        assert_eq!(store.verify_credential(bytes, now), Err(expected), "{name}");
    }
    assert!(m.trust.verify_credential(&good, now).is_ok());
    let expired = m
        .trust
        .verify_credential(&good, at(T0 + DAY + 1))
        .unwrap_err();
    assert_eq!(
        expired.to_string(),
        format!(
            "credential of device {} (serial 7) expired at 2027-01-16T08:00:00Z; now \
             2027-01-16T08:00:00.001Z",
            key.device_id()
        )
    );
}

#[test]
fn non_canonical_encodings_are_refused() {
    let m = MissionFixture::new();
    let device = m.device(Algorithm::Ed25519);
    let good = m.issue(&device.public_key(), sensor(), 7);
    // The COSE_Sign1 array header 0x84 as the two-byte form 0x98 0x04.
    let mut long_header = vec![0x98, 0x04];
    long_header.extend_from_slice(&good[1..]);
    assert_eq!(
        Unverified::<Credential>::decode(&long_header),
        Err(DecodeError::Cbor(CborError::new(
            0,
            CborErrorKind::NonCanonical,
            "COSE_Sign1"
        )))
    );
    // Indefinite-length array.
    let mut indefinite = vec![0x9f];
    indefinite.extend_from_slice(&good[1..]);
    indefinite.push(0xff);
    assert_eq!(
        Unverified::<Credential>::decode(&indefinite),
        Err(DecodeError::Cbor(CborError::new(
            0,
            CborErrorKind::NonCanonical,
            "COSE_Sign1"
        )))
    );
}

#[test]
fn intermediate_authority_chain() {
    let m = MissionFixture::new();
    let mut trust = m.trust.clone();
    let sub_key = m.device(Algorithm::EcdsaP256);
    let sub = Credential {
        subject: sub_key.public_key(),
        mission: mission(),
        roles: Roles::EMPTY.with(Role::Authority),
        not_before: at(T0),
        not_after: at(T0 + DAY / 2),
        serial: 1000,
    };
    let sub_cred = sub.sign(&m.authority).unwrap();
    let device = m.device(Algorithm::Ed25519);
    let leaf = m
        .credential_for(&device.public_key(), sensor(), 5)
        .sign(&sub_key)
        .unwrap();

    assert_eq!(
        trust.verify_credential(&leaf, at(T0 + 1)),
        Err(CredentialError::UnknownIssuer(
            sub_key.public_key().short_id()
        ))
    );
    assert_eq!(
        trust.add_authority(&sub_cred, at(T0 + 1)),
        Ok(sub_key.public_key().short_id())
    );
    let verified = trust.verify_credential(&leaf, at(T0 + 1)).unwrap();
    assert_eq!(verified.issuer(), sub_key.public_key().short_id());

    // The leaf outlives its authority: refused once the authority expires.
    let err = trust
        .verify_credential(&leaf, at(T0 + DAY / 2))
        .unwrap_err();
    assert!(
        matches!(err, CredentialError::IssuerInvalid { .. }),
        "{err:?}"
    );

    // An authority may not be created from a plain credential.
    let plain_key = m.device(Algorithm::Ed25519).public_key();
    let plain = m.issue(&plain_key, sensor(), 6);
    assert_eq!(
        trust.add_authority(&plain, at(T0 + 1)),
        Err(CredentialError::NotAnAuthority {
            device: plain_key.device_id()
        })
    );
}

#[test]
fn credential_cache_finds_by_kid_and_stays_bounded() {
    let m = MissionFixture::new();
    let mut cache = CredentialCache::new(2);
    let keys: Vec<_> = (0..3).map(|_| m.device(Algorithm::Ed25519)).collect();
    let creds: Vec<_> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| m.issue(&k.public_key(), sensor(), i as u64))
        .collect();
    for c in &creds {
        cache.insert(c).unwrap();
    }
    assert_eq!(cache.len(), 2);
    assert_eq!(cache.get(keys[0].public_key().short_id()), None);
    assert_eq!(
        cache.get(keys[2].public_key().short_id()),
        Some(creds[2].as_slice())
    );
    assert!(cache.insert(b"junk").is_err());
}

#[test]
fn revalidation_sees_expiry_revocation_and_issuer_changes() {
    let m = MissionFixture::new();
    let device = m.device(Algorithm::Ed25519);
    let bytes = m.issue(&device.public_key(), sensor(), 9);
    let verified = m.trust.verify_credential(&bytes, at(T0 + 1)).unwrap();
    assert_eq!(m.trust.revalidate(&verified, at(T0 + 2)), Ok(()));
    assert!(matches!(
        m.trust.revalidate(&verified, at(T0 + DAY)),
        Err(CredentialError::Expired { .. })
    ));

    let mut revoked = m.trust.clone();
    let delta = RevocationDelta {
        sequence: 1,
        entries: vec![Revocation {
            target: RevocationTarget::Device(device.public_key().device_id()),
            reason: RevocationReason::DeviceLost,
            at: at(T0),
        }],
    };
    revoked
        .apply_revocation(&delta.sign(&m.authority).unwrap())
        .unwrap();
    assert_eq!(
        revoked.revalidate(&verified, at(T0 + 2)),
        Err(CredentialError::DeviceRevoked(
            device.public_key().device_id()
        ))
    );

    // Issued by an intermediate authority: revalidation follows the authority's own state.
    let mut trust = m.trust.clone();
    let sub_key = m.device(Algorithm::EcdsaP256);
    let sub = Credential {
        subject: sub_key.public_key(),
        mission: mission(),
        roles: Roles::EMPTY.with(Role::Authority),
        not_before: at(T0),
        not_after: at(T0 + DAY / 2),
        serial: 1000,
    };
    trust
        .add_authority(&sub.sign(&m.authority).unwrap(), at(T0 + 1))
        .unwrap();
    let leaf = m
        .credential_for(&device.public_key(), sensor(), 5)
        .sign(&sub_key)
        .unwrap();
    let verified = trust.verify_credential(&leaf, at(T0 + 1)).unwrap();
    assert_eq!(trust.revalidate(&verified, at(T0 + 1)), Ok(()));
    assert!(matches!(
        trust.revalidate(&verified, at(T0 + DAY / 2)),
        Err(CredentialError::IssuerInvalid { .. })
    ));
    // A store that never accepted the authority does not know the issuer.
    assert_eq!(
        m.trust.revalidate(&verified, at(T0 + 1)),
        Err(CredentialError::UnknownIssuer(
            sub_key.public_key().short_id()
        ))
    );
}
