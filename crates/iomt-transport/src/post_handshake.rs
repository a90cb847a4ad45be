//! Post-handshake attestation, bound to the session by its exporter: for TLS 1.3 backhaul
//! sessions, and for EDHOC radio sessions that want to re-attest a peer without a new
//! handshake. Sans-IO: the two state machines read and write bytes that the application moves
//! through the session's application data (on TLS before any data of its own; on EDHOC one
//! message per record, whenever the verifier asks again).
//!
//! # The exchange
//!
//! Both sides derive the binding from their own end of the session, and it never travels:
//!
//! ```text
//! TLS:    binding = TLS-Exporter("EXPORTER-iomt-attestation", "", 32)   (see TlsBinding)
//! EDHOC:  binding = EDHOC_Exporter(EDHOC_EXPORTER_LABEL, h'', 32)       (see EdhocBinding)
//!
//! server (verifier)                          client (attester)
//!   REQUEST { result, evidence, round }  ->
//!                                     <-      ATTESTATION { result, evidence over
//!                                                           binding || round }
//!   VERDICT { accepted | refused }    ->
//! ```
//!
//! The server checks the client's attestation result through its trust store (bound to the
//! key of the client's certificate, unexpired, affirming) and, if it asked for evidence,
//! appraises it with its own verifier against a challenge made from *its own* binding and the
//! [`ROUND_LEN`] random bytes it drew for this exchange ([`Challenge::for_channel`] over
//! `binding || round`): evidence made for another session, relayed from one, or kept from an
//! earlier exchange on the same session names another nonce and is refused. The certificate
//! verifiers already checked a result at the handshake; this exchange adds a fresh one, and
//! evidence only this session, in this round, could have produced.
//!
//! # Wire format
//!
//! Every message is `type (1) || length (2, big-endian) || body`, the body at most
//! [`MAX_BODY`] bytes:
//!
//! | type | message | body |
//! |---|---|---|
//! | 1 | REQUEST | flags (1): bit 0 result wanted, bit 1 evidence wanted, others zero; round (16) |
//! | 2 | ATTESTATION | `len (2) result`, `len (2) evidence` (length 0: none); the result is not empty |
//! | 3 | VERDICT | code (1): 0 accepted, 1 unattested, 2 attestation refused, 3 malformed |
//!
//! Decoding is canonical: unknown types, flags or codes, short or long bodies are refused.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use std::sync::{PoisonError, RwLock};

use iomt_identity::{
    AppraisalError, AttestationVerifier, Challenge, ChannelBinding, Nonce, PublicKey, ResultError,
    Signer, Tier, TrustStore, VerifiedResult,
};
use iomt_schema::Timestamp;
use iomt_schema::rand::SecureRandom;

use crate::endpoint::{Endpoint, SendError, SessionId};
use crate::identity::{Appraiser, Attester};

/// The exporter label both sides derive the binding with.
pub const EXPORTER_LABEL: &[u8] = b"EXPORTER-iomt-attestation";
/// The EDHOC_Exporter label the binding of an EDHOC session is derived with: private use
/// (RFC 9528 section 10.1), next to the record layer's 32768 to 32771.
pub const EDHOC_EXPORTER_LABEL: u64 = 32772;
/// Length of the binding, in bytes.
pub const BINDING_LEN: usize = 32;
/// Largest message body, in bytes.
pub const MAX_BODY: usize = 8192;
/// Length of the verifier's per-exchange random round value, in bytes.
pub const ROUND_LEN: usize = 16;

const REQUEST: u8 = 1;
const ATTESTATION: u8 = 2;
const VERDICT: u8 = 3;
const WANT_RESULT: u8 = 0x01;
const WANT_EVIDENCE: u8 = 0x02;
const HEADER: usize = 3;

/// This side's binding of an established EDHOC session:
/// `EDHOC_Exporter(EDHOC_EXPORTER_LABEL, h'', 32)`. Made only from the endpoint's own key
/// schedule, so it is always this side's own view of the session.
#[derive(Clone, PartialEq, Eq)]
pub struct EdhocBinding([u8; BINDING_LEN]);

