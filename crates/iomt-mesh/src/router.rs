//! The router state machine: Babel routing, RFC 8967 MAC, and datagram forwarding.

use core::time::Duration;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::Ipv6Addr;
use std::sync::Arc;

use iomt_schema::{Instant, Precedence, ShortId};
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use ring::rand::SecureRandom;

use crate::config::{InterfaceConfig, RouterConfig};
use crate::datagram::{DatagramError, Header, Target};
use crate::flood::{DuplicateCache, FloodKey};
use crate::mac::{CHALLENGE_RATE, CHALLENGE_TIMEOUT, Freshness, INDEX_LEN, MacKey, NONCE_LEN};
use crate::neighbour::{INFINITY, LinkKind, Neighbour, Probe, rxcost};
use crate::prefix::Prefix;
use crate::queue::{Admit, PrecedenceQueue, Queued};
use crate::wire::{Ae, Packet, Tlv, WireError};

/// Babel's link-local multicast group.
pub const BABEL_MULTICAST: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 1, 6);
/// Where flooded datagrams go on a link: all nodes.
pub const DATA_MULTICAST: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

const HOUSEKEEPING: Duration = Duration::from_secs(1);
const SOURCE_GC: Duration = Duration::from_secs(180);
const REQUEST_RESEND: Duration = Duration::from_secs(1);
const REQUEST_HOPS: u8 = 64;
const PROBE_INTERVAL: Duration = Duration::from_millis(250);
const PROBE_TRIES: u8 = 3;
const MIN_DUMP_GAP: Duration = Duration::from_secs(1);

/// An interface, as returned by [`Router::add_interface`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IfaceId(pub u16);

/// Which of the router's two traffic kinds a packet belongs to. The driver carries them on
/// different UDP ports: Babel on 6696, datagrams on a port of its choosing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Channel {
    /// Babel control packets.
    Routing,
    /// Application datagrams behind the mesh header.
    Data,
}

/// A packet for the driver to send: the bytes are in the buffer passed to
/// [`Router::poll_transmit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    /// The interface to send on.
    pub iface: IfaceId,
    /// Routing or data.
    pub channel: Channel,
    /// A neighbour's link-local address, [`BABEL_MULTICAST`] or [`DATA_MULTICAST`].
    pub destination: Ipv6Addr,
}

/// A datagram that reached this device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The originator.
    pub source: ShortId,
    /// Unicast to us, or flooded.
    pub target: Target,
    /// Its precedence.
    pub precedence: Precedence,
    /// The originator's message id.
    pub message_id: u32,
    /// Hops it had left on arrival.
    pub hop_limit: u8,
    /// Lifetime it had left on arrival.
    pub lifetime: Duration,
    /// The application payload.
    pub payload: Vec<u8>,
}

/// Something the application should know.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The selected route for a prefix appeared, moved or disappeared.
    RouteChanged(Prefix),
    /// A datagram arrived for this device.
    Delivered(Delivery),
}

/// A selected route, as [`Router::routes`] shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteInfo {
    /// The destination.
    pub prefix: Prefix,
    /// The originating router.
    pub router_id: ShortId,
    /// Its sequence number.
    pub seqno: u16,
    /// The metric (0 for our own prefix).
    pub metric: u16,
    /// Interface and neighbour it goes through; `None` for our own prefix.
    pub next_hop: Option<(IfaceId, Ipv6Addr)>,
}

/// A neighbour, as [`Router::neighbours`] shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeighbourInfo {
    /// The interface it is on.
    pub iface: IfaceId,
    /// Its link-local address.
    pub address: Ipv6Addr,
    /// Hello history, most recent interval in the top bit.
    pub reach: u16,
    /// What it says it costs to hear us.
    pub txcost: u16,
    /// The link cost used in metrics.
    pub cost: u16,
}

/// Counters of what the router did with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Babel packets accepted.
    pub packets_accepted: u64,
    /// Babel packets or datagrams rejected (each also returned an error).
    pub packets_rejected: u64,
    /// TLVs ignored (unknown type or encoding, unknown mandatory sub-TLV, missing router-id,
    /// table full).
    pub tlvs_ignored: u64,
    /// Datagrams delivered to this device.
    pub delivered: u64,
    /// Datagrams sent on towards their destination (or rebroadcast).
    pub forwarded: u64,
    /// Datagrams dropped for want of a route.
    pub no_route: u64,
    /// Datagrams dropped because their hop limit ran out.
    pub hop_limit_exceeded: u64,
    /// Datagrams dropped because their lifetime ran out.
    pub expired: u64,
    /// Datagrams shed from a full queue for a more urgent one.
    pub shed: u64,
    /// Datagrams refused by a full queue.
    pub refused: u64,
    /// Flooded datagrams heard again.
    pub duplicates: u64,
    /// Rebroadcasts suppressed because enough neighbours had already rebroadcast.
    pub flood_suppressed: u64,
}

/// Why an input was rejected. The router's state is unchanged, except where noted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// The interface id was not returned by `add_interface` (local misuse).
    #[error("unknown interface {0:?}")]
    UnknownInterface(IfaceId),
    /// Babel packets must come from a link-local address (peer fault).
    #[error("source {0} is not link-local")]
    NotLinkLocal(Ipv6Addr),
    /// Malformed Babel packet (peer fault).
    #[error("malformed packet: {0}")]
    Wire(#[from] WireError),
    /// Malformed datagram (peer fault).
    #[error("malformed datagram: {0}")]
    Datagram(#[from] DatagramError),
    /// The interface requires MACs and the packet has none (peer fault).
    #[error("packet carries no MAC")]
    MissingMac,
    /// No MAC verifies under any of the interface's or neighbour's keys (peer fault or attack).
    #[error("no MAC verifies")]
    BadMac,
    /// The packet counter is not newer than the last one accepted (replay).
    #[error("replayed packet counter")]
    Replay,
    /// The neighbour's index is unknown: a challenge was sent (state: the challenge nonce).
    #[error("unverified index: neighbour challenged")]
    Unverified,
    /// The neighbour table is full (resource limit).
    #[error("neighbour table full")]
    NeighbourTableFull,
}

/// Why a datagram could not be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// No route to the destination now.
    #[error("no route to {0}")]
    NoRoute(ShortId),
    /// The datagram does not fit in the interface's packet size.
    #[error("datagram of {len} bytes exceeds {max}")]
    TooLarge {
        /// Header and payload.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The queue is full of more urgent datagrams.
    #[error("queue full")]
    QueueFull,
}

/// A configuration the router cannot use (local misuse).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// An interval of zero or over 655.35 s (Babel carries them in centiseconds).
    #[error("interval {0:?} out of range (10 ms..=655 s)")]
    Interval(Duration),
    /// A packet size too small to carry a full update.
    #[error("max packet {0} below 256 bytes")]
    PacketSize(usize),
    /// Too many interfaces.
    #[error("too many interfaces")]
    TooManyInterfaces,
    /// The interface id was not returned by `add_interface`.
    #[error("unknown interface {0:?}")]
    UnknownInterface(IfaceId),
    /// More neighbours with their own keys than the neighbour limit.
    #[error("too many neighbours with their own keys")]
    TooManyNeighbourKeys,
}

