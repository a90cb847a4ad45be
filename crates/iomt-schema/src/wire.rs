//! Reader and writers: the only code that touches byte positions.
//!
//! Every read is bounds-checked and returns a typed error; nothing here can panic or read past
//! the input. Writers go through [`Sink`], so one encoding function serves a caller's slice, a
//! growable [`bytes::BufMut`], and the length counter behind `encoded_len`.

use alloc::string::String;
use alloc::vec::Vec;

use bytes::BufMut;

use crate::error::{DecodeError, EncodeError, Overflowed};
use crate::limits::Limits;

/// A value with one canonical wire form.
pub(crate) trait Wire: Sized {
    /// Writes the value.
    fn encode<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError>;
    /// Reads the value, rejecting every non-canonical form.
    fn decode(r: &mut Reader<'_>) -> Result<Self, Fault>;
}

/// Cursor over untrusted input: the bytes not yet read, and where they end in the frame.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
    /// Frame offset just past the input, so errors name frame offsets.
    end: usize,
    pub(crate) limits: Limits,
    /// Inside a batch: the base position that positions are delta-coded against.
    pub(crate) base: Option<(i32, i32)>,
    /// Why decoding stopped, once it has.
    error: Option<DecodeError>,
}

/// Marks a failed decode; the reason is in the [`Reader`] (see [`Reader::fail`]).
#[derive(Debug)]
#[must_use]
pub(crate) struct Fault(());

impl<'a> Reader<'a> {
    pub(crate) fn new(input: &'a [u8], limits: &Limits) -> Self {
        Self {
            rest: input,
            end: input.len(),
            limits: *limits,
            base: None,
            error: None,
        }
    }

    /// Frame offset of the next byte.
    #[inline]
    pub(crate) fn offset(&self) -> usize {
        self.end.saturating_sub(self.rest.len())
    }

    #[inline]
    pub(crate) fn remaining(&self) -> usize {
        self.rest.len()
    }

    #[inline(always)]
    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, Fault> {
        let Some((&b, rest)) = self.rest.split_first() else {
            return Err(self.truncated(what));
        };
        self.rest = rest;
        Ok(b)
    }

