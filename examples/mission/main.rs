//! The mission: every crate of the workspace composed, as a downstream application (or a
//! future `iomt-node`) would compose them, in the deterministic simulator.
//!
//! A squad of six soldiers (body-worn hubs) patrols 1.0 to 1.3 km from its command post, out
//! of the post's radio range; a UAV orbits between them as a radio relay. One radio channel,
//! 800 m range, 10 % loss on every link and no link-layer retransmission.
//!
//! 1. Enrolment (`iomt-identity`): a mission authority and an attestation verifier; every
//!    device attests, receives a compact credential and an attestation result, and carries the
//!    signed trust package. The roster's credentials are pre-positioned, so handshakes name
//!    them by reference.
//! 2. Mesh (`iomt-mesh`): every device runs a Babel router whose packets carry RFC 8967 MACs
//!    under the mission's key; routes converge.
//! 3. Sessions (`iomt-transport`): each soldier and the UAV open an EDHOC session to the
//!    command post, carried end to end as mesh datagrams (the soldiers' over two hops or
//!    more, through each other and the UAV). Credentials travel by reference, attestation
//!    results in EAD; the post also asks for evidence bound to each handshake and appraises
//!    it.
//! 4. Traffic (`iomt-schema`): framed position reports and vitals, the UAV's vehicle state and
//!    a hostile track, each frame's envelope precedence used as its mesh precedence. A soldier
//!    raises a Flash man-down alert and the post answers it by reference; the post decodes
//!    every frame into a small picture.
//! 5. Compromise: one soldier's radio firmware changes. The post re-attests every peer each
//!    minute inside its session (post-handshake attestation bound to the EDHOC exporter); the
//!    evidence is contraindicated, so the post quarantines the soldier, closes its session and
//!    refuses its next handshake. The authority's revocation delta floods through the mesh,
//!    every device merges it, and none accepts the revoked soldier afterwards.
//!
//! ```sh
//! cargo run --release --example mission
//! ```
//!
//! Every figure printed is measured in the run. One seed (`SEED`) fixes keys, mobility, loss
//! and timing, so the same seed gives the same run; EDHOC's ephemeral keys come from the
//! system's random source, as they must, and change the bytes but not what happens.
//!
//! What it leaves out: the revoked soldier still relays at the mesh layer (routers are
//! admitted by the mission's shared MAC key, which this run does not rotate), and nothing is
//! persisted across reboots (there are none).
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions,
    reason = "example code keeps to the calls it shows: a failed step stops it where it happened"
)]

#[path = "../common/secure_mesh.rs"]
mod secure_mesh;

#[path = "device.rs"]
mod device;
#[path = "field.rs"]
mod field;
#[path = "post.rs"]
mod post;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use iomt::schema::{Instant, Position, Precedence, ShortId};
use iomt_sim::{
    Counter, Loss, Metrics, Mobility, NodeId, Observer, Path, Point, RadioParams, Seed, Simulator,
};

use device::{App, Device, Note, Roster, provision};
use iomt_testkit::coverage;
use post::Contact;
use secure_mesh::OnAir;

pub(crate) type Res<T> = Result<T, Box<dyn std::error::Error>>;

pub(crate) const SEED: u64 = 0x2026_1121;
/// 2026-11-21 08:00 UTC, the wall-clock time at `Instant::ZERO`.
const START_MS: u64 = 1_795_248_000_000;
const END: u64 = 300;
const HELLO: Duration = Duration::from_secs(2);
/// Sessions open once routing has had a few Hello intervals.
const CONNECT_AT: u64 = 12;
const REPORTS_FROM: u64 = 20;
const REPORT_EVERY: u64 = 10;
const REATTEST_EVERY: u64 = 60;
const ALERT_AT: u64 = 95;
const COMPROMISE_AT: u64 = 140;
/// How long an unanswered Flash alert or re-attestation request waits before it is repeated,
/// and how many times it is sent at most.
const RETRY: Duration = Duration::from_secs(3);
const MAX_TRIES: u32 = 10;

