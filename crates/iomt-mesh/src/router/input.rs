//! Babel packets in: MAC and replay checks, then every TLV in order.

use super::*;
use crate::wire::{Ae, Packet, Tlv};

impl Router {
    pub(super) fn handle_babel(
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
        // On loopback every router is `::1`, which is not link-local: an interface that is
        // itself `::1` takes it, so two routers can peer on one machine; no other interface does.
        let loopback = from.is_loopback() && ifc.cfg.link_local.is_loopback();
        if !is_link_local(from) && !loopback {
            return Err(InputError::NotLinkLocal(from));
        }
        let packet = Packet::parse(data)?;
        let key = (iface, from);
        let keys = self.verifying_keys(ifc, key);
        if !keys.is_empty() {
            let macs = packet.trailer.iter().filter_map(|t| match t {
                Tlv::Mac(m) => Some(*m),
                _ => None,
            });
            if macs.clone().next().is_none() {
                return Err(InputError::MissingMac);
            }
            if !verify_any(keys, from, to, packet.authenticated, macs) {
                return Err(InputError::BadMac);
            }
            // Replay state lives in the neighbour entry: a sender without one cannot be
            // checked, so only a packet that makes one can go on (to its challenge).
            if !self.neighbour_entry(now, key, &packet)? {
                return Err(InputError::Unverified);
            }
            self.check_freshness(now, key, to, &packet)?;
        } else {
            self.neighbour_entry(now, key, &packet)?;
        }
        self.process(now, key, &packet);
        Ok(())
    }

    /// Finds or makes the sender's neighbour entry; true if there is one. Only a packet with
    /// something to answer about the link makes one: a Hello (we owe IHUs), an IHU (the sender
    /// hears us) or a challenge request (the reply is rate-limited per neighbour). Anything
    /// else from an unknown sender is taken without creating state for it (an empty packet,
    /// say, or requests, answered on the interface).
    fn neighbour_entry(
        &mut self,
        now: Instant,
        key: NeighKey,
        packet: &Packet<'_>,
    ) -> Result<bool, InputError> {
        if self.neighbours.contains_key(&key) {
            return Ok(true);
        }
        let introduces = packet.body.iter().any(|t| {
            matches!(
                t,
                Tlv::Hello { .. } | Tlv::Ihu { .. } | Tlv::ChallengeRequest(_)
            )
        });
        if !introduces {
            return Ok(false);
        }
        if self.neighbours.len() >= self.cfg.limits.neighbours {
            return Err(InputError::NeighbourTableFull);
        }
        self.neighbours.insert(key, Neighbour::new(now));
        Ok(true)
    }

    fn check_freshness(
        &mut self,
        now: Instant,
        key: NeighKey,
        to: Ipv6Addr,
        packet: &Packet<'_>,
    ) -> Result<(), InputError> {
        let multicast = to.is_multicast();
        let mut pc = None;
        let mut request = None;
        let mut reply = None;
        for tlv in &packet.body {
            match tlv {
                Tlv::Pc { pc: c, index } if pc.is_none() => pc = Some((*c, *index)),
                Tlv::ChallengeRequest(n) if !multicast && n.len() <= 192 => request = Some(*n),
                Tlv::ChallengeReply(n) => reply = Some(*n),
                _ => {}
            }
        }
        let Some(n) = self.neighbours.get_mut(&key) else {
            return Err(InputError::NeighbourTableFull);
        };
        let verdict = n.replay.check(now, pc, reply, multicast);
        if verdict == Freshness::Replayed {
            return Err(InputError::Replay);
        }
        if let Some(nonce) = request
            && now >= n.replay.next_reply
        {
            n.replay.next_reply = now + CHALLENGE_RATE;
            self.push_unicast(now, key, Out::ChallengeReply(nonce.to_vec()));
        }
        if verdict == Freshness::Unverified {
            self.challenge(now, key);
            return Err(InputError::Unverified);
        }
        Ok(())
    }

    fn challenge(&mut self, now: Instant, key: NeighKey) {
        let Some(n) = self.neighbours.get_mut(&key) else {
            return;
        };
        if now < n.replay.next_request {
            return;
        }
        let mut nonce = [0u8; NONCE_LEN];
        if self.rng.fill(&mut nonce).is_err() {
            return;
        }
        n.replay.next_request = now + CHALLENGE_RATE;
        n.replay.nonce = Some((nonce, now + CHALLENGE_TIMEOUT));
        self.push_unicast(now, key, Out::ChallengeRequest(nonce));
    }

