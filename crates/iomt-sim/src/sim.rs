//! The event loop: an event heap ordered by (time, sequence), the media, scheduled actions,
//! crashes and reboots.

use std::cmp::Ordering;
use std::collections::{BTreeSet, BinaryHeap};
use std::time::Duration;

use iomt_schema::Instant;

use crate::digest::TraceDigest;
use crate::loss::{Loss, LossState};
use crate::metrics::Metrics;
use crate::mobility::{Mobility, Mover, Point};
use crate::node::{Class, Destination, IfaceId, Node, NodeId, Received, Transmit};
use crate::oracle::Topology;
use crate::rng::{Purpose, Seed, SimRng};

/// A point-to-point link's properties (per direction).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkParams {
    /// Propagation delay.
    pub delay: Duration,
    /// Bits per second; 0 for no serialisation delay.
    pub bandwidth_bps: u64,
    /// Largest packet carried, in bytes; larger ones are dropped.
    pub mtu: usize,
    /// Loss model, stepped separately in each direction.
    pub loss: Loss,
}

impl Default for LinkParams {
    /// 1 ms, 10 Mbit/s, 1280-byte MTU, lossless.
    fn default() -> Self {
        Self {
            delay: Duration::from_millis(1),
            bandwidth_bps: 10_000_000,
            mtu: 1280,
            loss: Loss::None,
        }
    }
}

/// A shared radio channel: one transmission is heard by every attached node within range.
///
/// Each transmitter serialises its own packets; there is no carrier sense or collision model,
/// so loss stands in for interference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RadioParams {
    /// Range in metres.
    pub range: f64,
    /// Propagation and processing delay.
    pub delay: Duration,
    /// Bits per second; 0 for no serialisation delay.
    pub bandwidth_bps: u64,
    /// Largest packet carried, in bytes.
    pub mtu: usize,
    /// Loss model, with state per (sender, receiver) pair.
    pub loss: Loss,
}

/// A link, as returned by [`Simulator::add_link`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinkId(pub usize);

/// A radio channel, as returned by [`Simulator::add_radio`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RadioId(pub usize);

/// Something that happens to the network at a scheduled time.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// The link stops carrying packets (silently: no carrier signal reaches the nodes).
    CutLink(LinkId),
    /// The link carries packets again.
    RestoreLink(LinkId),
    /// The link's loss model changes.
    SetLinkLoss(LinkId, Loss),
    /// Nothing passes between two nodes on any link or radio.
    CutPair(NodeId, NodeId),
    /// Undoes a [`Action::CutPair`].
    RestorePair(NodeId, NodeId),
    /// The network splits: packets pass only within a group; nodes in no group form one more.
    Partition(Vec<Vec<NodeId>>),
    /// The partition heals.
    Merge,
    /// The node stops: its state is lost and it receives nothing.
    Crash(NodeId),
    /// The node starts again with fresh state from the factory.
    Reboot(NodeId),
}

/// What the node factory is told when it builds a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Boot {
    /// The node being built.
    pub node: NodeId,
    /// 0 on the first start, then 1, 2, ... after each reboot.
    pub count: u32,
    /// When it starts.
    pub now: Instant,
    /// A seed for the node's own jitter generator, distinct per node and boot.
    pub seed: u64,
}

/// An invariant that failed, with when and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// When it was detected.
    pub at: Instant,
    /// The observer's description.
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "at {:?}: {}", self.at, self.message)
    }
}

impl std::error::Error for Violation {}

/// Watches a run: sees every node event, and checks invariants after every simulator event.
pub trait Observer<N: Node> {
    /// A node reported `event`; record deliveries into `metrics` here.
    fn on_event(&mut self, now: Instant, node: NodeId, event: N::Event, metrics: &mut Metrics) {
        let _ = (now, node, event, metrics);
    }

    /// Called after every event the simulator processes; an error stops the run.
    fn check(&mut self, sim: &Simulator<N>) -> Result<(), String> {
        let _ = sim;
        Ok(())
    }
}

impl<N: Node> Observer<N> for () {}

type Factory<N> = Box<dyn FnMut(Boot) -> N>;
type Call<N> = Box<dyn FnOnce(&mut N, Instant)>;

enum Event<N> {
    Deliver {
        to: NodeId,
        iface: IfaceId,
        from: NodeId,
        broadcast: bool,
        kind: Class,
        data: Vec<u8>,
    },
    Timer {
        node: NodeId,
        boot: u32,
    },
    Call {
        node: NodeId,
        call: Call<N>,
    },
    Action(Action),
    MobilityTick,
}

