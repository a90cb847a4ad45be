//! The sans-IO endpoint: see [`Endpoint`].

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::hash::{Hash, Hasher};
use core::time::Duration;

use iomt_schema::{DeviceId, Instant};
use ring::hmac;
use ring::rand::SecureRandom;

use crate::conn_id::ConnId;
use crate::credential::{Credentials, EadRequest, EadSlot, HandshakeRole, Refusal};
use crate::crypto::{Backend, RingBackend};
use crate::datagram::{self, COOKIE_LEN, Datagram, DatagramError, Kind};
use crate::ead::EadItem;
use crate::error::{HandshakeError, MessageKind};
use crate::handshake::{
    Completed, Initiator, InitiatorAwaitingMessage4, PeerInfo, Responder, check_message_1,
};
use crate::message::{ErrorMessage, Message1, Suites};
use crate::record::{CONN_ID_LEN, RecordConfig, RecordError, RecordLayer, RecordStats};
use crate::schedule::SessionSecret;
use crate::suite::CipherSuite;

/// EAD label an initiator puts in EAD_1 when it could not resolve the responder's credential
/// reference in an earlier attempt: "send ID_CRED_R by value". No value; not critical (a
/// responder that does not know it answers by reference, as before). It sits above RFC 9528's
/// registry range, beside `iomt-transport`'s attestation labels.
pub const EAD_CREDENTIAL_REQUEST: u64 = 65_539;

/// Configuration of an [`Endpoint`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EndpointConfig {
    /// Cipher suites in order of preference (4 and 6 are available on `ring`). Only suites
    /// for which the credentials hold a key are used.
    pub suites: Vec<CipherSuite>,
    /// Most sessions in any state.
    pub max_sessions: usize,
    /// Most responder handshakes waiting for message_3.
    pub max_pending: usize,
    /// Most responder handshakes waiting for message_3 from one address.
    pub max_pending_per_peer: usize,
    /// Pending handshakes from which a message_1 must carry a valid cookie (0: always).
    pub cookie_threshold: usize,
    /// How long a cookie stays valid (it is accepted in its epoch and the next).
    pub cookie_lifetime: Duration,
    /// First retransmission timeout of the initiator.
    pub initial_rto: Duration,
    /// Largest retransmission timeout (the backoff doubles up to it).
    pub max_rto: Duration,
    /// Retransmissions (and restarts) before the initiator gives up; also the most copies
    /// of a message a responder answers again, and the most retries an initiator follows.
    pub max_retransmits: u32,
    /// How long a responder waits for message_3 after accepting.
    pub handshake_timeout: Duration,
    /// How long a failed session stays to answer with its error before it is removed.
    pub drain_timeout: Duration,
    /// Most datagrams queued for sending before replies to peers are dropped.
    pub max_transmits: usize,
    /// Most events queued before received records are refused.
    pub max_events: usize,
    /// Largest datagram accepted.
    pub max_datagram: usize,
    /// Most buffers kept from [`Endpoint::recycle`].
    pub max_recycled: usize,
    /// Send our credential by value in every handshake, rather than by reference first.
    pub credential_by_value: bool,
    /// Record layer limits.
    pub record: RecordConfig,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        Self {
            suites: alloc::vec![CipherSuite::Suite4, CipherSuite::Suite6],
            max_sessions: 64,
            max_pending: 16,
            max_pending_per_peer: 2,
            cookie_threshold: 4,
            cookie_lifetime: Duration::from_secs(60),
            initial_rto: Duration::from_millis(500),
            max_rto: Duration::from_secs(8),
            max_retransmits: 8,
            handshake_timeout: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(5),
            max_transmits: 256,
            max_events: 1024,
            max_datagram: 2048,
            max_recycled: 32,
            credential_by_value: false,
            record: RecordConfig::default(),
        }
    }
}

/// A session handle, unique for the endpoint's lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(u64);

/// A datagram to send, written into the caller's buffer by [`Endpoint::poll_transmit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit<A> {
    /// Where to send it.
    pub destination: A,
    /// Its length in the buffer.
    pub len: usize,
}

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CloseReason {
    /// The handshake failed (for a timeout after an error message, the peer's error).
    #[error("handshake failed: {0}")]
    Handshake(HandshakeError),
    /// The peer did not answer in time.
    #[error("handshake timed out")]
    TimedOut,
    /// The record layer ended the session (sequence numbers exhausted).
    #[error("record layer: {0}")]
    Record(RecordError),
    /// A pending handshake was left behind: another one from the same address and C_I
    /// completed.
    #[error("superseded by a newer handshake from the same peer")]
    Superseded,
    /// A pending handshake was evicted to make room for a newer one (the oldest goes first).
    #[error("evicted by a newer pending handshake")]
    Evicted,
}

/// Something the application should know.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<A> {
    /// The handshake authenticated the peer; records can flow.
    Connected {
        /// The session.
        session: SessionId,
        /// The address the handshake ran with (unauthenticated: it only says where to send).
        address: A,
        /// The peer's verified identity.
        peer: DeviceId,
        /// Our role.
        role: HandshakeRole,
        /// The selected cipher suite.
        suite: CipherSuite,
        /// What the handshake established about the peer.
        info: PeerInfo,
    },
    /// A record arrived.
    Received {
        /// The session.
        session: SessionId,
        /// The peer's verified identity (the record authenticated under this session's keys).
        peer: DeviceId,
        /// Its plaintext.
        data: Vec<u8>,
    },
    /// The session ended; its handle is no longer valid.
    Closed {
        /// The session.
        session: SessionId,
        /// Why.
        reason: CloseReason,
    },
}

/// A new initiator, not yet accepted: nothing is stored about it until [`Endpoint::accept`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming<A> {
    peer: A,
    message_1: Vec<u8>,
    suite: CipherSuite,
    c_i: ConnId,
    ead: Vec<EadItem>,
    validated: bool,
}

impl<A> Incoming<A> {
    /// The initiator's address.
    pub fn peer(&self) -> &A {
        &self.peer
    }

    /// The cipher suite the handshake would use.
    pub fn suite(&self) -> CipherSuite {
        self.suite
    }

    /// EAD_1 (unauthenticated: the initiator is not known yet).
    pub fn ead(&self) -> &[EadItem] {
        &self.ead
    }

    /// Whether the initiator proved it receives at its address (it returned our cookie).
    pub fn address_validated(&self) -> bool {
        self.validated
    }
}

