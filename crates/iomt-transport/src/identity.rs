//! The [`Credentials`] seam filled by `iomt-identity`: compact CWT credentials verified through
//! a [`TrustStore`], attestation results (passports) and fresh evidence carried in EAD.
//!
//! # Credentials
//!
//! Our credential is the compact credential (a CWT signed by the mission authority) for our
//! key; EDHOC suite 4 runs with an Ed25519 key, suite 6 with a P-256 key. It is named by
//! reference as `{ 4 : kid }` with the key's 8-byte [`ShortId`], and by value as
//! `{ 13 : cwt }` (`kcwt`). CRED_x is the CWT in both cases.
//!
//! A peer's reference is resolved through a bounded cache of credentials this side verified
//! before (learnt by value in an earlier handshake, or handed in with
//! [`IdentityCredentials::learn_peer`]); a cached credential is checked again at every use
//! ([`TrustStore::revalidate`]: validity, revocation, issuer, mission). An unknown reference
//! is refused with [`Refusal::UnknownCredential`] (EDHOC error code 3), and the peer then
//! sends its credential by value, which is verified in full ([`TrustStore::verify_credential`])
//! every time and cached. When full, the cache forgets the entry used least recently.
//!
//! # Attestation in EAD
//!
//! | label | value | sent in | meaning |
//! |---|---|---|---|
//! | [`EAD_ATTESTATION_RESULT`] (65536) | the signed attestation result | EAD_2, EAD_3 | the sender's passport |
//! | [`EAD_EVIDENCE`] (65537) | signed evidence | EAD_2, EAD_3 | evidence whose nonce is the [`HandshakeNonce`] |
//! | [`EAD_EVIDENCE_REQUEST`] (65538) | none | EAD_1, EAD_2 | "send me evidence bound to this handshake" |
//!
//! RFC 9528 section 10.5 opens EAD labels up to 65535 for registration and keeps no range for
//! private use; these sit just above it, where no registered label can collide with them.
//! All three are non-critical: a peer that does not know them ignores them, and is then
//! refused by a side whose policy needs them.
//!
//! Every peer must present an attestation result that verifies through the trust store
//! ([`TrustStore::verify_result`]: a verifier key of the trust package, bound to the key of
//! the peer's credential, unexpired, device not revoked) and is affirming. A side configured
//! with [`IdentityCredentials::require_fresh_evidence`] also asks for evidence in its first
//! message and appraises it with its own verifier against a challenge it derives from its
//! own handshake nonce ([`Challenge::for_channel`]), never from bytes the peer sent: evidence
//! made in another handshake, or relayed from one, carries another nonce and fails. The
//! evidence is answered by an [`Attester`] given with [`IdentityCredentials::with_attester`].
//! The credential is only resolved before the handshake's signature is checked (decoded from
//! the value, or read from the cache); everything above, and every write to the cache, comes
//! after it, so a forged message_2 or message_3 costs one signature check and changes
//! nothing. A refused peer never completes a handshake.
//!
//! # Time
//!
//! Credentials and results carry wall-clock times; the endpoint runs on a monotonic
//! [`Instant`]. A [`WallClock`] maps one to the other; the application re-anchors it with
//! [`IdentityCredentials::set_wall_clock`] when its clock is corrected.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use std::sync::{Mutex, PoisonError, RwLock};

use iomt_identity::cbor::CborError;
use iomt_identity::enrol::Enrolment;
use iomt_identity::{
    Algorithm, Appraisal, AppraisalError, AttestationVerifier, Challenge, ChannelBinding,
    Credential, CredentialError, Nonce, PublicKey, ReferenceValues, ResultError, Signer, Tier,
    TrustStore, Unverified, VerifiedCredential, VerifiedResult,
};
use iomt_schema::{DeviceId, Instant, ShortId, Timestamp};

use crate::credential::{
    AttestationRefusal, Credentials, EadRequest, EadSlot, HandshakeNonce, IdCred, LocalCredential,
    PeerCandidate, PeerCredential, Refusal,
};
use crate::ead::EadItem;
use crate::handshake::PeerInfo;
use crate::suite::CipherSuite;

