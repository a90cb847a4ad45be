//! Attacks on the data plane by an outsider who holds no key, through the public API:
//!
//! - (a) spoofed Flash unicast and flood datagrams claiming a known neighbour and source;
//! - (b) a duplicate cache pre-filled with predicted identifiers, and a captured identifier
//!   raced ahead of the real flood with other content;
//! - (c) a captured authenticated data packet played again;
//! - (d) a seeded radio simulation with an outsider that plays all of these continuously while
//!   honest traffic flows.
//!
//! Where it shows something, the same attack is also run against a network without keys,
//! where it works (or, for (b), where the content digest alone still saves the real flood).
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::as_conversions,
    reason = "test code: a failed step stops the test where it happened"
)]

mod common;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, VecDeque};
use std::net::Ipv6Addr;
use std::rc::Rc;
use std::time::Duration;

use common::*;
use iomt_mesh::datagram::write_authenticated;
use iomt_mesh::{
    AuthDrops, Channel, DATA_MULTICAST, DataPacket, Event, Header, IfaceId, InputError,
    InterfaceConfig, MacKey, Router, RouterConfig, Target, wire,
};
use iomt_schema::{Instant, Precedence, ShortId};
use iomt_sim::{
    Boot, Class, Destination, LinkParams, Loss, Metrics, Mobility, Node, NodeId, Observer, Point,
    Purpose, RadioParams, Received, Seed, SimRng, Simulator, Transmit, below,
};

/// The key every honest node holds.
fn link_key() -> MacKey {
    MacKey::hmac_sha256(&[0x5a; 64])
}

/// What the outsider signs with: a key of its own, which no honest node holds.
fn outsider_key() -> MacKey {
    MacKey::hmac_sha256(&[0x66; 64])
}

/// Payload keys at or above this mark content the outsider made up.
const FORGED: u64 = 0xee00_0000_0000_0000;

fn payload(key: u64) -> Vec<u8> {
    let mut p = key.to_be_bytes().to_vec();
    p.extend_from_slice(&[0; 24]);
    p
}

/// A datagram as an originator would encode it.
fn datagram(
    target: Target,
    precedence: Precedence,
    source: ShortId,
    message_id: u32,
    hop_limit: u8,
    key: u64,
) -> Vec<u8> {
    let mut out = Vec::new();
    Header {
        target,
        hop_limit,
        precedence,
        lifetime: Duration::from_secs(30),
        source,
        message_id,
    }
    .write(&mut out);
    out.extend_from_slice(&payload(key));
    out
}

/// `datagram` in a well-formed authenticated data packet, under the outsider's key.
fn under_outsider_key(datagram: &[u8], pc: u32, from: Ipv6Addr, to: Ipv6Addr) -> Vec<u8> {
    let mut out = Vec::new();
    let key = outsider_key();
    write_authenticated(&mut out, datagram, (pc, &[0x0b; 8]), [&key], from, to).unwrap();
    out
}

fn key_every_interface(sim: &mut Simulator<MeshNode>) {
    for n in 0..sim.len() as u32 {
        let ifaces = sim.interfaces(NodeId(n));
        let node = sim.node_mut(NodeId(n)).unwrap();
        for i in 0..ifaces {
            node.router
                .set_interface_keys(IfaceId(i as u16), vec![link_key()]);
        }
    }
}

fn line(
    seed: u64,
    n: u32,
    iface: fn(Ipv6Addr) -> InterfaceConfig,
    keyed: bool,
) -> Simulator<MeshNode> {
    let links: Vec<(u32, u32)> = (0..n - 1).map(|i| (i, i + 1)).collect();
    let mut sim = wired(seed, n, &links, LinkParams::default(), iface, |cfg, _| {
        cfg.limits.queue_per_next_hop = 16
    });
    if keyed {
        key_every_interface(&mut sim);
    }
    sim
}

/// Deliveries of keys in `range` at `node` (any node if `None`).
fn delivered(oracle: &Oracle, node: Option<u32>, range: core::ops::Range<u64>) -> usize {
    (oracle.deliveries.iter())
        .filter(|(_, n, k)| node.is_none_or(|x| n.0 == x) && range.contains(k))
        .count()
}

type Results = Rc<RefCell<Vec<Result<(), InputError>>>>;

/// What spoofed Flash traffic did to the line 0 - 1 - 2.
struct Spoofed {
    results: Vec<Result<(), InputError>>,
    data_auth: AuthDrops,
    shed: u64,
    routine_delivered: usize,
    forged_delivered: usize,
}

