//! Entry points for the `cargo fuzz` targets in `fuzz/fuzz_targets/` (built with `--cfg fuzzing`).
#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "fuzz hooks report failures by panicking"
)]

use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::net::Ipv6Addr;
use core::time::Duration;

use iomt_schema::{Instant, ShortId};

use crate::config::{InterfaceConfig, Limits, RouterConfig};
use crate::datagram::{DataPacket, write_authenticated};
use crate::mac::MacKey;
use crate::router::{BABEL_MULTICAST, Channel, IfaceId, Router};
use crate::wire::{Ae, Packet, Tlv, encode_packet};

/// Parses `data` as a Babel packet; an accepted packet must re-encode to exactly `data`.
pub fn packet(data: &[u8]) {
    if let Ok(p) = Packet::parse(data) {
        let again = p.encode().expect("an accepted packet re-encodes");
        assert_eq!(again, data, "accepted packet must re-encode identically");
    }
}

/// Parses `data` as a data-channel packet (bare datagram or authenticated data packet); an
/// accepted packet must re-encode to exactly `data`, and its datagram, wrapped again under
/// another key, must parse back to the same header and payload.
pub fn data_packet(data: &[u8]) {
    let Ok(p) = DataPacket::parse(data) else {
        return;
    };
    let again = p.encode().expect("an accepted data packet re-encodes");
    assert_eq!(
        again, data,
        "accepted data packet must re-encode identically"
    );
    let (pc, index) = p.auth.map_or((0, [0; 8]), |a| (a.pc, *a.index));
    let key = MacKey::hmac_sha256(&[0x5a; 64]);
    let (src, dst) = (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1), BABEL_MULTICAST);
    let mut wrapped = Vec::new();
    write_authenticated(&mut wrapped, p.datagram, (pc, &index), [&key], src, dst)
        .expect("an accepted datagram fits a data packet");
    let q = DataPacket::parse(&wrapped).expect("a wrapped datagram parses");
    assert_eq!((q.header, q.payload), (p.header, p.payload));
    let auth = q.auth.expect("wrapped");
    assert!(
        auth.macs()
            .all(|m| key.verify(src, dst, auth.authenticated, m))
    );
}

/// Drives one router with an operation sequence read from `data`: raw packets from four
/// neighbours on two interfaces, well-formed Hello/IHU/Update packets built from the input
/// (so the fuzzer reaches the route table), datagrams, and timeouts. After every step the
/// table bounds hold, the router's own route is there, and `poll_timeout` is in the future.
pub fn router(data: &[u8]) {
    let limits = Limits {
        neighbours: 3,
        prefixes: 8,
        sources: 8,
        requests: 4,
        queue_per_next_hop: 4,
        duplicate_cache: 4,
    };
    let mut cfg = RouterConfig::new(ShortId::from_u64(1));
    cfg.limits = limits;
    // Randomness from the input, so that a crash replays from it alone.
    let rng = Arc::new(iomt_schema::rand::SeededRandom::from_bytes(data));
    let mut now = Instant::ZERO;
    let mut r = Router::new(cfg, now, 7, rng);
    for i in 0..2u16 {
        let ll = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x100 + i);
        let c = InterfaceConfig::wired(ll).with_hello_interval(Duration::from_secs(1));
        r.add_interface(now, c).expect("valid interface");
    }
    let mut buf = Vec::new();
    let mut rest = data;
    while let [op, arg, tail @ ..] = rest {
        rest = tail;
        let from = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, u16::from(op & 3) + 1);
        let iface = IfaceId(u16::from(op >> 2 & 1));
        match op >> 3 & 7 {
            0 | 1 => {
                let n = usize::from(*arg).min(rest.len());
                let (raw, tail) = rest.split_at(n);
                rest = tail;
                let channel = if op >> 3 & 7 == 0 {
                    Channel::Routing
                } else {
                    Channel::Data
                };
                let _ = r.handle_input(now, iface, channel, from, BABEL_MULTICAST, raw);
            }
            2..=4 => {
                let bytes = synthetic(*arg, op >> 3 & 7, rest);
                let _ = r.handle_input(now, iface, Channel::Routing, from, BABEL_MULTICAST, &bytes);
            }
            _ => {
                now = now + Duration::from_millis(u64::from(*arg) * 40);
                r.handle_timeout(now);
            }
        }
        while r.poll_transmit(now, &mut buf).is_some() {}
        while r.poll_event().is_some() {}
        assert!(r.neighbours().len() <= limits.neighbours);
        assert!(r.routes().len() <= limits.prefixes + 1);
        assert!(r.sources() <= limits.sources);
        assert!(r.route(&crate::Prefix::of(ShortId::from_u64(1))).is_some());
        if op >> 3 & 7 >= 5 {
            assert!(
                r.poll_timeout().is_some_and(|t| t > now),
                "timers move forward"
            );
        }
    }
}

/// A well-formed packet: a Hello, an IHU for interface 0's address, or Updates whose
/// prefixes, seqnos and metrics come from the input.
fn synthetic(arg: u8, kind: u8, rest: &[u8]) -> Vec<u8> {
    let sub = Default::default();
    let ours = [0, 0, 0, 0, 0, 0, 1, 0];
    let byte = |i: usize| rest.get(i).copied().unwrap_or(0);
    let tlvs: Vec<Tlv<'_>> = match kind {
        2 => vec![Tlv::Hello {
            flags: 0,
            seqno: u16::from(arg),
            interval: 100,
            sub,
        }],
        3 => vec![Tlv::Ihu {
            ae: Ae::LinkLocal,
            reserved: 0,
            rxcost: u16::from(arg) * 4,
            interval: 300,
            address: &ours,
            sub,
        }],
        _ => {
            let metric = if arg == 0xff {
                0xffff
            } else {
                u16::from(arg) * 8
            };
            vec![
                Tlv::RouterId {
                    reserved: 0,
                    router_id: ShortId::from_u64(u64::from(byte(0) & 7) + 2),
                    sub,
                },
                Tlv::Update {
                    ae: Ae::Ipv6,
                    flags: 0,
                    plen: 128,
                    omitted: 0,
                    interval: 400,
                    seqno: u16::from(byte(1) & 7),
                    metric,
                    prefix: rest
                        .get(..16)
                        .filter(|p| p.len() == 16)
                        .unwrap_or(&[0xfd; 16]),
                    sub,
                },
            ]
        }
    };
    encode_packet(&tlvs, &[]).expect("small packet")
}
