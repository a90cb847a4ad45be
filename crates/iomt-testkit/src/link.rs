//! Two endpoints on a seeded lossy link, with a fake clock.
#![allow(
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test driver: a stalled or failed step stops the test where it happened"
)]

use std::sync::Arc;
use std::time::Duration;

use iomt_schema::rand::SecureRandom;
use iomt_schema::{DeviceId, Instant};
use iomt_transport::{
    CipherSuite, CloseReason, Credentials, Endpoint, EndpointConfig, Event, InputError, OpenError,
    PeerInfo, SessionId,
};

use crate::random::TestRandom;

/// A small deterministic generator for the link's loss, duplication and delay.
#[derive(Debug, Clone)]
pub struct XorShift(pub u64);

impl XorShift {
    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// True `per_mille` times in a thousand.
    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.next_u64() % 1000 < per_mille
    }
}

/// The device `creds` authenticate as: the key of its credential for suite 4 or 6.
pub fn device_of(creds: &dyn Credentials) -> DeviceId {
    [CipherSuite::Suite4, CipherSuite::Suite6]
        .into_iter()
        .find_map(|suite| creds.local(suite))
        .map(|local| local.signer().public_key().device_id())
        .unwrap_or_default()
}

/// Two endpoints (addresses 0 and 1) on one link, and the clock that drives them.
///
/// Every datagram is delayed 10 to 50 ms; a lossy link ([`lossy`](Self::lossy)) drops some.
/// The link records what each side saw: its events, the input errors, the refused initiators,
/// and the bytes and datagrams it put on the air.
pub struct Link {
    /// The endpoints, by address.
    pub eps: [Endpoint<u8>; 2],
    /// The simulated time.
    pub now: Instant,
    /// Datagrams on the air: when they arrive, where, and their bytes.
    pub flight: Vec<(Instant, u8, Vec<u8>)>,
    /// The link's loss and delay.
    pub rng: XorShift,
    /// Datagrams lost per thousand.
    pub loss: u64,
    /// Every event each side produced.
    pub events: [Vec<Event<u8>>; 2],
    /// Input each side refused.
    pub errors: Vec<(u8, InputError)>,
    /// Initiators the responder refused.
    pub refused: Vec<OpenError>,
    /// Bytes each side put on the air.
    pub bytes: [usize; 2],
    /// Datagrams each side put on the air.
    pub datagrams: [usize; 2],
    /// The device each side authenticates as.
    pub ids: [DeviceId; 2],
}

impl Link {
    /// Endpoints with the default configuration and `a`'s and `b`'s credentials.
    pub fn new(a: Arc<dyn Credentials>, b: Arc<dyn Credentials>) -> Self {
        Self::with_config(EndpointConfig::default(), a, b)
    }

    /// Endpoints with `config`, drawing from the system's generator.
    pub fn with_config(
        config: EndpointConfig,
        a: Arc<dyn Credentials>,
        b: Arc<dyn Credentials>,
    ) -> Self {
        Self::with_random(config, a, b, Arc::new(TestRandom::system()))
    }

    /// Endpoints with `config`, drawing their ephemeral keys and connection ids from `rng` (a
    /// seeded [`TestRandom`] replays a run).
    pub fn with_random(
        config: EndpointConfig,
        a: Arc<dyn Credentials>,
        b: Arc<dyn Credentials>,
        rng: Arc<dyn SecureRandom>,
    ) -> Self {
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
        self.eps[0]
            .connect(self.now, 1, self.ids[1])
            .expect("the handshake starts")
    }

    /// The link loses `loss_per_mille` datagrams in a thousand, drawn from `seed`.
    #[must_use]
    pub fn lossy(mut self, seed: u64, loss_per_mille: u64) -> Self {
        self.rng = XorShift(seed | 1);
        self.loss = loss_per_mille;
        self
    }

    /// Collects both sides' events and puts their datagrams on the air.
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
                let delay = 10 + self.rng.next_u64() % 40;
                self.flight.push((
                    self.now + Duration::from_millis(delay),
                    t.destination,
                    buf[..t.len].to_vec(),
                ));
            }
        }
    }

    /// Advances to the next delivery or timer; false when nothing is left.
    ///
    /// # Panics
    ///
    /// If an endpoint's timeout lies in the past: time moves forward.
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

    /// Runs until `done` or nothing is left to do (or `limit` of simulated time passed);
    /// returns `done`'s last answer.
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
    ///
    /// # Panics
    ///
    /// If they are not after 100,000 steps: every endpoint goes quiet.
    pub fn settle(&mut self) {
        let mut steps = 0;
        while self.step() {
            steps += 1;
            assert!(steps < 100_000, "the endpoints go quiet");
        }
    }

    /// What side `node` learnt of each peer it connected to.
    pub fn connected(&self, node: u8) -> Vec<&PeerInfo> {
        self.events[usize::from(node)]
            .iter()
            .filter_map(|e| match e {
                Event::Connected { info, .. } => Some(info),
                _ => None,
            })
            .collect()
    }

    /// Why side `node`'s sessions closed.
    pub fn closed(&self, node: u8) -> Vec<&CloseReason> {
        self.events[usize::from(node)]
            .iter()
            .filter_map(|e| match e {
                Event::Closed { reason, .. } => Some(reason),
                _ => None,
            })
            .collect()
    }
}