    fn process(&mut self, now: Instant, key: NeighKey, packet: &Packet<'_>) {
        let mut st = RxState::default();
        let before = self.neighbours.get(&key).map_or(INFINITY, |n| n.cost);
        for tlv in &packet.body {
            if tlv.sub_tlvs().has_unknown_mandatory() {
                self.stats.tlvs_ignored += 1;
                continue;
            }
            match *tlv {
                Tlv::AckReq {
                    nonce, interval, ..
                } => {
                    self.push_unicast(now, key, Out::Ack { nonce });
                    let _ = interval;
                }
                Tlv::Ack { nonce, .. } => {
                    if let Some(st) = self.startup.as_mut()
                        && st.acked(now, key, nonce)
                    {
                        continue;
                    }
                    if let Some(n) = self.neighbours.get_mut(&key)
                        && n.probe.is_some_and(|p| p.nonce == nonce)
                    {
                        n.probe = None;
                        n.unreachable = false;
                    }
                }
                Tlv::Hello {
                    flags,
                    seqno,
                    interval,
                    ..
                } => {
                    // Unicast Hellos are ignored for link quality (RFC 8966 section 3.4.1
                    // allows it); babeld sends them only in unicast mode.
                    if flags & 0x8000 == 0
                        && let Some(n) = self.neighbours.get_mut(&key)
                    {
                        n.history.hello(now, seqno, from_centis(interval));
                        n.unreachable = false;
                        n.probe = None;
                    }
                }
                Tlv::Ihu {
                    ae,
                    rxcost,
                    interval,
                    address,
                    ..
                } => self.ihu(now, key, ae, rxcost, interval, address),
                Tlv::RouterId { router_id, .. } => st.router_id = Some(router_id),
                Tlv::Update {
                    ae,
                    flags,
                    plen,
                    omitted,
                    interval,
                    seqno,
                    metric,
                    prefix,
                    ..
                } => {
                    let wire = WireUpdate {
                        ae,
                        flags,
                        plen,
                        omitted,
                        prefix,
                    };
                    match decode_prefix(&mut st, &wire) {
                        Some(Decoded::Route(p)) => {
                            let rid = st.router_id;
                            self.update(now, key, p, rid, seqno, metric, interval);
                        }
                        Some(Decoded::RetractAll) => self.retract_all(now, key),
                        None => self.stats.tlvs_ignored += 1,
                    }
                }
                Tlv::RouteRequest {
                    ae, plen, prefix, ..
                } => match ae {
                    Ae::Wildcard => self.request_dump(now, key.0),
                    _ => match full_prefix(ae, plen, prefix) {
                        Some(p) => self.queue_update(now, key.0, p, true),
                        None => self.stats.tlvs_ignored += 1,
                    },
                },
                Tlv::SeqnoRequest {
                    ae,
                    plen,
                    seqno,
                    hop_count,
                    router_id,
                    prefix,
                    ..
                } => match full_prefix(ae, plen, prefix) {
                    Some(p) => self.seqno_request(now, key, p, seqno, hop_count, router_id),
                    None => self.stats.tlvs_ignored += 1,
                },
                Tlv::Unknown { .. } => self.stats.tlvs_ignored += 1,
                Tlv::Pad1
                | Tlv::PadN(_)
                | Tlv::NextHop { .. }
                | Tlv::Pc { .. }
                | Tlv::ChallengeRequest(_)
                | Tlv::ChallengeReply(_)
                | Tlv::Mac(_) => {}
            }
        }
        let after = self.refresh_cost(key);
        if before != after {
            self.cost_changed(now, key, before, after);
        }
    }

