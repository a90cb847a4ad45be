//! What the workspace's tests, benches and examples share, written once: one mission's
//! fixtures, a lossy two-endpoint link, a simulated device's hardware, and the adapters that
//! put `iomt-mesh` routers into the `iomt-sim` simulator.
//!
//! - **Mission** ([`MissionFixture`]): an authority and a verifier provisioned through the
//!   library's own enrolment path ([`iomt_identity::enrol`]), the reference platform and
//!   values, devices enrolled with credentials, certificates and results, and their EDHOC
//!   credentials. [`MissionFixture::seeded`] makes the same mission again from a seed.
//! - **Link** ([`Link`]): two `iomt-transport` endpoints on a seeded link that delays and
//!   loses datagrams, driven by a fake clock.
//! - **Hardware** ([`Hardware`]): a device's key and measured platform, whose firmware a
//!   simulation can replace.
//! - **Simulator adapters** ([`router_input`], [`router_transmit`], [`MeshNode`],
//!   [`coverage`]): a router on the simulated radio, and how much of the network its routes
//!   cover.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use iomt_identity::Algorithm;
//! use iomt_testkit::{DAY, Link, MissionFixture};
//!
//! let m = MissionFixture::seeded(7);
//! let (a, b) = (m.enrol(Algorithm::Ed25519, DAY), m.enrol(Algorithm::Ed25519, DAY));
//! let mut link = Link::new(Arc::new(m.credentials(&a)), Arc::new(m.credentials(&b)))
//!     .lossy(1, 100);
//! link.connect();
//! assert!(link.run_until(Duration::from_secs(60), |l| l.connected(0).len() == 1));
//! assert_eq!(MissionFixture::seeded(7).package, m.package);
//! ```
//!
//! What it is not: a dependency of any library crate (it is `publish = false`, taken as a path
//! dev-dependency), or secure. Its seeded randomness is for replaying runs, never for keys that
//! protect anything, and its fixtures panic when a set-up step fails.

#![forbid(unsafe_code)]

mod coverage;
mod hardware;
mod hex;
mod link;
mod mesh_node;
mod mission;
mod random;
mod report;
mod sim_router;

pub use coverage::coverage;
pub use hardware::Hardware;
pub use hex::{hex, hex_string};
pub use link::{Link, XorShift, device_of};
pub use mesh_node::{MeshNode, short};
pub use mission::{
    APP, BOOTLOADER, DAY, KERNEL, MissionFixture, T0, TestDevice, at, clock, evidence,
    good_measurements, mission, platform, reference,
};
pub use random::TestRandom;
pub use report::position_report;
pub use sim_router::{MeshInput, link_local, node_of, router_input, router_transmit, sim_transmit};
