//! Two devices meet over a lossy radio link.
//!
//! A sensor and a command post enrol with their mission through `iomt::identity::enrol`
//! (credential from the authority, attestation result from its verifier after appraising their
//! evidence). They run EDHOC over
//! a simulated radio link that loses, duplicates and delays datagrams: each checks the other's
//! credential and attestation result through `iomt-identity`, and the command post also asks
//! for evidence bound to the handshake. They exchange records while the record keys rotate.
//! The command post re-attests; the sensor does not, and once its attestation result expires
//! the command post closes its session and refuses the sensor's next handshake.
//!
//! ```sh
//! cargo run --example secure_link
//! ```
//!
//! The link is seeded (`SEED` below): the same seed gives the same losses and timings.
#![allow(
    clippy::indexing_slicing,
    clippy::as_conversions,
    reason = "example code keeps to the calls it shows: a failed step stops it where it happened"
)]

use std::error::Error;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use iomt::identity::enrol::{MissionAuthority, MissionConfig, Platform};
use iomt::identity::*;
use iomt::rand::SystemRandom;
use iomt::schema::{Instant, Timestamp};
use iomt::transport::{Endpoint, EndpointConfig, Event, IdentityCredentials, SessionId, WallClock};

type Res<T> = Result<T, Box<dyn Error>>;

const SEED: u64 = 0x5eed_2026;
/// The radio loses one datagram in five.
const LOSS_PER_MILLE: u64 = 200;
/// And duplicates one in twenty.
const DUPLICATE_PER_MILLE: u64 = 50;
/// 2026-11-21 08:00 UTC, the wall-clock time at `Instant::ZERO`.
const START_MS: u64 = 1_795_248_000_000;
const RESULT_LIFETIME: Duration = Duration::from_secs(5 * 60);

fn at(ms: u64) -> Res<Timestamp> {
    Timestamp::from_millis(ms).ok_or_else(|| "timestamp out of range".into())
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

/// The mission: its authority appraises evidence against this firmware, and its results last
/// five minutes.
fn provision(rng: &SystemRandom) -> Res<MissionAuthority> {
    let mut reference = ReferenceValues {
        min_firmware: FirmwareVersion::new(4, 0, 0),
        require_secure_boot: true,
        require_debug_disabled: true,
        ..ReferenceValues::default()
    };
    for m in platform().measurements {
        reference.allow(&m.component, m.digest);
    }
    let mut config = MissionConfig::new(Mission::new("op-nordic")?, reference);
    config.appraisal.result_lifetime = RESULT_LIFETIME;
    Ok(MissionAuthority::generate(config, at(START_MS)?, rng)?)
}

/// A device of the mission: its name, key and credentials.
struct Device {
    name: String,
    key: Arc<SoftwareKey>,
    creds: IdentityCredentials,
}

/// A device enrols at the mission's start with `role`, and installs what it received as its
/// credentials for EDHOC, on a wall clock that reads the start at `Instant::ZERO`.
fn enrol(m: &mut MissionAuthority, name: &str, role: Role, rng: &SystemRandom) -> Res<Device> {
    let start = at(START_MS)?;
    let key = Arc::new(SoftwareKey::generate(Algorithm::Ed25519, rng)?);
    // The authority challenges the device; its key and evidence over the nonce enrol it.
    let challenge = Challenge::new(rng, start)?;
    let request = platform().request(&*key, challenge.nonce(), start)?;
    let enrolment = m.enrol(challenge, &request, Roles::EMPTY.with(role), start)?;
    // Installing verifies both through the device's own trust store; peers' evidence requests
    // are answered from its platform.
    let trust = Arc::new(RwLock::new(m.provisioning().trust_store()?));
    let attester = key.clone();
    let creds = IdentityCredentials::new(trust, key.clone(), WallClock::new(Instant::ZERO, start))
        .with_attester(move |nonce: &Nonce, now| platform().evidence(&*attester, nonce, now).ok());
    creds.install(&enrolment, Instant::ZERO)?;
    println!(
        "{name:>6}: enrolled as {}, credential {} bytes, attestation result {} bytes",
        key.public_key().device_id(),
        enrolment.credential.len(),
        enrolment.result.len()
    );
    Ok(Device {
        name: name.to_owned(),
        key,
        creds,
    })
}

/// A small xorshift generator: the link's losses, duplicates and delays.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn chance(&mut self, per_mille: u64) -> bool {
        self.next() % 1000 < per_mille
    }
}

/// Two endpoints (0: the sensor, 1: the command post) on one lossy radio channel.
struct Radio {
    eps: [Endpoint<u8>; 2],
    names: [String; 2],
    now: Instant,
    flight: Vec<(Instant, u8, Vec<u8>)>,
    rng: XorShift,
    sent: [usize; 2],
    lost: usize,
    events: Vec<(u8, Event<u8>)>,
}