    #[inline(always)]
    pub(crate) fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], Fault> {
        let Some((bytes, rest)) = self.rest.split_first_chunk::<N>() else {
            return Err(self.truncated(what));
        };
        self.rest = rest;
        Ok(*bytes)
    }

    #[inline]
    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], Fault> {
        let Some((bytes, rest)) = self.rest.split_at_checked(n) else {
            return Err(self.truncated(what));
        };
        self.rest = rest;
        Ok(bytes)
    }

    #[cold]
    fn truncated(&mut self, what: &'static str) -> Fault {
        let offset = self.offset();
        self.fail(DecodeError::Truncated { what, offset })
    }

    /// Records `error` as the reason decoding stopped (the first one wins) and returns the
    /// marker that unwinds the decoder. Keeping the error out of the return values keeps every
    /// `Result` in the decoder register-sized.
    #[cold]
    #[inline(never)]
    pub(crate) fn fail(&mut self, error: DecodeError) -> Fault {
        if self.error.is_none() {
            self.error = Some(error);
        }
        Fault(())
    }

    /// The error recorded by the failure that produced a [`Fault`].
    pub(crate) fn error(&mut self) -> DecodeError {
        self.error.take().unwrap_or(DecodeError::Truncated {
            what: "frame",
            offset: self.offset(),
        })
    }

    /// Runs `decode` on this reader, turning a failure into the recorded error.
    #[inline]
    pub(crate) fn run<T>(
        &mut self,
        decode: impl FnOnce(&mut Self) -> Result<T, Fault>,
    ) -> Result<T, DecodeError> {
        decode(self).map_err(|Fault(())| self.error())
    }

    /// Everything not yet read.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.rest)
    }

    /// A reader over the next `n` bytes, sharing limits and batch context.
    pub(crate) fn sub(&mut self, n: usize, what: &'static str) -> Result<Reader<'a>, Fault> {
        let input = self.take(n, what)?;
        Ok(Reader {
            rest: input,
            end: self.offset(),
            limits: self.limits,
            base: self.base,
            error: None,
        })
    }

    /// Records a field whose encoding is not the canonical one.
    #[cold]
    #[inline(never)]
    pub(crate) fn non_canonical(&mut self, what: &'static str, offset: usize) -> Fault {
        self.fail(DecodeError::NonCanonical { what, offset })
    }

    /// Records a length outside `min..=max`. Errors are built out of line, so that the decoders
    /// of small fields stay small enough to inline.
    #[cold]
    #[inline(never)]
    pub(crate) fn bad_length(
        &mut self,
        what: &'static str,
        len: u64,
        min: u64,
        max: u64,
        offset: usize,
    ) -> Fault {
        self.fail(DecodeError::BadLength {
            what,
            len,
            min,
            max,
            offset,
        })
    }

    /// Records a value outside `min..=max`.
    #[cold]
    #[inline(never)]
    pub(crate) fn out_of_range(
        &mut self,
        what: &'static str,
        value: i64,
        min: i64,
        max: i64,
        offset: usize,
    ) -> Fault {
        self.fail(DecodeError::OutOfRange {
            what,
            value,
            min,
            max,
            offset,
        })
    }

    /// Records that `value`, read at `offset`, does not fit the field's type `ty`.
    #[cold]
    #[inline(never)]
    pub(crate) fn overflow(
        &mut self,
        what: &'static str,
        value: Overflowed,
        ty: &'static str,
        offset: usize,
    ) -> Fault {
        self.fail(DecodeError::Overflow {
            what,
            value,
            ty,
            offset,
        })
    }

    /// Takes over the error of a sub-reader that failed.
    pub(crate) fn absorb(&mut self, mut sub: Reader<'_>) -> Fault {
        let error = sub.error();
        self.fail(error)
    }

    /// Fails unless the input is exhausted.
    #[inline]
    pub(crate) fn finish(&mut self, what: &'static str) -> Result<(), Fault> {
        if self.rest.is_empty() {
            return Ok(());
        }
        let (count, offset) = (self.rest.len(), self.offset());
        Err(self.fail(DecodeError::TrailingBytes {
            what,
            count,
            offset,
        }))
    }

    /// Unsigned LEB128 in its shortest form. One- and two-byte values take the inline path.
    #[inline(always)]
    pub(crate) fn varint(&mut self, what: &'static str) -> Result<u64, Fault> {
        match *self.rest {
            [b0, ref rest @ ..] if b0 < 0x80 => {
                self.rest = rest;
                Ok(u64::from(b0))
            }
            [b0, b1, ref rest @ ..] if b1 < 0x80 && b1 != 0 => {
                self.rest = rest;
                Ok(u64::from(b0 & 0x7f) | u64::from(b1) << 7)
            }
            _ => self.varint_long(what),
        }
    }

    #[cold]
    fn varint_long(&mut self, what: &'static str) -> Result<u64, Fault> {
        let start = self.offset();
        let mut value: u64 = 0;
        for i in 0..10u32 {
            let Some((&b, rest)) = self.rest.split_first() else {
                return Err(self.fail(DecodeError::Truncated {
                    what,
                    offset: start,
                }));
            };
            self.rest = rest;
            if i == 9 && b > 1 {
                return Err(self.fail(DecodeError::Overflow {
                    what,
                    value: Overflowed::Wider,
                    ty: "u64",
                    offset: start,
                }));
            }
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                if b == 0 && i > 0 {
                    return Err(self.fail(DecodeError::NonCanonical {
                        what,
                        offset: start,
                    }));
                }
                return Ok(value);
            }
        }
        Err(self.fail(DecodeError::Overflow {
            what,
            value: Overflowed::Wider,
            ty: "u64",
            offset: start,
        }))
    }

    #[inline]
    pub(crate) fn varint_u32(&mut self, what: &'static str) -> Result<u32, Fault> {
        let offset = self.offset();
        let v = self.varint(what)?;
        u32::try_from(v).map_err(|_| self.overflow(what, Overflowed::Unsigned(v), "u32", offset))
    }

    #[inline]
    pub(crate) fn varint_u16(&mut self, what: &'static str) -> Result<u16, Fault> {
        let offset = self.offset();
        let v = self.varint(what)?;
        u16::try_from(v).map_err(|_| self.overflow(what, Overflowed::Unsigned(v), "u16", offset))
    }

    /// A length or count, checked against `max` before the caller allocates for it.
    #[inline]
    pub(crate) fn length(&mut self, what: &'static str, max: usize) -> Result<usize, Fault> {
        let offset = self.offset();
        let len = self.varint(what)?;
        match usize::try_from(len) {
            Ok(n) if n <= max => Ok(n),
            _ => Err(self.fail(DecodeError::TooLong {
                what,
                len,
                max,
                offset,
            })),
        }
    }

    /// Signed integer, zigzag then LEB128.
    #[inline]
    pub(crate) fn zigzag(&mut self, what: &'static str) -> Result<i64, Fault> {
        let v = self.varint(what)?;
        Ok(unzigzag(v))
    }

    #[inline]
    pub(crate) fn zigzag_i32(&mut self, what: &'static str) -> Result<i32, Fault> {
        let offset = self.offset();
        let v = self.zigzag(what)?;
        i32::try_from(v).map_err(|_| self.overflow(what, Overflowed::Signed(v), "i32", offset))
    }

    pub(crate) fn text(&mut self, what: &'static str) -> Result<String, Fault> {
        let len = self.length(what, self.limits.max_text)?;
        let offset = self.offset();
        let bytes = self.take(len, what)?;
        let s = core::str::from_utf8(bytes).map_err(|e| {
            self.fail(DecodeError::InvalidText {
                what,
                expected: "UTF-8",
                offset: offset.saturating_add(e.valid_up_to()),
            })
        })?;
        Ok(String::from(s))
    }
}