/// Why a datagram was dropped. The session it concerned, if any, is unchanged unless the
/// error says it ended (a fatal handshake error, also reported as [`Event::Closed`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// The datagram's framing does not parse.
    #[error(transparent)]
    Datagram(#[from] DatagramError),
    /// No session has the connection identifier it is addressed to.
    #[error("no session for this connection identifier")]
    UnknownSession,
    /// The handshake message failed.
    #[error(transparent)]
    Handshake(HandshakeError),
    /// The record failed.
    #[error(transparent)]
    Record(RecordError),
    /// A copy of a message already processed (answered again where that helps).
    #[error("duplicate {0}")]
    Duplicate(MessageKind),
    /// A message the session's state does not expect.
    #[error("unexpected {0}")]
    Unexpected(MessageKind),
    /// The session has failed; it answers nothing more.
    #[error("session closed")]
    Closed,
    /// Too many events are queued; the record was not opened.
    #[error("event queue full")]
    Backpressure,
    /// A record for a session whose handshake has not produced keys on this side yet.
    #[error("record before the session is established")]
    NotEstablished,
    /// A message_1 without a valid cookie while handshakes are pending: answered with a
    /// retry, nothing else done.
    #[error("message_1 from an address not validated yet: answered with a cookie")]
    AddressNotValidated,
}

/// Why [`Endpoint::connect`] or [`Endpoint::accept`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// `max_sessions` reached.
    #[error("too many sessions")]
    TooManySessions,
    /// No configured suite has a local credential.
    #[error("no usable cipher suite")]
    NoSuite,
    /// The handshake could not start.
    #[error(transparent)]
    Handshake(HandshakeError),
}

/// Why [`Endpoint::send`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// No such session.
    #[error("no such session")]
    UnknownSession,
    /// The handshake has not produced keys yet.
    #[error("session not established")]
    NotEstablished,
    /// The record layer refused (the session is then closed).
    #[error(transparent)]
    Record(RecordError),
}

enum State {
    InitiatorWaitM2 {
        handshake: Initiator<RingBackend>,
        /// message_1 as sent (with the cookie, once a retry gave one).
        datagram: Vec<u8>,
    },
    InitiatorWaitM4 {
        handshake: Box<InitiatorAwaitingMessage4>,
        record: RecordLayer,
        datagram: Vec<u8>,
    },
    ResponderWaitM3 {
        handshake: Responder,
        datagram: Vec<u8>,
    },
    Established {
        record: RecordLayer,
        secret: SessionSecret,
        /// The responder's message_4, sent again for a duplicate message_3.
        reply: Option<Vec<u8>>,
    },
    Failed {
        /// The error message this side ended the handshake with, sent again for a copy of
        /// the message that caused it (the first may have been lost).
        reply: Option<Vec<u8>>,
    },
}

/// How the initiator runs its current attempt; changed by what it learns on the way.
#[derive(Clone)]
struct Attempt {
    suites: Suites,
    renegotiated: bool,
    /// Our credential by value in message_3.
    by_value: bool,
    /// Ask the responder for its credential by value ([`EAD_CREDENTIAL_REQUEST`]).
    request_value: bool,
    /// The cookie of the responder's last retry.
    cookie: Option<[u8; COOKIE_LEN]>,
    /// Retries followed in this attempt.
    retries: u32,
}

struct Session<A> {
    peer: A,
    /// The initiator's attempt (`None` for a responder).
    attempt: Option<Attempt>,
    role: HandshakeRole,
    /// The expected device (initiator) until the handshake verifies the peer, then the
    /// verified one.
    device: Option<DeviceId>,
    local_id: ConnId,
    peer_id: Option<ConnId>,
    message_1_hash: Option<[u8; 32]>,
    /// Hash of the peer's message this side completed its step with (message_2 or
    /// message_3), to recognise copies.
    processed_hash: Option<[u8; 32]>,
    state: State,
    /// The last non-fatal handshake error or error message, reported if the handshake then
    /// times out.
    last_error: Option<HandshakeError>,
    timer: Option<Instant>,
    rto: Duration,
    retransmits: u32,
    /// Copies of a peer's message answered again.
    answers: u32,
    /// Whether the initiator proved it receives at `peer` (it returned our cookie).
    validated: bool,
}