/// EAD label of the sender's attestation result (the signed result is the value).
pub const EAD_ATTESTATION_RESULT: u64 = 65_536;
/// EAD label of evidence whose nonce is the handshake nonce (the signed evidence is the value).
pub const EAD_EVIDENCE: u64 = 65_537;
/// EAD label asking the peer for [`EAD_EVIDENCE`] in its next message (no value).
pub const EAD_EVIDENCE_REQUEST: u64 = 65_538;

/// Credentials cached by default.
pub const DEFAULT_CACHE_CAPACITY: usize = 64;

/// Maps the endpoint's monotonic [`Instant`] to wall-clock [`Timestamp`]s: `instant` was
/// `timestamp`, and both advance together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WallClock {
    instant: Instant,
    timestamp: Timestamp,
}

impl WallClock {
    /// The anchor: at `instant` the wall clock read `timestamp`.
    pub const fn new(instant: Instant, timestamp: Timestamp) -> Self {
        Self { instant, timestamp }
    }

    /// The wall-clock time at `now` (saturating at both ends of the [`Timestamp`] range).
    pub fn at(&self, now: Instant) -> Timestamp {
        if now >= self.instant {
            let ahead = now.saturating_duration_since(self.instant);
            return self.timestamp.checked_add(ahead).unwrap_or(Timestamp::MAX);
        }
        let behind = self.instant.saturating_duration_since(now);
        let behind_ms = u64::try_from(behind.as_millis()).unwrap_or(u64::MAX);
        Timestamp::from_millis(self.timestamp.as_millis().saturating_sub(behind_ms))
            .unwrap_or(self.timestamp)
    }
}

/// Produces this device's signed evidence over a nonce (the RFC 9334 attester role).
pub trait Attester: Send + Sync {
    /// Signed evidence whose nonce is `nonce`, made at `now`; `None` if the device cannot
    /// attest now.
    fn evidence(&self, nonce: &Nonce, now: Timestamp) -> Option<Vec<u8>>;
}

impl<F> Attester for F
where
    F: Fn(&Nonce, Timestamp) -> Option<Vec<u8>> + Send + Sync,
{
    fn evidence(&self, nonce: &Nonce, now: Timestamp) -> Option<Vec<u8>> {
        self(nonce, now)
    }
}

/// The handshake nonce is a channel binding: only the key schedule of this handshake makes
/// one, on each of its two sides.
impl ChannelBinding for HandshakeNonce {
    fn channel_binding(&self) -> &[u8] {
        self.as_bytes()
    }
}

/// Why our own credential or attestation result could not be installed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// The credential does not verify through our trust store.
    #[error(transparent)]
    Credential(#[from] CredentialError),
    /// The attestation result does not verify through our trust store, or is not affirming.
    #[error(transparent)]
    Result(#[from] ResultError),
    /// The credential names another key than ours.
    #[error("the credential is for another key")]
    NotOurKey,
    /// Our key's algorithm has no EDHOC cipher suite here (suites 4 and 6 sign with Ed25519
    /// and P-256).
    #[error("no cipher suite for the key's algorithm")]
    UnsupportedKey,
    /// The credential is not one CBOR data item.
    #[error("credential is not one CBOR item: {0}")]
    Cbor(CborError),
}

/// A peer this side verified: its credential and attestation result, as the trust store
/// checked them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedPeer {
    /// The peer's credential.
    pub credential: VerifiedCredential,
    /// The peer's attestation result.
    pub result: VerifiedResult,
}

/// [`Credentials`] backed by `iomt-identity`: see the [module](self) documentation.
pub struct IdentityCredentials {
    trust: Arc<RwLock<TrustStore>>,
    key: Arc<dyn Signer>,
    clock: RwLock<WallClock>,
    local: RwLock<Local>,
    cache: Mutex<PeerCache>,
    appraiser: Option<Box<dyn Appraiser>>,
    attester: Option<Arc<dyn Attester>>,
}

