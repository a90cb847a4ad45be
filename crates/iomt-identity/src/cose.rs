//! COSE_Sign1 (RFC 9052 section 4.2) and COSE_Key (section 7) as this crate uses them.
//!
//! Every signed object is an untagged `COSE_Sign1` with protected header `{1: alg, 4: kid}`
//! (algorithm, and the signer's [`ShortId`](iomt_schema::ShortId) as key id), an empty
//! unprotected header and a 64-byte signature. Each kind of object is signed with its own
//! external AAD (section 4.3), so a signature made for one kind never verifies as another.
//!
//! [`Sign1`] also reads COSE_Sign1 objects from elsewhere (tagged or not, any header labels), so
//! that RFC 8392's example CWT can be checked through the same code.

use crate::cbor::{Dec, Enc, EncError, append_with, encode_with, ensure_canonical};
use crate::error::{DecodeError, SignError};
use crate::key::{Algorithm, BadSignature, PublicKey, Signer};

/// COSE_Sign1's CBOR tag (RFC 9052 section 2).
const TAG_COSE_SIGN1: u64 = 18;
/// The CWT tag (RFC 8392 section 6), which may wrap a tagged COSE_Sign1.
const TAG_CWT: u64 = 61;

/// A parsed COSE_Sign1 whose fields borrow from the input. Its signature is not yet checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sign1<'a> {
    protected: &'a [u8],
    alg: Algorithm,
    kid: Option<&'a [u8]>,
    payload: &'a [u8],
    signature: &'a [u8],
}

impl<'a> Sign1<'a> {
    /// Reads any COSE_Sign1: optionally tagged (18, or 61 then 18), `alg` from the protected
    /// header, `kid` from either header, other header parameters ignored. Trailing bytes are
    /// refused. Use this for objects from other implementations; this crate's own objects go
    /// through stricter decoders.
    pub fn parse(input: &'a [u8]) -> Result<Self, DecodeError> {
        let mut d = Dec::new(input);
        match d.optional_tag()? {
            None | Some(TAG_COSE_SIGN1) => {}
            Some(TAG_CWT) => {
                if d.optional_tag()? != Some(TAG_COSE_SIGN1) {
                    return Err(DecodeError::Missing("COSE_Sign1 tag inside CWT tag"));
                }
            }
            Some(_) => return Err(DecodeError::Unexpected("tag")),
        }
        if d.array("COSE_Sign1", 4)? != 4 {
            return Err(DecodeError::at(0, "array of 4"));
        }
        let protected = d.bytes()?;
        let (alg, mut kid) = read_header(protected)?;
        let unprotected_pairs = d.map("unprotected header", 32)?;
        for _ in 0..unprotected_pairs {
            match d.i64()? {
                4 if kid.is_none() => kid = Some(d.bytes()?),
                4 => return Err(DecodeError::Unexpected("kid")),
                _ => d.skip()?,
            }
        }
        let payload = d.bytes()?;
        let signature = d.bytes()?;
        d.finish()?;
        let alg = alg.ok_or(DecodeError::Missing("alg"))?;
        Ok(Self {
            protected,
            alg,
            kid,
            payload,
            signature,
        })
    }