/// Node 1 holds 16 Routine datagrams for node 2 (its queue's bound), paced out at 1 kB/s. An
/// outsider claims node 0's link-local address and ShortId and hands node 1 sixteen Flash
/// datagrams for node 2 and sixteen Flash floods, each bare and under a key of its own.
fn spoofed_flash(keyed: bool) -> Spoofed {
    fn paced(ll: Ipv6Addr) -> InterfaceConfig {
        let mut c = InterfaceConfig::wired(ll);
        c.data_rate = Some(1_000);
        c
    }
    let mut sim = line(71, 3, paced, keyed);
    let mut oracle = Oracle::default();
    sim.run_until(at(20.0), &mut oracle).unwrap();
    let (a, c) = (short(NodeId(0)), short(NodeId(2)));
    assert!(sim.node(NodeId(1)).unwrap().router.next_hop(c).is_some());
    let now = sim.now();
    let b = &mut sim.node_mut(NodeId(1)).unwrap().router;
    for k in 0..16 {
        let routine = payload(k);
        b.send(
            now,
            Target::Unicast(c),
            Precedence::Routine,
            Duration::from_secs(60),
            &routine,
        )
        .unwrap();
    }
    assert_eq!(b.queued(), 16);
    let (from, to_b) = (link_local(NodeId(0)), link_local(NodeId(1)));
    let mut results = Vec::new();
    for k in 0..16u32 {
        let uni = datagram(
            Target::Unicast(c),
            Precedence::Flash,
            a,
            k.wrapping_mul(0x9e37_79b9),
            32,
            FORGED + u64::from(k),
        );
        let flood = datagram(
            Target::Flood,
            Precedence::Flash,
            a,
            0x1000 + k,
            32,
            FORGED + 100 + u64::from(k),
        );
        for (bytes, to) in [
            (uni.clone(), to_b),
            (under_outsider_key(&uni, 2 * k + 1, from, to_b), to_b),
            (flood.clone(), DATA_MULTICAST),
            (
                under_outsider_key(&flood, 2 * k + 2, from, DATA_MULTICAST),
                DATA_MULTICAST,
            ),
        ] {
            results.push(b.handle_input(now, IfaceId(0), Channel::Data, from, to, &bytes));
        }
    }
    let (data_auth, shed) = (b.stats().data_auth, b.stats().shed);
    sim.run_until(at(40.0), &mut oracle).unwrap();
    Spoofed {
        results,
        data_auth,
        shed,
        routine_delivered: delivered(&oracle, Some(2), 0..16),
        forged_delivered: delivered(&oracle, None, FORGED..u64::MAX),
    }
}

/// (a) With keys, the spoofed Flash traffic is dropped on arrival and counted: nothing is
/// delivered and no queued Routine datagram is shed. Without keys it sheds them all.
#[test]
fn spoofed_flash_traffic_is_dropped_and_counted() {
    let keyed = spoofed_flash(true);
    assert_eq!(keyed.results.len(), 64);
    for (i, r) in keyed.results.iter().enumerate() {
        let expected = if i % 2 == 0 {
            InputError::MissingMac
        } else {
            InputError::BadMac
        };
        assert_eq!(r, &Err(expected), "injection {i}");
    }
    assert_eq!(
        keyed.data_auth,
        AuthDrops {
            missing_mac: 32,
            bad_mac: 32,
            ..AuthDrops::default()
        }
    );
    assert_eq!(keyed.shed, 0, "no Routine datagram shed");
    assert_eq!(
        keyed.routine_delivered, 16,
        "every Routine datagram delivered"
    );
    assert_eq!(keyed.forged_delivered, 0, "nothing forged delivered");

    let open = spoofed_flash(false);
    assert!(open.results.iter().all(Result::is_ok));
    assert_eq!(open.data_auth.total(), 0);
    assert_eq!(
        open.shed, 16,
        "without keys the Flash forgeries shed all Routine traffic"
    );
    assert_eq!(open.routine_delivered, 0);
    assert!(open.forged_delivered >= 32, "{}", open.forged_delivered);
    println!(
        "spoofed Flash: with keys 64 of 64 dropped ({:?}), 0 shed, 16 of 16 Routine delivered, \
         0 forged delivered; without keys {} shed, {} Routine delivered, {} forged delivered",
        keyed.data_auth, open.shed, open.routine_delivered, open.forged_delivered
    );
}

/// What pre-filling did on the line 0 .. 5 (the post is node 0).
struct Prefilled {
    results: Vec<Result<(), InputError>>,
    /// Per node 1..=5: duplicate-cache entries right after the pre-fill.
    cached: Vec<usize>,
    data_auth: u64,
    /// Nodes 1..=5 that delivered the real revocation delta, and how many times in all.
    real: (Vec<u32>, usize),
    forged_delivered: usize,
}

const EARLIER: u64 = 1_000;
const REVOCATION: u64 = 2_000;
const CACHE: usize = 2048;

