//! Position reports and announcements.

use alloc::string::String;

use super::macros::{field_desc, field_ty, message};
use super::{Affiliation, DeviceKind, Role, UnknownFields};
use crate::callsign::Callsign;
use crate::error::EncodeError;
use crate::geo::Position;
use crate::id::DeviceId;
use crate::units::{Course, Speed};
use crate::wire::{Fault, Reader, Sink, Wire};

use super::wearable::FirmwareVersion;

message! {
    /// A device's own position and movement.
    ///
    /// ```
    /// use iomt_schema::*;
    /// let report = PositionReport {
    ///     position: Position::new(Latitude::from_f64(59.3293)?, Longitude::from_f64(18.0686)?),
    ///     affiliation: Affiliation::Friend,
    ///     course: Some(Course::from_f64(271.4)?),
    ///     speed: Some(Speed::from_f64(1.4)?),
    ///     role: None,
    ///     callsign: Callsign::new("VIPER-21").ok(),
    ///     unknown: Default::default(),
    /// };
    /// assert_eq!(Message::from(report).kind(), MessageKind::PositionReport);
    /// # Ok::<(), RangeError>(())
    /// ```
    pub struct PositionReport {
        required {
            /// Where the device is.
            position: Position,
            /// Its standard identity.
            affiliation: Affiliation,
        }
        optional {
            /// Course over ground.
            course: Course,
            /// Speed over ground.
            speed: Speed,
            /// Role of the wearer or device.
            role: Role,
            /// Callsign, for receivers that have not seen the device's [`Announce`].
            callsign: Callsign,
        }
    }
}

/// What a device can do, a set of flags. Bits this version does not name are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct Capabilities(pub u32);

impl Capabilities {
    /// Reports its own position.
    pub const POSITION: Self = Self(1 << 0);
    /// Reports vital signs.
    pub const VITALS: Self = Self(1 << 1);
    /// Reports weapon state.
    pub const WEAPON: Self = Self(1 << 2);
    /// Reports atmosphere.
    pub const ENVIRONMENT: Self = Self(1 << 3);
    /// Detects CBRN agents.
    pub const CBRN: Self = Self(1 << 4);
    /// Produces detections or tracks.
    pub const SENSOR: Self = Self(1 << 5);
    /// Accepts commands (an unmanned vehicle).
    pub const TASKABLE: Self = Self(1 << 6);
    /// Relays mesh traffic.
    pub const RELAY: Self = Self(1 << 7);
    /// Bridges to IP backhaul.
    pub const GATEWAY: Self = Self(1 << 8);
    /// Ranges to other devices (UWB, acoustic) for relative location.
    pub const RANGING: Self = Self(1 << 9);
    /// Holds and reports supplies.
    pub const LOGISTICS: Self = Self(1 << 10);

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Union of both sets.
    #[must_use]
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

impl Wire for Capabilities {
    fn encode<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError> {
        self.0.encode(s)
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, Fault> {
        r.varint_u32("capabilities").map(Self)
    }
}

/// A schema fingerprint on the wire: 8 bytes, big-endian. See
/// [`SCHEMA_FINGERPRINT`](crate::SCHEMA_FINGERPRINT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct Fingerprint(pub u64);

impl Wire for Fingerprint {
    fn encode<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError> {
        s.put(&self.0.to_be_bytes())
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, Fault> {
        r.array("fingerprint").map(|b| Self(u64::from_be_bytes(b)))
    }
}

message! {
    /// Who a device is and what it can do; sent on joining and periodically.
    pub struct Announce {
        required {
            /// Callsign.
            callsign: Callsign,
            /// Kind of device.
            device_kind: DeviceKind,
            /// What it can do.
            capabilities: Capabilities,
            /// The schema it speaks ([`SCHEMA_FINGERPRINT`](crate::SCHEMA_FINGERPRINT)).
            schema: Fingerprint,
        }
        optional {
            /// Role of the wearer or device.
            role: Role,
            /// Unit or organisation, free text.
            unit: String,
            /// Firmware version.
            firmware: FirmwareVersion,
            /// The full identity, when the envelope carries only the short form.
            device_id: DeviceId,
        }
    }
}
