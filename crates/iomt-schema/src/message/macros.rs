//! `message!` and `record!`: one field list gives a struct, its codec, and its line in the
//! schema description that the fingerprint hashes.
//!
//! Field types are single identifiers (`Position`) or lists (`[InventoryItem]`, a `Vec`), so
//! the description is built from identifiers only and does not depend on how a compiler prints
//! types.

/// The Rust type of a field.
macro_rules! field_ty {
    ([$t:ident]) => { alloc::vec::Vec<$t> };
    ($t:ident) => { $t };
}

/// The description of a field's type, for the fingerprint.
macro_rules! field_desc {
    ([$t:ident]) => {
        concat!("[", stringify!($t), "]")
    };
    ($t:ident) => {
        stringify!($t)
    };
}

/// A message body: a presence bitmap (varint; bit `i` = optional field `i`), the required fields
/// in order, then the present optional fields in order. Presence bits beyond the known fields
/// come from a newer schema: the decoder keeps them and the remaining bytes in `unknown`, and the
/// encoder writes them back, so old relays pass new messages through unchanged.
macro_rules! message {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            required {}
            optional { $( $(#[$ometa:meta])* $ofield:ident : $oty:tt, )* }
        }
    ) => {
        message!(@impl $(#[$meta])* pub struct $name {
            required {}
            optional { $( $(#[$ometa])* $ofield : $oty, )* }
        });

        /// Nothing present.
        impl Default for $name {
            fn default() -> Self {
                Self { $( $ofield: None, )* unknown: UnknownFields::default() }
            }
        }
    };
    (
        $(#[$meta:meta])*
        pub struct $name:ident { $($body:tt)* }
    ) => {
        message!(@impl $(#[$meta])* pub struct $name { $($body)* });
    };
    (
        @impl
        $(#[$meta:meta])*
        pub struct $name:ident {
            required { $( $(#[$rmeta:meta])* $rfield:ident : $rty:tt, )* }
            optional { $( $(#[$ometa:meta])* $ofield:ident : $oty:tt, )* }
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
        #[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
        pub struct $name {
            $( $(#[$rmeta])* pub $rfield: field_ty!($rty), )*
            $(
                $(#[$ometa])*
                #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
                pub $ofield: Option<field_ty!($oty)>,
            )*
            /// Fields from a newer schema version, kept so the message re-encodes unchanged.
            #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "UnknownFields::is_empty"))]
            #[cfg_attr(feature = "proptest", proptest(value = "UnknownFields::default()"))]
            pub unknown: UnknownFields,
        }

        impl $name {
            const OPTIONAL_FIELDS: usize = [$(stringify!($ofield)),*].len();
            const KNOWN: u64 = {
                assert!(Self::OPTIONAL_FIELDS < 64);
                (1u64 << Self::OPTIONAL_FIELDS) - 1
            };
            pub(crate) const DESCRIPTION: &'static str = concat!(
                stringify!($name), "{",
                $( stringify!($rfield), ":", field_desc!($rty), ";", )*
                "?",
                $( stringify!($ofield), ":", field_desc!($oty), ";", )*
                "}"
            );
        }

        impl $crate::wire::Wire for $name {
            #[allow(unused_assignments, reason = "the last field's bit is not read")]
            #[inline]
            fn encode<S: $crate::wire::Sink>(&self, s: &mut S) -> Result<(), $crate::EncodeError> {
                let unknown_bits = self.unknown.bits() & !Self::KNOWN;
                let mut bits = unknown_bits;
                let mut bit = 1u64;
                $(
                    if self.$ofield.is_some() {
                        bits |= bit;
                    }
                    bit <<= 1;
                )*
                s.put_varint(bits)?;
                $( $crate::wire::Wire::encode(&self.$rfield, s)?; )*
                $(
                    if let Some(v) = &self.$ofield {
                        $crate::wire::Wire::encode(v, s)?;
                    }
                )*
                self.unknown.encode_tail(unknown_bits, s)
            }

            #[allow(unused_assignments, reason = "the last field's bit is not read")]
            #[inline]
            fn decode(r: &mut $crate::wire::Reader<'_>) -> Result<Self, $crate::wire::Fault> {
                let bits = r.varint(concat!(stringify!($name), " presence"))?;
                $( let $rfield = $crate::wire::Wire::decode(r)?; )*
                let mut bit = 1u64;
                $(
                    let $ofield = if bits & bit != 0 {
                        Some($crate::wire::Wire::decode(r)?)
                    } else {
                        None
                    };
                    bit <<= 1;
                )*
                let unknown = UnknownFields::take(bits & !Self::KNOWN, r, stringify!($name))?;
                Ok(Self { $($rfield,)* $($ofield,)* unknown })
            }
        }
    };
}

/// A fixed record nested inside a message: its fields in order, no presence bitmap. Records
/// cannot gain fields; a message that needs more adds an optional field of a new record type.
macro_rules! record {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* $field:ident : $ty:tt, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
        #[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: field_ty!($ty), )*
        }

        impl $name {
            pub(crate) const DESCRIPTION: &'static str = concat!(
                stringify!($name), "(",
                $( stringify!($field), ":", field_desc!($ty), ";", )*
                ")"
            );
        }

        impl $crate::wire::Wire for $name {
            fn encode<S: $crate::wire::Sink>(&self, s: &mut S) -> Result<(), $crate::EncodeError> {
                $( $crate::wire::Wire::encode(&self.$field, s)?; )*
                Ok(())
            }
            fn decode(r: &mut $crate::wire::Reader<'_>) -> Result<Self, $crate::wire::Fault> {
                Ok(Self { $( $field: $crate::wire::Wire::decode(r)?, )* })
            }
        }
    };
}

pub(crate) use {field_desc, field_ty, message, record};
