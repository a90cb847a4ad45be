//! Sans-IO secure sessions for the IoMT, on one identity model for both kinds of link: EDHOC
//! (RFC 9528, method 0, signatures on both sides) and a compact datagram record layer for
//! narrow, lossy radio links; TLS 1.3 on rustls for IP backhaul.
//!
//! - [`Endpoint`] runs many sessions over one datagram channel: feed it datagrams and time,
//!   drain events, datagrams to send and the next timer. [`Endpoint::connect`] names the
//!   device it wants, and only that device completes the handshake; every [`Event`] about a
//!   session carries the peer's verified [`DeviceId`](iomt_schema::DeviceId). New initiators
//!   surface as an [`Incoming`] that the application accepts or refuses before any state
//!   exists; under load a message_1 must first return a stateless cookie; pending handshakes
//!   are bounded per address and in all; the initiator retransmits with exponential backoff
//!   and the responder answers duplicates idempotently; bytes that do not authenticate and
//!   EDHOC error messages never end a handshake (code 3 both ways: an unknown credential
//!   reference is answered, and the credential then travels by value).
//! - [`Initiator`] and [`Responder`] are the bare EDHOC state machines, generic over a crypto
//!   [`Backend`]. [`RingBackend`] provides cipher suites 4 (ChaCha20-Poly1305, X25519,
//!   EdDSA) and 6 (AES-128-GCM, X25519, ES256); the RFC 9529 traces are reproduced value by
//!   value with a test backend.
//! - [`Credentials`] is the seam to credentials and policy: it resolves the peer's ID_CRED_x
//!   (by reference or by value) to CRED_x and a key without deciding anything, and once the
//!   peer's signature verified with that key, admits or refuses it ([`Refusal`]) from its
//!   credential, its EAD items and the [`HandshakeNonce`]. [`IdentityCredentials`] fills it with `iomt-identity`:
//!   compact CWT credentials by `kid` (from a bounded cache of verified credentials) or by
//!   value, verified through the [`TrustStore`](iomt_identity::TrustStore); attestation
//!   results and evidence bound to the handshake nonce in EAD ([`EAD_ATTESTATION_RESULT`],
//!   [`EAD_EVIDENCE`], [`EAD_EVIDENCE_REQUEST`]). [`StaticCredentials`] is a fixed table for
//!   tests and closed deployments.
//! - [`RecordLayer`] protects datagrams with 23 bytes of overhead, 4-byte random connection
//!   identifiers, a 1024-record replay window updated only after authentication,
//!   per-direction key updates before the AEAD limits, on a time budget or when the peer asks,
//!   and integrity limits per key: records that fail to authenticate make the receiver ask for
//!   a new key, never end the session.
//! - `tls` (feature `rustls`): rustls 0.23 client and server configurations, TLS 1.3 only,
//!   mutual authentication through the `iomt-identity` verifiers and rotating short-lived
//!   certificates.
//! - [`post_handshake`]: attestation after the handshake, bound to the session by its
//!   exporter: on TLS backhaul, and on EDHOC sessions to re-attest a peer in place
//!   ([`EdhocBinding`]).
//!
//! ```
//! use std::sync::Arc;
//! use iomt_identity::SoftwareKey;
//! use iomt_schema::Instant;
//! use iomt_transport::*;
//!
//! let rng = Arc::new(iomt_transport::rand::SystemRandom::new());
//! let suite = CipherSuite::Suite4;
//! let (mut alice_creds, mut bob_creds) = (StaticCredentials::new(), StaticCredentials::new());
//! let alice_key = SoftwareKey::generate(suite.signature(), &*rng)?;
//! let (id, cred) = alice_creds.add_local_kid(suite, b"A", alice_key);
//! bob_creds.add_peer(id, cred);
//! let bob_key = SoftwareKey::generate(suite.signature(), &*rng)?;
//! let bob_device = bob_key.public_key().device_id();
//! let (id, cred) = bob_creds.add_local_kid(suite, b"B", bob_key);
//! alice_creds.add_peer(id, cred);
//!
//! let config = EndpointConfig::default();
//! let mut alice = Endpoint::new(config.clone(), Arc::new(alice_creds), rng.clone());
//! let mut bob = Endpoint::new(config, Arc::new(bob_creds), rng);
//! let now = Instant::ZERO;
//! // Alice wants Bob, the device holding Bob's key, at the address "bob".
//! let session = alice.connect(now, "bob", bob_device)?;
//!
//! // Shuttle datagrams until both sides are connected.
//! let mut buf = Vec::new();
//! for _ in 0..4 {
//!     while let Some(t) = alice.poll_transmit(now, &mut buf) {
//!         if let Some(incoming) = bob.handle_input(now, "alice", &buf[..t.len])? {
//!             bob.accept(now, incoming)?;
//!         }
//!     }
//!     while let Some(t) = bob.poll_transmit(now, &mut buf) {
//!         let _ = alice.handle_input(now, "bob", &buf[..t.len]);
//!     }
//! }
//! assert!(matches!(bob.poll_event(), Some(Event::Connected { .. })));
//!
//! alice.send(now, session, b"contact, grid 4512")?;
//! let t = alice.poll_transmit(now, &mut buf).expect("a record");
//! assert!(t.len <= b"contact, grid 4512".len() + MAX_OVERHEAD);
//! bob.handle_input(now, "alice", &buf[..t.len])?;
//! let Some(Event::Received { data, peer, .. }) = bob.poll_event() else { panic!("data") };
//! assert_eq!(data, b"contact, grid 4512");
//! assert_ne!(peer, bob_device, "the verified sender: Alice");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What it does not do
//!
//! No sockets, clock or threads: time and randomness are passed in, and the TLS
//! configurations read time from the provider they are given; the application moves the
//! bytes. No EDHOC methods 1 to 3 (static DH), no P-256 key exchange (suites 2, 3, 5), no
//! message_1 fragmentation. Records are not retransmitted or ordered (that is the
//! application's or the mesh's). No trust decision of its own: the [`Credentials`]
//! implementation decides (with [`IdentityCredentials`], `iomt-identity` does), and the
//! handshake proves possession of the keys it names. It does not decide when to re-attest or
//! re-key a long session; the application does, with the verified peer it is given.

