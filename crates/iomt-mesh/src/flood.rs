//! Managed flooding: a bounded duplicate cache and counter-based rebroadcast suppression.
//!
//! A node rebroadcasts a flooded datagram once, after a random delay; if it hears the same
//! datagram `redundancy` times before then, neighbours have covered the area and it stays
//! quiet (the counter-based scheme of MPL/Trickle, RFC 7731).

use std::collections::{BTreeMap, VecDeque};

use iomt_schema::{Instant, ShortId};

/// Key of a flooded datagram.
pub(crate) type FloodKey = (ShortId, u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    expires: Instant,
    heard: u8,
}

/// Datagrams seen recently, bounded: when full, the oldest entry is evicted first; entries
/// also expire after the configured time.
#[derive(Debug, Clone, Default)]
pub(crate) struct DuplicateCache {
    seen: BTreeMap<FloodKey, Seen>,
    order: VecDeque<FloodKey>,
}

impl DuplicateCache {
    /// Records a sighting; true if it is the first.
    pub(crate) fn first_sighting(
        &mut self,
        key: FloodKey,
        now: Instant,
        ttl: core::time::Duration,
        capacity: usize,
    ) -> bool {
        self.expire(now);
        if let Some(s) = self.seen.get_mut(&key) {
            s.heard = s.heard.saturating_add(1);
            return false;
        }
        if capacity == 0 {
            return true;
        }
        while self.seen.len() >= capacity {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            self.seen.remove(&old);
        }
        self.seen.insert(
            key,
            Seen {
                expires: now + ttl,
                heard: 1,
            },
        );
        self.order.push_back(key);
        true
    }

    /// How many times `key` was heard.
    pub(crate) fn heard(&self, key: &FloodKey) -> u8 {
        self.seen.get(key).map_or(0, |s| s.heard)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.seen.len()
    }

    fn expire(&mut self, now: Instant) {
        while let Some(k) = self.order.front() {
            match self.seen.get(k) {
                Some(s) if s.expires > now => break,
                _ => {
                    if let Some(k) = self.order.pop_front() {
                        self.seen.remove(&k);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    #[test]
    fn bounded_and_expiring() {
        let mut c = DuplicateCache::default();
        let t = Instant::ZERO;
        let ttl = Duration::from_secs(10);
        let k = |i| (ShortId::from_u64(1), i);
        assert!(c.first_sighting(k(1), t, ttl, 2));
        assert!(!c.first_sighting(k(1), t, ttl, 2));
        assert_eq!(c.heard(&k(1)), 2);
        assert!(c.first_sighting(k(2), t, ttl, 2));
        assert!(c.first_sighting(k(3), t, ttl, 2), "evicts the oldest");
        assert_eq!(c.len(), 2);
        assert_eq!(c.heard(&k(1)), 0);
        let later = t + Duration::from_secs(11);
        assert!(c.first_sighting(k(2), later, ttl, 2), "expired");
        assert_eq!(c.len(), 1);
    }
}
