//! Neighbours: Hello histories and link costs (RFC 8966 appendix A), as babeld computes them.

use core::time::Duration;

use iomt_schema::Instant;

use crate::mac::ReplayState;

/// Metric value meaning unreachable.
pub const INFINITY: u16 = 0xffff;

/// How an interface estimates link cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    /// Reliable links: the link is up if 2 of the last 3 Hellos arrived, cost = nominal rxcost
    /// (96 by default). Split horizon applies.
    Wired,
    /// Lossy links: expected transmission count (ETX) from the Hello history, nominal rxcost
    /// 256.
    Wireless,
}

/// Received-Hello history for one neighbour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct History {
    /// Bit 15 = the most recent Hello interval; 1 = received.
    pub(crate) reach: u16,
    pub(crate) seqno: Option<u16>,
    /// The neighbour's announced interval.
    pub(crate) interval: Duration,
    /// When the last Hello (or the last one counted as missed) was due.
    pub(crate) time: Instant,
}

impl History {
    pub(crate) fn new(now: Instant) -> Self {
        Self {
            reach: 0,
            seqno: None,
            interval: Duration::ZERO,
            time: now,
        }
    }

    /// Records a Hello; true if the history changed shape (not just shifted in a 1).
    pub(crate) fn hello(&mut self, now: Instant, seqno: u16, interval: Duration) -> bool {
        let mut changed = false;
        if let (Some(last), true) = (self.seqno, self.reach != 0) {
            let gap = i32::from(seqno.wrapping_sub(last).cast_signed()) - 1;
            if gap < -8 {
                // The neighbour rebooted and restarted its Hello seqno.
                self.reach = 0;
                changed = true;
            } else if gap < 0 {
                // Late Hello: the link buffered them.
                self.reach = self.reach.checked_shl(gap.unsigned_abs()).unwrap_or(0);
                changed = true;
            } else if gap > 0 {
                self.reach = self.reach.checked_shr(gap.unsigned_abs()).unwrap_or(0);
                changed = true;
            }
        }
        if !interval.is_zero() {
            self.interval = interval;
            self.time = now;
        }
        self.seqno = Some(seqno);
        self.reach = (self.reach >> 1) | 0x8000;
        changed || self.reach & 0xfc00 != 0xfc00
    }

    /// When the next Hello counts as missed: half an interval of slack.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        (!self.interval.is_zero() && self.reach != 0)
            .then(|| self.time + self.interval + self.interval / 2)
    }

    /// Shifts in the Hellos missed by `now`; true if any.
    pub(crate) fn check(&mut self, now: Instant) -> bool {
        let mut changed = false;
        while let Some(deadline) = self.deadline() {
            if now < deadline {
                break;
            }
            self.reach >>= 1;
            self.time = self.time + self.interval;
            self.seqno = self.seqno.map(|s| s.wrapping_add(1));
            changed = true;
        }
        changed
    }
}

/// Whether 2 of the last 3 Hellos arrived (babeld's `two_three`).
fn two_of_three(reach: u16) -> bool {
    match reach & 0xc000 {
        0xc000 => true,
        0 => false,
        _ => reach & 0x2000 != 0,
    }
}

/// Cost of receiving from a neighbour, from its Hello history.
pub(crate) fn rxcost(history: &History, kind: LinkKind, nominal: u16) -> u16 {
    if history.reach & 0xfff0 == 0 {
        return INFINITY;
    }
    match kind {
        LinkKind::Wired => {
            if two_of_three(history.reach) {
                nominal
            } else {
                INFINITY
            }
        }
        LinkKind::Wireless => {
            let r = u32::from(history.reach);
            // The two most recent intervals weigh more, as in babeld.
            let sreach = ((r & 0x8000) >> 2) + ((r & 0x4000) >> 1) + (r & 0x3fff);
            let cost = 0x8000 * u32::from(nominal) / (sreach + 1);
            u16::try_from(cost).unwrap_or(INFINITY)
        }
    }
}

