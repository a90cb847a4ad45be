//! Callsigns in six-bit text.

use core::fmt;

use crate::error::{DecodeError, EncodeError};
use crate::wire::{Reader, Sink, Wire};

/// A callsign: 1 to 16 characters from the six-bit ASCII set of ITU-R M.1371 (AIS): space,
/// `!` to `?` (punctuation and digits), `@`, upper-case `A` to `Z`, and `[ \ ] ^ _`.
///
/// Held inline (no allocation) and packed six bits per character on the wire, behind a one-byte
/// length: an 8-character callsign takes 7 bytes.
///
/// ```
/// use iomt_schema::Callsign;
/// let cs = Callsign::new("VIPER-21")?;
/// assert_eq!(cs.as_str(), "VIPER-21");
/// assert!(Callsign::new("viper").is_err(), "lower case is outside the set");
/// # Ok::<(), iomt_schema::CallsignError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Callsign {
    len: u8,
    chars: [u8; Self::MAX_LEN],
}

/// Error for text that is not a valid [`Callsign`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallsignError {
    /// Empty or longer than [`Callsign::MAX_LEN`].
    #[error("a callsign has 1 to 16 characters")]
    Length,
    /// A character outside the six-bit set.
    #[error("character {0:?} is not in the six-bit callsign set")]
    Character(char),
}

impl Callsign {
    /// Most characters in a callsign.
    pub const MAX_LEN: usize = 16;

    /// The callsign for `text`.
    pub fn new(text: &str) -> Result<Self, CallsignError> {
        if text.is_empty() || text.len() > Self::MAX_LEN {
            return Err(CallsignError::Length);
        }
        let mut chars = [0u8; Self::MAX_LEN];
        for (slot, c) in chars.iter_mut().zip(text.chars()) {
            if !is_sixbit(c) {
                return Err(CallsignError::Character(c));
            }
            *slot = u8::try_from(c).map_err(|_| CallsignError::Character(c))?;
        }
        Ok(Self {
            len: u8::try_from(text.len()).map_err(|_| CallsignError::Length)?,
            chars,
        })
    }

    /// The callsign as text.
    pub fn as_str(&self) -> &str {
        let bytes = self.chars.get(..usize::from(self.len)).unwrap_or_default();
        core::str::from_utf8(bytes).unwrap_or_default()
    }
}

fn is_sixbit(c: char) -> bool {
    ('\u{20}'..='\u{5f}').contains(&c)
}

impl fmt::Debug for Callsign {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Callsign({:?})", self.as_str())
    }
}

impl fmt::Display for Callsign {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Wire form: length byte, then the characters' six-bit codes (`c & 0x3f`) packed MSB first,
/// the last byte's spare bits zero. Packing goes through one 128-bit word, since 16 characters
/// take at most 96 bits.
impl Wire for Callsign {
    #[inline]
    fn encode<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError> {
        let mut out = [0u8; 13];
        let [len, body @ ..] = &mut out;
        *len = self.len;
        for (group, packed) in self.chars.chunks_exact(4).zip(body.chunks_exact_mut(3)) {
            if let ([w, x, y, z], [a, b, c]) = (group, packed) {
                let (w, x, y, z) = (w & 0x3f, x & 0x3f, y & 0x3f, z & 0x3f);
                *a = w << 2 | x >> 4;
                *b = x << 4 | y >> 2;
                *c = y << 6 | z;
            }
        }
        let n = 1 + (usize::from(self.len) * 6).div_ceil(8);
        s.put(out.get(..n).unwrap_or_default())
    }

