//! The sans-IO endpoint: see [`Endpoint`]. The endpoint holds the tables, admission and
//! bounds; each session's handshake, retransmission and record layer live in [`session`].

mod cookie;
mod session;

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::hash::Hash;
use core::time::Duration;

use iomt_schema::rand::SecureRandom;
use iomt_schema::{DeviceId, Instant};

use self::cookie::CookieJar;
use self::session::{AfterTimeout, Io, Session, usable_suites};
use crate::conn_id::ConnId;
use crate::credential::{Credentials, HandshakeRole};
use crate::crypto::{Backend, RingBackend};
use crate::datagram::{self, COOKIE_LEN, Datagram, DatagramError, Kind};
use crate::ead::EadItem;
use crate::error::{HandshakeError, MessageKind};
use crate::handshake::{PeerInfo, check_message_1};
use crate::message::{ErrorMessage, Message1, Suites};
use crate::record::{CONN_ID_LEN, MAX_OVERHEAD, RecordConfig, RecordError, RecordStats};
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
    /// What it carries, so that a driver picks how to carry it without reading it.
    pub kind: TransmitKind,
}

/// What a [`Transmit`] carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransmitKind {
    /// A handshake message, an EDHOC error message or a retry: this endpoint's own control
    /// traffic.
    Handshake,
    /// A record sealed from data the application sent.
    Record,
}

/// Why an initiator starts its handshake again (the session and its handle stay).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Retry {
    /// This side could not resolve the responder's credential reference (first contact): the
    /// new message_1 asks for the credential by value.
    PeerCredentialByValue,
    /// The responder could not resolve ours (EDHOC error code 3, first contact): the new
    /// message_3 carries it by value.
    CredentialByValue,
    /// The responder does not run the selected cipher suite (EDHOC error code 2): the new
    /// message_1 selects one it named.
    CipherSuite,
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
    /// Not a failure: the initiator named a credential this side does not hold (first
    /// contact), was asked for it by value (EDHOC error code 3), and will send it in a new
    /// handshake.
    #[error("first contact: the initiator was asked for its credential by value and retries")]
    ByValueRequested,
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
    /// The initiator starts its handshake again, for `reason` (the ordinary first contact
    /// among them); the session handle stays valid.
    Retrying {
        /// The session.
        session: SessionId,
        /// Why.
        reason: Retry,
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

/// The sans-IO endpoint: many EDHOC sessions and their record layers over one datagram
/// channel, with retransmission, duplicate handling and bounded state.
///
/// # Driving it
///
/// As every state machine of the workspace ([`iomt_schema::contract`]): feed every received
/// datagram to [`Endpoint::handle_input`] and call [`Endpoint::handle_timeout`] when
/// [`Endpoint::poll_timeout`] is reached; after any call, drain [`Endpoint::poll_transmit`],
/// then [`Endpoint::poll_event`] (again if handling an event called in), then read
/// [`Endpoint::poll_timeout`]. [`Endpoint::send`] queues the data: the record is sealed
/// straight into the caller's buffer by `poll_transmit`, once, and its [`Transmit::kind`]
/// says it is a record.
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
/// # Credential references, and which mode to pick
///
/// A side names its credential by reference (`kid`) when the peer is expected to hold it, and
/// by value otherwise:
///
/// - [`Endpoint::connect`] asks the credentials whether they hold the expected device's
///   credential ([`Credentials::knows_peer`]). If not (first contact), message_1 asks for the
///   responder's credential by value ([`EAD_CREDENTIAL_REQUEST`], inside the transcript both
///   signatures cover) and message_3 carries ours by value: neither side is likely to know
///   the other, and guessing wrong would cost a round trip each way.
/// - Otherwise both sides name their credentials by reference, unless `credential_by_value`
///   is set. A responder that cannot resolve the initiator's reference answers message_3 with
///   EDHOC error code 3 and ends that handshake ([`CloseReason::ByValueRequested`], not a
///   failure); the initiator reports [`Event::Retrying`] and starts again with its credential
///   by value. An initiator that cannot resolve the responder's reference answers message_2
///   with code 3 and starts again asking for the credential by value. A responder that ended
///   a handshake with an error message sends it again for a copy of the message_3 that caused
///   it, in case the first was lost.
///
/// What each costs on the air, message_1 to message_4 with the endpoint's framing, both sides
/// `IdentityCredentials` with attestation results in EAD (measured by
/// `tests/identity_sessions.rs`-style links, 2026-12-04):
///
/// | mode | Ed25519 (suite 4) | P-256 (suite 6) |
/// |---|---|---|
/// | both known, by reference | 666 B in 4 datagrams | 736 B in 4 datagrams |
/// | first contact, or `credential_by_value` | 992 B in 4 datagrams | 1,132 B in 4 datagrams |
/// | a reference the peer cannot resolve, both ways | 2,177 B in 11 datagrams | 2,457 B in 11 datagrams |
///
/// So: distribute credentials ahead (a roster handed to
/// [`IdentityCredentials::learn_peer`](crate::IdentityCredentials::learn_peer)) where links
/// are narrow, and let first contact go by value; set `credential_by_value` only for peers
/// that forget what they learnt.
///
/// `A` is the peer address type.
pub struct Endpoint<A> {
    config: EndpointConfig,
    creds: Arc<dyn Credentials>,
    rng: Arc<dyn SecureRandom>,
    cookies: CookieJar,
    sessions: BTreeMap<SessionId, Session<A>>,
    by_local_id: BTreeMap<ConnId, SessionId>,
    by_message_1: BTreeMap<[u8; 32], SessionId>,
    /// Responder sessions by the initiator's address and C_I (several while one is pending).
    by_initiator: BTreeSet<(A, ConnId, SessionId)>,
    out: Outbox<A>,
    events: VecDeque<Event<A>>,
    recycled: Vec<Vec<u8>>,
    next_session: u64,
}

impl<A> core::fmt::Debug for Endpoint<A> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Endpoint")
            .field("sessions", &self.sessions.len())
            .field("transmits", &self.out.queue.len())
            .field("events", &self.events.len())
            .finish_non_exhaustive()
    }
}

