//! `open_enum!`: code-list enums that keep codes they do not name.
//!
//! Each generated enum has one variant per named code plus `Unknown(u8)`, so a newer peer's
//! value decodes, survives relays and re-encodes to the same byte. The decoder never produces
//! `Unknown(c)` for a code `c` that has a name. JSON carries the name (`"friend"`) for named
//! codes and the number for the others.

macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident (max $max:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $code:literal => $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A code this version does not name, kept as received.
            Unknown(u8),
        }

        impl $name {
            /// Largest code the wire field can carry.
            pub const MAX_CODE: u8 = $max;

            /// Every named value, in code order.
            pub const NAMED: &'static [Self] = &[$(Self::$variant),+];

            /// The value for a wire code; codes without a name become `Unknown`.
            pub const fn from_code(code: u8) -> Self {
                match code {
                    $( $code => Self::$variant, )+
                    other => Self::Unknown(other),
                }
            }

            /// The wire code.
            pub const fn code(self) -> u8 {
                match self {
                    $( Self::$variant => $code, )+
                    Self::Unknown(c) => c,
                }
            }

            /// The JSON name of a named value.
            pub const fn name(self) -> Option<&'static str> {
                match self {
                    $( Self::$variant => Some($text), )+
                    Self::Unknown(_) => None,
                }
            }

            /// The value for a JSON name.
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $( $text => Some(Self::$variant), )+
                    _ => None,
                }
            }

            /// Checks that the code fits its wire field.
            #[allow(dead_code, reason = "used by the enums packed into bit fields")]
            pub(crate) fn checked_code(self, what: &'static str) -> Result<u8, $crate::EncodeError> {
                let code = self.code();
                if code > Self::MAX_CODE {
                    return Err($crate::EncodeError::OutOfRange {
                        what,
                        value: u64::from(code),
                        max: u64::from(Self::MAX_CODE),
                    });
                }
                Ok(code)
            }
        }

        impl $crate::wire::Wire for $name {
            #[inline]
            fn encode<S: $crate::wire::Sink>(&self, s: &mut S) -> Result<(), $crate::EncodeError> {
                s.put_u8(self.checked_code(stringify!($name))?)
            }
            #[inline]
            fn decode(r: &mut $crate::wire::Reader<'_>) -> Result<Self, $crate::wire::Fault> {
                let offset = r.offset();
                let code = r.u8(stringify!($name))?;
                if code > Self::MAX_CODE {
                    return Err(r.fail($crate::DecodeError::OutOfRange {
                        what: stringify!($name),
                        value: i64::from(code),
                        min: 0,
                        max: i64::from(Self::MAX_CODE),
                        offset,
                    }));
                }
                Ok(Self::from_code(code))
            }
        }

        #[cfg(feature = "serde")]
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self.name() {
                    Some(name) => s.serialize_str(name),
                    None => s.serialize_u8(self.code()),
                }
            }
        }

        #[cfg(feature = "serde")]
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl serde::de::Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                        f.write_str(concat!("a ", stringify!($name), " name or code"))
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$name, E> {
                        $name::from_name(v).ok_or_else(|| E::unknown_variant(v, &[$($text),+]))
                    }
                    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<$name, E> {
                        match u8::try_from(v) {
                            Ok(code) if code <= $name::MAX_CODE => Ok($name::from_code(code)),
                            _ => Err(E::invalid_value(serde::de::Unexpected::Unsigned(v), &self)),
                        }
                    }
                }
                d.deserialize_any(V)
            }
        }

        #[cfg(feature = "proptest")]
        impl proptest::arbitrary::Arbitrary for $name {
            type Parameters = ();
            type Strategy = proptest::strategy::BoxedStrategy<Self>;
            fn arbitrary_with((): ()) -> Self::Strategy {
                use proptest::prelude::*;
                prop_oneof![
                    3 => proptest::sample::select(Self::NAMED),
                    1 => (0..=Self::MAX_CODE).prop_map(Self::from_code),
                ]
                .boxed()
            }
        }
    };
}

pub(crate) use open_enum;
