//! IoMT: protocol libraries for the Internet of Military Things.
//!
//! This facade re-exports the workspace's crates so an application can depend on one crate:
//!
//! - [`schema`]: the vocabulary, message catalogue and canonical wire codec (`iomt-schema`).
//! - [`identity`]: device keys, credentials, attestation, trust packages, revocation and
//!   authorization (`iomt-identity`; its rustls verifiers with the `rustls` feature).
//! - [`transport`]: sans-IO secure sessions: EDHOC handshakes between attested identities,
//!   the datagram record layer, and TLS 1.3 backhaul configurations with post-handshake
//!   attestation (`iomt-transport`; the TLS part with the `rustls` feature).
//! - [`mesh`]: the sans-IO mesh router: Babel (RFC 8966) with RFC 8967 MACs, datagram
//!   forwarding, flooding and precedence queues (`iomt-mesh`).
//! - [`node`]: one device, sans-IO: the router, end-to-end sessions over the mesh and the
//!   device's identity behind one application API (`iomt-node`).
//! - [`rand`]: the workspace's randomness trait, which the state machines and key generation
//!   take (`Arc<dyn rand::SecureRandom>`, `&dyn rand::SecureRandom`), and the operating
//!   system's generator behind it (`rand::SystemRandom`, through `ring`), so that an
//!   application needs no `ring` dependency of its own.
//!
//! ```
//! use iomt::schema::{Precedence, ShortId};
//! assert!(Precedence::Flash > Precedence::Routine);
//! assert_eq!(ShortId::from_u64(1).to_string(), "0000000000000001");
//! ```
//!
//! It adds no code of its own; examples and benches of the whole workspace live with it.

#![forbid(unsafe_code)]

pub use iomt_identity as identity;
pub use iomt_mesh as mesh;
pub use iomt_node as node;
pub use iomt_schema as schema;
/// Security randomness for every state machine and key generation: `SecureRandom`,
/// `SystemRandom` (the operating system's, through `ring`).
pub use iomt_schema::rand;
pub use iomt_transport as transport;