/// Device numbers: the post, the UAV, then the squad in order.
pub(crate) const POST: usize = 0;
pub(crate) const UAV: usize = 1;
pub(crate) const COMPROMISED: usize = 4;
pub(crate) const CASUALTY: usize = 5;
/// The soldiers and their places in the squad's wedge, metres from the squad's track.
const SQUAD: [(&str, f64, f64); 6] = [
    ("VIPER-21", -70.0, 0.0),
    ("VIPER-22", -30.0, 50.0),
    ("VIPER-23", -30.0, -50.0),
    ("VIPER-24", 20.0, 90.0),
    ("VIPER-25", 20.0, -90.0),
    ("VIPER-26", 70.0, 0.0),
];

fn names() -> Vec<&'static str> {
    let mut names = vec!["BASTION", "RAVEN-1"];
    names.extend(SQUAD.iter().map(|s| s.0));
    names
}

fn node(device: usize) -> NodeId {
    NodeId(u32::try_from(device).unwrap_or(u32::MAX))
}

fn at(secs: u64) -> Instant {
    Instant::ZERO + Duration::from_secs(secs)
}

fn since_start(t: Instant) -> f64 {
    t.saturating_duration_since(Instant::ZERO).as_secs_f64()
}

/// What the run showed, for the summary and the test.
#[derive(Default)]
pub(crate) struct Outcome {
    pub(crate) log: Vec<String>,
    pub(crate) names: Vec<&'static str>,
    pub(crate) converged: Option<Instant>,
    /// Field device -> when its session with the post came up, and over how many hops.
    pub(crate) sessions: BTreeMap<usize, (Instant, u8)>,
    /// Field device -> fewest and most hops its frames took to the post.
    pub(crate) hops: BTreeMap<usize, (u8, u8)>,
    pub(crate) metrics: Metrics,
    /// A position report on the air: its frame, record and mesh packet.
    pub(crate) on_air: Option<(usize, OnAir)>,
    /// Handshakes completed, and refused, as their initiators saw them.
    pub(crate) handshakes: usize,
    pub(crate) refused: usize,
    /// Handshakes with another device that timed out (a refusal lost on the air).
    pub(crate) unanswered: usize,
    /// EDHOC datagrams every endpoint sent, retransmissions and error messages included.
    pub(crate) handshake_traffic: Counter,
    /// Babel traffic per device.
    pub(crate) control: Vec<Counter>,
    pub(crate) picture: Vec<(usize, Contact)>,
    pub(crate) tracks: Vec<(u32, Position)>,
    /// The first copy of the alert at the post: its envelope's and the mesh's precedence.
    pub(crate) alert: Option<(Precedence, Precedence)>,
    pub(crate) alert_answered: Option<Duration>,
    pub(crate) reattested: usize,
    pub(crate) quarantined: Option<(Instant, String)>,
    /// Why the post refused the compromised device's next handshake.
    pub(crate) rejoin_refused: Option<String>,
    /// When the delta was issued, and its size.
    pub(crate) revocation: Option<(Instant, usize)>,
    /// Devices that merged the revocation delta, and when.
    pub(crate) merged: BTreeMap<usize, Instant>,
    /// Devices that refused the revoked device's handshake afterwards.
    pub(crate) refused_revoked: BTreeSet<usize>,
    /// Devices whose trust store holds the revocation at the end.
    pub(crate) revoked_in_store: BTreeSet<usize>,
}

/// Watches the run: logs the phases, records deliveries, and checks convergence.
struct Watch {
    roster: Arc<Roster>,
    o: Outcome,
    next_check: Instant,
    /// A session with the device after it was quarantined: the run stops there.
    violation: Option<String>,
}

impl Watch {
    fn say(&mut self, now: Instant, who: usize, text: impl AsRef<str>) {
        let name = self.roster.names[who];
        let line = format!("t+{:6.1}s  {name:<9} {}", since_start(now), text.as_ref());
        self.o.log.push(line);
    }
}

