//! Interop with a TLS stack nobody here wrote: `openssl s_server` and `openssl s_client`
//! (installed from the Debian archive if missing) against the project's rustls backhaul
//! configurations, on loopback, mutual authentication, TLS 1.3, both directions. The
//! exporter both stacks derive must agree (it binds post-handshake attestation, which also
//! runs through `s_client`), and peers without a valid certificate are refused.
//!
//! The test opens loopback sockets and spawns processes (the library never does); every
//! child is killed by a guard, even when an assertion fails.
#![cfg(feature = "rustls")]
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::disallowed_methods,
    reason = "an interop test: real sockets, processes, threads and the real clock"
)]
#![allow(clippy::panic, clippy::indexing_slicing, clippy::as_conversions)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use iomt_identity::tls::{Refusal as TlsRefusal, RotatingCertResolver};
use iomt_identity::{Algorithm, AppraisalConfig, AttestationVerifier, Nonce};
use iomt_schema::Timestamp;
use iomt_testkit::*;
use iomt_transport::post_handshake::{BackhaulMessage, EXPORTER_LABEL};
use iomt_transport::tls::{TlsBinding, client_config, peer_key, server_config, server_name};
use iomt_transport::{BackhaulPolicy, PostHandshakeVerifier};
use rustls::time_provider::DefaultTimeProvider;
use rustls::{CertificateError, ClientConnection, Error, ServerConnection};

