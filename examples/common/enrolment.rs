//! A mission's enrolment, as the examples share it: the authority that issues credentials and
//! signs the trust package, the attestation verifier, and devices that prove their state to it.
// Shared by several examples, each using part of it.
#![allow(dead_code)]

use std::error::Error;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use iomt::identity::*;
use iomt::rand::SystemRandom;
use iomt::schema::{Instant, Timestamp};
use iomt::transport::{IdentityCredentials, WallClock};

pub type Res<T> = Result<T, Box<dyn Error>>;

/// How long a credential runs after the mission's start.
const CREDENTIAL_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// The firmware every device of the mission runs, as its boot chain measures it.
fn firmware() -> Vec<Measurement> {
    vec![
        Measurement::of(0, "bootloader", b"bootloader v3"),
        Measurement::of(1, "radio-fw", b"radio firmware 4.2"),
    ]
}

/// The attester role of a device: its key and what its boot chain measured. The firmware
/// can change under it (a compromise), and the next evidence says so.
pub struct Hardware {
    pub key: Arc<SoftwareKey>,
    measurements: Mutex<Vec<Measurement>>,
}

impl Hardware {
    /// Signed evidence over `nonce`, made at `now`.
    pub fn evidence(&self, nonce: &Nonce, now: Timestamp) -> Option<Vec<u8>> {
        let measurements = self
            .measurements
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        Evidence {
            device: self.key.public_key().device_id(),
            nonce: nonce.clone(),
            issued_at: now,
            secure_boot: true,
            debug: DebugState::DisabledPermanently,
            firmware: FirmwareVersion::new(4, 2, 0),
            measurements,
        }
        .sign(&*self.key)
        .ok()
    }

    /// The image of one measured component changes to `image`.
    pub fn flash(&self, component: &str, image: &[u8]) {
        let mut measurements = self
            .measurements
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for m in measurements.iter_mut().filter(|m| m.component == component) {
            *m = Measurement::of(m.layer, component, image);
        }
    }
}

/// The mission: its authority, its verifier and the trust package devices carry.
pub struct MissionAuthority {
    pub mission: Mission,
    /// Signs credentials, the trust package and revocation deltas.
    pub authority: Arc<SoftwareKey>,
    pub verifier_key: Arc<SoftwareKey>,
    verifier: AttestationVerifier<Arc<SoftwareKey>>,
    appraisal: AppraisalConfig,
    package: Vec<u8>,
    start: Timestamp,
    serial: AtomicU64,
}

/// A device as enrolment leaves it: attester, credentials for EDHOC (its credential and
/// attestation result installed), the trust store they decide with, and the two documents.
pub struct Enrolled {
    pub hw: Arc<Hardware>,
    pub creds: IdentityCredentials,
    pub trust: Arc<RwLock<TrustStore>>,
    pub credential: Vec<u8>,
    pub result: Vec<u8>,
}

impl MissionAuthority {
    /// A mission starting at `start`, whose verifier signs results as `appraisal` says; the
    /// trust package names the verifier, the reference firmware and the default policy.
    pub fn new(
        name: &str,
        authority: SoftwareKey,
        verifier_key: SoftwareKey,
        appraisal: AppraisalConfig,
        start: Timestamp,
    ) -> Res<Self> {
        let verifier_key = Arc::new(verifier_key);
        let mut reference = ReferenceValues {
            min_firmware: FirmwareVersion::new(4, 0, 0),
            require_secure_boot: true,
            require_debug_disabled: true,
            ..ReferenceValues::default()
        };
        for m in firmware() {
            reference.allow(&m.component, m.digest);
        }
        let package = TrustPackage {
            sequence: 1,
            verifiers: vec![verifier_key.public_key()],
            reference,
            policy_digest: Policy::default().digest(),
            ..TrustPackage::default()
        }
        .sign(&authority)?;
        Ok(Self {
            mission: Mission::new(name)?,
            authority: Arc::new(authority),
            verifier: AttestationVerifier::new(verifier_key.clone(), appraisal),
            verifier_key,
            appraisal,
            package,
            start,
            serial: AtomicU64::new(1),
        })
    }

    /// The signed trust package.
    pub fn package(&self) -> &[u8] {
        &self.package
    }

    /// A trust store provisioned with the package and its policy, as one device holds it.
    pub fn trust_store(&self) -> Res<Arc<RwLock<TrustStore>>> {
        let mut trust = TrustStore::new(
            self.authority.public_key(),
            self.mission.clone(),
            TrustStart::FirstBoot,
        )?;
        trust.apply_package(&self.package)?;
        trust.install_policy(Policy::default())?;
        Ok(Arc::new(RwLock::new(trust)))
    }

    /// The mission's verifier again, for a device that appraises evidence itself.
    pub fn verifier(&self) -> AttestationVerifier<Arc<SoftwareKey>> {
        AttestationVerifier::new(self.verifier_key.clone(), self.appraisal)
    }

    /// The verifier challenges the device, appraises its evidence and signs a result.
    pub fn attest(&self, hw: &Hardware, now: Timestamp) -> Res<Vec<u8>> {
        let trust = self.trust_store()?;
        let trust = trust.read().map_err(|_| "trust store lock poisoned")?;
        let challenge = Challenge::new(&SystemRandom::new(), now)?;
        let evidence = hw
            .evidence(challenge.nonce(), now)
            .ok_or("the device could not attest")?;
        let appraisal = self.verifier.appraise(
            challenge,
            &hw.key.public_key(),
            &evidence,
            trust.reference_values(),
            now,
        )?;
        Ok(self.verifier.sign_result(&appraisal)?)
    }

    /// A device with `key` enrols with `roles`: a one-day credential, an attestation result,
    /// and its credentials for EDHOC on a wall clock that reads the mission's start at
    /// `Instant::ZERO`.
    pub fn enrol(&self, key: SoftwareKey, roles: Roles) -> Res<Enrolled> {
        let hw = Arc::new(Hardware {
            key: Arc::new(key),
            measurements: Mutex::new(firmware()),
        });
        let credential = Credential {
            subject: hw.key.public_key(),
            mission: self.mission.clone(),
            roles,
            not_before: Timestamp::from_millis(self.start.as_millis().saturating_sub(60_000))
                .ok_or("timestamp out of range")?,
            not_after: self
                .start
                .checked_add(CREDENTIAL_LIFETIME)
                .ok_or("timestamp out of range")?,
            serial: self.serial.fetch_add(1, Ordering::Relaxed),
        }
        .sign(&*self.authority)?;
        let result = self.attest(&hw, self.start)?;
        let trust = self.trust_store()?;
        let attester = Arc::clone(&hw);
        let creds = IdentityCredentials::new(
            trust.clone(),
            hw.key.clone(),
            WallClock::new(Instant::ZERO, self.start),
        )
        .with_attester(move |nonce: &Nonce, now| attester.evidence(nonce, now));
        creds.set_credential(&credential, Instant::ZERO)?;
        creds.set_result(result.clone(), Instant::ZERO)?;
        Ok(Enrolled {
            hw,
            creds,
            trust,
            credential,
            result,
        })
    }
}
