//! TLS 1.3 backhaul between devices, in memory: the project's rustls configurations with
//! mutual authentication through `iomt-identity`, then post-handshake attestation bound to
//! the session by its exporter.
#![cfg(feature = "rustls")]
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use iomt_identity::tls::{Refusal as TlsRefusal, RotatingCertResolver};
use iomt_identity::{Algorithm, AppraisalConfig, AttestationVerifier, Nonce};
use iomt_schema::Timestamp;
use iomt_testkit::*;
use iomt_transport::post_handshake::{AttestError, Attested, Verdict};
use iomt_transport::tls::{TlsBinding, client_config, peer_key, server_config, server_name};
use iomt_transport::{Attester, BackhaulPolicy, PostHandshakeAttester, PostHandshakeVerifier};
use rustls::pki_types::UnixTime;
use rustls::{CertificateError, ClientConnection, Error, ServerConnection};

/// rustls' clock for these handshakes: a fixed time inside every validity window.
#[derive(Debug)]
pub struct FixedTime(pub u64);

impl rustls::time_provider::TimeProvider for FixedTime {
    fn current_time(&self) -> Option<UnixTime> {
        Some(UnixTime::since_unix_epoch(
            std::time::Duration::from_millis(self.0),
        ))
    }
}

fn resolver(device: &TestDevice) -> Arc<RotatingCertResolver> {
    let r = RotatingCertResolver::new();
    r.install(vec![device.certificate.clone()], device.key.clone());
    r
}

struct Pair {
    client: ClientConnection,
    server: ServerConnection,
    /// TLS bytes on the wire, both ways.
    bytes: usize,
}

/// Runs the handshake in memory. The server is `server` (for the name the client asks for).
fn connect(
    f: &MissionFixture,
    client: &TestDevice,
    server: &TestDevice,
    client_cert: Option<Arc<RotatingCertResolver>>,
) -> (Pair, Result<(), Error>, Result<(), Error>) {
    let time = Arc::new(FixedTime(T0 + 60_000));
    let client_config = client_config(
        f.store(),
        None,
        client_cert.unwrap_or_else(|| resolver(client)),
        time.clone(),
    )
    .unwrap();
    let server_config = server_config(f.store(), None, resolver(server), time).unwrap();
    let mut pair = Pair {
        client: ClientConnection::new(
            client_config,
            server_name(server.key.public_key().device_id()),
        )
        .unwrap(),
        server: ServerConnection::new(server_config).unwrap(),
        bytes: 0,
    };
    let (mut c_result, mut s_result) = (Ok(()), Ok(()));
    for _ in 0..10 {
        pair.bytes += pump_to_server(&mut pair, &mut s_result);
        pair.bytes += pump_to_client(&mut pair, &mut c_result);
        if c_result.is_err() || s_result.is_err() {
            // Deliver the alert that explains the failure.
            pair.bytes += pump_to_server(&mut pair, &mut s_result);
            pair.bytes += pump_to_client(&mut pair, &mut c_result);
            break;
        }
        if !pair.client.is_handshaking() && !pair.server.is_handshaking() {
            break;
        }
    }
    (pair, c_result, s_result)
}

fn pump_to_server(pair: &mut Pair, result: &mut Result<(), Error>) -> usize {
    let mut buf = Vec::new();
    while pair.client.wants_write() {
        pair.client.write_tls(&mut buf).unwrap();
    }
    if !buf.is_empty() && result.is_ok() {
        pair.server.read_tls(&mut buf.as_slice()).unwrap();
        if let Err(e) = pair.server.process_new_packets() {
            *result = Err(e);
        }
    }
    buf.len()
}

fn pump_to_client(pair: &mut Pair, result: &mut Result<(), Error>) -> usize {
    let mut buf = Vec::new();
    while pair.server.wants_write() {
        pair.server.write_tls(&mut buf).unwrap();
    }
    if !buf.is_empty() && result.is_ok() {
        pair.client.read_tls(&mut buf.as_slice()).unwrap();
        if let Err(e) = pair.client.process_new_packets() {
            *result = Err(e);
        }
    }
    buf.len()
}

fn refusal(e: &Error) -> Option<TlsRefusal> {
    match e {
        Error::InvalidCertificate(CertificateError::Other(other)) => {
            other.0.downcast_ref::<TlsRefusal>().cloned()
        }
        _ => None,
    }
}