/// Link cost from our rxcost and the neighbour's (its IHU's rxcost is our txcost).
pub(crate) fn link_cost(kind: LinkKind, rxcost: u16, txcost: u16) -> u16 {
    if rxcost == INFINITY || txcost == INFINITY {
        return INFINITY;
    }
    match kind {
        LinkKind::Wired => txcost,
        LinkKind::Wireless if rxcost < 256 && txcost < 256 => txcost,
        LinkKind::Wireless => {
            let (a, b) = (u32::from(txcost.max(256)), u32::from(rxcost.max(256)));
            u16::try_from((a * b + 128) >> 8).unwrap_or(INFINITY)
        }
    }
}

/// A probe of a neighbour that missed a Hello: Ack Requests until one is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Probe {
    pub(crate) nonce: u16,
    pub(crate) sent: u8,
    pub(crate) next: Instant,
}

/// Everything known about one neighbour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Neighbour {
    pub(crate) history: History,
    pub(crate) txcost: u16,
    pub(crate) ihu_time: Instant,
    pub(crate) ihu_interval: Duration,
    /// Set when a probe went unanswered; cleared by the next Hello.
    pub(crate) unreachable: bool,
    pub(crate) probe: Option<Probe>,
    pub(crate) replay: ReplayState,
    /// The cost used in route metrics, recomputed on every change.
    pub(crate) cost: u16,
}

impl Neighbour {
    pub(crate) fn new(now: Instant) -> Self {
        Self {
            history: History::new(now),
            txcost: INFINITY,
            ihu_time: now,
            ihu_interval: Duration::ZERO,
            unreachable: false,
            probe: None,
            replay: ReplayState::default(),
            cost: INFINITY,
        }
    }

    pub(crate) fn compute_cost(&self, kind: LinkKind, nominal: u16) -> u16 {
        if self.unreachable {
            return INFINITY;
        }
        link_cost(kind, rxcost(&self.history, kind, nominal), self.txcost)
    }

    /// When our txcost goes stale: 3.5 IHU intervals without an IHU.
    pub(crate) fn ihu_deadline(&self) -> Option<Instant> {
        (self.txcost != INFINITY && !self.ihu_interval.is_zero())
            .then(|| self.ihu_time + self.ihu_interval * 7 / 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: u64) -> Instant {
        Instant::from_nanos(ms * 1_000_000)
    }

    #[test]
    fn history_and_wired_cost() {
        let i = Duration::from_secs(4);
        let mut h = History::new(t(0));
        h.hello(t(0), 10, i);
        h.hello(t(4000), 11, i);
        h.hello(t(8000), 12, i);
        assert_eq!(h.reach, 0xe000);
        assert_eq!(rxcost(&h, LinkKind::Wired, 96), 96);
        // No Hello at 12 s: counted missed at 8 + 6 = 14 s.
        assert!(!h.check(t(13_999)));
        assert!(h.check(t(14_000)));
        assert_eq!(h.reach, 0x7000);
        assert_eq!(
            rxcost(&h, LinkKind::Wired, 96),
            96,
            "one miss is a misfortune"
        );
        assert!(h.check(t(18_000)));
        assert_eq!(
            rxcost(&h, LinkKind::Wired, 96),
            INFINITY,
            "two is carelessness"
        );
        // A hello with a seqno gap shifts in the missed ones.
        h.hello(t(20_000), 16, i);
        assert_eq!(h.reach, 0x8e00);
    }

    #[test]
    fn etx_cost() {
        let mut h = History::new(t(0));
        for s in 0..16u16 {
            h.hello(t(u64::from(s) * 1000), s, Duration::from_secs(1));
        }
        assert_eq!(rxcost(&h, LinkKind::Wireless, 256), 256);
        assert_eq!(link_cost(LinkKind::Wireless, 256, 256), 256);
        h.hello(t(17_000), 17, Duration::from_secs(1));
        let lossy = rxcost(&h, LinkKind::Wireless, 256);
        assert!(lossy > 256 && lossy < 512, "{lossy}");
        assert_eq!(link_cost(LinkKind::Wireless, 512, 512), 1024);
        assert_eq!(link_cost(LinkKind::Wired, 96, INFINITY), INFINITY);
    }

    #[test]
    fn reboot_resets_history() {
        let mut h = History::new(t(0));
        for s in 100..110u16 {
            h.hello(t(0), s, Duration::from_secs(1));
        }
        assert!(h.hello(t(0), 3, Duration::from_secs(1)));
        assert_eq!(h.reach, 0x8000);
    }
}