/// The post floods twice; an outsider who watched those identifiers fills every other node's
/// duplicate cache with the next 2048 (the old "+1" scheme's predictions, the cache's whole
/// capacity), claiming to relay them from the upstream neighbour. Then, as the post floods a
/// revocation delta, the outsider captures its identifier and races ahead of it to every
/// node with other content under that identifier.
fn prefilled(keyed: bool) -> Prefilled {
    let mut sim = line(81, 6, InterfaceConfig::wired, keyed);
    let mut oracle = Oracle::default();
    sim.run_until(at(20.0), &mut oracle).unwrap();
    let seen: Rc<RefCell<Vec<u32>>> = Rc::default();
    for i in 0..2u64 {
        let seen = seen.clone();
        sim.call(
            at(20.0 + i as f64),
            NodeId(0),
            move |n: &mut MeshNode, now| {
                let id = n
                    .router
                    .send(
                        now,
                        Target::Flood,
                        Precedence::Immediate,
                        Duration::from_secs(30),
                        &payload(EARLIER + i),
                    )
                    .unwrap();
                seen.borrow_mut().push(id);
            },
        );
    }
    sim.run_until(at(22.0), &mut oracle).unwrap();
    let last = *seen.borrow().last().unwrap();
    let post = short(NodeId(0));
    let results: Results = Rc::default();
    let cached: Rc<RefCell<Vec<usize>>> = Rc::default();
    for v in 1..6u32 {
        let (results, cached) = (results.clone(), cached.clone());
        sim.call(at(22.0), NodeId(v), move |n: &mut MeshNode, now| {
            let from = link_local(NodeId(v - 1));
            for (j, guess) in (1..=CACHE as u32).map(|d| last.wrapping_add(d)).enumerate() {
                // A hop limit of 1: the forgeries fill caches without filling queues.
                let forged = datagram(
                    Target::Flood,
                    Precedence::Routine,
                    post,
                    guess,
                    1,
                    FORGED + u64::from(guess),
                );
                let bytes = match j % 2 {
                    0 => forged,
                    _ => under_outsider_key(&forged, guess, from, DATA_MULTICAST),
                };
                let r = n.router.handle_input(
                    now,
                    IfaceId(0),
                    Channel::Data,
                    from,
                    DATA_MULTICAST,
                    &bytes,
                );
                results.borrow_mut().push(r);
            }
            cached.borrow_mut().push(n.router.cached_floods());
        });
    }
    sim.run_until(at(24.0), &mut oracle).unwrap();
    let real_id = Rc::new(Cell::new(0u32));
    let id = real_id.clone();
    sim.call(at(24.0), NodeId(0), move |n: &mut MeshNode, now| {
        id.set(
            n.router
                .send(
                    now,
                    Target::Flood,
                    Precedence::Flash,
                    Duration::from_secs(30),
                    &payload(REVOCATION),
                )
                .unwrap(),
        );
    });
    for v in 1..6u32 {
        let (results, real_id) = (results.clone(), real_id.clone());
        // Same instant, scheduled after the post's send: ahead of the real flood on every
        // link (each takes a millisecond).
        sim.call(at(24.0), NodeId(v), move |n: &mut MeshNode, now| {
            let from = link_local(NodeId(v - 1));
            let forged = datagram(
                Target::Flood,
                Precedence::Flash,
                post,
                real_id.get(),
                32,
                FORGED + 7,
            );
            for bytes in [
                forged.clone(),
                under_outsider_key(&forged, u32::MAX, from, DATA_MULTICAST),
            ] {
                let r = n.router.handle_input(
                    now,
                    IfaceId(0),
                    Channel::Data,
                    from,
                    DATA_MULTICAST,
                    &bytes,
                );
                results.borrow_mut().push(r);
            }
        });
    }
    sim.run_until(at(34.0), &mut oracle).unwrap();
    let real: Vec<u32> = (oracle.deliveries.iter())
        .filter(|(_, _, k)| *k == REVOCATION)
        .map(|(_, n, _)| n.0)
        .collect::<BTreeSet<u32>>()
        .into_iter()
        .collect();
    let data_auth = (1..6)
        .map(|v| {
            sim.node(NodeId(v))
                .unwrap()
                .router
                .stats()
                .data_auth
                .total()
        })
        .sum();
    let results = results.borrow().clone();
    let cached = cached.borrow().clone();
    Prefilled {
        results,
        cached,
        data_auth,
        real: (real, delivered(&oracle, None, REVOCATION..REVOCATION + 1)),
        forged_delivered: delivered(&oracle, None, FORGED..u64::MAX),
    }
}

