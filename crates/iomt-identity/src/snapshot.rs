//! Persisted trust state: what a [`TrustStore`](crate::TrustStore) carries across a restart,
//! so that a reboot neither re-opens rollback to an older trust package nor forgets a
//! revocation.
//!
//! A store starts from a [`TrustStart`]: [`FirstBoot`](TrustStart::FirstBoot) on a device
//! that has never persisted trust state, else [`Restore`](TrustStart::Restore) with the
//! [`TrustSnapshot`] the previous run saved ([`TrustStore::snapshot`](crate::TrustStore::snapshot)).
//! There is no default: the caller says which, every time.
//!
//! The snapshot, deterministic CBOR map:
//!
//! | key | content |
//! |---|---|
//! | 0 | format version, 1 |
//! | 1 | the package authority, COSE_Key |
//! | 2 | the mission |
//! | 3 | the store's revision ([`TrustStore::revision`](crate::TrustStore::revision)) |
//! | 4 | the installed trust package as received (signed): `[]` or `[bstr]` |
//! | 5 | the installed mission policy's encoding: `[]` or `[bstr]` |
//! | 6 | accepted intermediate authorities, their credentials as received, sorted by subject kid |
//! | 7 | merged revocations (as in a revocation delta), sorted by target |
//! | 8 | applied deltas, `[[issuer kid, sequence], ...]`, sorted |
//!
//! What grants trust (the package, the authorities, the policy) is kept signed and verified
//! again on restore, under the package authority the device was provisioned with: a damaged
//! or substituted snapshot cannot add an anchor, a verifier or an authority. What only takes
//! trust away (revocations, applied-delta markers) is kept as merged. Keeping the snapshot
//! from being rolled back as a whole (an older file put back) is the storage's job.

use core::fmt;

use iomt_schema::ShortId;

use crate::cbor::{Dec, encode_with, ensure_canonical};
use crate::cose;
use crate::credential::{Mission, UnverifiedCredential};
use crate::error::DecodeError;
use crate::key::PublicKey;
use crate::package::TrustPackage;
use crate::policy::Policy;
use crate::revocation::{self, Revocation};
use crate::trust::TrustConfig;

const VERSION: u64 = 1;
const FIELDS: usize = 9;

/// How a [`TrustStore`](crate::TrustStore) starts: the caller must choose, at every start.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "made once per start and moved into the store: boxing would only burden callers"
)]
pub enum TrustStart {
    /// The device has never persisted trust state (factory provisioning): no package is
    /// installed and nothing is revoked. On a device that has persisted state before, this
    /// forgets the installed package's sequence (any older validly signed package would be
    /// accepted again) and every revocation: restore instead.
    FirstBoot,
    /// Continue from the state a previous run persisted.
    Restore(TrustSnapshot),
}

/// The persistent part of a [`TrustStore`](crate::TrustStore): taken with
/// [`TrustStore::snapshot`](crate::TrustStore::snapshot), written to storage with
/// [`encode`](Self::encode), read back with [`decode`](Self::decode) and handed to
/// [`TrustStore::new`](crate::TrustStore::new) as [`TrustStart::Restore`].
///
/// Decoding checks the form only; signatures, the package authority and the mission are checked
/// when a store is built from it. Dangerous additions
/// ([`TrustStore::dangerous`](crate::TrustStore::dangerous)) are not part of it, nor the
/// authorities they vouched for.
#[derive(Clone, PartialEq, Eq)]
pub struct TrustSnapshot {
    pub(crate) package_authority: PublicKey,
    pub(crate) mission: Mission,
    pub(crate) revision: u64,
    pub(crate) package: Option<PersistedPackage>,
    pub(crate) policy: Option<Policy>,
    pub(crate) authorities: Vec<Vec<u8>>,
    pub(crate) revocations: Vec<Revocation>,
    pub(crate) applied: Vec<(ShortId, u64)>,
}

/// A signed trust package as received, with its sequence (read from it, kept for inspection).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct PersistedPackage {
    pub(crate) sequence: u64,
    pub(crate) bytes: Vec<u8>,
}

impl TrustSnapshot {
    /// The package authority of the store it was taken from.
    pub fn package_authority(&self) -> &PublicKey {
        &self.package_authority
    }

    /// The mission of the store it was taken from.
    pub fn mission(&self) -> &Mission {
        &self.mission
    }

    /// The store's [revision](crate::TrustStore::revision) when it was taken.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// The installed package's sequence, if one was installed.
    pub fn package_sequence(&self) -> Option<u64> {
        self.package.as_ref().map(|p| p.sequence)
    }

    /// Number of merged revocations held.
    pub fn revocation_count(&self) -> usize {
        self.revocations.len()
    }

