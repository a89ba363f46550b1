//! Learning-rate schedules: an optional wait at 0, linear warm-up, then constant, cosine or
//! step decay.

use crate::config::OptimConfig;
use crate::config::ScheduleKind;

/// A learning rate as a function of the step, as in the reference MPL code: 0 during the
/// wait, `lr * t / warmup` during warm-up (`t` counted from the end of the wait), then as
/// [`Decay`] says.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    /// Peak learning rate.
    pub lr: f64,
    /// Steps at 0 before warm-up.
    pub wait: u64,
    /// Warm-up steps.
    pub warmup: u64,
    /// What follows the warm-up.
    pub decay: Decay,
    /// Total training steps.
    pub total: u64,
}

/// The learning rate after warm-up.
#[derive(Clone, Debug, PartialEq)]
pub enum Decay {
    /// The peak rate to the end.
    Constant,
    /// `lr * 0.5 * (1 + cos(pi * progress))`, reaching 0 at the last step.
    Cosine,
    /// The peak rate times `factor` once for every step of `at` (counted from the start of
    /// training) already reached: MetaSemi's x0.1 at 300k and 350k of 400k steps.
    Steps {
        /// Steps at which the rate drops.
        at: Vec<u64>,
        /// The factor of each drop.
        factor: f64,
    },
}

impl Schedule {
    /// The schedule an optimiser configuration describes over `total` steps.
    pub fn from_config(c: &OptimConfig, total: u64) -> Self {
        Self {
            lr: c.lr,
            wait: c.wait_steps,
            warmup: c.warmup_steps,
            decay: match c.schedule {
                ScheduleKind::Cosine => Decay::Cosine,
                ScheduleKind::Step => Decay::Steps {
                    at: c.decay_at.clone(),
                    factor: c.decay_factor,
                },
                ScheduleKind::Constant => Decay::Constant,
            },
            total,
        }
    }

    /// Learning rate at `step` (0-based).
    pub fn at(&self, step: u64) -> f64 {
        if step < self.wait {
            return 0.0;
        }
        let t = step - self.wait;
        if t < self.warmup {
            return self.lr * t as f64 / self.warmup as f64;
        }
        match &self.decay {
            Decay::Constant => self.lr,
            Decay::Cosine => {
                let span = self.total.saturating_sub(self.wait + self.warmup).max(1);
                let progress = ((t - self.warmup) as f64 / span as f64).min(1.0);
                self.lr * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
            }
            Decay::Steps { at, factor } => {
                let drops = at.iter().filter(|&&m| step >= m).count();
                self.lr * factor.powi(drops as i32)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_warmup_and_cosine() {
        let s = Schedule {
            lr: 0.1,
            wait: 10,
            warmup: 20,
            decay: Decay::Cosine,
            total: 130,
        };
        assert_eq!(s.at(0), 0.0);
        assert_eq!(s.at(9), 0.0);
        assert_eq!(s.at(10), 0.0);
        assert!((s.at(20) - 0.05).abs() < 1e-12);
        assert!((s.at(30) - 0.1).abs() < 1e-12);
        assert!((s.at(80) - 0.05).abs() < 1e-12);
        assert!(s.at(130).abs() < 1e-12);
        assert!(s.at(129) > 0.0 && s.at(129) < 1e-3);
        let c = Schedule {
            decay: Decay::Constant,
            ..s.clone()
        };
        assert_eq!(c.at(129), 0.1);
        let plain = Schedule {
            lr: 0.3,
            wait: 0,
            warmup: 0,
            decay: Decay::Constant,
            total: 5,
        };
        assert_eq!(plain.at(0), 0.3);
    }

    #[test]
    fn step_decay_drops_by_the_factor_at_each_milestone() {
        let s = Schedule {
            lr: 0.1,
            wait: 0,
            warmup: 4,
            decay: Decay::Steps {
                at: vec![30, 35],
                factor: 0.1,
            },
            total: 40,
        };
        assert!((s.at(2) - 0.05).abs() < 1e-12);
        assert_eq!(s.at(4), 0.1);
        assert_eq!(s.at(29), 0.1);
        assert!((s.at(30) - 0.01).abs() < 1e-12);
        assert!((s.at(34) - 0.01).abs() < 1e-12);
        assert!((s.at(35) - 0.001).abs() < 1e-12);
        assert!((s.at(39) - 0.001).abs() < 1e-12);
        let mut c = crate::config::OptimConfig {
            schedule: "step".into(),
            decay_at: vec![30, 35],
            decay_factor: 0.1,
            warmup_steps: 4,
            lr: 0.1,
            ..Default::default()
        };
        assert_eq!(Schedule::from_config(&c, 40), s);
        c.schedule = "cosine".into();
        assert_eq!(Schedule::from_config(&c, 40).decay, Decay::Cosine);
    }
}
