//! The checks of a configuration against the machine it runs on and the data it reads: sizes
//! that would exhaust memory or threads are refused before anything is allocated, naming the
//! option and the limit.

use super::{Config, ModelName};
use anyhow::{Result, bail};

/// What this machine offers: memory and cores.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Machine {
    /// Physical memory in bytes.
    pub memory: u64,
    /// Cores this process may use.
    pub cores: usize,
}

/// Bytes in a GiB, for messages.
const GIB: f64 = (1u64 << 30) as f64;

/// Copies of every parameter a run keeps: weights and gradients of the teacher and student,
/// their momentum buffers, the EMA, and room for the autodiff graph's copies.
const PARAMETER_COPIES: u64 = 8;

/// Bytes one input feature of a step costs, counting its views, their activations and their
/// gradients (a generous bound for the networks here).
const BYTES_PER_STEP_FEATURE: u64 = 4 * 16;

impl Machine {
    /// This machine: `MemTotal` of `/proc/meminfo` (8 GiB where it cannot be read) and the
    /// available parallelism.
    pub fn this() -> Self {
        let memory = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                let line = m.lines().find(|l| l.starts_with("MemTotal:"))?;
                let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
                Some(kib * 1024)
            })
            .unwrap_or(8 << 30);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self { memory, cores }
    }

    /// The most data workers worth starting: four per core, at least 8.
    pub fn max_workers(&self) -> usize {
        (4 * self.cores).max(8)
    }
}

/// `bytes` as GiB with two decimals.
fn gib(bytes: u64) -> String {
    format!("{:.2} GiB", bytes as f64 / GIB)
}

impl Config {
    /// Checks the options whose cost does not depend on the data: data workers against the
    /// cores, the generated moons against memory, the samples of a step against overflow.
    pub fn check_machine(&self, m: &Machine) -> Result<()> {
        if self.data.workers > m.max_workers() {
            bail!(
                "data.workers = {} is more than this machine can use: at most {} (4 per core, {} cores)",
                self.data.workers,
                m.max_workers(),
                m.cores
            );
        }
        let moons = (self.data.moons_train_size as u64).saturating_mul(64);
        if moons > m.memory / 2 {
            bail!(
                "data.moons_train_size = {} would take {} of this machine's {}: at most {}",
                self.data.moons_train_size,
                gib(moons),
                gib(m.memory),
                m.memory / 2 / 64
            );
        }
        self.samples_per_step()?;
        if self.model.width > 1024 {
            bail!(
                "model.width = {} is far beyond any network here: at most 1024",
                self.model.width
            );
        }
        Ok(())
    }

    /// Samples one training step reads: the labeled batch and, for each of two views, `mu`
    /// unlabeled batches; an error when the product overflows.
    pub fn samples_per_step(&self) -> Result<u64> {
        let b = self.train.batch_size as u64;
        (self.train.mu as u64)
            .checked_mul(2)
            .and_then(|v| v.checked_add(1))
            .and_then(|v| v.checked_mul(b))
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "train.batch_size = {} with train.mu = {} asks for more samples per step than can be counted",
                    self.train.batch_size,
                    self.train.mu
                )
            })
    }

    /// Checks the options whose cost depends on the data (`features` per example,
    /// `classes`): the memory of one step's batches and of the MLP's parameters.
    pub fn check_fits(&self, m: &Machine, features: usize, classes: usize) -> Result<()> {
        let samples = self.samples_per_step()?;
        let step = samples
            .saturating_mul(features as u64)
            .saturating_mul(BYTES_PER_STEP_FEATURE);
        if step > m.memory {
            bail!(
                "train.batch_size = {} and train.mu = {} make steps of {samples} samples of {features} features, about {} for a step on this machine's {}: lower them",
                self.train.batch_size,
                self.train.mu,
                gib(step),
                gib(m.memory)
            );
        }
        if self.model.name == ModelName::Mlp {
            let mut widths = vec![features as u64];
            widths.extend(self.model.hidden.iter().map(|&w| w as u64));
            widths.push(classes as u64);
            let params = widths
                .windows(2)
                .map(|w| w[0].saturating_mul(w[1]).saturating_add(w[1]))
                .fold(0u64, u64::saturating_add);
            let bytes = params.saturating_mul(4 * PARAMETER_COPIES);
            if bytes > m.memory {
                bail!(
                    "model.hidden = {:?} gives an MLP of {params} parameters, about {} with the copies a run keeps, more than this machine's {}",
                    self.model.hidden,
                    gib(bytes),
                    gib(m.memory)
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Machine = Machine {
        memory: 8 << 30,
        cores: 2,
    };

    #[test]
    fn absurd_sizes_are_refused_naming_the_option_and_the_limit() {
        let ok = Config::default();
        ok.check_machine(&SMALL).unwrap();
        ok.check_fits(&SMALL, 2, 2).unwrap();
        let err = |f: &dyn Fn(&mut Config), data: bool| {
            let mut c = Config::default();
            f(&mut c);
            let r = if data {
                c.check_fits(&SMALL, 784, 10)
            } else {
                c.check_machine(&SMALL)
            };
            r.unwrap_err().to_string()
        };
        let e = err(&|c| c.data.workers = 100_000, false);
        assert!(
            e.contains("data.workers = 100000") && e.contains("at most 8"),
            "{e}"
        );
        let e = err(&|c| c.data.moons_train_size = 100_000_000_000, false);
        assert!(
            e.contains("data.moons_train_size") && e.contains("at most 67108864"),
            "{e}"
        );
        let e = err(&|c| c.train.mu = 100_000_000_000, true);
        assert!(e.contains("train.mu = 100000000000"), "{e}");
        let e = err(&|c| c.train.mu = usize::MAX, false);
        assert!(
            e.contains("more samples per step than can be counted"),
            "{e}"
        );
        let e = err(&|c| c.train.batch_size = 1_000_000_000, true);
        assert!(e.contains("train.batch_size = 1000000000"), "{e}");
        let e = err(&|c| c.model.hidden = vec![4_000_000_000], true);
        assert!(e.contains("model.hidden = [4000000000]"), "{e}");
        let e = err(&|c| c.model.width = 1 << 20, false);
        assert!(e.contains("model.width"), "{e}");
    }
}
