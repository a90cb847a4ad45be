//! The crypto-backend seam and the production backend on `ring`.
//!
//! The EDHOC core is generic over [`Backend`] so that a test backend can supply what `ring`
//! cannot: fixed ephemeral X25519 keys (to replay the RFC 9529 traces) and AES-CCM (cipher suite
//! 0). Hashing, HMAC, HKDF-Expand and signature verification have default implementations on
//! `ring` that a backend normally keeps. Signing and public keys are `iomt-identity`'s
//! ([`Signer`](iomt_identity::Signer), [`PublicKey`]).

use alloc::vec::Vec;
use core::fmt;

use iomt_identity::PublicKey;
use iomt_schema::rand::SecureRandom;
use zeroize::Zeroize;

use crate::suite::{AeadAlgorithm, CipherSuite, HASH_LEN, X25519_LEN};

/// A cryptographic primitive failed or is not available in this backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The backend does not implement the algorithm.
    #[error("algorithm not supported by this crypto backend")]
    Unsupported,
    /// Decryption or verification failed, a key was rejected, or randomness was unavailable.
    #[error("cryptographic operation failed")]
    Failed,
}

/// Fixed-size secret bytes, wiped on drop and never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<const N: usize>(pub(crate) [u8; N]);

impl<const N: usize> Secret<N> {
    /// Wraps `bytes`.
    pub fn new(bytes: [u8; N]) -> Self {
        Self(bytes)
    }

    /// The secret bytes.
    pub fn expose(&self) -> &[u8; N] {
        &self.0
    }
}

impl<const N: usize> Drop for Secret<N> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl<const N: usize> fmt::Debug for Secret<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret<{N}>(..)")
    }
}

/// The cryptography EDHOC needs, for the suites a backend supports.
///
/// All known suites use SHA-256 and X25519; the AEAD varies.
pub trait Backend {
    /// An ephemeral X25519 private key. It may be used for several agreements: the initiator
    /// tries every message_2 that arrives for its message_1 with the same key, so bytes that
    /// fail to authenticate cost it nothing it needs.
    type Ephemeral;

    /// Whether the backend can run a handshake with `suite`.
    fn supports(&self, suite: CipherSuite) -> bool;

    /// Generates an ephemeral X25519 key pair; returns the private key and the public key.
    fn ephemeral(
        &self,
        rng: &dyn SecureRandom,
    ) -> Result<(Self::Ephemeral, [u8; X25519_LEN]), CryptoError>;

    /// X25519 with the peer's public key. Fails for a key of the wrong length and for a
    /// non-contributory result (an all-zero shared secret, RFC 7748 section 6.1).
    fn agree(
        &self,
        private: &Self::Ephemeral,
        peer_public: &[u8],
    ) -> Result<Secret<X25519_LEN>, CryptoError>;

    /// AEAD encryption in place: `in_out` holds the plaintext and receives ciphertext || tag.
    fn seal(
        &self,
        alg: AeadAlgorithm,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        in_out: &mut Vec<u8>,
    ) -> Result<(), CryptoError>;

    /// AEAD decryption in place: `in_out` holds ciphertext || tag and is left with the plaintext.
    fn open(
        &self,
        alg: AeadAlgorithm,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        in_out: &mut Vec<u8>,
    ) -> Result<(), CryptoError>;

    /// SHA-256 over the concatenation of `parts`.
    fn sha256(&self, parts: &[&[u8]]) -> [u8; HASH_LEN] {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        parts.iter().for_each(|p| ctx.update(p));
        let mut out = [0; HASH_LEN];
        out.copy_from_slice(ctx.finish().as_ref());
        out
    }

    /// HMAC-SHA-256, which is HKDF-Extract with `key` as salt (RFC 5869 section 2.2).
    fn hmac_sha256(&self, key: &[u8], data: &[u8]) -> Secret<HASH_LEN> {
        let tag = ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key), data);
        let mut out = [0; HASH_LEN];
        out.copy_from_slice(tag.as_ref());
        Secret(out)
    }

    /// HKDF-Expand with SHA-256 (RFC 5869 section 2.3), filling `out`.
    fn hkdf_expand(
        &self,
        prk: &[u8; HASH_LEN],
        info: &[u8],
        out: &mut [u8],
    ) -> Result<(), CryptoError> {
        struct Len(usize);
        impl ring::hkdf::KeyType for Len {
            fn len(&self) -> usize {
                self.0
            }
        }
        let prk = ring::hkdf::Prk::new_less_safe(ring::hkdf::HKDF_SHA256, prk);
        let info = [info];
        let okm = prk
            .expand(&info, Len(out.len()))
            .map_err(|_| CryptoError::Failed)?;
        okm.fill(out).map_err(|_| CryptoError::Failed)
    }

    /// Verifies `signature` over `message` with the peer's key.
    fn verify(&self, key: &PublicKey, message: &[u8], signature: &[u8]) -> Result<(), CryptoError> {
        key.verify(message, signature)
            .map_err(|_| CryptoError::Failed)
    }
}

