//! Device identifiers.
//!
//! A [`DeviceId`] is 16 bytes; `iomt-identity` derives it from the device's public key (the
//! first 16 bytes of its SHA-256). Narrow links carry the 8-byte [`ShortId`], the DeviceId's
//! first 8 bytes; the mesh uses it as its router-id. A frame names its source with a
//! [`DeviceRef`], either form.

use core::fmt;
use core::str::FromStr;

use crate::error::EncodeError;
use crate::wire::{Fault, Reader, Sink, Wire};

/// Error from parsing an identifier from hex text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseIdError {
    /// Not the identifier's number of digits.
    #[error("{what} of {len} characters: a {what} is {expected} hex digits")]
    Length {
        /// The identifier type.
        what: &'static str,
        /// Characters given.
        len: usize,
        /// Hex digits the identifier has.
        expected: usize,
    },
    /// A character that is not a hex digit.
    #[error("{what} character {character:?} at index {index} is not a hex digit")]
    Digit {
        /// The identifier type.
        what: &'static str,
        /// The character.
        character: char,
        /// Its index, from 0.
        index: usize,
    },
}

macro_rules! byte_id {
    ($(#[$meta:meta])* $name:ident, $len:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name([u8; $len]);

        impl $name {
            /// Length in bytes.
            pub const LEN: usize = $len;

            /// Wraps raw bytes.
            pub const fn from_bytes(bytes: [u8; $len]) -> Self {
                Self(bytes)
            }

            /// The raw bytes.
            pub const fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }

            /// The raw bytes, by value.
            pub const fn to_bytes(self) -> [u8; $len] {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self)
            }
        }

        impl FromStr for $name {
            type Err = ParseIdError;

            /// Parses exactly `2 * LEN` hex digits, either case.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let what = stringify!($name);
                if let Some((index, character)) =
                    s.chars().enumerate().find(|(_, c)| !c.is_ascii_hexdigit())
                {
                    return Err(ParseIdError::Digit { what, character, index });
                }
                let digits = s.as_bytes();
                if digits.len() != 2 * $len {
                    return Err(ParseIdError::Length { what, len: digits.len(), expected: 2 * $len });
                }
                let mut out = [0u8; $len];
                for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
                    // Every byte is a hex digit (checked above): the zeros never apply.
                    let [hi, lo] = [pair.first(), pair.get(1)].map(|d| d.and_then(|d| hex_value(*d)));
                    *byte = hi.unwrap_or(0) << 4 | lo.unwrap_or(0);
                }
                Ok(Self(out))
            }
        }

        impl Wire for $name {
            #[inline]
            fn encode<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError> {
                s.put(&self.0)
            }
            #[inline]
            fn decode(r: &mut Reader<'_>) -> Result<Self, Fault> {
                r.array(stringify!($name)).map(Self)
            }
        }

        #[cfg(feature = "serde")]
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                if s.is_human_readable() {
                    s.collect_str(self)
                } else {
                    s.serialize_bytes(&self.0)
                }
            }
        }

        #[cfg(feature = "serde")]
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl serde::de::Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        write!(f, concat!("a ", stringify!($name), " as {} hex digits or bytes"), 2 * $len)
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$name, E> {
                        v.parse().map_err(E::custom)
                    }
                    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<$name, E> {
                        <[u8; $len]>::try_from(v).map($name).map_err(|_| E::invalid_length(v.len(), &self))
                    }
                }
                if d.is_human_readable() {
                    d.deserialize_str(V)
                } else {
                    d.deserialize_bytes(V)
                }
            }
        }

        #[cfg(feature = "proptest")]
        impl proptest::arbitrary::Arbitrary for $name {
            type Parameters = ();
            type Strategy = proptest::strategy::Map<proptest::array::UniformArrayStrategy<proptest::num::u8::Any, [u8; $len]>, fn([u8; $len]) -> Self>;
            fn arbitrary_with((): ()) -> Self::Strategy {
                use proptest::strategy::Strategy;
                proptest::array::uniform(proptest::num::u8::ANY).prop_map(Self)
            }
        }
    };
}

