//! RFC 8967 MAC authentication: keys, the pseudo-header, packet counters and challenges.
//!
//! A MAC covers the pseudo-header (source address and port, destination address and port)
//! and the packet's header and body; MACs travel in the packet trailer, one per key. Replay
//! protection: every packet carries a PC TLV (a per-interface counter and a random index);
//! a receiver accepts a packet only if its counter is newer than the last one accepted from
//! that neighbour under the same index (tracked apart for multicast and unicast, as babeld
//! does), and learns a new index only through a challenge (a random nonce the neighbour must
//! echo in an authenticated packet within 30 s).
//!
//! [Authenticated data packets](crate::datagram#authenticated-data-packets) use the same keys,
//! pseudo-header, counters and indices. A sender has one counter per interface for both
//! channels; a receiver tracks the data channel's counters apart from the routing channel's
//! (again multicast and unicast apart), because the driver reads the two channels from two
//! sockets and may interleave them out of order. Keeping them apart opens no replay across
//! channels: a data packet's first byte differs from a Babel packet's, so a MAC over one never
//! verifies as the other.

use alloc::vec::Vec;
use core::fmt;
use core::net::Ipv6Addr;
use core::time::Duration;

use iomt_schema::Instant;
use ring::hmac;

/// The Babel UDP port, part of the MAC pseudo-header.
pub const BABEL_PORT: u16 = 6696;
/// Bytes of the index this implementation sends (babeld uses 8 as well).
pub const INDEX_LEN: usize = 8;
/// Bytes of a challenge nonce.
pub const NONCE_LEN: usize = 16;
/// How long a challenge stays open.
pub const CHALLENGE_TIMEOUT: Duration = Duration::from_secs(30);
/// Minimum time between two challenge requests, or two replies, to one neighbour.
pub const CHALLENGE_RATE: Duration = Duration::from_millis(300);

/// An HMAC-SHA256 key. The key material lives inside `ring` and is never printed.
#[derive(Clone)]
pub struct MacKey {
    key: hmac::Key,
}

impl MacKey {
    /// A key from its secret bytes (babeld expects 64 bytes for HMAC-SHA256).
    pub fn hmac_sha256(secret: &[u8]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    /// The MAC of a packet (`authenticated` = header and body) sent from `src` to `dst`.
    pub fn sign(&self, src: Ipv6Addr, dst: Ipv6Addr, authenticated: &[u8]) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(&pseudo_header(src, dst));
        ctx.update(authenticated);
        let tag = ctx.sign();
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// Whether `mac` is this key's MAC of the packet, compared in constant time.
    pub fn verify(&self, src: Ipv6Addr, dst: Ipv6Addr, authenticated: &[u8], mac: &[u8]) -> bool {
        verify_any(core::slice::from_ref(self), src, dst, authenticated, [mac])
    }
}

/// Whether any of `macs` is the MAC of the packet under any of `keys`. The pseudo-header and
/// packet are assembled once, however many MACs and keys there are.
pub(crate) fn verify_any<'m>(
    keys: &[MacKey],
    src: Ipv6Addr,
    dst: Ipv6Addr,
    authenticated: &[u8],
    macs: impl IntoIterator<Item = &'m [u8]>,
) -> bool {
    let mut msg = Vec::with_capacity(36 + authenticated.len());
    msg.extend_from_slice(&pseudo_header(src, dst));
    msg.extend_from_slice(authenticated);
    macs.into_iter()
        .any(|mac| keys.iter().any(|k| hmac::verify(&k.key, &msg, mac).is_ok()))
}

impl fmt::Debug for MacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MacKey(HMAC-SHA256, ..)")
    }
}

fn pseudo_header(src: Ipv6Addr, dst: Ipv6Addr) -> [u8; 36] {
    let mut p = [0u8; 36];
    let port = BABEL_PORT.to_be_bytes();
    for (chunk, part) in p.chunks_mut(18).zip([src, dst]) {
        let (addr, port_slot) = chunk.split_at_mut(16);
        addr.copy_from_slice(&part.octets());
        port_slot.copy_from_slice(&port);
    }
    p
}

/// What the receiver remembers about a neighbour's counters and challenges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ReplayState {
    pub(crate) index: Option<Vec<u8>>,
    pub(crate) pc_multicast: u32,
    pub(crate) pc_unicast: u32,
    /// The last counters accepted on the data channel.
    pub(crate) data_multicast: u32,
    pub(crate) data_unicast: u32,
    pub(crate) nonce: Option<([u8; NONCE_LEN], Instant)>,
    pub(crate) next_request: Instant,
    pub(crate) next_reply: Instant,
}

/// The verdict on a packet's counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Freshness {
    /// Accept it.
    Fresh,
    /// Counter not newer than the last one: a replay.
    Replayed,
    /// Unknown index or no counter: challenge the neighbour first.
    Unverified,
}

