//! The datagram record layer: AEAD records keyed from the EDHOC exporter, with a compact
//! header, a replay window, per-direction key updates and a forgery limit.
//!
//! # Wire format
//!
//! ```text
//! byte 0   1 P P L S S S S   P: key phase mod 4, L: receiver id is 2 bytes (else 1),
//!                            S: bits 19..16 of the truncated sequence number
//! 1-2 B    receiver's connection identifier (its C_I or C_R)
//! 2 B      bits 15..0 of the truncated sequence number, big-endian
//! ...      ciphertext, then the 16-byte tag; the header is the AEAD's associated data
//! ```
//!
//! The header is 4 or 5 bytes, so a record costs at most 21 bytes. The full 64-bit sequence
//! number is rebuilt from its low 20 bits as the value closest to the next expected one
//! (RFC 9000 appendix A.3), which is right while fewer than 2^19 records in a row are lost.
//! The nonce is the direction's IV XOR the sequence number and never leaves this module.
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
//! of records (capped by the AEAD's confidentiality limit) or the time budget has run out,
//! checked when sealing. The receiver tries the next phases (up to two ahead) when it sees a
//! new phase bit pattern, switches only once a record authenticates, and keeps the previous
//! phase's key for a retention period so records reordered across the switch still open.
//! Sequence numbers run on across phases, so one replay window serves them all.

use core::ops::Range;
use core::time::Duration;

use iomt_schema::Instant;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey};

use crate::conn_id::ConnId;
use crate::credential::Role;
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

/// Largest record header, in bytes.
pub const MAX_HEADER_LEN: usize = 5;
/// AEAD tag length of every suite the record layer runs (4 and 6), in bytes.
pub const TAG_LEN: usize = 16;
/// Largest per-record overhead, in bytes.
pub const MAX_OVERHEAD: usize = MAX_HEADER_LEN + TAG_LEN;

const NONCE_LEN: usize = 12;
const SEQ_BITS: u32 = 20;
const SEQ_WINDOW: u64 = 1 << SEQ_BITS;
const SEQ_MASK: u64 = SEQ_WINDOW - 1;
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
    /// Failed authentications after which the session is killed.
    pub forgery_limit: u32,
}

impl Default for RecordConfig {
    fn default() -> Self {
        Self {
            key_update_after_records: 1 << 23,
            key_update_after: Duration::from_secs(3600),
            old_key_retention: Duration::from_secs(30),
            forgery_limit: 64,
        }
    }
}

/// Why a record could not be sealed or opened. Only [`RecordError::Forged`] changes the
/// session (it counts toward the forgery limit); every other error leaves it as it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// Shorter than a header and a tag.
    #[error("record truncated")]
    Truncated,
    /// The first byte does not start a record.
    #[error("not a record")]
    NotARecord,
    /// The record is addressed to another connection identifier.
    #[error("record for another session")]
    WrongSession,
    /// The sequence number was accepted before.
    #[error("replayed record")]
    Replayed,
    /// The sequence number is behind the replay window.
    #[error("record outside the replay window")]
    TooOld,
    /// The record uses a key phase whose key is gone.
    #[error("record under a retired key phase")]
    OldKeyPhase,
    /// The record does not authenticate.
    #[error("record does not authenticate")]
    Forged,
    /// The forgery limit was reached; the session needs a new handshake.
    #[error("session killed after too many forged records")]
    Killed,
    /// The sending sequence number reached [`MAX_SEQUENCE`]; the session needs a new
    /// handshake.
    #[error("sequence numbers exhausted")]
    SequenceExhausted,
    /// The peer's connection identifier cannot be carried in a record header (it must be 1
    /// or 2 bytes).
    #[error("connection identifier unusable for records")]
    UnusableConnId,
    /// A key derivation failed.
    #[error("record key derivation failed")]
    Crypto,
}

impl From<CryptoError> for RecordError {
    fn from(_: CryptoError) -> Self {
        Self::Crypto
    }
}

impl From<ReplayError> for RecordError {
    fn from(e: ReplayError) -> Self {
        match e {
            ReplayError::Duplicate => Self::Replayed,
            ReplayError::TooOld => Self::TooOld,
        }
    }
}

/// The parsed fixed part of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    /// The receiver's connection identifier.
    pub receiver: ConnId,
    phase_bits: u8,
    truncated_seq: u64,
    len: usize,
}