    /// Reads one of this crate's own objects: untagged, protected header exactly
    /// `{1: alg, 4: kid}` with an 8-byte kid, empty unprotected header, 64-byte signature, all in
    /// deterministic encoding.
    pub(crate) fn parse_strict(input: &'a [u8]) -> Result<Self, DecodeError> {
        let mut d = Dec::new(input);
        if d.array("COSE_Sign1", 4)? != 4 {
            return Err(DecodeError::at(0, "array of 4"));
        }
        let protected = d.bytes()?;
        let mut h = Dec::new(protected);
        if h.map("protected header", 2)? != 2 {
            return Err(DecodeError::Missing("protected header {alg, kid}"));
        }
        if h.i64()? != 1 {
            return Err(DecodeError::Missing("alg"));
        }
        let alg_id = h.i64()?;
        let alg = Algorithm::from_cose(alg_id).ok_or(DecodeError::UnsupportedAlgorithm(alg_id))?;
        if h.i64()? != 4 {
            return Err(DecodeError::Missing("kid"));
        }
        let kid = h.bytes()?;
        if kid.len() != 8 {
            return Err(DecodeError::OutOfRange("kid"));
        }
        h.finish()?;
        if d.map("unprotected header", 0)? != 0 {
            return Err(DecodeError::Unexpected("unprotected header"));
        }
        let payload = d.bytes()?;
        let signature = d.bytes()?;
        d.finish()?;
        if signature.len() != 64 {
            return Err(DecodeError::OutOfRange("signature"));
        }
        let parsed = Self {
            protected,
            alg,
            kid: Some(kid),
            payload,
            signature,
        };
        ensure_canonical(protected, &protected_header(alg, kid))?;
        ensure_canonical(input, &parsed.reencode())?;
        Ok(parsed)
    }

    fn reencode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.payload.len() + self.protected.len() + 72);
        append_with(&mut out, |e| {
            e.array(4)?
                .bytes(self.protected)?
                .map(0)?
                .bytes(self.payload)?
                .bytes(self.signature)?;
            Ok(())
        });
        out
    }

    /// The signing algorithm from the protected header.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The key id, from the protected or the unprotected header.
    pub fn kid(&self) -> Option<&'a [u8]> {
        self.kid
    }

    /// The payload bytes (for a CWT, the encoded claims set).
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// Verifies the signature with `key` over the `Sig_structure` with `external_aad`.
    /// The key's algorithm must be the one in the protected header.
    pub fn verify(&self, key: &PublicKey, external_aad: &[u8]) -> Result<(), BadSignature> {
        if key.algorithm() != self.alg {
            return Err(BadSignature);
        }
        let tbs = sig_structure(self.protected, external_aad, self.payload);
        key.verify(&tbs, self.signature)
    }
}

/// Reads `alg` and `kid` from a serialized protected header; other labels are skipped.
fn read_header(protected: &[u8]) -> Result<(Option<Algorithm>, Option<&[u8]>), DecodeError> {
    if protected.is_empty() {
        return Ok((None, None));
    }
    let mut h = Dec::new(protected);
    let pairs = h.map("protected header", 32)?;
    let (mut alg, mut kid) = (None, None);
    for _ in 0..pairs {
        match h.i64()? {
            1 => {
                let id = h.i64()?;
                alg = Some(Algorithm::from_cose(id).ok_or(DecodeError::UnsupportedAlgorithm(id))?);
            }
            4 => kid = Some(h.bytes()?),
            _ => h.skip()?,
        }
    }
    h.finish()?;
    Ok((alg, kid))
}

fn protected_header(alg: Algorithm, kid: &[u8]) -> Vec<u8> {
    encode_with(|e| {
        e.map(2)?.u8(1)?.i64(alg.cose())?.u8(4)?.bytes(kid)?;
        Ok(())
    })
}

/// `Sig_structure` for COSE_Sign1 (RFC 9052 section 4.4).
fn sig_structure(protected: &[u8], external_aad: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(protected.len() + external_aad.len() + payload.len() + 24);
    append_with(&mut out, |e| {
        e.array(4)?
            .str("Signature1")?
            .bytes(protected)?
            .bytes(external_aad)?
            .bytes(payload)?;
        Ok(())
    });
    out
}

/// Signs `payload` as this crate's COSE_Sign1 profile, with the signer's short id as `kid`.
pub(crate) fn sign(
    signer: &dyn Signer,
    external_aad: &[u8],
    payload: &[u8],
) -> Result<Vec<u8>, SignError> {
    let public = signer.public_key();
    let kid = public.short_id();
    let protected = protected_header(public.algorithm(), kid.as_bytes());
    let tbs = sig_structure(&protected, external_aad, payload);
    let signature = signer.sign(&tbs)?;
    // A signer is often hardware: a faulty signature must not leave this function (it would be
    // refused everywhere, and faulted signatures can leak key material).
    if public.verify(&tbs, signature.as_bytes()).is_err() {
        return Err(SignError::Failed);
    }
    let mut out = Vec::with_capacity(protected.len() + payload.len() + 72);
    append_with(&mut out, |e| {
        e.array(4)?
            .bytes(&protected)?
            .map(0)?
            .bytes(payload)?
            .bytes(signature.as_bytes())?;
        Ok(())
    });
    Ok(out)
}

