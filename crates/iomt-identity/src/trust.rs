//! The [`TrustStore`]: what a peer trusts, and the verification that produces proof types.

use core::fmt;
use core::time::Duration;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use iomt_schema::{DeviceId, ShortId, Timestamp};

use crate::attest::{AttestationResult, ReferenceValues, VerifiedResult};
use crate::credential::{Credential, Mission, Role, Roles};
use crate::error::{
    CredentialError, DecodeError, PackageError, RestoreError, ResultError, RevocationError,
};
use crate::key::PublicKey;
use crate::package::TrustPackage;
use crate::policy::Policy;
use crate::revocation::{RevocationDelta, RevocationSet, RevocationTarget};
use crate::signed::Unverified;
use crate::snapshot::{PersistedPackage, TrustSnapshot, TrustStart};

/// Tunables of a [`TrustStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustConfig {
    /// Allowed clock difference for "issued in the future" checks.
    pub clock_skew: Duration,
    /// Most revoked targets held (and most applied-delta markers: see [`RevocationSet`]).
    pub revocation_capacity: usize,
    /// Most intermediate authorities held.
    pub max_authorities: usize,
}

impl Default for TrustConfig {
    fn default() -> Self {
        Self {
            clock_skew: Duration::from_secs(5),
            revocation_capacity: RevocationSet::DEFAULT_CAPACITY,
            max_authorities: 64,
        }
    }
}

/// A credential whose signature, issuer chain, validity at `now`, revocation status and
/// mission scope were checked. Only [`TrustStore::verify_credential`] makes one.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifiedCredential {
    credential: Credential,
    issuer: ShortId,
}

impl VerifiedCredential {
    /// The subject DeviceId.
    pub fn device_id(&self) -> DeviceId {
        self.credential.device_id()
    }

    /// The subject key.
    pub fn public_key(&self) -> &PublicKey {
        &self.credential.subject
    }

    /// The subject's key id (short id).
    pub fn kid(&self) -> ShortId {
        self.credential.subject.short_id()
    }

    /// The granted roles.
    pub fn roles(&self) -> Roles {
        self.credential.roles
    }

    /// The mission.
    pub fn mission(&self) -> &Mission {
        &self.credential.mission
    }

    /// The issuer's short id.
    pub fn issuer(&self) -> ShortId {
        self.issuer
    }

    /// The serial.
    pub fn serial(&self) -> u64 {
        self.credential.serial
    }

    /// End of validity.
    pub fn not_after(&self) -> Timestamp {
        self.credential.not_after
    }

    /// All claims.
    pub fn credential(&self) -> &Credential {
        &self.credential
    }
}

impl fmt::Debug for VerifiedCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedCredential")
            .field("device", &self.device_id())
            .field("issuer", &self.issuer)
            .field("serial", &self.credential.serial)
            .field("roles", &self.credential.roles)
            .finish_non_exhaustive()
    }
}

/// What happened when a trust package was offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackageOutcome {
    /// Installed; it replaced the package with the given sequence (if any).
    Installed {
        /// The previous sequence.
        previous: Option<u64>,
    },
    /// The same package was already installed.
    Unchanged,
}

/// Everything one peer trusts: the package authority it was provisioned with, the installed
/// trust package (anchors, verifier keys, X.509 roots, reference values, policy digest),
/// accepted intermediate authorities, and merged revocations; plus its own mission.
///
/// # Persistence
///
/// The installed package's sequence and the merged revocations must survive a restart, or a
/// reboot would accept an older package again and trust revoked devices again. Every change
/// that must be persisted increments [`revision`](Self::revision); the runtime saves
/// [`snapshot`](Self::snapshot) whenever the revision moved, before it relies on the change
/// (acknowledges the package, forwards the delta), and starts the next run with
/// [`TrustStart::Restore`].
#[derive(Debug, Clone)]
pub struct TrustStore {
    package_authority: PublicKey,
    mission: Mission,
    config: TrustConfig,
    revision: u64,
    installed: Option<InstalledPackage>,
    anchors: BTreeMap<ShortId, PublicKey>,
    /// Anchors added through [`DangerousTrustStore`], which a snapshot leaves out.
    dangerous_anchors: BTreeSet<ShortId>,
    verifiers: BTreeMap<ShortId, PublicKey>,
    authorities: BTreeMap<ShortId, Authority>,
    x509_roots: Vec<Vec<u8>>,
    reference: ReferenceValues,
    revocations: RevocationSet,
    policy_digest: Option<[u8; 32]>,
    policy: Option<Policy>,
}

