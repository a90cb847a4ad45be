//! TLVs to packets: per-packet compression state, the PC and MACs, triggered updates.

use super::*;
use crate::wire::{Ae, Tlv};

impl Router {
    /// Queues a TLV for the interface's next multicast packet. Requests wait up to the
    /// update jitter so that several share a packet with the triggered updates they cause.
    pub(super) fn push_multicast(&mut self, now: Instant, iface: IfaceId, out: Out) {
        let at = now + self.jitter_up_to(self.cfg.update_jitter);
        if let Some(i) = self.ifaces.get_mut(usize::from(iface.0)) {
            i.multicast.push(out);
            i.flush_at = Some(i.flush_at.map_or(at, |f| f.min(at)));
        }
    }

    /// Queues a TLV for a neighbour. Acks and challenge replies go at once (the sender is
    /// waiting); requests wait like multicast ones.
    pub(super) fn push_unicast(&mut self, now: Instant, key: NeighKey, out: Out) {
        let at = match out {
            Out::SeqnoRequest { .. } => now + self.jitter_up_to(self.cfg.update_jitter),
            _ => now,
        };
        if let Some(i) = self.ifaces.get_mut(usize::from(key.0.0)) {
            i.unicast.entry(key.1).or_default().push(out);
            i.flush_at = Some(i.flush_at.map_or(at, |f| f.min(at)));
        }
    }

    /// Turns an interface's pending TLVs into packets.
    pub(super) fn flush(&mut self, now: Instant, id: IfaceId) {
        let Some(i) = self.ifaces.get_mut(usize::from(id.0)) else {
            return;
        };
        i.flush_at = None;
        let mut multicast = core::mem::take(&mut i.multicast);
        let unicast = core::mem::take(&mut i.unicast);
        let mut prefixes = core::mem::take(&mut i.updates);
        if core::mem::take(&mut i.dump) {
            i.last_dump = Some(now);
            prefixes.insert(self.own);
            prefixes.extend(
                self.table
                    .iter()
                    .filter(|(_, e)| e.selected.is_some())
                    .map(|(p, _)| *p),
            );
        }
        // Hellos and IHUs first, so a receiver learns the link before the routes over it.
        multicast.sort_by_key(|o| match o {
            Out::Hello { .. } => 0,
            Out::Ihu { .. } => 1,
            _ => 2,
        });
        multicast.extend(prefixes.into_iter().map(Out::Update));
        if !multicast.is_empty() {
            self.emit(now, id, BABEL_MULTICAST, multicast);
        }
        for (addr, outs) in unicast {
            self.emit(now, id, addr, outs);
        }
    }

    /// Encodes `outs` into as many packets as needed and queues them.
    fn emit(&mut self, now: Instant, id: IfaceId, dst: Ipv6Addr, outs: Vec<Out>) {
        let Some(i) = self.ifaces.get(usize::from(id.0)) else {
            return;
        };
        let keys = self.signing_keys(id, dst).len();
        // Header, PC TLV (14 bytes) and one 34-byte MAC TLV per key.
        let overhead = 4 + if keys > 0 { 14 + keys * 34 } else { 0 };
        let limit = i.cfg.max_packet.saturating_sub(overhead);
        let mut tlvs: Vec<Vec<u8>> = Vec::new();
        let mut st = TxState::default();
        let mut packets: Vec<Vec<Vec<u8>>> = Vec::new();
        let mut size = 0;
        for out in &outs {
            let mut encoded = self.encode_out(now, id, out, &mut st);
            let len: usize = encoded.iter().map(Vec::len).sum();
            if len == 0 {
                continue;
            }
            if size + len > limit && !tlvs.is_empty() {
                packets.push(core::mem::take(&mut tlvs));
                size = 0;
                st = TxState::default();
                encoded = self.encode_out(now, id, out, &mut st);
            }
            size += encoded.iter().map(Vec::len).sum::<usize>();
            tlvs.extend(encoded);
        }
        if !tlvs.is_empty() {
            packets.push(tlvs);
        }
        for body in packets {
            self.seal(id, dst, body);
        }
    }

    /// The keys a packet from the neighbour `key` on `ifc` must carry a MAC under (routing or
    /// data alike): the neighbour's own keys when set, else the interface's.
    pub(super) fn verifying_keys<'a>(&'a self, ifc: &'a Iface, key: NeighKey) -> &'a [MacKey] {
        self.neighbour_keys
            .get(&key)
            .map_or(ifc.keys.as_slice(), Vec::as_slice)
    }

