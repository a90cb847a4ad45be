//! One session of an [`Endpoint`](super::Endpoint): its handshake state, retransmission and
//! record layer, and the handlers of every message addressed to it. The endpoint owns the
//! tables (who gets which datagram), admission and bounds; a session sees only its own
//! messages and speaks through [`Io`].

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::time::Duration;

use iomt_schema::rand::SecureRandom;
use iomt_schema::{DeviceId, Instant};

use super::{
    CloseReason, EAD_CREDENTIAL_REQUEST, EndpointConfig, Event, InputError, OpenError, Outbox,
    Retry, SessionId, error_datagram,
};
use crate::conn_id::ConnId;
use crate::credential::{Credentials, EadRequest, EadSlot, HandshakeRole, Refusal};
use crate::crypto::{Backend, RingBackend};
use crate::datagram::{self, COOKIE_LEN, Kind};
use crate::ead::EadItem;
use crate::error::{HandshakeError, MessageKind};
use crate::handshake::{Completed, Initiator, InitiatorAwaitingMessage4, Responder};
use crate::message::{ErrorMessage, Suites};
use crate::record::{RecordError, RecordLayer, RecordStats};
use crate::schedule::SessionSecret;
use crate::suite::CipherSuite;

/// What a session's handlers use of the endpoint: configuration, credentials, randomness, and
/// the queues they write to.
pub(super) struct Io<'a, A> {
    pub(super) config: &'a EndpointConfig,
    pub(super) creds: &'a dyn Credentials,
    pub(super) rng: &'a dyn SecureRandom,
    pub(super) out: &'a mut Outbox<A>,
    pub(super) events: &'a mut VecDeque<Event<A>>,
}

impl<A> Io<'_, A> {
    /// Our usable suites, in preference order.
    pub(super) fn usable_suites(&self) -> Vec<CipherSuite> {
        usable_suites(self.config, self.creds)
    }
}

