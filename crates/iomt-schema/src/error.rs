//! Error types, one enum per class of fault.
//!
//! - [`DecodeError`]: the peer sent bytes that are not a valid frame (garbage).
//! - [`EncodeError`]: local misuse (buffer too small, a value outside what the wire can carry).
//! - [`ReassemblyError`](crate::fragment::ReassemblyError): fragments that are well formed but
//!   contradict each other or exceed a configured limit (the peer misbehaved).
//!
//! Every variant names the field, where it is (the byte offset) and, where there is one, the
//! value found and the bound it broke; never payload contents.

use core::fmt;

/// Why a byte string is not a valid frame. Offsets are counted from the start of the frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended inside `what`.
    #[error("input ends inside {what} at byte {offset}")]
    Truncated {
        /// The item being read.
        what: &'static str,
        /// Where the item started.
        offset: usize,
    },
    /// The frame's version field names a version this decoder does not speak.
    #[error(
        "protocol version {version} is not supported: this decoder speaks version {}",
        crate::envelope::VERSION
    )]
    UnsupportedVersion {
        /// The version found on the wire.
        version: u8,
    },
    /// Bits that this version reserves as zero were set.
    #[error("{what} at byte {offset} sets reserved bits {bits:#04x}, which must be zero")]
    ReservedBits {
        /// The field holding the bits.
        what: &'static str,
        /// The reserved bits that were set.
        bits: u8,
        /// Where the field is.
        offset: usize,
    },
    /// A value was written in a form other than its one canonical encoding (an over-long
    /// varint, a flag byte that says nothing, an unsorted set, padding bits that are not zero).
    #[error("{what} at byte {offset} is not in its one canonical encoding")]
    NonCanonical {
        /// The field in the wrong form.
        what: &'static str,
        /// Where the field is.
        offset: usize,
    },
    /// A varint does not fit the integer type of its field.
    #[error("{what} at byte {offset} is {value}, which does not fit in {ty}")]
    Overflow {
        /// The field.
        what: &'static str,
        /// The value found (for a signed field, after zigzag decoding).
        value: Overflowed,
        /// The field's integer type (`u16`, `i32`, ...).
        ty: &'static str,
        /// Where the field is.
        offset: usize,
    },
    /// A length or count is impossible in itself (zero where the item cannot be empty, larger
    /// than the item's fixed maximum, inconsistent with a neighbouring field).
    #[error("{what} at byte {offset} has length {len}, outside {min}..={max}")]
    BadLength {
        /// The field.
        what: &'static str,
        /// The length found.
        len: u64,
        /// The shortest length the field can have there.
        min: u64,
        /// The longest length the field can have there.
        max: u64,
        /// Where the length is.
        offset: usize,
    },
    /// A length or count exceeds the decoder's configured [`Limits`](crate::Limits).
    #[error("{what} at byte {offset} has length {len}, beyond the limit of {max}")]
    TooLong {
        /// The field.
        what: &'static str,
        /// The length the peer claimed.
        len: u64,
        /// The configured limit.
        max: usize,
        /// Where the length is.
        offset: usize,
    },
    /// The whole frame is larger than [`Limits::max_frame`](crate::Limits::max_frame).
    #[error("frame of {len} bytes is beyond the limit of {max}")]
    FrameTooLong {
        /// The frame's length.
        len: usize,
        /// The configured limit.
        max: usize,
    },
    /// A field holds a value outside its declared range (latitude beyond 90 degrees, a course of
    /// 360 degrees or more, a percentage above 100, ...). Values are in the field's wire unit:
    /// 1e-7 degree for a latitude, 0.01 degree for a course, the code for a code list.
    #[error("{what} at byte {offset} is {value}, outside {min}..={max}")]
    OutOfRange {
        /// The field.
        what: &'static str,
        /// The value found.
        value: i64,
        /// The smallest value the field holds.
        min: i64,
        /// The largest value the field holds.
        max: i64,
        /// Where the field is.
        offset: usize,
    },
    /// A text field is not UTF-8, or a restricted-alphabet field holds a character outside it.
    #[error("{what} at byte {offset} is not {expected}")]
    InvalidText {
        /// The field.
        what: &'static str,
        /// What the field's bytes must be (`"UTF-8"`, `"an upper-case letter A to Z"`).
        expected: &'static str,
        /// Where the first byte that breaks the rule is.
        offset: usize,
    },
    /// Bytes remain after the last field that the frame declares.
    #[error("{count} bytes follow the end of {what} at byte {offset}")]
    TrailingBytes {
        /// The item that should have ended the input.
        what: &'static str,
        /// How many bytes remain.
        count: usize,
        /// Where the trailing bytes start.
        offset: usize,
    },
    /// An extension marked must-understand has a kind this decoder was not told it understands.
    #[error(
        "must-understand extension {kind} at byte {offset} is not in the decoder's \
         understood extensions"
    )]
    UnknownCriticalExtension {
        /// The extension kind.
        kind: u16,
        /// Where the extension starts.
        offset: usize,
    },
    /// A message kind that cannot be nested appeared inside a batch (a batch or a fragment).
    #[error(
        "message kind {kind:#04x} at byte {offset} cannot be a batch record (batches and \
         fragments do not nest)"
    )]
    NotAllowedInBatch {
        /// The message kind.
        kind: u8,
        /// Where the record starts.
        offset: usize,
    },
}

/// Why a value could not be encoded. Both are local misuse, never the peer's doing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The output buffer has no room for the next `needed` bytes.
    #[error("output buffer too small: {needed} more bytes to write, room for {room}")]
    BufferTooSmall {
        /// Bytes the writer tried to add when the buffer ran out.
        needed: usize,
        /// Bytes the buffer still had room for.
        room: usize,
    },
    /// A value cannot be carried by its wire field, e.g. an `Unknown` code wider than a packed
    /// bit field.
    #[error("{what} {value} cannot be encoded: its field holds at most {max}")]
    OutOfRange {
        /// The field.
        what: &'static str,
        /// The value.
        value: u64,
        /// The largest value the field holds.
        max: u64,
    },
    /// A batch record is itself a batch or a fragment.
    #[error(
        "message kind {kind:#04x} cannot be a batch record (batches and fragments do not nest)"
    )]
    NotAllowedInBatch {
        /// The record's message kind.
        kind: u8,
    },
    /// Extensions are not in strictly ascending kind order (the order that makes their
    /// encoding canonical).
    #[error("extension kind {kind} follows kind {previous}: kinds must strictly ascend")]
    ExtensionOrder {
        /// The kind before.
        previous: u16,
        /// The kind that should have been greater.
        kind: u16,
    },
}

/// The value an integer field overflowed with (kept small: every decoder carries its error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Overflowed {
    /// An unsigned value.
    Unsigned(u64),
    /// A signed value, after zigzag decoding.
    Signed(i64),
    /// A varint of more than 64 bits.
    Wider,
}

impl fmt::Display for Overflowed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unsigned(v) => write!(f, "{v}"),
            Self::Signed(v) => write!(f, "{v}"),
            Self::Wider => f.write_str("a varint of more than 64 bits"),
        }
    }
}