/// The sans-IO endpoint: many EDHOC sessions and their record layers over one datagram
/// channel, with retransmission, duplicate handling and bounded state.
///
/// # Driving it
///
/// Feed every received datagram to [`Endpoint::handle_input`] and call
/// [`Endpoint::handle_timeout`] when [`Endpoint::poll_timeout`] is reached. After any call,
/// drain in this order: [`Endpoint::poll_event`] until `None` (so data and state changes are
/// seen before anything else happens), then [`Endpoint::poll_transmit`] until `None`, then
/// re-read [`Endpoint::poll_timeout`].
///
/// # Who the peer is
///
/// [`Endpoint::connect`] names the device it wants: a message_2 signed by any other key,
/// however valid its credential, is refused before message_3 is sent, and the initiator keeps
/// waiting for the genuine one. [`Event::Connected`] and every [`Event::Received`] carry the
/// peer's verified [`DeviceId`]; the address a datagram came from proves nothing, so an
/// application keys its sessions on the `DeviceId`, never on the address.
///
/// # New peers
///
/// A message_1 from a peer without a session is returned from `handle_input` as an
/// [`Incoming`] before any per-peer state exists; the application calls [`Endpoint::accept`]
/// or [`Endpoint::refuse`] (or drops it). Checks that need no state (method, cipher suite,
/// critical EAD_1) are answered with an EDHOC error message right away.
///
/// Once `cookie_threshold` handshakes are pending, a message_1 must come back with a cookie
/// before it surfaces: the responder answers it with a retry datagram carrying an HMAC over
/// the sender's address, C_I and a time epoch, under a key only this endpoint holds. The
/// retry is stateless, costs no signature and is smaller than the message_1 it answers, so a
/// flood of spoofed message_1s costs a MAC each and draws nothing larger toward the spoofed
/// address; only an initiator that receives at its address gets further.
///
/// # Bounds and eviction
///
/// - Sessions: at most `max_sessions`; [`Endpoint::connect`] and [`Endpoint::accept`] fail
///   beyond it. Failed and timed-out sessions are removed.
/// - Half-open responder handshakes: at most `max_pending`, and at most
///   `max_pending_per_peer` from one address. Accepting one more evicts that address's oldest
///   pending handshake, or else the oldest pending handshake of all (reported as
///   [`CloseReason::Evicted`]). A pending handshake leaves when it completes, fails, or
///   `handshake_timeout` after it was accepted; or when another handshake from the same
///   address and C_I completes (the initiator restarted), reported as
///   [`CloseReason::Superseded`].
/// - Answers to copies (a duplicate message_1 or message_3 answered with the same message_2
///   or message_4): at most `max_retransmits` per session, sent to the address the session
///   was opened with, never to the copy's. A copy of a message_1 whose address no cookie
///   has proved yet is answered with a retry to that address instead, so spoofed copies
///   draw nothing larger than themselves; only the first message_2 of at most
///   `cookie_threshold` unproved handshakes is ever larger than what asked for it.
/// - Datagrams answering a peer (duplicates, error messages, retries): dropped when
///   `max_transmits` datagrams are already queued.
/// - Received data: a record is refused (and left for the peer to retransmit at its layer)
///   when `max_events` events are queued. Buffers handed back with [`Endpoint::recycle`]
///   carry the next records' plaintext (at most `max_recycled` are kept), so a receiver that
///   recycles allocates nothing per record.
///
/// # Determinism
///
/// Every table is ordered (`BTreeMap`), so the same inputs, times and random bytes give the
/// same outputs in the same order; nothing depends on a hash seed.
///
/// # Loss, forgery and error messages
///
/// Only the initiator retransmits (message_1, then message_3) with exponential backoff; the
/// responder answers a duplicate message_1 or message_3 with the same message_2 or message_4.
/// message_4 (or any record from the responder) stops message_3's retransmissions.
///
/// Bytes that fail to parse or authenticate are dropped without changing the session or
/// charging its retry budget: on a radio link they are indistinguishable from corruption or
/// injection (RFC 9528 would end the session). The initiator's ephemeral key survives a forged
/// message_2, so the genuine one still completes the handshake. EDHOC error messages are not
/// authenticated either, so they are hints: they never end a handshake, and the initiator
/// keeps its retransmission schedule, since an error injected by someone who heard message_1
/// must not silence the genuine responder. The last one is kept and reported as the reason if
/// the handshake then times out. Code 2 (wrong cipher suite) makes the initiator retry once
/// with a suite the responder named, and code 3 in answer to message_3 makes it retry once
/// with its credential by value. A responder only notes them. The price: a genuine refusal
/// reaches the application when the retransmissions run out (about 47 s with the default
/// schedule), not at once. Records that fail
/// to authenticate never end a session either: the record layer counts them against the key
/// they were tried with and, past `forgeries_before_update`, asks the peer for its next key
/// on the next record this side sends. Connection identifiers are 4 random bytes, so none of
/// this can be aimed at a session by someone who does not see its traffic.
///
/// # Credential references
///
/// Each side names its credential by reference (`kid`) unless `credential_by_value` is set.
/// A responder that cannot resolve the initiator's reference refuses message_3 with EDHOC
/// error code 3, and the initiator restarts with its credential by value. An initiator that
/// cannot resolve the responder's reference answers message_2 with code 3 and restarts with
/// [`EAD_CREDENTIAL_REQUEST`] in EAD_1, and the responder then sends its credential by value;
/// the request travels in message_1, which both signatures cover. A responder that ended a
/// handshake with an error message sends it again for a copy of the message_3 that caused it,
/// in case the first was lost.
///
/// `A` is the peer address type.
pub struct Endpoint<A> {
    config: EndpointConfig,
    creds: Arc<dyn Credentials>,
    rng: Arc<dyn SecureRandom + Send + Sync>,
    cookie_key: Option<hmac::Key>,
    sessions: BTreeMap<SessionId, Session<A>>,
    by_local_id: BTreeMap<ConnId, SessionId>,
    by_message_1: BTreeMap<[u8; 32], SessionId>,
    /// Responder sessions by the initiator's address and C_I (several while one is pending).
    by_initiator: BTreeSet<(A, ConnId, SessionId)>,
    transmits: VecDeque<(A, Vec<u8>)>,
    events: VecDeque<Event<A>>,
    recycled: Vec<Vec<u8>>,
    next_session: u64,
}

impl<A> core::fmt::Debug for Endpoint<A> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Endpoint")
            .field("sessions", &self.sessions.len())
            .field("transmits", &self.transmits.len())
            .field("events", &self.events.len())
            .finish_non_exhaustive()
    }
}

/// Feeds an address's `Hash` into the cookie MAC: whatever the address type, the same
/// address gives the same bytes within this process, which is all a cookie needs.
struct MacHasher<'a>(&'a mut hmac::Context);

impl Hasher for MacHasher<'_> {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        0
    }
}

impl<A: Clone + Ord + Hash> Endpoint<A> {
    /// An endpoint with these credentials; `rng` supplies ephemeral keys, connection
    /// identifiers, the cookie key and ECDSA nonces.
    pub fn new(
        config: EndpointConfig,
        creds: Arc<dyn Credentials>,
        rng: Arc<dyn SecureRandom + Send + Sync>,
    ) -> Self {
        Self {
            config,
            creds,
            rng,
            cookie_key: None,
            sessions: BTreeMap::new(),
            by_local_id: BTreeMap::new(),
            by_message_1: BTreeMap::new(),
            by_initiator: BTreeSet::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            recycled: Vec::new(),
            next_session: 0,
        }
    }

    /// Number of sessions in any state.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Number of responder handshakes waiting for message_3.
    pub fn pending_count(&self) -> usize {
        self.pending().count()
    }

    /// The verified identity of an established session's peer.
    pub fn peer(&self, session: SessionId) -> Option<DeviceId> {
        let s = self.sessions.get(&session)?;
        match s.state {
            State::InitiatorWaitM4 { .. } | State::Established { .. } => s.device,
            _ => None,
        }
    }

    fn pending(&self) -> impl Iterator<Item = (&SessionId, &Session<A>)> {
        self.sessions
            .iter()
            .filter(|(_, s)| matches!(s.state, State::ResponderWaitM3 { .. }))
    }

    /// Our usable suites, in preference order.
    fn usable_suites(&self) -> Vec<CipherSuite> {
        self.config
            .suites
            .iter()
            .copied()
            .filter(|s| RingBackend.supports(*s) && self.creds.local(*s).is_some())
            .collect()
    }

    /// Starts a handshake as initiator with the device `expected`, reached at `peer`. Only
    /// that device completes it: see [Who the peer is](Endpoint#who-the-peer-is).
    pub fn connect(
        &mut self,
        now: Instant,
        peer: A,
        expected: DeviceId,
    ) -> Result<SessionId, OpenError> {
        if self.sessions.len() >= self.config.max_sessions {
            return Err(OpenError::TooManySessions);
        }
        let first = *self.usable_suites().first().ok_or(OpenError::NoSuite)?;
        let suites = Suites::new(alloc::vec![first.id()]).ok_or(OpenError::NoSuite)?;
        let local_id = self.allocate_id().ok_or(OpenError::TooManySessions)?;
        let attempt = Attempt {
            suites,
            renegotiated: false,
            by_value: self.config.credential_by_value,
            request_value: false,
            cookie: None,
            retries: 0,
        };
        let handshake = self.start_initiator(now, &attempt, local_id, expected)?;
        let datagram = datagram::frame_message_1(None, handshake.message_1());
        let id = self.insert(Session {
            peer: peer.clone(),
            attempt: Some(attempt),
            role: HandshakeRole::Initiator,
            device: Some(expected),
            local_id,
            peer_id: None,
            message_1_hash: None,
            processed_hash: None,
            last_error: None,
            state: State::InitiatorWaitM2 {
                handshake,
                datagram: datagram.clone(),
            },
            timer: Some(now.saturating_add(self.config.initial_rto)),
            rto: self.config.initial_rto,
            retransmits: 0,
            answers: 0,
            validated: false,
        });
        self.transmits.push_back((peer, datagram));
        Ok(id)
    }

