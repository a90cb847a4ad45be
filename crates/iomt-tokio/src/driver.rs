//! The driver task: one per node, the only owner of the node; everything else talks to it
//! through a [`NodeHandle`].

use std::io;
use std::net::{Ipv6Addr, SocketAddr};
use std::sync::Arc;

use iomt_identity::TrustState;
use iomt_mesh::{Channel, IfaceId, NeighbourInfo, RouteInfo};
use iomt_node::{Event, Node, NodeStats, PeerStatus, ReattestError, SendError};
use iomt_schema::{DeviceId, Frame};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::link::{Bound, LinkSpec};

/// Packets read from the sockets and not yet handled; beyond it readers wait.
const INBOX: usize = 1024;
/// Events kept for the application; beyond it the newest are dropped and counted.
const EVENTS: usize = 4096;
/// Packets handled per wake-up before the node's output is drained.
const BATCH: usize = 64;
/// The largest datagram read.
const MAX_DATAGRAM: usize = 65_535;

/// What the application receives: the node's events, in order.
pub type Events = mpsc::Receiver<Event>;

/// A request to the driver.
#[derive(Debug)]
#[non_exhaustive]
pub enum Command {
    /// [`NodeHandle::send`].
    Send {
        /// The destination.
        dest: DeviceId,
        /// The frame.
        frame: Box<Frame>,
        /// The node's answer.
        reply: oneshot::Sender<Result<(), SendError>>,
    },
    /// [`NodeHandle::reattest`].
    Reattest {
        /// The peer.
        peer: DeviceId,
        /// The node's answer.
        reply: oneshot::Sender<Result<(), ReattestError>>,
    },
    /// [`NodeHandle::status`].
    Status(oneshot::Sender<Status>),
}

/// What the node looks like now.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Status {
    /// The device.
    pub device: DeviceId,
    /// Its peers: sessions and frames waiting.
    pub peers: Vec<PeerStatus>,
    /// The selected routes.
    pub routes: Vec<RouteInfo>,
    /// The neighbours heard.
    pub neighbours: Vec<NeighbourInfo>,
    /// The node's counters.
    pub stats: NodeStats,
    /// Events the application did not take in time, dropped.
    pub events_dropped: u64,
    /// Packets the sockets failed to send.
    pub send_errors: u64,
}

impl Status {
    /// The trust state of `peer`, once a session verified it.
    pub fn trust(&self, peer: DeviceId) -> Option<TrustState> {
        self.peers
            .iter()
            .find(|p| p.device == peer)
            .and_then(|p| p.trust)
    }
}

