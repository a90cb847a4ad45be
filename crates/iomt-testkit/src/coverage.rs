//! How much of the network routing covers, checked against the simulator's ground truth.

use iomt_mesh::{Prefix, Router};
use iomt_schema::ShortId;
use iomt_sim::{Node, NodeId, Simulator};

use crate::sim_router::node_of;

/// The share of node pairs that can reach each other right now (in the simulator's topology)
/// for which the source's routes, followed hop by hop, arrive at the destination; 1.0 when no
/// pair can. Node `i` announces the prefix of `ids[i]`; `router` finds a node's router.
pub fn coverage<N: Node>(
    sim: &Simulator<N>,
    ids: &[ShortId],
    router: impl Fn(&N) -> &Router,
) -> f64 {
    let topo = sim.topology();
    let (mut reachable, mut routed) = (0u32, 0u32);
    for (s, hops) in (0..ids.len()).map(|s| (s, topo.hops_from(node(s)))) {
        for (d, id) in ids.iter().enumerate() {
            if d == s || hops.get(d).copied().flatten().is_none() {
                continue;
            }
            reachable += 1;
            let prefix = Prefix::of(*id);
            let mut cur = node(s);
            for _ in 0..ids.len() {
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

fn node(i: usize) -> NodeId {
    NodeId(u32::try_from(i).unwrap_or(u32::MAX))
}
