//! Identity benches: verifying a compact credential against a raw `ring` Ed25519 verify (the
//! figure that matters is the ratio), appraising evidence, verifying an attestation result, and
//! webpki's X.509 path validation for the same identity.
//!
//! Prints `sizes: credential=N x509_leaf=N evidence=N result=N` (bytes, Ed25519) first.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use iomt::identity::*;
use iomt::schema::Timestamp;
use ring::rand::SystemRandom;
use ring::signature::{self, UnparsedPublicKey};
use rustls::RootCertStore;
use rustls::client::verify_server_cert_signed_by_trust_anchor;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::ParsedCertificate;

const T0: u64 = 1_800_000_000_000;

fn at(ms: u64) -> Timestamp {
    Timestamp::from_millis(ms).unwrap()
}

struct Fixture {
    trust: TrustStore,
    credential: Vec<u8>,
    x509_root: Vec<u8>,
    x509_leaf: Vec<u8>,
    device: SoftwareKey,
    verifier: AttestationVerifier<SoftwareKey>,
    nonce: [u8; 32],
    evidence: Vec<u8>,
    result: Vec<u8>,
    raw_message: Vec<u8>,
    raw_signature: Signature,
    authority_public: PublicKey,
}

fn fixture() -> Fixture {
    let rng = SystemRandom::new();
    let mission = Mission::new("op-nordic").unwrap();
    let authority = std::sync::Arc::new(SoftwareKey::generate(Algorithm::Ed25519, &rng).unwrap());
    let ca = CertificateAuthority::new(
        authority.clone(),
        "op-nordic authority",
        at(T0 - 1),
        at(T0 + 86_400_000),
    )
    .unwrap();
    let verifier_key = SoftwareKey::generate(Algorithm::Ed25519, &rng).unwrap();
    let mut reference = ReferenceValues {
        min_firmware: FirmwareVersion::new(2, 0, 0),
        require_secure_boot: true,
        require_debug_disabled: true,
        ..ReferenceValues::default()
    };
    let measurements = vec![
        Measurement::of(0, "bootloader", b"bootloader v3"),
        Measurement::of(1, "kernel", b"kernel 6.1"),
        Measurement::of(2, "app", b"squad-app 2.4"),
    ];
    for m in &measurements {
        reference.allow(&m.component, m.digest);
    }
    let package = TrustPackage {
        sequence: 1,
        verifiers: vec![verifier_key.public_key()],
        x509_roots: vec![ca.certificate_der().to_vec()],
        reference,
        ..TrustPackage::default()
    }
    .sign(&authority)
    .unwrap();
    let mut trust = TrustStore::new(
        authority.public_key(),
        mission.clone(),
        TrustStart::FirstBoot,
    )
    .unwrap();
    trust.apply_package(&package).unwrap();

    let device = SoftwareKey::generate(Algorithm::Ed25519, &rng).unwrap();
    let claims = Credential {
        subject: device.public_key(),
        mission,
        roles: Roles::EMPTY.with(Role::Operator).with(Role::Relay),
        not_before: at(T0),
        not_after: at(T0 + 86_400_000),
        serial: 0x0001_0203,
    };
    let credential = ca.issue_compact(&claims).unwrap();
    let x509_leaf = ca.issue_x509(&claims, None).unwrap();

    let verifier = AttestationVerifier::new(verifier_key, AppraisalConfig::default());
    let nonce = [0x42; 32];
    let evidence = Evidence {
        device: device.public_key().device_id(),
        nonce: Nonce::new(&nonce).unwrap(),
        issued_at: at(T0),
        secure_boot: true,
        debug: DebugState::DisabledPermanently,
        firmware: FirmwareVersion::new(2, 4, 1),
        measurements,
    }
    .sign(&device)
    .unwrap();
    let challenge = Challenge::from_channel_binding(&nonce, at(T0)).unwrap();
    let appraisal = verifier
        .appraise(
            challenge,
            &device.public_key(),
            &evidence,
            trust.reference_values(),
            at(T0),
        )
        .unwrap();
    let result = verifier.sign_result(&appraisal).unwrap();

    // The raw baseline: one Ed25519 signature over a message as long as the credential.
    let raw_message = vec![0x5a; credential.len()];
    let raw_signature = authority.sign(&raw_message).unwrap();
    Fixture {
        trust,
        credential,
        x509_root: ca.certificate_der().to_vec(),
        x509_leaf,
        device,
        verifier,
        nonce,
        evidence,
        result,
        raw_message,
        raw_signature,
        authority_public: authority.public_key(),
    }
}

fn benches(c: &mut Criterion) {
    let f = fixture();
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
            f.trust
                .verify_credential(black_box(&f.credential), now)
                .unwrap()
        })
    });
    let raw_key =
        UnparsedPublicKey::new(&signature::ED25519, f.authority_public.as_bytes().to_vec());
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
                f.verifier
                    .appraise(
                        challenge,
                        &device_key,
                        black_box(&f.evidence),
                        f.trust.reference_values(),
                        now,
                    )
                    .unwrap()
            },
            BatchSize::SmallInput,
        )
    });

    g.bench_function("verify_result/iomt", |b| {
        b.iter(|| {
            f.trust
                .verify_result(black_box(&f.result), &device_key, now)
                .unwrap()
        })
    });

    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(f.x509_root.clone()))
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
