//! Geodetic position with declared precision and error, and velocity.

use crate::error::{DecodeError, EncodeError};
use crate::open_enum::open_enum;
use crate::units::{Distance, Height, Latitude, Longitude, VelocityComponent};
use crate::wire::{Fault, Reader, Sink, Wire};

open_enum! {
    /// What an altitude is measured from. Two bits on the wire.
    pub enum AltitudeDatum (max 3) {
        /// Height above the WGS 84 ellipsoid (what a GNSS receiver measures).
        Ellipsoid = 0 => "ellipsoid",
        /// Height above mean sea level (the geoid).
        MeanSeaLevel = 1 => "msl",
        /// Height above the ground below (a radar altimeter, a UAV's AGL).
        Ground = 2 => "agl",
    }
}

/// An altitude and the datum it is measured from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct Altitude {
    /// The height, in decimetres (metres in JSON).
    pub height: Height,
    /// The reference surface.
    pub datum: AltitudeDatum,
}

/// A position on the WGS 84 ellipsoid: latitude and longitude in 1e-7 degree (about 1.1 cm),
/// an optional altitude with its datum, and optional circular (horizontal) and linear (vertical)
/// error at 95 % confidence. Absent values are absent, never a magic number.
///
/// ```
/// use iomt_schema::{Latitude, Longitude, Position};
/// let p = Position::new(Latitude::from_f64(59.3293)?, Longitude::from_f64(18.0686)?);
/// assert!(p.altitude.is_none());
/// # Ok::<(), iomt_schema::RangeError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct Position {
    /// Latitude.
    pub lat: Latitude,
    /// Longitude.
    pub lon: Longitude,
    /// Altitude and its datum.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub altitude: Option<Altitude>,
    /// Horizontal error radius (CE95).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub circular_error: Option<Distance>,
    /// Vertical error (LE95).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub linear_error: Option<Distance>,
}

impl Position {
    /// A position with latitude and longitude only.
    pub const fn new(lat: Latitude, lon: Longitude) -> Self {
        Self {
            lat,
            lon,
            altitude: None,
            circular_error: None,
            linear_error: None,
        }
    }
}

const HAS_ALTITUDE: u8 = 0x01;
const DATUM_SHIFT: u8 = 1;
const DATUM_MASK: u8 = 0x06;
const HAS_CE: u8 = 0x08;
const HAS_LE: u8 = 0x10;
const RESERVED: u8 = 0xe0;

/// Wire form: latitude and longitude as 4-byte big-endian integers (inside a batch: zigzag
/// varint deltas from the batch's base position), a flag byte (altitude present, datum, CE
/// present, LE present), then the present values as varints.
impl Wire for Position {
    #[inline]
    fn encode<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError> {
        let (lat, lon) = (self.lat.raw(), self.lon.raw());
        match s.position_base() {
            None => {
                let [a, b, c, d] = lat.to_be_bytes();
                let [e, f, g, h] = lon.to_be_bytes();
                s.put(&[a, b, c, d, e, f, g, h])?;
            }
            Some((blat, blon)) => {
                s.put_zigzag(i64::from(lat) - i64::from(blat))?;
                s.put_zigzag(i64::from(lon) - i64::from(blon))?;
            }
        }
        let mut flags = 0;
        if let Some(alt) = &self.altitude {
            flags |= HAS_ALTITUDE | alt.datum.checked_code("altitude datum")? << DATUM_SHIFT;
        }
        if self.circular_error.is_some() {
            flags |= HAS_CE;
        }
        if self.linear_error.is_some() {
            flags |= HAS_LE;
        }
        s.put_u8(flags)?;
        if let Some(alt) = &self.altitude {
            alt.height.encode(s)?;
        }
        if let Some(ce) = &self.circular_error {
            ce.encode(s)?;
        }
        if let Some(le) = &self.linear_error {
            le.encode(s)?;
        }
        Ok(())
    }

    #[inline]
    fn decode(r: &mut Reader<'_>) -> Result<Self, Fault> {
        let offset = r.offset();
        let (lat, lon) = match r.base {
            None => {
                let [a, b, c, d, e, f, g, h] = r.array("position")?;
                (
                    i64::from(i32::from_be_bytes([a, b, c, d])),
                    i64::from(i32::from_be_bytes([e, f, g, h])),
                )
            }
            Some((blat, blon)) => {
                let dlat = r.zigzag("latitude delta")?;
                let dlon = r.zigzag("longitude delta")?;
                (
                    i64::from(blat).saturating_add(dlat),
                    i64::from(blon).saturating_add(dlon),
                )
            }
        };
        let lat = i32::try_from(lat)
            .ok()
            .and_then(Latitude::new)
            .ok_or_else(|| {
                r.out_of_range(
                    "latitude",
                    lat,
                    i64::from(Latitude::MIN.raw()),
                    i64::from(Latitude::MAX.raw()),
                    offset,
                )
            })?;
        let lon = i32::try_from(lon)
            .ok()
            .and_then(Longitude::new)
            .ok_or_else(|| {
                r.out_of_range(
                    "longitude",
                    lon,
                    i64::from(Longitude::MIN.raw()),
                    i64::from(Longitude::MAX.raw()),
                    offset,
                )
            })?;
        let offset = r.offset();
        let flags = r.u8("position flags")?;
        if flags & RESERVED != 0 {
            return Err(r.fail(DecodeError::ReservedBits {
                what: "position flags",
                bits: flags & RESERVED,
                offset,
            }));
        }
        let datum = (flags & DATUM_MASK) >> DATUM_SHIFT;
        let altitude = if flags & HAS_ALTITUDE != 0 {
            Some(Altitude {
                height: Height::decode(r)?,
                datum: AltitudeDatum::from_code(datum),
            })
        } else if datum != 0 {
            return Err(r.non_canonical("datum without altitude", offset));
        } else {
            None
        };
        let circular_error = (flags & HAS_CE != 0)
            .then(|| Distance::decode(r))
            .transpose()?;
        let linear_error = (flags & HAS_LE != 0)
            .then(|| Distance::decode(r))
            .transpose()?;
        Ok(Self {
            lat,
            lon,
            altitude,
            circular_error,
            linear_error,
        })
    }
}

/// A velocity in the local east-north-up frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct Velocity {
    /// East component.
    pub east: VelocityComponent,
    /// North component.
    pub north: VelocityComponent,
    /// Up component.
    pub up: VelocityComponent,
}

impl Wire for Velocity {
    #[inline]
    fn encode<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError> {
        self.east.encode(s)?;
        self.north.encode(s)?;
        self.up.encode(s)
    }
    #[inline]
    fn decode(r: &mut Reader<'_>) -> Result<Self, Fault> {
        Ok(Self {
            east: VelocityComponent::decode(r)?,
            north: VelocityComponent::decode(r)?,
            up: VelocityComponent::decode(r)?,
        })
    }
}