impl EdhocBinding {
    /// The binding of `session` on `endpoint`, once its handshake has produced keys.
    pub fn from_session<A: Clone + Ord + core::hash::Hash>(
        endpoint: &Endpoint<A>,
        session: SessionId,
    ) -> Result<Self, SendError> {
        let mut binding = [0; BINDING_LEN];
        endpoint.export(session, EDHOC_EXPORTER_LABEL, &[], &mut binding)?;
        Ok(Self(binding))
    }
}

impl ChannelBinding for EdhocBinding {
    fn channel_binding(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for EdhocBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EdhocBinding(..)")
    }
}

/// The server's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The attestation was accepted.
    Accepted,
    /// Something the server asked for was missing.
    Unattested,
    /// The result or the evidence was not acceptable.
    Refused,
    /// A message did not parse.
    Malformed,
}

impl Verdict {
    const fn code(self) -> u8 {
        match self {
            Self::Accepted => 0,
            Self::Unattested => 1,
            Self::Refused => 2,
            Self::Malformed => 3,
        }
    }

    const fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Self::Accepted),
            1 => Some(Self::Unattested),
            2 => Some(Self::Refused),
            3 => Some(Self::Malformed),
            _ => None,
        }
    }
}

/// One message of the exchange, borrowing from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackhaulMessage<'a> {
    /// What the server wants.
    Request {
        /// The attestation result.
        result: bool,
        /// Evidence over the binding and the round.
        evidence: bool,
        /// The verifier's random value for this exchange.
        round: &'a [u8; ROUND_LEN],
    },
    /// The client's attestation.
    Attestation {
        /// The signed attestation result.
        result: &'a [u8],
        /// Signed evidence whose nonce is the binding followed by the round, if asked for.
        evidence: Option<&'a [u8]>,
    },
    /// The server's verdict.
    Verdict(Verdict),
}

/// Why a message of the exchange does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// The input ends inside the message.
    #[error("message truncated")]
    Truncated,
    /// Unknown message type.
    #[error("unknown message type {0}")]
    UnknownType(u8),
    /// A body longer than [`MAX_BODY`].
    #[error("message body too large")]
    TooLarge,
    /// Unknown flags, an unknown verdict code, an empty result, or bytes left in the body.
    #[error("malformed message body")]
    Malformed,
}

impl<'a> BackhaulMessage<'a> {
    /// Decodes the message at the start of `input`; returns it and its encoded length.
    pub fn decode(input: &'a [u8]) -> Result<(Self, usize), MessageError> {
        let Some((&kind, rest)) = input.split_first() else {
            return Err(MessageError::Truncated);
        };
        let (len, rest) = read_u16(rest)?;
        if len > MAX_BODY {
            return Err(MessageError::TooLarge);
        }
        let body = rest.get(..len).ok_or(MessageError::Truncated)?;
        let message = match kind {
            REQUEST => match body.split_first() {
                Some((flags, round)) if flags & !(WANT_RESULT | WANT_EVIDENCE) == 0 => {
                    Self::Request {
                        result: flags & WANT_RESULT != 0,
                        evidence: flags & WANT_EVIDENCE != 0,
                        round: round.try_into().map_err(|_| MessageError::Malformed)?,
                    }
                }
                _ => return Err(MessageError::Malformed),
            },
            ATTESTATION => {
                let (result_len, rest) = read_u16(body)?;
                let result = rest.get(..result_len).ok_or(MessageError::Malformed)?;
                let rest = rest.get(result_len..).ok_or(MessageError::Malformed)?;
                let (evidence_len, rest) = read_u16(rest)?;
                if result.is_empty() || rest.len() != evidence_len {
                    return Err(MessageError::Malformed);
                }
                Self::Attestation {
                    result,
                    evidence: (evidence_len > 0).then_some(rest),
                }
            }
            VERDICT => match body {
                [code] => Self::Verdict(Verdict::from_code(*code).ok_or(MessageError::Malformed)?),
                _ => return Err(MessageError::Malformed),
            },
            other => return Err(MessageError::UnknownType(other)),
        };
        Ok((message, HEADER + len))
    }

