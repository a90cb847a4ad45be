//! The compact credential: a CWT (RFC 8392) signed as COSE_Sign1 (RFC 9052).
//!
//! The claims set, in deterministic CBOR (keys in RFC 8949 section 4.2.1 order):
//!
//! | key | claim | value |
//! |---|---|---|
//! | 4 | `exp` | end of validity, NumericDate (whole seconds; exclusive) |
//! | 5 | `nbf` | start of validity, NumericDate (whole seconds) |
//! | 7 | `cti` | the issuer's serial number, big-endian without leading zero bytes |
//! | 8 | `cnf` | `{1: COSE_Key}`: the subject key, its `kid` the subject's [`ShortId`](iomt_schema::ShortId) (RFC 8747) |
//! | -65537 | scope | `[mission, roles]`: the [`Mission`] and the [`Roles`] bit set (private-use key) |
//!
//! The subject DeviceId is the one the `cnf` key names (first 16 bytes of its SHA-256), with
//! its short form as the key's `kid`; a `sub` claim would repeat it in 35 bytes and break the
//! size budget (at most half the X.509 form). The issuer is the protected header's `kid`: the
//! short id of the authority's key. This is the CWT Claims Set shape EDHOC (RFC 9528 section
//! 3.5.2) carries by value (`kccs`), with `cnf` holding the authentication key.
//!
//! Timestamps are [`Timestamp`]s (milliseconds) in the API and whole seconds on the wire:
//! issuing floors both ends to the second.

use core::fmt;
use core::str::FromStr;

use iomt_schema::{DeviceId, Timestamp};

use crate::cbor::{self, Reader};
use crate::cose;
use crate::error::{DecodeError, SignError};
use crate::key::{PublicKey, Signer};
use crate::signed::claims::Claims;

const CLAIM_EXP: i64 = 4;
const CLAIM_NBF: i64 = 5;
const CLAIM_CTI: i64 = 7;
const CLAIM_CNF: i64 = 8;
const CLAIM_SCOPE: i64 = -65537;

/// A mission scope: 1 to 32 characters of `a-z`, `0-9` and `-`, not starting or ending with
/// `-`, so it is also a valid URI host label (`iomt://<mission>/<device-id>`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mission(String);

/// A mission name that breaks the [`Mission`] rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("mission names are 1-32 of a-z 0-9 -, not starting or ending with -")]
pub struct BadMission;

impl Mission {
    /// Longest mission name.
    pub const MAX_LEN: usize = 32;

    /// Checks and wraps a mission name.
    pub fn new(name: &str) -> Result<Self, BadMission> {
        let ok = (1..=Self::MAX_LEN).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !name.starts_with('-')
            && !name.ends_with('-');
        if ok {
            Ok(Self(name.to_owned()))
        } else {
            Err(BadMission)
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Mission {
    type Err = BadMission;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl fmt::Display for Mission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Mission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mission({})", self.0)
    }
}

/// A role a credential grants. Unknown codes (from a newer issuer) are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// A command post: issues orders, aggregates the picture.
    CommandPost,
    /// A commander's device: may issue commands.
    Commander,
    /// A soldier's or operator's device.
    Operator,
    /// A sensor.
    Sensor,
    /// A relay node: may forward others' traffic.
    Relay,
    /// A vehicle or unmanned platform.
    Vehicle,
    /// Logistics (depots, resupply).
    Logistics,
    /// Medical.
    Medic,
    /// An issuing authority: may sign credentials (an intermediate in the issuer chain).
    Authority,
    /// A code this version does not know (0 to 31).
    Unknown(u8),
}

impl Role {
    /// Every role this version knows.
    pub const KNOWN: [Role; 9] = [
        Role::CommandPost,
        Role::Commander,
        Role::Operator,
        Role::Sensor,
        Role::Relay,
        Role::Vehicle,
        Role::Logistics,
        Role::Medic,
        Role::Authority,
    ];

    /// The bit position of this role in [`Roles`].
    pub const fn code(self) -> u8 {
        match self {
            Role::CommandPost => 0,
            Role::Commander => 1,
            Role::Operator => 2,
            Role::Sensor => 3,
            Role::Relay => 4,
            Role::Vehicle => 5,
            Role::Logistics => 6,
            Role::Medic => 7,
            Role::Authority => 8,
            Role::Unknown(c) => c,
        }
    }

    /// The role with bit position `code` (0 to 31).
    pub const fn from_code(code: u8) -> Self {
        match code {
            0 => Role::CommandPost,
            1 => Role::Commander,
            2 => Role::Operator,
            3 => Role::Sensor,
            4 => Role::Relay,
            5 => Role::Vehicle,
            6 => Role::Logistics,
            7 => Role::Medic,
            8 => Role::Authority,
            c => Role::Unknown(c),
        }
    }
}

/// A set of [`Role`]s, one bit each (bit = [`Role::code`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Roles(u32);

impl Roles {
    /// No role.
    pub const EMPTY: Self = Self(0);

    /// From raw bits.
    pub const fn from_bits(bits: u32) -> Self {
        Self(bits)
    }

