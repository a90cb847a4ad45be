//! The route table: updates, feasibility, selection with hysteresis, seqno and route requests.

use super::*;

impl Router {
    pub(super) fn metric(&self, key: NeighKey, route: &Route) -> u16 {
        let cost = self.neighbours.get(&key).map_or(INFINITY, |n| n.cost);
        if route.refmetric == INFINITY || cost == INFINITY {
            return INFINITY;
        }
        route.refmetric.saturating_add(cost)
    }

    fn feasible(&self, prefix: Prefix, router_id: ShortId, seqno: u16, refmetric: u16) -> bool {
        if refmetric == INFINITY {
            return true;
        }
        match self.sources.get(&(prefix, router_id)) {
            None => self.sources.len() < self.cfg.limits.sources,
            Some(s) => seqno_newer(seqno, s.seqno) || (seqno == s.seqno && refmetric < s.metric),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn update(
        &mut self,
        now: Instant,
        key: NeighKey,
        prefix: Prefix,
        router_id: Option<ShortId>,
        seqno: u16,
        metric: u16,
        interval: u16,
    ) {
        if prefix == self.own {
            return;
        }
        let exists = self
            .table
            .get(&prefix)
            .is_some_and(|e| e.routes.contains_key(&key));
        if metric == INFINITY {
            if exists {
                if let Some(e) = self.table.get_mut(&prefix) {
                    e.routes.remove(&key);
                }
                self.select(now, prefix);
            }
            return;
        }
        let Some(router_id) = router_id else {
            self.stats.tlvs_ignored += 1;
            return;
        };
        let feasible = self.feasible(prefix, router_id, seqno, metric);
        if !feasible {
            let selected = self.table.get(&prefix).and_then(|e| {
                e.selected
                    .filter(|k| *k == key)
                    .and_then(|k| e.routes.get(&k))
            });
            if let Some(r) = selected.filter(|r| r.router_id == router_id) {
                // RFC 8966 section 3.5.3: an unfeasible update from the same source for the
                // selected route may be ignored. The stored route stays feasible (so no loop
                // can form); once it is old (a third of its hold time left) a newer seqno is
                // requested, as babeld does, so it is replaced before it expires.
                let hold = from_centis(interval).max(Duration::from_millis(100)) * 7 / 2;
                if r.expires.saturating_duration_since(now) < hold / 3 {
                    let wanted = self.wanted_seqno(prefix, router_id, seqno);
                    self.send_seqno_request(
                        now,
                        Some(key),
                        prefix,
                        router_id,
                        wanted,
                        REQUEST_HOPS,
                    );
                }
                return;
            }
            self.unfeasible_request(now, key, prefix, router_id, seqno, metric);
            if !exists {
                return;
            }
        }
        if !self.table.contains_key(&prefix) && self.table.len() >= self.cfg.limits.prefixes {
            self.stats.tlvs_ignored += 1;
            return;
        }
        let hold = from_centis(interval).max(Duration::from_millis(100)) * 7 / 2;
        let entry = self.table.entry(prefix).or_default();
        entry.routes.insert(
            key,
            Route {
                router_id,
                seqno,
                refmetric: metric,
                expires: now + hold,
            },
        );
        if let Some(p) = self.requests.get(&(prefix, router_id))
            && !seqno_newer(p.seqno, seqno)
        {
            self.requests.remove(&(prefix, router_id));
        }
        self.select(now, prefix);
    }

    pub(super) fn retract_all(&mut self, now: Instant, key: NeighKey) {
        let affected: Vec<Prefix> = self
            .table
            .iter_mut()
            .filter_map(|(p, e)| e.routes.remove(&key).map(|_| *p))
            .collect();
        for p in affected {
            self.select(now, p);
        }
    }

    /// Re-runs route selection for `prefix`; announces and reports any change.
    pub(super) fn select(&mut self, now: Instant, prefix: Prefix) {
        let Some(entry) = self.table.get(&prefix) else {
            return;
        };
        let held = self.startup.is_some();
        let candidates: Vec<(NeighKey, u16)> = entry
            .routes
            .iter()
            .filter(|_| !held)
            .filter(|(_, r)| self.feasible(prefix, r.router_id, r.seqno, r.refmetric))
            .map(|(k, r)| (*k, self.metric(*k, r)))
            .filter(|(_, m)| *m < INFINITY)
            .collect();
        let current = entry
            .selected
            .and_then(|k| candidates.iter().find(|(c, _)| *c == k).copied());
        let best = candidates.iter().min_by_key(|(k, m)| (*m, *k)).copied();
        let chosen = match (current, best) {
            (Some(cur), Some(b)) if b.1.saturating_add(self.cfg.switch_hysteresis) >= cur.1 => {
                Some(cur)
            }
            (_, b) => b,
        };
        let previous = entry.selected;
        let lost = entry.announced.filter(|_| chosen.is_none());
        let announce =
            chosen.and_then(|(k, m)| entry.routes.get(&k).map(|r| (r.router_id, r.seqno, m)));
        let significant = match (entry.announced, announce) {
            (Some((r0, s0, m0)), Some((r1, s1, m1))) => {
                worth_announcing(r0 != r1 || s0 != s1, m0, m1)
            }
            (None, None) => None,
            (Some(_), None) => Some(true),
            (None, Some(_)) => Some(false),
        };
        let Some(entry) = self.table.get_mut(&prefix) else {
            return;
        };
        entry.selected = chosen.map(|(k, _)| k);
        if previous != entry.selected {
            self.events.push_back(Event::RouteChanged(prefix));
        }
        if let Some(urgent) = significant {
            entry.announced = announce;
            self.queue_update_all(now, prefix, urgent);
        }
        if let Some((rid, seqno, _)) = lost {
            // Lost the route: retract it (done by the update above) and ask for a newer seqno
            // so an unfeasible alternative can become feasible.
            self.send_seqno_request(now, None, prefix, rid, seqno.wrapping_add(1), REQUEST_HOPS);
        }
        let empty = self
            .table
            .get(&prefix)
            .is_some_and(|e| e.routes.is_empty() && e.selected.is_none() && e.announced.is_none());
        if empty {
            self.table.remove(&prefix);
        }
    }

    fn unfeasible_request(
        &mut self,
        now: Instant,
        key: NeighKey,
        prefix: Prefix,
        router_id: ShortId,
        seqno: u16,
        refmetric: u16,
    ) {
        let cost = self.neighbours.get(&key).map_or(INFINITY, |n| n.cost);
        let metric = refmetric.saturating_add(cost);
        // As babeld: only when there is no route, or this one would be much better (by 512,
        // two wireless hops). Unlike babeld, also for a source far behind (one that lost its
        // seqno in a reboot): asking is how it recovers a newer one.
        let better = match self.route(&prefix) {
            None => true,
            Some(r) => metric.saturating_add(512) <= r.metric,
        };
        let wanted = self.wanted_seqno(prefix, router_id, seqno);
        if better && cost < INFINITY && !seqno_newer(seqno, wanted) {
            self.send_seqno_request(now, Some(key), prefix, router_id, wanted, REQUEST_HOPS);
        }
    }

    /// The seqno that would make routes from `router_id` feasible again: one past the
    /// source table's.
    fn wanted_seqno(&self, prefix: Prefix, router_id: ShortId, seqno: u16) -> u16 {
        self.sources
            .get(&(prefix, router_id))
            .map_or(seqno, |s| s.seqno)
            .wrapping_add(1)
    }

    pub(super) fn seqno_request(
        &mut self,
        now: Instant,
        from: NeighKey,
        prefix: Prefix,
        seqno: u16,
        hop_count: u8,
        router_id: ShortId,
    ) {
        if prefix == self.own {
            if router_id == self.cfg.router_id && seqno_newer(seqno, self.seqno) {
                self.seqno = seqno;
            }
            self.queue_update_all(now, prefix, true);
            return;
        }
        let Some(route) = self.route(&prefix) else {
            return;
        };
        if route.router_id == router_id && !seqno_newer(seqno, route.seqno) {
            self.queue_update(now, from.0, prefix, true);
            return;
        }
        let Some(next) = route.next_hop else {
            return;
        };
        if hop_count >= 2 && next != from {
            self.send_seqno_request(now, Some(next), prefix, router_id, seqno, hop_count - 1);
        }
    }

    /// Sends a seqno request (to one neighbour, or multicast on every interface), once per
    /// (prefix, router-id, seqno) while it is outstanding.
    fn send_seqno_request(
        &mut self,
        now: Instant,
        to: Option<NeighKey>,
        prefix: Prefix,
        router_id: ShortId,
        seqno: u16,
        hop_count: u8,
    ) {
        if let Some(p) = self.requests.get(&(prefix, router_id))
            && !seqno_newer(seqno, p.seqno)
            && now < p.expires
        {
            return;
        }
        if !self.requests.contains_key(&(prefix, router_id))
            && self.requests.len() >= self.cfg.limits.requests
        {
            return;
        }
        self.requests.insert(
            (prefix, router_id),
            Pending {
                seqno,
                to,
                hop_count,
                resend_at: now + REQUEST_RESEND,
                resends: 2,
                expires: now + REQUEST_RESEND * 3,
            },
        );
        let out = Out::SeqnoRequest {
            prefix,
            seqno,
            hop_count,
            router_id,
        };
        match to {
            Some(key) => self.push_unicast(now, key, out),
            None => {
                for i in 0..self.ifaces.len() {
                    self.push_multicast(
                        now,
                        IfaceId(u16::try_from(i).unwrap_or(u16::MAX)),
                        out.clone(),
                    );
                }
            }
        }
    }

    /// Schedules an update for `prefix` on `iface`: urgent ones (retractions, new sources or
    /// seqnos, answers to requests) within the update jitter, others within half a Hello
    /// interval, as babeld buffers them, so that they share packets.
    pub(super) fn queue_update(
        &mut self,
        now: Instant,
        iface: IfaceId,
        prefix: Prefix,
        urgent: bool,
    ) {
        let window = match self.ifaces.get(usize::from(iface.0)) {
            Some(i) if !urgent => i.cfg.hello_interval / 2,
            _ => self.cfg.update_jitter,
        };
        let delay = self.jitter_up_to(window);
        if let Some(i) = self.ifaces.get_mut(usize::from(iface.0)) {
            i.updates.insert(prefix);
            let at = now + delay;
            i.flush_at = Some(i.flush_at.map_or(at, |f| f.min(at)));
        }
    }

    fn queue_update_all(&mut self, now: Instant, prefix: Prefix, urgent: bool) {
        for i in 0..self.ifaces.len() {
            self.queue_update(
                now,
                IfaceId(u16::try_from(i).unwrap_or(u16::MAX)),
                prefix,
                urgent,
            );
        }
    }

    pub(super) fn request_dump(&mut self, now: Instant, iface: IfaceId) {
        let delay = self.jitter_up_to(self.cfg.update_jitter);
        let Some(i) = self.ifaces.get_mut(usize::from(iface.0)) else {
            return;
        };
        let at = match i.last_dump {
            Some(last) if now < last + MIN_DUMP_GAP => last + MIN_DUMP_GAP,
            _ => now + delay,
        };
        i.dump = true;
        i.flush_at = Some(i.flush_at.map_or(at, |f| f.min(at)));
    }
}

/// Whether a change of the selected route deserves a triggered update (after babeld's rules):
/// a new source or seqno, or a route getting much worse, urgently; a clear improvement or
/// deterioration soon; a route getting a little better (perhaps a transient, and announcing
/// it would make routes unfeasible later) or changing trivially, not at all: the next
/// periodic update carries it.
/// `Some(urgent)` to announce.
fn worth_announcing(new_source_or_seqno: bool, old: u16, new: u16) -> Option<bool> {
    let diff = old.abs_diff(new);
    if new_source_or_seqno || (new > old && old < 6 * 256 && diff >= 512) {
        return Some(true);
    }
    let threshold = if new < old {
        IMPROVEMENT_WORTH_ANNOUNCING
    } else {
        384
    };
    (diff >= threshold).then_some(false)
}

/// One wired hop: smaller improvements (ETX noise on radio links) wait for the periodic
/// update. babeld waits for 1024, which on wired links defers every improvement to the
/// periodic updates; with this, a wired network converges to shortest paths within seconds.
const IMPROVEMENT_WORTH_ANNOUNCING: u16 = 96;
