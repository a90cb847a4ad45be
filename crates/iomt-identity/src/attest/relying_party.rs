//! The relying party's side (RFC 9334): the reference values a trust package
//! distributes, and the attestation result once verified.

use std::collections::{BTreeMap, BTreeSet};

use iomt_schema::{DeviceId, ShortId, Timestamp};

use super::{AppraisedClaim, AttestationResult, FirmwareVersion, Tier};
use crate::cbor::{Dec, Enc, EncError};
use crate::error::DecodeError;
use crate::key::PublicKey;

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
