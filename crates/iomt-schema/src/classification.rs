//! Security classification with caveats and releasability, carried on every frame so a relay or
//! gateway can enforce release rules without decoding the body.

use core::fmt;

use crate::error::{DecodeError, EncodeError};
use crate::open_enum::open_enum;
use crate::wire::{Fault, Reader, Sink};

open_enum! {
    /// Classification level. Three bits on the wire, so codes 5 to 7 are kept as `Unknown`.
    pub enum Level (max 7) {
        /// No classification.
        Unclassified = 0 => "unclassified",
        /// Restricted.
        Restricted = 1 => "restricted",
        /// Confidential.
        Confidential = 2 => "confidential",
        /// Secret.
        Secret = 3 => "secret",
        /// Top secret.
        TopSecret = 4 => "top_secret",
    }
}

/// Handling caveats, a set of flags. Bits this version does not name are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct Caveats(pub u32);

impl Caveats {
    /// No caveats.
    pub const NONE: Self = Self(0);
    /// Not releasable to foreign nationals.
    pub const NOFORN: Self = Self(1 << 0);
    /// Dissemination controlled by the originator.
    pub const ORCON: Self = Self(1 << 1);
    /// Proprietary information.
    pub const PROPIN: Self = Self(1 << 2);
    /// Releasability decided by the designated disclosure official.
    pub const RELIDO: Self = Self(1 << 3);
    /// Coalition mission network information.
    pub const MISSION: Self = Self(1 << 4);

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Union of both sets.
    #[must_use]
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Whether no flag is set.
    pub const fn is_empty(&self) -> bool {
        self.0 == 0
    }
}

/// An ISO 3166-1 alpha-3 country code (three upper-case letters), as used in "REL TO" lines.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CountryCode([u8; 3]);

/// Error for a country code that is not three upper-case ASCII letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CountryCodeError {
    /// Not three characters long.
    #[error("country code of {len} characters: a country code is three upper-case letters A to Z")]
    Length {
        /// Characters given.
        len: usize,
    },
    /// A character that is not an upper-case letter `A` to `Z`.
    #[error(
        "country code character {character:?} at index {index} is {}: a country code is three \
         upper-case letters A to Z",
        if .character.is_ascii_lowercase() { "lower case" } else { "not a letter A to Z" }
    )]
    Character {
        /// The character.
        character: char,
        /// Its index, from 0.
        index: usize,
    },
}

impl CountryCode {
    /// The code for three upper-case ASCII letters.
    ///
    /// ```
    /// use iomt_schema::CountryCode;
    /// assert_eq!(CountryCode::new("NOR").unwrap().as_str(), "NOR");
    /// assert!(CountryCode::new("no").is_err());
    /// ```
    pub fn new(code: &str) -> Result<Self, CountryCodeError> {
        if let Some((index, character)) = code
            .chars()
            .enumerate()
            .find(|(_, c)| !c.is_ascii_uppercase())
        {
            return Err(CountryCodeError::Character { character, index });
        }
        let bytes: [u8; 3] = code
            .as_bytes()
            .try_into()
            .map_err(|_| CountryCodeError::Length { len: code.len() })?;
        Ok(Self(bytes))
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for CountryCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for CountryCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <alloc::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::new(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "proptest")]
impl proptest::arbitrary::Arbitrary for CountryCode {
    type Parameters = ();
    type Strategy = proptest::strategy::BoxedStrategy<Self>;
    fn arbitrary_with((): ()) -> Self::Strategy {
        use proptest::prelude::*;
        proptest::array::uniform3(b'A'..=b'Z')
            .prop_map(Self)
            .boxed()
    }
}

/// The countries a message may be released to: a set of at most
/// [`ReleasableTo::CAPACITY`] codes, kept sorted so the set has one encoding.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReleasableTo {
    /// Sorted codes, then zeroed slots (so derived equality and hashing see only the set).
    codes: [CountryCode; Self::CAPACITY],
    len: u8,
}

/// Error for a releasability list with more than [`ReleasableTo::CAPACITY`] distinct codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "cannot release to {code:?} as well: a marking releases to at most {} countries",
    ReleasableTo::CAPACITY
)]
pub struct ReleasableToError {
    /// The code that did not fit.
    pub code: CountryCode,
}

impl Default for ReleasableTo {
    fn default() -> Self {
        Self::EMPTY
    }
}

impl ReleasableTo {
    /// Most codes in one marking.
    pub const CAPACITY: usize = 8;

    /// The empty set.
    pub const EMPTY: Self = Self {
        codes: [CountryCode([0; 3]); Self::CAPACITY],
        len: 0,
    };

    /// The set of `codes`, sorted and without duplicates.
    ///
    /// ```
    /// use iomt_schema::{CountryCode, ReleasableTo};
    /// let c = |s| CountryCode::new(s).unwrap();
    /// let rel = ReleasableTo::new(&[c("USA"), c("GBR"), c("USA")]).unwrap();
    /// assert_eq!(rel.codes(), &[c("GBR"), c("USA")]);
    /// ```
    pub fn new(codes: &[CountryCode]) -> Result<Self, ReleasableToError> {
        let mut set = Self::default();
        for code in codes {
            set.insert(*code)?;
        }
        Ok(set)
    }