impl RecordHeader {
    /// Parses the header of `datagram`; the rest must at least hold a tag.
    pub fn parse(datagram: &[u8]) -> Result<Self, RecordError> {
        let Some(&first) = datagram.first() else {
            return Err(RecordError::Truncated);
        };
        if first & 0x80 == 0 {
            return Err(RecordError::NotARecord);
        }
        let id_len = if first & 0x10 == 0 { 1 } else { 2 };
        let len = 1 + id_len + 2;
        if datagram.len() < len + TAG_LEN {
            return Err(RecordError::Truncated);
        }
        let id = datagram.get(1..1 + id_len).ok_or(RecordError::Truncated)?;
        let receiver = ConnId::new(id).ok_or(RecordError::Truncated)?;
        let low = datagram
            .get(1 + id_len..len)
            .ok_or(RecordError::Truncated)?;
        let low = u16::from_be_bytes(<[u8; 2]>::try_from(low).map_err(|_| RecordError::Truncated)?);
        Ok(Self {
            receiver,
            phase_bits: (first >> 5) & 0x03,
            truncated_seq: (u64::from(first & 0x0f) << 16) | u64::from(low),
            len,
        })
    }
}

/// Writes a header into `out`, returning its length.
fn write_header(out: &mut [u8; MAX_HEADER_LEN], receiver: &ConnId, phase: u64, seq: u64) -> usize {
    let truncated = seq & SEQ_MASK;
    let phase_bits = u8::try_from(phase % 4).unwrap_or(0);
    let seq_high = u8::try_from(truncated >> 16).unwrap_or(0);
    let [low_hi, low_lo] = u16::try_from(truncated & 0xffff).unwrap_or(0).to_be_bytes();
    let id = receiver.as_bytes();
    let long = id.len() == 2;
    let [first, rest @ ..] = out;
    *first = 0x80 | (phase_bits << 5) | (u8::from(long) << 4) | seq_high;
    let mut n = 1;
    for (slot, byte) in rest.iter_mut().zip(id.iter().chain(&[low_hi, low_lo])) {
        *slot = *byte;
        n += 1;
    }
    n
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

/// One phase of one direction: its traffic secret and the key and IV derived from it.
struct PhaseKeys {
    phase: u64,
    secret: Secret<HASH_LEN>,
    key: LessSafeKey,
    iv: [u8; NONCE_LEN],
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
        let mut iv = [0; NONCE_LEN];
        edhoc_kdf(&RingBackend, secret.expose(), KDF_LABEL_IV, &[], &mut iv)?;
        let unbound = UnboundKey::new(alg, key_bytes).map_err(|_| RecordError::Crypto)?;
        Ok(Self {
            phase,
            secret,
            key: LessSafeKey::new(unbound),
            iv,
        })
    }

    fn next(&self, alg: &'static ring::aead::Algorithm) -> Result<Self, RecordError> {
        let secret = kdf_secret(&RingBackend, self.secret.expose(), label::KEY_UPDATE, &[])?;
        Self::derive(alg, self.phase + 1, secret)
    }

    fn nonce(&self, seq: u64) -> Nonce {
        let mut nonce = self.iv;
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
    /// Records that failed to authenticate.
    pub forgeries: u32,
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
    send: PhaseKeys,
    send_started: Instant,
    sealed_in_phase: u64,
    next_seq: u64,
    recv: PhaseKeys,
    recv_since: u64,
    previous: Option<(PhaseKeys, Instant)>,
    window: ReplayWindow,
    stats: RecordStats,
    killed: bool,
}

impl core::fmt::Debug for RecordLayer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RecordLayer")
            .field("local_id", &self.local_id)
            .field("peer_id", &self.peer_id)
            .field("stats", &self.stats)
            .field("killed", &self.killed)
            .finish_non_exhaustive()
    }
}

