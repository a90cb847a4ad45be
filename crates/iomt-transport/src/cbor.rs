//! The small subset of CBOR (RFC 8949) that EDHOC's fixed structures need: integers, byte and
//! text strings, arrays, maps and simple values, in the deterministic (shortest-form) encoding.
//!
//! The writer appends to a `Vec<u8>`. The [`Reader`] borrows from its input, rejects indefinite
//! lengths and every non-shortest head, never reads past the end and never allocates: a length
//! the peer claims is checked against the bytes actually present before anything is sliced.

use alloc::vec::Vec;

/// Why a CBOR item could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CborError {
    /// The input ended inside an item.
    #[error("CBOR input ends inside an item")]
    Truncated,
    /// A head was not in its shortest form, or a length was indefinite.
    #[error("non-canonical CBOR encoding")]
    NonCanonical,
    /// The item is of another major type than the structure requires.
    #[error("unexpected CBOR type")]
    UnexpectedType,
    /// An integer does not fit the range the structure allows.
    #[error("CBOR integer out of range")]
    OutOfRange,
    /// Nesting deeper than the reader accepts when skipping items.
    #[error("CBOR nesting too deep")]
    TooDeep,
    /// A reserved or unsupported encoding (additional information 28 to 31).
    #[error("unsupported CBOR encoding")]
    Unsupported,
    /// Bytes remain after the structure ended.
    #[error("trailing bytes after the CBOR sequence")]
    TrailingBytes,
}

pub(crate) const MAJOR_UINT: u8 = 0;
pub(crate) const MAJOR_NINT: u8 = 1;
pub(crate) const MAJOR_BSTR: u8 = 2;
pub(crate) const MAJOR_TSTR: u8 = 3;
pub(crate) const MAJOR_ARRAY: u8 = 4;
pub(crate) const MAJOR_MAP: u8 = 5;
pub(crate) const MAJOR_TAG: u8 = 6;
pub(crate) const MAJOR_SIMPLE: u8 = 7;

/// The CBOR simple value `true`.
pub(crate) const TRUE: u8 = 0xf5;

/// Deepest nesting [`Reader::skip`] follows.
const MAX_DEPTH: usize = 8;

/// Appends a head (major type and argument) in its shortest form.
pub(crate) fn write_head(out: &mut Vec<u8>, major: u8, value: u64) {
    let m = major << 5;
    let bytes = value.to_be_bytes();
    match value {
        0..=23 => out.push(m | bytes[7]),
        24..=0xff => out.extend_from_slice(&[m | 24, bytes[7]]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend_from_slice(&bytes[6..]);
        }
        0x1_0000..=0xffff_ffff => {
            out.push(m | 26);
            out.extend_from_slice(&bytes[4..]);
        }
        _ => {
            out.push(m | 27);
            out.extend_from_slice(&bytes);
        }
    }
}

/// Appends an integer (major type 0 or 1).
pub(crate) fn write_int(out: &mut Vec<u8>, value: i64) {
    if value >= 0 {
        write_head(out, MAJOR_UINT, value.unsigned_abs());
    } else {
        // -1 - n encodes as n: for a negative i64 that is |value| - 1, which never overflows.
        write_head(out, MAJOR_NINT, value.unsigned_abs() - 1);
    }
}

/// Appends a byte string.
pub(crate) fn write_bstr(out: &mut Vec<u8>, bytes: &[u8]) {
    write_head(out, MAJOR_BSTR, len_u64(bytes.len()));
    out.extend_from_slice(bytes);
}

/// Appends a text string.
pub(crate) fn write_tstr(out: &mut Vec<u8>, text: &str) {
    write_head(out, MAJOR_TSTR, len_u64(text.len()));
    out.extend_from_slice(text.as_bytes());
}

/// Appends an array head announcing `len` items.
pub(crate) fn write_array(out: &mut Vec<u8>, len: usize) {
    write_head(out, MAJOR_ARRAY, len_u64(len));
}