impl Observer<Device> for Watch {
    fn on_event(&mut self, now: Instant, node: NodeId, note: Note, metrics: &mut Metrics) {
        let me = node.index();
        let roster = self.roster.clone();
        let name = |id: ShortId| roster.name(id);
        match note {
            Note::SessionUp {
                peer,
                initiator,
                hops,
                by_reference,
            } => {
                self.o.handshakes += usize::from(initiator);
                let Some(who) = roster.index(peer).filter(|_| me == POST) else {
                    return;
                };
                self.o.sessions.entry(who).or_insert((now, hops));
                let how = if by_reference {
                    "by reference"
                } else {
                    "by value"
                };
                let text = format!(
                    "session with {} up, {hops} hop(s) away (credentials {how}; attestation \
                     result and fresh evidence checked)",
                    name(peer)
                );
                self.say(now, me, text);
            }
            // The refusing side says why; the refused side only counts.
            Note::Refused => self.o.refused += 1,
            Note::Unanswered => self.o.unanswered += 1,
            Note::RefusedPeer { peer, why } => {
                if roster.index(peer) == Some(COMPROMISED) {
                    if self.o.revocation.is_some() {
                        self.o.refused_revoked.insert(me);
                    } else if me == POST {
                        self.o.rejoin_refused.get_or_insert(why.clone());
                    }
                }
                self.say(
                    now,
                    me,
                    format!("refused a handshake from {}: {why}", name(peer)),
                );
            }
            Note::Sent { key, precedence } => metrics.message_sent(key, precedence, now),
            Note::Received { key, hops } => {
                metrics.message_delivered(key, now);
                let sender = usize::try_from(key >> 32).unwrap_or(usize::MAX);
                if me == POST {
                    let (lo, hi) = self.o.hops.entry(sender).or_insert((hops, hops));
                    (*lo, *hi) = ((*lo).min(hops), (*hi).max(hops));
                }
            }
            Note::Alert {
                from,
                envelope,
                mesh,
            } => {
                if self.o.alert.is_none() {
                    self.o.alert = Some((envelope, mesh));
                    let text = format!(
                        "man-down alert from {} (envelope {envelope:?}, mesh {mesh:?}); \
                         answered by reference",
                        name(from)
                    );
                    self.say(now, me, text);
                }
            }
            Note::AlertAnswered { after } => {
                self.o.alert_answered = Some(after);
                self.say(
                    now,
                    me,
                    format!("alert answered {after:.2?} after it was raised"),
                );
            }
            Note::Reattested => self.o.reattested += 1,
            Note::Quarantined { peer, why } => {
                self.o.quarantined.get_or_insert((now, why.clone()));
                let text = format!(
                    "re-attestation of {}: {why}; quarantined, session closed",
                    name(peer)
                );
                self.say(now, me, text);
            }
            Note::AttestationRefused => self.say(now, me, "the post refused our attestation"),
            Note::Revoked { peer, bytes } => {
                self.o.revocation = Some((now, bytes));
                let text = format!(
                    "the authority revokes {}: a {bytes}-byte signed delta, flooded",
                    name(peer)
                );
                self.say(now, me, text);
            }
            Note::Merged { changed } => {
                if changed > 0 && !self.o.merged.contains_key(&me) {
                    self.o.merged.insert(me, now);
                    self.say(now, me, "merged the revocation delta");
                }
            }
        }
    }

    fn check(&mut self, sim: &Simulator<Device>) -> Result<(), String> {
        if let Some(violation) = self.violation.take() {
            return Err(violation);
        }
        if self.o.converged.is_some() || sim.now() < self.next_check {
            return Ok(());
        }
        self.next_check = sim.now() + Duration::from_millis(250);
        if coverage(sim, &self.roster.ids, |d| &d.io.stack.router) >= 1.0 {
            self.o.converged = Some(sim.now());
            let text = "routes converged: every device has a route to every other";
            self.say(sim.now(), POST, text);
        }
        Ok(())
    }
}

