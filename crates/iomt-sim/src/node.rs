//! The contract between the simulator and the sans-IO state machines it drives: the
//! workspace's sans-IO contract, with the simulator as the driver.

use iomt_schema::Instant;

/// Index of a simulated node, dense from 0 in the order nodes were added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u32);

impl NodeId {
    /// The index as a `usize`, for tables with one slot per node.
    pub fn index(self) -> usize {
        usize::try_from(self.0).unwrap_or(usize::MAX)
    }
}

/// A node's network interface, dense from 0 per node in the order links and radios were
/// attached to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IfaceId(pub u16);

/// What a packet carries, for the control-overhead figures: the simulator never looks inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// Protocol control traffic (routing, keying, acknowledgements).
    Control,
    /// Application payload.
    Data,
}

/// Where a transmission goes on its interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Destination {
    /// Everyone who hears the interface: the far end of a link, or every node in radio range.
    Broadcast,
    /// One node; others in range do not receive it.
    Unicast(NodeId),
}

/// A packet a node hands to the simulator: its bytes are the first `len` of the buffer passed
/// to [`Node::poll_transmit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    /// The interface it leaves on.
    pub iface: IfaceId,
    /// Who should receive it.
    pub destination: Destination,
    /// Control or data, for the figures.
    pub kind: Class,
    /// Its length in the buffer.
    pub len: usize,
}

/// A packet the simulator hands to a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received<'a> {
    /// The interface it arrived on.
    pub iface: IfaceId,
    /// The sender.
    pub from: NodeId,
    /// Whether it was sent to everyone in range rather than to this node alone.
    pub broadcast: bool,
    /// Control or data, as the sender marked it.
    pub kind: Class,
    /// The bytes.
    pub data: &'a [u8],
}

/// A sans-IO state machine the simulator can drive, on the workspace's
/// [sans-IO contract](iomt_schema::contract): after every input, timeout or call the simulator
/// drains the node in the contract's order (transmits, then events, then the timeout it
/// schedules the next wake-up at). What it adds: packets arrive as a [`Received`], with the
/// sender's [`NodeId`] for an address, and the simulator keeps the buffer it polls into.
pub trait Node {
    /// What the node reports to the scenario (a delivered message, a route change, ...).
    type Event;

    /// A packet arrived.
    fn handle_input(&mut self, now: Instant, packet: Received<'_>);

    /// The instant last returned by `poll_timeout` has been reached.
    fn handle_timeout(&mut self, now: Instant);

    /// The next packet to send, if any, written into `buf` (cleared first).
    #[must_use]
    fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<Transmit>;

    /// The next event for the scenario, if any.
    fn poll_event(&mut self) -> Option<Self::Event> {
        None
    }

    /// When the node next wants `handle_timeout`, if ever.
    fn poll_timeout(&self) -> Option<Instant>;
}
