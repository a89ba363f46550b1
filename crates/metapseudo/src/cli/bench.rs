//! `metapseudo bench`: the batch pipeline's throughput and a training step's time and memory.

use super::args::{DataArgs, DeviceArg, LayerArgs};
use anyhow::{Result, bail};
use clap::Subcommand;
use metapseudo::config::MethodName;
use metapseudo::data::policy::PolicyName;
use metapseudo::datatools::bench::{AugmentBench, bench_augment};
use metapseudo::methods::TeacherKind;
use metapseudo::run::load_dataset;
use metapseudo::train::bench_step::{StepBench, bench_step};
use toml::Value;

/// `metapseudo bench`'s subcommands.
#[derive(Subcommand)]
pub enum BenchCommand {
    /// Unlabeled (weak, strong) pairs per second through the batch pipeline.
    Augment {
        #[command(flatten)]
        data: DataArgs,
        /// Policy of the strong view.
        #[arg(long, default_value = "strong")]
        policy: PolicyName,
        /// Pairs per batch.
        #[arg(long, default_value_t = 448)]
        batch: usize,
        /// Worker threads (default: one per core).
        #[arg(long)]
        workers: Option<usize>,
        /// Seconds to measure.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
    },
    /// Seconds per training step of a method on a network, on random inputs (no data
    /// pipeline); prints median_s=, images per second and peak memory.
    Step {
        #[command(flatten)]
        layers: LayerArgs,
        /// Network (see `metapseudo models`).
        #[arg(long, default_value = "wrn-28-2")]
        model: String,
        /// Labeled examples per step.
        #[arg(long, default_value_t = 64)]
        batch: usize,
        /// Unlabeled examples per labeled one.
        #[arg(long, default_value_t = 7)]
        mu: usize,
        /// Method: supervised, pseudo-label, uda, mpl, smpl, metasemi, reduced-mpl.
        #[arg(long, default_value = "supervised")]
        method: MethodName,
        /// One example's shape, CxHxW (or a feature count for the MLP).
        #[arg(long, default_value = "3x32x32")]
        shape: String,
        /// Number of classes.
        #[arg(long, default_value_t = 10)]
        classes: usize,
        /// Untimed steps first.
        #[arg(long, default_value_t = 3)]
        warmup: usize,
        /// Timed steps.
        #[arg(long, default_value_t = 10)]
        steps: usize,
        #[command(flatten)]
        device: DeviceArg,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `metapseudo bench`.
pub fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Augment {
            data,
            policy,
            batch,
            workers,
            seconds,
        } => {
            let config = data.config()?;
            let ds = load_dataset(&config)?;
            let workers = workers
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
            let t = bench_augment(
                &ds,
                &config.augment,
                policy,
                AugmentBench {
                    batch,
                    workers,
                    warmup_batches: 2 * workers,
                    seconds,
                },
            )?;
            println!(
                "data={} policy={policy} batch={batch} workers={workers} batches={} seconds={:.2}",
                config.data.spec, t.batches, t.seconds
            );
            println!("pairs_per_s={:.0}", t.pairs_per_s);
        }
        BenchCommand::Step {
            layers,
            model,
            batch,
            mu,
            method,
            shape,
            classes,
            warmup,
            steps,
            device,
            json,
        } => {
            let sample = parse_shape(&shape)?;
            let mut flags = vec![
                ("model.name".into(), Value::String(model.clone())),
                ("method".into(), Value::String(method.to_string())),
                ("train.batch_size".into(), Value::Integer(batch as i64)),
                ("train.mu".into(), Value::Integer(mu as i64)),
            ];
            if let Some(d) = device.device {
                flags.push(("train.device".into(), Value::String(d)));
            }
            if metapseudo::methods::spec(method).needs.teacher
                == TeacherKind::ReducedOverCachedLogits
            {
                // The measurement feeds the reduced teacher random logits, not a run's.
                flags.push((
                    "reduced_mpl.teacher_run".into(),
                    Value::String("(random logits)".into()),
                ));
            }
            let mut layers = layers.with_flags(flags)?;
            layers.preset.get_or_insert_with(|| "none".into());
            let config = layers.resolve()?;
            let spec = StepBench {
                sample,
                classes,
                warmup,
                steps,
            };
            // Each step's time as it ends, on stderr: on a GPU the first steps compile and tune
            // kernels for minutes, and this shows how far a slow start has come.
            let started = std::time::Instant::now();
            let t = bench_step(&config, &spec, &mut |done| {
                eprintln!(
                    "step {}/{} ({}) {:.4} s, {:.1} s since start",
                    done.index + 1,
                    done.total,
                    if done.warmup { "warm-up" } else { "timed" },
                    done.seconds,
                    started.elapsed().as_secs_f64()
                )
            })?;
            let mib = |b: Option<u64>| b.map_or(f64::NAN, |b| b as f64 / (1 << 20) as f64);
            let images_per_s = t.images_per_step as f64 / t.median_s;
            if json {
                println!(
                    "{}",
                    serde_json::json!({
                        "model": model, "method": method, "batch": batch, "mu": mu,
                        "shape": shape, "threads": rayon::current_num_threads(),
                        "median_s": t.median_s, "min_s": t.min_s,
                        "max_s": t.max_s, "images_per_s": images_per_s,
                        "rss_start_mib": mib(t.rss_start), "rss_before_mib": mib(t.rss_before),
                        "peak_rss_mib": mib(t.peak_rss), "device": config.train.device,
                        "device_reserved_mib": t.device_reserved.map(|b| mib(Some(b))),
                        "device_in_use_mib": t.device_in_use.map(|b| mib(Some(b))),
                    })
                );
            } else {
                println!(
                    "model={model} method={method} batch={batch} mu={mu} shape={shape} device={} threads={} steps={steps} min_s={:.4} max_s={:.4}",
                    config.train.device,
                    rayon::current_num_threads(),
                    t.min_s,
                    t.max_s
                );
                println!("median_s={:.4}", t.median_s);
                println!("images_per_s={images_per_s:.1}");
                println!(
                    "rss_start_mib={:.0} rss_before_mib={:.0} peak_rss_mib={:.0}",
                    mib(t.rss_start),
                    mib(t.rss_before),
                    mib(t.peak_rss)
                );
                if let (Some(reserved), Some(in_use)) = (t.device_reserved, t.device_in_use) {
                    println!(
                        "device_reserved_mib={:.0} device_in_use_mib={:.0}",
                        mib(Some(reserved)),
                        mib(Some(in_use))
                    );
                }
            }
        }
    }
    Ok(())
}

/// `3x32x32` -> `[3, 32, 32]`; `64` -> `[64]`.
fn parse_shape(s: &str) -> Result<Vec<usize>> {
    let dims = s
        .split('x')
        .map(|d| d.trim().parse::<usize>().ok().filter(|&d| d > 0))
        .collect::<Option<Vec<_>>>();
    match dims {
        Some(d) if d.len() == 1 || d.len() == 3 => Ok(d),
        _ => bail!("--shape '{s}': expected CxHxW (e.g. 3x32x32) or a feature count"),
    }
}
