//! A bare `iomt-mesh` router as an `iomt-sim` node. Simulated node `n` has a ShortId spread
//! over the id space, as hashed DeviceIds are.

use std::sync::Arc;

use iomt_mesh::{Event, Router, RouterConfig};
use iomt_schema::rand::SeededRandom;
use iomt_schema::{Instant, ShortId};
use iomt_sim::{Node, NodeId, Received, Transmit};

use crate::sim_router::{router_input, router_transmit};

/// The ShortId (router-id and mesh address) of simulated node `n`.
pub fn short(n: NodeId) -> ShortId {
    ShortId::from_u64(u64::from(n.0).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5555)
}

/// A router as a simulated node: simulator interface `i` is router interface `i`.
pub struct MeshNode {
    /// The router.
    pub router: Router,
    /// The simulated node it runs on.
    pub id: NodeId,
}

impl MeshNode {
    /// Node `id`'s router, started at `now` with `config`. Its jitter and its security
    /// randomness (message ids, packet-counter indices) both come from `seed`, so a simulated
    /// run replays from the simulator's seed.
    pub fn new(id: NodeId, now: Instant, seed: u64, config: RouterConfig) -> Self {
        let rng = Arc::new(SeededRandom::new(seed));
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
