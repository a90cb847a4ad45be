//! Device keys: algorithms, public keys, signatures and the [`Signer`] trait.
//!
//! Two algorithms, both through `ring`, because EDHOC (RFC 9528) cipher suite 4 signs with
//! EdDSA (Ed25519, COSE alg -8) and suite 6 with ES256 (ECDSA P-256 with SHA-256, COSE alg -7).
//! Both produce 64-byte signatures: Ed25519 natively, ES256 in the fixed `r || s` form that
//! COSE uses (RFC 9053 section 2.1).
//!
//! The private half lives behind [`Signer`], so a secure element or a TPM can hold it;
//! [`SoftwareKey`] is the in-memory implementation (PKCS#8 in and out, zeroized on drop).

use core::fmt;

use iomt_schema::rand::SecureRandom;
use iomt_schema::{DeviceId, ShortId};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};
use zeroize::Zeroizing;

use crate::error::{KeyError, SignError};

/// A signature algorithm the workspace signs and verifies with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Algorithm {
    /// EdDSA over Ed25519 (RFC 8032); COSE alg -8; EDHOC cipher suites 0, 1 and 4.
    Ed25519,
    /// ECDSA over P-256 with SHA-256; COSE alg -7 (ES256); EDHOC cipher suites 2, 3 and 6.
    EcdsaP256,
}

impl Algorithm {
    /// The COSE algorithm identifier (RFC 9053): -8 for EdDSA, -7 for ES256.
    pub const fn cose(self) -> i64 {
        match self {
            Self::Ed25519 => -8,
            Self::EcdsaP256 => -7,
        }
    }

    /// The algorithm with this COSE identifier, if supported.
    pub const fn from_cose(alg: i64) -> Option<Self> {
        match alg {
            -8 => Some(Self::Ed25519),
            -7 => Some(Self::EcdsaP256),
            _ => None,
        }
    }
}

/// A public key: Ed25519 (32 bytes) or P-256 (65-byte uncompressed SEC1 point).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum PublicKey {
    /// An Ed25519 public key (RFC 8032 encoding).
    Ed25519([u8; 32]),
    /// A P-256 public key as an uncompressed point, `0x04 || x || y`.
    EcdsaP256([u8; 65]),
}

impl PublicKey {
    /// Wraps raw public key bytes: 32 for Ed25519, 65 (uncompressed, `0x04 || x || y`) for P-256.
    ///
    /// Only the length and the point format are checked here; `ring` rejects a point that is
    /// not on the curve (or an Ed25519 encoding that is not canonical) when verifying.
    pub fn from_bytes(alg: Algorithm, bytes: &[u8]) -> Result<Self, KeyError> {
        let bad = KeyError::BadPublicKey {
            algorithm: alg,
            len: bytes.len(),
        };
        match alg {
            Algorithm::Ed25519 => <[u8; 32]>::try_from(bytes)
                .map(Self::Ed25519)
                .map_err(|_| bad),
            Algorithm::EcdsaP256 => match <[u8; 65]>::try_from(bytes) {
                Ok(point @ [0x04, ..]) => Ok(Self::EcdsaP256(point)),
                _ => Err(bad),
            },
        }
    }

    /// The key's algorithm.
    pub const fn algorithm(&self) -> Algorithm {
        match self {
            Self::Ed25519(_) => Algorithm::Ed25519,
            Self::EcdsaP256(_) => Algorithm::EcdsaP256,
        }
    }

    /// The raw key bytes (see the variants for the encoding).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Ed25519(b) => b,
            Self::EcdsaP256(b) => b,
        }
    }

    /// The device identity this key names: the first 16 bytes of SHA-256 over
    /// [`as_bytes`](Self::as_bytes).
    pub fn device_id(&self) -> DeviceId {
        let digest = ring::digest::digest(&ring::digest::SHA256, self.as_bytes());
        let mut id = [0u8; 16];
        id.copy_from_slice(digest.as_ref().get(..16).unwrap_or(&[0; 16]));
        DeviceId::from_bytes(id)
    }

    /// The short form of [`device_id`](Self::device_id): its first 8 bytes. Used as the COSE
    /// `kid` of everything this key signs, and as EDHOC's `ID_CRED_x` by reference.
    pub fn short_id(&self) -> ShortId {
        self.device_id().short()
    }

    /// SHA-256 over the algorithm's COSE identifier (one byte, two's complement) followed by
    /// the key bytes: what an attestation result binds to.
    pub fn thumbprint(&self) -> [u8; 32] {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        ctx.update(
            &i8::try_from(self.algorithm().cose())
                .unwrap_or(0)
                .to_be_bytes(),
        );
        ctx.update(self.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        out
    }

    /// Verifies `signature` over `message` (64 bytes for both algorithms).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), BadSignature> {
        let alg: &dyn signature::VerificationAlgorithm = match self {
            Self::Ed25519(_) => &signature::ED25519,
            Self::EcdsaP256(_) => &signature::ECDSA_P256_SHA256_FIXED,
        };
        signature::UnparsedPublicKey::new(alg, self.as_bytes())
            .verify(message, signature)
            .map_err(|_| BadSignature)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({:?}, ", self.algorithm())?;
        self.as_bytes()
            .iter()
            .try_for_each(|b| write!(f, "{b:02x}"))?;
        f.write_str(")")
    }
}

