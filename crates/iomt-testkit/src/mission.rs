//! One mission, as the tests know it: an authority (credential issuer, package signer and
//! X.509 root) and an attestation verifier, provisioned through
//! [`enrol::MissionAuthority`](iomt_identity::enrol::MissionAuthority); the reference
//! platform; and devices enrolled in it.
#![allow(
    clippy::expect_used,
    reason = "fixture set-up: a step that fails stops the test where it happened"
)]

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use iomt_identity::enrol::{MissionAuthority, MissionConfig, Platform};
use iomt_identity::{
    Algorithm, Appraisal, AttestationResult, AttestationVerifier, CertificateAuthority, Challenge,
    Credential, DebugState, Evidence, FirmwareVersion, Measurement, Mission, Nonce, Policy,
    PublicKey, ReferenceValues, Role, Roles, Signer, SoftwareKey, Tier, TrustStore,
};
use iomt_schema::{Instant, Timestamp};
use iomt_transport::{IdentityCredentials, WallClock};

use crate::random::TestRandom;

/// The mission's start, in milliseconds since the epoch (2027-01-15 08:00 UTC).
pub const T0: u64 = 1_800_000_000_000;
/// A day, in milliseconds.
pub const DAY: u64 = 86_400_000;

/// The time `ms` milliseconds after the epoch.
///
/// # Panics
///
/// Beyond the range of a [`Timestamp`].
pub fn at(ms: u64) -> Timestamp {
    Timestamp::from_millis(ms).expect("a timestamp in range")
}

/// The wall clock of every endpoint here: `Instant::ZERO` is [`T0`].
pub fn clock() -> WallClock {
    WallClock::new(Instant::ZERO, at(T0))
}

/// The mission's name.
pub fn mission() -> Mission {
    Mission::new("op-nordic").expect("a valid mission name")
}

/// The reference bootloader image.
pub const BOOTLOADER: &[u8] = b"bootloader v3";
/// The reference kernel image.
pub const KERNEL: &[u8] = b"kernel 6.1 hardened";
/// The reference application image.
pub const APP: &[u8] = b"squad-app 2.4";

/// What a healthy device measures: the three reference images.
pub fn good_measurements() -> Vec<Measurement> {
    vec![
        Measurement::of(0, "bootloader", BOOTLOADER),
        Measurement::of(1, "kernel", KERNEL),
        Measurement::of(2, "app", APP),
    ]
}

/// A healthy device's platform: secure boot, debug disabled for good, firmware 2.4.1, the
/// reference images.
pub fn platform() -> Platform {
    Platform {
        secure_boot: true,
        debug: DebugState::DisabledPermanently,
        firmware: FirmwareVersion::new(2, 4, 1),
        measurements: good_measurements(),
    }
}

/// The mission's reference values: the reference images, firmware 2.0.0 at least, secure
/// boot on and debug off.
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

/// Healthy evidence `key` signs over `nonce` at `now`.
pub fn evidence(key: &SoftwareKey, nonce: &Nonce, now: Timestamp) -> Vec<u8> {
    platform()
        .evidence(key, nonce, now)
        .expect("the device signs its evidence")
}

/// The mission: provisioned at its start `t0` with [`reference()`] values and the default
/// policy; the authority's X.509 root and credentials it issues through
/// [`credential_for`](Self::credential_for) run from a day before `t0`.
pub struct MissionFixture {
    /// The mission's start, in milliseconds since the epoch.
    pub t0: u64,
    /// Where device keys and challenges come from.
    pub rng: TestRandom,
    /// The authority key (Ed25519): credentials, trust packages, revocation deltas, X.509.
    pub authority: Arc<SoftwareKey>,
    /// The verifier key (Ed25519): attestation results.
    pub verifier_key: Arc<SoftwareKey>,
    /// Its public half, as the trust package names it.
    pub verifier_public: PublicKey,
    /// The mission's verifier.
    pub verifier: AttestationVerifier<Arc<dyn Signer>>,
    /// The policy the trust package pins.
    pub policy: Policy,
    /// The signed trust package.
    pub package: Vec<u8>,
    /// A device's trust store: the package applied, the policy installed.
    pub trust: TrustStore,
    /// The authority as the library's enrolment path runs it.
    pub mission_authority: MissionAuthority,
}

/// A device enrolled by [`MissionFixture::enrol`]: its key, compact credential, X.509
/// certificate (carrying its attestation result) and attestation result.
pub struct TestDevice {
    /// The device key.
    pub key: Arc<SoftwareKey>,
    /// The compact credential.
    pub credential: Vec<u8>,
    /// The X.509 certificate, carrying the result.
    pub certificate: Vec<u8>,
    /// The attestation result.
    pub result: Vec<u8>,
}

impl Default for MissionFixture {
    fn default() -> Self {
        Self::new()
    }
}

impl MissionFixture {
    /// The mission starting at [`T0`], with keys from the system's generator.
    pub fn new() -> Self {
        Self::with_random(T0, TestRandom::system())
    }

    /// The mission starting at `t0` (milliseconds since the epoch).
    pub fn starting(t0: u64) -> Self {
        Self::with_random(t0, TestRandom::system())
    }

    /// The mission starting at [`T0`], every key and challenge drawn from `seed`: the same seed
    /// makes the same mission, byte for byte, and the same Ed25519 devices.
    pub fn seeded(seed: u64) -> Self {
        Self::with_random(T0, TestRandom::seeded(seed))
    }

