//! The datagram record layer: AEAD records keyed from the EDHOC exporter, with a compact
//! header, a replay window, per-direction key updates, and integrity limits per key that ask
//! for a new key rather than end the session.
//!
//! # Wire format
//!
//! ```text
//! byte 0   1 P P K S S S S   P: key phase mod 4, K: the sender asks for a key update,
//!                            S: bits 19..16 of the truncated sequence number
//! 4 B      receiver's connection identifier (its C_I or C_R)
//! 2 B      bits 15..0 of the truncated sequence number, big-endian
//! ...      ciphertext, then the 16-byte tag; the header is the AEAD's associated data
//! ```
//!
//! The header is 7 bytes, so a record costs [`MAX_OVERHEAD`] = 23 bytes. Connection
//! identifiers are [`CONN_ID_LEN`] = 4 random bytes: an attacker who cannot see the traffic
//! hits a live session with probability sessions / 2^32 per guess, so it cannot aim junk at
//! sessions it does not observe. The full 64-bit sequence number is rebuilt from its low 20
//! bits as the value closest to the next expected one (RFC 9000 appendix A.3), which is right
//! while fewer than 2^19 records in a row are lost. The nonce is the direction's IV XOR the
//! sequence number and never leaves this module.
//!
//! # Keys
//!
//! ```text
//! S(dir, 0)   = EDHOC_Exporter(32768 for initiator->responder, 32769 for the reverse, h'', 32)
//! S(dir, p+1) = EDHOC_KDF(S(dir, p), 11, h'', 32)      (the EDHOC_KeyUpdate construction)
//! K(dir, p)   = EDHOC_KDF(S(dir, p), 32770, h'', key_length)
//! IV(dir, p)  = EDHOC_KDF(S(dir, p), 32771, h'', 12)
//! ```
//!
//! Each direction moves to its next phase on its own, when it has sealed the configured number
//! of records (capped by the AEAD's confidentiality limit), when the time budget has run out,
//! or when the peer asked for it (the K bit, authenticated as part of the header; honoured
//! once per retention period, because the peer sets it on every record until our new phase
//! reaches it), checked when sealing. The receiver tries the next phases (up to two ahead) when it sees a new phase
//! bit pattern, switches only once a record authenticates, and keeps the previous phase's key
//! for a retention period so records reordered across the switch still open. Sequence numbers
//! run on across phases, so one replay window serves them all.
//!
//! # Integrity limits
//!
//! Every failed authentication is counted against the key it was tried with. Records that
//! fail to authenticate never end the session: they may be corruption or injection by
//! someone who does not hold the key. Once the current receive key has absorbed
//! [`RecordConfig::forgeries_before_update`] failures, this side sets the K bit on what it
//! sends until the peer's next phase arrives; a key that reaches the AEAD's integrity limit
//! (2^36 failures for ChaCha20-Poly1305, 2^52 for AES-128-GCM: RFC 9001 section 6.6,
//! RFC 9147 section 4.5.3) is never tried again, and records under it are refused
//! ([`RecordError::KeyExhausted`]) until the peer moves on.

use core::ops::Range;
use core::time::Duration;

use iomt_schema::Instant;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey};
use zeroize::Zeroizing;

use crate::conn_id::ConnId;
use crate::credential::HandshakeRole;
use crate::crypto::{CryptoError, RingBackend, Secret};
use crate::replay::{ReplayError, ReplayWindow};
use crate::schedule::{SessionSecret, edhoc_kdf, kdf_secret, label};
use crate::suite::{AeadAlgorithm, CipherSuite, HASH_LEN};

/// Exporter label of the initiator-to-responder traffic secret.
pub const EXPORTER_LABEL_I2R: u64 = 32768;
/// Exporter label of the responder-to-initiator traffic secret.
pub const EXPORTER_LABEL_R2I: u64 = 32769;
/// EDHOC_KDF label deriving a phase's AEAD key from its traffic secret.
pub const KDF_LABEL_KEY: u64 = 32770;
/// EDHOC_KDF label deriving a phase's IV from its traffic secret.
pub const KDF_LABEL_IV: u64 = 32771;

