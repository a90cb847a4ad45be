//! A soldier's hub or the UAV: it reports to the post, raises alerts, and answers the post's
//! re-attestation.

use std::sync::Arc;

use iomt::schema::*;
use iomt::transport::post_handshake::{AttestError, BackhaulMessage};
use iomt::transport::{
    Attester, CloseReason, EdhocBinding, Event, Fault, HandshakeError, HandshakeRole,
    PostHandshakeAttester, SessionId,
};
use iomt_sim::Point;
use iomt_testkit::Hardware;

use super::device::{Io, Note, key, position};
use super::secure_mesh::CONTROL;
use super::{MAX_TRIES, POST, RETRY};

pub struct Field {
    uav: bool,
    callsign: Callsign,
    post: DeviceId,
    session: Option<SessionId>,
    /// Our attestation result, and the attester that makes evidence when the post asks.
    result: Vec<u8>,
    pub hw: Arc<Hardware>,
    attestation: Option<PostHandshakeAttester>,
    alert: Option<Alerting>,
    down: bool,
    last: Option<(Instant, Point)>,
    reports: u32,
    /// The size of a position report's frame, once one has been measured on the air.
    pub measured: Option<usize>,
}

/// A Flash alert waiting for its answer.
struct Alerting {
    seq: u32,
    frame: Vec<u8>,
    raised: Instant,
    next: Instant,
    tries: u32,
}

impl Field {
    pub fn new(
        uav: bool,
        callsign: Callsign,
        post: DeviceId,
        result: Vec<u8>,
        hw: Arc<Hardware>,
    ) -> Self {
        Self {
            uav,
            callsign,
            post,
            session: None,
            result,
            hw,
            attestation: None,
            alert: None,
            down: false,
            last: None,
            reports: 0,
            measured: None,
        }
    }

    /// Opens a session with the post (leaving any older one behind).
    pub fn connect(&mut self, io: &mut Io, now: Instant) {
        if let Some(old) = self.session.take() {
            io.stack.close(old);
        }
        // A failed or refused handshake comes back as a session event.
        let _ = io.stack.connect(now, self.post);
    }

    /// Reports from `here`: a soldier its position (and vitals every third time), the UAV its
    /// own state and the hostile vehicle it tracks.
    pub fn report(&mut self, io: &mut Io, now: Instant, here: Point) {
        let Some(session) = self.session else {
            return;
        };
        let (course, speed) = match self.last.replace((now, here)) {
            Some((then, there)) => {
                let (dx, dy) = (here.x - there.x, here.y - there.y);
                let dt = now.saturating_duration_since(then).as_secs_f64();
                let course = dx.atan2(dy).to_degrees().rem_euclid(360.0);
                (
                    Course::from_f64(course).ok(),
                    Speed::from_f64(dx.hypot(dy) / dt).ok(),
                )
            }
            None => (None, None),
        };
        self.reports += 1;
        if self.uav {
            let state = VehicleState {
                mode: VehicleMode::Mission,
                position: position(here),
                velocity: None,
                heading: course,
                speed,
                waypoint: None,
                unknown: UnknownFields::default(),
            };
            io.send(now, session, Precedence::Routine, state, None);
            // A hostile vehicle on the road north of the squad, in the UAV's camera.
            let t = now.saturating_duration_since(Instant::ZERO).as_secs_f64();
            let track = Track {
                track_id: 4021,
                position: position(Point::new(1900.0 - 2.5 * t, 650.0)),
                affiliation: Affiliation::Hostile,
                confidence: Percent::new(80).expect("a percentage"),
                velocity: None,
                class: Some(ObjectClass::WheeledVehicle),
                sensor: Some(SensorKind::ElectroOptical),
                unknown: UnknownFields::default(),
            };
            io.send(now, session, Precedence::Immediate, track, None);
            return;
        }
        let report = PositionReport {
            position: position(here),
            affiliation: Affiliation::Friend,
            course,
            speed,
            role: None,
            callsign: Some(self.callsign),
            unknown: UnknownFields::default(),
        };
        // A complete report (course and speed known) is the one measured on the air.
        let measure = self.measured.is_none() && course.is_some();
        if measure {
            io.stack.measure_next_record();
        }
        if let Some((_, frame)) = io.send(now, session, Precedence::Routine, report, None)
            && measure
        {
            self.measured = Some(frame.len());
        }
        if self.reports % 3 == 1 {
            let vitals = Vitals {
                heart_rate: Some(if self.down {
                    134
                } else {
                    84 + (self.reports % 9) as u16
                }),
                respiration_rate: Some(if self.down { 28 } else { 16 }),
                spo2: Percent::new(if self.down { 91 } else { 97 }),
                core_temp: Temperature::from_f64(37.1).ok(),
                skin_temp: None,
                posture: Some(if self.down {
                    Posture::Lying
                } else {
                    Posture::Walking
                }),
                fall_detected: Some(self.down),
                unknown: UnknownFields::default(),
            };
            io.send(now, session, Precedence::Priority, vitals, None);
        }
    }

