//! A device of the mission: its stack, its application, and what it tells the scenario.

use std::collections::VecDeque;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use iomt::identity::enrol::{MissionAuthority, MissionConfig, Platform};
use iomt::identity::{
    Challenge, DebugState, FirmwareVersion, Measurement, Mission, ReferenceValues, Role, Roles,
    SoftwareKey, TrustStore,
};
use iomt::mesh::{InterfaceConfig, MacKey, Router, RouterConfig};
use iomt::rand::SystemRandom;
use iomt::schema::{
    Callsign, DeviceId, Envelope, Frame, Instant, Latitude, Longitude, Message, MessageRef,
    Position, Precedence, ShortId, Timestamp,
};
use iomt::transport::{
    BackhaulPolicy, CloseReason, Endpoint, EndpointConfig, HandshakeError, IdentityCredentials,
    SessionId, WallClock,
};
use iomt_sim::{Node, NodeId, Point, Received, Transmit};
use iomt_testkit::{Hardware, link_local};

use super::field::Field;
use super::post::Post;
use super::secure_mesh::{SecureMesh, Up};
use super::{HELLO, POST, Res, START_MS, UAV, names};

/// Who is who: device numbers, names, ShortIds (router-id, mesh address and credential kid)
/// and DeviceIds.
pub struct Roster {
    pub names: Vec<&'static str>,
    pub ids: Vec<ShortId>,
    pub devices: Vec<DeviceId>,
}

impl Roster {
    pub fn index(&self, id: ShortId) -> Option<usize> {
        self.ids.iter().position(|i| *i == id)
    }

    pub fn name(&self, id: ShortId) -> &'static str {
        self.index(id).map_or("unknown", |i| self.names[i])
    }
}

/// A message's key in the run's metrics: its source device and envelope sequence number.
pub fn key(device: usize, seq: u32) -> u64 {
    (device as u64) << 32 | u64::from(seq)
}

/// What a device tells the scenario.
pub enum Note {
    /// A session came up (`hops`: how far the handshake's last message travelled).
    SessionUp {
        peer: ShortId,
        initiator: bool,
        hops: u8,
        by_reference: bool,
    },
    /// Our handshake was refused.
    Refused,
    /// Our handshake with another device got no answer (its refusal, if any, was lost).
    Unanswered,
    /// We refused a handshake from the device at this mesh address.
    RefusedPeer {
        peer: ShortId,
        why: String,
    },
    Sent {
        key: u64,
        precedence: Precedence,
    },
    Received {
        key: u64,
        hops: u8,
    },
    Alert {
        from: ShortId,
        envelope: Precedence,
        mesh: Precedence,
    },
    AlertAnswered {
        after: Duration,
    },
    Reattested,
    Quarantined {
        peer: ShortId,
        why: String,
    },
    AttestationRefused,
    Revoked {
        peer: ShortId,
        bytes: usize,
    },
    Merged {
        changed: usize,
    },
}

/// A device's stack and what its application needs around it.
pub struct Io {
    pub me: usize,
    pub id: ShortId,
    pub stack: SecureMesh,
    pub trust: Arc<RwLock<TrustStore>>,
    pub notes: VecDeque<Note>,
    seq: u32,
}

impl Io {
    pub fn wall(&self, now: Instant) -> Timestamp {
        self.stack.creds.wall_clock(now)
    }

    /// Frames `message` and sends it on `session`: the envelope's precedence is the mesh's.
    /// Returns the frame's sequence number and bytes.
    pub fn send(
        &mut self,
        now: Instant,
        session: SessionId,
        precedence: Precedence,
        message: impl Into<Message>,
        reference: Option<MessageRef>,
    ) -> Option<(u32, Vec<u8>)> {
        self.seq += 1;
        let mut envelope = Envelope::new(self.id.into(), self.seq, self.wall(now));
        envelope.precedence = precedence;
        envelope.reference = reference;
        // A Flash message that answers nothing wants an answer.
        envelope.ack_requested = precedence == Precedence::Flash && reference.is_none();
        let bytes = Frame::new(envelope, message).to_vec().ok()?;
        self.stack.send(now, session, precedence, &bytes).ok()?;
        let key = key(self.me, self.seq);
        self.notes.push_back(Note::Sent { key, precedence });
        Some((self.seq, bytes))
    }

    /// Revocation deltas are the only thing this mission floods; the authority's signature,
    /// checked by the trust store, is what makes one count.
    fn merge(&mut self, delta: &[u8]) {
        let merged = (self.trust.write())
            .unwrap_or_else(PoisonError::into_inner)
            .apply_revocation(delta);
        if let Ok(changed) = merged {
            self.notes.push_back(Note::Merged { changed });
        }
    }
}

