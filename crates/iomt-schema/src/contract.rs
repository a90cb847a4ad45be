//! The sans-IO contract that every state machine of the workspace follows: the transport
//! `Endpoint` and its post-handshake exchanges, the mesh `Router`, the simulator's `Node`, and
//! anything that composes them. It is written once, here, because every crate depends on this
//! one; each state machine's documentation says only what it adds.
//!
//! Models: quinn-proto's `Connection`, str0m's `Rtc`, firezone's snownet.
//!
//! # Inputs
//!
//! - `handle_input(now, ..., bytes)`: one received datagram (or stream chunk), with whatever
//!   addressing the machine needs (interface, source, destination).
//! - `handle_timeout(now)`: the instant last returned by `poll_timeout` has been reached (calling
//!   it early is harmless: nothing is due).
//! - Typed commands (`connect`, `accept`, `send`, ...), each taking `now` first when it needs
//!   the time.
//!
//! `now` is an [`Instant`](crate::Instant): monotonic, passed in, never read from a clock.
//! Security randomness is an `Arc<dyn `[`SecureRandom`](crate::rand::SecureRandom)`>` named
//! `rng`, given at construction (`SystemRandom` in production, `SeededRandom` where a run must
//! replay); jitter comes from a seeded generator inside the machine. A
//! constructor takes its configuration first (`config`), then what it owns (credentials,
//! identity), then `now` and `rng` where it needs them.
//!
//! # Outputs, and the one drain order
//!
//! After any input or command, drain in this order:
//!
//! 1. `poll_transmit(now, &mut buf)` until `None`. Each call writes one datagram into `buf`
//!    (cleared first) and returns a `Transmit` that says where it goes, its `len` in `buf`, and
//!    its `kind` (for example a handshake message or a record; routing or data), so a driver
//!    never looks inside the bytes to decide how to carry them.
//! 2. `poll_event()` until `None`: what the application must know. Handling an event may call
//!    into the machine again (accept, send, close); if it did, go back to step 1.
//! 3. `poll_timeout()`: when to call `handle_timeout` next, or `None` when the machine is idle.
//!
//! Transmits come first so that a driver with nothing to tell the application still keeps the
//! network moving; events come before the timeout so that what the application does about them
//! is accounted for in the timer it then reads.
//!
//! # Guarantees
//!
//! - `poll_timeout` only moves forward, and a machine left alone goes quiet: its timeout
//!   becomes `None` (every machine has a test that drives it to idle in simulated time).
//! - Nothing a peer sends makes a machine hold more than a configured limit: every table,
//!   queue, cache and buffer has a bound in its configuration and a documented eviction rule.
//! - A new peer surfaces for the application to accept or refuse before any per-peer state
//!   exists where the protocol allows it.
//! - Fatal errors are sticky; bytes that do not parse or authenticate are dropped with a typed
//!   error and change nothing.
