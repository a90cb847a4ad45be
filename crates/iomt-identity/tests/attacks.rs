//! Regression tests for attacks found in review: each performs the attack through the public API
//! and shows it fail.
//!
//! - A reboot must not re-open rollback to an older trust package, nor forget revocations.
//! - A trust package whose revocations do not fit is refused whole, not merged in part.
//! - The TLS verifiers honour credential revocations (leaf by issuer and serial, every
//!   intermediate), as the compact path does.
//! - Certificate path failures reach rustls, and the peer's alert, as their own typed errors.
//! - Private keys never show in `Debug`.
#![allow(missing_docs, clippy::unwrap_used)]

use core::time::Duration;
use std::sync::{Arc, RwLock};

use iomt_identity::cbor::{CborError, CborErrorKind};
use iomt_identity::tls::{
    DeviceClientVerifier, DeviceServerVerifier, PathError, Refusal, ResultStore,
    RotatingCertResolver, SharedTrust, server_name,
};
use iomt_identity::*;
use iomt_testkit::*;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::ClientCertVerifier;
use rustls::{
    AlertDescription, CertificateError, ClientConfig, ClientConnection, Connection, Error,
    ServerConfig, ServerConnection,
};

// ---------------------------------------------------------------------------------------------
// Trust state across a reboot
// ---------------------------------------------------------------------------------------------

/// A package like the fixture's, at `sequence`.
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

/// What a runtime does across a restart: encode the snapshot, decode it, restore.
fn reboot(m: &MissionFixture, store: &TrustStore) -> TrustStore {
    let stored = store.snapshot().encode();
    let snapshot = TrustSnapshot::decode(&stored, &TrustConfig::default()).unwrap();
    TrustStore::new(
        m.authority.public_key(),
        mission(),
        TrustStart::Restore(snapshot),
    )
    .unwrap()
}

