//! Error types, one per kind of object, classed by fault.
//!
//! Decoding errors ([`DecodeError`]) mean the peer sent garbage. The verification errors mean
//! the input was well formed but must not be trusted; each distinct reason is its own variant
//! so callers (and the bad-input tables in the tests) can tell them apart. Local misuse
//! ([`KeyError`], [`SignError`]) is separate. Each message names the object, the value and the
//! bound it broke (times in UTC, RFC 3339); no error carries key material.

use core::fmt;

use iomt_schema::{DeviceId, ShortId, Timestamp};

use crate::attest::Tier;
use crate::cbor::CborError;
use crate::key::Algorithm;

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
    #[error("key generation failed: the random source failed")]
    Generate,
    /// The PKCS#8 document is not an Ed25519 or P-256 private key.
    #[error("not a usable Ed25519 or P-256 PKCS#8 private key")]
    BadPkcs8,
    /// The public key bytes have the wrong length or format.
    #[error(
        "{len}-byte public key for {algorithm:?}: Ed25519 keys are 32 bytes, P-256 keys 65 \
         (0x04, x, y)"
    )]
    BadPublicKey {
        /// The algorithm the bytes were given for.
        algorithm: Algorithm,
        /// Their length.
        len: usize,
    },
}

/// A [`Signer`](crate::Signer) could not sign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The signing operation failed, or made a signature its own key does not verify.
    #[error("signing failed")]
    Failed,
    /// The key is not available (hardware absent, locked, ...).
    #[error("signing key unavailable: {0}")]
    Unavailable(String),
    /// What was to be signed is not valid (for example an empty validity window).
    #[error("nothing signed, the content is invalid: {0}")]
    Invalid(&'static str),
}

/// Why a compact credential or an X.509 certificate was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// Malformed.
    #[error("malformed credential: {0}")]
    Decode(#[from] DecodeError),
    /// The issuer (the protected `kid`) is neither a trust anchor nor an accepted authority.
    #[error("credential issued by {0}, which is neither a trust anchor nor an accepted authority")]
    UnknownIssuer(ShortId),
    /// The signature does not verify under the issuer's key.
    #[error("credential signature does not verify under the key of its issuer {issuer}")]
    BadSignature {
        /// The issuer.
        issuer: ShortId,
    },
    /// `now` is after the validity window.
    #[error(
        "credential of device {device} (serial {serial}) expired at {}; now {}",
        Utc(*.not_after),
        Utc(*.now)
    )]
    Expired {
        /// The subject.
        device: DeviceId,
        /// The issuer's serial.
        serial: u64,
        /// End of validity (exclusive).
        not_after: Timestamp,
        /// The time of the check.
        now: Timestamp,
    },
    /// `now` is before the validity window.
    #[error(
        "credential of device {device} (serial {serial}) is valid from {}; now {}",
        Utc(*.not_before),
        Utc(*.now)
    )]
    NotYetValid {
        /// The subject.
        device: DeviceId,
        /// The issuer's serial.
        serial: u64,
        /// Start of validity.
        not_before: Timestamp,
        /// The time of the check.
        now: Timestamp,
    },
    /// The subject device is revoked.
    #[error("device {0} is revoked")]
    DeviceRevoked(DeviceId),
    /// This credential (issuer and serial) is revoked.
    #[error("credential {serial} from issuer {issuer} is revoked")]
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
    #[error("credential of device {device} does not carry the authority role")]
    NotAnAuthority {
        /// The subject.
        device: DeviceId,
    },
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
    #[error("malformed evidence: {0}")]
    Decode(#[from] DecodeError),
    /// The evidence is signed by another key than the attester's.
    #[error("evidence signed by {signer}, not by the attester's key {attester}")]
    WrongKey {
        /// The signer the evidence names.
        signer: ShortId,
        /// The attester's key.
        attester: ShortId,
    },
    /// The signature does not verify.
    #[error("evidence signature does not verify under the attester's key {attester}")]
    BadSignature {
        /// The attester's key.
        attester: ShortId,
    },
    /// The evidence names another device than its signing key does.
    #[error("evidence names device {claimed}, its key names {derived}")]
    DeviceIdMismatch {
        /// In the evidence.
        claimed: DeviceId,
        /// From the key.
        derived: DeviceId,
    },
    /// The nonce is not the one in this appraisal's challenge (wrong or replayed evidence).
    #[error("evidence nonce does not match the challenge")]
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
    #[error(
        "evidence issued at {}, outside {} to {} (the challenge's second to now, with the \
         allowed skew)",
        Utc(*.issued_at),
        Utc(*.earliest),
        Utc(*.latest)
    )]
    IssuedAtOutOfWindow {
        /// The evidence's `iat`.
        issued_at: Timestamp,
        /// The earliest acceptable.
        earliest: Timestamp,
        /// The latest acceptable.
        latest: Timestamp,
    },
}

