//! COSE (RFC 9052): COSE_Sign1 (section 4.2), its Sig_structure (section 4.4) and COSE_Key
//! (section 7), as the workspace's signed objects and EDHOC use them.
//!
//! Every object this crate signs is an untagged `COSE_Sign1` with protected header
//! `{1: alg, 4: kid}` (algorithm, and the signer's [`ShortId`] as key id), an empty
//! unprotected header and a 64-byte signature. Each kind of object is signed with its own
//! external AAD (section 4.3), so a signature made for one kind never verifies as another.
//! Such objects are read as [`Unverified`](crate::Unverified) values.
//!
//! [`Sign1::parse`] reads COSE_Sign1 objects from elsewhere too (tagged or not, any header
//! labels), so that RFC 8392's example CWT is checked through the same code; like everything
//! in this workspace it reads deterministic CBOR only ([`crate::cbor`]).

use iomt_schema::ShortId;

use crate::cbor::{self, KeyOrder, MAJOR_TAG, Reader};
use crate::error::{DecodeError, SignError};
use crate::key::{Algorithm, BadSignature, PublicKey, Signer};

/// COSE_Sign1's CBOR tag (RFC 9052 section 2).
const TAG_COSE_SIGN1: u64 = 18;
/// The CWT tag (RFC 8392 section 6), which may wrap a tagged COSE_Sign1.
const TAG_CWT: u64 = 61;
/// Most header parameters [`Sign1::parse`] reads in one header.
const MAX_HEADER_PARAMETERS: usize = 32;

/// A parsed COSE_Sign1 whose fields borrow from the input. Its signature is not yet checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sign1<'a> {
    protected: &'a [u8],
    alg: Algorithm,
    kid: Option<&'a [u8]>,
    payload: &'a [u8],
    payload_offset: usize,
    signature: &'a [u8],
}

impl<'a> Sign1<'a> {
    /// Reads any COSE_Sign1: optionally tagged (18, or 61 then 18), `alg` from the protected
    /// header, `kid` from either header, other header parameters skipped. Trailing bytes are
    /// refused. Use this for objects from other implementations; this crate's own objects are
    /// read as [`Unverified`](crate::Unverified) values, in their one form.
    pub fn parse(input: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(input);
        if r.peek_major() == Some(MAJOR_TAG) {
            let at = r.position();
            match r.tag()? {
                TAG_COSE_SIGN1 => {}
                TAG_CWT if r.peek_major() == Some(MAJOR_TAG) && r.tag()? == TAG_COSE_SIGN1 => {}
                _ => {
                    return Err(DecodeError::invalid(
                        "tag",
                        at,
                        "COSE_Sign1 (18), alone or inside a CWT tag (61)",
                    ));
                }
            }
        }
        r.array_of(4, "COSE_Sign1")?;
        let (protected, protected_offset) = bstr_at(&mut r)?;
        let (alg, mut kid) = read_header(protected, protected_offset)?;
        let pairs = r.map_up_to(MAX_HEADER_PARAMETERS, "unprotected header")?;
        let mut labels = KeyOrder::new();
        for _ in 0..pairs {
            let at = r.position();
            match labels.next(&mut r, Reader::int)? {
                4 if kid.is_none() => kid = Some(r.bstr()?),
                4 => return Err(DecodeError::invalid("kid", at, "in one header only")),
                _ => {
                    r.item()?;
                }
            }
        }
        let (payload, payload_offset) = bstr_at(&mut r)?;
        let signature = r.bstr()?;
        r.finish()?;
        let alg = alg.ok_or(DecodeError::invalid(
            "alg",
            protected_offset,
            "present in the protected header",
        ))?;
        Ok(Self {
            protected,
            alg,
            kid,
            payload,
            payload_offset,
            signature,
        })
    }