fn hex_value(d: u8) -> Option<u8> {
    match d {
        b'0'..=b'9' => Some(d - b'0'),
        b'a'..=b'f' => Some(d - b'a' + 10),
        b'A'..=b'F' => Some(d - b'A' + 10),
        _ => None,
    }
}

byte_id! {
    /// A device's 16-byte identity: the first 16 bytes of SHA-256 over its public key.
    ///
    /// ```
    /// use iomt_schema::DeviceId;
    /// let id: DeviceId = "00112233445566778899aabbccddeeff".parse()?;
    /// assert_eq!(id.short().to_string(), "0011223344556677");
    /// # Ok::<(), iomt_schema::ParseIdError>(())
    /// ```
    DeviceId, 16
}

byte_id! {
    /// The 8-byte short form of a [`DeviceId`] (its first 8 bytes), for narrow links and as the
    /// mesh router-id.
    ShortId, 8
}

impl DeviceId {
    /// The short form: the first 8 bytes.
    pub fn short(&self) -> ShortId {
        let [a, b, c, d, e, f, g, h, ..] = self.0;
        ShortId([a, b, c, d, e, f, g, h])
    }
}

impl ShortId {
    /// The id as a big-endian integer.
    pub const fn to_u64(self) -> u64 {
        u64::from_be_bytes(self.0)
    }

    /// The id from a big-endian integer.
    pub const fn from_u64(v: u64) -> Self {
        Self(v.to_be_bytes())
    }

    /// Whether this is the short form of `id`.
    pub fn matches(&self, id: &DeviceId) -> bool {
        id.short() == *self
    }
}

impl From<DeviceId> for ShortId {
    fn from(id: DeviceId) -> Self {
        id.short()
    }
}

/// A device named by either form of its identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub enum DeviceRef {
    /// The 8-byte short form.
    Short(ShortId),
    /// The full 16-byte identity.
    Full(DeviceId),
}

impl DeviceRef {
    /// The short form, whichever form this holds.
    pub fn short(&self) -> ShortId {
        match self {
            Self::Short(s) => *s,
            Self::Full(id) => id.short(),
        }
    }

    /// Whether this names `id` (exactly, or by its short form).
    pub fn matches(&self, id: &DeviceId) -> bool {
        match self {
            Self::Short(s) => s.matches(id),
            Self::Full(full) => full == id,
        }
    }
}

impl From<ShortId> for DeviceRef {
    fn from(s: ShortId) -> Self {
        Self::Short(s)
    }
}

impl From<DeviceId> for DeviceRef {
    fn from(id: DeviceId) -> Self {
        Self::Full(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::ToString;

    #[test]
    fn hex_round_trip_and_errors() {
        let id: DeviceId = "00112233445566778899AABBCCDDEEFF".parse().unwrap();
        assert_eq!(id.to_string(), "00112233445566778899aabbccddeeff");
        assert_eq!(format!("{:?}", id.short()), "ShortId(0011223344556677)");
        assert!("0011".parse::<DeviceId>().is_err());
        assert!(
            "zz112233445566778899aabbccddeeff"
                .parse::<DeviceId>()
                .is_err()
        );
        assert_eq!(
            ShortId::from_u64(0x0102_0304_0506_0708).as_bytes(),
            &[1, 2, 3, 4, 5, 6, 7, 8]
        );
    }

    #[test]
    fn device_ref_matches() {
        let id = DeviceId::from_bytes([7; 16]);
        assert!(DeviceRef::from(id.short()).matches(&id));
        assert!(DeviceRef::from(id).matches(&id));
        assert!(!DeviceRef::from(ShortId::from_u64(1)).matches(&id));
    }
}