/// COSE_Key labels (RFC 9052 section 7, RFC 9053 section 7).
mod label {
    pub const KTY: i64 = 1;
    pub const KID: i64 = 2;
    pub const CRV: i64 = -1;
    pub const X: i64 = -2;
    pub const Y: i64 = -3;
}

const KTY_OKP: u64 = 1;
const KTY_EC2: u64 = 2;
const CRV_P256: u64 = 1;
const CRV_ED25519: u64 = 6;

/// Writes `key` as a COSE_Key: `{1: kty, 2: kid, -1: crv, -2: x, (-3: y)}`, with the key's
/// short id as `kid`. P-256 keys carry `y` in full (ring does not take compressed points).
pub(crate) fn write_cose_key(e: &mut Enc<'_>, key: &PublicKey) -> Result<(), EncError> {
    let kid = key.short_id();
    match key {
        PublicKey::Ed25519(x) => {
            e.map(4)?
                .i64(label::KTY)?
                .u64(KTY_OKP)?
                .i64(label::KID)?
                .bytes(kid.as_bytes())?
                .i64(label::CRV)?
                .u64(CRV_ED25519)?
                .i64(label::X)?
                .bytes(x)?;
        }
        PublicKey::EcdsaP256(point) => {
            let (x, y) = point.get(1..).unwrap_or(&[]).split_at(32);
            e.map(5)?
                .i64(label::KTY)?
                .u64(KTY_EC2)?
                .i64(label::KID)?
                .bytes(kid.as_bytes())?
                .i64(label::CRV)?
                .u64(CRV_P256)?
                .i64(label::X)?
                .bytes(x)?
                .i64(label::Y)?
                .bytes(y)?;
        }
    }
    Ok(())
}

/// Reads a COSE_Key written by [`write_cose_key`]. The `kid` must be the key's short id.
/// Canonical form is checked by the caller's re-encoding.
pub(crate) fn read_cose_key(d: &mut Dec<'_>) -> Result<PublicKey, DecodeError> {
    let pairs = d.map("COSE_Key", 5)?;
    let err = DecodeError::OutOfRange("COSE_Key");
    if d.i64()? != label::KTY {
        return Err(DecodeError::Missing("kty"));
    }
    let kty = d.u64()?;
    if d.i64()? != label::KID {
        return Err(DecodeError::Missing("COSE_Key kid"));
    }
    let kid = d.bytes()?;
    if d.i64()? != label::CRV {
        return Err(DecodeError::Missing("crv"));
    }
    let crv = d.u64()?;
    if d.i64()? != label::X {
        return Err(DecodeError::Missing("x"));
    }
    let x = d.bytes()?;
    let key = match (kty, crv, pairs) {
        (KTY_OKP, CRV_ED25519, 4) => {
            PublicKey::from_bytes(Algorithm::Ed25519, x).map_err(|_| err.clone())?
        }
        (KTY_EC2, CRV_P256, 5) => {
            if d.i64()? != label::Y {
                return Err(DecodeError::Missing("y"));
            }
            let y = d.bytes()?;
            if x.len() != 32 || y.len() != 32 {
                return Err(err);
            }
            let mut point = [0u8; 65];
            point[0] = 0x04;
            point.get_mut(1..33).unwrap_or(&mut []).copy_from_slice(x);
            point.get_mut(33..).unwrap_or(&mut []).copy_from_slice(y);
            PublicKey::EcdsaP256(point)
        }
        _ => return Err(err),
    };
    if kid != key.short_id().as_bytes() {
        return Err(DecodeError::OutOfRange("COSE_Key kid"));
    }
    Ok(key)
}
