//! The compact mesh header in front of every application datagram, and the authenticated
//! data packet that carries it from hop to hop.
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
//! held the datagram, so no clock synchronisation is needed. Message ids are drawn from the
//! router's `SecureRandom` for every datagram, so nobody can predict the next one.
//!
//! # Authenticated data packets
//!
//! On an interface with MAC keys (or to and from a neighbour with its own keys, see
//! [`Router::set_interface_keys`](crate::Router::set_interface_keys) and
//! [`Router::set_neighbour_keys`](crate::Router::set_neighbour_keys)) every datagram travels
//! each hop inside an RFC 8967 packet of its own, under the same keys, packet counter and index
//! as the Babel packets on that interface:
//!
//! ```text
//! 0       magic 0xDA (a Babel packet starts with 42, a bare mesh header with 0x10 or 0x11)
//! 1       version 1
//! 2..4    body length, big-endian
//! 4..18   PC TLV: type 17, length 12, packet counter (u32, big-endian), 8-byte index
//! 18..    the mesh datagram: header and payload, to the end of the body
//! then    the trailer: one MAC TLV per signing key (type 16, length 32, HMAC-SHA256)
//! ```
//!
//! Each MAC covers the RFC 8967 pseudo-header (source and destination link-local addresses,
//! each with the Babel port, whatever port the driver carries data on) followed by bytes 0 to
//! the end of the body. A relay checks and strips the packet, forwards the datagram, and wraps
//! it again under its own counter and keys for the next hop. The cost is 18 bytes plus 34 per
//! MAC: **52 bytes per datagram per hop** with one key. Multicast (flooded) datagrams carry a
//! MAC under every interface key and every key of every neighbour with its own keys on the
//! interface, as multicast Babel packets do.
//!
//! A receiver that has keys for the sender drops, before it touches any queue, cache or table,
//! a datagram without a packet around it ([`InputError::MissingMac`](crate::InputError)), one
//! whose MACs do not verify (`BadMac`), one whose counter is not newer than the last one it
//! accepted on the data channel under that index (`Replay`), and one under an index it has not
//! verified by a challenge on the routing channel (`Unverified`). Each is counted in
//! [`Stats::data_auth`](crate::Stats::data_auth).
//!
//! Without keys a router sends bare datagrams (the header and payload above, nothing around
//! them) and accepts either form without checking any MAC, as it does Babel packets. Anyone
//! on the link can then forge, replay or shed traffic: that is for closed test networks only.

use alloc::vec::Vec;
use core::net::Ipv6Addr;
use core::time::Duration;

use iomt_schema::{Precedence, ShortId};

use crate::mac::{INDEX_LEN, MacKey};
use crate::wire::kind;

/// First byte of an authenticated data packet.
pub const DATA_MAGIC: u8 = 0xda;
/// The authenticated data packet version this implements.
pub const DATA_VERSION: u8 = 1;
/// The longest lifetime a datagram carries (65,535 steps of 100 ms); longer ones are capped.
pub const MAX_LIFETIME: Duration = Duration::from_millis(6_553_500);

/// The PC TLV: type, length, 4-byte counter and 8-byte index (the type of the index in
/// `DataAuth` ties this to `INDEX_LEN`).
const PC_TLV_LEN: usize = 14;
/// What an authenticated data packet adds whatever the number of MACs: its header and the PC
/// TLV.
const FIXED_OVERHEAD: usize = 4 + PC_TLV_LEN;
/// A MAC TLV: type, length and an HMAC-SHA256.
const MAC_TLV_LEN: usize = 34;
/// The length fields of the PC TLV and of a MAC TLV (HMAC-SHA256).
const PC_BODY_LEN: u8 = 12;
const MAC_LEN: u8 = 32;
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
    /// Drawn at random for each datagram; with the source and a digest of the content, the
    /// duplicate-cache key of a flood.
    pub message_id: u32,
}

/// Why a datagram or data packet was rejected. Every variant is the peer's fault (garbage on
/// the wire) except [`DatagramError::TooLong`], which is local misuse when encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DatagramError {
    /// Shorter than its header, or a data packet whose body length runs past the end.
    #[error("truncated mesh header or data packet")]
    Truncated,
    /// Unknown version or flags.
    #[error("unsupported mesh header version or flags {0:#04x}")]
    Version(u8),
    /// Reserved precedence bits set.
    #[error("reserved bits set in the mesh header")]
    Reserved,
    /// An authenticated data packet of a version other than 1.
    #[error("unsupported data packet version {0}")]
    PacketVersion(u8),
    /// The body of an authenticated data packet does not open with a 12-byte PC TLV.
    #[error("data packet without a well-formed packet counter")]
    Counter,
    /// The trailer of an authenticated data packet holds something other than 32-byte MAC
    /// TLVs.
    #[error("data packet trailer is not a sequence of MAC TLVs")]
    Trailer,
    /// Encoding: a datagram too long for the 16-bit body length.
    #[error("datagram too long to encode")]
    TooLong,
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

