//! The attester role (RFC 9334): the [`Evidence`] a device signs about itself, and
//! the claim types it is made of.

use core::fmt;
use core::str::FromStr;

use iomt_schema::{DeviceId, ShortId, Timestamp};

use super::{
    CLAIM_DBGSTAT, CLAIM_IAT, CLAIM_MEASUREMENTS, CLAIM_NONCE, CLAIM_OEMBOOT, CLAIM_SWVERSION,
    EVIDENCE_AAD, SWVERSION_MULTIPARTNUMERIC, kid_of, read_ueid, write_ueid,
};
use crate::cbor::{Dec, encode_with, ensure_canonical};
use crate::cose::{self, Sign1};
use crate::credential::{expect_key, seconds};
use crate::error::{DecodeError, SignError};
use crate::key::Signer;

/// Most measurements one piece of evidence may carry.
pub const MAX_MEASUREMENTS: usize = 32;

/// A nonce: 8 to 64 bytes (RFC 9711 section 4.1).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Nonce(pub(super) Vec<u8>);

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

    pub(super) fn encode_claims(&self) -> Vec<u8> {
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

    pub(super) fn decode_claims(payload: &[u8]) -> Result<Self, DecodeError> {
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