/// Length of the connection identifiers records carry, in bytes.
pub const CONN_ID_LEN: usize = 4;
/// Record header length, in bytes.
pub const MAX_HEADER_LEN: usize = 1 + CONN_ID_LEN + 2;
/// AEAD tag length of every suite the record layer runs (4 and 6), in bytes.
pub const TAG_LEN: usize = 16;
/// Largest per-record overhead, in bytes.
pub const MAX_OVERHEAD: usize = MAX_HEADER_LEN + TAG_LEN;

const NONCE_LEN: usize = 12;
const SEQ_BITS: u32 = 20;
const SEQ_WINDOW: u64 = 1 << SEQ_BITS;
const SEQ_MASK: u64 = SEQ_WINDOW - 1;
const UPDATE_REQUEST_BIT: u8 = 0x10;
/// Sequence numbers stop here rather than wrap; the session then needs a new handshake.
pub const MAX_SEQUENCE: u64 = (1 << 62) - 1;

/// Limits and budgets of the record layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordConfig {
    /// Records sealed under one key before the sender moves to the next phase (further capped
    /// by the AEAD's confidentiality limit: 2^23 records for AES-128-GCM, RFC 9001 section
    /// 6.6).
    pub key_update_after_records: u64,
    /// Time a sending key may be used before the next phase.
    pub key_update_after: Duration,
    /// How long the receiver keeps the previous phase's key after switching.
    pub old_key_retention: Duration,
    /// Failed authentications under the current receive key after which this side asks the
    /// peer for its next key (further capped at half the AEAD's integrity limit).
    pub forgeries_before_update: u64,
}

impl Default for RecordConfig {
    fn default() -> Self {
        Self {
            key_update_after_records: 1 << 23,
            key_update_after: Duration::from_secs(3600),
            old_key_retention: Duration::from_secs(30),
            forgeries_before_update: 1 << 20,
        }
    }
}

/// Why a record could not be sealed or opened. No error ends the session except
/// [`RecordError::SequenceExhausted`]; a record that fails leaves the receiver as it was
/// (a failed authentication is only counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// Shorter than a header and a tag.
    #[error("record truncated: {len} bytes, at least {} needed", MAX_HEADER_LEN + TAG_LEN)]
    Truncated {
        /// The record's length.
        len: usize,
    },
    /// The first byte does not start a record.
    #[error("not a record: first byte {0:#04x} has the high bit clear")]
    NotARecord(u8),
    /// The record is addressed to another connection identifier.
    #[error("record for another session")]
    WrongSession,
    /// The sequence number was accepted before.
    #[error("replayed record {0}")]
    Replayed(u64),
    /// The sequence number is behind the replay window.
    #[error("record {0} is behind the replay window")]
    TooOld(u64),
    /// The record uses a key phase whose key is gone.
    #[error("record under a retired key phase")]
    OldKeyPhase,
    /// The record does not authenticate.
    #[error("record does not authenticate")]
    Forged,
    /// The record's key reached the AEAD's integrity limit and is no longer tried.
    #[error("record under a key past its integrity limit")]
    KeyExhausted,
    /// The sending sequence number reached [`MAX_SEQUENCE`]; the session needs a new
    /// handshake.
    #[error("sequence numbers exhausted")]
    SequenceExhausted,
    /// A connection identifier is not [`CONN_ID_LEN`] bytes long.
    #[error("connection identifier of {0} bytes unusable for records ({CONN_ID_LEN} needed)")]
    UnusableConnId(usize),
    /// A key derivation failed.
    #[error("record key derivation failed")]
    Crypto,
}

impl From<CryptoError> for RecordError {
    fn from(_: CryptoError) -> Self {
        Self::Crypto
    }
}

fn replay_error(seq: u64) -> impl Fn(ReplayError) -> RecordError {
    move |e| match e {
        ReplayError::Duplicate => RecordError::Replayed(seq),
        ReplayError::TooOld => RecordError::TooOld(seq),
    }
}

/// The parsed fixed part of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    /// The receiver's connection identifier.
    pub receiver: ConnId,
    phase_bits: u8,
    update_requested: bool,
    truncated_seq: u64,
}

