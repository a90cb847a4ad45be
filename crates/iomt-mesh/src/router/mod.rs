//! The router state machine: Babel routing, RFC 8967 MAC, and datagram forwarding.
//!
//! This module holds the state and the public API; the submodules add the rest of `Router`'s
//! behaviour: `input` (Babel packets in), `selection` (route table, feasibility, requests),
//! `timers`, `output` (TLVs to packets, MACs) and `forward` (datagrams).

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::net::Ipv6Addr;
use core::time::Duration;

use iomt_schema::rand::SecureRandom;
use iomt_schema::{Expiry, FrameView, Instant, Precedence, ShortId};
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::config::{InterfaceConfig, RouterConfig};
use crate::datagram::{DataPacket, DatagramError, Header, MAX_LIFETIME, Target};
use crate::flood::{DuplicateCache, FloodKey};
use crate::mac::{
    CHALLENGE_RATE, CHALLENGE_TIMEOUT, Freshness, INDEX_LEN, MacKey, NONCE_LEN, verify_any,
};
use crate::neighbour::{INFINITY, LinkKind, Neighbour, Probe, rxcost};
use crate::prefix::Prefix;
use crate::queue::{Admit, PrecedenceQueue, Queued};
use crate::wire::WireError;

mod forward;
mod input;
mod output;
mod selection;
mod startup;
mod timers;

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

/// Which of the router's two kinds of traffic a packet is: the [`Transmit::kind`] of what it
/// sends, and what the driver says of what it received. The driver carries them on different
/// UDP ports: Babel on 6696, datagrams on a port of its choosing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Channel {
    /// Babel control packets.
    Routing,
    /// Application datagrams behind the mesh header.
    Data,
}

/// A packet for the driver to send: its bytes are the first `len` of the buffer passed to
/// [`Router::poll_transmit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    /// The interface to send on.
    pub iface: IfaceId,
    /// A neighbour's link-local address, [`BABEL_MULTICAST`] or [`DATA_MULTICAST`].
    pub destination: Ipv6Addr,
    /// Routing or data: which port carries it.
    pub kind: Channel,
    /// Its length in the buffer.
    pub len: usize,
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

/// Packets of one channel dropped by RFC 8967 authentication, by reason; each also returned
/// an error. A dropped datagram changed nothing; a dropped Babel packet changed nothing
/// either, except that one under an unverified index that carries a Hello, an IHU or a
/// challenge request created its sender's neighbour entry and started a challenge, as RFC 8967
/// asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuthDrops {
    /// No MAC (for data: a bare datagram) where keys require one.
    pub missing_mac: u64,
    /// No MAC verified under the keys for the sender.
    pub bad_mac: u64,
    /// A packet counter not newer than the last one accepted: a replay.
    pub replayed: u64,
    /// An index not yet verified by a challenge.
    pub unverified: u64,
}

impl AuthDrops {
    /// All of them.
    pub fn total(&self) -> u64 {
        self.missing_mac + self.bad_mac + self.replayed + self.unverified
    }
}

/// Counters of what the router did with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Babel packets accepted.
    pub packets_accepted: u64,
    /// Babel packets or datagrams rejected (each also returned an error).
    pub packets_rejected: u64,
    /// Babel packets dropped by authentication (also counted in `packets_rejected`).
    pub routing_auth: AuthDrops,
    /// Data packets dropped by authentication (also counted in `packets_rejected`): on a keyed
    /// link, forged or replayed datagrams show up here.
    pub data_auth: AuthDrops,
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
    /// Babel packets must come from a link-local address, or from `::1` on an interface whose
    /// own address is `::1` (peer fault).
    #[error("source {0} is not link-local (nor ::1 on a loopback interface)")]
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
    /// The sender's index is not verified: for a Babel packet from a neighbour, or one that
    /// makes its sender a neighbour (see [`AuthDrops`]), a challenge was sent (state: the
    /// challenge nonce); any other changed nothing. A datagram gets this, and changes nothing,
    /// when its sender is not a neighbour with an index verified on the routing channel.
    #[error("packet counter index not verified by a challenge")]
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
        /// Header, payload and, on a keyed interface, the authenticated data packet around
        /// them.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The queue is full of more urgent datagrams.
    #[error("queue full")]
    QueueFull,
    /// The random generator failed to draw a message id (local fault).
    #[error("random generator failed")]
    Random,
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
    /// Withdraws every route we ever announced on the link (sent after a start).
    RetractAll,
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

