//! Deterministic CBOR (RFC 8949), the one codec of the workspace's signed and persisted objects
//! and of EDHOC's structures.
//!
//! Every value has one encoding (RFC 8949 section 4.2.1): heads in their shortest form,
//! definite lengths, map keys in the bytewise order of their encodings. The writers append to
//! a `Vec<u8>` and produce nothing else; a caller writing a map writes its keys in that order.
//!
//! The [`Reader`] borrows from its input and is canonical as it reads: it refuses a head that
//! is longer than needed, an indefinite length and the reserved encodings, and checks map keys
//! wherever it reads a map (whole, in [`Reader::item`], or pair by pair through
//! [`KeyOrder`]). It never reads past the end and never allocates; a count it returns is
//! bounded only where the caller gives a limit ([`Reader::array_up_to`]), so a caller that
//! allocates asks for one. Every failure says where ([`CborError::offset`]) and what was
//! being read ([`CborError::expected`]).
//!
//! ```
//! use iomt_identity::cbor::{self, CborErrorKind, Reader};
//!
//! let mut out = Vec::new();
//! cbor::write_map(&mut out, 2);
//! cbor::write_int(&mut out, 1);
//! cbor::write_bstr(&mut out, b"kid");
//! cbor::write_int(&mut out, -1);
//! cbor::write_tstr(&mut out, "text");
//! assert_eq!(out, b"\xa2\x01\x43kid\x20\x64text");
//!
//! let mut r = Reader::new(&out);
//! r.map_of(2, "header")?;
//! r.key(1, "kid")?;
//! assert_eq!(r.bstr()?, b"kid");
//! r.key(-1, "text")?;
//! assert_eq!(r.tstr()?, "text");
//! r.finish()?;
//!
//! // 1 written in two bytes is refused, and the error says where.
//! let err = Reader::new(&[0x82, 0x18, 0x01, 0x02]).item().unwrap_err();
//! assert_eq!((err.offset(), err.kind()), (1, CborErrorKind::NonCanonical));
//! # Ok::<(), iomt_identity::cbor::CborError>(())
//! ```

/// Major type 0: an unsigned integer.
pub const MAJOR_UINT: u8 = 0;
/// Major type 1: a negative integer.
pub const MAJOR_NINT: u8 = 1;
/// Major type 2: a byte string.
pub const MAJOR_BSTR: u8 = 2;
/// Major type 3: a text string.
pub const MAJOR_TSTR: u8 = 3;
/// Major type 4: an array.
pub const MAJOR_ARRAY: u8 = 4;
/// Major type 5: a map.
pub const MAJOR_MAP: u8 = 5;
/// Major type 6: a tag.
pub const MAJOR_TAG: u8 = 6;
/// Major type 7: simple values and floats.
pub const MAJOR_SIMPLE: u8 = 7;

/// The simple value `false`.
pub const FALSE: u8 = 0xf4;
/// The simple value `true`.
pub const TRUE: u8 = 0xf5;

/// Deepest nesting [`Reader::item`] follows.
pub const MAX_DEPTH: usize = 8;

/// Why CBOR could not be read, where, and what was being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("CBOR at byte {offset}, reading {expected}: {kind}")]
pub struct CborError {
    offset: usize,
    expected: &'static str,
    kind: CborErrorKind,
}

impl CborError {
    /// An error at byte `offset` of the input, while reading `expected`. Decoders built on
    /// [`Reader`] use it for rules of their own (a count or a value out of range).
    pub const fn new(offset: usize, kind: CborErrorKind, expected: &'static str) -> Self {
        Self {
            offset,
            expected,
            kind,
        }
    }

    /// The byte offset, in the reader's input, of the item that could not be read.
    pub const fn offset(&self) -> usize {
        self.offset
    }

    /// What was being read: a CBOR type (`"byte string"`) or the field of the structure.
    pub const fn expected(&self) -> &'static str {
        self.expected
    }

    /// What was wrong.
    pub const fn kind(&self) -> CborErrorKind {
        self.kind
    }
}

