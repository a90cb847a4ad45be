//! Malformed and hostile input through the router's public API: each gets its own typed
//! error (or is ignored as the RFC asks), and the router's state is unchanged.
#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed step stops the test where it happened"
)]

use std::net::Ipv6Addr;
use std::sync::Arc;
use std::time::Duration;

use iomt_mesh::wire::{Ae, SubTlvs, Tlv, WireError, encode_packet};
use iomt_mesh::*;
use iomt_schema::{Instant, ShortId};

const PEER: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0xa);
const US: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0xb);

fn packet(tlvs: &[Tlv<'_>]) -> Vec<u8> {
    encode_packet(tlvs, &[]).unwrap()
}

/// A router with an established neighbour (two Hellos and an IHU) that announced one route.
fn router() -> (Router, IfaceId, Instant) {
    let mut r = Router::new(
        RouterConfig::new(ShortId::from_u64(0xb)),
        Instant::ZERO,
        3,
        Arc::new(ring::rand::SystemRandom::new()),
    );
    let i = r
        .add_interface(Instant::ZERO, InterfaceConfig::wired(US))
        .unwrap();
    let none = SubTlvs::default();
    let mut now = Instant::ZERO;
    for seqno in 1..=3 {
        let hello = packet(&[
            Tlv::Hello {
                flags: 0,
                seqno,
                interval: 400,
                sub: none,
            },
            Tlv::Ihu {
                ae: Ae::LinkLocal,
                reserved: 0,
                rxcost: 96,
                interval: 1200,
                address: &[0, 0, 0, 0, 0, 0, 0, 0xb],
                sub: none,
            },
        ]);
        r.handle_input(now, i, Channel::Routing, PEER, BABEL_MULTICAST, &hello)
            .unwrap();
        answer_ack_requests(&mut r, i, now);
        now = now + Duration::from_secs(4);
    }
    let update = packet(&[
        Tlv::RouterId {
            reserved: 0,
            router_id: ShortId::from_u64(0xa),
            sub: none,
        },
        Tlv::Update {
            ae: Ae::Ipv6,
            flags: 0,
            plen: 64,
            omitted: 0,
            interval: 1600,
            seqno: 1,
            metric: 0,
            prefix: &[0x20, 1, 0xd, 0xb8, 0, 0, 0, 1],
            sub: none,
        },
    ]);
    r.handle_input(now, i, Channel::Routing, PEER, BABEL_MULTICAST, &update)
        .unwrap();
    // Past the start-up hold-down (2.5 Hellos, neighbour acknowledged): the route is selected.
    r.handle_timeout(now);
    assert_eq!(r.routes().len(), 2);
    let mut buf = Vec::new();
    while r.poll_transmit(now, &mut buf).is_some() {}
    while r.poll_event().is_some() {}
    (r, i, now)
}

/// (name, channel, source, bytes, expected result).
type Case = (
    &'static str,
    Channel,
    Ipv6Addr,
    Vec<u8>,
    Result<(), InputError>,
);

/// Drives the router's timers and answers its Ack Requests as the peer would (the start-up
/// hold-down waits for them).
fn answer_ack_requests(r: &mut Router, i: IfaceId, now: Instant) {
    r.handle_timeout(now);
    let mut buf = Vec::new();
    let mut nonces = Vec::new();
    while let Some(t) = r.poll_transmit(now, &mut buf) {
        let Ok(p) = iomt_mesh::wire::Packet::parse(&buf) else {
            continue;
        };
        nonces.extend(p.body.iter().filter_map(|tlv| match tlv {
            Tlv::AckReq { nonce, .. } if t.destination == PEER => Some(*nonce),
            _ => None,
        }));
    }
    for nonce in nonces {
        let ack = packet(&[Tlv::Ack {
            nonce,
            sub: SubTlvs::default(),
        }]);
        r.handle_input(now, i, Channel::Routing, PEER, US, &ack)
            .unwrap();
    }
}

type Snapshot = (Vec<NeighbourInfo>, Vec<RouteInfo>, usize, u16);

fn snapshot(r: &Router) -> Snapshot {
    (r.neighbours(), r.routes(), r.sources(), r.seqno())
}

#[test]
fn bad_input_table() {
    let none = SubTlvs::default();
    let unknown_mandatory = SubTlvs(&[0x85, 0]);
    let prefix = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 2];
    let rid = Tlv::RouterId {
        reserved: 0,
        router_id: ShortId::from_u64(0xa),
        sub: none,
    };
    let update = |plen, omitted, sub| Tlv::Update {
        ae: Ae::Ipv6,
        flags: 0,
        plen,
        omitted,
        interval: 1600,
        seqno: 1,
        metric: 0,
        prefix: &prefix,
        sub,
    };
    let mut hello_too_short = packet(&[]);
    hello_too_short.extend_from_slice(&[4, 2, 0, 0]);
    hello_too_short[3] = 4;
    let mut tlv_overrun = packet(&[]);
    tlv_overrun.extend_from_slice(&[4, 9, 0, 0, 0, 1]);
    tlv_overrun[3] = 6;
    let mut absurd_plen = packet(&[rid]);
    absurd_plen.extend_from_slice(&[
        8, 18, 2, 0, 255, 0, 6, 0x40, 0, 1, 0, 0, 0x20, 1, 0xd, 0xb8, 0, 0, 0, 2,
    ]);
    absurd_plen[3] += 20;
    let mut sub_overrun = packet(&[rid]);
    sub_overrun.extend_from_slice(&[
        8, 20, 2, 0, 64, 0, 6, 0x40, 0, 1, 0, 0, 0x20, 1, 0xd, 0xb8, 0, 0, 0, 2, 5, 9,
    ]);
    sub_overrun[3] += 22;

    let cases: Vec<Case> = vec![
        (
            "empty",
            Channel::Routing,
            PEER,
            vec![],
            Err(InputError::Wire(WireError::Truncated { offset: 0 })),
        ),
        (
            "bad magic",
            Channel::Routing,
            PEER,
            vec![41, 2, 0, 0],
            Err(InputError::Wire(WireError::BadMagic(41))),
        ),
        (
            "version 1",
            Channel::Routing,
            PEER,
            vec![42, 1, 0, 0],
            Err(InputError::Wire(WireError::BadVersion(1))),
        ),
        (
            "body past end",
            Channel::Routing,
            PEER,
            vec![42, 2, 1, 0, 4],
            Err(InputError::Wire(WireError::Truncated { offset: 2 })),
        ),
        (
            "TLV length too short",
            Channel::Routing,
            PEER,
            hello_too_short,
            Err(InputError::Wire(WireError::BadLength {
                kind: 4,
                offset: 4,
            })),
        ),
        (
            "TLV length past body",
            Channel::Routing,
            PEER,
            tlv_overrun,
            Err(InputError::Wire(WireError::Truncated { offset: 4 })),
        ),
        (
            "absurd plen",
            Channel::Routing,
            PEER,
            absurd_plen,
            Err(InputError::Wire(WireError::BadPrefix {
                kind: 8,
                plen: 255,
                offset: 16,
            })),
        ),
        (
            "sub-TLV overrun",
            Channel::Routing,
            PEER,
            sub_overrun,
            Err(InputError::Wire(WireError::BadSubTlv {
                kind: 8,
                offset: 16,
            })),
        ),
        (
            "not link-local",
            Channel::Routing,
            "2001:db8::1".parse().unwrap(),
            packet(&[rid, update(64, 0, none)]),
            Err(InputError::NotLinkLocal("2001:db8::1".parse().unwrap())),
        ),
        (
            "loopback source on an interface that is not loopback",
            Channel::Routing,
            Ipv6Addr::LOCALHOST,
            packet(&[rid, update(64, 0, none)]),
            Err(InputError::NotLinkLocal(Ipv6Addr::LOCALHOST)),
        ),
        (
            "truncated datagram",
            Channel::Data,
            PEER,
            vec![0x10, 4, 0],
            Err(InputError::Datagram(DatagramError::Truncated)),
        ),
        (
            "data packet version 2",
            Channel::Data,
            PEER,
            vec![0xda, 2, 0, 0],
            Err(InputError::Datagram(DatagramError::PacketVersion(2))),
        ),
        (
            "data packet without a counter",
            Channel::Data,
            PEER,
            vec![0xda, 1, 0, 4, 0x11, 1, 0, 0],
            Err(InputError::Datagram(DatagramError::Counter)),
        ),
        (
            "data packet with padding in the trailer",
            Channel::Data,
            PEER,
            [
                &[0xda, 1, 0, 31, 17, 12, 0, 0, 0, 1][..],
                &[0; 8],
                &[0x11, 1, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1],
                &[1, 0],
            ]
            .concat(),
            Err(InputError::Datagram(DatagramError::Trailer)),
        ),
        // Ignored as RFC 8966 says, so accepted but without effect.
        (
            "unknown mandatory sub-TLV",
            Channel::Routing,
            PEER,
            packet(&[rid, update(64, 0, unknown_mandatory)]),
            Ok(()),
        ),
        (
            "unknown TLV type",
            Channel::Routing,
            PEER,
            packet(&[Tlv::Unknown {
                kind: 99,
                body: &[1, 2, 3],
            }]),
            Ok(()),
        ),
        (
            "update without router-id",
            Channel::Routing,
            PEER,
            packet(&[update(64, 0, none)]),
            Ok(()),
        ),
        (
            "compression without a default prefix",
            Channel::Routing,
            PEER,
            packet(&[
                rid,
                Tlv::Update {
                    ae: Ae::Ipv6,
                    flags: 0,
                    plen: 64,
                    omitted: 4,
                    interval: 1600,
                    seqno: 1,
                    metric: 0,
                    prefix: &prefix[4..],
                    sub: none,
                },
            ]),
            Ok(()),
        ),
    ];
    for (name, channel, from, bytes, expected) in cases {
        let (mut r, i, now) = router();
        let before = snapshot(&r);
        let ignored = r.stats().tlvs_ignored;
        assert_eq!(
            r.handle_input(now, i, channel, from, BABEL_MULTICAST, &bytes),
            expected,
            "{name}"
        );
        assert_eq!(snapshot(&r), before, "{name}: state unchanged");
        let mut buf = Vec::new();
        assert_eq!(
            r.poll_transmit(now, &mut buf),
            None,
            "{name}: nothing to send"
        );
        assert_eq!(r.poll_event(), None, "{name}: no event");
        if expected.is_ok() {
            assert!(
                r.stats().tlvs_ignored > ignored,
                "{name}: counted as ignored"
            );
        }
    }
    let (mut r, _, now) = router();
    assert_eq!(
        r.handle_input(
            now,
            IfaceId(9),
            Channel::Routing,
            PEER,
            BABEL_MULTICAST,
            &[]
        ),
        Err(InputError::UnknownInterface(IfaceId(9)))
    );
}

