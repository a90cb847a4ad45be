//! The simulator's behaviour through its public API: determinism, media, actions, scale.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::as_conversions,
    reason = "test code: a failed step stops the test where it happened"
)]

use std::collections::BTreeSet;
use std::time::Duration;

use iomt_schema::{Instant, Precedence};
use iomt_sim::*;
use rand_core::Rng;

/// Broadcasts a beacon carrying its id on every interface each `period` (with seeded jitter),
/// remembers whom it heard, and can be told to send one unicast packet.
struct Beacon {
    id: NodeId,
    ifaces: u16,
    period: Duration,
    next: Instant,
    rng: SimRng,
    heard: BTreeSet<NodeId>,
    received: Vec<(Instant, NodeId, usize)>,
    outbox: Vec<Out>,
    events: Vec<u32>,
}

impl Beacon {
    fn new(boot: Boot, ifaces: u16, period: Duration) -> Self {
        let mut rng = Seed(boot.seed).stream(Purpose::Node, 0);
        let jitter = below(&mut rng, u64::try_from(period.as_nanos()).unwrap());
        Self {
            id: boot.node,
            ifaces,
            period,
            next: boot.now + Duration::from_nanos(jitter),
            rng,
            heard: BTreeSet::new(),
            received: Vec::new(),
            outbox: Vec::new(),
            events: Vec::new(),
        }
    }
}

/// A packet waiting in a beacon's outbox.
struct Out {
    iface: IfaceId,
    destination: Destination,
    kind: Class,
    data: Vec<u8>,
}

impl Node for Beacon {
    type Event = u32;

