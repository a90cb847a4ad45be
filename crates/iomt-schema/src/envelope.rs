//! The envelope: the header on every frame, readable without decoding the body.
//!
//! Wire layout (all multi-byte integers big-endian or LEB128 varints):
//!
//! ```text
//! byte 0      VV F PP LLL   version (2 bits, = 1), flags byte follows (1), precedence (2),
//!                           classification level (3)
//! [flags]     present only when F is set, and then never zero:
//!             0x01 ack requested        0x02 expiry present      0x04 reference present
//!             0x08 marking present      0x10 extensions present  0x20 full 16-byte source
//!             0xc0 reserved, zero
//! kind        1 byte, the message kind
//! source      8 bytes (short id) or 16 (full DeviceId, flag 0x20)
//! seq         varint u32
//! time        6 bytes, ms since the Unix epoch
//! [expiry]    varint u32, seconds after `time`
//! [reference] 8-byte short id + varint u32 sequence
//! [marking]   caveats varint u32, count u8 (<= 8), count x 3-byte country codes, ascending
//! [ext]       count varint (>= 1), then per extension, in ascending kind order:
//!             varint (kind << 1 | must_understand), varint length, value
//! body        the rest of the frame
//! ```
//!
//! A routine, unmarked frame with a short source costs 18 bytes of envelope.

use alloc::vec::Vec;

use crate::classification::{Classification, Level};
use crate::error::{DecodeError, EncodeError, Overflowed};
use crate::id::{DeviceId, DeviceRef, ShortId};
use crate::message::MessageKind;
use crate::precedence::Precedence;
use crate::time::{Expiry, Timestamp};
use crate::wire::{Fault, Reader, Sink, Wire};

/// The protocol version this crate speaks.
pub const VERSION: u8 = 1;

/// Header of every frame. The message kind is not stored here: it follows from the body.
///
/// ```
/// use iomt_schema::{Envelope, ShortId, Timestamp};
/// let env = Envelope::new(ShortId::from_u64(7).into(), 1, Timestamp::from_millis(0).unwrap());
/// assert!(!env.ack_requested && env.extensions.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct Envelope {
    /// The originating device.
    pub source: DeviceRef,
    /// The source's sequence number; `(source, seq)` names the message.
    pub seq: u32,
    /// When the message was created.
    pub time: Timestamp,
    /// Delivery precedence.
    pub precedence: Precedence,
    /// Classification marking.
    pub classification: Classification,
    /// Lifetime after `time`; relays drop the message once it has passed.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub expiry: Option<Expiry>,
    /// Whether the source asks for an acknowledgement.
    #[cfg_attr(feature = "serde", serde(default))]
    pub ack_requested: bool,
    /// An earlier message this one acknowledges, cancels or replaces.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub reference: Option<MessageRef>,
    /// Extension records, in ascending kind order.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Vec::is_empty")
    )]
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arb::extensions()"))]
    pub extensions: Vec<Extension>,
}

/// Names an earlier message by its source's short id and sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct MessageRef {
    /// The source of the referenced message.
    pub source: ShortId,
    /// Its sequence number.
    pub seq: u32,
}

/// An extension record. Kinds are allocated by the crates that define them; a decoder rejects
/// a must-understand extension whose kind is not in
/// [`Limits::understood_extensions`](crate::Limits::understood_extensions) and keeps the others
/// as opaque bytes, so they survive relays.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct Extension {
    /// The extension kind.
    pub kind: u16,
    /// Whether a receiver that does not understand `kind` must reject the frame.
    pub must_understand: bool,
    /// The value, opaque to this crate.
    #[cfg_attr(
        feature = "proptest",
        proptest(strategy = "proptest::collection::vec(proptest::num::u8::ANY, 0..16)")
    )]
    pub value: Vec<u8>,
}

const VERSION_SHIFT: u8 = 6;
const HAS_FLAGS: u8 = 0x20;
const PRECEDENCE_SHIFT: u8 = 3;

const ACK: u8 = 0x01;
const EXPIRY: u8 = 0x02;
const REFERENCE: u8 = 0x04;
const MARKING: u8 = 0x08;
const EXTENSIONS: u8 = 0x10;
const FULL_SOURCE: u8 = 0x20;
const RESERVED: u8 = 0xc0;

impl Envelope {
    /// A routine, unclassified envelope with no options.
    pub fn new(source: DeviceRef, seq: u32, time: Timestamp) -> Self {
        Self {
            source,
            seq,
            time,
            precedence: Precedence::Routine,
            classification: Classification::default(),
            expiry: None,
            ack_requested: false,
            reference: None,
            extensions: Vec::new(),
        }
    }

    /// When the message expires, if it has an expiry that is representable.
    pub fn expires_at(&self) -> Option<Timestamp> {
        self.time.checked_add(self.expiry?.as_duration())
    }

