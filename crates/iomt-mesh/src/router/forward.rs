//! Application datagrams: delivery, unicast forwarding, flooding, queues and pacing.

use super::*;

impl Router {
    pub(super) fn handle_datagram(
        &mut self,
        now: Instant,
        iface: IfaceId,
        data: &[u8],
    ) -> Result<(), InputError> {
        if self.ifaces.get(usize::from(iface.0)).is_none() {
            return Err(InputError::UnknownInterface(iface));
        }
        let (header, payload) = Header::parse(data)?;
        match header.target {
            Target::Flood => {
                if header.source == self.cfg.router_id {
                    return Ok(());
                }
                let key = (header.source, header.message_id);
                let (ttl, cap) = (self.cfg.duplicate_ttl, self.cfg.limits.duplicate_cache);
                if !self.duplicates.first_sighting(key, now, ttl, cap) {
                    self.stats.duplicates += 1;
                    return Ok(());
                }
                self.deliver(header, payload);
                if header.hop_limit <= 1 || header.lifetime.is_zero() {
                    return Ok(());
                }
                let mut bytes = data.to_vec();
                Header::restamp(&mut bytes, header.hop_limit - 1, header.lifetime);
                let delay = self.jitter_up_to(self.cfg.flood_jitter);
                self.flood_seq += 1;
                self.floods.insert(
                    (now + delay, self.flood_seq),
                    PendingFlood {
                        key,
                        bytes,
                        precedence: header.precedence,
                        deadline: now + header.lifetime,
                    },
                );
            }
            Target::Unicast(dest) if dest == self.cfg.router_id => self.deliver(header, payload),
            Target::Unicast(dest) => {
                if header.hop_limit <= 1 {
                    self.stats.hop_limit_exceeded += 1;
                    return Ok(());
                }
                if header.lifetime.is_zero() {
                    self.stats.expired += 1;
                    return Ok(());
                }
                let Some(hop) = self.next_hop(dest) else {
                    self.stats.no_route += 1;
                    return Ok(());
                };
                let mut bytes = data.to_vec();
                Header::restamp(&mut bytes, header.hop_limit - 1, header.lifetime);
                self.enqueue(hop, bytes, header.precedence, now + header.lifetime);
            }
        }
        Ok(())
    }

    pub(super) fn deliver(&mut self, header: Header, payload: &[u8]) {
        self.stats.delivered += 1;
        self.events.push_back(Event::Delivered(Delivery {
            source: header.source,
            target: header.target,
            precedence: header.precedence,
            message_id: header.message_id,
            hop_limit: header.hop_limit,
            lifetime: header.lifetime,
            payload: payload.to_vec(),
        }));
    }

    pub(super) fn check_size(&self, iface: IfaceId, len: usize) -> Result<(), SendError> {
        let max = self
            .ifaces
            .get(usize::from(iface.0))
            .map_or(0, |i| i.cfg.max_packet);
        if len > max {
            return Err(SendError::TooLarge { len, max });
        }
        Ok(())
    }

    pub(super) fn enqueue(
        &mut self,
        hop: NeighKey,
        bytes: Vec<u8>,
        precedence: Precedence,
        deadline: Instant,
    ) -> Admit {
        let cap = self.cfg.limits.queue_per_next_hop;
        let admit = self.queues.entry(hop).or_default().push(
            Queued {
                bytes,
                precedence,
                deadline,
            },
            cap,
        );
        match &admit {
            Admit::Queued => {}
            Admit::Shed(_) => self.stats.shed += 1,
            Admit::Refused(_) => self.stats.refused += 1,
        }
        admit
    }

    pub(super) fn flood_timers(&mut self, now: Instant) {
        while let Some(entry) = self.floods.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let f = entry.remove();
            if self.duplicates.heard(&f.key) >= self.cfg.flood_redundancy {
                self.stats.flood_suppressed += 1;
                continue;
            }
            for i in 0..self.ifaces.len() {
                let id = IfaceId(u16::try_from(i).unwrap_or(u16::MAX));
                self.enqueue(
                    (id, DATA_MULTICAST),
                    f.bytes.clone(),
                    f.precedence,
                    f.deadline,
                );
            }
        }
    }

    fn refill(&mut self, now: Instant) {
        for i in &mut self.ifaces {
            let Some(rate) = i.cfg.data_rate else {
                continue;
            };
            let elapsed = u64::try_from(now.saturating_duration_since(i.refilled).as_nanos())
                .unwrap_or(u64::MAX);
            let add = u128::from(rate) * u128::from(elapsed) / 1_000_000_000;
            let burst = u64::try_from(i.cfg.max_packet)
                .unwrap_or(u64::MAX)
                .saturating_mul(2);
            i.tokens = u64::try_from(u128::from(i.tokens) + add)
                .unwrap_or(u64::MAX)
                .min(burst);
            if add > 0 || i.tokens >= burst {
                i.refilled = now;
            }
        }
    }

    fn sendable(&self, iface: IfaceId, len: usize) -> bool {
        self.ifaces.get(usize::from(iface.0)).is_some_and(|i| {
            i.cfg.data_rate.is_none() || i.tokens >= u64::try_from(len).unwrap_or(u64::MAX)
        })
    }

    pub(super) fn poll_datagram(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<Transmit> {
        self.refill(now);
        loop {
            let choice = self
                .queues
                .iter()
                .filter(|(_, q)| !q.is_empty())
                .filter(|((iface, _), q)| {
                    let head = q.head_len().unwrap_or(0);
                    self.sendable(*iface, head)
                })
                .max_by_key(|(k, q)| (q.head_precedence(), core::cmp::Reverse(**k)))
                .map(|(k, _)| *k)?;
            let q = self.queues.get_mut(&choice)?;
            let Some(item) = q.pop(now, &mut self.stats.expired) else {
                continue;
            };
            if q.is_empty() {
                self.queues.remove(&choice);
            }
            let remaining = item.deadline.saturating_duration_since(now);
            let mut bytes = item.bytes;
            let hop = bytes.get(1).copied().unwrap_or(0);
            Header::restamp(&mut bytes, hop, remaining);
            if let Some(i) = self.ifaces.get_mut(usize::from(choice.0.0))
                && i.cfg.data_rate.is_some()
            {
                i.tokens = i
                    .tokens
                    .saturating_sub(u64::try_from(bytes.len()).unwrap_or(u64::MAX));
            }
            self.stats.forwarded += 1;
            buf.extend_from_slice(&bytes);
            return Some(Transmit {
                iface: choice.0,
                channel: Channel::Data,
                destination: choice.1,
            });
        }
    }

    pub(super) fn pacing_deadline(&self) -> Option<Instant> {
        self.queues
            .iter()
            .filter(|(_, q)| !q.is_empty())
            .filter_map(|((iface, _), q)| {
                let i = self.ifaces.get(usize::from(iface.0))?;
                let rate = i.cfg.data_rate?.max(1);
                let need = u64::try_from(q.head_len()?).ok()?.saturating_sub(i.tokens);
                let nanos = u128::from(need) * 1_000_000_000 / u128::from(rate) + 1;
                Some(i.refilled + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX)))
            })
            .min()
    }
}
