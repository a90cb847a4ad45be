//! Hellos and IHUs, periodic dumps, missed Hellos and probes, expiry.

use super::*;

impl Router {
    pub(super) fn iface_timers(&mut self, now: Instant, id: IfaceId) {
        // Hellos drift by up to an eighth of the interval either way, so neighbours started
        // together do not stay in lockstep; the receiver's slack is half an interval.
        let hello_interval = self
            .ifaces
            .get(usize::from(id.0))
            .map_or(Duration::ZERO, |i| i.cfg.hello_interval);
        let drift = self.jitter_up_to(hello_interval / 4);
        let Some(i) = self.ifaces.get_mut(usize::from(id.0)) else {
            return;
        };
        if now >= i.next_hello {
            i.hello_seqno = i.hello_seqno.wrapping_add(1);
            i.hellos_sent = i.hellos_sent.wrapping_add(1);
            let hello = centis(i.cfg.hello_interval).unwrap_or(u16::MAX);
            i.multicast.push(Out::Hello {
                seqno: i.hello_seqno,
                interval: hello,
            });
            if i.hellos_sent <= 3 {
                // A full dump follows in the same packet: the retraction withdrew our own
                // prefix too.
                i.multicast.push(Out::RetractAll);
                i.dump = true;
            }
            i.next_hello = now + (i.cfg.hello_interval - i.cfg.hello_interval / 8 + drift);
            i.flush_at = Some(now);
            let full = i.hellos_sent % 3 == 1;
            let ihu_interval = hello.saturating_mul(3);
            let ihus: Vec<Out> = self
                .neighbours
                .range((id, Ipv6Addr::UNSPECIFIED)..=(id, Ipv6Addr::from(u128::MAX)))
                .filter(|(_, n)| full || n.txcost >= 384 || n.history.reach & 0xf000 != 0xf000)
                .map(|(&(_, address), n)| Out::Ihu {
                    rxcost: rxcost(&n.history, i.cfg.kind, i.cfg.rxcost),
                    interval: ihu_interval,
                    address,
                })
                .collect();
            i.multicast.extend(ihus);
        }
        if now >= i.next_update {
            i.next_update = now + i.cfg.update_interval;
            i.dump = true;
            i.flush_at = Some(now);
        }
    }

    pub(super) fn neighbour_timers(&mut self, now: Instant) {
        let keys: Vec<NeighKey> = self.neighbours.keys().copied().collect();
        for key in keys {
            let fast = self
                .ifaces
                .get(usize::from(key.0.0))
                .is_some_and(|i| i.cfg.fast_failure_detection);
            let Some(n) = self.neighbours.get_mut(&key) else {
                continue;
            };
            let before = n.cost;
            let missed = n.history.check(now);
            if n.ihu_deadline().is_some_and(|d| now >= d) {
                n.txcost = INFINITY;
            }
            let mut probe = None;
            if missed
                && fast
                && n.probe.is_none()
                && !n.unreachable
                && n.history.reach & 0x8000 == 0
            {
                let nonce = u16::try_from(self.jitter.next_u32() >> 16).unwrap_or(0);
                n.probe = Some(Probe {
                    nonce,
                    sent: 1,
                    next: now + PROBE_INTERVAL,
                });
                probe = Some(nonce);
            } else if let Some(p) = n.probe.as_mut().filter(|p| now >= p.next) {
                if p.sent >= PROBE_TRIES {
                    n.probe = None;
                    n.unreachable = true;
                } else {
                    p.sent += 1;
                    p.next = now + PROBE_INTERVAL;
                    probe = Some(p.nonce);
                }
            }
            // A neighbour that never got a Hello through (it is being challenged, say) is
            // kept as long as a challenge may take; one whose Hellos all stopped goes now.
            let silent = match n.history.seqno {
                Some(_) => n.history.reach == 0,
                None => now >= n.history.time + CHALLENGE_TIMEOUT,
            };
            if silent {
                self.neighbours.remove(&key);
                self.queues.remove(&key);
                self.retract_all(now, key);
                continue;
            }
            if let Some(nonce) = probe {
                let interval = centis(PROBE_INTERVAL).unwrap_or(25);
                self.push_unicast(now, key, Out::AckReq { nonce, interval });
            }
            let after = self.refresh_cost(key);
            if after != before {
                self.cost_changed(now, key, before, after);
            }
        }
    }

    pub(super) fn expire(&mut self, now: Instant) {
        let mut touched = Vec::new();
        for (p, e) in &mut self.table {
            let before = e.routes.len();
            e.routes.retain(|_, r| r.expires > now);
            if e.routes.len() != before {
                touched.push(*p);
            }
        }
        for p in touched {
            self.select(now, p);
        }
        self.sources.retain(|_, s| s.expires > now);
        let mut resend = Vec::new();
        self.requests.retain(|k, p| {
            if now >= p.resend_at && p.resends > 0 {
                p.resends -= 1;
                p.resend_at = now + REQUEST_RESEND;
                p.expires = p.expires.max(now + REQUEST_RESEND * 2);
                resend.push((*k, *p));
            }
            p.expires > now
        });
        // Requests are resent hop by hop until answered: on lossy links a multi-hop request
        // would otherwise rarely arrive.
        for ((prefix, router_id), p) in resend {
            let satisfied = self
                .route(&prefix)
                .is_some_and(|r| r.router_id == router_id && !seqno_newer(p.seqno, r.seqno));
            if satisfied {
                continue;
            }
            let out = Out::SeqnoRequest {
                prefix,
                seqno: p.seqno,
                hop_count: p.hop_count,
                router_id,
            };
            match p.to {
                Some(key) if self.neighbours.contains_key(&key) => self.push_unicast(now, key, out),
                Some(_) => {}
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
    }
}