/// Something queued to leave: a datagram built already (handshake traffic), or data to seal
/// as a record when it leaves.
enum Outgoing<A> {
    Datagram { to: A, bytes: Vec<u8> },
    Record { session: SessionId, data: Vec<u8> },
}

/// The queue of what leaves, in order.
struct Outbox<A> {
    queue: VecDeque<Outgoing<A>>,
    /// Most datagrams queued before answers to peers are dropped.
    limit: usize,
}

impl<A> Outbox<A> {
    /// Queues a datagram of our own making (a handshake step, a retransmission).
    fn push(&mut self, to: A, bytes: Vec<u8>) {
        self.queue.push_back(Outgoing::Datagram { to, bytes });
    }

    /// Queues an answer a peer's datagram asked for, unless `limit` datagrams are queued.
    fn reply(&mut self, to: A, bytes: Vec<u8>) {
        if self.queue.len() < self.limit {
            self.push(to, bytes);
        }
    }
}

impl<A: Clone + Ord + Hash> Endpoint<A> {
    /// An endpoint with these credentials; `rng` supplies ephemeral keys, connection
    /// identifiers, the cookie key and ECDSA nonces.
    pub fn new(
        config: EndpointConfig,
        creds: Arc<dyn Credentials>,
        rng: Arc<dyn SecureRandom>,
    ) -> Self {
        let limit = config.max_transmits;
        let cookies = CookieJar::new(config.cookie_lifetime);
        Self {
            config,
            creds,
            rng,
            cookies,
            sessions: BTreeMap::new(),
            by_local_id: BTreeMap::new(),
            by_message_1: BTreeMap::new(),
            by_initiator: BTreeSet::new(),
            out: Outbox {
                queue: VecDeque::new(),
                limit,
            },
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
        self.sessions.values().filter(|s| s.is_pending()).count()
    }

    /// The verified identity of an established session's peer.
    pub fn peer(&self, session: SessionId) -> Option<DeviceId> {
        self.sessions.get(&session)?.verified_peer()
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
        let local_id = self.allocate_id().ok_or(OpenError::TooManySessions)?;
        let id = SessionId(self.next_session);
        let mut io = self.io();
        let session = Session::connect(id, now, peer, expected, local_id, &mut io)?;
        self.insert(id, session);
        Ok(id)
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
        let pending = || self.sessions.iter().filter(|(_, s)| s.is_pending());
        let from_peer: Vec<SessionId> = pending()
            .filter(|(_, s)| s.peer == incoming.peer)
            .map(|(id, _)| *id)
            .collect();
        let evict = if from_peer.len() >= self.config.max_pending_per_peer {
            from_peer.first().copied()
        } else if pending().count() >= self.config.max_pending {
            pending().map(|(id, _)| *id).next()
        } else {
            None
        };
        let local_id = self.allocate_id().ok_or(OpenError::TooManySessions)?;
        let by_value = self.config.credential_by_value
            || incoming
                .ead
                .iter()
                .any(|i| i.label == EAD_CREDENTIAL_REQUEST);
        let id = SessionId(self.next_session);
        let mut io = self.io();
        let session = Session::accept(
            id,
            now,
            incoming.peer.clone(),
            &incoming.message_1,
            incoming.suite,
            incoming.c_i,
            by_value,
            incoming.validated,
            local_id,
            &mut io,
        )?;
        if let Some(old) = evict {
            self.remove(old);
            self.events.push_back(Event::Closed {
                session: old,
                reason: CloseReason::Evicted,
            });
        }
        if let Some(hash) = session.message_1_hash {
            self.by_message_1.insert(hash, id);
        }
        self.by_initiator.insert((incoming.peer, incoming.c_i, id));
        self.insert(id, session);
        Ok(id)
    }

    /// Refuses a new initiator with an EDHOC error message (code 1).
    pub fn refuse(&mut self, incoming: Incoming<A>) {
        let error = ErrorMessage::Unspecified("refused".into());
        self.out
            .reply(incoming.peer, error_datagram(incoming.c_i, &error));
    }

    /// Queues `data` as one record for `session`; [`Endpoint::poll_transmit`] seals it into
    /// the caller's buffer.
    pub fn send(&mut self, now: Instant, session: SessionId, data: &[u8]) -> Result<(), SendError> {
        let _ = now;
        let Some(s) = self.sessions.get(&session) else {
            return Err(SendError::UnknownSession);
        };
        if !s.is_established() {
            return Err(SendError::NotEstablished);
        }
        let mut buffer = self.recycled.pop().unwrap_or_default();
        buffer.extend_from_slice(data);
        self.out.queue.push_back(Outgoing::Record {
            session,
            data: buffer,
        });
        Ok(())
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
        let Some(secret) = s.secret() else {
            return Err(SendError::NotEstablished);
        };
        secret
            .export(label, context, out)
            .map_err(|_| SendError::Record(RecordError::Crypto))
    }

    /// The record layer's counters of an established session (sealed and opened records,
    /// forgeries, current key phases).
    pub fn record_stats(&self, session: SessionId) -> Option<RecordStats> {
        self.sessions.get(&session)?.record_stats()
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
        let datagram = Datagram::parse(bytes)?;
        let to = match datagram {
            Datagram::Message1 { cookie, message } => {
                return self.on_message_1(now, from, cookie, message);
            }
            Datagram::Record(header) => return self.on_record(now, header.receiver, bytes),
            Datagram::Message2(to, _)
            | Datagram::Message3(to, _)
            | Datagram::Message4(to, _)
            | Datagram::Error(to, _)
            | Datagram::Retry(to, _) => to,
        };
        let id = self.session_for(to)?;
        let Some((s, mut io)) = self.session_io(id) else {
            return Err(InputError::UnknownSession);
        };
        match datagram {
            Datagram::Message2(_, message) => s.on_message_2(now, message, &mut io)?,
            Datagram::Message3(_, message) => {
                if let Some(c_i) = s.on_message_3(now, message, &mut io)? {
                    let initiator = s.peer.clone();
                    self.supersede(&initiator, c_i, id);
                }
            }
            Datagram::Message4(_, message) => s.on_message_4(now, message, &mut io)?,
            Datagram::Error(_, message) => {
                let error = ErrorMessage::decode(message).map_err(|error| {
                    InputError::Handshake(HandshakeError::Malformed {
                        message: MessageKind::Error,
                        error,
                    })
                })?;
                s.on_error(now, error, &mut io)?;
            }
            Datagram::Retry(_, cookie) => s.on_retry(cookie, &mut io)?,
            Datagram::Message1 { .. } | Datagram::Record(_) => {}
        }
        Ok(None)
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
        let validated =
            cookie.is_some_and(|c| self.cookies.is_valid(&*self.rng, now, &from, m1.c_i, c));
        if !validated && self.pending_count() >= self.config.cookie_threshold {
            self.reply_retry(now, from, m1.c_i);
            return Err(InputError::AddressNotValidated);
        }
        let supported = usable_suites(&self.config, &*self.creds);
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
                    self.out.reply(from, error_datagram(m1.c_i, &reply));
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
        let Some(s) = self.sessions.get_mut(&id).filter(|s| s.is_pending()) else {
            return;
        };
        let peer = s.peer.clone();
        let proven = cookie.is_some_and(|c| self.cookies.is_valid(&*self.rng, now, &peer, c_i, c));
        if proven {
            s.mark_validated();
        }
        if !s.is_validated() {
            self.reply_retry(now, peer, c_i);
            return;
        }
        if let Some((s, mut io)) = self.session_io(id) {
            s.answer_copy(MessageKind::Message1, &mut io);
        }
    }

    /// Answers `to`'s message_1 with a retry carrying its cookie.
    fn reply_retry(&mut self, now: Instant, to: A, c_i: ConnId) {
        if let Some(cookie) = self.cookies.cookie(&*self.rng, now, &to, c_i, 0) {
            let retry = datagram::frame(Kind::Retry, Some(c_i), &cookie);
            self.out.reply(to, retry);
        }
    }

    fn session_for(&self, to: ConnId) -> Result<SessionId, InputError> {
        self.by_local_id
            .get(&to)
            .copied()
            .ok_or(InputError::UnknownSession)
    }

    fn on_record(
        &mut self,
        now: Instant,
        to: ConnId,
        bytes: &[u8],
    ) -> Result<Option<Incoming<A>>, InputError> {
        let id = self.session_for(to)?;
        if self.events.len() >= self.config.max_events {
            return Err(InputError::Backpressure);
        }
        let mut buf = self.recycled.pop().unwrap_or_default();
        buf.extend_from_slice(bytes);
        let Some((s, mut io)) = self.session_io(id) else {
            return Err(InputError::UnknownSession);
        };
        match s.on_record(now, &mut buf, &mut io) {
            Ok(peer) => {
                self.events.push_back(Event::Received {
                    session: id,
                    peer,
                    data: buf,
                });
                Ok(None)
            }
            Err(e) => {
                self.recycle(buf);
                Err(e)
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
            let Some((s, mut io)) = self.session_io(id) else {
                continue;
            };
            if let AfterTimeout::Remove = s.handle_timeout(now, &mut io) {
                self.remove(id);
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

    /// The next datagram to send, written into `buf` (cleared first): a handshake datagram,
    /// or a record sealed from queued data straight into `buf`.
    #[must_use]
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<Transmit<A>> {
        while let Some(outgoing) = self.out.queue.pop_front() {
            buf.clear();
            match outgoing {
                Outgoing::Datagram { to, bytes } => {
                    buf.extend_from_slice(&bytes);
                    return Some(Transmit {
                        destination: to,
                        len: bytes.len(),
                        kind: TransmitKind::Handshake,
                    });
                }
                Outgoing::Record { session, data } => {
                    let Some((s, mut io)) = self.session_io(session) else {
                        continue;
                    };
                    buf.reserve(data.len() + MAX_OVERHEAD);
                    let sealed = s.seal(now, &data, buf, &mut io);
                    let destination = s.peer.clone();
                    self.recycle(data);
                    if sealed.is_ok() {
                        return Some(Transmit {
                            destination,
                            len: buf.len(),
                            kind: TransmitKind::Record,
                        });
                    }
                }
            }
        }
        None
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event<A>> {
        self.events.pop_front()
    }

    /// What a session's handlers use of the endpoint.
    fn io(&mut self) -> Io<'_, A> {
        Io {
            config: &self.config,
            creds: &*self.creds,
            rng: &*self.rng,
            out: &mut self.out,
            events: &mut self.events,
        }
    }

    /// A session, and what its handlers use of the endpoint, borrowed together.
    fn session_io(&mut self, id: SessionId) -> Option<(&mut Session<A>, Io<'_, A>)> {
        let session = self.sessions.get_mut(&id)?;
        let io = Io {
            config: &self.config,
            creds: &*self.creds,
            rng: &*self.rng,
            out: &mut self.out,
            events: &mut self.events,
        };
        Some((session, io))
    }

    fn insert(&mut self, id: SessionId, session: Session<A>) {
        self.next_session += 1;
        self.by_local_id.insert(session.local_id, id);
        self.sessions.insert(id, session);
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
            .filter(|id| *id != done && self.sessions.get(id).is_some_and(|s| s.is_pending()))
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

/// An EDHOC error message framed for the receiver `to`.
fn error_datagram(to: ConnId, error: &ErrorMessage) -> Vec<u8> {
    let mut message = Vec::new();
    error.encode(&mut message);
    datagram::frame(Kind::Error, Some(to), &message)
}

#[cfg(test)]
mod tests;