    /// The keys a packet from us to `dst` on `id` is signed with: a neighbour's own keys for
    /// unicast to it, else the interface's; multicast adds every keyed neighbour's.
    pub(super) fn signing_keys(&self, id: IfaceId, dst: Ipv6Addr) -> Vec<&MacKey> {
        let Some(i) = self.ifaces.get(usize::from(id.0)) else {
            return Vec::new();
        };
        if !dst.is_multicast() {
            return self
                .neighbour_keys
                .get(&(id, dst))
                .unwrap_or(&i.keys)
                .iter()
                .collect();
        }
        let mut keys: Vec<&MacKey> = i.keys.iter().collect();
        keys.extend(
            self.neighbour_keys
                .range((id, Ipv6Addr::UNSPECIFIED)..=(id, Ipv6Addr::from(u128::MAX)))
                .flat_map(|(_, k)| k.iter()),
        );
        keys
    }

    /// The interface's next packet counter and its index, shared by Babel and data packets.
    /// A fresh index (and counter 0) is drawn first if there is none yet or the counter has
    /// run out, so a counter never wraps under one index. `None` if the generator failed.
    pub(super) fn next_counter(&mut self, id: IfaceId) -> Option<(u32, [u8; INDEX_LEN])> {
        let i = self.ifaces.get_mut(usize::from(id.0))?;
        let index = match i.index {
            Some(index) if i.pc != u32::MAX => index,
            _ => {
                let mut index = [0u8; INDEX_LEN];
                self.rng.fill(&mut index).ok()?;
                i.index = Some(index);
                i.pc = 0;
                index
            }
        };
        let pc = i.pc;
        i.pc += 1;
        Some((pc, index))
    }

    /// Adds the header, PC and MACs, and queues the packet.
    fn seal(&mut self, id: IfaceId, dst: Ipv6Addr, body: Vec<Vec<u8>>) {
        let mut bytes = vec![crate::wire::MAGIC, crate::wire::VERSION, 0, 0];
        if !self.signing_keys(id, dst).is_empty() {
            let Some((pc, index)) = self.next_counter(id) else {
                return;
            };
            if (Tlv::Pc { pc, index: &index }).encode(&mut bytes).is_err() {
                return;
            }
        }
        body.iter().for_each(|t| bytes.extend_from_slice(t));
        let Ok(len) = u16::try_from(bytes.len() - 4) else {
            return;
        };
        if let Some(l) = bytes.get_mut(2..4) {
            l.copy_from_slice(&len.to_be_bytes());
        }
        let Some(i) = self.ifaces.get(usize::from(id.0)) else {
            return;
        };
        let src = i.cfg.link_local;
        let macs: Vec<[u8; 32]> = (self.signing_keys(id, dst).iter())
            .map(|k| k.sign(src, dst, &bytes))
            .collect();
        for mac in &macs {
            if Tlv::Mac(mac).encode(&mut bytes).is_err() {
                return;
            }
        }
        self.outgoing.push_back((id, dst, bytes));
    }

