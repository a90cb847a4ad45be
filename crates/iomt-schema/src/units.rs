//! Physical quantities in declared fixed-point units.
//!
//! Each type stores an integer count of a fixed unit (1e-7 degree, decimetre, cm/s, ...), so the
//! precision is part of the type and a value has exactly one encoding. Conversions from floating
//! point round to the nearest unit and refuse values outside the type's range; JSON carries the
//! human unit (degrees, metres, m/s, degrees Celsius).

use crate::error::{EncodeError, Overflowed};
use crate::wire::{Fault, Reader, Sink, Wire};

/// A value outside the range of the quantity it was meant for, in the quantity's human unit
/// (the JSON unit: degrees, metres, m/s, degrees Celsius, percent).
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("{what} of {value} {unit} is outside {min}..={max} {unit}")]
pub struct RangeError {
    /// The quantity.
    pub what: &'static str,
    /// The value given (NaN included).
    pub value: f64,
    /// The smallest value the quantity holds.
    pub min: f64,
    /// The largest value the quantity holds.
    pub max: f64,
    /// The unit of the three numbers.
    pub unit: &'static str,
}

/// Rounds half away from zero; `None` for NaN and for magnitudes beyond 2^53.
#[allow(
    clippy::as_conversions,
    reason = "f64 to integer has no TryFrom; range checked first"
)]
fn round_f64(x: f64) -> Option<i64> {
    const LIMIT: f64 = 9_007_199_254_740_992.0;
    if !(-LIMIT..=LIMIT).contains(&x) {
        return None;
    }
    let shifted = if x >= 0.0 { x + 0.5 } else { x - 0.5 };
    Some(shifted as i64)
}

#[allow(
    clippy::as_conversions,
    reason = "every inner type is at most 32 bits: exact in f64"
)]
fn to_f64<T: Into<i64>>(v: T) -> f64 {
    v.into() as f64
}