fn revoke(m: &MissionFixture, sequence: u64, target: RevocationTarget) -> Vec<u8> {
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
    let m = MissionFixture::new();
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
    let m = MissionFixture::new();
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
    let m = MissionFixture::new();
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
            RestoreError::Decode(DecodeError::Invalid {
                field: "version",
                offset: 2,
                rule: "1",
            }),
        ),
        (
            "trailing bytes",
            trailing,
            RestoreError::Decode(DecodeError::Cbor(CborError::new(
                good.len(),
                CborErrorKind::TrailingBytes { count: 1 },
                "end of input",
            ))),
        ),
        (
            "non-canonical integer",
            long_revision,
            RestoreError::Decode(DecodeError::Cbor(CborError::new(
                at_revision,
                CborErrorKind::NonCanonical,
                "unsigned integer",
            ))),
        ),
        (
            "empty",
            vec![],
            RestoreError::Decode(DecodeError::Cbor(CborError::new(
                0,
                CborErrorKind::Truncated,
                "trust snapshot",
            ))),
        ),
    ];
    for (name, bytes, expected) in cases {
        assert_eq!(restore(&bytes).map(|_| ()), Err(expected), "{name}");
    }
    for cut in [1, good.len() / 2, good.len() - 1] {
        assert!(
            matches!(
                restore(&good[..cut]),
                Err(RestoreError::Decode(DecodeError::Cbor(e)))
                    if e.kind() == CborErrorKind::Truncated
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
    assert!(matches!(
        TrustSnapshot::decode(&good, &small),
        Err(DecodeError::Cbor(e)) if e.expected() == "revocations"
            && e.kind() == CborErrorKind::TooLarge { found: 1, limit: 0 }
    ));
    let decoded = TrustSnapshot::decode(&good, &config).unwrap();
    assert_eq!(
        TrustStore::with_config(
            m.authority.public_key(),
            mission(),
            small,
            TrustStart::Restore(decoded),
        )
        .map(|_| ()),
        Err(RestoreError::OverLimit {
            field: "revocations",
            found: 1,
            limit: 0
        })
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
    let m = MissionFixture::new();
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

// ---------------------------------------------------------------------------------------------
// TLS: credential revocation and typed path errors
// ---------------------------------------------------------------------------------------------

/// A fixed handshake time (rustls asks its time provider).
#[derive(Debug)]
struct FixedTime(u64);

impl rustls::time_provider::TimeProvider for FixedTime {
    fn current_time(&self) -> Option<UnixTime> {
        Some(UnixTime::since_unix_epoch(Duration::from_millis(self.0)))
    }
}

const NOW: u64 = T0 + 60_000;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A device that presents `chain` (leaf first) signed for by `key`.
fn presenting(chain: Vec<Vec<u8>>, key: Arc<SoftwareKey>) -> Arc<RotatingCertResolver> {
    let resolver = RotatingCertResolver::new();
    resolver.install(chain, key);
    resolver
}

/// The command post's server: attested, its result in its own certificate.
struct Server {
    key: Arc<SoftwareKey>,
    resolver: Arc<RotatingCertResolver>,
}

fn server(m: &MissionFixture) -> Server {
    let key = Arc::new(m.device(Algorithm::Ed25519));
    let (_, result) = m.attest(&key, at(T0), |_| {});
    let credential = m.credential_for(&key.public_key(), Roles::EMPTY.with(Role::CommandPost), 2);
    let cert = m.ca().issue_x509(&credential, Some(&result)).unwrap();
    let resolver = presenting(vec![cert], key.clone());
    Server { key, resolver }
}

/// Handshakes `client` (presenting `client_certs`) with `server` at `NOW`; the server verifies
/// with `trust` and the results in `results`. Returns the server's and the client's outcome,
/// after the failing side's alert reached the other.
fn handshake(
    trust: &SharedTrust,
    results: &Arc<ResultStore>,
    server: &Server,
    client_certs: Arc<RotatingCertResolver>,
) -> (Result<(), Error>, Result<(), Error>) {
    let server_config = ServerConfig::builder_with_details(provider(), Arc::new(FixedTime(NOW)))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_client_cert_verifier(DeviceClientVerifier::new(
            trust.clone(),
            Some(results.clone()),
        ))
        .with_cert_resolver(server.resolver.clone());
    let client_config = ClientConfig::builder_with_details(provider(), Arc::new(FixedTime(NOW)))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(DeviceServerVerifier::new(trust.clone(), None))
        .with_client_cert_resolver(client_certs);
    let name = server_name(server.key.public_key().device_id());
    let mut client =
        Connection::Client(ClientConnection::new(Arc::new(client_config), name).unwrap());
    let mut server = Connection::Server(ServerConnection::new(Arc::new(server_config)).unwrap());
    let (mut server_result, mut client_result) = (Ok(()), Ok(()));
    for _ in 0..16 {
        let sent = transfer(&mut client, &mut server, &mut server_result);
        let answered = transfer(&mut server, &mut client, &mut client_result);
        if !sent && !answered {
            break;
        }
    }
    if server_result.is_ok() && client_result.is_ok() {
        assert!(!client.is_handshaking() && !server.is_handshaking());
    }
    (server_result, client_result)
}

/// Moves what `from` has to send into `to`; returns whether anything moved.
fn transfer(from: &mut Connection, to: &mut Connection, to_result: &mut Result<(), Error>) -> bool {
    let mut buf = Vec::new();
    while from.wants_write() {
        from.write_tls(&mut buf).unwrap();
    }
    if buf.is_empty() {
        return false;
    }
    if to_result.is_ok() {
        to.read_tls(&mut buf.as_slice()).unwrap();
        if let Err(e) = to.process_new_packets() {
            *to_result = Err(e);
        }
    }
    true
}

/// An attested client device whose certificate, from the mission CA, has `serial`.
fn attested_client(
    m: &MissionFixture,
    results: &ResultStore,
    serial: u64,
) -> (Arc<SoftwareKey>, Vec<u8>) {
    let key = Arc::new(m.device(Algorithm::Ed25519));
    let (_, result) = m.attest(&key, at(T0), |_| {});
    results.insert(&key.public_key(), result);
    let credential = m.credential_for(&key.public_key(), Roles::EMPTY.with(Role::Operator), serial);
    (key, m.ca().issue_x509(&credential, None).unwrap())
}

fn revoked_by(trust: &SharedTrust, m: &MissionFixture, target: RevocationTarget) {
    trust
        .write()
        .unwrap()
        .apply_revocation(&revoke(m, 1, target))
        .unwrap();
}

/// Attack: a device whose credential (not its key) was revoked presents the certificate twin
/// of that credential over TLS. Refused as revoked, as the compact credential is.
#[test]
fn tls_refuses_a_leaf_revoked_by_issuer_and_serial() {
    let m = MissionFixture::new();
    let results = Arc::new(ResultStore::default());
    let server = server(&m);
    let (key, cert) = attested_client(&m, &results, 7);
    let compact = m.issue(&key.public_key(), Roles::EMPTY.with(Role::Operator), 7);

    let trust: SharedTrust = Arc::new(RwLock::new(m.trust.clone()));
    let (s, c) = handshake(
        &trust,
        &results,
        &server,
        presenting(vec![cert.clone()], key.clone()),
    );
    assert_eq!((s, c), (Ok(()), Ok(())), "accepted before the revocation");

    let issuer = m.authority.public_key().short_id();
    revoked_by(
        &trust,
        &m,
        RevocationTarget::Credential { issuer, serial: 7 },
    );
    let (s, c) = handshake(
        &trust,
        &results,
        &server,
        presenting(vec![cert.clone()], key),
    );
    assert_eq!(s, Err(Error::InvalidCertificate(CertificateError::Revoked)));
    assert_eq!(
        c,
        Err(Error::AlertReceived(AlertDescription::CertificateRevoked))
    );
    assert_eq!(
        trust.read().unwrap().verify_credential(&compact, at(NOW)),
        Err(CredentialError::CredentialRevoked { issuer, serial: 7 })
    );
}

/// A mission hierarchy built with `rcgen` (the crate's authority issues no intermediates): a
/// root, an intermediate authority under it, and a device leaf under the intermediate.
struct Hierarchy {
    root: SoftwareKey,
    root_der: Vec<u8>,
    intermediate: SoftwareKey,
    intermediate_der: Vec<u8>,
    device: Arc<SoftwareKey>,
    leaf_der: Vec<u8>,
}

fn rcgen_key(key: &SoftwareKey) -> rcgen::KeyPair {
    rcgen::KeyPair::try_from(key.to_pkcs8().as_slice()).unwrap()
}

fn datetime(ms: u64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(i64::try_from(ms / 1000).unwrap()).unwrap()
}

fn ca_params(name: &str, serial: u8) -> rcgen::CertificateParams {
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = datetime(T0 - DAY);
    params.not_after = datetime(T0 + 30 * DAY);
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&[serial]));
    params
}

fn leaf_params(
    device: &PublicKey,
    usages: Vec<rcgen::ExtendedKeyUsagePurpose>,
) -> rcgen::CertificateParams {
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, device.device_id().to_string());
    params.subject_alt_names = vec![rcgen::SanType::URI(
        x509::device_uri(&mission(), device.device_id())
            .try_into()
            .unwrap(),
    )];
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = usages;
    params.not_before = datetime(T0);
    params.not_after = datetime(T0 + DAY);
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&[9]));
    params
}