impl Radio {
    fn drain(&mut self) {
        for node in 0..2u8 {
            let ep = &mut self.eps[usize::from(node)];
            while let Some(e) = ep.poll_event() {
                self.events.push((node, e));
            }
            let mut buf = Vec::new();
            while let Some(t) = ep.poll_transmit(self.now, &mut buf) {
                self.sent[usize::from(node)] += 1;
                if self.rng.chance(LOSS_PER_MILLE) {
                    self.lost += 1;
                    continue;
                }
                let copies = if self.rng.chance(DUPLICATE_PER_MILLE) {
                    2
                } else {
                    1
                };
                for _ in 0..copies {
                    let delay = Duration::from_millis(10 + self.rng.next() % 50);
                    self.flight
                        .push((self.now + delay, t.destination, buf[..t.len].to_vec()));
                }
            }
        }
    }

    /// Moves to the next delivery or timer, up to `until`; false when there is none.
    fn step(&mut self, until: Instant) -> bool {
        self.drain();
        let next_flight = self.flight.iter().map(|f| f.0).min();
        let next_timer = self.eps.iter().filter_map(Endpoint::poll_timeout).min();
        let Some(next) = [next_flight, next_timer].into_iter().flatten().min() else {
            return false;
        };
        if next > until {
            return false;
        }
        self.now = next;
        let (due, later): (Vec<_>, Vec<_>) = self.flight.drain(..).partition(|f| f.0 <= self.now);
        self.flight = later;
        for (_, to, bytes) in due {
            let ep = &mut self.eps[usize::from(to)];
            if let Ok(Some(incoming)) = ep.handle_input(self.now, 1 - to, &bytes) {
                // Both devices accept any initiator: their credentials decide.
                let _ = ep.accept(self.now, incoming);
            }
        }
        for ep in &mut self.eps {
            ep.handle_timeout(self.now);
        }
        self.drain();
        true
    }

    /// Runs until `until` of simulated time, reporting events as they happen.
    fn run(&mut self, until: Instant, mut on_event: impl FnMut(&mut Self, u8, Event<u8>)) {
        loop {
            let more = self.step(until);
            for (node, event) in std::mem::take(&mut self.events) {
                on_event(self, node, event);
            }
            if !more {
                break;
            }
        }
        self.now = self.now.max(until);
    }

    fn t(&self) -> String {
        format!("t+{:>7.3}s", self.now.as_nanos() as f64 / 1e9)
    }
}

