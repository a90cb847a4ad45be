//! The message catalogue: one typed struct per message kind, and [`Message`], the body of a
//! frame.
//!
//! Every body starts with a presence bitmap (see [`UnknownFields`] for how newer fields pass
//! through older decoders); [`Batch`] and [`Fragment`] have layouts of their own.

mod macros;

mod alert;
mod batch;
mod logistics;
mod position;
mod sensor;
mod vehicle;
mod vocab;
mod wearable;

use alloc::boxed::Box;
use alloc::vec::Vec;

pub use alert::{Alert, AlertKind, AlertState, Chat};
pub use batch::{Batch, BatchRecord};
pub use logistics::{
    InventoryItem, InventoryLevel, ItemCode, SupplyClass, SupplyRequest, SupplyUnit,
};
pub use position::{Announce, Capabilities, Fingerprint, PositionReport};
pub use sensor::{Detection, ObjectClass, SensorKind, Track};
pub use vehicle::{
    AckStatus, Command, CommandAck, CommandAction, FaultCode, HealthStatus, ReasonCode,
    VehicleHealth, VehicleMode, VehicleState,
};
pub use vocab::{Affiliation, DeviceKind, Role};
pub use wearable::{
    CbrnAgent, CbrnReading, DeviceHealth, Environment, FirmwareVersion, HazardLevel, Posture,
    Pressure, RangingMethod, RelativeLocation, TamperState, Vitals, WeaponKind, WeaponState,
    WeaponStatus,
};

pub use crate::fragment::Fragment;

use crate::error::EncodeError;
use crate::open_enum::open_enum;
use crate::wire::{Fault, Reader, Sink, Wire};

/// Presence bits and trailing bytes from a newer schema version of a message.
///
/// A newer peer adds optional fields behind presence bits this version does not know. The
/// decoder cannot parse those fields, so it keeps the unknown bits and every byte after the
/// last known field, and the encoder writes both back: the message re-encodes to the bytes it
/// arrived as. Only the decoder creates non-empty values.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct UnknownFields(Option<Box<Unknown>>);

/// Boxed, so that messages stay small: unknown fields are rare.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
struct Unknown {
    bits: u64,
    tail: Vec<u8>,
}

impl UnknownFields {
    /// Whether nothing unknown was received.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// The presence bits this version does not know.
    pub fn bits(&self) -> u64 {
        self.0.as_ref().map_or(0, |u| u.bits)
    }

    /// The bytes after the last known field.
    pub fn tail(&self) -> &[u8] {
        self.0.as_ref().map_or(&[], |u| &u.tail)
    }

    /// Takes the rest of `r` if `bits` names unknown fields; otherwise the body must end here.
    #[inline]
    pub(crate) fn take(bits: u64, r: &mut Reader<'_>, what: &'static str) -> Result<Self, Fault> {
        if bits == 0 {
            r.finish(what)?;
            return Ok(Self::default());
        }
        Ok(Self(Some(Box::new(Unknown {
            bits,
            tail: r.rest().to_vec(),
        }))))
    }

    /// Writes the tail if `bits` (the unknown bits written in the presence bitmap) names any
    /// field; a tail without its presence bits would not decode.
    #[inline]
    pub(crate) fn encode_tail<S: Sink>(&self, bits: u64, s: &mut S) -> Result<(), EncodeError> {
        if bits == 0 {
            return Ok(());
        }
        s.put(self.tail())
    }
}

