//! The runtime for [`iomt_node::Node`]: real UDP sockets, timers from the node's
//! `poll_timeout`, and a cloneable [`NodeHandle`] to send frames, watch events and read a
//! status snapshot, in the style of quinn over quinn-proto. This is the one library crate of the
//! workspace that reads a clock or opens a socket; everything it drives is sans-IO.
//!
//! ```no_run
//! # use std::sync::{Arc, RwLock};
//! # use iomt_identity::{TrustStore, SoftwareKey};
//! # use iomt_mesh::InterfaceConfig;
//! # use iomt_node::{Node, NodeConfig};
//! # use iomt_schema::{DeviceId, Frame, rand::SystemRandom};
//! # use iomt_transport::IdentityCredentials;
//! use iomt_tokio::{Clock, LinkSpec, LoopbackSockets};
//! # async fn run(trust: Arc<RwLock<TrustStore>>, key: Arc<SoftwareKey>, peer_ports: iomt_tokio::LoopbackPorts, to: DeviceId, frame: Frame) -> Result<(), Box<dyn std::error::Error>> {
//! let clock = Clock::start();
//! let creds = Arc::new(IdentityCredentials::new(trust, key.clone(), clock.wall_clock()));
//! let node = Node::new(NodeConfig::new(key.public_key().short_id()), creds, clock.now(), Arc::new(SystemRandom::new()))?;
//! // This device on loopback, beside one peer whose four ports are known.
//! let link = LinkSpec::loopback(LoopbackSockets::bind().await?, peer_ports, Vec::new());
//! let (handle, mut events) = iomt_tokio::spawn(node, clock, vec![link])?;
//! handle.send(to, frame).await?;
//! while let Some(event) = events.recv().await {
//!     println!("{event:?}");
//! }
//! # Ok(()) }
//! ```
//!
//! What it does not do yet: sockets on named interfaces with link-local multicast, the TLS
//! backhaul, persistence of keys and counters, and signal handling. On loopback two nodes
//! peer (the mesh admits exactly two routers on `::1`: see `iomt_mesh`'s "On one machine").

mod clock;
mod driver;
mod link;

pub use clock::Clock;
pub use driver::{Command, Events, NodeHandle, RuntimeError, Status, spawn};
pub use link::{LinkSpec, LoopbackPorts, LoopbackSockets};
