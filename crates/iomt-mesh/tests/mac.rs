//! RFC 8967 between two routers: challenge handshake, then replay and forgery rejected.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a failed step stops the test where it happened"
)]

use std::net::Ipv6Addr;
use std::sync::Arc;
use std::time::Duration;

use iomt_mesh::*;
use iomt_schema::{Instant, Precedence, ShortId};

struct Pair {
    a: Router,
    b: Router,
    now: Instant,
    /// Every packet a sent: (destination, bytes).
    from_a: Vec<(Ipv6Addr, Vec<u8>)>,
    /// The routers' addresses.
    lla: Ipv6Addr,
    llb: Ipv6Addr,
}

const LLA: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0xa);
const LLB: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0xb);

fn pair(key_a: &[u8], key_b: &[u8]) -> Pair {
    pair_at(LLA, LLB, key_a, key_b)
}

fn pair_at(lla: Ipv6Addr, llb: Ipv6Addr, key_a: &[u8], key_b: &[u8]) -> Pair {
    let random = Arc::new(ring::rand::SystemRandom::new());
    let mut a = Router::new(
        RouterConfig::new(ShortId::from_u64(0xa)),
        Instant::ZERO,
        1,
        random.clone(),
    );
    let mut b = Router::new(
        RouterConfig::new(ShortId::from_u64(0xb)),
        Instant::ZERO,
        2,
        random,
    );
    let ia = a
        .add_interface(Instant::ZERO, InterfaceConfig::wired(lla))
        .unwrap();
    let ib = b
        .add_interface(Instant::ZERO, InterfaceConfig::wired(llb))
        .unwrap();
    a.set_interface_keys(ia, vec![MacKey::hmac_sha256(key_a)]);
    b.set_interface_keys(ib, vec![MacKey::hmac_sha256(key_b)]);
    Pair {
        a,
        b,
        now: Instant::ZERO,
        from_a: Vec::new(),
        lla,
        llb,
    }
}

impl Pair {
    fn step(&mut self) -> Vec<Result<(), InputError>> {
        let mut results = Vec::new();
        let mut buf = Vec::new();
        self.a.handle_timeout(self.now);
        while let Some(t) = self.a.poll_transmit(self.now, &mut buf) {
            self.from_a.push((t.destination, buf.clone()));
            results.push(self.b.handle_input(
                self.now,
                IfaceId(0),
                t.kind,
                self.lla,
                t.destination,
                &buf,
            ));
        }
        self.b.handle_timeout(self.now);
        while let Some(t) = self.b.poll_transmit(self.now, &mut buf) {
            let _ =
                self.a
                    .handle_input(self.now, IfaceId(0), t.kind, self.llb, t.destination, &buf);
        }
        self.now = self
            .a
            .poll_timeout()
            .unwrap()
            .min(self.b.poll_timeout().unwrap());
        results
    }

    fn run(&mut self, secs: u64) -> Vec<Result<(), InputError>> {
        let end = self.now + Duration::from_secs(secs);
        let mut all = Vec::new();
        let mut steps = 0;
        while self.now < end {
            all.extend(self.step());
            steps += 1;
            assert!(
                steps < 10_000,
                "stuck at {:?}: {:?}",
                self.now,
                &all[all.len().saturating_sub(6)..]
            );
        }
        all
    }
}

#[test]
fn challenge_then_routes_then_replay_and_forgery_rejected() {
    let key = [0x42u8; 64];
    let mut p = pair(&key, &key);
    let results = p.run(20);
    assert!(
        results.contains(&Err(InputError::Unverified)),
        "first contact is challenged"
    );
    assert_eq!(
        results.iter().filter(|r| r.is_err()).count(),
        1,
        "{results:?}"
    );
    assert!(results.len() >= 6, "Hellos and updates flow: {results:?}");
    assert!(p.a.next_hop(ShortId::from_u64(0xb)).is_some());
    assert!(p.b.next_hop(ShortId::from_u64(0xa)).is_some());

    // Replaying an accepted packet changes nothing.
    let (dst, old) = p
        .from_a
        .iter()
        .rev()
        .find(|(d, _)| d.is_multicast())
        .cloned()
        .unwrap();
    let before = (p.b.neighbours(), p.b.routes());
    assert_eq!(
        p.b.handle_input(p.now, IfaceId(0), Channel::Routing, LLA, dst, &old),
        Err(InputError::Replay)
    );
    // A flipped bit, a wrong source address or a missing MAC: rejected.
    let mut forged = old.clone();
    forged[7] ^= 1;
    assert_eq!(
        p.b.handle_input(p.now, IfaceId(0), Channel::Routing, LLA, dst, &forged),
        Err(InputError::BadMac)
    );
    assert_eq!(
        p.b.handle_input(
            p.now,
            IfaceId(0),
            Channel::Routing,
            "fe80::c".parse().unwrap(),
            dst,
            &old
        ),
        Err(InputError::BadMac)
    );
    let body_len = usize::from(u16::from_be_bytes([old[2], old[3]]));
    assert_eq!(
        p.b.handle_input(
            p.now,
            IfaceId(0),
            Channel::Routing,
            LLA,
            dst,
            &old[..4 + body_len]
        ),
        Err(InputError::MissingMac)
    );
    assert_eq!(before, (p.b.neighbours(), p.b.routes()), "state unchanged");
}