    /// The canonical encoding, for storage.
    pub fn encode(&self) -> Vec<u8> {
        encode_with(|e| {
            e.map(u64::try_from(FIELDS).unwrap_or(u64::MAX))?;
            e.u8(0)?.u64(VERSION)?;
            e.u8(1)?;
            cose::write_cose_key(e, &self.package_authority)?;
            e.u8(2)?.str(self.mission.as_str())?;
            e.u8(3)?.u64(self.revision)?;
            e.u8(4)?;
            match &self.package {
                Some(package) => e.array(1)?.bytes(&package.bytes)?,
                None => e.array(0)?,
            };
            e.u8(5)?;
            match &self.policy {
                Some(policy) => e.array(1)?.bytes(&policy.encode())?,
                None => e.array(0)?,
            };
            e.u8(6)?
                .array(u64::try_from(self.authorities.len()).unwrap_or(u64::MAX))?;
            for credential in &self.authorities {
                e.bytes(credential)?;
            }
            e.u8(7)?;
            revocation::encode_list(e, &self.revocations)?;
            e.u8(8)?
                .array(u64::try_from(self.applied.len()).unwrap_or(u64::MAX))?;
            for (issuer, sequence) in &self.applied {
                e.array(2)?.bytes(issuer.as_bytes())?.u64(*sequence)?;
            }
            Ok(())
        })
    }

    /// Decodes [`encode`](Self::encode)'s output, refusing anything but the canonical form.
    /// Counts are bounded by `config` (revocations and applied-delta markers by
    /// `revocation_capacity`, authorities by `max_authorities`); the package and the
    /// credentials are bounded by their own decoders.
    pub fn decode(bytes: &[u8], config: &TrustConfig) -> Result<Self, DecodeError> {
        let mut d = Dec::new(bytes);
        if d.map("trust snapshot", FIELDS)? != FIELDS {
            return Err(DecodeError::Missing("trust snapshot fields"));
        }
        field(&mut d, 0, "version")?;
        if d.u64()? != VERSION {
            return Err(DecodeError::OutOfRange("trust snapshot version"));
        }
        field(&mut d, 1, "package authority")?;
        let package_authority = cose::read_cose_key(&mut d)?;
        field(&mut d, 2, "mission")?;
        let mission = Mission::new(d.str()?).map_err(|_| DecodeError::OutOfRange("mission"))?;
        field(&mut d, 3, "revision")?;
        let revision = d.u64()?;
        field(&mut d, 4, "package")?;
        let package = match optional(&mut d, "package")? {
            Some(signed) => Some(PersistedPackage {
                sequence: TrustPackage::decode(signed)?.0.sequence,
                bytes: signed.to_vec(),
            }),
            None => None,
        };
        field(&mut d, 5, "policy")?;
        let policy = optional(&mut d, "policy")?
            .map(Policy::decode)
            .transpose()?;
        field(&mut d, 6, "authorities")?;
        let n = d.array("authorities", config.max_authorities)?;
        let mut authorities: Vec<Vec<u8>> = Vec::with_capacity(n);
        let mut last_kid = None;
        for _ in 0..n {
            let credential = d.bytes()?;
            let kid = UnverifiedCredential::decode(credential)?.kid();
            if last_kid.is_some_and(|last| last >= kid) {
                return Err(DecodeError::NotCanonical);
            }
            last_kid = Some(kid);
            authorities.push(credential.to_vec());
        }
        field(&mut d, 7, "revocations")?;
        let revocations = revocation::decode_list(&mut d, config.revocation_capacity)?;
        field(&mut d, 8, "applied deltas")?;
        let n = d.array("applied deltas", config.revocation_capacity)?;
        let mut applied: Vec<(ShortId, u64)> = Vec::with_capacity(n);
        for _ in 0..n {
            if d.array("applied delta", 2)? != 2 {
                return Err(DecodeError::Missing("applied delta issuer and sequence"));
            }
            let marker = (ShortId::from_bytes(d.array_bytes::<8>("issuer")?), d.u64()?);
            if applied.last().is_some_and(|last| *last >= marker) {
                return Err(DecodeError::NotCanonical);
            }
            applied.push(marker);
        }
        d.finish()?;
        let snapshot = Self {
            package_authority,
            mission,
            revision,
            package,
            policy,
            authorities,
            revocations,
            applied,
        };
        ensure_canonical(bytes, &snapshot.encode())?;
        Ok(snapshot)
    }
}

impl fmt::Debug for TrustSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustSnapshot")
            .field("package_authority", &self.package_authority.short_id())
            .field("mission", &self.mission)
            .field("revision", &self.revision)
            .field("package_sequence", &self.package_sequence())
            .field("policy", &self.policy.is_some())
            .field("authorities", &self.authorities.len())
            .field("revocations", &self.revocations.len())
            .field("applied", &self.applied.len())
            .finish()
    }
}

fn field(d: &mut Dec<'_>, key: u8, name: &'static str) -> Result<(), DecodeError> {
    if d.u8()? == key {
        Ok(())
    } else {
        Err(DecodeError::Missing(name))
    }
}

/// `[]` or `[bstr]`.
fn optional<'b>(d: &mut Dec<'b>, name: &'static str) -> Result<Option<&'b [u8]>, DecodeError> {
    match d.array(name, 1)? {
        0 => Ok(None),
        _ => Ok(Some(d.bytes()?)),
    }
}
