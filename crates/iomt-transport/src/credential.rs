//! Credentials and the seam through which the application (later `iomt-identity`) decides.
//!
//! Our side is a [`LocalCredential`]: how we name our credential (ID_CRED_x), the credential as
//! it enters the transcript (CRED_x) and the signing key. The peer's side goes through two
//! steps, in this order:
//!
//! 1. [`Credentials::resolve_peer`] sees the peer's ID_CRED_x (by reference or by value) and
//!    returns CRED_x and the public key the handshake signature is checked with. It decides
//!    nothing and changes nothing: the bytes are not authenticated yet, and anyone on the path
//!    can forge a message_2 with an ephemeral key of their choosing.
//! 2. The handshake checks the signature with that key, and that the key names the device the
//!    initiator asked for. Only then does [`Credentials::admit_peer`] make the trust decision
//!    (issuer, validity, revocation, attestation) and remember what it learnt.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use iomt_identity::cbor::{self, CborError, CborErrorKind, Reader};
use iomt_identity::{
    AppraisalError, BadNonce, CredentialError, PublicKey, ResultError, Signer, Tier,
};
use iomt_schema::{DeviceId, Instant};

use crate::conn_id::{read_short_bstr, write_short_bstr};
use crate::ead::EadItem;
use crate::suite::CipherSuite;

/// Longest `kid` accepted in the compact encoding, in bytes.
pub const MAX_KID_LEN: usize = 64;

/// COSE header labels used by ID_CRED_x.
const KID: u64 = 4;
const KCWT: u64 = 13;
const KCCS: u64 = 14;
const X5CHAIN: u64 = 33;
const X5T: u64 = 34;

/// ID_CRED_x: a COSE header map that identifies (by reference) or carries (by value) a
/// credential.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdCred {
    map: Vec<u8>,
    kid: Option<Vec<u8>>,
}

impl IdCred {
    /// By reference: `{ 4 : kid }`, sent in the compact encoding.
    pub fn kid(kid: &[u8]) -> Self {
        let mut map = Vec::with_capacity(kid.len() + 4);
        cbor::write_map(&mut map, 1);
        cbor::write_head(&mut map, cbor::MAJOR_UINT, KID);
        cbor::write_bstr(&mut map, kid);
        Self {
            map,
            kid: Some(kid.to_vec()),
        }
    }

    /// By reference to an X.509 certificate: `{ 34 : [alg, hash] }` (COSE `x5t`).
    pub fn x5t(hash_alg: i64, hash: &[u8]) -> Self {
        let mut map = Vec::new();
        cbor::write_map(&mut map, 1);
        cbor::write_head(&mut map, cbor::MAJOR_UINT, X5T);
        cbor::write_array(&mut map, 2);
        cbor::write_int(&mut map, hash_alg);
        cbor::write_bstr(&mut map, hash);
        Self { map, kid: None }
    }

    /// By value, one DER certificate: `{ 33 : bstr }` (COSE `x5chain`).
    pub fn x5chain(der: &[u8]) -> Self {
        let mut map = Vec::new();
        cbor::write_map(&mut map, 1);
        cbor::write_head(&mut map, cbor::MAJOR_UINT, X5CHAIN);
        cbor::write_bstr(&mut map, der);
        Self { map, kid: None }
    }

    /// By value, a CWT Claims Set: `{ 14 : ccs }` (`kccs`, RFC 9528 section 3.5.2).
    pub fn kccs(ccs: &[u8]) -> Result<Self, CborError> {
        Self::wrap(KCCS, ccs)
    }

    /// By value, a CWT: `{ 13 : cwt }` (`kcwt`).
    pub fn kcwt(cwt: &[u8]) -> Result<Self, CborError> {
        Self::wrap(KCWT, cwt)
    }

    fn wrap(label: u64, item: &[u8]) -> Result<Self, CborError> {
        let mut r = Reader::new(item);
        r.item()?;
        r.finish()?;
        let mut map = Vec::with_capacity(item.len() + 2);
        cbor::write_map(&mut map, 1);
        cbor::write_head(&mut map, cbor::MAJOR_UINT, label);
        map.extend_from_slice(item);
        Ok(Self { map, kid: None })
    }