type NeighKey = (IfaceId, Ipv6Addr);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Route {
    router_id: ShortId,
    seqno: u16,
    refmetric: u16,
    expires: Instant,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct PrefixEntry {
    routes: BTreeMap<NeighKey, Route>,
    selected: Option<NeighKey>,
    /// What we last announced: (router-id, seqno, metric).
    announced: Option<(ShortId, u16, u16)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Source {
    seqno: u16,
    metric: u16,
    expires: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pending {
    seqno: u16,
    /// The neighbour it went to; `None` for multicast on every interface.
    to: Option<NeighKey>,
    hop_count: u8,
    resend_at: Instant,
    resends: u8,
    expires: Instant,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Out {
    Hello {
        seqno: u16,
        interval: u16,
    },
    Ihu {
        rxcost: u16,
        interval: u16,
        address: Ipv6Addr,
    },
    Update(Prefix),
    RouteRequest(Option<Prefix>),
    SeqnoRequest {
        prefix: Prefix,
        seqno: u16,
        hop_count: u8,
        router_id: ShortId,
    },
    AckReq {
        nonce: u16,
        interval: u16,
    },
    Ack {
        nonce: u16,
    },
    ChallengeRequest([u8; NONCE_LEN]),
    ChallengeReply(Vec<u8>),
}

struct Iface {
    cfg: InterfaceConfig,
    keys: Vec<MacKey>,
    hello_seqno: u16,
    hellos_sent: u32,
    next_hello: Instant,
    next_update: Instant,
    last_dump: Option<Instant>,
    dump: bool,
    updates: BTreeSet<Prefix>,
    multicast: Vec<Out>,
    unicast: BTreeMap<Ipv6Addr, Vec<Out>>,
    flush_at: Option<Instant>,
    index: Option<[u8; INDEX_LEN]>,
    pc: u32,
    tokens: u64,
    refilled: Instant,
}

struct PendingFlood {
    key: FloodKey,
    bytes: Vec<u8>,
    precedence: Precedence,
    deadline: Instant,
}

/// Per-packet decoding state (RFC 8966 section 4.5).
#[derive(Default)]
struct RxState {
    default_v4: Option<[u8; 4]>,
    default_v6: Option<[u8; 16]>,
    router_id: Option<ShortId>,
}

/// Per-packet encoding state, mirroring the receiver's.
#[derive(Default)]
struct TxState {
    default_v6: Option<[u8; 16]>,
    router_id: Option<ShortId>,
}

/// A sans-IO Babel router with datagram forwarding.
///
/// Drive it with [`handle_input`](Router::handle_input) for every packet received on a Babel
/// or data socket, [`handle_timeout`](Router::handle_timeout) when
/// [`poll_timeout`](Router::poll_timeout) is reached, and [`send`](Router::send) for
/// application datagrams. After each call drain it: [`poll_transmit`](Router::poll_transmit)
/// until `None` (Babel control packets first, then datagrams, most urgent first), then
/// [`poll_event`](Router::poll_event) until `None`, then read `poll_timeout` again.
pub struct Router {
    cfg: RouterConfig,
    own: Prefix,
    seqno: u16,
    ifaces: Vec<Iface>,
    neighbours: BTreeMap<NeighKey, Neighbour>,
    neighbour_keys: BTreeMap<NeighKey, Vec<MacKey>>,
    table: BTreeMap<Prefix, PrefixEntry>,
    sources: BTreeMap<(Prefix, ShortId), Source>,
    requests: BTreeMap<(Prefix, ShortId), Pending>,
    outgoing: VecDeque<(Transmit, Vec<u8>)>,
    events: VecDeque<Event>,
    queues: BTreeMap<NeighKey, PrecedenceQueue>,
    duplicates: DuplicateCache,
    floods: BTreeMap<(Instant, u64), PendingFlood>,
    flood_seq: u64,
    next_message: u32,
    housekeeping: Instant,
    jitter: Xoshiro256PlusPlus,
    random: Arc<dyn SecureRandom + Send + Sync>,
    stats: Stats,
}

fn centis(d: Duration) -> Option<u16> {
    let cs = d.as_millis() / 10;
    u16::try_from(cs).ok().filter(|cs| *cs > 0)
}

fn from_centis(cs: u16) -> Duration {
    Duration::from_millis(u64::from(cs) * 10)
}

/// `a` newer than `b` in 16-bit sequence number arithmetic.
fn seqno_newer(a: u16, b: u16) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000
}

fn is_link_local(a: Ipv6Addr) -> bool {
    a.segments().first().is_some_and(|s| s & 0xffc0 == 0xfe80)
}

impl Router {
    /// A router with no interfaces yet. `jitter_seed` seeds the generator behind timer jitter
    /// and the initial sequence number; `random` supplies RFC 8967 indices and challenge
    /// nonces (used only once MAC keys are set).
    pub fn new(
        cfg: RouterConfig,
        now: Instant,
        jitter_seed: u64,
        random: Arc<dyn SecureRandom + Send + Sync>,
    ) -> Self {
        let mut jitter = Xoshiro256PlusPlus::seed_from_u64(jitter_seed);
        let seqno = cfg
            .initial_seqno
            .unwrap_or_else(|| u16::try_from(jitter.next_u32() >> 16).unwrap_or(0));
        let next_message = jitter.next_u32();
        Self {
            own: Prefix::of(cfg.router_id),
            cfg,
            seqno,
            ifaces: Vec::new(),
            neighbours: BTreeMap::new(),
            neighbour_keys: BTreeMap::new(),
            table: BTreeMap::new(),
            sources: BTreeMap::new(),
            requests: BTreeMap::new(),
            outgoing: VecDeque::new(),
            events: VecDeque::new(),
            queues: BTreeMap::new(),
            duplicates: DuplicateCache::default(),
            floods: BTreeMap::new(),
            flood_seq: 0,
            next_message,
            housekeeping: now + HOUSEKEEPING,
            jitter,
            random,
            stats: Stats::default(),
        }
    }

    /// Starts Babel on a new interface: a wildcard route request and a Hello go out at once.
    pub fn add_interface(
        &mut self,
        now: Instant,
        cfg: InterfaceConfig,
    ) -> Result<IfaceId, ConfigError> {
        for d in [cfg.hello_interval, cfg.update_interval] {
            if centis(d).is_none() {
                return Err(ConfigError::Interval(d));
            }
        }
        if cfg.max_packet < 256 {
            return Err(ConfigError::PacketSize(cfg.max_packet));
        }
        let id =
            IfaceId(u16::try_from(self.ifaces.len()).map_err(|_| ConfigError::TooManyInterfaces)?);
        let update_phase = self.jitter_up_to(cfg.update_interval);
        self.ifaces.push(Iface {
            next_hello: now,
            next_update: now + update_phase,
            hello_seqno: u16::try_from(self.jitter.next_u32() >> 16).unwrap_or(0),
            hellos_sent: 0,
            last_dump: None,
            dump: false,
            updates: BTreeSet::new(),
            multicast: vec![Out::RouteRequest(None)],
            unicast: BTreeMap::new(),
            flush_at: Some(now),
            index: None,
            pc: 0,
            tokens: 0,
            refilled: now,
            keys: Vec::new(),
            cfg,
        });
        Ok(id)
    }

    /// Sets the MAC keys of an interface (RFC 8967): every packet sent carries one MAC per
    /// key, and packets received must verify under one of them. An empty list turns MACs off.
    pub fn set_interface_keys(&mut self, iface: IfaceId, keys: Vec<MacKey>) {
        if let Some(i) = self.ifaces.get_mut(usize::from(iface.0)) {
            i.keys = keys;
        }
    }

    /// Sets the MAC keys for one neighbour (from a transport session, say): its packets must
    /// verify under one of them instead of the interface's keys, unicast packets to it carry
    /// MACs under them, and multicast packets on the interface carry one MAC per key of every
    /// such neighbour as well as the interface's. An empty list removes them. At most
    /// `limits.neighbours` neighbours can have keys.
    pub fn set_neighbour_keys(
        &mut self,
        iface: IfaceId,
        neighbour: Ipv6Addr,
        keys: Vec<MacKey>,
    ) -> Result<(), ConfigError> {
        if self.ifaces.get(usize::from(iface.0)).is_none() {
            return Err(ConfigError::UnknownInterface(iface));
        }
        let key = (iface, neighbour);
        if keys.is_empty() {
            self.neighbour_keys.remove(&key);
            return Ok(());
        }
        if !self.neighbour_keys.contains_key(&key)
            && self.neighbour_keys.len() >= self.cfg.limits.neighbours
        {
            return Err(ConfigError::TooManyNeighbourKeys);
        }
        self.neighbour_keys.insert(key, keys);
        Ok(())
    }

    /// Our router-id.
    pub fn router_id(&self) -> ShortId {
        self.cfg.router_id
    }

    /// Our current sequence number.
    pub fn seqno(&self) -> u16 {
        self.seqno
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The selected route for `prefix` (our own prefix included).
    pub fn route(&self, prefix: &Prefix) -> Option<RouteInfo> {
        if *prefix == self.own {
            return Some(RouteInfo {
                prefix: self.own,
                router_id: self.cfg.router_id,
                seqno: self.seqno,
                metric: 0,
                next_hop: None,
            });
        }
        let entry = self.table.get(prefix)?;
        let key = entry.selected?;
        let route = entry.routes.get(&key)?;
        Some(RouteInfo {
            prefix: *prefix,
            router_id: route.router_id,
            seqno: route.seqno,
            metric: self.metric(key, route),
            next_hop: Some(key),
        })
    }

    /// The next hop towards a device, if there is a route.
    pub fn next_hop(&self, dest: ShortId) -> Option<(IfaceId, Ipv6Addr)> {
        self.route(&Prefix::of(dest))?.next_hop
    }

    /// All selected routes, our own first.
    pub fn routes(&self) -> Vec<RouteInfo> {
        core::iter::once(self.own)
            .chain(self.table.keys().copied())
            .filter_map(|p| self.route(&p))
            .collect()
    }

    /// All neighbours.
    pub fn neighbours(&self) -> Vec<NeighbourInfo> {
        self.neighbours
            .iter()
            .map(|(&(iface, address), n)| NeighbourInfo {
                iface,
                address,
                reach: n.history.reach,
                txcost: n.txcost,
                cost: n.cost,
            })
            .collect()
    }

    /// Number of source-table entries.
    pub fn sources(&self) -> usize {
        self.sources.len()
    }

    /// Handles a packet received on `iface` from `from` (a link-local address) sent to `to`
    /// (the multicast group or our address; it is part of the MAC pseudo-header).
    pub fn handle_input(
        &mut self,
        now: Instant,
        iface: IfaceId,
        channel: Channel,
        from: Ipv6Addr,
        to: Ipv6Addr,
        data: &[u8],
    ) -> Result<(), InputError> {
        let result = match channel {
            Channel::Routing => self.handle_babel(now, iface, from, to, data),
            Channel::Data => self.handle_datagram(now, iface, data),
        };
        match &result {
            Ok(()) => self.stats.packets_accepted += u64::from(channel == Channel::Routing),
            Err(_) => self.stats.packets_rejected += 1,
        }
        result
    }

    /// Sends an application datagram with the given precedence and lifetime; returns its
    /// message id.
    pub fn send(
        &mut self,
        now: Instant,
        target: Target,
        precedence: Precedence,
        lifetime: Duration,
        payload: &[u8],
    ) -> Result<u32, SendError> {
        let message_id = self.next_message;
        self.next_message = self.next_message.wrapping_add(1);
        let header = Header {
            target,
            hop_limit: self.cfg.hop_limit,
            precedence,
            lifetime,
            source: self.cfg.router_id,
            message_id,
        };
        let mut bytes = Vec::with_capacity(header.len() + payload.len());
        header.write(&mut bytes);
        bytes.extend_from_slice(payload);
        let deadline = now + lifetime;
        match target {
            Target::Unicast(dest) if dest == self.cfg.router_id => {
                self.deliver(header, payload);
                Ok(message_id)
            }
            Target::Unicast(dest) => {
                let Some(hop) = self.next_hop(dest) else {
                    self.stats.no_route += 1;
                    return Err(SendError::NoRoute(dest));
                };
                self.check_size(hop.0, bytes.len())?;
                match self.enqueue(hop, bytes, precedence, deadline) {
                    Admit::Refused(_) => Err(SendError::QueueFull),
                    _ => Ok(message_id),
                }
            }
            Target::Flood => {
                let key = (self.cfg.router_id, message_id);
                let (ttl, cap) = (self.cfg.duplicate_ttl, self.cfg.limits.duplicate_cache);
                self.duplicates.first_sighting(key, now, ttl, cap);
                for i in 0..self.ifaces.len() {
                    let id = IfaceId(u16::try_from(i).unwrap_or(u16::MAX));
                    self.check_size(id, bytes.len())?;
                    self.enqueue((id, DATA_MULTICAST), bytes.clone(), precedence, deadline);
                }
                Ok(message_id)
            }
        }
    }

    /// The next packet to send, written into `buf` (cleared first). Babel packets come before
    /// datagrams; datagrams go most urgent first, within each interface's pacing rate.
    #[must_use]
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<Transmit> {
        buf.clear();
        if let Some((t, bytes)) = self.outgoing.pop_front() {
            buf.extend_from_slice(&bytes);
            return Some(t);
        }
        self.poll_datagram(now, buf)
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Router::handle_timeout) is next due; `None` with no interfaces.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.ifaces.is_empty() {
            return None;
        }
        let mut t = self.housekeeping;
        for i in &self.ifaces {
            t = t.min(i.next_hello).min(i.next_update);
            if let Some(f) = i.flush_at {
                t = t.min(f);
            }
        }
        for n in self.neighbours.values() {
            for d in [
                n.history.deadline(),
                n.probe.map(|p| p.next),
                n.ihu_deadline(),
            ]
            .into_iter()
            .flatten()
            {
                t = t.min(d);
            }
        }
        if let Some(&(at, _)) = self.floods.keys().next() {
            t = t.min(at);
        }
        if let Some(at) = self.pacing_deadline() {
            t = t.min(at);
        }
        Some(t)
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        for i in 0..self.ifaces.len() {
            self.iface_timers(now, IfaceId(u16::try_from(i).unwrap_or(u16::MAX)));
        }
        self.neighbour_timers(now);
        if now >= self.housekeeping {
            self.housekeeping = now + HOUSEKEEPING;
            self.expire(now);
        }
        self.flood_timers(now);
        for i in 0..self.ifaces.len() {
            let id = IfaceId(u16::try_from(i).unwrap_or(u16::MAX));
            if self
                .ifaces
                .get(i)
                .and_then(|f| f.flush_at)
                .is_some_and(|f| f <= now)
            {
                self.flush(now, id);
            }
        }
    }

    // ----- Babel input -----

    fn handle_babel(
        &mut self,
        now: Instant,
        iface: IfaceId,
        from: Ipv6Addr,
        to: Ipv6Addr,
        data: &[u8],
    ) -> Result<(), InputError> {
        let Some(ifc) = self.ifaces.get(usize::from(iface.0)) else {
            return Err(InputError::UnknownInterface(iface));
        };
        if !is_link_local(from) {
            return Err(InputError::NotLinkLocal(from));
        }
        let packet = Packet::parse(data)?;
        let key = (iface, from);
        // A neighbour's own keys, when set, replace the interface's for its packets.
        let keys = self
            .neighbour_keys
            .get(&key)
            .map_or(ifc.keys.as_slice(), Vec::as_slice);
        if !keys.is_empty() {
            let macs = packet.trailer.iter().filter_map(|t| match t {
                Tlv::Mac(m) => Some(*m),
                _ => None,
            });
            let mut any = false;
            let mut ok = false;
            for mac in macs {
                any = true;
                ok |= keys
                    .iter()
                    .any(|k| k.verify(from, to, packet.authenticated, mac));
            }
            if !any {
                return Err(InputError::MissingMac);
            }
            if !ok {
                return Err(InputError::BadMac);
            }
            self.neighbour_entry(now, key)?;
            self.check_freshness(now, key, to, &packet)?;
        } else {
            self.neighbour_entry(now, key)?;
        }
        self.process(now, key, &packet);
        Ok(())
    }

    fn neighbour_entry(&mut self, now: Instant, key: NeighKey) -> Result<(), InputError> {
        if self.neighbours.contains_key(&key) {
            return Ok(());
        }
        if self.neighbours.len() >= self.cfg.limits.neighbours {
            return Err(InputError::NeighbourTableFull);
        }
        self.neighbours.insert(key, Neighbour::new(now));
        Ok(())
    }

    fn check_freshness(
        &mut self,
        now: Instant,
        key: NeighKey,
        to: Ipv6Addr,
        packet: &Packet<'_>,
    ) -> Result<(), InputError> {
        let multicast = to.is_multicast();
        let mut pc = None;
        let mut request = None;
        let mut reply = None;
        for tlv in &packet.body {
            match tlv {
                Tlv::Pc { pc: c, index } if pc.is_none() => pc = Some((*c, *index)),
                Tlv::ChallengeRequest(n) if !multicast && n.len() <= 192 => request = Some(*n),
                Tlv::ChallengeReply(n) => reply = Some(*n),
                _ => {}
            }
        }
        let Some(n) = self.neighbours.get_mut(&key) else {
            return Err(InputError::NeighbourTableFull);
        };
        let verdict = n.replay.check(now, pc, reply, multicast);
        if verdict == Freshness::Replayed {
            return Err(InputError::Replay);
        }
        if let Some(nonce) = request
            && now >= n.replay.next_reply
        {
            n.replay.next_reply = now + CHALLENGE_RATE;
            self.push_unicast(now, key, Out::ChallengeReply(nonce.to_vec()));
        }
        if verdict == Freshness::Unverified {
            self.challenge(now, key);
            return Err(InputError::Unverified);
        }
        Ok(())
    }

    fn challenge(&mut self, now: Instant, key: NeighKey) {
        let Some(n) = self.neighbours.get_mut(&key) else {
            return;
        };
        if now < n.replay.next_request {
            return;
        }
        let mut nonce = [0u8; NONCE_LEN];
        if self.random.fill(&mut nonce).is_err() {
            return;
        }
        n.replay.next_request = now + CHALLENGE_RATE;
        n.replay.nonce = Some((nonce, now + CHALLENGE_TIMEOUT));
        self.push_unicast(now, key, Out::ChallengeRequest(nonce));
    }

    fn process(&mut self, now: Instant, key: NeighKey, packet: &Packet<'_>) {
        let mut st = RxState::default();
        let before = self.neighbours.get(&key).map(|n| n.cost);
        for tlv in &packet.body {
            if tlv.sub_tlvs().has_unknown_mandatory() {
                self.stats.tlvs_ignored += 1;
                continue;
            }
            match *tlv {
                Tlv::AckReq {
                    nonce, interval, ..
                } => {
                    self.push_unicast(now, key, Out::Ack { nonce });
                    let _ = interval;
                }
                Tlv::Ack { nonce, .. } => {
                    if let Some(n) = self.neighbours.get_mut(&key)
                        && n.probe.is_some_and(|p| p.nonce == nonce)
                    {
                        n.probe = None;
                        n.unreachable = false;
                    }
                }
                Tlv::Hello {
                    flags,
                    seqno,
                    interval,
                    ..
                } => {
                    // Unicast Hellos are ignored for link quality (RFC 8966 section 3.4.1
                    // allows it); babeld sends them only in unicast mode.
                    if flags & 0x8000 == 0
                        && let Some(n) = self.neighbours.get_mut(&key)
                    {
                        n.history.hello(now, seqno, from_centis(interval));
                        n.unreachable = false;
                        n.probe = None;
                    }
                }
                Tlv::Ihu {
                    ae,
                    rxcost,
                    interval,
                    address,
                    ..
                } => self.ihu(now, key, ae, rxcost, interval, address),
                Tlv::RouterId { router_id, .. } => st.router_id = Some(router_id),
                Tlv::Update {
                    ae,
                    flags,
                    plen,
                    omitted,
                    interval,
                    seqno,
                    metric,
                    prefix,
                    ..
                } => {
                    let wire = WireUpdate {
                        ae,
                        flags,
                        plen,
                        omitted,
                        prefix,
                    };
                    match decode_prefix(&mut st, &wire) {
                        Some(Decoded::Route(p)) => {
                            let rid = st.router_id;
                            self.update(now, key, p, rid, seqno, metric, interval);
                        }
                        Some(Decoded::RetractAll) => self.retract_all(now, key),
                        None => self.stats.tlvs_ignored += 1,
                    }
                }
                Tlv::RouteRequest {
                    ae, plen, prefix, ..
                } => match ae {
                    Ae::Wildcard => self.request_dump(now, key.0),
                    _ => match full_prefix(ae, plen, prefix) {
                        Some(p) => self.queue_update(now, key.0, p, true),
                        None => self.stats.tlvs_ignored += 1,
                    },
                },
                Tlv::SeqnoRequest {
                    ae,
                    plen,
                    seqno,
                    hop_count,
                    router_id,
                    prefix,
                    ..
                } => match full_prefix(ae, plen, prefix) {
                    Some(p) => self.seqno_request(now, key, p, seqno, hop_count, router_id),
                    None => self.stats.tlvs_ignored += 1,
                },
                Tlv::Unknown { .. } => self.stats.tlvs_ignored += 1,
                Tlv::Pad1
                | Tlv::PadN(_)
                | Tlv::NextHop { .. }
                | Tlv::Pc { .. }
                | Tlv::ChallengeRequest(_)
                | Tlv::ChallengeReply(_)
                | Tlv::Mac(_) => {}
            }
        }
        let after = self.refresh_cost(key);
        if before != Some(after) {
            self.cost_changed(now, key, before.unwrap_or(INFINITY), after);
        }
    }

    fn ihu(
        &mut self,
        now: Instant,
        key: NeighKey,
        ae: Ae,
        rxcost: u16,
        interval: u16,
        address: &[u8],
    ) {
        let Some(ifc) = self.ifaces.get(usize::from(key.0.0)) else {
            return;
        };
        let ours = ifc.cfg.link_local.octets();
        let for_us = match ae {
            Ae::Wildcard => true,
            Ae::Ipv6 => address == ours.as_slice(),
            Ae::LinkLocal => {
                ours.get(8..) == Some(address)
                    && ours.get(..8) == Some(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0][..])
            }
            Ae::Ipv4 | Ae::V4ViaV6 => false,
        };
        if !for_us {
            return;
        }
        if let Some(n) = self.neighbours.get_mut(&key) {
            n.txcost = rxcost;
            n.ihu_time = now;
            n.ihu_interval = from_centis(interval);
        }
    }

    fn refresh_cost(&mut self, key: NeighKey) -> u16 {
        let Some(ifc) = self.ifaces.get(usize::from(key.0.0)) else {
            return INFINITY;
        };
        let (kind, nominal) = (ifc.cfg.kind, ifc.cfg.rxcost);
        let Some(n) = self.neighbours.get_mut(&key) else {
            return INFINITY;
        };
        n.cost = n.compute_cost(kind, nominal);
        n.cost
    }

    fn cost_changed(&mut self, now: Instant, key: NeighKey, before: u16, after: u16) {
        if before == INFINITY && after != INFINITY {
            // A new usable neighbour: tell it everything soon.
            self.request_dump(now, key.0);
        }
        let affected: Vec<Prefix> = self
            .table
            .iter()
            .filter(|(_, e)| e.routes.contains_key(&key))
            .map(|(p, _)| *p)
            .collect();
        for p in affected {
            self.select(now, p);
        }
    }

    // ----- routes -----

    fn metric(&self, key: NeighKey, route: &Route) -> u16 {
        let cost = self.neighbours.get(&key).map_or(INFINITY, |n| n.cost);
        if route.refmetric == INFINITY || cost == INFINITY {
            return INFINITY;
        }
        route.refmetric.saturating_add(cost)
    }

    fn feasible(&self, prefix: Prefix, router_id: ShortId, seqno: u16, refmetric: u16) -> bool {
        if refmetric == INFINITY {
            return true;
        }
        match self.sources.get(&(prefix, router_id)) {
            None => self.sources.len() < self.cfg.limits.sources,
            Some(s) => seqno_newer(seqno, s.seqno) || (seqno == s.seqno && refmetric < s.metric),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn update(
        &mut self,
        now: Instant,
        key: NeighKey,
        prefix: Prefix,
        router_id: Option<ShortId>,
        seqno: u16,
        metric: u16,
        interval: u16,
    ) {
        if prefix == self.own {
            return;
        }
        let exists = self
            .table
            .get(&prefix)
            .is_some_and(|e| e.routes.contains_key(&key));
        if metric == INFINITY {
            if exists {
                if let Some(e) = self.table.get_mut(&prefix) {
                    e.routes.remove(&key);
                }
                self.select(now, prefix);
            }
            return;
        }
        let Some(router_id) = router_id else {
            self.stats.tlvs_ignored += 1;
            return;
        };
        let feasible = self.feasible(prefix, router_id, seqno, metric);
        if !feasible {
            let selected = self.table.get(&prefix).and_then(|e| {
                e.selected
                    .filter(|k| *k == key)
                    .and_then(|k| e.routes.get(&k))
            });
            if let Some(r) = selected.filter(|r| r.router_id == router_id) {
                // RFC 8966 section 3.5.3: an unfeasible update from the same source for the
                // selected route may be ignored. The stored route stays feasible (so no loop
                // can form); once it is old (a third of its hold time left) a newer seqno is
                // requested, as babeld does, so it is replaced before it expires.
                let hold = from_centis(interval).max(Duration::from_millis(100)) * 7 / 2;
                if r.expires.saturating_duration_since(now) < hold / 3 {
                    let wanted = self.wanted_seqno(prefix, router_id, seqno);
                    self.send_seqno_request(
                        now,
                        Some(key),
                        prefix,
                        router_id,
                        wanted,
                        REQUEST_HOPS,
                    );
                }
                return;
            }
            self.unfeasible_request(now, key, prefix, router_id, seqno, metric);
            if !exists {
                return;
            }
        }
        if !self.table.contains_key(&prefix) && self.table.len() >= self.cfg.limits.prefixes {
            self.stats.tlvs_ignored += 1;
            return;
        }
        let hold = from_centis(interval).max(Duration::from_millis(100)) * 7 / 2;
        let entry = self.table.entry(prefix).or_default();
        entry.routes.insert(
            key,
            Route {
                router_id,
                seqno,
                refmetric: metric,
                expires: now + hold,
            },
        );
        if let Some(p) = self.requests.get(&(prefix, router_id))
            && !seqno_newer(p.seqno, seqno)
        {
            self.requests.remove(&(prefix, router_id));
        }
        self.select(now, prefix);
    }

    fn retract_all(&mut self, now: Instant, key: NeighKey) {
        let affected: Vec<Prefix> = self
            .table
            .iter_mut()
            .filter_map(|(p, e)| e.routes.remove(&key).map(|_| *p))
            .collect();
        for p in affected {
            self.select(now, p);
        }
    }

    /// Re-runs route selection for `prefix`; announces and reports any change.
    fn select(&mut self, now: Instant, prefix: Prefix) {
        let Some(entry) = self.table.get(&prefix) else {
            return;
        };
        let candidates: Vec<(NeighKey, u16)> = entry
            .routes
            .iter()
            .filter(|(_, r)| self.feasible(prefix, r.router_id, r.seqno, r.refmetric))
            .map(|(k, r)| (*k, self.metric(*k, r)))
            .filter(|(_, m)| *m < INFINITY)
            .collect();
        let current = entry
            .selected
            .and_then(|k| candidates.iter().find(|(c, _)| *c == k).copied());
        let best = candidates.iter().min_by_key(|(k, m)| (*m, *k)).copied();
        let chosen = match (current, best) {
            (Some(cur), Some(b)) if b.1.saturating_add(self.cfg.switch_hysteresis) >= cur.1 => {
                Some(cur)
            }
            (_, b) => b,
        };
        let previous = entry.selected;
        let lost = entry.announced.filter(|_| chosen.is_none());
        let announce =
            chosen.and_then(|(k, m)| entry.routes.get(&k).map(|r| (r.router_id, r.seqno, m)));
        let significant = match (entry.announced, announce) {
            (Some((r0, s0, m0)), Some((r1, s1, m1))) => {
                worth_announcing(r0 != r1 || s0 != s1, m0, m1)
            }
            (None, None) => None,
            (Some(_), None) => Some(true),
            (None, Some(_)) => Some(false),
        };
        let Some(entry) = self.table.get_mut(&prefix) else {
            return;
        };
        entry.selected = chosen.map(|(k, _)| k);
        if previous != entry.selected {
            self.events.push_back(Event::RouteChanged(prefix));
        }
        if let Some(urgent) = significant {
            entry.announced = announce;
            self.queue_update_all(now, prefix, urgent);
        }
        if let Some((rid, seqno, _)) = lost {
            // Lost the route: retract it (done by the update above) and ask for a newer seqno
            // so an unfeasible alternative can become feasible.
            self.send_seqno_request(now, None, prefix, rid, seqno.wrapping_add(1), REQUEST_HOPS);
        }
        let empty = self
            .table
            .get(&prefix)
            .is_some_and(|e| e.routes.is_empty() && e.selected.is_none() && e.announced.is_none());
        if empty {
            self.table.remove(&prefix);
        }
    }

    fn unfeasible_request(
        &mut self,
        now: Instant,
        key: NeighKey,
        prefix: Prefix,
        router_id: ShortId,
        seqno: u16,
        refmetric: u16,
    ) {
        let cost = self.neighbours.get(&key).map_or(INFINITY, |n| n.cost);
        let metric = refmetric.saturating_add(cost);
        // As babeld: only when there is no route, or this one would be much better (by 512,
        // two wireless hops). Unlike babeld, also for a source far behind (one that lost its
        // seqno in a reboot): asking is how it recovers a newer one.
        let better = match self.route(&prefix) {
            None => true,
            Some(r) => metric.saturating_add(512) <= r.metric,
        };
        let wanted = self.wanted_seqno(prefix, router_id, seqno);
        if better && cost < INFINITY && !seqno_newer(seqno, wanted) {
            self.send_seqno_request(now, Some(key), prefix, router_id, wanted, REQUEST_HOPS);
        }
    }

    /// The seqno that would make routes from `router_id` feasible again: one past the
    /// source table's.
    fn wanted_seqno(&self, prefix: Prefix, router_id: ShortId, seqno: u16) -> u16 {
        self.sources
            .get(&(prefix, router_id))
            .map_or(seqno, |s| s.seqno)
            .wrapping_add(1)
    }

    fn seqno_request(
        &mut self,
        now: Instant,
        from: NeighKey,
        prefix: Prefix,
        seqno: u16,
        hop_count: u8,
        router_id: ShortId,
    ) {
        if prefix == self.own {
            if router_id == self.cfg.router_id && seqno_newer(seqno, self.seqno) {
                self.seqno = seqno;
            }
            self.queue_update_all(now, prefix, true);
            return;
        }
        let Some(route) = self.route(&prefix) else {
            return;
        };
        if route.router_id == router_id && !seqno_newer(seqno, route.seqno) {
            self.queue_update(now, from.0, prefix, true);
            return;
        }
        let Some(next) = route.next_hop else {
            return;
        };
        if hop_count >= 2 && next != from {
            self.send_seqno_request(now, Some(next), prefix, router_id, seqno, hop_count - 1);
        }
    }

    /// Sends a seqno request (to one neighbour, or multicast on every interface), once per
    /// (prefix, router-id, seqno) while it is outstanding.
    fn send_seqno_request(
        &mut self,
        now: Instant,
        to: Option<NeighKey>,
        prefix: Prefix,
        router_id: ShortId,
        seqno: u16,
        hop_count: u8,
    ) {
        if let Some(p) = self.requests.get(&(prefix, router_id))
            && !seqno_newer(seqno, p.seqno)
            && now < p.expires
        {
            return;
        }
        if !self.requests.contains_key(&(prefix, router_id))
            && self.requests.len() >= self.cfg.limits.requests
        {
            return;
        }
        self.requests.insert(
            (prefix, router_id),
            Pending {
                seqno,
                to,
                hop_count,
                resend_at: now + REQUEST_RESEND,
                resends: 2,
                expires: now + REQUEST_RESEND * 3,
            },
        );
        let out = Out::SeqnoRequest {
            prefix,
            seqno,
            hop_count,
            router_id,
        };
        match to {
            Some(key) => self.push_unicast(now, key, out),
            None => {
                for i in 0..self.ifaces.len() {
                    self.push_multicast(
                        now,
                        IfaceId(u16::try_from(i).unwrap_or(u16::MAX)),
                        out.clone(),
                    );
                }
            }
        }
    }

    /// Schedules an update for `prefix` on `iface`: urgent ones (retractions, new sources or
    /// seqnos, answers to requests) within the update jitter, others within half a Hello
    /// interval, as babeld buffers them, so that they share packets.
    fn queue_update(&mut self, now: Instant, iface: IfaceId, prefix: Prefix, urgent: bool) {
        let window = match self.ifaces.get(usize::from(iface.0)) {
            Some(i) if !urgent => i.cfg.hello_interval / 2,
            _ => self.cfg.update_jitter,
        };
        let delay = self.jitter_up_to(window);
        if let Some(i) = self.ifaces.get_mut(usize::from(iface.0)) {
            i.updates.insert(prefix);
            let at = now + delay;
            i.flush_at = Some(i.flush_at.map_or(at, |f| f.min(at)));
        }
    }

    fn queue_update_all(&mut self, now: Instant, prefix: Prefix, urgent: bool) {
        for i in 0..self.ifaces.len() {
            self.queue_update(
                now,
                IfaceId(u16::try_from(i).unwrap_or(u16::MAX)),
                prefix,
                urgent,
            );
        }
    }

    fn request_dump(&mut self, now: Instant, iface: IfaceId) {
        let delay = self.jitter_up_to(self.cfg.update_jitter);
        let Some(i) = self.ifaces.get_mut(usize::from(iface.0)) else {
            return;
        };
        let at = match i.last_dump {
            Some(last) if now < last + MIN_DUMP_GAP => last + MIN_DUMP_GAP,
            _ => now + delay,
        };
        i.dump = true;
        i.flush_at = Some(i.flush_at.map_or(at, |f| f.min(at)));
    }

    // ----- timers -----

    fn iface_timers(&mut self, now: Instant, id: IfaceId) {
        // Hellos drift by up to an eighth of the interval either way, so neighbours started
        // together do not stay in lockstep; the receiver's slack is half an interval.
        let hello_interval = self
            .ifaces
            .get(usize::from(id.0))
            .map_or(Duration::ZERO, |i| i.cfg.hello_interval);
        let drift = self.jitter_up_to(hello_interval / 4);
        let Some(i) = self.ifaces.get_mut(usize::from(id.0)) else {
            return;
        };
        if now >= i.next_hello {
            i.hello_seqno = i.hello_seqno.wrapping_add(1);
            i.hellos_sent = i.hellos_sent.wrapping_add(1);
            let hello = centis(i.cfg.hello_interval).unwrap_or(u16::MAX);
            i.multicast.push(Out::Hello {
                seqno: i.hello_seqno,
                interval: hello,
            });
            i.next_hello = now + (i.cfg.hello_interval - i.cfg.hello_interval / 8 + drift);
            i.flush_at = Some(now);
            let full = i.hellos_sent % 3 == 1;
            let ihu_interval = hello.saturating_mul(3);
            let ihus: Vec<Out> = self
                .neighbours
                .range((id, Ipv6Addr::UNSPECIFIED)..=(id, Ipv6Addr::from(u128::MAX)))
                .filter(|(_, n)| full || n.txcost >= 384 || n.history.reach & 0xf000 != 0xf000)
                .map(|(&(_, address), n)| Out::Ihu {
                    rxcost: rxcost(&n.history, i.cfg.kind, i.cfg.rxcost),
                    interval: ihu_interval,
                    address,
                })
                .collect();
            i.multicast.extend(ihus);
        }
        if now >= i.next_update {
            i.next_update = now + i.cfg.update_interval;
            i.dump = true;
            i.flush_at = Some(now);
        }
    }

    fn neighbour_timers(&mut self, now: Instant) {
        let keys: Vec<NeighKey> = self.neighbours.keys().copied().collect();
        for key in keys {
            let fast = self
                .ifaces
                .get(usize::from(key.0.0))
                .is_some_and(|i| i.cfg.fast_failure_detection);
            let Some(n) = self.neighbours.get_mut(&key) else {
                continue;
            };
            let before = n.cost;
            let missed = n.history.check(now);
            if n.ihu_deadline().is_some_and(|d| now >= d) {
                n.txcost = INFINITY;
            }
            let mut probe = None;
            if missed
                && fast
                && n.probe.is_none()
                && !n.unreachable
                && n.history.reach & 0x8000 == 0
            {
                let nonce = u16::try_from(self.jitter.next_u32() >> 16).unwrap_or(0);
                n.probe = Some(Probe {
                    nonce,
                    sent: 1,
                    next: now + PROBE_INTERVAL,
                });
                probe = Some(nonce);
            } else if let Some(p) = n.probe.as_mut().filter(|p| now >= p.next) {
                if p.sent >= PROBE_TRIES {
                    n.probe = None;
                    n.unreachable = true;
                } else {
                    p.sent += 1;
                    p.next = now + PROBE_INTERVAL;
                    probe = Some(p.nonce);
                }
            }
            // A neighbour that never got a Hello through (it is being challenged, say) is
            // kept as long as a challenge may take; one whose Hellos all stopped goes now.
            let silent = match n.history.seqno {
                Some(_) => n.history.reach == 0,
                None => now >= n.history.time + CHALLENGE_TIMEOUT,
            };
            if silent {
                self.neighbours.remove(&key);
                self.queues.remove(&key);
                self.retract_all(now, key);
                continue;
            }
            if let Some(nonce) = probe {
                let interval = centis(PROBE_INTERVAL).unwrap_or(25);
                self.push_unicast(now, key, Out::AckReq { nonce, interval });
            }
            let after = self.refresh_cost(key);
            if after != before {
                self.cost_changed(now, key, before, after);
            }
        }
    }

    fn expire(&mut self, now: Instant) {
        let mut touched = Vec::new();
        for (p, e) in &mut self.table {
            let before = e.routes.len();
            e.routes.retain(|_, r| r.expires > now);
            if e.routes.len() != before {
                touched.push(*p);
            }
        }
        for p in touched {
            self.select(now, p);
        }
        self.sources.retain(|_, s| s.expires > now);
        let mut resend = Vec::new();
        self.requests.retain(|k, p| {
            if now >= p.resend_at && p.resends > 0 {
                p.resends -= 1;
                p.resend_at = now + REQUEST_RESEND;
                p.expires = p.expires.max(now + REQUEST_RESEND * 2);
                resend.push((*k, *p));
            }
            p.expires > now
        });
        // Requests are resent hop by hop until answered: on lossy links a multi-hop request
        // would otherwise rarely arrive.
        for ((prefix, router_id), p) in resend {
            let satisfied = self
                .route(&prefix)
                .is_some_and(|r| r.router_id == router_id && !seqno_newer(p.seqno, r.seqno));
            if satisfied {
                continue;
            }
            let out = Out::SeqnoRequest {
                prefix,
                seqno: p.seqno,
                hop_count: p.hop_count,
                router_id,
            };
            match p.to {
                Some(key) if self.neighbours.contains_key(&key) => self.push_unicast(now, key, out),
                Some(_) => {}
                None => {
                    for i in 0..self.ifaces.len() {
                        self.push_multicast(
                            now,
                            IfaceId(u16::try_from(i).unwrap_or(u16::MAX)),
                            out.clone(),
                        );
                    }
                }
            }
        }
    }

    // ----- output -----

    /// Queues a TLV for the interface's next multicast packet. Requests wait up to the
    /// update jitter so that several share a packet with the triggered updates they cause.
    fn push_multicast(&mut self, now: Instant, iface: IfaceId, out: Out) {
        let at = now + self.jitter_up_to(self.cfg.update_jitter);
        if let Some(i) = self.ifaces.get_mut(usize::from(iface.0)) {
            i.multicast.push(out);
            i.flush_at = Some(i.flush_at.map_or(at, |f| f.min(at)));
        }
    }

    /// Queues a TLV for a neighbour. Acks and challenge replies go at once (the sender is
    /// waiting); requests wait like multicast ones.
    fn push_unicast(&mut self, now: Instant, key: NeighKey, out: Out) {
        let at = match out {
            Out::SeqnoRequest { .. } => now + self.jitter_up_to(self.cfg.update_jitter),
            _ => now,
        };
        if let Some(i) = self.ifaces.get_mut(usize::from(key.0.0)) {
            i.unicast.entry(key.1).or_default().push(out);
            i.flush_at = Some(i.flush_at.map_or(at, |f| f.min(at)));
        }
    }

    /// Turns an interface's pending TLVs into packets.
    fn flush(&mut self, now: Instant, id: IfaceId) {
        let Some(i) = self.ifaces.get_mut(usize::from(id.0)) else {
            return;
        };
        i.flush_at = None;
        let mut multicast = core::mem::take(&mut i.multicast);
        let unicast = core::mem::take(&mut i.unicast);
        let mut prefixes = core::mem::take(&mut i.updates);
        if core::mem::take(&mut i.dump) {
            i.last_dump = Some(now);
            prefixes.insert(self.own);
            prefixes.extend(
                self.table
                    .iter()
                    .filter(|(_, e)| e.selected.is_some())
                    .map(|(p, _)| *p),
            );
        }
        // Hellos and IHUs first, so a receiver learns the link before the routes over it.
        multicast.sort_by_key(|o| match o {
            Out::Hello { .. } => 0,
            Out::Ihu { .. } => 1,
            _ => 2,
        });
        multicast.extend(prefixes.into_iter().map(Out::Update));
        if !multicast.is_empty() {
            self.emit(now, id, BABEL_MULTICAST, multicast);
        }
        for (addr, outs) in unicast {
            self.emit(now, id, addr, outs);
        }
    }

    /// Encodes `outs` into as many packets as needed and queues them.
    fn emit(&mut self, now: Instant, id: IfaceId, dst: Ipv6Addr, outs: Vec<Out>) {
        let Some(i) = self.ifaces.get(usize::from(id.0)) else {
            return;
        };
        let keys = self.signing_keys(id, dst).len();
        // Header, PC TLV (14 bytes) and one 34-byte MAC TLV per key.
        let overhead = 4 + if keys > 0 { 14 + keys * 34 } else { 0 };
        let limit = i.cfg.max_packet.saturating_sub(overhead);
        let mut tlvs: Vec<Vec<u8>> = Vec::new();
        let mut st = TxState::default();
        let mut packets: Vec<Vec<Vec<u8>>> = Vec::new();
        let mut size = 0;
        for out in &outs {
            let mut encoded = self.encode_out(now, id, out, &mut st);
            let len: usize = encoded.iter().map(Vec::len).sum();
            if len == 0 {
                continue;
            }
            if size + len > limit && !tlvs.is_empty() {
                packets.push(core::mem::take(&mut tlvs));
                size = 0;
                st = TxState::default();
                encoded = self.encode_out(now, id, out, &mut st);
            }
            size += encoded.iter().map(Vec::len).sum::<usize>();
            tlvs.extend(encoded);
        }
        if !tlvs.is_empty() {
            packets.push(tlvs);
        }
        for body in packets {
            self.seal(id, dst, body);
        }
    }

    /// The keys a packet from us to `dst` on `id` is signed with: a neighbour's own keys for
    /// unicast to it, else the interface's; multicast adds every keyed neighbour's.
    fn signing_keys(&self, id: IfaceId, dst: Ipv6Addr) -> Vec<MacKey> {
        let Some(i) = self.ifaces.get(usize::from(id.0)) else {
            return Vec::new();
        };
        if !dst.is_multicast() {
            return self
                .neighbour_keys
                .get(&(id, dst))
                .unwrap_or(&i.keys)
                .clone();
        }
        let mut keys = i.keys.clone();
        keys.extend(
            self.neighbour_keys
                .range((id, Ipv6Addr::UNSPECIFIED)..=(id, Ipv6Addr::from(u128::MAX)))
                .flat_map(|(_, k)| k.iter().cloned()),
        );
        keys
    }

    /// Adds the header, PC and MACs, and queues the packet.
    fn seal(&mut self, id: IfaceId, dst: Ipv6Addr, body: Vec<Vec<u8>>) {
        let keys = self.signing_keys(id, dst);
        let Some(i) = self.ifaces.get_mut(usize::from(id.0)) else {
            return;
        };
        let mut bytes = vec![crate::wire::MAGIC, crate::wire::VERSION, 0, 0];
        if !keys.is_empty() {
            if i.index.is_none() || i.pc == u32::MAX {
                let mut index = [0u8; INDEX_LEN];
                if self.random.fill(&mut index).is_err() {
                    return;
                }
                i.index = Some(index);
                i.pc = 0;
            }
            let index = i.index.unwrap_or_default();
            let pc = Tlv::Pc {
                pc: i.pc,
                index: &index,
            };
            i.pc += 1;
            if pc.encode(&mut bytes).is_err() {
                return;
            }
        }
        body.iter().for_each(|t| bytes.extend_from_slice(t));
        let Ok(len) = u16::try_from(bytes.len() - 4) else {
            return;
        };
        if let Some(l) = bytes.get_mut(2..4) {
            l.copy_from_slice(&len.to_be_bytes());
        }
        let src = i.cfg.link_local;
        let macs: Vec<[u8; 32]> = keys.iter().map(|k| k.sign(src, dst, &bytes)).collect();
        for mac in &macs {
            if Tlv::Mac(mac).encode(&mut bytes).is_err() {
                return;
            }
        }
        self.outgoing.push_back((
            Transmit {
                iface: id,
                channel: Channel::Routing,
                destination: dst,
            },
            bytes,
        ));
    }

    fn encode_out(
        &mut self,
        now: Instant,
        id: IfaceId,
        out: &Out,
        st: &mut TxState,
    ) -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        let mut put = |t: Tlv<'_>| {
            let mut b = Vec::new();
            if t.encode(&mut b).is_ok() {
                v.push(b);
            }
        };
        match out {
            Out::Hello { seqno, interval } => put(Tlv::Hello {
                flags: 0,
                seqno: *seqno,
                interval: *interval,
                sub: Default::default(),
            }),
            Out::Ihu {
                rxcost,
                interval,
                address,
            } => {
                let octets = address.octets();
                let (ae, addr) = if is_link_local(*address)
                    && octets.get(..8) == Some(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0][..])
                {
                    (Ae::LinkLocal, octets.get(8..).unwrap_or_default())
                } else {
                    (Ae::Ipv6, &octets[..])
                };
                put(Tlv::Ihu {
                    ae,
                    reserved: 0,
                    rxcost: *rxcost,
                    interval: *interval,
                    address: addr,
                    sub: Default::default(),
                });
            }
            Out::RouteRequest(None) => put(Tlv::RouteRequest {
                ae: Ae::Wildcard,
                plen: 0,
                prefix: &[],
                sub: Default::default(),
            }),
            Out::RouteRequest(Some(p)) => {
                let (ae, plen, bytes) = wire_prefix(p);
                put(Tlv::RouteRequest {
                    ae,
                    plen,
                    prefix: bytes
                        .get(..usize::from(plen.div_ceil(8)))
                        .unwrap_or_default(),
                    sub: Default::default(),
                });
            }
            Out::SeqnoRequest {
                prefix,
                seqno,
                hop_count,
                router_id,
            } => {
                let (ae, plen, bytes) = wire_prefix(prefix);
                put(Tlv::SeqnoRequest {
                    ae,
                    plen,
                    seqno: *seqno,
                    hop_count: *hop_count,
                    reserved: 0,
                    router_id: *router_id,
                    prefix: bytes
                        .get(..usize::from(plen.div_ceil(8)))
                        .unwrap_or_default(),
                    sub: Default::default(),
                });
            }
            Out::AckReq { nonce, interval } => put(Tlv::AckReq {
                reserved: 0,
                nonce: *nonce,
                interval: *interval,
                sub: Default::default(),
            }),
            Out::Ack { nonce } => put(Tlv::Ack {
                nonce: *nonce,
                sub: Default::default(),
            }),
            Out::ChallengeRequest(n) => put(Tlv::ChallengeRequest(n)),
            Out::ChallengeReply(n) => put(Tlv::ChallengeReply(n)),
            Out::Update(p) => return self.encode_update(now, id, *p, st),
        }
        v
    }

    /// The Update (and Router-Id) TLVs announcing `prefix` on `id`, with prefix compression
    /// and the router-id-from-prefix flag as babeld uses them; records the feasibility
    /// distance of what is announced.
    fn encode_update(
        &mut self,
        now: Instant,
        id: IfaceId,
        prefix: Prefix,
        st: &mut TxState,
    ) -> Vec<Vec<u8>> {
        let Some(i) = self.ifaces.get(usize::from(id.0)) else {
            return Vec::new();
        };
        let interval = centis(i.cfg.update_interval).unwrap_or(u16::MAX);
        let split = i.cfg.split_horizon && i.cfg.kind == LinkKind::Wired;
        let (router_id, seqno, metric) = match self.route(&prefix) {
            Some(r) if split && r.next_hop.is_some_and(|(via, _)| via == id) => return Vec::new(),
            Some(r) => (r.router_id, r.seqno, r.metric),
            None => (self.cfg.router_id, 0, INFINITY),
        };
        if metric != INFINITY {
            let fresh = !self.sources.contains_key(&(prefix, router_id));
            if fresh && self.sources.len() >= self.cfg.limits.sources {
                return Vec::new();
            }
            let s = self.sources.entry((prefix, router_id)).or_insert(Source {
                seqno,
                metric,
                expires: now,
            });
            if seqno_newer(seqno, s.seqno) {
                s.seqno = seqno;
                s.metric = metric;
            } else if seqno == s.seqno {
                s.metric = s.metric.min(metric);
            }
            s.expires = now + SOURCE_GC;
        } else if let Some(e) = self.table.get_mut(&prefix) {
            e.announced = None;
        }
        let mut v = Vec::new();
        let (ae, plen, bytes) = wire_prefix(&prefix);
        let mut flags = 0u8;
        let mut omitted = 0usize;
        if ae == Ae::Ipv6 {
            if let Some(d) = st.default_v6 {
                let full = usize::from(plen / 8);
                omitted = d
                    .iter()
                    .zip(bytes.iter())
                    .take(full)
                    .take_while(|(a, b)| a == b)
                    .count();
            }
            flags |= 0x80;
            st.default_v6 = Some(bytes);
        }
        if metric != INFINITY && st.router_id != Some(router_id) {
            if plen == 128 && ae == Ae::Ipv6 && bytes.get(8..) == Some(router_id.as_bytes()) {
                flags |= 0x40;
            } else {
                let mut b = Vec::new();
                let rid = Tlv::RouterId {
                    reserved: 0,
                    router_id,
                    sub: Default::default(),
                };
                if rid.encode(&mut b).is_ok() {
                    v.push(b);
                }
            }
            st.router_id = Some(router_id);
        }
        let end = usize::from(plen.div_ceil(8));
        let mut b = Vec::new();
        let update = Tlv::Update {
            ae,
            flags,
            plen,
            omitted: u8::try_from(omitted).unwrap_or(0),
            interval,
            seqno,
            metric,
            prefix: bytes.get(omitted.min(end)..end).unwrap_or_default(),
            sub: Default::default(),
        };
        if update.encode(&mut b).is_ok() {
            v.push(b);
        }
        v
    }

    // ----- datagrams -----

    fn handle_datagram(
        &mut self,
        now: Instant,
        iface: IfaceId,
        data: &[u8],
    ) -> Result<(), InputError> {
        if self.ifaces.get(usize::from(iface.0)).is_none() {
            return Err(InputError::UnknownInterface(iface));
        }
        let (header, payload) = Header::parse(data)?;
        match header.target {
            Target::Flood => {
                if header.source == self.cfg.router_id {
                    return Ok(());
                }
                let key = (header.source, header.message_id);
                let (ttl, cap) = (self.cfg.duplicate_ttl, self.cfg.limits.duplicate_cache);
                if !self.duplicates.first_sighting(key, now, ttl, cap) {
                    self.stats.duplicates += 1;
                    return Ok(());
                }
                self.deliver(header, payload);
                if header.hop_limit <= 1 || header.lifetime.is_zero() {
                    return Ok(());
                }
                let mut bytes = data.to_vec();
                Header::restamp(&mut bytes, header.hop_limit - 1, header.lifetime);
                let delay = self.jitter_up_to(self.cfg.flood_jitter);
                self.flood_seq += 1;
                self.floods.insert(
                    (now + delay, self.flood_seq),
                    PendingFlood {
                        key,
                        bytes,
                        precedence: header.precedence,
                        deadline: now + header.lifetime,
                    },
                );
            }
            Target::Unicast(dest) if dest == self.cfg.router_id => self.deliver(header, payload),
            Target::Unicast(dest) => {
                if header.hop_limit <= 1 {
                    self.stats.hop_limit_exceeded += 1;
                    return Ok(());
                }
                if header.lifetime.is_zero() {
                    self.stats.expired += 1;
                    return Ok(());
                }
                let Some(hop) = self.next_hop(dest) else {
                    self.stats.no_route += 1;
                    return Ok(());
                };
                let mut bytes = data.to_vec();
                Header::restamp(&mut bytes, header.hop_limit - 1, header.lifetime);
                self.enqueue(hop, bytes, header.precedence, now + header.lifetime);
            }
        }
        Ok(())
    }

    fn deliver(&mut self, header: Header, payload: &[u8]) {
        self.stats.delivered += 1;
        self.events.push_back(Event::Delivered(Delivery {
            source: header.source,
            target: header.target,
            precedence: header.precedence,
            message_id: header.message_id,
            hop_limit: header.hop_limit,
            lifetime: header.lifetime,
            payload: payload.to_vec(),
        }));
    }

    fn check_size(&self, iface: IfaceId, len: usize) -> Result<(), SendError> {
        let max = self
            .ifaces
            .get(usize::from(iface.0))
            .map_or(0, |i| i.cfg.max_packet);
        if len > max {
            return Err(SendError::TooLarge { len, max });
        }
        Ok(())
    }

    fn enqueue(
        &mut self,
        hop: NeighKey,
        bytes: Vec<u8>,
        precedence: Precedence,
        deadline: Instant,
    ) -> Admit {
        let cap = self.cfg.limits.queue_per_next_hop;
        let admit = self.queues.entry(hop).or_default().push(
            Queued {
                bytes,
                precedence,
                deadline,
            },
            cap,
        );
        match &admit {
            Admit::Queued => {}
            Admit::Shed(_) => self.stats.shed += 1,
            Admit::Refused(_) => self.stats.refused += 1,
        }
        admit
    }

    fn flood_timers(&mut self, now: Instant) {
        while let Some(entry) = self.floods.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let f = entry.remove();
            if self.duplicates.heard(&f.key) >= self.cfg.flood_redundancy {
                self.stats.flood_suppressed += 1;
                continue;
            }
            for i in 0..self.ifaces.len() {
                let id = IfaceId(u16::try_from(i).unwrap_or(u16::MAX));
                self.enqueue(
                    (id, DATA_MULTICAST),
                    f.bytes.clone(),
                    f.precedence,
                    f.deadline,
                );
            }
        }
    }

    fn refill(&mut self, now: Instant) {
        for i in &mut self.ifaces {
            let Some(rate) = i.cfg.data_rate else {
                continue;
            };
            let elapsed = u64::try_from(now.saturating_duration_since(i.refilled).as_nanos())
                .unwrap_or(u64::MAX);
            let add = u128::from(rate) * u128::from(elapsed) / 1_000_000_000;
            let burst = u64::try_from(i.cfg.max_packet)
                .unwrap_or(u64::MAX)
                .saturating_mul(2);
            i.tokens = u64::try_from(u128::from(i.tokens) + add)
                .unwrap_or(u64::MAX)
                .min(burst);
            if add > 0 || i.tokens >= burst {
                i.refilled = now;
            }
        }
    }

    fn sendable(&self, iface: IfaceId, len: usize) -> bool {
        self.ifaces.get(usize::from(iface.0)).is_some_and(|i| {
            i.cfg.data_rate.is_none() || i.tokens >= u64::try_from(len).unwrap_or(u64::MAX)
        })
    }

    fn poll_datagram(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<Transmit> {
        self.refill(now);
        loop {
            let choice = self
                .queues
                .iter()
                .filter(|(_, q)| !q.is_empty())
                .filter(|((iface, _), q)| {
                    let head = q.head_len().unwrap_or(0);
                    self.sendable(*iface, head)
                })
                .max_by_key(|(k, q)| (q.head_precedence(), core::cmp::Reverse(**k)))
                .map(|(k, _)| *k)?;
            let q = self.queues.get_mut(&choice)?;
            let Some(item) = q.pop(now, &mut self.stats.expired) else {
                continue;
            };
            if q.is_empty() {
                self.queues.remove(&choice);
            }
            let remaining = item.deadline.saturating_duration_since(now);
            let mut bytes = item.bytes;
            let hop = bytes.get(1).copied().unwrap_or(0);
            Header::restamp(&mut bytes, hop, remaining);
            if let Some(i) = self.ifaces.get_mut(usize::from(choice.0.0))
                && i.cfg.data_rate.is_some()
            {
                i.tokens = i
                    .tokens
                    .saturating_sub(u64::try_from(bytes.len()).unwrap_or(u64::MAX));
            }
            self.stats.forwarded += 1;
            buf.extend_from_slice(&bytes);
            return Some(Transmit {
                iface: choice.0,
                channel: Channel::Data,
                destination: choice.1,
            });
        }
    }

    fn pacing_deadline(&self) -> Option<Instant> {
        self.queues
            .iter()
            .filter(|(_, q)| !q.is_empty())
            .filter_map(|((iface, _), q)| {
                let i = self.ifaces.get(usize::from(iface.0))?;
                let rate = i.cfg.data_rate?.max(1);
                let need = u64::try_from(q.head_len()?).ok()?.saturating_sub(i.tokens);
                let nanos = u128::from(need) * 1_000_000_000 / u128::from(rate) + 1;
                Some(i.refilled + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX)))
            })
            .min()
    }

    fn jitter_up_to(&mut self, max: Duration) -> Duration {
        let max = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
        if max == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(self.jitter.next_u64() % max)
    }
}

