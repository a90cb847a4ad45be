//! Error types, one per kind of object, classed by fault.
//!
//! Decoding errors ([`DecodeError`]) mean the peer sent garbage. The verification errors mean
//! the input was well formed but must not be trusted; each distinct reason is its own variant
//! so callers (and the bad-input tables in the tests) can tell them apart. Local misuse
//! ([`KeyError`], [`SignError`]) is separate. No error carries key material.

use iomt_schema::{DeviceId, ShortId, Timestamp};

use crate::attest::Tier;
use crate::cbor::CborError;

/// Malformed input: not the deterministic CBOR/COSE form of the object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Not deterministic CBOR of the object's shape: where, what was being read, what was
    /// wrong.
    #[error(transparent)]
    Cbor(#[from] CborError),
    /// Well-formed, but a value breaks a rule of the object: out of range, not sorted, not the
    /// field's one form.
    #[error("`{field}` at byte {offset} must be {rule}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// Byte offset of its value.
        offset: usize,
        /// What the value must be.
        rule: &'static str,
    },
    /// The COSE algorithm is not one this crate verifies.
    #[error(
        "COSE algorithm {alg} at byte {offset} is not supported (EdDSA, -8, and ES256, -7, are)"
    )]
    UnsupportedAlgorithm {
        /// The algorithm identifier.
        alg: i64,
        /// Byte offset of the identifier.
        offset: usize,
    },
    /// An X.509 certificate (already validated by webpki) whose DER this crate's walker cannot
    /// read for the DeviceId or the attestation result.
    #[error("certificate DER: expected {0}")]
    Der(&'static str),
}

impl DecodeError {
    pub(crate) const fn invalid(field: &'static str, offset: usize, rule: &'static str) -> Self {
        Self::Invalid {
            field,
            offset,
            rule,
        }
    }
}

/// Local key handling failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Key generation failed (the random source failed).
    #[error("key generation failed")]
    Generate,
    /// The PKCS#8 document is not an Ed25519 or P-256 private key.
    #[error("not a usable Ed25519 or P-256 PKCS#8 private key")]
    BadPkcs8,
    /// The public key bytes have the wrong length or format.
    #[error("malformed public key")]
    BadPublicKey,
}

/// A [`Signer`](crate::Signer) could not sign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The signing operation failed.
    #[error("signing failed")]
    Failed,
    /// The key is not available (hardware absent, locked, ...).
    #[error("signing key unavailable: {0}")]
    Unavailable(String),
    /// What was to be signed is not valid (for example an empty mission name).
    #[error("invalid content: {0}")]
    Invalid(&'static str),
}

/// Why a compact credential or an X.509 certificate was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// Malformed.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The issuer (the protected `kid`) is neither a trust anchor nor an accepted authority.
    #[error("unknown issuer {0}")]
    UnknownIssuer(ShortId),
    /// The signature does not verify under the issuer's key.
    #[error("bad signature")]
    BadSignature,
    /// The subject DeviceId is not the one its key names.
    #[error("subject {claimed} does not match its key ({derived})")]
    DeviceIdMismatch {
        /// The DeviceId in the credential.
        claimed: DeviceId,
        /// The DeviceId its key names.
        derived: DeviceId,
    },
    /// `now` is after the validity window.
    #[error("expired at {not_after:?}")]
    Expired {
        /// End of validity.
        not_after: Timestamp,
    },
    /// `now` is before the validity window.
    #[error("not valid before {not_before:?}")]
    NotYetValid {
        /// Start of validity.
        not_before: Timestamp,
    },
    /// The subject device is revoked.
    #[error("device {0} is revoked")]
    DeviceRevoked(DeviceId),
    /// This credential (issuer and serial) is revoked.
    #[error("credential {serial} from {issuer} is revoked")]
    CredentialRevoked {
        /// Issuer.
        issuer: ShortId,
        /// Serial.
        serial: u64,
    },
    /// The credential is for another mission.
    #[error("credential is for mission `{found}`, not `{expected}`")]
    WrongMission {
        /// The local mission.
        expected: String,
        /// The credential's mission.
        found: String,
    },
    /// The issuing authority's own credential is expired, revoked or out of scope.
    #[error("issuing authority {issuer} is no longer valid: {reason}")]
    IssuerInvalid {
        /// The authority.
        issuer: ShortId,
        /// Why its own credential fails.
        reason: Box<CredentialError>,
    },
    /// An authority credential was offered without the authority role.
    #[error("credential does not carry the authority role")]
    NotAnAuthority,
    /// The issuer is not allowed to issue for this mission.
    #[error("issuer {issuer} may not issue for mission `{mission}`")]
    IssuerOutOfScope {
        /// Issuer.
        issuer: ShortId,
        /// Mission.
        mission: String,
    },
    /// The X.509 certificate's subject key is neither Ed25519 nor P-256, so it names no
    /// DeviceId.
    #[error("certificate subject key is not Ed25519 or P-256")]
    UnsupportedKey,
    /// The X.509 certificate carries no `iomt://` URI SAN, or more than one.
    #[error("certificate does not carry exactly one iomt:// URI SAN")]
    NoDeviceUri,
    /// The store holds as many intermediate authorities as it is configured for.
    #[error("no room for another authority: the store holds its limit of {limit}")]
    AuthoritiesFull {
        /// The configured limit.
        limit: usize,
    },
}

