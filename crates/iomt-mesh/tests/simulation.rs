//! Deterministic simulations of `iomt-mesh` routers in `iomt-sim`, with the loop-freedom
//! oracle checked after every event.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::as_conversions,
    reason = "test code: a failed step stops the test where it happened"
)]

mod common;

use std::time::Duration;

use common::*;
use iomt_mesh::{InterfaceConfig, Prefix};
use iomt_schema::Precedence;
use iomt_sim::{LinkParams, NodeId};

#[test]
fn line_ring_and_grid_converge_to_shortest_paths() {
    let line: Vec<(u32, u32)> = (0..7).map(|i| (i, i + 1)).collect();
    let ring: Vec<(u32, u32)> = (0..10).map(|i| (i, (i + 1) % 10)).collect();
    for (name, n, links) in [
        ("line", 8, line),
        ("ring", 10, ring),
        ("grid", 25, grid_links(5, 5)),
    ] {
        let mut sim = wired(
            1,
            n,
            &links,
            LinkParams::default(),
            InterfaceConfig::wired,
            |_, _| {},
        );
        let mut oracle = Oracle::default();
        sim.run_until(at(30.0), &mut oracle).unwrap();
        let (pairs, max, missing) = stretch_stats(&sim).unwrap();
        println!(
            "{name}: {pairs} pairs, max stretch {max}, {missing} missing, {} checks",
            oracle.checks
        );
        assert_eq!(missing, 0, "{name}");
        assert_eq!(pairs, (n * (n - 1)) as usize, "{name}");
        assert_eq!(max, 1.0, "{name}: stretch");
    }
}

/// The target: after a silent cut of a link on the best path of a 10x10 grid,
/// traffic flows again within two Hello intervals (8 s with babeld's default 4 s). The cut
/// falls at four phases of the Hello cycle; the worst gap counts.
#[test]
fn grid_10x10_link_cut_recovers_within_two_hello_intervals() {
    let links = grid_links(10, 10);
    let mut worst = Duration::ZERO;
    for (run, phase_ms) in [300u64, 1300, 2300, 3300].into_iter().enumerate() {
        let mut sim = wired(
            7 + run as u64,
            100,
            &links,
            LinkParams::default(),
            InterfaceConfig::wired,
            |_, _| {},
        );
        let mut oracle = Oracle::default();
        sim.run_until(at(60.0), &mut oracle).unwrap();
        assert!(shortest_everywhere(&sim));
        let (src, dst) = (NodeId(0), NodeId(99));
        // A datagram every 50 ms from corner to corner.
        traffic(
            &mut sim,
            src,
            dst,
            at(60.0),
            Duration::from_millis(50),
            1200,
            0,
            Precedence::Immediate,
        );
        sim.run_until(at(70.0), &mut oracle).unwrap();
        // Cut the link after the third hop of the current path.
        let mut cur = src;
        for _ in 0..3 {
            let (_, via) = sim.node(cur).unwrap().router.next_hop(short(dst)).unwrap();
            cur = common::node_of(via);
        }
        let (_, via) = sim.node(cur).unwrap().router.next_hop(short(dst)).unwrap();
        let next = common::node_of(via);
        let link = links
            .iter()
            .position(|&(a, b)| (a, b) == (cur.0.min(next.0), cur.0.max(next.0)))
            .unwrap();
        let cut_at = at(70.0) + Duration::from_millis(phase_ms);
        sim.schedule(cut_at, iomt_sim::Action::CutLink(iomt_sim::LinkId(link)));
        sim.run_until(at(130.0), &mut oracle).unwrap();
        // The longest silence at the destination after the cut.
        let times: Vec<_> = oracle
            .deliveries
            .iter()
            .filter(|d| d.1 == dst && d.0 >= cut_at)
            .map(|d| d.0)
            .collect();
        let mut gap = times[0].saturating_duration_since(cut_at);
        for w in times.windows(2) {
            gap = gap.max(w[1].saturating_duration_since(w[0]));
        }
        println!(
            "10x10 grid: cut {}-{} at 70 s + {phase_ms} ms; longest delivery gap {gap:?}; delivery {:.3}",
            cur.0,
            next.0,
            sim.metrics().delivery_ratio(None).unwrap()
        );
        assert!(
            gap > Duration::from_secs(1),
            "the cut must be felt: {gap:?}"
        );
        assert!(shortest_everywhere(&sim), "reconverged to shortest paths");
        worst = worst.max(gap);
    }
    println!("10x10 grid: worst gap {worst:?} (target < 8 s = 2 Hello intervals)");
    assert!(worst < Duration::from_secs(8), "gap {worst:?}");
}