#[inline]
pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)).cast_unsigned()
}

#[inline]
pub(crate) fn unzigzag(v: u64) -> i64 {
    (v >> 1).cast_signed() ^ (v & 1).cast_signed().wrapping_neg()
}

/// Destination of encoded bytes.
pub(crate) trait Sink {
    fn put(&mut self, bytes: &[u8]) -> Result<(), EncodeError>;

    fn put_u8(&mut self, b: u8) -> Result<(), EncodeError> {
        self.put(&[b])
    }

    #[inline(always)]
    fn put_varint(&mut self, v: u64) -> Result<(), EncodeError> {
        let [b0, b1, ..] = v.to_le_bytes();
        if v < 0x80 {
            return self.put_u8(b0);
        }
        if v < 0x4000 {
            return self.put(&[b0 | 0x80, (b1 << 1) | (b0 >> 7)]);
        }
        let mut tmp = [0u8; 10];
        let mut rest = v;
        let mut n = 0;
        for slot in tmp.iter_mut() {
            let low = rest.to_le_bytes()[0] & 0x7f;
            rest >>= 7;
            n += 1;
            if rest == 0 {
                *slot = low;
                break;
            }
            *slot = low | 0x80;
        }
        self.put(tmp.get(..n).unwrap_or_default())
    }

    #[inline]
    fn put_zigzag(&mut self, v: i64) -> Result<(), EncodeError> {
        self.put_varint(zigzag(v))
    }

    fn put_len(&mut self, n: usize) -> Result<(), EncodeError> {
        self.put_varint(u64::try_from(n).unwrap_or(u64::MAX))
    }

    fn put_text(&mut self, s: &str) -> Result<(), EncodeError> {
        self.put_len(s.len())?;
        self.put(s.as_bytes())
    }

    /// Writes the first `n` bytes of `bytes` (`n <= N`). A slice sink copies all `N` when there
    /// is room, which is one fixed-size store instead of a variable-length copy; only `n` count.
    #[inline]
    fn put_prefix<const N: usize>(&mut self, bytes: &[u8; N], n: usize) -> Result<(), EncodeError> {
        self.put(bytes.get(..n).unwrap_or(bytes))
    }

    /// Inside a batch: the base position that positions are delta-coded against.
    fn position_base(&self) -> Option<(i32, i32)> {
        None
    }
}

