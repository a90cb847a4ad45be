//! Application datagrams: authentication, delivery, unicast forwarding, flooding, queues and
//! pacing.

use super::*;

impl Router {
    pub(super) fn handle_datagram(
        &mut self,
        now: Instant,
        iface: IfaceId,
        from: Ipv6Addr,
        to: Ipv6Addr,
        data: &[u8],
    ) -> Result<(), InputError> {
        let Some(ifc) = self.ifaces.get(usize::from(iface.0)) else {
            return Err(InputError::UnknownInterface(iface));
        };
        let packet = DataPacket::parse(data)?;
        let key = (iface, from);
        let keys = self.verifying_keys(ifc, key);
        if !keys.is_empty() {
            let Some(auth) = packet.auth else {
                return Err(InputError::MissingMac);
            };
            if auth.macs().next().is_none() {
                return Err(InputError::MissingMac);
            }
            if !verify_any(keys, from, to, auth.authenticated, auth.macs()) {
                return Err(InputError::BadMac);
            }
            // Only now, authenticated, may the datagram move the replay state. Neighbours,
            // indices and challenges belong to the routing channel: a datagram from a sender
            // that is not a neighbour with a verified index is dropped, and changes nothing.
            let Some(n) = self.neighbours.get_mut(&key) else {
                return Err(InputError::Unverified);
            };
            match n.replay.check_data(auth.pc, auth.index, to.is_multicast()) {
                Freshness::Fresh => {}
                Freshness::Replayed => return Err(InputError::Replay),
                Freshness::Unverified => return Err(InputError::Unverified),
            }
        }
        self.forward(now, packet.header, packet.payload, packet.datagram);
        Ok(())
    }

    /// Delivers, floods or forwards a datagram that passed authentication.
    fn forward(&mut self, now: Instant, header: Header, payload: &[u8], datagram: &[u8]) {
        match header.target {
            Target::Flood => {
                if header.source == self.cfg.router_id {
                    return;
                }
                let key = FloodKey::of(&header, payload);
                let (ttl, cap) = (self.cfg.duplicate_ttl, self.cfg.limits.duplicate_cache);
                if !self.duplicates.first_sighting(key, now, ttl, cap) {
                    self.stats.duplicates += 1;
                    return;
                }
                self.deliver(header, payload);
                if header.hop_limit <= 1 || header.lifetime.is_zero() {
                    return;
                }
                let mut bytes = datagram.to_vec();
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
                    return;
                }
                if header.lifetime.is_zero() {
                    self.stats.expired += 1;
                    return;
                }
                let Some(hop) = self.next_hop(dest) else {
                    self.stats.no_route += 1;
                    return;
                };
                let mut bytes = datagram.to_vec();
                Header::restamp(&mut bytes, header.hop_limit - 1, header.lifetime);
                self.enqueue(hop, bytes, header.precedence, now + header.lifetime);
            }
        }
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

    /// Whether a datagram of `len` bytes fits in a packet to `hop`, with the authenticated
    /// data packet around it on a keyed interface.
    pub(super) fn check_size(&self, hop: NeighKey, len: usize) -> Result<(), SendError> {
        let max = self
            .ifaces
            .get(usize::from(hop.0.0))
            .map_or(0, |i| i.cfg.max_packet);
        let len = len + self.wrapping(hop);
        if len > max {
            return Err(SendError::TooLarge { len, max });
        }
        Ok(())
    }

    /// Bytes the authenticated data packet adds around a datagram sent to `hop` (none without
    /// keys).
    fn wrapping(&self, (iface, dst): NeighKey) -> usize {
        match self.signing_keys(iface, dst).len() {
            0 => 0,
            macs => crate::datagram::data_overhead(macs),
        }
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

    /// Whether the head of the queue to `hop`, `len` bytes before wrapping, is within the
    /// interface's pacing budget.
    fn sendable(&self, hop: NeighKey, len: usize) -> bool {
        self.ifaces.get(usize::from(hop.0.0)).is_some_and(|i| {
            i.cfg.data_rate.is_none()
                || i.tokens >= u64::try_from(len + self.wrapping(hop)).unwrap_or(u64::MAX)
        })
    }

    pub(super) fn poll_datagram(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<Transmit> {
        self.refill(now);
        loop {
            let choice = self
                .queues
                .iter()
                .filter(|(_, q)| !q.is_empty())
                .filter(|(hop, q)| self.sendable(**hop, q.head_len().unwrap_or(0)))
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
            if !self.wrap(choice, &bytes, buf) {
                // No index could be drawn: the datagram cannot be authenticated, so it is
                // dropped rather than sent bare.
                continue;
            }
            if let Some(i) = self.ifaces.get_mut(usize::from(choice.0.0))
                && i.cfg.data_rate.is_some()
            {
                i.tokens = i
                    .tokens
                    .saturating_sub(u64::try_from(buf.len()).unwrap_or(u64::MAX));
            }
            self.stats.forwarded += 1;
            return Some(Transmit {
                iface: choice.0,
                destination: choice.1,
                kind: Channel::Data,
                len: buf.len(),
            });
        }
    }

    /// Writes the packet that carries `datagram` to `hop` into `buf`: the bare datagram
    /// without keys, else an authenticated data packet under the interface's next packet
    /// counter. False if the counter's index could not be drawn.
    fn wrap(&mut self, hop: NeighKey, datagram: &[u8], buf: &mut Vec<u8>) -> bool {
        let (iface, dst) = hop;
        if self.signing_keys(iface, dst).is_empty() {
            buf.extend_from_slice(datagram);
            return true;
        }
        let Some(src) = self
            .ifaces
            .get(usize::from(iface.0))
            .map(|i| i.cfg.link_local)
        else {
            return false;
        };
        let Some((pc, index)) = self.next_counter(iface) else {
            return false;
        };
        let keys = self.signing_keys(iface, dst);
        crate::datagram::write_authenticated(buf, datagram, (pc, &index), keys, src, dst).is_ok()
    }

    pub(super) fn pacing_deadline(&self) -> Option<Instant> {
        self.queues
            .iter()
            .filter(|(_, q)| !q.is_empty())
            .filter_map(|(hop, q)| {
                let i = self.ifaces.get(usize::from(hop.0.0))?;
                let rate = i.cfg.data_rate?.max(1);
                let len = q.head_len()? + self.wrapping(*hop);
                let need = u64::try_from(len).ok()?.saturating_sub(i.tokens);
                let nanos = u128::from(need) * 1_000_000_000 / u128::from(rate) + 1;
                Some(i.refilled + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX)))
            })
            .min()
    }
}