/// Babel's own arithmetic for the control traffic of one node in steady state, as babeld
/// sends it on wired interfaces with split horizon: per interface one packet per Hello
/// interval with a Hello (8 bytes) and every third time an IHU (16 bytes), and every update
/// interval a full dump of the routes not learned on that interface, one Update TLV per route
/// (12 bytes plus the prefix bytes left after compression against the previous prefix in the
/// packet, the router-id taken from the prefix), 4 bytes of header per packet of at most 1232
/// bytes.
/// Returns (packets, bytes) per second.
fn babel_arithmetic(
    sim: &iomt_sim::Simulator<MeshNode>,
    node: NodeId,
    hello: f64,
    update: f64,
) -> (f64, f64) {
    let router = &sim.node(node).unwrap().router;
    // babeld keeps its table sorted by prefix and dumps it in that order, as this router does.
    let mut routes = router.routes();
    routes.sort_by_key(|r| r.prefix);
    let (mut packets, mut bytes) = (0.0, 0.0);
    for iface in 0..sim.interfaces(node) {
        let iface = iomt_mesh::IfaceId(iface as u16);
        packets += 1.0 / hello;
        bytes += (4.0 + 8.0 + 16.0 / 3.0) / hello;
        let mut previous: Option<[u8; 16]> = None;
        let mut dump = 0usize;
        let mut dump_packets = 1usize;
        let mut in_packet = 0usize;
        for r in routes
            .iter()
            .filter(|r| r.next_hop.is_none_or(|(via, _)| via != iface))
        {
            let p = r.prefix.addr().octets();
            let omit = |previous: Option<[u8; 16]>| {
                previous.map_or(0, |d| {
                    d.iter().zip(p.iter()).take_while(|(a, b)| a == b).count()
                })
            };
            let mut tlv = 12 + 16 - omit(previous);
            if in_packet + tlv > 1232 - 4 {
                // A new packet starts without a default prefix.
                dump_packets += 1;
                in_packet = 0;
                tlv = 12 + 16;
            }
            in_packet += tlv;
            dump += tlv;
            previous = Some(p);
        }
        packets += dump_packets as f64 / update;
        bytes += (dump + 4 * dump_packets) as f64 / update;
    }
    (packets, bytes)
}

/// The target: steady-state control traffic per node no higher than Babel's own
/// arithmetic for the same intervals.
#[test]
fn grid_10x10_steady_state_control_traffic_within_babel_arithmetic() {
    let links = grid_links(10, 10);
    let mut sim = wired(
        8,
        100,
        &links,
        LinkParams::default(),
        InterfaceConfig::wired,
        |_, _| {},
    );
    sim.run_until(at(60.0), &mut ()).unwrap();
    assert!(shortest_everywhere(&sim));
    let window = 160.0;
    sim.metrics_mut().reset_traffic(at(60.0));
    sim.run_until(at(60.0 + window), &mut ()).unwrap();
    let (pps, bps) = sim.metrics().control_rate(100, sim.now());
    let (mut bp, mut bb) = (0.0, 0.0);
    for n in 0..100 {
        let (p, b) = babel_arithmetic(&sim, NodeId(n), 4.0, 16.0);
        bp += p / 100.0;
        bb += b / 100.0;
    }
    println!(
        "10x10 grid steady state per node: {pps:.3} packets/s, {bps:.1} bytes/s; \
         Babel arithmetic {bp:.3} packets/s, {bb:.1} bytes/s; ratio {:.3} packets, {:.3} bytes",
        pps / bp,
        bps / bb
    );
    assert!(bps <= bb * 1.01, "bytes {bps} > {bb}");
    assert!(pps <= bp * 1.01, "packets {pps} > {bp}");
}

