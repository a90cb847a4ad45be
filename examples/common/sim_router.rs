//! How an `iomt-mesh` router meets the `iomt-sim` radio: addresses, packets in, packets out.
//! Simulated node `n` has link-local address `fe80::(n+1)` on every interface.

use core::net::Ipv6Addr;

use iomt::mesh::{BABEL_MULTICAST, Channel, DATA_MULTICAST, IfaceId, Router};
use iomt::schema::Instant;
use iomt_sim::{Class, Destination, NodeId, Received, Transmit};

pub fn link_local(n: NodeId) -> Ipv6Addr {
    Ipv6Addr::from((0xfe80u128 << 112) | u128::from(n.0 + 1))
}

pub fn node_of(ll: Ipv6Addr) -> NodeId {
    NodeId(
        u32::try_from(u128::from(ll) & 0xffff_ffff)
            .unwrap_or(0)
            .saturating_sub(1),
    )
}

/// Hands a packet the simulator delivered to node `me` to its router: Babel on the control
/// class, datagrams on the data class, as two UDP ports would separate them.
pub fn router_input(router: &mut Router, me: NodeId, now: Instant, p: Received<'_>) {
    let (channel, group) = match p.kind {
        Class::Control => (Channel::Routing, BABEL_MULTICAST),
        Class::Data => (Channel::Data, DATA_MULTICAST),
    };
    let to = if p.broadcast { group } else { link_local(me) };
    // Rejected input is counted in the router's stats; nothing else to do here.
    let _ = router.handle_input(
        now,
        IfaceId(p.iface.0),
        channel,
        link_local(p.from),
        to,
        p.data,
    );
}

/// The router's next packet as a transmission on the simulated radio.
pub fn router_transmit(router: &mut Router, now: Instant, buf: &mut Vec<u8>) -> Option<Transmit> {
    let t = router.poll_transmit(now, buf)?;
    Some(Transmit {
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
    })
}
