//! Identity benches: verifying a compact credential against a raw `ring` Ed25519 verify (the
//! figure that matters is the ratio), appraising evidence, verifying an attestation result, and
//! webpki's X.509 path validation for the same identity.
//!
//! Prints `sizes: credential=N x509_leaf=N evidence=N result=N` (bytes, Ed25519) first.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use iomt::identity::*;
use iomt_testkit::{DAY, MissionFixture, T0, at, evidence, mission};
use ring::signature::{self, UnparsedPublicKey};
use rustls::RootCertStore;
use rustls::client::verify_server_cert_signed_by_trust_anchor;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::ParsedCertificate;

struct Fixture {
    mission: MissionFixture,
    credential: Vec<u8>,
    x509_leaf: Vec<u8>,
    device: SoftwareKey,
    nonce: [u8; 32],
    evidence: Vec<u8>,
    result: Vec<u8>,
    raw_message: Vec<u8>,
    raw_signature: Signature,
}

fn fixture() -> Fixture {
    let m = MissionFixture::seeded(1);
    let device = m.device(Algorithm::Ed25519);
    let claims = Credential {
        subject: device.public_key(),
        mission: mission(),
        roles: Roles::EMPTY.with(Role::Operator).with(Role::Relay),
        not_before: at(T0),
        not_after: at(T0 + DAY),
        serial: 0x0001_0203,
    };
    let credential = m.ca().issue_compact(&claims).unwrap();
    let x509_leaf = m.ca().issue_x509(&claims, None).unwrap();

    let nonce = [0x42; 32];
    let evidence = evidence(&device, &Nonce::new(&nonce).unwrap(), at(T0));
    let challenge = Challenge::from_channel_binding(&nonce, at(T0)).unwrap();
    let appraisal = m
        .verifier
        .appraise(
            challenge,
            &device.public_key(),
            &evidence,
            m.trust.reference_values(),
            at(T0),
        )
        .unwrap();
    let result = m.verifier.sign_result(&appraisal).unwrap();

    // The raw baseline: one Ed25519 signature over a message as long as the credential.
    let raw_message = vec![0x5a; credential.len()];
    let raw_signature = m.authority.sign(&raw_message).unwrap();
    Fixture {
        mission: m,
        credential,
        x509_leaf,
        device,
        nonce,
        evidence,
        result,
        raw_message,
        raw_signature,
    }
}

fn benches(c: &mut Criterion) {
    let f = fixture();
    let trust = &f.mission.trust;
    println!(
        "sizes: credential={} x509_leaf={} evidence={} result={}",
        f.credential.len(),
        f.x509_leaf.len(),
        f.evidence.len(),
        f.result.len()
    );
    let now = at(T0 + 1000);
    let mut g = c.benchmark_group("identity");

    g.bench_function("verify_credential/iomt", |b| {
        b.iter(|| {
            trust
                .verify_credential(black_box(&f.credential), now)
                .unwrap()
        })
    });
    let authority = f.mission.authority.public_key();
    let raw_key = UnparsedPublicKey::new(&signature::ED25519, authority.as_bytes().to_vec());
    g.bench_function("verify_credential/ring_ed25519_verify", |b| {
        b.iter(|| {
            raw_key
                .verify(black_box(&f.raw_message), f.raw_signature.as_bytes())
                .unwrap()
        })
    });

    let device_key = f.device.public_key();
    g.bench_function("appraise_evidence/iomt", |b| {
        b.iter_batched(
            || Challenge::from_channel_binding(&f.nonce, at(T0)).unwrap(),
            |challenge| {
                f.mission
                    .verifier
                    .appraise(
                        challenge,
                        &device_key,
                        black_box(&f.evidence),
                        trust.reference_values(),
                        now,
                    )
                    .unwrap()
            },
            BatchSize::SmallInput,
        )
    });

    g.bench_function("verify_result/iomt", |b| {
        b.iter(|| {
            trust
                .verify_result(black_box(&f.result), &device_key, now)
                .unwrap()
        })
    });

    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(
            f.mission.ca().certificate_der().to_vec(),
        ))
        .unwrap();
    let leaf = CertificateDer::from(f.x509_leaf.clone());
    let algs = rustls::crypto::ring::default_provider().signature_verification_algorithms;
    let x509_now = UnixTime::since_unix_epoch(core::time::Duration::from_millis(T0 + 1000));
    g.bench_function("x509_verify/webpki", |b| {
        b.iter(|| {
            let parsed = ParsedCertificate::try_from(black_box(&leaf)).unwrap();
            verify_server_cert_signed_by_trust_anchor(&parsed, &roots, &[], x509_now, algs.all)
                .unwrap()
        })
    });
    g.finish();
}

criterion_group!(identity, benches);
criterion_main!(identity);