#[test]
fn different_keys_never_form_an_adjacency() {
    let mut p = pair(&[1; 64], &[2; 64]);
    let results = p.run(20);
    assert!(
        results.iter().all(|r| *r == Err(InputError::BadMac)),
        "{results:?}"
    );
    assert!(p.a.next_hop(ShortId::from_u64(0xb)).is_none());
    assert!(p.b.neighbours().is_empty());
}

/// Per-neighbour keys (as `iomt-node` will derive them from transport sessions): a uses a
/// group key on the interface and a pairwise key for b; b knows only the pairwise key. a's
/// multicast packets carry a MAC under each, so b accepts them, and a checks b's packets
/// under the pairwise key alone.
#[test]
fn per_neighbour_keys() {
    let group = [0x11u8; 64];
    let pairwise = [0x22u8; 64];
    let mut p = pair(&group, &pairwise);
    p.a.set_neighbour_keys(IfaceId(0), LLB, vec![MacKey::hmac_sha256(&pairwise)])
        .unwrap();
    assert_eq!(
        p.a.set_neighbour_keys(IfaceId(7), LLB, vec![]),
        Err(ConfigError::UnknownInterface(IfaceId(7)))
    );
    let results = p.run(20);
    assert!(
        results.iter().filter(|r| r.is_ok()).count() >= 5,
        "{results:?}"
    );
    assert!(p.a.next_hop(ShortId::from_u64(0xb)).is_some());
    assert!(p.b.next_hop(ShortId::from_u64(0xa)).is_some());
    let multicast = p
        .from_a
        .iter()
        .rev()
        .find(|(d, _)| d.is_multicast())
        .unwrap();
    let parsed = iomt_mesh::wire::Packet::parse(&multicast.1).unwrap();
    assert_eq!(parsed.trailer.len(), 2, "one MAC per key");
    // Datagrams go under the same keys: unicast under the pairwise key, floods under both.
    let lifetime = Duration::from_secs(30);
    let b_id = Target::Unicast(ShortId::from_u64(0xb));
    p.a.send(p.now, b_id, Precedence::Flash, lifetime, b"pairwise")
        .unwrap();
    p.a.send(p.now, Target::Flood, Precedence::Flash, lifetime, b"to all")
        .unwrap();
    let sent = p.from_a.len();
    assert!(p.step().iter().all(Result::is_ok));
    let mut got: Vec<Vec<u8>> = std::iter::from_fn(|| p.b.poll_event())
        .filter_map(|e| match e {
            Event::Delivered(d) => Some(d.payload),
            _ => None,
        })
        .collect();
    got.sort();
    assert_eq!(got, [b"pairwise".to_vec(), b"to all".to_vec()]);
    let macs: Vec<(Ipv6Addr, usize)> = p.from_a[sent..]
        .iter()
        .filter_map(|(dst, bytes)| {
            let auth = DataPacket::parse(bytes).ok()?.auth?;
            Some((*dst, auth.macs().count()))
        })
        .collect();
    assert_eq!(macs.len(), 2);
    assert!(macs.contains(&(LLB, 1)) && macs.contains(&(DATA_MULTICAST, 2)));
    // Removing the pairwise key: a signs with the group key only, which b cannot verify.
    p.a.set_neighbour_keys(IfaceId(0), LLB, vec![]).unwrap();
    let later = p.run(10);
    assert!(
        later.iter().all(|r| *r == Err(InputError::BadMac)),
        "{later:?}"
    );
}

/// On loopback both routers are `::1`: an interface that is itself `::1` takes Babel packets
/// from `::1`, so two routers on one machine peer, MACs and datagrams included, without
/// network namespaces.
#[test]
fn two_routers_on_loopback() {
    let lo = Ipv6Addr::LOCALHOST;
    let key = [0x42u8; 64];
    let mut p = pair_at(lo, lo, &key, &key);
    p.run(20);
    let (a_id, b_id) = (ShortId::from_u64(0xa), ShortId::from_u64(0xb));
    assert_eq!(p.a.next_hop(b_id), Some((IfaceId(0), lo)));
    assert_eq!(p.b.next_hop(a_id), Some((IfaceId(0), lo)));
    p.a.send(
        p.now,
        Target::Unicast(b_id),
        Precedence::Flash,
        Duration::from_secs(30),
        b"over loopback",
    )
    .unwrap();
    p.step();
    let delivered = std::iter::from_fn(|| p.b.poll_event()).any(
        |e| matches!(e, Event::Delivered(d) if d.payload == b"over loopback" && d.source == a_id),
    );
    assert!(delivered);
}