/// The area of operations: one radio channel, the post, the UAV's orbit, the squad's patrol.
fn deploy(sim: &mut Simulator<Device>) {
    let radio = sim.add_radio(RadioParams {
        range: 800.0,
        delay: Duration::from_millis(2),
        bandwidth_bps: 250_000,
        mtu: 1232,
        loss: Loss::Bernoulli { p: 0.1 },
    });
    // The squad patrols north-east, then north-west, at about 1.4 m/s, keeping its wedge.
    let squad = sim.add_group(Mobility::Path(Path {
        waypoints: vec![
            (Duration::ZERO, Point::new(1100.0, -150.0)),
            (Duration::from_secs(150), Point::new(1250.0, 0.0)),
            (Duration::from_secs(300), Point::new(1150.0, 150.0)),
        ],
        looped: false,
        delay: Duration::ZERO,
    }));
    let orbit = Path::orbit(
        Point::new(600.0, 0.0),
        150.0,
        150.0,
        Duration::from_secs(120),
        24,
    );
    let mut nodes = vec![
        sim.add_node(Mobility::Static(Point::new(0.0, 0.0))),
        sim.add_node(Mobility::Path(orbit)),
    ];
    for &(_, x, y) in &SQUAD {
        let offset = Point::new(x, y);
        nodes.push(sim.add_node(Mobility::Group {
            group: squad,
            offset,
        }));
    }
    for n in nodes {
        sim.attach(n, radio);
    }
}