#[test]
fn mac_failures_leave_state_unchanged() {
    let (mut r, i, now) = router();
    r.set_interface_keys(i, vec![MacKey::hmac_sha256(&[1; 64])]);
    let before = snapshot(&r);
    let other = MacKey::hmac_sha256(&[2; 64]);
    let body = packet(&[Tlv::Hello {
        flags: 0,
        seqno: 9,
        interval: 400,
        sub: SubTlvs::default(),
    }]);
    let mac = other.sign(PEER, BABEL_MULTICAST, &body);
    let mut signed = body.clone();
    Tlv::Mac(&mac).encode(&mut signed).unwrap();
    for (bytes, err) in [(signed, InputError::BadMac), (body, InputError::MissingMac)] {
        assert_eq!(
            r.handle_input(now, i, Channel::Routing, PEER, BABEL_MULTICAST, &bytes),
            Err(err)
        );
        assert_eq!(snapshot(&r), before);
        let mut buf = Vec::new();
        assert_eq!(r.poll_transmit(now, &mut buf), None);
    }
}

#[test]
fn bounded_neighbour_table() {
    let mut cfg = RouterConfig::new(ShortId::from_u64(0xb));
    cfg.limits.neighbours = 2;
    let mut r = Router::new(
        cfg,
        Instant::ZERO,
        1,
        Arc::new(ring::rand::SystemRandom::new()),
    );
    let i = r
        .add_interface(Instant::ZERO, InterfaceConfig::wireless(US))
        .unwrap();
    let hello = packet(&[Tlv::Hello {
        flags: 0,
        seqno: 1,
        interval: 400,
        sub: SubTlvs::default(),
    }]);
    for n in 1..=3u16 {
        let from = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, n);
        let result = r.handle_input(
            Instant::ZERO,
            i,
            Channel::Routing,
            from,
            BABEL_MULTICAST,
            &hello,
        );
        assert_eq!(result.is_ok(), n <= 2, "neighbour {n}");
    }
    assert_eq!(r.neighbours().len(), 2);
}