    fn start_initiator(
        &self,
        now: Instant,
        attempt: &Attempt,
        local_id: ConnId,
        expected: DeviceId,
    ) -> Result<Initiator<RingBackend>, OpenError> {
        let mut ead_1 = self.creds.ead(&EadRequest {
            slot: EadSlot::Message1,
            now,
            nonce: None,
            peer_ead: &[],
        });
        if attempt.request_value {
            ead_1.push(EadItem::new(EAD_CREDENTIAL_REQUEST, None));
        }
        let (handshake, _) = Initiator::start(
            &RingBackend,
            &*self.rng,
            now,
            attempt.suites.clone(),
            local_id,
            ead_1,
        )
        .map_err(OpenError::Handshake)?;
        let handshake = handshake.expect_peer(expected);
        Ok(if attempt.by_value {
            handshake.send_credential_by_value()
        } else {
            handshake
        })
    }

    /// Accepts a new initiator: answers with message_2.
    ///
    /// Other handshakes from the same address and C_I stay: the new message_1 may be spoofed.
    /// Whichever completes first supersedes the others. When the address already has
    /// `max_pending_per_peer` pending handshakes, or all `max_pending` are taken, the oldest
    /// of them is evicted.
    pub fn accept(&mut self, now: Instant, incoming: Incoming<A>) -> Result<SessionId, OpenError> {
        if self.sessions.len() >= self.config.max_sessions {
            return Err(OpenError::TooManySessions);
        }
        let from_peer: Vec<SessionId> = self
            .pending()
            .filter(|(_, s)| s.peer == incoming.peer)
            .map(|(id, _)| *id)
            .collect();
        let evict = if from_peer.len() >= self.config.max_pending_per_peer {
            from_peer.first().copied()
        } else if self.pending_count() >= self.config.max_pending {
            self.pending().map(|(id, _)| *id).min()
        } else {
            None
        };
        let local_id = self.allocate_id().ok_or(OpenError::TooManySessions)?;
        let by_value = self.config.credential_by_value
            || incoming
                .ead
                .iter()
                .any(|i| i.label == EAD_CREDENTIAL_REQUEST);
        let respond = if by_value {
            Responder::respond_by_value::<RingBackend>
        } else {
            Responder::respond::<RingBackend>
        };
        let (handshake, message_2) = respond(
            &RingBackend,
            &*self.rng,
            now,
            &incoming.message_1,
            incoming.suite,
            local_id,
            &*self.creds,
        )
        .map_err(OpenError::Handshake)?;
        if let Some(old) = evict {
            self.remove(old);
            self.events.push_back(Event::Closed {
                session: old,
                reason: CloseReason::Evicted,
            });
        }
        let datagram = datagram::frame(Kind::Message2, Some(incoming.c_i), &message_2);
        let message_1_hash = RingBackend.sha256(&[&incoming.message_1]);
        let id = self.insert(Session {
            peer: incoming.peer.clone(),
            attempt: None,
            role: HandshakeRole::Responder,
            device: None,
            local_id,
            peer_id: Some(incoming.c_i),
            message_1_hash: Some(message_1_hash),
            processed_hash: None,
            last_error: None,
            state: State::ResponderWaitM3 {
                handshake,
                datagram: datagram.clone(),
            },
            timer: Some(now.saturating_add(self.config.handshake_timeout)),
            rto: self.config.initial_rto,
            retransmits: 0,
            answers: 0,
            validated: incoming.validated,
        });
        self.by_message_1.insert(message_1_hash, id);
        self.by_initiator
            .insert((incoming.peer.clone(), incoming.c_i, id));
        self.transmits.push_back((incoming.peer, datagram));
        Ok(id)
    }

    /// Refuses a new initiator with an EDHOC error message (code 1).
    pub fn refuse(&mut self, incoming: Incoming<A>) {
        let error = ErrorMessage::Unspecified("refused".into());
        self.reply_error(incoming.peer, incoming.c_i, &error);
    }

    /// Seals `data` as one record for `session`.
    pub fn send(&mut self, now: Instant, session: SessionId, data: &[u8]) -> Result<(), SendError> {
        let Some(s) = self.sessions.get_mut(&session) else {
            return Err(SendError::UnknownSession);
        };
        let State::Established { record, .. } = &mut s.state else {
            return Err(SendError::NotEstablished);
        };
        let mut out = Vec::with_capacity(data.len() + crate::record::MAX_OVERHEAD);
        match record.seal(now, data, &mut out) {
            Ok(()) => {
                self.transmits.push_back((s.peer.clone(), out));
                Ok(())
            }
            Err(e) => {
                self.fail(now, session, CloseReason::Record(e));
                Err(SendError::Record(e))
            }
        }
    }

    /// EDHOC_Exporter for an established session (labels 32768 to 32771 are the record
    /// layer's).
    pub fn export(
        &self,
        session: SessionId,
        label: u64,
        context: &[u8],
        out: &mut [u8],
    ) -> Result<(), SendError> {
        let Some(s) = self.sessions.get(&session) else {
            return Err(SendError::UnknownSession);
        };
        let State::Established { secret, .. } = &s.state else {
            return Err(SendError::NotEstablished);
        };
        secret
            .export(label, context, out)
            .map_err(|_| SendError::Record(RecordError::Crypto))
    }

    /// The record layer's counters of an established session (sealed and opened records,
    /// forgeries, current key phases).
    pub fn record_stats(&self, session: SessionId) -> Option<RecordStats> {
        match &self.sessions.get(&session)?.state {
            State::InitiatorWaitM4 { record, .. } | State::Established { record, .. } => {
                Some(record.stats())
            }
            _ => None,
        }
    }

    /// Hands back the buffer of an [`Event::Received`] once its data is consumed: the next
    /// received record is opened into it instead of a new allocation.
    pub fn recycle(&mut self, mut buffer: Vec<u8>) {
        if self.recycled.len() < self.config.max_recycled {
            buffer.clear();
            self.recycled.push(buffer);
        }
    }

    /// Ends a session at once, without telling the peer.
    pub fn close(&mut self, session: SessionId) {
        self.remove(session);
    }