/// The suites of `config` that the backend runs and `creds` hold a key for, in order.
pub(super) fn usable_suites(config: &EndpointConfig, creds: &dyn Credentials) -> Vec<CipherSuite> {
    config
        .suites
        .iter()
        .copied()
        .filter(|s| RingBackend.supports(*s) && creds.local(*s).is_some())
        .collect()
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
pub(super) struct Attempt {
    suites: Suites,
    renegotiated: bool,
    /// Our credential by value in message_3.
    by_value: bool,
    /// Ask the responder for its credential by value ([`EAD_CREDENTIAL_REQUEST`]).
    request_value: bool,
    /// Retries (cookies) followed in this attempt.
    retries: u32,
}

/// What the endpoint does with a session after its timer ran.
pub(super) enum AfterTimeout {
    Keep,
    Remove,
}

pub(super) struct Session<A> {
    id: SessionId,
    pub(super) peer: A,
    /// The initiator's attempt (`None` for a responder).
    attempt: Option<Attempt>,
    pub(super) role: HandshakeRole,
    /// The expected device (initiator) until the handshake verifies the peer, then the
    /// verified one.
    device: Option<DeviceId>,
    pub(super) local_id: ConnId,
    pub(super) peer_id: Option<ConnId>,
    pub(super) message_1_hash: Option<[u8; 32]>,
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

impl<A: Clone> Session<A> {
    /// A new initiator for the device `expected` at `peer`, with message_1 queued.
    pub(super) fn connect(
        id: SessionId,
        now: Instant,
        peer: A,
        expected: DeviceId,
        local_id: ConnId,
        io: &mut Io<'_, A>,
    ) -> Result<Self, OpenError> {
        let first = *io.usable_suites().first().ok_or(OpenError::NoSuite)?;
        let suites = Suites::new(alloc::vec![first.id()]).ok_or(OpenError::NoSuite)?;
        // First contact: neither side is likely to hold the other's credential.
        let first_contact = !io.creds.knows_peer(expected);
        let attempt = Attempt {
            suites,
            renegotiated: false,
            by_value: io.config.credential_by_value || first_contact,
            request_value: first_contact,
            retries: 0,
        };
        let handshake = start_initiator(now, &attempt, local_id, expected, io)?;
        let datagram = datagram::frame_message_1(None, handshake.message_1());
        io.out.push(peer.clone(), datagram.clone());
        Ok(Self {
            id,
            peer,
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
                datagram,
            },
            timer: Some(now.saturating_add(io.config.initial_rto)),
            rto: io.config.initial_rto,
            retransmits: 0,
            answers: 0,
            validated: false,
        })
    }

    /// A new responder for the initiator at `peer` that sent `message_1` (already checked),
    /// with message_2 queued.
    #[allow(
        clippy::too_many_arguments,
        reason = "the accepted message_1, taken apart"
    )]
    pub(super) fn accept(
        id: SessionId,
        now: Instant,
        peer: A,
        message_1: &[u8],
        suite: CipherSuite,
        c_i: ConnId,
        by_value: bool,
        validated: bool,
        local_id: ConnId,
        io: &mut Io<'_, A>,
    ) -> Result<Self, OpenError> {
        let respond = if by_value {
            Responder::respond_by_value::<RingBackend>
        } else {
            Responder::respond::<RingBackend>
        };
        let (handshake, message_2) = respond(
            &RingBackend,
            io.rng,
            now,
            message_1,
            suite,
            local_id,
            io.creds,
        )
        .map_err(OpenError::Handshake)?;
        let datagram = datagram::frame(Kind::Message2, Some(c_i), &message_2);
        io.out.push(peer.clone(), datagram.clone());
        Ok(Self {
            id,
            peer,
            attempt: None,
            role: HandshakeRole::Responder,
            device: None,
            local_id,
            peer_id: Some(c_i),
            message_1_hash: Some(RingBackend.sha256(&[message_1])),
            processed_hash: None,
            last_error: None,
            state: State::ResponderWaitM3 {
                handshake,
                datagram,
            },
            timer: Some(now.saturating_add(io.config.handshake_timeout)),
            rto: io.config.initial_rto,
            retransmits: 0,
            answers: 0,
            validated,
        })
    }

    /// Whether this is a responder handshake waiting for message_3.
    pub(super) fn is_pending(&self) -> bool {
        matches!(self.state, State::ResponderWaitM3 { .. })
    }

    /// Whether the handshake produced keys and the peer was verified.
    pub(super) fn is_established(&self) -> bool {
        matches!(self.state, State::Established { .. })
    }

    /// The verified identity of an established session's peer.
    pub(super) fn verified_peer(&self) -> Option<DeviceId> {
        match self.state {
            State::InitiatorWaitM4 { .. } | State::Established { .. } => self.device,
            _ => None,
        }
    }

    pub(super) fn record_stats(&self) -> Option<RecordStats> {
        match &self.state {
            State::InitiatorWaitM4 { record, .. } | State::Established { record, .. } => {
                Some(record.stats())
            }
            _ => None,
        }
    }

    pub(super) fn secret(&self) -> Option<&SessionSecret> {
        match &self.state {
            State::Established { secret, .. } => Some(secret),
            _ => None,
        }
    }

    pub(super) fn next_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::Established { record, .. } => record.poll_timeout(),
            _ => self.timer,
        }
    }

    /// Seals `plaintext` as one record into `out`; a failure ends the session.
    pub(super) fn seal(
        &mut self,
        now: Instant,
        plaintext: &[u8],
        out: &mut Vec<u8>,
        io: &mut Io<'_, A>,
    ) -> Result<(), RecordError> {
        let State::Established { record, .. } = &mut self.state else {
            return Err(RecordError::Crypto);
        };
        let sealed = record.seal(now, plaintext, out);
        if let Err(e) = sealed {
            self.fail(now, CloseReason::Record(e), None, io);
        }
        sealed
    }

    /// A responder's answer to a copy of the message it last answered (message_1 with
    /// message_2 while it waits for message_3; message_3 with message_4 or the error that
    /// ended the handshake), at most `max_retransmits` times, to the session's own address.
    pub(super) fn answer_copy(&mut self, copy: MessageKind, io: &mut Io<'_, A>) {
        let datagram = match (&self.state, copy) {
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
        if self.answers >= io.config.max_retransmits {
            return;
        }
        self.answers += 1;
        io.out.reply(self.peer.clone(), datagram.clone());
    }

    /// A copy of our message_1 arrived with a cookie that proves the initiator's address.
    pub(super) fn mark_validated(&mut self) {
        self.validated = true;
    }

    pub(super) fn is_validated(&self) -> bool {
        self.validated
    }

    /// A responder asked for its cookie: message_1 goes again with it, at once (a retry is
    /// not a lost message and costs the retransmission budget nothing).
    pub(super) fn on_retry(
        &mut self,
        cookie: &[u8; COOKIE_LEN],
        io: &mut Io<'_, A>,
    ) -> Result<(), InputError> {
        let (
            State::InitiatorWaitM2 {
                handshake,
                datagram,
            },
            Some(attempt),
        ) = (&mut self.state, &mut self.attempt)
        else {
            return Err(InputError::Unexpected(MessageKind::Message1));
        };
        if attempt.retries >= io.config.max_retransmits {
            return Err(InputError::Unexpected(MessageKind::Message1));
        }
        attempt.retries += 1;
        *datagram = datagram::frame_message_1(Some(cookie), handshake.message_1());
        io.out.push(self.peer.clone(), datagram.clone());
        Ok(())
    }

    pub(super) fn on_message_2(
        &mut self,
        now: Instant,
        message: &[u8],
        io: &mut Io<'_, A>,
    ) -> Result<(), InputError> {
        let hash = RingBackend.sha256(&[message]);
        if self.processed_hash == Some(hash) {
            if let State::InitiatorWaitM4 { datagram, .. } = &self.state {
                io.out.reply(self.peer.clone(), datagram.clone());
            }
            return Err(InputError::Duplicate(MessageKind::Message2));
        }
        let handshake = match &self.state {
            State::InitiatorWaitM2 { handshake, .. } => handshake,
            State::Failed { .. } => return Err(InputError::Closed),
            _ => return Err(InputError::Unexpected(MessageKind::Message2)),
        };
        let failure = match handshake.process_message_2(&RingBackend, now, message, io.creds) {
            Ok((awaiting, message_3)) => {
                let completed = awaiting.completed();
                let record = RecordLayer::new(
                    completed.suite,
                    &completed.secret,
                    HandshakeRole::Initiator,
                    completed.c_i,
                    completed.c_r,
                    io.config.record,
                    now,
                );
                let record = match record {
                    Ok(record) => record,
                    Err(e) => {
                        self.fail(now, CloseReason::Record(e), None, io);
                        return Err(InputError::Record(e));
                    }
                };
                let datagram = datagram::frame(Kind::Message3, Some(completed.c_r), &message_3);
                self.peer_id = Some(completed.c_r);
                self.device = Some(completed.peer.device);
                self.processed_hash = Some(hash);
                self.rto = io.config.initial_rto;
                self.retransmits = 0;
                self.timer = Some(now.saturating_add(self.rto));
                io.out.push(self.peer.clone(), datagram.clone());
                self.state = State::InitiatorWaitM4 {
                    handshake: Box::new(awaiting),
                    record,
                    datagram,
                };
                return Ok(());
            }
            Err(failure) => failure,
        };
        let error = failure.error;
        // Our verifier does not know the responder's reference: tell it (code 3), and start
        // again asking for its credential by value, once. This is the ordinary first contact,
        // not a failure.
        if let (HandshakeError::Refused(Refusal::UnknownCredential), Some(c_r)) =
            (&error, failure.c_r)
        {
            io.out.reply(
                self.peer.clone(),
                error_datagram(c_r, &ErrorMessage::UnknownCredential),
            );
            let next = self
                .attempt
                .as_ref()
                .filter(|a| !a.request_value)
                .map(|a| Attempt {
                    request_value: true,
                    ..a.clone()
                });
            if let Some(next) = next {
                return self.restart(now, next, Retry::PeerCredentialByValue, io);
            }
            self.last_error = Some(error.clone());
            return Err(InputError::Handshake(error));
        }
        // Only an authenticated responder's refusal ends the handshake: anything else may
        // be a forgery, and the genuine message_2 can still come (another device answering
        // in the expected one's place included).
        if error.is_fatal() && !matches!(error, HandshakeError::UnexpectedPeer { .. }) {
            if let (Some(c_r), Some(reply)) = (failure.c_r, error.reply()) {
                io.out.reply(self.peer.clone(), error_datagram(c_r, &reply));
            }
            self.fail(now, CloseReason::Handshake(error.clone()), None, io);
            return Err(InputError::Handshake(error));
        }
        self.last_error = Some(error.clone());
        Err(InputError::Handshake(error))
    }

    /// Processes message_3; `Ok(Some(c_i))` when the handshake completed (the endpoint then
    /// leaves behind other handshakes from the same address and C_I).
    pub(super) fn on_message_3(
        &mut self,
        now: Instant,
        message: &[u8],
        io: &mut Io<'_, A>,
    ) -> Result<Option<ConnId>, InputError> {
        let hash = RingBackend.sha256(&[message]);
        if self.processed_hash == Some(hash) {
            self.answer_copy(MessageKind::Message3, io);
            return Err(InputError::Duplicate(MessageKind::Message3));
        }
        let result = match &self.state {
            State::ResponderWaitM3 { handshake, .. } => {
                handshake.process_message_3(&RingBackend, now, message, io.creds)
            }
            State::Failed { .. } => return Err(InputError::Closed),
            _ => return Err(InputError::Unexpected(MessageKind::Message3)),
        };
        let (completed, message_4) = match result {
            Ok(done) => done,
            Err(error) => {
                if !error.is_fatal() {
                    self.last_error = Some(error.clone());
                    return Err(InputError::Handshake(error));
                }
                let answer = self
                    .peer_id
                    .zip(error.reply())
                    .map(|(c_i, reply)| error_datagram(c_i, &reply));
                if let Some(datagram) = &answer {
                    self.processed_hash = Some(hash);
                    io.out.reply(self.peer.clone(), datagram.clone());
                }
                // An unknown reference is the ordinary first contact: the initiator comes
                // back with its credential by value in a new handshake.
                let first_contact = error == HandshakeError::Refused(Refusal::UnknownCredential);
                let reason = if first_contact {
                    CloseReason::ByValueRequested
                } else {
                    CloseReason::Handshake(error.clone())
                };
                self.fail(now, reason, answer, io);
                return if first_contact {
                    Ok(None)
                } else {
                    Err(InputError::Handshake(error))
                };
            }
        };
        let Completed {
            suite,
            c_i,
            c_r,
            peer,
            secret,
            ..
        } = completed;
        let record = match RecordLayer::new(
            suite,
            &secret,
            HandshakeRole::Responder,
            c_r,
            c_i,
            io.config.record,
            now,
        ) {
            Ok(record) => record,
            Err(e) => {
                self.fail(now, CloseReason::Record(e), None, io);
                return Err(InputError::Record(e));
            }
        };
        let datagram = datagram::frame(Kind::Message4, Some(c_i), &message_4);
        self.device = Some(peer.device);
        io.events.push_back(Event::Connected {
            session: self.id,
            address: self.peer.clone(),
            peer: peer.device,
            role: HandshakeRole::Responder,
            suite,
            info: peer,
        });
        self.timer = None;
        self.processed_hash = Some(hash);
        self.answers = 0;
        io.out.push(self.peer.clone(), datagram.clone());
        self.state = State::Established {
            record,
            secret,
            reply: Some(datagram),
        };
        Ok(Some(c_i))
    }

    pub(super) fn on_message_4(
        &mut self,
        now: Instant,
        message: &[u8],
        io: &mut Io<'_, A>,
    ) -> Result<(), InputError> {
        let result = match &self.state {
            State::InitiatorWaitM4 { handshake, .. } => {
                handshake.process_message_4(&RingBackend, message, io.creds)
            }
            State::Established { .. } if self.role == HandshakeRole::Initiator => {
                return Err(InputError::Duplicate(MessageKind::Message4));
            }
            State::Failed { .. } => return Err(InputError::Closed),
            _ => return Err(InputError::Unexpected(MessageKind::Message4)),
        };
        match result {
            Ok(_ead_4) => {
                self.confirm(io);
                Ok(())
            }
            Err(error) => {
                if error.is_fatal() {
                    self.fail(now, CloseReason::Handshake(error.clone()), None, io);
                }
                Err(InputError::Handshake(error))
            }
        }
    }

    /// The initiator learned that the responder has the keys: stop sending message_3 and
    /// report the session.
    fn confirm(&mut self, io: &mut Io<'_, A>) {
        let state = core::mem::replace(&mut self.state, State::Failed { reply: None });
        self.state = match state {
            State::InitiatorWaitM4 {
                handshake, record, ..
            } => {
                let completed = handshake.into_completed();
                io.events.push_back(Event::Connected {
                    session: self.id,
                    address: self.peer.clone(),
                    peer: completed.peer.device,
                    role: HandshakeRole::Initiator,
                    suite: completed.suite,
                    info: completed.peer,
                });
                State::Established {
                    record,
                    secret: completed.secret,
                    reply: None,
                }
            }
            other => other,
        };
        self.timer = None;
    }

    /// An EDHOC error message: a hint, since nothing authenticates it. It is kept as the
    /// reason to report should the handshake time out; codes 2 and 3 make the initiator
    /// correct its attempt once.
    pub(super) fn on_error(
        &mut self,
        now: Instant,
        error: ErrorMessage,
        io: &mut Io<'_, A>,
    ) -> Result<(), InputError> {
        if matches!(self.state, State::Established { .. } | State::Failed { .. }) {
            return Err(InputError::Unexpected(MessageKind::Error));
        }
        let ours = io.usable_suites();
        let next = self.attempt.as_ref().and_then(|attempt| {
            let mut next = attempt.clone();
            let retry = match (&self.state, &error) {
                // Error code 2 answers message_1: try a suite the responder named, once.
                (State::InitiatorWaitM2 { .. }, ErrorMessage::WrongSelectedSuite(theirs))
                    if !attempt.renegotiated =>
                {
                    next.suites = renegotiate(&ours, &attempt.suites, theirs)?;
                    next.renegotiated = true;
                    Retry::CipherSuite
                }
                // Error code 3 answers message_3: our kid is unknown, send the credential by
                // value, once.
                (State::InitiatorWaitM4 { .. }, ErrorMessage::UnknownCredential)
                    if !attempt.by_value =>
                {
                    next.by_value = true;
                    Retry::CredentialByValue
                }
                _ => return None,
            };
            Some((next, retry))
        });
        match next {
            Some((next, retry)) => self.restart(now, next, retry, io),
            None => {
                self.last_error = Some(HandshakeError::PeerError(error));
                Ok(())
            }
        }
    }

    /// Starts the initiator's handshake again with a fresh ephemeral key and `next` attempt,
    /// and tells the application why.
    fn restart(
        &mut self,
        now: Instant,
        next: Attempt,
        reason: Retry,
        io: &mut Io<'_, A>,
    ) -> Result<(), InputError> {
        let Some(expected) = self.device else {
            return Err(InputError::Unexpected(MessageKind::Error));
        };
        let next = Attempt { retries: 0, ..next };
        let handshake = match start_initiator(now, &next, self.local_id, expected, io) {
            Ok(handshake) => handshake,
            Err(OpenError::Handshake(e)) => {
                self.fail(now, CloseReason::Handshake(e.clone()), None, io);
                return Err(InputError::Handshake(e));
            }
            Err(_) => {
                self.fail(now, CloseReason::TimedOut, None, io);
                return Err(InputError::Closed);
            }
        };
        let datagram = datagram::frame_message_1(None, handshake.message_1());
        io.out.push(self.peer.clone(), datagram.clone());
        io.events.push_back(Event::Retrying {
            session: self.id,
            reason,
        });
        self.attempt = Some(next);
        self.peer_id = None;
        self.processed_hash = None;
        self.state = State::InitiatorWaitM2 {
            handshake,
            datagram,
        };
        self.timer = Some(now.saturating_add(self.rto));
        Ok(())
    }

    /// Opens a record into `buf` (which holds nothing else); the plaintext is left as the
    /// whole of `buf`.
    pub(super) fn on_record(
        &mut self,
        now: Instant,
        buf: &mut Vec<u8>,
        io: &mut Io<'_, A>,
    ) -> Result<DeviceId, InputError> {
        let (record, Some(peer)) = (
            match &mut self.state {
                State::InitiatorWaitM4 { record, .. } | State::Established { record, .. } => record,
                State::Failed { .. } => return Err(InputError::Closed),
                _ => return Err(InputError::NotEstablished),
            },
            self.device,
        ) else {
            return Err(InputError::NotEstablished);
        };
        let range = record.open(now, buf).map_err(InputError::Record)?;
        buf.truncate(range.end);
        buf.drain(..range.start);
        if matches!(self.state, State::InitiatorWaitM4 { .. }) {
            self.confirm(io);
        }
        Ok(peer)
    }

    /// Runs this session's timer: a retransmission, or the end of a handshake or of the
    /// drain period, or key retention.
    pub(super) fn handle_timeout(&mut self, now: Instant, io: &mut Io<'_, A>) -> AfterTimeout {
        match &mut self.state {
            State::Established { record, .. } => {
                record.handle_timeout(now);
                AfterTimeout::Keep
            }
            State::Failed { .. } => AfterTimeout::Remove,
            State::ResponderWaitM3 { .. } => {
                let reason = self
                    .last_error
                    .take()
                    .map_or(CloseReason::TimedOut, CloseReason::Handshake);
                io.events.push_back(Event::Closed {
                    session: self.id,
                    reason,
                });
                AfterTimeout::Remove
            }
            State::InitiatorWaitM2 { datagram, .. } | State::InitiatorWaitM4 { datagram, .. } => {
                if self.retransmits >= io.config.max_retransmits {
                    let reason = self
                        .last_error
                        .take()
                        .map_or(CloseReason::TimedOut, CloseReason::Handshake);
                    self.fail(now, reason, None, io);
                    return AfterTimeout::Keep;
                }
                self.retransmits += 1;
                self.rto = (self.rto * 2).min(io.config.max_rto);
                self.timer = Some(now.saturating_add(self.rto));
                io.out.push(self.peer.clone(), datagram.clone());
                AfterTimeout::Keep
            }
        }
    }

    /// Ends the session with `reason`: reported once, then kept (answering nothing but copies
    /// of the message that caused `reply`) until the drain timeout, so late datagrams meet
    /// [`InputError::Closed`].
    fn fail(
        &mut self,
        now: Instant,
        reason: CloseReason,
        reply: Option<Vec<u8>>,
        io: &mut Io<'_, A>,
    ) {
        if matches!(self.state, State::Failed { .. }) {
            return;
        }
        self.state = State::Failed { reply };
        self.timer = Some(now.saturating_add(io.config.drain_timeout));
        io.events.push_back(Event::Closed {
            session: self.id,
            reason,
        });
    }
}

fn start_initiator<A>(
    now: Instant,
    attempt: &Attempt,
    local_id: ConnId,
    expected: DeviceId,
    io: &Io<'_, A>,
) -> Result<Initiator<RingBackend>, OpenError> {
    let mut ead_1 = io.creds.ead(&EadRequest {
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
        io.rng,
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

/// SUITES_I after an error code 2: our preferences up to the first one the responder
/// supports, which becomes the selected (last) suite.
fn renegotiate(ours: &[CipherSuite], tried: &Suites, theirs: &Suites) -> Option<Suites> {
    let pick = ours
        .iter()
        .position(|s| theirs.ids().contains(&s.id()) && s.id() != tried.selected())?;
    let ids = ours.get(..=pick)?.iter().map(|s| s.id()).collect();
    Suites::new(ids)
}