/// Runs the mission with `seed`.
pub(crate) fn run(seed: u64) -> Res<Outcome> {
    let (devices, roster, enrolment) = provision(seed)?;
    let mut devices: Vec<Option<Device>> = devices.into_iter().map(Some).collect();
    let mut sim = Simulator::new(Seed(seed), move |boot| {
        devices[boot.node.index()]
            .take()
            .expect("each device boots once: this mission has no reboots")
    });
    deploy(&mut sim);
    let everyone = roster.devices.clone();
    let field = UAV..roster.ids.len();
    let mut watch = Watch {
        roster: roster.clone(),
        o: Outcome {
            names: roster.names.clone(),
            ..Outcome::default()
        },
        next_check: Instant::ZERO,
        violation: None,
    };
    watch.say(Instant::ZERO, POST, enrolment);

    // The script, one second at a time: what is due now, and what earlier events call for.
    let (mut rejoined, mut revoked, mut tried) = (false, false, false);
    for t in 1..=END {
        let now = at(t);
        sim.run_until(now, &mut watch)?;
        if t == CONNECT_AT {
            for (i, d) in field.clone().enumerate() {
                let when = now + Duration::from_millis(300 * i as u64);
                sim.call(when, node(d), |d: &mut Device, now| {
                    d.field(now, |f, io| f.connect(io, now))
                });
            }
        }
        if t >= REPORTS_FROM && t % REPORT_EVERY == 0 {
            for (i, d) in field.clone().enumerate() {
                let Some(here) = sim.position(node(d)) else {
                    continue;
                };
                let when = now + Duration::from_millis(150 * i as u64);
                sim.call(when, node(d), move |d: &mut Device, now| {
                    d.field(now, |f, io| f.report(io, now, here))
                });
            }
        }
        if t == ALERT_AT
            && let Some(here) = sim.position(node(CASUALTY))
        {
            watch.say(
                now,
                CASUALTY,
                "fall detected, no movement: raising a Flash alert",
            );
            sim.call(now, node(CASUALTY), move |d: &mut Device, now| {
                d.field(now, |f, io| f.raise_alert(io, now, here))
            });
        }
        if t == COMPROMISE_AT {
            watch.say(now, COMPROMISED, "radio firmware replaced by an implant");
            sim.call(now, node(COMPROMISED), |d: &mut Device, now| {
                d.field(now, |f, _| {
                    f.hw.flash("radio-fw", b"radio firmware 4.2 + implant")
                })
            });
        }
        if t % REATTEST_EVERY == 0 {
            sim.call(now, node(POST), |d: &mut Device, now| {
                d.post(now, |p, io| p.reattest(io, now))
            });
        }
        // Cut off, the compromised device tries to come back.
        if let Some((q, _)) = watch.o.quarantined
            && !rejoined
            && now >= q + Duration::from_secs(5)
        {
            rejoined = true;
            watch.say(now, COMPROMISED, "session gone: reconnecting to the post");
            sim.call(now, node(COMPROMISED), |d: &mut Device, now| {
                d.field(now, |f, io| f.connect(io, now))
            });
        }
        // Refused, it is revoked for good. The delta is flooded, then flooded again every 15 s
        // to the end of the run: a device out of everyone's range when it was issued gets it
        // when it comes back (the mesh has no anti-entropy for trust updates yet).
        if watch.o.rejoin_refused.is_some() && !revoked {
            revoked = true;
            let target = everyone[COMPROMISED].short();
            for delay in (5..END).step_by(15) {
                sim.call(
                    now + Duration::from_secs(delay),
                    node(POST),
                    move |d: &mut Device, now| {
                        d.post(now, |p, io| match delay {
                            5 => p.revoke(io, now, target),
                            _ => p.reflood(io, now),
                        })
                    },
                );
            }
        }
        // Once every device has the delta, the revoked device tries them all.
        if let Some(&last) = watch.o.merged.values().max()
            && watch.o.merged.len() == roster.ids.len() - 1
            && !tried
            && now >= last + Duration::from_secs(10)
        {
            tried = true;
            watch.say(now, COMPROMISED, "trying every device of the mission");
            let everyone = everyone.clone();
            sim.call(now, node(COMPROMISED), move |d: &mut Device, now| {
                d.field(now, |f, io| f.try_everyone(io, now, &everyone))
            });
        }
    }

    let mut o = watch.o;
    o.metrics = sim.metrics().clone();
    for i in 0..roster.ids.len() {
        let Some(d) = sim.node(node(i)) else {
            continue;
        };
        o.control.push(sim.metrics().node_traffic(node(i)).control);
        let sent = d.io.stack.sent.handshake;
        o.handshake_traffic.packets += sent.packets;
        o.handshake_traffic.bytes += sent.bytes;
        let store = d.io.trust.read().unwrap_or_else(PoisonError::into_inner);
        if store.is_revoked(roster.devices[COMPROMISED]) {
            o.revoked_in_store.insert(i);
        }
        match &d.app {
            App::Field(f) => {
                if let (None, Some(frame), Some(on_air)) =
                    (o.on_air, f.measured, d.io.stack.on_air())
                {
                    o.on_air = Some((frame, on_air));
                }
            }
            App::Post(p) => {
                o.picture = p.picture.iter().map(|(i, c)| (*i, c.clone())).collect();
                o.tracks = p.tracks.iter().map(|(k, v)| (*k, *v)).collect();
            }
        }
    }
    Ok(o)
}

fn main() -> Res<()> {
    let o = run(SEED)?;
    for line in &o.log {
        println!("{line}");
    }
    summary(&o);
    Ok(())
}

