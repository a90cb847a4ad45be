//! How much of the network routing covers, checked against the simulator's ground truth.

use iomt::mesh::{Prefix, Router};
use iomt::schema::ShortId;
use iomt_sim::{Node, NodeId, Simulator};

use super::sim_router::node_of;

/// The share of node pairs that can reach each other right now (in the simulator's topology)
/// for which the source's routes, followed hop by hop, arrive at the destination. Node `i`
/// announces the prefix of `ids[i]`; `router` finds a node's router.
pub fn coverage<N: Node>(
    sim: &Simulator<N>,
    ids: &[ShortId],
    router: impl Fn(&N) -> &Router,
) -> f64 {
    let topo = sim.topology();
    let (mut reachable, mut routed) = (0u32, 0u32);
    let nodes = u32::try_from(ids.len()).unwrap_or(u32::MAX);
    for s in 0..nodes {
        let hops = topo.hops_from(NodeId(s));
        for d in (0..nodes).filter(|d| *d != s && hops[*d as usize].is_some()) {
            reachable += 1;
            let prefix = Prefix::of(ids[d as usize]);
            let mut cur = NodeId(s);
            for _ in 0..nodes {
                let Some(route) = sim.node(cur).and_then(|n| router(n).route(&prefix)) else {
                    break;
                };
                let Some((_, via)) = route.next_hop else {
                    routed += 1;
                    break;
                };
                cur = node_of(via);
            }
        }
    }
    if reachable == 0 {
        return 1.0;
    }
    f64::from(routed) / f64::from(reachable)
}
