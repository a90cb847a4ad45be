//! The verifier role (RFC 9334): challenges, the appraisal of evidence against
//! reference values, and the attestation results it signs.

use core::fmt;
use core::time::Duration;
use std::collections::{BTreeMap, BTreeSet};

use iomt_schema::rand::SecureRandom;
use iomt_schema::{DeviceId, Timestamp};

use super::{
    BadNonce, CLAIM_CNF, CLAIM_EXP, CLAIM_IAT, CLAIM_STATUS, CLAIM_TIER, Evidence, FirmwareVersion,
    Nonce, ReferenceValues, read_ueid, write_ueid,
};
use crate::cbor::{self, KeyOrder, Reader};
use crate::cose;
use crate::credential::seconds;
use crate::error::{AppraisalError, DecodeError, SignError};
use crate::key::{PublicKey, Signer};
use crate::signed::Unverified;
use crate::signed::claims::Claims;

/// The random source failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the random source failed")]
pub struct RandomFailure;

/// A value only the two endpoints of one secure-channel session know, derived by this side
/// from its own key schedule: the channel binding evidence is made over.
///
/// Implement it for types that only a channel's key schedule can produce (the transport's
/// handshake nonce, a TLS exporter output read from a live connection), never for bytes
/// received from the peer: see the rule on [`Challenge::from_channel_binding`]. The
/// attester puts the same value in its evidence as the nonce, taken from its own end of the
/// channel.
pub trait ChannelBinding {
    /// The binding: 8 to 64 bytes.
    fn channel_binding(&self) -> &[u8];
}

/// A challenge the verifier made; [`AttestationVerifier::appraise`] consumes it.
///
/// Neither `Clone` nor `Copy`, and only the verifier makes one: evidence can be appraised only
/// against a challenge this verifier issued, and only once.
pub struct Challenge {
    nonce: Nonce,
    issued_at: Timestamp,
}

impl Challenge {
    /// A fresh random 32-byte challenge issued at `now`.
    pub fn new(rng: &dyn SecureRandom, now: Timestamp) -> Result<Self, RandomFailure> {
        let mut bytes = [0u8; 32];
        rng.fill(&mut bytes).map_err(|_| RandomFailure)?;
        Ok(Self {
            nonce: Nonce(bytes.to_vec()),
            issued_at: now,
        })
    }

    /// A challenge bound to a secure channel the verifier is itself an endpoint of, from the
    /// binding value (8 to 64 bytes).
    ///
    /// # The rule
    ///
    /// This is safe only when the relying side derives `binding` itself, from its own view of
    /// the channel: its own transcript hash or exporter output (an EDHOC exporter or
    /// handshake nonce, a TLS `export_keying_material`). Never take it from the peer, and
    /// never from bytes inside the evidence being appraised: the challenge would then be
    /// whatever the attester (or a relay) chose, and evidence recorded in another session
    /// would pass. Derived locally, the binding also proves the evidence was made for this
    /// channel, since only its two endpoints know the value.
    ///
    /// Prefer [`for_channel`](Self::for_channel), whose argument is a channel rather than
    /// bytes.
    pub fn from_channel_binding(binding: &[u8], now: Timestamp) -> Result<Self, BadNonce> {
        Ok(Self {
            nonce: Nonce::new(binding)?,
            issued_at: now,
        })
    }

    /// A challenge bound to `channel`, a secure channel this side is an endpoint of (see
    /// [`ChannelBinding`] and the rule on [`from_channel_binding`](Self::from_channel_binding)).
    pub fn for_channel(channel: &dyn ChannelBinding, now: Timestamp) -> Result<Self, BadNonce> {
        Self::from_channel_binding(channel.channel_binding(), now)
    }

    /// The nonce to send to the attester.
    pub fn nonce(&self) -> &Nonce {
        &self.nonce
    }

    /// When the challenge was made.
    pub fn issued_at(&self) -> Timestamp {
        self.issued_at
    }
}

impl fmt::Debug for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Challenge")
            .field("issued_at", &self.issued_at)
            .finish_non_exhaustive()
    }
}

/// Trust tier of an appraisal (AR4SI trustworthiness tiers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tier {
    /// Everything appraised matches the reference values.
    Affirming,
    /// Something is off but not known-bad.
    Warning,
    /// Known-bad or unverifiable: do not trust.
    Contraindicated,
}

impl Tier {
    /// The AR4SI code: 2, 32 or 96.
    pub const fn code(self) -> u8 {
        match self {
            Self::Affirming => 2,
            Self::Warning => 32,
            Self::Contraindicated => 96,
        }
    }

