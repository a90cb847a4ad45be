//! A small mission for the integration tests: an authority (credential issuer, package signer
//! and X.509 root), an attestation verifier, reference values, and devices enrolled in it;
//! plus a seeded lossy link that drives two endpoints with a fake clock.
#![allow(dead_code, missing_docs, clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use iomt_identity::*;
use iomt_schema::{DeviceId, Instant, Timestamp};
use iomt_transport::{
    CipherSuite, Credentials, Endpoint, EndpointConfig, Event, IdentityCredentials, InputError,
    OpenError, SessionId, WallClock,
};
use ring::rand::SystemRandom;

pub const T0: u64 = 1_800_000_000_000;
pub const DAY: u64 = 86_400_000;

pub fn at(ms: u64) -> Timestamp {
    Timestamp::from_millis(ms).unwrap()
}

/// The wall clock of every endpoint here: `Instant::ZERO` is `T0`.
pub fn clock() -> WallClock {
    WallClock::new(Instant::ZERO, at(T0))
}

pub fn mission() -> Mission {
    Mission::new("op-nordic").unwrap()
}

pub fn good_measurements() -> Vec<Measurement> {
    vec![
        Measurement::of(0, "bootloader", b"bootloader v3"),
        Measurement::of(1, "kernel", b"kernel 6.1 hardened"),
        Measurement::of(2, "app", b"squad-app 2.4"),
    ]
}

pub fn reference() -> ReferenceValues {
    let mut r = ReferenceValues {
        min_firmware: FirmwareVersion::new(2, 0, 0),
        require_secure_boot: true,
        require_debug_disabled: true,
        ..ReferenceValues::default()
    };
    for m in good_measurements() {
        r.allow(&m.component, m.digest);
    }
    r
}

pub struct Fixture {
    /// The mission's start: credentials run from just before it for a day.
    pub t0: u64,
    pub rng: SystemRandom,
    pub authority: Arc<SoftwareKey>,
    pub ca: CertificateAuthority<Arc<SoftwareKey>>,
    pub verifier_key: Arc<SoftwareKey>,
    pub verifier: AttestationVerifier<Arc<SoftwareKey>>,
    pub trust: TrustStore,
}

/// An enrolled device: its key, compact credential, X.509 certificate (carrying its
/// attestation result) and attestation result.
pub struct Device {
    pub key: Arc<SoftwareKey>,
    pub credential: Vec<u8>,
    pub certificate: Vec<u8>,
    pub result: Vec<u8>,
}

impl Fixture {
    pub fn new() -> Self {
        Self::starting(T0)
    }

    pub fn starting(t0: u64) -> Self {
        let rng = SystemRandom::new();
        let authority = Arc::new(SoftwareKey::generate(Algorithm::Ed25519, &rng).unwrap());
        let ca = CertificateAuthority::new(
            authority.clone(),
            "op-nordic authority",
            at(t0 - DAY),
            at(t0 + 365 * DAY),
        )
        .unwrap();
        let verifier_key = Arc::new(SoftwareKey::generate(Algorithm::Ed25519, &rng).unwrap());
        let verifier = AttestationVerifier::new(verifier_key.clone(), AppraisalConfig::default());
        let policy = Policy::default();
        let package = TrustPackage {
            sequence: 1,
            anchors: vec![],
            verifiers: vec![verifier_key.public_key()],
            x509_roots: vec![ca.certificate_der().to_vec()],
            reference: reference(),
            revocations: vec![],
            policy_digest: policy.digest(),
        }
        .sign(&*authority)
        .unwrap();
        let mut trust =
            TrustStore::new(authority.public_key(), mission(), TrustStart::FirstBoot).unwrap();
        trust.apply_package(&package).unwrap();
        trust.install_policy(policy).unwrap();
        Self {
            t0,
            rng,
            authority,
            ca,
            verifier_key,
            verifier,
            trust,
        }
    }