    /// Feeds one received datagram. Returns a new initiator to accept or refuse, if it is
    /// one; an error says why the datagram was dropped.
    pub fn handle_input(
        &mut self,
        now: Instant,
        from: A,
        bytes: &[u8],
    ) -> Result<Option<Incoming<A>>, InputError> {
        if bytes.len() > self.config.max_datagram {
            return Err(DatagramError::TooLarge.into());
        }
        match Datagram::parse(bytes)? {
            Datagram::Message1 { cookie, message } => self.on_message_1(now, from, cookie, message),
            Datagram::Message2(to, message) => self.on_message_2(now, to, message).map(|()| None),
            Datagram::Message3(to, message) => self.on_message_3(now, to, message).map(|()| None),
            Datagram::Message4(to, message) => self.on_message_4(now, to, message).map(|()| None),
            Datagram::Error(to, message) => self.on_error(now, to, message).map(|()| None),
            Datagram::Retry(to, cookie) => self.on_retry(to, cookie).map(|()| None),
            Datagram::Record(header) => self.on_record(now, header.receiver, bytes).map(|()| None),
        }
    }

    fn on_message_1(
        &mut self,
        now: Instant,
        from: A,
        cookie: Option<&[u8; COOKIE_LEN]>,
        message: &[u8],
    ) -> Result<Option<Incoming<A>>, InputError> {
        let m1 = Message1::decode(message).map_err(|error| {
            InputError::Handshake(HandshakeError::Malformed {
                message: MessageKind::Message1,
                error,
            })
        })?;
        let hash = RingBackend.sha256(&[message]);
        if let Some(id) = self.by_message_1.get(&hash).copied() {
            self.answer_message_1_copy(now, id, m1.c_i, cookie);
            return Err(InputError::Duplicate(MessageKind::Message1));
        }
        let validated = cookie.is_some_and(|c| self.cookie_is_valid(now, &from, m1.c_i, c));
        if !validated && self.pending_count() >= self.config.cookie_threshold {
            if let Some(cookie) = self.cookie(now, &from, m1.c_i, 0) {
                self.reply((from, datagram::frame(Kind::Retry, Some(m1.c_i), &cookie)));
            }
            return Err(InputError::AddressNotValidated);
        }
        let supported = self.usable_suites();
        match check_message_1(&m1, &supported, &*self.creds) {
            Ok(suite) => Ok(Some(Incoming {
                peer: from,
                message_1: message.to_vec(),
                suite,
                c_i: m1.c_i,
                ead: m1.ead,
                validated,
            })),
            Err(error) => {
                let reply = match &error {
                    HandshakeError::WrongSuite { .. } => {
                        let ids = supported.iter().map(|s| s.id()).collect();
                        Suites::new(ids).map(ErrorMessage::WrongSelectedSuite)
                    }
                    other => other.reply(),
                };
                if let Some(reply) = reply {
                    self.reply_error(from, m1.c_i, &reply);
                }
                Err(InputError::Handshake(error))
            }
        }
    }

    /// A copy of the message_1 a pending handshake answered: message_2 again once the
    /// initiator proved it receives at the handshake's address (with the cookie of this copy or
    /// of an earlier message_1), else a retry to that address. Copies of a spoofed message_1
    /// then draw nothing larger than themselves toward an address nobody proved.
    fn answer_message_1_copy(
        &mut self,
        now: Instant,
        id: SessionId,
        c_i: ConnId,
        cookie: Option<&[u8; COOKIE_LEN]>,
    ) {
        let Some(peer) = self
            .sessions
            .get(&id)
            .filter(|s| matches!(s.state, State::ResponderWaitM3 { .. }))
            .map(|s| s.peer.clone())
        else {
            return;
        };
        let proven = cookie.is_some_and(|c| self.cookie_is_valid(now, &peer, c_i, c));
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        s.validated |= proven;
        if s.validated {
            self.answer_copy(id, MessageKind::Message1);
        } else if let Some(cookie) = self.cookie(now, &peer, c_i, 0) {
            self.reply((peer, datagram::frame(Kind::Retry, Some(c_i), &cookie)));
        }
    }

    /// Answers a copy of the message a responder session answered (message_1 with message_2
    /// while it waits for message_3; message_3 with message_4 or the error that ended the
    /// handshake), at most `max_retransmits` times, to the address the session runs with.
    fn answer_copy(&mut self, id: SessionId, copy: MessageKind) {
        let limit = self.config.max_retransmits;
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        let datagram = match (&s.state, copy) {
            (State::ResponderWaitM3 { datagram, .. }, MessageKind::Message1)
            | (
                State::Established {
                    reply: Some(datagram),
                    ..
                }
                | State::Failed {
                    reply: Some(datagram),
                },
                MessageKind::Message3,
            ) => datagram,
            _ => return,
        };
        if s.answers >= limit {
            return;
        }
        s.answers += 1;
        let again = (s.peer.clone(), datagram.clone());
        self.reply(again);
    }

    /// The cookie for `peer` and `c_i` in the current epoch, or `back` epochs before it.
    fn cookie(
        &mut self,
        now: Instant,
        peer: &A,
        c_i: ConnId,
        back: u64,
    ) -> Option<[u8; COOKIE_LEN]> {
        if self.cookie_key.is_none() {
            self.cookie_key = hmac::Key::generate(hmac::HMAC_SHA256, &*self.rng).ok();
        }
        let key = self.cookie_key.as_ref()?;
        let lifetime = self.config.cookie_lifetime.as_millis().max(1);
        let elapsed = now.saturating_duration_since(Instant::ZERO).as_millis();
        let epoch = u64::try_from(elapsed / lifetime)
            .unwrap_or(u64::MAX)
            .checked_sub(back)?;
        let mut ctx = hmac::Context::with_key(key);
        ctx.update(&epoch.to_be_bytes());
        ctx.update(c_i.as_bytes());
        peer.hash(&mut MacHasher(&mut ctx));
        let tag = ctx.sign();
        let mut cookie = [0; COOKIE_LEN];
        cookie.copy_from_slice(tag.as_ref().get(..COOKIE_LEN)?);
        Some(cookie)
    }

    fn cookie_is_valid(
        &mut self,
        now: Instant,
        peer: &A,
        c_i: ConnId,
        cookie: &[u8; COOKIE_LEN],
    ) -> bool {
        (0..2).any(|back| {
            self.cookie(now, peer, c_i, back).is_some_and(|expected| {
                // Compared without an early exit, so timing says nothing about the prefix.
                expected
                    .iter()
                    .zip(cookie)
                    .fold(0u8, |diff, (a, b)| diff | (a ^ b))
                    == 0
            })
        })
    }

