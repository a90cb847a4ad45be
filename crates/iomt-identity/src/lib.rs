//! Zero-trust device identity for the IoMT: keys, credentials, attestation, trust packages,
//! revocation and authorization.
//!
//! No device is trusted for where it sits in the network. Every peer proves who it is (a
//! credential from a mission authority) and what state it is in (an attestation result from a
//! verifier), continuously, and can be cut off (quarantine, revocation) even when the tactical
//! edge is disconnected from any central service: everything a peer needs to decide arrives
//! in a signed, sequenced [trust package](TrustPackage) and in [revocation
//! deltas](RevocationDelta) small enough to flood through the mesh.
//!
//! - **Keys** ([`key`]): Ed25519 and ECDSA P-256 through `ring`, behind the [`Signer`] trait so
//!   a secure element can hold the private half. `DeviceId` = first 16 bytes of SHA-256 of the
//!   public key.
//! - **Encoding** ([`cbor`], [`cose`]): the workspace's one deterministic CBOR codec (a reader
//!   canonical as it reads, its errors at a byte offset) and its COSE_Sign1 and COSE_Key, which
//!   `iomt-transport` uses too. Every signed object is read as an [`Unverified`] value whose
//!   claims come out only through verification.
//! - **Credentials**: a compact CWT/COSE_Sign1 form for radio links ([`Credential`]) and an
//!   X.509 form for TLS ([`CertificateAuthority`]), both issued by the same authority for the
//!   same identity. [`TrustStore::verify_credential`] returns a [`VerifiedCredential`].
//! - **Attestation** (RFC 9334): [`Evidence`] from the attester, appraised by an
//!   [`AttestationVerifier`] against [`ReferenceValues`] with a [`Challenge`] it issued, signed
//!   as an [`AttestationResult`] that relying parties check offline
//!   ([`TrustStore::verify_result`] returns a [`VerifiedResult`]).
//! - **Enrolment** ([`enrol`]): the mission authority provisions the mission (keys, trust
//!   package, X.509 root) and enrols devices: it appraises their evidence against a challenge
//!   and issues the attestation result, the compact credential and the certificate, which the
//!   device checks through its own trust store.
//! - **Continuous trust**: [`PeerTrust`] moves a peer through [`TrustState`]s; a [`Policy`]
//!   says what each role and state may do ([`PeerTrust::may`]).
//! - **Persistence**: a [`TrustStore`] starts from a [`TrustStart`], either the
//!   [`TrustSnapshot`] its previous run persisted or an explicit first boot, so the installed
//!   package's sequence (anti-rollback) and the revocations survive a restart;
//!   [`TrustStore::revision`] says when to persist again.
//! - **TLS** (feature `rustls`): certificate verifiers that add the DeviceId binding,
//!   revocation and attestation to webpki's path validation, and a rotating certificate
//!   resolver.
//!
//! ```
//! use iomt_identity::*;
//! use iomt_schema::Timestamp;
//! use ring::rand::SystemRandom;
//!
//! let rng = SystemRandom::new();
//! let now = Timestamp::from_millis(1_800_000_000_000).unwrap();
//! let later = Timestamp::from_millis(1_800_086_400_000).unwrap();
//! let mission = Mission::new("op-nordic")?;
//!
//! // Provisioning: the mission authority signs a trust package naming a verifier.
//! let authority = SoftwareKey::generate(Algorithm::Ed25519, &rng)?;
//! let verifier_key = SoftwareKey::generate(Algorithm::Ed25519, &rng)?;
//! let package = TrustPackage {
//!     sequence: 1,
//!     verifiers: vec![verifier_key.public_key()],
//!     ..TrustPackage::default()
//! }
//! .sign(&authority)?;
//! let mut trust = TrustStore::new(authority.public_key(), mission.clone(), TrustStart::FirstBoot)?;
//! trust.apply_package(&package)?;
//! // The runtime persists the state whenever its revision moves...
//! let stored = trust.snapshot().encode();
//! // ...and the next run restores it: the package is verified again, nothing is forgotten.
//! let snapshot = TrustSnapshot::decode(&stored, &TrustConfig::default())?;
//! let trust = TrustStore::new(authority.public_key(), mission.clone(), TrustStart::Restore(snapshot))?;
//! assert_eq!(trust.package_sequence(), Some(1));
//!
//! // The authority issues a device its compact credential; a peer verifies it offline.
//! let device = SoftwareKey::generate(Algorithm::EcdsaP256, &rng)?;
//! let credential = Credential {
//!     subject: device.public_key(),
//!     mission,
//!     roles: Roles::EMPTY.with(Role::Sensor),
//!     not_before: now,
//!     not_after: later,
//!     serial: 7,
//! }
//! .sign(&authority)?;
//! let peer = trust.verify_credential(&credential, now)?;
//! assert_eq!(peer.device_id(), device.public_key().device_id());
//!
//! // The verifier challenges the device, appraises its evidence and signs a result.
//! let verifier = AttestationVerifier::new(verifier_key, AppraisalConfig::default());
//! let challenge = Challenge::new(&rng, now)?;
//! let evidence = Evidence {
//!     device: peer.device_id(),
//!     nonce: challenge.nonce().clone(),
//!     issued_at: now,
//!     secure_boot: true,
//!     debug: DebugState::DisabledPermanently,
//!     firmware: FirmwareVersion::new(2, 1, 0),
//!     measurements: vec![],
//! }
//! .sign(&device)?;
//! let appraisal = verifier.appraise(challenge, peer.public_key(), &evidence, trust.reference_values(), now)?;
//! let result = verifier.sign_result(&appraisal)?;
//!
//! // Any relying party checks the result offline and trusts the peer.
//! let verified = trust.verify_result(&result, peer.public_key(), now)?;
//! let mut state = PeerTrust::new(&peer);
//! assert_eq!(state.on_result(&verified, now)?, TrustState::Trusted);
//! assert!(!state.may(&Policy::default(), Action::Relay)); // a sensor does not relay
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What it does not do
//!
//! No I/O and no clock: `now` is always a parameter and randomness comes from a
//! `iomt_schema::rand::SecureRandom` handed in; it encodes the state to persist, the runtime stores
//! it. It does not transport anything (EDHOC and TLS sessions are `iomt-transport`'s), does
//! not decide *when* to re-attest (the application drives [`PeerTrust`] with its timers), and
//! does not implement certificate revocation lists: revocation is by [`RevocationDelta`], and
//! certificates are short-lived.

