//! Time: wall-clock timestamps on the wire, and the monotonic instants that sans-IO state
//! machines are driven with.
//!
//! Nothing in the library reads a clock. Callers pass `now` in; the simulator counts integer
//! nanoseconds and `iomt-node` maps its runtime clock onto [`Instant`].

use core::ops::{Add, Sub};
use core::time::Duration;

use crate::error::EncodeError;
use crate::wire::{Fault, Reader, Sink, Wire};

/// Wall-clock time of an event: milliseconds since the Unix epoch (UTC), below 2^48
/// (year 10889). On the wire: 6 bytes, big-endian.
///
/// ```
/// use iomt_schema::Timestamp;
/// let t = Timestamp::from_millis(1_795_000_000_000).unwrap();
/// assert_eq!(t.as_millis(), 1_795_000_000_000);
/// assert!(Timestamp::from_millis(1 << 48).is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "u64", into = "u64"))]
pub struct Timestamp(u64);

impl Timestamp {
    /// Largest representable value.
    pub const MAX: Self = Self((1 << 48) - 1);

    /// The timestamp for `ms` milliseconds since the epoch, if below 2^48.
    pub const fn from_millis(ms: u64) -> Option<Self> {
        if ms > Self::MAX.0 {
            return None;
        }
        Some(Self(ms))
    }

    /// Milliseconds since the epoch.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// This timestamp plus `d`, if representable.
    pub fn checked_add(self, d: Duration) -> Option<Self> {
        let ms = u64::try_from(d.as_millis()).ok()?;
        Self::from_millis(self.0.checked_add(ms)?)
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Self) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

/// Error for a millisecond count of 2^48 or more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "timestamp of {millis} ms after the epoch is beyond the 48-bit wire field (at most {} ms)",
    Timestamp::MAX.0
)]
pub struct TimestampRangeError {
    /// The millisecond count given.
    pub millis: u64,
}

impl TryFrom<u64> for Timestamp {
    type Error = TimestampRangeError;
    fn try_from(ms: u64) -> Result<Self, Self::Error> {
        Self::from_millis(ms).ok_or(TimestampRangeError { millis: ms })
    }
}

impl From<Timestamp> for u64 {
    fn from(t: Timestamp) -> u64 {
        t.0
    }
}

impl Wire for Timestamp {
    #[inline]
    fn encode<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError> {
        let [_, _, rest @ ..] = self.0.to_be_bytes();
        s.put(&rest)
    }
    #[inline]
    fn decode(r: &mut Reader<'_>) -> Result<Self, Fault> {
        let [a, b, c, d, e, f] = r.array("timestamp")?;
        Ok(Self(u64::from_be_bytes([0, 0, a, b, c, d, e, f])))
    }
}

#[cfg(feature = "proptest")]
impl proptest::arbitrary::Arbitrary for Timestamp {
    type Parameters = ();
    type Strategy = proptest::strategy::Map<core::ops::RangeInclusive<u64>, fn(u64) -> Self>;
    fn arbitrary_with((): ()) -> Self::Strategy {
        use proptest::strategy::Strategy;
        (0..=Self::MAX.0).prop_map(Self)
    }
}

/// A point on a monotonic clock with an arbitrary origin, in nanoseconds. State machines take
/// it as `now`; it never goes backwards for a given driver.
///
/// ```
/// use core::time::Duration;
/// use iomt_schema::Instant;
/// let t0 = Instant::from_nanos(5);
/// let t1 = t0 + Duration::from_micros(1);
/// assert_eq!(t1.saturating_duration_since(t0), Duration::from_nanos(1_000));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Instant(u64);

impl Instant {
    /// The origin.
    pub const ZERO: Self = Self(0);
    /// The last representable instant (about 584 years after the origin).
    pub const MAX: Self = Self(u64::MAX);

    /// The instant `nanos` nanoseconds after the origin.
    pub const fn from_nanos(nanos: u64) -> Self {
        Self(nanos)
    }

    /// Nanoseconds since the origin.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// `self + d`, saturating at [`Instant::MAX`].
    pub fn saturating_add(self, d: Duration) -> Self {
        Self(
            self.0
                .saturating_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
        )
    }

    /// `self + d`, if representable.
    pub fn checked_add(self, d: Duration) -> Option<Self> {
        Some(Self(self.0.checked_add(u64::try_from(d.as_nanos()).ok()?)?))
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub const fn saturating_duration_since(self, earlier: Self) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Instant {
    type Output = Self;
    /// Saturating: an instant never wraps.
    fn add(self, d: Duration) -> Self {
        self.saturating_add(d)
    }
}

impl Sub for Instant {
    type Output = Duration;
    /// Saturating: zero if `rhs` is later.
    fn sub(self, rhs: Self) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

/// How long after its timestamp a message stops being worth delivering, in whole seconds.
/// Relays drop expired messages instead of forwarding them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct Expiry(pub u32);

impl Expiry {
    /// The lifetime as a duration.
    pub fn as_duration(self) -> Duration {
        Duration::from_secs(u64::from(self.0))
    }
}

impl Wire for Expiry {
    #[inline]
    fn encode<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError> {
        self.0.encode(s)
    }
    #[inline]
    fn decode(r: &mut Reader<'_>) -> Result<Self, Fault> {
        r.varint_u32("expiry").map(Self)
    }
}
