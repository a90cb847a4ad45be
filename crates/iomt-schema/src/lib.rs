//! The IoMT vocabulary, message catalogue and wire codec.
//!
//! Every crate in the workspace speaks this vocabulary: [`DeviceId`] and its [`ShortId`],
//! [`Precedence`], [`Classification`], [`Timestamp`] and the monotonic [`Instant`] that state
//! machines are driven with, and [`Position`] with declared precision. On top of it sits the
//! message catalogue ([`Message`]): position reports, tracks, vehicle state and tasking,
//! wearables' vitals, weapon and environment readings, logistics, alerts and chat, batches and
//! fragments.
//!
//! # Wire format
//!
//! A [`Frame`] is an [`Envelope`] (18 bytes for a routine frame with a short source; see
//! [`envelope`] for the layout) followed by the body, which runs to the end of the frame. The
//! encoding is compact (fixed-point units, varints, six-bit callsigns) and canonical: every
//! value has exactly one encoding and decoders reject the others, so signatures, MACs and
//! duplicate hashes survive relays and re-encoding. Decoding never panics, never reads past the
//! input, and never allocates for a length beyond its [`Limits`].
//!
//! Evolution: unknown message kinds decode as [`Message::Unknown`]; optional fields added by a
//! newer schema pass through older decoders in [`UnknownFields`]; unknown enum codes are kept
//! as `Unknown(code)`; envelope extensions carry a must-understand bit. [`SCHEMA_FINGERPRINT`]
//! names the catalogue's layout.
//!
//! ```
//! use iomt_schema::*;
//!
//! let mut envelope = Envelope::new(
//!     DeviceId::from_bytes([0x9f; 16]).short().into(),
//!     1234,
//!     Timestamp::from_millis(1_795_000_000_000).unwrap(),
//! );
//! envelope.precedence = Precedence::Flash;
//! let alert = Alert {
//!     kind: AlertKind::ManDown,
//!     state: AlertState::Raised,
//!     position: Some(Position::new(Latitude::from_f64(59.3293)?, Longitude::from_f64(18.0686)?)),
//!     subject: None,
//!     text: None,
//!     unknown: UnknownFields::default(),
//! };
//! let bytes = Frame::new(envelope, alert).to_vec()?;
//!
//! // A relay reads the envelope only.
//! let view = FrameView::parse(&bytes, &Limits::DEFAULT)?;
//! assert_eq!(view.envelope().precedence, Precedence::Flash);
//!
//! // The addressee decodes everything.
//! let frame = Frame::decode(&bytes)?;
//! assert!(matches!(frame.message, Message::Alert(Alert { kind: AlertKind::ManDown, .. })));
//!
//! // A LoRa-class link takes it in pieces.
//! let pieces = frame.to_fragments(24)?;
//! let mut reassembler = Reassembler::new(ReassemblyLimits::DEFAULT, Limits::DEFAULT);
//! let whole = pieces.iter().filter_map(|p| reassembler.push(Instant::ZERO, p).transpose()).next();
//! assert_eq!(whole.transpose()?.as_deref(), Some(&bytes[..]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The sans-IO contract
//!
//! How every state machine of the workspace is driven (inputs, the one drain order of its
//! outputs, its guarantees) is written once, in [`contract`].
//!
//! # What it does not do
//!
//! No cryptography (signatures and AEAD belong to `iomt-identity` and `iomt-transport`), no
//! I/O, no clock: time is always passed in. It does not check cross-field meaning such as a
//! [`CommandAck`] carrying a reference; that is the application's.
//!
//! # Features
//!
//! - `std` (default): `std::error::Error` for the error types.
//! - `serde`: every message and vocabulary type to and from JSON, in human units.
//! - `proptest`: `Arbitrary` for every message and vocabulary type.

#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::as_conversions
    )
)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod callsign;
mod classification;
pub mod contract;
pub mod envelope;
mod error;
mod fragment;
mod frame;
mod geo;
mod id;
mod limits;
mod message;
mod open_enum;
mod precedence;
mod time;
mod units;
mod wire;

#[cfg(feature = "proptest")]
mod arb;
#[cfg(fuzzing)]
pub mod fuzzing;

pub use callsign::{Callsign, CallsignError};
pub use classification::{
    Caveats, Classification, CountryCode, CountryCodeError, Level, ReleasableTo, ReleasableToError,
};
pub use envelope::{Envelope, Extension, MessageRef, VERSION};
pub use error::{DecodeError, EncodeError};
pub use fragment::{
    Fragment, FragmentError, Fragments, Reassembler, ReassemblyError, ReassemblyLimits,
};
pub use frame::{Frame, FrameView, next_delimited, write_delimited};
pub use geo::{Altitude, AltitudeDatum, Position, Velocity};
pub use id::{DeviceId, DeviceRef, ParseIdError, ShortId};
pub use limits::Limits;
pub use message::*;
pub use precedence::Precedence;
pub use time::{Expiry, Instant, Timestamp, TimestampRangeError};
pub use units::{
    Course, Distance, Elevation, Height, Latitude, Longitude, Percent, RangeError, Speed,
    Temperature, VelocityComponent,
};