    #[inline]
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let offset = r.offset();
        let len = r.u8("callsign length")?;
        let n = usize::from(len);
        if n == 0 || n > Self::MAX_LEN {
            return Err(DecodeError::BadLength {
                what: "callsign",
                len: u64::from(len),
                offset,
            });
        }
        let packed = r.take((n * 6).div_ceil(8), "callsign")?;
        let mut bytes = [0u8; 12];
        if let Some(dst) = bytes.get_mut(..packed.len()) {
            dst.copy_from_slice(packed);
        }
        // Every 3 bytes hold 4 codes. Codes 0..32 are '@'..'_' (0x40..0x5f), codes 32..64 are
        // ' '..'?' (0x20..0x3f); the spare bits after the last code must be zero.
        let mut codes = [0u8; 16];
        for (group, out) in bytes.chunks_exact(3).zip(codes.chunks_exact_mut(4)) {
            if let ([a, b, c], [w, x, y, z]) = (group, out) {
                *w = a >> 2;
                *x = (a & 0x03) << 4 | b >> 4;
                *y = (b & 0x0f) << 2 | c >> 6;
                *z = c & 0x3f;
            }
        }
        let mut chars = [0u8; Self::MAX_LEN];
        let mut spare = 0u8;
        for (i, (slot, code)) in chars.iter_mut().zip(codes).enumerate() {
            if i < n {
                *slot = code | ((!code & 0x20) << 1);
            } else {
                spare |= code;
            }
        }
        if spare != 0 {
            return Err(DecodeError::NonCanonical {
                what: "callsign padding",
                offset,
            });
        }
        Ok(Self { len, chars })
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Callsign {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Callsign {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <alloc::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::new(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "proptest")]
impl proptest::arbitrary::Arbitrary for Callsign {
    type Parameters = ();
    type Strategy = proptest::strategy::BoxedStrategy<Self>;
    fn arbitrary_with((): ()) -> Self::Strategy {
        use proptest::prelude::*;
        "[\\x20-\\x5f]{1,16}"
            .prop_map(|s| {
                Self::new(&s).unwrap_or(Self {
                    len: 1,
                    chars: [b'A'; 16],
                })
            })
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Limits;
    use crate::wire::BufSink;
    use alloc::vec::Vec;

    fn enc(cs: &Callsign) -> Vec<u8> {
        let mut v = Vec::new();
        cs.encode(&mut BufSink(&mut v)).unwrap();
        v
    }

    #[test]
    fn vector() {
        // 'A' = 0x01, 'B' = 0x02, '1' = 0x31: 000001 000010 110001 -> 0x04 0x2c 0x40
        let cs = Callsign::new("AB1").unwrap();
        assert_eq!(enc(&cs), [3, 0x04, 0x2c, 0x40]);
        assert_eq!(enc(&Callsign::new("VIPER-21").unwrap()).len(), 7);
    }

    #[test]
    fn round_trip_full_alphabet() {
        let all: alloc::string::String = (0x20u8..=0x5f).map(char::from).collect();
        for chunk in all.as_bytes().chunks(16) {
            let text = core::str::from_utf8(chunk).unwrap();
            let cs = Callsign::new(text).unwrap();
            let bytes = enc(&cs);
            let limits = Limits::DEFAULT;
            let mut r = Reader::new(&bytes, &limits);
            assert_eq!(Callsign::decode(&mut r).unwrap(), cs);
            assert_eq!(r.remaining(), 0);
        }
    }

    #[test]
    fn rejects_bad_forms() {
        let limits = Limits::DEFAULT;
        let dec = |b: &[u8]| Callsign::decode(&mut Reader::new(b, &limits));
        assert!(matches!(dec(&[0]), Err(DecodeError::BadLength { .. })));
        assert!(matches!(dec(&[17]), Err(DecodeError::BadLength { .. })));
        assert!(matches!(
            dec(&[3, 0x04, 0x2c, 0x41]),
            Err(DecodeError::NonCanonical { .. })
        ));
        assert!(matches!(
            dec(&[3, 0x04, 0x2c]),
            Err(DecodeError::Truncated { .. })
        ));
        assert_eq!(Callsign::new(""), Err(CallsignError::Length));
        assert_eq!(
            Callsign::new("ABCDEFGHIJKLMNOPQ"),
            Err(CallsignError::Length)
        );
        assert_eq!(Callsign::new("ab"), Err(CallsignError::Character('a')));
    }
}