/// Where a point of the simulated plane is on the map (a local flat projection).
pub fn position(p: Point) -> Position {
    const LAT: f64 = 59.33;
    const LON: f64 = 18.07;
    const METRES_PER_DEGREE: f64 = 111_320.0;
    let lat = LAT + p.y / METRES_PER_DEGREE;
    let lon = LON + p.x / (METRES_PER_DEGREE * LAT.to_radians().cos());
    Position::new(
        Latitude::from_f64(lat).expect("the area of operations is on the map"),
        Longitude::from_f64(lon).expect("the area of operations is on the map"),
    )
}

pub enum App {
    Post(Box<Post>),
    Field(Box<Field>),
}

/// One simulated device: its stack and its application.
pub struct Device {
    pub io: Io,
    pub app: App,
}

impl Device {
    /// Hands everything the stack has to the application, then the endpoint's replies to
    /// the mesh.
    fn pump(&mut self, now: Instant) {
        while let Some(up) = self.io.stack.poll_up(now) {
            match (up, &mut self.app) {
                (Up::Flooded(d), _) => self.io.merge(&d.payload),
                (Up::Session { peer, event }, App::Post(p)) => {
                    p.on_session(&mut self.io, now, peer, event)
                }
                (Up::Session { peer, event }, App::Field(f)) => {
                    f.on_session(&mut self.io, now, peer, event)
                }
                (Up::Unverified { address, reason }, _) => {
                    if let CloseReason::Handshake(HandshakeError::Refused(why)) = reason {
                        let why = why.to_string();
                        let peer = address;
                        self.io.notes.push_back(Note::RefusedPeer { peer, why });
                    }
                }
            }
        }
        self.io.stack.flush_control(now);
    }

    /// Runs `f` on a field device's application, then pumps.
    pub fn field(&mut self, now: Instant, f: impl FnOnce(&mut Field, &mut Io)) {
        if let App::Field(field) = &mut self.app {
            f(field, &mut self.io);
        }
        self.pump(now);
    }

    /// Runs `f` on the post's application, then pumps.
    pub fn post(&mut self, now: Instant, f: impl FnOnce(&mut Post, &mut Io)) {
        if let App::Post(post) = &mut self.app {
            f(post, &mut self.io);
        }
        self.pump(now);
    }
}

impl Node for Device {
    type Event = Note;

