//! `iomt-mesh` benchmarks.
//!
//! - `mesh/parse_packet/iomt`: parse a 116-byte packet captured from babeld (Hello, wildcard
//!   retraction, Router-Id, Update, Route Request, PC, MAC) into TLVs.
//! - `mesh/process_update_burst/iomt`: a router takes 1,000 route updates from one
//!   neighbour (20 packets of 50 Updates, as a full dump arrives) and selects routes.
//! - `mesh/sim_grid_100/iomt`: a converged 10x10 grid of routers in the simulator, 20
//!   simulated seconds per iteration; the throughput figure is simulated seconds per wall
//!   second.
//!
//! There is no Rust Babel implementation to run beside it; babeld is C and is exercised for
//! interoperability in the tests instead.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions,
    reason = "bench set-up: a failed step stops the run where it happened"
)]

use core::net::Ipv6Addr;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use iomt::mesh::wire::{Ae, Packet, SubTlvs, Tlv, encode_packet};
use iomt::mesh::{BABEL_MULTICAST, Channel, InterfaceConfig, Router, RouterConfig, address_of};
use iomt::schema::{Instant, ShortId};
use iomt_sim::{Boot, LinkParams, Mobility, NodeId, Point, Seed, Simulator};
use iomt_testkit::{MeshNode, link_local, short};

const CAPTURED: &[u8] = &[
    0x2a, 0x02, 0x00, 0x4e, 0x04, 0x06, 0x00, 0x00, 0x28, 0x3b, 0x00, 0x64, 0x08, 0x0a, 0x00, 0x00,
    0x00, 0x00, 0xff, 0xff, 0xe1, 0x2f, 0xff, 0xff, 0x06, 0x0a, 0x00, 0x00, 0x6c, 0x6d, 0xda, 0xf7,
    0x69, 0xe9, 0x15, 0x6d, 0x08, 0x1a, 0x02, 0x80, 0x80, 0x00, 0x01, 0x90, 0xe1, 0x2f, 0x00, 0x00,
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x09, 0x02, 0x00, 0x00, 0x11, 0x0c, 0x00, 0x00, 0x00, 0x02, 0x24, 0xb0, 0x48, 0x1c, 0x4b, 0xf5,
    0x12, 0xbe, 0x10, 0x20, 0xcc, 0xff, 0x73, 0x25, 0x56, 0xac, 0x6a, 0x11, 0x08, 0x82, 0xeb, 0xaa,
    0x8a, 0x38, 0xb4, 0xbd, 0xf4, 0x4d, 0x16, 0x38, 0x53, 0x5c, 0xff, 0x4d, 0xd2, 0xe0, 0x74, 0x64,
    0x67, 0x95, 0xb7, 0xad,
];

fn parse_packet(c: &mut Criterion) {
    let mut g = c.benchmark_group("mesh/parse_packet");
    g.throughput(Throughput::Bytes(CAPTURED.len() as u64));
    g.bench_function("iomt", |b| {
        b.iter(|| Packet::parse(black_box(CAPTURED)).map(|p| p.body.len()))
    });
    g.finish();
}

const PEER: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0xa);