struct Scheduled<N> {
    at: u64,
    seq: u64,
    event: Event<N>,
}

impl<N> PartialEq for Scheduled<N> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl<N> Eq for Scheduled<N> {}
impl<N> PartialOrd for Scheduled<N> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<N> Ord for Scheduled<N> {
    /// Reversed, so the max-heap pops the earliest (time, sequence) first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

#[derive(Debug, Clone, Copy)]
enum Port {
    Link { link: usize, side: usize },
    Radio(usize),
}

struct Slot<N> {
    node: Option<N>,
    ports: Vec<Port>,
    busy_until: Vec<u64>,
    timer: Option<u64>,
    boots: u32,
    mover: Mover,
}

struct Link {
    ends: [(NodeId, IfaceId); 2],
    params: LinkParams,
    up: bool,
    loss: [LossState; 2],
}

struct Radio {
    params: RadioParams,
    members: Vec<(NodeId, IfaceId)>,
    loss: std::collections::BTreeMap<(NodeId, NodeId), LossState>,
}

/// A deterministic discrete-event simulation of sans-IO nodes on links and radios.
///
/// Time is integer nanoseconds ([`Instant`]); events are ordered by (time, insertion
/// sequence), all tables are vectors or B-trees indexed by node, and every random decision
/// draws from a stream split off one root [`Seed`], so a seed fully determines the run. The
/// [`digest`](Simulator::digest) summarises the trace to check exactly that.
pub struct Simulator<N: Node> {
    seed: Seed,
    now: Instant,
    seq: u64,
    queue: BinaryHeap<Scheduled<N>>,
    slots: Vec<Slot<N>>,
    links: Vec<Link>,
    radios: Vec<Radio>,
    groups: Vec<Mover>,
    group_positions: Vec<Point>,
    positions: Vec<Point>,
    mobility_step: Duration,
    ticking: bool,
    partition: Option<Vec<u32>>,
    cut_pairs: BTreeSet<(NodeId, NodeId)>,
    loss_rng: SimRng,
    factory: Factory<N>,
    metrics: Metrics,
    digest: TraceDigest,
    events: u64,
    /// What nodes write their transmissions into.
    buf: Vec<u8>,
}

impl<N: Node> Simulator<N> {
    /// An empty network. `factory` builds a node's state at its first start and at every
    /// reboot.
    pub fn new(seed: Seed, factory: impl FnMut(Boot) -> N + 'static) -> Self {
        Self {
            seed,
            now: Instant::ZERO,
            seq: 0,
            queue: BinaryHeap::new(),
            slots: Vec::new(),
            links: Vec::new(),
            radios: Vec::new(),
            groups: Vec::new(),
            group_positions: Vec::new(),
            positions: Vec::new(),
            mobility_step: Duration::from_millis(100),
            ticking: false,
            partition: None,
            cut_pairs: BTreeSet::new(),
            loss_rng: seed.stream(Purpose::Loss, 0),
            factory: Box::new(factory),
            metrics: Metrics::default(),
            digest: TraceDigest::default(),
            events: 0,
            buf: Vec::new(),
        }
    }

    /// How often moving nodes' positions are updated (default 100 ms).
    pub fn set_mobility_step(&mut self, step: Duration) {
        self.mobility_step = step.max(Duration::from_millis(1));
    }

    /// Adds a group reference point that moves by `mobility` (not itself a group).
    pub fn add_group(&mut self, mobility: Mobility) -> usize {
        let index = self.groups.len();
        let rng = self.seed.stream(
            Purpose::Mobility,
            1_000_000_000 + u64::try_from(index).unwrap_or(0),
        );
        let mut mover = Mover::new(mobility, rng);
        self.group_positions.push(mover.position(self.now, &[]));
        let moving = !mover.is_static();
        self.groups.push(mover);
        if moving {
            self.start_ticking();
        }
        index
    }

    /// Adds a node that moves by `mobility`; it is built now and first drained (polled for
    /// output and timers) when the run reaches the current time.
    pub fn add_node(&mut self, mobility: Mobility) -> NodeId {
        let id = NodeId(u32::try_from(self.slots.len()).unwrap_or(u32::MAX));
        let mut mover = Mover::new(mobility, self.seed.stream(Purpose::Mobility, id.0.into()));
        self.positions
            .push(mover.position(self.now, &self.group_positions));
        let moving = !mover.is_static();
        let boot = self.boot(id, 0);
        self.slots.push(Slot {
            node: Some((self.factory)(boot)),
            ports: Vec::new(),
            busy_until: Vec::new(),
            timer: None,
            boots: 0,
            mover,
        });
        if moving {
            self.start_ticking();
        }
        // The first drain waits for the run, so the node's interfaces are attached by then.
        self.push(
            self.now,
            Event::Call {
                node: id,
                call: Box::new(|_, _| {}),
            },
        );
        id
    }

