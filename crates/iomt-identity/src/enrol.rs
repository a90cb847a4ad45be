//! Enrolment: how a mission is provisioned and how a device joins it.
//!
//! Three parties, RFC 9334's roles with the issuing added:
//!
//! - The **mission authority** ([`MissionAuthority`]) holds the authority key (it signs the
//!   trust package, compact credentials and revocation deltas, and is the X.509 root) and the
//!   verifier key (it signs attestation results). Provisioning the mission makes the signed
//!   trust package that names the verifier, the reference values and the policy: the
//!   [`Provisioning`] every device starts from.
//! - A **device** holds its own key (a [`SoftwareKey`] or a secure element behind [`Signer`])
//!   and knows its [`Platform`] state as its boot chain measured it. It answers the
//!   authority's [`Challenge`] with an [`EnrolmentRequest`]: its public key and evidence over
//!   the challenge's nonce, which also proves it holds the key.
//! - The authority appraises the evidence against the reference values and, if the device is
//!   affirming, issues an [`Enrolment`]: the attestation result, the compact credential for
//!   radio links and the X.509 certificate for TLS (carrying the result). The device checks
//!   what it received through its own trust store ([`Enrolment::verify`]) before it installs
//!   it.
//!
//! Later the device re-attests the same way ([`MissionAuthority::attest`]): a fresh challenge,
//! fresh evidence, a new result. A result is signed whatever the appraisal found, so that a
//! contraindicated device is told so, and relying parties can quarantine it.
//!
//! With `iomt-transport`, the device hands its key, credential and result to
//! `IdentityCredentials` (`set_credential`, `set_result`), and answers in-handshake evidence
//! requests with [`Platform::evidence`]; for TLS, the certificate and key go to the
//! `tls::RotatingCertResolver`.
//!
//! ```
//! use std::sync::Arc;
//! use iomt_identity::enrol::{MissionAuthority, MissionConfig, Platform};
//! use iomt_identity::rand::SystemRandom;
//! use iomt_identity::*;
//! use iomt_schema::Timestamp;
//!
//! let rng = SystemRandom::new();
//! let now = Timestamp::from_millis(1_800_000_000_000).unwrap();
//!
//! // What every device of the mission runs, as its boot chain measures it.
//! let platform = Platform {
//!     secure_boot: true,
//!     debug: DebugState::DisabledPermanently,
//!     firmware: FirmwareVersion::new(4, 2, 0),
//!     measurements: vec![Measurement::of(0, "bootloader", b"bootloader v3")],
//! };
//!
//! // The authority provisions the mission: keys, trust package, X.509 root.
//! let mut reference = ReferenceValues {
//!     min_firmware: FirmwareVersion::new(4, 0, 0),
//!     require_secure_boot: true,
//!     require_debug_disabled: true,
//!     ..ReferenceValues::default()
//! };
//! for m in &platform.measurements {
//!     reference.allow(&m.component, m.digest);
//! }
//! let config = MissionConfig::new(Mission::new("op-nordic")?, reference);
//! let mut authority = MissionAuthority::generate(config, now, &rng)?;
//!
//! // A device starts from the provisioning, with a key of its own.
//! let mut trust = authority.provisioning().trust_store()?;
//! let key = SoftwareKey::generate(Algorithm::Ed25519, &rng)?;
//!
//! // The authority challenges it; the device answers; the authority enrols it.
//! let challenge = Challenge::new(&rng, now)?;
//! let request = platform.request(&key, challenge.nonce(), now)?;
//! let enrolment = authority.enrol(challenge, &request, Roles::EMPTY.with(Role::Sensor), now)?;
//!
//! // The device checks what it received before installing it.
//! let verified = enrolment.verify(&trust, &key.public_key(), now)?;
//! assert_eq!(verified.credential.device_id(), key.public_key().device_id());
//! assert_eq!(verified.result.tier(), Tier::Affirming);
//!
//! // Re-attestation: a fresh challenge, fresh evidence, a new result.
//! let challenge = Challenge::new(&rng, now)?;
//! let evidence = platform.evidence(&key, challenge.nonce(), now)?;
//! let attested = authority.attest(challenge, &key.public_key(), &evidence, now)?;
//! assert_eq!(attested.appraisal.tier(), Tier::Affirming);
//! # let _ = &mut trust;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! What it does not do: carry anything between the parties (a provisioning cable, a file, the
//! CLI or a session does), persist the authority's keys or its serial counter (see
//! [`MissionAuthority::next_serial`]), or update the trust package after provisioning.