#[test]
fn devices_authenticate_each_other_and_share_a_binding() {
    let f = MissionFixture::new();
    for alg in [Algorithm::Ed25519, Algorithm::EcdsaP256] {
        let device = f.enrol(alg, 3_600_000);
        let post = f.enrol(alg, 3_600_000);
        let (pair, c, s) = connect(&f, &device, &post, None);
        c.unwrap();
        s.unwrap();
        assert_eq!(
            pair.client.protocol_version(),
            Some(rustls::ProtocolVersion::TLSv1_3)
        );
        assert_eq!(peer_key(&pair.server), Some(device.key.public_key()));
        assert_eq!(peer_key(&pair.client), Some(post.key.public_key()));
        let a = TlsBinding::from_connection(&pair.client).unwrap();
        let b = TlsBinding::from_connection(&pair.server).unwrap();
        assert_eq!(a, b, "both ends export the same binding");
        println!(
            "{alg:?}: {} bytes for a mutual TLS 1.3 handshake",
            pair.bytes
        );
    }
}

#[test]
fn no_session_is_resumed() {
    let f = MissionFixture::new();
    let device = f.enrol(Algorithm::Ed25519, 3_600_000);
    let post = f.enrol(Algorithm::Ed25519, 3_600_000);
    let (pair, c, s) = connect(&f, &device, &post, None);
    c.unwrap();
    s.unwrap();
    // No NewSessionTicket was sent: nothing beyond the handshake flights is left to read.
    assert!(!pair.server.wants_write());
    assert_eq!(
        pair.client.handshake_kind(),
        Some(rustls::HandshakeKind::Full)
    );
}

#[test]
fn clients_without_a_valid_certificate_are_refused() {
    let f = MissionFixture::new();
    let device = f.enrol(Algorithm::Ed25519, 3_600_000);
    let post = f.enrol(Algorithm::Ed25519, 3_600_000);

    // No certificate at all.
    let (_, _, s) = connect(&f, &device, &post, Some(RotatingCertResolver::new()));
    assert_eq!(s, Err(Error::NoCertificatesPresented));

    // A certificate from another authority.
    let rogue = MissionFixture::new();
    let stranger = rogue.enrol(Algorithm::Ed25519, 3_600_000);
    let (_, _, s) = connect(&f, &stranger, &post, None);
    assert!(
        matches!(
            s,
            Err(Error::InvalidCertificate(CertificateError::BadSignature))
        ),
        "{s:?}"
    );

    // A certificate whose attestation result is contraindicated.
    let bad = f.enrol(Algorithm::Ed25519, 3_600_000);
    let claims = iomt_identity::Credential {
        subject: bad.key.public_key(),
        mission: mission(),
        roles: iomt_identity::Roles::EMPTY,
        not_before: at(T0 - 1000),
        not_after: at(T0 + DAY),
        serial: 99,
    };
    let result = f.result(
        &bad.key.public_key(),
        iomt_identity::Tier::Contraindicated,
        at(T0 + 3_600_000),
    );
    let cert = f.ca().issue_x509(&claims, Some(&result)).unwrap();
    let resolver = RotatingCertResolver::new();
    resolver.install(vec![cert], bad.key.clone());
    let (_, _, s) = connect(&f, &bad, &post, Some(resolver));
    assert!(
        matches!(
            refusal(s.as_ref().unwrap_err()),
            Some(TlsRefusal::Attestation(_))
        ),
        "{s:?}"
    );

    // A server that is not the device the client asked for.
    let other = f.enrol(Algorithm::Ed25519, 3_600_000);
    let time = Arc::new(FixedTime(T0 + 60_000));
    let config = client_config(f.store(), None, resolver_for(&device), time.clone()).unwrap();
    let mut client =
        ClientConnection::new(config, server_name(other.key.public_key().device_id())).unwrap();
    let mut server =
        ServerConnection::new(server_config(f.store(), None, resolver_for(&post), time).unwrap())
            .unwrap();
    let mut buf = Vec::new();
    client.write_tls(&mut buf).unwrap();
    server.read_tls(&mut buf.as_slice()).unwrap();
    server.process_new_packets().unwrap();
    let mut buf = Vec::new();
    while server.wants_write() {
        server.write_tls(&mut buf).unwrap();
    }
    client.read_tls(&mut buf.as_slice()).unwrap();
    let e = client.process_new_packets().unwrap_err();
    assert!(
        matches!(refusal(&e), Some(TlsRefusal::WrongServer { .. })),
        "{e:?}"
    );
}

fn resolver_for(device: &TestDevice) -> Arc<RotatingCertResolver> {
    resolver(device)
}