/// Only a packet with something to answer about the link makes its sender a neighbour: a
/// Hello, an IHU or a challenge request. An empty packet, or one that only asks for routes,
/// is taken (the request is answered) but leaves no entry behind; with keys it is dropped
/// unverified, and no challenge goes out for it.
#[test]
fn only_link_tlvs_make_a_neighbour() {
    const STRANGER: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0xc);
    let none = SubTlvs::default();
    let fresh = || {
        let mut r = Router::new(
            RouterConfig::new(ShortId::from_u64(0xb)),
            Instant::ZERO,
            1,
            Arc::new(ring::rand::SystemRandom::new()),
        );
        let i = r
            .add_interface(Instant::ZERO, InterfaceConfig::wired(US))
            .unwrap();
        r.handle_timeout(Instant::ZERO);
        while r.poll_transmit(Instant::ZERO, &mut Vec::new()).is_some() {}
        (r, i)
    };
    let hello = Tlv::Hello {
        flags: 0,
        seqno: 1,
        interval: 400,
        sub: none,
    };
    let ihu = Tlv::Ihu {
        ae: Ae::LinkLocal,
        reserved: 0,
        rxcost: 96,
        interval: 1200,
        address: &[0, 0, 0, 0, 0, 0, 0, 0xb],
        sub: none,
    };
    let nonce = [7u8; 16];
    let request = Tlv::RouteRequest {
        ae: Ae::Wildcard,
        plen: 0,
        prefix: &[],
        sub: none,
    };
    for (name, body, neighbour) in [
        ("empty", vec![], false),
        ("padding", vec![Tlv::PadN(&[0; 4])], false),
        ("route request", vec![request], false),
        ("Hello", vec![hello], true),
        ("IHU", vec![ihu], true),
        (
            "challenge request",
            vec![Tlv::ChallengeRequest(&nonce)],
            true,
        ),
    ] {
        let (mut r, i) = fresh();
        let bytes = packet(&body);
        assert_eq!(
            r.handle_input(Instant::ZERO, i, Channel::Routing, STRANGER, US, &bytes),
            Ok(()),
            "{name}"
        );
        assert_eq!(r.neighbours().len(), usize::from(neighbour), "{name}");
    }

    // With keys: an authenticated packet under an index nobody challenged yet.
    let key = MacKey::hmac_sha256(&[1; 64]);
    let index = [9u8; 8];
    let signed = |tlvs: &[Tlv<'_>]| {
        let mut body = vec![Tlv::Pc {
            pc: 1,
            index: &index,
        }];
        body.extend_from_slice(tlvs);
        let mut bytes = packet(&body);
        let mac = key.sign(STRANGER, BABEL_MULTICAST, &bytes);
        Tlv::Mac(&mac).encode(&mut bytes).unwrap();
        bytes
    };
    let challenges = |r: &mut Router| {
        r.handle_timeout(Instant::ZERO);
        let mut buf = Vec::new();
        let mut n = 0;
        while let Some(t) = r.poll_transmit(Instant::ZERO, &mut buf) {
            let p = iomt_mesh::wire::Packet::parse(&buf).unwrap();
            n += p
                .body
                .iter()
                .filter(|t| matches!(t, Tlv::ChallengeRequest(_)))
                .count()
                * usize::from(t.destination == STRANGER);
        }
        n
    };
    for (name, tlvs, neighbour) in [("empty", vec![], false), ("Hello", vec![hello], true)] {
        let (mut r, i) = fresh();
        r.set_interface_keys(i, vec![key.clone()]);
        assert_eq!(
            r.handle_input(
                Instant::ZERO,
                i,
                Channel::Routing,
                STRANGER,
                BABEL_MULTICAST,
                &signed(&tlvs)
            ),
            Err(InputError::Unverified),
            "{name}"
        );
        assert_eq!(r.neighbours().len(), usize::from(neighbour), "{name}");
        assert_eq!(challenges(&mut r), usize::from(neighbour), "{name}");
    }
}

