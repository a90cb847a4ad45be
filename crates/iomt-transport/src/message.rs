//! Wire codecs of the EDHOC messages (RFC 9528 sections 5 and 6): message_1, the outer
//! message_2/3/4 byte strings, PLAINTEXT_2/3/4 and the error message. Every decoder reads the
//! whole input (no trailing bytes) and rejects non-canonical CBOR.

use alloc::string::String;
use alloc::vec::Vec;

use iomt_identity::cbor::{self, CborError, CborErrorKind, Reader};

use crate::conn_id::ConnId;
use crate::credential::IdCred;
use crate::ead::{self, EadItem};

/// Most cipher suites a SUITES_I or SUITES_R list may name.
pub const MAX_SUITES: usize = 8;

/// Method 0: both sides authenticate with signatures.
pub const METHOD_SIGN_SIGN: i64 = 0;

/// A suites list (SUITES_I or SUITES_R): one int, or an array of at least two ints. For
/// SUITES_I the selected suite is the last element and the ones before it are preferred.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suites(Vec<i64>);

impl Suites {
    /// A list; `None` if empty or longer than [`MAX_SUITES`].
    pub fn new(ids: Vec<i64>) -> Option<Self> {
        (1..=MAX_SUITES).contains(&ids.len()).then_some(Self(ids))
    }

    /// The suites in order.
    pub fn ids(&self) -> &[i64] {
        &self.0
    }

    /// The last element: the selected suite in SUITES_I.
    pub fn selected(&self) -> i64 {
        self.0.last().copied().unwrap_or_default()
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        match self.0.as_slice() {
            [one] => cbor::write_int(out, *one),
            many => {
                cbor::write_array(out, many.len());
                many.iter().for_each(|s| cbor::write_int(out, *s));
            }
        }
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, CborError> {
        if r.peek_major() != Some(cbor::MAJOR_ARRAY) {
            return Ok(Self(alloc::vec![r.int()?]));
        }
        let at = r.position();
        let n = r.array()?;
        // A one-element array is the non-canonical spelling of a single int.
        if n < 2 {
            return Err(CborError::new(at, CborErrorKind::NonCanonical, "SUITES"));
        }
        if n > MAX_SUITES {
            let kind = CborErrorKind::TooLarge {
                found: u64::try_from(n).unwrap_or(u64::MAX),
                limit: MAX_SUITES,
            };
            return Err(CborError::new(at, kind, "SUITES"));
        }
        (0..n).map(|_| r.int()).collect::<Result<_, _>>().map(Self)
    }
}

/// message_1 = (METHOD, SUITES_I, G_X, C_I, ? EAD_1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message1<'a> {
    /// METHOD.
    pub method: i64,
    /// SUITES_I.
    pub suites: Suites,
    /// The initiator's ephemeral public key.
    pub g_x: &'a [u8],
    /// C_I.
    pub c_i: ConnId,
    /// EAD_1.
    pub ead: Vec<EadItem>,
}

impl<'a> Message1<'a> {
    /// Decodes message_1.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, CborError> {
        let mut r = Reader::new(bytes);
        let method = r.int()?;
        let suites = Suites::decode(&mut r)?;
        let g_x = r.bstr()?;
        let c_i = ConnId::decode(&mut r)?;
        let ead = ead::decode(&mut r)?;
        Ok(Self {
            method,
            suites,
            g_x,
            c_i,
            ead,
        })
    }

    /// Encodes message_1.
    pub fn encode(&self, out: &mut Vec<u8>) {
        cbor::write_int(out, self.method);
        self.suites.encode(out);
        cbor::write_bstr(out, self.g_x);
        self.c_i.encode(out);
        ead::encode(&self.ead, out);
    }
}

/// Decodes a message made of one byte string (message_2, message_3, message_4).
pub fn decode_single_bstr(bytes: &[u8]) -> Result<&[u8], CborError> {
    let mut r = Reader::new(bytes);
    let inner = r.bstr()?;
    r.finish()?;
    Ok(inner)
}

/// Encodes a message made of one byte string.
pub fn encode_single_bstr(inner: &[u8], out: &mut Vec<u8>) {
    cbor::write_bstr(out, inner);
}

