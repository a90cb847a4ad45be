//! Per-next-hop precedence queues: Flash served first, Routine shed first, expired datagrams
//! dropped rather than sent.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use iomt_schema::{Instant, Precedence};

/// A datagram waiting for its next hop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Queued {
    /// Header and payload, hop limit already decremented.
    pub(crate) bytes: Vec<u8>,
    pub(crate) precedence: Precedence,
    /// When it stops being worth sending.
    pub(crate) deadline: Instant,
}

/// What happened when a datagram was offered to a full queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Admit {
    /// Queued.
    Queued,
    /// Queued after shedding an older datagram of lower precedence.
    Shed(Queued),
    /// Refused: the queue is full of datagrams at least as urgent.
    Refused(Queued),
}

/// Four FIFO lanes, one per precedence, sharing one bound.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PrecedenceQueue {
    lanes: [VecDeque<Queued>; 4],
    len: usize,
}

impl PrecedenceQueue {
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Datagrams queued, all lanes together.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Queues `item` within `capacity`, shedding the oldest datagram of the lowest precedence
    /// below its own if full.
    pub(crate) fn push(&mut self, item: Queued, capacity: usize) -> Admit {
        let lane = item.precedence.index();
        if self.len < capacity {
            self.push_lane(lane, item);
            return Admit::Queued;
        }
        let victim = self
            .lanes
            .iter_mut()
            .take(lane)
            .find(|l| !l.is_empty())
            .and_then(VecDeque::pop_front);
        let Some(victim) = victim else {
            return Admit::Refused(item);
        };
        self.len -= 1;
        self.push_lane(lane, item);
        Admit::Shed(victim)
    }

    fn push_lane(&mut self, lane: usize, item: Queued) {
        if let Some(l) = self.lanes.get_mut(lane) {
            l.push_back(item);
            self.len += 1;
        }
    }

    /// Precedence of the datagram `pop` would return, ignoring expiry.
    pub(crate) fn head_precedence(&self) -> Option<Precedence> {
        self.lanes.iter().rposition(|l| !l.is_empty()).map(|i| {
            Precedence::ALL
                .get(i)
                .copied()
                .unwrap_or(Precedence::Routine)
        })
    }

    /// Length of the datagram `pop` would return, ignoring expiry.
    pub(crate) fn head_len(&self) -> Option<usize> {
        self.lanes
            .iter()
            .rev()
            .find_map(VecDeque::front)
            .map(|i| i.bytes.len())
    }

    /// The most urgent unexpired datagram; expired ones met on the way are dropped and counted.
    pub(crate) fn pop(&mut self, now: Instant, expired: &mut u64) -> Option<Queued> {
        for lane in self.lanes.iter_mut().rev() {
            while let Some(item) = lane.pop_front() {
                self.len -= 1;
                if item.deadline <= now {
                    *expired += 1;
                    continue;
                }
                return Some(item);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec;

    use super::*;
    use core::time::Duration;

    fn item(p: Precedence, tag: u8, deadline_s: u64) -> Queued {
        Queued {
            bytes: vec![tag],
            precedence: p,
            deadline: Instant::ZERO + Duration::from_secs(deadline_s),
        }
    }

    #[test]
    fn flash_first_routine_shed_first_expired_dropped() {
        let mut q = PrecedenceQueue::default();
        assert_eq!(q.push(item(Precedence::Routine, 1, 100), 3), Admit::Queued);
        assert_eq!(q.push(item(Precedence::Routine, 2, 1), 3), Admit::Queued);
        assert_eq!(q.push(item(Precedence::Priority, 3, 100), 3), Admit::Queued);
        // Full: a Flash datagram sheds the oldest Routine one.
        assert_eq!(
            q.push(item(Precedence::Flash, 4, 100), 3),
            Admit::Shed(item(Precedence::Routine, 1, 100))
        );
        // Full of datagrams at least as urgent as Routine: refused.
        assert!(matches!(
            q.push(item(Precedence::Routine, 5, 100), 3),
            Admit::Refused(_)
        ));
        assert_eq!(q.head_precedence(), Some(Precedence::Flash));
        let now = Instant::ZERO + Duration::from_secs(10);
        let mut expired = 0;
        let order: Vec<u8> = core::iter::from_fn(|| q.pop(now, &mut expired))
            .map(|i| i.bytes[0])
            .collect();
        assert_eq!(order, vec![4, 3]);
        assert_eq!(
            expired, 1,
            "the Routine datagram with a 1 s deadline expired"
        );
        assert!(q.is_empty());
    }
}