    /// Appends the encoding; fails if a part is longer than the format carries.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), MessageError> {
        let start = out.len();
        let kind = match self {
            Self::Request { .. } => REQUEST,
            Self::Attestation { .. } => ATTESTATION,
            Self::Verdict(_) => VERDICT,
        };
        out.extend_from_slice(&[kind, 0, 0]);
        match self {
            Self::Request {
                result,
                evidence,
                round,
            } => {
                out.push(
                    (if *result { WANT_RESULT } else { 0 })
                        | (if *evidence { WANT_EVIDENCE } else { 0 }),
                );
                out.extend_from_slice(*round);
            }
            Self::Attestation { result, evidence } => {
                if result.is_empty() || evidence.is_some_and(<[u8]>::is_empty) {
                    out.truncate(start);
                    return Err(MessageError::Malformed);
                }
                write_u16_prefixed(out, result)?;
                write_u16_prefixed(out, evidence.unwrap_or_default())?;
            }
            Self::Verdict(verdict) => out.push(verdict.code()),
        }
        let body = out.len() - start - HEADER;
        if body > MAX_BODY {
            out.truncate(start);
            return Err(MessageError::TooLarge);
        }
        let len = u16::try_from(body).map_err(|_| MessageError::TooLarge)?;
        if let Some(slot) = out.get_mut(start + 1..start + HEADER) {
            slot.copy_from_slice(&len.to_be_bytes());
        }
        Ok(())
    }
}

fn read_u16(input: &[u8]) -> Result<(usize, &[u8]), MessageError> {
    let (len, rest) = input
        .split_first_chunk::<2>()
        .ok_or(MessageError::Truncated)?;
    Ok((usize::from(u16::from_be_bytes(*len)), rest))
}

fn write_u16_prefixed(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), MessageError> {
    let len = u16::try_from(bytes.len()).map_err(|_| MessageError::TooLarge)?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

/// Why the exchange failed. The failure is sticky: the state machine answers nothing more.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AttestError {
    /// The peer sent bytes that do not parse.
    #[error("malformed message: {0}")]
    Message(#[from] MessageError),
    /// The peer sent a message out of turn.
    #[error("unexpected message")]
    Unexpected,
    /// The client sent no result, or no evidence though it was asked for.
    #[error("attestation missing")]
    Unattested,
    /// The client's result does not verify, or is not affirming.
    #[error(transparent)]
    Result(#[from] ResultError),
    /// The client's evidence does not appraise.
    #[error(transparent)]
    Appraisal(#[from] AppraisalError),
    /// The evidence appraised, but not as affirming.
    #[error("evidence appraised as {0:?}")]
    NotAffirming(Tier),
    /// The binding is not 8 to 48 bytes, or no random round value could be drawn.
    #[error("channel binding of the wrong length, or no randomness")]
    BadBinding,
    /// The server refused our attestation.
    #[error("the server refused: {0:?}")]
    Refused(Verdict),
}

/// What a server requires of its clients after the handshake, and what it checks it with.
pub struct BackhaulPolicy {
    trust: Arc<RwLock<TrustStore>>,
    appraiser: Option<Box<dyn Appraiser>>,
}

impl fmt::Debug for BackhaulPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackhaulPolicy")
            .field("fresh_evidence", &self.appraiser.is_some())
            .finish_non_exhaustive()
    }
}

impl BackhaulPolicy {
    /// Requires an attestation result, checked through `trust`.
    pub fn new(trust: Arc<RwLock<TrustStore>>) -> Self {
        Self {
            trust,
            appraiser: None,
        }
    }

    /// Also requires evidence over the session's binding, appraised by `verifier` as
    /// affirming against the trust store's reference values.
    #[must_use]
    pub fn require_fresh_evidence<S>(mut self, verifier: AttestationVerifier<S>) -> Self
    where
        S: Signer + 'static,
    {
        self.appraiser = Some(Box::new(verifier));
        self
    }
}

/// What the server learnt from the exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Attested {
    /// The client's attestation result, as the trust store verified it.
    pub result: VerifiedResult,
    /// Whether evidence over this session's binding appraised as affirming.
    pub fresh_evidence: bool,
}