/// Whether a change of the selected route deserves a triggered update (after babeld's rules):
/// a new source or seqno, or a route getting much worse, urgently; a clear improvement or
/// deterioration soon; a route getting a little better (perhaps a transient, and announcing
/// it would make routes unfeasible later) or changing trivially, not at all: the next
/// periodic update carries it.
/// `Some(urgent)` to announce.
fn worth_announcing(new_source_or_seqno: bool, old: u16, new: u16) -> Option<bool> {
    let diff = old.abs_diff(new);
    if new_source_or_seqno || (new > old && old < 6 * 256 && diff >= 512) {
        return Some(true);
    }
    let threshold = if new < old {
        IMPROVEMENT_WORTH_ANNOUNCING
    } else {
        384
    };
    (diff >= threshold).then_some(false)
}

/// One wired hop: smaller improvements (ETX noise on radio links) wait for the periodic
/// update. babeld waits for 1024, which on wired links defers every improvement to the
/// periodic updates; with this, a wired network converges to shortest paths within seconds.
const IMPROVEMENT_WORTH_ANNOUNCING: u16 = 96;

struct WireUpdate<'a> {
    ae: Ae,
    flags: u8,
    plen: u8,
    omitted: u8,
    prefix: &'a [u8],
}

enum Decoded {
    Route(Prefix),
    RetractAll,
}