    fn handle_input(&mut self, now: Instant, packet: Received<'_>) {
        self.heard.insert(packet.from);
        self.received.push((now, packet.from, packet.data.len()));
        if packet.kind == Class::Data {
            self.events
                .push(u32::from_be_bytes(packet.data[..4].try_into().unwrap()));
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if now >= self.next {
            for iface in 0..self.ifaces {
                self.outbox.push(Out {
                    iface: IfaceId(iface),
                    destination: Destination::Broadcast,
                    kind: Class::Control,
                    data: self.id.0.to_be_bytes().to_vec(),
                });
            }
            let jitter = below(&mut self.rng, 1_000_000);
            self.next = now + self.period + Duration::from_nanos(jitter);
        }
    }

    fn poll_transmit(&mut self, _: Instant, buf: &mut Vec<u8>) -> Option<Transmit> {
        let out = self.outbox.pop()?;
        buf.clear();
        buf.extend_from_slice(&out.data);
        Some(Transmit {
            iface: out.iface,
            destination: out.destination,
            kind: out.kind,
            len: buf.len(),
        })
    }

    fn poll_timeout(&self) -> Option<Instant> {
        Some(self.next)
    }

    fn poll_event(&mut self) -> Option<u32> {
        self.events.pop()
    }
}

fn line(seed: u64, n: u32, params: LinkParams) -> Simulator<Beacon> {
    let mut sim = Simulator::new(Seed(seed), move |boot: Boot| {
        let ifaces = if boot.node.0 == 0 || boot.node.0 == n - 1 {
            1
        } else {
            2
        };
        Beacon::new(boot, ifaces, Duration::from_secs(1))
    });
    for i in 0..n {
        sim.add_node(Mobility::Static(Point::new(f64::from(i) * 10.0, 0.0)));
    }
    for i in 1..n {
        sim.add_link(NodeId(i - 1), NodeId(i), params);
    }
    sim
}

fn lossy_radio_run(seed: u64) -> (u64, u64) {
    let mut sim = Simulator::new(Seed(seed), |boot: Boot| {
        Beacon::new(boot, 1, Duration::from_millis(500))
    });
    let radio = sim.add_radio(RadioParams {
        range: 150.0,
        delay: Duration::from_micros(300),
        bandwidth_bps: 250_000,
        mtu: 255,
        loss: Loss::GilbertElliott {
            good_to_bad: 0.05,
            bad_to_good: 0.3,
            loss_good: 0.05,
            loss_bad: 0.8,
        },
    });
    for _ in 0..20 {
        let n = sim.add_node(Mobility::RandomWaypoint(RandomWaypoint {
            min: Point::new(0.0, 0.0),
            max: Point::new(400.0, 400.0),
            min_speed: 1.0,
            max_speed: 10.0,
            pause: Duration::from_secs(1),
            warmup: Duration::from_secs(300),
        }));
        sim.attach(n, radio);
    }
    sim.run_for(Duration::from_secs(30), &mut ()).unwrap();
    (sim.digest(), sim.events())
}

#[test]
fn same_seed_same_trace() {
    let a = lossy_radio_run(11);
    assert_eq!(a, lossy_radio_run(11));
    assert_ne!(a.0, lossy_radio_run(12).0, "the seed matters");
    // Pinned: a change here means traces of existing scenarios changed (RNG, ordering, media).
    assert_eq!(a.0, 4_056_555_380_859_021_521);
}

#[test]
fn link_delay_bandwidth_and_mtu() {
    let params = LinkParams {
        delay: Duration::from_millis(5),
        bandwidth_bps: 1_000_000,
        mtu: 1300,
        loss: Loss::None,
    };
    let mut sim = line(1, 2, params);
    let send = |len: usize| {
        move |n: &mut Beacon, _: Instant| {
            n.outbox.push(Out {
                iface: IfaceId(0),
                destination: Destination::Unicast(NodeId(1)),
                kind: Class::Data,
                data: vec![0; len],
            })
        }
    };
    let t0 = Instant::from_nanos(10_000_000_000);
    sim.run_until(t0, &mut ()).unwrap();
    sim.node_mut(NodeId(1)).unwrap().received.clear();
    // Two 1250-byte packets take 10 ms each to serialise at 1 Mbit/s, then 5 ms to propagate.
    sim.call(t0, NodeId(0), send(1250));
    sim.call(t0, NodeId(0), send(1250));
    sim.call(t0, NodeId(0), send(1301));
    sim.run_until(t0 + Duration::from_millis(100), &mut ())
        .unwrap();
    let got: Vec<(Duration, usize)> = sim
        .node(NodeId(1))
        .unwrap()
        .received
        .iter()
        .filter(|r| r.2 > 4)
        .map(|r| (r.0.saturating_duration_since(t0), r.2))
        .collect();
    assert_eq!(
        got,
        vec![
            (Duration::from_millis(15), 1250),
            (Duration::from_millis(25), 1250)
        ]
    );
    assert_eq!(sim.metrics().drops.oversize, 1);
    assert_eq!(sim.metrics().node_traffic(NodeId(0)).data.packets, 3);
}

#[test]
fn cuts_partitions_crashes_and_reboots() {
    let mut sim = line(2, 4, LinkParams::default());
    let at = |s: u64| Instant::ZERO + Duration::from_secs(s);
    sim.schedule(at(5), Action::CutLink(LinkId(1)));
    sim.schedule(at(10), Action::RestoreLink(LinkId(1)));
    sim.schedule(at(15), Action::Partition(vec![vec![NodeId(0), NodeId(1)]]));
    sim.schedule(at(20), Action::Merge);
    sim.schedule(at(25), Action::Crash(NodeId(3)));
    sim.schedule(at(30), Action::Reboot(NodeId(3)));

    let heard_between = |sim: &Simulator<Beacon>, node: u32, from: u32, a: u64, b: u64| {
        sim.node(NodeId(node))
            .unwrap()
            .received
            .iter()
            .filter(|r| r.1 == NodeId(from) && r.0 > at(a) && r.0 <= at(b))
            .count()
    };
    sim.run_until(at(9), &mut ()).unwrap();
    assert!(sim.topology().neighbours(NodeId(1)) == [NodeId(0)]);
    assert_eq!(
        heard_between(&sim, 2, 1, 6, 9),
        0,
        "cut link carries nothing"
    );
    assert!(heard_between(&sim, 2, 3, 6, 9) >= 2);
    sim.run_until(at(19), &mut ()).unwrap();
    assert!(heard_between(&sim, 2, 1, 11, 14) >= 2, "restored");
    assert_eq!(heard_between(&sim, 2, 1, 16, 19), 0, "partitioned");
    assert!(
        heard_between(&sim, 1, 0, 16, 19) >= 2,
        "same side still talks"
    );
    assert!(!sim.topology().is_connected());
    sim.run_until(at(29), &mut ()).unwrap();
    assert!(heard_between(&sim, 2, 1, 21, 24) >= 2, "merged");
    assert!(!sim.is_up(NodeId(3)));
    assert_eq!(
        heard_between(&sim, 2, 3, 26, 29),
        0,
        "crashed node is silent"
    );
    assert!(sim.metrics().drops.unreachable > 0);
    sim.run_until(at(35), &mut ()).unwrap();
    let rebooted = sim.node(NodeId(3)).unwrap();
    assert!(
        rebooted.received.iter().all(|r| r.0 >= at(30)),
        "fresh state"
    );
    assert!(heard_between(&sim, 2, 3, 30, 35) >= 3);
}

#[test]
fn bernoulli_link_loss_rate() {
    let params = LinkParams {
        loss: Loss::Bernoulli { p: 0.3 },
        ..LinkParams::default()
    };
    let mut sim = line(3, 2, params);
    sim.run_for(Duration::from_secs(2000), &mut ()).unwrap();
    let d = sim.metrics().drops;
    let sent = sim.metrics().node_traffic(NodeId(0)).control.packets
        + sim.metrics().node_traffic(NodeId(1)).control.packets;
    #[allow(clippy::cast_precision_loss)]
    let rate = d.lost as f64 / sent as f64;
    assert!((rate - 0.3).abs() < 0.03, "{rate}");
}

#[test]
fn observer_sees_events_and_stops_on_violation() {
    struct Watch {
        checks: u64,
        limit: Instant,
    }
    impl Observer<Beacon> for Watch {
        fn on_event(&mut self, now: Instant, _: NodeId, event: u32, metrics: &mut Metrics) {
            metrics.message_delivered(u64::from(event), now);
        }
        fn check(&mut self, sim: &Simulator<Beacon>) -> Result<(), String> {
            self.checks += 1;
            if sim.now() > self.limit {
                return Err("too late".into());
            }
            Ok(())
        }
    }
    let mut sim = line(4, 2, LinkParams::default());
    sim.metrics_mut()
        .message_sent(7, Precedence::Flash, Instant::ZERO);
    sim.call(Instant::ZERO, NodeId(0), |n, _| {
        n.outbox.push(Out {
            iface: IfaceId(0),
            destination: Destination::Broadcast,
            kind: Class::Data,
            data: 7u32.to_be_bytes().to_vec(),
        })
    });
    let mut watch = Watch {
        checks: 0,
        limit: Instant::ZERO + Duration::from_secs(3),
    };
    let err = sim
        .run_for(Duration::from_secs(10), &mut watch)
        .unwrap_err();
    assert!(err.at > watch.limit && err.message == "too late");
    assert!(watch.checks > 4);
    assert_eq!(
        sim.metrics().delivery_ratio(Some(Precedence::Flash)),
        Some(1.0)
    );
    assert_eq!(
        sim.metrics().latency_percentile(None, 0.5),
        Some(Duration::from_millis(1) + Duration::from_nanos(3_200))
    );
}

#[test]
fn group_and_path_mobility_move_nodes_together() {
    let mut sim = Simulator::new(Seed(5), |boot: Boot| {
        Beacon::new(boot, 1, Duration::from_secs(1))
    });
    let uav = Path::orbit(
        Point::new(0.0, 0.0),
        500.0,
        100.0,
        Duration::from_secs(120),
        24,
    );
    let squad = sim.add_group(Mobility::Path(uav.clone()));
    let a = sim.add_node(Mobility::Group {
        group: squad,
        offset: Point::new(0.0, 0.0),
    });
    let b = sim.add_node(Mobility::Group {
        group: squad,
        offset: Point::new(20.0, 0.0),
    });
    let c = sim.add_node(Mobility::Path(uav.delayed(Duration::from_secs(60))));
    sim.run_for(Duration::from_secs(30), &mut ()).unwrap();
    let (pa, pb, pc) = (
        sim.position(a).unwrap(),
        sim.position(b).unwrap(),
        sim.position(c).unwrap(),
    );
    assert!((pa.distance(pb) - 20.0).abs() < 1e-6);
    assert!(
        pa.distance(Point::new(500.0, 0.0)) > 400.0,
        "the squad moved"
    );
    assert!(
        pc.distance(Point {
            x: 500.0,
            y: 0.0,
            z: 100.0
        }) < 1e-6,
        "convoy vehicle waits"
    );
}

/// A thousand nodes with random-waypoint mobility on one radio, one simulated minute, on the
/// one thread the simulator has: every node hears exactly the neighbours the ground truth says
/// are in range (lossless radio, static after warm-up pause).
#[test]
fn thousand_nodes_on_one_core() {
    let mut sim = Simulator::new(Seed(1000), |boot: Boot| {
        Beacon::new(boot, 1, Duration::from_secs(2))
    });
    let radio = sim.add_radio(RadioParams {
        range: 120.0,
        delay: Duration::from_micros(200),
        bandwidth_bps: 1_000_000,
        mtu: 255,
        loss: Loss::Bernoulli { p: 0.05 },
    });
    for _ in 0..1000 {
        let n = sim.add_node(Mobility::RandomWaypoint(RandomWaypoint {
            min: Point::new(0.0, 0.0),
            max: Point::new(3000.0, 3000.0),
            min_speed: 0.5,
            max_speed: 3.0,
            pause: Duration::from_secs(5),
            warmup: Duration::from_secs(120),
        }));
        sim.attach(n, radio);
    }
    sim.set_mobility_step(Duration::from_millis(500));
    sim.run_for(Duration::from_secs(60), &mut ()).unwrap();
    let topo = sim.topology();
    let with_neighbours = (0..1000)
        .filter(|i| !topo.neighbours(NodeId(*i)).is_empty())
        .count();
    assert!(with_neighbours > 500, "{with_neighbours}");
    // Each node heard (at some point in the minute) most of its current neighbours.
    let mut current = 0;
    let mut heard = 0;
    for i in 0..1000 {
        let n = sim.node(NodeId(i)).unwrap();
        for nb in topo.neighbours(NodeId(i)) {
            current += 1;
            heard += usize::from(n.heard.contains(nb));
        }
    }
    assert!(heard * 10 >= current * 9, "{heard} of {current}");
    let (pps, _) = sim.metrics().control_rate(1000, sim.now());
    assert!((0.45..0.55).contains(&pps), "{pps}");
}

#[test]
fn streams_do_not_interfere() {
    let sim = Simulator::new(Seed(9), |boot: Boot| {
        Beacon::new(boot, 1, Duration::from_secs(1))
    });
    let mut traffic = sim.stream(Purpose::Traffic, 0);
    let mut again = Seed(9).stream(Purpose::Traffic, 0);
    assert_eq!(traffic.next_u64(), again.next_u64());
}