/// What was wrong with the CBOR at a [`CborError`]'s offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum CborErrorKind {
    /// The input ends inside the item.
    #[error("the input ends inside the item")]
    Truncated,
    /// A head longer than needed, or an indefinite length.
    #[error("not in the shortest form, or of indefinite length")]
    NonCanonical,
    /// A map key not after the previous one in bytewise order of the encodings (RFC 8949
    /// section 4.2.1), which includes a repeated key.
    #[error("map key out of order or repeated")]
    KeyOrder,
    /// An item of another major type than the structure has there.
    #[error("found major type {found}")]
    UnexpectedType {
        /// The major type found.
        found: u8,
    },
    /// Another map key than the structure has there.
    #[error("found map key {found}")]
    UnexpectedKey {
        /// The key found.
        found: i64,
    },
    /// An array, map or string of another length than the structure has there.
    #[error("found length {found}")]
    UnexpectedLength {
        /// The length found.
        found: u64,
    },
    /// A count beyond the limit the caller set.
    #[error("{found}, over the limit of {limit}")]
    TooLarge {
        /// The count announced.
        found: u64,
        /// The limit.
        limit: usize,
    },
    /// An integer or value outside the range the structure allows.
    #[error("value out of range")]
    OutOfRange,
    /// A text string that is not UTF-8.
    #[error("text is not UTF-8")]
    InvalidUtf8,
    /// Nesting deeper than [`MAX_DEPTH`].
    #[error("nested deeper than {MAX_DEPTH}")]
    TooDeep,
    /// Additional information 28 to 30, which RFC 8949 reserves.
    #[error("reserved encoding")]
    Reserved,
    /// Bytes after the end of the structure.
    #[error("{count} bytes after the end")]
    TrailingBytes {
        /// How many.
        count: usize,
    },
}

