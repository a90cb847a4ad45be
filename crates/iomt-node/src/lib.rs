//! One IoMT device, sans-IO: an `iomt-mesh` router on the device's interfaces, an
//! `iomt-transport` endpoint whose EDHOC sessions ride the mesh end to end, and the device's
//! `iomt-identity` credentials deciding who each session is with, behind one application API.
//!
//! The application sends [`Frame`](iomt_schema::Frame)s to a [`DeviceId`](iomt_schema::DeviceId)
//! and receives frames with the sender's verified identity and trust state; sessions open on
//! demand and are keyed on the identity the handshake verified, never on an address. The
//! simulator (`iomt-sim`) and a runtime drive the very same [`Node`], through the workspace's
//! sans-IO contract.
//!
//! ```
//! use std::sync::{Arc, RwLock};
//! use iomt_node::{Node, NodeConfig};
//! use iomt_identity::enrol::{MissionAuthority, MissionConfig};
//! # use iomt_identity::{Algorithm, Mission, ReferenceValues, SoftwareKey};
//! # use iomt_schema::{Instant, Timestamp, rand::SystemRandom};
//! # use iomt_transport::{IdentityCredentials, WallClock};
//! # let rng = Arc::new(SystemRandom::new());
//! # let key = |rng: &SystemRandom| Arc::new(SoftwareKey::generate(Algorithm::Ed25519, rng).unwrap());
//! # let start = Timestamp::from_millis(1_800_000_000_000).unwrap();
//! # let authority = MissionAuthority::new(
//! #     MissionConfig::new(Mission::new("op")?, ReferenceValues::default()), key(&rng), key(&rng), start)?;
//! # let trust = Arc::new(RwLock::new(authority.provisioning().trust_store()?));
//! let device = key(&rng);
//! let creds = IdentityCredentials::new(trust, device.clone(), WallClock::new(Instant::ZERO, start));
//! let config = NodeConfig::new(device.public_key().short_id());
//! let node = Node::new(config, Arc::new(creds), Instant::ZERO, rng)?;
//! assert_eq!(node.device(), device.public_key().device_id());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! What it does not do (yet): it holds no sockets, clocks or files (a runtime does), and does
//! not fragment frames larger than a mesh datagram.

mod config;
mod node;

pub use config::{ConfigError, NodeConfig};
pub use node::{
    Event, Node, NodeStats, PeerStatus, ReattestError, ReattestFailure, SendError, SendFailure,
};
