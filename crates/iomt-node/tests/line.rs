//! Nodes in a line A-B-C-D in the simulator: frames cross three hops in an EDHOC session keyed
//! on the verified identity, relays cannot read them, and sends that cannot be delivered say
//! why.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::as_conversions,
    missing_docs,
    reason = "test code: a failed step stops the test where it happened"
)]

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use iomt_identity::TrustState;
use iomt_identity::{Algorithm, Revocation, RevocationDelta, RevocationReason, RevocationTarget};
use iomt_mesh::{InterfaceConfig, MacKey};
use iomt_node::{Event, Node, NodeConfig, ReattestError, ReattestFailure, SendError, SendFailure};
use iomt_schema::rand::SeededRandom;
use iomt_schema::{DeviceId, Instant, Timestamp};
use iomt_sim::{Action, Boot, LinkParams, Metrics, Mobility, NodeId, Observer, Point, Received};
use iomt_sim::{Seed, Simulator};
use iomt_testkit::{
    Hardware, MeshInput, MissionFixture, TestDevice, link_local, platform, position_report,
    sim_transmit,
};
use iomt_transport::BackhaulPolicy;

/// A node on the simulated network, and every packet it put on the air.
struct SimNode {
    node: Node,
    me: NodeId,
    sent: Vec<Vec<u8>>,
}

impl iomt_sim::Node for SimNode {
    type Event = Event;

    fn handle_input(&mut self, now: Instant, p: Received<'_>) {
        let m = MeshInput::of(self.me, &p);
        let _ = self
            .node
            .handle_input(now, m.iface, m.channel, m.from, m.to, p.data);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.node.handle_timeout(now);
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<iomt_sim::Transmit> {
        let t = self.node.poll_transmit(now, buf)?;
        self.sent.push(buf[..t.len].to_vec());
        Some(sim_transmit(t))
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.node.poll_event()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.node.poll_timeout()
    }
}

#[derive(Default)]
struct Log(Vec<(Instant, NodeId, Event)>);

impl Observer<SimNode> for Log {
    fn on_event(&mut self, now: Instant, node: NodeId, event: Event, _: &mut Metrics) {
        self.0.push((now, node, event));
    }
}

impl Log {
    fn of(&self, node: u32) -> impl Iterator<Item = &Event> {
        self.0
            .iter()
            .filter(move |(_, n, _)| n.0 == node)
            .map(|(_, _, e)| e)
    }
}

fn at(secs: u64) -> Instant {
    Instant::ZERO + Duration::from_secs(secs)
}

/// `n` enrolled devices (and one more that never joins the network), wired in a line.
struct Line {
    sim: Simulator<SimNode>,
    devices: Vec<DeviceId>,
    stranger: DeviceId,
    fixture: Rc<MissionFixture>,
    /// Each device's hardware: what its evidence measures.
    hardware: Vec<Arc<Hardware>>,
}

fn line(n: u32, tweak: fn(&mut NodeConfig)) -> Line {
    line_with(n, None, tweak)
}

/// As [`line`], with node `outsider` enrolled by another mission's authority (it holds the
/// radio key, as a captured radio would, but no credential this mission accepts).
fn line_with(n: u32, outsider: Option<u32>, tweak: fn(&mut NodeConfig)) -> Line {
    let fixture = Rc::new(MissionFixture::seeded(7));
    let other = Rc::new(MissionFixture::seeded(8));
    let enrolled: Rc<Vec<(TestDevice, Rc<MissionFixture>)>> = Rc::new(
        (0..=n)
            .map(|i| {
                let f = if outsider == Some(i) {
                    &other
                } else {
                    &fixture
                };
                (f.enrol(Algorithm::Ed25519, 3_600_000), f.clone())
            })
            .collect(),
    );
    let devices = enrolled[..n as usize]
        .iter()
        .map(|(d, _)| d.key.public_key().device_id())
        .collect();
    let stranger = enrolled[n as usize].0.key.public_key().device_id();
    let hardware: Vec<Arc<Hardware>> = enrolled
        .iter()
        .map(|(d, _)| Arc::new(Hardware::new(d.key.clone(), platform())))
        .collect();
    let (e, hw) = (enrolled.clone(), hardware.clone());
    let factory = move |boot: Boot| {
        let (device, f) = &e[boot.node.index()];
        let creds = f
            .credentials(device)
            .with_attester(hw[boot.node.index()].attester());
        let policy = BackhaulPolicy::new(creds.trust_store().clone())
            .require_fresh_evidence(f.mission_authority.verifier());
        let creds = Arc::new(creds);
        let mut config = NodeConfig::new(device.key.public_key().short_id());
        tweak(&mut config);
        let rng = Arc::new(SeededRandom::new(boot.seed));
        let mut node = Node::new(config, creds, boot.now, rng)
            .unwrap()
            .with_attestation_policy(Arc::new(policy));
        let links = usize::from(boot.node.0 > 0) + usize::from(boot.node.0 + 1 < n);
        for _ in 0..links {
            let iface = InterfaceConfig::wired(link_local(boot.node));
            // The mission's RFC 8967 key: routing and datagrams are authenticated hop by hop.
            let keys = vec![MacKey::hmac_sha256(&[7; 32])];
            node.add_interface(boot.now, iface, keys).unwrap();
        }
        SimNode {
            node,
            me: boot.node,
            sent: Vec::new(),
        }
    };
    let mut sim = Simulator::new(Seed(11), factory);
    for i in 0..n {
        sim.add_node(Mobility::Static(Point::new(f64::from(i), 0.0)));
    }
    for i in 1..n {
        sim.add_link(NodeId(i - 1), NodeId(i), LinkParams::default());
    }
    Line {
        sim,
        devices,
        stranger,
        fixture,
        hardware,
    }
}

/// Runs `f` on node `node` at `t`, and keeps what it returned.
fn call<T: 'static>(
    sim: &mut Simulator<SimNode>,
    t: Instant,
    node: u32,
    f: impl FnOnce(&mut Node, Instant) -> T + 'static,
) -> Rc<RefCell<Option<T>>> {
    let out = Rc::new(RefCell::new(None));
    let slot = out.clone();
    sim.call(t, NodeId(node), move |n, now| {
        *slot.borrow_mut() = Some(f(&mut n.node, now));
    });
    out
}