impl RecordHeader {
    /// Parses the header of `datagram`; the rest must at least hold a tag.
    pub fn parse(datagram: &[u8]) -> Result<Self, RecordError> {
        let truncated = RecordError::Truncated {
            len: datagram.len(),
        };
        let Some(&first) = datagram.first() else {
            return Err(truncated);
        };
        if first & 0x80 == 0 {
            return Err(RecordError::NotARecord(first));
        }
        if datagram.len() < MAX_HEADER_LEN + TAG_LEN {
            return Err(truncated);
        }
        let id = datagram.get(1..1 + CONN_ID_LEN).ok_or(truncated)?;
        let receiver = ConnId::new(id).ok_or(truncated)?;
        let low = datagram
            .get(1 + CONN_ID_LEN..MAX_HEADER_LEN)
            .and_then(|b| <[u8; 2]>::try_from(b).ok())
            .ok_or(truncated)?;
        Ok(Self {
            receiver,
            phase_bits: (first >> 5) & 0x03,
            update_requested: first & UPDATE_REQUEST_BIT != 0,
            truncated_seq: (u64::from(first & 0x0f) << 16) | u64::from(u16::from_be_bytes(low)),
        })
    }

    /// Whether the sender asks the receiver to move its sending key to the next phase.
    pub fn update_requested(&self) -> bool {
        self.update_requested
    }
}

/// Writes a header into `out`.
fn write_header(
    out: &mut [u8; MAX_HEADER_LEN],
    receiver: &ConnId,
    phase: u64,
    update_request: bool,
    seq: u64,
) {
    let truncated = seq & SEQ_MASK;
    let phase_bits = u8::try_from(phase % 4).unwrap_or(0);
    let seq_high = u8::try_from(truncated >> 16).unwrap_or(0);
    let [low_hi, low_lo] = u16::try_from(truncated & 0xffff).unwrap_or(0).to_be_bytes();
    let [first, rest @ ..] = out;
    *first = 0x80
        | (phase_bits << 5)
        | if update_request {
            UPDATE_REQUEST_BIT
        } else {
            0
        }
        | seq_high;
    let low = [low_hi, low_lo];
    let bytes = receiver.as_bytes().iter().chain(&low);
    for (slot, byte) in rest.iter_mut().zip(bytes) {
        *slot = *byte;
    }
}

/// Rebuilds a sequence number from its low bits: the candidate closest to `expected`.
fn reconstruct(expected: u64, truncated: u64) -> u64 {
    let half = SEQ_WINDOW / 2;
    let candidate = (expected & !SEQ_MASK) | truncated;
    if candidate.saturating_add(half) <= expected && candidate < MAX_SEQUENCE - SEQ_WINDOW {
        candidate + SEQ_WINDOW
    } else if candidate > expected.saturating_add(half) && candidate >= SEQ_WINDOW {
        candidate - SEQ_WINDOW
    } else {
        candidate
    }
}

/// One phase of one direction: its traffic secret, the key and IV derived from it, and the
/// failed authentications tried against it.
struct PhaseKeys {
    phase: u64,
    secret: Secret<HASH_LEN>,
    key: LessSafeKey,
    iv: Zeroizing<[u8; NONCE_LEN]>,
    forgeries: u64,
}

impl PhaseKeys {
    fn derive(
        alg: &'static ring::aead::Algorithm,
        phase: u64,
        secret: Secret<HASH_LEN>,
    ) -> Result<Self, RecordError> {
        let mut key = Secret([0u8; 32]);
        let key_bytes = key.0.get_mut(..alg.key_len()).ok_or(RecordError::Crypto)?;
        edhoc_kdf(&RingBackend, secret.expose(), KDF_LABEL_KEY, &[], key_bytes)?;
        let mut iv = Zeroizing::new([0; NONCE_LEN]);
        edhoc_kdf(&RingBackend, secret.expose(), KDF_LABEL_IV, &[], &mut *iv)?;
        let unbound = UnboundKey::new(alg, key_bytes).map_err(|_| RecordError::Crypto)?;
        Ok(Self {
            phase,
            secret,
            key: LessSafeKey::new(unbound),
            iv,
            forgeries: 0,
        })
    }