/// The installed package: kept as received so a snapshot can carry it signed.
#[derive(Clone)]
struct InstalledPackage {
    sequence: u64,
    digest: [u8; 32],
    bytes: Vec<u8>,
}

impl fmt::Debug for InstalledPackage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstalledPackage")
            .field("sequence", &self.sequence)
            .field("len", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

/// An accepted intermediate authority: kept as received so a snapshot can carry it signed.
#[derive(Clone)]
struct Authority {
    verified: VerifiedCredential,
    bytes: Vec<u8>,
}

impl fmt::Debug for Authority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.verified.fmt(f)
    }
}

impl TrustStore {
    /// A store for a peer in `mission`, provisioned with the package authority's key. That key
    /// is a trust anchor from the start; everything else arrives in trust packages.
    ///
    /// `start` is [`TrustStart::FirstBoot`] only on a device that has never persisted trust
    /// state, and otherwise the state the previous run persisted: see
    /// [`snapshot`](Self::snapshot). Restoring verifies the persisted package and authorities
    /// again under `package_authority` and refuses a snapshot of another store. A first boot
    /// never fails.
    pub fn new(
        package_authority: PublicKey,
        mission: Mission,
        start: TrustStart,
    ) -> Result<Self, RestoreError> {
        Self::with_config(package_authority, mission, TrustConfig::default(), start)
    }

    /// As [`new`](Self::new), with explicit tunables.
    pub fn with_config(
        package_authority: PublicKey,
        mission: Mission,
        config: TrustConfig,
        start: TrustStart,
    ) -> Result<Self, RestoreError> {
        let anchors = BTreeMap::from([(package_authority.short_id(), package_authority)]);
        let mut store = Self {
            package_authority,
            mission,
            config,
            revision: 0,
            installed: None,
            anchors,
            dangerous_anchors: BTreeSet::new(),
            verifiers: BTreeMap::new(),
            authorities: BTreeMap::new(),
            x509_roots: Vec::new(),
            reference: ReferenceValues::default(),
            revocations: RevocationSet::new(config.revocation_capacity),
            policy_digest: None,
            policy: None,
        };
        match start {
            TrustStart::FirstBoot => {}
            TrustStart::Restore(snapshot) => store.restore(snapshot)?,
        }
        Ok(store)
    }

    /// Rebuilds the persisted state into this fresh store, verifying again what grants trust.
    fn restore(&mut self, snapshot: TrustSnapshot) -> Result<(), RestoreError> {
        if snapshot.package_authority != self.package_authority {
            return Err(RestoreError::WrongAuthority {
                expected: self.package_authority.short_id(),
                found: snapshot.package_authority.short_id(),
            });
        }
        if snapshot.mission != self.mission {
            return Err(RestoreError::WrongMission {
                expected: self.mission.to_string(),
                found: snapshot.mission.to_string(),
            });
        }
        // The snapshot may have been decoded under larger limits than this store's.
        let limits = [
            (
                "revocations",
                snapshot.revocations.len(),
                self.config.revocation_capacity,
            ),
            (
                "applied deltas",
                snapshot.applied.len(),
                self.config.revocation_capacity,
            ),
            (
                "authorities",
                snapshot.authorities.len(),
                self.config.max_authorities,
            ),
        ];
        if let Some((field, found, limit)) = limits.into_iter().find(|(_, n, limit)| n > limit) {
            return Err(RestoreError::OverLimit {
                field,
                found,
                limit,
            });
        }
        // Revocations first: the package's own are already among them, so installing it
        // needs no room the snapshot did not need.
        for r in snapshot.revocations {
            self.revocations.insert(r);
        }
        for (issuer, sequence) in snapshot.applied {
            self.revocations.mark_applied(issuer, sequence);
        }
        if let Some(package) = snapshot.package {
            self.apply_package(&package.bytes)
                .map_err(RestoreError::Package)?;
        }
        for bytes in &snapshot.authorities {
            self.restore_authority(bytes)?;
        }
        if let Some(policy) = snapshot.policy {
            self.install_policy(policy).map_err(RestoreError::Package)?;
        }
        self.revision = snapshot.revision;
        Ok(())
    }

