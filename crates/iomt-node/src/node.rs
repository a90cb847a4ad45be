//! The node: one device's router, endpoint and identity behind one application API.

use std::collections::{BTreeMap, VecDeque};
use std::net::Ipv6Addr;
use std::sync::{Arc, PoisonError};

use iomt_identity::{PeerTrust, PublicKey, RevocationError, TrustState};
use iomt_mesh::{
    Channel, Delivery, IfaceId, InputError, InterfaceConfig, MacKey, NeighbourInfo, Prefix,
    RouteInfo, Router, Target, Transmit,
};
use iomt_schema::rand::SecureRandom;
use iomt_schema::{DecodeError, DeviceId, Frame, Instant, Precedence, ShortId};
use iomt_transport::post_handshake::{AttestError, BackhaulMessage};
use iomt_transport::{
    BackhaulPolicy, CloseReason, EdhocBinding, Endpoint, HandshakeRole, IdentityCredentials,
    PostHandshakeAttester, PostHandshakeVerifier, SessionId, TransmitKind,
};

use crate::config::{ConfigError, NodeConfig};

/// Something the application should know.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// A session with `peer` authenticated; frames for it flow now.
    SessionUp {
        /// The peer, as the handshake verified it.
        peer: DeviceId,
        /// Whether this side opened it.
        initiator: bool,
        /// The peer's trust state from the attestation result it presented.
        trust: TrustState,
    },
    /// A session with `peer` ended.
    SessionClosed {
        /// The peer: the one verified, or, for a session this side opened that never came up,
        /// the one it asked for.
        peer: DeviceId,
        /// Why.
        reason: CloseReason,
    },
    /// A handshake a peer started failed before this side knew who the peer was (our
    /// verifier refused it, say); `address` is only what its datagrams claimed.
    Refused {
        /// The unauthenticated mesh address.
        address: ShortId,
        /// Why.
        reason: CloseReason,
    },
    /// A frame arrived in a session.
    Received {
        /// Who sent it, as the session's handshake verified (the frame's envelope names its
        /// originator, which a relay may not be).
        from: DeviceId,
        /// The sender's trust state when it arrived.
        trust: TrustState,
        /// Mesh hops it travelled.
        hops: u8,
        /// The frame.
        frame: Frame,
    },
    /// A record arrived in a session but did not decode as a frame.
    Malformed {
        /// Who sent it, verified.
        from: DeviceId,
        /// Why it did not decode.
        error: DecodeError,
    },
    /// A datagram flooded to every device (authenticated hop by hop by the mesh keys, not end
    /// to end: its source is a claim).
    Flooded {
        /// The mesh source it claims.
        source: ShortId,
        /// The payload.
        payload: Vec<u8>,
    },
    /// Frames for `dest` were not sent.
    SendFailed {
        /// The device they were for.
        dest: DeviceId,
        /// How many.
        frames: usize,
        /// Why.
        reason: SendFailure,
    },
    /// The selected route to a prefix appeared, moved or disappeared.
    RouteChanged(Prefix),
    /// A revocation reached `peer`: its sessions are closed and frames from it refused.
    PeerRevoked {
        /// The revoked device.
        peer: DeviceId,
    },
    /// A revocation delta merged ([`Node::apply_revocation`]).
    RevocationMerged {
        /// Entries that were new.
        changed: usize,
    },
    /// `peer` attested again inside its session ([`Node::reattest`]).
    Reattested {
        /// The peer.
        peer: DeviceId,
        /// Its trust state now.
        trust: TrustState,
        /// Whether fresh evidence over the session appraised as affirming.
        fresh_evidence: bool,
    },
    /// `peer` failed its re-attestation, or never answered it: it is quarantined. Its
    /// session stays (what a quarantined device may still do is the application's policy);
    /// frames from it arrive marked [`TrustState::Quarantined`].
    Quarantined {
        /// The peer.
        peer: DeviceId,
        /// Why.
        reason: ReattestFailure,
    },
    /// A peer's verifier refused this device's own re-attestation.
    AttestationRefused {
        /// The peer that refused.
        peer: DeviceId,
        /// Its verdict, as it said.
        reason: AttestError,
    },
}

