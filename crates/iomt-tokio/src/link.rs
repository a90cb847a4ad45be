//! The links a node runs on, and their sockets.

use std::io;
use std::net::{Ipv6Addr, SocketAddr};
use std::sync::Arc;

use iomt_mesh::{BABEL_MULTICAST, Channel, DATA_MULTICAST, InterfaceConfig, MacKey};
use tokio::net::UdpSocket;

/// The four UDP ports of a node on loopback: for routing and for data, one that stands for the
/// link's multicast group and one for unicast to this node. Packets sent to the group port are
/// handed to the router as sent to the group, the others as sent to `::1`, so that the RFC 8967
/// pseudo-header is the one the sender used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LoopbackPorts {
    /// Babel, as sent to `ff02::1:6`.
    pub routing_group: u16,
    /// Babel, as sent to this node.
    pub routing_unicast: u16,
    /// Datagrams, as flooded to the data group.
    pub data_group: u16,
    /// Datagrams, as sent to this node.
    pub data_unicast: u16,
}

/// The bound sockets of a node on loopback (`[::1]`, ports chosen by the system unless given).
#[derive(Debug)]
pub struct LoopbackSockets {
    pub(crate) routing_group: UdpSocket,
    pub(crate) routing_unicast: UdpSocket,
    pub(crate) data_group: UdpSocket,
    pub(crate) data_unicast: UdpSocket,
}

impl LoopbackSockets {
    /// Binds four sockets on `[::1]` at ports the system picks.
    pub async fn bind() -> io::Result<Self> {
        Self::bind_ports(LoopbackPorts {
            routing_group: 0,
            routing_unicast: 0,
            data_group: 0,
            data_unicast: 0,
        })
        .await
    }

    /// Binds four sockets on `[::1]` at `ports`.
    pub async fn bind_ports(ports: LoopbackPorts) -> io::Result<Self> {
        let bind = |port| UdpSocket::bind((Ipv6Addr::LOCALHOST, port));
        Ok(Self {
            routing_group: bind(ports.routing_group).await?,
            routing_unicast: bind(ports.routing_unicast).await?,
            data_group: bind(ports.data_group).await?,
            data_unicast: bind(ports.data_unicast).await?,
        })
    }

    /// The ports they are bound to: what the peer's [`LinkSpec::loopback`] needs.
    pub fn ports(&self) -> io::Result<LoopbackPorts> {
        let port = |s: &UdpSocket| s.local_addr().map(|a| a.port());
        Ok(LoopbackPorts {
            routing_group: port(&self.routing_group)?,
            routing_unicast: port(&self.routing_unicast)?,
            data_group: port(&self.data_group)?,
            data_unicast: port(&self.data_unicast)?,
        })
    }
}

/// One link the node routes on: its sockets, its router interface and its RFC 8967 keys.
#[derive(Debug)]
pub struct LinkSpec {
    pub(crate) sockets: LoopbackSockets,
    pub(crate) peer: LoopbackPorts,
    pub(crate) interface: InterfaceConfig,
    pub(crate) keys: Vec<MacKey>,
}

impl LinkSpec {
    /// The loopback link to one peer on the same machine whose sockets are at `peer`, as a
    /// wired interface whose address is `::1`, with MAC `keys` (empty: no MACs, for closed test
    /// networks only).
    pub fn loopback(sockets: LoopbackSockets, peer: LoopbackPorts, keys: Vec<MacKey>) -> Self {
        Self {
            sockets,
            peer,
            interface: InterfaceConfig::wired(Ipv6Addr::LOCALHOST),
            keys,
        }
    }

    /// Replaces the router interface's configuration (Hello and update intervals, costs,
    /// packet size); its address stays the link's.
    #[must_use]
    pub fn with_interface(mut self, mut interface: InterfaceConfig) -> Self {
        interface.link_local = self.interface.link_local;
        self.interface = interface;
        self
    }
}

/// A link's sockets once the driver runs: where each channel reads, and where it sends.
pub(crate) struct Bound {
    /// (socket, channel, the destination address it stands for).
    pub(crate) readers: Vec<(Arc<UdpSocket>, Channel, Ipv6Addr)>,
    routing: Arc<UdpSocket>,
    data: Arc<UdpSocket>,
    peer: LoopbackPorts,
}

impl Bound {
    pub(crate) fn new(sockets: LoopbackSockets, peer: LoopbackPorts) -> Self {
        let routing = Arc::new(sockets.routing_unicast);
        let data = Arc::new(sockets.data_unicast);
        Self {
            readers: vec![
                (
                    Arc::new(sockets.routing_group),
                    Channel::Routing,
                    BABEL_MULTICAST,
                ),
                (routing.clone(), Channel::Routing, Ipv6Addr::LOCALHOST),
                (Arc::new(sockets.data_group), Channel::Data, DATA_MULTICAST),
                (data.clone(), Channel::Data, Ipv6Addr::LOCALHOST),
            ],
            routing,
            data,
            peer,
        }
    }

    /// The socket to send a packet of `channel` for `destination` from, and where to.
    pub(crate) fn route(
        &self,
        channel: Channel,
        destination: Ipv6Addr,
    ) -> (&UdpSocket, SocketAddr) {
        let group = destination.is_multicast();
        let (socket, port) = match (channel, group) {
            (Channel::Routing, true) => (&self.routing, self.peer.routing_group),
            (Channel::Routing, false) => (&self.routing, self.peer.routing_unicast),
            (Channel::Data, true) => (&self.data, self.peer.data_group),
            (Channel::Data, false) => (&self.data, self.peer.data_unicast),
        };
        (&**socket, SocketAddr::from((Ipv6Addr::LOCALHOST, port)))
    }
}
