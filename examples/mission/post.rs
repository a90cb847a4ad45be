//! The command post: responder of every session, the mission's verifier in the field, and
//! the authority's revocation desk. It decodes every frame into a small picture.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError};

use iomt::identity::{
    Action, PeerTrust, Policy, PublicKey, Revocation, RevocationDelta, RevocationReason,
    RevocationTarget, Signer,
};
use iomt::schema::*;
use iomt::transport::post_handshake::{AttestError, BackhaulMessage};
use iomt::transport::{
    BackhaulPolicy, CloseReason, EdhocBinding, Event, HandshakeError, PostHandshakeVerifier,
    SessionId,
};

use iomt::rand::SystemRandom;

use super::device::{Io, Note, Roster, key};
use super::secure_mesh::CONTROL;
use super::{MAX_TRIES, RETRY};

/// What the post knows of a peer with a session.
struct Peer {
    id: ShortId,
    key: PublicKey,
    trust: PeerTrust,
    check: Option<Check>,
}

/// A re-attestation under way: the request is repeated until an answer arrives.
struct Check {
    verifier: PostHandshakeVerifier,
    next: Instant,
    tries: u32,
}

/// One line of the post's picture: the last a device reported.
#[derive(Debug, Clone)]
pub struct Contact {
    pub position: Option<Position>,
    pub at: Option<Timestamp>,
    pub heart_rate: Option<u16>,
    pub man_down: bool,
}

pub struct Post {
    /// Signs revocation deltas: the mission authority sits with the post.
    authority: Arc<dyn Signer>,
    /// The mission's policy, as the trust package pinned it.
    policy: Policy,
    backhaul: Arc<BackhaulPolicy>,
    roster: Arc<Roster>,
    peers: BTreeMap<SessionId, Peer>,
    quarantined: BTreeMap<ShortId, PeerTrust>,
    /// By device number.
    pub picture: BTreeMap<usize, Contact>,
    pub tracks: BTreeMap<u32, Position>,
    delta: Option<Vec<u8>>,
}

impl Post {
    pub fn new(
        authority: Arc<dyn Signer>,
        policy: Policy,
        backhaul: Arc<BackhaulPolicy>,
        roster: Arc<Roster>,
    ) -> Self {
        Self {
            authority,
            policy,
            backhaul,
            roster,
            peers: BTreeMap::new(),
            quarantined: BTreeMap::new(),
            picture: BTreeMap::new(),
            tracks: BTreeMap::new(),
            delta: None,
        }
    }

    pub fn on_session(&mut self, io: &mut Io, now: Instant, peer: ShortId, event: Event<ShortId>) {
        match event {
            Event::Connected { session, info, .. } => {
                // What the handshake proved: the credential and result the trust store checked.
                let Some(verified) = io.stack.creds.verified_peer(&info) else {
                    io.stack.close(session);
                    return;
                };
                let mut trust = PeerTrust::new(&verified.credential);
                let _ = trust.on_result(&verified.result, io.wall(now));
                let older: Vec<SessionId> = (self.peers.iter())
                    .filter(|(_, p)| p.id == peer)
                    .map(|(s, _)| *s)
                    .collect();
                for s in older {
                    self.peers.remove(&s);
                    io.stack.close(s);
                }
                let key = *verified.credential.public_key();
                self.peers.insert(
                    session,
                    Peer {
                        id: peer,
                        key,
                        trust,
                        check: None,
                    },
                );
                io.notes.push_back(Note::SessionUp {
                    peer,
                    initiator: false,
                    hops: io.stack.last_hops(),
                    by_reference: info.id_cred.kid_value().is_some(),
                });
            }
            Event::Received { session, data, .. } => self.on_record(io, now, session, &data),
            Event::Closed { session, reason } => {
                self.peers.remove(&session);
                if let CloseReason::Handshake(HandshakeError::Refused(why)) = reason {
                    let why = why.to_string();
                    io.notes.push_back(Note::RefusedPeer { peer, why });
                }
            }
            _ => {}
        }
    }

    fn on_record(&mut self, io: &mut Io, now: Instant, session: SessionId, data: &[u8]) {
        // A record holds a schema frame or a message of the re-attestation exchange.
        if let Ok((BackhaulMessage::Attestation { .. }, _)) = BackhaulMessage::decode(data) {
            self.on_attestation(io, now, session, data);
            return;
        }
        let (Some(peer), Ok(frame)) = (self.peers.get(&session), Frame::decode(data)) else {
            return;
        };
        // A device speaks only for itself: the envelope's source must be the session's peer.
        let id = peer.id;
        let (true, Some(sender)) = (frame.envelope.source.short() == id, self.roster.index(id))
        else {
            return;
        };
        let hops = io.stack.last_hops();
        io.notes.push_back(Note::Received {
            key: key(sender, frame.envelope.seq),
            hops,
        });
        let contact = self.picture.entry(sender).or_insert(Contact {
            position: None,
            at: None,
            heart_rate: None,
            man_down: false,
        });
        match frame.message {
            Message::PositionReport(PositionReport { position, .. })
            | Message::VehicleState(VehicleState { position, .. }) => {
                contact.position = Some(position);
                contact.at = Some(frame.envelope.time);
            }
            Message::Vitals(v) => contact.heart_rate = v.heart_rate,
            Message::Track(t) => {
                self.tracks.insert(t.track_id, t.position);
            }
            Message::Alert(a) if a.state == AlertState::Raised => {
                contact.man_down |= a.kind == AlertKind::ManDown;
                io.notes.push_back(Note::Alert {
                    from: id,
                    envelope: frame.envelope.precedence,
                    mesh: io.stack.last_precedence(),
                });
                // Every copy is answered: the answer to the first may be the one lost.
                let answer = Chat {
                    text: "CASEVAC inbound, hold position".into(),
                    to: Some(id),
                    channel: None,
                    unknown: UnknownFields::default(),
                };
                let alert = MessageRef {
                    source: id,
                    seq: frame.envelope.seq,
                };
                io.send(now, session, Precedence::Flash, answer, Some(alert));
            }
            _ => {}
        }
    }

