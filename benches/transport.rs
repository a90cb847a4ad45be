//! Secure-session benches, the peers in the same run so the figures are ratios.
//!
//! - `transport/handshake/*`: one complete mutually authenticated handshake, both sides
//!   in-process, credential verification included, Ed25519 everywhere.
//!   - `iomt_edhoc_kid`, `iomt_edhoc_by_value`: two `Endpoint`s with `IdentityCredentials`
//!     run EDHOC method 0, suite 4 (X25519, Ed25519, ChaCha20-Poly1305) through message_4;
//!     each side checks the other's attestation result (from EAD) through its trust store.
//!     By reference, the peer's credential comes from the cache of verified credentials
//!     (checked again for validity and revocation, no signature); by value, it is verified
//!     in full every time.
//!   - `rustls_tls13_mutual`: the project's rustls 0.23 backhaul configurations (TLS 1.3,
//!     X25519, Ed25519 certificates carrying the attestation result in their CMW extension,
//!     both verified by the `iomt-identity` webpki verifiers), in memory.
//!   - `snow_xx`: Noise XX (X25519, ChaCha20-Poly1305, SHA-256), the responder's static key
//!     checked against the expected one; no credential or attestation.
//! - `transport/record_1k/*`, `transport/record_64/*`: seal and open one record of 1024 or 64
//!   bytes, suites 4 and 6; `ring_raw` is the same AEAD on `ring` with a counter nonce and no
//!   header, replay window or key schedule.
//!
//! Prints `handshake_bytes: iomt_kid=N iomt_by_value=N rustls_mutual=N` first: the bytes both
//! sides put on the wire (EDHOC datagrams as the endpoint frames them, TLS records).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]
#![allow(
    clippy::indexing_slicing,
    clippy::as_conversions,
    reason = "bench set-up: a failed step stops the run where it happened"
)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use iomt::identity::tls::RotatingCertResolver;
use iomt::identity::{Algorithm, SoftwareKey};
use iomt::schema::{DeviceId, Instant};
use iomt::transport::tls::{client_config, server_config, server_name};
use iomt::transport::{
    CipherSuite, ConnId, Endpoint, EndpointConfig, Event, HandshakeRole, IdentityCredentials,
    Initiator, RecordConfig, RecordLayer, Responder, RingBackend, StaticCredentials, Suites,
};
use iomt_testkit::{MissionFixture, T0, TestDevice};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey};
use ring::rand::SystemRandom;
use rustls::pki_types::UnixTime;
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection};

/// rustls' clock: a fixed time inside every validity window.
#[derive(Debug)]
struct FixedTime;

impl rustls::time_provider::TimeProvider for FixedTime {
    fn current_time(&self) -> Option<UnixTime> {
        Some(UnixTime::since_unix_epoch(
            std::time::Duration::from_millis(T0 + 60_000),
        ))
    }
}

/// The mission and two of its devices, Ed25519, attested for an hour.
struct TwoDevices {
    fixture: MissionFixture,
    a: TestDevice,
    b: TestDevice,
}

fn mission() -> TwoDevices {
    let fixture = MissionFixture::seeded(1);
    TwoDevices {
        a: fixture.enrol(Algorithm::Ed25519, 3_600_000),
        b: fixture.enrol(Algorithm::Ed25519, 3_600_000),
        fixture,
    }
}

/// `device`'s EDHOC credentials, `peer`'s credential already verified and cached.
fn identity(m: &TwoDevices, device: &TestDevice, peer: &TestDevice) -> Arc<IdentityCredentials> {
    let creds = m.fixture.credentials(device);
    creds.learn_peer(&peer.credential, Instant::ZERO).unwrap();
    Arc::new(creds)
}

struct EdhocPair {
    config: EndpointConfig,
    initiator: Arc<IdentityCredentials>,
    responder: Arc<IdentityCredentials>,
    responder_id: DeviceId,
    rng: Arc<SystemRandom>,
}

/// One EDHOC handshake between two fresh endpoints, through message_4; returns the bytes
/// both sides sent.
fn edhoc(pair: &EdhocPair) -> usize {
    let now = Instant::ZERO;
    let mut i: Endpoint<u8> = Endpoint::new(
        pair.config.clone(),
        pair.initiator.clone(),
        pair.rng.clone(),
    );
    let mut r: Endpoint<u8> = Endpoint::new(
        pair.config.clone(),
        pair.responder.clone(),
        pair.rng.clone(),
    );
    i.connect(now, 1, pair.responder_id).unwrap();
    let mut buf = Vec::with_capacity(1024);
    let mut bytes = 0;
    let mut connected = 0;
    while connected < 2 {
        let mut moved = false;
        while let Some(t) = i.poll_transmit(now, &mut buf) {
            bytes += t.len;
            moved = true;
            if let Some(incoming) = r.handle_input(now, 0, &buf[..t.len]).unwrap() {
                r.accept(now, incoming).unwrap();
            }
        }
        while let Some(t) = r.poll_transmit(now, &mut buf) {
            bytes += t.len;
            moved = true;
            i.handle_input(now, 1, &buf[..t.len]).unwrap();
        }
        for ep in [&mut i, &mut r] {
            while let Some(e) = ep.poll_event() {
                if let Event::Connected { .. } = e {
                    connected += 1;
                }
            }
        }
        assert!(moved || connected == 2, "the handshake stalled");
    }
    bytes
}