/// Applies the packet's compression state to an Update; `None` if it must be ignored.
fn decode_prefix(st: &mut RxState, u: &WireUpdate<'_>) -> Option<Decoded> {
    let omitted = usize::from(u.omitted);
    let prefix = match u.ae {
        Ae::Wildcard => return (u.plen == 0).then_some(Decoded::RetractAll),
        Ae::Ipv4 | Ae::V4ViaV6 => {
            let mut a = [0u8; 4];
            fill(
                &mut a,
                st.default_v4.as_ref().map(|d| &d[..]),
                omitted,
                u.prefix,
            )?;
            if u.flags & 0x40 != 0 {
                return None;
            }
            if u.flags & 0x80 != 0 {
                st.default_v4 = Some(a);
            }
            Prefix::v4(a.into(), u.plen)?
        }
        Ae::Ipv6 => {
            let mut a = [0u8; 16];
            fill(
                &mut a,
                st.default_v6.as_ref().map(|d| &d[..]),
                omitted,
                u.prefix,
            )?;
            let p = Prefix::new(a.into(), u.plen)?;
            if u.flags & 0x80 != 0 {
                st.default_v6 = Some(p.addr().octets());
            }
            if u.flags & 0x40 != 0 {
                let rid = <[u8; 8]>::try_from(p.addr().octets().get(8..)?).ok()?;
                st.router_id = Some(ShortId::from_bytes(rid));
            }
            p
        }
        Ae::LinkLocal => return None,
    };
    Some(Decoded::Route(prefix))
}