#![forbid(unsafe_code)]

mod attest;
pub mod cbor;
pub mod cose;
mod credential;
pub mod enrol;
mod error;
pub mod key;
mod package;
mod policy;
mod revocation;
mod signed;
mod snapshot;
mod state;
mod trust;
pub mod x509;

#[cfg(feature = "rustls")]
pub mod tls;

#[cfg(fuzzing)]
pub mod fuzzing;

pub use attest::{
    Appraisal, AppraisalConfig, AppraisedClaim, AttestationResult, AttestationVerifier,
    BadFirmwareVersion, BadNonce, Challenge, ChannelBinding, DebugState, Evidence, Finding,
    FirmwareVersion, MAX_MEASUREMENTS, Measurement, Nonce, RandomFailure, ReferenceValues, Tier,
    VerifiedResult,
};
pub use credential::{BadMission, Credential, Mission, Role, Roles};
pub use error::{
    AppraisalError, CredentialError, DecodeError, EnrolError, KeyError, PackageError, RestoreError,
    ResultError, RevocationError, SignError,
};
pub use key::{Algorithm, BadSignature, PublicKey, Signature, Signer, SoftwareKey};
pub use package::TrustPackage;
pub use policy::{Action, Actions, Policy};
pub use revocation::{
    MAX_DELTA_ENTRIES, Revocation, RevocationDelta, RevocationReason, RevocationSet,
    RevocationTarget,
};
pub use signed::{SignedObject, Unverified};
pub use snapshot::{TrustSnapshot, TrustStart};
pub use state::{PeerTrust, TrustState, WrongPeer};
pub use trust::{
    CredentialCache, DangerousTrustStore, PackageOutcome, TrustConfig, TrustStore,
    VerifiedCredential,
};
pub use x509::{CertificateAuthority, CertificateIdentity};

/// Security randomness (`SecureRandom`, `SystemRandom`), as [`iomt_schema::rand`] defines it.
pub use iomt_schema::rand;