#![forbid(unsafe_code)]

extern crate alloc;

mod conn_id;
mod credential;
mod crypto;
mod datagram;
mod ead;
mod endpoint;
mod error;
mod handshake;
pub mod identity;
mod message;
pub mod post_handshake;
mod record;
mod replay;
mod schedule;
mod static_credentials;
mod suite;

#[cfg(fuzzing)]
pub mod fuzzing;
#[cfg(test)]
mod tests;
#[cfg(feature = "rustls")]
pub mod tls;

pub use conn_id::{ConnId, MAX_CONN_ID_LEN};
pub use credential::{
    AttestationRefusal, CredentialForm, Credentials, EadRequest, EadSlot, HandshakeNonce,
    HandshakeRole, IdCred, LocalCredential, MAX_KID_LEN, PeerCandidate, PeerCredential, Refusal,
};
pub use crypto::{Backend, CryptoError, RingBackend, Secret};
pub use datagram::COOKIE_LEN;
pub use datagram::DatagramError;
pub use ead::{EadItem, MAX_EAD_ITEMS};
pub use endpoint::{
    CloseReason, EAD_CREDENTIAL_REQUEST, Endpoint, EndpointConfig, Event, Incoming, InputError,
    OpenError, Retry, SendError, SessionId, Transmit, TransmitKind,
};
pub use error::{Fault, HandshakeError, MessageKind};
pub use handshake::{
    Completed, Initiator, InitiatorAwaitingMessage4, Message2Failure, PeerInfo, Responder,
    check_message_1,
};
pub use identity::{
    Attester, DEFAULT_CACHE_CAPACITY, EAD_ATTESTATION_RESULT, EAD_EVIDENCE, EAD_EVIDENCE_REQUEST,
    IdentityCredentials, SetupError, VerifiedPeer, WallClock,
};
pub use message::{
    ErrorMessage, MAX_ERROR_TEXT, MAX_SUITES, METHOD_SIGN_SIGN, Message1, Plaintext2, Plaintext3,
    Suites, decode_single_bstr, encode_single_bstr,
};
pub use post_handshake::{
    BackhaulPolicy, EdhocBinding, PostHandshakeAttester, PostHandshakeVerifier,
};
pub use record::{
    CONN_ID_LEN, EXPORTER_LABEL_I2R, EXPORTER_LABEL_R2I, KDF_LABEL_IV, KDF_LABEL_KEY,
    MAX_HEADER_LEN, MAX_OVERHEAD, MAX_SEQUENCE, RecordConfig, RecordError, RecordHeader,
    RecordLayer, RecordStats, TAG_LEN,
};
pub use replay::{ReplayError, ReplayWindow, WINDOW};
pub use schedule::SessionSecret;
pub use static_credentials::{StaticCredentials, raw_public_key_ccs};
pub use suite::{AeadAlgorithm, CipherSuite, HASH_LEN, X25519_LEN};

/// Security randomness (`SecureRandom`, `SystemRandom`), as [`iomt_schema::rand`] defines it.
pub use iomt_schema::rand;
