//! The anti-replay sliding window (RFC 6479): a ring of 64-bit blocks, so advancing the window
//! clears whole blocks instead of shifting a bitmap.
//!
//! [`ReplayWindow::check`] only reads; [`ReplayWindow::accept`] is called after the record has
//! authenticated (RFC 9147 section 4.5.1), so forged records cannot move the window.

/// Records behind the highest accepted one that the window still tracks.
pub const WINDOW: u64 = 1024;

const BLOCK_BITS: u64 = 64;
/// One block more than the window needs, so the block being filled never overlaps the oldest.
const BLOCKS: usize = 17;
const BLOCKS_U64: u64 = 17;

/// Why a sequence number is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// This sequence number was accepted before.
    #[error("replayed record")]
    Duplicate,
    /// The sequence number is at least [`WINDOW`] behind the newest accepted one.
    #[error("record too old for the replay window")]
    TooOld,
}

/// A sliding window over the sequence numbers accepted so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayWindow {
    top: Option<u64>,
    blocks: [u64; BLOCKS],
}

impl Default for ReplayWindow {
    fn default() -> Self {
        Self::new()
    }
}

impl ReplayWindow {
    /// An empty window: every sequence number is new.
    pub fn new() -> Self {
        Self {
            top: None,
            blocks: [0; BLOCKS],
        }
    }

    /// The highest sequence number accepted so far.
    pub fn top(&self) -> Option<u64> {
        self.top
    }

    fn slot(seq: u64) -> (usize, u64) {
        let block = usize::try_from((seq / BLOCK_BITS) % BLOCKS_U64).unwrap_or(0);
        (block, 1 << (seq % BLOCK_BITS))
    }

    /// Whether `seq` would be accepted. Does not change the window.
    pub fn check(&self, seq: u64) -> Result<(), ReplayError> {
        let Some(top) = self.top else {
            return Ok(());
        };
        if seq > top {
            return Ok(());
        }
        if top - seq >= WINDOW {
            return Err(ReplayError::TooOld);
        }
        let (block, bit) = Self::slot(seq);
        match self.blocks.get(block) {
            Some(b) if b & bit != 0 => Err(ReplayError::Duplicate),
            _ => Ok(()),
        }
    }

    /// Records `seq` as received; call only after the record authenticated.
    pub fn accept(&mut self, seq: u64) -> Result<(), ReplayError> {
        self.check(seq)?;
        if self.top.is_none_or(|top| seq > top) {
            let first_new = self
                .top
                .map_or(seq / BLOCK_BITS, |top| top / BLOCK_BITS + 1);
            let last_new = seq / BLOCK_BITS;
            // Clear every block the window advances into (at most all of them).
            let span = (last_new + 1).saturating_sub(first_new).min(BLOCKS_U64);
            for i in 0..span {
                let (block, _) = Self::slot((last_new - i) * BLOCK_BITS);
                if let Some(b) = self.blocks.get_mut(block) {
                    *b = 0;
                }
            }
            self.top = Some(seq);
        }
        let (block, bit) = Self::slot(seq);
        if let Some(b) = self.blocks.get_mut(block) {
            *b |= bit;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeSet;
    use proptest::prelude::*;

    /// The obvious model: remember every accepted number.
    #[derive(Default)]
    struct Model {
        seen: BTreeSet<u64>,
    }

    impl Model {
        fn accept(&mut self, seq: u64) -> Result<(), ReplayError> {
            if let Some(&top) = self.seen.last()
                && seq <= top
                && top - seq >= WINDOW
            {
                return Err(ReplayError::TooOld);
            }
            if !self.seen.insert(seq) {
                return Err(ReplayError::Duplicate);
            }
            Ok(())
        }
    }

    #[test]
    fn basics() {
        let mut w = ReplayWindow::new();
        assert_eq!(w.accept(5), Ok(()));
        assert_eq!(w.accept(5), Err(ReplayError::Duplicate));
        assert_eq!(w.accept(3), Ok(()));
        assert_eq!(w.accept(5 + WINDOW), Ok(()));
        assert_eq!(w.check(5), Err(ReplayError::TooOld));
        assert_eq!(w.check(6), Ok(()));
        assert_eq!(w.accept(u64::MAX), Ok(()));
        assert_eq!(w.check(u64::MAX), Err(ReplayError::Duplicate));
        assert_eq!(w.check(u64::MAX - WINDOW + 1), Ok(()));
        assert_eq!(w.check(u64::MAX - WINDOW), Err(ReplayError::TooOld));
        assert_eq!(w.top(), Some(u64::MAX));
    }

    #[test]
    fn check_does_not_change_the_window() {
        let mut w = ReplayWindow::new();
        w.accept(100).unwrap();
        let before = w.clone();
        for seq in [0, 99, 100, 101, 5000] {
            let _ = w.check(seq);
        }
        assert_eq!(w, before);
    }

    fn op() -> impl Strategy<Value = u64> {
        prop_oneof![
            0u64..3000,
            (0u64..3000).prop_map(|x| x * 64),
            (0u64..200).prop_map(|x| x + 1000),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn matches_the_model(seqs in proptest::collection::vec(op(), 1..400)) {
            let mut window = ReplayWindow::new();
            let mut model = Model::default();
            for seq in seqs {
                prop_assert_eq!(window.check(seq), model.clone_check(seq));
                prop_assert_eq!(window.accept(seq), model.accept(seq), "seq {}", seq);
            }
        }
    }

    impl Model {
        fn clone_check(&self, seq: u64) -> Result<(), ReplayError> {
            let mut copy = Model {
                seen: self.seen.clone(),
            };
            copy.accept(seq)
        }
    }
}