use core::fmt;
use core::time::Duration;
use std::sync::Arc;

use iomt_schema::Timestamp;
use iomt_schema::rand::SecureRandom;

use crate::attest::{
    Appraisal, AppraisalConfig, AttestationVerifier, Challenge, DebugState, Evidence,
    FirmwareVersion, Measurement, Nonce, ReferenceValues, Tier, VerifiedResult,
};
use crate::credential::{Credential, Mission, Roles};
use crate::error::{EnrolError, SignError};
use crate::key::{Algorithm, PublicKey, Signer, SoftwareKey};
use crate::package::TrustPackage;
use crate::policy::Policy;
use crate::snapshot::TrustStart;
use crate::trust::{TrustStore, VerifiedCredential};
use crate::x509::{CertificateAuthority, CertificateIdentity};

/// What the authority fixes when it provisions a mission.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MissionConfig {
    /// The mission's name, in every credential and certificate.
    pub mission: Mission,
    /// What the verifier appraises evidence against; the trust package carries it.
    pub reference: ReferenceValues,
    /// What each role and trust state may do; the trust package pins its digest.
    pub policy: Policy,
    /// How the verifier appraises, and how long its results last.
    pub appraisal: AppraisalConfig,
    /// How long a credential (compact and X.509) runs after its issue. Default: a day.
    pub credential_lifetime: Duration,
    /// How long the X.509 root runs after provisioning. Default: a year.
    pub ca_lifetime: Duration,
    /// How long before its issue a credential or the root becomes valid, so that a peer whose
    /// clock runs behind accepts it at once. Default: a minute.
    pub backdate: Duration,
    /// The serial number of the first credential issued. Default: 1.
    pub first_serial: u64,
}

impl MissionConfig {
    /// The defaults for `mission`, appraising against `reference` under the default
    /// [`Policy`] and [`AppraisalConfig`].
    pub fn new(mission: Mission, reference: ReferenceValues) -> Self {
        Self {
            mission,
            reference,
            policy: Policy::default(),
            appraisal: AppraisalConfig::default(),
            credential_lifetime: Duration::from_secs(24 * 3600),
            ca_lifetime: Duration::from_secs(365 * 24 * 3600),
            backdate: Duration::from_secs(60),
            first_serial: 1,
        }
    }
}

/// What a device starts from: the authority's key (its trust anchor), the mission, the signed
/// trust package and the policy it pins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioning {
    /// The package authority: the device's trust anchor.
    pub authority: PublicKey,
    /// The mission.
    pub mission: Mission,
    /// The signed trust package.
    pub package: Vec<u8>,
    /// The policy whose digest the package pins.
    pub policy: Policy,
}

impl Provisioning {
    /// A trust store on its first boot, with the package applied and the policy installed (both
    /// verified as any package is).
    pub fn trust_store(&self) -> Result<TrustStore, EnrolError> {
        let mut trust =
            TrustStore::new(self.authority, self.mission.clone(), TrustStart::FirstBoot)?;
        trust.apply_package(&self.package)?;
        trust.install_policy(self.policy.clone())?;
        Ok(trust)
    }
}

/// The mission authority: it provisions the mission, appraises devices' evidence and issues
/// their attestation results, credentials and certificates. See the [module](self)
/// documentation.
pub struct MissionAuthority {
    config: MissionConfig,
    authority: Arc<dyn Signer>,
    ca: CertificateAuthority<Arc<dyn Signer>>,
    verifier_key: Arc<dyn Signer>,
    verifier: AttestationVerifier<Arc<dyn Signer>>,
    provisioning: Provisioning,
    next_serial: u64,
}

/// What a re-attestation produced: the appraisal, and the result signed from it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Attested {
    /// The appraisal: its tier and findings.
    pub appraisal: Appraisal,
    /// The signed attestation result, whatever the tier.
    pub result: Vec<u8>,
}