    /// Reads one of this crate's own objects: untagged, protected header exactly
    /// `{1: alg, 4: kid}` with an 8-byte kid, empty unprotected header, 64-byte signature.
    /// Returns it with the kid, the signer's short id.
    pub(crate) fn parse_strict(input: &'a [u8]) -> Result<(Self, ShortId), DecodeError> {
        let mut r = Reader::new(input);
        r.array_of(4, "COSE_Sign1")?;
        let (protected, protected_offset) = bstr_at(&mut r)?;
        let mut h = Reader::with_offset(protected, protected_offset);
        h.map_of(2, "protected header {alg, kid}")?;
        h.key(1, "alg")?;
        let alg = read_alg(&mut h)?;
        h.key(4, "kid")?;
        let kid_at = h.position();
        let kid = h.bstr()?;
        let signer = <[u8; 8]>::try_from(kid)
            .map(ShortId::from_bytes)
            .map_err(|_| DecodeError::invalid("kid", kid_at, "a short id of 8 bytes"))?;
        h.finish()?;
        r.map_of(0, "unprotected header (empty)")?;
        let (payload, payload_offset) = bstr_at(&mut r)?;
        let signature_at = r.position();
        let signature = r.bstr()?;
        r.finish()?;
        if signature.len() != 64 {
            return Err(DecodeError::invalid("signature", signature_at, "64 bytes"));
        }
        let sign1 = Self {
            protected,
            alg,
            kid: Some(kid),
            payload,
            payload_offset,
            signature,
        };
        Ok((sign1, signer))
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

    /// A reader over the payload whose errors report offsets in the whole COSE_Sign1.
    pub fn payload_reader(&self) -> Reader<'a> {
        Reader::with_offset(self.payload, self.payload_offset)
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

/// A byte string and the offset of its content.
fn bstr_at<'a>(r: &mut Reader<'a>) -> Result<(&'a [u8], usize), DecodeError> {
    let bytes = r.bstr()?;
    Ok((bytes, r.position().saturating_sub(bytes.len())))
}

fn read_alg(r: &mut Reader<'_>) -> Result<Algorithm, DecodeError> {
    let offset = r.position();
    let alg = r.int()?;
    Algorithm::from_cose(alg).ok_or(DecodeError::UnsupportedAlgorithm { alg, offset })
}

/// Reads `alg` and `kid` from a serialized protected header that starts at `offset`; other
/// labels are skipped.
fn read_header(
    protected: &[u8],
    offset: usize,
) -> Result<(Option<Algorithm>, Option<&[u8]>), DecodeError> {
    if protected.is_empty() {
        return Ok((None, None));
    }
    let mut h = Reader::with_offset(protected, offset);
    let pairs = h.map_up_to(MAX_HEADER_PARAMETERS, "protected header")?;
    let (mut alg, mut kid) = (None, None);
    let mut labels = KeyOrder::new();
    for _ in 0..pairs {
        match labels.next(&mut h, Reader::int)? {
            1 => alg = Some(read_alg(&mut h)?),
            4 => kid = Some(h.bstr()?),
            _ => {
                h.item()?;
            }
        }
    }
    h.finish()?;
    Ok((alg, kid))
}

fn protected_header(alg: Algorithm, kid: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(kid.len() + 5);
    cbor::write_map(&mut out, 2);
    cbor::write_int(&mut out, 1);
    cbor::write_int(&mut out, alg.cose());
    cbor::write_int(&mut out, 4);
    cbor::write_bstr(&mut out, kid);
    out
}

/// The `Sig_structure` a COSE_Sign1 signature covers (RFC 9052 section 4.4):
/// `["Signature1", protected, external_aad, payload]`. EDHOC signs one too, with ID_CRED_x
/// as the protected header (RFC 9528 section 5.3.2).
pub fn sig_structure(protected: &[u8], external_aad: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(protected.len() + external_aad.len() + payload.len() + 24);
    cbor::write_array(&mut out, 4);
    cbor::write_tstr(&mut out, "Signature1");
    cbor::write_bstr(&mut out, protected);
    cbor::write_bstr(&mut out, external_aad);
    cbor::write_bstr(&mut out, payload);
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
    cbor::write_array(&mut out, 4);
    cbor::write_bstr(&mut out, &protected);
    cbor::write_map(&mut out, 0);
    cbor::write_bstr(&mut out, payload);
    cbor::write_bstr(&mut out, signature.as_bytes());
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
/// The label of the COSE_Key in a `cnf` claim (RFC 8747 section 3.2).
const CNF_COSE_KEY: i64 = 1;

/// Appends `key` as a COSE_Key: `{1: kty, ? 2: kid, -1: crv, -2: x, ? -3: y}` (OKP for
/// Ed25519, EC2 for P-256, whose `y` is written in full: `ring` takes no compressed points).
/// This crate's objects carry the key's [`ShortId`] as `kid`; EDHOC's raw public keys carry
/// none.
pub fn write_key(out: &mut Vec<u8>, key: &PublicKey, kid: Option<&[u8]>) {
    let (kty, crv, x, y) = match key {
        PublicKey::Ed25519(x) => (KTY_OKP, CRV_ED25519, x.as_slice(), None),
        PublicKey::EcdsaP256([_, coordinates @ ..]) => {
            let (x, y) = coordinates.split_at(32);
            (KTY_EC2, CRV_P256, x, Some(y))
        }
    };
    cbor::write_map(
        out,
        3 + usize::from(kid.is_some()) + usize::from(y.is_some()),
    );
    cbor::write_int(out, label::KTY);
    cbor::write_uint(out, kty);
    if let Some(kid) = kid {
        cbor::write_int(out, label::KID);
        cbor::write_bstr(out, kid);
    }
    cbor::write_int(out, label::CRV);
    cbor::write_uint(out, crv);
    cbor::write_int(out, label::X);
    cbor::write_bstr(out, x);
    if let Some(y) = y {
        cbor::write_int(out, label::Y);
        cbor::write_bstr(out, y);
    }
}

/// Reads a COSE_Key in [`write_key`]'s form (an Ed25519 or P-256 public key, with or
/// without `kid`); returns the key and the `kid`, if any.
pub fn read_key<'a>(r: &mut Reader<'a>) -> Result<(PublicKey, Option<&'a [u8]>), DecodeError> {
    let start = r.position();
    let pairs = r.map_up_to(5, "COSE_Key")?;
    r.key(label::KTY, "kty")?;
    let kty_at = r.position();
    let (alg, crv, plain_pairs) = match r.uint()? {
        KTY_OKP => (Algorithm::Ed25519, CRV_ED25519, 3),
        KTY_EC2 => (Algorithm::EcdsaP256, CRV_P256, 4),
        _ => {
            let rule = "1 (OKP, Ed25519) or 2 (EC2, P-256)";
            return Err(DecodeError::invalid("kty", kty_at, rule));
        }
    };
    let kid = match pairs.checked_sub(plain_pairs) {
        Some(0) => None,
        Some(1) => {
            r.key(label::KID, "kid")?;
            Some(r.bstr()?)
        }
        _ => {
            let rule = "kty, optional kid, crv, x and, for EC2, y";
            return Err(DecodeError::invalid("COSE_Key", start, rule));
        }
    };
    r.key(label::CRV, "crv")?;
    let crv_at = r.position();
    if r.uint()? != crv {
        let rule = "6 (Ed25519) for OKP, 1 (P-256) for EC2";
        return Err(DecodeError::invalid("crv", crv_at, rule));
    }
    r.key(label::X, "x")?;
    let x = r.bstr_array::<32>("x")?;
    let key = match alg {
        Algorithm::Ed25519 => PublicKey::Ed25519(x),
        Algorithm::EcdsaP256 => {
            r.key(label::Y, "y")?;
            let y = r.bstr_array::<32>("y")?;
            let point = [&[0x04][..], &x, &y].concat();
            PublicKey::from_bytes(Algorithm::EcdsaP256, &point)
                .map_err(|_| DecodeError::invalid("COSE_Key", start, "a P-256 point"))?
        }
    };
    Ok((key, kid))
}

/// Appends the value of a `cnf` claim holding `key` (RFC 8747): `{1: COSE_Key}`.
pub fn write_confirmation(out: &mut Vec<u8>, key: &PublicKey, kid: Option<&[u8]>) {
    cbor::write_map(out, 1);
    cbor::write_int(out, CNF_COSE_KEY);
    write_key(out, key, kid);
}

/// Appends `key` as this crate's objects carry it: with its short id as `kid`.
pub(crate) fn write_own_key(out: &mut Vec<u8>, key: &PublicKey) {
    write_key(out, key, Some(key.short_id().as_bytes()));
}

/// Reads a key written by [`write_own_key`]: the `kid` must be the key's short id.
pub(crate) fn read_own_key(r: &mut Reader<'_>) -> Result<PublicKey, DecodeError> {
    let start = r.position();
    let (key, kid) = read_key(r)?;
    if kid != Some(key.short_id().as_bytes()) {
        return Err(DecodeError::invalid("kid", start, "the key's short id"));
    }
    Ok(key)
}

/// [`write_confirmation`] with the key's short id as `kid`.
pub(crate) fn write_own_confirmation(out: &mut Vec<u8>, key: &PublicKey) {
    write_confirmation(out, key, Some(key.short_id().as_bytes()));
}

/// Reads [`write_own_confirmation`]'s form.
pub(crate) fn read_own_confirmation(r: &mut Reader<'_>) -> Result<PublicKey, DecodeError> {
    r.map_of(1, "cnf")?;
    r.key(CNF_COSE_KEY, "COSE_Key")?;
    read_own_key(r)
}