/// Why a peer is quarantined after [`Node::reattest`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReattestFailure {
    /// Its answer failed: no result or evidence, a result or evidence that does not verify,
    /// evidence not affirming, a message out of turn.
    #[error(transparent)]
    Attestation(AttestError),
    /// It did not answer `reattest_tries` requests.
    #[error("no answer to {0} requests")]
    NoAnswer(u32),
}

/// Why [`Node::reattest`] could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReattestError {
    /// No policy to check the answer with ([`Node::with_attestation_policy`]).
    #[error("no attestation policy")]
    NoPolicy,
    /// No session with the peer is up.
    #[error("no session with {0}")]
    NoSession(DeviceId),
    /// The exchange could not start (no randomness, say).
    #[error(transparent)]
    Attestation(#[from] AttestError),
}

/// Why frames already accepted by [`Node::send`] did not leave.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendFailure {
    /// The session they waited for ended (its handshake failed, timed out, or the peer was
    /// refused).
    #[error("session ended: {0}")]
    Session(CloseReason),
    /// The mesh refused the sealed record (no route, too large, queue full).
    #[error("mesh: {0}")]
    Mesh(iomt_mesh::SendError),
    /// The session refused the record (it closed meanwhile).
    #[error("session: {0}")]
    Record(iomt_transport::SendError),
    /// The peer was revoked while they waited.
    #[error("the peer was revoked")]
    Revoked,
}

