//! EDHOC cipher suites (RFC 9528 section 3.6) and the algorithms they name.

use iomt_identity::Algorithm;

/// The AEAD algorithm of a cipher suite (used both for EDHOC and for the application).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AeadAlgorithm {
    /// AES-CCM-16-64-128 (COSE 10): 16-byte key, 13-byte nonce, 8-byte tag.
    AesCcm16_64_128,
    /// ChaCha20/Poly1305 (COSE 24): 32-byte key, 12-byte nonce, 16-byte tag.
    ChaCha20Poly1305,
    /// A128GCM (COSE 1): 16-byte key, 12-byte nonce, 16-byte tag.
    Aes128Gcm,
}

impl AeadAlgorithm {
    /// Key length in bytes.
    pub const fn key_len(self) -> usize {
        match self {
            Self::AesCcm16_64_128 | Self::Aes128Gcm => 16,
            Self::ChaCha20Poly1305 => 32,
        }
    }

    /// Nonce (IV) length in bytes.
    pub const fn nonce_len(self) -> usize {
        match self {
            Self::AesCcm16_64_128 => 13,
            Self::ChaCha20Poly1305 | Self::Aes128Gcm => 12,
        }
    }

    /// Authentication tag length in bytes.
    pub const fn tag_len(self) -> usize {
        match self {
            Self::AesCcm16_64_128 => 8,
            Self::ChaCha20Poly1305 | Self::Aes128Gcm => 16,
        }
    }
}

/// An EDHOC cipher suite this crate knows.
///
/// Every known suite uses SHA-256 as EDHOC hash and X25519 as key exchange, which is why the
/// key schedule is fixed to SHA-256 (32-byte hashes and PRKs). Which suites a handshake can use
/// depends on the crypto backend: the production [`RingBackend`](crate::RingBackend) does 4
/// and 6; suite 0 (AES-CCM) exists to reproduce the RFC 9529 traces with a test backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CipherSuite {
    /// Suite 0: AES-CCM-16-64-128, SHA-256, 8, X25519, EdDSA, AES-CCM-16-64-128, SHA-256.
    Suite0,
    /// Suite 4: ChaCha20/Poly1305, SHA-256, 16, X25519, EdDSA, ChaCha20/Poly1305, SHA-256.
    Suite4,
    /// Suite 6: A128GCM, SHA-256, 16, X25519, ES256, A128GCM, SHA-256.
    Suite6,
}

impl CipherSuite {
    /// The suite's registered number.
    pub const fn id(self) -> i64 {
        match self {
            Self::Suite0 => 0,
            Self::Suite4 => 4,
            Self::Suite6 => 6,
        }
    }

    /// The suite with this registered number, if this crate knows it.
    pub const fn from_id(id: i64) -> Option<Self> {
        match id {
            0 => Some(Self::Suite0),
            4 => Some(Self::Suite4),
            6 => Some(Self::Suite6),
            _ => None,
        }
    }

    /// The EDHOC (and application) AEAD algorithm.
    pub const fn aead(self) -> AeadAlgorithm {
        match self {
            Self::Suite0 => AeadAlgorithm::AesCcm16_64_128,
            Self::Suite4 => AeadAlgorithm::ChaCha20Poly1305,
            Self::Suite6 => AeadAlgorithm::Aes128Gcm,
        }
    }

    /// The signature algorithm: EdDSA with Ed25519 for suites 0 and 4, ES256 for suite 6.
    pub const fn signature(self) -> Algorithm {
        match self {
            Self::Suite0 | Self::Suite4 => Algorithm::Ed25519,
            Self::Suite6 => Algorithm::EcdsaP256,
        }
    }
}

/// Length of the EDHOC hash (SHA-256) and of every PRK, in bytes.
pub const HASH_LEN: usize = 32;

/// Length of an X25519 public key or shared secret, in bytes.
pub const X25519_LEN: usize = 32;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for suite in [
            CipherSuite::Suite0,
            CipherSuite::Suite4,
            CipherSuite::Suite6,
        ] {
            assert_eq!(CipherSuite::from_id(suite.id()), Some(suite));
        }
        assert_eq!(CipherSuite::from_id(2), None);
        assert_eq!(CipherSuite::Suite6.aead().key_len(), 16);
        assert_eq!(CipherSuite::Suite4.aead().key_len(), 32);
        assert_eq!(CipherSuite::Suite0.aead().tag_len(), 8);
    }
}