struct TlsPair {
    client: Arc<ClientConfig>,
    server: Arc<ServerConfig>,
    name: rustls::pki_types::ServerName<'static>,
}

fn tls_pair(m: &TwoDevices) -> TlsPair {
    let resolver = |d: &TestDevice| {
        let r = RotatingCertResolver::new();
        r.install(vec![d.certificate.clone()], d.key.clone());
        r
    };
    let trust = || m.fixture.store();
    TlsPair {
        client: client_config(trust(), None, resolver(&m.a), Arc::new(FixedTime)).unwrap(),
        server: server_config(trust(), None, resolver(&m.b), Arc::new(FixedTime)).unwrap(),
        name: server_name(m.b.key.public_key().device_id()),
    }
}

/// One mutual TLS 1.3 handshake in memory; returns the bytes both sides sent.
fn rustls_mutual(pair: &TlsPair) -> usize {
    let mut c = ClientConnection::new(pair.client.clone(), pair.name.clone()).unwrap();
    let mut s = ServerConnection::new(pair.server.clone()).unwrap();
    let mut buf = Vec::with_capacity(4096);
    let mut bytes = 0;
    while c.is_handshaking() || s.is_handshaking() || c.wants_write() || s.wants_write() {
        buf.clear();
        while c.wants_write() {
            c.write_tls(&mut buf).unwrap();
        }
        if !buf.is_empty() {
            bytes += buf.len();
            s.read_tls(&mut buf.as_slice()).unwrap();
            s.process_new_packets().unwrap();
        }
        buf.clear();
        while s.wants_write() {
            s.write_tls(&mut buf).unwrap();
        }
        if !buf.is_empty() {
            bytes += buf.len();
            c.read_tls(&mut buf.as_slice()).unwrap();
            c.process_new_packets().unwrap();
        }
    }
    black_box((c, s));
    bytes
}

fn snow_xx(
    initiator_key: &snow::Keypair,
    responder_key: &snow::Keypair,
    params: &snow::params::NoiseParams,
) -> usize {
    let mut i = snow::Builder::new(params.clone())
        .local_private_key(&initiator_key.private)
        .unwrap()
        .build_initiator()
        .unwrap();
    let mut r = snow::Builder::new(params.clone())
        .local_private_key(&responder_key.private)
        .unwrap()
        .build_responder()
        .unwrap();
    let mut buf = [0u8; 256];
    let mut payload = [0u8; 256];
    let mut total = 0;
    let n = i.write_message(&[], &mut buf).unwrap();
    total += n;
    r.read_message(&buf[..n], &mut payload).unwrap();
    let n = r.write_message(&[], &mut buf).unwrap();
    total += n;
    i.read_message(&buf[..n], &mut payload).unwrap();
    assert_eq!(i.get_remote_static(), Some(&responder_key.public[..]));
    let n = i.write_message(&[], &mut buf).unwrap();
    total += n;
    r.read_message(&buf[..n], &mut payload).unwrap();
    assert_eq!(r.get_remote_static(), Some(&initiator_key.public[..]));
    black_box((
        i.into_transport_mode().unwrap(),
        r.into_transport_mode().unwrap(),
    ));
    total
}

fn handshake(c: &mut Criterion) {
    let m = mission();
    let mut config = EndpointConfig::default();
    config.suites = vec![CipherSuite::Suite4];
    let kid = EdhocPair {
        config: config.clone(),
        initiator: identity(&m, &m.a, &m.b),
        responder: identity(&m, &m.b, &m.a),
        responder_id: m.b.key.public_key().device_id(),
        rng: Arc::new(SystemRandom::new()),
    };
    config.credential_by_value = true;
    let by_value = EdhocPair {
        config,
        initiator: identity(&m, &m.a, &m.b),
        responder: identity(&m, &m.b, &m.a),
        responder_id: m.b.key.public_key().device_id(),
        rng: Arc::new(SystemRandom::new()),
    };
    let tls = tls_pair(&m);
    println!(
        "handshake_bytes: iomt_kid={} iomt_by_value={} rustls_mutual={}",
        edhoc(&kid),
        edhoc(&by_value),
        rustls_mutual(&tls)
    );

    let params: snow::params::NoiseParams = "Noise_XX_25519_ChaChaPoly_SHA256".parse().unwrap();
    let initiator_key = snow::Builder::new(params.clone())
        .generate_keypair()
        .unwrap();
    let responder_key = snow::Builder::new(params.clone())
        .generate_keypair()
        .unwrap();

    let mut group = c.benchmark_group("transport/handshake");
    group.bench_function("iomt_edhoc_kid", |b| b.iter(|| edhoc(&kid)));
    group.bench_function("iomt_edhoc_by_value", |b| b.iter(|| edhoc(&by_value)));
    group.bench_function("rustls_tls13_mutual", |b| b.iter(|| rustls_mutual(&tls)));
    group.bench_function("snow_xx", |b| {
        b.iter(|| snow_xx(&initiator_key, &responder_key, &params));
    });
    group.finish();
}

