//! Revocation: signed, sequenced deltas small enough to flood through a mesh, merged into a
//! [`RevocationSet`].
//!
//! Merging is a join in a semilattice, so it is idempotent, commutative and associative: the
//! set is a grow-only map from [`RevocationTarget`] to the entry with the earliest time (ties
//! broken by the lower reason code). Deltas arriving twice, late or in any order over any
//! number of relays leave every peer with the same set. Revocation is permanent: a device is
//! readmitted only with a new key (a new DeviceId).
//!
//! A delta's payload, deterministic CBOR: `{0: sequence, 1: [entry, ...]}` with entries sorted
//! by target and unique; an entry is `[0, device-id, reason, at-ms]` or
//! `[1, issuer-short-id, serial, reason, at-ms]`. It is signed by a trust anchor.

use core::fmt;
use std::collections::{BTreeMap, BTreeSet};

use iomt_schema::{DeviceId, ShortId, Timestamp};

use crate::cbor::{self, Reader};
use crate::cose;
use crate::error::{DecodeError, SignError};
use crate::key::Signer;
use crate::signed::claims::Claims;

/// Most entries one delta may carry.
pub const MAX_DELTA_ENTRIES: usize = 256;

/// What is revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RevocationTarget {
    /// Every credential and result for this device.
    Device(DeviceId),
    /// One credential, by issuer and serial.
    Credential {
        /// The issuer's short id.
        issuer: ShortId,
        /// The serial.
        serial: u64,
    },
}

impl fmt::Display for RevocationTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Device(device) => write!(f, "device {device}"),
            Self::Credential { issuer, serial } => {
                write!(f, "credential {serial} from issuer {issuer}")
            }
        }
    }
}

/// Why (RFC 5280 reason codes where they fit). Unknown codes are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RevocationReason {
    /// No reason given.
    Unspecified,
    /// The private key is compromised.
    KeyCompromise,
    /// Replaced by a newer credential.
    Superseded,
    /// The device is lost or captured.
    DeviceLost,
    /// Attestation contraindicated the device.
    Contraindicated,
    /// A code this version does not know.
    Unknown(u8),
}

impl RevocationReason {
    /// The wire code.
    pub const fn code(self) -> u8 {
        match self {
            Self::Unspecified => 0,
            Self::KeyCompromise => 1,
            Self::Superseded => 4,
            Self::DeviceLost => 32,
            Self::Contraindicated => 33,
            Self::Unknown(c) => c,
        }
    }

    /// The reason for a wire code.
    pub const fn from_code(code: u8) -> Self {
        match code {
            0 => Self::Unspecified,
            1 => Self::KeyCompromise,
            4 => Self::Superseded,
            32 => Self::DeviceLost,
            33 => Self::Contraindicated,
            c => Self::Unknown(c),
        }
    }
}

/// One revocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Revocation {
    /// What.
    pub target: RevocationTarget,
    /// Why.
    pub reason: RevocationReason,
    /// Since when.
    pub at: Timestamp,
}

impl Revocation {
    /// The merge order: the entry that wins between two for the same target.
    fn precedence(&self) -> (Timestamp, u8) {
        (self.at, self.reason.code())
    }

    fn encode(&self, out: &mut Vec<u8>) {
        match self.target {
            RevocationTarget::Device(id) => {
                cbor::write_array(out, 4);
                cbor::write_uint(out, 0);
                cbor::write_bstr(out, id.as_bytes());
            }
            RevocationTarget::Credential { issuer, serial } => {
                cbor::write_array(out, 5);
                cbor::write_uint(out, 1);
                cbor::write_bstr(out, issuer.as_bytes());
                cbor::write_uint(out, serial);
            }
        }
        cbor::write_uint(out, u64::from(self.reason.code()));
        cbor::write_uint(out, self.at.as_millis());
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let at = r.position();
        let target = match (r.array_up_to(5, "revocation")?, r.u8()?) {
            (4, 0) => RevocationTarget::Device(DeviceId::from_bytes(r.bstr_array("device")?)),
            (5, 1) => RevocationTarget::Credential {
                issuer: ShortId::from_bytes(r.bstr_array("issuer")?),
                serial: r.uint()?,
            },
            _ => {
                let rule = "[0, device, reason, at] or [1, issuer, serial, reason, at]";
                return Err(DecodeError::invalid("revocation", at, rule));
            }
        };
        let reason = RevocationReason::from_code(r.u8()?);
        let time_at = r.position();
        let at = Timestamp::from_millis(r.uint()?).ok_or(DecodeError::invalid(
            "revoked at",
            time_at,
            "before the year 10889",
        ))?;
        Ok(Self { target, reason, at })
    }
}

pub(crate) fn encode_list(out: &mut Vec<u8>, entries: &[Revocation]) {
    cbor::write_array(out, entries.len());
    entries.iter().for_each(|r| r.encode(out));
}

/// Reads a list of revocations sorted strictly by target.
pub(crate) fn decode_list(
    r: &mut Reader<'_>,
    limit: usize,
) -> Result<Vec<Revocation>, DecodeError> {
    let n = r.array_up_to(limit, "revocations")?;
    let mut out: Vec<Revocation> = Vec::with_capacity(n);
    for _ in 0..n {
        let at = r.position();
        let revocation = Revocation::decode(r)?;
        if out.last().is_some_and(|p| p.target >= revocation.target) {
            return Err(DecodeError::invalid(
                "revocations",
                at,
                "sorted by target, each once",
            ));
        }
        out.push(revocation);
    }
    Ok(out)
}