fn hierarchy(m: &MissionFixture, intermediate_serial: u8) -> Hierarchy {
    let root = m.device(Algorithm::Ed25519);
    let root_params = ca_params("theatre root", 1);
    let root_der = root_params
        .self_signed(&rcgen_key(&root))
        .unwrap()
        .der()
        .to_vec();
    let root_issuer = rcgen::Issuer::new(root_params, rcgen_key(&root));
    let intermediate = m.device(Algorithm::EcdsaP256);
    let intermediate_params = ca_params("brigade authority", intermediate_serial);
    let intermediate_der = intermediate_params
        .signed_by(&rcgen_key(&intermediate), &root_issuer)
        .unwrap()
        .der()
        .to_vec();
    let intermediate_issuer = rcgen::Issuer::new(intermediate_params, rcgen_key(&intermediate));
    let device = Arc::new(m.device(Algorithm::Ed25519));
    let leaf_der = leaf_params(
        &device.public_key(),
        vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ],
    )
    .signed_by(&rcgen_key(&device), &intermediate_issuer)
    .unwrap()
    .der()
    .to_vec();
    Hierarchy {
        root,
        root_der,
        intermediate,
        intermediate_der,
        device,
        leaf_der,
    }
}

/// The fixture's store with a package that also anchors `root_der`.
fn trusting(m: &MissionFixture, root_der: &[u8]) -> SharedTrust {
    let mut store = m.trust.clone();
    let mut p = package(m, 2);
    p.x509_roots.push(root_der.to_vec());
    store.apply_package(&p.sign(&m.authority).unwrap()).unwrap();
    Arc::new(RwLock::new(store))
}

