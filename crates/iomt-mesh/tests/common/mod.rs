//! Drives `iomt-mesh` routers inside `iomt-sim`, with the loop-freedom oracle.
#![allow(dead_code, reason = "each test binary uses a different part")]
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::as_conversions,
    reason = "test code: a failed step stops the test where it happened"
)]

use std::collections::BTreeSet;
use std::net::Ipv6Addr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use iomt_mesh::{Event, InterfaceConfig, Prefix, Router, RouterConfig, Target};
use iomt_schema::{Instant, Precedence};
use iomt_sim::{
    Boot, LinkParams, Metrics, Mobility, NodeId, Observer, Point, RadioParams, Seed, Simulator,
};
pub use iomt_testkit::{MeshNode, link_local, node_of, short};

pub fn at(secs: f64) -> Instant {
    Instant::ZERO + Duration::from_secs_f64(secs)
}

/// Interface configurations per node, in the order the simulator attaches interfaces.
pub type Plan = Rc<Vec<Vec<InterfaceConfig>>>;

pub fn factory(plan: Plan, tweak: fn(&mut RouterConfig, Boot)) -> impl FnMut(Boot) -> MeshNode {
    move |boot: Boot| {
        let mut cfg = RouterConfig::new(short(boot.node));
        tweak(&mut cfg, boot);
        let mut router = Router::new(
            cfg,
            boot.now,
            boot.seed,
            Arc::new(ring::rand::SystemRandom::new()),
        );
        for c in plan.get(boot.node.index()).into_iter().flatten() {
            router.add_interface(boot.now, c.clone()).unwrap();
        }
        MeshNode {
            router,
            id: boot.node,
        }
    }
}

/// A wired network with the given links (by node index), `n` nodes.
pub fn wired(
    seed: u64,
    n: u32,
    links: &[(u32, u32)],
    params: LinkParams,
    iface: fn(Ipv6Addr) -> InterfaceConfig,
    tweak: fn(&mut RouterConfig, Boot),
) -> Simulator<MeshNode> {
    let mut plan = vec![Vec::new(); n as usize];
    for &(a, b) in links {
        plan[a as usize].push(iface(link_local(NodeId(a))));
        plan[b as usize].push(iface(link_local(NodeId(b))));
    }
    let mut sim = Simulator::new(Seed(seed), factory(Rc::new(plan), tweak));
    for i in 0..n {
        sim.add_node(Mobility::Static(Point::new(f64::from(i), 0.0)));
    }
    for &(a, b) in links {
        sim.add_link(NodeId(a), NodeId(b), params);
    }
    sim
}

pub fn grid_links(w: u32, h: u32) -> Vec<(u32, u32)> {
    let mut links = Vec::new();
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            if x + 1 < w {
                links.push((i, i + 1));
            }
            if y + 1 < h {
                links.push((i, i + w));
            }
        }
    }
    links
}

/// Nodes on one radio channel, each with one wireless interface.
pub fn radio(
    seed: u64,
    mobility: Vec<Mobility>,
    params: RadioParams,
    iface: fn(Ipv6Addr) -> InterfaceConfig,
) -> Simulator<MeshNode> {
    let n = mobility.len();
    let plan: Vec<Vec<InterfaceConfig>> = (0..n)
        .map(|i| vec![iface(link_local(NodeId(i as u32)))])
        .collect();
    let mut sim = Simulator::new(Seed(seed), factory(Rc::new(plan), |_, _| {}));
    let r = sim.add_radio(params);
    for m in mobility {
        let id = sim.add_node(m);
        sim.attach(id, r);
    }
    sim
}