    /// The tier for an AR4SI code.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            2 => Some(Self::Affirming),
            32 => Some(Self::Warning),
            96 => Some(Self::Contraindicated),
            _ => None,
        }
    }
}

/// An appraised aspect of the attester, with its own tier in the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AppraisedClaim {
    /// The measurements against the reference digests (AR4SI "executables").
    Measurements,
    /// The firmware version against the minimum.
    Firmware,
    /// Secure boot.
    SecureBoot,
    /// Debug status.
    Debug,
}

impl AppraisedClaim {
    const ALL: [Self; 4] = [
        Self::Measurements,
        Self::Firmware,
        Self::SecureBoot,
        Self::Debug,
    ];

    const fn code(self) -> u8 {
        match self {
            Self::Measurements => 0,
            Self::Firmware => 1,
            Self::SecureBoot => 2,
            Self::Debug => 3,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }
}

/// One reason an appraisal is not affirming.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Finding {
    /// A component's digest is not among the reference values for it.
    MeasurementNotInReference {
        /// The component.
        component: String,
    },
    /// A measured component has no reference values at all.
    UnknownComponent {
        /// The component.
        component: String,
    },
    /// A component with reference values was not measured.
    MissingComponent {
        /// The component.
        component: String,
    },
    /// The firmware is older than the minimum.
    FirmwareBelowMinimum {
        /// Reported.
        found: FirmwareVersion,
        /// Required.
        minimum: FirmwareVersion,
    },
    /// Secure boot is off but required.
    SecureBootDisabled,
    /// Debug is on but must be off.
    DebugEnabled,
}

impl Finding {
    fn claim_and_tier(&self) -> (AppraisedClaim, Tier) {
        match self {
            Self::MeasurementNotInReference { .. } => {
                (AppraisedClaim::Measurements, Tier::Contraindicated)
            }
            Self::UnknownComponent { .. } => (AppraisedClaim::Measurements, Tier::Warning),
            Self::MissingComponent { .. } => (AppraisedClaim::Measurements, Tier::Contraindicated),
            Self::FirmwareBelowMinimum { .. } => (AppraisedClaim::Firmware, Tier::Contraindicated),
            Self::SecureBootDisabled => (AppraisedClaim::SecureBoot, Tier::Contraindicated),
            Self::DebugEnabled => (AppraisedClaim::Debug, Tier::Warning),
        }
    }
}

/// How a verifier appraises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppraisalConfig {
    /// Longest time from challenge to appraisal.
    pub freshness: Duration,
    /// Allowed clock difference between attester and verifier for `iat`.
    pub clock_skew: Duration,
    /// Lifetime of the attestation results this verifier signs.
    pub result_lifetime: Duration,
}

impl Default for AppraisalConfig {
    fn default() -> Self {
        Self {
            freshness: Duration::from_secs(30),
            clock_skew: Duration::from_secs(5),
            result_lifetime: Duration::from_secs(15 * 60),
        }
    }
}

/// The verifier role: issues challenges, appraises evidence, signs attestation results.
pub struct AttestationVerifier<S> {
    signer: S,
    config: AppraisalConfig,
}

impl<S: Signer> AttestationVerifier<S> {
    /// A verifier signing results with `signer` (its key must be a verifier key in the trust
    /// package for relying parties to accept the results).
    pub fn new(signer: S, config: AppraisalConfig) -> Self {
        Self { signer, config }
    }

    /// The configuration.
    pub fn config(&self) -> &AppraisalConfig {
        &self.config
    }

    /// The verifier's public key.
    pub fn public_key(&self) -> PublicKey {
        self.signer.public_key()
    }