    /// Connects `a` and `b` with a new point-to-point link; each gets a new interface.
    pub fn add_link(&mut self, a: NodeId, b: NodeId, params: LinkParams) -> LinkId {
        let id = self.links.len();
        let ia = self.add_port(a, Port::Link { link: id, side: 0 });
        let ib = self.add_port(b, Port::Link { link: id, side: 1 });
        self.links.push(Link {
            ends: [(a, ia), (b, ib)],
            params,
            up: true,
            loss: [LossState::default(); 2],
        });
        LinkId(id)
    }

    /// Adds a radio channel.
    pub fn add_radio(&mut self, params: RadioParams) -> RadioId {
        self.radios.push(Radio {
            params,
            members: Vec::new(),
            loss: Default::default(),
        });
        RadioId(self.radios.len() - 1)
    }

    /// Gives `node` a new interface on `radio`.
    pub fn attach(&mut self, node: NodeId, radio: RadioId) -> IfaceId {
        let iface = self.add_port(node, Port::Radio(radio.0));
        if let Some(r) = self.radios.get_mut(radio.0) {
            r.members.push((node, iface));
        }
        iface
    }

    fn add_port(&mut self, node: NodeId, port: Port) -> IfaceId {
        let Some(slot) = self.slots.get_mut(node.index()) else {
            return IfaceId(u16::MAX);
        };
        slot.ports.push(port);
        slot.busy_until.push(0);
        IfaceId(u16::try_from(slot.ports.len() - 1).unwrap_or(u16::MAX))
    }

    /// Schedules `action` at `at` (not before now).
    pub fn schedule(&mut self, at: Instant, action: Action) {
        self.push(at, Event::Action(action));
    }

    /// Runs `call` on `node` at `at` (e.g. to hand it application traffic), then drains it.
    /// Nothing happens if the node is down then.
    pub fn call(
        &mut self,
        at: Instant,
        node: NodeId,
        call: impl FnOnce(&mut N, Instant) + 'static,
    ) {
        self.push(
            at,
            Event::Call {
                node,
                call: Box::new(call),
            },
        );
    }

    /// Runs every event up to and including `end`, then sets the clock to `end`.
    pub fn run_until<O: Observer<N>>(
        &mut self,
        end: Instant,
        observer: &mut O,
    ) -> Result<(), Violation> {
        while self.queue.peek().is_some_and(|e| e.at <= end.as_nanos()) {
            let Some(next) = self.queue.pop() else {
                break;
            };
            self.now = Instant::from_nanos(next.at);
            if self.process(next.event, observer) {
                self.events += 1;
                observer.check(self).map_err(|message| Violation {
                    at: self.now,
                    message,
                })?;
            }
        }
        self.now = self.now.max(end);
        Ok(())
    }

    /// Runs for `d` of simulated time.
    pub fn run_for<O: Observer<N>>(
        &mut self,
        d: Duration,
        observer: &mut O,
    ) -> Result<(), Violation> {
        self.run_until(self.now + d, observer)
    }

    /// The simulated time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The root seed.
    pub fn seed(&self) -> Seed {
        self.seed
    }

    /// A fresh stream of the given purpose derived from the root seed.
    pub fn stream(&self, purpose: Purpose, index: u64) -> SimRng {
        self.seed.stream(purpose, index)
    }

    /// Number of nodes ever added.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether no node was added.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The node's state, if it is running.
    pub fn node(&self, id: NodeId) -> Option<&N> {
        self.slots.get(id.index())?.node.as_ref()
    }

    /// The node's state for inspection or configuration outside an event; call
    /// [`Simulator::call`] instead to feed it input, so its output is drained.
    pub fn node_mut(&mut self, id: NodeId) -> Option<&mut N> {
        self.slots.get_mut(id.index())?.node.as_mut()
    }

    /// The interfaces of `node` on links and radios, in attachment order.
    pub fn interfaces(&self, node: NodeId) -> usize {
        self.slots.get(node.index()).map_or(0, |s| s.ports.len())
    }