/// PLAINTEXT_2 = (C_R, ID_CRED_R / bstr / -24..23, Signature_or_MAC_2, ? EAD_2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plaintext2<'a> {
    /// C_R.
    pub c_r: ConnId,
    /// ID_CRED_R.
    pub id_cred: IdCred,
    /// Signature_or_MAC_2.
    pub signature: &'a [u8],
    /// EAD_2.
    pub ead: Vec<EadItem>,
    /// EAD_2 as received (what the MAC and signature cover).
    pub ead_bytes: &'a [u8],
}

impl<'a> Plaintext2<'a> {
    /// Decodes PLAINTEXT_2.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, CborError> {
        let mut r = Reader::new(bytes);
        let c_r = ConnId::decode(&mut r)?;
        let id_cred = IdCred::decode_compact(&mut r)?;
        let signature = r.bstr()?;
        let ead_bytes = r.rest();
        let ead = ead::decode(&mut r)?;
        Ok(Self {
            c_r,
            id_cred,
            signature,
            ead,
            ead_bytes,
        })
    }

    /// Encodes PLAINTEXT_2.
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.c_r.encode(out);
        self.id_cred.encode_compact(out);
        cbor::write_bstr(out, self.signature);
        ead::encode(&self.ead, out);
    }
}

/// PLAINTEXT_3 = (ID_CRED_I / bstr / -24..23, Signature_or_MAC_3, ? EAD_3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plaintext3<'a> {
    /// ID_CRED_I.
    pub id_cred: IdCred,
    /// Signature_or_MAC_3.
    pub signature: &'a [u8],
    /// EAD_3.
    pub ead: Vec<EadItem>,
    /// EAD_3 as received.
    pub ead_bytes: &'a [u8],
}

impl<'a> Plaintext3<'a> {
    /// Decodes PLAINTEXT_3.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, CborError> {
        let mut r = Reader::new(bytes);
        let id_cred = IdCred::decode_compact(&mut r)?;
        let signature = r.bstr()?;
        let ead_bytes = r.rest();
        let ead = ead::decode(&mut r)?;
        Ok(Self {
            id_cred,
            signature,
            ead,
            ead_bytes,
        })
    }

    /// Encodes PLAINTEXT_3.
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.id_cred.encode_compact(out);
        cbor::write_bstr(out, self.signature);
        ead::encode(&self.ead, out);
    }
}

/// Longest ERR_INFO text kept from a peer's error message, in bytes.
pub const MAX_ERROR_TEXT: usize = 128;

/// An EDHOC error message (RFC 9528 section 6): (ERR_CODE, ERR_INFO).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorMessage {
    /// ERR_CODE 1, with a diagnostic text.
    Unspecified(String),
    /// ERR_CODE 2: the selected suite is not acceptable; SUITES_R lists the responder's.
    WrongSelectedSuite(Suites),
    /// ERR_CODE 3: the referenced credential is unknown (ERR_INFO `true`).
    UnknownCredential,
    /// Another ERR_CODE; its ERR_INFO is skipped.
    Other(i64),
}

impl ErrorMessage {
    /// The ERR_CODE.
    pub fn code(&self) -> i64 {
        match self {
            Self::Unspecified(_) => 1,
            Self::WrongSelectedSuite(_) => 2,
            Self::UnknownCredential => 3,
            Self::Other(code) => *code,
        }
    }

    /// Decodes an error message.
    pub fn decode(bytes: &[u8]) -> Result<Self, CborError> {
        let mut r = Reader::new(bytes);
        let code = r.int()?;
        let message = match code {
            // ERR_CODE 0 is reserved for success and never sent.
            0 => return Err(CborError::new(0, CborErrorKind::OutOfRange, "ERR_CODE")),
            1 => {
                let text = r.tstr()?;
                let mut end = text.len().min(MAX_ERROR_TEXT);
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                Self::Unspecified(text.get(..end).unwrap_or_default().into())
            }
            2 => Self::WrongSelectedSuite(Suites::decode(&mut r)?),
            3 => {
                if r.peek_byte() != Some(cbor::TRUE) {
                    let found = r.peek_major().unwrap_or(cbor::MAJOR_SIMPLE);
                    let kind = CborErrorKind::UnexpectedType { found };
                    return Err(CborError::new(r.position(), kind, "true"));
                }
                r.item()?;
                Self::UnknownCredential
            }
            other => {
                r.item()?;
                Self::Other(other)
            }
        };
        r.finish()?;
        Ok(message)
    }