/// A router with one established wired neighbour, past its start-up hold-down, and the 20
/// packets of a 1,000-route dump; with the time the dump arrives.
fn update_burst() -> (Router, Vec<Vec<u8>>, Instant) {
    let mut r = Router::new(
        RouterConfig::new(ShortId::from_u64(0xb)),
        Instant::ZERO,
        1,
        Arc::new(ring::rand::SystemRandom::new()),
    );
    let ll = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0xb);
    let config = InterfaceConfig::wired(ll);
    let hello_interval = config.hello_interval;
    let i = r.add_interface(Instant::ZERO, config).expect("interface");
    let sub = SubTlvs::default();
    // Hellos and IHUs every Hello interval until the hold-down (3.5 update intervals at most)
    // is over, so the dump's routes are selected as they arrive.
    let mut now = Instant::ZERO;
    let mut buf = Vec::new();
    for seqno in 1..=20u16 {
        let hello = encode_packet(
            &[
                Tlv::Hello {
                    flags: 0,
                    seqno,
                    interval: 400,
                    sub,
                },
                Tlv::Ihu {
                    ae: Ae::LinkLocal,
                    reserved: 0,
                    rxcost: 96,
                    interval: 1200,
                    address: &[0, 0, 0, 0, 0, 0, 0, 0xb],
                    sub,
                },
            ],
            &[],
        )
        .expect("hello");
        r.handle_input(now, i, Channel::Routing, PEER, BABEL_MULTICAST, &hello)
            .expect("hello accepted");
        r.handle_timeout(now);
        while r.poll_transmit(now, &mut buf).is_some() {}
        while r.poll_event().is_some() {}
        now = now + hello_interval;
    }
    let prefixes: Vec<[u8; 16]> = (0..1000u64)
        .map(|n| address_of(ShortId::from_u64(n.wrapping_mul(0x9e37_79b9_7f4a_7c15))).octets())
        .collect();
    let packets = prefixes
        .chunks(50)
        .map(|chunk| {
            let tlvs: Vec<Tlv<'_>> = chunk
                .iter()
                .map(|p| Tlv::Update {
                    ae: Ae::Ipv6,
                    flags: 0x40,
                    plen: 128,
                    omitted: 0,
                    interval: 1600,
                    seqno: 1,
                    metric: 192,
                    prefix: p,
                    sub,
                })
                .collect();
            encode_packet(&tlvs, &[]).expect("dump packet")
        })
        .collect();
    (r, packets, now)
}

fn process_update_burst(c: &mut Criterion) {
    let mut g = c.benchmark_group("mesh/process_update_burst");
    g.throughput(Throughput::Elements(1000));
    g.bench_function("iomt", |b| {
        b.iter_batched(
            update_burst,
            |(mut r, packets, now)| {
                for p in &packets {
                    let _ = r.handle_input(
                        now,
                        iomt::mesh::IfaceId(0),
                        Channel::Routing,
                        PEER,
                        BABEL_MULTICAST,
                        p,
                    );
                }
                assert_eq!(r.routes().len(), 1001);
                r
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn grid() -> Simulator<MeshNode> {
    let (w, h) = (10u32, 10u32);
    let mut links = Vec::new();
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            if x + 1 < w {
                links.push((i, i + 1));
            }
            if y + 1 < h {
                links.push((i, i + w));
            }
        }
    }
    let degree: Vec<usize> = (0..w * h)
        .map(|n| links.iter().filter(|(a, b)| *a == n || *b == n).count())
        .collect();
    let mut sim = Simulator::new(Seed(100), move |boot: Boot| {
        let mut node = MeshNode::new(
            boot.node,
            boot.now,
            boot.seed,
            RouterConfig::new(short(boot.node)),
        );
        for _ in 0..degree[boot.node.index()] {
            let cfg = InterfaceConfig::wired(link_local(boot.node));
            node.router.add_interface(boot.now, cfg).expect("interface");
        }
        node
    });
    for i in 0..w * h {
        sim.add_node(Mobility::Static(Point::new(
            f64::from(i % w),
            f64::from(i / w),
        )));
    }
    for (a, b) in links {
        sim.add_link(NodeId(a), NodeId(b), LinkParams::default());
    }
    sim.run_for(Duration::from_secs(30), &mut ())
        .expect("no observer");
    sim
}

fn sim_grid_100(c: &mut Criterion) {
    let mut g = c.benchmark_group("mesh/sim_grid_100");
    g.sample_size(10);
    g.throughput(Throughput::Elements(20));
    g.bench_function("iomt", |b| {
        b.iter_batched(
            grid,
            |mut sim| {
                sim.run_for(Duration::from_secs(20), &mut ())
                    .expect("no observer");
                sim
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, parse_packet, process_update_burst, sim_grid_100);
criterion_main!(benches);