/// Attack: a device presents a valid chain through an intermediate authority that has been
/// revoked, by its credential (root key id, serial) or by its key's DeviceId. Refused as
/// revoked; a re-issued intermediate (same key, new serial) gives a path again.
#[test]
fn tls_refuses_a_chain_through_a_revoked_intermediate() {
    let m = MissionFixture::new();
    let h = hierarchy(&m, 0x42);
    let results = Arc::new(ResultStore::default());
    let (_, result) = m.attest(&h.device, at(T0), |_| {});
    results.insert(&h.device.public_key(), result);
    let server = server(&m);
    let chain = vec![h.leaf_der.clone(), h.intermediate_der.clone()];

    let trust = trusting(&m, &h.root_der);
    let (s, c) = handshake(
        &trust,
        &results,
        &server,
        presenting(chain.clone(), h.device.clone()),
    );
    assert_eq!(
        (s, c),
        (Ok(()), Ok(())),
        "the chain is valid before the revocation"
    );

    let by_credential = RevocationTarget::Credential {
        issuer: h.root.public_key().short_id(),
        serial: 0x42,
    };
    let by_device = RevocationTarget::Device(h.intermediate.public_key().device_id());
    for target in [by_credential, by_device] {
        let trust = trusting(&m, &h.root_der);
        revoked_by(&trust, &m, target);
        let (s, c) = handshake(
            &trust,
            &results,
            &server,
            presenting(chain.clone(), h.device.clone()),
        );
        assert_eq!(
            s,
            Err(Error::InvalidCertificate(CertificateError::Revoked)),
            "{target:?}"
        );
        assert_eq!(
            c,
            Err(Error::AlertReceived(AlertDescription::CertificateRevoked))
        );
    }

    // The same refusal through the verifier API, without a handshake.
    let trust = trusting(&m, &h.root_der);
    revoked_by(&trust, &m, by_credential);
    let verifier = DeviceClientVerifier::new(trust.clone(), Some(results.clone()));
    let now = UnixTime::since_unix_epoch(Duration::from_millis(NOW));
    assert_eq!(
        verifier
            .verify_client_cert(
                &CertificateDer::from(h.leaf_der.as_slice()),
                &[CertificateDer::from(h.intermediate_der.as_slice())],
                now,
            )
            .map(|_| ()),
        Err(Error::InvalidCertificate(CertificateError::Revoked))
    );

    // The authority's intermediate re-issued under a new serial: presented next to the revoked
    // one, path building moves on to it and the device is accepted.
    let root_issuer = rcgen::Issuer::new(ca_params("theatre root", 1), rcgen_key(&h.root));
    let reissued = ca_params("brigade authority", 0x43)
        .signed_by(&rcgen_key(&h.intermediate), &root_issuer)
        .unwrap()
        .der()
        .to_vec();
    let (s, c) = handshake(
        &trust,
        &results,
        &server,
        presenting(
            vec![h.leaf_der.clone(), h.intermediate_der.clone(), reissued],
            h.device.clone(),
        ),
    );
    assert_eq!((s, c), (Ok(()), Ok(())));
}

