//! An `iomt-mesh` router as an `iomt-sim` node, shared by the root package's example and bench.
//! Simulated node `n` has link-local address `fe80::(n+1)` on every interface and a ShortId
//! spread over the id space.

use core::net::Ipv6Addr;
use std::sync::Arc;

use iomt::mesh::{BABEL_MULTICAST, Channel, DATA_MULTICAST, Event, IfaceId, Router};
use iomt::schema::{Instant, ShortId};
use iomt_sim::{Class, Destination, Node, NodeId, Received, Transmit};

pub fn short(n: NodeId) -> ShortId {
    ShortId::from_u64(u64::from(n.0).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5555)
}

pub fn link_local(n: NodeId) -> Ipv6Addr {
    Ipv6Addr::from((0xfe80u128 << 112) | u128::from(n.0 + 1))
}

pub fn node_of(ll: Ipv6Addr) -> NodeId {
    NodeId(
        u32::try_from(u128::from(ll) & 0xffff_ffff)
            .unwrap_or(0)
            .saturating_sub(1),
    )
}

pub struct MeshNode {
    pub router: Router,
    pub id: NodeId,
    buf: Vec<u8>,
}

impl MeshNode {
    pub fn new(id: NodeId, now: Instant, seed: u64, config: iomt::mesh::RouterConfig) -> Self {
        let random = Arc::new(ring::rand::SystemRandom::new());
        Self {
            router: Router::new(config, now, seed, random),
            id,
            buf: Vec::new(),
        }
    }
}

impl Node for MeshNode {
    type Event = Event;

    fn handle_input(&mut self, now: Instant, p: Received<'_>) {
        let (channel, group) = match p.class {
            Class::Control => (Channel::Routing, BABEL_MULTICAST),
            Class::Data => (Channel::Data, DATA_MULTICAST),
        };
        let to = if p.broadcast {
            group
        } else {
            link_local(self.id)
        };
        // Rejected input is counted in the router's stats; nothing else to do here.
        let _ = self.router.handle_input(
            now,
            IfaceId(p.iface.0),
            channel,
            link_local(p.from),
            to,
            p.data,
        );
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.router.handle_timeout(now);
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
        let t = self.router.poll_transmit(now, &mut self.buf)?;
        Some(Transmit {
            iface: iomt_sim::IfaceId(t.iface.0),
            destination: if t.destination.is_multicast() {
                Destination::Broadcast
            } else {
                Destination::Unicast(node_of(t.destination))
            },
            class: match t.channel {
                Channel::Routing => Class::Control,
                Channel::Data => Class::Data,
            },
            data: self.buf.clone(),
        })
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.router.poll_timeout()
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.router.poll_event()
    }
}