    /// Asks every peer for fresh evidence over its session.
    pub fn reattest(&mut self, io: &mut Io, now: Instant) {
        let sessions: Vec<SessionId> = self.peers.keys().copied().collect();
        for session in sessions {
            self.ask(io, now, session, 1);
        }
    }

    fn ask(&mut self, io: &mut Io, now: Instant, session: SessionId, tries: u32) {
        let wall = io.wall(now);
        let Some(peer) = self.peers.get_mut(&session) else {
            return;
        };
        let Ok(binding) = EdhocBinding::from_session(&io.stack.endpoint, session) else {
            return;
        };
        let Ok(mut verifier) = PostHandshakeVerifier::new(
            &binding,
            peer.key,
            self.backhaul.clone(),
            wall,
            &SystemRandom::new(),
        ) else {
            return;
        };
        let mut request = Vec::new();
        if verifier.poll_transmit(&mut request).is_some() {
            let _ = io.stack.send(now, session, CONTROL, &request);
        }
        let next = now + RETRY;
        peer.check = Some(Check {
            verifier,
            next,
            tries,
        });
    }

    fn on_attestation(&mut self, io: &mut Io, now: Instant, session: SessionId, data: &[u8]) {
        let wall = io.wall(now);
        let Some(peer) = self.peers.get_mut(&session) else {
            return;
        };
        let Some(check) = peer.check.as_mut() else {
            return;
        };
        let outcome = check.verifier.handle_input(wall, data);
        let mut verdict = Vec::new();
        if check.verifier.poll_transmit(&mut verdict).is_some() {
            let _ = io.stack.send(now, session, CONTROL, &verdict);
        }
        match outcome {
            Ok(progress) => {
                if let Some(attested) = progress.done {
                    let _ = peer.trust.on_result(&attested.result, wall);
                    peer.check = None;
                    io.notes.push_back(Note::Reattested);
                }
            }
            Err(AttestError::NotAffirming(tier)) => {
                peer.trust.on_appraisal_failed(wall);
                let (id, why) = (peer.id, format!("evidence appraised {tier:?}"));
                io.notes.push_back(Note::Quarantined { peer: id, why });
                // What a quarantined device may still do is the mission policy's call.
                if !peer.trust.may(&self.policy, Action::Report)
                    && let Some(peer) = self.peers.remove(&session)
                {
                    io.stack.close(session);
                    self.quarantined.insert(id, peer.trust);
                }
            }
            // A late or garbled answer: the request is repeated.
            Err(_) => {}
        }
    }

    pub fn timeout(&self) -> Option<Instant> {
        self.peers
            .values()
            .filter_map(|p| Some(p.check.as_ref()?.next))
            .min()
    }

    pub fn on_timeout(&mut self, io: &mut Io, now: Instant) {
        let due: Vec<(SessionId, u32)> = (self.peers.iter())
            .filter_map(|(s, p)| Some((*s, p.check.as_ref()?)))
            .filter(|(_, c)| c.next <= now)
            .map(|(s, c)| (s, c.tries))
            .collect();
        for (session, tries) in due {
            match self.peers.get_mut(&session) {
                Some(p) if tries == MAX_TRIES => p.check = None,
                _ => self.ask(io, now, session, tries + 1),
            }
        }
    }

    /// The authority revokes a quarantined device; the delta floods through the mesh.
    pub fn revoke(&mut self, io: &mut Io, now: Instant, id: ShortId) {
        let wall = io.wall(now);
        let Some(trust) = self.quarantined.get_mut(&id) else {
            return;
        };
        let revocation = Revocation {
            target: RevocationTarget::Device(trust.device()),
            reason: RevocationReason::Contraindicated,
            at: wall,
        };
        let delta = RevocationDelta {
            sequence: 1,
            entries: vec![revocation],
        };
        let Ok(delta) = delta.sign(&*self.authority) else {
            return;
        };
        let mut store = io.trust.write().unwrap_or_else(PoisonError::into_inner);
        if store.apply_revocation(&delta).is_err() {
            return;
        }
        trust.on_revocations(store.revocations());
        drop(store);
        let _ = io.stack.flood(now, Precedence::Immediate, &delta);
        io.notes.push_back(Note::Revoked {
            peer: id,
            bytes: delta.len(),
        });
        self.delta = Some(delta);
    }

    /// Floods the delta once more: merging is idempotent, and a device that missed the first
    /// flood catches up.
    pub fn reflood(&mut self, io: &mut Io, now: Instant) {
        if let Some(delta) = &self.delta {
            let _ = io.stack.flood(now, Precedence::Immediate, delta);
        }
    }
}
