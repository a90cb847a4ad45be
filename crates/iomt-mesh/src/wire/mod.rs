//! The Babel wire format (RFC 8966 section 4, RFC 8967 section 6): packet framing, TLVs and
//! sub-TLVs.
//!
//! [`Packet::parse`] checks a whole packet before anything looks at it: the header, every TLV's
//! framing and fixed fields in the body and the trailer, and every sub-TLV's framing. A TLV
//! whose type or address encoding this implementation does not know decodes as
//! [`Tlv::Unknown`] and is skipped, as the RFC asks; a TLV that carries an unknown mandatory
//! sub-TLV is flagged by [`SubTlvs::has_unknown_mandatory`] so the router ignores it. Anything
//! malformed rejects the packet with a [`WireError`], so a malformed packet never changes
//! state. Every accepted packet re-encodes to the same bytes: TLVs keep their reserved fields,
//! compression choices and sub-TLVs.

mod packet;
mod tlv;

pub use packet::{MAGIC, Packet, VERSION, encode_packet};
pub use tlv::{Ae, SubTlvs, Tlv, kind};

/// Why a packet was rejected. Every variant is the peer's fault (garbage on the wire) except
/// [`WireError::TooLong`], which is local misuse when encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The first byte is not 42.
    #[error("not a Babel packet (magic {0})")]
    BadMagic(u8),
    /// The version is not 2.
    #[error("unsupported Babel version {0}")]
    BadVersion(u8),
    /// Shorter than its header, or its body length runs past the end.
    #[error("truncated packet or TLV at offset {offset}")]
    Truncated {
        /// Byte offset in the packet.
        offset: usize,
    },
    /// A TLV shorter than its fixed fields, or with trailing bytes where none are allowed.
    #[error("TLV type {kind} has a bad length at offset {offset}")]
    BadLength {
        /// TLV type.
        kind: u8,
        /// Byte offset of the TLV.
        offset: usize,
    },
    /// A prefix length beyond its address family, or omitted bytes beyond the prefix.
    #[error("TLV type {kind} has an impossible prefix (plen {plen}) at offset {offset}")]
    BadPrefix {
        /// TLV type.
        kind: u8,
        /// The prefix length field.
        plen: u8,
        /// Byte offset of the TLV.
        offset: usize,
    },
    /// Sub-TLVs that overrun their TLV.
    #[error("malformed sub-TLV in TLV type {kind} at offset {offset}")]
    BadSubTlv {
        /// TLV type.
        kind: u8,
        /// Byte offset of the TLV.
        offset: usize,
    },
    /// Encoding: a TLV body over 255 bytes or a body over 65535.
    #[error("{what} too long to encode")]
    TooLong {
        /// What overflowed.
        what: &'static str,
    },
}