    /// Accepts a persisted authority again: issued by an anchor of the restored package, signed,
    /// an authority, for this mission. Its validity window and revocation are checked at every
    /// use, as for an authority accepted at run time.
    fn restore_authority(&mut self, bytes: &[u8]) -> Result<(), RestoreError> {
        let unverified = Unverified::<Credential>::decode(bytes)?;
        let kid = unverified.subject_key_unverified().short_id();
        let refuse = |reason| RestoreError::Authority { kid, reason };
        let issuer = unverified.signer();
        let key = self
            .anchors
            .get(&issuer)
            .ok_or_else(|| refuse(CredentialError::UnknownIssuer(issuer)))?;
        let credential = unverified
            .verify(key)
            .map_err(|_| refuse(CredentialError::BadSignature { issuer }))?;
        if !credential.roles.contains(Role::Authority) {
            let device = credential.device_id();
            return Err(refuse(CredentialError::NotAnAuthority { device }));
        }
        if credential.mission != self.mission {
            return Err(refuse(CredentialError::WrongMission {
                expected: self.mission.to_string(),
                found: credential.mission.to_string(),
            }));
        }
        let verified = VerifiedCredential { credential, issuer };
        self.authorities.insert(
            kid,
            Authority {
                verified,
                bytes: bytes.to_vec(),
            },
        );
        Ok(())
    }

    /// The state to persist: see [Persistence](Self#persistence). Restoring it with
    /// [`TrustStart::Restore`] rebuilds this store, less what [`dangerous`](Self::dangerous)
    /// added (re-add that after restoring).
    pub fn snapshot(&self) -> TrustSnapshot {
        TrustSnapshot {
            package_authority: self.package_authority,
            mission: self.mission.clone(),
            revision: self.revision,
            package: self.installed.as_ref().map(|p| PersistedPackage {
                sequence: p.sequence,
                bytes: p.bytes.clone(),
            }),
            policy: self.policy.clone(),
            authorities: self
                .authorities
                .values()
                .filter(|a| !self.dangerous_anchors.contains(&a.verified.issuer))
                .map(|a| a.bytes.clone())
                .collect(),
            revocations: self.revocations.entries().collect(),
            applied: self.revocations.applied().collect(),
        }
    }