fn main() -> Res<()> {
    let rng = SystemRandom::new();
    let mut m = provision(&rng)?;
    let sensor = enrol(&mut m, "sensor", Role::Sensor, &rng)?;
    let post = enrol(&mut m, "post", Role::CommandPost, &rng)?;

    // The command post hosts a verifier too: it asks every peer for evidence bound to the
    // handshake, on top of the attestation result.
    let post_id = post.key.public_key().device_id();
    let post_creds = Arc::new(post.creds.require_fresh_evidence(m.verifier()));
    let sensor_creds = Arc::new(sensor.creds);

    let mut config = EndpointConfig::default();
    config.record.key_update_after_records = 64;
    let random = Arc::new(SystemRandom::new());
    let mut radio = Radio {
        eps: [
            Endpoint::new(config.clone(), sensor_creds.clone(), random.clone()),
            Endpoint::new(config, post_creds.clone(), random),
        ],
        names: [sensor.name.clone(), post.name.clone()],
        now: Instant::ZERO,
        flight: Vec::new(),
        rng: XorShift(SEED),
        sent: [0, 0],
        lost: 0,
        events: Vec::new(),
    };

    println!(
        "\n-- first contact over the radio ({LOSS_PER_MILLE}/1000 lost, {DUPLICATE_PER_MILLE}/1000 duplicated)"
    );
    println!(
        "   (neither holds the other's credential yet: the sensor asks for the post's by value and sends its own by value)"
    );
    // The sensor asks for the post by identity: only the device holding the post's key can
    // complete the handshake, whoever answers at address 1.
    radio.eps[0].connect(radio.now, 1, post_id)?;
    let mut sessions: [Option<SessionId>; 2] = [None, None];
    let report = |radio: &mut Radio,
                  node: u8,
                  event: Event<u8>,
                  sessions: &mut [Option<SessionId>; 2]| {
        let name = radio.names[usize::from(node)].clone();
        match event {
            Event::Connected { session, info, .. } => {
                let creds = if node == 0 {
                    &sensor_creds
                } else {
                    &post_creds
                };
                let peer = creds.verified_peer(&info);
                let how = if info.id_cred.kid_value().is_some() {
                    "by reference"
                } else {
                    "by value"
                };
                if let Some(peer) = peer {
                    println!(
                        "{} {name:>6}: connected to {} (credential {how}, roles {:?}, attestation {:?} until {} s)",
                        radio.t(),
                        peer.credential.device_id(),
                        peer.credential.roles(),
                        peer.result.tier(),
                        (peer.result.expires_at().as_millis() - START_MS) / 1000,
                    );
                }
                sessions[usize::from(node)] = Some(session);
            }
            Event::Closed { session, reason } => {
                println!("{} {name:>6}: session closed: {reason}", radio.t());
                // Only the session this side holds: a handshake left behind ends separately.
                if sessions[usize::from(node)] == Some(session) {
                    sessions[usize::from(node)] = None;
                }
            }
            Event::Received { data, .. } => {
                let _ = data;
            }
            _ => {}
        }
    };
    let limit = radio.now + Duration::from_secs(60);
    radio.run(limit, |r, n, e| report(r, n, e, &mut sessions));
    let (Some(s), Some(p)) = (sessions[0], sessions[1]) else {
        return Err("the handshake did not complete".into());
    };
    println!(
        "         datagrams sent: sensor {}, post {} ({} lost on the air)",
        radio.sent[0], radio.sent[1], radio.lost
    );

    println!("\n-- 300 reports each way; record keys rotate every 64 records");
    let mut delivered = [0usize; 2];
    for n in 0..300u32 {
        let report_text = format!("SITREP {n:03}: grid 4512 8830, all quiet");
        radio.eps[0].send(radio.now, s, report_text.as_bytes())?;
        radio.eps[1].send(radio.now, p, format!("ACK {n:03}").as_bytes())?;
        let until = radio.now + Duration::from_millis(200);
        radio.run(until, |r, node, e| {
            if let Event::Received { data, .. } = e {
                delivered[usize::from(node)] += 1;
                r.eps[usize::from(node)].recycle(data);
            }
        });
    }
    let until = radio.now + Duration::from_secs(1);
    radio.run(until, |_, node, e| {
        if let Event::Received { .. } = e {
            delivered[usize::from(node)] += 1;
        }
    });
    for (node, session) in [(0usize, s), (1, p)] {
        let stats = radio.eps[node]
            .record_stats(session)
            .ok_or("no record layer")?;
        println!(
            "{} {:>6}: sealed {}, opened {} (of 300 sent; the rest lost on the air), key phase sent {} received {}",
            radio.t(),
            radio.names[node],
            stats.sealed,
            delivered[node],
            stats.send_phase,
            stats.receive_phase,
        );
    }

    println!("\n-- four minutes later the post re-attests; the sensor does not");
    let four_minutes = Instant::ZERO + Duration::from_secs(4 * 60);
    radio.run(four_minutes, |r, n, e| report(r, n, e, &mut sessions));
    let wall = post_creds.wall_clock(radio.now);
    let challenge = Challenge::new(&rng, wall)?;
    let evidence = platform().evidence(&*post.key, challenge.nonce(), wall)?;
    let fresh = m.attest(challenge, &post.key.public_key(), &evidence, wall)?;
    post_creds.set_result(fresh.result, radio.now)?;
    println!("{}   post: new attestation result installed", radio.t());

    println!("\n-- six minutes: the sensor's attestation result has expired");
    let six_minutes = Instant::ZERO + Duration::from_secs(6 * 60);
    radio.run(six_minutes, |r, n, e| report(r, n, e, &mut sessions));
    // The post re-checks its peers: the sensor's result is no longer valid, so its session
    // ends (PeerTrust would quarantine it; here the application simply closes it).
    let now_wall = post_creds.wall_clock(radio.now);
    println!(
        "{}   post: the sensor's result expired {} s ago; closing its session",
        radio.t(),
        (now_wall.as_millis() - (START_MS + RESULT_LIFETIME.as_millis() as u64)) / 1000
    );
    radio.eps[1].close(p);
    radio.eps[0].close(s);
    sessions = [None, None];

    println!("\n-- the sensor tries to reconnect");
    radio.eps[0].connect(radio.now, 1, post_id)?;
    let until = radio.now + Duration::from_secs(120);
    radio.run(until, |r, n, e| report(r, n, e, &mut sessions));
    if sessions[1].is_some() {
        return Err("the post accepted an expired attestation".into());
    }
    println!(
        "\nthe sensor stays out until it attests again: its evidence alone does not replace an expired result"
    );
    Ok(())
}