/// Appends a map head announcing `len` pairs.
pub(crate) fn write_map(out: &mut Vec<u8>, len: usize) {
    write_head(out, MAJOR_MAP, len_u64(len));
}

fn len_u64(len: usize) -> u64 {
    u64::try_from(len).unwrap_or(u64::MAX)
}

/// A cursor over a CBOR sequence.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Starts reading at the beginning of `input`.
    pub(crate) fn new(input: &'a [u8]) -> Self {
        Self { rest: input }
    }

    /// Whether the whole input has been consumed.
    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The bytes not yet consumed.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.rest
    }

    /// Fails unless the whole input has been consumed.
    pub(crate) fn finish(&self) -> Result<(), CborError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(CborError::TrailingBytes)
        }
    }

    /// The major type of the next item, without consuming it.
    pub(crate) fn peek_major(&self) -> Option<u8> {
        self.rest.first().map(|b| b >> 5)
    }

    /// The initial byte of the next item, without consuming it.
    pub(crate) fn peek_byte(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], CborError> {
        if n > self.rest.len() {
            return Err(CborError::Truncated);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], CborError> {
        let bytes = self.take(N)?;
        <[u8; N]>::try_from(bytes).map_err(|_| CborError::Truncated)
    }

    /// Reads a head: the major type and its argument, rejecting non-shortest forms.
    pub(crate) fn head(&mut self) -> Result<(u8, u64), CborError> {
        let [initial] = self.take_array::<1>()?;
        let major = initial >> 5;
        let info = initial & 0x1f;
        let value = match info {
            0..=23 => u64::from(info),
            24 => {
                let [b] = self.take_array::<1>()?;
                if b < 24 && major != MAJOR_SIMPLE {
                    return Err(CborError::NonCanonical);
                }
                if major == MAJOR_SIMPLE && b < 32 {
                    return Err(CborError::NonCanonical);
                }
                u64::from(b)
            }
            25 => {
                let v = u64::from(u16::from_be_bytes(self.take_array()?));
                if major != MAJOR_SIMPLE && v <= 0xff {
                    return Err(CborError::NonCanonical);
                }
                v
            }
            26 => {
                let v = u64::from(u32::from_be_bytes(self.take_array()?));
                if major != MAJOR_SIMPLE && v <= 0xffff {
                    return Err(CborError::NonCanonical);
                }
                v
            }
            27 => {
                let v = u64::from_be_bytes(self.take_array()?);
                if major != MAJOR_SIMPLE && v <= 0xffff_ffff {
                    return Err(CborError::NonCanonical);
                }
                v
            }
            31 => return Err(CborError::NonCanonical),
            _ => return Err(CborError::Unsupported),
        };
        Ok((major, value))
    }

    /// Reads an integer (major type 0 or 1) that fits an `i64`.
    pub(crate) fn int(&mut self) -> Result<i64, CborError> {
        let mut probe = self.clone();
        let (major, value) = probe.head()?;
        let out = match major {
            MAJOR_UINT => i64::try_from(value).map_err(|_| CborError::OutOfRange)?,
            MAJOR_NINT => -1 - i64::try_from(value).map_err(|_| CborError::OutOfRange)?,
            _ => return Err(CborError::UnexpectedType),
        };
        *self = probe;
        Ok(out)
    }

    /// Reads an unsigned integer (major type 0).
    pub(crate) fn uint(&mut self) -> Result<u64, CborError> {
        let mut probe = self.clone();
        let (major, value) = probe.head()?;
        if major != MAJOR_UINT {
            return Err(CborError::UnexpectedType);
        }
        *self = probe;
        Ok(value)
    }

    fn length(&mut self, expected: u8) -> Result<usize, CborError> {
        let mut probe = self.clone();
        let (major, value) = probe.head()?;
        if major != expected {
            return Err(CborError::UnexpectedType);
        }
        let len = usize::try_from(value).map_err(|_| CborError::Truncated)?;
        *self = probe;
        Ok(len)
    }

    /// Reads a byte string, borrowing its content.
    pub(crate) fn bstr(&mut self) -> Result<&'a [u8], CborError> {
        let mut probe = self.clone();
        let len = probe.length(MAJOR_BSTR)?;
        let bytes = probe.take(len)?;
        *self = probe;
        Ok(bytes)
    }

    /// Reads a text string, borrowing its content; it must be valid UTF-8.
    pub(crate) fn tstr(&mut self) -> Result<&'a str, CborError> {
        let mut probe = self.clone();
        let len = probe.length(MAJOR_TSTR)?;
        let bytes = probe.take(len)?;
        let text = core::str::from_utf8(bytes).map_err(|_| CborError::UnexpectedType)?;
        *self = probe;
        Ok(text)
    }

    /// Reads an array head and returns the number of items it announces.
    pub(crate) fn array(&mut self) -> Result<usize, CborError> {
        self.length(MAJOR_ARRAY)
    }

    /// Reads a map head and returns the number of pairs it announces.
    pub(crate) fn map(&mut self) -> Result<usize, CborError> {
        self.length(MAJOR_MAP)
    }

    /// Reads one whole data item of any type and returns its encoded bytes.
    pub(crate) fn item(&mut self) -> Result<&'a [u8], CborError> {
        let start = self.rest;
        let mut probe = self.clone();
        probe.skip(0)?;
        let used = start.len() - probe.rest.len();
        let item = start.get(..used).ok_or(CborError::Truncated)?;
        *self = probe;
        Ok(item)
    }

    fn skip(&mut self, depth: usize) -> Result<(), CborError> {
        if depth > MAX_DEPTH {
            return Err(CborError::TooDeep);
        }
        let (major, value) = self.head()?;
        match major {
            MAJOR_UINT | MAJOR_NINT | MAJOR_SIMPLE => Ok(()),
            MAJOR_BSTR => {
                let len = usize::try_from(value).map_err(|_| CborError::Truncated)?;
                self.take(len).map(|_| ())
            }
            MAJOR_TSTR => {
                let len = usize::try_from(value).map_err(|_| CborError::Truncated)?;
                core::str::from_utf8(self.take(len)?)
                    .map(|_| ())
                    .map_err(|_| CborError::UnexpectedType)
            }
            MAJOR_ARRAY => (0..value).try_for_each(|_| self.skip(depth + 1)),
            MAJOR_MAP => (0..value).try_for_each(|_| {
                self.skip(depth + 1)?;
                self.skip(depth + 1)
            }),
            MAJOR_TAG => self.skip(depth + 1),
            _ => Err(CborError::Unsupported),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use proptest::prelude::*;

    #[test]
    fn rfc8949_appendix_a_integers() {
        let cases: &[(i64, &[u8])] = &[
            (0, &[0x00]),
            (1, &[0x01]),
            (10, &[0x0a]),
            (23, &[0x17]),
            (24, &[0x18, 0x18]),
            (25, &[0x18, 0x19]),
            (100, &[0x18, 0x64]),
            (1000, &[0x19, 0x03, 0xe8]),
            (1_000_000, &[0x1a, 0x00, 0x0f, 0x42, 0x40]),
            (
                1_000_000_000_000,
                &[0x1b, 0x00, 0x00, 0x00, 0xe8, 0xd4, 0xa5, 0x10, 0x00],
            ),
            (-1, &[0x20]),
            (-10, &[0x29]),
            (-100, &[0x38, 0x63]),
            (-1000, &[0x39, 0x03, 0xe7]),
            (
                i64::MIN,
                &[0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            ),
        ];
        for (value, bytes) in cases {
            let mut out = Vec::new();
            write_int(&mut out, *value);
            assert_eq!(&out[..], *bytes, "{value}");
            let mut r = Reader::new(bytes);
            assert_eq!(r.int(), Ok(*value));
            assert!(r.is_empty());
        }
    }

    #[test]
    fn strings_arrays_maps() {
        let mut out = Vec::new();
        write_array(&mut out, 2);
        write_bstr(&mut out, &[0x12, 0xcd]);
        write_tstr(&mut out, "IETF");
        write_map(&mut out, 1);
        write_int(&mut out, 4);
        write_bstr(&mut out, &[0xcd]);
        assert_eq!(
            out,
            [
                0x82, 0x42, 0x12, 0xcd, 0x64, b'I', b'E', b'T', b'F', 0xa1, 0x04, 0x41, 0xcd
            ]
        );
        let mut r = Reader::new(&out);
        assert_eq!(r.array(), Ok(2));
        assert_eq!(r.bstr(), Ok(&[0x12, 0xcd][..]));
        assert_eq!(r.tstr(), Ok("IETF"));
        assert_eq!(r.item(), Ok(&[0xa1, 0x04, 0x41, 0xcd][..]));
        assert_eq!(r.finish(), Ok(()));
    }

    #[test]
    fn rejects_non_canonical_and_bad_input() {
        let bad: &[(&[u8], CborError)] = &[
            (&[0x18, 0x17], CborError::NonCanonical),
            (&[0x19, 0x00, 0xff], CborError::NonCanonical),
            (&[0x1a, 0x00, 0x00, 0xff, 0xff], CborError::NonCanonical),
            (
                &[0x1b, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff],
                CborError::NonCanonical,
            ),
            (&[0x5f], CborError::NonCanonical),
            (&[0x1c], CborError::Unsupported),
            (&[0x19, 0x01], CborError::Truncated),
            (&[], CborError::Truncated),
            (&[0x1b, 0x80, 0, 0, 0, 0, 0, 0, 0], CborError::OutOfRange),
            (&[0x40], CborError::UnexpectedType),
        ];
        for (bytes, err) in bad {
            assert_eq!(Reader::new(bytes).int(), Err(*err), "{bytes:02x?}");
        }
        assert_eq!(Reader::new(&[0x45, 1, 2]).bstr(), Err(CborError::Truncated));
        assert_eq!(
            Reader::new(&[0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).bstr(),
            Err(CborError::Truncated)
        );
        assert_eq!(
            Reader::new(&[0x62, 0xff, 0xfe]).tstr(),
            Err(CborError::UnexpectedType)
        );
        let deep = vec![0x81; 20];
        assert_eq!(Reader::new(&deep).item(), Err(CborError::TooDeep));
        assert_eq!(
            Reader::new(&[0x00, 0x01]).finish(),
            Err(CborError::TrailingBytes)
        );
    }

    #[test]
    fn failed_reads_do_not_consume() {
        let mut r = Reader::new(&[0x41, 0x05]);
        assert_eq!(r.int(), Err(CborError::UnexpectedType));
        assert_eq!(r.bstr(), Ok(&[0x05][..]));
    }

    proptest! {
        #[test]
        fn int_round_trip(v in any::<i64>()) {
            let mut out = Vec::new();
            write_int(&mut out, v);
            let mut r = Reader::new(&out);
            prop_assert_eq!(r.int(), Ok(v));
            prop_assert!(r.is_empty());
        }

        #[test]
        fn bstr_round_trip(v in proptest::collection::vec(any::<u8>(), 0..400)) {
            let mut out = Vec::new();
            write_bstr(&mut out, &v);
            let mut r = Reader::new(&out);
            prop_assert_eq!(r.bstr(), Ok(&v[..]));
            prop_assert!(r.is_empty());
        }

        #[test]
        fn item_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut r = Reader::new(&bytes);
            if let Ok(item) = r.item() {
                prop_assert!(item.len() <= bytes.len());
            }
        }
    }
}
