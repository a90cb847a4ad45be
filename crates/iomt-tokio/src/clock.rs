//! The node's monotonic `Instant` and its wall clock, from the system's.

use std::time::{SystemTime, UNIX_EPOCH};

use iomt_schema::{Instant, Timestamp};
use iomt_transport::WallClock;

/// Where the node's time starts: its `Instant::ZERO` is the moment of [`Clock::start`], and its
/// wall clock reads the system's time at that moment.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: tokio::time::Instant,
    wall: Timestamp,
}

impl Clock {
    /// Starts the clock now.
    pub fn start() -> Self {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        Self {
            start: tokio::time::Instant::now(),
            wall: Timestamp::from_millis(millis)
                .or(Timestamp::from_millis(0))
                .unwrap_or(Timestamp::MAX),
        }
    }

    /// The node's time now.
    pub fn now(&self) -> Instant {
        self.at(tokio::time::Instant::now())
    }

    /// The wall clock the node's credentials should use: the system's time at the start,
    /// advancing with the node's `Instant`.
    pub fn wall_clock(&self) -> WallClock {
        WallClock::new(Instant::ZERO, self.wall)
    }

    /// The node's time at the runtime's instant `t`.
    pub(crate) fn at(&self, t: tokio::time::Instant) -> Instant {
        Instant::ZERO.saturating_add(t.saturating_duration_since(self.start))
    }

    /// The runtime's instant at the node's time `t`.
    pub(crate) fn deadline(&self, t: Instant) -> tokio::time::Instant {
        self.start + t.saturating_duration_since(Instant::ZERO)
    }
}