    /// Encodes the error message.
    pub fn encode(&self, out: &mut Vec<u8>) {
        cbor::write_int(out, self.code());
        match self {
            Self::Unspecified(text) => cbor::write_tstr(out, text),
            Self::WrongSelectedSuite(suites) => suites.encode(out),
            Self::UnknownCredential => out.push(cbor::TRUE),
            Self::Other(_) => out.push(cbor::TRUE),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn message_1_round_trip_and_canonical_suites() {
        let g_x = [9; 32];
        let m = Message1 {
            method: 0,
            suites: Suites::new(vec![6, 4]).unwrap(),
            g_x: &g_x,
            c_i: ConnId::new(&[0x2d]).unwrap(),
            ead: vec![EadItem::new(7, None)],
        };
        let mut out = Vec::new();
        m.encode(&mut out);
        assert_eq!(out[..4], [0x00, 0x82, 0x06, 0x04]);
        assert_eq!(Message1::decode(&out), Ok(m));
        // [4] instead of 4.
        let mut bad = vec![0x00, 0x81, 0x04, 0x58, 0x20];
        bad.extend_from_slice(&g_x);
        bad.push(0x2d);
        assert_eq!(
            Message1::decode(&bad).map_err(|e| (e.offset(), e.kind())),
            Err((1, CborErrorKind::NonCanonical))
        );
        assert!(Suites::new(vec![]).is_none());
        assert!(Suites::new(vec![0; 9]).is_none());
    }

    #[test]
    fn error_messages() {
        let cases: Vec<(ErrorMessage, Vec<u8>)> = vec![
            (
                ErrorMessage::Unspecified("bad".into()),
                vec![0x01, 0x63, b'b', b'a', b'd'],
            ),
            (
                ErrorMessage::WrongSelectedSuite(Suites::new(vec![4, 6]).unwrap()),
                vec![0x02, 0x82, 0x04, 0x06],
            ),
            (
                ErrorMessage::WrongSelectedSuite(Suites::new(vec![6]).unwrap()),
                vec![0x02, 0x06],
            ),
            (ErrorMessage::UnknownCredential, vec![0x03, 0xf5]),
        ];
        for (msg, bytes) in cases {
            let mut out = Vec::new();
            msg.encode(&mut out);
            assert_eq!(out, bytes);
            assert_eq!(ErrorMessage::decode(&bytes), Ok(msg));
        }
        assert_eq!(
            ErrorMessage::decode(&[0x18, 0x63, 0x80]),
            Ok(ErrorMessage::Other(99))
        );
        let kind = |bytes: &[u8]| ErrorMessage::decode(bytes).map_err(|e| e.kind());
        assert_eq!(kind(&[0x00, 0xf5]), Err(CborErrorKind::OutOfRange));
        assert_eq!(
            kind(&[0x03, 0xf4]),
            Err(CborErrorKind::UnexpectedType { found: 7 })
        );
        assert_eq!(
            kind(&[0x01, 0x60, 0x00]),
            Err(CborErrorKind::TrailingBytes { count: 1 })
        );
        let long = "é".repeat(100);
        let mut out = Vec::new();
        ErrorMessage::Unspecified(long).encode(&mut out);
        let ErrorMessage::Unspecified(kept) = ErrorMessage::decode(&out).unwrap() else {
            panic!("code 1");
        };
        assert!(kept.len() <= MAX_ERROR_TEXT);
    }

    #[test]
    fn single_bstr_messages() {
        assert_eq!(decode_single_bstr(&[0x42, 1, 2]), Ok(&[1, 2][..]));
        let kind = |bytes: &'static [u8]| decode_single_bstr(bytes).map_err(|e| e.kind());
        assert_eq!(
            kind(&[0x42, 1, 2, 3]),
            Err(CborErrorKind::TrailingBytes { count: 1 })
        );
        assert_eq!(
            kind(&[0x02]),
            Err(CborErrorKind::UnexpectedType { found: 0 })
        );
    }
}
