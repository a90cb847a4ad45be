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
//!
//! One file per role: the attester's evidence, the verifier's challenges, appraisal and signed
//! results, and the relying party's reference values and verified results.

mod attester;
mod relying_party;
mod verifier;

pub use attester::{
    BadFirmwareVersion, BadNonce, DebugState, Evidence, FirmwareVersion, MAX_MEASUREMENTS,
    Measurement, Nonce,
};
pub use relying_party::{ReferenceValues, VerifiedResult};
pub use verifier::{
    Appraisal, AppraisalConfig, AppraisedClaim, AttestationResult, AttestationVerifier, Challenge,
    ChannelBinding, Finding, RandomFailure, Tier,
};

use iomt_schema::DeviceId;

use crate::cbor::{self, Reader};
use crate::error::DecodeError;

pub(crate) const CLAIM_EXP: i64 = 4;
pub(crate) const CLAIM_IAT: i64 = 6;
pub(crate) const CLAIM_CNF: i64 = 8;
pub(crate) const CLAIM_NONCE: i64 = 10;
pub(crate) const CLAIM_UEID: i64 = 256;
pub(crate) const CLAIM_OEMBOOT: i64 = 262;
pub(crate) const CLAIM_DBGSTAT: i64 = 263;
pub(crate) const CLAIM_SWVERSION: i64 = 271;
pub(crate) const CLAIM_MEASUREMENTS: i64 = -65539;
pub(crate) const CLAIM_TIER: i64 = -65540;
pub(crate) const CLAIM_STATUS: i64 = -65541;
pub(crate) const UEID_TYPE_RAND: u8 = 0x01;
pub(crate) const SWVERSION_MULTIPARTNUMERIC: u64 = 1;

pub(crate) fn write_ueid(out: &mut Vec<u8>, device: DeviceId) {
    let mut ueid = [UEID_TYPE_RAND; 17];
    ueid.get_mut(1..)
        .unwrap_or_default()
        .copy_from_slice(device.as_bytes());
    cbor::write_int(out, CLAIM_UEID);
    cbor::write_bstr(out, &ueid);
}

pub(crate) fn read_ueid(r: &mut Reader<'_>) -> Result<DeviceId, DecodeError> {
    r.key(CLAIM_UEID, "ueid")?;
    let at = r.position();
    let [UEID_TYPE_RAND, device @ ..] = r.bstr_array::<17>("ueid")? else {
        return Err(DecodeError::invalid("ueid", at, "of type RAND (0x01)"));
    };
    Ok(DeviceId::from_bytes(device))
}