    fn ihu(
        &mut self,
        now: Instant,
        key: NeighKey,
        ae: Ae,
        rxcost: u16,
        interval: u16,
        address: &[u8],
    ) {
        let Some(ifc) = self.ifaces.get(usize::from(key.0.0)) else {
            return;
        };
        let ours = ifc.cfg.link_local.octets();
        let for_us = match ae {
            Ae::Wildcard => true,
            Ae::Ipv6 => address == ours.as_slice(),
            Ae::LinkLocal => {
                ours.get(8..) == Some(address)
                    && ours.get(..8) == Some(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0][..])
            }
            Ae::Ipv4 | Ae::V4ViaV6 => false,
        };
        if !for_us {
            return;
        }
        if let Some(n) = self.neighbours.get_mut(&key) {
            n.txcost = rxcost;
            n.ihu_time = now;
            n.ihu_interval = from_centis(interval);
        }
    }

    pub(super) fn refresh_cost(&mut self, key: NeighKey) -> u16 {
        let Some(ifc) = self.ifaces.get(usize::from(key.0.0)) else {
            return INFINITY;
        };
        let (kind, nominal) = (ifc.cfg.kind, ifc.cfg.rxcost);
        let Some(n) = self.neighbours.get_mut(&key) else {
            return INFINITY;
        };
        n.cost = n.compute_cost(kind, nominal);
        n.cost
    }

    pub(super) fn cost_changed(&mut self, now: Instant, key: NeighKey, before: u16, after: u16) {
        if before == INFINITY && after != INFINITY {
            // A new usable neighbour: tell it everything soon.
            self.request_dump(now, key.0);
        }
        let affected: Vec<Prefix> = self
            .table
            .iter()
            .filter(|(_, e)| e.routes.contains_key(&key))
            .map(|(p, _)| *p)
            .collect();
        for p in affected {
            self.select(now, p);
        }
    }
}

/// Per-packet decoding state (RFC 8966 section 4.5).
#[derive(Default)]
struct RxState {
    default_v4: Option<[u8; 4]>,
    default_v6: Option<[u8; 16]>,
    router_id: Option<ShortId>,
}

struct WireUpdate<'a> {
    ae: Ae,
    flags: u8,
    plen: u8,
    omitted: u8,
    prefix: &'a [u8],
}

enum Decoded {
    Route(Prefix),
    RetractAll,
}

/// Applies the packet's compression state to an Update; `None` if it must be ignored.
fn decode_prefix(st: &mut RxState, u: &WireUpdate<'_>) -> Option<Decoded> {
    let omitted = usize::from(u.omitted);
    let prefix = match u.ae {
        Ae::Wildcard => return (u.plen == 0).then_some(Decoded::RetractAll),
        Ae::Ipv4 | Ae::V4ViaV6 => {
            let mut a = [0u8; 4];
            fill(
                &mut a,
                st.default_v4.as_ref().map(|d| &d[..]),
                omitted,
                u.prefix,
            )?;
            if u.flags & 0x40 != 0 {
                return None;
            }
            if u.flags & 0x80 != 0 {
                st.default_v4 = Some(a);
            }
            Prefix::v4(a.into(), u.plen)?
        }
        Ae::Ipv6 => {
            let mut a = [0u8; 16];
            fill(
                &mut a,
                st.default_v6.as_ref().map(|d| &d[..]),
                omitted,
                u.prefix,
            )?;
            let p = Prefix::new(a.into(), u.plen)?;
            if u.flags & 0x80 != 0 {
                st.default_v6 = Some(p.addr().octets());
            }
            if u.flags & 0x40 != 0 {
                let rid = <[u8; 8]>::try_from(p.addr().octets().get(8..)?).ok()?;
                st.router_id = Some(ShortId::from_bytes(rid));
            }
            p
        }
        Ae::LinkLocal => return None,
    };
    Some(Decoded::Route(prefix))
}

fn fill(out: &mut [u8], default: Option<&[u8]>, omitted: usize, rest: &[u8]) -> Option<()> {
    if omitted > 0 {
        let d = default?.get(..omitted)?;
        out.get_mut(..omitted)?.copy_from_slice(d);
    }
    let end = omitted + rest.len();
    if end > out.len() {
        return None;
    }
    out.get_mut(omitted..end)?.copy_from_slice(rest);
    Some(())
}

fn full_prefix(ae: Ae, plen: u8, bytes: &[u8]) -> Option<Prefix> {
    match ae {
        Ae::Ipv4 | Ae::V4ViaV6 => {
            let mut a = [0u8; 4];
            fill(&mut a, None, 0, bytes)?;
            Prefix::v4(a.into(), plen)
        }
        Ae::Ipv6 => {
            let mut a = [0u8; 16];
            fill(&mut a, None, 0, bytes)?;
            Prefix::new(a.into(), plen)
        }
        Ae::Wildcard | Ae::LinkLocal => None,
    }
}