    /// Appraises signed `evidence` from the device holding `attester` (its key, typically from
    /// a [`VerifiedCredential`](crate::VerifiedCredential)) against `reference`, consuming the
    /// challenge the evidence must answer.
    ///
    /// `Err` means the evidence cannot be trusted at all (forged, replayed, stale, malformed);
    /// `Ok` carries the findings and tiers, which may still be contraindicated.
    pub fn appraise(
        &self,
        challenge: Challenge,
        attester: &PublicKey,
        evidence: &[u8],
        reference: &ReferenceValues,
        now: Timestamp,
    ) -> Result<Appraisal, AppraisalError> {
        let evidence = Unverified::<Evidence>::decode(evidence)?;
        let (signer, attester_kid) = (evidence.signer(), attester.short_id());
        if signer != attester_kid {
            return Err(AppraisalError::WrongKey {
                signer,
                attester: attester_kid,
            });
        }
        let claims = evidence
            .verify(attester)
            .map_err(|_| AppraisalError::BadSignature {
                attester: attester_kid,
            })?;
        let derived = attester.device_id();
        if claims.device != derived {
            return Err(AppraisalError::DeviceIdMismatch {
                claimed: claims.device,
                derived,
            });
        }
        if claims.nonce != challenge.nonce {
            return Err(AppraisalError::NonceMismatch);
        }
        let age = now.saturating_since(challenge.issued_at);
        if age > self.config.freshness {
            return Err(AppraisalError::Stale {
                age_ms: u64::try_from(age.as_millis()).unwrap_or(u64::MAX),
                limit_ms: u64::try_from(self.config.freshness.as_millis()).unwrap_or(u64::MAX),
            });
        }
        // `iat` has whole seconds: allow the challenge's own second plus the skew on each side.
        let skew = u64::try_from(self.config.clock_skew.as_millis()).unwrap_or(u64::MAX);
        let earliest = (challenge.issued_at.as_millis() / 1000 * 1000).saturating_sub(skew);
        let latest = now.as_millis().saturating_add(skew);
        if !(earliest..=latest).contains(&claims.issued_at.as_millis()) {
            let at = |ms| Timestamp::from_millis(ms).unwrap_or(Timestamp::MAX);
            return Err(AppraisalError::IssuedAtOutOfWindow {
                issued_at: claims.issued_at,
                earliest: at(earliest),
                latest: at(latest),
            });
        }
        Ok(Appraisal::new(*attester, claims, reference, now))
    }

    /// Signs `appraisal` as an attestation result, valid from the appraisal for the configured
    /// lifetime.
    pub fn sign_result(&self, appraisal: &Appraisal) -> Result<Vec<u8>, SignError> {
        let expires_at = appraisal
            .appraised_at
            .checked_add(self.config.result_lifetime)
            .ok_or(SignError::Invalid("result expiry out of range"))?;
        let result = AttestationResult {
            device: appraisal.evidence.device,
            key: appraisal.key,
            tier: appraisal.tier,
            statuses: appraisal.statuses.clone(),
            issued_at: appraisal.appraised_at,
            expires_at,
        };
        result.sign(&self.signer)
    }
}

impl<S> fmt::Debug for AttestationVerifier<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AttestationVerifier")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The outcome of appraising evidence: the verified evidence, findings and tiers. Only
/// [`AttestationVerifier::appraise`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appraisal {
    key: PublicKey,
    evidence: Evidence,
    findings: Vec<Finding>,
    statuses: BTreeMap<AppraisedClaim, Tier>,
    tier: Tier,
    appraised_at: Timestamp,
}

impl Appraisal {
    fn new(
        key: PublicKey,
        evidence: Evidence,
        reference: &ReferenceValues,
        now: Timestamp,
    ) -> Self {
        let mut findings = Vec::new();
        let measured: BTreeSet<&str> = evidence
            .measurements
            .iter()
            .map(|m| m.component.as_str())
            .collect();
        for m in &evidence.measurements {
            match reference.components.get(&m.component) {
                Some(allowed) if allowed.contains(&m.digest) => {}
                Some(_) => findings.push(Finding::MeasurementNotInReference {
                    component: m.component.clone(),
                }),
                None => findings.push(Finding::UnknownComponent {
                    component: m.component.clone(),
                }),
            }
        }
        for name in reference.components.keys() {
            if !measured.contains(name.as_str()) {
                findings.push(Finding::MissingComponent {
                    component: name.clone(),
                });
            }
        }
        if evidence.firmware < reference.min_firmware {
            findings.push(Finding::FirmwareBelowMinimum {
                found: evidence.firmware,
                minimum: reference.min_firmware,
            });
        }
        if reference.require_secure_boot && !evidence.secure_boot {
            findings.push(Finding::SecureBootDisabled);
        }
        if reference.require_debug_disabled && !evidence.debug.is_disabled() {
            findings.push(Finding::DebugEnabled);
        }
        let mut statuses: BTreeMap<AppraisedClaim, Tier> = AppraisedClaim::ALL
            .into_iter()
            .map(|c| (c, Tier::Affirming))
            .collect();
        for finding in &findings {
            let (claim, tier) = finding.claim_and_tier();
            let entry = statuses.entry(claim).or_insert(Tier::Affirming);
            *entry = (*entry).max(tier);
        }
        let tier = statuses.values().copied().max().unwrap_or(Tier::Affirming);
        Self {
            key,
            evidence,
            findings,
            statuses,
            tier,
            appraised_at: now,
        }
    }

