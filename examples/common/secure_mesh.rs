//! One device's radio stack, composed the way a downstream application (or `iomt-node`) would
//! compose it: an `iomt-mesh` router on the radio, and an `iomt-transport` endpoint whose
//! datagrams ride the mesh end to end, whatever the number of hops.
//!
//! One name serves all three layers: a device's `ShortId` is its router-id and mesh address,
//! the address its endpoint knows it by, and the `kid` of its credential. The mesh source of
//! a datagram is not authenticated; it only routes the reply. Who a session is with is what
//! EDHOC proves and `IdentityCredentials` decides: sessions are opened for a `DeviceId`, and
//! everything handed up names the peer by the identity the handshake verified, never by the
//! address its datagrams came from.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use iomt::mesh::{self, DataPacket, Router, Target};
use iomt::schema::{DeviceId, Instant, Precedence, ShortId};
use iomt::transport::{
    CloseReason, Endpoint, Event, IdentityCredentials, OpenError, SendError, SessionId, Transmit,
    TransmitKind,
};
use iomt_sim::{Counter, NodeId, Received};
use iomt_testkit::{router_input, router_transmit};

/// How long the mesh keeps a datagram before dropping it.
pub const DATAGRAM_LIFETIME: Duration = Duration::from_secs(30);
/// The mesh precedence of what the endpoint sends on its own: handshake messages,
/// retransmissions and error messages. Below Immediate and Flash traffic, above routine.
pub const CONTROL: Precedence = Precedence::Priority;

/// What the stack hands up to the application.
pub enum Up {
    /// A session event, with the peer's identity (its short form): the one the handshake
    /// verified, or, for a session this side opened and that closed before, the one it asked
    /// for.
    Session {
        peer: ShortId,
        event: Event<ShortId>,
    },
    /// A handshake a peer started ended before this side knew who the peer was; `address` is
    /// only what its datagrams claimed.
    Unverified {
        address: ShortId,
        reason: CloseReason,
    },
    /// A datagram flooded to every device.
    Flooded(mesh::Delivery),
}

/// What one device's endpoint put into the mesh.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sent {
    /// EDHOC messages, retransmissions and error messages.
    pub handshake: Counter,
    /// Records.
    pub records: Counter,
    /// Datagrams the mesh had no route for, or no room.
    pub unsent: u64,
}

/// The size on the air of one record: the record as the endpoint sealed it, and the mesh
/// packet that carried it on its first hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OnAir {
    pub record: usize,
    pub packet: usize,
}

enum Probe {
    Idle,
    Armed,
    Sealed(Vec<u8>),
    Measured(OnAir),
}

pub struct SecureMesh {
    pub router: Router,
    pub endpoint: Endpoint<ShortId>,
    pub creds: Arc<IdentityCredentials>,
    pub sent: Sent,
    me: NodeId,
    hop_limit: u8,
    /// Sessions by the peer's identity: verified, or asked for until the handshake verifies.
    peers: BTreeMap<SessionId, ShortId>,
    /// Handshakes peers started, by the address they claimed, until they verify.
    claimed: BTreeMap<SessionId, ShortId>,
    last: (u8, Precedence),
    probe: Probe,
}

impl SecureMesh {
    /// The stack of simulated node `me`, whose router originates datagrams with `hop_limit`.
    pub fn new(
        me: NodeId,
        router: Router,
        hop_limit: u8,
        endpoint: Endpoint<ShortId>,
        creds: Arc<IdentityCredentials>,
    ) -> Self {
        Self {
            router,
            endpoint,
            creds,
            sent: Sent::default(),
            me,
            hop_limit,
            peers: BTreeMap::new(),
            claimed: BTreeMap::new(),
            last: (0, Precedence::Routine),
            probe: Probe::Idle,
        }
    }

    /// Opens a session with the device `peer`, at the mesh address of its short id.
    pub fn connect(&mut self, now: Instant, peer: DeviceId) -> Result<SessionId, OpenError> {
        let session = self.endpoint.connect(now, peer.short(), peer)?;
        self.peers.insert(session, peer.short());
        self.flush(now, CONTROL);
        Ok(session)
    }

    /// Ends a session at once (the peer is not told).
    pub fn close(&mut self, session: SessionId) {
        self.endpoint.close(session);
        self.peers.remove(&session);
        self.claimed.remove(&session);
    }

    /// Seals `data` as one record and hands it to the mesh at `precedence`.
    pub fn send(
        &mut self,
        now: Instant,
        session: SessionId,
        precedence: Precedence,
        data: &[u8],
    ) -> Result<(), SendError> {
        // Whatever the endpoint queued before goes out at its own precedence first.
        self.flush(now, CONTROL);
        self.endpoint.send(now, session, data)?;
        self.flush(now, precedence);
        Ok(())
    }