    /// Incremented by every change a [`snapshot`](Self::snapshot) carries: a package installed,
    /// a policy installed, an authority accepted, a revocation delta that changed anything.
    /// Cheap to poll: when it differs from the revision last persisted, persist again.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    fn changed(&mut self) {
        self.revision = self.revision.saturating_add(1);
    }

    /// The local mission.
    pub fn mission(&self) -> &Mission {
        &self.mission
    }

    /// The installed package's sequence.
    pub fn package_sequence(&self) -> Option<u64> {
        self.installed.as_ref().map(|p| p.sequence)
    }

    /// Verifies and installs a signed trust package. A lower sequence than the installed one
    /// is a rollback and refused; the same sequence must be the same package. Revocations are
    /// merged (never forgotten): if they do not all fit, nothing is installed
    /// ([`PackageError::RevocationsFull`]). Intermediate authorities whose anchor left are
    /// dropped; a policy whose digest no longer matches is uninstalled. Refused packages leave
    /// the store unchanged.
    pub fn apply_package(&mut self, bytes: &[u8]) -> Result<PackageOutcome, PackageError> {
        let unverified = Unverified::<TrustPackage>::decode(bytes)?;
        let signer = unverified.signer();
        if signer != self.package_authority.short_id() {
            return Err(PackageError::UnknownSigner(signer));
        }
        let package = unverified
            .verify(&self.package_authority)
            .map_err(|_| PackageError::BadSignature)?;
        let digest = sha256(bytes);
        let previous = self.package_sequence();
        if let Some(installed) = &self.installed {
            if package.sequence < installed.sequence {
                return Err(PackageError::Rollback {
                    installed: installed.sequence,
                    offered: package.sequence,
                });
            }
            if package.sequence == installed.sequence {
                return if digest == installed.digest {
                    Ok(PackageOutcome::Unchanged)
                } else {
                    Err(PackageError::Conflict(installed.sequence))
                };
            }
        }
        #[cfg(feature = "rustls")]
        if package
            .x509_roots
            .iter()
            .any(|der| !crate::tls::is_usable_anchor(der))
        {
            return Err(PackageError::BadX509Anchor);
        }
        if !self.revocations.has_room_for(&package.revocations) {
            return Err(PackageError::RevocationsFull(self.revocations.len()));
        }
        let mut anchors =
            BTreeMap::from([(self.package_authority.short_id(), self.package_authority)]);
        anchors.extend(package.anchors.iter().map(|k| (k.short_id(), *k)));
        self.anchors = anchors;
        self.dangerous_anchors.clear();
        self.verifiers = package
            .verifiers
            .iter()
            .map(|k| (k.short_id(), *k))
            .collect();
        let anchors = &self.anchors;
        self.authorities
            .retain(|_, a| anchors.contains_key(&a.verified.issuer));
        self.x509_roots = package.x509_roots;
        self.reference = package.reference;
        for r in package.revocations {
            // Room was checked above: every entry merges.
            self.revocations.insert(r);
        }
        if self
            .policy
            .as_ref()
            .is_some_and(|p| p.digest() != package.policy_digest)
        {
            self.policy = None;
        }
        self.policy_digest = Some(package.policy_digest);
        self.installed = Some(InstalledPackage {
            sequence: package.sequence,
            digest,
            bytes: bytes.to_vec(),
        });
        self.changed();
        Ok(PackageOutcome::Installed { previous })
    }

    /// Installs the mission policy; its digest must be the installed package's.
    pub fn install_policy(&mut self, policy: Policy) -> Result<(), PackageError> {
        if self.policy_digest != Some(policy.digest()) {
            return Err(PackageError::PolicyMismatch);
        }
        if self.policy.as_ref() != Some(&policy) {
            self.policy = Some(policy);
            self.changed();
        }
        Ok(())
    }

    /// The installed policy, if any.
    pub fn policy(&self) -> Option<&Policy> {
        self.policy.as_ref()
    }

    /// Verifies and merges a revocation delta signed by a trust anchor. Returns how many
    /// entries changed the set (0 for a delta already applied: merging is idempotent).
    pub fn apply_revocation(&mut self, bytes: &[u8]) -> Result<usize, RevocationError> {
        let unverified = Unverified::<RevocationDelta>::decode(bytes)?;
        let issuer = unverified.signer();
        let key = self
            .anchors
            .get(&issuer)
            .ok_or(RevocationError::UnknownIssuer(issuer))?;
        let delta = unverified
            .verify(key)
            .map_err(|_| RevocationError::BadSignature { issuer })?;
        if !self.revocations.has_room_for(&delta.entries) {
            return Err(RevocationError::Full(self.revocations.len()));
        }
        let marked = self.revocations.mark_applied(issuer, delta.sequence);
        let merged = delta
            .entries
            .iter()
            .filter(|r| self.revocations.insert(**r))
            .count();
        if marked || merged > 0 {
            self.changed();
        }
        Ok(merged)
    }

    /// The merged revocations.
    pub fn revocations(&self) -> &RevocationSet {
        &self.revocations
    }

    /// Whether `device` is revoked.
    pub fn is_revoked(&self, device: DeviceId) -> bool {
        self.revocations.is_device_revoked(device)
    }

    /// The reference values from the trust package.
    pub fn reference_values(&self) -> &ReferenceValues {
        &self.reference
    }

    /// The X.509 trust anchors (DER) from the trust package.
    pub fn x509_roots(&self) -> &[Vec<u8>] {
        &self.x509_roots
    }

    /// Accepts an intermediate issuing authority: a credential with the
    /// [`Authority`](Role::Authority) role, issued by a trust anchor. It may then issue
    /// credentials for its own mission for as long as its credential is valid and unrevoked.
    pub fn add_authority(
        &mut self,
        bytes: &[u8],
        now: Timestamp,
    ) -> Result<ShortId, CredentialError> {
        let unverified = Unverified::<Credential>::decode(bytes)?;
        let issuer = unverified.signer();
        let key = self
            .anchors
            .get(&issuer)
            .ok_or(CredentialError::UnknownIssuer(issuer))?;
        let credential = unverified
            .verify(key)
            .map_err(|_| CredentialError::BadSignature { issuer })?;
        if !credential.roles.contains(Role::Authority) {
            let device = credential.device_id();
            return Err(CredentialError::NotAnAuthority { device });
        }
        let verified = VerifiedCredential { credential, issuer };
        self.check_current(&verified, now)?;
        if self.authorities.len() >= self.config.max_authorities
            && !self.authorities.contains_key(&verified.kid())
        {
            return Err(CredentialError::AuthoritiesFull {
                limit: self.config.max_authorities,
            });
        }
        let kid = verified.kid();
        if self.authorities.get(&kid).is_none_or(|a| a.bytes != bytes) {
            self.authorities.insert(
                kid,
                Authority {
                    verified,
                    bytes: bytes.to_vec(),
                },
            );
            self.changed();
        }
        Ok(kid)
    }

    /// Verifies a compact credential at `now`: deterministic encoding, issuer (a trust anchor,
    /// or an accepted authority that is itself still valid), signature, validity window,
    /// revocation of device and credential, and mission scope.
    pub fn verify_credential(
        &self,
        bytes: &[u8],
        now: Timestamp,
    ) -> Result<VerifiedCredential, CredentialError> {
        let unverified = Unverified::<Credential>::decode(bytes)?;
        let issuer = unverified.signer();
        // An intermediate authority issues only for its own mission, checked once its
        // signature made the credential's mission worth reading.
        let (key, scope) = match (self.anchors.get(&issuer), self.authorities.get(&issuer)) {
            (Some(key), _) => (key, None),
            (
                None,
                Some(Authority {
                    verified: authority,
                    ..
                }),
            ) => {
                self.check_current(authority, now).map_err(|reason| {
                    CredentialError::IssuerInvalid {
                        issuer,
                        reason: Box::new(reason),
                    }
                })?;
                (authority.public_key(), Some(authority.mission()))
            }
            (None, None) => return Err(CredentialError::UnknownIssuer(issuer)),
        };
        let credential = unverified
            .verify(key)
            .map_err(|_| CredentialError::BadSignature { issuer })?;
        if scope.is_some_and(|mission| *mission != credential.mission) {
            return Err(CredentialError::IssuerOutOfScope {
                issuer,
                mission: credential.mission.to_string(),
            });
        }
        let verified = VerifiedCredential { credential, issuer };
        self.check_current(&verified, now)?;
        Ok(verified)
    }

    /// Checks again, at `now`, a credential this store verified earlier (one held in a cache
    /// of verified credentials): its validity window, revocation of device and credential,
    /// mission, and that its issuer is still trusted (a trust anchor, or an accepted authority
    /// itself still valid for that mission). Costs no signature verification.
    pub fn revalidate(
        &self,
        credential: &VerifiedCredential,
        now: Timestamp,
    ) -> Result<(), CredentialError> {
        let issuer = credential.issuer;
        if !self.anchors.contains_key(&issuer) {
            let Some(Authority {
                verified: authority,
                ..
            }) = self.authorities.get(&issuer)
            else {
                return Err(CredentialError::UnknownIssuer(issuer));
            };
            self.check_current(authority, now).map_err(|reason| {
                CredentialError::IssuerInvalid {
                    issuer,
                    reason: Box::new(reason),
                }
            })?;
            if authority.mission() != credential.mission() {
                return Err(CredentialError::IssuerOutOfScope {
                    issuer,
                    mission: credential.mission().to_string(),
                });
            }
        }
        self.check_current(credential, now)
    }

    /// Validity window, revocation and mission of an already authenticated credential.
    fn check_current(&self, c: &VerifiedCredential, now: Timestamp) -> Result<(), CredentialError> {
        let claims = &c.credential;
        let device = claims.device_id();
        if now < claims.not_before {
            return Err(CredentialError::NotYetValid {
                device,
                serial: claims.serial,
                not_before: claims.not_before,
                now,
            });
        }
        if now >= claims.not_after {
            return Err(CredentialError::Expired {
                device,
                serial: claims.serial,
                not_after: claims.not_after,
                now,
            });
        }
        if self.revocations.is_device_revoked(device) {
            return Err(CredentialError::DeviceRevoked(device));
        }
        let target = RevocationTarget::Credential {
            issuer: c.issuer,
            serial: claims.serial,
        };
        if self.revocations.get(&target).is_some() {
            return Err(CredentialError::CredentialRevoked {
                issuer: c.issuer,
                serial: claims.serial,
            });
        }
        if claims.mission != self.mission {
            return Err(CredentialError::WrongMission {
                expected: self.mission.to_string(),
                found: claims.mission.to_string(),
            });
        }
        Ok(())
    }

    /// Verifies an attestation result about the peer holding `peer` at `now`: signed by a
    /// verifier key from the trust package, bound to `peer`, issued no later than `now` (plus
    /// skew), not expired, device not revoked. The tier is reported, not required: see
    /// [`VerifiedResult::require_affirming`].
    pub fn verify_result(
        &self,
        bytes: &[u8],
        peer: &PublicKey,
        now: Timestamp,
    ) -> Result<VerifiedResult, ResultError> {
        let unverified = Unverified::<AttestationResult>::decode(bytes)?;
        let verifier = unverified.signer();
        let key = self
            .verifiers
            .get(&verifier)
            .ok_or(ResultError::UnknownVerifier(verifier))?;
        let result = unverified
            .verify(key)
            .map_err(|_| ResultError::BadSignature { verifier })?;
        if result.key != *peer {
            return Err(ResultError::WrongKey {
                bound: result.key.short_id(),
                peer: peer.short_id(),
            });
        }
        let latest = now
            .checked_add(self.config.clock_skew)
            .unwrap_or(Timestamp::MAX);
        if result.issued_at > latest {
            return Err(ResultError::IssuedInFuture {
                device: result.device,
                issued_at: result.issued_at,
                now,
            });
        }
        if now >= result.expires_at {
            return Err(ResultError::Expired {
                device: result.device,
                expired: result.expires_at,
                now,
            });
        }
        if self.revocations.is_device_revoked(result.device) {
            return Err(ResultError::DeviceRevoked(result.device));
        }
        Ok(VerifiedResult::new(result, verifier))
    }

    /// Dangerous operations: see [`DangerousTrustStore`].
    pub fn dangerous(&mut self) -> DangerousTrustStore<'_> {
        DangerousTrustStore { store: self }
    }
}