    /// The overall tier: the worst per-claim tier.
    pub fn tier(&self) -> Tier {
        self.tier
    }

    /// Every reason the appraisal is not affirming; empty when it is.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// The tier of each appraised claim.
    pub fn statuses(&self) -> &BTreeMap<AppraisedClaim, Tier> {
        &self.statuses
    }

    /// The appraised evidence (its signature, nonce and freshness checked).
    pub fn evidence(&self) -> &Evidence {
        &self.evidence
    }

    /// The attester's key.
    pub fn attester(&self) -> &PublicKey {
        &self.key
    }
}

/// The content of an attestation result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestationResult {
    /// The device.
    pub device: DeviceId,
    /// The device key the result is bound to.
    pub key: PublicKey,
    /// Overall tier.
    pub tier: Tier,
    /// Tier per appraised claim.
    pub statuses: BTreeMap<AppraisedClaim, Tier>,
    /// Appraisal time (floored to the second when signed).
    pub issued_at: Timestamp,
    /// Expiry, exclusive (floored to the second when signed).
    pub expires_at: Timestamp,
}

impl AttestationResult {
    /// Signs the result with a verifier key.
    pub fn sign(&self, verifier: &dyn Signer) -> Result<Vec<u8>, SignError> {
        if self.key.device_id() != self.device {
            return Err(SignError::Invalid(
                "result names another device than its key",
            ));
        }
        cose::sign(verifier, Self::AAD, &self.encode_claims())
    }
}

impl Claims for AttestationResult {
    const AAD: &'static [u8] = b"iomt-attestation-result-v1";

    fn encode_claims(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(160);
        cbor::write_map(&mut out, 6);
        cbor::write_int(&mut out, CLAIM_EXP);
        cbor::write_uint(&mut out, self.expires_at.as_millis() / 1000);
        cbor::write_int(&mut out, CLAIM_IAT);
        cbor::write_uint(&mut out, self.issued_at.as_millis() / 1000);
        cbor::write_int(&mut out, CLAIM_CNF);
        cose::write_own_confirmation(&mut out, &self.key);
        write_ueid(&mut out, self.device);
        cbor::write_int(&mut out, CLAIM_TIER);
        cbor::write_uint(&mut out, u64::from(self.tier.code()));
        cbor::write_int(&mut out, CLAIM_STATUS);
        cbor::write_map(&mut out, self.statuses.len());
        for (claim, tier) in &self.statuses {
            cbor::write_uint(&mut out, u64::from(claim.code()));
            cbor::write_uint(&mut out, u64::from(tier.code()));
        }
        out
    }

    fn decode_claims(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.map_of(6, "result claims")?;
        r.key(CLAIM_EXP, "exp")?;
        let exp_at = r.position();
        let expires_at = seconds(r, "exp")?;
        r.key(CLAIM_IAT, "iat")?;
        let issued_at = seconds(r, "iat")?;
        r.key(CLAIM_CNF, "cnf")?;
        let key = cose::read_own_confirmation(r)?;
        let ueid_at = r.position();
        let device = read_ueid(r)?;
        r.key(CLAIM_TIER, "tier")?;
        let tier = read_tier(r)?;
        r.key(CLAIM_STATUS, "status")?;
        let n = r.map_up_to(AppraisedClaim::ALL.len(), "status")?;
        let mut statuses = BTreeMap::new();
        let mut claims = KeyOrder::new();
        for _ in 0..n {
            let at = r.position();
            let claim = AppraisedClaim::from_code(claims.next(r, Reader::u8)?).ok_or(
                DecodeError::invalid("status", at, "a claim code from 0 to 3"),
            )?;
            statuses.insert(claim, read_tier(r)?);
        }
        if key.device_id() != device {
            return Err(DecodeError::invalid(
                "ueid",
                ueid_at,
                "the device of the cnf key",
            ));
        }
        if expires_at <= issued_at {
            return Err(DecodeError::invalid("exp", exp_at, "after iat"));
        }
        Ok(Self {
            device,
            key,
            tier,
            statuses,
            issued_at,
            expires_at,
        })
    }
}

fn read_tier(r: &mut Reader<'_>) -> Result<Tier, DecodeError> {
    let at = r.position();
    Tier::from_code(r.u8()?).ok_or(DecodeError::invalid("tier", at, "2, 32 or 96 (AR4SI)"))
}