/// Our credential as EDHOC uses it (with the suite its key signs for), and our attestation
/// result.
#[derive(Default)]
struct Local {
    credential: Option<(CipherSuite, Arc<LocalCredential>)>,
    result: Option<Vec<u8>>,
}

impl fmt::Debug for IdentityCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityCredentials")
            .field("key", &self.key.public_key())
            .field("fresh_evidence", &self.appraiser.is_some())
            .field("attester", &self.attester.is_some())
            .finish_non_exhaustive()
    }
}

impl IdentityCredentials {
    /// Credentials for the device holding `key`, deciding through `trust` (shared with the
    /// application, which applies trust packages and revocations to it). Nothing is sent
    /// until [`set_credential`](Self::set_credential).
    pub fn new(trust: Arc<RwLock<TrustStore>>, key: Arc<dyn Signer>, clock: WallClock) -> Self {
        Self {
            trust,
            key,
            clock: RwLock::new(clock),
            local: RwLock::new(Local::default()),
            cache: Mutex::new(PeerCache::new(DEFAULT_CACHE_CAPACITY)),
            appraiser: None,
            attester: None,
        }
    }

    /// Installs what enrolment gave this device (see [`iomt_identity::enrol`]): its compact
    /// credential and its attestation result, each checked as [`set_credential`](Self::set_credential)
    /// and [`set_result`](Self::set_result) check them. Returns the credential's `kid`.
    pub fn install(&self, enrolment: &Enrolment, now: Instant) -> Result<ShortId, SetupError> {
        let kid = self.set_credential(&enrolment.credential, now)?;
        self.set_result(enrolment.result.clone(), now)?;
        Ok(kid)
    }

    /// Caches at most `capacity` verified peer credentials (at least one).
    #[must_use]
    pub fn with_cache_capacity(self, capacity: usize) -> Self {
        *self.cache.lock().unwrap_or_else(PoisonError::into_inner) =
            PeerCache::new(capacity.max(1));
        self
    }

    /// Asks every peer for evidence bound to the handshake and appraises it with `verifier`
    /// against the trust store's reference values; a peer whose evidence is missing, fails
    /// or is not affirming is refused.
    #[must_use]
    pub fn require_fresh_evidence<S>(mut self, verifier: AttestationVerifier<S>) -> Self
    where
        S: Signer + 'static,
    {
        self.appraiser = Some(Box::new(verifier));
        self
    }

    /// Answers peers' evidence requests with `attester`'s evidence.
    #[must_use]
    pub fn with_attester(mut self, attester: impl Attester + 'static) -> Self {
        self.attester = Some(Arc::new(attester));
        self
    }

    /// The device these credentials speak for: the identity of the key they sign with.
    pub fn device(&self) -> DeviceId {
        self.key.public_key().device_id()
    }

    /// This device's attestation result, as installed.
    pub fn result(&self) -> Option<Vec<u8>> {
        self.local
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .result
            .clone()
    }

    /// What answers peers' evidence requests, if anything (see
    /// [`with_attester`](Self::with_attester)); post-handshake attestation answers with it too.
    pub fn attester(&self) -> Option<Arc<dyn Attester>> {
        self.attester.clone()
    }

    /// The trust store these credentials decide with (the one passed to
    /// [`new`](Self::new)): where the application applies trust packages and revocations.
    pub fn trust_store(&self) -> &Arc<RwLock<TrustStore>> {
        &self.trust
    }

    /// Re-anchors the wall clock.
    pub fn set_wall_clock(&self, clock: WallClock) {
        *self.clock.write().unwrap_or_else(PoisonError::into_inner) = clock;
    }

    /// The wall-clock time at `now`.
    pub fn wall_clock(&self, now: Instant) -> Timestamp {
        self.clock
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .at(now)
    }