/// A signature failed to verify (or was malformed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("signature verification failed")]
pub struct BadSignature;

/// A 64-byte signature: Ed25519, or ES256 as `r || s` (COSE's form).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; 64]);

impl Signature {
    /// The signature bytes.
    pub const fn as_bytes(&self) -> &[u8; 64] {
        &self.0
    }

    /// The signature in ASN.1 DER form (`ECDSA-Sig-Value`), as X.509 and TLS carry ES256.
    /// Ed25519 signatures are returned unchanged.
    pub fn to_der_if_ecdsa(&self, alg: Algorithm) -> Vec<u8> {
        match alg {
            Algorithm::Ed25519 => self.0.to_vec(),
            Algorithm::EcdsaP256 => {
                let (r, s) = self.0.split_at(32);
                let r = der_positive_integer(r);
                let s = der_positive_integer(s);
                let mut out = Vec::with_capacity(2 + r.len() + s.len());
                out.push(0x30);
                // Two INTEGERs of at most 35 bytes each: the length fits in one byte.
                out.push(u8::try_from(r.len() + s.len()).unwrap_or(0));
                out.extend_from_slice(&r);
                out.extend_from_slice(&s);
                out
            }
        }
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Signature(")?;
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))?;
        f.write_str(")")
    }
}

/// DER INTEGER for a non-negative big-endian magnitude.
fn der_positive_integer(magnitude: &[u8]) -> Vec<u8> {
    let start = magnitude
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(magnitude.len().saturating_sub(1));
    let digits = magnitude.get(start..).unwrap_or(&[0]);
    let pad = digits.first().is_some_and(|b| b & 0x80 != 0);
    let len = digits.len() + usize::from(pad);
    let mut out = Vec::with_capacity(2 + len);
    out.push(0x02);
    out.push(u8::try_from(len).unwrap_or(0));
    if pad {
        out.push(0);
    }
    out.extend_from_slice(digits);
    out
}

/// Something that holds a private key and signs with it: [`SoftwareKey`] in memory, or a
/// secure element, TPM or HSM behind an implementation of this trait.
///
/// `sign` returns the 64-byte form for both algorithms (see [`Signature`]).
pub trait Signer: Send + Sync {
    /// The public half.
    fn public_key(&self) -> PublicKey;

    /// Signs `message`.
    fn sign(&self, message: &[u8]) -> Result<Signature, SignError>;
}

impl<S: Signer + ?Sized> Signer for &S {
    fn public_key(&self) -> PublicKey {
        (**self).public_key()
    }
    fn sign(&self, message: &[u8]) -> Result<Signature, SignError> {
        (**self).sign(message)
    }
}

impl<S: Signer + ?Sized> Signer for std::sync::Arc<S> {
    fn public_key(&self) -> PublicKey {
        (**self).public_key()
    }
    fn sign(&self, message: &[u8]) -> Result<Signature, SignError> {
        (**self).sign(message)
    }
}

impl<S: Signer + ?Sized> Signer for Box<S> {
    fn public_key(&self) -> PublicKey {
        (**self).public_key()
    }
    fn sign(&self, message: &[u8]) -> Result<Signature, SignError> {
        (**self).sign(message)
    }
}

/// A private key held in memory, loaded from or saved as PKCS#8.
///
/// The PKCS#8 document is kept (for [`to_pkcs8`](Self::to_pkcs8)) in a buffer that is zeroized
/// on drop, and `Debug` prints only the public half. [`generate`](Self::generate) makes an
/// Ed25519 seed and its PKCS#8 document only in zeroizing buffers. What `ring` holds is out of
/// reach: its key schedule does not zeroize its copy, and the P-256 document `ring` generates
/// cannot be wiped (it grants no mutable access), so its bytes are copied into the zeroizing
/// buffer at once and the original dropped. A deployment that needs the guarantee keeps the
/// key in hardware behind [`Signer`].
pub struct SoftwareKey {
    inner: Inner,
    public: PublicKey,
    pkcs8: Zeroizing<Vec<u8>>,
}

