//! Attestation in the RFC 9334 roles: the attester's [`Evidence`], the verifier's appraisal
//! against [`ReferenceValues`], and the signed [`AttestationResult`] a relying party checks
//! offline (the passport model).
//!
//! Evidence is an EAT (RFC 9711) claims set signed with the device key:
//!
//! | key | EAT claim | value |
//! |---|---|---|
//! | 6 | `iat` | issued at, NumericDate (seconds) |
//! | 10 | `eat_nonce` | the verifier's nonce, 8 to 64 bytes |
//! | 256 | `ueid` | `0x01` (type RAND) followed by the 16-byte [`DeviceId`] |
//! | 262 | `oemboot` | secure boot enabled |
//! | 263 | `dbgstat` | [`DebugState`] |
//! | 271 | `swversion` | `["major.minor.patch", 1]` (multipartnumeric scheme) |
//! | -65539 | measurements | `[[layer, component, SHA-256 digest], ...]` sorted, in the spirit of DICE layers and TPM PCRs (private-use key) |
//!
//! The verifier issues a [`Challenge`] and [`AttestationVerifier::appraise`] consumes it: there is
//! no way to appraise evidence without the challenge the verifier made, and no way to use one
//! challenge twice. The [`Appraisal`] lists every [`Finding`] and derives a [`Tier`] per
//! appraised claim and overall (AR4SI's affirming, warning and contraindicated); the
//! verifier signs it as an attestation result bound to the device key:
//!
//! | key | claim | value |
//! |---|---|---|
//! | 4 | `exp` | expiry, NumericDate |
//! | 6 | `iat` | appraisal time, NumericDate |
//! | 8 | `cnf` | `{1: COSE_Key}`: the attester's key |
//! | 256 | `ueid` | as in the evidence |
//! | -65540 | tier | overall [`Tier`] code |
//! | -65541 | per-claim status | `{claim code: tier code}` ([`AppraisedClaim`]) |

use core::fmt;
use core::str::FromStr;
use core::time::Duration;
use std::collections::{BTreeMap, BTreeSet};

use iomt_schema::{DeviceId, ShortId, Timestamp};
use ring::rand::SecureRandom;

use crate::cbor::{Dec, Enc, EncError, encode_with, ensure_canonical};
use crate::cose::{self, Sign1};
use crate::credential::{expect_key, seconds};
use crate::error::{AppraisalError, DecodeError, SignError};
use crate::key::{PublicKey, Signer};

pub(crate) const EVIDENCE_AAD: &[u8] = b"iomt-evidence-v1";
pub(crate) const RESULT_AAD: &[u8] = b"iomt-attestation-result-v1";

const CLAIM_EXP: i64 = 4;
const CLAIM_IAT: i64 = 6;
const CLAIM_CNF: i64 = 8;
const CLAIM_NONCE: i64 = 10;
const CLAIM_UEID: i64 = 256;
const CLAIM_OEMBOOT: i64 = 262;
const CLAIM_DBGSTAT: i64 = 263;
const CLAIM_SWVERSION: i64 = 271;
const CLAIM_MEASUREMENTS: i64 = -65539;
const CLAIM_TIER: i64 = -65540;
const CLAIM_STATUS: i64 = -65541;
const UEID_TYPE_RAND: u8 = 0x01;
const SWVERSION_MULTIPARTNUMERIC: u64 = 1;

/// Most measurements one piece of evidence may carry.
pub const MAX_MEASUREMENTS: usize = 32;

/// A nonce: 8 to 64 bytes (RFC 9711 section 4.1).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Nonce(Vec<u8>);

/// A nonce of the wrong length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a nonce is 8 to 64 bytes")]
pub struct BadNonce;

impl Nonce {
    /// Wraps 8 to 64 bytes.
    pub fn new(bytes: &[u8]) -> Result<Self, BadNonce> {
        if (8..=64).contains(&bytes.len()) {
            Ok(Self(bytes.to_vec()))
        } else {
            Err(BadNonce)
        }
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Nonce(")?;
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))?;
        f.write_str(")")
    }
}

/// A firmware version, compared numerically part by part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct FirmwareVersion {
    /// Major.
    pub major: u16,
    /// Minor.
    pub minor: u16,
    /// Patch.
    pub patch: u16,
}

