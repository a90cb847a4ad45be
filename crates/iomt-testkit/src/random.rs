//! The fixtures' randomness: the system's generator, or a seeded one that makes a fixture
//! again, key for key.

use iomt_schema::rand::{SecureRandom, SeededRandom, SystemRandom, Unavailable};

/// Where a fixture draws its keys, nonces and challenges from.
///
/// Seeded, an Ed25519 key, a challenge or an EDHOC ephemeral key comes out the same for the
/// same seed; a P-256 key does not (`ring` makes those only from the system's generator).
#[derive(Debug)]
pub enum TestRandom {
    /// The operating system's generator.
    System(SystemRandom),
    /// A deterministic generator: the same seed gives the same bytes.
    Seeded(SeededRandom),
}

impl TestRandom {
    /// The operating system's generator.
    pub fn system() -> Self {
        Self::System(SystemRandom::new())
    }

    /// A generator started at `seed`.
    pub const fn seeded(seed: u64) -> Self {
        Self::Seeded(SeededRandom::new(seed))
    }
}

impl SecureRandom for TestRandom {
    fn fill(&self, dest: &mut [u8]) -> Result<(), Unavailable> {
        match self {
            Self::System(rng) => rng.fill(dest),
            Self::Seeded(rng) => rng.fill(dest),
        }
    }
}