    /// The node's position as of the last mobility update.
    pub fn position(&self, node: NodeId) -> Option<Point> {
        self.positions.get(node.index()).copied()
    }

    /// Figures collected so far.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Figures, for the scenario to record into or reset.
    pub fn metrics_mut(&mut self) -> &mut Metrics {
        &mut self.metrics
    }

    /// The digest of the trace so far: every transmission and delivery with its time.
    pub fn digest(&self) -> u64 {
        self.digest.value()
    }

    /// Events processed so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Who can currently reach whom (links up, radios in range, no cut or partition, both
    /// ends running).
    pub fn topology(&self) -> Topology {
        let mut t = Topology::new(self.slots.len());
        for link in self.links.iter().filter(|l| l.up) {
            let [(a, _), (b, _)] = link.ends;
            if self.passes(a, b) {
                t.connect(a, b);
            }
        }
        for radio in &self.radios {
            for (i, &(a, _)) in radio.members.iter().enumerate() {
                for &(b, _) in radio.members.iter().skip(i + 1) {
                    if self.passes(a, b) && self.in_range(radio, a, b) {
                        t.connect(a, b);
                    }
                }
            }
        }
        t.finish();
        t
    }

    /// Which node, if any, is at the other end of `iface` of `node` (links only).
    pub fn link_peer(&self, node: NodeId, iface: IfaceId) -> Option<NodeId> {
        let slot = self.slots.get(node.index())?;
        match slot.ports.get(usize::from(iface.0))? {
            Port::Link { link, side } => {
                let l = self.links.get(*link)?;
                l.ends.get(1 - side).map(|e| e.0)
            }
            Port::Radio(_) => None,
        }
    }

    /// Whether `node` is running.
    pub fn is_up(&self, node: NodeId) -> bool {
        self.slots
            .get(node.index())
            .is_some_and(|s| s.node.is_some())
    }

    fn boot(&self, node: NodeId, count: u32) -> Boot {
        Boot {
            node,
            count,
            now: self.now,
            seed: self
                .seed
                .derive(Purpose::Node, (u64::from(node.0) << 32) | u64::from(count)),
        }
    }

    fn start_ticking(&mut self) {
        if !self.ticking {
            self.ticking = true;
            self.push(self.now + self.mobility_step, Event::MobilityTick);
        }
    }

    fn push(&mut self, at: Instant, event: Event<N>) {
        let at = at.max(self.now).as_nanos();
        self.seq += 1;
        self.queue.push(Scheduled {
            at,
            seq: self.seq,
            event,
        });
    }

    /// Handles one event; false if it was a stale timer or otherwise a no-op.
    fn process<O: Observer<N>>(&mut self, event: Event<N>, observer: &mut O) -> bool {
        match event {
            Event::Deliver {
                to,
                iface,
                from,
                broadcast,
                kind,
                data,
            } => {
                let now = self.now;
                let Some(node) = self.slots.get_mut(to.index()).and_then(|s| s.node.as_mut())
                else {
                    self.metrics.drops.receiver_down += 1;
                    return true;
                };
                node.handle_input(
                    now,
                    Received {
                        iface,
                        from,
                        broadcast,
                        kind,
                        data: &data,
                    },
                );
                self.digest.update(b"rx");
                self.digest.update_u64(now.as_nanos());
                self.digest.update_u64(u64::from(to.0));
                self.digest.update(&data);
                self.drain(to, observer);
                true
            }
            Event::Timer { node, boot } => {
                let now = self.now;
                let Some(slot) = self.slots.get_mut(node.index()) else {
                    return false;
                };
                if slot.boots != boot || slot.timer != Some(now.as_nanos()) {
                    return false;
                }
                slot.timer = None;
                let Some(n) = slot.node.as_mut() else {
                    return false;
                };
                n.handle_timeout(now);
                self.drain(node, observer);
                true
            }
            Event::Call { node, call } => {
                let now = self.now;
                let Some(n) = self
                    .slots
                    .get_mut(node.index())
                    .and_then(|s| s.node.as_mut())
                else {
                    return true;
                };
                call(n, now);
                self.drain(node, observer);
                true
            }
            Event::Action(action) => {
                self.digest.update(b"action");
                self.digest.update_u64(self.now.as_nanos());
                self.apply(action, observer);
                true
            }
            Event::MobilityTick => {
                self.move_nodes();
                self.push(self.now + self.mobility_step, Event::MobilityTick);
                true
            }
        }
    }

