//! EDHOC connection identifiers (RFC 9528 section 3.3) and their "bstr / -24..23" encoding,
//! which compact `kid` values share (section 3.5.3.2).

use alloc::vec::Vec;
use core::fmt;

use crate::cbor::{self, CborError, Reader};

/// Longest connection identifier this crate accepts, in bytes.
pub const MAX_CONN_ID_LEN: usize = 8;

/// An EDHOC connection identifier C_I or C_R: a short byte string chosen by its receiver.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId {
    len: u8,
    bytes: [u8; MAX_CONN_ID_LEN],
}

impl ConnId {
    /// A connection identifier with these bytes, if it is at most [`MAX_CONN_ID_LEN`] long.
    pub fn new(bytes: &[u8]) -> Option<Self> {
        let len = u8::try_from(bytes.len()).ok()?;
        let mut out = [0; MAX_CONN_ID_LEN];
        out.get_mut(..bytes.len())?.copy_from_slice(bytes);
        Some(Self { len, bytes: out })
    }

    /// The identifier's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }

    /// Appends the CBOR encoding: an int when the bytes are a one-byte CBOR int, else a bstr.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        write_short_bstr(out, self.as_bytes());
    }

    /// Reads a connection identifier in either encoding.
    pub(crate) fn decode(reader: &mut Reader<'_>) -> Result<Self, CborError> {
        let mut bytes = [0; MAX_CONN_ID_LEN];
        let len = read_short_bstr(reader, &mut bytes)?;
        Self::new(bytes.get(..len).ok_or(CborError::OutOfRange)?).ok_or(CborError::OutOfRange)
    }
}

impl fmt::Debug for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConnId(h'")?;
        self.as_bytes()
            .iter()
            .try_for_each(|b| write!(f, "{b:02x}"))?;
        write!(f, "')")
    }
}

/// Whether a one-byte string is the CBOR encoding of an integer in -24..=23.
fn is_short_int(bytes: &[u8]) -> bool {
    matches!(bytes, [b] if *b <= 0x17 || (0x20..=0x37).contains(b))
}

/// Appends `bytes` as the one-byte int it encodes, or as a bstr.
pub(crate) fn write_short_bstr(out: &mut Vec<u8>, bytes: &[u8]) {
    if is_short_int(bytes) {
        out.extend_from_slice(bytes);
    } else {
        cbor::write_bstr(out, bytes);
    }
}

/// Reads a "bstr / -24..23" into `out`, returning its length. A bstr that should have been
/// sent as an int is non-canonical; an int outside -24..23 is out of range.
pub(crate) fn read_short_bstr(reader: &mut Reader<'_>, out: &mut [u8]) -> Result<usize, CborError> {
    match reader.peek_major() {
        Some(cbor::MAJOR_UINT | cbor::MAJOR_NINT) => {
            let Some(byte) = reader.peek_byte() else {
                return Err(CborError::Truncated);
            };
            if !is_short_int(&[byte]) {
                return Err(CborError::OutOfRange);
            }
            reader.int()?;
            let slot = out.first_mut().ok_or(CborError::OutOfRange)?;
            *slot = byte;
            Ok(1)
        }
        Some(cbor::MAJOR_BSTR) => {
            let bytes = reader.bstr()?;
            if is_short_int(bytes) {
                return Err(CborError::NonCanonical);
            }
            out.get_mut(..bytes.len())
                .ok_or(CborError::OutOfRange)?
                .copy_from_slice(bytes);
            Ok(bytes.len())
        }
        Some(_) => Err(CborError::UnexpectedType),
        None => Err(CborError::Truncated),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn enc(id: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        ConnId::new(id).unwrap().encode(&mut out);
        out
    }

    #[test]
    fn rfc9529_connection_identifiers() {
        // C_I = h'2d' is the one-byte int -14; C_R = h'18' is not a one-byte int.
        assert_eq!(enc(&[0x2d]), vec![0x2d]);
        assert_eq!(enc(&[0x18]), vec![0x41, 0x18]);
        assert_eq!(enc(&[]), vec![0x40]);
        assert_eq!(enc(&[1, 2]), vec![0x42, 1, 2]);
        for bytes in [
            vec![0x2d],
            vec![0x41, 0x18],
            vec![0x40],
            vec![0x00],
            vec![0x37],
        ] {
            let id = ConnId::decode(&mut Reader::new(&bytes)).unwrap();
            assert_eq!(enc(id.as_bytes()), bytes);
        }
    }

    #[test]
    fn rejects_non_canonical_and_long() {
        let bad: &[(&[u8], CborError)] = &[
            (&[0x41, 0x2d], CborError::NonCanonical),
            (&[0x18, 0x18], CborError::OutOfRange),
            (&[0x38, 0x18], CborError::OutOfRange),
            (&[0x49, 1, 2, 3, 4, 5, 6, 7, 8, 9], CborError::OutOfRange),
            (&[0x60], CborError::UnexpectedType),
            (&[], CborError::Truncated),
        ];
        for (bytes, err) in bad {
            assert_eq!(
                ConnId::decode(&mut Reader::new(bytes)),
                Err(*err),
                "{bytes:02x?}"
            );
        }
        assert!(ConnId::new(&[0; 9]).is_none());
        assert_eq!(
            format!("{:?}", ConnId::new(&[0xab]).unwrap()),
            "ConnId(h'ab')"
        );
    }
}