/// Loop-freedom at every event while links flap, the network partitions and merges, and
/// every link loses 0-30 % of packets (ETX costs), on eight seeds. The path ETX finds is
/// judged on their mean: one seed's 300 datagrams over a path that loses most of them say more
/// about that run's loss draws and route flaps than about the metric.
#[test]
fn loop_free_under_cuts_partitions_merges_and_loss() {
    let ratios: Vec<f64> = (21..29).map(lossy_grid).collect();
    let mean = ratios.iter().sum::<f64>() / ratios.len() as f64;
    assert!(
        mean > 0.6,
        "ETX routing finds a good path: {mean:.2} of the best path's delivery ({ratios:.2?})"
    );
}

/// One seed of the lossy grid: checks loop-freedom and reconvergence, and returns the
/// delivery of the quiet window as a share of the best path's.
fn lossy_grid(seed: u64) -> f64 {
    use iomt_sim::{Action, LinkId, Loss, Purpose, below};
    let links = grid_links(6, 6);
    let mut sim = wired(
        seed,
        36,
        &links,
        LinkParams::default(),
        InterfaceConfig::wireless,
        |_, _| {},
    );
    let mut rng = sim.stream(Purpose::Adversary, 0);
    let mut loss = Vec::new();
    for l in 0..links.len() {
        let p = below(&mut rng, 31) as f64 / 100.0;
        loss.push(p);
        sim.schedule(
            at(0.0),
            Action::SetLinkLoss(LinkId(l), Loss::Bernoulli { p }),
        );
    }
    for k in 0..40 {
        let l = LinkId(below(&mut rng, links.len() as u64) as usize);
        let t = 60.0 + f64::from(k) * 7.3;
        sim.schedule(at(t), Action::CutLink(l));
        sim.schedule(at(t + 11.0), Action::RestoreLink(l));
    }
    let west: Vec<NodeId> = (0..36).filter(|i| i % 6 < 3).map(NodeId).collect();
    sim.schedule(at(150.0), Action::Partition(vec![west]));
    sim.schedule(at(220.0), Action::Merge);
    let mut oracle = Oracle::default();
    traffic(
        &mut sim,
        NodeId(0),
        NodeId(35),
        at(30.0),
        Duration::from_millis(500),
        600,
        0,
        Precedence::Routine,
    );
    // After the last restore: a quiet window to compare with the best possible path.
    traffic(
        &mut sim,
        NodeId(0),
        NodeId(35),
        at(370.0),
        Duration::from_millis(100),
        300,
        1_000_000,
        Precedence::Priority,
    );
    sim.run_until(at(410.0), &mut oracle)
        .unwrap_or_else(|v| panic!("loop-freedom violated: {v}"));
    let (pairs, max, missing) = stretch_stats(&sim).unwrap();
    // Datagrams have no link-layer retransmission, so a path delivers the product of its
    // links' success rates; the best path's product bounds what any routing can do.
    let mut best = vec![0.0f64; 36];
    best[0] = 1.0;
    for _ in 0..36 {
        for (l, &(a, b)) in links.iter().enumerate() {
            let ok = 1.0 - loss[l];
            let (a, b) = (a as usize, b as usize);
            best[b] = best[b].max(best[a] * ok);
            best[a] = best[a].max(best[b] * ok);
        }
    }
    let quiet = sim
        .metrics()
        .delivery_ratio(Some(Precedence::Priority))
        .unwrap();
    println!(
        "lossy 6x6, seed {seed}: {} checks, {} route changes, {pairs} pairs routed, {missing} \
         missing, max hop stretch {max:.2}; delivery overall {:?}, quiet window {quiet:.3} vs \
         best path {:.3}",
        oracle.checks,
        oracle.route_changes,
        sim.metrics().delivery_ratio(Some(Precedence::Routine)),
        best[35]
    );
    assert!(oracle.route_changes > 1000, "the network was disturbed");
    assert_eq!(missing, 0, "merged and reconverged");
    quiet / best[35]
}

