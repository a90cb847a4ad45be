//! Figures a scenario reports: delivery and latency per precedence, control overhead per node,
//! time to convergence, and why packets were dropped.

use std::collections::BTreeMap;
use std::time::Duration;

use iomt_schema::{Instant, Precedence};

use crate::node::{Class, NodeId};

/// Packets and bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counter {
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
}

impl Counter {
    fn add(&mut self, bytes: usize) {
        self.packets += 1;
        self.bytes += u64::try_from(bytes).unwrap_or(u64::MAX);
    }
}

/// What one node sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NodeTraffic {
    /// Control packets sent.
    pub control: Counter,
    /// Data packets sent.
    pub data: Counter,
}

/// Why the medium did not deliver a packet to a receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Drops {
    /// Lost by the loss model.
    pub lost: u64,
    /// Larger than the link's MTU.
    pub oversize: u64,
    /// Link cut, pair cut, partition, out of range, or no such neighbour.
    pub unreachable: u64,
    /// The receiver was crashed when the packet arrived.
    pub receiver_down: u64,
}

/// Per-run figures. Traffic counters are filled by the simulator; message delivery is reported
/// by the scenario (usually from its observer's `on_event`).
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    traffic: Vec<NodeTraffic>,
    /// Packets the medium did not deliver, by reason.
    pub drops: Drops,
    window_start: Instant,
    messages: BTreeMap<u64, (Precedence, Instant, bool)>,
    sent: [u64; 4],
    delivered: [u64; 4],
    duplicates: u64,
    latencies: [Vec<u64>; 4],
}

impl Metrics {
    pub(crate) fn record_transmit(&mut self, node: NodeId, class: Class, bytes: usize) {
        let index = node.index();
        if self.traffic.len() <= index {
            self.traffic.resize(index + 1, NodeTraffic::default());
        }
        let Some(t) = self.traffic.get_mut(index) else {
            return;
        };
        match class {
            Class::Control => t.control.add(bytes),
            Class::Data => t.data.add(bytes),
        }
    }

    /// Forgets traffic counters (not messages): measure a steady-state window from `now` on.
    pub fn reset_traffic(&mut self, now: Instant) {
        self.traffic
            .iter_mut()
            .for_each(|t| *t = NodeTraffic::default());
        self.window_start = now;
    }

    /// What `node` sent since the last reset.
    pub fn node_traffic(&self, node: NodeId) -> NodeTraffic {
        self.traffic.get(node.index()).copied().unwrap_or_default()
    }

    /// Control packets and bytes per node per second, averaged over `nodes` nodes from the last
    /// reset to `now`.
    pub fn control_rate(&self, nodes: usize, now: Instant) -> (f64, f64) {
        let secs = now
            .saturating_duration_since(self.window_start)
            .as_secs_f64();
        if secs <= 0.0 || nodes == 0 {
            return (0.0, 0.0);
        }
        let (packets, bytes) = self.traffic.iter().fold((0u64, 0u64), |(p, b), t| {
            (p + t.control.packets, b + t.control.bytes)
        });
        #[allow(clippy::cast_precision_loss, clippy::as_conversions)]
        let scale = secs * nodes as f64;
        #[allow(clippy::cast_precision_loss, clippy::as_conversions)]
        (packets as f64 / scale, bytes as f64 / scale)
    }

    /// A message `id` (any key unique in the run) was handed to the network.
    pub fn message_sent(&mut self, id: u64, precedence: Precedence, at: Instant) {
        if self.messages.insert(id, (precedence, at, false)).is_none()
            && let Some(n) = self.sent.get_mut(precedence.index())
        {
            *n += 1;
        }
    }