impl FirmwareVersion {
    /// `major.minor.patch`.
    pub const fn new(major: u16, minor: u16, patch: u16) -> Self {
        Self {
            major,
            minor,
            patch,
        }
    }
}

impl fmt::Display for FirmwareVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl FromStr for FirmwareVersion {
    type Err = DecodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = DecodeError::OutOfRange("swversion");
        let mut parts = s
            .split('.')
            .map(|p| p.parse::<u16>().map_err(|_| err.clone()));
        let (Some(major), Some(minor), Some(patch), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(err);
        };
        let v = Self::new(major?, minor?, patch?);
        // One text per version: no leading zeros, no sign.
        if v.to_string() != s {
            return Err(DecodeError::NotCanonical);
        }
        Ok(v)
    }
}

/// Debug status (EAT `dbgstat`, RFC 9711 section 4.2.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DebugState {
    /// Debug is enabled.
    Enabled,
    /// Debug is disabled (may be re-enabled).
    Disabled,
    /// Disabled since boot.
    DisabledSinceBoot,
    /// Permanently disabled.
    DisabledPermanently,
    /// Permanently disabled, including by the manufacturer.
    DisabledFullyAndPermanently,
}

impl DebugState {
    const fn code(self) -> u8 {
        match self {
            Self::Enabled => 0,
            Self::Disabled => 1,
            Self::DisabledSinceBoot => 2,
            Self::DisabledPermanently => 3,
            Self::DisabledFullyAndPermanently => 4,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::Enabled,
            1 => Self::Disabled,
            2 => Self::DisabledSinceBoot,
            3 => Self::DisabledPermanently,
            4 => Self::DisabledFullyAndPermanently,
            _ => return None,
        })
    }

    /// Whether debug is off in any form.
    pub const fn is_disabled(self) -> bool {
        !matches!(self, Self::Enabled)
    }
}

/// One measured component: a boot or runtime layer (DICE layer, TPM PCR index), its name and
/// the SHA-256 digest of what was loaded.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Measurement {
    /// The layer (0 = first mutable code after ROM).
    pub layer: u8,
    /// The component's name, 1 to 32 bytes of UTF-8.
    pub component: String,
    /// SHA-256 of the component.
    pub digest: [u8; 32],
}

impl Measurement {
    /// Measures `image` (SHA-256) as `component` at `layer`.
    pub fn of(layer: u8, component: &str, image: &[u8]) -> Self {
        let mut digest = [0u8; 32];
        digest.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, image).as_ref());
        Self {
            layer,
            component: component.to_owned(),
            digest,
        }
    }
}

/// What the attester reports about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// The device.
    pub device: DeviceId,
    /// The verifier's nonce, as received.
    pub nonce: Nonce,
    /// When the evidence was made (floored to the second when signed).
    pub issued_at: Timestamp,
    /// Secure boot enabled.
    pub secure_boot: bool,
    /// Debug status.
    pub debug: DebugState,
    /// Firmware version.
    pub firmware: FirmwareVersion,
    /// Measurements, sorted by layer then component, unique (sorted when signed).
    pub measurements: Vec<Measurement>,
}

impl Evidence {
    /// Signs the evidence with the device key (the attester role).
    pub fn sign(&self, device_key: &dyn Signer) -> Result<Vec<u8>, SignError> {
        if device_key.public_key().device_id() != self.device {
            return Err(SignError::Invalid(
                "evidence names another device than the key",
            ));
        }
        let mut this = self.clone();
        this.measurements.sort();
        this.measurements.dedup();
        if this.measurements.len() > MAX_MEASUREMENTS
            || this
                .measurements
                .iter()
                .any(|m| !(1..=32).contains(&m.component.len()))
            || this
                .measurements
                .windows(2)
                .any(|w| matches!(w, [a, b] if a.layer == b.layer && a.component == b.component))
        {
            return Err(SignError::Invalid("measurements"));
        }
        cose::sign(device_key, EVIDENCE_AAD, &this.encode_claims())
    }

