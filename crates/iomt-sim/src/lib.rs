//! A deterministic discrete-event network simulator for sans-IO state machines.
//!
//! It drives anything that implements the small [`Node`] trait (the workspace's
//! [sans-IO contract](iomt_schema::contract): handle input and timeouts, poll transmits, events
//! and the timeout) over point-to-point [links](Simulator::add_link) with delay,
//! bandwidth, MTU and loss, and over shared [radio](Simulator::add_radio) channels where one
//! transmission reaches every node in range of the sender's position. Scheduled
//! [`Action`]s cut and restore links, partition and merge the network, crash and reboot nodes;
//! [`Mobility`] models move nodes (static, random waypoint, group, scripted paths such as a UAV
//! orbit). [`Metrics`] collects delivery ratio and latency percentiles per precedence, control
//! overhead per node, and convergence time; [`Topology`] is the ground truth for shortest-path
//! oracles; an [`Observer`] sees every node event and checks invariants after every simulator
//! event.
//!
//! Determinism: time is integer nanoseconds, the event heap is ordered by (time, insertion
//! sequence), tables are vectors and B-trees (no hash-map iteration decides anything), and
//! all randomness comes from per-purpose streams split off one root [`Seed`]. The same seed
//! gives the same trace, which [`Simulator::digest`] summarises.
//!
//! ```
//! use std::time::Duration;
//! use iomt_schema::Instant;
//! use iomt_sim::*;
//!
//! /// Broadcasts one packet at start and counts what it hears.
//! #[derive(Default)]
//! struct Ping { sent: bool, heard: u32 }
//!
//! impl Node for Ping {
//!     type Event = ();
//!     fn handle_input(&mut self, _: Instant, _: Received<'_>) { self.heard += 1; }
//!     fn handle_timeout(&mut self, _: Instant) {}
//!     fn poll_transmit(&mut self, _: Instant, buf: &mut Vec<u8>) -> Option<Transmit> {
//!         if std::mem::replace(&mut self.sent, true) {
//!             return None;
//!         }
//!         buf.clear();
//!         buf.extend_from_slice(b"hello");
//!         Some(Transmit {
//!             iface: IfaceId(0),
//!             destination: Destination::Broadcast,
//!             kind: Class::Control,
//!             len: buf.len(),
//!         })
//!     }
//!     fn poll_timeout(&self) -> Option<Instant> { None }
//! }
//!
//! let mut sim = Simulator::new(Seed(1), |_| Ping::default());
//! let radio = sim.add_radio(RadioParams {
//!     range: 100.0,
//!     delay: Duration::from_millis(2),
//!     bandwidth_bps: 0,
//!     mtu: 255,
//!     loss: Loss::None,
//! });
//! let nodes: Vec<NodeId> = [0.0, 60.0, 500.0]
//!     .into_iter()
//!     .map(|x| sim.add_node(Mobility::Static(Point::new(x, 0.0))))
//!     .collect();
//! for &n in &nodes {
//!     sim.attach(n, radio);
//! }
//! sim.run_for(Duration::from_secs(1), &mut ())?;
//! assert_eq!(sim.node(nodes[0]).unwrap().heard, 1, "only the node 60 m away is in range");
//! assert_eq!(sim.node(nodes[2]).unwrap().heard, 0);
//! # Ok::<(), Violation>(())
//! ```
//!
//! # What it does not do
//!
//! It is not a radio physics model: no carrier sense, collisions, capture or fading beyond
//! what the loss models express, and range is a disc. It never runs nodes in parallel: one
//! core, one event at a time, which is what makes it reproducible. It is a test and bench
//! tool; nothing in the library path of the workspace depends on it.

#![forbid(unsafe_code)]

mod digest;
mod loss;
mod metrics;
mod mobility;
mod node;
mod oracle;
mod rng;
mod sim;

pub use digest::TraceDigest;
pub use loss::Loss;
pub use metrics::{Convergence, Counter, Drops, Metrics, NodeTraffic};
pub use mobility::{Mobility, Path, Point, RandomWaypoint, scatter};
pub use node::{Class, Destination, IfaceId, Node, NodeId, Received, Transmit};
pub use oracle::{Topology, stretch};
pub use rng::{Probability, Purpose, Seed, SimRng, below, unit};
pub use sim::{
    Action, Boot, LinkId, LinkParams, Observer, RadioId, RadioParams, Simulator, Violation,
};
