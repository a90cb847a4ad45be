//! Handshake errors, classed by fault, and the EDHOC error message each one is answered with.

use core::fmt;

use iomt_identity::SignError;
use iomt_identity::cbor::CborError;
use iomt_schema::DeviceId;

use crate::credential::Refusal;
use crate::crypto::CryptoError;
use crate::message::ErrorMessage;

/// Which EDHOC message an error concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// message_1.
    Message1,
    /// message_2.
    Message2,
    /// message_3.
    Message3,
    /// message_4.
    Message4,
    /// An EDHOC error message.
    Error,
}

impl fmt::Display for MessageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Message1 => "message_1",
            Self::Message2 => "message_2",
            Self::Message3 => "message_3",
            Self::Message4 => "message_4",
            Self::Error => "error message",
        })
    }
}

/// Who is to blame for an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// The peer (or someone on the path) sent bytes that do not parse or authenticate.
    Peer,
    /// The peer is well-formed but not acceptable: suites, credential, EAD, or it said no.
    Policy,
    /// Our own configuration or crypto failed.
    Local,
}

/// Why an EDHOC handshake step failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// A message does not parse.
    #[error("malformed {message}: {error}")]
    Malformed {
        /// The message.
        message: MessageKind,
        /// What was wrong.
        #[source]
        error: CborError,
    },
    /// message_1 asks for a method other than 0.
    #[error("unsupported EDHOC method {0}")]
    UnsupportedMethod(i64),
    /// The selected cipher suite is unsupported, or a suite the initiator prefers is supported.
    #[error("selected cipher suite {selected} is not acceptable")]
    WrongSuite {
        /// The suite the initiator selected.
        selected: i64,
    },
    /// An ephemeral public key has the wrong length, or key agreement with it failed.
    #[error("bad ephemeral public key")]
    BadEphemeralKey,
    /// message_3 or message_4 does not decrypt.
    #[error("{message} does not decrypt")]
    DecryptFailed {
        /// The message.
        message: MessageKind,
    },
    /// The peer's Signature_or_MAC does not verify.
    #[error("the peer's signature does not verify")]
    BadSignature,
    /// The key the peer's credential names does not use the suite's signature algorithm.
    #[error("the peer's key does not match the suite's signature algorithm")]
    KeyAlgorithmMismatch,
    /// The credential the peer names could not be resolved (a value that does not decode,
    /// for instance). Found before the peer's signature is checked, so it may be forged.
    #[error("the peer's credential could not be resolved: {0}")]
    Unresolved(Refusal),
    /// Our verifier refused the peer.
    #[error("our verifier refused the peer: {0}")]
    Refused(Refusal),
    /// The peer authenticated, but as another device than the one this handshake was started
    /// for (a relay answering in its place, or a misdirected message_1).
    #[error("the peer authenticated as {found}, not as the expected {expected}")]
    UnexpectedPeer {
        /// The device the initiator asked for.
        expected: DeviceId,
        /// The device whose key signed message_2.
        found: DeviceId,
    },
    /// The peer sent a critical EAD item we do not understand.
    #[error("unknown critical EAD item {label}")]
    CriticalEad {
        /// The item's label.
        label: u64,
    },
    /// The peer sent an EDHOC error message.
    #[error("the peer sent EDHOC error code {}", .0.code())]
    PeerError(ErrorMessage),
    /// We have no credential for the selected suite.
    #[error("no local credential for the selected cipher suite")]
    NoCredential,
    /// A local cryptographic operation failed.
    #[error("local crypto failure: {0}")]
    Crypto(CryptoError),
    /// Our signing key could not sign (a secure element absent or locked, for instance).
    #[error("our signing key could not sign: {0}")]
    Sign(SignError),
}

impl HandshakeError {
    /// Who is to blame.
    pub fn fault(&self) -> Fault {
        match self {
            Self::Malformed { .. }
            | Self::BadEphemeralKey
            | Self::DecryptFailed { .. }
            | Self::BadSignature
            | Self::KeyAlgorithmMismatch
            | Self::Unresolved(_) => Fault::Peer,
            Self::UnsupportedMethod(_)
            | Self::WrongSuite { .. }
            | Self::Refused(_)
            | Self::UnexpectedPeer { .. }
            | Self::CriticalEad { .. }
            | Self::PeerError(_) => Fault::Policy,
            Self::NoCredential | Self::Crypto(_) | Self::Sign(_) => Fault::Local,
        }
    }

    /// Whether the handshake must end. Bytes that fail to parse or authenticate are not
    /// fatal: on a radio link they are indistinguishable from corruption or injection, so
    /// they are dropped and the genuine message can still arrive. Every [`Fault::Policy`]
    /// error but a refused reference ([`Refusal::UnknownCredential`], answered so that the
    /// peer retries by value) is found after the peer's signature verified.
    pub fn is_fatal(&self) -> bool {
        self.fault() != Fault::Peer
    }

    /// The EDHOC error message to answer a fatal error with (code 2 is built by the caller,
    /// which knows SUITES_R). Diagnostics stay generic: they never describe secrets.
    pub(crate) fn reply(&self) -> Option<ErrorMessage> {
        match self {
            Self::Refused(Refusal::UnknownCredential) => Some(ErrorMessage::UnknownCredential),
            Self::UnsupportedMethod(_) => {
                Some(ErrorMessage::Unspecified("unsupported method".into()))
            }
            Self::Refused(_) | Self::UnexpectedPeer { .. } => {
                Some(ErrorMessage::Unspecified("authentication refused".into()))
            }
            Self::CriticalEad { .. } => {
                Some(ErrorMessage::Unspecified("unsupported critical EAD".into()))
            }
            Self::NoCredential | Self::Crypto(_) | Self::Sign(_) => {
                Some(ErrorMessage::Unspecified("internal error".into()))
            }
            _ => None,
        }
    }
}

impl From<CryptoError> for HandshakeError {
    fn from(e: CryptoError) -> Self {
        Self::Crypto(e)
    }
}

impl From<SignError> for HandshakeError {
    fn from(e: SignError) -> Self {
        Self::Sign(e)
    }
}

/// Shorthand for a parse failure of `message`.
pub(crate) fn malformed(message: MessageKind) -> impl Fn(CborError) -> HandshakeError {
    move |error| HandshakeError::Malformed { message, error }
}