    /// Installs our compact credential (it must verify through our own trust store at `now`
    /// and name our key). Handshakes already under way keep the previous one.
    pub fn set_credential(&self, credential: &[u8], now: Instant) -> Result<ShortId, SetupError> {
        let ts = self.wall_clock(now);
        let verified = self.read_trust().verify_credential(credential, ts)?;
        let public = self.key.public_key();
        if *verified.public_key() != public {
            return Err(SetupError::NotOurKey);
        }
        let suite = match public.algorithm() {
            Algorithm::Ed25519 => CipherSuite::Suite4,
            Algorithm::EcdsaP256 => CipherSuite::Suite6,
            _ => return Err(SetupError::UnsupportedKey),
        };
        let kid = verified.kid();
        let id_cred = IdCred::kid(kid.as_bytes());
        let local = LocalCredential::new(id_cred, credential.to_vec(), Arc::clone(&self.key))
            .map_err(SetupError::Cbor)?;
        self.local
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .credential = Some((suite, Arc::new(local)));
        Ok(kid)
    }

    /// Installs our attestation result (it must verify through our own trust store at `now`,
    /// be bound to our key and be affirming). Replaces the previous one at once.
    pub fn set_result(&self, result: Vec<u8>, now: Instant) -> Result<(), SetupError> {
        let ts = self.wall_clock(now);
        self.read_trust()
            .verify_result(&result, &self.key.public_key(), ts)?
            .require_affirming()?;
        self.local
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .result = Some(result);
        Ok(())
    }

    /// Verifies a peer's compact credential at `now` and caches it, so that the peer may name
    /// it by reference in its first handshake with us.
    pub fn learn_peer(&self, credential: &[u8], now: Instant) -> Result<ShortId, CredentialError> {
        let verified = self
            .read_trust()
            .verify_credential(credential, self.wall_clock(now))?;
        let kid = verified.kid();
        self.lock_cache()
            .insert(kid, verified, credential.to_vec(), None);
        Ok(kid)
    }

    /// What this side verified about the peer of a completed handshake (call it on
    /// [`Event::Connected`](crate::Event::Connected), while the peer is still cached).
    pub fn verified_peer(&self, info: &PeerInfo) -> Option<VerifiedPeer> {
        let kid = Unverified::<Credential>::decode(&info.credential.cred)
            .ok()?
            .subject_key_unverified()
            .short_id();
        let cache = self.lock_cache();
        let entry = cache.entries.get(&kid)?;
        if entry.cwt != info.credential.cred {
            return None;
        }
        Some(VerifiedPeer {
            credential: entry.credential.clone(),
            result: entry.result.clone()?,
        })
    }

    /// Number of cached peer credentials.
    pub fn cached_peers(&self) -> usize {
        self.lock_cache().entries.len()
    }

    fn read_trust(&self) -> std::sync::RwLockReadGuard<'_, TrustStore> {
        self.trust.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, PeerCache> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The trust decision about a peer that proved it holds the key of `cwt`: verified in
    /// full when it came by value (and cached: the credential stands on its own, so the
    /// peer's next attempt may name it by reference even if its attestation fails), checked
    /// again when it came from the cache.
    fn admit_credential(
        &self,
        peer: &PeerCandidate<'_>,
        cwt: &[u8],
        trust: &TrustStore,
        now: Timestamp,
    ) -> Result<VerifiedCredential, Refusal> {
        if peer.by_value.is_some() {
            let verified = trust
                .verify_credential(cwt, now)
                .map_err(Refusal::Credential)?;
            self.lock_cache()
                .insert(verified.kid(), verified.clone(), cwt.to_vec(), None);
            return Ok(verified);
        }
        let kid = Unverified::<Credential>::decode(cwt)
            .map_err(|e| Refusal::Credential(e.into()))?
            .subject_key_unverified()
            .short_id();
        let mut cache = self.lock_cache();
        let entry = cache
            .touch(kid)
            .filter(|e| e.cwt == cwt)
            .ok_or(Refusal::UnknownCredential)?;
        let credential = entry.credential.clone();
        if let Err(why) = trust.revalidate(&credential, now) {
            cache.entries.remove(&kid);
            return Err(Refusal::Credential(why));
        }
        Ok(credential)
    }

