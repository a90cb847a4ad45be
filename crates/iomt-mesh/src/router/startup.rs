//! The start-up hold-down: after a (re)start the router withdraws everything it may have
//! announced in a previous life and selects no route learned from neighbours until they have
//! all acknowledged the withdrawal.
//!
//! A restarted router has lost its feasibility distances, so a neighbour still holding a
//! route through the router's previous life could announce it back and close a loop. babeld
//! sends a wildcard retraction at start; here it also goes unicast with an Ack Request to
//! every neighbour heard, until acknowledged, and routes are selected only once every known
//! neighbour has acknowledged (and at least two and a half Hello intervals have passed), or
//! once 3.5 update intervals have passed, by when any stale route has expired anyway.

use super::*;

const RESEND: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pending {
    nonce: u16,
    acked: bool,
    next: Instant,
}

/// Start-up state; `None` in the router once over.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Startup {
    earliest: Option<Instant>,
    latest: Instant,
    acks: BTreeMap<NeighKey, Pending>,
    last_ack: Instant,
}

impl Startup {
    /// Extends the hold-down for a new interface.
    pub(super) fn extend(&mut self, now: Instant, cfg: &InterfaceConfig) {
        let earliest = now + cfg.hello_interval * 5 / 2;
        self.earliest = Some(self.earliest.map_or(earliest, |e| e.max(earliest)));
        self.latest = self.latest.max(now + cfg.update_interval * 7 / 2);
    }

    /// The next instant the start-up machinery needs a timeout (already past when the last
    /// acknowledgement has just ended it).
    pub(super) fn deadline(&self) -> Instant {
        if self.earliest.is_none() && self.acks.values().all(|p| p.acked) {
            return self.last_ack;
        }
        let resend = self
            .acks
            .values()
            .filter(|p| !p.acked)
            .map(|p| p.next)
            .min()
            .unwrap_or(self.latest);
        self.earliest
            .unwrap_or(self.latest)
            .min(self.latest)
            .min(resend)
    }

    /// Records an Ack; true if it was ours.
    pub(super) fn acked(&mut self, now: Instant, key: NeighKey, nonce: u16) -> bool {
        match self.acks.get_mut(&key) {
            Some(p) if p.nonce == nonce => {
                p.acked = true;
                self.last_ack = now;
                true
            }
            _ => false,
        }
    }
}

impl Router {
    /// Sends the pending retractions; ends the hold-down (and selects routes) when done.
    pub(super) fn startup_timers(&mut self, now: Instant) {
        let Some(mut st) = self.startup.take() else {
            return;
        };
        for key in self.neighbours.keys() {
            if !st.acks.contains_key(key) {
                let nonce = u16::try_from(self.jitter.next_u32() >> 16).unwrap_or(0);
                st.acks.insert(
                    *key,
                    Pending {
                        nonce,
                        acked: false,
                        next: now,
                    },
                );
            }
        }
        st.acks.retain(|k, _| self.neighbours.contains_key(k));
        let mut sends = Vec::new();
        for (key, p) in st
            .acks
            .iter_mut()
            .filter(|(_, p)| !p.acked && p.next <= now)
        {
            p.next = now + RESEND;
            sends.push((*key, p.nonce));
        }
        if st.earliest.is_some_and(|e| now >= e) {
            st.earliest = None;
        }
        let all_acked = st.acks.values().all(|p| p.acked);
        if (st.earliest.is_none() && all_acked) || now >= st.latest {
            let prefixes: Vec<Prefix> = self.table.keys().copied().collect();
            for p in prefixes {
                self.select(now, p);
            }
            return;
        }
        self.startup = Some(st);
        for (key, nonce) in sends {
            // Our own prefix right after the retraction, which withdrew it too.
            self.push_unicast(now, key, Out::RetractAll);
            self.push_unicast(now, key, Out::Update(self.own));
            let interval = centis(RESEND).unwrap_or(50);
            self.push_unicast(now, key, Out::AckReq { nonce, interval });
        }
    }
}
