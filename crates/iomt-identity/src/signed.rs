//! Signed objects as read from the wire: [`Unverified`] until a signature check yields their
//! claims, through one parse for every kind ([`SignedObject`]).

use core::fmt;

use iomt_schema::ShortId;

use crate::cbor::Reader;
use crate::cose::Sign1;
use crate::credential::Credential;
use crate::error::DecodeError;
use crate::key::{BadSignature, PublicKey};
use crate::package::TrustPackage;

/// One of the kinds of object this crate signs: [`Credential`],
/// [`Evidence`](crate::Evidence), [`AttestationResult`](crate::AttestationResult),
/// [`TrustPackage`] and [`RevocationDelta`](crate::RevocationDelta). Sealed.
pub trait SignedObject: claims::Claims {}

impl<T: claims::Claims> SignedObject for T {}

pub(crate) mod claims {
    use crate::cbor::Reader;
    use crate::error::DecodeError;

    /// What the generic reading needs to know about a kind of signed object.
    pub trait Claims: Sized {
        /// The external AAD its signatures are made with (RFC 9052 section 4.3): one per kind,
        /// so that a signature made for one kind never verifies as another.
        const AAD: &'static [u8];

        /// Reads the claims, checking every rule of their one form but the end of the input.
        fn decode_claims(r: &mut Reader<'_>) -> Result<Self, DecodeError>;

        /// The claims' deterministic encoding (the payload).
        fn encode_claims(&self) -> Vec<u8>;
    }
}

/// A signed object read from bytes, its signature not yet checked.
///
/// Every kind of object this crate signs ([`SignedObject`]: credentials, evidence, attestation
/// results, trust packages, revocation deltas) is read the same way: the COSE_Sign1 envelope
/// in this crate's profile, the claims in their one deterministic form, and the key id of the
/// signer. Nothing read is trusted yet, so the claims are not reachable: they come out of
/// [`verify`](Self::verify), under a key the caller trusts. The stores and the verifier do
/// that for each kind ([`TrustStore::verify_credential`](crate::TrustStore::verify_credential),
/// [`AttestationVerifier::appraise`](crate::AttestationVerifier::appraise), ...); the one field
/// a protocol needs earlier has its own accessor, named for what it is
/// ([`subject_key_unverified`](Self::subject_key_unverified)).
///
/// ```
/// use iomt_identity::*;
/// use iomt_schema::Timestamp;
///
/// let anchor = SoftwareKey::from_ed25519_seed(&[1; 32])?;
/// let delta = RevocationDelta { sequence: 1, entries: vec![] }.sign(&anchor)?;
/// let unverified = Unverified::<RevocationDelta>::decode(&delta)?;
/// // The kid says which key to check with; the key must come from what this side trusts.
/// assert_eq!(unverified.signer(), anchor.public_key().short_id());
/// let delta = unverified.verify(&anchor.public_key())?;
/// assert_eq!(delta.sequence, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Unverified<'a, T> {
    claims: T,
    signer: ShortId,
    sign1: Sign1<'a>,
    bytes: &'a [u8],
}

impl<'a, T: SignedObject> Unverified<'a, T> {
    /// Reads a signed object: the COSE_Sign1 envelope, the claims and the signer's key id, each
    /// in its one form. Trailing bytes are refused. No signature is checked.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let (sign1, signer) = Sign1::parse_strict(bytes)?;
        let mut r: Reader<'a> = sign1.payload_reader();
        let claims = T::decode_claims(&mut r)?;
        r.finish()?;
        Ok(Self {
            claims,
            signer,
            sign1,
            bytes,
        })
    }

    /// The key id of the signer: which of the keys this side trusts to check the signature
    /// with. Chosen by whoever made the bytes, like everything else in them.
    pub fn signer(&self) -> ShortId {
        self.signer
    }

    /// The signed object as received.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The claims, if the signature verifies under `key` with this kind's external AAD.
    ///
    /// `key` must come from what this side trusts for this kind of object (a trust anchor,
    /// the package authority, a verifier key of the trust package, the attester's verified
    /// credential): a key read from the object itself proves nothing.
    pub fn verify(self, key: &PublicKey) -> Result<T, BadSignature> {
        self.sign1.verify(key, T::AAD)?;
        Ok(self.claims)
    }

    /// The claims before any check, for the fuzz hooks (which re-sign them).
    #[cfg(fuzzing)]
    pub(crate) fn claims_unverified(&self) -> &T {
        &self.claims
    }

    /// Whether the payload is exactly the encoding of the claims read from it: what the
    /// canonical reader promises, checked by the fuzz hooks.
    #[cfg(fuzzing)]
    pub(crate) fn payload_is_canonical(&self) -> bool {
        self.claims.encode_claims() == self.sign1.payload()
    }
}

impl Unverified<'_, Credential> {
    /// The subject's key, before the credential is verified.
    ///
    /// For a protocol that must check a signature made with this key before it can decide
    /// about the credential (EDHOC checks the handshake signature of a credential sent by
    /// value first, then verifies the credential), and for naming the credential by its
    /// subject's short id. It is whatever the sender wrote: never a trust decision.
    pub fn subject_key_unverified(&self) -> &PublicKey {
        &self.claims.subject
    }
}

impl Unverified<'_, TrustPackage> {
    /// The package's sequence, before it is verified (a persisted snapshot shows it; the store
    /// verifies the package when it restores it).
    pub(crate) fn sequence_unverified(&self) -> u64 {
        self.claims.sequence
    }
}

impl<T> fmt::Debug for Unverified<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Unverified")
            .field("signer", &self.signer)
            .field("len", &self.bytes.len())
            .finish_non_exhaustive()
    }
}