/// A signed, sequenced batch of revocations from one trust anchor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationDelta {
    /// The issuer's sequence number for this delta.
    pub sequence: u64,
    /// The revocations (sorted and deduplicated when signed).
    pub entries: Vec<Revocation>,
}

impl RevocationDelta {
    /// Signs the delta with a trust anchor's key.
    pub fn sign(&self, anchor: &dyn Signer) -> Result<Vec<u8>, SignError> {
        let entries = normalize(&self.entries);
        if entries.len() > MAX_DELTA_ENTRIES {
            return Err(SignError::Invalid("too many entries in one delta"));
        }
        let payload = Self {
            sequence: self.sequence,
            entries,
        }
        .encode_claims();
        cose::sign(anchor, Self::AAD, &payload)
    }
}

impl Claims for RevocationDelta {
    const AAD: &'static [u8] = b"iomt-revocation-v1";

    fn encode_claims(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + 48 * self.entries.len());
        cbor::write_map(&mut out, 2);
        cbor::write_uint(&mut out, 0);
        cbor::write_uint(&mut out, self.sequence);
        cbor::write_uint(&mut out, 1);
        encode_list(&mut out, &self.entries);
        out
    }

    fn decode_claims(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.map_of(2, "revocation delta")?;
        r.key(0, "sequence")?;
        let sequence = r.uint()?;
        r.key(1, "entries")?;
        let entries = decode_list(r, MAX_DELTA_ENTRIES)?;
        Ok(Self { sequence, entries })
    }
}

/// Sorted by target, one entry per target (the merge winner).
fn normalize(entries: &[Revocation]) -> Vec<Revocation> {
    let mut set = RevocationSet::new(usize::MAX);
    for r in entries {
        set.insert(*r);
    }
    set.entries().collect()
}

/// The merged revocations a peer knows, bounded to `capacity` targets.
///
/// It also remembers which deltas were applied (for flooding), at most `capacity` of them:
/// when full, the marker with the lowest sequence is forgotten. A forgotten delta that arrives
/// again merges as a no-op and is forwarded once more, so the bound costs a little bandwidth,
/// never a revocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationSet {
    entries: BTreeMap<RevocationTarget, Revocation>,
    applied: BTreeSet<(ShortId, u64)>,
    capacity: usize,
}

impl RevocationSet {
    /// Default capacity.
    pub const DEFAULT_CAPACITY: usize = 65_536;

    /// An empty set holding at most `capacity` targets.
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: BTreeMap::new(),
            applied: BTreeSet::new(),
            capacity,
        }
    }

    /// Merges one revocation; returns whether the set changed. At capacity, new targets are
    /// refused (`false`) but entries for known targets still merge.
    pub fn insert(&mut self, revocation: Revocation) -> bool {
        let full = self.entries.len() >= self.capacity;
        match self.entries.get_mut(&revocation.target) {
            Some(existing) if revocation.precedence() < existing.precedence() => {
                *existing = revocation;
                true
            }
            Some(_) => false,
            None if full => false,
            None => {
                self.entries.insert(revocation.target, revocation);
                true
            }
        }
    }

    /// Merges another set (the semilattice join).
    pub fn merge(&mut self, other: &RevocationSet) {
        for r in other.entries.values() {
            self.insert(*r);
        }
        for (issuer, sequence) in other.applied.iter().copied() {
            self.mark_applied(issuer, sequence);
        }
    }

    /// Whether all of `revocations` would fit.
    pub(crate) fn has_room_for(&self, revocations: &[Revocation]) -> bool {
        let new = revocations
            .iter()
            .filter(|r| !self.entries.contains_key(&r.target))
            .count();
        self.entries.len().saturating_add(new) <= self.capacity
    }

    /// Records that the delta `sequence` from `issuer` was applied; returns whether it was new.
    pub(crate) fn mark_applied(&mut self, issuer: ShortId, sequence: u64) -> bool {
        if self.applied.contains(&(issuer, sequence)) {
            return false;
        }
        if self.applied.len() >= self.capacity {
            let oldest = self.applied.iter().min_by_key(|(_, seq)| *seq).copied();
            let Some(oldest) = oldest else {
                // Capacity 0: nothing can be remembered.
                return false;
            };
            if oldest.1 > sequence {
                return false;
            }
            self.applied.remove(&oldest);
        }
        self.applied.insert((issuer, sequence))
    }

    /// The applied-delta markers, sorted by issuer then sequence.
    pub(crate) fn applied(&self) -> impl Iterator<Item = (ShortId, u64)> + '_ {
        self.applied.iter().copied()
    }

    /// Whether the delta `sequence` from `issuer` was already applied (for flooding: a relay
    /// forwards only deltas it has not seen). The record is bounded (see the type's
    /// documentation): a long-forgotten delta reads as not applied.
    pub fn has_applied(&self, issuer: ShortId, sequence: u64) -> bool {
        self.applied.contains(&(issuer, sequence))
    }

    /// Whether `device` is revoked.
    pub fn is_device_revoked(&self, device: DeviceId) -> bool {
        self.entries.contains_key(&RevocationTarget::Device(device))
    }

    /// The revocation of `target`, if any.
    pub fn get(&self, target: &RevocationTarget) -> Option<&Revocation> {
        self.entries.get(target)
    }

    /// All entries, sorted by target.
    pub fn entries(&self) -> impl Iterator<Item = Revocation> + '_ {
        self.entries.values().copied()
    }

    /// Number of revoked targets.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is revoked.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Default for RevocationSet {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}