/// Bytes taken from the input, and the outcome once the exchange is over.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress<T> {
    /// How many input bytes belonged to the exchange; the rest is application data.
    pub consumed: usize,
    /// The outcome, once known.
    pub done: Option<T>,
}

/// Collects one message at a time from a byte stream, taking no byte past its end.
#[derive(Debug, Default)]
struct FrameReader {
    buf: Vec<u8>,
}

impl FrameReader {
    /// Takes bytes from `input` toward the next message; returns how many it took and
    /// whether a whole message is buffered.
    fn feed(&mut self, input: &[u8]) -> Result<(usize, bool), MessageError> {
        let mut taken = 0;
        loop {
            let want = self.wanted()?;
            let rest = input.get(taken..).unwrap_or_default();
            let take = want.saturating_sub(self.buf.len()).min(rest.len());
            self.buf
                .extend_from_slice(rest.get(..take).unwrap_or_default());
            taken += take;
            if self.buf.len() < want {
                return Ok((taken, false));
            }
            // With the header complete, the length is known: go on for the body.
            if self.wanted()? == self.buf.len() {
                return Ok((taken, true));
            }
        }
    }

    /// The length of the message being collected, as far as it is known.
    fn wanted(&self) -> Result<usize, MessageError> {
        let Some(&[hi, lo]) = self.buf.get(1..HEADER) else {
            return Ok(HEADER);
        };
        let body = usize::from(u16::from_be_bytes([hi, lo]));
        if body > MAX_BODY {
            return Err(MessageError::TooLarge);
        }
        Ok(HEADER + body)
    }

    fn take(&mut self) -> Vec<u8> {
        core::mem::take(&mut self.buf)
    }
}

enum VerifierState {
    Awaiting(Challenge),
    Done(Result<Attested, AttestError>),
}

/// The server side: asks for attestation, checks it, answers with a verdict.
pub struct PostHandshakeVerifier {
    state: VerifierState,
    peer: PublicKey,
    policy: Arc<BackhaulPolicy>,
    reader: FrameReader,
    out: Vec<u8>,
}

impl fmt::Debug for PostHandshakeVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostHandshakeVerifier")
            .field("peer", &self.peer)
            .field("done", &matches!(self.state, VerifierState::Done(_)))
            .finish_non_exhaustive()
    }
}

impl PostHandshakeVerifier {
    /// Starts the exchange for a session whose client holds `peer` (the key of its verified
    /// certificate), bound to `binding` (this side's own exporter output) at `now`, with a
    /// round value drawn from `rng`. The REQUEST is ready in
    /// [`poll_transmit`](Self::poll_transmit).
    pub fn new(
        binding: &dyn ChannelBinding,
        peer: PublicKey,
        policy: Arc<BackhaulPolicy>,
        now: Timestamp,
        rng: &dyn SecureRandom,
    ) -> Result<Self, AttestError> {
        let mut round = [0; ROUND_LEN];
        rng.fill(&mut round).map_err(|_| AttestError::BadBinding)?;
        let challenge =
            Challenge::for_channel(&RoundBinding::new(binding.channel_binding(), &round)?, now)
                .map_err(|_| AttestError::BadBinding)?;
        let mut out = Vec::new();
        BackhaulMessage::Request {
            result: true,
            evidence: policy.appraiser.is_some(),
            round: &round,
        }
        .encode(&mut out)?;
        Ok(Self {
            state: VerifierState::Awaiting(challenge),
            peer,
            policy,
            reader: FrameReader::default(),
            out,
        })
    }