    /// Any COSE header map, given as its CBOR encoding.
    pub fn from_map(bytes: &[u8]) -> Result<Self, CborError> {
        // A header map and nothing else: refuse any other item before reading it whole.
        Reader::new(bytes).map()?;
        let mut r = Reader::new(bytes);
        r.item()?;
        r.finish()?;
        let kid = Self::lone_kid(bytes);
        Ok(Self {
            map: bytes.to_vec(),
            kid,
        })
    }

    fn lone_kid(map: &[u8]) -> Option<Vec<u8>> {
        let mut r = Reader::new(map);
        if r.map().ok()? != 1 || r.uint().ok()? != KID {
            return None;
        }
        let kid = r.bstr().ok()?;
        r.finish().ok()?;
        Some(kid.to_vec())
    }

    /// The map's CBOR encoding, as it enters the transcript and the COSE structures.
    pub fn map_bytes(&self) -> &[u8] {
        &self.map
    }

    /// The `kid`, when this is `{ 4 : kid }`.
    pub fn kid_value(&self) -> Option<&[u8]> {
        self.kid.as_deref()
    }

    /// The credential carried by value (CRED_x as it enters the transcript), for `x5chain`
    /// (one certificate, as a bstr), `kccs` and `kcwt`; `None` for references.
    pub fn by_value(&self) -> Option<&[u8]> {
        let mut r = Reader::new(&self.map);
        let pairs = r.map().ok()?;
        for _ in 0..pairs {
            let label = r.int().ok();
            let value = r.item().ok()?;
            match label {
                Some(l) if l == 33 && value.first().is_some_and(|b| b >> 5 == cbor::MAJOR_BSTR) => {
                    return Some(value);
                }
                Some(13 | 14) => return Some(value),
                _ => {}
            }
        }
        None
    }

    /// Appends the compact encoding used inside PLAINTEXT_2/3 (RFC 9528 section 3.5.3.2).
    pub(crate) fn encode_compact(&self, out: &mut Vec<u8>) {
        match &self.kid {
            Some(kid) => write_short_bstr(out, kid),
            None => out.extend_from_slice(&self.map),
        }
    }

    /// Reads the compact encoding; a lone `kid` sent as a map is non-canonical.
    pub(crate) fn decode_compact(reader: &mut Reader<'_>) -> Result<Self, CborError> {
        let at = reader.position();
        if reader.peek_major() == Some(cbor::MAJOR_MAP) {
            let id = Self::from_map(reader.item()?)?;
            if id.kid.is_some() {
                return Err(CborError::new(at, CborErrorKind::NonCanonical, "ID_CRED_x"));
            }
            return Ok(id);
        }
        let mut kid = [0; MAX_KID_LEN];
        let len = read_short_bstr(reader, &mut kid, "kid")?;
        Ok(Self::kid(kid.get(..len).unwrap_or_default()))
    }
}

impl fmt::Debug for IdCred {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kid {
            Some(kid) => {
                write!(f, "IdCred(kid h'")?;
                kid.iter().try_for_each(|b| write!(f, "{b:02x}"))?;
                write!(f, "')")
            }
            None => write!(f, "IdCred(map, {} bytes)", self.map.len()),
        }
    }
}

/// Our credential: how the peer finds it, what enters the transcript, and the signing key.
pub struct LocalCredential {
    id_cred: IdCred,
    cred: Vec<u8>,
    signer: Box<dyn Signer>,
}

impl LocalCredential {
    /// `cred` is CRED_x as one CBOR data item: for X.509 the DER certificate wrapped in a
    /// bstr, for a CCS its map. `signer` is any `iomt-identity` signer (a
    /// [`SoftwareKey`](iomt_identity::SoftwareKey), a secure element). Fails if `cred` is not
    /// exactly one CBOR item.
    pub fn new(
        id_cred: IdCred,
        cred: Vec<u8>,
        signer: impl Signer + 'static,
    ) -> Result<Self, CborError> {
        let mut r = Reader::new(&cred);
        r.item()?;
        r.finish()?;
        Ok(Self {
            id_cred,
            cred,
            signer: Box::new(signer),
        })
    }

