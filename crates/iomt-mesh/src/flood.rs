//! Managed flooding: a bounded duplicate cache and counter-based rebroadcast suppression.
//!
//! A node rebroadcasts a flooded datagram once, after a random delay; if it hears the same
//! datagram `redundancy` times before then, neighbours have covered the area and it stays
//! quiet (the counter-based scheme of MPL/Trickle, RFC 7731).
//!
//! A flooded datagram is known by its source, its message id and a digest of everything in it
//! that no relay changes, so a datagram seen before under the same source and id but with other
//! content (a guessed id sent ahead of the real one, or a captured id with a forged payload) is
//! a different datagram: it can neither suppress nor count towards suppressing the real one.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

use iomt_schema::{Instant, ShortId};
use ring::digest;

use crate::datagram::Header;

/// Key of a flooded datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct FloodKey {
    source: ShortId,
    message_id: u32,
    /// SHA-256, truncated to 128 bits (a second preimage still costs 2^128), of the datagram
    /// as its originator encoded it with the hop limit and lifetime zeroed: version and
    /// flags, precedence, source, message id and payload. The hop limit and lifetime are left
    /// out because every relay rewrites them.
    content: [u8; 16],
}

impl FloodKey {
    /// The key of a flooded datagram.
    pub(crate) fn of(header: &Header, payload: &[u8]) -> Self {
        let invariant = Header {
            hop_limit: 0,
            lifetime: core::time::Duration::ZERO,
            ..*header
        };
        let mut encoded = Vec::with_capacity(invariant.len());
        invariant.write(&mut encoded);
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(&encoded);
        ctx.update(payload);
        let mut content = [0u8; 16];
        let full = ctx.finish();
        if let Some(head) = full.as_ref().get(..16) {
            content.copy_from_slice(head);
        }
        Self {
            source: header.source,
            message_id: header.message_id,
            content,
        }
    }
}

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

    /// Entries held.
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
    use crate::datagram::Target;
    use core::time::Duration;
    use iomt_schema::Precedence;

    fn header(message_id: u32) -> Header {
        Header {
            target: Target::Flood,
            hop_limit: 9,
            precedence: Precedence::Flash,
            lifetime: Duration::from_secs(30),
            source: ShortId::from_u64(1),
            message_id,
        }
    }

    #[test]
    fn key_covers_what_relays_keep_and_only_that() {
        let h = header(7);
        let k = FloodKey::of(&h, b"revocation delta");
        let relayed = Header {
            hop_limit: 3,
            lifetime: Duration::from_secs(12),
            ..h
        };
        assert_eq!(FloodKey::of(&relayed, b"revocation delta"), k);
        assert_ne!(FloodKey::of(&h, b"revocation delt4"), k, "payload");
        let routine = Header {
            precedence: Precedence::Routine,
            ..h
        };
        assert_ne!(FloodKey::of(&routine, b"revocation delta"), k, "precedence");
        let other = Header {
            source: ShortId::from_u64(2),
            ..h
        };
        assert_ne!(FloodKey::of(&other, b"revocation delta"), k, "source");
        assert_ne!(FloodKey::of(&header(8), b"revocation delta"), k, "id");
    }

    #[test]
    fn bounded_and_expiring() {
        let mut c = DuplicateCache::default();
        let t = Instant::ZERO;
        let ttl = Duration::from_secs(10);
        let k = |i| FloodKey::of(&header(i), b"x");
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
