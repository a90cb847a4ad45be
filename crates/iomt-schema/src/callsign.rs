//! Callsigns in six-bit text.

use core::fmt;

use crate::error::EncodeError;
use crate::wire::{Fault, Reader, Sink, Wire};

/// A callsign: 1 to 16 characters from the six-bit ASCII set of ITU-R M.1371 (AIS): space,
/// `!` to `?` (punctuation and digits), `@`, upper-case `A` to `Z`, and `[ \ ] ^ _`.
///
/// Held inline in its wire form, six bits per character: an 8-character callsign takes 7 bytes
/// on the wire (length byte included) and encoding or decoding it is a copy. The text is
/// produced on demand ([`Display`](fmt::Display), [`Callsign::chars`]).
///
/// ```
/// use iomt_schema::Callsign;
/// let cs = Callsign::new("VIPER-21")?;
/// assert_eq!(cs.to_string(), "VIPER-21");
/// assert_eq!(cs.len(), 8);
/// assert!(Callsign::new("viper").is_err(), "lower case is outside the set");
/// # Ok::<(), iomt_schema::CallsignError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Callsign {
    len: u8,
    /// The codes, first in the top bits of the first byte; the spare bits are zero.
    packed: [u8; PACKED],
}

/// Bytes that 16 six-bit codes take.
const PACKED: usize = 12;

/// Error for text that is not a valid [`Callsign`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallsignError {
    /// Empty or longer than [`Callsign::MAX_LEN`].
    #[error("callsign of {len} characters: a callsign has 1 to 16")]
    Length {
        /// Characters given.
        len: usize,
    },
    /// A character outside the six-bit set.
    #[error(
        "callsign character {character:?} at index {index} {}",
        if .character.is_ascii_lowercase() {
            "is lower case: callsigns take upper-case letters only (the six-bit set of AIS)"
        } else {
            "is not in the six-bit callsign set of AIS: space, ! to ?, @, A to Z, [ \\ ] ^ _"
        }
    )]
    Character {
        /// The character.
        character: char,
        /// Its index, from 0.
        index: usize,
    },
}

impl Callsign {
    /// Most characters in a callsign.
    pub const MAX_LEN: usize = 16;

    /// The callsign for `text`.
    pub fn new(text: &str) -> Result<Self, CallsignError> {
        let len = text.chars().count();
        if len == 0 || len > Self::MAX_LEN {
            return Err(CallsignError::Length { len });
        }
        let mut word: u128 = 0;
        for (index, character) in text.chars().enumerate() {
            let code = u8::try_from(character)
                .ok()
                .filter(|b| (0x20..=0x5f).contains(b))
                .ok_or(CallsignError::Character { character, index })?;
            word |= u128::from(code & 0x3f) << (122 - 6 * index);
        }
        let [p @ .., _, _, _, _] = word.to_be_bytes();
        Ok(Self {
            len: u8::try_from(len).map_err(|_| CallsignError::Length { len })?,
            packed: p,
        })
    }

    /// Number of characters.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Always false: a callsign has at least one character.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The characters.
    pub fn chars(&self) -> impl Iterator<Item = char> + '_ {
        let [a, b, c, d, e, f, g, h, i, j, k, l] = self.packed;
        let word = u128::from_be_bytes([a, b, c, d, e, f, g, h, i, j, k, l, 0, 0, 0, 0]);
        (0..self.len()).map(move |n| {
            let code = (word >> (122 - 6 * n)).to_le_bytes()[0] & 0x3f;
            // Codes 0..32 are '@'..'_' (0x40..0x5f), codes 32..64 are ' '..'?' (0x20..0x3f).
            char::from(code | ((!code & 0x20) << 1))
        })
    }

    /// Bytes of the packed codes.
    fn packed_len(&self) -> usize {
        (self.len() * 6).div_ceil(8)
    }
}

impl fmt::Debug for Callsign {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Callsign(\"{self}\")")
    }
}

impl fmt::Display for Callsign {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.chars().try_for_each(|c| fmt::Write::write_char(f, c))
    }
}

/// Wire form: length byte, then the characters' six-bit codes (`c & 0x3f`) packed MSB first,
/// the last byte's spare bits zero. Every code names a character, so decoding checks only the
/// length and the spare bits.
impl Wire for Callsign {
    #[inline]
    fn encode<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError> {
        let [a, b, c, d, e, f, g, h, i, j, k, l] = self.packed;
        s.put_prefix(
            &[self.len, a, b, c, d, e, f, g, h, i, j, k, l],
            1 + self.packed_len(),
        )
    }

    #[inline(always)]
    fn decode(r: &mut Reader<'_>) -> Result<Self, Fault> {
        let offset = r.offset();
        let len = r.u8("callsign length")?;
        let n = usize::from(len);
        if n == 0 || n > Self::MAX_LEN {
            return Err(r.bad_length("callsign", u64::from(len), 1, 16, offset));
        }
        let bytes = r.take((n * 6).div_ceil(8), "callsign")?;
        let mut packed = [0u8; PACKED];
        for (dst, src) in packed.iter_mut().zip(bytes) {
            *dst = *src;
        }
        let [a, b, c, d, e, f, g, h, i, j, k, l] = packed;
        let word = u128::from_be_bytes([a, b, c, d, e, f, g, h, i, j, k, l, 0, 0, 0, 0]);
        if word << (6 * n) != 0 {
            return Err(r.non_canonical("callsign padding", offset));
        }
        Ok(Self { len, packed })
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Callsign {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
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
            .prop_filter_map("in the six-bit set", |s| Self::new(&s).ok())
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DecodeError;
    use crate::limits::Limits;
    use crate::wire::BufSink;
    use alloc::string::ToString;
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
            assert_eq!(alloc::string::ToString::to_string(&cs), text);
            assert_eq!(r.remaining(), 0);
        }
    }

    #[test]
    fn rejects_bad_forms() {
        let limits = Limits::DEFAULT;
        let dec = |b: &[u8]| Reader::new(b, &limits).run(Callsign::decode);
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
        assert_eq!(Callsign::new(""), Err(CallsignError::Length { len: 0 }));
        assert_eq!(
            Callsign::new("ABCDEFGHIJKLMNOPQ"),
            Err(CallsignError::Length { len: 17 })
        );
        assert_eq!(
            Callsign::new("VIPEr"),
            Err(CallsignError::Character {
                character: 'r',
                index: 4
            })
        );
    }

    #[test]
    fn errors_say_which_character_and_what_is_allowed() {
        let lower = Callsign::new("VIPEr-21").unwrap_err().to_string();
        assert_eq!(
            lower,
            "callsign character 'r' at index 4 is lower case: callsigns take upper-case letters \
             only (the six-bit set of AIS)"
        );
        let other = Callsign::new("VIPER{").unwrap_err().to_string();
        assert!(
            other.contains("'{' at index 5 is not in the six-bit"),
            "{other}"
        );
        assert_eq!(
            Callsign::new("ÄÄÄÄÄÄÄÄÄ").unwrap_err(),
            CallsignError::Character {
                character: 'Ä',
                index: 0
            },
            "counted in characters, not bytes"
        );
    }
}