impl RecordLayer {
    /// Keys both directions from a completed handshake. `role` is ours; `local_id` and
    /// `peer_id` are the connection identifiers we and the peer chose (1 or 2 bytes each).
    pub fn new(
        suite: CipherSuite,
        secret: &SessionSecret,
        role: Role,
        local_id: ConnId,
        peer_id: ConnId,
        config: RecordConfig,
        now: Instant,
    ) -> Result<Self, RecordError> {
        if !(1..=2).contains(&peer_id.as_bytes().len())
            || !(1..=2).contains(&local_id.as_bytes().len())
        {
            return Err(RecordError::UnusableConnId);
        }
        let alg = RingBackend::aead_algorithm(suite.aead())?;
        let confidentiality_limit = match suite.aead() {
            AeadAlgorithm::Aes128Gcm | AeadAlgorithm::AesCcm16_64_128 => 1 << 23,
            AeadAlgorithm::ChaCha20Poly1305 => MAX_SEQUENCE,
        };
        let (send_label, recv_label) = match role {
            Role::Initiator => (EXPORTER_LABEL_I2R, EXPORTER_LABEL_R2I),
            Role::Responder => (EXPORTER_LABEL_R2I, EXPORTER_LABEL_I2R),
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
            send: PhaseKeys::derive(alg, 0, send_secret)?,
            send_started: now,
            sealed_in_phase: 0,
            next_seq: 0,
            recv: PhaseKeys::derive(alg, 0, recv_secret)?,
            recv_since: 0,
            previous: None,
            window: ReplayWindow::new(),
            stats: RecordStats::default(),
            killed: false,
        })
    }

    /// Counters.
    pub fn stats(&self) -> RecordStats {
        self.stats
    }

    /// Whether the forgery limit killed the session.
    pub fn is_killed(&self) -> bool {
        self.killed
    }

    /// Our connection identifier (records to us carry it).
    pub fn local_id(&self) -> ConnId {
        self.local_id
    }

    /// Seals `plaintext` as one record appended to `out`.
    pub fn seal(
        &mut self,
        now: Instant,
        plaintext: &[u8],
        out: &mut alloc::vec::Vec<u8>,
    ) -> Result<(), RecordError> {
        if self.killed {
            return Err(RecordError::Killed);
        }
        if self.next_seq > MAX_SEQUENCE {
            return Err(RecordError::SequenceExhausted);
        }
        if self.sealed_in_phase >= self.update_after_records
            || now.saturating_duration_since(self.send_started) >= self.config.key_update_after
        {
            self.send = self.send.next(self.alg)?;
            self.send_started = now;
            self.sealed_in_phase = 0;
        }
        let seq = self.next_seq;
        let mut header = [0; MAX_HEADER_LEN];
        let header_len = write_header(&mut header, &self.peer_id, self.send.phase, seq);
        let header = header.get(..header_len).ok_or(RecordError::Crypto)?;
        let start = out.len();
        out.reserve(header_len + plaintext.len() + TAG_LEN);
        out.extend_from_slice(header);
        out.extend_from_slice(plaintext);
        let body = out
            .get_mut(start + header_len..)
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
        if self.killed {
            return Err(RecordError::Killed);
        }
        let header = RecordHeader::parse(datagram)?;
        if header.receiver != self.local_id {
            return Err(RecordError::WrongSession);
        }
        let expected = self.window.top().map_or(0, |t| t.saturating_add(1));
        let seq = reconstruct(expected, header.truncated_seq);
        self.window.check(seq)?;

        let current = self.recv.phase;
        let ahead = (u64::from(header.phase_bits) + 4 - current % 4) % 4;
        // Phases only move forward with the sequence number, so a record older than the one
        // that brought the current phase cannot be from a later phase (ahead 2 is also
        // "behind 2").
        if (1..=2).contains(&ahead) && seq < self.recv_since {
            return Err(RecordError::OldKeyPhase);
        }
        let candidate = match ahead {
            1 => Some(self.recv.next(self.alg)?),
            2 => Some(self.recv.next(self.alg)?.next(self.alg)?),
            _ => None,
        };
        let keys = match (ahead, &candidate) {
            (0, _) => &self.recv,
            (_, Some(next)) => next,
            _ => match &self.previous {
                Some((keys, until)) if *until > now && keys.phase + 1 == current => keys,
                _ => return Err(RecordError::OldKeyPhase),
            },
        };
        let (head, body) = datagram.split_at_mut(header.len);
        let opened = keys
            .key
            .open_in_place(keys.nonce(seq), Aad::from(&*head), body)
            .map(|plain| plain.len());
        let Ok(plain_len) = opened else {
            self.stats.forgeries = self.stats.forgeries.saturating_add(1);
            if self.stats.forgeries >= self.config.forgery_limit {
                self.killed = true;
            }
            return Err(RecordError::Forged);
        };
        self.window.accept(seq)?;
        if let Some(next) = candidate {
            let retired = core::mem::replace(&mut self.recv, next);
            self.previous = Some((retired, now.saturating_add(self.config.old_key_retention)));
            self.recv_since = seq;
        }
        self.stats.opened += 1;
        self.stats.receive_phase = self.recv.phase;
        Ok(header.len..header.len + plain_len)
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
        let a = ConnId::new(&[1])?;
        let b = ConnId::new(&[2, 3])?;
        let config = RecordConfig {
            key_update_after_records: 3,
            forgery_limit: 1000,
            ..RecordConfig::default()
        };
        Some((
            Self::new(suite, &secret, Role::Initiator, a, b, config, Instant::ZERO).ok()?,
            Self::new(suite, &secret, Role::Responder, b, a, config, Instant::ZERO).ok()?,
        ))
    }
}

#[cfg(test)]
mod tests;
