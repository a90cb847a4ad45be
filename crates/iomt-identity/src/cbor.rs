//! Thin strict helpers over `minicbor`.
//!
//! `minicbor`'s encoder always writes the shortest integer and length forms and definite
//! lengths; this crate writes map keys in the RFC 8949 section 4.2.1 order (bytewise order of
//! the encoded keys) by construction, so every value has one encoding. `minicbor`'s decoder is
//! lenient about integer widths, so every decoder here re-encodes what it decoded and compares
//! it with the input ([`ensure_canonical`]): anything but the deterministic form is refused.

use core::convert::Infallible;

use minicbor::{Decoder, Encoder};

use crate::error::DecodeError;

/// An encoder writing into a `Vec`. Writing into a `Vec` cannot fail.
pub(crate) type Enc<'a> = Encoder<&'a mut Vec<u8>>;

/// The error type of [`Enc`]: uninhabited in practice.
pub(crate) type EncError = minicbor::encode::Error<Infallible>;

/// Runs `f` on a fresh encoder and returns the bytes.
pub(crate) fn encode_with(f: impl FnOnce(&mut Enc<'_>) -> Result<(), EncError>) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    append_with(&mut out, f);
    out
}

/// Runs `f` on an encoder appending to `out`.
pub(crate) fn append_with(out: &mut Vec<u8>, f: impl FnOnce(&mut Enc<'_>) -> Result<(), EncError>) {
    let mut e = Encoder::new(out);
    // The writer is a `Vec` (write error `Infallible`) and nothing here builds custom errors,
    // so encoding cannot fail: there is nothing to handle.
    f(&mut e).ok();
}

/// Refuses `input` unless it equals the canonical re-encoding.
pub(crate) fn ensure_canonical(input: &[u8], reencoded: &[u8]) -> Result<(), DecodeError> {
    if input == reencoded {
        Ok(())
    } else {
        Err(DecodeError::NotCanonical)
    }
}

/// A strict decoder: definite lengths only, errors mapped to [`DecodeError`].
pub(crate) struct Dec<'b> {
    d: Decoder<'b>,
}

impl<'b> Dec<'b> {
    pub(crate) fn new(input: &'b [u8]) -> Self {
        Self {
            d: Decoder::new(input),
        }
    }

    /// Runs one `minicbor` read; a failure reports the offset where the item started.
    fn read<T>(
        &mut self,
        expected: &'static str,
        f: impl FnOnce(&mut Decoder<'b>) -> Result<T, minicbor::decode::Error>,
    ) -> Result<T, DecodeError> {
        let start = self.d.position();
        f(&mut self.d).map_err(|_| DecodeError::at(start, expected))
    }

    /// A definite-length array header, at most `limit` long.
    pub(crate) fn array(
        &mut self,
        field: &'static str,
        limit: usize,
    ) -> Result<usize, DecodeError> {
        let n = self.read("array", |d| d.array())?;
        bounded(n, field, limit)
    }

    /// A definite-length map header, at most `limit` pairs.
    pub(crate) fn map(&mut self, field: &'static str, limit: usize) -> Result<usize, DecodeError> {
        let n = self.read("map", |d| d.map())?;
        bounded(n, field, limit)
    }

    pub(crate) fn u64(&mut self) -> Result<u64, DecodeError> {
        self.read("unsigned integer", |d| d.u64())
    }

    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        self.read("unsigned integer (32 bits)", |d| d.u32())
    }

    pub(crate) fn u16(&mut self) -> Result<u16, DecodeError> {
        self.read("unsigned integer (16 bits)", |d| d.u16())
    }

    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        self.read("unsigned integer (8 bits)", |d| d.u8())
    }

    pub(crate) fn i64(&mut self) -> Result<i64, DecodeError> {
        self.read("integer", |d| d.i64())
    }

    pub(crate) fn bool(&mut self) -> Result<bool, DecodeError> {
        self.read("bool", |d| d.bool())
    }

    pub(crate) fn bytes(&mut self) -> Result<&'b [u8], DecodeError> {
        self.read("byte string", |d| d.bytes())
    }

    /// A byte string of exactly `N` bytes.
    pub(crate) fn array_bytes<const N: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<[u8; N], DecodeError> {
        let b = self.bytes()?;
        <[u8; N]>::try_from(b).map_err(|_| DecodeError::OutOfRange(field))
    }

    pub(crate) fn str(&mut self) -> Result<&'b str, DecodeError> {
        self.read("text string", |d| d.str())
    }

    /// The next item's tag, consumed, if it is tagged.
    pub(crate) fn optional_tag(&mut self) -> Result<Option<u64>, DecodeError> {
        if matches!(self.d.datatype(), Ok(minicbor::data::Type::Tag)) {
            let t = self.read("tag", |d| d.tag())?;
            return Ok(Some(t.as_u64()));
        }
        Ok(None)
    }

    /// Skips one data item (used only by the lenient generic COSE view).
    pub(crate) fn skip(&mut self) -> Result<(), DecodeError> {
        self.read("data item", |d| d.skip())
    }

    /// Fails unless all input was consumed.
    pub(crate) fn finish(&self) -> Result<(), DecodeError> {
        if self.d.position() == self.d.input().len() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes)
        }
    }
}

fn bounded(n: Option<u64>, field: &'static str, limit: usize) -> Result<usize, DecodeError> {
    let Some(n) = n else {
        return Err(DecodeError::NotCanonical);
    };
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    if n > limit {
        return Err(DecodeError::TooLarge { field, limit });
    }
    Ok(n)
}
