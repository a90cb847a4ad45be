//! The relying party's side (RFC 9334): the reference values a trust package
//! distributes, and the attestation result once verified.

use std::collections::{BTreeMap, BTreeSet};

use iomt_schema::{DeviceId, ShortId, Timestamp};

use super::{AppraisedClaim, AttestationResult, FirmwareVersion, Tier};
use crate::cbor::{self, KeyOrder, Reader};
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

/// Most components reference values list.
const MAX_COMPONENTS: usize = 256;
/// Most digests allowed for one component.
const MAX_DIGESTS: usize = 64;

impl ReferenceValues {
    /// Allows `digest` for `component`.
    pub fn allow(&mut self, component: &str, digest: [u8; 32]) -> &mut Self {
        self.components
            .entry(component.to_owned())
            .or_default()
            .insert(digest);
        self
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        cbor::write_array(out, 4);
        cbor::write_map(out, self.components.len());
        // RFC 8949 orders map keys by their encodings: a shorter name sorts first.
        let mut names: Vec<_> = self.components.iter().collect();
        names.sort_by_key(|(name, _)| (name.len(), name.as_bytes()));
        for (name, digests) in names {
            cbor::write_tstr(out, name);
            cbor::write_array(out, digests.len());
            for digest in digests {
                cbor::write_bstr(out, digest);
            }
        }
        cbor::write_tstr(out, &self.min_firmware.to_string());
        cbor::write_bool(out, self.require_secure_boot);
        cbor::write_bool(out, self.require_debug_disabled);
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.array_of(4, "reference values")?;
        let count = r.map_up_to(MAX_COMPONENTS, "components")?;
        let mut components = BTreeMap::new();
        let mut names = KeyOrder::new();
        for _ in 0..count {
            let name = names.next(r, Reader::tstr)?.to_owned();
            let n = r.array_up_to(MAX_DIGESTS, "digests")?;
            let mut digests = BTreeSet::new();
            for _ in 0..n {
                let at = r.position();
                let digest = r.bstr_array::<32>("digest")?;
                if digests.last().is_some_and(|last| *last >= digest) {
                    return Err(DecodeError::invalid("digests", at, "sorted, each once"));
                }
                digests.insert(digest);
            }
            components.insert(name, digests);
        }
        let min_firmware = FirmwareVersion::decode(r, "minimum firmware")?;
        let require_secure_boot = r.bool()?;
        let require_debug_disabled = r.bool()?;
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
