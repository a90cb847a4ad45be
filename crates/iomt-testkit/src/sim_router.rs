//! How an `iomt-mesh` router meets the `iomt-sim` radio: addresses, packets in, packets out.
//! Simulated node `n` has link-local address `fe80::(n+1)` on every interface.

use core::net::Ipv6Addr;

use iomt_mesh::{BABEL_MULTICAST, Channel, DATA_MULTICAST, IfaceId, Router};
use iomt_schema::Instant;
use iomt_sim::{Class, Destination, NodeId, Received, Transmit};

/// The link-local address of simulated node `n`.
pub fn link_local(n: NodeId) -> Ipv6Addr {
    Ipv6Addr::from((0xfe80u128 << 112) | (u128::from(n.0) + 1))
}

/// The simulated node whose link-local address is `ll` (node 0 for an address no node has).
pub fn node_of(ll: Ipv6Addr) -> NodeId {
    NodeId(
        u32::try_from(u128::from(ll) & 0xffff_ffff)
            .unwrap_or(0)
            .saturating_sub(1),
    )
}

/// Where a packet the simulator delivered to node `me` goes in a mesh stack: its interface,
/// its channel (Babel on the control class, datagrams on the data class, as two UDP ports
/// would separate them), its sender's and its destination's addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeshInput {
    /// The router interface (simulator interface `i` is router interface `i`).
    pub iface: IfaceId,
    /// Routing or data.
    pub channel: Channel,
    /// The sender's link-local address.
    pub from: Ipv6Addr,
    /// The multicast group, or `me`'s link-local address.
    pub to: Ipv6Addr,
}

impl MeshInput {
    /// The addressing of `p`, delivered to node `me`.
    pub fn of(me: NodeId, p: &Received<'_>) -> Self {
        let (channel, group) = match p.kind {
            Class::Control => (Channel::Routing, BABEL_MULTICAST),
            Class::Data => (Channel::Data, DATA_MULTICAST),
        };
        Self {
            iface: IfaceId(p.iface.0),
            channel,
            from: link_local(p.from),
            to: if p.broadcast { group } else { link_local(me) },
        }
    }
}

/// Hands a packet the simulator delivered to node `me` to its router. Rejected input is
/// counted in the router's stats.
pub fn router_input(router: &mut Router, me: NodeId, now: Instant, p: Received<'_>) {
    let m = MeshInput::of(me, &p);
    let _ = router.handle_input(now, m.iface, m.channel, m.from, m.to, p.data);
}

/// The router's next packet as a transmission on the simulated radio.
pub fn router_transmit(router: &mut Router, now: Instant, buf: &mut Vec<u8>) -> Option<Transmit> {
    router.poll_transmit(now, buf).map(sim_transmit)
}

/// A mesh transmission as a transmission on the simulated radio.
pub fn sim_transmit(t: iomt_mesh::Transmit) -> Transmit {
    Transmit {
        iface: iomt_sim::IfaceId(t.iface.0),
        destination: if t.destination.is_multicast() {
            Destination::Broadcast
        } else {
            Destination::Unicast(node_of(t.destination))
        },
        kind: match t.kind {
            Channel::Routing => Class::Control,
            Channel::Data => Class::Data,
        },
        len: t.len,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_map_back_to_their_nodes() {
        for n in [0, 1, 41, u32::MAX - 1] {
            assert_eq!(node_of(link_local(NodeId(n))), NodeId(n));
        }
        assert_eq!(
            link_local(NodeId(0)),
            "fe80::1".parse::<Ipv6Addr>().unwrap()
        );
    }
}
