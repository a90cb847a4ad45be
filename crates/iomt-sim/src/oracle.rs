//! Ground truth from the simulator's own view of the network, for checking protocols: who can
//! hear whom right now, and shortest paths over that graph.

use std::collections::VecDeque;

use crate::node::NodeId;

/// The connectivity graph at one instant: an edge wherever a packet could currently get
/// through (link up, in range, not partitioned, both ends running), loss aside.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Topology {
    adjacency: Vec<Vec<NodeId>>,
}

impl Topology {
    pub(crate) fn new(nodes: usize) -> Self {
        Self {
            adjacency: vec![Vec::new(); nodes],
        }
    }

    pub(crate) fn connect(&mut self, a: NodeId, b: NodeId) {
        for (x, y) in [(a, b), (b, a)] {
            if let Some(list) = self.adjacency.get_mut(x.index())
                && !list.contains(&y)
            {
                list.push(y);
            }
        }
    }

    pub(crate) fn finish(&mut self) {
        self.adjacency.iter_mut().for_each(|l| l.sort_unstable());
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.adjacency.len()
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.adjacency.is_empty()
    }

    /// Neighbours of `node`, in id order.
    pub fn neighbours(&self, node: NodeId) -> &[NodeId] {
        self.adjacency.get(node.index()).map_or(&[], Vec::as_slice)
    }

    /// Hop counts from `from` to every node (`None` where unreachable), by breadth-first search.
    pub fn hops_from(&self, from: NodeId) -> Vec<Option<u32>> {
        let mut dist = vec![None; self.adjacency.len()];
        let Some(slot) = dist.get_mut(from.index()) else {
            return dist;
        };
        *slot = Some(0);
        let mut queue = VecDeque::from([from]);
        while let Some(n) = queue.pop_front() {
            let d = dist.get(n.index()).copied().flatten().unwrap_or(0);
            for &m in self.neighbours(n) {
                if let Some(slot @ None) = dist.get_mut(m.index()) {
                    *slot = Some(d + 1);
                    queue.push_back(m);
                }
            }
        }
        dist
    }

    /// Whether every node reaches every other.
    pub fn is_connected(&self) -> bool {
        self.is_empty() || self.hops_from(NodeId(0)).iter().all(Option::is_some)
    }
}

/// Route stretch: hops a route takes over the shortest possible, `None` if there is no path.
pub fn stretch(route_hops: u32, shortest_hops: Option<u32>) -> Option<f64> {
    let shortest = shortest_hops?;
    if shortest == 0 {
        return Some(1.0);
    }
    Some(f64::from(route_hops) / f64::from(shortest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bfs_on_a_line_with_a_gap() {
        let mut t = Topology::new(4);
        t.connect(NodeId(0), NodeId(1));
        t.connect(NodeId(1), NodeId(2));
        t.finish();
        assert_eq!(
            t.hops_from(NodeId(0)),
            vec![Some(0), Some(1), Some(2), None]
        );
        assert!(!t.is_connected());
        assert_eq!(stretch(3, Some(2)), Some(1.5));
        assert_eq!(stretch(3, None), None);
    }
}