/// Static raw-public-key credentials for the record benches (no identity needed there).
struct Pair {
    initiator: StaticCredentials,
    responder: StaticCredentials,
}

fn kid_pair(suite: CipherSuite, rng: &SystemRandom) -> Pair {
    let mut initiator = StaticCredentials::new();
    let mut responder = StaticCredentials::new();
    let (id, cred) = initiator.add_local_kid(
        suite,
        &[0x0a],
        SoftwareKey::generate(suite.signature(), rng).unwrap(),
    );
    responder.add_peer(id, cred);
    let (id, cred) = responder.add_local_kid(
        suite,
        &[0x0b],
        SoftwareKey::generate(suite.signature(), rng).unwrap(),
    );
    initiator.add_peer(id, cred);
    Pair {
        initiator,
        responder,
    }
}

/// A record layer pair keyed by a real handshake of `suite`.
fn record_pair(suite: CipherSuite, rng: &SystemRandom) -> (RecordLayer, RecordLayer) {
    let pair = kid_pair(suite, rng);
    let b = RingBackend;
    let (initiator, m1) = Initiator::start(
        &b,
        rng,
        Instant::ZERO,
        Suites::new(vec![suite.id()]).unwrap(),
        ConnId::new(&[1, 0, 0, 1]).unwrap(),
        Vec::new(),
    )
    .unwrap();
    let (responder, m2) = Responder::respond(
        &b,
        rng,
        Instant::ZERO,
        &m1,
        suite,
        ConnId::new(&[2, 0, 0, 2]).unwrap(),
        &pair.responder,
    )
    .unwrap();
    let (awaiting, m3) = initiator
        .process_message_2(&b, Instant::ZERO, &m2, &pair.initiator)
        .unwrap();
    let (r_done, _) = responder
        .process_message_3(&b, Instant::ZERO, &m3, &pair.responder)
        .unwrap();
    let i_done = awaiting.into_completed();
    let config = RecordConfig::default();
    (
        RecordLayer::new(
            suite,
            &i_done.secret,
            HandshakeRole::Initiator,
            i_done.c_i,
            i_done.c_r,
            config,
            Instant::ZERO,
        )
        .unwrap(),
        RecordLayer::new(
            suite,
            &r_done.secret,
            HandshakeRole::Responder,
            r_done.c_r,
            r_done.c_i,
            config,
            Instant::ZERO,
        )
        .unwrap(),
    )
}

fn ring_raw(suite: CipherSuite) -> (LessSafeKey, LessSafeKey) {
    let alg = match suite {
        CipherSuite::Suite6 => &ring::aead::AES_128_GCM,
        _ => &ring::aead::CHACHA20_POLY1305,
    };
    let key = vec![0x42; alg.key_len()];
    (
        LessSafeKey::new(UnboundKey::new(alg, &key).unwrap()),
        LessSafeKey::new(UnboundKey::new(alg, &key).unwrap()),
    )
}

fn records(c: &mut Criterion, name: &str, size: usize) {
    let rng = SystemRandom::new();
    let payload = vec![0x5a; size];
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Bytes(size as u64));
    for (suite, label) in [
        (CipherSuite::Suite4, "suite4"),
        (CipherSuite::Suite6, "suite6"),
    ] {
        let (mut sender, mut receiver) = record_pair(suite, &rng);
        let mut buf = Vec::with_capacity(size + 64);
        let now = Instant::ZERO;
        group.bench_with_input(BenchmarkId::new("iomt", label), &payload, |b, payload| {
            b.iter(|| {
                buf.clear();
                sender.seal(now, payload, &mut buf).unwrap();
                let range = receiver.open(now, &mut buf).unwrap();
                black_box(range);
            });
        });

        let (seal_key, open_key) = ring_raw(suite);
        let mut counter = 0u64;
        group.bench_with_input(
            BenchmarkId::new("ring_raw", label),
            &payload,
            |b, payload| {
                b.iter(|| {
                    counter += 1;
                    let mut nonce = [0u8; 12];
                    nonce[4..].copy_from_slice(&counter.to_be_bytes());
                    buf.clear();
                    buf.extend_from_slice(payload);
                    let tag = seal_key
                        .seal_in_place_separate_tag(
                            Nonce::assume_unique_for_key(nonce),
                            Aad::empty(),
                            &mut buf,
                        )
                        .unwrap();
                    buf.extend_from_slice(tag.as_ref());
                    let plain = open_key
                        .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut buf)
                        .unwrap();
                    black_box(plain.len());
                });
            },
        );
    }
    group.finish();
}

fn record_1k(c: &mut Criterion) {
    records(c, "transport/record_1k", 1024);
}

fn record_64(c: &mut Criterion) {
    records(c, "transport/record_64", 64);
}

criterion_group!(benches, handshake, record_1k, record_64);
criterion_main!(benches);