    /// Adds `code`, keeping the set sorted.
    pub fn insert(&mut self, code: CountryCode) -> Result<(), ReleasableToError> {
        let Err(at) = self.codes().binary_search(&code) else {
            return Ok(());
        };
        let len = usize::from(self.len);
        let Some(tail) = self.codes.get_mut(at..=len) else {
            return Err(ReleasableToError { code });
        };
        tail.rotate_right(1);
        if let Some(slot) = tail.first_mut() {
            *slot = code;
        }
        self.len = self.len.saturating_add(1);
        Ok(())
    }

    /// The codes, sorted.
    pub fn codes(&self) -> &[CountryCode] {
        self.codes.get(..usize::from(self.len)).unwrap_or_default()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether `code` is in the set.
    pub fn contains(&self, code: CountryCode) -> bool {
        self.codes().binary_search(&code).is_ok()
    }
}

impl fmt::Debug for ReleasableTo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.codes()).finish()
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for ReleasableTo {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.codes())
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for ReleasableTo {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let codes = <alloc::vec::Vec<CountryCode>>::deserialize(d)?;
        Self::new(&codes).map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "proptest")]
impl proptest::arbitrary::Arbitrary for ReleasableTo {
    type Parameters = ();
    type Strategy = proptest::strategy::BoxedStrategy<Self>;
    fn arbitrary_with((): ()) -> Self::Strategy {
        use proptest::prelude::*;
        proptest::collection::vec(any::<CountryCode>(), 0..=Self::CAPACITY)
            .prop_filter_map("at most CAPACITY codes", |v| Self::new(&v).ok())
            .boxed()
    }
}

/// The classification marking of a message: level, caveats and releasability.
///
/// ```
/// use iomt_schema::{Classification, Level};
/// let c = Classification::level(Level::Secret);
/// assert!(c.caveats.is_empty() && c.releasable_to.is_empty());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct Classification {
    /// The level.
    pub level: Level,
    /// Handling caveats.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Caveats::is_empty")
    )]
    pub caveats: Caveats,
    /// Countries the message may be released to; empty means no REL TO line.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "ReleasableTo::is_empty")
    )]
    pub releasable_to: ReleasableTo,
}

#[allow(clippy::derivable_impls, reason = "the enum comes from `open_enum!`")]
impl Default for Level {
    fn default() -> Self {
        Self::Unclassified
    }
}

impl Classification {
    /// A marking with only a level.
    pub const fn level(level: Level) -> Self {
        Self {
            level,
            caveats: Caveats::NONE,
            releasable_to: ReleasableTo::EMPTY,
        }
    }

    /// Whether the marking carries more than its level (and so needs the marking section).
    pub(crate) fn has_marking(&self) -> bool {
        !self.caveats.is_empty() || !self.releasable_to.is_empty()
    }

    /// Writes caveats and releasability (the level travels in the frame's first byte).
    pub(crate) fn encode_marking<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError> {
        s.put_varint(u64::from(self.caveats.0))?;
        s.put_u8(self.releasable_to.len)?;
        self.releasable_to
            .codes()
            .iter()
            .try_for_each(|code| s.put(&code.0))
    }

    /// Reads caveats and releasability for `level`.
    pub(crate) fn decode_marking(level: Level, r: &mut Reader<'_>) -> Result<Self, Fault> {
        let start = r.offset();
        let caveats = Caveats(r.varint_u32("caveats")?);
        let offset = r.offset();
        let n = r.u8("releasability count")?;
        let max = u64::try_from(ReleasableTo::CAPACITY).unwrap_or(u64::MAX);
        if usize::from(n) > ReleasableTo::CAPACITY {
            return Err(r.bad_length("releasability", u64::from(n), 0, max, offset));
        }
        let mut releasable_to = ReleasableTo::default();
        let mut previous: Option<CountryCode> = None;
        for _ in 0..n {
            let offset = r.offset();
            let bytes: [u8; 3] = r.array("country code")?;
            if let Some(bad) = bytes.iter().position(|b| !b.is_ascii_uppercase()) {
                return Err(r.fail(DecodeError::InvalidText {
                    what: "country code",
                    expected: "an upper-case letter A to Z",
                    offset: offset + bad,
                }));
            }
            let code = CountryCode(bytes);
            if previous.is_some_and(|p| p >= code) {
                return Err(r.non_canonical("releasability order", offset));
            }
            previous = Some(code);
            releasable_to
                .insert(code)
                .map_err(|_| r.bad_length("releasability", u64::from(n), 0, max, offset))?;
        }
        let marking = Self {
            level,
            caveats,
            releasable_to,
        };
        if !marking.has_marking() {
            return Err(r.non_canonical("empty marking", start));
        }
        Ok(marking)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> CountryCode {
        CountryCode::new(s).unwrap()
    }

    #[test]
    fn releasable_to_is_a_bounded_sorted_set() {
        let all = ["USA", "GBR", "CAN", "AUS", "NZL", "NOR", "DEU", "FRA"].map(c);
        let mut set = ReleasableTo::new(&all).unwrap();
        assert_eq!(set.codes().len(), 8);
        assert!(set.codes().windows(2).all(|w| w[0] < w[1]));
        assert_eq!(
            set.insert(c("USA")),
            Ok(()),
            "duplicate of a full set is fine"
        );
        assert_eq!(
            set.insert(c("ITA")),
            Err(ReleasableToError { code: c("ITA") })
        );
        assert!(set.contains(c("NOR")) && !set.contains(c("ITA")));
    }
}