impl MissionAuthority {
    /// Provisions the mission at `now` with the authority key `authority` and the verifier key
    /// `verifier`: the X.509 root, and the trust package (sequence 1) that names the verifier
    /// and the root and carries the reference values and the policy's digest.
    pub fn new(
        config: MissionConfig,
        authority: Arc<dyn Signer>,
        verifier: Arc<dyn Signer>,
        now: Timestamp,
    ) -> Result<Self, EnrolError> {
        let not_before = backdated(now, config.backdate)?;
        let not_after = now
            .checked_add(config.ca_lifetime)
            .ok_or(EnrolError::TimeOutOfRange)?;
        let name = format!("{} authority", config.mission);
        let ca = CertificateAuthority::new(Arc::clone(&authority), &name, not_before, not_after)?;
        let package = TrustPackage {
            sequence: 1,
            verifiers: vec![verifier.public_key()],
            x509_roots: vec![ca.certificate_der().to_vec()],
            reference: config.reference.clone(),
            policy_digest: config.policy.digest(),
            ..TrustPackage::default()
        }
        .sign(&*authority)?;
        let provisioning = Provisioning {
            authority: authority.public_key(),
            mission: config.mission.clone(),
            package,
            policy: config.policy.clone(),
        };
        Ok(Self {
            verifier: AttestationVerifier::new(Arc::clone(&verifier), config.appraisal),
            next_serial: config.first_serial,
            config,
            authority,
            ca,
            verifier_key: verifier,
            provisioning,
        })
    }

    /// As [`new`](Self::new), with a new Ed25519 authority key and verifier key drawn from
    /// `rng`.
    pub fn generate(
        config: MissionConfig,
        now: Timestamp,
        rng: &dyn SecureRandom,
    ) -> Result<Self, EnrolError> {
        let authority = SoftwareKey::generate(Algorithm::Ed25519, rng)?;
        let verifier = SoftwareKey::generate(Algorithm::Ed25519, rng)?;
        Self::new(config, Arc::new(authority), Arc::new(verifier), now)
    }

    /// The configuration.
    pub fn config(&self) -> &MissionConfig {
        &self.config
    }

    /// The mission.
    pub fn mission(&self) -> &Mission {
        &self.config.mission
    }

    /// What every device of the mission starts from.
    pub fn provisioning(&self) -> &Provisioning {
        &self.provisioning
    }

    /// The signed trust package.
    pub fn package(&self) -> &[u8] {
        &self.provisioning.package
    }

    /// The authority key: it signs credentials, the trust package and revocation deltas.
    pub fn authority(&self) -> &Arc<dyn Signer> {
        &self.authority
    }

    /// The X.509 root, for certificates this authority issues outside enrolment.
    pub fn certificate_authority(&self) -> &CertificateAuthority<Arc<dyn Signer>> {
        &self.ca
    }

    /// The mission's verifier again, for a party that appraises evidence itself (a command
    /// post that asks its peers for evidence bound to each session).
    pub fn verifier(&self) -> AttestationVerifier<Arc<dyn Signer>> {
        AttestationVerifier::new(Arc::clone(&self.verifier_key), self.config.appraisal)
    }

    /// The serial number the next credential gets. A deployment persists it with the keys, and
    /// restarts the authority with it as [`MissionConfig::first_serial`]: a serial is never
    /// issued twice.
    pub fn next_serial(&self) -> u64 {
        self.next_serial
    }

    /// Appraises `evidence` from the device holding `key`, made over `challenge`'s nonce, and
    /// signs the result, whatever its tier.
    pub fn attest(
        &self,
        challenge: Challenge,
        key: &PublicKey,
        evidence: &[u8],
        now: Timestamp,
    ) -> Result<Attested, EnrolError> {
        let appraisal =
            self.verifier
                .appraise(challenge, key, evidence, &self.config.reference, now)?;
        let result = self.verifier.sign_result(&appraisal)?;
        Ok(Attested { appraisal, result })
    }

    /// Enrols the device that made `request` over `challenge`'s nonce, with `roles`: its
    /// evidence must be affirming. Issues the attestation result, and a credential in both
    /// forms (the certificate carries the result) valid from [`MissionConfig::backdate`]
    /// before `now` for [`MissionConfig::credential_lifetime`].
    pub fn enrol(
        &mut self,
        challenge: Challenge,
        request: &EnrolmentRequest,
        roles: Roles,
        now: Timestamp,
    ) -> Result<Enrolment, EnrolError> {
        let attested = self.attest(challenge, &request.key, &request.evidence, now)?;
        let tier = attested.appraisal.tier();
        if tier != Tier::Affirming {
            return Err(EnrolError::NotAffirming {
                tier,
                findings: attested.appraisal.findings().to_vec(),
            });
        }
        let serial = self.next_serial;
        let next_serial = serial.checked_add(1).ok_or(EnrolError::SerialsExhausted)?;
        let claims = Credential {
            subject: request.key,
            mission: self.config.mission.clone(),
            roles,
            not_before: backdated(now, self.config.backdate)?,
            not_after: now
                .checked_add(self.config.credential_lifetime)
                .ok_or(EnrolError::TimeOutOfRange)?,
            serial,
        };
        let credential = self.ca.issue_compact(&claims)?;
        let certificate = self.ca.issue_x509(&claims, Some(&attested.result))?;
        self.next_serial = next_serial;
        Ok(Enrolment {
            credential,
            certificate,
            result: attested.result,
        })
    }
}