impl ReplayState {
    /// Checks `(pc, index)` and, if fresh, records it. A matching challenge reply
    /// (`reply`) adopts the index.
    pub(crate) fn check(
        &mut self,
        now: Instant,
        pc: Option<(u32, &[u8])>,
        reply: Option<&[u8]>,
        multicast: bool,
    ) -> Freshness {
        let Some((pc, index)) = pc else {
            return Freshness::Unverified;
        };
        let answered = match (&self.nonce, reply) {
            (Some((nonce, deadline)), Some(r)) => now <= *deadline && r == nonce.as_slice(),
            _ => false,
        };
        if answered {
            self.nonce = None;
            self.index = Some(index.to_vec());
            // Whatever the neighbour sent under the new index before this reply is older than
            // it: refused on both channels, so nobody can hold such a packet back and play it
            // later.
            self.pc_multicast = pc;
            self.pc_unicast = pc;
            self.data_multicast = pc;
            self.data_unicast = pc;
            return Freshness::Fresh;
        }
        let last = if multicast {
            &mut self.pc_multicast
        } else {
            &mut self.pc_unicast
        };
        advance(self.index.as_deref() == Some(index), last, pc)
    }

    /// Checks the counter of an authenticated data packet and, if fresh, records it. Data
    /// packets never answer a challenge: an index is learnt on the routing channel only.
    pub(crate) fn check_data(&mut self, pc: u32, index: &[u8], multicast: bool) -> Freshness {
        let last = if multicast {
            &mut self.data_multicast
        } else {
            &mut self.data_unicast
        };
        advance(self.index.as_deref() == Some(index), last, pc)
    }
}

/// A counter under a known index is fresh if it is newer than `last`, which it then becomes.
fn advance(known_index: bool, last: &mut u32, pc: u32) -> Freshness {
    if !known_index {
        return Freshness::Unverified;
    }
    if pc <= *last {
        return Freshness::Replayed;
    }
    *last = pc;
    Freshness::Fresh
}

#[cfg(test)]
mod tests {
    use alloc::format;

    use super::*;

    /// RFC 4231 test case 2 through the same HMAC the MAC uses (key "Jefe").
    #[test]
    fn hmac_sha256_rfc4231_case_2() {
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"Jefe");
        let tag = hmac::sign(&key, b"what do ya want for nothing?");
        assert_eq!(
            tag.as_ref(),
            [
                0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24, 0x26, 0x08, 0x95,
                0x75, 0xc7, 0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9,
                0x64, 0xec, 0x38, 0x43
            ]
        );
    }

    #[test]
    fn sign_verify_and_pseudo_header_binding() {
        let k = MacKey::hmac_sha256(&[7; 64]);
        let (a, b): (Ipv6Addr, Ipv6Addr) =
            ("fe80::1".parse().unwrap(), "ff02::1:6".parse().unwrap());
        let mac = k.sign(a, b, b"\x2a\x02\x00\x00");
        assert!(k.verify(a, b, b"\x2a\x02\x00\x00", &mac));
        assert!(
            !k.verify(b, a, b"\x2a\x02\x00\x00", &mac),
            "addresses are covered"
        );
        assert!(!MacKey::hmac_sha256(&[8; 64]).verify(a, b, b"\x2a\x02\x00\x00", &mac));
        assert_eq!(format!("{k:?}"), "MacKey(HMAC-SHA256, ..)");
    }

    #[test]
    fn replay_window() {
        let now = Instant::ZERO;
        let mut s = ReplayState::default();
        assert_eq!(
            s.check(now, Some((5, b"ix")), None, true),
            Freshness::Unverified
        );
        assert_eq!(s.check(now, None, None, true), Freshness::Unverified);
        s.nonce = Some(([1; NONCE_LEN], now + CHALLENGE_TIMEOUT));
        assert_eq!(
            s.check(now, Some((5, b"ix")), Some(&[2; NONCE_LEN]), true),
            Freshness::Unverified
        );
        assert_eq!(
            s.check(now, Some((5, b"ix")), Some(&[1; NONCE_LEN]), true),
            Freshness::Fresh
        );
        assert_eq!(
            s.check(now, Some((5, b"ix")), None, true),
            Freshness::Replayed
        );
        assert_eq!(s.check(now, Some((6, b"ix")), None, true), Freshness::Fresh);
        assert_eq!(
            s.check(now, Some((6, b"ix")), None, false),
            Freshness::Fresh,
            "unicast apart"
        );
        assert_eq!(
            s.check(now, Some((9, b"iy")), None, true),
            Freshness::Unverified
        );
    }

    #[test]
    fn data_counters_apart_from_routing() {
        let now = Instant::ZERO;
        let mut s = ReplayState::default();
        assert_eq!(s.check_data(1, b"ix", true), Freshness::Unverified);
        s.nonce = Some(([1; NONCE_LEN], now + CHALLENGE_TIMEOUT));
        assert_eq!(
            s.check(now, Some((10, b"ix")), Some(&[1; NONCE_LEN]), false),
            Freshness::Fresh
        );
        assert_eq!(
            s.check_data(9, b"ix", true),
            Freshness::Replayed,
            "sent before the challenge reply"
        );
        assert_eq!(s.check_data(12, b"ix", true), Freshness::Fresh);
        assert_eq!(
            s.check(now, Some((11, b"ix")), None, true),
            Freshness::Fresh,
            "a routing packet overtaken by a datagram is still fresh"
        );
        assert_eq!(s.check_data(12, b"ix", true), Freshness::Replayed);
        assert_eq!(s.check_data(11, b"ix", false), Freshness::Fresh);
        assert_eq!(s.check_data(13, b"iy", true), Freshness::Unverified);
    }
}