/// (b) With keys, no forgery gets into any cache and the real revocation delta reaches every
/// node once. Without keys the caches do fill up with forgeries, and the forged copy under the
/// captured identifier is delivered, yet the real flood still reaches every node: identifiers
/// are drawn at random, and the cache knows a flood by its content as well.
#[test]
fn prefilled_duplicate_caches_do_not_stop_the_real_flood() {
    let injected = 5 * (CACHE + 2);
    let keyed = prefilled(true);
    assert_eq!(keyed.results.len(), injected);
    assert!(
        keyed
            .results
            .iter()
            .all(|r| matches!(r, Err(InputError::MissingMac | InputError::BadMac))),
        "every forgery refused"
    );
    assert_eq!(keyed.data_auth, injected as u64, "and counted");
    assert!(
        keyed.cached.iter().all(|c| *c <= 2),
        "only the real floods cached: {:?}",
        keyed.cached
    );
    assert_eq!(
        keyed.real,
        (vec![1, 2, 3, 4, 5], 5),
        "the real flood, once everywhere"
    );
    assert_eq!(keyed.forged_delivered, 0);

    let open = prefilled(false);
    assert!(open.results.iter().all(Result::is_ok));
    assert_eq!(open.cached, vec![CACHE; 5], "caches full of forgeries");
    assert_eq!(
        open.real,
        (vec![1, 2, 3, 4, 5], 5),
        "the real flood, once everywhere"
    );
    assert!(open.forged_delivered > 0);
    println!(
        "pre-filled caches: with keys {injected} of {injected} forgeries dropped, real flood \
         delivered at 5 of 5 nodes; without keys caches full ({:?}), {} forgeries delivered, \
         real flood still delivered at {} of 5 nodes",
        open.cached,
        open.forged_delivered,
        open.real.0.len()
    );
}

/// (c) A captured authenticated unicast datagram and flood, played again to the node that
/// accepted them, to it again later, on the routing channel, with a counter claimed newer,
/// and to a node on another link: each dropped, counted, nothing delivered twice.
#[test]
fn replayed_data_packets_are_dropped_by_the_counter() {
    let mut sim = line(91, 3, InterfaceConfig::wired, true);
    let mut oracle = Oracle::default();
    sim.run_until(at(20.0), &mut oracle).unwrap();
    let now = sim.now();
    let a = &mut sim.node_mut(NodeId(0)).unwrap().router;
    a.send(
        now,
        Target::Unicast(short(NodeId(1))),
        Precedence::Flash,
        Duration::from_secs(30),
        &payload(1),
    )
    .unwrap();
    a.send(
        now,
        Target::Flood,
        Precedence::Flash,
        Duration::from_secs(30),
        &payload(2),
    )
    .unwrap();
    let mut buf = Vec::new();
    let mut captured = Vec::new();
    while let Some(t) = a.poll_transmit(now, &mut buf) {
        if t.kind == Channel::Data {
            captured.push((t.destination, buf.clone()));
        }
    }
    assert_eq!(captured.len(), 2);
    assert!(
        captured
            .iter()
            .all(|(_, b)| DataPacket::parse(b).unwrap().auth.is_some())
    );
    let from = link_local(NodeId(0));
    let deliveries = |r: &mut Router| {
        std::iter::from_fn(|| r.poll_event())
            .filter(|e| matches!(e, Event::Delivered(_)))
            .count()
    };
    let b = &mut sim.node_mut(NodeId(1)).unwrap().router;
    for (to, bytes) in &captured {
        assert_eq!(
            b.handle_input(now, IfaceId(0), Channel::Data, from, *to, bytes),
            Ok(())
        );
    }
    assert_eq!(deliveries(b), 2, "the originals");
    for (to, bytes) in &captured {
        assert_eq!(
            b.handle_input(now, IfaceId(0), Channel::Data, from, *to, bytes),
            Err(InputError::Replay)
        );
        assert_eq!(
            b.handle_input(now, IfaceId(0), Channel::Routing, from, *to, bytes),
            Err(InputError::Wire(wire::WireError::BadMagic(0xda))),
            "a data packet is no Babel packet"
        );
        let mut newer = bytes.clone();
        newer[6] ^= 0x80;
        assert_eq!(
            b.handle_input(now, IfaceId(0), Channel::Data, from, *to, &newer),
            Err(InputError::BadMac),
            "the counter is under the MAC"
        );
    }
    assert_eq!(deliveries(b), 0);
    sim.run_until(at(30.0), &mut oracle).unwrap();
    let later = sim.now();
    let b = &mut sim.node_mut(NodeId(1)).unwrap().router;
    for (to, bytes) in &captured {
        assert_eq!(
            b.handle_input(later, IfaceId(0), Channel::Data, from, *to, bytes),
            Err(InputError::Replay),
            "still a replay ten seconds on"
        );
    }
    assert_eq!(deliveries(b), 0);
    assert_eq!(b.stats().data_auth.replayed, 4);
    assert_eq!(b.stats().data_auth.bad_mac, 2);
    // Node 2 never heard node 0: the MAC verifies (one link key) but no index is verified.
    let (to, flood) = captured.iter().find(|(to, _)| to.is_multicast()).unwrap();
    let c = &mut sim.node_mut(NodeId(2)).unwrap().router;
    assert_eq!(
        c.handle_input(later, IfaceId(0), Channel::Data, from, *to, flood),
        Err(InputError::Unverified)
    );
    assert_eq!(deliveries(c), 0);
    assert_eq!(c.stats().data_auth.unverified, 1);
}