macro_rules! catalogue {
    ($( $(#[$meta:meta])* $variant:ident = $code:literal => $text:literal, )+) => {
        open_enum! {
            /// The kind of a message, carried in the envelope.
            pub enum MessageKind (max 255) {
                $( $(#[$meta])* $variant = $code => $text, )+
            }
        }

        /// A frame's body: one of the catalogue's messages, or a kind this version does not know.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
        #[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
        #[non_exhaustive]
        pub enum Message {
            $( $(#[$meta])* $variant($variant), )+
            /// A message kind this version does not know, kept as received.
            Unknown {
                /// The kind code.
                kind: u8,
                /// The undecoded body.
                body: Vec<u8>,
            },
        }

        impl Message {
            /// The message's kind.
            pub fn kind(&self) -> MessageKind {
                match self {
                    $( Self::$variant(_) => MessageKind::$variant, )+
                    Self::Unknown { kind, .. } => MessageKind::from_code(*kind),
                }
            }

            pub(crate) fn encode_body<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError> {
                match self {
                    $( Self::$variant(m) => m.encode(s), )+
                    Self::Unknown { body, .. } => s.put(body),
                }
            }

            /// Decodes a body of `kind`; the reader holds exactly the body.
            #[inline(always)]
            pub(crate) fn decode_body(kind: MessageKind, r: &mut Reader<'_>) -> Result<Self, Fault> {
                Ok(match kind {
                    $( MessageKind::$variant => Self::$variant($variant::decode(r)?), )+
                    MessageKind::Unknown(kind) => Self::Unknown { kind, body: r.rest().to_vec() },
                })
            }
        }

        #[cfg(feature = "proptest")]
        impl Message {
            /// A strategy for messages of a named `kind`.
            pub(crate) fn strategy_for(kind: MessageKind) -> Option<proptest::strategy::BoxedStrategy<Self>> {
                use proptest::prelude::*;
                match kind {
                    $( MessageKind::$variant => Some(any::<$variant>().prop_map(Self::$variant).boxed()), )+
                    MessageKind::Unknown(_) => None,
                }
            }
        }

        $(
            impl From<$variant> for Message {
                fn from(m: $variant) -> Self {
                    Self::$variant(m)
                }
            }
        )+

        /// The schema description the fingerprint hashes: protocol version, then each kind's code
        /// and field layout.
        const DESCRIPTIONS: &[&str] = &[
            $( concat!(stringify!($code), "="), $variant::DESCRIPTION, )+
        ];
    };
}

catalogue! {
    /// Own position, movement and identity marking.
    PositionReport = 0x01 => "position_report",
    /// Who a device is and what it can do.
    Announce = 0x02 => "announce",
    /// A fused track of an observed object.
    Track = 0x03 => "track",
    /// A single sensor observation.
    Detection = 0x04 => "detection",
    /// An unmanned vehicle's mode and motion.
    VehicleState = 0x05 => "vehicle_state",
    /// An unmanned vehicle's energy, link and faults.
    VehicleHealth = 0x06 => "vehicle_health",
    /// A tasking order.
    Command = 0x07 => "command",
    /// The answer to a command.
    CommandAck = 0x08 => "command_ack",
    /// A wearer's vital signs.
    Vitals = 0x09 => "vitals",
    /// A weapon's state.
    WeaponState = 0x0a => "weapon_state",
    /// Atmosphere and CBRN readings.
    Environment = 0x0b => "environment",
    /// Range and bearing to a reference device, for GNSS-denied use.
    RelativeLocation = 0x0c => "relative_location",
    /// A device's own health.
    DeviceHealth = 0x0d => "device_health",
    /// Stock held at a location.
    InventoryLevel = 0x0e => "inventory_level",
    /// A request for supplies.
    SupplyRequest = 0x0f => "supply_request",
    /// An alert, raised or cancelled.
    Alert = 0x10 => "alert",
    /// Free text.
    Chat = 0x11 => "chat",
    /// Several records against a shared base time and position.
    Batch = 0x12 => "batch",
    /// A piece of a frame too large for the link.
    Fragment = 0x13 => "fragment",
}

/// FNV-1a, 64 bits: a stable, dependency-free digest for the fingerprint (not a security hash).
#[allow(
    clippy::indexing_slicing,
    clippy::as_conversions,
    reason = "const evaluation over constant tables: a fault fails the build, not a run"
)]
const fn fnv1a(messages: &[&str], records: &[&str], version: u8) -> u64 {
    const PRIME: u64 = 0x0100_0000_01b3;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ version as u64;
    h = h.wrapping_mul(PRIME);
    let tables = [messages, records];
    let mut t = 0;
    while t < tables.len() {
        let parts = tables[t];
        let mut i = 0;
        while i < parts.len() {
            let bytes = parts[i].as_bytes();
            let mut j = 0;
            while j < bytes.len() {
                h = (h ^ bytes[j] as u64).wrapping_mul(PRIME);
                j += 1;
            }
            h = (h ^ b'\n' as u64).wrapping_mul(PRIME);
            i += 1;
        }
        t += 1;
    }
    h
}

/// Fingerprint of the message catalogue: a digest of the protocol version, every kind code and
/// every message's field layout. Two builds with the same fingerprint lay out every message the
/// same way. [`Announce`] carries it, so peers can tell which schema the other speaks.
pub const SCHEMA_FINGERPRINT: u64 = fnv1a(DESCRIPTIONS, RECORDS, crate::envelope::VERSION);

/// Layouts of the fixed records nested in messages.
const RECORDS: &[&str] = &[
    CbrnReading::DESCRIPTION,
    FirmwareVersion::DESCRIPTION,
    InventoryItem::DESCRIPTION,
];

/// The schema description behind [`SCHEMA_FINGERPRINT`]: kind codes and message layouts, then
/// the nested records' layouts.
pub fn schema_description() -> impl Iterator<Item = &'static str> {
    DESCRIPTIONS.iter().chain(RECORDS).copied()
}