    fn encode_out(
        &mut self,
        now: Instant,
        id: IfaceId,
        out: &Out,
        st: &mut TxState,
    ) -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        let mut put = |t: Tlv<'_>| {
            let mut b = Vec::new();
            if t.encode(&mut b).is_ok() {
                v.push(b);
            }
        };
        match out {
            Out::Hello { seqno, interval } => put(Tlv::Hello {
                flags: 0,
                seqno: *seqno,
                interval: *interval,
                sub: Default::default(),
            }),
            Out::Ihu {
                rxcost,
                interval,
                address,
            } => {
                let octets = address.octets();
                let (ae, addr) = if is_link_local(*address)
                    && octets.get(..8) == Some(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0][..])
                {
                    (Ae::LinkLocal, octets.get(8..).unwrap_or_default())
                } else {
                    (Ae::Ipv6, &octets[..])
                };
                put(Tlv::Ihu {
                    ae,
                    reserved: 0,
                    rxcost: *rxcost,
                    interval: *interval,
                    address: addr,
                    sub: Default::default(),
                });
            }
            Out::RetractAll => put(Tlv::Update {
                ae: Ae::Wildcard,
                flags: 0,
                plen: 0,
                omitted: 0,
                interval: centis(
                    self.ifaces
                        .get(usize::from(id.0))
                        .map_or(Duration::ZERO, |i| i.cfg.update_interval),
                )
                .unwrap_or(u16::MAX),
                seqno: self.seqno,
                metric: INFINITY,
                prefix: &[],
                sub: Default::default(),
            }),
            Out::RouteRequest(None) => put(Tlv::RouteRequest {
                ae: Ae::Wildcard,
                plen: 0,
                prefix: &[],
                sub: Default::default(),
            }),
            Out::RouteRequest(Some(p)) => {
                let (ae, plen, bytes) = wire_prefix(p);
                put(Tlv::RouteRequest {
                    ae,
                    plen,
                    prefix: bytes
                        .get(..usize::from(plen.div_ceil(8)))
                        .unwrap_or_default(),
                    sub: Default::default(),
                });
            }
            Out::SeqnoRequest {
                prefix,
                seqno,
                hop_count,
                router_id,
            } => {
                let (ae, plen, bytes) = wire_prefix(prefix);
                put(Tlv::SeqnoRequest {
                    ae,
                    plen,
                    seqno: *seqno,
                    hop_count: *hop_count,
                    reserved: 0,
                    router_id: *router_id,
                    prefix: bytes
                        .get(..usize::from(plen.div_ceil(8)))
                        .unwrap_or_default(),
                    sub: Default::default(),
                });
            }
            Out::AckReq { nonce, interval } => put(Tlv::AckReq {
                reserved: 0,
                nonce: *nonce,
                interval: *interval,
                sub: Default::default(),
            }),
            Out::Ack { nonce } => put(Tlv::Ack {
                nonce: *nonce,
                sub: Default::default(),
            }),
            Out::ChallengeRequest(n) => put(Tlv::ChallengeRequest(n)),
            Out::ChallengeReply(n) => put(Tlv::ChallengeReply(n)),
            Out::Update(p) => return self.encode_update(now, id, *p, st),
        }
        v
    }

    /// The Update (and Router-Id) TLVs announcing `prefix` on `id`, with prefix compression
    /// and the router-id-from-prefix flag as babeld uses them; records the feasibility
    /// distance of what is announced.
    fn encode_update(
        &mut self,
        now: Instant,
        id: IfaceId,
        prefix: Prefix,
        st: &mut TxState,
    ) -> Vec<Vec<u8>> {
        let Some(i) = self.ifaces.get(usize::from(id.0)) else {
            return Vec::new();
        };
        let interval = centis(i.cfg.update_interval).unwrap_or(u16::MAX);
        let split = i.cfg.split_horizon && i.cfg.kind == LinkKind::Wired;
        let (router_id, seqno, metric) = match self.route(&prefix) {
            Some(r) if split && r.next_hop.is_some_and(|(via, _)| via == id) => return Vec::new(),
            Some(r) => (r.router_id, r.seqno, r.metric),
            None => (self.cfg.router_id, 0, INFINITY),
        };
        if metric != INFINITY {
            let fresh = !self.sources.contains_key(&(prefix, router_id));
            if fresh && self.sources.len() >= self.cfg.limits.sources {
                return Vec::new();
            }
            let s = self.sources.entry((prefix, router_id)).or_insert(Source {
                seqno,
                metric,
                expires: now,
            });
            if seqno_newer(seqno, s.seqno) {
                s.seqno = seqno;
                s.metric = metric;
            } else if seqno == s.seqno {
                s.metric = s.metric.min(metric);
            }
            s.expires = now + SOURCE_GC;
        } else if let Some(e) = self.table.get_mut(&prefix) {
            e.announced = None;
        }
        let mut v = Vec::new();
        let (ae, plen, bytes) = wire_prefix(&prefix);
        let mut flags = 0u8;
        let mut omitted = 0usize;
        if ae == Ae::Ipv6 {
            if let Some(d) = st.default_v6 {
                let full = usize::from(plen / 8);
                omitted = d
                    .iter()
                    .zip(bytes.iter())
                    .take(full)
                    .take_while(|(a, b)| a == b)
                    .count();
            }
            flags |= 0x80;
            st.default_v6 = Some(bytes);
        }
        if metric != INFINITY && st.router_id != Some(router_id) {
            if plen == 128 && ae == Ae::Ipv6 && bytes.get(8..) == Some(router_id.as_bytes()) {
                flags |= 0x40;
            } else {
                let mut b = Vec::new();
                let rid = Tlv::RouterId {
                    reserved: 0,
                    router_id,
                    sub: Default::default(),
                };
                if rid.encode(&mut b).is_ok() {
                    v.push(b);
                }
            }
            st.router_id = Some(router_id);
        }
        let end = usize::from(plen.div_ceil(8));
        let mut b = Vec::new();
        let update = Tlv::Update {
            ae,
            flags,
            plen,
            omitted: u8::try_from(omitted).unwrap_or(0),
            interval,
            seqno,
            metric,
            prefix: bytes.get(omitted.min(end)..end).unwrap_or_default(),
            sub: Default::default(),
        };
        if update.encode(&mut b).is_ok() {
            v.push(b);
        }
        v
    }
}

/// Per-packet encoding state, mirroring the receiver's.
#[derive(Default)]
struct TxState {
    default_v6: Option<[u8; 16]>,
    router_id: Option<ShortId>,
}

/// The encoding, wire length and address bytes of a prefix (IPv4 as v4-via-v6: we have no
/// IPv4 next hop to announce).
fn wire_prefix(p: &Prefix) -> (Ae, u8, [u8; 16]) {
    let o = p.addr().octets();
    if p.is_v4() {
        let mut a = [0u8; 16];
        if let (Some(dst), Some(src)) = (a.get_mut(..4), o.get(12..)) {
            dst.copy_from_slice(src);
        }
        (Ae::V4ViaV6, p.plen() - 96, a)
    } else {
        (Ae::Ipv6, p.plen(), o)
    }
}