/// What the server and the client made of the exchange, if it ended.
type Outcomes = (
    Option<Result<Attested, AttestError>>,
    Option<Result<(), AttestError>>,
);

/// Moves post-handshake attestation messages through the TLS sessions of `pair`.
fn attest(
    pair: &mut Pair,
    server: &mut PostHandshakeVerifier,
    client: &mut PostHandshakeAttester,
    now: Timestamp,
) -> Outcomes {
    use std::io::{Read, Write};
    let (mut s_out, mut c_out) = (None, None);
    for _ in 0..10 {
        let mut out = Vec::new();
        if server.poll_transmit(&mut out).is_some() {
            pair.server.writer().write_all(&out).unwrap();
        }
        let mut ok = Ok(());
        pump_to_client(pair, &mut ok);
        ok.unwrap();
        let mut plain = Vec::new();
        let _ = pair.client.reader().read_to_end(&mut plain);
        if !plain.is_empty() && c_out.is_none() {
            match client.handle_input(now, &plain) {
                Ok(p) if p.done.is_some() => c_out = Some(Ok(())),
                Ok(_) => {}
                Err(e) => c_out = Some(Err(e)),
            }
        }
        let mut out = Vec::new();
        if client.poll_transmit(&mut out).is_some() {
            pair.client.writer().write_all(&out).unwrap();
        }
        let mut ok = Ok(());
        pump_to_server(pair, &mut ok);
        ok.unwrap();
        let mut plain = Vec::new();
        let _ = pair.server.reader().read_to_end(&mut plain);
        if !plain.is_empty() && s_out.is_none() {
            match server.handle_input(now, &plain) {
                Ok(p) => s_out = p.done.map(Ok),
                Err(e) => s_out = Some(Err(e)),
            }
        }
        if s_out.is_some() && c_out.is_some() {
            break;
        }
    }
    (s_out, c_out)
}

fn honest(device: &TestDevice) -> Arc<dyn Attester> {
    let key = device.key.clone();
    Arc::new(move |nonce: &Nonce, now: Timestamp| Some(evidence(&key, nonce, now)))
}

#[test]
fn post_handshake_attestation_is_bound_to_the_session() {
    let f = MissionFixture::new();
    let device = f.enrol(Algorithm::EcdsaP256, 3_600_000);
    let post = f.enrol(Algorithm::Ed25519, 3_600_000);
    let now = at(T0 + 60_000);
    let verifier = || AttestationVerifier::new(f.verifier_key.clone(), AppraisalConfig::default());
    let policy = Arc::new(BackhaulPolicy::new(f.store()).require_fresh_evidence(verifier()));

    let (mut pair, c, s) = connect(&f, &device, &post, None);
    c.unwrap();
    s.unwrap();
    let server_binding = TlsBinding::from_connection(&pair.server).unwrap();
    let client_binding = TlsBinding::from_connection(&pair.client).unwrap();
    let mut server = PostHandshakeVerifier::new(
        &server_binding,
        peer_key(&pair.server).unwrap(),
        policy.clone(),
        now,
        &ring::rand::SystemRandom::new(),
    )
    .unwrap();
    let mut client = PostHandshakeAttester::new(
        &client_binding,
        device.result.clone(),
        Some(honest(&device)),
    )
    .unwrap();
    let (s, c) = attest(&mut pair, &mut server, &mut client, now);
    let attested = s.unwrap().unwrap();
    assert!(attested.fresh_evidence);
    assert_eq!(attested.result.key(), &device.key.public_key());
    assert_eq!(c, Some(Ok(())));

    // A second session: evidence bound to the first session's binding is refused.
    let (mut second, c, s) = connect(&f, &device, &post, None);
    c.unwrap();
    s.unwrap();
    let binding = TlsBinding::from_connection(&second.server).unwrap();
    assert_ne!(binding, server_binding, "each session has its own binding");
    let mut server = PostHandshakeVerifier::new(
        &binding,
        peer_key(&second.server).unwrap(),
        policy,
        now,
        &ring::rand::SystemRandom::new(),
    )
    .unwrap();
    let mut replaying = PostHandshakeAttester::new(
        &client_binding,
        device.result.clone(),
        Some(honest(&device)),
    )
    .unwrap();
    let (s, c) = attest(&mut second, &mut server, &mut replaying, now);
    assert_eq!(
        s,
        Some(Err(AttestError::Appraisal(
            iomt_identity::AppraisalError::NonceMismatch
        )))
    );
    assert_eq!(c, Some(Err(AttestError::Refused(Verdict::Refused))));
}