    fn apply<O: Observer<N>>(&mut self, action: Action, observer: &mut O) {
        match action {
            Action::CutLink(l) | Action::RestoreLink(l) => {
                let up = matches!(action, Action::RestoreLink(_));
                if let Some(link) = self.links.get_mut(l.0) {
                    link.up = up;
                }
            }
            Action::SetLinkLoss(l, loss) => {
                if let Some(link) = self.links.get_mut(l.0) {
                    link.params.loss = loss;
                }
            }
            Action::CutPair(a, b) => {
                self.cut_pairs.insert((a.min(b), a.max(b)));
            }
            Action::RestorePair(a, b) => {
                self.cut_pairs.remove(&(a.min(b), a.max(b)));
            }
            Action::Partition(groups) => {
                let mut labels = vec![0u32; self.slots.len()];
                for (g, members) in groups.iter().enumerate() {
                    for m in members {
                        if let Some(l) = labels.get_mut(m.index()) {
                            *l = u32::try_from(g + 1).unwrap_or(u32::MAX);
                        }
                    }
                }
                self.partition = Some(labels);
            }
            Action::Merge => self.partition = None,
            Action::Crash(node) => {
                if let Some(slot) = self.slots.get_mut(node.index()) {
                    slot.node = None;
                    slot.timer = None;
                }
            }
            Action::Reboot(node) => {
                let Some(count) = self.slots.get(node.index()).map(|s| s.boots + 1) else {
                    return;
                };
                let boot = self.boot(node, count);
                let fresh = (self.factory)(boot);
                if let Some(slot) = self.slots.get_mut(node.index()) {
                    slot.node = Some(fresh);
                    slot.boots = count;
                    slot.timer = None;
                }
                self.drain(node, observer);
            }
        }
    }

    fn move_nodes(&mut self) {
        let now = self.now;
        for (mover, pos) in self.groups.iter_mut().zip(self.group_positions.iter_mut()) {
            if !mover.is_static() {
                *pos = mover.position(now, &[]);
            }
        }
        for (slot, pos) in self.slots.iter_mut().zip(self.positions.iter_mut()) {
            if !slot.mover.is_static() {
                *pos = slot.mover.position(now, &self.group_positions);
            }
        }
    }

    /// Empties the node's output: transmissions, then events, then its next timer.
    fn drain<O: Observer<N>>(&mut self, id: NodeId, observer: &mut O) {
        let now = self.now;
        while let Some(t) = self
            .slots
            .get_mut(id.index())
            .and_then(|s| s.node.as_mut())
            .and_then(|n| n.poll_transmit(now, &mut self.buf))
        {
            let data = self.buf.get(..t.len).unwrap_or_default().to_vec();
            self.transmit(id, t, data);
        }
        while let Some(e) = self
            .slots
            .get_mut(id.index())
            .and_then(|s| s.node.as_mut())
            .and_then(Node::poll_event)
        {
            observer.on_event(now, id, e, &mut self.metrics);
        }
        let Some(slot) = self.slots.get_mut(id.index()) else {
            return;
        };
        let Some(deadline) = slot.node.as_ref().and_then(Node::poll_timeout) else {
            slot.timer = None;
            return;
        };
        let deadline = deadline.max(now).as_nanos();
        if slot.timer != Some(deadline) {
            slot.timer = Some(deadline);
            let boot = slot.boots;
            self.push(
                Instant::from_nanos(deadline),
                Event::Timer { node: id, boot },
            );
        }
    }

    fn transmit(&mut self, from: NodeId, t: Transmit, data: Vec<u8>) {
        self.metrics.record_transmit(from, t.kind, data.len());
        self.digest.update(b"tx");
        self.digest.update_u64(self.now.as_nanos());
        self.digest.update_u64(u64::from(from.0));
        self.digest.update(&data);
        let Some(slot) = self.slots.get(from.index()) else {
            return;
        };
        let Some(&port) = slot.ports.get(usize::from(t.iface.0)) else {
            self.metrics.drops.unreachable += 1;
            return;
        };
        let (bandwidth, delay, mtu) = match port {
            Port::Link { link, .. } => {
                let Some(l) = self.links.get(link) else {
                    return;
                };
                (l.params.bandwidth_bps, l.params.delay, l.params.mtu)
            }
            Port::Radio(r) => {
                let Some(r) = self.radios.get(r) else {
                    return;
                };
                (r.params.bandwidth_bps, r.params.delay, r.params.mtu)
            }
        };
        if data.len() > mtu {
            self.metrics.drops.oversize += 1;
            return;
        }
        let arrival = self.serialise(from, t.iface, bandwidth, data.len()) + delay;
        let receivers = self.receivers(from, port, t.destination);
        let broadcast = t.destination == Destination::Broadcast;
        let last = receivers.len();
        let mut data = Some(data);
        for (i, (to, iface)) in receivers.into_iter().enumerate() {
            let payload = if i + 1 == last {
                data.take().unwrap_or_default()
            } else {
                data.clone().unwrap_or_default()
            };
            self.push(
                arrival,
                Event::Deliver {
                    to,
                    iface,
                    from,
                    broadcast,
                    kind: t.kind,
                    data: payload,
                },
            );
        }
    }