    fn next(&self, alg: &'static ring::aead::Algorithm) -> Result<Self, RecordError> {
        let secret = kdf_secret(&RingBackend, self.secret.expose(), label::KEY_UPDATE, &[])?;
        Self::derive(alg, self.phase + 1, secret)
    }

    fn nonce(&self, seq: u64) -> Nonce {
        let mut nonce = *self.iv;
        for (n, s) in nonce.iter_mut().rev().zip(seq.to_le_bytes()) {
            *n ^= s;
        }
        Nonce::assume_unique_for_key(nonce)
    }
}

/// Counters of a record layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RecordStats {
    /// Records sealed.
    pub sealed: u64,
    /// Records opened.
    pub opened: u64,
    /// Records that failed to authenticate, under any key.
    pub forgeries: u64,
    /// Key updates this side asked the peer for.
    pub updates_requested: u64,
    /// The current sending key phase.
    pub send_phase: u64,
    /// The current receiving key phase.
    pub receive_phase: u64,
}

/// One session's record protection in both directions.
pub struct RecordLayer {
    alg: &'static ring::aead::Algorithm,
    local_id: ConnId,
    peer_id: ConnId,
    config: RecordConfig,
    update_after_records: u64,
    integrity_limit: u64,
    update_after_forgeries: u64,
    send: PhaseKeys,
    send_started: Instant,
    sealed_in_phase: u64,
    next_seq: u64,
    /// The peer asked for our next sending phase (honoured at the next seal).
    peer_requested_update: bool,
    /// When we last moved on because the peer asked: further requests are ignored for the
    /// retention period, since the peer keeps asking until our new phase reaches it.
    honoured_request_at: Option<Instant>,
    recv: PhaseKeys,
    recv_since: u64,
    /// The next two receive phases, derived when first needed.
    ahead: [Option<PhaseKeys>; 2],
    previous: Option<(PhaseKeys, Instant)>,
    /// We ask the peer for its next phase until it arrives.
    requesting_update: bool,
    window: ReplayWindow,
    stats: RecordStats,
}

