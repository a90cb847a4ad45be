//! EDHOC connection identifiers (RFC 9528 section 3.3) and their "bstr / -24..23" encoding,
//! which compact `kid` values share (section 3.5.3.2).

use alloc::vec::Vec;
use core::fmt;

use iomt_identity::cbor::{self, CborError, CborErrorKind, Reader};

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
        let at = reader.position();
        let len = read_short_bstr(reader, &mut bytes, "connection identifier")?;
        bytes.get(..len).and_then(Self::new).ok_or(CborError::new(
            at,
            CborErrorKind::OutOfRange,
            "connection identifier",
        ))
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

/// Reads a "bstr / -24..23" (`what`, for the error) into `out`, returning its length. A bstr
/// that should have been sent as an int is non-canonical; an int outside -24..23, or more
/// bytes than `out` holds, is out of range. On failure the position is unchanged.
pub(crate) fn read_short_bstr(
    reader: &mut Reader<'_>,
    out: &mut [u8],
    what: &'static str,
) -> Result<usize, CborError> {
    let at = reader.position();
    let fail = |kind| CborError::new(at, kind, what);
    let mut probe = reader.clone();
    let len = match reader.peek_major() {
        Some(cbor::MAJOR_UINT | cbor::MAJOR_NINT) => {
            let byte = reader
                .peek_byte()
                .filter(|b| is_short_int(&[*b]))
                .ok_or(fail(CborErrorKind::OutOfRange))?;
            probe.int()?;
            *out.first_mut().ok_or(fail(CborErrorKind::OutOfRange))? = byte;
            1
        }
        Some(cbor::MAJOR_BSTR) => {
            let bytes = probe.bstr()?;
            if is_short_int(bytes) {
                return Err(fail(CborErrorKind::NonCanonical));
            }
            out.get_mut(..bytes.len())
                .ok_or(fail(CborErrorKind::OutOfRange))?
                .copy_from_slice(bytes);
            bytes.len()
        }
        Some(found) => return Err(fail(CborErrorKind::UnexpectedType { found })),
        None => return Err(fail(CborErrorKind::Truncated)),
    };
    *reader = probe;
    Ok(len)
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
        let bad: &[(&[u8], CborErrorKind)] = &[
            (&[0x41, 0x2d], CborErrorKind::NonCanonical),
            (&[0x18, 0x18], CborErrorKind::OutOfRange),
            (&[0x38, 0x18], CborErrorKind::OutOfRange),
            (
                &[0x49, 1, 2, 3, 4, 5, 6, 7, 8, 9],
                CborErrorKind::OutOfRange,
            ),
            (&[0x60], CborErrorKind::UnexpectedType { found: 3 }),
            (&[], CborErrorKind::Truncated),
        ];
        for (bytes, kind) in bad {
            assert_eq!(
                ConnId::decode(&mut Reader::new(bytes)).map_err(|e| e.kind()),
                Err(*kind),
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
