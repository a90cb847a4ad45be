//! Interop with a real `babeld`: it runs in one network namespace, an `iomt-mesh` router
//! driven by a small UDP harness in another, joined by a veth pair, both with HMAC-SHA256
//! keys (RFC 8967). Each must learn the other's prefix, and withdraw it when the other goes
//! away. Needs root and network namespaces; installs babeld from apt if missing.
#![allow(
    clippy::disallowed_methods,
    reason = "the harness is a real-time driver: it reads the clock, opens sockets, spawns a reader thread"
)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "test code: a failed step stops the test where it happened"
)]

use std::io::{BufRead, BufReader};
use std::net::{Ipv6Addr, SocketAddrV6, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use iomt_mesh::{
    BABEL_MULTICAST, BABEL_PORT, Channel, Event, IfaceId, InterfaceConfig, MacKey, Prefix, Router,
    RouterConfig, address_of,
};
use iomt_schema::{Instant, ShortId};

const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\
                       202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f";
const BABELD_PREFIX: &str = "2001:db8:a::1/128";
const OUR_ID: u64 = 0x0123_4567_89ab_cdef;

fn key() -> Vec<u8> {
    (0..KEY_HEX.len() / 2)
        .map(|i| u8::from_str_radix(&KEY_HEX[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn run(cmd: &[&str]) -> Result<String, String> {
    let out = Command::new(cmd[0])
        .args(&cmd[1..])
        .output()
        .map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Kills the processes, deletes the namespaces and the scratch directory, whatever happens
/// to the test.
struct Cleanup {
    namespaces: Vec<String>,
    children: Vec<Child>,
    dir: Option<std::path::PathBuf>,
}

impl Cleanup {
    fn processes(children: Vec<Child>) -> Self {
        Self {
            namespaces: Vec::new(),
            children,
            dir: None,
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in &self.namespaces {
            let _ = run(&["ip", "netns", "del", ns]);
        }
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Installs babeld and iproute2 from the system's package manager if either is missing.
fn ensure_tools() {
    let present = |cmd: &str, arg: &str| Command::new(cmd).arg(arg).output().is_ok();
    if present("babeld", "-V") && present("ip", "-V") {
        return;
    }
    run(&["apt-get", "update"]).expect("apt-get update");
    run(&["apt-get", "install", "-y", "babeld", "iproute2"]).expect("install babeld and iproute2");
}

/// Lines the harness printed, received with a deadline.
struct Lines {
    rx: Receiver<String>,
    log: Vec<String>,
}

impl Lines {
    fn wait_for(&mut self, wanted: &str, within: Duration) -> bool {
        let deadline = std::time::Instant::now() + within;
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            match self.rx.recv_timeout(left) {
                Ok(line) => {
                    let hit = line == wanted;
                    self.log.push(line);
                    if hit {
                        return true;
                    }
                }
                Err(_) => return false,
            }
        }
        false
    }
}

fn kernel_route(ns: &str, prefix: &str) -> bool {
    run(&["ip", "-n", ns, "-6", "route", "show", prefix]).is_ok_and(|s| !s.trim().is_empty())
}

fn wait_until(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + within;
    while std::time::Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

fn start_babeld(ns: &str, iface: &str, dir: &std::path::Path) -> Child {
    let conf = dir.join("babeld.conf");
    std::fs::write(
        &conf,
        format!(
            "key id k1 type hmac-sha256 value {KEY_HEX}\n\
             interface {iface} type wired hello-interval 1 update-interval 4 key k1\n\
             redistribute local ip {BABELD_PREFIX} allow\n\
             redistribute local deny\n"
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("babeld.log")).unwrap();
    Command::new("ip")
        .args(["netns", "exec", ns, "babeld", "-d", "1", "-c"])
        .arg(&conf)
        .arg("-I")
        .arg(dir.join("babeld.pid"))
        .arg("-S")
        .arg(dir.join("babel-state"))
        .arg(iface)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start babeld")
}

#[test]
fn babeld_interop_with_hmac() {
    if std::env::var_os("IOMT_MESH_HARNESS").is_some() {
        return harness();
    }
    let pid = std::process::id();
    let (ns_a, ns_b) = (format!("iomt-babeld-{pid}"), format!("iomt-mesh-{pid}"));
    ensure_tools();
    if let Err(e) = run(&["ip", "netns", "add", &ns_a]) {
        eprintln!(
            "\n!!! SKIPPED babeld interop: this platform cannot create network namespaces ({e}).\n\
             !!! Run the tests as root on Linux to exercise babeld interop.\n"
        );
        return;
    }
    let dir = std::env::temp_dir().join(format!("iomt-babeld-{pid}"));
    let mut guard = Cleanup {
        namespaces: vec![ns_a.clone()],
        children: Vec::new(),
        dir: Some(dir.clone()),
    };
    run(&["ip", "netns", "add", &ns_b]).unwrap();
    guard.namespaces.push(ns_b.clone());
    let (va, vb) = (
        format!("va{}", pid % 100_000),
        format!("vb{}", pid % 100_000),
    );
    run(&[
        "ip", "link", "add", &va, "netns", &ns_a, "type", "veth", "peer", "name", &vb, "netns",
        &ns_b,
    ])
    .unwrap();
    for (ns, v, ll) in [(&ns_a, &va, "fe80::a/64"), (&ns_b, &vb, "fe80::b/64")] {
        // Only our fixed link-local address, no DAD delay.
        run(&[
            "ip",
            "netns",
            "exec",
            ns,
            "sysctl",
            "-qw",
            &format!("net.ipv6.conf.{v}.addr_gen_mode=1"),
        ])
        .unwrap();
        run(&["ip", "-n", ns, "link", "set", "lo", "up"]).unwrap();
        run(&["ip", "-n", ns, "link", "set", v, "up"]).unwrap();
        run(&["ip", "-n", ns, "addr", "add", ll, "dev", v, "nodad"]).unwrap();
    }
    run(&["ip", "-n", &ns_a, "addr", "add", BABELD_PREFIX, "dev", "lo"]).unwrap();
    std::fs::create_dir_all(&dir).unwrap();

    guard.children.push(start_babeld(&ns_a, &va, &dir));
    let spawn_harness = |guard: &mut Cleanup| {
        let mut harness = Command::new("ip")
            .args(["netns", "exec", &ns_b])
            .arg(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "babeld_interop_with_hmac",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("IOMT_MESH_HARNESS", &vb)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = harness.stdout.take().unwrap();
        guard.children.push(harness);
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines {
            rx,
            log: Vec::new(),
        }
    };
    let ours = format!("{}/128", address_of(ShortId::from_u64(OUR_ID)));
    let report = |lines: &Lines, what: &str| {
        let log = std::fs::read_to_string(dir.join("babeld.log")).unwrap_or_default();
        format!(
            "{what}\n--- harness ---\n{}\n--- kernel routes in babeld's namespace ---\n{}\n--- babeld (latest first) ---\n{}",
            lines.log.join("\n"),
            run(&["ip", "-n", &ns_a, "-6", "route"]).unwrap_or_default(),
            log.lines().rev().take(40).collect::<Vec<_>>().join("\n"),
        )
    };

    // Both learn the other's prefix.
    let mut lines = spawn_harness(&mut guard);
    let learned = lines.wait_for(&format!("ROUTE+ {BABELD_PREFIX}"), Duration::from_secs(30));
    assert!(
        learned,
        "{}",
        report(&lines, "iomt-mesh did not learn babeld's prefix")
    );
    assert!(
        wait_until(Duration::from_secs(30), || kernel_route(&ns_a, &ours)),
        "{}",
        report(&lines, "babeld did not install iomt-mesh's prefix")
    );

    // Our node dies without a word: babeld withdraws its prefix.
    drop(Cleanup::processes(guard.children.split_off(1)));
    assert!(
        wait_until(Duration::from_secs(30), || !kernel_route(&ns_a, &ours)),
        "{}",
        report(&lines, "babeld kept our prefix after we left")
    );

    // A fresh node (new MAC index: babeld must challenge it) is learned again; then babeld
    // dies without a word and the node withdraws babeld's prefix.
    let mut lines = spawn_harness(&mut guard);
    assert!(
        lines.wait_for(&format!("ROUTE+ {BABELD_PREFIX}"), Duration::from_secs(30)),
        "{}",
        report(&lines, "the restarted node did not learn babeld's prefix")
    );
    assert!(
        wait_until(Duration::from_secs(30), || kernel_route(&ns_a, &ours)),
        "{}",
        report(&lines, "babeld did not accept the restarted node")
    );
    let babeld = guard.children.remove(0);
    drop(Cleanup::processes(vec![babeld]));
    let withdrawn = lines.wait_for(&format!("ROUTE- {BABELD_PREFIX}"), Duration::from_secs(20));
    assert!(
        withdrawn,
        "{}",
        report(&lines, "iomt-mesh kept a dead peer's prefix")
    );
    let accepted = lines.log.iter().filter(|l| l.starts_with("RX ")).count();
    println!("babeld interop: {accepted} authenticated packets from babeld accepted");
}

/// Runs inside the second namespace: one router on `iface`, real time, real sockets.
fn harness() {
    let iface = std::env::var("IOMT_MESH_HARNESS").unwrap();
    let index: u32 = std::fs::read_to_string(format!("/sys/class/net/{iface}/ifindex"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let ll: Ipv6Addr = "fe80::b".parse().unwrap();
    let unicast = UdpSocket::bind(SocketAddrV6::new(ll, BABEL_PORT, 0, index)).unwrap();
    unicast.set_multicast_loop_v6(false).unwrap();
    unicast.set_nonblocking(true).unwrap();
    let multicast =
        UdpSocket::bind(SocketAddrV6::new(BABEL_MULTICAST, BABEL_PORT, 0, index)).unwrap();
    multicast
        .join_multicast_v6(&BABEL_MULTICAST, index)
        .unwrap();
    multicast.set_nonblocking(true).unwrap();

    let start = std::time::Instant::now();
    let now = || Instant::from_nanos(u64::try_from(start.elapsed().as_nanos()).unwrap());
    let mut router = Router::new(
        RouterConfig::new(ShortId::from_u64(OUR_ID)),
        now(),
        1,
        Arc::new(ring::rand::SystemRandom::new()),
    );
    let cfg = InterfaceConfig::wired(ll).with_hello_interval(Duration::from_secs(1));
    let id = router.add_interface(now(), cfg).unwrap();
    router.set_interface_keys(id, vec![MacKey::hmac_sha256(&key())]);

    let mut buf = vec![0u8; 2048];
    let mut out = Vec::new();
    let deadline = start + Duration::from_secs(180);
    while std::time::Instant::now() < deadline {
        for (sock, to) in [(&multicast, BABEL_MULTICAST), (&unicast, ll)] {
            while let Ok((n, from)) = sock.recv_from(&mut buf) {
                let std::net::SocketAddr::V6(from) = from else {
                    continue;
                };
                let packet = &buf[..n];
                let result = router.handle_input(
                    now(),
                    IfaceId(0),
                    Channel::Routing,
                    *from.ip(),
                    to,
                    packet,
                );
                let hex: String = packet.iter().map(|b| format!("{b:02x}")).collect();
                match result {
                    Ok(()) => println!("RX {} {to} {hex}", from.ip()),
                    Err(e) => println!("REJECTED {} {to} {e} {hex}", from.ip()),
                }
            }
        }
        router.handle_timeout(now());
        while let Some(t) = router.poll_transmit(now(), &mut out) {
            let dst = SocketAddrV6::new(t.destination, BABEL_PORT, 0, index);
            let _ = unicast.send_to(&out, dst);
        }
        while let Some(e) = router.poll_event() {
            if let Event::RouteChanged(p) = e {
                let sign = if router.route(&p).is_some() { '+' } else { '-' };
                if p != Prefix::of(ShortId::from_u64(OUR_ID)) {
                    println!("ROUTE{sign} {p}");
                }
            }
        }
        let wake = router
            .poll_timeout()
            .map_or(Duration::from_millis(20), |t| {
                t.saturating_duration_since(now())
                    .min(Duration::from_millis(20))
            });
        std::thread::sleep(wake);
    }
}