// (d) The simulation.

/// A transmission the outsider sends under another node's link-local address: the radio does
/// not authenticate senders. Honest stations read the claimed sender from this prefix, on
/// packets from the outsider only.
const SPOOF: u8 = 0xff;
const NODES: u32 = 13;
const OUTSIDER: NodeId = NodeId(12);
const POST: NodeId = NodeId(0);
const FLOODS: u64 = 1_000_000;

enum Station {
    Honest(MeshNode),
    Outsider(Outsider),
}

/// An outsider on the radio with no key: it runs a router (whose Babel packets try to join),
/// listens to everything broadcast, and every `every` plays one attack.
struct Outsider {
    router: Router,
    active: bool,
    rng: SimRng,
    next: Instant,
    every: Duration,
    captured: VecDeque<(Instant, NodeId, Class, Vec<u8>)>,
    heard_floods: VecDeque<(NodeId, Header)>,
    /// Spoofed packets waiting to go out: kind and bytes.
    out: VecDeque<(Class, Vec<u8>)>,
    forged: u64,
    attacks: u64,
}

const CAPTURE_BOUND: usize = 256;
const START: f64 = 30.0;
const END: f64 = 90.0;

impl Outsider {
    fn honest(&mut self) -> NodeId {
        NodeId(below(&mut self.rng, u64::from(NODES - 1)) as u32)
    }

    fn spoofed(&mut self, claimed: NodeId, class: Class, bytes: &[u8]) {
        let mut data = vec![SPOOF];
        data.extend_from_slice(&claimed.0.to_be_bytes());
        data.extend_from_slice(bytes);
        self.out.push_back((class, data));
        self.attacks += 1;
    }

    fn forged_key(&mut self) -> u64 {
        self.forged += 1;
        FORGED + self.forged
    }

    fn attack(&mut self, now: Instant) {
        let claimed = self.honest();
        let from = link_local(claimed);
        let wrap = below(&mut self.rng, 2) == 1;
        let pc = self.rng_u32();
        let bytes = match below(&mut self.rng, 4) {
            // Flash unicast from a known source to a known destination.
            0 => {
                let (src, dst) = (self.honest(), self.honest());
                let key = self.forged_key();
                let id = self.rng_u32();
                datagram(
                    Target::Unicast(short(dst)),
                    Precedence::Flash,
                    short(src),
                    id,
                    32,
                    key,
                )
            }
            // Flash flood under the post's name with a guessed identifier.
            1 => {
                let key = self.forged_key();
                let id = self.rng_u32();
                datagram(Target::Flood, Precedence::Flash, short(POST), id, 32, key)
            }
            // A flood heard on the air, its identifier kept, its content replaced, claimed
            // from the node it was heard from.
            2 if !self.heard_floods.is_empty() => {
                let i = below(&mut self.rng, self.heard_floods.len() as u64) as usize;
                let (sender, h) = self.heard_floods[i];
                let key = self.forged_key();
                let forged = datagram(h.target, h.precedence, h.source, h.message_id, 32, key);
                let forged = under_outsider_key(&forged, pc, link_local(sender), DATA_MULTICAST);
                self.spoofed(sender, Class::Data, &forged);
                return;
            }
            // A packet captured at least a second ago, played again verbatim under its
            // sender's address.
            _ => {
                let old = self
                    .captured
                    .iter()
                    .filter(|(t, ..)| now.saturating_duration_since(*t) >= Duration::from_secs(1))
                    .count();
                if old == 0 {
                    return;
                }
                let i = below(&mut self.rng, old as u64) as usize;
                let (_, sender, class, bytes) = self.captured[i].clone();
                self.spoofed(sender, class, &bytes);
                return;
            }
        };
        let to = DATA_MULTICAST;
        let bytes = if wrap {
            under_outsider_key(&bytes, pc, from, to)
        } else {
            bytes
        };
        self.spoofed(claimed, Class::Data, &bytes);
    }

