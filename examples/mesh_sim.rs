//! Fifty soldiers' radios under random-waypoint mobility with 10 % packet loss, routing with
//! `iomt-mesh` in the deterministic simulator: each sends a datagram to a random comrade every
//! two seconds. The network is split in two for a minute and then heals.
//!
//! Prints delivery ratio and latency percentiles per precedence, control overhead per node,
//! and how long routing took to converge after the partition healed.
//!
//! ```sh
//! cargo run --release --example mesh_sim
//! ```
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions,
    reason = "example code keeps to the calls it shows: a failed step stops it where it happened"
)]

use std::time::Duration;

use iomt::mesh::InterfaceConfig;
use iomt::mesh::{Event, RouterConfig, Target};
use iomt::schema::{Instant, Precedence, ShortId};
use iomt_sim::{
    Action, Boot, Convergence, Loss, Metrics, Mobility, NodeId, Observer, Point, Purpose,
    RadioParams, RandomWaypoint, Seed, Simulator, below,
};
use iomt_testkit::{MeshNode, coverage, link_local, short};

const NODES: u32 = 50;

fn at(secs: u64) -> Instant {
    Instant::ZERO + Duration::from_secs(secs)
}

/// Records deliveries, and every 250 ms of simulated time checks how much of the network
/// routing covers.
struct Watch {
    ids: Vec<ShortId>,
    convergence: Convergence,
    last_check: Instant,
}

/// Converged: routes for at least 99 % of the pairs that can reach each other. (With nodes
/// moving, some link is always appearing or fading, so "all pairs" is rarely true for long.)
const CONVERGED: f64 = 0.99;

impl Observer<MeshNode> for Watch {
    fn on_event(&mut self, now: Instant, _: NodeId, event: Event, metrics: &mut Metrics) {
        if let Event::Delivered(d) = event
            && let Some(key) = d.payload.get(..8).and_then(|k| k.try_into().ok())
        {
            metrics.message_delivered(u64::from_be_bytes(key), now);
        }
    }

    fn check(&mut self, sim: &Simulator<MeshNode>) -> Result<(), String> {
        if sim.now() >= self.last_check + Duration::from_millis(250) {
            self.last_check = sim.now();
            let covered = coverage(sim, &self.ids, |n| &n.router);
            self.convergence.observe(sim.now(), covered >= CONVERGED);
        }
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut sim = Simulator::new(Seed(2026), |boot: Boot| {
        let mut node = MeshNode::new(
            boot.node,
            boot.now,
            boot.seed,
            RouterConfig::new(short(boot.node)),
        );
        let iface = InterfaceConfig::wireless(link_local(boot.node))
            .with_hello_interval(Duration::from_secs(2));
        node.router
            .add_interface(boot.now, iface)
            .expect("valid interface");
        node
    });
    let radio = sim.add_radio(RadioParams {
        range: 400.0,
        delay: Duration::from_millis(3),
        bandwidth_bps: 1_000_000,
        mtu: 1232,
        loss: Loss::Bernoulli { p: 0.1 },
    });
    for _ in 0..NODES {
        let n = sim.add_node(Mobility::RandomWaypoint(RandomWaypoint {
            min: Point::new(0.0, 0.0),
            max: Point::new(2000.0, 2000.0),
            min_speed: 0.5,
            max_speed: 4.0,
            pause: Duration::from_secs(10),
            warmup: Duration::from_secs(600),
        }));
        sim.attach(n, radio);
    }

    // Traffic: every node, every 2 s, to a random other node, precedence drawn 70/20/8/2 %.
    let mut traffic = sim.stream(Purpose::Traffic, 0);
    let mut key = 0u64;
    for t in (60..300).step_by(2) {
        for src in 0..NODES {
            let dst = (src + 1 + below(&mut traffic, u64::from(NODES - 1)) as u32) % NODES;
            let precedence = match below(&mut traffic, 100) {
                0..70 => Precedence::Routine,
                70..90 => Precedence::Priority,
                90..98 => Precedence::Immediate,
                _ => Precedence::Flash,
            };
            let send_at = at(t) + Duration::from_millis(below(&mut traffic, 2000));
            key += 1;
            sim.metrics_mut().message_sent(key, precedence, send_at);
            let k = key;
            sim.call(send_at, NodeId(src), move |n: &mut MeshNode, now| {
                let mut payload = k.to_be_bytes().to_vec();
                payload.extend_from_slice(&[0; 40]);
                let _ = n.router.send(
                    now,
                    Target::Unicast(short(NodeId(dst))),
                    precedence,
                    Duration::from_secs(5),
                    &payload,
                );
            });
        }
    }
    let west: Vec<NodeId> = (0..NODES / 2).map(NodeId).collect();
    sim.schedule(at(180), Action::Partition(vec![west]));
    sim.schedule(at(240), Action::Merge);

    let mut watch = Watch {
        ids: (0..NODES).map(|n| short(NodeId(n))).collect(),
        convergence: Convergence::default(),
        last_check: Instant::ZERO,
    };
    sim.run_until(at(120), &mut watch)?;
    let now = sim.now();
    sim.metrics_mut().reset_traffic(now);
    sim.run_until(at(180), &mut watch)?;
    let (pps, bps) = sim.metrics().control_rate(NODES as usize, sim.now());
    sim.run_until(at(240), &mut watch)?;
    watch.convergence.start(at(240));
    sim.run_until(at(300), &mut watch)?;

    let m = sim.metrics();
    println!(
        "{NODES} nodes, random waypoint 0.5-4 m/s in 2 km x 2 km, 400 m radio range, 10 % loss"
    );
    println!("precedence   sent  delivered  ratio   p50        p90        p99");
    for p in Precedence::ALL.into_iter().rev() {
        let (sent, delivered) = m.delivery(Some(p));
        let q = |x| {
            m.latency_percentile(Some(p), x)
                .map_or("-".into(), |d| format!("{d:.1?}"))
        };
        println!(
            "{:<11} {sent:>5} {delivered:>10}  {:.3}   {:<10} {:<10} {}",
            format!("{p:?}"),
            m.delivery_ratio(Some(p)).unwrap_or(0.0),
            q(0.5),
            q(0.9),
            q(0.99)
        );
    }
    println!(
        "(loss also counts messages sent while their destination was out of reach or partitioned)"
    );
    println!("control overhead, steady state: {pps:.2} packets/s and {bps:.0} bytes/s per node");
    match watch.convergence.time() {
        Some(t) => println!(
            "converged (routes for 99 % of reachable pairs) {t:.1?} after the partition healed"
        ),
        None => println!("not converged within 60 s of the partition healing"),
    }
    Ok(())
}