    /// Message `id` reached its addressee; returns its latency the first time, `None` for a
    /// duplicate or an unknown id.
    pub fn message_delivered(&mut self, id: u64, at: Instant) -> Option<Duration> {
        let (precedence, sent, delivered) = self.messages.get_mut(&id)?;
        if *delivered {
            self.duplicates += 1;
            return None;
        }
        *delivered = true;
        let latency = at.saturating_duration_since(*sent);
        let index = precedence.index();
        if let Some(n) = self.delivered.get_mut(index) {
            *n += 1;
        }
        if let Some(l) = self.latencies.get_mut(index) {
            l.push(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX));
        }
        Some(latency)
    }

    /// Messages sent and delivered, for one precedence or all.
    pub fn delivery(&self, precedence: Option<Precedence>) -> (u64, u64) {
        match precedence {
            Some(p) => (
                self.sent.get(p.index()).copied().unwrap_or(0),
                self.delivered.get(p.index()).copied().unwrap_or(0),
            ),
            None => (self.sent.iter().sum(), self.delivered.iter().sum()),
        }
    }

    /// Delivered / sent, for one precedence or all; `None` when nothing was sent.
    pub fn delivery_ratio(&self, precedence: Option<Precedence>) -> Option<f64> {
        let (sent, delivered) = self.delivery(precedence);
        #[allow(clippy::cast_precision_loss, clippy::as_conversions)]
        (sent > 0).then(|| delivered as f64 / sent as f64)
    }

    /// Duplicate deliveries seen.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// The `q`-quantile (0..=1, nearest rank) of delivery latency, for one precedence or all.
    pub fn latency_percentile(&self, precedence: Option<Precedence>, q: f64) -> Option<Duration> {
        let mut all: Vec<u64> = match precedence {
            Some(p) => self.latencies.get(p.index()).cloned().unwrap_or_default(),
            None => self.latencies.iter().flatten().copied().collect(),
        };
        if all.is_empty() {
            return None;
        }
        all.sort_unstable();
        #[allow(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::as_conversions
        )]
        let rank = ((q.clamp(0.0, 1.0) * all.len() as f64).ceil() as usize).max(1);
        all.get(rank - 1).copied().map(Duration::from_nanos)
    }
}

/// Measures time to convergence after a disturbance: the time from [`Convergence::start`] to
/// the last moment the scenario's convergence test went from false to true.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Convergence {
    started: Option<Instant>,
    converged_since: Option<Instant>,
}

impl Convergence {
    /// A disturbance happened at `at` (a cut, a merge): the clock starts.
    pub fn start(&mut self, at: Instant) {
        self.started = Some(at);
        self.converged_since = None;
    }

    /// Reports whether the network is converged at `now`.
    pub fn observe(&mut self, now: Instant, converged: bool) {
        if self.started.is_none() {
            return;
        }
        match (converged, self.converged_since) {
            (true, None) => self.converged_since = Some(now),
            (false, Some(_)) => self.converged_since = None,
            _ => {}
        }
    }

    /// Time from the disturbance until the network converged and stayed so, if it has.
    pub fn time(&self) -> Option<Duration> {
        Some(
            self.converged_since?
                .saturating_duration_since(self.started?),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Instant {
        Instant::from_nanos(v * 1_000_000)
    }

    #[test]
    fn delivery_and_percentiles() {
        let mut m = Metrics::default();
        for i in 0..10 {
            m.message_sent(i, Precedence::Routine, ms(0));
        }
        m.message_sent(100, Precedence::Flash, ms(0));
        for i in 0..8 {
            assert!(m.message_delivered(i, ms(10 * (i + 1))).is_some());
        }
        assert!(m.message_delivered(0, ms(500)).is_none(), "duplicate");
        assert!(m.message_delivered(999, ms(500)).is_none(), "unknown");
        assert_eq!(m.delivery_ratio(Some(Precedence::Routine)), Some(0.8));
        assert_eq!(m.delivery_ratio(Some(Precedence::Flash)), Some(0.0));
        assert_eq!(m.delivery_ratio(Some(Precedence::Priority)), None);
        assert_eq!(m.duplicates(), 1);
        assert_eq!(
            m.latency_percentile(Some(Precedence::Routine), 0.5),
            Some(Duration::from_millis(40))
        );
        assert_eq!(
            m.latency_percentile(None, 1.0),
            Some(Duration::from_millis(80))
        );
    }

    #[test]
    fn control_rate_over_window() {
        let mut m = Metrics::default();
        m.record_transmit(NodeId(0), Class::Control, 100);
        m.reset_traffic(ms(1000));
        m.record_transmit(NodeId(0), Class::Control, 40);
        m.record_transmit(NodeId(1), Class::Control, 60);
        m.record_transmit(NodeId(1), Class::Data, 1000);
        let (pps, bps) = m.control_rate(2, ms(3000));
        assert_eq!((pps, bps), (0.5, 25.0));
        assert_eq!(m.node_traffic(NodeId(1)).data.bytes, 1000);
    }

    #[test]
    fn convergence_clock() {
        let mut c = Convergence::default();
        c.observe(ms(1), true);
        assert_eq!(c.time(), None, "not started");
        c.start(ms(100));
        c.observe(ms(150), true);
        c.observe(ms(200), false);
        c.observe(ms(300), true);
        c.observe(ms(400), true);
        assert_eq!(c.time(), Some(Duration::from_millis(200)));
    }
}
