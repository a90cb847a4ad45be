//! In-memory rustls handshakes between devices: an attested device connects; an unattested,
//! revoked or contraindicated one is refused.
#![allow(missing_docs, clippy::unwrap_used)]

use std::sync::{Arc, RwLock};

use iomt_identity::tls::{
    DeviceClientVerifier, DeviceServerVerifier, Refusal, ResultStore, RotatingCertResolver,
    SharedTrust, server_name,
};
use iomt_identity::*;
use iomt_testkit::*;
use rustls::pki_types::UnixTime;
use rustls::{
    CertificateError, ClientConfig, ClientConnection, Error, ServerConfig, ServerConnection,
};

/// A fixed handshake time inside every validity window (rustls asks its time provider).
#[derive(Debug)]
struct FixedTime(u64);

impl rustls::time_provider::TimeProvider for FixedTime {
    fn current_time(&self) -> Option<UnixTime> {
        Some(UnixTime::since_unix_epoch(
            core::time::Duration::from_millis(self.0),
        ))
    }
}

struct Device {
    key: Arc<SoftwareKey>,
    resolver: Arc<RotatingCertResolver>,
}

fn device(m: &MissionFixture, alg: Algorithm, result: Option<&[u8]>) -> Device {
    let key = Arc::new(m.device(alg));
    let credential = m.credential_for(&key.public_key(), Roles::EMPTY.with(Role::Operator), 1);
    let cert = m.ca().issue_x509(&credential, result).unwrap();
    let resolver = RotatingCertResolver::new();
    resolver.install(vec![cert], key.clone());
    Device { key, resolver }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn server_config(
    trust: &SharedTrust,
    results: Arc<ResultStore>,
    me: &Device,
    now: u64,
) -> Arc<ServerConfig> {
    Arc::new(
        ServerConfig::builder_with_details(provider(), Arc::new(FixedTime(now)))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_client_cert_verifier(DeviceClientVerifier::new(trust.clone(), Some(results)))
            .with_cert_resolver(me.resolver.clone()),
    )
}

fn client_config(trust: &SharedTrust, me: &Device, now: u64) -> Arc<ClientConfig> {
    Arc::new(
        ClientConfig::builder_with_details(provider(), Arc::new(FixedTime(now)))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(DeviceServerVerifier::new(trust.clone(), None))
            .with_client_cert_resolver(me.resolver.clone()),
    )
}

/// Runs a handshake in memory; returns the server's and the client's outcome.
fn handshake(
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
    server_device: &Device,
) -> (Result<(), Error>, Result<(), Error>) {
    let name = server_name(server_device.key.public_key().device_id());
    let mut c = ClientConnection::new(client, name).unwrap();
    let mut s = ServerConnection::new(server).unwrap();
    let (mut server_result, mut client_result) = (Ok(()), Ok(()));
    for _ in 0..10 {
        let mut buf = Vec::new();
        while c.wants_write() {
            c.write_tls(&mut buf).unwrap();
        }
        if !buf.is_empty() {
            s.read_tls(&mut buf.as_slice()).unwrap();
            if let Err(e) = s.process_new_packets() {
                server_result = Err(e);
            }
        }
        let mut buf = Vec::new();
        while s.wants_write() {
            s.write_tls(&mut buf).unwrap();
        }
        if !buf.is_empty() {
            c.read_tls(&mut buf.as_slice()).unwrap();
            if let Err(e) = c.process_new_packets() {
                client_result = Err(e);
            }
        }
        if server_result.is_err()
            || client_result.is_err()
            || (!c.is_handshaking() && !s.is_handshaking())
        {
            break;
        }
    }
    if server_result.is_ok() && client_result.is_ok() {
        assert!(
            !c.is_handshaking() && !s.is_handshaking(),
            "handshake did not finish"
        );
    }
    (server_result, client_result)
}

fn refusal(e: &Error) -> Option<Refusal> {
    match e {
        Error::InvalidCertificate(CertificateError::Other(other)) => {
            other.0.downcast_ref::<Refusal>().cloned()
        }
        _ => None,
    }
}

#[test]
fn attested_devices_connect_and_the_others_are_refused() {
    let m = MissionFixture::new();
    let now = T0 + 60_000;
    let trust: SharedTrust = Arc::new(RwLock::new(m.trust.clone()));
    let results = Arc::new(ResultStore::default());

    // The command post's server: attested, its result carried in its own certificate.
    let cp_key = m.device(Algorithm::Ed25519);
    let (_, cp_result) = m.attest(&cp_key, at(T0), |_| {});
    let cp_key = Arc::new(cp_key);
    let cp_cert = m
        .ca()
        .issue_x509(
            &m.credential_for(
                &cp_key.public_key(),
                Roles::EMPTY.with(Role::CommandPost),
                2,
            ),
            Some(&cp_result),
        )
        .unwrap();
    let cp = Device {
        key: cp_key.clone(),
        resolver: RotatingCertResolver::new(),
    };
    cp.resolver.install(vec![cp_cert], cp_key);

    // 1. An attested device (result in its certificate, P-256) connects.
    let attested_key = m.device(Algorithm::EcdsaP256);
    let (_, result) = m.attest(&attested_key, at(T0), |_| {});
    let attested = device_with_key(&m, attested_key, Some(&result));
    let (s, c) = handshake(
        server_config(&trust, results.clone(), &cp, now),
        client_config(&trust, &attested, now),
        &cp,
    );
    assert_eq!((s, c), (Ok(()), Ok(())));

    // 1b. An attested device whose result the application holds (not in the certificate).
    let side_key = m.device(Algorithm::Ed25519);
    let (_, side_result) = m.attest(&side_key, at(T0), |_| {});
    results.insert(&side_key.public_key(), side_result);
    let side = device_with_key(&m, side_key, None);
    let (s, c) = handshake(
        server_config(&trust, results.clone(), &cp, now),
        client_config(&trust, &side, now),
        &cp,
    );
    assert_eq!((s, c), (Ok(()), Ok(())));

    // 2. Unattested: no result anywhere.
    let unattested = device(&m, Algorithm::Ed25519, None);
    let (s, _) = handshake(
        server_config(&trust, results.clone(), &cp, now),
        client_config(&trust, &unattested, now),
        &cp,
    );
    assert_eq!(refusal(&s.unwrap_err()), Some(Refusal::Unattested));

    // 3. Contraindicated: its firmware digest changed.
    let bad_key = m.device(Algorithm::Ed25519);
    let (_, bad_result) = m.attest(&bad_key, at(T0), |e| {
        e.measurements[2] = Measurement::of(2, "app", b"implant")
    });
    let contraindicated = device_with_key(&m, bad_key, Some(&bad_result));
    let (s, _) = handshake(
        server_config(&trust, results.clone(), &cp, now),
        client_config(&trust, &contraindicated, now),
        &cp,
    );
    assert_eq!(
        refusal(&s.unwrap_err()),
        Some(Refusal::Attestation(ResultError::NotAffirming(
            Tier::Contraindicated
        )))
    );

    // 4. Revoked: the attested device from case 1, after a revocation delta arrives.
    let delta = RevocationDelta {
        sequence: 1,
        entries: vec![Revocation {
            target: RevocationTarget::Device(attested.key.public_key().device_id()),
            reason: RevocationReason::DeviceLost,
            at: at(T0),
        }],
    };
    trust
        .write()
        .unwrap()
        .apply_revocation(&delta.sign(&m.authority).unwrap())
        .unwrap();
    let (s, _) = handshake(
        server_config(&trust, results.clone(), &cp, now),
        client_config(&trust, &attested, now),
        &cp,
    );
    assert_eq!(
        s.unwrap_err(),
        Error::InvalidCertificate(CertificateError::Revoked)
    );

    // 5. Expired results are refused as well (after their 15 minutes): here the client
    // refuses the command post first, whose own result has expired.
    let late = T0 + 16 * 60_000;
    let (_, c) = handshake(
        server_config(&trust, results.clone(), &cp, late),
        client_config(&trust, &side, late),
        &cp,
    );
    assert!(matches!(
        refusal(&c.unwrap_err()),
        Some(Refusal::Attestation(ResultError::Expired { .. }))
    ));

    // 6. The client refuses a server that is not the device it asked for.
    let client_side = DeviceServerVerifier::new(trust.clone(), Some(results.clone()));
    let config = Arc::new(
        ClientConfig::builder_with_details(provider(), Arc::new(FixedTime(now)))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(client_side)
            .with_client_cert_resolver(cp.resolver.clone()),
    );
    let (_, c) = handshake(
        server_config(&trust, results.clone(), &side, now),
        config,
        &cp,
    );
    assert!(matches!(
        refusal(&c.unwrap_err()),
        Some(Refusal::WrongServer { .. })
    ));
}

fn device_with_key(m: &MissionFixture, key: SoftwareKey, result: Option<&[u8]>) -> Device {
    let key = Arc::new(key);
    let credential = m.credential_for(&key.public_key(), Roles::EMPTY.with(Role::Operator), 1);
    let cert = m.ca().issue_x509(&credential, result).unwrap();
    let resolver = RotatingCertResolver::new();
    resolver.install(vec![cert], key.clone());
    Device { key, resolver }
}

#[test]
fn resolver_rotates_certificates() {
    use rustls::client::ResolvesClientCert;
    let m = MissionFixture::new();
    let d = device(&m, Algorithm::Ed25519, None);
    let first = d
        .resolver
        .resolve(&[], &[rustls::SignatureScheme::ED25519])
        .unwrap();
    let credential = m.credential_for(&d.key.public_key(), Roles::EMPTY.with(Role::Operator), 2);
    d.resolver.install(
        vec![m.ca().issue_x509(&credential, None).unwrap()],
        d.key.clone(),
    );
    let second = d
        .resolver
        .resolve(&[], &[rustls::SignatureScheme::ED25519])
        .unwrap();
    assert_ne!(first.cert, second.cert);
    assert!(d.resolver.has_certs());
    d.resolver.clear();
    assert!(!d.resolver.has_certs());
}
