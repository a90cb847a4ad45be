//! Callsigns in six-bit text.

use core::fmt;

use crate::error::{DecodeError, EncodeError};
use crate::wire::{Fault, Reader, Sink, Wire};

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
/// the last byte's spare bits zero.
///
/// Packing works on words: decoding spreads each eight codes (48 bits) into the eight bytes of a
/// `u64` in three shift-and-mask steps (24 bits to 32-bit lanes, 12 to 16, 6 to 8).
impl Wire for Callsign {
    #[inline]
    fn encode<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError> {
        // The length byte, then sixteen codes in 96 bits, first code first; unused slots are zero.
        let word = self
            .chars
            .iter()
            .fold(0u128, |w, &c| w << 6 | u128::from(c & 0x3f));
        let [_, _, _, p @ ..] = (word | u128::from(self.len) << 96).to_be_bytes();
        let n = 1 + (usize::from(self.len) * 6).div_ceil(8);
        s.put(p.get(..n).unwrap_or_default())
    }

    #[inline]
    fn decode(r: &mut Reader<'_>) -> Result<Self, Fault> {
        let offset = r.offset();
        let len = r.u8("callsign length")?;
        let n = usize::from(len);
        if n == 0 || n > Self::MAX_LEN {
            return Err(r.fail(DecodeError::BadLength {
                what: "callsign",
                len: u64::from(len),
                offset,
            }));
        }
        let packed = r.take((n * 6).div_ceil(8), "callsign")?;
        // The packed bytes, left-aligned in 96 bits: two 48-bit halves of eight codes each.
        let word =
            packed.iter().fold(0u128, |w, &b| w << 8 | u128::from(b)) << (96 - 8 * packed.len());
        let half = |shift: u32| {
            let [.., b2, b3, b4, b5, b6, b7] = (word >> shift).to_be_bytes();
            spread(u64::from_be_bytes([0, 0, b2, b3, b4, b5, b6, b7]))
        };
        let codes = u128::from(half(48)) | u128::from(half(0)) << 64;
        // Codes 0..32 are '@'..'_' (0x40..0x5f): set bit 6 where bit 5 is clear; codes 32..64
        // are ' '..'?' (0x20..0x3f) as they are. Past the length the codes are spare bits,
        // which must be zero, and the slots stay zero.
        const BIT5: u128 = u128::from_le_bytes([0x20; 16]);
        let keep = u128::MAX >> (8 * (Self::MAX_LEN - n));
        if codes & !keep != 0 {
            return Err(r.fail(DecodeError::NonCanonical {
                what: "callsign padding",
                offset,
            }));
        }
        let chars = ((codes | (!codes & BIT5) << 1) & keep).to_le_bytes();
        Ok(Self { len, chars })
    }
}

/// Spreads eight 6-bit codes, first code in the top bits of a 48-bit value, into the eight bytes
/// of a `u64`, first code in the lowest byte.
#[inline]
fn spread(x: u64) -> u64 {
    let x = (x >> 24) & 0xff_ffff | (x & 0xff_ffff) << 32;
    let x = (x >> 12) & 0x0000_0fff_0000_0fff | (x & 0x0000_0fff_0000_0fff) << 16;
    (x >> 6) & 0x003f_003f_003f_003f | (x & 0x003f_003f_003f_003f) << 8
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
        assert_eq!(Callsign::new(""), Err(CallsignError::Length));
        assert_eq!(
            Callsign::new("ABCDEFGHIJKLMNOPQ"),
            Err(CallsignError::Length)
        );
        assert_eq!(Callsign::new("ab"), Err(CallsignError::Character('a')));
    }
}