/// A sans-IO Babel router with datagram forwarding.
///
/// It follows the workspace's [sans-IO contract](iomt_schema::contract), drain order
/// included. What it adds: its input is every packet received on the Babel socket or the
/// data socket, each with the [`Channel`] it came on; its commands are [`send`](Router::send)
/// and [`send_frame`](Router::send_frame) for application datagrams; each [`Transmit`] says
/// which of the two sockets carries it.
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
    /// Babel packets to send: interface, destination, bytes.
    outgoing: VecDeque<(IfaceId, Ipv6Addr, Vec<u8>)>,
    events: VecDeque<Event>,
    queues: BTreeMap<NeighKey, PrecedenceQueue>,
    duplicates: DuplicateCache,
    floods: BTreeMap<(Instant, u64), PendingFlood>,
    flood_seq: u64,
    housekeeping: Instant,
    /// While set, no route learned from a neighbour is selected (see `startup`).
    startup: Option<startup::Startup>,
    jitter: Xoshiro256PlusPlus,
    rng: Arc<dyn SecureRandom>,
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
    /// and the initial sequence number; `rng` supplies datagram message ids, and RFC 8967
    /// indices and challenge nonces (once MAC keys are set).
    pub fn new(
        config: RouterConfig,
        now: Instant,
        jitter_seed: u64,
        rng: Arc<dyn SecureRandom>,
    ) -> Self {
        let mut jitter = Xoshiro256PlusPlus::seed_from_u64(jitter_seed);
        let seqno = config
            .initial_seqno
            .unwrap_or_else(|| u16::try_from(jitter.next_u32() >> 16).unwrap_or(0));
        Self {
            own: Prefix::of(config.router_id),
            cfg: config,
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
            housekeeping: now + HOUSEKEEPING,
            startup: None,
            jitter,
            rng,
            stats: Stats::default(),
        }
    }

    /// Starts Babel on a new interface: a Hello, a wildcard route request and a wildcard
    /// retraction go out at once, the retraction again with the next two Hellos (as babeld
    /// does) and unicast with an Ack Request to every neighbour heard, so that neighbours drop
    /// any route through our previous life. Until they have all acknowledged it (and at least
    /// two and a half Hello intervals have passed, at most 3.5 update intervals), the router
    /// selects no route learned from neighbours: a neighbour that still held a route through
    /// us could announce it back, and without our lost feasibility distances that would close
    /// a loop.
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
        self.startup.get_or_insert_default().extend(now, &cfg);
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
    /// key, and packets received must verify under one of them, datagrams included (each one
    /// travels in an [authenticated data packet](crate::datagram#authenticated-data-packets)).
    /// An empty list turns MACs off, which leaves the link open to forged and replayed
    /// traffic: for closed test networks only.
    pub fn set_interface_keys(&mut self, iface: IfaceId, keys: Vec<MacKey>) {
        if let Some(i) = self.ifaces.get_mut(usize::from(iface.0)) {
            i.keys = keys;
        }
    }

    /// Sets the MAC keys for one neighbour (from a transport session, say): its packets must
    /// verify under one of them instead of the interface's keys, unicast packets to it carry
    /// MACs under them, and multicast packets on the interface carry one MAC per key of every
    /// such neighbour as well as the interface's. The same holds for datagrams. An empty list
    /// removes them. At most `limits.neighbours` neighbours can have keys.
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

    /// Number of flooded datagrams in the duplicate cache (at most `limits.duplicate_cache`).
    pub fn cached_floods(&self) -> usize {
        self.duplicates.len()
    }

    /// Number of datagrams waiting in the per-next-hop queues (at most
    /// `limits.queue_per_next_hop` for each neighbour and each interface's multicast group).
    pub fn queued(&self) -> usize {
        self.queues.values().map(PrecedenceQueue::len).sum()
    }

    /// Handles a packet received on `iface` from `from` (a link-local address) sent to `to`
    /// (the multicast group or our address; both are part of the MAC pseudo-header, on either
    /// channel). With keys for the sender, a packet that fails authentication is dropped and
    /// counted in [`Stats::routing_auth`] or [`Stats::data_auth`]; what it may still have
    /// changed is described at [`AuthDrops`].
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
            Channel::Data => self.handle_datagram(now, iface, from, to, data),
        };
        let Err(e) = &result else {
            self.stats.packets_accepted += u64::from(channel == Channel::Routing);
            return result;
        };
        self.stats.packets_rejected += 1;
        let drops = match channel {
            Channel::Routing => &mut self.stats.routing_auth,
            Channel::Data => &mut self.stats.data_auth,
        };
        match e {
            InputError::MissingMac => drops.missing_mac += 1,
            InputError::BadMac => drops.bad_mac += 1,
            InputError::Replay => drops.replayed += 1,
            InputError::Unverified => drops.unverified += 1,
            _ => {}
        }
        result
    }

    /// Sends an encoded [`Frame`](iomt_schema::Frame) as a datagram whose precedence is the
    /// envelope's and whose lifetime is the envelope's expiry, counted from `now` (the frame
    /// is taken as just made), so a frame travels neither more nor less urgently than it says
    /// nor outlives its expiry. A frame without expiry gets the longest lifetime a datagram
    /// carries, [`MAX_LIFETIME`](crate::datagram::MAX_LIFETIME). Returns the message id, as
    /// [`send`](Router::send) does.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use iomt_mesh::*;
    /// # use iomt_schema::*;
    /// # let id = ShortId::from_u64(1);
    /// # let rng = Arc::new(rand::SystemRandom::new());
    /// # let mut router = Router::new(RouterConfig::new(id), Instant::ZERO, 1, rng);
    /// let mut envelope = Envelope::new(id.into(), 1, Timestamp::from_millis(0).unwrap());
    /// envelope.precedence = Precedence::Flash;
    /// envelope.expiry = Some(Expiry(30));
    /// let bytes = Frame::new(envelope, Vitals::default()).to_vec()?;
    /// router.send_frame(Instant::ZERO, Target::Unicast(id), &FrameView::decode(&bytes)?)?;
    /// let Some(Event::Delivered(d)) = router.poll_event() else { panic!() };
    /// assert_eq!((d.precedence, d.lifetime.as_secs(), d.payload), (Precedence::Flash, 30, bytes));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send_frame(
        &mut self,
        now: Instant,
        target: Target,
        frame: &FrameView<'_>,
    ) -> Result<u32, SendError> {
        let envelope = frame.envelope();
        let lifetime = envelope.expiry.map_or(MAX_LIFETIME, Expiry::as_duration);
        self.send(now, target, envelope.precedence, lifetime, frame.bytes())
    }

    /// Sends an opaque application datagram (an encrypted record, say) with the given
    /// precedence and lifetime; returns its message id, drawn from the router's `rng` so that
    /// nobody can predict it. A schema frame in the clear goes through
    /// [`send_frame`](Router::send_frame), which takes both from its envelope.
    pub fn send(
        &mut self,
        now: Instant,
        target: Target,
        precedence: Precedence,
        lifetime: Duration,
        payload: &[u8],
    ) -> Result<u32, SendError> {
        let mut id = [0u8; 4];
        self.rng.fill(&mut id).map_err(|_| SendError::Random)?;
        let message_id = u32::from_be_bytes(id);
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
                self.check_size(hop, bytes.len())?;
                match self.enqueue(hop, bytes, precedence, deadline) {
                    Admit::Refused(_) => Err(SendError::QueueFull),
                    _ => Ok(message_id),
                }
            }
            Target::Flood => {
                let key = FloodKey::of(&header, payload);
                let (ttl, cap) = (self.cfg.duplicate_ttl, self.cfg.limits.duplicate_cache);
                self.duplicates.first_sighting(key, now, ttl, cap);
                for i in 0..self.ifaces.len() {
                    let id = IfaceId(u16::try_from(i).unwrap_or(u16::MAX));
                    self.check_size((id, DATA_MULTICAST), bytes.len())?;
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
        if let Some((iface, destination, bytes)) = self.outgoing.pop_front() {
            buf.extend_from_slice(&bytes);
            return Some(Transmit {
                iface,
                destination,
                kind: Channel::Routing,
                len: buf.len(),
            });
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
        if let Some(st) = &self.startup {
            t = t.min(st.deadline());
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
        self.startup_timers(now);
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
    fn jitter_up_to(&mut self, max: Duration) -> Duration {
        let max = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
        if max == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(self.jitter.next_u64() % max)
    }
}