/// Random-waypoint mobility on a lossy radio: loop-free at every event, and most traffic
/// delivered.
#[test]
fn loop_free_under_random_waypoint_mobility() {
    use iomt_sim::{Loss, Mobility, Point, RadioParams, RandomWaypoint};
    let rwp = Mobility::RandomWaypoint(RandomWaypoint {
        min: Point::new(0.0, 0.0),
        max: Point::new(1200.0, 1200.0),
        min_speed: 1.0,
        max_speed: 8.0,
        pause: Duration::from_secs(5),
        warmup: Duration::from_secs(300),
    });
    let params = RadioParams {
        range: 350.0,
        delay: Duration::from_millis(2),
        bandwidth_bps: 2_000_000,
        mtu: 1232,
        loss: Loss::Bernoulli { p: 0.1 },
    };
    let mut sim = radio(31, vec![rwp; 30], params, |ll| {
        InterfaceConfig::wireless(ll).with_hello_interval(Duration::from_secs(2))
    });
    for (k, (s, d)) in [(0, 29), (5, 17), (12, 3)].into_iter().enumerate() {
        traffic(
            &mut sim,
            NodeId(s),
            NodeId(d),
            at(30.0),
            Duration::from_millis(200),
            1300,
            k as u64 * 10_000,
            Precedence::Priority,
        );
    }
    let mut oracle = Oracle::default();
    sim.run_until(at(300.0), &mut oracle)
        .unwrap_or_else(|v| panic!("loop-freedom violated: {v}"));
    let m = sim.metrics();
    println!(
        "mobile 30 nodes: {} checks, {} route changes, delivery {:?}, p50 {:?}, p99 {:?}",
        oracle.checks,
        oracle.route_changes,
        m.delivery_ratio(None),
        m.latency_percentile(None, 0.5),
        m.latency_percentile(None, 0.99)
    );
    assert!(oracle.route_changes > 100);
    assert!(m.delivery_ratio(None).unwrap() > 0.5);
}

/// A node that disappears is retracted everywhere; when it comes back, with a sequence
/// number older than the one its neighbours remember (it lost its state), it recovers a
/// newer one through seqno requests and is routed to again.
#[test]
fn retraction_reappearance_and_seqno_recovery_after_reboot() {
    use iomt_sim::Action;
    let links: Vec<(u32, u32)> = (0..5).map(|i| (i, i + 1)).collect();
    let mut sim = wired(
        41,
        6,
        &links,
        LinkParams::default(),
        InterfaceConfig::wired,
        |cfg, boot| {
            // Node 5 persisted nothing: it restarts from seqno 0, "older" than 1000.
            cfg.initial_seqno = Some(if boot.count == 0 { 1000 } else { 0 });
        },
    );
    let mut oracle = Oracle::default();
    let target = Prefix::of(short(NodeId(5)));
    sim.run_until(at(30.0), &mut oracle).unwrap();
    assert_eq!(walk(&sim, NodeId(0), &target), Ok(Some(5)));
    let old = sim.node(NodeId(5)).unwrap().router.seqno();
    sim.schedule(at(30.0), Action::Crash(NodeId(5)));
    sim.run_until(at(60.0), &mut oracle).unwrap();
    for n in 0..5 {
        assert_eq!(
            walk(&sim, NodeId(n), &target),
            Ok(None),
            "node {n} retracted the route"
        );
    }
    sim.schedule(at(60.0), Action::Reboot(NodeId(5)));
    sim.run_until(at(90.0), &mut oracle).unwrap();
    let new = sim.node(NodeId(5)).unwrap().router.seqno();
    println!("seqno before crash {old}, after reboot and recovery {new}");
    assert!(
        new > old && new < old + 10,
        "recovered a newer seqno: {old} -> {new}"
    );
    assert_eq!(
        walk(&sim, NodeId(0), &target),
        Ok(Some(5)),
        "route re-appeared"
    );
}

