//! The trust package: a signed, sequenced bundle of everything a peer needs to decide trust
//! while disconnected.
//!
//! Payload, deterministic CBOR map:
//!
//! | key | content |
//! |---|---|
//! | 0 | sequence (unsigned); a lower one never replaces a higher one |
//! | 1 | trust anchors: credential issuers and revocation signers, COSE_Keys sorted by kid |
//! | 2 | attestation verifier keys, COSE_Keys sorted by kid |
//! | 3 | X.509 trust anchors for TLS: DER certificates, sorted bytewise |
//! | 4 | [`ReferenceValues`] |
//! | 5 | revocations (as in a revocation delta) |
//! | 6 | SHA-256 digest of the mission [`Policy`](crate::Policy) |
//!
//! It is signed by the package authority, whose key every device holds from provisioning.

use iomt_schema::ShortId;

use crate::attest::ReferenceValues;
use crate::cbor::{Dec, Enc, EncError, encode_with, ensure_canonical};
use crate::cose::{self, Sign1};
use crate::error::{DecodeError, SignError};
use crate::key::{PublicKey, Signer};
use crate::revocation::{self, Revocation, RevocationSet};

pub(crate) const AAD: &[u8] = b"iomt-trust-package-v1";

/// Most anchors, verifier keys or X.509 roots a package may carry (each).
pub const MAX_KEYS: usize = 64;
/// Largest X.509 anchor certificate.
pub const MAX_CERT_LEN: usize = 4096;

/// The content of a trust package.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TrustPackage {
    /// The sequence number.
    pub sequence: u64,
    /// Keys that may issue credentials and revocations.
    pub anchors: Vec<PublicKey>,
    /// Keys that may sign attestation results.
    pub verifiers: Vec<PublicKey>,
    /// X.509 trust anchors (DER) for the TLS verifiers.
    pub x509_roots: Vec<Vec<u8>>,
    /// Reference values for appraisal.
    pub reference: ReferenceValues,
    /// Revocations known when the package was made.
    pub revocations: Vec<Revocation>,
    /// SHA-256 of the mission policy's encoding.
    pub policy_digest: [u8; 32],
}

impl TrustPackage {
    /// Signs the package with the package authority's key. Lists are sorted and deduplicated.
    pub fn sign(&self, authority: &dyn Signer) -> Result<Vec<u8>, SignError> {
        let mut this = self.clone();
        this.anchors.sort_by_key(PublicKey::short_id);
        this.anchors.dedup();
        this.verifiers.sort_by_key(PublicKey::short_id);
        this.verifiers.dedup();
        this.x509_roots.sort();
        this.x509_roots.dedup();
        let mut set = RevocationSet::new(usize::MAX);
        this.revocations.iter().for_each(|r| {
            set.insert(*r);
        });
        this.revocations = set.entries().collect();
        if this.anchors.len() > MAX_KEYS
            || this.verifiers.len() > MAX_KEYS
            || this.x509_roots.len() > MAX_KEYS
            || this.x509_roots.iter().any(|c| c.len() > MAX_CERT_LEN)
        {
            return Err(SignError::Invalid("trust package over its limits"));
        }
        cose::sign(authority, AAD, &this.encode())
    }

    fn encode(&self) -> Vec<u8> {
        encode_with(|e| {
            e.map(7)?;
            e.u8(0)?.u64(self.sequence)?;
            e.u8(1)?;
            write_keys(e, &self.anchors)?;
            e.u8(2)?;
            write_keys(e, &self.verifiers)?;
            e.u8(3)?
                .array(u64::try_from(self.x509_roots.len()).unwrap_or(u64::MAX))?;
            for der in &self.x509_roots {
                e.bytes(der)?;
            }
            e.u8(4)?;
            self.reference.encode(e)?;
            e.u8(5)?;
            revocation::encode_list(e, &self.revocations)?;
            e.u8(6)?.bytes(&self.policy_digest)?;
            Ok(())
        })
    }

    fn decode_payload(payload: &[u8]) -> Result<Self, DecodeError> {
        let mut d = Dec::new(payload);
        if d.map("trust package", 7)? != 7 {
            return Err(DecodeError::Missing("trust package fields"));
        }
        field(&mut d, 0, "sequence")?;
        let sequence = d.u64()?;
        field(&mut d, 1, "anchors")?;
        let anchors = read_keys(&mut d, "anchors")?;
        field(&mut d, 2, "verifiers")?;
        let verifiers = read_keys(&mut d, "verifiers")?;
        field(&mut d, 3, "x509 roots")?;
        let n = d.array("x509 roots", MAX_KEYS)?;
        let mut x509_roots: Vec<Vec<u8>> = Vec::with_capacity(n);
        for _ in 0..n {
            let der = d.bytes()?;
            if der.len() > MAX_CERT_LEN {
                return Err(DecodeError::TooLarge {
                    field: "x509 root",
                    limit: MAX_CERT_LEN,
                });
            }
            if x509_roots.last().is_some_and(|p| p.as_slice() >= der) {
                return Err(DecodeError::NotCanonical);
            }
            x509_roots.push(der.to_vec());
        }
        field(&mut d, 4, "reference values")?;
        let reference = ReferenceValues::decode(&mut d)?;
        field(&mut d, 5, "revocations")?;
        let revocations = revocation::decode_list(&mut d, RevocationSet::DEFAULT_CAPACITY)?;
        field(&mut d, 6, "policy digest")?;
        let policy_digest = d.array_bytes::<32>("policy digest")?;
        d.finish()?;
        Ok(Self {
            sequence,
            anchors,
            verifiers,
            x509_roots,
            reference,
            revocations,
            policy_digest,
        })
    }

    /// Decodes a signed package without checking its signature; returns it and the signer's id.
    pub fn decode(bytes: &[u8]) -> Result<(Self, ShortId), DecodeError> {
        let (package, signer, _) = Self::decode_signed(bytes)?;
        Ok((package, signer))
    }

    pub(crate) fn decode_signed(bytes: &[u8]) -> Result<(Self, ShortId, Sign1<'_>), DecodeError> {
        let sign1 = Sign1::parse_strict(bytes)?;
        let package = Self::decode_payload(sign1.payload())?;
        ensure_canonical(sign1.payload(), &package.encode())?;
        let kid = <[u8; 8]>::try_from(sign1.kid().unwrap_or_default())
            .map_err(|_| DecodeError::OutOfRange("kid"))?;
        Ok((package, ShortId::from_bytes(kid), sign1))
    }
}

fn field(d: &mut Dec<'_>, key: u8, name: &'static str) -> Result<(), DecodeError> {
    if d.u8()? == key {
        Ok(())
    } else {
        Err(DecodeError::Missing(name))
    }
}

fn write_keys(e: &mut Enc<'_>, keys: &[PublicKey]) -> Result<(), EncError> {
    e.array(u64::try_from(keys.len()).unwrap_or(u64::MAX))?;
    keys.iter().try_for_each(|k| cose::write_cose_key(e, k))
}

fn read_keys(d: &mut Dec<'_>, field: &'static str) -> Result<Vec<PublicKey>, DecodeError> {
    let n = d.array(field, MAX_KEYS)?;
    let mut keys: Vec<PublicKey> = Vec::with_capacity(n);
    for _ in 0..n {
        let key = cose::read_cose_key(d)?;
        if keys.last().is_some_and(|p| p.short_id() >= key.short_id()) {
            return Err(DecodeError::NotCanonical);
        }
        keys.push(key);
    }
    Ok(keys)
}