    /// A fresh copy of the mission's trust store, as one device holds it.
    pub fn store(&self) -> Arc<RwLock<TrustStore>> {
        Arc::new(RwLock::new(self.trust.clone()))
    }

    /// A device with a one-day credential and a result valid for `result_ms` from T0.
    pub fn enrol(&self, alg: Algorithm, result_ms: u64) -> Device {
        let key = Arc::new(SoftwareKey::generate(alg, &self.rng).unwrap());
        let claims = Credential {
            subject: key.public_key(),
            mission: mission(),
            roles: Roles::EMPTY.with(Role::Operator),
            not_before: at(self.t0 - 1000),
            not_after: at(self.t0 + DAY),
            serial: u64::from(key.public_key().as_bytes()[0]),
        };
        let credential = self.ca.issue_compact(&claims).unwrap();
        let result = self.result(&key.public_key(), Tier::Affirming, at(self.t0 + result_ms));
        let certificate = self.ca.issue_x509(&claims, Some(&result)).unwrap();
        Device {
            key,
            credential,
            certificate,
            result,
        }
    }

    /// An attestation result for `key`, issued a second before the mission's start.
    pub fn result(&self, key: &PublicKey, tier: Tier, expires_at: Timestamp) -> Vec<u8> {
        AttestationResult {
            device: key.device_id(),
            key: *key,
            tier,
            statuses: BTreeMap::new(),
            issued_at: at(self.t0 - 1000),
            expires_at,
        }
        .sign(&*self.verifier_key)
        .unwrap()
    }

    /// The device's identity credentials for EDHOC, its credential and result installed.
    pub fn credentials(&self, device: &Device) -> IdentityCredentials {
        let clock = WallClock::new(Instant::ZERO, at(self.t0));
        let creds = IdentityCredentials::new(self.store(), device.key.clone(), clock);
        creds
            .set_credential(&device.credential, Instant::ZERO)
            .unwrap();
        creds
            .set_result(device.result.clone(), Instant::ZERO)
            .unwrap();
        creds
    }
}

/// Evidence the device signs over `nonce` at `now`, with the reference measurements.
pub fn evidence(key: &SoftwareKey, nonce: &Nonce, now: Timestamp) -> Vec<u8> {
    Evidence {
        device: key.public_key().device_id(),
        nonce: nonce.clone(),
        issued_at: now,
        secure_boot: true,
        debug: DebugState::DisabledPermanently,
        firmware: FirmwareVersion::new(2, 4, 1),
        measurements: good_measurements(),
    }
    .sign(key)
    .unwrap()
}

/// A small deterministic generator for the link's loss, duplication and delay.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.next() % 1000 < per_mille
    }
}

/// Two endpoints (addresses 0 and 1), a seeded link and a clock.
pub struct Link {
    pub eps: [Endpoint<u8>; 2],
    pub now: Instant,
    pub flight: Vec<(Instant, u8, Vec<u8>)>,
    pub rng: XorShift,
    pub loss: u64,
    pub events: [Vec<Event<u8>>; 2],
    pub errors: Vec<(u8, InputError)>,
    pub refused: Vec<OpenError>,
    /// Bytes each side put on the air.
    pub bytes: [usize; 2],
    pub datagrams: [usize; 2],
    /// The device each side authenticates as.
    pub ids: [DeviceId; 2],
}

/// The device `creds` authenticate as: the key of its credential for suite 4 or 6.
pub fn device_of(creds: &dyn Credentials) -> DeviceId {
    [CipherSuite::Suite4, CipherSuite::Suite6]
        .into_iter()
        .find_map(|suite| creds.local(suite))
        .map(|local| local.signer().public_key().device_id())
        .unwrap_or_default()
}

impl Link {
    pub fn new(a: Arc<dyn Credentials>, b: Arc<dyn Credentials>) -> Self {
        Self::with_config(EndpointConfig::default(), a, b)
    }