/// The production backend: cipher suites 4 and 6 on `ring`, with X25519 from `x25519-dalek`.
///
/// `ring`'s X25519 keys are single-use by design (`agree_ephemeral` consumes them). An
/// initiator that must stay able to process the genuine message_2 after a forged one needs a
/// key it can use twice, so the ephemeral keys are `x25519-dalek` `StaticSecret`s drawn from
/// the caller's [`SecureRandom`] and wiped on drop; everything else stays on `ring`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RingBackend;

impl RingBackend {
    pub(crate) fn aead_algorithm(
        alg: AeadAlgorithm,
    ) -> Result<&'static ring::aead::Algorithm, CryptoError> {
        match alg {
            AeadAlgorithm::ChaCha20Poly1305 => Ok(&ring::aead::CHACHA20_POLY1305),
            AeadAlgorithm::Aes128Gcm => Ok(&ring::aead::AES_128_GCM),
            AeadAlgorithm::AesCcm16_64_128 => Err(CryptoError::Unsupported),
        }
    }

    fn key(alg: AeadAlgorithm, key: &[u8]) -> Result<ring::aead::LessSafeKey, CryptoError> {
        let unbound = ring::aead::UnboundKey::new(Self::aead_algorithm(alg)?, key)
            .map_err(|_| CryptoError::Failed)?;
        Ok(ring::aead::LessSafeKey::new(unbound))
    }

    fn nonce(nonce: &[u8]) -> Result<ring::aead::Nonce, CryptoError> {
        ring::aead::Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Failed)
    }
}

impl Backend for RingBackend {
    type Ephemeral = x25519_dalek::StaticSecret;

    fn supports(&self, suite: CipherSuite) -> bool {
        Self::aead_algorithm(suite.aead()).is_ok()
    }

    fn ephemeral(
        &self,
        rng: &dyn SecureRandom,
    ) -> Result<(Self::Ephemeral, [u8; X25519_LEN]), CryptoError> {
        let mut bytes = zeroize::Zeroizing::new([0u8; X25519_LEN]);
        rng.fill(&mut *bytes).map_err(|_| CryptoError::Failed)?;
        let private = x25519_dalek::StaticSecret::from(*bytes);
        let public = x25519_dalek::PublicKey::from(&private).to_bytes();
        Ok((private, public))
    }

    fn agree(
        &self,
        private: &Self::Ephemeral,
        peer_public: &[u8],
    ) -> Result<Secret<X25519_LEN>, CryptoError> {
        x25519_agree(private, peer_public)
    }

    fn seal(
        &self,
        alg: AeadAlgorithm,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        in_out: &mut Vec<u8>,
    ) -> Result<(), CryptoError> {
        Self::key(alg, key)?
            .seal_in_place_append_tag(Self::nonce(nonce)?, ring::aead::Aad::from(aad), in_out)
            .map_err(|_| CryptoError::Failed)
    }

    fn open(
        &self,
        alg: AeadAlgorithm,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        in_out: &mut Vec<u8>,
    ) -> Result<(), CryptoError> {
        let len = Self::key(alg, key)?
            .open_in_place(Self::nonce(nonce)?, ring::aead::Aad::from(aad), in_out)
            .map_err(|_| CryptoError::Failed)?
            .len();
        in_out.truncate(len);
        Ok(())
    }
}