macro_rules! quantity {
    (
        $(#[$meta:meta])*
        pub struct $name:ident($inner:ty) {
            unit: $unit:literal, per_human: $scale:literal, human: $human:literal,
            range: $min:expr => $max:expr,
            wire: $wire:ident,
        }
    ) => {
        $(#[$meta])*
        #[doc = concat!("\n\nUnit: ", $unit, ". JSON carries the value in ", $human, " (", stringify!($scale), " units each).")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
        #[cfg_attr(feature = "serde", serde(try_from = "f64", into = "f64"))]
        pub struct $name($inner);

        impl $name {
            /// Smallest raw value.
            pub const MIN: Self = Self($min);
            /// Largest raw value.
            pub const MAX: Self = Self($max);
            const WHAT: &'static str = stringify!($name);

            /// The quantity for a raw count of units, if in range.
            #[allow(unused_comparisons, reason = "some types span their whole integer range")]
            pub const fn new(raw: $inner) -> Option<Self> {
                if raw < $min || raw > $max {
                    return None;
                }
                Some(Self(raw))
            }

            /// The raw count of units.
            pub const fn raw(self) -> $inner {
                self.0
            }

            /// The quantity nearest to `value` in the JSON unit, if in range.
            pub fn from_f64(value: f64) -> Result<Self, RangeError> {
                let err = RangeError {
                    what: Self::WHAT,
                    value,
                    min: Self::MIN.to_f64(),
                    max: Self::MAX.to_f64(),
                    unit: $human,
                };
                let raw = round_f64(value * $scale).ok_or(err)?;
                <$inner>::try_from(raw).ok().and_then(Self::new).ok_or(err)
            }

            /// The value in the JSON unit.
            pub fn to_f64(self) -> f64 {
                to_f64(self.0) / $scale
            }

            #[allow(dead_code, reason = "used by the types with a wire form of their own")]
            fn check(raw: $inner, r: &mut Reader<'_>, offset: usize) -> Result<Self, Fault> {
                Self::new(raw).ok_or_else(|| r.out_of_range(Self::WHAT, i64::from(raw), i64::from(Self::MIN.0), i64::from(Self::MAX.0), offset))
            }
        }

        impl TryFrom<f64> for $name {
            type Error = RangeError;
            fn try_from(value: f64) -> Result<Self, RangeError> {
                Self::from_f64(value)
            }
        }

        impl From<$name> for f64 {
            fn from(q: $name) -> f64 {
                q.to_f64()
            }
        }

        #[cfg(feature = "proptest")]
        impl proptest::arbitrary::Arbitrary for $name {
            type Parameters = ();
            type Strategy = proptest::strategy::Map<core::ops::RangeInclusive<$inner>, fn($inner) -> Self>;
            fn arbitrary_with((): ()) -> Self::Strategy {
                use proptest::strategy::Strategy;
                ($min..=$max).prop_map(Self)
            }
        }

        quantity!(@wire $wire $name $inner);
    };
    (@wire none $name:ident $inner:ty) => {};
    (@wire fixed $name:ident $inner:ty) => {
        impl Wire for $name {
            #[inline]
            fn encode<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError> {
                s.put(&self.0.to_be_bytes())
            }
            #[inline]
            fn decode(r: &mut Reader<'_>) -> Result<Self, Fault> {
                let offset = r.offset();
                let raw = <$inner>::from_be_bytes(r.array(Self::WHAT)?);
                Self::check(raw, r, offset)
            }
        }
    };
    (@wire varint $name:ident $inner:ty) => {
        impl Wire for $name {
            #[inline]
            fn encode<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError> {
                s.put_varint(u64::from(self.0))
            }
            #[inline]
            fn decode(r: &mut Reader<'_>) -> Result<Self, Fault> {
                let offset = r.offset();
                let raw = r.varint(Self::WHAT)?;
                let raw = <$inner>::try_from(raw).map_err(|_| {
                    r.overflow(Self::WHAT, Overflowed::Unsigned(raw), stringify!($inner), offset)
                })?;
                Self::check(raw, r, offset)
            }
        }
    };
    (@wire zigzag $name:ident $inner:ty) => {
        impl Wire for $name {
            #[inline]
            fn encode<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError> {
                s.put_zigzag(i64::from(self.0))
            }
            #[inline]
            fn decode(r: &mut Reader<'_>) -> Result<Self, Fault> {
                let offset = r.offset();
                let raw = r.zigzag(Self::WHAT)?;
                let raw = <$inner>::try_from(raw).map_err(|_| {
                    r.overflow(Self::WHAT, Overflowed::Signed(raw), stringify!($inner), offset)
                })?;
                Self::check(raw, r, offset)
            }
        }
    };
}

quantity! {
    /// Geodetic latitude (WGS 84), positive north.
    pub struct Latitude(i32) {
        unit: "1e-7 degree", per_human: 1e7, human: "degrees",
        range: -900_000_000 => 900_000_000,
        wire: none,
    }
}

quantity! {
    /// Geodetic longitude (WGS 84), positive east.
    pub struct Longitude(i32) {
        unit: "1e-7 degree", per_human: 1e7, human: "degrees",
        range: -1_800_000_000 => 1_800_000_000,
        wire: none,
    }
}

quantity! {
    /// Height relative to an [`AltitudeDatum`](crate::AltitudeDatum).
    pub struct Height(i32) {
        unit: "decimetre", per_human: 10.0, human: "metres",
        range: i32::MIN => i32::MAX,
        wire: zigzag,
    }
}

quantity! {
    /// A non-negative distance: a range, a position error, a storage-free figure's peer.
    pub struct Distance(u32) {
        unit: "decimetre", per_human: 10.0, human: "metres",
        range: 0 => u32::MAX,
        wire: varint,
    }
}

quantity! {
    /// A direction clockwise from true north: course, heading, bearing, wind direction.
    pub struct Course(u16) {
        unit: "0.01 degree", per_human: 100.0, human: "degrees",
        range: 0 => 35_999,
        wire: fixed,
    }
}

quantity! {
    /// A speed over ground or through the air.
    pub struct Speed(u32) {
        unit: "cm/s", per_human: 100.0, human: "m/s",
        range: 0 => u32::MAX,
        wire: varint,
    }
}

quantity! {
    /// One signed component of a velocity.
    pub struct VelocityComponent(i32) {
        unit: "cm/s", per_human: 100.0, human: "m/s",
        range: i32::MIN => i32::MAX,
        wire: zigzag,
    }
}

quantity! {
    /// An angle above (positive) or below the horizontal.
    pub struct Elevation(i16) {
        unit: "0.01 degree", per_human: 100.0, human: "degrees",
        range: -9_000 => 9_000,
        wire: zigzag,
    }
}

quantity! {
    /// A temperature.
    pub struct Temperature(i16) {
        unit: "0.01 degree Celsius", per_human: 100.0, human: "degrees Celsius",
        range: -27_315 => i16::MAX,
        wire: zigzag,
    }
}

/// A whole percentage, 0 to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "u8", into = "u8"))]
pub struct Percent(u8);

impl Percent {
    /// The percentage, if at most 100.
    pub const fn new(value: u8) -> Option<Self> {
        if value > 100 {
            return None;
        }
        Some(Self(value))
    }

    /// The percentage.
    pub const fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for Percent {
    type Error = RangeError;
    fn try_from(v: u8) -> Result<Self, RangeError> {
        Self::new(v).ok_or(RangeError {
            what: "Percent",
            value: f64::from(v),
            min: 0.0,
            max: 100.0,
            unit: "%",
        })
    }
}

impl From<Percent> for u8 {
    fn from(p: Percent) -> u8 {
        p.0
    }
}

impl Wire for Percent {
    #[inline]
    fn encode<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError> {
        s.put_u8(self.0)
    }
    #[inline]
    fn decode(r: &mut Reader<'_>) -> Result<Self, Fault> {
        let offset = r.offset();
        let value = r.u8("Percent")?;
        Self::new(value).ok_or_else(|| r.out_of_range("Percent", i64::from(value), 0, 100, offset))
    }
}

#[cfg(feature = "proptest")]
impl proptest::arbitrary::Arbitrary for Percent {
    type Parameters = ();
    type Strategy = proptest::strategy::Map<core::ops::RangeInclusive<u8>, fn(u8) -> Self>;
    fn arbitrary_with((): ()) -> Self::Strategy {
        use proptest::strategy::Strategy;
        (0..=100).prop_map(Self)
    }
}

#[cfg(test)]
mod tests {
    use alloc::string::ToString;

    use super::*;

    #[test]
    fn conversions_round_and_check_range() {
        assert_eq!(Latitude::from_f64(59.329_323_5).unwrap().raw(), 593_293_235);
        assert_eq!(Latitude::from_f64(-0.000_000_05).unwrap().raw(), -1);
        assert!(Latitude::from_f64(90.000_000_1).is_err());
        assert!(Latitude::from_f64(f64::NAN).is_err());
        assert!(Longitude::from_f64(180.0).is_ok());
        assert!(Course::from_f64(360.0).is_err());
        assert_eq!(Course::from_f64(359.994).unwrap().raw(), 35_999);
        assert_eq!(Speed::from_f64(1.4).unwrap().raw(), 140);
        assert!(Speed::from_f64(-0.1).is_err());
        assert_eq!(Temperature::from_f64(-273.15).unwrap().raw(), -27_315);
        assert!(Temperature::from_f64(-273.16).is_err());
        assert_eq!(Percent::new(101), None);
    }

    #[test]
    fn range_errors_name_the_value_and_the_range() {
        assert_eq!(
            Latitude::from_f64(90.000_000_1).unwrap_err().to_string(),
            "Latitude of 90.0000001 degrees is outside -90..=90 degrees"
        );
        assert_eq!(
            Percent::try_from(101).unwrap_err().to_string(),
            "Percent of 101 % is outside 0..=100 %"
        );
    }

    #[test]
    fn float_form_round_trips_every_raw_value_tested() {
        for raw in [-1_800_000_000, -1, 0, 1, 123_456_789, 1_800_000_000] {
            let lon = Longitude::new(raw).unwrap();
            assert_eq!(Longitude::from_f64(lon.to_f64()), Ok(lon));
        }
        for raw in [0, 1, 99, 4_294_967_295] {
            let d = Distance::new(raw).unwrap();
            assert_eq!(Distance::from_f64(d.to_f64()), Ok(d));
        }
    }
}