fn fill(out: &mut [u8], default: Option<&[u8]>, omitted: usize, rest: &[u8]) -> Option<()> {
    if omitted > 0 {
        let d = default?.get(..omitted)?;
        out.get_mut(..omitted)?.copy_from_slice(d);
    }
    let end = omitted + rest.len();
    if end > out.len() {
        return None;
    }
    out.get_mut(omitted..end)?.copy_from_slice(rest);
    Some(())
}

fn full_prefix(ae: Ae, plen: u8, bytes: &[u8]) -> Option<Prefix> {
    match ae {
        Ae::Ipv4 | Ae::V4ViaV6 => {
            let mut a = [0u8; 4];
            fill(&mut a, None, 0, bytes)?;
            Prefix::v4(a.into(), plen)
        }
        Ae::Ipv6 => {
            let mut a = [0u8; 16];
            fill(&mut a, None, 0, bytes)?;
            Prefix::new(a.into(), plen)
        }
        Ae::Wildcard | Ae::LinkLocal => None,
    }
}

/// The encoding, wire length and address bytes of a prefix (IPv4 as v4-via-v6: we have no
/// IPv4 next hop to announce).
fn wire_prefix(p: &Prefix) -> (Ae, u8, [u8; 16]) {
    let o = p.addr().octets();
    if p.is_v4() {
        let mut a = [0u8; 16];
        if let (Some(dst), Some(src)) = (a.get_mut(..4), o.get(12..)) {
            dst.copy_from_slice(src);
        }
        (Ae::V4ViaV6, p.plen() - 96, a)
    } else {
        (Ae::Ipv6, p.plen(), o)
    }
}