/// Follows next hops from `from` towards `prefix`: `Ok(hops)` to the originator, `Err` on a
/// loop or a dead end (`Ok(None)` when `from` has no route).
pub fn walk(
    sim: &Simulator<MeshNode>,
    from: NodeId,
    prefix: &Prefix,
) -> Result<Option<u32>, String> {
    let mut cur = from;
    let mut seen = BTreeSet::new();
    let mut hops = 0;
    loop {
        if !seen.insert(cur) {
            return Err(format!("routing loop towards {prefix} through {seen:?}"));
        }
        let Some(node) = sim.node(cur) else {
            return Ok(None);
        };
        let Some(route) = node.router.route(prefix) else {
            return Ok(None);
        };
        let Some((_, via)) = route.next_hop else {
            return Ok(Some(hops));
        };
        cur = node_of(via);
        hops += 1;
    }
}

/// Whether every running node routes to every node it can reach over a shortest path.
pub fn shortest_everywhere(sim: &Simulator<MeshNode>) -> bool {
    stretch_stats(sim).is_some_and(|(pairs, max, missing)| pairs > 0 && max <= 1.0 && missing == 0)
}

/// (pairs checked, max stretch, reachable pairs without a route).
pub fn stretch_stats(sim: &Simulator<MeshNode>) -> Option<(usize, f64, usize)> {
    let topo = sim.topology();
    let mut pairs = 0;
    let mut max = 0.0f64;
    let mut missing = 0;
    for s in 0..sim.len() as u32 {
        let dist = topo.hops_from(NodeId(s));
        for d in 0..sim.len() as u32 {
            let Some(Some(shortest)) = dist.get(d as usize) else {
                continue;
            };
            if s == d || !sim.is_up(NodeId(s)) || !sim.is_up(NodeId(d)) {
                continue;
            }
            match walk(sim, NodeId(s), &Prefix::of(short(NodeId(d)))).ok()? {
                Some(h) => {
                    pairs += 1;
                    max = max.max(iomt_sim::stretch(h, Some(*shortest))?);
                }
                None => missing += 1,
            }
        }
    }
    Some((pairs, max, missing))
}

/// The payload key of a test datagram.
pub fn key_of(payload: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(payload.get(..8)?.try_into().ok()?))
}

/// Checks loop-freedom after every event (incrementally: a new loop must pass through the
/// node whose route just changed) and records deliveries.
#[derive(Default)]
pub struct Oracle {
    pub changed: Vec<(NodeId, Prefix)>,
    pub route_changes: u64,
    pub checks: u64,
    pub deliveries: Vec<(Instant, NodeId, u64)>,
}

impl Observer<MeshNode> for Oracle {
    fn on_event(&mut self, now: Instant, node: NodeId, event: Event, metrics: &mut Metrics) {
        match event {
            Event::RouteChanged(p) => {
                self.route_changes += 1;
                self.changed.push((node, p));
            }
            Event::Delivered(d) => {
                if let Some(k) = key_of(&d.payload) {
                    metrics.message_delivered(k, now);
                    self.deliveries.push((now, node, k));
                }
            }
            _ => {}
        }
    }

    fn check(&mut self, sim: &Simulator<MeshNode>) -> Result<(), String> {
        self.checks += 1;
        for (node, prefix) in self.changed.drain(..) {
            walk(sim, node, &prefix)?;
        }
        Ok(())
    }
}

#[allow(
    clippy::too_many_arguments,
    reason = "a test helper read at the call site"
)]
/// Schedules `count` datagrams from `src` to `dst` every `every` from `start`, keyed from
/// `key0`, and registers them in the metrics.
pub fn traffic(
    sim: &mut Simulator<MeshNode>,
    src: NodeId,
    dst: NodeId,
    start: Instant,
    every: Duration,
    count: u64,
    key0: u64,
    precedence: Precedence,
) {
    for i in 0..count {
        let t = start + every * u32::try_from(i).unwrap();
        let key = key0 + i;
        sim.metrics_mut().message_sent(key, precedence, t);
        let target = Target::Unicast(short(dst));
        sim.call(t, src, move |n: &mut MeshNode, now| {
            let mut payload = key.to_be_bytes().to_vec();
            payload.extend_from_slice(&[0; 24]);
            let _ = n
                .router
                .send(now, target, precedence, Duration::from_secs(10), &payload);
        });
    }
}