    /// Whether the message has expired at wall-clock time `now`.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at().is_some_and(|at| now >= at)
    }

    /// The first extension of `kind`.
    pub fn extension(&self, kind: u16) -> Option<&Extension> {
        self.extensions.iter().find(|e| e.kind == kind)
    }

    fn flags(&self) -> u8 {
        let mut flags = 0;
        if self.ack_requested {
            flags |= ACK;
        }
        if self.expiry.is_some() {
            flags |= EXPIRY;
        }
        if self.reference.is_some() {
            flags |= REFERENCE;
        }
        if self.classification.has_marking() {
            flags |= MARKING;
        }
        if !self.extensions.is_empty() {
            flags |= EXTENSIONS;
        }
        if matches!(self.source, DeviceRef::Full(_)) {
            flags |= FULL_SOURCE;
        }
        flags
    }

    /// Writes the envelope for a body of `kind`. Extensions must be in strictly ascending kind
    /// order (the one canonical order); anything else is refused rather than reordered, so the
    /// bytes always match the value.
    #[inline]
    pub(crate) fn encode<S: Sink>(&self, kind: MessageKind, s: &mut S) -> Result<(), EncodeError> {
        let flags = self.flags();
        let level = self
            .classification
            .level
            .checked_code("classification level")?;
        let mut b0 = VERSION << VERSION_SHIFT | self.precedence.code() << PRECEDENCE_SHIFT | level;
        if flags != 0 {
            b0 |= HAS_FLAGS;
            s.put(&[b0, flags, kind.code()])?;
        } else {
            s.put(&[b0, kind.code()])?;
        }
        match &self.source {
            DeviceRef::Short(id) => id.encode(s)?,
            DeviceRef::Full(id) => id.encode(s)?,
        }
        s.put_varint(u64::from(self.seq))?;
        self.time.encode(s)?;
        if let Some(expiry) = &self.expiry {
            expiry.encode(s)?;
        }
        if let Some(reference) = &self.reference {
            reference.source.encode(s)?;
            s.put_varint(u64::from(reference.seq))?;
        }
        if flags & MARKING != 0 {
            self.classification.encode_marking(s)?;
        }
        if !self.extensions.is_empty() {
            let unordered = self.extensions.windows(2).find_map(|w| match w {
                [a, b] if a.kind >= b.kind => Some((a.kind, b.kind)),
                _ => None,
            });
            if let Some((previous, kind)) = unordered {
                return Err(EncodeError::ExtensionOrder { previous, kind });
            }
            s.put_len(self.extensions.len())?;
            for ext in &self.extensions {
                s.put_varint(u64::from(ext.kind) << 1 | u64::from(ext.must_understand))?;
                s.put_len(ext.value.len())?;
                s.put(&ext.value)?;
            }
        }
        Ok(())
    }

    /// Reads an envelope, leaving the reader at the body.
    #[inline(always)]
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<(MessageKind, Self), Fault> {
        let b0 = r.u8("envelope")?;
        let version = b0 >> VERSION_SHIFT;
        if version != VERSION {
            return Err(r.fail(DecodeError::UnsupportedVersion { version }));
        }
        let flags = if b0 & HAS_FLAGS != 0 {
            let offset = r.offset();
            match r.u8("envelope flags")? {
                0 => {
                    return Err(r.non_canonical("empty envelope flags", offset));
                }
                f if f & RESERVED != 0 => {
                    return Err(r.fail(DecodeError::ReservedBits {
                        what: "envelope flags",
                        bits: f & RESERVED,
                        offset,
                    }));
                }
                f => f,
            }
        } else {
            0
        };
        let kind = MessageKind::from_code(r.u8("message kind")?);
        let source = if flags & FULL_SOURCE != 0 {
            DeviceRef::Full(DeviceId::decode(r)?)
        } else {
            DeviceRef::Short(ShortId::decode(r)?)
        };
        let seq = r.varint_u32("sequence")?;
        let time = Timestamp::decode(r)?;
        let expiry = (flags & EXPIRY != 0)
            .then(|| Expiry::decode(r))
            .transpose()?;
        let reference = if flags & REFERENCE != 0 {
            Some(MessageRef {
                source: ShortId::decode(r)?,
                seq: r.varint_u32("reference sequence")?,
            })
        } else {
            None
        };
        let level = Level::from_code(b0 & 0b111);
        let classification = if flags & MARKING != 0 {
            Classification::decode_marking(level, r)?
        } else {
            Classification::level(level)
        };
        let extensions = if flags & EXTENSIONS != 0 {
            decode_extensions(r)?
        } else {
            Vec::new()
        };
        Ok((
            kind,
            Self {
                source,
                seq,
                time,
                precedence: Precedence::from_code(b0 >> PRECEDENCE_SHIFT),
                classification,
                expiry,
                ack_requested: flags & ACK != 0,
                reference,
                extensions,
            },
        ))
    }
}

fn decode_extensions(r: &mut Reader<'_>) -> Result<Vec<Extension>, Fault> {
    let offset = r.offset();
    let count = r.length("extension count", r.limits.max_extensions)?;
    if count == 0 {
        return Err(r.non_canonical("empty extension list", offset));
    }
    // Each record takes at least two bytes (kind and length): never reserve for more records
    // than the input can hold, whatever the limit.
    if count > r.remaining() / 2 {
        return Err(r.fail(DecodeError::Truncated {
            what: "extension list",
            offset,
        }));
    }
    let mut out: Vec<Extension> = Vec::with_capacity(count);
    for _ in 0..count {
        let offset = r.offset();
        let key = r.varint("extension kind")?;
        let kind = u16::try_from(key >> 1).map_err(|_| {
            r.overflow(
                "extension kind",
                Overflowed::Unsigned(key >> 1),
                "u16",
                offset,
            )
        })?;
        let must_understand = key & 1 == 1;
        if out.last().is_some_and(|prev| prev.kind >= kind) {
            return Err(r.non_canonical("extension order", offset));
        }
        if must_understand && !r.limits.understood_extensions.contains(&kind) {
            return Err(r.fail(DecodeError::UnknownCriticalExtension { kind, offset }));
        }
        let len = r.length("extension length", r.limits.max_extension_len)?;
        let value = r.take(len, "extension value")?.to_vec();
        out.push(Extension {
            kind,
            must_understand,
            value,
        });
    }
    Ok(out)
}
