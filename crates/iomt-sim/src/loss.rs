//! Packet loss models: independent (Bernoulli) and bursty (Gilbert-Elliott).

use rand_core::Rng;

use crate::rng::Probability;

/// How a link or radio pair loses packets.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Loss {
    /// Nothing is lost.
    #[default]
    None,
    /// Each packet is lost independently with probability `p`.
    Bernoulli {
        /// Loss probability, 0..=1.
        p: f64,
    },
    /// Two-state Markov chain, stepped once per packet: in the good state packets are lost with
    /// `loss_good`, in the bad state with `loss_bad`.
    GilbertElliott {
        /// Probability of moving from good to bad before a packet.
        good_to_bad: f64,
        /// Probability of moving from bad to good before a packet.
        bad_to_good: f64,
        /// Loss probability in the good state.
        loss_good: f64,
        /// Loss probability in the bad state.
        loss_bad: f64,
    },
}

impl Loss {
    /// The long-run loss rate the model converges to.
    pub fn mean(&self) -> f64 {
        match *self {
            Self::None => 0.0,
            Self::Bernoulli { p } => p.clamp(0.0, 1.0),
            Self::GilbertElliott {
                good_to_bad,
                bad_to_good,
                loss_good,
                loss_bad,
            } => {
                let total = good_to_bad + bad_to_good;
                if total <= 0.0 {
                    return loss_good;
                }
                let bad = good_to_bad / total;
                (1.0 - bad) * loss_good + bad * loss_bad
            }
        }
    }
}

/// Per-direction state of a loss model (the Gilbert-Elliott channel state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct LossState {
    bad: bool,
}

impl LossState {
    /// Steps the model for one packet and says whether it is lost.
    pub(crate) fn lose(&mut self, model: &Loss, rng: &mut impl Rng) -> bool {
        match *model {
            Loss::None => false,
            Loss::Bernoulli { p } => Probability::new(p).sample(rng),
            Loss::GilbertElliott {
                good_to_bad,
                bad_to_good,
                loss_good,
                loss_bad,
            } => {
                let flip = if self.bad { bad_to_good } else { good_to_bad };
                if Probability::new(flip).sample(rng) {
                    self.bad = !self.bad;
                }
                let p = if self.bad { loss_bad } else { loss_good };
                Probability::new(p).sample(rng)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Purpose, Seed};

    fn rate(model: Loss) -> (f64, usize) {
        let mut rng = Seed(3).stream(Purpose::Loss, 0);
        let mut state = LossState::default();
        let outcomes: Vec<bool> = (0..50_000).map(|_| state.lose(&model, &mut rng)).collect();
        let lost = outcomes.iter().filter(|l| **l).count();
        let longest_burst = outcomes
            .split(|l| !*l)
            .map(<[bool]>::len)
            .max()
            .unwrap_or(0);
        #[allow(
            clippy::as_conversions,
            reason = "counts far below 2^53 are exact in f64"
        )]
        (lost as f64 / outcomes.len() as f64, longest_burst)
    }

    #[test]
    fn bernoulli_rate() {
        let (r, _) = rate(Loss::Bernoulli { p: 0.1 });
        assert!((r - 0.1).abs() < 0.01, "{r}");
        assert_eq!(rate(Loss::None).0, 0.0);
    }

    #[test]
    fn gilbert_elliott_rate_and_bursts() {
        let model = Loss::GilbertElliott {
            good_to_bad: 0.02,
            bad_to_good: 0.2,
            loss_good: 0.0,
            loss_bad: 0.9,
        };
        let (r, burst) = rate(model);
        assert!((r - model.mean()).abs() < 0.02, "{r} vs {}", model.mean());
        let (_, bernoulli_burst) = rate(Loss::Bernoulli { p: model.mean() });
        assert!(burst > bernoulli_burst, "{burst} <= {bernoulli_burst}");
    }
}