    fn handle_input(&mut self, now: Instant, packet: Received<'_>) {
        self.io.stack.handle_input(now, packet);
        self.pump(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.io.stack.handle_timeout(now);
        match &mut self.app {
            App::Post(p) => p.on_timeout(&mut self.io, now),
            App::Field(f) => f.on_timeout(&mut self.io, now),
        }
        self.pump(now);
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<Transmit> {
        self.io.stack.poll_transmit(now, buf)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let app = match &self.app {
            App::Post(p) => p.timeout(),
            App::Field(f) => f.timeout(),
        };
        [self.io.stack.poll_timeout(), app]
            .into_iter()
            .flatten()
            .min()
    }

    fn poll_event(&mut self) -> Option<Note> {
        self.io.notes.pop_front()
    }
}

/// A key from the run's seed: reproducible keys make a reproducible run. (Real devices
/// generate theirs in a secure element.)
fn seeded_key(seed: u64, label: &str) -> Res<SoftwareKey> {
    let label = format!("iomt mission {seed} {label}");
    let digest = ring::digest::digest(&ring::digest::SHA256, label.as_bytes());
    Ok(SoftwareKey::from_ed25519_seed(digest.as_ref().try_into()?)?)
}

/// The firmware every device of the mission runs, as its boot chain measures it.
fn platform() -> Platform {
    Platform {
        secure_boot: true,
        debug: DebugState::DisabledPermanently,
        firmware: FirmwareVersion::new(4, 2, 0),
        measurements: vec![
            Measurement::of(0, "bootloader", b"bootloader v3"),
            Measurement::of(1, "radio-fw", b"radio firmware 4.2"),
        ],
    }
}

/// A device as enrolment leaves it: its hardware, its credentials for EDHOC (credential and
/// attestation result installed), the trust store they decide with, and the two documents.
struct Enrolled {
    hw: Arc<Hardware>,
    creds: IdentityCredentials,
    trust: Arc<RwLock<TrustStore>>,
    credential: Vec<u8>,
    result: Vec<u8>,
}

/// The device holding `key` enrols at `start` with `roles`: it answers the authority's
/// challenge, installs its credential and result on a wall clock that reads `start` at
/// `Instant::ZERO`, and answers peers' evidence requests from its hardware.
fn enrol(
    authority: &mut MissionAuthority,
    key: SoftwareKey,
    roles: Roles,
    start: Timestamp,
    rng: &SystemRandom,
) -> Res<Enrolled> {
    let hw = Arc::new(Hardware::new(Arc::new(key), platform()));
    let challenge = Challenge::new(rng, start)?;
    let request = hw.request(challenge.nonce(), start)?;
    let enrolment = authority.enrol(challenge, &request, roles, start)?;
    let trust = Arc::new(RwLock::new(authority.provisioning().trust_store()?));
    let creds = IdentityCredentials::new(
        trust.clone(),
        hw.key.clone(),
        WallClock::new(Instant::ZERO, start),
    )
    .with_attester(hw.attester());
    creds.install(&enrolment, Instant::ZERO)?;
    Ok(Enrolled {
        hw,
        creds,
        trust,
        credential: enrolment.credential,
        result: enrolment.result,
    })
}

/// Enrols every device and builds its stack, in device order; also says what enrolment made.
pub fn provision(seed: u64) -> Res<(Vec<Device>, Arc<Roster>, String)> {
    let start = Timestamp::from_millis(START_MS).ok_or("timestamp out of range")?;
    let mut reference = ReferenceValues {
        min_firmware: FirmwareVersion::new(4, 0, 0),
        require_secure_boot: true,
        require_debug_disabled: true,
        ..ReferenceValues::default()
    };
    for m in platform().measurements {
        reference.allow(&m.component, m.digest);
    }
    let mut authority = MissionAuthority::new(
        MissionConfig::new(Mission::new("op-nordic")?, reference),
        Arc::new(seeded_key(seed, "authority")?),
        Arc::new(seeded_key(seed, "verifier")?),
        start,
    )?;
    let rng = SystemRandom::new();
    let names = names();
    let roles = |i: usize| match i {
        POST => Roles::EMPTY.with(Role::CommandPost),
        UAV => Roles::EMPTY.with(Role::Vehicle).with(Role::Relay),
        _ => Roles::EMPTY.with(Role::Operator).with(Role::Relay),
    };
    let enrolled = (names.iter().enumerate())
        .map(|(i, name)| {
            enrol(
                &mut authority,
                seeded_key(seed, name)?,
                roles(i),
                start,
                &rng,
            )
        })
        .collect::<Res<Vec<_>>>()?;
    let said = format!(
        "enrolled {} devices: compact credentials of {} bytes, attestation results of {} \
         bytes; the {}-byte trust package and the roster's credentials pre-positioned",
        enrolled.len(),
        enrolled[POST].credential.len(),
        enrolled[POST].result.len(),
        authority.package().len()
    );
    let keys = || enrolled.iter().map(|e| e.hw.key.public_key());
    let roster = Arc::new(Roster {
        names: names.clone(),
        ids: keys().map(|k| k.short_id()).collect(),
        devices: keys().map(|k| k.device_id()).collect(),
    });
    // With every credential of the roster known in advance, handshakes name them by
    // reference (a kid) instead of carrying them.
    for e in &enrolled {
        for other in enrolled.iter().filter(|o| o.credential != e.credential) {
            e.creds.learn_peer(&other.credential, Instant::ZERO)?;
        }
    }
    // Babel's RFC 8967 keys are shared secrets: the mission's travels with its trust package.
    let label = format!("iomt mission {seed} babel");
    let mac =
        MacKey::hmac_sha256(ring::digest::digest(&ring::digest::SHA512, label.as_bytes()).as_ref());
    let random = Arc::new(SystemRandom::new());
    let mut devices = Vec::new();
    for (i, e) in enrolled.into_iter().enumerate() {
        let me = NodeId(u32::try_from(i)?);
        let config = RouterConfig::new(roster.ids[i]);
        let hop_limit = config.hop_limit;
        let mut router = Router::new(config, Instant::ZERO, seed ^ i as u64, random.clone());
        let radio = InterfaceConfig::wireless(link_local(me)).with_hello_interval(HELLO);
        let iface = router.add_interface(Instant::ZERO, radio)?;
        router.set_interface_keys(iface, vec![mac.clone()]);
        // The post also appraises evidence bound to every handshake, with the mission's
        // verifier: a device whose firmware changed cannot open a session with it.
        let creds = Arc::new(match i {
            POST => e.creds.require_fresh_evidence(authority.verifier()),
            _ => e.creds,
        });
        let endpoint = Endpoint::new(EndpointConfig::default(), creds.clone(), random.clone());
        let app = match i {
            POST => {
                let policy = (e.trust.read().unwrap_or_else(PoisonError::into_inner))
                    .policy()
                    .cloned()
                    .ok_or("the trust package pins no policy")?;
                let backhaul = BackhaulPolicy::new(e.trust.clone())
                    .require_fresh_evidence(authority.verifier());
                App::Post(Box::new(Post::new(
                    authority.authority().clone(),
                    policy,
                    Arc::new(backhaul),
                    roster.clone(),
                )))
            }
            _ => App::Field(Box::new(Field::new(
                i == UAV,
                Callsign::new(names[i])?,
                roster.devices[POST],
                e.result,
                e.hw,
            ))),
        };
        let io = Io {
            me: i,
            id: roster.ids[i],
            stack: SecureMesh::new(me, router, hop_limit, endpoint, creds),
            trust: e.trust,
            notes: VecDeque::new(),
            seq: 0,
        };
        devices.push(Device { io, app });
    }
    Ok((devices, roster, said))
}
