//! The compact mesh header in front of every application datagram.
//!
//! ```text
//! 0      version (high nibble, 1) | flags (low nibble: 0x1 = flood, no destination)
//! 1      hop limit
//! 2      precedence (low 2 bits); the other bits are reserved and must be zero
//! 3..5   remaining lifetime, big-endian, in 100 ms units (0 = expired)
//! 5..13  source ShortId
//! 13..21 destination ShortId (absent when flooded)
//! ..+4   message id, big-endian
//! rest   payload
//! ```
//!
//! 25 bytes unicast, 17 flooded. The lifetime counts down across relays by the time each one
//! held the datagram, so no clock synchronisation is needed.
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

use core::time::Duration;

use iomt_schema::{Precedence, ShortId};

const VERSION: u8 = 0x10;
const FLOOD: u8 = 0x01;
const LIFETIME_UNIT_MS: u64 = 100;

/// Where a datagram goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// One device, along the route table.
    Unicast(ShortId),
    /// Every device, by managed flooding.
    Flood,
}

/// A decoded mesh header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Where it goes.
    pub target: Target,
    /// Remaining hops.
    pub hop_limit: u8,
    /// Serving and shedding order.
    pub precedence: Precedence,
    /// Remaining lifetime, in 100 ms steps.
    pub lifetime: Duration,
    /// The originator.
    pub source: ShortId,
    /// Unique per source (with the source: the duplicate-cache key).
    pub message_id: u32,
}

/// Why a datagram was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DatagramError {
    /// Shorter than its header.
    #[error("truncated mesh header")]
    Truncated,
    /// Unknown version or flags.
    #[error("unsupported mesh header version or flags {0:#04x}")]
    Version(u8),
    /// Reserved precedence bits set.
    #[error("reserved bits set in the mesh header")]
    Reserved,
}

impl Header {
    /// Bytes this header takes.
    pub fn len(&self) -> usize {
        match self.target {
            Target::Unicast(_) => 25,
            Target::Flood => 17,
        }
    }

    /// Never empty; present for API symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Parses the header and returns it with the payload.
    pub fn parse(bytes: &[u8]) -> Result<(Self, &[u8]), DatagramError> {
        let [vf, hop_limit, prec, l0, l1, rest @ ..] = bytes else {
            return Err(DatagramError::Truncated);
        };
        if vf & 0xf0 != VERSION || vf & 0x0e != 0 {
            return Err(DatagramError::Version(*vf));
        }
        if prec & 0xfc != 0 {
            return Err(DatagramError::Reserved);
        }
        let (source, rest) = take8(rest)?;
        let (target, rest) = if vf & FLOOD != 0 {
            (Target::Flood, rest)
        } else {
            let (dst, rest) = take8(rest)?;
            (Target::Unicast(dst), rest)
        };
        let Some((id, payload)) = rest.split_first_chunk::<4>() else {
            return Err(DatagramError::Truncated);
        };
        let lifetime = u64::from(u16::from_be_bytes([*l0, *l1])) * LIFETIME_UNIT_MS;
        Ok((
            Self {
                target,
                hop_limit: *hop_limit,
                precedence: Precedence::from_code(*prec),
                lifetime: Duration::from_millis(lifetime),
                source,
                message_id: u32::from_be_bytes(*id),
            },
            payload,
        ))
    }

    /// Writes the header (lifetime rounded down to 100 ms, capped at 6553.5 s).
    pub fn write(&self, out: &mut Vec<u8>) {
        let flags = match self.target {
            Target::Unicast(_) => 0,
            Target::Flood => FLOOD,
        };
        out.extend_from_slice(&[VERSION | flags, self.hop_limit, self.precedence.code()]);
        out.extend_from_slice(&lifetime_units(self.lifetime).to_be_bytes());
        out.extend_from_slice(self.source.as_bytes());
        if let Target::Unicast(dst) = self.target {
            out.extend_from_slice(dst.as_bytes());
        }
        out.extend_from_slice(&self.message_id.to_be_bytes());
    }

    /// Rewrites the hop limit and lifetime of an encoded header in place.
    pub(crate) fn restamp(bytes: &mut [u8], hop_limit: u8, lifetime: Duration) {
        if let Some(h) = bytes.get_mut(1) {
            *h = hop_limit;
        }
        if let Some(l) = bytes.get_mut(3..5) {
            l.copy_from_slice(&lifetime_units(lifetime).to_be_bytes());
        }
    }
}

fn lifetime_units(d: Duration) -> u16 {
    u16::try_from(d.as_millis() / u128::from(LIFETIME_UNIT_MS)).unwrap_or(u16::MAX)
}

fn take8(bytes: &[u8]) -> Result<(ShortId, &[u8]), DatagramError> {
    let Some((id, rest)) = bytes.split_first_chunk::<8>() else {
        return Err(DatagramError::Truncated);
    };
    Ok((ShortId::from_bytes(*id), rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_vector_unicast_and_flood() {
        let h = Header {
            target: Target::Unicast(ShortId::from_u64(0x0102_0304_0506_0708)),
            hop_limit: 16,
            precedence: Precedence::Flash,
            lifetime: Duration::from_secs(30),
            source: ShortId::from_u64(0x1112_1314_1516_1718),
            message_id: 0xdead_beef,
        };
        let mut out = Vec::new();
        h.write(&mut out);
        out.extend_from_slice(b"hi");
        assert_eq!(
            out,
            [
                0x10, 16, 3, 0x01, 0x2c, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 1, 2, 3,
                4, 5, 6, 7, 8, 0xde, 0xad, 0xbe, 0xef, b'h', b'i'
            ]
        );
        assert_eq!(Header::parse(&out), Ok((h, &b"hi"[..])));
        let flood = Header {
            target: Target::Flood,
            ..h
        };
        let mut f = Vec::new();
        flood.write(&mut f);
        assert_eq!(f.len(), flood.len());
        assert_eq!(f[0], 0x11);
        assert_eq!(Header::parse(&f), Ok((flood, &[][..])));
    }

    #[test]
    fn bad_headers() {
        let mut ok = Vec::new();
        Header {
            target: Target::Flood,
            hop_limit: 1,
            precedence: Precedence::Routine,
            lifetime: Duration::from_secs(1),
            source: ShortId::from_u64(1),
            message_id: 1,
        }
        .write(&mut ok);
        assert_eq!(Header::parse(&ok[..16]), Err(DatagramError::Truncated));
        let mut v = ok.clone();
        v[0] = 0x20;
        assert_eq!(Header::parse(&v), Err(DatagramError::Version(0x20)));
        let mut r = ok.clone();
        r[2] = 0x04;
        assert_eq!(Header::parse(&r), Err(DatagramError::Reserved));
    }
}