    /// ID_CRED_x.
    pub fn id_cred(&self) -> &IdCred {
        &self.id_cred
    }

    /// CRED_x.
    pub fn cred(&self) -> &[u8] {
        &self.cred
    }

    /// The signing key.
    pub fn signer(&self) -> &dyn Signer {
        self.signer.as_ref()
    }

    /// ID_CRED_x carrying CRED_x by value: `kccs` for a CCS (a map), `kcwt` for a CWT (a
    /// COSE_Sign1 array, tagged or not), `x5chain` for a DER certificate (a bstr).
    pub fn by_value_id_cred(&self) -> Option<IdCred> {
        let mut r = Reader::new(&self.cred);
        match r.peek_major() {
            Some(cbor::MAJOR_MAP) => IdCred::kccs(&self.cred).ok(),
            Some(cbor::MAJOR_ARRAY | cbor::MAJOR_TAG) => IdCred::kcwt(&self.cred).ok(),
            Some(cbor::MAJOR_BSTR) => r.bstr().ok().map(IdCred::x5chain),
            _ => None,
        }
    }

    /// ID_CRED_x in `form`; `None` when the credential cannot be sent by value.
    pub fn id_cred_in(&self, form: CredentialForm) -> Option<IdCred> {
        match form {
            CredentialForm::Reference => Some(self.id_cred.clone()),
            CredentialForm::Value => self.by_value_id_cred(),
        }
    }
}

impl fmt::Debug for LocalCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalCredential")
            .field("id_cred", &self.id_cred)
            .field("cred_len", &self.cred.len())
            .field("algorithm", &self.signer.public_key().algorithm())
            .finish()
    }
}

/// How a side names its own credential in ID_CRED_x.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CredentialForm {
    /// By reference ([`LocalCredential::id_cred`], typically a `kid`): the peer must already
    /// hold the credential.
    #[default]
    Reference,
    /// By value ([`LocalCredential::by_value_id_cred`]): for a peer that does not know us yet.
    Value,
}

/// Which side of a handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HandshakeRole {
    /// Sends message_1 and message_3.
    Initiator,
    /// Sends message_2 and message_4.
    Responder,
}

/// A value both sides derive from the transcript once message_2 exists, for evidence that must
/// be bound to this handshake (attestation freshness):
/// `EDHOC_KDF(PRK_2e, 32768, TH_2, 32)`.
///
/// RFC 9528 uses info labels 0 to 11; 32768 starts the range the exporter-label registry
/// keeps for private use and is used here for the same reason. The value is fresh for both
/// sides (TH_2 covers both ephemeral keys) and known only to them (PRK_2e is secret).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct HandshakeNonce(pub(crate) [u8; 32]);

impl HandshakeNonce {
    /// The EDHOC_KDF info label used to derive the nonce.
    pub const INFO_LABEL: u64 = 32768;

    /// The nonce bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Where EAD items are to be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EadSlot {
    /// EAD_1, sent by the initiator before any key exists.
    Message1,
    /// EAD_2, inside the responder's encrypted message_2.
    Message2,
    /// EAD_3, inside the initiator's message_3.
    Message3,
}

/// What [`Credentials::ead`] is asked for.
#[derive(Debug)]
#[non_exhaustive]
pub struct EadRequest<'a> {
    /// The message the items go in.
    pub slot: EadSlot,
    /// The current time.
    pub now: Instant,
    /// The handshake nonce, known from message_2 on.
    pub nonce: Option<&'a HandshakeNonce>,
    /// What the peer sent in its previous message: EAD_1 when answering message_1, EAD_2
    /// when answering message_2 (unauthenticated in both cases: the peer's signature comes
    /// later or was not made over it yet); empty for message_1.
    pub peer_ead: &'a [EadItem],
}