    /// Our evidence over the handshake nonce, if the peer asked for it and we can attest.
    fn answer_evidence_request(&self, request: &EadRequest<'_>) -> Option<EadItem> {
        if !request
            .peer_ead
            .iter()
            .any(|i| i.label == EAD_EVIDENCE_REQUEST)
        {
            return None;
        }
        let nonce = Nonce::new(request.nonce?.channel_binding()).ok()?;
        let evidence = self
            .attester
            .as_ref()?
            .evidence(&nonce, self.wall_clock(request.now))?;
        Some(EadItem::new(EAD_EVIDENCE, Some(evidence)))
    }
}

impl Credentials for IdentityCredentials {
    fn local(&self, suite: CipherSuite) -> Option<Arc<LocalCredential>> {
        let local = self.local.read().unwrap_or_else(PoisonError::into_inner);
        local
            .credential
            .as_ref()
            .filter(|(s, _)| *s == suite)
            .map(|(_, c)| Arc::clone(c))
    }

    /// The peer's credential as it names it: decoded from the value (no trust decision yet),
    /// or read from the cache of credentials verified before. Changes nothing; see the
    /// [module](self) documentation.
    fn resolve_peer(&self, peer: &PeerCandidate<'_>) -> Result<PeerCredential, Refusal> {
        if let Some(cwt) = peer.by_value {
            let unverified =
                Unverified::<Credential>::decode(cwt).map_err(|e| Refusal::Credential(e.into()))?;
            return Ok(PeerCredential {
                cred: cwt.to_vec(),
                key: *unverified.subject_key_unverified(),
            });
        }
        let kid = peer
            .id_cred
            .kid_value()
            .and_then(|k| <[u8; 8]>::try_from(k).ok())
            .map(ShortId::from_bytes)
            .ok_or(Refusal::UnknownCredential)?;
        let cache = self.lock_cache();
        let entry = cache.entries.get(&kid).ok_or(Refusal::UnknownCredential)?;
        Ok(PeerCredential {
            cred: entry.cwt.clone(),
            key: *entry.credential.public_key(),
        })
    }

    /// Whether the cache holds a credential verified earlier for `device`.
    fn knows_peer(&self, device: DeviceId) -> bool {
        self.lock_cache().entries.contains_key(&device.short())
    }

    /// Verifies the credential (in full, or again from the cache), then the attestation
    /// result and, if required, the evidence; only then is the result remembered. See the
    /// [module](self) documentation for what each refusal means.
    fn admit_peer(
        &self,
        peer: &PeerCandidate<'_>,
        credential: &PeerCredential,
    ) -> Result<(), Refusal> {
        let (now, since) = {
            let clock = self.clock.read().unwrap_or_else(PoisonError::into_inner);
            (clock.at(peer.now), clock.at(peer.nonce_since))
        };
        let trust = self.read_trust();
        let verified = self.admit_credential(peer, &credential.cred, &trust, now)?;
        let key = *verified.public_key();
        let passport = ead_value(peer.ead, EAD_ATTESTATION_RESULT).ok_or(Refusal::Unattested)?;
        let refused = |why| Refusal::Attestation(why);
        let result = trust
            .verify_result(passport, &key, now)
            .map_err(|e| refused(AttestationRefusal::Result(e)))?;
        result
            .require_affirming()
            .map_err(|e| refused(AttestationRefusal::Result(e)))?;
        if let Some(appraiser) = &self.appraiser {
            let evidence = ead_value(peer.ead, EAD_EVIDENCE).ok_or(Refusal::Unattested)?;
            let challenge = Challenge::for_channel(peer.nonce, since)
                .map_err(|e| refused(AttestationRefusal::Binding(e)))?;
            let appraisal = appraiser
                .appraise(challenge, &key, evidence, trust.reference_values(), now)
                .map_err(|e| refused(AttestationRefusal::Evidence(e)))?;
            if appraisal.tier() != Tier::Affirming {
                return Err(refused(AttestationRefusal::NotAffirming(appraisal.tier())));
            }
        }
        self.lock_cache()
            .set_result(verified.kid(), &credential.cred, result);
        Ok(())
    }