    /// What is to be sent, written into `buf` (cleared first), as the workspace's contract
    /// has it ([`iomt_schema::contract`]); its length, or `None` if nothing.
    #[must_use]
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> Option<usize> {
        buf.clear();
        if self.out.is_empty() {
            return None;
        }
        core::mem::swap(buf, &mut self.out);
        Some(buf.len())
    }

    /// The outcome, once the exchange is over.
    pub fn outcome(&self) -> Option<&Result<Attested, AttestError>> {
        match &self.state {
            VerifierState::Done(outcome) => Some(outcome),
            VerifierState::Awaiting(_) => None,
        }
    }

    /// Feeds application data received from the client at `now`.
    pub fn handle_input(
        &mut self,
        now: Timestamp,
        input: &[u8],
    ) -> Result<Progress<Attested>, AttestError> {
        if let VerifierState::Done(outcome) = &self.state {
            return outcome.clone().map(|_| Progress {
                consumed: 0,
                done: None,
            });
        }
        let (consumed, complete) = match self.reader.feed(input) {
            Ok(fed) => fed,
            Err(e) => {
                let error = AttestError::from(e);
                self.finish(Err(error.clone()));
                return Err(error);
            }
        };
        if !complete {
            return Ok(Progress {
                consumed,
                done: None,
            });
        }
        let frame = self.reader.take();
        let outcome = self.check(&frame, now);
        self.finish(outcome.clone());
        outcome.map(|attested| Progress {
            consumed,
            done: Some(attested),
        })
    }

    fn check(&mut self, frame: &[u8], now: Timestamp) -> Result<Attested, AttestError> {
        let (message, _) = BackhaulMessage::decode(frame)?;
        let BackhaulMessage::Attestation { result, evidence } = message else {
            return Err(AttestError::Unexpected);
        };
        let trust = self
            .policy
            .trust
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let verified = trust.verify_result(result, &self.peer, now)?;
        verified.require_affirming()?;
        let Some(appraiser) = &self.policy.appraiser else {
            return Ok(Attested {
                result: verified,
                fresh_evidence: false,
            });
        };
        let evidence = evidence.ok_or(AttestError::Unattested)?;
        let placeholder = VerifierState::Done(Err(AttestError::Unattested));
        let VerifierState::Awaiting(challenge) = core::mem::replace(&mut self.state, placeholder)
        else {
            return Err(AttestError::Unexpected);
        };
        let appraisal = appraiser.appraise(
            challenge,
            &self.peer,
            evidence,
            trust.reference_values(),
            now,
        )?;
        if appraisal.tier() != Tier::Affirming {
            return Err(AttestError::NotAffirming(appraisal.tier()));
        }
        Ok(Attested {
            result: verified,
            fresh_evidence: true,
        })
    }

    /// Records the outcome and queues the verdict.
    fn finish(&mut self, outcome: Result<Attested, AttestError>) {
        let verdict = match &outcome {
            Ok(_) => Verdict::Accepted,
            Err(AttestError::Unattested) => Verdict::Unattested,
            Err(AttestError::Message(_) | AttestError::Unexpected) => Verdict::Malformed,
            Err(_) => Verdict::Refused,
        };
        // A one-byte body always encodes.
        let _ = BackhaulMessage::Verdict(verdict).encode(&mut self.out);
        self.state = VerifierState::Done(outcome);
    }
}

enum AttesterState {
    AwaitingRequest,
    AwaitingVerdict,
    Done(Result<(), AttestError>),
}

/// The client side: answers the server's request with its result and, if asked, evidence
/// over the session's binding and the server's round.
pub struct PostHandshakeAttester {
    binding: Vec<u8>,
    result: Vec<u8>,
    attester: Option<Arc<dyn Attester>>,
    state: AttesterState,
    reader: FrameReader,
    out: Vec<u8>,
}

impl fmt::Debug for PostHandshakeAttester {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostHandshakeAttester")
            .field("attester", &self.attester.is_some())
            .finish_non_exhaustive()
    }
}

