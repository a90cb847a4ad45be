//! The whole stack on real sockets: position reports per second from one node to another over
//! loopback UDP, through encode, seal, route, MAC, open and decode, beside the same reports
//! sent raw between two UDP sockets of the same kind.
//!
//! - `node/loopback_pli/iomt`: two `iomt-tokio` nodes on loopback (Babel with RFC 8967 MACs,
//!   an EDHOC session, suite 4 records); A sends, B's application receives each frame decoded,
//!   with the sender's verified identity. At most 16 reports in flight.
//! - `node/loopback_pli/udp_raw`: the encoded frame sent from one loopback UDP socket to
//!   another and read, also at most 16 in flight.
//!
//! Both run on one thread (tokio's current-thread runtime), so the ratio is the stack's cost.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "bench set-up: a failed step stops the run where it happened"
)]

use std::net::Ipv6Addr;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use iomt::identity::Algorithm;
use iomt::mesh::{InterfaceConfig, MacKey};
use iomt::node::{Event, Node, NodeConfig, SendError};
use iomt::rand::SystemRandom;
use iomt::schema::Frame;
use iomt_testkit::{MissionFixture, TestDevice, position_report};
use iomt_tokio::{
    Clock, Events, LinkSpec, LoopbackPorts, LoopbackSockets, NodeHandle, RuntimeError,
};
use tokio::net::UdpSocket;
use tokio::time::timeout;

/// Reports in flight at most.
const WINDOW: u64 = 16;
/// How long one report may take before the run is declared broken.
const LOST: Duration = Duration::from_secs(5);

fn start(
    f: &MissionFixture,
    device: &TestDevice,
    clock: Clock,
    sockets: LoopbackSockets,
    peer: LoopbackPorts,
) -> (NodeHandle, Events) {
    let node = Node::new(
        NodeConfig::new(device.key.public_key().short_id()),
        Arc::new(f.credentials(device)),
        clock.now(),
        Arc::new(SystemRandom::new()),
    )
    .unwrap();
    let interface =
        InterfaceConfig::wired(Ipv6Addr::LOCALHOST).with_hello_interval(Duration::from_millis(500));
    let keys = vec![MacKey::hmac_sha256(&[0x42; 32])];
    let link = LinkSpec::loopback(sockets, peer, keys).with_interface(interface);
    iomt_tokio::spawn(node, clock, vec![link]).unwrap()
}

/// Waits for the next frame B's application receives.
async fn next_frame(events: &mut Events) {
    loop {
        match timeout(LOST, events.recv()).await {
            Ok(Some(Event::Received { .. })) => return,
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => panic!("a report was lost on loopback"),
        }
    }
}

fn loopback_pli(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let f = MissionFixture::new();
    let (a, b) = (
        f.enrol(Algorithm::Ed25519, 3_600_000),
        f.enrol(Algorithm::Ed25519, 3_600_000),
    );
    let b_id = b.key.public_key().device_id();
    let frame = position_report(a.key.public_key().device_id(), 1);
    let bytes = frame.to_vec().unwrap();
    println!("sizes: frame={}", bytes.len());
    let (node_a, _node_b, mut events_b) = rt.block_on(async {
        let (sa, sb) = (
            LoopbackSockets::bind().await.unwrap(),
            LoopbackSockets::bind().await.unwrap(),
        );
        let (pa, pb) = (sa.ports().unwrap(), sb.ports().unwrap());
        let clock = Clock::start();
        let (node_a, _) = start(&f, &a, clock, sa, pb);
        let (node_b, mut events_b) = start(&f, &b, clock, sb, pa);
        // Routes, then the session: the first report opens it.
        loop {
            match node_a.send(b_id, frame.clone()).await {
                Err(RuntimeError::Send(SendError::NoRoute(_))) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                other => break other.unwrap(),
            }
        }
        next_frame(&mut events_b).await;
        (node_a, node_b, events_b)
    });
    let (raw_a, raw_b) = rt.block_on(async {
        let a = UdpSocket::bind((Ipv6Addr::LOCALHOST, 0)).await.unwrap();
        let b = UdpSocket::bind((Ipv6Addr::LOCALHOST, 0)).await.unwrap();
        a.connect(b.local_addr().unwrap()).await.unwrap();
        (a, b)
    });

    let mut g = c.benchmark_group("node/loopback_pli");
    g.throughput(Throughput::Elements(1));
    g.bench_function("iomt", |bench| {
        bench.iter_custom(|iters| {
            rt.block_on(async {
                let start = tokio::time::Instant::now();
                let (mut sent, mut received) = (0, 0);
                while received < iters {
                    while sent < iters && sent - received < WINDOW {
                        node_a.send(b_id, frame.clone()).await.unwrap();
                        sent += 1;
                    }
                    next_frame(&mut events_b).await;
                    received += 1;
                }
                start.elapsed()
            })
        })
    });
    g.bench_function("udp_raw", |bench| {
        let mut buf = vec![0u8; 2048];
        bench.iter_custom(|iters| {
            rt.block_on(async {
                let start = tokio::time::Instant::now();
                let (mut sent, mut received) = (0, 0);
                while received < iters {
                    while sent < iters && sent - received < WINDOW {
                        raw_a.send(&bytes).await.unwrap();
                        sent += 1;
                    }
                    let len = timeout(LOST, raw_b.recv(&mut buf))
                        .await
                        .expect("a datagram was lost on loopback")
                        .unwrap();
                    let _ = Frame::decode(&buf[..len]).unwrap();
                    received += 1;
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

criterion_group!(benches, loopback_pli);
criterion_main!(benches);
