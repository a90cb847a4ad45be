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

use crate::attest::ReferenceValues;
use crate::cbor::{self, CborError, CborErrorKind, Reader};
use crate::cose;
use crate::error::{DecodeError, SignError};
use crate::key::{PublicKey, Signer};
use crate::revocation::{self, Revocation, RevocationSet};
use crate::signed::claims::Claims;

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
        cose::sign(authority, Self::AAD, &this.encode_claims())
    }
}

impl Claims for TrustPackage {
    const AAD: &'static [u8] = b"iomt-trust-package-v1";

    fn encode_claims(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        cbor::write_map(&mut out, 7);
        cbor::write_uint(&mut out, 0);
        cbor::write_uint(&mut out, self.sequence);
        cbor::write_uint(&mut out, 1);
        write_keys(&mut out, &self.anchors);
        cbor::write_uint(&mut out, 2);
        write_keys(&mut out, &self.verifiers);
        cbor::write_uint(&mut out, 3);
        cbor::write_array(&mut out, self.x509_roots.len());
        for der in &self.x509_roots {
            cbor::write_bstr(&mut out, der);
        }
        cbor::write_uint(&mut out, 4);
        self.reference.encode(&mut out);
        cbor::write_uint(&mut out, 5);
        revocation::encode_list(&mut out, &self.revocations);
        cbor::write_uint(&mut out, 6);
        cbor::write_bstr(&mut out, &self.policy_digest);
        out
    }

    fn decode_claims(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.map_of(7, "trust package")?;
        r.key(0, "sequence")?;
        let sequence = r.uint()?;
        r.key(1, "anchors")?;
        let anchors = read_keys(r, "anchors")?;
        r.key(2, "verifiers")?;
        let verifiers = read_keys(r, "verifiers")?;
        r.key(3, "x509 roots")?;
        let n = r.array_up_to(MAX_KEYS, "x509 roots")?;
        let mut x509_roots: Vec<Vec<u8>> = Vec::with_capacity(n);
        for _ in 0..n {
            let at = r.position();
            let der = r.bstr()?;
            if der.len() > MAX_CERT_LEN {
                let found = u64::try_from(der.len()).unwrap_or(u64::MAX);
                let kind = CborErrorKind::TooLarge {
                    found,
                    limit: MAX_CERT_LEN,
                };
                return Err(CborError::new(at, kind, "x509 root").into());
            }
            if x509_roots.last().is_some_and(|p| p.as_slice() >= der) {
                return Err(DecodeError::invalid("x509 roots", at, "sorted, each once"));
            }
            x509_roots.push(der.to_vec());
        }
        r.key(4, "reference values")?;
        let reference = ReferenceValues::decode(r)?;
        r.key(5, "revocations")?;
        let revocations = revocation::decode_list(r, RevocationSet::DEFAULT_CAPACITY)?;
        r.key(6, "policy digest")?;
        let policy_digest = r.bstr_array::<32>("policy digest")?;
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
}

fn write_keys(out: &mut Vec<u8>, keys: &[PublicKey]) {
    cbor::write_array(out, keys.len());
    keys.iter().for_each(|k| cose::write_own_key(out, k));
}

fn read_keys(r: &mut Reader<'_>, field: &'static str) -> Result<Vec<PublicKey>, DecodeError> {
    let n = r.array_up_to(MAX_KEYS, field)?;
    let mut keys: Vec<PublicKey> = Vec::with_capacity(n);
    for _ in 0..n {
        let at = r.position();
        let key = cose::read_own_key(r)?;
        if keys.last().is_some_and(|p| p.short_id() >= key.short_id()) {
            return Err(DecodeError::invalid(field, at, "sorted by kid, each once"));
        }
        keys.push(key);
    }
    Ok(keys)
}