/// A packet received on the data channel, checked whole: a bare datagram, or an
/// [authenticated data packet](self#authenticated-data-packets) and the datagram inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataPacket<'a> {
    /// The datagram's mesh header.
    pub header: Header,
    /// The datagram's payload.
    pub payload: &'a [u8],
    /// The datagram as it arrived: header and payload.
    pub datagram: &'a [u8],
    /// The packet counter and MACs; `None` for a bare datagram.
    pub auth: Option<DataAuth<'a>>,
}

/// The authentication of a data packet, borrowing from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataAuth<'a> {
    /// What the MACs cover after the pseudo-header: the packet header, the PC TLV and the
    /// datagram.
    pub authenticated: &'a [u8],
    /// The sender's packet counter.
    pub pc: u32,
    /// The sender's index.
    pub index: &'a [u8; INDEX_LEN],
    /// The MAC TLVs, already checked for framing.
    trailer: &'a [u8],
}

impl<'a> DataAuth<'a> {
    /// The MACs in the trailer, in order.
    pub fn macs(&self) -> impl Iterator<Item = &'a [u8]> + use<'a> {
        self.trailer
            .chunks_exact(MAC_TLV_LEN)
            .filter_map(|tlv| tlv.split_first_chunk::<2>().map(|(_, mac)| mac))
    }
}

impl<'a> DataPacket<'a> {
    /// Parses a packet from the data channel: an authenticated data packet if it starts with
    /// [`DATA_MAGIC`], else a bare datagram. Nothing is trailing or left unchecked.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, DatagramError> {
        let Some(rest) = bytes.strip_prefix(&[DATA_MAGIC]) else {
            let (header, payload) = Header::parse(bytes)?;
            return Ok(Self {
                header,
                payload,
                datagram: bytes,
                auth: None,
            });
        };
        let [version, hi, lo, rest @ ..] = rest else {
            return Err(DatagramError::Truncated);
        };
        if *version != DATA_VERSION {
            return Err(DatagramError::PacketVersion(*version));
        }
        let body_len = usize::from(u16::from_be_bytes([*hi, *lo]));
        let (Some(body), Some(trailer)) = (rest.get(..body_len), rest.get(body_len..)) else {
            return Err(DatagramError::Truncated);
        };
        let Some(([t, l, c0, c1, c2, c3, index @ ..], datagram)) =
            body.split_first_chunk::<PC_TLV_LEN>()
        else {
            return Err(DatagramError::Counter);
        };
        if *t != kind::PC || *l != PC_BODY_LEN {
            return Err(DatagramError::Counter);
        }
        let framed = trailer.len() % MAC_TLV_LEN == 0
            && trailer
                .chunks_exact(MAC_TLV_LEN)
                .all(|tlv| tlv.starts_with(&[kind::MAC, MAC_LEN]));
        if !framed {
            return Err(DatagramError::Trailer);
        }
        let (header, payload) = Header::parse(datagram)?;
        Ok(Self {
            header,
            payload,
            datagram,
            auth: Some(DataAuth {
                authenticated: bytes.get(..4 + body_len).unwrap_or_default(),
                pc: u32::from_be_bytes([*c0, *c1, *c2, *c3]),
                index,
                trailer,
            }),
        })
    }

    /// Encodes the packet again from its parsed fields (the MACs as they were).
    pub fn encode(&self) -> Result<Vec<u8>, DatagramError> {
        let mut datagram = Vec::with_capacity(self.header.len() + self.payload.len());
        self.header.write(&mut datagram);
        datagram.extend_from_slice(self.payload);
        let Some(auth) = self.auth else {
            return Ok(datagram);
        };
        let mut out = Vec::new();
        write_body(&mut out, auth.pc, auth.index, &datagram)?;
        for mac in auth.macs() {
            out.extend_from_slice(&[kind::MAC, MAC_LEN]);
            out.extend_from_slice(mac);
        }
        Ok(out)
    }
}

/// Bytes an authenticated data packet adds around a datagram when it carries `macs` MACs.
pub const fn data_overhead(macs: usize) -> usize {
    FIXED_OVERHEAD + MAC_TLV_LEN * macs
}