/// A sink that encodes positions as deltas from a batch's base position.
pub(crate) struct Based<'a, S: Sink> {
    pub(crate) inner: &'a mut S,
    pub(crate) base: (i32, i32),
}

impl<S: Sink> Sink for Based<'_, S> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        self.inner.put(bytes)
    }

    fn put_u8(&mut self, b: u8) -> Result<(), EncodeError> {
        self.inner.put_u8(b)
    }

    fn position_base(&self) -> Option<(i32, i32)> {
        Some(self.base)
    }
}

/// Writes into a caller's slice; fails instead of growing.
pub(crate) struct SliceSink<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> SliceSink<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, len: 0 }
    }

    pub(crate) fn written(&self) -> usize {
        self.len
    }
}

impl Sink for SliceSink<'_> {
    #[inline(always)]
    fn put_prefix<const N: usize>(&mut self, bytes: &[u8; N], n: usize) -> Result<(), EncodeError> {
        let n = n.min(N);
        if let Some(dst) = self
            .buf
            .get_mut(self.len..)
            .and_then(|rest| rest.first_chunk_mut::<N>())
        {
            *dst = *bytes;
            self.len += n;
            return Ok(());
        }
        self.put(bytes.get(..n).unwrap_or(bytes))
    }

    #[inline(always)]
    fn put(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        let Some(dst) = self
            .buf
            .get_mut(self.len..)
            .and_then(|rest| rest.get_mut(..bytes.len()))
        else {
            return Err(EncodeError::BufferTooSmall {
                needed: bytes.len(),
                room: self.buf.len().saturating_sub(self.len),
            });
        };
        dst.copy_from_slice(bytes);
        self.len += bytes.len();
        Ok(())
    }

    #[inline(always)]
    fn put_u8(&mut self, b: u8) -> Result<(), EncodeError> {
        let Some(dst) = self.buf.get_mut(self.len) else {
            return Err(EncodeError::BufferTooSmall { needed: 1, room: 0 });
        };
        *dst = b;
        self.len += 1;
        Ok(())
    }
}

/// Writes into any [`BufMut`], checking `remaining_mut` so a full fixed buffer is an error, not
/// a panic.
pub(crate) struct BufSink<'a, B: BufMut>(pub(crate) &'a mut B);

impl<B: BufMut> Sink for BufSink<'_, B> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        if self.0.remaining_mut() < bytes.len() {
            return Err(EncodeError::BufferTooSmall {
                needed: bytes.len(),
                room: self.0.remaining_mut(),
            });
        }
        self.0.put_slice(bytes);
        Ok(())
    }
}

/// Counts bytes; backs every `encoded_len`.
#[derive(Default)]
pub(crate) struct Counter(pub(crate) usize);

impl Sink for Counter {
    fn put(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        self.0 = self.0.saturating_add(bytes.len());
        Ok(())
    }
}

macro_rules! wire_varint {
    ($($t:ty => $read:ident),*) => {$(
        impl Wire for $t {
            #[inline]
            fn encode<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError> {
                s.put_varint(u64::from(*self))
            }
            #[inline]
            fn decode(r: &mut Reader<'_>) -> Result<Self, Fault> {
                r.$read(stringify!($t))
            }
        }
    )*};
}

wire_varint!(u16 => varint_u16, u32 => varint_u32, u64 => varint);

impl Wire for u8 {
    #[inline]
    fn encode<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError> {
        s.put_u8(*self)
    }
    #[inline]
    fn decode(r: &mut Reader<'_>) -> Result<Self, Fault> {
        r.u8("u8")
    }
}

impl Wire for i32 {
    #[inline]
    fn encode<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError> {
        s.put_zigzag(i64::from(*self))
    }
    #[inline]
    fn decode(r: &mut Reader<'_>) -> Result<Self, Fault> {
        r.zigzag_i32("i32")
    }
}

impl Wire for bool {
    #[inline]
    fn encode<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError> {
        s.put_u8(u8::from(*self))
    }
    #[inline]
    fn decode(r: &mut Reader<'_>) -> Result<Self, Fault> {
        let offset = r.offset();
        match r.u8("bool")? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(r.non_canonical("bool", offset)),
        }
    }
}