    /// The mission starting at `t0`, drawing from `rng`.
    pub fn with_random(t0: u64, rng: TestRandom) -> Self {
        let key = || Arc::new(SoftwareKey::generate(Algorithm::Ed25519, &rng).expect("a key"));
        let (authority, verifier_key) = (key(), key());
        let mut config = MissionConfig::new(mission(), reference());
        config.backdate = Duration::from_millis(DAY);
        let mission_authority =
            MissionAuthority::new(config, authority.clone(), verifier_key.clone(), at(t0))
                .expect("the mission is provisioned");
        let trust = mission_authority
            .provisioning()
            .trust_store()
            .expect("the trust package installs");
        Self {
            t0,
            authority,
            verifier_public: verifier_key.public_key(),
            verifier: mission_authority.verifier(),
            verifier_key,
            policy: mission_authority.config().policy.clone(),
            package: mission_authority.package().to_vec(),
            trust,
            mission_authority,
            rng,
        }
    }

    /// The authority's X.509 root (also the compact credentials' issuer).
    pub fn ca(&self) -> &CertificateAuthority<Arc<dyn Signer>> {
        self.mission_authority.certificate_authority()
    }

    /// A fresh copy of the mission's trust store, as one device holds it.
    pub fn store(&self) -> Arc<RwLock<TrustStore>> {
        Arc::new(RwLock::new(self.trust.clone()))
    }

    /// A new device key.
    pub fn device(&self, alg: Algorithm) -> SoftwareKey {
        SoftwareKey::generate(alg, &self.rng).expect("a device key")
    }

    /// A credential for `key` in the mission, valid for a day from its start.
    pub fn credential_for(&self, key: &PublicKey, roles: Roles, serial: u64) -> Credential {
        Credential {
            subject: *key,
            mission: mission(),
            roles,
            not_before: at(self.t0),
            not_after: at(self.t0 + DAY),
            serial,
        }
    }

    /// [`credential_for`](Self::credential_for), signed by the authority.
    pub fn issue(&self, key: &PublicKey, roles: Roles, serial: u64) -> Vec<u8> {
        self.credential_for(key, roles, serial)
            .sign(&*self.authority)
            .expect("the authority signs")
    }

    /// Healthy evidence from `device` over `nonce` at `now`, unsigned (for a test to alter).
    pub fn evidence(&self, device: &SoftwareKey, nonce: &Nonce, now: Timestamp) -> Evidence {
        let p = platform();
        Evidence {
            device: device.public_key().device_id(),
            nonce: nonce.clone(),
            issued_at: now,
            secure_boot: p.secure_boot,
            debug: p.debug,
            firmware: p.firmware,
            measurements: p.measurements,
        }
    }

    /// A whole attestation round at `now` through the mission's authority: challenge, healthy
    /// evidence altered by `tweak`, appraisal and signed result.
    pub fn attest(
        &self,
        device: &SoftwareKey,
        now: Timestamp,
        tweak: impl FnOnce(&mut Evidence),
    ) -> (Appraisal, Vec<u8>) {
        let challenge = Challenge::new(&self.rng, now).expect("a challenge");
        let mut evidence = self.evidence(device, challenge.nonce(), now);
        tweak(&mut evidence);
        let signed = evidence.sign(device).expect("the device signs");
        let attested = self
            .mission_authority
            .attest(challenge, &device.public_key(), &signed, now)
            .expect("the evidence is appraised");
        (attested.appraisal, attested.result)
    }

    /// A device with a credential from a second before the mission's start for a day (role
    /// operator), and an affirming result valid for `result_ms` from the start.
    pub fn enrol(&self, alg: Algorithm, result_ms: u64) -> TestDevice {
        let key = Arc::new(self.device(alg));
        let claims = Credential {
            subject: key.public_key(),
            mission: mission(),
            roles: Roles::EMPTY.with(Role::Operator),
            not_before: at(self.t0 - 1000),
            not_after: at(self.t0 + DAY),
            serial: u64::from(key.public_key().as_bytes().first().copied().unwrap_or(0)),
        };
        let result = self.result(&key.public_key(), Tier::Affirming, at(self.t0 + result_ms));
        let ca = self.ca();
        TestDevice {
            credential: ca.issue_compact(&claims).expect("the authority signs"),
            certificate: ca.issue_x509(&claims, Some(&result)).expect("the CA signs"),
            result,
            key,
        }
    }

    /// An attestation result for `key` at `tier`, issued a second before the mission's start.
    pub fn result(&self, key: &PublicKey, tier: Tier, expires_at: Timestamp) -> Vec<u8> {
        AttestationResult {
            device: key.device_id(),
            key: *key,
            tier,
            statuses: BTreeMap::new(),
            issued_at: at(self.t0 - 1000),
            expires_at,
        }
        .sign(&*self.verifier_key)
        .expect("the verifier signs")
    }

    /// The device's identity credentials for EDHOC, on a wall clock that reads the mission's
    /// start at `Instant::ZERO`, its credential and result installed.
    pub fn credentials(&self, device: &TestDevice) -> IdentityCredentials {
        let clock = WallClock::new(Instant::ZERO, at(self.t0));
        let creds = IdentityCredentials::new(self.store(), device.key.clone(), clock);
        creds
            .set_credential(&device.credential, Instant::ZERO)
            .expect("the credential installs");
        creds
            .set_result(device.result.clone(), Instant::ZERO)
            .expect("the result installs");
        creds
    }
}