/// Appends a head (major type and argument) in its shortest form.
pub fn write_head(out: &mut Vec<u8>, major: u8, value: u64) {
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

/// Appends an unsigned integer.
pub fn write_uint(out: &mut Vec<u8>, value: u64) {
    write_head(out, MAJOR_UINT, value);
}

/// Appends an integer (major type 0 or 1).
pub fn write_int(out: &mut Vec<u8>, value: i64) {
    if value >= 0 {
        write_head(out, MAJOR_UINT, value.unsigned_abs());
    } else {
        // -1 - n encodes as n: for a negative i64 that is |value| - 1, which never overflows.
        write_head(out, MAJOR_NINT, value.unsigned_abs() - 1);
    }
}

/// Appends a byte string.
pub fn write_bstr(out: &mut Vec<u8>, bytes: &[u8]) {
    write_head(out, MAJOR_BSTR, len_u64(bytes.len()));
    out.extend_from_slice(bytes);
}

/// Appends a text string.
pub fn write_tstr(out: &mut Vec<u8>, text: &str) {
    write_head(out, MAJOR_TSTR, len_u64(text.len()));
    out.extend_from_slice(text.as_bytes());
}

/// Appends `true` or `false`.
pub fn write_bool(out: &mut Vec<u8>, value: bool) {
    out.push(if value { TRUE } else { FALSE });
}

/// Appends an array head announcing `len` items.
pub fn write_array(out: &mut Vec<u8>, len: usize) {
    write_head(out, MAJOR_ARRAY, len_u64(len));
}

/// Appends a map head announcing `len` pairs.
pub fn write_map(out: &mut Vec<u8>, len: usize) {
    write_head(out, MAJOR_MAP, len_u64(len));
}

fn len_u64(len: usize) -> u64 {
    u64::try_from(len).unwrap_or(u64::MAX)
}

/// A cursor over deterministic CBOR: see the [module](self) documentation.
///
/// A read that fails consumes nothing, so a caller may try another type at the same place.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading at the beginning of `input`.
    pub const fn new(input: &'a [u8]) -> Self {
        Self::with_offset(input, 0)
    }

    /// Starts reading `input`, which begins at byte `offset` of a larger input (the content of
    /// a byte string that holds CBOR): errors report offsets in the larger input.
    pub const fn with_offset(input: &'a [u8], offset: usize) -> Self {
        Self {
            input,
            pos: 0,
            base: offset,
        }
    }

    /// The offset of the next byte to read (see [`with_offset`](Self::with_offset)).
    pub fn position(&self) -> usize {
        self.base.saturating_add(self.pos)
    }

    /// Whether the whole input has been consumed.
    pub fn is_empty(&self) -> bool {
        self.rest().is_empty()
    }

    /// The bytes not yet consumed.
    pub fn rest(&self) -> &'a [u8] {
        self.input.get(self.pos..).unwrap_or_default()
    }

    /// Fails unless the whole input has been consumed.
    pub fn finish(&self) -> Result<(), CborError> {
        match self.rest().len() {
            0 => Ok(()),
            count => Err(self.error(CborErrorKind::TrailingBytes { count }, "end of input")),
        }
    }

    /// The major type of the next item, without consuming it.
    pub fn peek_major(&self) -> Option<u8> {
        self.peek_byte().map(|b| b >> 5)
    }

    /// The initial byte of the next item, without consuming it.
    pub fn peek_byte(&self) -> Option<u8> {
        self.rest().first().copied()
    }

    /// An error at the next byte to read.
    fn error(&self, kind: CborErrorKind, expected: &'static str) -> CborError {
        CborError::new(self.position(), kind, expected)
    }

    fn take(&mut self, n: usize, expected: &'static str) -> Result<&'a [u8], CborError> {
        let Some(bytes) = self.rest().get(..n) else {
            return Err(self.error(CborErrorKind::Truncated, expected));
        };
        self.pos = self.pos.saturating_add(n);
        Ok(bytes)
    }

    fn take_array<const N: usize>(&mut self, expected: &'static str) -> Result<[u8; N], CborError> {
        let start = self.position();
        let bytes = self.take(N, expected)?;
        <[u8; N]>::try_from(bytes)
            .map_err(|_| CborError::new(start, CborErrorKind::Truncated, expected))
    }

    /// Reads a head: the major type and its argument, refusing non-shortest forms, indefinite
    /// lengths and reserved encodings. On failure the position is unchanged.
    fn head(&mut self, expected: &'static str) -> Result<(u8, u64), CborError> {
        let mut probe = self.clone();
        let start = self.position();
        let at = |kind| CborError::new(start, kind, expected);
        let [initial] = probe.take_array::<1>(expected)?;
        let major = initial >> 5;
        let info = initial & 0x1f;
        // A simple value below 32 in the one-byte extension is not well-formed (RFC 8949
        // section 3.3); floats (additional information 25 to 27) are not lengths or integers,
        // so there is no shorter head to compare them with.
        let shortest_above = |limit: u64, v: u64| major == MAJOR_SIMPLE || v > limit;
        let value = match info {
            0..=23 => u64::from(info),
            24 => {
                let [b] = probe.take_array::<1>(expected)?;
                let limit = if major == MAJOR_SIMPLE { 31 } else { 23 };
                if u64::from(b) <= limit {
                    return Err(at(CborErrorKind::NonCanonical));
                }
                u64::from(b)
            }
            25 => {
                let v = u64::from(u16::from_be_bytes(probe.take_array(expected)?));
                if !shortest_above(0xff, v) {
                    return Err(at(CborErrorKind::NonCanonical));
                }
                v
            }
            26 => {
                let v = u64::from(u32::from_be_bytes(probe.take_array(expected)?));
                if !shortest_above(0xffff, v) {
                    return Err(at(CborErrorKind::NonCanonical));
                }
                v
            }
            27 => {
                let v = u64::from_be_bytes(probe.take_array(expected)?);
                if !shortest_above(0xffff_ffff, v) {
                    return Err(at(CborErrorKind::NonCanonical));
                }
                v
            }
            31 => return Err(at(CborErrorKind::NonCanonical)),
            _ => return Err(at(CborErrorKind::Reserved)),
        };
        *self = probe;
        Ok((major, value))
    }

    /// Reads a head of major type `major`; on failure the position is unchanged.
    fn head_of(&mut self, major: u8, expected: &'static str) -> Result<u64, CborError> {
        let mut probe = self.clone();
        let (found, value) = probe.head(expected)?;
        if found != major {
            return Err(self.error(CborErrorKind::UnexpectedType { found }, expected));
        }
        *self = probe;
        Ok(value)
    }

    /// Reads an integer (major type 0 or 1) that fits an `i64`.
    pub fn int(&mut self) -> Result<i64, CborError> {
        const EXPECTED: &str = "integer";
        let mut probe = self.clone();
        let (major, value) = probe.head(EXPECTED)?;
        let out = match major {
            MAJOR_UINT => i64::try_from(value).ok(),
            MAJOR_NINT => i64::try_from(value).ok().map(|n| -1 - n),
            found => {
                return Err(self.error(CborErrorKind::UnexpectedType { found }, EXPECTED));
            }
        };
        let out = out.ok_or_else(|| self.error(CborErrorKind::OutOfRange, EXPECTED))?;
        *self = probe;
        Ok(out)
    }

    /// Reads an unsigned integer (major type 0).
    pub fn uint(&mut self) -> Result<u64, CborError> {
        self.head_of(MAJOR_UINT, "unsigned integer")
    }

    /// Reads a negative integer (major type 1), -1 - n, and returns n: the whole range, which
    /// an `i64` does not hold.
    pub fn nint(&mut self) -> Result<u64, CborError> {
        self.head_of(MAJOR_NINT, "negative integer")
    }

    /// Reads an unsigned integer that fits a `u8`.
    pub fn u8(&mut self) -> Result<u8, CborError> {
        self.uint_in("unsigned integer of 8 bits")
    }

    /// Reads an unsigned integer that fits a `u16`.
    pub fn u16(&mut self) -> Result<u16, CborError> {
        self.uint_in("unsigned integer of 16 bits")
    }

    /// Reads an unsigned integer that fits a `u32`.
    pub fn u32(&mut self) -> Result<u32, CborError> {
        self.uint_in("unsigned integer of 32 bits")
    }

    fn uint_in<T: TryFrom<u64>>(&mut self, expected: &'static str) -> Result<T, CborError> {
        let mut probe = self.clone();
        let value = probe.head_of(MAJOR_UINT, expected)?;
        let out =
            T::try_from(value).map_err(|_| self.error(CborErrorKind::OutOfRange, expected))?;
        *self = probe;
        Ok(out)
    }

    /// Reads `true` or `false`.
    pub fn bool(&mut self) -> Result<bool, CborError> {
        const EXPECTED: &str = "bool";
        match self.peek_byte() {
            Some(FALSE) => self.take(1, EXPECTED).map(|_| false),
            Some(TRUE) => self.take(1, EXPECTED).map(|_| true),
            Some(b) => Err(self.error(CborErrorKind::UnexpectedType { found: b >> 5 }, EXPECTED)),
            None => Err(self.error(CborErrorKind::Truncated, EXPECTED)),
        }
    }

    /// Reads a tag and returns its number; the tagged item follows.
    pub fn tag(&mut self) -> Result<u64, CborError> {
        self.head_of(MAJOR_TAG, "tag")
    }

    /// Reads a byte string, borrowing its content.
    pub fn bstr(&mut self) -> Result<&'a [u8], CborError> {
        self.string(MAJOR_BSTR, "byte string")
    }

    /// Reads a byte string of exactly `N` bytes: `what`, for the error.
    pub fn bstr_array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], CborError> {
        let mut probe = self.clone();
        let bytes = probe.string(MAJOR_BSTR, what)?;
        let out = <[u8; N]>::try_from(bytes).map_err(|_| {
            let found = len_u64(bytes.len());
            self.error(CborErrorKind::UnexpectedLength { found }, what)
        })?;
        *self = probe;
        Ok(out)
    }

    /// Reads a text string, borrowing its content; it must be valid UTF-8.
    pub fn tstr(&mut self) -> Result<&'a str, CborError> {
        const EXPECTED: &str = "text string";
        let mut probe = self.clone();
        let bytes = probe.string(MAJOR_TSTR, EXPECTED)?;
        let text = core::str::from_utf8(bytes)
            .map_err(|_| self.error(CborErrorKind::InvalidUtf8, EXPECTED))?;
        *self = probe;
        Ok(text)
    }

    fn string(&mut self, major: u8, expected: &'static str) -> Result<&'a [u8], CborError> {
        let mut probe = self.clone();
        let len = probe.head_of(major, expected)?;
        // A length beyond the address space is beyond the input too.
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        let bytes = probe
            .take(len, expected)
            .map_err(|_| self.error(CborErrorKind::Truncated, expected))?;
        *self = probe;
        Ok(bytes)
    }

    /// Reads an array head and returns the number of items it announces. Nothing bounds the
    /// count but the input: a caller that allocates for the items uses
    /// [`array_up_to`](Self::array_up_to).
    pub fn array(&mut self) -> Result<usize, CborError> {
        self.count(MAJOR_ARRAY, "array", usize::MAX)
    }

    /// Reads an array head announcing at most `limit` items: `what`, for the error.
    pub fn array_up_to(&mut self, limit: usize, what: &'static str) -> Result<usize, CborError> {
        self.count(MAJOR_ARRAY, what, limit)
    }

    /// Reads an array head announcing exactly `len` items: `what`, for the error.
    pub fn array_of(&mut self, len: usize, what: &'static str) -> Result<(), CborError> {
        self.count_of(MAJOR_ARRAY, len, what)
    }

    /// Reads a map head and returns the number of pairs it announces; read the keys through
    /// [`KeyOrder`] (or with [`key`](Self::key), in a fixed order). Nothing bounds the count
    /// but the input: see [`map_up_to`](Self::map_up_to).
    pub fn map(&mut self) -> Result<usize, CborError> {
        self.count(MAJOR_MAP, "map", usize::MAX)
    }

    /// Reads a map head announcing at most `limit` pairs: `what`, for the error.
    pub fn map_up_to(&mut self, limit: usize, what: &'static str) -> Result<usize, CborError> {
        self.count(MAJOR_MAP, what, limit)
    }

    /// Reads a map head announcing exactly `len` pairs: `what`, for the error.
    pub fn map_of(&mut self, len: usize, what: &'static str) -> Result<(), CborError> {
        self.count_of(MAJOR_MAP, len, what)
    }

    fn count(&mut self, major: u8, what: &'static str, limit: usize) -> Result<usize, CborError> {
        let mut probe = self.clone();
        let found = probe.head_of(major, what)?;
        let n = usize::try_from(found)
            .ok()
            .filter(|n| *n <= limit)
            .ok_or_else(|| self.error(CborErrorKind::TooLarge { found, limit }, what))?;
        *self = probe;
        Ok(n)
    }

    fn count_of(&mut self, major: u8, len: usize, what: &'static str) -> Result<(), CborError> {
        let mut probe = self.clone();
        let found = probe.head_of(major, what)?;
        if found != len_u64(len) {
            return Err(self.error(CborErrorKind::UnexpectedLength { found }, what));
        }
        *self = probe;
        Ok(())
    }

    /// Reads the integer map key `key` of a map whose keys are fixed: the keys of such a map
    /// are read in ascending order, so reading them one after another checks their order.
    /// `what` names the field, for the error.
    pub fn key(&mut self, key: i64, what: &'static str) -> Result<(), CborError> {
        let mut probe = self.clone();
        let found = probe
            .int()
            .map_err(|e| CborError::new(e.offset(), e.kind(), what))?;
        if found != key {
            return Err(self.error(CborErrorKind::UnexpectedKey { found }, what));
        }
        *self = probe;
        Ok(())
    }

    /// Reads one whole data item of any type, checked as deterministic CBOR through all its
    /// nesting, and returns its encoded bytes.
    pub fn item(&mut self) -> Result<&'a [u8], CborError> {
        let mut probe = self.clone();
        probe.skip(0)?;
        let item = self.input.get(self.pos..probe.pos).unwrap_or_default();
        *self = probe;
        Ok(item)
    }

    fn skip(&mut self, depth: usize) -> Result<(), CborError> {
        const EXPECTED: &str = "data item";
        if depth > MAX_DEPTH {
            return Err(self.error(CborErrorKind::TooDeep, EXPECTED));
        }
        match self.peek_major() {
            Some(MAJOR_BSTR) => self.bstr().map(|_| ()),
            Some(MAJOR_TSTR) => self.tstr().map(|_| ()),
            Some(MAJOR_ARRAY) => {
                let n = self.array()?;
                (0..n).try_for_each(|_| self.skip(depth + 1))
            }
            Some(MAJOR_MAP) => {
                let n = self.map()?;
                let mut keys = KeyOrder::new();
                (0..n).try_for_each(|_| {
                    keys.next(self, |r| r.skip(depth + 1))?;
                    self.skip(depth + 1)
                })
            }
            Some(MAJOR_TAG) => {
                self.tag()?;
                self.skip(depth + 1)
            }
            _ => self.head(EXPECTED).map(|_| ()),
        }
    }
}