    fn rng_u32(&mut self) -> u32 {
        below(&mut self.rng, 1 << 32) as u32
    }
}

impl Node for Station {
    type Event = Event;

    fn handle_input(&mut self, now: Instant, p: Received<'_>) {
        match self {
            Station::Honest(m) => match p.data {
                [SPOOF, a, b, c, d, rest @ ..] if p.from == OUTSIDER => {
                    let claimed = NodeId(u32::from_be_bytes([*a, *b, *c, *d]));
                    m.handle_input(
                        now,
                        Received {
                            from: claimed,
                            data: rest,
                            ..p
                        },
                    );
                }
                _ => m.handle_input(now, p),
            },
            Station::Outsider(o) => {
                if !o.active {
                    return;
                }
                let _ = o.router.handle_input(
                    now,
                    IfaceId(0),
                    match p.kind {
                        Class::Control => Channel::Routing,
                        Class::Data => Channel::Data,
                    },
                    link_local(p.from),
                    DATA_MULTICAST,
                    p.data,
                );
                if o.captured.len() == CAPTURE_BOUND {
                    o.captured.pop_front();
                }
                o.captured.push_back((now, p.from, p.kind, p.data.to_vec()));
                if let Ok(d) = DataPacket::parse(p.data)
                    && d.header.target == Target::Flood
                {
                    if o.heard_floods.len() == CAPTURE_BOUND {
                        o.heard_floods.pop_front();
                    }
                    o.heard_floods.push_back((p.from, d.header));
                }
            }
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        match self {
            Station::Honest(m) => m.handle_timeout(now),
            Station::Outsider(o) => {
                if !o.active {
                    return;
                }
                o.router.handle_timeout(now);
                while now >= o.next {
                    o.attack(now);
                    o.next = o.next + o.every;
                }
            }
        }
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<Transmit> {
        let o = match self {
            Station::Honest(m) => return m.poll_transmit(now, buf),
            Station::Outsider(o) if o.active => o,
            Station::Outsider(_) => return None,
        };
        let kind = if let Some((kind, data)) = o.out.pop_front() {
            buf.clear();
            buf.extend_from_slice(&data);
            kind
        } else {
            match o.router.poll_transmit(now, buf)?.kind {
                Channel::Routing => Class::Control,
                Channel::Data => Class::Data,
            }
        };
        Some(Transmit {
            iface: iomt_sim::IfaceId(0),
            destination: Destination::Broadcast,
            kind,
            len: buf.len(),
        })
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Station::Honest(m) => m.poll_timeout(),
            Station::Outsider(o) if o.active => o.router.poll_timeout().map(|t| t.min(o.next)),
            Station::Outsider(_) => None,
        }
    }

    fn poll_event(&mut self) -> Option<Event> {
        match self {
            Station::Honest(m) => m.poll_event(),
            Station::Outsider(o) => {
                while o.router.poll_event().is_some() {}
                None
            }
        }
    }
}

fn small_limits(cfg: &mut RouterConfig, _: Boot) {
    cfg.limits.neighbours = 16;
    cfg.limits.duplicate_cache = 64;
    cfg.limits.queue_per_next_hop = 16;
}

fn radio_iface(ll: Ipv6Addr) -> InterfaceConfig {
    InterfaceConfig::wireless(ll).with_hello_interval(Duration::from_secs(1))
}

/// Twelve honest radios on a 4 x 3 grid, 100 m apart with a 150 m range (up to three hops
/// corner to corner), all holding the link key, and the outsider in the middle.
fn battlefield(seed: u64, active: bool, loss: Loss) -> Simulator<Station> {
    let plan: Vec<Vec<InterfaceConfig>> = (0..NODES)
        .map(|i| vec![radio_iface(link_local(NodeId(i)))])
        .collect();
    let mut honest = factory(Rc::new(plan), small_limits);
    let mut sim = Simulator::new(Seed(seed), move |boot: Boot| {
        if boot.node == OUTSIDER {
            let mut router = Router::new(
                RouterConfig::new(ShortId::from_u64(0xbad)),
                boot.now,
                boot.seed,
                std::sync::Arc::new(ring::rand::SystemRandom::new()),
            );
            router
                .add_interface(boot.now, radio_iface(link_local(OUTSIDER)))
                .unwrap();
            return Station::Outsider(Outsider {
                router,
                active,
                rng: Seed(seed).stream(Purpose::Adversary, 0),
                next: at(START),
                every: Duration::from_millis(20),
                captured: VecDeque::new(),
                heard_floods: VecDeque::new(),
                out: VecDeque::new(),
                forged: 0,
                attacks: 0,
            });
        }
        let mut m = honest(boot);
        m.router.set_interface_keys(IfaceId(0), vec![link_key()]);
        Station::Honest(m)
    });
    let params = RadioParams {
        range: 150.0,
        delay: Duration::from_millis(2),
        bandwidth_bps: 2_000_000,
        mtu: 1232,
        loss,
    };
    let r = sim.add_radio(params);
    for i in 0..NODES - 1 {
        let p = Point::new(f64::from(i % 4) * 100.0, f64::from(i / 4) * 100.0);
        let id = sim.add_node(Mobility::Static(p));
        sim.attach(id, r);
    }
    let id = sim.add_node(Mobility::Static(Point::new(150.0, 100.0)));
    assert_eq!(id, OUTSIDER);
    sim.attach(id, r);
    sim
}

/// Records deliveries, and after every event checks every honest router's tables, caches and
/// queues against their bounds, and that the outsider is nobody's neighbour.
#[derive(Default)]
struct Watch {
    floods: BTreeSet<(u32, u64)>,
    forged: u64,
    checks: u64,
}

impl Observer<Station> for Watch {
    fn on_event(&mut self, now: Instant, node: NodeId, event: Event, metrics: &mut Metrics) {
        let Event::Delivered(d) = event else {
            return;
        };
        let Some(k) = key_of(&d.payload) else {
            return;
        };
        if k >= FORGED {
            self.forged += 1;
        } else if d.target == Target::Flood {
            self.floods.insert((node.0, k));
        } else {
            metrics.message_delivered(k, now);
        }
    }

