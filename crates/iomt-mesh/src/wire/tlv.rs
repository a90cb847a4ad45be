//! TLVs and sub-TLVs (RFC 8966 sections 4.4 and 4.6, RFC 8967 section 6).

use alloc::vec::Vec;
use iomt_schema::ShortId;

use super::WireError;

/// TLV type numbers.
pub mod kind {
    /// Pad1 (a single zero byte, no length).
    pub const PAD1: u8 = 0;
    /// PadN.
    pub const PADN: u8 = 1;
    /// Acknowledgment Request.
    pub const ACK_REQ: u8 = 2;
    /// Acknowledgment.
    pub const ACK: u8 = 3;
    /// Hello.
    pub const HELLO: u8 = 4;
    /// IHU ("I Heard You").
    pub const IHU: u8 = 5;
    /// Router-Id.
    pub const ROUTER_ID: u8 = 6;
    /// Next Hop.
    pub const NEXT_HOP: u8 = 7;
    /// Update.
    pub const UPDATE: u8 = 8;
    /// Route Request.
    pub const ROUTE_REQUEST: u8 = 9;
    /// Seqno Request.
    pub const SEQNO_REQUEST: u8 = 10;
    /// MAC (RFC 8967), in the packet trailer.
    pub const MAC: u8 = 16;
    /// Packet Counter (RFC 8967).
    pub const PC: u8 = 17;
    /// Challenge Request (RFC 8967).
    pub const CHALLENGE_REQUEST: u8 = 18;
    /// Challenge Reply (RFC 8967).
    pub const CHALLENGE_REPLY: u8 = 19;
}

/// Address encodings (RFC 8966 section 4.1.5, RFC 9229).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Ae {
    /// No address (wildcard).
    Wildcard,
    /// IPv4, 4 bytes, compressible.
    Ipv4,
    /// IPv6, 16 bytes, compressible.
    Ipv6,
    /// Link-local IPv6: the 8 low bytes, `fe80::/64` implied.
    LinkLocal,
    /// An IPv4 prefix reached through an IPv6 next hop (RFC 9229).
    V4ViaV6,
}

impl Ae {
    /// The encoding for a code, if known.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Self::Wildcard),
            1 => Some(Self::Ipv4),
            2 => Some(Self::Ipv6),
            3 => Some(Self::LinkLocal),
            4 => Some(Self::V4ViaV6),
            _ => None,
        }
    }

    /// The wire code.
    pub const fn code(self) -> u8 {
        match self {
            Self::Wildcard => 0,
            Self::Ipv4 => 1,
            Self::Ipv6 => 2,
            Self::LinkLocal => 3,
            Self::V4ViaV6 => 4,
        }
    }

    /// Bytes of a full address in this encoding.
    pub const fn address_len(self) -> usize {
        match self {
            Self::Wildcard => 0,
            Self::Ipv4 | Self::V4ViaV6 => 4,
            Self::Ipv6 => 16,
            Self::LinkLocal => 8,
        }
    }

    /// Longest prefix in bits.
    pub const fn max_plen(self) -> u8 {
        match self {
            Self::Wildcard => 0,
            Self::Ipv4 | Self::V4ViaV6 => 32,
            Self::Ipv6 => 128,
            Self::LinkLocal => 64,
        }
    }
}

/// The sub-TLV area after a TLV's fixed fields, already checked for framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SubTlvs<'a>(pub &'a [u8]);

/// Sub-TLV types this implementation understands: Pad1, PadN, and the Hello/IHU timestamp
/// (understood in the sense that ignoring it is correct: we do not compute RTT).
const KNOWN_SUB_TLVS: [u8; 3] = [0, 1, 3];
const MANDATORY: u8 = 0x80;

impl<'a> SubTlvs<'a> {
    fn check(bytes: &'a [u8], kind: u8, offset: usize) -> Result<Self, WireError> {
        let mut rest = bytes;
        while let [t, tail @ ..] = rest {
            if *t == 0 {
                rest = tail;
                continue;
            }
            let [len, tail @ ..] = tail else {
                return Err(WireError::BadSubTlv { kind, offset });
            };
            let Some(after) = tail.get(usize::from(*len)..) else {
                return Err(WireError::BadSubTlv { kind, offset });
            };
            rest = after;
        }
        Ok(Self(bytes))
    }