/// Why the runtime could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// The driver has stopped (shut down, or every handle but this one dropped it).
    #[error("the node's driver has stopped")]
    Stopped,
    /// A socket failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The node refused a link's interface.
    #[error(transparent)]
    Config(#[from] iomt_node::ConfigError),
    /// The node refused the frame.
    #[error(transparent)]
    Send(#[from] SendError),
    /// The node could not start a re-attestation.
    #[error(transparent)]
    Reattest(#[from] ReattestError),
}

/// A cloneable handle to a running node. The driver stops when every handle is dropped or
/// [`shutdown`](Self::shutdown) is called.
#[derive(Debug, Clone)]
pub struct NodeHandle {
    commands: mpsc::Sender<Command>,
    shutdown: Arc<tokio::sync::Notify>,
}

impl NodeHandle {
    /// Sends `frame` to `dest` in a session (see [`Node::send`]).
    pub async fn send(&self, dest: DeviceId, frame: Frame) -> Result<(), RuntimeError> {
        let (reply, answer) = oneshot::channel();
        let frame = Box::new(frame);
        self.request(Command::Send { dest, frame, reply }).await?;
        Ok(answer.await.map_err(|_| RuntimeError::Stopped)??)
    }

    /// Asks `peer` to attest again in its session (see [`Node::reattest`]).
    pub async fn reattest(&self, peer: DeviceId) -> Result<(), RuntimeError> {
        let (reply, answer) = oneshot::channel();
        self.request(Command::Reattest { peer, reply }).await?;
        Ok(answer.await.map_err(|_| RuntimeError::Stopped)??)
    }

    /// What the node looks like now.
    pub async fn status(&self) -> Result<Status, RuntimeError> {
        let (reply, answer) = oneshot::channel();
        self.request(Command::Status(reply)).await?;
        answer.await.map_err(|_| RuntimeError::Stopped)
    }

    /// Stops the driver; the sockets close and the event stream ends.
    pub fn shutdown(&self) {
        self.shutdown.notify_one();
    }

    async fn request(&self, command: Command) -> Result<(), RuntimeError> {
        self.commands
            .send(command)
            .await
            .map_err(|_| RuntimeError::Stopped)
    }
}

/// A packet read from a socket.
struct Packet {
    iface: IfaceId,
    channel: Channel,
    from: Ipv6Addr,
    to: Ipv6Addr,
    data: Vec<u8>,
}

/// Adds `links` to `node` as its interfaces and starts its driver on the current tokio
/// runtime. Returns the handle and the node's events.
pub fn spawn(
    mut node: Node,
    clock: Clock,
    links: Vec<LinkSpec>,
) -> Result<(NodeHandle, Events), RuntimeError> {
    let (inbox, packets) = mpsc::channel(INBOX);
    let mut bound = Vec::new();
    let mut readers = Vec::new();
    for link in links {
        let iface = node.add_interface(clock.now(), link.interface, link.keys)?;
        let b = Bound::new(link.sockets, link.peer);
        for (socket, channel, to) in &b.readers {
            readers.push(tokio::spawn(read(
                socket.clone(),
                iface,
                *channel,
                *to,
                inbox.clone(),
            )));
        }
        bound.push(b);
    }
    let (commands, requests) = mpsc::channel(64);
    let (events, receiver) = mpsc::channel(EVENTS);
    let shutdown = Arc::new(tokio::sync::Notify::new());
    let driver = Driver {
        node,
        clock,
        links: bound,
        events,
        events_dropped: 0,
        send_errors: 0,
        buf: Vec::new(),
    };
    tokio::spawn(driver.run(packets, requests, shutdown.clone(), readers));
    Ok((NodeHandle { commands, shutdown }, receiver))
}

/// Reads `socket` until the driver goes, handing each packet to it.
async fn read(
    socket: Arc<UdpSocket>,
    iface: IfaceId,
    channel: Channel,
    to: Ipv6Addr,
    inbox: mpsc::Sender<Packet>,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let Ok((len, from)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let SocketAddr::V6(from) = from else {
            continue;
        };
        let packet = Packet {
            iface,
            channel,
            from: *from.ip(),
            to,
            data: buf.get(..len).unwrap_or_default().to_vec(),
        };
        if inbox.send(packet).await.is_err() {
            return;
        }
    }
}

struct Driver {
    node: Node,
    clock: Clock,
    links: Vec<Bound>,
    events: mpsc::Sender<Event>,
    events_dropped: u64,
    send_errors: u64,
    buf: Vec<u8>,
}

impl Driver {
    async fn run(
        mut self,
        mut packets: mpsc::Receiver<Packet>,
        mut requests: mpsc::Receiver<Command>,
        shutdown: Arc<tokio::sync::Notify>,
        readers: Vec<JoinHandle<()>>,
    ) {
        loop {
            self.drain().await;
            let timeout = self.node.poll_timeout().map(|t| self.clock.deadline(t));
            let sleep = async {
                match timeout {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                () = shutdown.notified() => break,
                packet = packets.recv() => {
                    let Some(packet) = packet else { break };
                    self.input(packet);
                    // Bounded work per wake-up: a few more if they are waiting, then drain.
                    for _ in 1..BATCH {
                        let Ok(packet) = packets.try_recv() else { break };
                        self.input(packet);
                    }
                }
                request = requests.recv() => {
                    let Some(request) = request else { break };
                    self.command(request);
                }
                () = sleep => self.node.handle_timeout(self.clock.now()),
            }
        }
        for reader in readers {
            reader.abort();
        }
    }

    fn input(&mut self, p: Packet) {
        let now = self.clock.now();
        let _ = self
            .node
            .handle_input(now, p.iface, p.channel, p.from, p.to, &p.data);
    }

    fn command(&mut self, command: Command) {
        let now = self.clock.now();
        match command {
            Command::Send { dest, frame, reply } => {
                let _ = reply.send(self.node.send(now, dest, &frame));
            }
            Command::Reattest { peer, reply } => {
                let _ = reply.send(self.node.reattest(now, peer));
            }
            Command::Status(reply) => {
                let _ = reply.send(Status {
                    device: self.node.device(),
                    peers: self.node.peers(),
                    routes: self.node.routes(),
                    neighbours: self.node.neighbours(),
                    stats: self.node.stats(),
                    events_dropped: self.events_dropped,
                    send_errors: self.send_errors,
                });
            }
        }
    }

    /// Sends what the node has to send, then hands its events up, as the contract orders.
    async fn drain(&mut self) {
        let now = self.clock.now();
        while let Some(t) = self.node.poll_transmit(now, &mut self.buf) {
            let Some(link) = self.links.get(usize::from(t.iface.0)) else {
                continue;
            };
            let (socket, to) = link.route(t.kind, t.destination);
            let Some(data) = self.buf.get(..t.len) else {
                continue;
            };
            if socket.send_to(data, to).await.is_err() {
                self.send_errors += 1;
            }
        }
        while let Some(event) = self.node.poll_event() {
            if self.events.try_send(event).is_err() {
                self.events_dropped += 1;
            }
        }
    }
}