/// Flooded datagrams reach every node once; duplicates are suppressed.
#[test]
fn managed_flooding_reaches_everyone_once() {
    use iomt_mesh::Target;
    let links = grid_links(6, 6);
    let mut sim = wired(
        51,
        36,
        &links,
        LinkParams::default(),
        InterfaceConfig::wired,
        |_, _| {},
    );
    let mut oracle = Oracle::default();
    sim.run_until(at(20.0), &mut oracle).unwrap();
    sim.call(at(20.0), NodeId(14), |n: &mut MeshNode, now| {
        let mut payload = 77u64.to_be_bytes().to_vec();
        payload.extend_from_slice(b"flash traffic");
        n.router
            .send(
                now,
                Target::Flood,
                Precedence::Flash,
                Duration::from_secs(5),
                &payload,
            )
            .unwrap();
    });
    sim.run_until(at(25.0), &mut oracle).unwrap();
    let mut got: Vec<u32> = oracle
        .deliveries
        .iter()
        .filter(|d| d.2 == 77)
        .map(|d| d.1.0)
        .collect();
    got.sort_unstable();
    let everyone_else: Vec<u32> = (0..36).filter(|n| *n != 14).collect();
    assert_eq!(got, everyone_else, "each node delivered it exactly once");
    let stats = (0..36).fold((0, 0), |(d, s), n| {
        let st = sim.node(NodeId(n)).unwrap().router.stats();
        (d + st.duplicates, s + st.flood_suppressed)
    });
    let sent = (0..36)
        .map(|n| sim.metrics().node_traffic(NodeId(n)).data.packets)
        .sum::<u64>();
    println!(
        "flood: {sent} data packets, {} duplicates, {} suppressed",
        stats.0, stats.1
    );
    assert!(stats.0 > 0);
    assert!(
        sent < 36 * 4,
        "each node sends it at most once per interface"
    );
}

/// On a congested narrow link, Flash traffic goes first and Routine is shed first.
#[test]
fn precedence_queues_under_congestion() {
    let links = [(0u32, 1u32), (1, 2)];
    let narrow = LinkParams {
        bandwidth_bps: 64_000,
        ..LinkParams::default()
    };
    let mut sim = wired(
        61,
        3,
        &links,
        narrow,
        |ll| {
            let mut c = InterfaceConfig::wired(ll);
            c.data_rate = Some(8_000);
            c
        },
        |cfg, _| cfg.limits.queue_per_next_hop = 16,
    );
    let mut oracle = Oracle::default();
    sim.run_until(at(20.0), &mut oracle).unwrap();
    // 57-byte datagrams: 11.4 kB/s Routine and 2.85 kB/s Flash offered to an 8 kB/s link.
    traffic(
        &mut sim,
        NodeId(0),
        NodeId(2),
        at(20.0),
        Duration::from_millis(5),
        2000,
        0,
        Precedence::Routine,
    );
    traffic(
        &mut sim,
        NodeId(0),
        NodeId(2),
        at(20.0),
        Duration::from_millis(20),
        500,
        100_000,
        Precedence::Flash,
    );
    sim.run_until(at(40.0), &mut oracle).unwrap();
    let m = sim.metrics();
    let (flash, routine) = (
        m.delivery_ratio(Some(Precedence::Flash)).unwrap(),
        m.delivery_ratio(Some(Precedence::Routine)).unwrap(),
    );
    println!(
        "congestion: Flash delivered {flash:.3} (p99 {:?}), Routine {routine:.3} (p99 {:?}); shed {}",
        m.latency_percentile(Some(Precedence::Flash), 0.99),
        m.latency_percentile(Some(Precedence::Routine), 0.99),
        sim.node(NodeId(0)).unwrap().router.stats().shed
    );
    assert!(flash > 0.99, "{flash}");
    // What Flash leaves of the link goes to Routine: (8 - 2.85) / 11.4 = 0.45.
    assert!((0.4..0.5).contains(&routine), "{routine}");
    assert!(
        m.latency_percentile(Some(Precedence::Flash), 0.99).unwrap()
            < m.latency_percentile(Some(Precedence::Routine), 0.5)
                .unwrap()
    );
}

