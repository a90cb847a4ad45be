//! Error types, one enum per class of fault.
//!
//! - [`DecodeError`]: the peer sent bytes that are not a valid frame (garbage).
//! - [`EncodeError`]: local misuse (buffer too small, a value outside what the wire can carry).
//! - [`ReassemblyError`](crate::fragment::ReassemblyError): fragments that are well formed but
//!   contradict each other or exceed a configured limit (the peer misbehaved).
//!
//! Every variant carries the byte offset or the limit involved, never payload contents.

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
    #[error("unsupported protocol version {version}")]
    UnsupportedVersion {
        /// The version found on the wire.
        version: u8,
    },
    /// Bits that this version reserves as zero were set.
    #[error("reserved bits set in {what} at byte {offset}")]
    ReservedBits {
        /// The field holding the bits.
        what: &'static str,
        /// Where the field is.
        offset: usize,
    },
    /// A value was written in a form other than its one canonical encoding (an over-long
    /// varint, a flag byte that says nothing, an unsorted set, padding bits that are not zero).
    #[error("non-canonical {what} at byte {offset}")]
    NonCanonical {
        /// The field in the wrong form.
        what: &'static str,
        /// Where the field is.
        offset: usize,
    },
    /// A varint does not fit the integer type of its field.
    #[error("{what} at byte {offset} overflows its integer type")]
    Overflow {
        /// The field.
        what: &'static str,
        /// Where the field is.
        offset: usize,
    },
    /// A length or count is impossible in itself (zero where the item cannot be empty, larger
    /// than the item's fixed maximum, inconsistent with a neighbouring field).
    #[error("invalid length {len} for {what} at byte {offset}")]
    BadLength {
        /// The field.
        what: &'static str,
        /// The length found.
        len: u64,
        /// Where the length is.
        offset: usize,
    },
    /// A length or count exceeds the decoder's configured [`Limits`](crate::Limits).
    #[error("{what} length {len} at byte {offset} exceeds the limit {max}")]
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
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    FrameTooLong {
        /// The frame's length.
        len: usize,
        /// The configured limit.
        max: usize,
    },
    /// A field holds a value outside its declared range (latitude beyond 90 degrees, a course of
    /// 360 degrees or more, a percentage above 100, ...).
    #[error("{what} out of range at byte {offset}")]
    OutOfRange {
        /// The field.
        what: &'static str,
        /// Where the field is.
        offset: usize,
    },
    /// A text field is not UTF-8, or a restricted-alphabet field holds a character outside it.
    #[error("invalid text in {what} at byte {offset}")]
    InvalidText {
        /// The field.
        what: &'static str,
        /// Where the field is.
        offset: usize,
    },
    /// Bytes remain after the last field that the frame declares.
    #[error("{count} trailing bytes after {what} at byte {offset}")]
    TrailingBytes {
        /// The item that should have ended the input.
        what: &'static str,
        /// How many bytes remain.
        count: usize,
        /// Where the trailing bytes start.
        offset: usize,
    },
    /// An extension marked must-understand has a kind this decoder was not told it understands.
    #[error("unknown must-understand extension {kind} at byte {offset}")]
    UnknownCriticalExtension {
        /// The extension kind.
        kind: u16,
        /// Where the extension starts.
        offset: usize,
    },
    /// A message kind that cannot be nested appeared inside a batch (a batch or a fragment).
    #[error("message kind {kind:#04x} not allowed inside a batch at byte {offset}")]
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
    #[error("output buffer too small: {needed} more bytes needed")]
    BufferTooSmall {
        /// Bytes the writer tried to add when the buffer ran out.
        needed: usize,
    },
    /// A value cannot be carried by its wire field, e.g. an `Unknown` code wider than a packed
    /// bit field.
    #[error("{what} cannot be encoded: value out of range")]
    OutOfRange {
        /// The field.
        what: &'static str,
    },
}