impl PostHandshakeAttester {
    /// Ready to answer for a session bound to `binding` (this side's own exporter output)
    /// with our attestation `result` and, when asked, `attester`'s evidence.
    pub fn new(
        binding: &dyn ChannelBinding,
        result: Vec<u8>,
        attester: Option<Arc<dyn Attester>>,
    ) -> Result<Self, AttestError> {
        RoundBinding::new(binding.channel_binding(), &[0; ROUND_LEN])?;
        Ok(Self {
            binding: binding.channel_binding().to_vec(),
            result,
            attester,
            state: AttesterState::AwaitingRequest,
            reader: FrameReader::default(),
            out: Vec::new(),
        })
    }

    /// What is to be sent, written into `buf` (cleared first), as the workspace's contract
    /// has it ([`iomt_schema::contract`]); its length, or `None` if nothing.
    #[must_use]
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> Option<usize> {
        buf.clear();
        if self.out.is_empty() {
            return None;
        }
        core::mem::swap(buf, &mut self.out);
        Some(buf.len())
    }

    /// Feeds application data received from the server at `now`. Done with `Ok` once the
    /// server accepted.
    pub fn handle_input(
        &mut self,
        now: Timestamp,
        input: &[u8],
    ) -> Result<Progress<()>, AttestError> {
        let mut consumed = 0;
        loop {
            if let AttesterState::Done(outcome) = &self.state {
                return outcome.clone().map(|()| Progress {
                    consumed,
                    done: None,
                });
            }
            let rest = input.get(consumed..).unwrap_or_default();
            let (taken, complete) = self.reader.feed(rest).map_err(|e| self.fail(e.into()))?;
            consumed += taken;
            if !complete {
                return Ok(Progress {
                    consumed,
                    done: None,
                });
            }
            let frame = self.reader.take();
            match self.step(&frame, now) {
                Ok(true) => {
                    self.state = AttesterState::Done(Ok(()));
                    return Ok(Progress {
                        consumed,
                        done: Some(()),
                    });
                }
                Ok(false) => {}
                Err(e) => return Err(self.fail(e)),
            }
        }
    }

    /// One message; true when the server accepted.
    fn step(&mut self, frame: &[u8], now: Timestamp) -> Result<bool, AttestError> {
        let (message, _) = BackhaulMessage::decode(frame)?;
        match (&self.state, message) {
            (
                AttesterState::AwaitingRequest,
                BackhaulMessage::Request {
                    evidence, round, ..
                },
            ) => {
                let nonce = Nonce::new(RoundBinding::new(&self.binding, round)?.channel_binding())
                    .map_err(|_| AttestError::BadBinding)?;
                let evidence = evidence
                    .then(|| self.attester.as_ref()?.evidence(&nonce, now))
                    .flatten();
                BackhaulMessage::Attestation {
                    result: &self.result,
                    evidence: evidence.as_deref(),
                }
                .encode(&mut self.out)?;
                self.state = AttesterState::AwaitingVerdict;
                Ok(false)
            }
            (AttesterState::AwaitingVerdict, BackhaulMessage::Verdict(Verdict::Accepted)) => {
                Ok(true)
            }
            (AttesterState::AwaitingVerdict, BackhaulMessage::Verdict(refused)) => {
                Err(AttestError::Refused(refused))
            }
            _ => Err(AttestError::Unexpected),
        }
    }

    fn fail(&mut self, error: AttestError) -> AttestError {
        self.state = AttesterState::Done(Err(error.clone()));
        error
    }
}

/// The nonce of one exchange: the session's binding followed by the verifier's round value.
struct RoundBinding(Vec<u8>);

impl RoundBinding {
    fn new(binding: &[u8], round: &[u8; ROUND_LEN]) -> Result<Self, AttestError> {
        if !(8..=64 - ROUND_LEN).contains(&binding.len()) {
            return Err(AttestError::BadBinding);
        }
        Ok(Self([binding, round].concat()))
    }
}

impl ChannelBinding for RoundBinding {
    fn channel_binding(&self) -> &[u8] {
        &self.0
    }
}

#[cfg(test)]
mod tests;