/// Why evidence could not be appraised at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AppraisalError {
    /// Malformed.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The evidence is signed by another key than the attester's.
    #[error("evidence is not signed by the attester's key")]
    WrongKey,
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// The evidence names another device than its signing key does.
    #[error("evidence names device {claimed}, its key names {derived}")]
    DeviceIdMismatch {
        /// In the evidence.
        claimed: DeviceId,
        /// From the key.
        derived: DeviceId,
    },
    /// The nonce is not the one in this appraisal's challenge (wrong or replayed evidence).
    #[error("nonce does not match the challenge")]
    NonceMismatch,
    /// The challenge is older than the freshness window allows.
    #[error("evidence arrived {age_ms} ms after the challenge, limit {limit_ms} ms")]
    Stale {
        /// Time from challenge to appraisal.
        age_ms: u64,
        /// The configured limit.
        limit_ms: u64,
    },
    /// The evidence claims to have been made before the challenge existed, or in the future.
    #[error("evidence issued-at is outside the challenge window")]
    IssuedAtOutOfWindow,
}

/// Why an attestation result was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResultError {
    /// Malformed.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// Signed by a key that is not a verifier key in the trust package.
    #[error("unknown verifier {0}")]
    UnknownVerifier(ShortId),
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// The result is bound to another key than the peer's.
    #[error("result is bound to another key")]
    WrongKey,
    /// `now` is past the result's expiry.
    #[error("result expired at {expired:?}")]
    Expired {
        /// Expiry.
        expired: Timestamp,
    },
    /// The result was issued after `now` (beyond the allowed skew).
    #[error("result issued in the future")]
    IssuedInFuture,
    /// Verified, but the tier is not affirming.
    #[error("attestation tier is {0:?}, not affirming")]
    NotAffirming(Tier),
    /// The device is revoked.
    #[error("device {0} is revoked")]
    DeviceRevoked(DeviceId),
}

/// Why a trust package was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PackageError {
    /// Malformed.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// Not signed by the pre-positioned package authority.
    #[error("signed by {0}, not the package authority")]
    UnknownSigner(ShortId),
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// Its sequence is lower than the installed one: a rollback.
    #[error("rollback: package {offered} is older than installed {installed}")]
    Rollback {
        /// Installed sequence.
        installed: u64,
        /// Offered sequence.
        offered: u64,
    },
    /// Same sequence as the installed package but different content.
    #[error("package {0} conflicts with the installed package of the same sequence")]
    Conflict(u64),
    /// The policy does not match the package's policy digest.
    #[error("policy digest does not match the trust package")]
    PolicyMismatch,
    /// The package carries an X.509 trust anchor that does not parse.
    #[error("X.509 trust anchor does not parse")]
    BadX509Anchor,
    /// Merging the package's revocations would overflow the revocation set (it holds the
    /// given number of entries); nothing was installed.
    #[error("revocation set full ({0} entries): package not installed")]
    RevocationsFull(usize),
}

/// Why persisted trust state could not be restored into a [`TrustStore`](crate::TrustStore).
///
/// Every variant means the snapshot is not this device's own state, or was damaged in
/// storage: restoring refuses it rather than start with less than was persisted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RestoreError {
    /// Malformed.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The snapshot holds more than the store is configured for (it was decoded under larger
    /// limits).
    #[error("snapshot holds {found} {field}, over this store's limit of {limit}")]
    OverLimit {
        /// What.
        field: &'static str,
        /// How many the snapshot holds.
        found: usize,
        /// The store's limit.
        limit: usize,
    },
    /// The snapshot belongs to a store provisioned with another package authority.
    #[error("snapshot is for package authority {found}, not {expected}")]
    WrongAuthority {
        /// The store's package authority.
        expected: ShortId,
        /// The snapshot's.
        found: ShortId,
    },
    /// The snapshot belongs to a store of another mission.
    #[error("snapshot is for mission `{found}`, not `{expected}`")]
    WrongMission {
        /// The store's mission.
        expected: String,
        /// The snapshot's.
        found: String,
    },
    /// The persisted trust package (or the policy pinned by it) failed re-verification.
    #[error("persisted trust package refused: {0}")]
    Package(PackageError),
    /// A persisted intermediate authority failed re-verification.
    #[error("persisted authority {kid} refused: {reason}")]
    Authority {
        /// The authority's key id.
        kid: ShortId,
        /// Why its credential was refused.
        reason: CredentialError,
    },
}

/// Why a revocation delta was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RevocationError {
    /// Malformed.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// Not signed by a trust anchor.
    #[error("signed by {0}, not a trust anchor")]
    UnknownIssuer(ShortId),
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// The revocation set is at its configured capacity.
    #[error("revocation set full ({0} entries)")]
    Full(usize),
}
