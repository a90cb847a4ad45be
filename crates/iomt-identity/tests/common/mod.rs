//! A small mission shared by the integration tests: an authority (also the package authority
//! and X.509 root), an attestation verifier, reference values and one provisioned peer.
#![allow(dead_code, missing_docs, clippy::unwrap_used, clippy::expect_used)]

use iomt_identity::*;
use iomt_schema::Timestamp;
use ring::rand::SystemRandom;

pub const T0: u64 = 1_800_000_000_000;
pub const DAY: u64 = 86_400_000;

pub fn at(ms: u64) -> Timestamp {
    Timestamp::from_millis(ms).unwrap()
}

pub fn mission() -> Mission {
    Mission::new("op-nordic").unwrap()
}

pub const BOOTLOADER: &[u8] = b"bootloader v3";
pub const KERNEL: &[u8] = b"kernel 6.1 hardened";
pub const APP: &[u8] = b"squad-app 2.4";

pub fn good_measurements() -> Vec<Measurement> {
    vec![
        Measurement::of(0, "bootloader", BOOTLOADER),
        Measurement::of(1, "kernel", KERNEL),
        Measurement::of(2, "app", APP),
    ]
}

pub fn reference() -> ReferenceValues {
    let mut r = ReferenceValues {
        min_firmware: FirmwareVersion::new(2, 0, 0),
        require_secure_boot: true,
        require_debug_disabled: true,
        ..ReferenceValues::default()
    };
    for m in good_measurements() {
        r.allow(&m.component, m.digest);
    }
    r
}

pub struct Mission1 {
    pub rng: SystemRandom,
    pub authority: SoftwareKey,
    pub ca: CertificateAuthority<std::sync::Arc<SoftwareKey>>,
    pub authority_arc: std::sync::Arc<SoftwareKey>,
    pub verifier: AttestationVerifier<SoftwareKey>,
    pub verifier_public: PublicKey,
    pub verifier_key: SoftwareKey,
    pub policy: Policy,
    pub package: Vec<u8>,
    pub trust: TrustStore,
}

impl Mission1 {
    pub fn new() -> Self {
        let rng = SystemRandom::new();
        let authority_arc = std::sync::Arc::new(SoftwareKey::from_ed25519_seed(&[1; 32]).unwrap());
        let authority = SoftwareKey::from_ed25519_seed(&[1; 32]).unwrap();
        let ca = CertificateAuthority::new(
            authority_arc.clone(),
            "op-nordic authority",
            at(T0 - DAY),
            at(T0 + 365 * DAY),
        )
        .unwrap();
        let verifier_pkcs8 = SoftwareKey::generate(Algorithm::EcdsaP256, &rng)
            .unwrap()
            .to_pkcs8();
        let verifier_key = SoftwareKey::from_pkcs8(&verifier_pkcs8).unwrap();
        let verifier_public = verifier_key.public_key();
        let verifier = AttestationVerifier::new(
            SoftwareKey::from_pkcs8(&verifier_pkcs8).unwrap(),
            AppraisalConfig::default(),
        );
        let policy = Policy::default();
        let package = TrustPackage {
            sequence: 1,
            anchors: vec![],
            verifiers: vec![verifier_public],
            x509_roots: vec![ca.certificate_der().to_vec()],
            reference: reference(),
            revocations: vec![],
            policy_digest: policy.digest(),
        }
        .sign(&authority)
        .unwrap();
        let mut trust =
            TrustStore::new(authority.public_key(), mission(), TrustStart::FirstBoot).unwrap();
        trust.apply_package(&package).unwrap();
        trust.install_policy(policy.clone()).unwrap();
        Self {
            rng,
            authority,
            ca,
            authority_arc,
            verifier,
            verifier_public,
            verifier_key,
            policy,
            package,
            trust,
        }
    }

    pub fn device(&self, alg: Algorithm) -> SoftwareKey {
        SoftwareKey::generate(alg, &self.rng).unwrap()
    }

    pub fn credential_for(&self, key: &PublicKey, roles: Roles, serial: u64) -> Credential {
        Credential {
            subject: *key,
            mission: mission(),
            roles,
            not_before: at(T0),
            not_after: at(T0 + DAY),
            serial,
        }
    }

    pub fn issue(&self, key: &PublicKey, roles: Roles, serial: u64) -> Vec<u8> {
        self.credential_for(key, roles, serial)
            .sign(&self.authority)
            .unwrap()
    }

    pub fn evidence(&self, device: &SoftwareKey, nonce: &Nonce, now: Timestamp) -> Evidence {
        Evidence {
            device: device.public_key().device_id(),
            nonce: nonce.clone(),
            issued_at: now,
            secure_boot: true,
            debug: DebugState::DisabledPermanently,
            firmware: FirmwareVersion::new(2, 4, 1),
            measurements: good_measurements(),
        }
    }

    /// Challenge, evidence, appraisal, signed result: the whole round at `now`.
    pub fn attest(
        &self,
        device: &SoftwareKey,
        now: Timestamp,
        tweak: impl FnOnce(&mut Evidence),
    ) -> (Appraisal, Vec<u8>) {
        let challenge = Challenge::new(&self.rng, now).unwrap();
        let mut evidence = self.evidence(device, challenge.nonce(), now);
        tweak(&mut evidence);
        let signed = evidence.sign(device).unwrap();
        let appraisal = self
            .verifier
            .appraise(
                challenge,
                &device.public_key(),
                &signed,
                self.trust.reference_values(),
                now,
            )
            .unwrap();
        let result = self.verifier.sign_result(&appraisal).unwrap();
        (appraisal, result)
    }
}

pub fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

pub fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