/// Scale: a thousand routers (a 32x32 grid, over a million route entries in all) converge to
/// shortest paths, loop-free at every event, on the simulator's one core. About two minutes
/// of wall time, so not in the default run.
#[test]
#[ignore = "scale run, about 2 minutes: cargo test -p iomt-mesh --test simulation -- --ignored"]
fn thousand_router_grid_converges() {
    let links = grid_links(32, 32);
    let mut sim = wired(
        1024,
        1024,
        &links,
        LinkParams::default(),
        InterfaceConfig::wired,
        |_, _| {},
    );
    let mut oracle = Oracle::default();
    sim.run_until(at(90.0), &mut oracle).unwrap();
    let (pairs, max, missing) = stretch_stats(&sim).unwrap();
    println!(
        "1024 routers: {} events, {} route changes, {pairs} pairs routed, {missing} missing, max stretch {max}",
        sim.events(),
        oracle.route_changes,
    );
    assert_eq!(missing, 0);
    assert_eq!(max, 1.0);
}

/// Loop-freedom across seeds: 25 mobile radios with bursty (Gilbert-Elliott) loss, pairs of
/// nodes cut apart and restored, a partition and a merge, 1 s Hellos.
#[test]
fn loop_free_across_seeds_with_bursty_loss() {
    use iomt_sim::{Action, Loss, Mobility, Point, RadioParams, RandomWaypoint};
    for seed in 300..308u64 {
        let rwp = Mobility::RandomWaypoint(RandomWaypoint {
            min: Point::new(0.0, 0.0),
            max: Point::new(1000.0, 1000.0),
            min_speed: 1.0,
            max_speed: 10.0,
            pause: Duration::from_secs(2),
            warmup: Duration::from_secs(300),
        });
        let params = RadioParams {
            range: 300.0,
            delay: Duration::from_millis(2),
            bandwidth_bps: 2_000_000,
            mtu: 1232,
            loss: Loss::GilbertElliott {
                good_to_bad: 0.05,
                bad_to_good: 0.3,
                loss_good: 0.02,
                loss_bad: 0.7,
            },
        };
        let mut sim = radio(seed, vec![rwp; 25], params, |ll| {
            InterfaceConfig::wireless(ll).with_hello_interval(Duration::from_secs(1))
        });
        for k in 0..12u32 {
            let (a, b) = (NodeId(k % 6), NodeId(k % 7 + 6));
            let t = 40.0 + 13.0 * f64::from(k);
            sim.schedule(at(t), Action::CutPair(a, b));
            sim.schedule(at(t + 1.0 + f64::from(k % 4)), Action::RestorePair(a, b));
        }
        sim.schedule(
            at(100.0),
            Action::Partition(vec![(0..12).map(NodeId).collect()]),
        );
        sim.schedule(at(140.0), Action::Merge);
        traffic(
            &mut sim,
            NodeId(20),
            NodeId(3),
            at(20.0),
            Duration::from_millis(300),
            700,
            0,
            Precedence::Routine,
        );
        let mut oracle = Oracle::default();
        sim.run_until(at(240.0), &mut oracle)
            .unwrap_or_else(|v| panic!("seed {seed}: loop-freedom violated: {v}"));
        assert!(oracle.route_changes > 5000, "seed {seed}: disturbed");
        assert!(
            sim.metrics().delivery_ratio(None).unwrap() > 0.2,
            "seed {seed}: traffic flows"
        );
    }
}