/// Appends to `out` an authenticated data packet that carries `datagram` from `src` to `dst`
/// (link-local addresses, or the multicast group), with the sender's packet counter and index
/// and one MAC per key.
pub fn write_authenticated<'k>(
    out: &mut Vec<u8>,
    datagram: &[u8],
    (pc, index): (u32, &[u8; INDEX_LEN]),
    keys: impl IntoIterator<Item = &'k MacKey>,
    src: Ipv6Addr,
    dst: Ipv6Addr,
) -> Result<(), DatagramError> {
    let start = out.len();
    write_body(out, pc, index, datagram)?;
    let macs: Vec<[u8; 32]> = keys
        .into_iter()
        .map(|k| k.sign(src, dst, out.get(start..).unwrap_or_default()))
        .collect();
    for mac in &macs {
        out.extend_from_slice(&[kind::MAC, MAC_LEN]);
        out.extend_from_slice(mac);
    }
    Ok(())
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

/// The packet header, the PC TLV and the datagram: what the MACs cover.
fn write_body(
    out: &mut Vec<u8>,
    pc: u32,
    index: &[u8; INDEX_LEN],
    datagram: &[u8],
) -> Result<(), DatagramError> {
    let body = u16::try_from(PC_TLV_LEN + datagram.len()).map_err(|_| DatagramError::TooLong)?;
    out.extend_from_slice(&[DATA_MAGIC, DATA_VERSION]);
    out.extend_from_slice(&body.to_be_bytes());
    out.extend_from_slice(&[kind::PC, PC_BODY_LEN]);
    out.extend_from_slice(&pc.to_be_bytes());
    out.extend_from_slice(index);
    out.extend_from_slice(datagram);
    Ok(())
}

#[cfg(test)]
mod tests {
    use alloc::vec;

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

    const SRC: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0xa);
    const DST: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

    fn flood() -> Vec<u8> {
        let mut d = Vec::new();
        Header {
            target: Target::Flood,
            hop_limit: 4,
            precedence: Precedence::Immediate,
            lifetime: Duration::from_secs(1),
            source: ShortId::from_u64(0x0102_0304_0506_0708),
            message_id: 0x0a0b_0c0d,
        }
        .write(&mut d);
        d.extend_from_slice(b"hi");
        d
    }

    #[test]
    fn authenticated_byte_vector_and_round_trip() {
        let key = MacKey::hmac_sha256(&[7; 64]);
        let datagram = flood();
        let mut out = Vec::new();
        write_authenticated(
            &mut out,
            &datagram,
            (0x1122_3344, &[0xe0, 1, 2, 3, 4, 5, 6, 7]),
            [&key],
            SRC,
            DST,
        )
        .unwrap();
        assert_eq!(out.len(), datagram.len() + data_overhead(1));
        assert_eq!(data_overhead(1), 52);
        let mut expected = vec![0xda, 1, 0, 33, 17, 12, 0x11, 0x22, 0x33, 0x44];
        expected.extend_from_slice(&[0xe0, 1, 2, 3, 4, 5, 6, 7]);
        expected.extend_from_slice(&datagram);
        let mac = key.sign(SRC, DST, &expected);
        expected.extend_from_slice(&[16, 32]);
        expected.extend_from_slice(&mac);
        assert_eq!(out, expected);

        let p = DataPacket::parse(&out).unwrap();
        assert_eq!(p.datagram, &datagram[..]);
        assert_eq!(p.payload, b"hi");
        let auth = p.auth.unwrap();
        assert_eq!(
            (auth.pc, auth.index),
            (0x1122_3344, &[0xe0, 1, 2, 3, 4, 5, 6, 7])
        );
        assert_eq!(auth.authenticated, &out[..out.len() - 34]);
        let macs: Vec<&[u8]> = auth.macs().collect();
        assert_eq!(macs, [&out[out.len() - 32..]]);
        assert!(key.verify(SRC, DST, auth.authenticated, macs[0]));
        assert_eq!(p.encode().unwrap(), out);

        let bare = DataPacket::parse(&datagram).unwrap();
        assert_eq!((bare.auth, bare.payload), (None, &b"hi"[..]));
        assert_eq!(bare.encode().unwrap(), datagram);
    }

    #[test]
    fn bad_data_packets() {
        let key = MacKey::hmac_sha256(&[7; 64]);
        let mut ok = Vec::new();
        write_authenticated(&mut ok, &flood(), (1, &[0; 8]), [&key], SRC, DST).unwrap();
        let with = |i: usize, b: u8| {
            let mut v = ok.clone();
            v[i] = b;
            v
        };
        let cases: Vec<(Vec<u8>, DatagramError)> = vec![
            (vec![0xda, 1, 0], DatagramError::Truncated),
            (with(1, 2), DatagramError::PacketVersion(2)),
            (with(3, 0xff), DatagramError::Truncated),
            (with(4, 18), DatagramError::Counter),
            (with(5, 8), DatagramError::Counter),
            (ok[..ok.len() - 1].to_vec(), DatagramError::Trailer),
            (with(ok.len() - 34, 1), DatagramError::Trailer),
            (with(ok.len() - 33, 31), DatagramError::Trailer),
            (with(18, 0x30), DatagramError::Version(0x30)),
            (vec![0xda, 1, 0, 4, 17, 12, 0, 0], DatagramError::Counter),
        ];
        for (bytes, err) in cases {
            assert_eq!(DataPacket::parse(&bytes), Err(err), "{bytes:02x?}");
        }
        let mut no_macs = ok[..ok.len() - 34].to_vec();
        assert!(
            DataPacket::parse(&no_macs).is_ok(),
            "an empty trailer is framed"
        );
        no_macs.extend_from_slice(&[16, 32]);
        assert_eq!(DataPacket::parse(&no_macs), Err(DatagramError::Trailer));
    }
}