/// The keys of a map read pair by pair, checked to ascend in the bytewise order of their
/// encodings (RFC 8949 section 4.2.1), which also refuses a repeated key.
///
/// ```
/// use iomt_identity::cbor::{CborErrorKind, KeyOrder, Reader};
///
/// // {2: 0, 1: 0}: keys out of order.
/// let mut r = Reader::new(&[0xa2, 0x02, 0x00, 0x01, 0x00]);
/// let mut keys = KeyOrder::new();
/// for _ in 0..r.map()? {
///     if let Err(e) = keys.next(&mut r, Reader::u8) {
///         assert_eq!((e.offset(), e.kind()), (3, CborErrorKind::KeyOrder));
///         return Ok(());
///     }
///     r.u8()?;
/// }
/// unreachable!();
/// # Ok::<(), iomt_identity::cbor::CborError>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct KeyOrder<'a> {
    last: Option<&'a [u8]>,
}

impl<'a> KeyOrder<'a> {
    /// Before the first key.
    pub const fn new() -> Self {
        Self { last: None }
    }

    /// Reads the next key with `read` and checks that its encoding sorts after the previous
    /// key's. On failure the position is unchanged.
    pub fn next<T>(
        &mut self,
        r: &mut Reader<'a>,
        read: impl FnOnce(&mut Reader<'a>) -> Result<T, CborError>,
    ) -> Result<T, CborError> {
        let mut probe = r.clone();
        let key = read(&mut probe)?;
        let encoded = r.input.get(r.pos..probe.pos).unwrap_or_default();
        if self.last.is_some_and(|last| last >= encoded) {
            return Err(r.error(CborErrorKind::KeyOrder, "map key"));
        }
        self.last = Some(encoded);
        *r = probe;
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt;
    use proptest::prelude::*;

    fn kind<T: fmt::Debug>(r: Result<T, CborError>) -> CborErrorKind {
        r.unwrap_err().kind()
    }

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
        write_array(&mut out, 3);
        write_bstr(&mut out, &[0x12, 0xcd]);
        write_tstr(&mut out, "IETF");
        write_map(&mut out, 1);
        write_int(&mut out, 4);
        write_bstr(&mut out, &[0xcd]);
        assert_eq!(
            out,
            [
                0x83, 0x42, 0x12, 0xcd, 0x64, b'I', b'E', b'T', b'F', 0xa1, 0x04, 0x41, 0xcd
            ]
        );
        let mut r = Reader::new(&out);
        assert_eq!(r.array(), Ok(3));
        assert_eq!(r.bstr(), Ok(&[0x12, 0xcd][..]));
        assert_eq!(r.tstr(), Ok("IETF"));
        assert_eq!(r.item(), Ok(&[0xa1, 0x04, 0x41, 0xcd][..]));
        assert_eq!(r.finish(), Ok(()));
    }

    #[test]
    fn fixed_shapes_and_their_errors() {
        let mut out = Vec::new();
        write_map(&mut out, 2);
        write_int(&mut out, 4);
        write_bool(&mut out, true);
        write_int(&mut out, -65537);
        write_bstr(&mut out, &[1, 2, 3]);
        let mut r = Reader::new(&out);
        assert_eq!(
            kind(r.map_of(3, "claims")),
            CborErrorKind::UnexpectedLength { found: 2 }
        );
        assert_eq!(
            kind(r.map_up_to(1, "claims")),
            CborErrorKind::TooLarge { found: 2, limit: 1 }
        );
        r.map_of(2, "claims").unwrap();
        let err = r.key(5, "nbf").unwrap_err();
        assert_eq!(
            (err.offset(), err.expected(), err.kind()),
            (1, "nbf", CborErrorKind::UnexpectedKey { found: 4 })
        );
        r.key(4, "exp").unwrap();
        assert_eq!(r.bool(), Ok(true));
        r.key(-65537, "scope").unwrap();
        assert_eq!(
            kind(r.bstr_array::<4>("digest")),
            CborErrorKind::UnexpectedLength { found: 3 }
        );
        assert_eq!(r.bstr_array::<3>("digest"), Ok([1, 2, 3]));
        r.finish().unwrap();
        assert_eq!(
            format!("{}", Reader::new(&[0x01]).bstr().unwrap_err()),
            "CBOR at byte 0, reading byte string: found major type 0"
        );
    }

    #[test]
    fn rejects_non_canonical_and_bad_input() {
        let bad: &[(&[u8], CborErrorKind)] = &[
            (&[0x18, 0x17], CborErrorKind::NonCanonical),
            (&[0x19, 0x00, 0xff], CborErrorKind::NonCanonical),
            (&[0x1a, 0x00, 0x00, 0xff, 0xff], CborErrorKind::NonCanonical),
            (
                &[0x1b, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff],
                CborErrorKind::NonCanonical,
            ),
            (&[0x5f], CborErrorKind::NonCanonical),
            (&[0x1f], CborErrorKind::NonCanonical),
            (&[0x1c], CborErrorKind::Reserved),
            (&[0x19, 0x01], CborErrorKind::Truncated),
            (&[], CborErrorKind::Truncated),
            (
                &[0x1b, 0x80, 0, 0, 0, 0, 0, 0, 0],
                CborErrorKind::OutOfRange,
            ),
            (&[0x40], CborErrorKind::UnexpectedType { found: 2 }),
        ];
        for (bytes, err) in bad {
            assert_eq!(kind(Reader::new(bytes).int()), *err, "{bytes:02x?}");
        }
        assert_eq!(
            kind(Reader::new(&[0x5f, 0xff]).item()),
            CborErrorKind::NonCanonical
        );
        assert_eq!(
            kind(Reader::new(&[0xf8, 0x1f]).item()),
            CborErrorKind::NonCanonical
        );
        assert_eq!(
            kind(Reader::new(&[0x45, 1, 2]).bstr()),
            CborErrorKind::Truncated
        );
        assert_eq!(
            kind(Reader::new(&[0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).bstr()),
            CborErrorKind::Truncated
        );
        assert_eq!(
            kind(Reader::new(&[0x62, 0xff, 0xfe]).tstr()),
            CborErrorKind::InvalidUtf8
        );
        assert_eq!(
            kind(Reader::new(&[0x19, 0x01, 0x00]).u8()),
            CborErrorKind::OutOfRange
        );
        let deep = vec![0x81; 20];
        assert_eq!(kind(Reader::new(&deep).item()), CborErrorKind::TooDeep);
        let mut r = Reader::new(&[0x00, 0x01]);
        r.int().unwrap();
        let err = r.finish().unwrap_err();
        assert_eq!(
            (err.offset(), err.kind()),
            (1, CborErrorKind::TrailingBytes { count: 1 })
        );
    }

    #[test]
    fn maps_are_read_in_key_order() {
        // {1: 0, 1: 0}, {-1: 0, 1: 0} (0x20 sorts after 0x01), {"b": 0, "aa": 0}.
        let repeated: &[u8] = &[0xa2, 0x01, 0x00, 0x01, 0x00];
        let unsorted: &[u8] = &[0xa2, 0x20, 0x00, 0x01, 0x00];
        let longer_first: &[u8] = &[0xa2, 0x62, b'a', b'a', 0x00, 0x61, b'b', 0x00];
        for (bytes, second_key) in [(repeated, 3), (unsorted, 3), (longer_first, 5)] {
            let err = Reader::new(bytes).item().unwrap_err();
            assert_eq!(
                (err.offset(), err.kind()),
                (second_key, CborErrorKind::KeyOrder),
                "{bytes:02x?}"
            );
        }
        let sorted: &[u8] = &[0xa3, 0x01, 0x00, 0x20, 0x00, 0x61, b'b', 0x00];
        assert_eq!(Reader::new(sorted).item(), Ok(sorted));
    }

    #[test]
    fn offsets_continue_into_nested_input() {
        let mut r = Reader::with_offset(&[0x00, 0x41], 10);
        r.int().unwrap();
        assert_eq!(r.position(), 11);
        assert_eq!(r.bstr().unwrap_err().offset(), 11);
    }

    #[test]
    fn failed_reads_do_not_consume() {
        let mut r = Reader::new(&[0x41, 0x05]);
        assert_eq!(kind(r.int()), CborErrorKind::UnexpectedType { found: 2 });
        assert_eq!(
            kind(r.bstr_array::<2>("x")),
            CborErrorKind::UnexpectedLength { found: 1 }
        );
        assert_eq!(
            kind(r.key(1, "x")),
            CborErrorKind::UnexpectedType { found: 2 }
        );
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