/// What the verifier sees about the peer.
#[derive(Debug)]
#[non_exhaustive]
pub struct PeerCandidate<'a> {
    /// The peer's role in this handshake.
    pub role: HandshakeRole,
    /// The selected cipher suite (its signature algorithm is the one the key must have).
    pub suite: CipherSuite,
    /// The peer's ID_CRED_x.
    pub id_cred: &'a IdCred,
    /// The credential, when ID_CRED_x carries it by value ([`IdCred::by_value`]).
    pub by_value: Option<&'a [u8]>,
    /// The EAD items of the message that carried ID_CRED_x.
    pub ead: &'a [EadItem],
    /// The handshake nonce for evidence bound to this handshake.
    pub nonce: &'a HandshakeNonce,
    /// When this side's contribution to the nonce came into existence (the initiator's
    /// message_1, the responder's message_2): the nonce is fresh since then, so evidence over
    /// it was made no earlier.
    pub nonce_since: Instant,
    /// The current time.
    pub now: Instant,
}

/// What [`Credentials::resolve_peer`] found: CRED_x for the transcript and the key to check
/// the signature with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCredential {
    /// CRED_x as one CBOR data item.
    pub cred: Vec<u8>,
    /// The peer's public authentication key.
    pub key: PublicKey,
}

/// The verifier's negative answer. Every variant but `UnknownCredential` is sent as EDHOC
/// error code 1 with the same generic text: the peer learns that it was refused, not why. The
/// typed cause stays on this side, for the operator (in [`Event::Closed`](crate::Event)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// ID_CRED_x refers to a credential this side does not have (the peer may retry by
    /// value). Sent as EDHOC error code 3.
    #[error("unknown credential referenced")]
    UnknownCredential,
    /// The credential is not acceptable: malformed, wrong issuer or signature, outside its
    /// validity, revoked, another mission, or a key unfit for the suite; the trust store's
    /// reason says which.
    #[error("peer credential not acceptable: {0}")]
    Credential(CredentialError),
    /// The policy asks for attestation the peer did not send (an attestation result, or
    /// evidence bound to this handshake).
    #[error("peer sent no attestation")]
    Unattested,
    /// The peer's attestation is not acceptable.
    #[error("peer attestation not acceptable: {0}")]
    Attestation(AttestationRefusal),
    /// Refused for another reason of the application's policy.
    #[error("peer refused by policy")]
    Refused,
}

/// Why a peer's attestation was not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AttestationRefusal {
    /// Its attestation result does not verify, is expired, bound to another key, about a
    /// revoked device, or not affirming.
    #[error(transparent)]
    Result(ResultError),
    /// Its evidence bound to this handshake does not appraise.
    #[error(transparent)]
    Evidence(AppraisalError),
    /// Its evidence appraised, but not as affirming.
    #[error("evidence appraised as {0:?}")]
    NotAffirming(Tier),
    /// The handshake nonce could not serve as the evidence's challenge.
    #[error(transparent)]
    Binding(BadNonce),
}

/// The application's credentials and policy for handshakes (implemented by `iomt-identity`'s
/// adapter, or by a test).
pub trait Credentials: Send + Sync {
    /// Our credential for `suite`, whose signing key must use the suite's algorithm; `None`
    /// if we have none (the suite is then not offered or accepted). A handshake keeps the
    /// credential it started with, so an implementation may rotate credentials at any time.
    fn local(&self, suite: CipherSuite) -> Option<Arc<LocalCredential>>;