    fn check(&mut self, sim: &Simulator<Station>) -> Result<(), String> {
        self.checks += 1;
        for n in 0..NODES - 1 {
            let Some(Station::Honest(m)) = sim.node(NodeId(n)) else {
                continue;
            };
            let r = &m.router;
            let neighbours = r.neighbours();
            let bounds = [
                ("neighbours", neighbours.len(), 16),
                ("routes", r.routes().len(), 1 + 4096),
                ("sources", r.sources(), 8192),
                ("duplicate cache", r.cached_floods(), 64),
                ("queued datagrams", r.queued(), 16 * (16 + 1)),
            ];
            for (what, len, bound) in bounds {
                if len > bound {
                    return Err(format!("node {n}: {what} {len} over {bound}"));
                }
            }
            if neighbours.iter().any(|i| i.address == link_local(OUTSIDER)) {
                return Err(format!("node {n} took the outsider as a neighbour"));
            }
        }
        Ok(())
    }
}

/// What one run of the battlefield came to.
struct Field {
    floods: BTreeSet<(u32, u64)>,
    unicast: (u64, u64),
    forged: u64,
    attacks: u64,
    data_auth: AuthDrops,
    routing_auth: AuthDrops,
    checks: u64,
    events: u64,
}

fn fight(seed: u64, active: bool, loss: Loss) -> Field {
    let mut sim = battlefield(seed, active, loss);
    let mut traffic = sim.stream(Purpose::Traffic, 0);
    for i in 0..((END - START - 10.0) / 3.0) as u64 {
        let t = at(START + 3.0 * i as f64);
        sim.call(
            t,
            POST,
            on_honest(move |n, now| {
                let _ = n.router.send(
                    now,
                    Target::Flood,
                    Precedence::Flash,
                    Duration::from_secs(20),
                    &payload(FLOODS + i),
                );
            }),
        );
    }
    for i in 0..((END - START - 10.0) * 4.0) as u64 {
        let t = at(START) + Duration::from_millis(250 * i);
        let src = NodeId(below(&mut traffic, u64::from(NODES - 1)) as u32);
        let dst =
            NodeId((src.0 + 1 + below(&mut traffic, u64::from(NODES - 2)) as u32) % (NODES - 1));
        sim.metrics_mut().message_sent(i, Precedence::Routine, t);
        sim.call(
            t,
            src,
            on_honest(move |n, now| {
                let _ = n.router.send(
                    now,
                    Target::Unicast(short(dst)),
                    Precedence::Routine,
                    Duration::from_secs(10),
                    &payload(i),
                );
            }),
        );
    }
    let mut watch = Watch::default();
    sim.run_until(at(END), &mut watch)
        .unwrap_or_else(|v| panic!("seed {seed}: {v}"));
    let mut data_auth = AuthDrops::default();
    let mut routing_auth = AuthDrops::default();
    for n in 0..NODES - 1 {
        let Some(Station::Honest(m)) = sim.node(NodeId(n)) else {
            continue;
        };
        let s = m.router.stats();
        for (sum, one) in [
            (&mut data_auth, s.data_auth),
            (&mut routing_auth, s.routing_auth),
        ] {
            sum.missing_mac += one.missing_mac;
            sum.bad_mac += one.bad_mac;
            sum.replayed += one.replayed;
            sum.unverified += one.unverified;
        }
    }
    let attacks = match sim.node(OUTSIDER) {
        Some(Station::Outsider(o)) => o.attacks,
        _ => 0,
    };
    Field {
        floods: watch.floods,
        unicast: sim.metrics().delivery(None),
        forged: watch.forged,
        attacks,
        data_auth,
        routing_auth,
        checks: watch.checks,
        events: sim.events(),
    }
}

/// A call on an honest node as a call on its station (the outsider is never called).
fn on_honest(
    f: impl FnOnce(&mut MeshNode, Instant) + 'static,
) -> impl FnOnce(&mut Station, Instant) + 'static {
    move |s, now| {
        if let Station::Honest(m) = s {
            f(m, now);
        }
    }
}