/// Operations that bypass the trust package. For tests and for bootstrapping a mission
/// without a package; every use weakens the model.
#[derive(Debug)]
pub struct DangerousTrustStore<'a> {
    store: &'a mut TrustStore,
}

impl DangerousTrustStore<'_> {
    /// Trusts `key` as a credential issuer without a signed package, until the next package
    /// replaces the anchors. Not part of a [`snapshot`](TrustStore::snapshot).
    pub fn add_anchor(&mut self, key: PublicKey) {
        let id = key.short_id();
        if self.store.anchors.insert(id, key).is_none() {
            self.store.dangerous_anchors.insert(id);
        }
    }

    /// Trusts `key` as an attestation verifier without a signed package, until the next
    /// package replaces the verifiers. Not part of a [`snapshot`](TrustStore::snapshot).
    pub fn add_verifier(&mut self, key: PublicKey) {
        self.store.verifiers.insert(key.short_id(), key);
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref());
    out
}

/// A bounded cache of compact credentials by subject `kid`, for protocols (EDHOC) that name a
/// credential by reference. Entries are stored as received and verified on use; when full,
/// the oldest insertion is evicted.
#[derive(Debug, Clone)]
pub struct CredentialCache {
    entries: BTreeMap<ShortId, Vec<u8>>,
    order: VecDeque<ShortId>,
    capacity: usize,
}

impl CredentialCache {
    /// A cache of at most `capacity` credentials.
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: BTreeMap::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    /// Decodes `bytes` (no trust decision) and stores it under its subject's kid, replacing an
    /// older one for the same kid.
    pub fn insert(&mut self, bytes: &[u8]) -> Result<ShortId, DecodeError> {
        let kid = Unverified::<Credential>::decode(bytes)?
            .subject_key_unverified()
            .short_id();
        if self.entries.insert(kid, bytes.to_vec()).is_none() {
            self.order.push_back(kid);
        }
        while self.entries.len() > self.capacity {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            self.entries.remove(&old);
        }
        Ok(kid)
    }

    /// The credential stored for `kid`.
    pub fn get(&self, kid: ShortId) -> Option<&[u8]> {
        self.entries.get(&kid).map(Vec::as_slice)
    }

    /// Number of cached credentials.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