/// With nothing to talk to and its interfaces gone quiet in steady state, the router only
/// wakes for its periodic Hellos and dumps; without interfaces it never wakes.
#[test]
fn goes_quiet() {
    let random = Arc::new(ring::rand::SystemRandom::new());
    let idle = Router::new(
        RouterConfig::new(ShortId::from_u64(1)),
        Instant::ZERO,
        1,
        random.clone(),
    );
    assert_eq!(idle.poll_timeout(), None);
    let mut r = Router::new(
        RouterConfig::new(ShortId::from_u64(1)),
        Instant::ZERO,
        1,
        random,
    );
    let cfg = InterfaceConfig::wired(US).with_hello_interval(Duration::from_secs(4));
    r.add_interface(Instant::ZERO, cfg).unwrap();
    let mut now = Instant::ZERO;
    let mut buf = Vec::new();
    let mut sent = 0;
    let mut wakeups = 0;
    while now < Instant::ZERO + Duration::from_secs(160) {
        r.handle_timeout(now);
        while r.poll_transmit(now, &mut buf).is_some() {
            sent += 1;
        }
        let next = r.poll_timeout().unwrap();
        assert!(next > now, "poll_timeout moves forward");
        now = next;
        wakeups += 1;
    }
    // 40 Hellos (the first with the route request) and 10 dumps, some sharing a packet.
    assert!((40..=50).contains(&sent), "{sent}");
    assert!(wakeups <= 40 + 10 + 160, "{wakeups}");
}