/// Attack surface: certificates that fail path validation in each way webpki reports. The
/// server gets rustls' own typed error (not a string), and the client the matching alert.
#[test]
fn tls_path_failures_are_typed_and_alert_the_peer() {
    let m = MissionFixture::new();
    let results = Arc::new(ResultStore::default());
    let server = server(&m);
    let h = hierarchy(&m, 0x42);
    let trust = trusting(&m, &h.root_der);
    let secs = |ms: u64| UnixTime::since_unix_epoch(Duration::from_secs(ms / 1000));
    let key = Arc::new(m.device(Algorithm::Ed25519));
    let dated = |not_before: u64, not_after: u64| {
        let mut credential =
            m.credential_for(&key.public_key(), Roles::EMPTY.with(Role::Operator), 3);
        credential.not_before = at(not_before);
        credential.not_after = at(not_after);
        m.ca().issue_x509(&credential, None).unwrap()
    };
    let mut forged = m
        .ca()
        .issue_x509(
            &m.credential_for(&key.public_key(), Roles::EMPTY.with(Role::Operator), 3),
            None,
        )
        .unwrap();
    *forged.last_mut().unwrap() ^= 0x01;
    let stranger_ca = CertificateAuthority::new(
        SoftwareKey::from_ed25519_seed(&[9; 32]).unwrap(),
        "another authority",
        at(T0 - DAY),
        at(T0 + DAY),
    )
    .unwrap();
    let stranger = stranger_ca
        .issue_x509(
            &m.credential_for(&key.public_key(), Roles::EMPTY.with(Role::Operator), 3),
            None,
        )
        .unwrap();
    let root_issuer = rcgen::Issuer::new(ca_params("theatre root", 1), rcgen_key(&h.root));
    let server_only = leaf_params(
        &key.public_key(),
        vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth],
    )
    .signed_by(&rcgen_key(&key), &root_issuer)
    .unwrap()
    .der()
    .to_vec();
    let authority = m.authority.clone();

    let cases: Vec<(&str, Vec<u8>, CertificateError, AlertDescription)> = vec![
        (
            "expired",
            dated(T0 - 2 * DAY, T0 - DAY),
            CertificateError::ExpiredContext {
                time: secs(NOW),
                not_after: secs(T0 - DAY),
            },
            AlertDescription::CertificateExpired,
        ),
        (
            "not valid yet",
            dated(T0 + DAY, T0 + 2 * DAY),
            CertificateError::NotValidYetContext {
                time: secs(NOW),
                not_before: secs(T0 + DAY),
            },
            AlertDescription::CertificateExpired,
        ),
        (
            "bad signature",
            forged,
            CertificateError::BadSignature,
            AlertDescription::DecryptError,
        ),
        (
            "unknown issuer",
            stranger,
            CertificateError::UnknownIssuer,
            AlertDescription::UnknownCA,
        ),
        (
            "not for client authentication",
            server_only,
            CertificateError::InvalidPurpose,
            AlertDescription::UnsupportedCertificate,
        ),
    ];
    for (name, cert, expected, alert) in cases {
        let (s, c) = handshake(
            &trust,
            &results,
            &server,
            presenting(vec![cert], key.clone()),
        );
        assert_eq!(s, Err(Error::InvalidCertificate(expected)), "{name}");
        assert_eq!(c, Err(Error::AlertReceived(alert)), "{name}");
    }

    // A cause rustls has no variant for stays typed inside `Other`.
    let (s, c) = handshake(
        &trust,
        &results,
        &server,
        presenting(vec![m.ca().certificate_der().to_vec()], authority),
    );
    let Err(Error::InvalidCertificate(CertificateError::Other(other))) = s else {
        panic!("{s:?}");
    };
    assert_eq!(
        other.0.downcast_ref::<Refusal>(),
        Some(&Refusal::Path(PathError::CaUsedAsEndEntity))
    );
    assert_eq!(
        c,
        Err(Error::AlertReceived(AlertDescription::CertificateUnknown))
    );
}

// ---------------------------------------------------------------------------------------------
// Key material
// ---------------------------------------------------------------------------------------------

/// Generated keys: the private half never shows in `Debug`, and the PKCS#8 document handed out
/// (zeroized when dropped) loads back into the same key.
#[test]
fn private_keys_stay_out_of_debug() {
    let rng = ring::rand::SystemRandom::new();
    for alg in [Algorithm::Ed25519, Algorithm::EcdsaP256] {
        let key = SoftwareKey::generate(alg, &rng).unwrap();
        let pkcs8: zeroize::Zeroizing<Vec<u8>> = key.to_pkcs8();
        let private = match alg {
            // RFC 8410 v1: a 16-byte prefix, then the seed.
            Algorithm::Ed25519 => {
                assert_eq!(pkcs8.len(), 48);
                pkcs8[16..].to_vec()
            }
            // RFC 5915 ECPrivateKey inside: version 1, then the 32-byte private key.
            _ => {
                let at = pkcs8
                    .windows(5)
                    .position(|w| w == [0x02, 0x01, 0x01, 0x04, 0x20])
                    .unwrap();
                pkcs8[at + 5..at + 37].to_vec()
            }
        };
        let tls = iomt_identity::tls::TlsSigningKey::new(Arc::new(
            SoftwareKey::from_pkcs8(&pkcs8).unwrap(),
        ));
        let shown = format!("{key:?} {tls:?}");
        assert!(!shown.contains(&hex_string(&private)), "{alg:?}: {shown}");
        let reloaded = SoftwareKey::from_pkcs8(&pkcs8).unwrap();
        assert_eq!(reloaded.public_key(), key.public_key());
    }
}
