//! Security randomness, as every state machine of the workspace takes it: a
//! [`SecureRandom`] passed in (see [`contract`](crate::contract)), never a global generator.
//!
//! The trait is the workspace's own rather than `ring`'s, whose `SecureRandom` is sealed: a
//! test or a fuzz target can then drive a state machine with `SeededRandom` (feature
//! `seeded-random`) and replay a run, or a crash, from its seed. Production code passes
//! `SystemRandom` (feature `ring`: `ring`'s generator over the operating system's), through
//! `Arc<dyn SecureRandom>` or `&dyn SecureRandom`.
//!
//! ```
//! # #[cfg(feature = "ring")] {
//! use std::sync::Arc;
//! use iomt_schema::rand::{SecureRandom, SystemRandom};
//!
//! let rng: Arc<dyn SecureRandom> = Arc::new(SystemRandom::new());
//! let mut nonce = [0u8; 16];
//! rng.fill(&mut nonce)?;
//! # }
//! # Ok::<(), iomt_schema::rand::Unavailable>(())
//! ```

#[cfg(feature = "ring")]
pub use ring::rand::SystemRandom;

/// The generator could not produce bytes (the operating system's source failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("no secure random bytes available")]
pub struct Unavailable;

/// A source of cryptographically secure random bytes.
pub trait SecureRandom: Send + Sync {
    /// Fills `dest` entirely with random bytes.
    fn fill(&self, dest: &mut [u8]) -> Result<(), Unavailable>;
}

#[cfg(feature = "ring")]
impl SecureRandom for SystemRandom {
    fn fill(&self, dest: &mut [u8]) -> Result<(), Unavailable> {
        ring::rand::SecureRandom::fill(self, dest).map_err(|_| Unavailable)
    }
}

/// A deterministic generator (SplitMix64 over an atomic counter): the same seed gives the
/// same bytes, so a simulation or a fuzz input replays exactly. **Not** secure: for tests and
/// fuzzing only, never for keys that protect anything.
#[cfg(feature = "seeded-random")]
#[derive(Debug)]
pub struct SeededRandom {
    counter: core::sync::atomic::AtomicU64,
}

#[cfg(feature = "seeded-random")]
impl SeededRandom {
    /// A generator started at `seed`.
    pub const fn new(seed: u64) -> Self {
        Self {
            counter: core::sync::atomic::AtomicU64::new(seed),
        }
    }

    /// A generator seeded from up to the first 8 bytes of `bytes` (a fuzz input, say).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let mut seed = [0u8; 8];
        for (s, b) in seed.iter_mut().zip(bytes) {
            *s = *b;
        }
        Self::new(u64::from_le_bytes(seed))
    }

    fn next(&self) -> u64 {
        const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut z = self
            .counter
            .fetch_add(GAMMA, core::sync::atomic::Ordering::Relaxed)
            .wrapping_add(GAMMA);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(feature = "seeded-random")]
impl SecureRandom for SeededRandom {
    fn fill(&self, dest: &mut [u8]) -> Result<(), Unavailable> {
        for chunk in dest.chunks_mut(8) {
            let word = self.next().to_le_bytes();
            for (d, w) in chunk.iter_mut().zip(word) {
                *d = w;
            }
        }
        Ok(())
    }
}

#[cfg(all(test, feature = "seeded-random"))]
mod tests {
    use super::*;

    #[test]
    fn a_seed_replays_and_two_seeds_differ() {
        let (a, b, c) = (
            SeededRandom::new(7),
            SeededRandom::new(7),
            SeededRandom::new(8),
        );
        let (mut x, mut y, mut z) = ([0u8; 37], [0u8; 37], [0u8; 37]);
        a.fill(&mut x).unwrap();
        b.fill(&mut y).unwrap();
        c.fill(&mut z).unwrap();
        assert_eq!(x, y);
        assert_ne!(x, z);
        // SplitMix64's first output for seed 0 (Steele, Lea and Flood's reference).
        let mut first = [0u8; 8];
        SeededRandom::new(0).fill(&mut first).unwrap();
        assert_eq!(u64::from_le_bytes(first), 0xe220_a839_7b1d_cdaf);
        assert_eq!(
            SeededRandom::from_bytes(&7u64.to_le_bytes()).next(),
            SeededRandom::new(7).next()
        );
    }
}