    fn encode_claims(&self) -> Vec<u8> {
        encode_with(|e| {
            e.map(7)?;
            e.i64(CLAIM_IAT)?.u64(self.issued_at.as_millis() / 1000)?;
            e.i64(CLAIM_NONCE)?.bytes(self.nonce.as_bytes())?;
            write_ueid(e, self.device)?;
            e.i64(CLAIM_OEMBOOT)?.bool(self.secure_boot)?;
            e.i64(CLAIM_DBGSTAT)?.u8(self.debug.code())?;
            e.i64(CLAIM_SWVERSION)?
                .array(2)?
                .str(&self.firmware.to_string())?
                .u64(SWVERSION_MULTIPARTNUMERIC)?;
            e.i64(CLAIM_MEASUREMENTS)?
                .array(u64::try_from(self.measurements.len()).unwrap_or(u64::MAX))?;
            for m in &self.measurements {
                e.array(3)?
                    .u8(m.layer)?
                    .str(&m.component)?
                    .bytes(&m.digest)?;
            }
            Ok(())
        })
    }

    fn decode_claims(payload: &[u8]) -> Result<Self, DecodeError> {
        let mut d = Dec::new(payload);
        if d.map("evidence", 7)? != 7 {
            return Err(DecodeError::Missing("evidence claims"));
        }
        expect_key(&mut d, CLAIM_IAT, "iat")?;
        let issued_at = seconds(d.u64()?, "iat")?;
        expect_key(&mut d, CLAIM_NONCE, "eat_nonce")?;
        let nonce = Nonce::new(d.bytes()?).map_err(|_| DecodeError::OutOfRange("eat_nonce"))?;
        let device = read_ueid(&mut d)?;
        expect_key(&mut d, CLAIM_OEMBOOT, "oemboot")?;
        let secure_boot = d.bool()?;
        expect_key(&mut d, CLAIM_DBGSTAT, "dbgstat")?;
        let debug = DebugState::from_code(d.u8()?).ok_or(DecodeError::OutOfRange("dbgstat"))?;
        expect_key(&mut d, CLAIM_SWVERSION, "swversion")?;
        if d.array("swversion", 2)? != 2 {
            return Err(DecodeError::Missing("swversion scheme"));
        }
        let firmware: FirmwareVersion = d.str()?.parse()?;
        if d.u64()? != SWVERSION_MULTIPARTNUMERIC {
            return Err(DecodeError::OutOfRange("swversion scheme"));
        }
        expect_key(&mut d, CLAIM_MEASUREMENTS, "measurements")?;
        let count = d.array("measurements", MAX_MEASUREMENTS)?;
        let mut measurements = Vec::with_capacity(count);
        for _ in 0..count {
            if d.array("measurement", 3)? != 3 {
                return Err(DecodeError::Missing("measurement fields"));
            }
            let layer = d.u8()?;
            let component = d.str()?;
            if !(1..=32).contains(&component.len()) {
                return Err(DecodeError::OutOfRange("component"));
            }
            let digest = d.array_bytes::<32>("digest")?;
            let m = Measurement {
                layer,
                component: component.to_owned(),
                digest,
            };
            if measurements
                .last()
                .is_some_and(|p: &Measurement| (p.layer, &p.component) >= (m.layer, &m.component))
            {
                return Err(DecodeError::NotCanonical);
            }
            measurements.push(m);
        }
        d.finish()?;
        Ok(Self {
            device,
            nonce,
            issued_at,
            secure_boot,
            debug,
            firmware,
            measurements,
        })
    }

    /// Decodes signed evidence without checking its signature (for inspection and fuzzing);
    /// returns the claims and the signer's key id.
    pub fn decode(bytes: &[u8]) -> Result<(Self, ShortId), DecodeError> {
        let sign1 = Sign1::parse_strict(bytes)?;
        let evidence = Self::decode_claims(sign1.payload())?;
        ensure_canonical(sign1.payload(), &evidence.encode_claims())?;
        Ok((evidence, kid_of(&sign1)?))
    }
}

fn kid_of(sign1: &Sign1<'_>) -> Result<ShortId, DecodeError> {
    let kid = sign1.kid().unwrap_or_default();
    <[u8; 8]>::try_from(kid)
        .map(ShortId::from_bytes)
        .map_err(|_| DecodeError::OutOfRange("kid"))
}

fn write_ueid(e: &mut Enc<'_>, device: DeviceId) -> Result<(), EncError> {
    let mut ueid = [0u8; 17];
    ueid[0] = UEID_TYPE_RAND;
    ueid.get_mut(1..)
        .unwrap_or(&mut [])
        .copy_from_slice(device.as_bytes());
    e.i64(CLAIM_UEID)?.bytes(&ueid)?;
    Ok(())
}