enum Inner {
    Ed25519(Ed25519KeyPair),
    // ECDSA signing needs fresh randomness for every signature (ring mixes it into the nonce).
    EcdsaP256(EcdsaKeyPair, SystemRandom),
}

/// RFC 8410 PKCS#8 v1 prefix for an Ed25519 private key: the 32-byte seed follows.
const ED25519_PKCS8_V1_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

impl SoftwareKey {
    /// Generates a new key. An Ed25519 key's 32-byte seed comes from `rng` (so a
    /// `SeededRandom` from `iomt_schema::rand` makes the same key again) and its
    /// PKCS#8 document is the RFC 8410 v1 form (seed only), as
    /// [`from_ed25519_seed`](Self::from_ed25519_seed) makes it. A P-256 key comes from the
    /// operating system's generator whatever `rng` is: `ring` makes P-256 keys only from its
    /// own.
    pub fn generate(alg: Algorithm, rng: &dyn SecureRandom) -> Result<Self, KeyError> {
        match alg {
            Algorithm::Ed25519 => {
                // ring's own Ed25519 generator returns its document in a buffer nobody can
                // wipe; drawing the seed here keeps every copy in a zeroizing buffer.
                let mut seed = Zeroizing::new([0u8; 32]);
                rng.fill(seed.as_mut()).map_err(|_| KeyError::Generate)?;
                Self::from_ed25519_seed(&seed)
            }
            Algorithm::EcdsaP256 => {
                let system = SystemRandom::new();
                let doc = EcdsaKeyPair::generate_pkcs8(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    &system,
                )
                .map_err(|_| KeyError::Generate)?;
                Self::from_pkcs8(doc.as_ref())
            }
        }
    }

    /// Loads a PKCS#8 document (RFC 5958): Ed25519 (v1 or v2) or P-256. ECDSA signing draws
    /// its randomness from the operating system's generator.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, KeyError> {
        let rng = SystemRandom::new();
        let inner = if let Ok(pair) = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der) {
            Inner::Ed25519(pair)
        } else {
            let pair =
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng)
                    .map_err(|_| KeyError::BadPkcs8)?;
            Inner::EcdsaP256(pair, rng)
        };
        let public = match &inner {
            Inner::Ed25519(pair) => {
                PublicKey::from_bytes(Algorithm::Ed25519, pair.public_key().as_ref())
            }
            Inner::EcdsaP256(pair, _) => {
                PublicKey::from_bytes(Algorithm::EcdsaP256, pair.public_key().as_ref())
            }
        }?;
        Ok(Self {
            inner,
            public,
            pkcs8: Zeroizing::new(der.to_vec()),
        })
    }

    /// An Ed25519 key from its 32-byte seed (RFC 8032's "secret key"), for test vectors and
    /// for importing keys provisioned elsewhere.
    pub fn from_ed25519_seed(seed: &[u8; 32]) -> Result<Self, KeyError> {
        let mut der = Zeroizing::new(Vec::with_capacity(48));
        der.extend_from_slice(&ED25519_PKCS8_V1_PREFIX);
        der.extend_from_slice(seed);
        let pair =
            Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der).map_err(|_| KeyError::BadPkcs8)?;
        let public = PublicKey::from_bytes(Algorithm::Ed25519, pair.public_key().as_ref())?;
        Ok(Self {
            inner: Inner::Ed25519(pair),
            public,
            pkcs8: der,
        })
    }

    /// The PKCS#8 document, for storage; zeroized when dropped.
    pub fn to_pkcs8(&self) -> Zeroizing<Vec<u8>> {
        self.pkcs8.clone()
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.public.algorithm()
    }

    /// The public half (also [`Signer::public_key`], callable without importing the trait).
    pub fn public_key(&self) -> PublicKey {
        self.public
    }

    /// Signs `message` (also [`Signer::sign`], callable without importing the trait). ECDSA
    /// draws its randomness from the system generator the key holds.
    pub fn sign(&self, message: &[u8]) -> Result<Signature, SignError> {
        let mut out = [0u8; 64];
        match &self.inner {
            Inner::Ed25519(pair) => out.copy_from_slice(pair.sign(message).as_ref()),
            Inner::EcdsaP256(pair, rng) => {
                let sig = pair.sign(rng, message).map_err(|_| SignError::Failed)?;
                let bytes: &[u8] = sig.as_ref();
                if bytes.len() != 64 {
                    return Err(SignError::Failed);
                }
                out.copy_from_slice(bytes);
            }
        }
        Ok(Signature(out))
    }
}

impl Signer for SoftwareKey {
    fn public_key(&self) -> PublicKey {
        self.public
    }

    fn sign(&self, message: &[u8]) -> Result<Signature, SignError> {
        SoftwareKey::sign(self, message)
    }
}

impl fmt::Debug for SoftwareKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoftwareKey")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}
