//! The attester role (RFC 9334): the [`Evidence`] a device signs about itself, and
//! the claim types it is made of.

use core::fmt;
use core::str::FromStr;

use iomt_schema::{DeviceId, Timestamp};

use super::{
    CLAIM_DBGSTAT, CLAIM_IAT, CLAIM_MEASUREMENTS, CLAIM_NONCE, CLAIM_OEMBOOT, CLAIM_SWVERSION,
    SWVERSION_MULTIPARTNUMERIC, read_ueid, write_ueid,
};
use crate::cbor::{self, Reader};
use crate::cose;
use crate::credential::seconds;
use crate::error::{DecodeError, SignError};
use crate::key::Signer;
use crate::signed::claims::Claims;

/// Most measurements one piece of evidence may carry.
pub const MAX_MEASUREMENTS: usize = 32;

/// A nonce: 8 to 64 bytes (RFC 9711 section 4.1).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Nonce(pub(super) Vec<u8>);

/// A nonce of the wrong length (the length it had).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("nonce of {0} bytes: a nonce is 8 to 64 bytes")]
pub struct BadNonce(pub usize);

impl Nonce {
    /// Wraps 8 to 64 bytes.
    pub fn new(bytes: &[u8]) -> Result<Self, BadNonce> {
        if (8..=64).contains(&bytes.len()) {
            Ok(Self(bytes.to_vec()))
        } else {
            Err(BadNonce(bytes.len()))
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

/// Text that is not a firmware version in its one form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a firmware version is major.minor.patch, each 0 to 65535 without leading zeros")]
pub struct BadFirmwareVersion;

impl FromStr for FirmwareVersion {
    type Err = BadFirmwareVersion;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s
            .split('.')
            .map(|p| p.parse::<u16>().map_err(|_| BadFirmwareVersion));
        let (Some(major), Some(minor), Some(patch), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(BadFirmwareVersion);
        };
        let v = Self::new(major?, minor?, patch?);
        // One text per version: no leading zeros, no sign.
        if v.to_string() != s {
            return Err(BadFirmwareVersion);
        }
        Ok(v)
    }
}

impl FirmwareVersion {
    /// Reads the text form from CBOR.
    pub(crate) fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        let at = r.position();
        r.tstr()?.parse().map_err(|_| {
            let rule = "major.minor.patch without leading zeros";
            DecodeError::invalid(field, at, rule)
        })
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
        cose::sign(device_key, Self::AAD, &this.encode_claims())
    }
}

impl Claims for Evidence {
    const AAD: &'static [u8] = b"iomt-evidence-v1";

    fn encode_claims(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(96 + 56 * self.measurements.len());
        cbor::write_map(&mut out, 7);
        cbor::write_int(&mut out, CLAIM_IAT);
        cbor::write_uint(&mut out, self.issued_at.as_millis() / 1000);
        cbor::write_int(&mut out, CLAIM_NONCE);
        cbor::write_bstr(&mut out, self.nonce.as_bytes());
        write_ueid(&mut out, self.device);
        cbor::write_int(&mut out, CLAIM_OEMBOOT);
        cbor::write_bool(&mut out, self.secure_boot);
        cbor::write_int(&mut out, CLAIM_DBGSTAT);
        cbor::write_uint(&mut out, u64::from(self.debug.code()));
        cbor::write_int(&mut out, CLAIM_SWVERSION);
        cbor::write_array(&mut out, 2);
        cbor::write_tstr(&mut out, &self.firmware.to_string());
        cbor::write_uint(&mut out, SWVERSION_MULTIPARTNUMERIC);
        cbor::write_int(&mut out, CLAIM_MEASUREMENTS);
        cbor::write_array(&mut out, self.measurements.len());
        for m in &self.measurements {
            cbor::write_array(&mut out, 3);
            cbor::write_uint(&mut out, u64::from(m.layer));
            cbor::write_tstr(&mut out, &m.component);
            cbor::write_bstr(&mut out, &m.digest);
        }
        out
    }

    fn decode_claims(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.map_of(7, "evidence claims")?;
        r.key(CLAIM_IAT, "iat")?;
        let issued_at = seconds(r, "iat")?;
        r.key(CLAIM_NONCE, "eat_nonce")?;
        let nonce_at = r.position();
        let nonce = Nonce::new(r.bstr()?)
            .map_err(|_| DecodeError::invalid("eat_nonce", nonce_at, "8 to 64 bytes"))?;
        let device = read_ueid(r)?;
        r.key(CLAIM_OEMBOOT, "oemboot")?;
        let secure_boot = r.bool()?;
        r.key(CLAIM_DBGSTAT, "dbgstat")?;
        let debug_at = r.position();
        let debug = DebugState::from_code(r.u8()?).ok_or(DecodeError::invalid(
            "dbgstat",
            debug_at,
            "a code from 0 to 4",
        ))?;
        r.key(CLAIM_SWVERSION, "swversion")?;
        r.array_of(2, "swversion [version, scheme]")?;
        let firmware = FirmwareVersion::decode(r, "swversion")?;
        let scheme_at = r.position();
        if r.uint()? != SWVERSION_MULTIPARTNUMERIC {
            let rule = "1 (multipartnumeric)";
            return Err(DecodeError::invalid("swversion scheme", scheme_at, rule));
        }
        r.key(CLAIM_MEASUREMENTS, "measurements")?;
        let count = r.array_up_to(MAX_MEASUREMENTS, "measurements")?;
        let mut measurements = Vec::with_capacity(count);
        for _ in 0..count {
            let at = r.position();
            r.array_of(3, "measurement [layer, component, digest]")?;
            let layer = r.u8()?;
            let component = r.tstr()?;
            if !(1..=32).contains(&component.len()) {
                return Err(DecodeError::invalid("component", at, "1 to 32 bytes"));
            }
            let digest = r.bstr_array::<32>("digest")?;
            let m = Measurement {
                layer,
                component: component.to_owned(),
                digest,
            };
            if measurements
                .last()
                .is_some_and(|p: &Measurement| (p.layer, &p.component) >= (m.layer, &m.component))
            {
                let rule = "sorted by layer and component, each once";
                return Err(DecodeError::invalid("measurements", at, rule));
            }
            measurements.push(m);
        }
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
}
