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

use crate::cbor::{self, Reader};
use crate::cose;
use crate::credential::{Credential, Mission};
use crate::error::DecodeError;
use crate::key::PublicKey;
use crate::package::TrustPackage;
use crate::policy::Policy;
use crate::revocation::{self, Revocation};
use crate::signed::Unverified;
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

/// A signed trust package as received, with its sequence (read from it unverified, kept for
/// inspection).
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

    /// The installed package's sequence, if one was installed. In a decoded snapshot it is
    /// read from the persisted package before any check: a store verifies the package when it
    /// restores it.
    pub fn package_sequence(&self) -> Option<u64> {
        self.package.as_ref().map(|p| p.sequence)
    }

    /// Number of merged revocations held.
    pub fn revocation_count(&self) -> usize {
        self.revocations.len()
    }

    /// The canonical encoding, for storage.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            256 + self.package.as_ref().map_or(0, |p| p.bytes.len())
                + self.authorities.iter().map(Vec::len).sum::<usize>()
                + 48 * self.revocations.len(),
        );
        cbor::write_map(&mut out, FIELDS);
        cbor::write_uint(&mut out, 0);
        cbor::write_uint(&mut out, VERSION);
        cbor::write_uint(&mut out, 1);
        cose::write_own_key(&mut out, &self.package_authority);
        cbor::write_uint(&mut out, 2);
        cbor::write_tstr(&mut out, self.mission.as_str());
        cbor::write_uint(&mut out, 3);
        cbor::write_uint(&mut out, self.revision);
        cbor::write_uint(&mut out, 4);
        write_optional(&mut out, self.package.as_ref().map(|p| p.bytes.as_slice()));
        cbor::write_uint(&mut out, 5);
        write_optional(
            &mut out,
            self.policy.as_ref().map(Policy::encode).as_deref(),
        );
        cbor::write_uint(&mut out, 6);
        cbor::write_array(&mut out, self.authorities.len());
        for credential in &self.authorities {
            cbor::write_bstr(&mut out, credential);
        }
        cbor::write_uint(&mut out, 7);
        revocation::encode_list(&mut out, &self.revocations);
        cbor::write_uint(&mut out, 8);
        cbor::write_array(&mut out, self.applied.len());
        for (issuer, sequence) in &self.applied {
            cbor::write_array(&mut out, 2);
            cbor::write_bstr(&mut out, issuer.as_bytes());
            cbor::write_uint(&mut out, *sequence);
        }
        out
    }

    /// Decodes [`encode`](Self::encode)'s output, refusing anything but the canonical form.
    /// Counts are bounded by `config` (revocations and applied-delta markers by
    /// `revocation_capacity`, authorities by `max_authorities`); the package and the
    /// credentials are bounded by their own decoders.
    pub fn decode(bytes: &[u8], config: &TrustConfig) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        r.map_of(FIELDS, "trust snapshot")?;
        r.key(0, "version")?;
        let version_at = r.position();
        if r.uint()? != VERSION {
            return Err(DecodeError::invalid("version", version_at, "1"));
        }
        r.key(1, "package authority")?;
        let package_authority = cose::read_own_key(&mut r)?;
        r.key(2, "mission")?;
        let mission_at = r.position();
        let mission = Mission::new(r.tstr()?)
            .map_err(|_| DecodeError::invalid("mission", mission_at, "a mission name"))?;
        r.key(3, "revision")?;
        let revision = r.uint()?;
        r.key(4, "package")?;
        let package = match read_optional(&mut r, "package")? {
            Some(signed) => Some(PersistedPackage {
                sequence: Unverified::<TrustPackage>::decode(signed)?.sequence_unverified(),
                bytes: signed.to_vec(),
            }),
            None => None,
        };
        r.key(5, "policy")?;
        let policy = read_optional(&mut r, "policy")?
            .map(Policy::decode)
            .transpose()?;
        r.key(6, "authorities")?;
        let n = r.array_up_to(config.max_authorities, "authorities")?;
        let mut authorities: Vec<Vec<u8>> = Vec::with_capacity(n);
        let mut last_kid = None;
        for _ in 0..n {
            let at = r.position();
            let credential = r.bstr()?;
            let kid = Unverified::<Credential>::decode(credential)?
                .subject_key_unverified()
                .short_id();
            if last_kid.is_some_and(|last| last >= kid) {
                let rule = "sorted by subject kid, each once";
                return Err(DecodeError::invalid("authorities", at, rule));
            }
            last_kid = Some(kid);
            authorities.push(credential.to_vec());
        }
        r.key(7, "revocations")?;
        let revocations = revocation::decode_list(&mut r, config.revocation_capacity)?;
        r.key(8, "applied deltas")?;
        let n = r.array_up_to(config.revocation_capacity, "applied deltas")?;
        let mut applied: Vec<(ShortId, u64)> = Vec::with_capacity(n);
        for _ in 0..n {
            let at = r.position();
            r.array_of(2, "applied delta [issuer, sequence]")?;
            let marker = (ShortId::from_bytes(r.bstr_array("issuer")?), r.uint()?);
            if applied.last().is_some_and(|last| *last >= marker) {
                let rule = "sorted by issuer and sequence, each once";
                return Err(DecodeError::invalid("applied deltas", at, rule));
            }
            applied.push(marker);
        }
        r.finish()?;
        Ok(Self {
            package_authority,
            mission,
            revision,
            package,
            policy,
            authorities,
            revocations,
            applied,
        })
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

/// `[]` or `[bstr]`.
fn write_optional(out: &mut Vec<u8>, value: Option<&[u8]>) {
    cbor::write_array(out, usize::from(value.is_some()));
    if let Some(value) = value {
        cbor::write_bstr(out, value);
    }
}

/// `[]` or `[bstr]`.
fn read_optional<'b>(
    r: &mut Reader<'b>,
    what: &'static str,
) -> Result<Option<&'b [u8]>, DecodeError> {
    match r.array_up_to(1, what)? {
        0 => Ok(None),
        _ => Ok(Some(r.bstr()?)),
    }
}