/// Why an attestation result was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResultError {
    /// Malformed.
    #[error("malformed attestation result: {0}")]
    Decode(#[from] DecodeError),
    /// Signed by a key that is not a verifier key in the trust package.
    #[error("attestation result signed by {0}, which is not a verifier of the trust package")]
    UnknownVerifier(ShortId),
    /// The signature does not verify.
    #[error("attestation result signature does not verify under the key of verifier {verifier}")]
    BadSignature {
        /// The verifier.
        verifier: ShortId,
    },
    /// The result is bound to another key than the peer's.
    #[error("attestation result is bound to key {bound}, not the peer's key {peer}")]
    WrongKey {
        /// The key the result names.
        bound: ShortId,
        /// The peer's key.
        peer: ShortId,
    },
    /// `now` is past the result's expiry.
    #[error(
        "attestation result for device {device} expired at {}; now {}",
        Utc(*.expired),
        Utc(*.now)
    )]
    Expired {
        /// The device.
        device: DeviceId,
        /// Expiry.
        expired: Timestamp,
        /// The time of the check.
        now: Timestamp,
    },
    /// The result was issued after `now` (beyond the allowed skew).
    #[error(
        "attestation result for device {device} issued at {}, after now ({}) and the allowed \
         skew",
        Utc(*.issued_at),
        Utc(*.now)
    )]
    IssuedInFuture {
        /// The device.
        device: DeviceId,
        /// The result's `iat`.
        issued_at: Timestamp,
        /// The time of the check.
        now: Timestamp,
    },
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
    #[error("malformed trust package: {0}")]
    Decode(#[from] DecodeError),
    /// Not signed by the pre-positioned package authority.
    #[error("trust package signed by {0}, not by the package authority")]
    UnknownSigner(ShortId),
    /// The signature does not verify.
    #[error("trust package signature does not verify under the package authority's key")]
    BadSignature,
    /// Its sequence is lower than the installed one: a rollback.
    #[error("rollback: trust package {offered} is older than the installed {installed}")]
    Rollback {
        /// Installed sequence.
        installed: u64,
        /// Offered sequence.
        offered: u64,
    },
    /// Same sequence as the installed package but different content.
    #[error("trust package {0} differs from the installed package of the same sequence")]
    Conflict(u64),
    /// The policy does not match the package's policy digest.
    #[error("policy digest does not match the installed trust package's")]
    PolicyMismatch,
    /// The package carries an X.509 trust anchor that does not parse.
    #[error("an X.509 trust anchor of the trust package does not parse")]
    BadX509Anchor,
    /// Merging the package's revocations would overflow the revocation set (it holds the
    /// given number of entries); nothing was installed.
    #[error("revocation set full ({0} entries): trust package not installed")]
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
    #[error("malformed trust snapshot: {0}")]
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
    #[error("malformed revocation delta: {0}")]
    Decode(#[from] DecodeError),
    /// Not signed by a trust anchor.
    #[error("revocation delta signed by {0}, which is not a trust anchor")]
    UnknownIssuer(ShortId),
    /// The signature does not verify.
    #[error("revocation delta signature does not verify under the key of anchor {issuer}")]
    BadSignature {
        /// The anchor the delta names.
        issuer: ShortId,
    },
    /// The revocation set is at its configured capacity.
    #[error("revocation set full ({0} entries): delta not applied")]
    Full(usize),
}

/// Why enrolment, re-attestation or provisioning failed ([`enrol`](crate::enrol)).
///
/// Classed by fault: the device's evidence or state ([`Appraisal`](Self::Appraisal),
/// [`NotAffirming`](Self::NotAffirming)); what the device received and checks
/// ([`Credential`](Self::Credential), [`Result`](Self::Result), [`NotOurKey`](Self::NotOurKey),
/// [`Certificate`](Self::Certificate), [`CertificateMismatch`](Self::CertificateMismatch));
/// the provisioning ([`Package`](Self::Package), [`Restore`](Self::Restore)); and local
/// failures of the authority ([`Key`](Self::Key), [`Sign`](Self::Sign),
/// [`TimeOutOfRange`](Self::TimeOutOfRange), [`SerialsExhausted`](Self::SerialsExhausted)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnrolError {
    /// The evidence cannot be trusted at all: forged, replayed, stale or malformed.
    #[error("evidence refused: {0}")]
    Appraisal(#[from] AppraisalError),
    /// The evidence was appraised, and the device's state is not affirming: no credential.
    #[error("device appraised {tier:?}, not affirming: {findings:?}")]
    NotAffirming {
        /// The overall tier.
        tier: Tier,
        /// What the appraisal found.
        findings: Vec<crate::attest::Finding>,
    },
    /// The credential the device received does not verify through its trust store.
    #[error("issued credential refused: {0}")]
    Credential(#[from] CredentialError),
    /// The attestation result the device received does not verify, or is not affirming.
    #[error("issued attestation result refused: {0}")]
    Result(#[from] ResultError),
    /// The credential names another key than the device's.
    #[error("the issued credential is for another key")]
    NotOurKey,
    /// The certificate does not parse as an `iomt` certificate.
    #[error("issued certificate unreadable: {0}")]
    Certificate(CredentialError),
    /// The certificate and the credential or result disagree on the named field.
    #[error("issued certificate disagrees with the credential on its {0}")]
    CertificateMismatch(&'static str),
    /// The trust package or the policy was refused while provisioning a trust store.
    #[error("provisioning refused: {0}")]
    Package(#[from] PackageError),
    /// A trust store could not be started.
    #[error("trust store: {0}")]
    Restore(#[from] RestoreError),
    /// A key could not be generated.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// An authority or verifier key could not sign.
    #[error(transparent)]
    Sign(#[from] SignError),
    /// A validity window does not fit the range of a [`Timestamp`].
    #[error("validity window out of the timestamp range")]
    TimeOutOfRange,
    /// Every serial number has been issued.
    #[error("no serial number left to issue")]
    SerialsExhausted,
}

/// A [`Timestamp`] in RFC 3339 form, UTC (`2026-12-04T12:00:00Z`), with milliseconds when it
/// has any.
pub(crate) struct Utc(pub(crate) Timestamp);

impl fmt::Display for Utc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        let (secs, milli) = (ms / 1000, ms % 1000);
        let (days, of_day) = (secs / 86_400, secs % 86_400);
        let (hour, minute, second) = (of_day / 3600, of_day % 3600 / 60, of_day % 60);
        // Days since 1970-01-01 to a civil date: Howard Hinnant's `civil_from_days`, for
        // non-negative days (a timestamp is never before the epoch).
        let z = days + 719_468;
        let (era, day_of_era) = (z / 146_097, z % 146_097);
        let year_of_era =
            (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let shifted_month = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
        let month = if shifted_month < 10 {
            shifted_month + 3
        } else {
            shifted_month - 9
        };
        let year = era * 400 + year_of_era + u64::from(month <= 2);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}"
        )?;
        if milli != 0 {
            write!(f, ".{milli:03}")?;
        }
        f.write_str("Z")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_print_as_rfc3339_utc() {
        let cases = [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400_000, "2000-02-29T00:00:00Z"),
            (1_796_394_265_000, "2026-12-04T14:24:25Z"),
            (1_796_394_265_042, "2026-12-04T14:24:25.042Z"),
            (4_102_444_799_999, "2099-12-31T23:59:59.999Z"),
        ];
        for (ms, text) in cases {
            let t = Timestamp::from_millis(ms).unwrap();
            assert_eq!(Utc(t).to_string(), text);
        }
    }
}