    /// A responder asked for its cookie: message_1 goes again with it, at once (a retry is
    /// not a lost message and costs the retransmission budget nothing).
    fn on_retry(&mut self, to: ConnId, cookie: &[u8; COOKIE_LEN]) -> Result<(), InputError> {
        let id = self.session_for(to)?;
        let limit = self.config.max_retransmits;
        let Some(s) = self.sessions.get_mut(&id) else {
            return Err(InputError::UnknownSession);
        };
        let (
            State::InitiatorWaitM2 {
                handshake,
                datagram,
            },
            Some(attempt),
        ) = (&mut s.state, &mut s.attempt)
        else {
            return Err(InputError::Unexpected(MessageKind::Message1));
        };
        if attempt.retries >= limit {
            return Err(InputError::Unexpected(MessageKind::Message1));
        }
        attempt.retries += 1;
        attempt.cookie = Some(*cookie);
        *datagram = datagram::frame_message_1(Some(cookie), handshake.message_1());
        let again = (s.peer.clone(), datagram.clone());
        self.transmits.push_back(again);
        Ok(())
    }

    fn session_for(&self, to: ConnId) -> Result<SessionId, InputError> {
        self.by_local_id
            .get(&to)
            .copied()
            .ok_or(InputError::UnknownSession)
    }

    fn on_message_2(&mut self, now: Instant, to: ConnId, message: &[u8]) -> Result<(), InputError> {
        let id = self.session_for(to)?;
        let hash = RingBackend.sha256(&[message]);
        let creds = Arc::clone(&self.creds);
        let Some(s) = self.sessions.get_mut(&id) else {
            return Err(InputError::UnknownSession);
        };
        if s.processed_hash == Some(hash) {
            if let State::InitiatorWaitM4 { datagram, .. } = &s.state {
                let again = (s.peer.clone(), datagram.clone());
                self.reply(again);
            }
            return Err(InputError::Duplicate(MessageKind::Message2));
        }
        let handshake = match &s.state {
            State::InitiatorWaitM2 { handshake, .. } => handshake,
            State::Failed { .. } => return Err(InputError::Closed),
            _ => return Err(InputError::Unexpected(MessageKind::Message2)),
        };
        let failure = match handshake.process_message_2(&RingBackend, now, message, &*creds) {
            Ok((awaiting, message_3)) => {
                let completed = awaiting.completed();
                let record = RecordLayer::new(
                    completed.suite,
                    &completed.secret,
                    HandshakeRole::Initiator,
                    completed.c_i,
                    completed.c_r,
                    self.config.record,
                    now,
                );
                let record = match record {
                    Ok(record) => record,
                    Err(e) => {
                        self.fail(now, id, CloseReason::Record(e));
                        return Err(InputError::Record(e));
                    }
                };
                let datagram = datagram::frame(Kind::Message3, Some(completed.c_r), &message_3);
                s.peer_id = Some(completed.c_r);
                s.device = Some(completed.peer.device);
                s.processed_hash = Some(hash);
                s.rto = self.config.initial_rto;
                s.retransmits = 0;
                s.timer = Some(now.saturating_add(s.rto));
                s.state = State::InitiatorWaitM4 {
                    handshake: Box::new(awaiting),
                    record,
                    datagram: datagram.clone(),
                };
                self.transmits.push_back((s.peer.clone(), datagram));
                return Ok(());
            }
            Err(failure) => failure,
        };
        let error = failure.error;
        // Our verifier does not know the responder's reference: tell it (code 3), and start
        // again asking for its credential by value, once.
        if let (HandshakeError::Refused(Refusal::UnknownCredential), Some(c_r)) =
            (&error, failure.c_r)
        {
            let peer = s.peer.clone();
            let next = s
                .attempt
                .as_ref()
                .filter(|a| !a.request_value)
                .map(|a| Attempt {
                    request_value: true,
                    ..a.clone()
                });
            s.last_error = Some(error.clone());
            self.reply_error(peer, c_r, &ErrorMessage::UnknownCredential);
            if let Some(next) = next {
                self.restart(now, id, next)?;
            }
            return Err(InputError::Handshake(error));
        }
        // Only an authenticated responder's refusal ends the handshake: anything else may
        // be a forgery, and the genuine message_2 can still come (another device answering
        // in the expected one's place included).
        if error.is_fatal() && !matches!(error, HandshakeError::UnexpectedPeer { .. }) {
            if let (Some(c_r), Some(reply)) = (failure.c_r, error.reply()) {
                let peer = s.peer.clone();
                self.reply_error(peer, c_r, &reply);
            }
            self.fail(now, id, CloseReason::Handshake(error.clone()));
            return Err(InputError::Handshake(error));
        }
        s.last_error = Some(error.clone());
        Err(InputError::Handshake(error))
    }

    fn on_message_3(&mut self, now: Instant, to: ConnId, message: &[u8]) -> Result<(), InputError> {
        let id = self.session_for(to)?;
        let hash = RingBackend.sha256(&[message]);
        let creds = Arc::clone(&self.creds);
        let Some(s) = self.sessions.get_mut(&id) else {
            return Err(InputError::UnknownSession);
        };
        if s.processed_hash == Some(hash) {
            self.answer_copy(id, MessageKind::Message3);
            return Err(InputError::Duplicate(MessageKind::Message3));
        }
        let result = match &s.state {
            State::ResponderWaitM3 { handshake, .. } => {
                handshake.process_message_3(&RingBackend, now, message, &*creds)
            }
            State::Failed { .. } => return Err(InputError::Closed),
            _ => return Err(InputError::Unexpected(MessageKind::Message3)),
        };
        match result {
            Ok((completed, message_4)) => {
                let Completed {
                    suite,
                    c_i,
                    c_r,
                    peer,
                    secret,
                    ..
                } = completed;
                let record = RecordLayer::new(
                    suite,
                    &secret,
                    HandshakeRole::Responder,
                    c_r,
                    c_i,
                    self.config.record,
                    now,
                );
                let record = match record {
                    Ok(record) => record,
                    Err(e) => {
                        self.fail(now, id, CloseReason::Record(e));
                        return Err(InputError::Record(e));
                    }
                };
                let datagram = datagram::frame(Kind::Message4, Some(c_i), &message_4);
                let initiator = s.peer.clone();
                s.device = Some(peer.device);
                self.events.push_back(Event::Connected {
                    session: id,
                    address: s.peer.clone(),
                    peer: peer.device,
                    role: HandshakeRole::Responder,
                    suite,
                    info: peer,
                });
                s.timer = None;
                s.processed_hash = Some(hash);
                s.answers = 0;
                s.state = State::Established {
                    record,
                    secret,
                    reply: Some(datagram.clone()),
                };
                self.transmits.push_back((s.peer.clone(), datagram));
                self.supersede(&initiator, c_i, id);
                Ok(())
            }
            Err(error) => {
                if error.is_fatal() {
                    let answer = s
                        .peer_id
                        .zip(error.reply())
                        .map(|(c_i, reply)| error_datagram(c_i, &reply));
                    if let Some(datagram) = &answer {
                        s.processed_hash = Some(hash);
                        let again = (s.peer.clone(), datagram.clone());
                        self.reply(again);
                    }
                    self.fail_answering(now, id, CloseReason::Handshake(error.clone()), answer);
                } else {
                    s.last_error = Some(error.clone());
                }
                Err(InputError::Handshake(error))
            }
        }
    }