/// Installs `openssl` from the Debian archive when it is missing.
fn openssl() -> &'static str {
    let present = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !present {
        let update = Command::new("apt-get").arg("update").status();
        let install = Command::new("apt-get")
            .args(["install", "-y", "openssl"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status();
        assert!(
            update.is_ok_and(|s| s.success()) && install.is_ok_and(|s| s.success()),
            "openssl is missing and `apt-get install -y openssl` failed: this test needs it"
        );
    }
    "openssl"
}

/// Kills and reaps the child when dropped.
struct ChildGuard {
    child: Child,
    output: Arc<Mutex<Vec<u8>>>,
}

impl ChildGuard {
    /// Spawns `openssl` with `args`, collecting its stdout and stderr.
    fn spawn(args: &[&str]) -> Self {
        let mut child = Command::new(openssl())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn openssl");
        let output = Arc::new(Mutex::new(Vec::new()));
        for mut stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let sink = output.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    sink.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            });
        }
        Self { child, output }
    }

    fn stdin(&mut self) -> &mut ChildStdin {
        self.child.stdin.as_mut().unwrap()
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    /// Waits until the output contains `needle`; returns the output.
    fn wait_for(&self, needle: &str) -> String {
        for _ in 0..200 {
            let text = self.text();
            if text.contains(needle) {
                return text;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "openssl never printed {needle:?}; it printed:\n{}",
            self.text()
        );
    }

    /// The keying material openssl exported (`-keymatexport`), once printed.
    fn keying_material(&self) -> Vec<u8> {
        let text = self.wait_for("Keying material: ");
        let hex = text
            .split("Keying material: ")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap();
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A scratch directory removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("iomt-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn write(&self, name: &str, contents: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        path.to_str().unwrap().to_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::new();
    for chunk in der.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                b64.push('=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A device's certificate and key as openssl reads them.
struct Files {
    cert: String,
    key: String,
}

fn files(dir: &Scratch, name: &str, device: &TestDevice) -> Files {
    Files {
        cert: dir.write(
            &format!("{name}.pem"),
            &pem("CERTIFICATE", &device.certificate),
        ),
        key: dir.write(
            &format!("{name}.key"),
            &pem("PRIVATE KEY", &pkcs8_v1(device)),
        ),
    }
}

/// The device key as PKCS#8 v1: `ring` writes Ed25519 keys as v2 (RFC 5958, with the public
/// key), which OpenSSL 3.0 does not read; v1 is the RFC 8410 prefix and the 32-byte seed.
fn pkcs8_v1(device: &TestDevice) -> Vec<u8> {
    let doc = device.key.to_pkcs8().to_vec();
    if device.key.algorithm() != Algorithm::Ed25519 {
        return doc;
    }
    const V1_PREFIX: [u8; 16] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    assert_eq!(doc[7..16], V1_PREFIX[7..], "an Ed25519 PKCS#8 document");
    let mut v1 = V1_PREFIX.to_vec();
    v1.extend_from_slice(&doc[16..48]);
    v1
}

fn now_ms() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// A mission whose credentials are valid now: openssl checks them against the real clock.
struct World {
    f: MissionFixture,
    dir: Scratch,
    root: String,
}

fn world(name: &str) -> World {
    let f = MissionFixture::starting(now_ms() - 60_000);
    let dir = Scratch::new(name);
    let root = dir.write("root.pem", &pem("CERTIFICATE", f.ca().certificate_der()));
    World { f, dir, root }
}

fn resolver(device: &TestDevice) -> Arc<RotatingCertResolver> {
    let r = RotatingCertResolver::new();
    r.install(vec![device.certificate.clone()], device.key.clone());
    r
}

fn refusal(e: &Error) -> Option<TlsRefusal> {
    match e {
        Error::InvalidCertificate(CertificateError::Other(other)) => {
            other.0.downcast_ref::<TlsRefusal>().cloned()
        }
        _ => None,
    }
}

/// Our client against `openssl s_server` serving `server`; returns the client's handshake
/// outcome, its binding and the server process.
fn rustls_client_to_s_server(
    w: &World,
    server: &Files,
    server_device: &TestDevice,
    client: &TestDevice,
) -> (Result<(), Error>, Option<TlsBinding>, ChildGuard) {
    let s_server = ChildGuard::spawn(&[
        "s_server",
        "-accept",
        "127.0.0.1:0",
        "-naccept",
        "1",
        "-tls1_3",
        "-cert",
        &server.cert,
        "-key",
        &server.key,
        "-CAfile",
        &w.root,
        "-Verify",
        "1",
        "-verify_return_error",
        "-keymatexport",
        std::str::from_utf8(EXPORTER_LABEL).unwrap(),
        "-keymatexportlen",
        "32",
    ]);
    let text = s_server.wait_for("ACCEPT");
    let port: u16 = text
        .split("ACCEPT ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let config = client_config(
        w.f.store(),
        None,
        resolver(client),
        Arc::new(DefaultTimeProvider),
    )
    .unwrap();
    let mut conn = ClientConnection::new(
        config,
        server_name(server_device.key.public_key().device_id()),
    )
    .unwrap();
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut outcome = Ok(());
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut tcp) {
            outcome = Err(
                match e.into_inner().map(|inner| inner.downcast::<Error>()) {
                    Some(Ok(tls)) => *tls,
                    other => Error::General(format!("{other:?}")),
                },
            );
            break;
        }
    }
    // Flush our last flight (the client Finished, or an alert), so openssl sees it.
    flush(&mut conn, &mut tcp);
    let binding = outcome
        .is_ok()
        .then(|| TlsBinding::from_connection(&conn).unwrap());
    if outcome.is_ok() {
        assert_eq!(peer_key(&conn), Some(server_device.key.public_key()));
        conn.writer().write_all(b"hello from rustls\n").unwrap();
        conn.complete_io(&mut tcp).unwrap();
    }
    (outcome, binding, s_server)
}

#[test]
fn rustls_client_and_openssl_server() {
    let w = world("s-server");
    let server = w.f.enrol(Algorithm::EcdsaP256, 3_600_000);
    let client = w.f.enrol(Algorithm::Ed25519, 3_600_000);
    let server_files = files(&w.dir, "server", &server);

    let (outcome, binding, s_server) =
        rustls_client_to_s_server(&w, &server_files, &server, &client);
    outcome.unwrap_or_else(|e| panic!("{e:?}\n{}", s_server.text()));
    let ours = binding.unwrap();
    let theirs = s_server.keying_material();
    assert_eq!(
        iomt_identity::ChannelBinding::channel_binding(&ours),
        &theirs[..],
        "rustls and openssl export the same binding"
    );
    s_server.wait_for("hello from rustls");
    // openssl accepted our client certificate (-Verify 1 makes it mandatory).
    assert!(
        s_server.text().contains("verify return:1"),
        "{}",
        s_server.text()
    );

    // A server whose certificate comes from another authority is refused by our client.
    let rogue = MissionFixture::starting(w.f.t0);
    let impostor = rogue.enrol(Algorithm::EcdsaP256, 3_600_000);
    let impostor_files = files(&w.dir, "impostor", &impostor);
    let (outcome, _, _s_server) =
        rustls_client_to_s_server(&w, &impostor_files, &impostor, &client);
    let error = outcome.unwrap_err();
    assert!(
        matches!(
            error,
            Error::InvalidCertificate(CertificateError::BadSignature)
        ),
        "{error:?}"
    );
}

/// `openssl s_client` with `args` against our server; returns the server's handshake outcome,
/// the server connection and socket, and the client process.
fn s_client_to_rustls_server(
    w: &World,
    server: &TestDevice,
    args: &[&str],
) -> (Result<(), Error>, ServerConnection, TcpStream, ChildGuard) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let connect = format!("127.0.0.1:{port}");
    let name = format!("{}.iomt", server.key.public_key().device_id());
    let mut all = vec![
        "s_client",
        "-connect",
        &connect,
        "-servername",
        &name,
        "-tls1_3",
        "-CAfile",
        &w.root,
        "-verify_return_error",
        "-ign_eof",
        "-nocommands",
        "-keymatexport",
        std::str::from_utf8(EXPORTER_LABEL).unwrap(),
        "-keymatexportlen",
        "32",
    ];
    all.extend_from_slice(args);
    let s_client = ChildGuard::spawn(&all);
    let mut tcp = accept(&listener, &s_client);
    let config = server_config(
        w.f.store(),
        None,
        resolver(server),
        Arc::new(DefaultTimeProvider),
    )
    .unwrap();
    let mut conn = ServerConnection::new(config).unwrap();
    let mut outcome = Ok(());
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut tcp) {
            outcome = Err(
                match e.into_inner().map(|inner| inner.downcast::<Error>()) {
                    Some(Ok(tls)) => *tls,
                    other => Error::General(format!("{other:?}")),
                },
            );
            break;
        }
    }
    flush(&mut conn, &mut tcp);
    (outcome, conn, tcp, s_client)
}

