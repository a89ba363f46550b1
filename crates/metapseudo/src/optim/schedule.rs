//! Learning-rate schedules: an optional wait at 0, linear warm-up, then constant or cosine.

use crate::config::OptimConfig;

/// A learning rate as a function of the step, as in the reference MPL code: 0 during the
/// wait, `lr * t / warmup` during warm-up (`t` counted from the end of the wait), then either
/// constant or `lr * 0.5 * (1 + cos(pi * progress))` reaching 0 at the last step.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    /// Peak learning rate.
    pub lr: f64,
    /// Steps at 0 before warm-up.
    pub wait: u64,
    /// Warm-up steps.
    pub warmup: u64,
    /// Cosine decay after warm-up (else constant).
    pub cosine: bool,
    /// Total training steps.
    pub total: u64,
}

impl Schedule {
    /// The schedule an optimiser configuration describes over `total` steps.
    pub fn from_config(c: &OptimConfig, total: u64) -> Self {
        Self {
            lr: c.lr,
            wait: c.wait_steps,
            warmup: c.warmup_steps,
            cosine: c.schedule == "cosine",
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
        if !self.cosine {
            return self.lr;
        }
        let span = self.total.saturating_sub(self.wait + self.warmup).max(1);
        let progress = ((t - self.warmup) as f64 / span as f64).min(1.0);
        self.lr * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
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
            cosine: true,
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
        let c = Schedule { cosine: false, ..s };
        assert_eq!(c.at(129), 0.1);
        let plain = Schedule {
            lr: 0.3,
            wait: 0,
            warmup: 0,
            cosine: false,
            total: 5,
        };
        assert_eq!(plain.at(0), 0.3);
    }
}