/// (d) Across seeds, an outsider on the radio plays every attack above once every 20 ms for a
/// minute while the post floods a delta every 3 s and the squads exchange Routine traffic. No
/// forgery is delivered, every bound holds at every event, and the outsider's work shows in
/// the counters. Honest delivery is unaffected: on a lossless radio (where the outsider's
/// packets draw nothing from the simulator's loss generator, so both runs see the same honest
/// packets) it is identical with and without the outsider; at 5 % loss, where its packets
/// shift which honest packets are lost, it is the same within that noise.
#[test]
fn outsider_on_the_radio_changes_nothing() {
    let lossy = Loss::Bernoulli { p: 0.05 };
    let floods_sent = ((END - START - 10.0) / 3.0) as usize;
    let (mut quiet_lossy, mut attacked_lossy) = ((0, 0), (0, 0));
    for seed in [11u64, 12, 13, 14, 15] {
        let quiet = fight(seed, false, Loss::None);
        let attacked = fight(seed, true, Loss::None);
        assert_eq!(
            quiet.floods.len(),
            floods_sent * (NODES as usize - 2),
            "seed {seed}: every flood reaches every other honest node"
        );
        assert_eq!(
            quiet.unicast.0, quiet.unicast.1,
            "seed {seed}: and every datagram"
        );
        assert_eq!(
            attacked.floods, quiet.floods,
            "seed {seed}: the same with the outsider"
        );
        assert_eq!(attacked.unicast, quiet.unicast, "seed {seed}");
        let noisy = [fight(seed, false, lossy), fight(seed, true, lossy)];
        for (run, sum) in noisy.iter().zip([&mut quiet_lossy, &mut attacked_lossy]) {
            sum.0 += run.floods.len() as u64 + run.unicast.1;
            sum.1 += (floods_sent * (NODES as usize - 2)) as u64 + run.unicast.0;
        }
        for (run, loss) in [(&attacked, "lossless"), (&noisy[1], "lossy")] {
            assert!(
                run.attacks > 2_500,
                "seed {seed} {loss}: {} attacks",
                run.attacks
            );
            assert_eq!(
                run.forged, 0,
                "seed {seed} {loss}: forged content delivered"
            );
            let d = run.data_auth;
            assert!(
                d.missing_mac > 0 && d.bad_mac > 0 && d.replayed > 0,
                "{d:?}"
            );
            assert!(
                d.total() > run.attacks,
                "seed {seed} {loss}: each counted where heard"
            );
            assert!(
                run.routing_auth.missing_mac > 0,
                "seed {seed}: its Babel refused"
            );
            assert_eq!(
                run.checks, run.events,
                "seed {seed}: bounds checked at every event"
            );
        }
        assert_eq!(quiet.data_auth.total() + noisy[0].data_auth.total(), 0);
        println!(
            "seed {seed}: {} attacks, 0 forged delivered; lossless: floods {} and unicast \
             {:?} as without the outsider; 5 % loss: delivered {} / {} ({} / {} without); \
             data dropped {:?}; routing dropped {:?}",
            attacked.attacks,
            attacked.floods.len(),
            attacked.unicast,
            noisy[1].floods.len() as u64 + noisy[1].unicast.1,
            (floods_sent * (NODES as usize - 2)) as u64 + noisy[1].unicast.0,
            noisy[0].floods.len() as u64 + noisy[0].unicast.1,
            (floods_sent * (NODES as usize - 2)) as u64 + noisy[0].unicast.0,
            noisy[1].data_auth,
            noisy[1].routing_auth,
        );
    }
    let ratio = |(got, sent): (u64, u64)| got as f64 / sent as f64;
    let (q, a) = (ratio(quiet_lossy), ratio(attacked_lossy));
    println!("5 % loss, all seeds: delivered {a:.4} with the outsider, {q:.4} without");
    assert!(a >= q - 0.01, "{a:.4} against {q:.4}");
}