    /// A man-down alert at Flash precedence, repeated until the post answers it.
    pub fn raise_alert(&mut self, io: &mut Io, now: Instant, here: Point) {
        self.down = true;
        let Some(session) = self.session else {
            return;
        };
        let alert = Alert {
            kind: AlertKind::ManDown,
            state: AlertState::Raised,
            position: Some(position(here)),
            subject: None,
            text: Some("fall detected, no movement".into()),
            unknown: UnknownFields::default(),
        };
        if let Some((seq, frame)) = io.send(now, session, Precedence::Flash, alert, None) {
            let (raised, next, tries) = (now, now + RETRY, 1);
            self.alert = Some(Alerting {
                seq,
                frame,
                raised,
                next,
                tries,
            });
        }
    }

    pub fn timeout(&self) -> Option<Instant> {
        self.alert.as_ref().map(|a| a.next)
    }

    pub fn on_timeout(&mut self, io: &mut Io, now: Instant) {
        let (Some(a), Some(session)) = (self.alert.as_mut(), self.session) else {
            return;
        };
        if a.next > now {
            return;
        }
        if a.tries == MAX_TRIES {
            self.alert = None;
            return;
        }
        // The same frame (same sequence number): the post takes the copies as one alert.
        let _ = io.stack.send(now, session, Precedence::Flash, &a.frame);
        a.tries += 1;
        a.next = now + RETRY;
    }

    pub fn on_session(&mut self, io: &mut Io, now: Instant, peer: ShortId, event: Event<ShortId>) {
        match event {
            Event::Connected {
                session,
                role,
                info,
                ..
            } => {
                let initiator = role == HandshakeRole::Initiator;
                if initiator && peer == self.post.short() {
                    self.session = Some(session);
                }
                io.notes.push_back(Note::SessionUp {
                    peer,
                    initiator,
                    hops: io.stack.last_hops(),
                    by_reference: info.id_cred.kid_value().is_some(),
                });
            }
            Event::Received { session, data, .. } => self.on_record(io, now, session, &data),
            Event::Closed { session, reason } => {
                if self.session == Some(session) {
                    self.session = None;
                }
                match reason {
                    CloseReason::Handshake(HandshakeError::PeerError(_)) => {
                        io.notes.push_back(Note::Refused);
                    }
                    CloseReason::Handshake(HandshakeError::Refused(why)) => {
                        let why = why.to_string();
                        io.notes.push_back(Note::RefusedPeer { peer, why });
                    }
                    // Policy said no: trying again would hear the same.
                    CloseReason::Handshake(e) if e.fault() == Fault::Policy => {}
                    // Lost in the mesh: the post is worth another try.
                    _ if peer == self.post.short() && self.session.is_none() => {
                        self.connect(io, now)
                    }
                    CloseReason::TimedOut => io.notes.push_back(Note::Unanswered),
                    _ => {}
                }
            }
            _ => {}
        }
    }

    fn on_record(&mut self, io: &mut Io, now: Instant, session: SessionId, data: &[u8]) {
        if Some(session) != self.session {
            return;
        }
        // A record holds a schema frame or a message of the post's re-attestation; the two
        // never share a first byte (a frame's carries version 1 in its top bits).
        if let Ok((message, _)) = BackhaulMessage::decode(data) {
            self.on_attestation(io, now, session, message, data);
            return;
        }
        let Ok(frame) = Frame::decode(data) else {
            return;
        };
        let hops = io.stack.last_hops();
        io.notes.push_back(Note::Received {
            key: key(POST, frame.envelope.seq),
            hops,
        });
        if let (Some(a), Some(r)) = (&self.alert, frame.envelope.reference)
            && r.source == io.id
            && r.seq == a.seq
        {
            let after = now.saturating_duration_since(a.raised);
            io.notes.push_back(Note::AlertAnswered { after });
            self.alert = None;
        }
    }

    fn on_attestation(
        &mut self,
        io: &mut Io,
        now: Instant,
        session: SessionId,
        message: BackhaulMessage<'_>,
        data: &[u8],
    ) {
        let wall = io.wall(now);
        if !matches!(message, BackhaulMessage::Request { .. }) {
            if let Some(attester) = self.attestation.as_mut()
                && let Err(AttestError::Refused(_)) = attester.handle_input(wall, data)
            {
                io.notes.push_back(Note::AttestationRefused);
            }
            return;
        }
        // Every request starts a new exchange, over this session's own binding.
        let Ok(binding) = EdhocBinding::from_session(&io.stack.endpoint, session) else {
            return;
        };
        let evidence: Arc<dyn Attester> = Arc::new(self.hw.attester());
        let Ok(mut attester) =
            PostHandshakeAttester::new(&binding, self.result.clone(), Some(evidence))
        else {
            return;
        };
        let _ = attester.handle_input(wall, data);
        let mut answer = Vec::new();
        if attester.poll_transmit(&mut answer).is_some() {
            let _ = io.stack.send(now, session, CONTROL, &answer);
        }
        self.attestation = Some(attester);
    }

    /// Tries every other device of the mission.
    pub fn try_everyone(&mut self, io: &mut Io, now: Instant, devices: &[DeviceId]) {
        for &peer in devices.iter().filter(|d| d.short() != io.id) {
            let _ = io.stack.connect(now, peer);
        }
    }
}