fn read_ueid(d: &mut Dec<'_>) -> Result<DeviceId, DecodeError> {
    expect_key(d, CLAIM_UEID, "ueid")?;
    let ueid = d.array_bytes::<17>("ueid")?;
    let [UEID_TYPE_RAND, rest @ ..] = ueid else {
        return Err(DecodeError::OutOfRange("ueid type"));
    };
    Ok(DeviceId::from_bytes(rest))
}

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

/// What the verifier compares evidence against. Distributed in the trust package.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReferenceValues {
    /// Allowed digests per component name. A measured component with a digest not listed is
    /// contraindicated; a listed component missing from the evidence is contraindicated.
    pub components: BTreeMap<String, BTreeSet<[u8; 32]>>,
    /// Lowest acceptable firmware.
    pub min_firmware: FirmwareVersion,
    /// Secure boot must be on.
    pub require_secure_boot: bool,
    /// Debug must be off.
    pub require_debug_disabled: bool,
}

impl ReferenceValues {
    /// Allows `digest` for `component`.
    pub fn allow(&mut self, component: &str, digest: [u8; 32]) -> &mut Self {
        self.components
            .entry(component.to_owned())
            .or_default()
            .insert(digest);
        self
    }

    pub(crate) fn encode(&self, e: &mut Enc<'_>) -> Result<(), EncError> {
        e.array(4)?;
        e.map(u64::try_from(self.components.len()).unwrap_or(u64::MAX))?;
        for (name, digests) in &self.components {
            e.str(name)?
                .array(u64::try_from(digests.len()).unwrap_or(u64::MAX))?;
            for digest in digests {
                e.bytes(digest)?;
            }
        }
        e.str(&self.min_firmware.to_string())?
            .bool(self.require_secure_boot)?
            .bool(self.require_debug_disabled)?;
        Ok(())
    }

    pub(crate) fn decode(d: &mut Dec<'_>) -> Result<Self, DecodeError> {
        if d.array("reference values", 4)? != 4 {
            return Err(DecodeError::Missing("reference values"));
        }
        let count = d.map("components", 256)?;
        let mut components = BTreeMap::new();
        for _ in 0..count {
            let name = d.str()?.to_owned();
            let n = d.array("digests", 64)?;
            let mut digests = BTreeSet::new();
            for _ in 0..n {
                digests.insert(d.array_bytes::<32>("digest")?);
            }
            if components.insert(name, digests).is_some() {
                return Err(DecodeError::Unexpected("duplicate component"));
            }
        }
        let min_firmware = d.str()?.parse()?;
        let require_secure_boot = d.bool()?;
        let require_debug_disabled = d.bool()?;
        Ok(Self {
            components,
            min_firmware,
            require_secure_boot,
            require_debug_disabled,
        })
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
        let sign1 = Sign1::parse_strict(evidence)?;
        let claims = Evidence::decode_claims(sign1.payload())?;
        ensure_canonical(sign1.payload(), &claims.encode_claims())?;
        if kid_of(&sign1)? != attester.short_id() {
            return Err(AppraisalError::WrongKey);
        }
        sign1
            .verify(attester, EVIDENCE_AAD)
            .map_err(|_| AppraisalError::BadSignature)?;
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
            return Err(AppraisalError::IssuedAtOutOfWindow);
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
        cose::sign(verifier, RESULT_AAD, &self.encode_claims())
    }

    fn encode_claims(&self) -> Vec<u8> {
        encode_with(|e| {
            e.map(6)?;
            e.i64(CLAIM_EXP)?.u64(self.expires_at.as_millis() / 1000)?;
            e.i64(CLAIM_IAT)?.u64(self.issued_at.as_millis() / 1000)?;
            e.i64(CLAIM_CNF)?.map(1)?.i64(1)?;
            cose::write_cose_key(e, &self.key)?;
            write_ueid(e, self.device)?;
            e.i64(CLAIM_TIER)?.u8(self.tier.code())?;
            e.i64(CLAIM_STATUS)?
                .map(u64::try_from(self.statuses.len()).unwrap_or(u64::MAX))?;
            for (claim, tier) in &self.statuses {
                e.u8(claim.code())?.u8(tier.code())?;
            }
            Ok(())
        })
    }

