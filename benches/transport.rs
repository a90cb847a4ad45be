//! Secure-session benches, the peers in the same run so the figures are ratios.
//!
//! - `transport/handshake/*`: one complete mutually authenticated handshake, both sides
//!   in-process, credential verification included. `iomt_edhoc_kid`: EDHOC method 0, suite 4
//!   (X25519, Ed25519, ChaCha20-Poly1305), credentials by `kid` and message_4; `snow_xx`: Noise
//!   XX (X25519, ChaCha20-Poly1305, SHA-256), the responder's static key checked against the
//!   expected one.
//! - `transport/record_1k/*`, `transport/record_64/*`: seal and open one record of 1024 or 64
//!   bytes, suites 4 and 6; `ring_raw` is the same AEAD on `ring` with a counter nonce and no
//!   header, replay window or key schedule.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use iomt::schema::Instant;
use iomt::transport::{
    CipherSuite, ConnId, Credentials, Initiator, RecordConfig, RecordLayer, Responder, RingBackend,
    Role, StaticCredentials, Suites, check_message_1, generate_signer,
};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey};
use ring::rand::SystemRandom;

struct Pair {
    initiator: StaticCredentials,
    responder: StaticCredentials,
}

fn kid_pair(suite: CipherSuite, rng: &SystemRandom) -> Pair {
    let mut initiator = StaticCredentials::new();
    let mut responder = StaticCredentials::new();
    let (id, cred) = initiator.add_local_kid(suite, &[0x0a], generate_signer(suite, rng).unwrap());
    responder.add_peer(id, cred);
    let (id, cred) = responder.add_local_kid(suite, &[0x0b], generate_signer(suite, rng).unwrap());
    initiator.add_peer(id, cred);
    Pair {
        initiator,
        responder,
    }
}

/// One EDHOC handshake through message_4; returns the bytes on the air.
fn edhoc(suite: CipherSuite, pair: &Pair, rng: &SystemRandom) -> usize {
    let b = RingBackend;
    let (initiator, m1) = Initiator::start(
        &b,
        rng,
        Instant::ZERO,
        Suites::new(vec![suite.id()]).unwrap(),
        ConnId::new(&[1]).unwrap(),
        Vec::new(),
    )
    .unwrap();
    let parsed = iomt::transport::Message1::decode(&m1).unwrap();
    let responder_creds: &dyn Credentials = &pair.responder;
    let selected = check_message_1(&parsed, &[suite], responder_creds).unwrap();
    let (responder, m2) = Responder::respond(
        &b,
        rng,
        Instant::ZERO,
        &m1,
        selected,
        ConnId::new(&[2]).unwrap(),
        responder_creds,
    )
    .unwrap();
    let (awaiting, m3) = initiator
        .process_message_2(&b, rng, Instant::ZERO, &m2, &pair.initiator)
        .unwrap();
    let (done, m4) = responder
        .process_message_3(&b, Instant::ZERO, &m3, responder_creds)
        .unwrap();
    awaiting
        .process_message_4(&b, &m4, &pair.initiator)
        .unwrap();
    black_box(done);
    m1.len() + m2.len() + m3.len() + m4.len()
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
    let rng = SystemRandom::new();
    let suite = CipherSuite::Suite4;
    let pair = kid_pair(suite, &rng);
    let params: snow::params::NoiseParams = "Noise_XX_25519_ChaChaPoly_SHA256".parse().unwrap();
    let builder = snow::Builder::new(params.clone());
    let initiator_key = builder.generate_keypair().unwrap();
    let responder_key = snow::Builder::new(params.clone())
        .generate_keypair()
        .unwrap();

    let mut group = c.benchmark_group("transport/handshake");
    group.bench_function("iomt_edhoc_kid", |b| {
        b.iter(|| edhoc(suite, &pair, &rng));
    });
    group.bench_function("snow_xx", |b| {
        b.iter(|| snow_xx(&initiator_key, &responder_key, &params));
    });
    group.finish();
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
        ConnId::new(&[1]).unwrap(),
        Vec::new(),
    )
    .unwrap();
    let (responder, m2) = Responder::respond(
        &b,
        rng,
        Instant::ZERO,
        &m1,
        suite,
        ConnId::new(&[2]).unwrap(),
        &pair.responder,
    )
    .unwrap();
    let (awaiting, m3) = initiator
        .process_message_2(&b, rng, Instant::ZERO, &m2, &pair.initiator)
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
            Role::Initiator,
            i_done.c_i,
            i_done.c_r,
            config,
            Instant::ZERO,
        )
        .unwrap(),
        RecordLayer::new(
            suite,
            &r_done.secret,
            Role::Responder,
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