/// Writes what the connection has queued (a last flight, an alert) without reading.
fn flush<C: std::ops::DerefMut<Target = rustls::ConnectionCommon<D>>, D>(
    conn: &mut C,
    tcp: &mut TcpStream,
) {
    while conn.wants_write() {
        if conn.write_tls(tcp).is_err() {
            break;
        }
    }
}

/// The connection from `client`, within ten seconds.
fn accept(listener: &TcpListener, client: &ChildGuard) -> TcpStream {
    listener.set_nonblocking(true).unwrap();
    for _ in 0..200 {
        if let Ok((tcp, _)) = listener.accept() {
            tcp.set_nonblocking(false).unwrap();
            tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            return tcp;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("openssl never connected; it printed:\n{}", client.text());
}

/// Reads application data from `conn` until `want` bytes arrived.
fn read_plain(conn: &mut ServerConnection, tcp: &mut TcpStream, want: usize) -> Vec<u8> {
    let mut plain = Vec::new();
    while plain.len() < want {
        conn.complete_io(tcp).unwrap();
        let mut chunk = Vec::new();
        let _ = conn.reader().read_to_end(&mut chunk);
        plain.extend_from_slice(&chunk);
    }
    plain
}

#[test]
fn openssl_client_and_rustls_server_with_post_handshake_attestation() {
    let w = world("s-client");
    let server = w.f.enrol(Algorithm::Ed25519, 3_600_000);
    let client = w.f.enrol(Algorithm::EcdsaP256, 3_600_000);
    let client_files = files(&w.dir, "client", &client);

    let (outcome, mut conn, mut tcp, mut s_client) = s_client_to_rustls_server(
        &w,
        &server,
        &["-cert", &client_files.cert, "-key", &client_files.key],
    );
    outcome.unwrap_or_else(|e| panic!("{e:?}\n{}", s_client.text()));
    assert_eq!(peer_key(&conn), Some(client.key.public_key()));
    let ours = TlsBinding::from_connection(&conn).unwrap();
    let theirs = s_client.keying_material();
    assert_eq!(
        iomt_identity::ChannelBinding::channel_binding(&ours),
        &theirs[..],
        "rustls and openssl export the same binding"
    );
    assert!(
        s_client.text().contains("Verify return code: 0 (ok)"),
        "openssl verified our server: {}",
        s_client.text()
    );

    // Post-handshake attestation through openssl: our server asks for the result and
    // evidence; the client's answer is made over the binding openssl printed and typed into
    // s_client, which sends it as application data.
    let now = Timestamp::from_millis(now_ms()).unwrap();
    let verifier = AttestationVerifier::new(w.f.verifier_key.clone(), AppraisalConfig::default());
    let policy = Arc::new(BackhaulPolicy::new(w.f.store()).require_fresh_evidence(verifier));
    let mut attestation = PostHandshakeVerifier::new(
        &ours,
        peer_key(&conn).unwrap(),
        policy,
        now,
        &ring::rand::SystemRandom::new(),
    )
    .unwrap();
    let mut request = Vec::new();
    assert!(attestation.poll_transmit(&mut request).is_some());
    conn.writer().write_all(&request).unwrap();
    conn.complete_io(&mut tcp).unwrap();

    // The evidence's nonce is openssl's binding followed by the round our server drew.
    let round = &request[4..4 + iomt_transport::post_handshake::ROUND_LEN];
    let nonce = Nonce::new(&[&theirs[..], round].concat()).unwrap();
    let evidence = evidence(&client.key, &nonce, now);
    let mut answer = Vec::new();
    BackhaulMessage::Attestation {
        result: &client.result,
        evidence: Some(&evidence),
    }
    .encode(&mut answer)
    .unwrap();
    s_client.stdin().write_all(&answer).unwrap();
    s_client.stdin().flush().unwrap();
    let plain = read_plain(&mut conn, &mut tcp, answer.len());
    let progress = attestation.handle_input(now, &plain).unwrap();
    assert_eq!(progress.consumed, answer.len());
    let attested = progress.done.expect("attested");
    assert!(attested.fresh_evidence);
    assert_eq!(attested.result.key(), &client.key.public_key());
}

#[test]
fn openssl_clients_without_a_valid_certificate_are_refused() {
    let w = world("s-client-refused");
    let server = w.f.enrol(Algorithm::Ed25519, 3_600_000);

    // No certificate.
    let (outcome, _, _, _s_client) = s_client_to_rustls_server(&w, &server, &[]);
    assert_eq!(outcome, Err(Error::NoCertificatesPresented));

    // A certificate from another authority.
    let rogue = MissionFixture::starting(w.f.t0);
    let stranger = rogue.enrol(Algorithm::Ed25519, 3_600_000);
    let files = files(&w.dir, "stranger", &stranger);
    let (outcome, _, _, _s_client) =
        s_client_to_rustls_server(&w, &server, &["-cert", &files.cert, "-key", &files.key]);
    let error = outcome.unwrap_err();
    assert!(
        matches!(
            error,
            Error::InvalidCertificate(CertificateError::BadSignature)
        ),
        "{error:?}"
    );

    // A self-signed certificate over a key openssl made.
    let key = w.dir.0.join("self.key");
    let cert = w.dir.0.join("self.pem");
    let made = Command::new(openssl())
        .args([
            "req", "-x509", "-newkey", "ed25519", "-nodes", "-days", "1", "-subj",
        ])
        .arg("/CN=intruder")
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(made.status.success());
    let (outcome, _, _, _s_client) =
        s_client_to_rustls_server(&w, &server, &["-cert", path(&cert), "-key", path(&key)]);
    assert!(
        matches!(
            refusal(outcome.as_ref().unwrap_err()),
            Some(TlsRefusal::Path(_))
        ),
        "{outcome:?}"
    );
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}
