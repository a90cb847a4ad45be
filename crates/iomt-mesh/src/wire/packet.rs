//! Packet framing: header, body, trailer.

use super::WireError;
use super::tlv::Tlv;
use alloc::vec;
use alloc::vec::Vec;

/// First byte of every Babel packet.
pub const MAGIC: u8 = 42;
/// The protocol version this implements.
pub const VERSION: u8 = 2;

/// A parsed packet: the TLVs of its body and of its trailer (RFC 8967 MACs), borrowing from
/// the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<'a> {
    /// The header and body, which a MAC covers.
    pub authenticated: &'a [u8],
    /// Body TLVs in order.
    pub body: Vec<Tlv<'a>>,
    /// Trailer TLVs in order (MACs and padding).
    pub trailer: Vec<Tlv<'a>>,
}

impl<'a> Packet<'a> {
    /// Parses and checks a whole packet.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, WireError> {
        let [magic, version, hi, lo, rest @ ..] = bytes else {
            return Err(WireError::Truncated { offset: 0 });
        };
        if *magic != MAGIC {
            return Err(WireError::BadMagic(*magic));
        }
        if *version != VERSION {
            return Err(WireError::BadVersion(*version));
        }
        let body_len = usize::from(u16::from_be_bytes([*hi, *lo]));
        let (Some(body), Some(trailer)) = (rest.get(..body_len), rest.get(body_len..)) else {
            return Err(WireError::Truncated { offset: 2 });
        };
        let authenticated = bytes.get(..4 + body_len).unwrap_or_default();
        Ok(Self {
            authenticated,
            body: parse_tlvs(body, 4)?,
            trailer: parse_tlvs(trailer, 4 + body_len)?,
        })
    }

    /// Encodes the packet again (header, body TLVs, trailer TLVs).
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        encode_packet(&self.body, &self.trailer)
    }
}

fn parse_tlvs(mut bytes: &[u8], base: usize) -> Result<Vec<Tlv<'_>>, WireError> {
    let mut out = Vec::new();
    let mut offset = base;
    while !bytes.is_empty() {
        let (tlv, used) = Tlv::decode(bytes, offset)?;
        out.push(tlv);
        bytes = bytes.get(used..).unwrap_or_default();
        offset += used;
    }
    Ok(out)
}

/// Encodes a packet from its body and trailer TLVs.
pub fn encode_packet(body: &[Tlv<'_>], trailer: &[Tlv<'_>]) -> Result<Vec<u8>, WireError> {
    let mut out = vec![MAGIC, VERSION, 0, 0];
    for tlv in body {
        tlv.encode(&mut out)?;
    }
    let body_len = u16::try_from(out.len() - 4).map_err(|_| WireError::TooLong { what: "body" })?;
    if let Some(len) = out.get_mut(2..4) {
        len.copy_from_slice(&body_len.to_be_bytes());
    }
    for tlv in trailer {
        tlv.encode(&mut out)?;
    }
    Ok(out)
}