#[test]
fn a_frame_crosses_three_hops_in_a_session_relays_cannot_read() {
    let Line {
        mut sim, devices, ..
    } = line(4, |_| {});
    let (a, d) = (devices[0], devices[3]);
    let frame = position_report(a, 1);
    let plain = frame.to_vec().unwrap();
    let sent = {
        let frame = frame.clone();
        call(&mut sim, at(40), 0, move |n, now| n.send(now, d, &frame))
    };
    let mut log = Log::default();
    sim.run_until(at(60), &mut log).unwrap();
    assert_eq!(sent.borrow_mut().take(), Some(Ok(())));

    let received: Vec<_> = log
        .of(3)
        .filter_map(|e| match e {
            Event::Received {
                from,
                trust,
                hops,
                frame,
            } => Some((*from, *trust, *hops, frame.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        received,
        [(a, iomt_identity::TrustState::Trusted, 3, frame)],
        "D got the frame once, from A as the handshake verified it, over three hops"
    );
    assert!(log.of(0).any(|e| matches!(
        e,
        Event::SessionUp { peer, initiator: true, .. } if *peer == d
    )));
    assert!(log.of(3).any(|e| matches!(
        e,
        Event::SessionUp { peer, initiator: false, .. } if *peer == a
    )));
    // The relays saw nothing in a session, and what they forwarded never carries the frame in
    // the clear.
    for relay in [1, 2] {
        assert!(!log.of(relay).any(|e| matches!(e, Event::Received { .. })));
        let node = sim.node(NodeId(relay)).unwrap();
        assert!(!node.sent.is_empty());
        assert!(
            !node
                .sent
                .iter()
                .any(|p| p.windows(plain.len()).any(|w| w == plain)),
            "relay {relay} forwarded the frame in the clear"
        );
        assert!(node.node.peers().is_empty(), "a relay holds no session");
    }
    let status = sim.node(NodeId(0)).unwrap().node.peers();
    assert_eq!(status.len(), 1);
    assert!(status[0].established && status[0].device == d && status[0].queued == 0);
}

#[test]
fn sends_that_cannot_leave_say_why() {
    let Line {
        mut sim,
        devices,
        stranger,
        ..
    } = line(4, |c| c.max_queued_frames = 2);
    let (a, d) = (devices[0], devices[3]);
    let to_self = call(&mut sim, at(40), 0, move |n, now| {
        n.send(now, a, &position_report(a, 1))
    });
    let no_route = call(&mut sim, at(40), 0, move |n, now| {
        n.send(now, stranger, &position_report(a, 1))
    });
    // The session to D is not up yet: two frames wait, the third is refused.
    let queued = call(&mut sim, at(40), 0, move |n, now| {
        (1..=3)
            .map(|seq| n.send(now, d, &position_report(a, seq)))
            .collect::<Vec<_>>()
    });
    sim.run_until(at(60), &mut ()).unwrap();
    assert_eq!(to_self.borrow_mut().take(), Some(Err(SendError::ToSelf)));
    assert_eq!(
        no_route.borrow_mut().take(),
        Some(Err(SendError::NoRoute(stranger.short())))
    );
    assert_eq!(
        queued.borrow_mut().take(),
        Some(vec![Ok(()), Ok(()), Err(SendError::QueueFull(2))])
    );
}

#[test]
fn frames_waiting_for_a_session_that_never_comes_are_reported() {
    let Line {
        mut sim, devices, ..
    } = line(4, |c| c.endpoint.max_retransmits = 2);
    let (a, d) = (devices[0], devices[3]);
    // The last link goes silent just before A sends: routes still point at D for a while,
    // the handshake gets no answer, and the waiting frames fail with the session.
    sim.schedule(at(39), Action::CutPair(NodeId(2), NodeId(3)));
    let sent = call(&mut sim, at(40), 0, move |n, now| {
        [
            n.send(now, d, &position_report(a, 1)),
            n.send(now, d, &position_report(a, 2)),
        ]
    });
    let mut log = Log::default();
    sim.run_until(at(300), &mut log).unwrap();
    assert_eq!(sent.borrow_mut().take(), Some([Ok(()), Ok(())]));
    let failed: Vec<_> = log
        .of(0)
        .filter_map(|e| match e {
            Event::SendFailed {
                dest,
                frames,
                reason,
            } => Some((*dest, *frames, reason.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!((failed[0].0, failed[0].1), (d, 2));
    assert!(matches!(failed[0].2, SendFailure::Session(_)), "{failed:?}");
    assert!(
        log.of(0)
            .any(|e| matches!(e, Event::SessionClosed { peer, .. } if *peer == d))
    );
    assert!(!log.of(3).any(|e| matches!(e, Event::Received { .. })));
    assert!(sim.node(NodeId(0)).unwrap().node.peers().is_empty());
}

#[test]
fn a_revocation_closes_the_session_and_refuses_later_sends() {
    let Line {
        mut sim,
        devices,
        fixture,
        ..
    } = line(3, |_| {});
    let (a, c) = (devices[0], devices[2]);
    let first = call(&mut sim, at(40), 0, move |n, now| {
        n.send(now, c, &position_report(a, 1))
    });
    let delta = RevocationDelta {
        sequence: 1,
        entries: vec![Revocation {
            target: RevocationTarget::Device(c),
            reason: RevocationReason::Contraindicated,
            at: Timestamp::from_millis(fixture.t0 + 50_000).unwrap(),
        }],
    }
    .sign(&*fixture.authority)
    .unwrap();
    let merged = call(&mut sim, at(50), 0, move |n, now| {
        let merged = n.apply_revocation(now, &delta);
        (
            merged,
            n.send(now, c, &position_report(a, 2)),
            n.peers().len(),
        )
    });
    let mut log = Log::default();
    sim.run_until(at(60), &mut log).unwrap();
    assert_eq!(first.borrow_mut().take(), Some(Ok(())));
    assert!(
        log.of(2)
            .any(|e| matches!(e, Event::Received { from, .. } if *from == a))
    );
    let (merged, later, peers) = merged.borrow_mut().take().unwrap();
    assert_eq!(merged, Ok(1));
    assert_eq!(later, Err(SendError::Revoked(c)));
    assert_eq!(peers, 0, "the revoked peer's session is gone");
    assert!(
        log.of(0)
            .any(|e| matches!(e, Event::PeerRevoked { peer } if *peer == c))
    );
}

#[test]
fn a_device_of_another_mission_gets_no_session_either_way() {
    let Line {
        mut sim, devices, ..
    } = line_with(3, Some(2), |_| {});
    let (a, x) = (devices[0], devices[2]);
    // A asks for the outsider: its credential verifies against no authority A trusts, after
    // its signature did, so the refusal is final at once.
    let to_outsider = call(&mut sim, at(40), 0, move |n, now| {
        n.send(now, x, &position_report(a, 1))
    });
    // The outsider asks for A: A's verifier refuses it before anything is delivered.
    let from_outsider = call(&mut sim, at(80), 2, move |n, now| {
        n.send(now, a, &position_report(x, 1))
    });
    let mut log = Log::default();
    sim.run_until(at(200), &mut log).unwrap();
    assert_eq!(to_outsider.borrow_mut().take(), Some(Ok(())));
    assert_eq!(from_outsider.borrow_mut().take(), Some(Ok(())));
    assert!(
        !log.0
            .iter()
            .any(|(_, _, e)| matches!(e, Event::Received { .. } | Event::SessionUp { .. })),
        "no session and no frame, either way"
    );
    assert!(log.of(0).any(|e| matches!(
        e,
        Event::SendFailed { dest, frames: 1, reason: SendFailure::Session(_) } if *dest == x
    )));
    assert!(
        log.of(0).any(|e| matches!(
            e,
            Event::Refused { address, .. } if *address == x.short()
        )),
        "A reports the refused handshake, naming only the address it claimed"
    );
    assert!(log.of(2).any(|e| matches!(
        e,
        Event::SendFailed { dest, frames: 1, .. } if *dest == a
    )));
}

#[test]
fn a_peer_whose_firmware_changed_is_quarantined_in_its_session() {
    let Line {
        mut sim,
        devices,
        hardware,
        ..
    } = line(3, |_| {});
    let (a, c) = (devices[0], devices[2]);
    let unknown = call(&mut sim, at(39), 0, move |n, now| n.reattest(now, c));
    let sent = call(&mut sim, at(40), 0, move |n, now| {
        n.send(now, c, &position_report(a, 1))
    });
    // Healthy: the peer attests again with fresh evidence over the session.
    let first = call(&mut sim, at(50), 0, move |n, now| n.reattest(now, c));
    // Its application image changes; the next re-attestation quarantines it, in place.
    let flashed = hardware[2].clone();
    sim.call(at(60), NodeId(2), move |_, _| {
        flashed.flash("app", b"implant")
    });
    let second = call(&mut sim, at(70), 0, move |n, now| n.reattest(now, c));
    let after = call(&mut sim, at(80), 2, move |n, now| {
        n.send(now, a, &position_report(c, 2))
    });
    let mut log = Log::default();
    sim.run_until(at(90), &mut log).unwrap();
    assert_eq!(
        unknown.borrow_mut().take(),
        Some(Err(ReattestError::NoSession(c)))
    );
    assert_eq!(sent.borrow_mut().take(), Some(Ok(())));
    assert_eq!(first.borrow_mut().take(), Some(Ok(())));
    assert_eq!(second.borrow_mut().take(), Some(Ok(())));
    assert_eq!(after.borrow_mut().take(), Some(Ok(())));
    let outcomes: Vec<_> = log
        .of(0)
        .filter(|e| matches!(e, Event::Reattested { .. } | Event::Quarantined { .. }))
        .collect();
    assert!(
        matches!(
            outcomes[..],
            [
                Event::Reattested {
                    trust: TrustState::Trusted,
                    fresh_evidence: true,
                    ..
                },
                Event::Quarantined {
                    reason: ReattestFailure::Attestation(_),
                    ..
                },
            ]
        ),
        "{outcomes:?}"
    );
    // The quarantined peer's frames still arrive, marked as such.
    let trust: Vec<_> = log
        .of(0)
        .filter_map(|e| match e {
            Event::Received { from, trust, .. } if *from == c => Some(*trust),
            _ => None,
        })
        .collect();
    assert_eq!(trust, [TrustState::Quarantined]);
}

#[test]
fn a_peer_that_never_answers_is_quarantined_after_its_tries() {
    let Line {
        mut sim, devices, ..
    } = line(3, |c| c.reattest_tries = 2);
    let (a, c) = (devices[0], devices[2]);
    let sent = call(&mut sim, at(40), 0, move |n, now| {
        n.send(now, c, &position_report(a, 1))
    });
    // The peer's side of the session is gone, silently: nothing answers in it any more.
    sim.call(at(49), NodeId(2), move |n, _| n.node.close(a));
    let asked = call(&mut sim, at(50), 0, move |n, now| n.reattest(now, c));
    let mut log = Log::default();
    sim.run_until(at(90), &mut log).unwrap();
    assert_eq!(sent.borrow_mut().take(), Some(Ok(())));
    assert_eq!(asked.borrow_mut().take(), Some(Ok(())));
    let quarantined: Vec<_> = log
        .0
        .iter()
        .filter_map(|(t, n, e)| match e {
            Event::Quarantined { peer, reason } if n.0 == 0 => Some((*t, *peer, reason.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(quarantined.len(), 1, "{quarantined:?}");
    let (t, peer, reason) = &quarantined[0];
    assert_eq!((*peer, reason), (c, &ReattestFailure::NoAnswer(2)));
    assert_eq!(*t, at(70), "two requests, ten seconds each");
}