fn summary(o: &Outcome) {
    let name = |i: usize| o.names[i];
    let others = o.names.len() - 1;
    println!(
        "\n== summary: seed {SEED:#x}, {END} s simulated, {} devices",
        o.names.len()
    );
    if let Some(t) = o.converged {
        println!("routes      converged at t+{:.1} s", since_start(t));
    }
    let hops: Vec<String> = (o.hops.iter())
        .map(|(i, (lo, hi))| match lo == hi {
            true => format!("{} {lo}", name(*i)),
            false => format!("{} {lo}-{hi}", name(*i)),
        })
        .collect();
    println!(
        "hops        frames reached the post over: {}",
        hops.join(", ")
    );
    println!(
        "sessions    {} of {others} field devices with the post",
        o.sessions.len()
    );
    println!(
        "handshakes  {} completed, {} refused, {} unanswered: {} EDHOC datagrams, {} bytes on \
         the mesh (retransmissions and error messages included)",
        o.handshakes,
        o.refused,
        o.unanswered,
        o.handshake_traffic.packets,
        o.handshake_traffic.bytes
    );
    println!("traffic     precedence   sent  delivered  ratio   p50       p99");
    let m = &o.metrics;
    for p in Precedence::ALL.into_iter().rev() {
        let (sent, delivered) = m.delivery(Some(p));
        let ratio = m.delivery_ratio(Some(p)).unwrap_or(0.0);
        let q = |x| {
            m.latency_percentile(Some(p), x)
                .map_or("-".into(), |d| format!("{d:.1?}"))
        };
        let p = format!("{p:?}");
        println!(
            "            {p:<10} {sent:>6} {delivered:>10}  {ratio:.3}   {:<9} {}",
            q(0.5),
            q(0.99)
        );
    }
    println!(
        "            (one transmission per hop at 10 % loss; only the Flash alert is repeated \
         until answered, and each copy is answered)"
    );
    if let Some((frame, air)) = o.on_air {
        let (record, header) = (air.record - frame, air.packet - air.record);
        println!(
            "on air      one position report: {frame} B frame + {record} B record overhead + \
             {header} B mesh header and MAC = {} B",
            air.packet
        );
    }
    let rate = |c: &Counter| c.bytes as f64 / END as f64;
    let squad: Vec<f64> = o.control.iter().skip(UAV + 1).map(rate).collect();
    let (lo, hi) = squad
        .iter()
        .fold((f64::MAX, 0f64), |(lo, hi), r| (lo.min(*r), hi.max(*r)));
    println!(
        "control     Babel with RFC 8967 MACs: {} {:.0} B/s, {} {:.0} B/s, soldiers {lo:.0}-{hi:.0} \
         B/s each",
        name(POST),
        rate(&o.control[POST]),
        name(UAV),
        rate(&o.control[UAV])
    );
    println!("picture     at the post, t+{END} s:");
    for (i, c) in &o.picture {
        let (Some(p), Some(at)) = (c.position, c.at) else {
            continue;
        };
        let age = (at.as_millis() - START_MS) as f64 / 1000.0;
        let heart = c
            .heart_rate
            .map_or(String::new(), |hr| format!(", heart rate {hr}"));
        let down = if c.man_down { ", MAN DOWN" } else { "" };
        println!(
            "            {:<9} {:.5} N {:.5} E  as of t+{age:.0} s{heart}{down}",
            name(*i),
            p.lat.to_f64(),
            p.lon.to_f64()
        );
    }
    for (id, p) in &o.tracks {
        let (lat, lon) = (p.lat.to_f64(), p.lon.to_f64());
        println!(
            "            track {id} {lat:.5} N {lon:.5} E  hostile, from {}",
            name(UAV)
        );
    }
    let compromise = match &o.quarantined {
        Some((t, why)) => format!(
            "{} quarantined at t+{:.1} s ({why}); its next handshake refused ({})",
            name(COMPROMISED),
            since_start(*t),
            o.rejoin_refused.as_deref().unwrap_or("not tried")
        ),
        None => "none contraindicated".into(),
    };
    println!(
        "attestation {} re-attestations in session affirming",
        o.reattested
    );
    println!("            {compromise}");
    let (issued, bytes) = o.revocation.unwrap_or_default();
    let spread = (o.merged.values().max()).map_or(String::new(), |last| {
        format!(
            " within {:.0?} of its issue",
            last.saturating_duration_since(issued)
        )
    });
    println!(
        "revocation  {} B delta merged by {} of {others} devices{spread}\n            \
         afterwards {} refused by {} of {others}; {} of {} trust stores hold the revocation",
        bytes,
        o.merged.len(),
        name(COMPROMISED),
        o.refused_revoked.len(),
        o.revoked_in_store.len(),
        o.names.len()
    );
}