    /// Finds the credential `peer` names: CRED_x and its public key. Called before the peer's
    /// signature is checked, so it must not change any state (no cache write, no stored
    /// result) and should cost no signature verification: a forged message costs this side
    /// one signature check and nothing else. [`Refusal::UnknownCredential`] for a reference
    /// this side cannot resolve.
    fn resolve_peer(&self, peer: &PeerCandidate<'_>) -> Result<PeerCredential, Refusal>;

    /// Decides about a peer whose handshake signature verified with `credential.key` (it
    /// holds that key, and the key names the expected device): issuer, validity, revocation,
    /// attestation. Anything to remember about the peer is written here, never before.
    fn admit_peer(
        &self,
        peer: &PeerCandidate<'_>,
        credential: &PeerCredential,
    ) -> Result<(), Refusal>;

    /// Whether this side holds the credential of `device` already, so that a handshake with
    /// it can name credentials by reference. An initiator that does not (first contact) asks
    /// for the responder's credential by value and sends its own by value from the start,
    /// which saves the round trip of an unresolved reference (EDHOC error code 3) each way.
    /// The default says yes: references first.
    fn knows_peer(&self, device: DeviceId) -> bool {
        let _ = device;
        true
    }

    /// EAD items to send in `request.slot`.
    fn ead(&self, request: &EadRequest<'_>) -> Vec<EadItem> {
        let _ = request;
        Vec::new()
    }

    /// Whether we understand EAD items with this label (a critical item we do not understand
    /// aborts the handshake).
    fn understands_ead(&self, label: u64) -> bool {
        let _ = label;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn rfc9529_x5t_encoding() {
        let id = IdCred::x5t(-15, &[0x79, 0xf2, 0xa4, 0x1b, 0x51, 0x0c, 0x1f, 0x9b]);
        assert_eq!(
            id.map_bytes(),
            [
                0xa1, 0x18, 0x22, 0x82, 0x2e, 0x48, 0x79, 0xf2, 0xa4, 0x1b, 0x51, 0x0c, 0x1f, 0x9b
            ]
        );
        assert_eq!(id.kid_value(), None);
        assert_eq!(id.by_value(), None);
        let mut compact = Vec::new();
        id.encode_compact(&mut compact);
        assert_eq!(compact, id.map_bytes());
        let back = IdCred::decode_compact(&mut Reader::new(&compact)).unwrap();
        assert_eq!(back, id);
    }

    #[test]
    fn kid_compact_forms() {
        // RFC 9528 section 3.5.3.2: kid h'0f' travels as the int 15, h'18' as a bstr.
        let cases: &[(&[u8], &[u8])] = &[
            (&[0x0f], &[0x0f]),
            (&[0x18], &[0x41, 0x18]),
            (&[1, 2], &[0x42, 1, 2]),
        ];
        for (kid, compact) in cases {
            let id = IdCred::kid(kid);
            let mut out = Vec::new();
            id.encode_compact(&mut out);
            assert_eq!(&out[..], *compact);
            assert_eq!(
                IdCred::decode_compact(&mut Reader::new(compact)).unwrap(),
                id
            );
            assert_eq!(
                IdCred::from_map(id.map_bytes()).unwrap().kid_value(),
                Some(*kid)
            );
        }
        assert_eq!(IdCred::kid(&[0x0f]).map_bytes(), [0xa1, 0x04, 0x41, 0x0f]);
        assert_eq!(
            IdCred::decode_compact(&mut Reader::new(&[0xa1, 0x04, 0x41, 0x0f]))
                .map_err(|e| e.kind()),
            Err(CborErrorKind::NonCanonical)
        );
    }

    #[test]
    fn by_value_credentials() {
        let der = vec![0x30, 0x03, 0x02, 0x01, 0x00];
        let id = IdCred::x5chain(&der);
        assert_eq!(
            id.by_value(),
            Some(&[0x45, 0x30, 0x03, 0x02, 0x01, 0x00][..])
        );
        let ccs = [0xa1, 0x02, 0x61, b'x'];
        let id = IdCred::kccs(&ccs).unwrap();
        assert_eq!(id.by_value(), Some(&ccs[..]));
        assert_eq!(id.map_bytes(), [0xa1, 0x0e, 0xa1, 0x02, 0x61, b'x']);
        let kind = |r: Result<IdCred, CborError>| r.map_err(|e| e.kind());
        assert_eq!(
            kind(IdCred::kcwt(&[0xa1, 0x02])),
            Err(CborErrorKind::Truncated)
        );
        assert_eq!(
            kind(IdCred::from_map(&[0x01])),
            Err(CborErrorKind::UnexpectedType { found: 0 })
        );
        assert_eq!(
            kind(IdCred::from_map(&[0xa0, 0x00])),
            Err(CborErrorKind::TrailingBytes { count: 1 })
        );
    }
}