    /// Books the interface for the packet's serialisation and returns when it has left.
    fn serialise(&mut self, node: NodeId, iface: IfaceId, bandwidth: u64, len: usize) -> Instant {
        let now = self.now.as_nanos();
        let Some(busy) = self
            .slots
            .get_mut(node.index())
            .and_then(|s| s.busy_until.get_mut(usize::from(iface.0)))
        else {
            return self.now;
        };
        let bits = u64::try_from(len).unwrap_or(u64::MAX).saturating_mul(8);
        let tx = bits
            .saturating_mul(1_000_000_000)
            .checked_div(bandwidth)
            .unwrap_or(0);
        *busy = (*busy).max(now).saturating_add(tx);
        Instant::from_nanos(*busy)
    }

    /// Who receives a packet sent on `port`, after reachability and loss.
    fn receivers(&mut self, from: NodeId, port: Port, dest: Destination) -> Vec<(NodeId, IfaceId)> {
        let mut out = Vec::new();
        match port {
            Port::Link { link, side } => {
                let Some(l) = self.links.get(link) else {
                    return out;
                };
                let Some(&(peer, iface)) = l.ends.get(1 - side) else {
                    return out;
                };
                let addressed = match dest {
                    Destination::Broadcast => true,
                    Destination::Unicast(n) => n == peer,
                };
                if !addressed || !l.up || !self.passes(from, peer) {
                    self.metrics.drops.unreachable += 1;
                    return out;
                }
                let model = l.params.loss;
                let Some(state) = self.links.get_mut(link).and_then(|l| l.loss.get_mut(side))
                else {
                    return out;
                };
                if state.lose(&model, &mut self.loss_rng) {
                    self.metrics.drops.lost += 1;
                } else {
                    out.push((peer, iface));
                }
            }
            Port::Radio(r) => {
                let Some(radio) = self.radios.get(r) else {
                    return out;
                };
                let candidates: Vec<(NodeId, IfaceId)> = radio
                    .members
                    .iter()
                    .copied()
                    .filter(|&(n, _)| n != from)
                    .filter(|&(n, _)| match dest {
                        Destination::Broadcast => true,
                        Destination::Unicast(to) => to == n,
                    })
                    .collect();
                let model = radio.params.loss;
                for (to, iface) in candidates {
                    let reachable = self
                        .radios
                        .get(r)
                        .is_some_and(|radio| self.in_range(radio, from, to))
                        && self.passes(from, to);
                    if !reachable {
                        if matches!(dest, Destination::Unicast(_)) {
                            self.metrics.drops.unreachable += 1;
                        }
                        continue;
                    }
                    let Some(radio) = self.radios.get_mut(r) else {
                        continue;
                    };
                    let state = radio.loss.entry((from, to)).or_default();
                    if state.lose(&model, &mut self.loss_rng) {
                        self.metrics.drops.lost += 1;
                    } else {
                        out.push((to, iface));
                    }
                }
            }
        }
        out
    }

    fn in_range(&self, radio: &Radio, a: NodeId, b: NodeId) -> bool {
        match (self.positions.get(a.index()), self.positions.get(b.index())) {
            (Some(pa), Some(pb)) => pa.distance(*pb) <= radio.params.range,
            _ => false,
        }
    }

    /// Whether the partition and pair cuts let packets pass between `a` and `b`, and `b` runs.
    fn passes(&self, a: NodeId, b: NodeId) -> bool {
        if self.cut_pairs.contains(&(a.min(b), a.max(b))) {
            return false;
        }
        if let Some(labels) = &self.partition
            && labels.get(a.index()) != labels.get(b.index())
        {
            return false;
        }
        self.is_up(a) && self.is_up(b)
    }
}