impl core::fmt::Debug for RecordLayer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RecordLayer")
            .field("local_id", &self.local_id)
            .field("peer_id", &self.peer_id)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl RecordLayer {
    /// Keys both directions from a completed handshake. `role` is ours; `local_id` and
    /// `peer_id` are the connection identifiers we and the peer chose ([`CONN_ID_LEN`] bytes
    /// each).
    pub fn new(
        suite: CipherSuite,
        secret: &SessionSecret,
        role: HandshakeRole,
        local_id: ConnId,
        peer_id: ConnId,
        config: RecordConfig,
        now: Instant,
    ) -> Result<Self, RecordError> {
        for id in [local_id, peer_id] {
            if id.as_bytes().len() != CONN_ID_LEN {
                return Err(RecordError::UnusableConnId(id.as_bytes().len()));
            }
        }
        let alg = RingBackend::aead_algorithm(suite.aead())?;
        // RFC 9001 section 6.6 (and RFC 9147 section 4.5.3) give these limits per key.
        let (confidentiality_limit, integrity_limit) = match suite.aead() {
            AeadAlgorithm::Aes128Gcm | AeadAlgorithm::AesCcm16_64_128 => (1 << 23, 1 << 52),
            AeadAlgorithm::ChaCha20Poly1305 => (MAX_SEQUENCE, 1 << 36),
        };
        let (send_label, recv_label) = match role {
            HandshakeRole::Initiator => (EXPORTER_LABEL_I2R, EXPORTER_LABEL_R2I),
            HandshakeRole::Responder => (EXPORTER_LABEL_R2I, EXPORTER_LABEL_I2R),
        };
        let mut send_secret = Secret([0; HASH_LEN]);
        secret.export(send_label, &[], &mut send_secret.0)?;
        let mut recv_secret = Secret([0; HASH_LEN]);
        secret.export(recv_label, &[], &mut recv_secret.0)?;
        Ok(Self {
            alg,
            local_id,
            peer_id,
            config,
            update_after_records: config
                .key_update_after_records
                .clamp(1, confidentiality_limit),
            integrity_limit,
            update_after_forgeries: config.forgeries_before_update.clamp(1, integrity_limit / 2),
            send: PhaseKeys::derive(alg, 0, send_secret)?,
            send_started: now,
            sealed_in_phase: 0,
            next_seq: 0,
            peer_requested_update: false,
            honoured_request_at: None,
            recv: PhaseKeys::derive(alg, 0, recv_secret)?,
            recv_since: 0,
            ahead: [None, None],
            previous: None,
            requesting_update: false,
            window: ReplayWindow::new(),
            stats: RecordStats::default(),
        })
    }

    /// Counters.
    pub fn stats(&self) -> RecordStats {
        self.stats
    }

    /// Our connection identifier (records to us carry it).
    pub fn local_id(&self) -> ConnId {
        self.local_id
    }

    /// Whether this side is asking the peer for a key update (its records carry the K bit):
    /// a side with nothing else to send may send an empty record to carry the request.
    pub fn is_requesting_update(&self) -> bool {
        self.requesting_update
    }

    /// Seals `plaintext` as one record appended to `out`.
    pub fn seal(
        &mut self,
        now: Instant,
        plaintext: &[u8],
        out: &mut alloc::vec::Vec<u8>,
    ) -> Result<(), RecordError> {
        if self.next_seq > MAX_SEQUENCE {
            return Err(RecordError::SequenceExhausted);
        }
        if self.peer_requested_update
            || self.sealed_in_phase >= self.update_after_records
            || now.saturating_duration_since(self.send_started) >= self.config.key_update_after
        {
            self.send = self.send.next(self.alg)?;
            self.send_started = now;
            self.sealed_in_phase = 0;
            if self.peer_requested_update {
                self.honoured_request_at = Some(now);
                self.peer_requested_update = false;
            }
        }
        let seq = self.next_seq;
        let mut header = [0; MAX_HEADER_LEN];
        write_header(
            &mut header,
            &self.peer_id,
            self.send.phase,
            self.requesting_update,
            seq,
        );
        let start = out.len();
        out.reserve(MAX_HEADER_LEN + plaintext.len() + TAG_LEN);
        out.extend_from_slice(&header);
        out.extend_from_slice(plaintext);
        let body = out
            .get_mut(start + MAX_HEADER_LEN..)
            .ok_or(RecordError::Crypto)?;
        let tag = self
            .send
            .key
            .seal_in_place_separate_tag(self.send.nonce(seq), Aad::from(header), body)
            .map_err(|_| RecordError::Crypto)?;
        out.extend_from_slice(tag.as_ref());
        self.next_seq += 1;
        self.sealed_in_phase += 1;
        self.stats.sealed += 1;
        self.stats.send_phase = self.send.phase;
        Ok(())
    }

    /// Opens the record in `datagram` in place and returns the range of its plaintext.
    pub fn open(&mut self, now: Instant, datagram: &mut [u8]) -> Result<Range<usize>, RecordError> {
        let header = RecordHeader::parse(datagram)?;
        if header.receiver != self.local_id {
            return Err(RecordError::WrongSession);
        }
        let expected = self.window.top().map_or(0, |t| t.saturating_add(1));
        let seq = reconstruct(expected, header.truncated_seq);
        self.window.check(seq).map_err(replay_error(seq))?;

        let current = self.recv.phase;
        let integrity_limit = self.integrity_limit;
        let ahead = (u64::from(header.phase_bits) + 4 - current % 4) % 4;
        // Phases only move forward with the sequence number, so a record older than the one
        // that brought the current phase cannot be from a later phase (ahead 2 is also
        // "behind 2").
        if (1..=2).contains(&ahead) && seq < self.recv_since {
            return Err(RecordError::OldKeyPhase);
        }
        let keys = match ahead {
            0 => &mut self.recv,
            1 | 2 => self.ahead_keys(ahead)?,
            _ => match &mut self.previous {
                Some((keys, until)) if *until > now && keys.phase + 1 == current => keys,
                _ => return Err(RecordError::OldKeyPhase),
            },
        };
        if keys.forgeries >= integrity_limit {
            return Err(RecordError::KeyExhausted);
        }
        let (head, body) = datagram.split_at_mut(MAX_HEADER_LEN);
        let opened = keys
            .key
            .open_in_place(keys.nonce(seq), Aad::from(&*head), body)
            .map(|plain| plain.len());
        let Ok(plain_len) = opened else {
            keys.forgeries += 1;
            self.stats.forgeries += 1;
            if ahead == 0
                && self.recv.forgeries >= self.update_after_forgeries
                && !self.requesting_update
            {
                self.requesting_update = true;
                self.stats.updates_requested += 1;
            }
            return Err(RecordError::Forged);
        };
        self.window.accept(seq).map_err(replay_error(seq))?;
        if (1..=2).contains(&ahead) {
            self.advance(now, ahead, seq);
        }
        let cooling = self
            .honoured_request_at
            .is_some_and(|at| now < at.saturating_add(self.config.old_key_retention));
        if header.update_requested && !cooling {
            self.peer_requested_update = true;
        }
        self.stats.opened += 1;
        self.stats.receive_phase = self.recv.phase;
        Ok(MAX_HEADER_LEN..MAX_HEADER_LEN + plain_len)
    }

    /// The receive keys `ahead` (1 or 2) phases past the current one, derived once.
    fn ahead_keys(&mut self, ahead: u64) -> Result<&mut PhaseKeys, RecordError> {
        let [one, two] = &mut self.ahead;
        if one.is_none() {
            *one = Some(self.recv.next(self.alg)?);
        }
        let Some(next) = one else {
            return Err(RecordError::Crypto);
        };
        if ahead == 1 {
            return Ok(next);
        }
        if two.is_none() {
            *two = Some(next.next(self.alg)?);
        }
        two.as_mut().ok_or(RecordError::Crypto)
    }

    /// A record under the phase `ahead` of the current one authenticated: it becomes the
    /// current receive phase, the one before it is retained, and a pending request for it is
    /// answered.
    fn advance(&mut self, now: Instant, ahead: u64, seq: u64) {
        let [one, two] = core::mem::take(&mut self.ahead);
        // The phase just before the new one is retained for records reordered across it.
        let (next, before, rest) = if ahead == 1 {
            (one, None, two)
        } else {
            (two, one, None)
        };
        let Some(next) = next else {
            return;
        };
        let retired = core::mem::replace(&mut self.recv, next);
        let before = before.unwrap_or(retired);
        self.ahead = [rest, None];
        self.previous = Some((before, now.saturating_add(self.config.old_key_retention)));
        self.recv_since = seq;
        self.requesting_update = false;
    }

    /// When the retained previous receive key expires, if one is kept.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.previous.as_ref().map(|(_, until)| *until)
    }

    /// Drops the previous receive key once its retention ended.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self
            .previous
            .as_ref()
            .is_some_and(|(_, until)| *until <= now)
        {
            self.previous = None;
        }
    }
}

#[cfg(fuzzing)]
impl RecordLayer {
    pub(crate) fn fuzz_pair(suite: CipherSuite, seed: u8) -> Option<(Self, Self)> {
        let secret = SessionSecret::new(Secret([seed; HASH_LEN])).ok()?;
        let a = ConnId::new(&[1, 2, 3, 4])?;
        let b = ConnId::new(&[5, 6, 7, 8])?;
        let config = RecordConfig {
            key_update_after_records: 3,
            forgeries_before_update: 4,
            ..RecordConfig::default()
        };
        Some((
            Self::new(
                suite,
                &secret,
                HandshakeRole::Initiator,
                a,
                b,
                config,
                Instant::ZERO,
            )
            .ok()?,
            Self::new(
                suite,
                &secret,
                HandshakeRole::Responder,
                b,
                a,
                config,
                Instant::ZERO,
            )
            .ok()?,
        ))
    }
}

#[cfg(test)]
mod tests;