impl fmt::Debug for MissionAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MissionAuthority")
            .field("mission", &self.config.mission)
            .field("authority", &self.authority.public_key())
            .field("verifier", &self.verifier_key.public_key())
            .field("next_serial", &self.next_serial)
            .finish_non_exhaustive()
    }
}

/// A device's platform as its boot chain measured it: every claim of its evidence but the
/// nonce and the time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// Secure boot enabled.
    pub secure_boot: bool,
    /// Debug status.
    pub debug: DebugState,
    /// Firmware version.
    pub firmware: FirmwareVersion,
    /// The measured components.
    pub measurements: Vec<Measurement>,
}

impl Platform {
    /// Evidence of this state over `nonce`, made at `now` and signed with the device's `key`
    /// (the RFC 9334 attester role).
    pub fn evidence(
        &self,
        key: &dyn Signer,
        nonce: &Nonce,
        now: Timestamp,
    ) -> Result<Vec<u8>, SignError> {
        Evidence {
            device: key.public_key().device_id(),
            nonce: nonce.clone(),
            issued_at: now,
            secure_boot: self.secure_boot,
            debug: self.debug,
            firmware: self.firmware,
            measurements: self.measurements.clone(),
        }
        .sign(key)
    }

    /// The device's answer to an enrolment challenge: its public key and its evidence over
    /// `nonce`.
    pub fn request(
        &self,
        key: &dyn Signer,
        nonce: &Nonce,
        now: Timestamp,
    ) -> Result<EnrolmentRequest, SignError> {
        Ok(EnrolmentRequest {
            key: key.public_key(),
            evidence: self.evidence(key, nonce, now)?,
        })
    }
}

/// What a device sends to enrol: its public key, and evidence signed with it over the
/// authority's nonce (which proves it holds the key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolmentRequest {
    /// The device's public key: its identity.
    pub key: PublicKey,
    /// The signed evidence.
    pub evidence: Vec<u8>,
}

/// What the authority issues to an enrolled device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment {
    /// The compact credential (CWT), for radio links.
    pub credential: Vec<u8>,
    /// The X.509 certificate (DER), for TLS, carrying the attestation result.
    pub certificate: Vec<u8>,
    /// The signed attestation result.
    pub result: Vec<u8>,
}

/// An enrolment the device checked: its credential and attestation result as its trust store
/// verified them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedEnrolment {
    /// The credential.
    pub credential: VerifiedCredential,
    /// The attestation result, affirming.
    pub result: VerifiedResult,
}

impl Enrolment {
    /// The device's check of what it received, at `now`, through its own `trust` store: the
    /// credential verifies and names `key`, the result verifies, is bound to `key` and is
    /// affirming, and the certificate names the same key and mission and carries the same
    /// result. (The certificate's signature is checked where it is presented: webpki's path
    /// validation, see the `tls` module.)
    pub fn verify(
        &self,
        trust: &TrustStore,
        key: &PublicKey,
        now: Timestamp,
    ) -> Result<VerifiedEnrolment, EnrolError> {
        let credential = trust.verify_credential(&self.credential, now)?;
        if credential.public_key() != key {
            return Err(EnrolError::NotOurKey);
        }
        let result = trust.verify_result(&self.result, key, now)?;
        result.require_affirming()?;
        let certificate =
            CertificateIdentity::parse(&self.certificate).map_err(EnrolError::Certificate)?;
        let mismatch = if certificate.key != *key {
            Some("key")
        } else if certificate.mission != *credential.mission() {
            Some("mission")
        } else if certificate.serial != Some(credential.serial()) {
            Some("serial")
        } else if certificate.attestation_result.as_deref() != Some(self.result.as_slice()) {
            Some("attestation result")
        } else {
            None
        };
        if let Some(field) = mismatch {
            return Err(EnrolError::CertificateMismatch(field));
        }
        Ok(VerifiedEnrolment { credential, result })
    }
}

/// `now` moved back by `by` (to the epoch at the earliest).
fn backdated(now: Timestamp, by: Duration) -> Result<Timestamp, EnrolError> {
    let by = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
    Timestamp::from_millis(now.as_millis().saturating_sub(by)).ok_or(EnrolError::TimeOutOfRange)
}
