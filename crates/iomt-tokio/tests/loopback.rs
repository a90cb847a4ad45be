//! Two nodes on one machine, over real UDP sockets on loopback: they route to each other
//! (Babel with RFC 8967 MACs), open an EDHOC session on demand, and a position report crosses
//! the whole stack (encode, seal, route, open, decode).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "test code: a failed step stops the test where it happened"
)]

use std::net::Ipv6Addr;
use std::sync::Arc;
use std::time::Duration;

use iomt_identity::{Algorithm, TrustState};
use iomt_mesh::{InterfaceConfig, MacKey};
use iomt_node::{Event, Node, NodeConfig, SendError};
use iomt_schema::rand::SystemRandom;
use iomt_testkit::{MissionFixture, TestDevice, position_report};
use iomt_tokio::{
    Clock, Events, LinkSpec, LoopbackPorts, LoopbackSockets, NodeHandle, RuntimeError,
};

fn start(
    f: &MissionFixture,
    device: &TestDevice,
    clock: Clock,
    sockets: LoopbackSockets,
    peer: LoopbackPorts,
) -> (NodeHandle, Events) {
    let id = device.key.public_key().short_id();
    let node = Node::new(
        NodeConfig::new(id),
        Arc::new(f.credentials(device)),
        clock.now(),
        Arc::new(SystemRandom::new()),
    )
    .unwrap();
    let key = MacKey::hmac_sha256(&[0x42; 32]);
    let interface =
        InterfaceConfig::wired(Ipv6Addr::LOCALHOST).with_hello_interval(Duration::from_millis(500));
    let link = LinkSpec::loopback(sockets, peer, vec![key]).with_interface(interface);
    iomt_tokio::spawn(node, clock, vec![link]).unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn two_nodes_on_loopback_exchange_a_position_report() {
    let f = MissionFixture::new();
    let (a, b) = (
        f.enrol(Algorithm::Ed25519, 3_600_000),
        f.enrol(Algorithm::Ed25519, 3_600_000),
    );
    let (a_id, b_id) = (
        a.key.public_key().device_id(),
        b.key.public_key().device_id(),
    );
    let (sa, sb) = (
        LoopbackSockets::bind().await.unwrap(),
        LoopbackSockets::bind().await.unwrap(),
    );
    let (pa, pb) = (sa.ports().unwrap(), sb.ports().unwrap());
    // The fixture's credentials read the mission's start at the clock's zero.
    let clock = Clock::start();
    let (node_a, _events_a) = start(&f, &a, clock, sa, pb);
    let (node_b, mut events_b) = start(&f, &b, clock, sb, pa);

    // Until the routers hear each other there is no route; then the frame waits for its
    // session, which opens on demand.
    let frame = position_report(a_id, 1);
    let sent = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match node_a.send(b_id, frame.clone()).await {
                Err(RuntimeError::Send(SendError::NoRoute(_))) => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                other => return other,
            }
        }
    })
    .await;
    assert!(matches!(sent, Ok(Ok(()))), "{sent:?}");

    let received = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(event) = events_b.recv().await {
            if let Event::Received {
                from,
                trust,
                hops,
                frame,
            } = event
            {
                return Some((from, trust, hops, frame));
            }
        }
        None
    })
    .await
    .expect("B receives within 20 s");
    assert_eq!(received, Some((a_id, TrustState::Trusted, 1, frame)));

    let status = node_a.status().await.unwrap();
    assert_eq!(status.device, a_id);
    assert_eq!(status.neighbours.len(), 1);
    assert_eq!(status.trust(b_id), Some(TrustState::Trusted));
    assert_eq!(status.send_errors, 0);

    node_b.shutdown();
    node_a.shutdown();
    // Once the driver is gone, the handle says so.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(matches!(node_b.status().await, Err(RuntimeError::Stopped)));
}