    fn on_message_4(&mut self, now: Instant, to: ConnId, message: &[u8]) -> Result<(), InputError> {
        let id = self.session_for(to)?;
        let creds = Arc::clone(&self.creds);
        let Some(s) = self.sessions.get_mut(&id) else {
            return Err(InputError::UnknownSession);
        };
        let result = match &s.state {
            State::InitiatorWaitM4 { handshake, .. } => {
                handshake.process_message_4(&RingBackend, message, &*creds)
            }
            State::Established { .. } if s.role == HandshakeRole::Initiator => {
                return Err(InputError::Duplicate(MessageKind::Message4));
            }
            State::Failed { .. } => return Err(InputError::Closed),
            _ => return Err(InputError::Unexpected(MessageKind::Message4)),
        };
        match result {
            Ok(_ead_4) => {
                let event = Self::confirm(id, s);
                self.events.extend(event);
                Ok(())
            }
            Err(error) => {
                if error.is_fatal() {
                    self.fail(now, id, CloseReason::Handshake(error.clone()));
                }
                Err(InputError::Handshake(error))
            }
        }
    }

    /// The initiator learned that the responder has the keys: stop sending message_3 and
    /// report the session.
    fn confirm(id: SessionId, s: &mut Session<A>) -> Option<Event<A>> {
        let state = core::mem::replace(&mut s.state, State::Failed { reply: None });
        let (state, event) = match state {
            State::InitiatorWaitM4 {
                handshake, record, ..
            } => {
                let completed = handshake.into_completed();
                let event = Event::Connected {
                    session: id,
                    address: s.peer.clone(),
                    peer: completed.peer.device,
                    role: HandshakeRole::Initiator,
                    suite: completed.suite,
                    info: completed.peer,
                };
                let state = State::Established {
                    record,
                    secret: completed.secret,
                    reply: None,
                };
                (state, Some(event))
            }
            other => (other, None),
        };
        s.state = state;
        s.timer = None;
        event
    }

    /// An EDHOC error message: a hint, since nothing authenticates it. It is kept as the
    /// reason to report should the handshake time out; codes 2 and 3 make the initiator
    /// correct its attempt once.
    fn on_error(&mut self, now: Instant, to: ConnId, message: &[u8]) -> Result<(), InputError> {
        let id = self.session_for(to)?;
        let error = ErrorMessage::decode(message).map_err(|error| {
            InputError::Handshake(HandshakeError::Malformed {
                message: MessageKind::Error,
                error,
            })
        })?;
        let ours = self.usable_suites();
        let Some(s) = self.sessions.get_mut(&id) else {
            return Err(InputError::UnknownSession);
        };
        if matches!(s.state, State::Established { .. } | State::Failed { .. }) {
            return Err(InputError::Unexpected(MessageKind::Error));
        }
        let next = s.attempt.as_ref().and_then(|attempt| {
            let mut next = attempt.clone();
            match (&s.state, &error) {
                // Error code 2 answers message_1: try a suite the responder named, once.
                (State::InitiatorWaitM2 { .. }, ErrorMessage::WrongSelectedSuite(theirs))
                    if !attempt.renegotiated =>
                {
                    next.suites = renegotiate(&ours, &attempt.suites, theirs)?;
                    next.renegotiated = true;
                }
                // Error code 3 answers message_3: our kid is unknown, send the credential by
                // value, once.
                (State::InitiatorWaitM4 { .. }, ErrorMessage::UnknownCredential)
                    if !attempt.by_value =>
                {
                    next.by_value = true;
                }
                _ => return None,
            }
            Some(next)
        });
        s.last_error = Some(HandshakeError::PeerError(error));
        match next {
            Some(next) => self.restart(now, id, next),
            None => Ok(()),
        }
    }

    /// Starts the initiator's handshake again with a fresh ephemeral key and `next` attempt.
    fn restart(&mut self, now: Instant, id: SessionId, next: Attempt) -> Result<(), InputError> {
        let Some(s) = self.sessions.get(&id) else {
            return Err(InputError::UnknownSession);
        };
        let Some(expected) = s.device else {
            return Err(InputError::Unexpected(MessageKind::Error));
        };
        let next = Attempt {
            cookie: None,
            retries: 0,
            ..next
        };
        let handshake = match self.start_initiator(now, &next, s.local_id, expected) {
            Ok(handshake) => handshake,
            Err(OpenError::Handshake(e)) => {
                self.fail(now, id, CloseReason::Handshake(e.clone()));
                return Err(InputError::Handshake(e));
            }
            Err(_) => {
                self.fail(now, id, CloseReason::TimedOut);
                return Err(InputError::Closed);
            }
        };
        let Some(s) = self.sessions.get_mut(&id) else {
            return Err(InputError::UnknownSession);
        };
        let datagram = datagram::frame_message_1(None, handshake.message_1());
        s.attempt = Some(next);
        s.peer_id = None;
        s.processed_hash = None;
        s.state = State::InitiatorWaitM2 {
            handshake,
            datagram: datagram.clone(),
        };
        s.timer = Some(now.saturating_add(s.rto));
        self.transmits.push_back((s.peer.clone(), datagram));
        Ok(())
    }

    fn on_record(&mut self, now: Instant, to: ConnId, bytes: &[u8]) -> Result<(), InputError> {
        let id = self.session_for(to)?;
        if self.events.len() >= self.config.max_events {
            return Err(InputError::Backpressure);
        }
        let Some(s) = self.sessions.get_mut(&id) else {
            return Err(InputError::UnknownSession);
        };
        let (record, Some(peer)) = (
            match &mut s.state {
                State::InitiatorWaitM4 { record, .. } | State::Established { record, .. } => record,
                State::Failed { .. } => return Err(InputError::Closed),
                _ => return Err(InputError::NotEstablished),
            },
            s.device,
        ) else {
            return Err(InputError::NotEstablished);
        };
        let mut buf = self.recycled.pop().unwrap_or_default();
        buf.extend_from_slice(bytes);
        match record.open(now, &mut buf) {
            Ok(range) => {
                buf.truncate(range.end);
                buf.drain(..range.start);
                if matches!(s.state, State::InitiatorWaitM4 { .. }) {
                    let event = Self::confirm(id, s);
                    self.events.extend(event);
                }
                self.events.push_back(Event::Received {
                    session: id,
                    peer,
                    data: buf,
                });
                Ok(())
            }
            Err(e) => {
                self.recycle(buf);
                Err(InputError::Record(e))
            }
        }
    }

