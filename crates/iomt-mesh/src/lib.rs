//! A sans-IO mesh router for the Internet of Military Things.
//!
//! [`Router`] speaks Babel (RFC 8966), wire-compatible with `babeld`: Hello/IHU neighbour
//! discovery with ETX or 2-out-of-3 link costs, route and source tables with feasibility
//! distances (loop-free while routes change), seqno and route requests, triggered updates and
//! retractions, selection with hysteresis, and per-interface timers (slow Hellos for
//! narrowband links). Packets can carry RFC 8967 HMAC-SHA256 MACs with packet counters and
//! challenges; keys are handed in from outside as [`MacKey`] values, per interface
//! ([`Router::set_interface_keys`]) or per neighbour ([`Router::set_neighbour_keys`], for keys
//! derived from transport sessions). Each device's router-id is its 8-byte
//! [`ShortId`](iomt_schema::ShortId) and it announces the /128 [`address_of`] its id (the
//! mapping is documented, and reversed by [`short_id_of`]).
//!
//! On top of the routes it forwards application datagrams behind a compact [mesh
//! header](datagram): unicast along the route table, or flooded with a bounded duplicate cache
//! and counter-based suppression, through per-next-hop precedence queues (Flash first, Routine
//! shed first, expired datagrams dropped). With keys, datagrams are authenticated hop by hop
//! under the same keys, packet counters and replay state as the Babel packets, in an
//! [authenticated data packet](datagram#authenticated-data-packets) (52 bytes per hop with one
//! key): a node without the keys can neither inject nor replay datagrams, so it cannot make
//! queued traffic be shed either, and what it tries is counted in [`Stats::data_auth`]. Message ids are drawn from the `SecureRandom` and the
//! duplicate cache knows a flooded datagram by a digest of its content as well, so guessed or
//! captured ids cannot suppress a real flood. Without keys none of this holds: anyone on the
//! link can forge and replay datagrams and routes, which is for closed test networks only.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use iomt_mesh::*;
//! use iomt_schema::{Instant, Precedence, ShortId};
//!
//! let rng = Arc::new(rand::SystemRandom::new());
//! let (a_id, b_id) = (ShortId::from_u64(0xa), ShortId::from_u64(0xb));
//! let mut a = Router::new(RouterConfig::new(a_id), Instant::ZERO, 1, rng.clone());
//! let mut b = Router::new(RouterConfig::new(b_id), Instant::ZERO, 2, rng);
//! let (lla, llb) = ("fe80::a".parse()?, "fe80::b".parse()?);
//! let ia = a.add_interface(Instant::ZERO, InterfaceConfig::wired(lla))?;
//! let ib = b.add_interface(Instant::ZERO, InterfaceConfig::wired(llb))?;
//! // A shared link key: routing packets and datagrams are authenticated hop by hop.
//! let key = MacKey::hmac_sha256(&[0x5a; 64]);
//! a.set_interface_keys(ia, vec![key.clone()]);
//! b.set_interface_keys(ib, vec![key]);
//!
//! // A two-node "network": whatever one sends, the other receives. Routes are selected once
//! // the start-up hold-down is over (2.5 Hello intervals, every neighbour acknowledged).
//! fn carry(now: Instant, tx: &mut Router, rx: &mut Router, from: core::net::Ipv6Addr, at: IfaceId) {
//!     let mut buf = Vec::new();
//!     tx.handle_timeout(now);
//!     while let Some(t) = tx.poll_transmit(now, &mut buf) {
//!         let _ = rx.handle_input(now, at, t.kind, from, t.destination, &buf[..t.len]);
//!     }
//! }
//! let mut now = Instant::ZERO;
//! while now < Instant::ZERO + Duration::from_secs(15) {
//!     carry(now, &mut a, &mut b, lla, ib);
//!     carry(now, &mut b, &mut a, llb, ia);
//!     now = a.poll_timeout().unwrap().min(b.poll_timeout().unwrap());
//! }
//! assert_eq!(a.next_hop(b_id), Some((ia, llb)));
//!
//! // A Flash datagram from a to b.
//! a.send(now, Target::Unicast(b_id), Precedence::Flash, Duration::from_secs(30), b"contact")?;
//! let mut buf = Vec::new();
//! let t = a.poll_transmit(now, &mut buf).unwrap();
//! b.handle_input(now, ib, t.kind, lla, t.destination, &buf[..t.len])?;
//! let delivered = std::iter::from_fn(|| b.poll_event()).find_map(|e| match e {
//!     Event::Delivered(d) => Some(d),
//!     _ => None,
//! });
//! assert_eq!(delivered.unwrap().payload, b"contact");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What it does not do
//!
//! No sockets, clock or threads: the driver (`iomt-node`, or a test harness) moves bytes and
//! time. It does not install kernel routes, redistribute routes from other protocols, or do
//! source-specific routing (Updates with the mandatory source-prefix sub-TLV are ignored, as
//! RFC 8966 requires of an implementation that does not support it). It does not compute RTT
//! (timestamp sub-TLVs are skipped) and ignores unicast Hellos for link quality. Datagram
//! payloads are opaque: end-to-end authentication and encryption belong to `iomt-transport`.
//! MACs authenticate the previous hop, not the origin: any holder of a link key can still
//! claim another source for a datagram or announce a route it does not have.
//! Packets with a malformed TLV are dropped whole (RFC 8966 asks only that the TLV be
//! ignored), so a malformed packet never changes state. A neighbour is created by its first
//! valid (and, with keys, authenticated) packet that carries a Hello, an IHU or a challenge
//! request, up to [`Limits::neighbours`], rather than surfacing for the application to
//! accept: admission is the MAC keys' job.
//! A restarted router has lost its feasibility distances; it withdraws everything it may have
//! announced and selects nothing until its neighbours acknowledge (see
//! [`Router::add_interface`]), but a neighbour it cannot hear that misses every withdrawal can
//! still hold a stale route through it until that route expires, so a transient loop after a
//! restart is not excluded (the hop limit bounds it).
//!
//! # On one machine
//!
//! Babel packets must come from a link-local address, and on the loopback interface every
//! router is `::1`. An interface whose own address is `::1`
//! (`InterfaceConfig::wired(Ipv6Addr::LOCALHOST)`) takes Babel packets from `::1` as well, so
//! two routers driven over loopback UDP sockets on two ports peer, MACs included, without
//! network namespaces or root: the driver hands each one's packets, multicast included, to the
//! other's port. Only two, since they share one address: a third would be the same neighbour
//! to them. Every other interface still refuses `::1`. For more routers on one machine use
//! network namespaces joined by veth pairs (as `tests/babeld_interop.rs` does against babeld,
//! as root) or the deterministic simulator `iomt-sim` (as `tests/simulation.rs` does).
//!
//! # Features
//!
//! - `std` (default): `std::error::Error` through `iomt-schema` and `thiserror`. Without it
//!   the crate is `no_std` + `alloc` on targets with atomic pointers (the `rng` is an `Arc`).
//!
//! The [`rand`] module re-exports `iomt_schema::rand`: its [`SecureRandom`](rand::SecureRandom)
//! is the router's `rng` and [`SystemRandom`](rand::SystemRandom) makes one, so a driver needs
//! no `ring` dependency of its own.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

mod config;
pub mod datagram;
mod flood;
mod mac;
mod neighbour;
mod prefix;
mod queue;
mod router;
pub mod wire;

#[cfg(fuzzing)]
pub mod fuzzing;

/// `ring`'s randomness: [`Router::new`] takes an `Arc<dyn rand::SecureRandom + Send + Sync>`
/// (in production a [`rand::SystemRandom`]).
pub use iomt_schema::rand;

pub use config::{InterfaceConfig, Limits, RouterConfig};
pub use datagram::{DataAuth, DataPacket, DatagramError, Header, Target};
pub use mac::{BABEL_PORT, MacKey};
pub use neighbour::{INFINITY, LinkKind};
pub use prefix::{MESH_PREFIX, Prefix, address_of, address_of_device, short_id_of};
pub use router::{
    AuthDrops, BABEL_MULTICAST, Channel, ConfigError, DATA_MULTICAST, Delivery, Event, IfaceId,
    InputError, NeighbourInfo, RouteInfo, Router, SendError, Stats, Transmit,
};