    fn decode_claims(payload: &[u8]) -> Result<Self, DecodeError> {
        let mut d = Dec::new(payload);
        if d.map("result", 6)? != 6 {
            return Err(DecodeError::Missing("result claims"));
        }
        expect_key(&mut d, CLAIM_EXP, "exp")?;
        let expires_at = seconds(d.u64()?, "exp")?;
        expect_key(&mut d, CLAIM_IAT, "iat")?;
        let issued_at = seconds(d.u64()?, "iat")?;
        expect_key(&mut d, CLAIM_CNF, "cnf")?;
        if d.map("cnf", 1)? != 1 || d.i64()? != 1 {
            return Err(DecodeError::Missing("cnf COSE_Key"));
        }
        let key = cose::read_cose_key(&mut d)?;
        let device = read_ueid(&mut d)?;
        expect_key(&mut d, CLAIM_TIER, "tier")?;
        let tier = Tier::from_code(d.u8()?).ok_or(DecodeError::OutOfRange("tier"))?;
        expect_key(&mut d, CLAIM_STATUS, "status")?;
        let n = d.map("status", AppraisedClaim::ALL.len())?;
        let mut statuses = BTreeMap::new();
        for _ in 0..n {
            let claim =
                AppraisedClaim::from_code(d.u8()?).ok_or(DecodeError::OutOfRange("claim"))?;
            let t = Tier::from_code(d.u8()?).ok_or(DecodeError::OutOfRange("tier"))?;
            if statuses.insert(claim, t).is_some() {
                return Err(DecodeError::Unexpected("duplicate claim status"));
            }
        }
        d.finish()?;
        if key.device_id() != device {
            return Err(DecodeError::OutOfRange("ueid does not match cnf key"));
        }
        if expires_at <= issued_at {
            return Err(DecodeError::OutOfRange("exp before iat"));
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

    /// Decodes a signed result without checking its signature; returns the claims and the
    /// verifier's key id.
    pub fn decode(bytes: &[u8]) -> Result<(Self, ShortId), DecodeError> {
        let sign1 = Sign1::parse_strict(bytes)?;
        let result = Self::decode_claims(sign1.payload())?;
        ensure_canonical(sign1.payload(), &result.encode_claims())?;
        Ok((result, kid_of(&sign1)?))
    }

    pub(crate) fn decode_signed(bytes: &[u8]) -> Result<(Self, ShortId, Sign1<'_>), DecodeError> {
        let sign1 = Sign1::parse_strict(bytes)?;
        let result = Self::decode_claims(sign1.payload())?;
        ensure_canonical(sign1.payload(), &result.encode_claims())?;
        Ok((result, kid_of(&sign1)?, sign1))
    }
}

/// An attestation result whose signature, verifier, key binding and expiry were checked by
/// [`TrustStore::verify_result`](crate::TrustStore::verify_result). Its tier may still be
/// warning or contraindicated: see [`require_affirming`](Self::require_affirming).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedResult {
    result: AttestationResult,
    verifier: ShortId,
}

impl VerifiedResult {
    pub(crate) fn new(result: AttestationResult, verifier: ShortId) -> Self {
        Self { result, verifier }
    }

    /// The device.
    pub fn device(&self) -> DeviceId {
        self.result.device
    }

    /// The key the result is bound to.
    pub fn key(&self) -> &PublicKey {
        &self.result.key
    }

    /// The overall tier.
    pub fn tier(&self) -> Tier {
        self.result.tier
    }

    /// Tier per appraised claim.
    pub fn statuses(&self) -> &BTreeMap<AppraisedClaim, Tier> {
        &self.result.statuses
    }

    /// When the verifier appraised the device.
    pub fn issued_at(&self) -> Timestamp {
        self.result.issued_at
    }

    /// When the result stops being valid.
    pub fn expires_at(&self) -> Timestamp {
        self.result.expires_at
    }

    /// The verifier that signed it.
    pub fn verifier(&self) -> ShortId {
        self.verifier
    }

    /// `Ok` if affirming, else [`ResultError::NotAffirming`](crate::ResultError::NotAffirming).
    pub fn require_affirming(&self) -> Result<(), crate::ResultError> {
        match self.result.tier {
            Tier::Affirming => Ok(()),
            tier => Err(crate::ResultError::NotAffirming(tier)),
        }
    }
}