    /// Floods `data` to every device.
    pub fn flood(
        &mut self,
        now: Instant,
        precedence: Precedence,
        data: &[u8],
    ) -> Result<(), mesh::SendError> {
        self.router
            .send(now, Target::Flood, precedence, DATAGRAM_LIFETIME, data)
            .map(|_| ())
    }

    /// Measures the next record sealed: its size, and the size of the packet that carries it
    /// on the air.
    pub fn measure_next_record(&mut self) {
        if matches!(self.probe, Probe::Idle) {
            self.probe = Probe::Armed;
        }
    }

    /// The measurement, once the record has left.
    pub fn on_air(&self) -> Option<OnAir> {
        match self.probe {
            Probe::Measured(m) => Some(m),
            _ => None,
        }
    }

    /// Mesh hops the datagram behind the last session event travelled.
    pub fn last_hops(&self) -> u8 {
        self.last.0
    }

    /// The mesh precedence the datagram behind the last session event travelled at.
    pub fn last_precedence(&self) -> Precedence {
        self.last.1
    }

    pub fn handle_input(&mut self, now: Instant, packet: Received<'_>) {
        router_input(&mut self.router, self.me, now, packet);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.router.handle_timeout(now);
        self.endpoint.handle_timeout(now);
    }

    /// The next thing for the application. Datagrams the mesh delivered go to the endpoint
    /// first, one at a time, so the events of one datagram come out before the next is read;
    /// every new initiator is accepted, since its credentials decide (and pending handshakes
    /// are bounded by the endpoint).
    pub fn poll_up(&mut self, now: Instant) -> Option<Up> {
        loop {
            if let Some(event) = self.endpoint.poll_event() {
                let peer = match &event {
                    Event::Connected { session, peer, .. } => {
                        self.claimed.remove(session);
                        self.peers.insert(*session, peer.short());
                        peer.short()
                    }
                    Event::Received { peer, .. } => peer.short(),
                    Event::Closed { session, reason } => {
                        let claimed = self.claimed.remove(session);
                        match (self.peers.remove(session), claimed) {
                            (Some(peer), _) => peer,
                            (None, Some(address)) => {
                                let reason = reason.clone();
                                return Some(Up::Unverified { address, reason });
                            }
                            (None, None) => continue,
                        }
                    }
                    _ => continue,
                };
                return Some(Up::Session { peer, event });
            }
            let mesh::Event::Delivered(d) = self.router.poll_event()? else {
                continue;
            };
            if d.target == Target::Flood {
                return Some(Up::Flooded(d));
            }
            self.last = (self.hop_limit.saturating_sub(d.hop_limit) + 1, d.precedence);
            // Datagrams the endpoint drops (late copies, records for a closed session) need
            // no answer: on a radio they are indistinguishable from noise.
            if let Ok(Some(incoming)) = self.endpoint.handle_input(now, d.source, &d.payload)
                && let Ok(session) = self.endpoint.accept(now, incoming)
            {
                self.claimed.insert(session, d.source);
            }
        }
    }

    /// Hands whatever the endpoint queued (handshake replies, retransmissions) to the mesh.
    pub fn flush_control(&mut self, now: Instant) {
        self.flush(now, CONTROL);
    }

    pub fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<iomt_sim::Transmit> {
        let t = router_transmit(&mut self.router, now, buf)?;
        if let Probe::Sealed(record) = &self.probe
            && let Ok(packet) = DataPacket::parse(buf.get(..t.len).unwrap_or_default())
            && packet.payload == record.as_slice()
        {
            self.probe = Probe::Measured(OnAir {
                record: record.len(),
                packet: t.len,
            });
        }
        Some(t)
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.router.poll_timeout(), self.endpoint.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Moves the endpoint's datagrams into the mesh: records at `precedence`, anything else
    /// at [`CONTROL`].
    fn flush(&mut self, now: Instant, precedence: Precedence) {
        let mut buf = Vec::new();
        while let Some(Transmit {
            destination,
            len,
            kind,
            ..
        }) = self.endpoint.poll_transmit(now, &mut buf)
        {
            let Some(datagram) = buf.get(..len) else {
                continue;
            };
            let record = kind == TransmitKind::Record;
            let counter = if record {
                &mut self.sent.records
            } else {
                &mut self.sent.handshake
            };
            counter.packets += 1;
            counter.bytes += len as u64;
            if record && matches!(self.probe, Probe::Armed) {
                self.probe = Probe::Sealed(datagram.to_vec());
            }
            let precedence = if record { precedence } else { CONTROL };
            let target = Target::Unicast(destination);
            if self
                .router
                .send(now, target, precedence, DATAGRAM_LIFETIME, datagram)
                .is_err()
            {
                self.sent.unsent += 1;
            }
        }
    }
}