    /// The sub-TLVs as `(type, body)`, Pad1 included with an empty body.
    pub fn iter(&self) -> impl Iterator<Item = (u8, &'a [u8])> {
        let mut rest = self.0;
        core::iter::from_fn(move || {
            let [t, tail @ ..] = rest else {
                return None;
            };
            if *t == 0 {
                rest = tail;
                return Some((0, &[][..]));
            }
            let [len, tail @ ..] = tail else {
                return None;
            };
            let (body, after) = tail.split_at_checked(usize::from(*len))?;
            rest = after;
            Some((*t, body))
        })
    }

    /// Whether a sub-TLV with the mandatory bit is one we do not understand: then the whole
    /// TLV must be ignored (RFC 8966 section 4.4).
    pub fn has_unknown_mandatory(&self) -> bool {
        self.iter()
            .any(|(t, _)| t & MANDATORY != 0 && !KNOWN_SUB_TLVS.contains(&t))
    }
}

/// One TLV, borrowing its variable parts from the packet. Fields are the wire fields,
/// including reserved ones, so a TLV re-encodes exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tlv<'a> {
    /// One byte of padding.
    Pad1,
    /// `len` bytes of padding.
    PadN(&'a [u8]),
    /// Asks the receiver to acknowledge within `interval` centiseconds.
    AckReq {
        /// Reserved, sent as zero.
        reserved: u16,
        /// Echoed in the Ack.
        nonce: u16,
        /// Deadline in centiseconds.
        interval: u16,
        /// Sub-TLVs.
        sub: SubTlvs<'a>,
    },
    /// Acknowledges an AckReq.
    Ack {
        /// The request's nonce.
        nonce: u16,
        /// Sub-TLVs.
        sub: SubTlvs<'a>,
    },
    /// Neighbour discovery and link quality.
    Hello {
        /// Flags; 0x8000 = unicast.
        flags: u16,
        /// Hello sequence number.
        seqno: u16,
        /// Time to the next Hello, centiseconds (0 = unscheduled).
        interval: u16,
        /// Sub-TLVs.
        sub: SubTlvs<'a>,
    },
    /// Tells a neighbour how well we hear it.
    Ihu {
        /// Address encoding of `address`.
        ae: Ae,
        /// Reserved.
        reserved: u8,
        /// Cost of receiving from the neighbour.
        rxcost: u16,
        /// Time to the next IHU, centiseconds.
        interval: u16,
        /// The neighbour's address (omitted, i.e. empty, for the wildcard encoding).
        address: &'a [u8],
        /// Sub-TLVs.
        sub: SubTlvs<'a>,
    },
    /// Sets the router-id for following Updates.
    RouterId {
        /// Reserved.
        reserved: u16,
        /// The router-id.
        router_id: ShortId,
        /// Sub-TLVs.
        sub: SubTlvs<'a>,
    },
    /// Sets the next hop for following Updates of its family.
    NextHop {
        /// Address encoding.
        ae: Ae,
        /// Reserved.
        reserved: u8,
        /// The address.
        address: &'a [u8],
        /// Sub-TLVs.
        sub: SubTlvs<'a>,
    },
    /// Announces (or retracts, with metric 0xFFFF) a route.
    Update {
        /// Address encoding.
        ae: Ae,
        /// 0x80 = becomes the default prefix, 0x40 = router-id from the prefix.
        flags: u8,
        /// Prefix length in bits.
        plen: u8,
        /// Leading bytes taken from the default prefix.
        omitted: u8,
        /// Time to the next scheduled update, centiseconds.
        interval: u16,
        /// The source's sequence number.
        seqno: u16,
        /// Route metric; 0xFFFF = retraction.
        metric: u16,
        /// The prefix bytes after the omitted ones.
        prefix: &'a [u8],
        /// Sub-TLVs.
        sub: SubTlvs<'a>,
    },
    /// Asks for an update for a prefix, or a full dump (wildcard encoding).
    RouteRequest {
        /// Address encoding.
        ae: Ae,
        /// Prefix length.
        plen: u8,
        /// The prefix bytes (never compressed).
        prefix: &'a [u8],
        /// Sub-TLVs.
        sub: SubTlvs<'a>,
    },
    /// Asks for an update with a new enough sequence number.
    SeqnoRequest {
        /// Address encoding.
        ae: Ae,
        /// Prefix length.
        plen: u8,
        /// The sequence number wanted (at least).
        seqno: u16,
        /// Remaining hops the request may travel.
        hop_count: u8,
        /// Reserved.
        reserved: u8,
        /// The source the request is about.
        router_id: ShortId,
        /// The prefix bytes.
        prefix: &'a [u8],
        /// Sub-TLVs.
        sub: SubTlvs<'a>,
    },
    /// Packet counter and index for replay protection (RFC 8967).
    Pc {
        /// The counter.
        pc: u32,
        /// The sender's index.
        index: &'a [u8],
    },
    /// A nonce the receiver must echo in a Challenge Reply (RFC 8967).
    ChallengeRequest(&'a [u8]),
    /// The echo of a Challenge Request's nonce (RFC 8967).
    ChallengeReply(&'a [u8]),
    /// A MAC over the pseudo-header and packet (RFC 8967), in the trailer.
    Mac(&'a [u8]),
    /// A TLV type, or an address encoding inside a known type, that this implementation does
    /// not know: skipped.
    Unknown {
        /// TLV type.
        kind: u8,
        /// The body.
        body: &'a [u8],
    },
}

/// Bytes of a (possibly compressed) prefix on the wire: the prefix's bytes less the omitted
/// ones, never negative.
fn prefix_wire_len(plen: u8, omitted: u8) -> usize {
    usize::from(plen.div_ceil(8)).saturating_sub(usize::from(omitted))
}

struct Fields<'a> {
    rest: &'a [u8],
    kind: u8,
    offset: usize,
}

impl<'a> Fields<'a> {
    fn bytes(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let Some((head, tail)) = self.rest.split_at_checked(n) else {
            return Err(WireError::BadLength {
                kind: self.kind,
                offset: self.offset,
            });
        };
        self.rest = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, WireError> {
        let [b] = self.array()?;
        Ok(b)
    }

    fn u16(&mut self) -> Result<u16, WireError> {
        self.array().map(u16::from_be_bytes)
    }

    fn u32(&mut self) -> Result<u32, WireError> {
        self.array().map(u32::from_be_bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let bytes = self.bytes(N)?;
        <[u8; N]>::try_from(bytes).map_err(|_| WireError::BadLength {
            kind: self.kind,
            offset: self.offset,
        })
    }

    fn sub(self) -> Result<SubTlvs<'a>, WireError> {
        SubTlvs::check(self.rest, self.kind, self.offset)
    }

    fn bad_prefix(&self, plen: u8) -> WireError {
        WireError::BadPrefix {
            kind: self.kind,
            plen,
            offset: self.offset,
        }
    }
}

impl<'a> Tlv<'a> {
    /// Decodes the TLV at the start of `bytes` (found at `offset` in the packet); returns it
    /// and the bytes it used.
    pub fn decode(bytes: &'a [u8], offset: usize) -> Result<(Self, usize), WireError> {
        let [kind, rest @ ..] = bytes else {
            return Err(WireError::Truncated { offset });
        };
        if *kind == kind::PAD1 {
            return Ok((Self::Pad1, 1));
        }
        let [len, rest @ ..] = rest else {
            return Err(WireError::Truncated { offset });
        };
        let Some(body) = rest.get(..usize::from(*len)) else {
            return Err(WireError::Truncated { offset });
        };
        let tlv = Self::decode_body(*kind, body, offset)?;
        Ok((tlv, 2 + usize::from(*len)))
    }

    fn decode_body(kind: u8, body: &'a [u8], offset: usize) -> Result<Self, WireError> {
        let mut f = Fields {
            rest: body,
            kind,
            offset,
        };
        let unknown = Self::Unknown { kind, body };
        Ok(match kind {
            kind::PADN => Self::PadN(body),
            kind::ACK_REQ => {
                let (reserved, nonce, interval) = (f.u16()?, f.u16()?, f.u16()?);
                Self::AckReq {
                    reserved,
                    nonce,
                    interval,
                    sub: f.sub()?,
                }
            }
            kind::ACK => {
                let nonce = f.u16()?;
                Self::Ack {
                    nonce,
                    sub: f.sub()?,
                }
            }
            kind::HELLO => {
                let (flags, seqno, interval) = (f.u16()?, f.u16()?, f.u16()?);
                Self::Hello {
                    flags,
                    seqno,
                    interval,
                    sub: f.sub()?,
                }
            }
            kind::IHU => {
                let (code, reserved, rxcost, interval) = (f.u8()?, f.u8()?, f.u16()?, f.u16()?);
                let Some(ae) = Ae::from_code(code).filter(|ae| *ae != Ae::V4ViaV6) else {
                    return Ok(unknown);
                };
                let address = f.bytes(ae.address_len())?;
                Self::Ihu {
                    ae,
                    reserved,
                    rxcost,
                    interval,
                    address,
                    sub: f.sub()?,
                }
            }
            kind::ROUTER_ID => {
                let reserved = f.u16()?;
                let router_id = ShortId::from_bytes(f.array()?);
                Self::RouterId {
                    reserved,
                    router_id,
                    sub: f.sub()?,
                }
            }
            kind::NEXT_HOP => {
                let (code, reserved) = (f.u8()?, f.u8()?);
                let Some(ae) =
                    Ae::from_code(code).filter(|ae| !matches!(ae, Ae::Wildcard | Ae::V4ViaV6))
                else {
                    return Ok(unknown);
                };
                let address = f.bytes(ae.address_len())?;
                Self::NextHop {
                    ae,
                    reserved,
                    address,
                    sub: f.sub()?,
                }
            }
            kind::UPDATE => {
                let (code, flags, plen, omitted) = (f.u8()?, f.u8()?, f.u8()?, f.u8()?);
                let (interval, seqno, metric) = (f.u16()?, f.u16()?, f.u16()?);
                let Some(ae) = Ae::from_code(code).filter(|ae| *ae != Ae::LinkLocal) else {
                    return Ok(unknown);
                };
                let omit_limit = match ae {
                    Ae::Ipv4 | Ae::V4ViaV6 | Ae::Ipv6 => ae.address_len(),
                    Ae::Wildcard | Ae::LinkLocal => 0,
                };
                if plen > ae.max_plen() || usize::from(omitted) > omit_limit {
                    return Err(f.bad_prefix(plen));
                }
                let prefix = f.bytes(prefix_wire_len(plen, omitted))?;
                Self::Update {
                    ae,
                    flags,
                    plen,
                    omitted,
                    interval,
                    seqno,
                    metric,
                    prefix,
                    sub: f.sub()?,
                }
            }
            kind::ROUTE_REQUEST => {
                let (code, plen) = (f.u8()?, f.u8()?);
                let Some(ae) = Ae::from_code(code).filter(|ae| *ae != Ae::LinkLocal) else {
                    return Ok(unknown);
                };
                if plen > ae.max_plen() {
                    return Err(f.bad_prefix(plen));
                }
                let prefix = f.bytes(prefix_wire_len(plen, 0))?;
                Self::RouteRequest {
                    ae,
                    plen,
                    prefix,
                    sub: f.sub()?,
                }
            }
            kind::SEQNO_REQUEST => {
                let (code, plen, seqno) = (f.u8()?, f.u8()?, f.u16()?);
                let (hop_count, reserved) = (f.u8()?, f.u8()?);
                let router_id = ShortId::from_bytes(f.array()?);
                let Some(ae) =
                    Ae::from_code(code).filter(|ae| !matches!(ae, Ae::Wildcard | Ae::LinkLocal))
                else {
                    return Ok(unknown);
                };
                if plen > ae.max_plen() {
                    return Err(f.bad_prefix(plen));
                }
                let prefix = f.bytes(prefix_wire_len(plen, 0))?;
                Self::SeqnoRequest {
                    ae,
                    plen,
                    seqno,
                    hop_count,
                    reserved,
                    router_id,
                    prefix,
                    sub: f.sub()?,
                }
            }
            kind::PC => {
                let pc = f.u32()?;
                Self::Pc { pc, index: f.rest }
            }
            kind::CHALLENGE_REQUEST => Self::ChallengeRequest(body),
            kind::CHALLENGE_REPLY => Self::ChallengeReply(body),
            kind::MAC => Self::Mac(body),
            _ => unknown,
        })
    }

    /// The TLV type number.
    pub fn kind(&self) -> u8 {
        match self {
            Self::Pad1 => kind::PAD1,
            Self::PadN(_) => kind::PADN,
            Self::AckReq { .. } => kind::ACK_REQ,
            Self::Ack { .. } => kind::ACK,
            Self::Hello { .. } => kind::HELLO,
            Self::Ihu { .. } => kind::IHU,
            Self::RouterId { .. } => kind::ROUTER_ID,
            Self::NextHop { .. } => kind::NEXT_HOP,
            Self::Update { .. } => kind::UPDATE,
            Self::RouteRequest { .. } => kind::ROUTE_REQUEST,
            Self::SeqnoRequest { .. } => kind::SEQNO_REQUEST,
            Self::Pc { .. } => kind::PC,
            Self::ChallengeRequest(_) => kind::CHALLENGE_REQUEST,
            Self::ChallengeReply(_) => kind::CHALLENGE_REPLY,
            Self::Mac(_) => kind::MAC,
            Self::Unknown { kind, .. } => *kind,
        }
    }

    /// The sub-TLVs, for TLVs that carry them.
    pub fn sub_tlvs(&self) -> SubTlvs<'a> {
        match self {
            Self::AckReq { sub, .. }
            | Self::Ack { sub, .. }
            | Self::Hello { sub, .. }
            | Self::Ihu { sub, .. }
            | Self::RouterId { sub, .. }
            | Self::NextHop { sub, .. }
            | Self::Update { sub, .. }
            | Self::RouteRequest { sub, .. }
            | Self::SeqnoRequest { sub, .. } => *sub,
            _ => SubTlvs::default(),
        }
    }

    /// Appends the TLV's encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        if let Self::Pad1 = self {
            out.push(kind::PAD1);
            return Ok(());
        }
        let start = out.len();
        out.extend_from_slice(&[self.kind(), 0]);
        match *self {
            Self::Pad1 => {}
            Self::PadN(b)
            | Self::ChallengeRequest(b)
            | Self::ChallengeReply(b)
            | Self::Mac(b)
            | Self::Unknown { body: b, .. } => out.extend_from_slice(b),
            Self::AckReq {
                reserved,
                nonce,
                interval,
                sub,
            } => {
                for v in [reserved, nonce, interval] {
                    out.extend_from_slice(&v.to_be_bytes());
                }
                out.extend_from_slice(sub.0);
            }
            Self::Ack { nonce, sub } => {
                out.extend_from_slice(&nonce.to_be_bytes());
                out.extend_from_slice(sub.0);
            }
            Self::Hello {
                flags,
                seqno,
                interval,
                sub,
            } => {
                for v in [flags, seqno, interval] {
                    out.extend_from_slice(&v.to_be_bytes());
                }
                out.extend_from_slice(sub.0);
            }
            Self::Ihu {
                ae,
                reserved,
                rxcost,
                interval,
                address,
                sub,
            } => {
                out.extend_from_slice(&[ae.code(), reserved]);
                out.extend_from_slice(&rxcost.to_be_bytes());
                out.extend_from_slice(&interval.to_be_bytes());
                out.extend_from_slice(address);
                out.extend_from_slice(sub.0);
            }
            Self::RouterId {
                reserved,
                router_id,
                sub,
            } => {
                out.extend_from_slice(&reserved.to_be_bytes());
                out.extend_from_slice(router_id.as_bytes());
                out.extend_from_slice(sub.0);
            }
            Self::NextHop {
                ae,
                reserved,
                address,
                sub,
            } => {
                out.extend_from_slice(&[ae.code(), reserved]);
                out.extend_from_slice(address);
                out.extend_from_slice(sub.0);
            }
            Self::Update {
                ae,
                flags,
                plen,
                omitted,
                interval,
                seqno,
                metric,
                prefix,
                sub,
            } => {
                out.extend_from_slice(&[ae.code(), flags, plen, omitted]);
                for v in [interval, seqno, metric] {
                    out.extend_from_slice(&v.to_be_bytes());
                }
                out.extend_from_slice(prefix);
                out.extend_from_slice(sub.0);
            }
            Self::RouteRequest {
                ae,
                plen,
                prefix,
                sub,
            } => {
                out.extend_from_slice(&[ae.code(), plen]);
                out.extend_from_slice(prefix);
                out.extend_from_slice(sub.0);
            }
            Self::SeqnoRequest {
                ae,
                plen,
                seqno,
                hop_count,
                reserved,
                router_id,
                prefix,
                sub,
            } => {
                out.extend_from_slice(&[ae.code(), plen]);
                out.extend_from_slice(&seqno.to_be_bytes());
                out.extend_from_slice(&[hop_count, reserved]);
                out.extend_from_slice(router_id.as_bytes());
                out.extend_from_slice(prefix);
                out.extend_from_slice(sub.0);
            }
            Self::Pc { pc, index } => {
                out.extend_from_slice(&pc.to_be_bytes());
                out.extend_from_slice(index);
            }
        }
        let len =
            u8::try_from(out.len() - start - 2).map_err(|_| WireError::TooLong { what: "TLV" })?;
        if let Some(l) = out.get_mut(start + 1) {
            *l = len;
        }
        Ok(())
    }

    /// Encoded length in bytes.
    pub fn encoded_len(&self) -> usize {
        let mut v = Vec::new();
        self.encode(&mut v).map_or(usize::MAX, |()| v.len())
    }
}
