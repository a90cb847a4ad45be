//! A bare `iomt-mesh` router as an `iomt-sim` node, shared by the root package's example and
//! bench. Simulated node `n` has a ShortId spread over the id space.

use std::sync::Arc;

use iomt::mesh::{Event, Router};
use iomt::schema::{Instant, ShortId};
use iomt_sim::{Node, NodeId, Received, Transmit};

use super::sim_router::{router_input, router_transmit};

pub fn short(n: NodeId) -> ShortId {
    ShortId::from_u64(u64::from(n.0).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5555)
}

pub struct MeshNode {
    pub router: Router,
    pub id: NodeId,
}

impl MeshNode {
    pub fn new(id: NodeId, now: Instant, seed: u64, config: iomt::mesh::RouterConfig) -> Self {
        let rng = Arc::new(iomt::rand::SystemRandom::new());
        Self {
            router: Router::new(config, now, seed, rng),
            id,
        }
    }
}

impl Node for MeshNode {
    type Event = Event;

    fn handle_input(&mut self, now: Instant, p: Received<'_>) {
        router_input(&mut self.router, self.id, now, p);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.router.handle_timeout(now);
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<Transmit> {
        router_transmit(&mut self.router, now, buf)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.router.poll_timeout()
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.router.poll_event()
    }
}