    pub fn with_config(
        config: EndpointConfig,
        a: Arc<dyn Credentials>,
        b: Arc<dyn Credentials>,
    ) -> Self {
        let rng = Arc::new(SystemRandom::new());
        let ids = [device_of(&*a), device_of(&*b)];
        Self {
            ids,
            eps: [
                Endpoint::new(config.clone(), a, rng.clone()),
                Endpoint::new(config, b, rng),
            ],
            now: Instant::ZERO,
            flight: Vec::new(),
            rng: XorShift(0x9e37_79b9_7f4a_7c15),
            loss: 0,
            events: [Vec::new(), Vec::new()],
            errors: Vec::new(),
            refused: Vec::new(),
            bytes: [0, 0],
            datagrams: [0, 0],
        }
    }

    /// Starts a handshake from side 0 to side 1, expecting side 1's device.
    pub fn connect(&mut self) -> SessionId {
        self.eps[0].connect(self.now, 1, self.ids[1]).unwrap()
    }

    pub fn lossy(mut self, seed: u64, loss_per_mille: u64) -> Self {
        self.rng = XorShift(seed | 1);
        self.loss = loss_per_mille;
        self
    }

    pub fn drain(&mut self) {
        for node in 0..2u8 {
            let ep = &mut self.eps[usize::from(node)];
            while let Some(e) = ep.poll_event() {
                self.events[usize::from(node)].push(e);
            }
            let mut buf = Vec::new();
            while let Some(t) = ep.poll_transmit(self.now, &mut buf) {
                self.bytes[usize::from(node)] += t.len;
                self.datagrams[usize::from(node)] += 1;
                if self.rng.chance(self.loss) {
                    continue;
                }
                let delay = 10 + self.rng.next() % 40;
                self.flight.push((
                    self.now + Duration::from_millis(delay),
                    t.destination,
                    buf[..t.len].to_vec(),
                ));
            }
        }
    }

    /// Advances to the next delivery or timer; false when nothing is left.
    pub fn step(&mut self) -> bool {
        self.drain();
        let next_flight = self.flight.iter().map(|f| f.0).min();
        let next_timer = self.eps.iter().filter_map(Endpoint::poll_timeout).min();
        let Some(next) = [next_flight, next_timer].into_iter().flatten().min() else {
            return false;
        };
        assert!(next >= self.now, "time moves forward");
        self.now = next;
        let (due, later): (Vec<_>, Vec<_>) = self.flight.drain(..).partition(|f| f.0 <= self.now);
        self.flight = later;
        for (_, to, bytes) in due {
            let from = 1 - to;
            match self.eps[usize::from(to)].handle_input(self.now, from, &bytes) {
                Ok(Some(incoming)) => {
                    if let Err(e) = self.eps[usize::from(to)].accept(self.now, incoming) {
                        self.refused.push(e);
                    }
                }
                Ok(None) => {}
                Err(e) => self.errors.push((to, e)),
            }
        }
        for ep in &mut self.eps {
            ep.handle_timeout(self.now);
        }
        self.drain();
        true
    }

    /// Runs until `done` or nothing is left to do (or `limit` of simulated time passed).
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Self) -> bool) -> bool {
        let end = self.now + limit;
        while self.now < end {
            if done(self) {
                return true;
            }
            if !self.step() {
                return done(self);
            }
        }
        done(self)
    }

    /// Runs until both endpoints are idle.
    pub fn settle(&mut self) {
        let mut steps = 0;
        while self.step() {
            steps += 1;
            assert!(steps < 100_000, "the endpoints go quiet");
        }
    }

    pub fn connected(&self, node: u8) -> Vec<&iomt_transport::PeerInfo> {
        self.events[usize::from(node)]
            .iter()
            .filter_map(|e| match e {
                Event::Connected { info, .. } => Some(info),
                _ => None,
            })
            .collect()
    }

    pub fn closed(&self, node: u8) -> Vec<&iomt_transport::CloseReason> {
        self.events[usize::from(node)]
            .iter()
            .filter_map(|e| match e {
                Event::Closed { reason, .. } => Some(reason),
                _ => None,
            })
            .collect()
    }
}