/// X25519 between a private key and a peer's 32-byte public key, refusing a non-contributory
/// (all-zero) result.
pub(crate) fn x25519_agree(
    private: &x25519_dalek::StaticSecret,
    peer_public: &[u8],
) -> Result<Secret<X25519_LEN>, CryptoError> {
    let peer = <[u8; X25519_LEN]>::try_from(peer_public).map_err(|_| CryptoError::Failed)?;
    let shared = private.diffie_hellman(&x25519_dalek::PublicKey::from(peer));
    if !shared.was_contributory() {
        return Err(CryptoError::Failed);
    }
    Ok(Secret(shared.to_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hkdf_rfc5869_case_1() {
        let b = RingBackend;
        let ikm = [0x0b; 22];
        let salt: Vec<u8> = (0..=0x0c).collect();
        let info: Vec<u8> = (0xf0..=0xf9).collect();
        let prk = b.hmac_sha256(&salt, &ikm);
        assert_eq!(
            prk.expose()[..4],
            [0x07, 0x77, 0x09, 0x36],
            "PRK from RFC 5869 A.1"
        );
        let mut okm = [0; 42];
        b.hkdf_expand(prk.expose(), &info, &mut okm).unwrap();
        assert_eq!(okm[..6], [0x3c, 0xb2, 0x5f, 0x25, 0xfa, 0xac]);
        assert_eq!(okm[36..], [0xd5, 0xb8, 0x87, 0x18, 0x58, 0x65][..]);
        // HKDF-Expand is limited to 255 hash lengths.
        let mut too_long = vec![0; 255 * 32 + 1];
        assert_eq!(
            b.hkdf_expand(prk.expose(), &info, &mut too_long),
            Err(CryptoError::Failed)
        );
    }

    #[test]
    fn ring_aead_round_trip_and_ccm_unsupported() {
        let b = RingBackend;
        for alg in [AeadAlgorithm::ChaCha20Poly1305, AeadAlgorithm::Aes128Gcm] {
            let key = vec![7; alg.key_len()];
            let nonce = [1; 12];
            let mut buf = b"hello".to_vec();
            b.seal(alg, &key, &nonce, b"aad", &mut buf).unwrap();
            assert_eq!(buf.len(), 5 + alg.tag_len());
            let mut bad = buf.clone();
            assert_eq!(
                b.open(alg, &key, &nonce, b"aaX", &mut bad),
                Err(CryptoError::Failed)
            );
            b.open(alg, &key, &nonce, b"aad", &mut buf).unwrap();
            assert_eq!(buf, b"hello");
        }
        let mut buf = Vec::new();
        assert_eq!(
            b.seal(
                AeadAlgorithm::AesCcm16_64_128,
                &[0; 16],
                &[0; 13],
                &[],
                &mut buf
            ),
            Err(CryptoError::Unsupported)
        );
        assert!(!b.supports(CipherSuite::Suite0));
        assert!(b.supports(CipherSuite::Suite4) && b.supports(CipherSuite::Suite6));
    }

    #[test]
    fn signatures_verify_through_backend() {
        let rng = ring::rand::SystemRandom::new();
        for suite in [CipherSuite::Suite4, CipherSuite::Suite6] {
            let signer = iomt_identity::SoftwareKey::generate(suite.signature(), &rng).unwrap();
            let sig = signer.sign(b"msg").unwrap();
            let key = signer.public_key();
            RingBackend.verify(&key, b"msg", sig.as_bytes()).unwrap();
            assert_eq!(
                RingBackend.verify(&key, b"msh", sig.as_bytes()),
                Err(CryptoError::Failed)
            );
        }
    }

    #[test]
    fn x25519_agreement_matches() {
        let rng = ring::rand::SystemRandom::new();
        let (a, pa) = RingBackend.ephemeral(&rng).unwrap();
        let (b, pb) = RingBackend.ephemeral(&rng).unwrap();
        let s1 = RingBackend.agree(&a, &pb).unwrap();
        let s2 = RingBackend.agree(&b, &pa).unwrap();
        assert_eq!(s1, s2);
        assert_eq!(
            RingBackend.agree(&a, &pb).unwrap(),
            s1,
            "an ephemeral key agrees again after a first use"
        );
        let (c, _) = RingBackend.ephemeral(&rng).unwrap();
        assert_eq!(
            RingBackend.agree(&c, &[9; 31]).map(|_| ()),
            Err(CryptoError::Failed)
        );
        assert_eq!(
            RingBackend.agree(&c, &[0; 32]).map(|_| ()),
            Err(CryptoError::Failed),
            "an all-zero shared secret is refused"
        );
        assert_eq!(format!("{s1:?}"), "Secret<32>(..)");
    }
}