impl Wire for String {
    #[inline]
    fn encode<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError> {
        s.put_text(self)
    }
    #[inline]
    fn decode(r: &mut Reader<'_>) -> Result<Self, Fault> {
        r.text("text")
    }
}

/// Lists: a count, then the items. The count is checked against `max_list` and, since every item
/// takes at least one byte, against the bytes left, before anything is reserved.
impl<T: Wire> Wire for Vec<T> {
    #[inline]
    fn encode<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError> {
        s.put_len(self.len())?;
        self.iter().try_for_each(|item| item.encode(s))
    }
    #[inline]
    fn decode(r: &mut Reader<'_>) -> Result<Self, Fault> {
        let offset = r.offset();
        let n = r.length("list", r.limits.max_list)?;
        if n > r.remaining() {
            return Err(r.fail(DecodeError::Truncated {
                what: "list",
                offset,
            }));
        }
        let mut items = Vec::with_capacity(n);
        for _ in 0..n {
            items.push(T::decode(r)?);
        }
        Ok(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8]) -> Result<u64, DecodeError> {
        let limits = Limits::DEFAULT;
        let mut r = Reader::new(bytes, &limits);
        r.run(|r| {
            let v = r.varint("v")?;
            r.finish("v")?;
            Ok(v)
        })
    }

    fn write(v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        BufSink(&mut out).put_varint(v).unwrap();
        out
    }

    #[test]
    fn varint_vectors() {
        for (v, bytes) in [
            (0u64, &[0x00][..]),
            (1, &[0x01]),
            (127, &[0x7f]),
            (128, &[0x80, 0x01]),
            (300, &[0xac, 0x02]),
            (16_383, &[0xff, 0x7f]),
            (16_384, &[0x80, 0x80, 0x01]),
            (
                u64::MAX,
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            ),
        ] {
            assert_eq!(write(v), bytes, "encode {v}");
            assert_eq!(read(bytes), Ok(v), "decode {v}");
        }
    }

    #[test]
    fn varint_rejects_non_canonical_and_overflow() {
        let nc = DecodeError::NonCanonical {
            what: "v",
            offset: 0,
        };
        assert_eq!(read(&[0x80, 0x00]), Err(nc.clone()));
        assert_eq!(read(&[0xff, 0x80, 0x00]), Err(nc));
        let of = DecodeError::Overflow {
            what: "v",
            value: Overflowed::Wider,
            ty: "u64",
            offset: 0,
        };
        assert_eq!(
            read(&[0xff; 9].iter().copied().chain([0x02]).collect::<Vec<_>>()),
            Err(of.clone())
        );
        assert_eq!(read(&[0xff; 11]), Err(of));
        assert_eq!(
            read(&[0x80]),
            Err(DecodeError::Truncated {
                what: "v",
                offset: 0
            })
        );
    }

    #[test]
    fn zigzag_vectors() {
        for (v, z) in [
            (0i64, 0u64),
            (-1, 1),
            (1, 2),
            (-2, 3),
            (i64::MAX, u64::MAX - 1),
            (i64::MIN, u64::MAX),
        ] {
            assert_eq!(zigzag(v), z);
            assert_eq!(unzigzag(z), v);
        }
    }

    #[test]
    fn slice_sink_reports_shortage() {
        let mut buf = [0u8; 2];
        let mut s = SliceSink::new(&mut buf);
        s.put(&[1, 2]).unwrap();
        assert_eq!(
            s.put_u8(3),
            Err(EncodeError::BufferTooSmall { needed: 1, room: 0 })
        );
        assert_eq!(s.written(), 2);
    }

    #[test]
    fn list_count_cannot_reserve_beyond_input() {
        let limits = Limits::DEFAULT;
        let mut r = Reader::new(&[60, 1, 2], &limits);
        assert!(matches!(
            r.run(Vec::<u8>::decode),
            Err(DecodeError::Truncated { .. })
        ));
        let mut r = Reader::new(&[0xff, 0x01], &limits);
        assert!(matches!(
            r.run(Vec::<u8>::decode),
            Err(DecodeError::TooLong { .. })
        ));
    }
}