    fn ead(&self, request: &EadRequest<'_>) -> Vec<EadItem> {
        let mut items = Vec::new();
        if request.slot != EadSlot::Message1 {
            let result = self
                .local
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .result
                .clone();
            if let Some(result) = result {
                items.push(EadItem::new(EAD_ATTESTATION_RESULT, Some(result)));
            }
            items.extend(self.answer_evidence_request(request));
        }
        if self.appraiser.is_some() && request.slot != EadSlot::Message3 {
            items.push(EadItem::new(EAD_EVIDENCE_REQUEST, None));
        }
        items
    }

    fn understands_ead(&self, label: u64) -> bool {
        matches!(
            label,
            EAD_ATTESTATION_RESULT | EAD_EVIDENCE | EAD_EVIDENCE_REQUEST
        )
    }
}

/// The value of the first EAD item with `label`.
fn ead_value(items: &[EadItem], label: u64) -> Option<&[u8]> {
    items
        .iter()
        .find(|i| i.label == label)
        .and_then(|i| i.value.as_deref())
}

/// The verifier role, whatever key it signs results with.
pub(crate) trait Appraiser: Send + Sync {
    fn appraise(
        &self,
        challenge: Challenge,
        attester: &PublicKey,
        evidence: &[u8],
        reference: &ReferenceValues,
        now: Timestamp,
    ) -> Result<Appraisal, AppraisalError>;
}

impl<S: Signer> Appraiser for AttestationVerifier<S> {
    fn appraise(
        &self,
        challenge: Challenge,
        attester: &PublicKey,
        evidence: &[u8],
        reference: &ReferenceValues,
        now: Timestamp,
    ) -> Result<Appraisal, AppraisalError> {
        AttestationVerifier::appraise(self, challenge, attester, evidence, reference, now)
    }
}

/// Verified peer credentials by kid, with the latest verified result of each.
struct PeerCache {
    entries: BTreeMap<ShortId, CacheEntry>,
    capacity: usize,
    clock: u64,
}

struct CacheEntry {
    credential: VerifiedCredential,
    cwt: Vec<u8>,
    result: Option<VerifiedResult>,
    used: u64,
}

impl PeerCache {
    fn new(capacity: usize) -> Self {
        Self {
            entries: BTreeMap::new(),
            capacity,
            clock: 0,
        }
    }

    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    fn touch(&mut self, kid: ShortId) -> Option<&CacheEntry> {
        let used = self.tick();
        let entry = self.entries.get_mut(&kid)?;
        entry.used = used;
        Some(entry)
    }

    /// Records `result` as the latest verified result for the credential `cwt` under `kid`.
    fn set_result(&mut self, kid: ShortId, cwt: &[u8], result: VerifiedResult) {
        if let Some(entry) = self.entries.get_mut(&kid).filter(|e| e.cwt == cwt) {
            entry.result = Some(result);
        }
    }

    /// Stores `credential` under `kid`, keeping a known result when none is given; evicts
    /// the least recently used entry when full.
    fn insert(
        &mut self,
        kid: ShortId,
        credential: VerifiedCredential,
        cwt: Vec<u8>,
        result: Option<VerifiedResult>,
    ) {
        let used = self.tick();
        let result = result.or_else(|| {
            self.entries
                .remove(&kid)
                .filter(|e| e.cwt == cwt)
                .and_then(|e| e.result)
        });
        if !self.entries.contains_key(&kid) && self.entries.len() >= self.capacity {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| *k);
            if let Some(oldest) = oldest {
                self.entries.remove(&oldest);
            }
        }
        self.entries.insert(
            kid,
            CacheEntry {
                credential,
                cwt,
                result,
                used,
            },
        );
    }
}

#[cfg(test)]
mod tests;