    /// The raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// With `role` added. Codes above 31 are ignored.
    #[must_use]
    pub fn with(self, role: Role) -> Self {
        Self(self.0 | 1u32.checked_shl(u32::from(role.code())).unwrap_or(0))
    }

    /// Whether `role` is in the set.
    pub fn contains(self, role: Role) -> bool {
        let bit = 1u32.checked_shl(u32::from(role.code())).unwrap_or(0);
        bit != 0 && self.0 & bit != 0
    }

    /// The roles in the set, lowest code first.
    pub fn iter(self) -> impl Iterator<Item = Role> {
        (0u8..32)
            .filter(move |c| self.0 & (1u32 << c) != 0)
            .map(Role::from_code)
    }
}

impl FromIterator<Role> for Roles {
    fn from_iter<I: IntoIterator<Item = Role>>(iter: I) -> Self {
        iter.into_iter().fold(Self::EMPTY, Self::with)
    }
}

impl fmt::Debug for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// The content of a compact credential: who the subject is, what it may do, where, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// The subject's public key; its [`PublicKey::device_id`] is the subject DeviceId.
    pub subject: PublicKey,
    /// The mission the credential is valid for.
    pub mission: Mission,
    /// The roles granted.
    pub roles: Roles,
    /// Start of validity (floored to the second when issued).
    pub not_before: Timestamp,
    /// End of validity, exclusive (floored to the second when issued).
    pub not_after: Timestamp,
    /// The issuer's serial number for this credential.
    pub serial: u64,
}

impl Credential {
    /// The subject DeviceId.
    pub fn device_id(&self) -> DeviceId {
        self.subject.device_id()
    }

    /// Signs the credential with the issuing authority's key: the compact form.
    pub fn sign(&self, issuer: &dyn Signer) -> Result<Vec<u8>, SignError> {
        if self.not_after.as_millis() / 1000 <= self.not_before.as_millis() / 1000 {
            return Err(SignError::Invalid("validity window is empty"));
        }
        cose::sign(issuer, Self::AAD, &self.encode_claims())
    }
}

impl Claims for Credential {
    const AAD: &'static [u8] = b"iomt-credential-v1";

    /// The claims set in deterministic CBOR.
    fn encode_claims(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        cbor::write_map(&mut out, 5);
        cbor::write_int(&mut out, CLAIM_EXP);
        cbor::write_uint(&mut out, self.not_after.as_millis() / 1000);
        cbor::write_int(&mut out, CLAIM_NBF);
        cbor::write_uint(&mut out, self.not_before.as_millis() / 1000);
        let serial = self.serial.to_be_bytes();
        let skip = serial.iter().take_while(|b| **b == 0).count().min(7);
        cbor::write_int(&mut out, CLAIM_CTI);
        cbor::write_bstr(&mut out, serial.get(skip..).unwrap_or(&[0]));
        cbor::write_int(&mut out, CLAIM_CNF);
        cose::write_own_confirmation(&mut out, &self.subject);
        cbor::write_int(&mut out, CLAIM_SCOPE);
        cbor::write_array(&mut out, 2);
        cbor::write_tstr(&mut out, self.mission.as_str());
        cbor::write_uint(&mut out, u64::from(self.roles.bits()));
        out
    }

    fn decode_claims(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.map_of(5, "credential claims")?;
        r.key(CLAIM_EXP, "exp")?;
        let exp_at = r.position();
        let not_after = seconds(r, "exp")?;
        r.key(CLAIM_NBF, "nbf")?;
        let not_before = seconds(r, "nbf")?;
        r.key(CLAIM_CTI, "cti")?;
        let cti_at = r.position();
        let cti = r.bstr()?;
        // One encoding per serial: big-endian without leading zero bytes (0 is one byte).
        if !(1..=8).contains(&cti.len()) || (cti.len() > 1 && cti.first() == Some(&0)) {
            let rule = "1 to 8 bytes without a leading zero";
            return Err(DecodeError::invalid("cti", cti_at, rule));
        }
        let serial = cti.iter().fold(0u64, |acc, b| acc << 8 | u64::from(*b));
        r.key(CLAIM_CNF, "cnf")?;
        let subject = cose::read_own_confirmation(r)?;
        r.key(CLAIM_SCOPE, "scope")?;
        r.array_of(2, "scope [mission, roles]")?;
        let mission_at = r.position();
        let mission = Mission::new(r.tstr()?)
            .map_err(|_| DecodeError::invalid("mission", mission_at, "a mission name"))?;
        let roles = Roles::from_bits(r.u32()?);
        if not_after <= not_before {
            return Err(DecodeError::invalid("exp", exp_at, "after nbf"));
        }
        Ok(Self {
            subject,
            mission,
            roles,
            not_before,
            not_after,
            serial,
        })
    }
}

/// A NumericDate in whole seconds as a [`Timestamp`].
pub(crate) fn seconds(r: &mut Reader<'_>, field: &'static str) -> Result<Timestamp, DecodeError> {
    let at = r.position();
    r.uint()?
        .checked_mul(1000)
        .and_then(Timestamp::from_millis)
        .ok_or(DecodeError::invalid(
            field,
            at,
            "a time before the year 10889",
        ))
}