    /// Runs the timers due at `now`: retransmissions, handshake and drain deadlines, key
    /// retention.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.next_timeout().is_some_and(|t| t <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            self.timeout(now, id);
        }
    }

    fn timeout(&mut self, now: Instant, id: SessionId) {
        let max_retransmits = self.config.max_retransmits;
        let max_rto = self.config.max_rto;
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        match &mut s.state {
            State::Established { record, .. } => record.handle_timeout(now),
            State::Failed { .. } => self.remove(id),
            State::ResponderWaitM3 { .. } => {
                let reason = s
                    .last_error
                    .take()
                    .map_or(CloseReason::TimedOut, CloseReason::Handshake);
                self.remove(id);
                self.events.push_back(Event::Closed {
                    session: id,
                    reason,
                });
            }
            State::InitiatorWaitM2 { datagram, .. } | State::InitiatorWaitM4 { datagram, .. } => {
                if s.retransmits >= max_retransmits {
                    let reason = s
                        .last_error
                        .take()
                        .map_or(CloseReason::TimedOut, CloseReason::Handshake);
                    self.fail(now, id, reason);
                    return;
                }
                s.retransmits += 1;
                s.rto = (s.rto * 2).min(max_rto);
                s.timer = Some(now.saturating_add(s.rto));
                let again = (s.peer.clone(), datagram.clone());
                self.transmits.push_back(again);
            }
        }
    }

    /// The earliest time [`Endpoint::handle_timeout`] has work, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.sessions
            .values()
            .filter_map(Session::next_timeout)
            .min()
    }

    /// The next datagram to send, written into `buf` (cleared first).
    #[must_use]
    pub fn poll_transmit(&mut self, _now: Instant, buf: &mut Vec<u8>) -> Option<Transmit<A>> {
        let (destination, datagram) = self.transmits.pop_front()?;
        buf.clear();
        buf.extend_from_slice(&datagram);
        Some(Transmit {
            destination,
            len: datagram.len(),
        })
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event<A>> {
        self.events.pop_front()
    }

    fn reply(&mut self, transmit: (A, Vec<u8>)) {
        if self.transmits.len() < self.config.max_transmits {
            self.transmits.push_back(transmit);
        }
    }

    fn reply_error(&mut self, peer: A, to: ConnId, error: &ErrorMessage) {
        self.reply((peer, error_datagram(to, error)));
    }

    /// Ends a session with `reason`: reported once, then kept (answering nothing) until the
    /// drain timeout so late datagrams meet [`InputError::Closed`].
    fn fail(&mut self, now: Instant, id: SessionId, reason: CloseReason) {
        self.fail_answering(now, id, reason, None);
    }

    /// As [`fail`](Self::fail), keeping the error message `reply` to send again for a copy
    /// of the message that caused it.
    fn fail_answering(
        &mut self,
        now: Instant,
        id: SessionId,
        reason: CloseReason,
        reply: Option<Vec<u8>>,
    ) {
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        if matches!(s.state, State::Failed { .. }) {
            return;
        }
        s.state = State::Failed { reply };
        s.timer = Some(now.saturating_add(self.config.drain_timeout));
        if let (HandshakeRole::Responder, Some(peer_id)) = (s.role, s.peer_id) {
            self.by_initiator.remove(&(s.peer.clone(), peer_id, id));
        }
        self.events.push_back(Event::Closed {
            session: id,
            reason,
        });
    }

    fn insert(&mut self, session: Session<A>) -> SessionId {
        let id = SessionId(self.next_session);
        self.next_session += 1;
        self.by_local_id.insert(session.local_id, id);
        self.sessions.insert(id, session);
        id
    }

    fn remove(&mut self, id: SessionId) {
        let Some(s) = self.sessions.remove(&id) else {
            return;
        };
        self.by_local_id.remove(&s.local_id);
        if let Some(hash) = s.message_1_hash {
            self.by_message_1.remove(&hash);
        }
        if let (HandshakeRole::Responder, Some(peer_id)) = (s.role, s.peer_id) {
            self.by_initiator.remove(&(s.peer, peer_id, id));
        }
    }

    /// A handshake from `peer` with C_I `c_i` completed as `done`: the others from there that
    /// are still pending were left behind by an initiator that restarted (or were spoofed).
    fn supersede(&mut self, peer: &A, c_i: ConnId, done: SessionId) {
        let from = (peer.clone(), c_i, SessionId(0));
        let to = (peer.clone(), c_i, SessionId(u64::MAX));
        let stale: Vec<SessionId> = self
            .by_initiator
            .range(from..=to)
            .map(|(_, _, id)| *id)
            .filter(|id| {
                *id != done
                    && self
                        .sessions
                        .get(id)
                        .is_some_and(|s| matches!(s.state, State::ResponderWaitM3 { .. }))
            })
            .collect();
        for id in stale {
            self.remove(id);
            self.events.push_back(Event::Closed {
                session: id,
                reason: CloseReason::Superseded,
            });
        }
    }

    /// A fresh connection identifier: [`CONN_ID_LEN`] random bytes, so that someone who does
    /// not see a session's traffic cannot aim datagrams at it.
    fn allocate_id(&self) -> Option<ConnId> {
        let mut bytes = [0u8; CONN_ID_LEN];
        for _ in 0..16 {
            self.rng.fill(&mut bytes).ok()?;
            let id = ConnId::new(&bytes)?;
            if !self.by_local_id.contains_key(&id) {
                return Some(id);
            }
        }
        None
    }
}

/// SUITES_I after an error code 2: our preferences up to the first one the responder
/// supports, which becomes the selected (last) suite.
fn renegotiate(ours: &[CipherSuite], tried: &Suites, theirs: &Suites) -> Option<Suites> {
    let pick = ours
        .iter()
        .position(|s| theirs.ids().contains(&s.id()) && s.id() != tried.selected())?;
    let ids = ours.get(..=pick)?.iter().map(|s| s.id()).collect();
    Suites::new(ids)
}

/// An EDHOC error message framed for the receiver `to`.
fn error_datagram(to: ConnId, error: &ErrorMessage) -> Vec<u8> {
    let mut message = Vec::new();
    error.encode(&mut message);
    datagram::frame(Kind::Error, Some(to), &message)
}

impl<A> Session<A> {
    fn next_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::Established { record, .. } => record.poll_timeout(),
            _ => self.timer,
        }
    }
}

#[cfg(test)]
mod tests;
