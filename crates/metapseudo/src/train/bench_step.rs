//! `metapseudo bench step`: seconds per training step of one method on one network, on random
//! inputs already on the device (no data pipeline), and the peak memory while stepping (resident
//! memory, and on a GPU the device memory its allocator holds).

use super::trainer::build_context;
use crate::config::Config;
use crate::methods;
use crate::methods::reduced_mpl::TeacherLogits;
use crate::methods::{Inputs, TeacherKind, TensorBatch};
use crate::models::ModelShape;
use crate::sysmem;
use anyhow::{Result, bail};
use metapseudo_data::Rng;
use metapseudo_data::pipeline::Batch;
use std::time::Instant;

/// The measurement's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct StepBench {
    /// Shape of one input example (`[channels, height, width]` for images).
    pub sample: Vec<usize>,
    /// Number of classes.
    pub classes: usize,
    /// Untimed steps first.
    pub warmup: usize,
    /// Timed steps.
    pub steps: usize,
}

/// The result.
#[derive(Clone, Debug, PartialEq)]
pub struct StepTiming {
    /// Median seconds per step.
    pub median_s: f64,
    /// Fastest and slowest step.
    pub min_s: f64,
    /// Slowest step.
    pub max_s: f64,
    /// Distinct images per step: `B` labeled, plus `mu B` unlabeled for semi-supervised methods
    /// (each unlabeled image has two views in the methods that use both).
    pub images_per_step: usize,
    /// Resident memory when the measurement started, before the networks were built, bytes
    /// (None where /proc is missing).
    pub rss_start: Option<u64>,
    /// Resident memory before the first timed step, bytes.
    pub rss_before: Option<u64>,
    /// Peak resident memory while stepping, bytes.
    pub peak_rss: Option<u64>,
    /// The most device memory the allocator held after any timed step, bytes (GPU backends;
    /// `None` on the CPU, whose memory is `peak_rss`).
    pub device_reserved: Option<u64>,
    /// The most device memory in live tensors after any timed step, bytes (GPU backends).
    pub device_in_use: Option<u64>,
}

/// A batch of standard-normal inputs with labels cycling through the classes.
fn random_batch(config: &Config, spec: &StepBench) -> Batch {
    let dim: usize = spec.sample.iter().product();
    let (b, nu) = (
        config.train.batch_size,
        config.train.batch_size * config.train.mu,
    );
    let mut rng = Rng::new(config.seed);
    let mut rows = |n: usize| -> Vec<f32> { (0..n * dim).map(|_| rng.normal() as f32).collect() };
    Batch {
        dim,
        labeled: rows(b),
        labels: (0..b).map(|i| i % spec.classes).collect(),
        mix: None,
        unlabeled_weak: rows(nu),
        unlabeled_strong: rows(nu),
        labeled_index: (0..b).collect(),
        unlabeled_index: (0..nu).collect(),
    }
}

/// One finished step, as `bench_step` reports it while it runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepDone {
    /// Index among all steps, warm-up first (0-based).
    pub index: usize,
    /// Warm-up steps and timed steps together.
    pub total: usize,
    /// Whether it was an untimed warm-up step.
    pub warmup: bool,
    /// Its seconds (on a GPU, the first steps include compiling and tuning kernels).
    pub seconds: f64,
}

/// Times `spec.steps` steps of `config.method` on `config.model` after `spec.warmup` steps,
/// calling `on_step` after each step, warm-up included.
pub fn bench_step(
    config: &Config,
    spec: &StepBench,
    on_step: &mut dyn FnMut(StepDone),
) -> Result<StepTiming> {
    if spec.steps == 0 {
        bail!("bench step needs at least one timed step");
    }
    let rss_start = sysmem::rss();
    let device = crate::device::open(&config.train.device)?.autodiff();
    let shape = ModelShape {
        sample: spec.sample.clone(),
        num_classes: spec.classes,
    };
    // The random batches draw labels evenly: alignment (when on) aims at a uniform prior.
    methods::check(config)?;
    let mut ctx = build_context(config, &shape, &device)?;
    let needs = methods::needs(config);
    // Reduced MPL's teacher reads logits: random ones stand in for a trained run's.
    let teacher_logits = (needs.teacher == TeacherKind::ReducedOverCachedLogits).then(|| {
        let n = config.train.batch_size * config.train.mu.max(1);
        TeacherLogits::random(n, spec.classes, config.seed)
    });
    let inputs = Inputs {
        teacher_logits,
        labeled_prior: vec![1.0 / spec.classes as f32; spec.classes],
        steps_per_epoch: 1,
    };
    let mut method = methods::build(config, inputs)?;
    let batch = TensorBatch::from_host(&random_batch(config, spec), &device);
    let sync = |scalars: &methods::Scalars| -> Result<()> {
        // Reading one logged value runs the step's work on lazy backends, as the training loop's
        // logging does; the device's sync then waits for the rest (the optimiser's updates).
        if let Some((_, methods::Scalar::Tensor(t))) = scalars.first() {
            let _ = t.clone().into_scalar::<f32>();
        }
        device
            .sync()
            .map_err(|e| anyhow::anyhow!("device {}: {e:?}", config.train.device))
    };
    let total = spec.warmup + spec.steps;
    for step in 0..spec.warmup {
        let t = Instant::now();
        sync(&method.step(&mut ctx, &batch, step as u64))?;
        on_step(StepDone {
            index: step,
            total,
            warmup: true,
            seconds: t.elapsed().as_secs_f64(),
        });
    }
    let rss_before = sysmem::reset_peak_rss();
    let mut times = Vec::with_capacity(spec.steps);
    let (mut device_reserved, mut device_in_use) = (None, None);
    for step in 0..spec.steps {
        let t = Instant::now();
        sync(&method.step(&mut ctx, &batch, (spec.warmup + step) as u64))?;
        let seconds = t.elapsed().as_secs_f64();
        times.push(seconds);
        on_step(StepDone {
            index: spec.warmup + step,
            total,
            warmup: false,
            seconds,
        });
        // The CPU backend reports no pool (`None`): its memory is the resident set.
        if let Some(usage) = device.memory_pool_usage() {
            device_reserved = device_reserved.max(Some(usage.bytes_reserved));
            device_in_use = device_in_use.max(Some(usage.bytes_in_use));
        }
    }
    times.sort_by(f64::total_cmp);
    Ok(StepTiming {
        median_s: times[times.len() / 2],
        min_s: times[0],
        max_s: times[times.len() - 1],
        images_per_step: if needs.unlabeled {
            config.train.batch_size * (1 + config.train.mu)
        } else {
            config.train.batch_size
        },
        rss_start,
        rss_before,
        peak_rss: sysmem::peak_rss(),
        device_reserved,
        device_in_use,
    })
}