/// Why [`Node::send`] refused a frame at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The frame is for this device.
    #[error("the frame is addressed to this device")]
    ToSelf,
    /// The mesh knows no route to the device now.
    #[error("no route to {0}")]
    NoRoute(ShortId),
    /// The device is revoked.
    #[error("device {0} is revoked")]
    Revoked(DeviceId),
    /// `max_queued_frames` frames already wait for this peer's session.
    #[error("{0} frames already wait for the session")]
    QueueFull(usize),
    /// The frame does not encode.
    #[error(transparent)]
    Encode(#[from] iomt_schema::EncodeError),
    /// The frame's encoding does not decode under the default limits (larger than a frame
    /// may be, say).
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The session could not open.
    #[error(transparent)]
    Open(#[from] iomt_transport::OpenError),
    /// The record could not be queued.
    #[error(transparent)]
    Record(#[from] iomt_transport::SendError),
    /// The mesh refused the datagram.
    #[error(transparent)]
    Mesh(#[from] iomt_mesh::SendError),
}

/// One peer as [`Node::peers`] shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PeerStatus {
    /// The device.
    pub device: DeviceId,
    /// Whether a session is up.
    pub established: bool,
    /// Its trust state, once a session verified it.
    pub trust: Option<TrustState>,
    /// Frames waiting for the session.
    pub queued: usize,
}

/// What the node counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct NodeStats {
    /// Frames handed to sessions.
    pub frames_sent: u64,
    /// Frames received in sessions.
    pub frames_received: u64,
    /// Handshake datagrams put into the mesh.
    pub handshake_datagrams: u64,
    /// Datagrams from the mesh the endpoint dropped (late copies, forgeries, records for a
    /// closed session).
    pub datagrams_dropped: u64,
    /// Events dropped because the application did not drain them (`max_events`).
    pub events_dropped: u64,
}

/// What the node keeps about one peer device.
#[derive(Default)]
struct Peer {
    /// The session frames go on: the newest established one.
    current: Option<SessionId>,
    /// A session this side opened that is not up yet.
    opening: Option<SessionId>,
    /// Frames for the peer until a session is up, with their precedence.
    queue: VecDeque<(Vec<u8>, Precedence)>,
    /// Where the peer stands, from the result it presented.
    trust: Option<PeerTrust>,
    /// The key the handshake verified.
    key: Option<PublicKey>,
    /// Our re-attestation of the peer, while it runs.
    check: Option<Check>,
    /// Our answer to the peer's re-attestation of this device, while it runs.
    answer: Option<PostHandshakeAttester>,
}

/// A re-attestation in flight.
struct Check {
    verifier: PostHandshakeVerifier,
    session: SessionId,
    deadline: Instant,
    tries: u32,
}

impl Peer {
    fn is_idle(&self) -> bool {
        self.current.is_none() && self.opening.is_none() && self.queue.is_empty()
    }

    fn trust_state(&self) -> TrustState {
        self.trust
            .as_ref()
            .map_or(TrustState::Stale, PeerTrust::state)
    }
}

/// One device of the network, sans-IO: an `iomt-mesh` router on its interfaces, an
/// `iomt-transport` endpoint whose datagrams ride the mesh end to end, and the device's
/// identity deciding who a session is with.
///
/// # Names
///
/// A device's [`ShortId`] is its router id, its mesh address and the `kid` of its
/// credential. The mesh source of a datagram is not authenticated and only routes the reply:
/// sessions are keyed on the [`DeviceId`] the handshake verified, never on an address, and
/// every frame handed up names its sender that way.
///
/// # Driving it
///
/// As every state machine of the workspace (`iomt_schema::contract`): feed each received
/// packet to [`Node::handle_input`], call [`Node::handle_timeout`] when
/// [`Node::poll_timeout`] is reached, and after any call drain [`Node::poll_transmit`], then
/// [`Node::poll_event`], then read [`Node::poll_timeout`]. [`Node::send`] opens a session on
/// demand: the frame waits (at most `max_queued_frames` per peer) until the session is up.
pub struct Node {
    config: NodeConfig,
    router: Router,
    endpoint: Endpoint<ShortId>,
    creds: Arc<IdentityCredentials>,
    peers: BTreeMap<DeviceId, Peer>,
    /// Every live session's peer: verified, or asked for until the handshake verifies.
    sessions: BTreeMap<SessionId, DeviceId>,
    /// Handshakes peers started, by the address they claimed, until they verify.
    claimed: BTreeMap<SessionId, ShortId>,
    events: VecDeque<Event>,
    stats: NodeStats,
    scratch: Vec<u8>,
    /// Mesh hops of the datagram being handled.
    hops: u8,
    rng: Arc<dyn SecureRandom>,
    policy: Option<Arc<BackhaulPolicy>>,
}

impl Node {
    /// The node of the device whose credentials are `creds`, started at `now`; `rng` supplies
    /// every random value of the layers below (ephemeral keys, connection identifiers, message
    /// ids, MAC indices, the router's jitter seed).
    pub fn new(
        config: NodeConfig,
        creds: Arc<IdentityCredentials>,
        now: Instant,
        rng: Arc<dyn SecureRandom>,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        let device = creds.device().short();
        if config.router.router_id != device {
            return Err(ConfigError::RouterId {
                configured: config.router.router_id,
                device,
            });
        }
        let mut seed = [0u8; 8];
        rng.fill(&mut seed).map_err(|_| ConfigError::Random)?;
        let router = Router::new(
            config.router.clone(),
            now,
            u64::from_le_bytes(seed),
            rng.clone(),
        );
        let endpoint = Endpoint::new(config.endpoint.clone(), creds.clone(), rng.clone());
        Ok(Self {
            config,
            router,
            endpoint,
            creds,
            peers: BTreeMap::new(),
            sessions: BTreeMap::new(),
            claimed: BTreeMap::new(),
            events: VecDeque::new(),
            stats: NodeStats::default(),
            scratch: Vec::new(),
            hops: 0,
            rng,
            policy: None,
        })
    }

    /// Checks peers' re-attestation ([`reattest`](Self::reattest)) with `policy`: their
    /// attestation result against the trust store and, if the policy requires it, fresh
    /// evidence over the session. This device answers its peers' requests in any case, with
    /// the result and the attester its credentials hold.
    #[must_use]
    pub fn with_attestation_policy(mut self, policy: Arc<BackhaulPolicy>) -> Self {
        self.policy = Some(policy);
        self
    }

    /// Asks `peer` to attest again inside its session, bound to that session (a result, and
    /// fresh evidence if the policy requires it): [`Event::Reattested`] or
    /// [`Event::Quarantined`] follows.
    pub fn reattest(&mut self, now: Instant, peer: DeviceId) -> Result<(), ReattestError> {
        self.ask(now, peer, 1)?;
        self.pump(now);
        Ok(())
    }

    /// Starts routing on a new interface, with RFC 8967 MAC keys (an empty list turns MACs
    /// off: for closed test networks only).
    pub fn add_interface(
        &mut self,
        now: Instant,
        config: InterfaceConfig,
        keys: Vec<MacKey>,
    ) -> Result<IfaceId, ConfigError> {
        let iface = self.router.add_interface(now, config)?;
        self.router.set_interface_keys(iface, keys);
        Ok(iface)
    }

    /// This device.
    pub fn device(&self) -> DeviceId {
        self.creds.device()
    }

    /// The router, for its tables and counters.
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// The credentials, for the trust store and the wall clock.
    pub fn credentials(&self) -> &Arc<IdentityCredentials> {
        &self.creds
    }

    /// The node's counters.
    pub fn stats(&self) -> NodeStats {
        self.stats
    }

    /// The selected routes.
    pub fn routes(&self) -> Vec<RouteInfo> {
        self.router.routes()
    }

    /// The neighbours heard.
    pub fn neighbours(&self) -> Vec<NeighbourInfo> {
        self.router.neighbours()
    }

    /// Every peer with a session, a session opening, or frames waiting.
    pub fn peers(&self) -> Vec<PeerStatus> {
        self.peers
            .iter()
            .map(|(device, p)| PeerStatus {
                device: *device,
                established: p.current.is_some(),
                trust: p.trust.as_ref().map(PeerTrust::state),
                queued: p.queue.len(),
            })
            .collect()
    }

    /// Sends `frame` to `dest` in a session, at the precedence its envelope carries; opens the
    /// session first if there is none (the frame then waits for it, and
    /// [`Event::SendFailed`] reports it if the session never comes up).
    pub fn send(&mut self, now: Instant, dest: DeviceId, frame: &Frame) -> Result<(), SendError> {
        if dest == self.device() {
            return Err(SendError::ToSelf);
        }
        if self.is_revoked(dest) {
            return Err(SendError::Revoked(dest));
        }
        let bytes = frame.to_vec()?;
        let precedence = frame.envelope.precedence;
        let result = self.send_bytes(now, dest, bytes, precedence);
        self.pump(now);
        result
    }

    /// Floods `frame` to every device at the precedence and lifetime of its envelope, in the
    /// clear but authenticated hop by hop (revocation deltas, alerts for everyone).
    pub fn flood(&mut self, now: Instant, frame: &Frame) -> Result<(), SendError> {
        let bytes = frame.to_vec()?;
        let view = iomt_schema::FrameView::decode(&bytes)?;
        self.router.send_frame(now, Target::Flood, &view)?;
        self.pump(now);
        Ok(())
    }

    /// Floods raw `payload` (a revocation delta, say) at `precedence`.
    pub fn flood_bytes(
        &mut self,
        now: Instant,
        precedence: Precedence,
        payload: &[u8],
    ) -> Result<(), SendError> {
        let lifetime = self.config.control_lifetime;
        self.router
            .send(now, Target::Flood, precedence, lifetime, payload)?;
        self.pump(now);
        Ok(())
    }

    /// Merges a signed revocation delta into the trust store; every session with a device it
    /// revokes closes, and [`Event::PeerRevoked`] names it. Returns how many entries were new.
    pub fn apply_revocation(
        &mut self,
        now: Instant,
        delta: &[u8],
    ) -> Result<usize, RevocationError> {
        let changed = self
            .creds
            .trust_store()
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .apply_revocation(delta)?;
        self.push(Event::RevocationMerged { changed });
        let revoked: Vec<DeviceId> = self
            .peers
            .keys()
            .copied()
            .filter(|d| self.is_revoked(*d))
            .collect();
        for device in revoked {
            let Some(mut peer) = self.peers.remove(&device) else {
                continue;
            };
            for session in [peer.current.take(), peer.opening.take()]
                .into_iter()
                .flatten()
            {
                self.endpoint.close(session);
                self.sessions.remove(&session);
            }
            let frames = peer.queue.len();
            if frames > 0 {
                self.push(Event::SendFailed {
                    dest: device,
                    frames,
                    reason: SendFailure::Revoked,
                });
            }
            self.push(Event::PeerRevoked { peer: device });
        }
        // Sessions still closing for a revoked device go too.
        let stale: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, d)| self.is_revoked(**d))
            .map(|(s, _)| *s)
            .collect();
        for session in stale {
            self.endpoint.close(session);
            self.sessions.remove(&session);
        }
        self.pump(now);
        Ok(changed)
    }

    /// Ends every session with `peer` at once (the peer is not told) and drops frames waiting
    /// for it.
    pub fn close(&mut self, peer: DeviceId) {
        if let Some(mut p) = self.peers.remove(&peer) {
            for session in [p.current.take(), p.opening.take()].into_iter().flatten() {
                self.endpoint.close(session);
                self.sessions.remove(&session);
            }
        }
    }

    /// Handles a packet received on `iface` from `from` (a link-local address) sent to `to`
    /// (the multicast group or this device's address), on the routing or the data channel.
    /// An error says why the mesh dropped it (and is counted in the router's stats).
    pub fn handle_input(
        &mut self,
        now: Instant,
        iface: IfaceId,
        channel: Channel,
        from: Ipv6Addr,
        to: Ipv6Addr,
        packet: &[u8],
    ) -> Result<(), InputError> {
        let result = self
            .router
            .handle_input(now, iface, channel, from, to, packet);
        self.pump(now);
        result
    }

    /// Runs the timers that are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.router.handle_timeout(now);
        self.endpoint.handle_timeout(now);
        let wall = self.creds.wall_clock(now);
        let mut unanswered = Vec::new();
        for (device, peer) in &mut self.peers {
            if let Some(trust) = &mut peer.trust {
                trust.handle_timeout(wall);
            }
            if let Some(check) = peer.check.take_if(|c| c.deadline <= now) {
                unanswered.push((*device, check.tries));
            }
        }
        for (device, tries) in unanswered {
            if tries < self.config.reattest_tries {
                let _ = self.ask(now, device, tries + 1);
            } else if let Some(peer) = self.peers.get_mut(&device)
                && let Some(trust) = &mut peer.trust
            {
                trust.on_appraisal_failed(wall);
                self.push(Event::Quarantined {
                    peer: device,
                    reason: ReattestFailure::NoAnswer(tries),
                });
            }
        }
        self.pump(now);
    }

    /// The next packet to send, written into `buf` (cleared first).
    #[must_use]
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<Transmit> {
        self.router.poll_transmit(now, buf)
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let checks = self
            .peers
            .values()
            .filter_map(|p| p.check.as_ref().map(|c| c.deadline));
        [self.router.poll_timeout(), self.endpoint.poll_timeout()]
            .into_iter()
            .flatten()
            .chain(checks)
            .min()
    }

    /// Sends a request of re-attestation to `device` (attempt `tries`).
    fn ask(&mut self, now: Instant, device: DeviceId, tries: u32) -> Result<(), ReattestError> {
        let policy = self.policy.clone().ok_or(ReattestError::NoPolicy)?;
        let wall = self.creds.wall_clock(now);
        let (session, key) = self
            .peers
            .get(&device)
            .and_then(|p| p.current.zip(p.key))
            .ok_or(ReattestError::NoSession(device))?;
        let binding = EdhocBinding::from_session(&self.endpoint, session)
            .map_err(|_| ReattestError::NoSession(device))?;
        let mut verifier = PostHandshakeVerifier::new(&binding, key, policy, wall, &*self.rng)?;
        let mut request = Vec::new();
        if verifier.poll_transmit(&mut request).is_some() {
            self.send_control(now, session, device, &request);
        }
        if let Some(peer) = self.peers.get_mut(&device) {
            peer.check = Some(Check {
                verifier,
                session,
                deadline: now + self.config.reattest_timeout,
                tries,
            });
        }
        Ok(())
    }

    /// A re-attestation message in `session` with `device`: a request for this device to
    /// answer, the peer's answer to our request, or its verdict on our answer.
    fn on_attestation(
        &mut self,
        now: Instant,
        session: SessionId,
        device: DeviceId,
        message: &BackhaulMessage<'_>,
        data: &[u8],
    ) {
        let wall = self.creds.wall_clock(now);
        let mut out = Vec::new();
        if matches!(message, BackhaulMessage::Request { .. }) {
            // Every request starts a new exchange, over this session's own binding.
            let (Ok(binding), Some(result)) = (
                EdhocBinding::from_session(&self.endpoint, session),
                self.creds.result(),
            ) else {
                return;
            };
            let Ok(mut attester) =
                PostHandshakeAttester::new(&binding, result, self.creds.attester())
            else {
                return;
            };
            let _ = attester.handle_input(wall, data);
            if attester.poll_transmit(&mut out).is_some() {
                self.send_control(now, session, device, &out);
            }
            if let Some(peer) = self.peers.get_mut(&device) {
                peer.answer = Some(attester);
            }
            return;
        }
        let Some(peer) = self.peers.get_mut(&device) else {
            return;
        };
        if let Some(check) = peer.check.as_mut().filter(|c| c.session == session) {
            let outcome = check.verifier.handle_input(wall, data);
            let verdict = check.verifier.poll_transmit(&mut out).is_some();
            let event = match outcome {
                Ok(progress) => progress.done.map(|attested| {
                    let trust = peer.trust.as_mut().map_or(TrustState::Stale, |t| {
                        t.on_result(&attested.result, wall).unwrap_or(t.state())
                    });
                    Event::Reattested {
                        peer: device,
                        trust,
                        fresh_evidence: attested.fresh_evidence,
                    }
                }),
                Err(error) => {
                    if let Some(trust) = &mut peer.trust {
                        trust.on_appraisal_failed(wall);
                    }
                    Some(Event::Quarantined {
                        peer: device,
                        reason: ReattestFailure::Attestation(error),
                    })
                }
            };
            if event.is_some() {
                peer.check = None;
            }
            if verdict {
                self.send_control(now, session, device, &out);
            }
            if let Some(event) = event {
                self.push(event);
            }
            return;
        }
        if let Some(answer) = peer.answer.as_mut() {
            let outcome = answer.handle_input(wall, data);
            let done = !matches!(outcome, Ok(ref p) if p.done.is_none());
            if done {
                peer.answer = None;
            }
            if let Err(reason @ AttestError::Refused(_)) = outcome {
                self.push(Event::AttestationRefused {
                    peer: device,
                    reason,
                });
            }
        }
    }

    /// Seals `data` for `session` and hands it to the mesh at the control precedence.
    fn send_control(&mut self, now: Instant, session: SessionId, device: DeviceId, data: &[u8]) {
        if self.endpoint.send(now, session, data).is_ok() {
            self.flush(now, self.config.control_precedence, Some(device));
        }
    }

    fn is_revoked(&self, device: DeviceId) -> bool {
        self.creds
            .trust_store()
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_revoked(device)
    }

    fn push(&mut self, event: Event) {
        if self.events.len() >= self.config.max_events {
            self.events.pop_front();
            self.stats.events_dropped += 1;
        }
        self.events.push_back(event);
    }

    fn send_bytes(
        &mut self,
        now: Instant,
        dest: DeviceId,
        bytes: Vec<u8>,
        precedence: Precedence,
    ) -> Result<(), SendError> {
        let max_queued = self.config.max_queued_frames;
        let peer = self.peers.entry(dest).or_default();
        if let Some(session) = peer.current {
            self.endpoint.send(now, session, &bytes)?;
            self.stats.frames_sent += 1;
            self.flush(now, precedence, Some(dest));
            return Ok(());
        }
        if peer.queue.len() >= max_queued {
            return Err(SendError::QueueFull(peer.queue.len()));
        }
        if peer.opening.is_none() {
            if self.router.next_hop(dest.short()).is_none() {
                if self.peers.get(&dest).is_some_and(Peer::is_idle) {
                    self.peers.remove(&dest);
                }
                return Err(SendError::NoRoute(dest.short()));
            }
            let session = match self.endpoint.connect(now, dest.short(), dest) {
                Ok(session) => session,
                Err(e) => {
                    if self.peers.get(&dest).is_some_and(Peer::is_idle) {
                        self.peers.remove(&dest);
                    }
                    return Err(e.into());
                }
            };
            self.sessions.insert(session, dest);
            if let Some(peer) = self.peers.get_mut(&dest) {
                peer.opening = Some(session);
            }
        }
        if let Some(peer) = self.peers.get_mut(&dest) {
            peer.queue.push_back((bytes, precedence));
        }
        Ok(())
    }

    /// Hands everything the layers below produced to the next: datagrams the mesh delivered
    /// to the endpoint (one at a time, so the events of one come out before the next is read),
    /// the endpoint's events to the application, and the endpoint's datagrams to the mesh.
    fn pump(&mut self, now: Instant) {
        loop {
            self.flush(now, self.config.control_precedence, None);
            if let Some(event) = self.endpoint.poll_event() {
                self.on_session_event(now, event);
                continue;
            }
            match self.router.poll_event() {
                Some(iomt_mesh::Event::Delivered(d)) => self.on_delivery(now, d),
                Some(iomt_mesh::Event::RouteChanged(prefix)) => {
                    self.push(Event::RouteChanged(prefix));
                }
                Some(_) => {}
                None => break,
            }
        }
    }

    fn on_delivery(&mut self, now: Instant, d: Delivery) {
        if d.target == Target::Flood {
            self.push(Event::Flooded {
                source: d.source,
                payload: d.payload,
            });
            return;
        }
        self.hops = self.config.router.hop_limit.saturating_sub(d.hop_limit) + 1;
        // Datagrams the endpoint drops need no answer: on a radio they are indistinguishable
        // from noise. Every new initiator is accepted, since its credentials decide (and
        // pending handshakes are bounded by the endpoint).
        match self.endpoint.handle_input(now, d.source, &d.payload) {
            Ok(Some(incoming)) => {
                if let Ok(session) = self.endpoint.accept(now, incoming) {
                    self.claimed.insert(session, d.source);
                }
            }
            Ok(None) => {}
            Err(_) => self.stats.datagrams_dropped += 1,
        }
    }

    fn on_session_event(&mut self, now: Instant, event: iomt_transport::Event<ShortId>) {
        match event {
            iomt_transport::Event::Connected {
                session,
                peer,
                role,
                info,
                ..
            } => {
                self.claimed.remove(&session);
                let verified = self.creds.verified_peer(&info);
                let wall = self.creds.wall_clock(now);
                let key = verified.as_ref().map(|v| *v.credential.public_key());
                let trust = verified.map(|v| {
                    let mut trust = PeerTrust::new(&v.credential);
                    let _ = trust.on_result(&v.result, wall);
                    trust
                });
                let state = trust.as_ref().map_or(TrustState::Stale, PeerTrust::state);
                self.sessions.insert(session, peer);
                let entry = self.peers.entry(peer).or_default();
                if entry.opening == Some(session) {
                    entry.opening = None;
                }
                entry.current = Some(session);
                entry.trust = trust;
                entry.key = key;
                let queued: Vec<_> = entry.queue.drain(..).collect();
                self.push(Event::SessionUp {
                    peer,
                    initiator: role == HandshakeRole::Initiator,
                    trust: state,
                });
                for (bytes, precedence) in queued {
                    match self.endpoint.send(now, session, &bytes) {
                        Ok(()) => {
                            self.stats.frames_sent += 1;
                            self.flush(now, precedence, Some(peer));
                        }
                        Err(e) => self.push(Event::SendFailed {
                            dest: peer,
                            frames: 1,
                            reason: SendFailure::Record(e),
                        }),
                    }
                }
            }
            iomt_transport::Event::Received {
                session,
                peer,
                data,
                ..
            } => {
                // A record holds a schema frame or a message of a re-attestation; the two
                // never share a first byte (a frame's carries version 1 in its top bits).
                if let Ok((message, _)) = BackhaulMessage::decode(&data) {
                    self.on_attestation(now, session, peer, &message, &data);
                    self.endpoint.recycle(data);
                    return;
                }
                let trust = self
                    .peers
                    .get(&peer)
                    .map_or(TrustState::Stale, Peer::trust_state);
                if trust == TrustState::Revoked || self.is_revoked(peer) {
                    self.endpoint.recycle(data);
                    return;
                }
                self.stats.frames_received += 1;
                let event = match Frame::decode(&data) {
                    Ok(frame) => Event::Received {
                        from: peer,
                        trust,
                        hops: self.hops,
                        frame,
                    },
                    Err(error) => Event::Malformed { from: peer, error },
                };
                self.endpoint.recycle(data);
                self.push(event);
            }
            iomt_transport::Event::Closed { session, reason } => {
                let claimed = self.claimed.remove(&session);
                let Some(device) = self.sessions.remove(&session) else {
                    // A peer's handshake that failed before it verified; the others (first
                    // contact going by value, handshakes left behind or evicted) end nothing.
                    if let (Some(address), CloseReason::Handshake(_)) = (claimed, &reason) {
                        self.push(Event::Refused { address, reason });
                    }
                    return;
                };
                let Some(peer) = self.peers.get_mut(&device) else {
                    return;
                };
                if peer.current == Some(session) {
                    peer.current = None;
                }
                if peer.opening == Some(session) {
                    peer.opening = None;
                }
                let frames = if peer.current.is_none() && peer.opening.is_none() {
                    peer.queue.drain(..).count()
                } else {
                    0
                };
                if peer.is_idle() {
                    self.peers.remove(&device);
                }
                if frames > 0 {
                    self.push(Event::SendFailed {
                        dest: device,
                        frames,
                        reason: SendFailure::Session(reason.clone()),
                    });
                }
                self.push(Event::SessionClosed {
                    peer: device,
                    reason,
                });
            }
            _ => {}
        }
    }

    /// Moves the endpoint's datagrams into the mesh: records at `precedence`, anything else
    /// at the control precedence. A record the mesh refuses is reported for `dest`.
    fn flush(&mut self, now: Instant, precedence: Precedence, dest: Option<DeviceId>) {
        let mut buf = std::mem::take(&mut self.scratch);
        while let Some(t) = self.endpoint.poll_transmit(now, &mut buf) {
            let Some(datagram) = buf.get(..t.len) else {
                continue;
            };
            let record = t.kind == TransmitKind::Record;
            let (precedence, lifetime) = if record {
                (precedence, self.config.control_lifetime)
            } else {
                self.stats.handshake_datagrams += 1;
                (self.config.control_precedence, self.config.control_lifetime)
            };
            let sent = self.router.send(
                now,
                Target::Unicast(t.destination),
                precedence,
                lifetime,
                datagram,
            );
            if let (Err(e), true, Some(dest)) = (sent, record, dest) {
                self.push(Event::SendFailed {
                    dest,
                    frames: 1,
                    reason: SendFailure::Mesh(e),
                });
            }
        }
        self.scratch = buf;
    }
}
