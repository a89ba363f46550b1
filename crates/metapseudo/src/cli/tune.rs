//! `metapseudo tune`: hyper-parameter search (TPE or random, median pruning) over any config
//! keys, stored as an Optuna journal in the study folder.

use super::args::LayerArgs;
use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use metapseudo::tune::pruner::{MedianPruner, Pruner, SuccessiveHalving};
use metapseudo::tune::space::SearchSpace;
use metapseudo::tune::{SamplerKind, TuneOptions, run_study};
use std::path::PathBuf;
use std::time::Duration;
use toml::Value;

/// `--sampler`.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum SamplerArg {
    /// Tree-structured Parzen Estimator (Optuna's default).
    Tpe,
    /// Uniform random search.
    Random,
}

/// `--pruner`.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum PrunerArg {
    /// Stop a trial below the median of the finished trials at the same step.
    Median,
    /// Successive halving: at rungs of N, rN, r^2 N steps only the best 1/r go on.
    Halving,
    /// No pruning.
    None,
}

/// `metapseudo tune`'s arguments.
#[derive(Args)]
pub struct TuneArgs {
    #[command(flatten)]
    layers: LayerArgs,
    /// Data of every trial (as `train --data`).
    #[arg(long)]
    data: Option<String>,
    /// Method of every trial (as `train --method`).
    #[arg(long)]
    method: Option<String>,
    /// The search space (TOML: [params."KEY"] tables with type, low, high, log, step, choices).
    #[arg(long)]
    space: PathBuf,
    /// Trials the study should hold, complete or pruned (a continued study counts its own).
    #[arg(long, default_value_t = 20)]
    trials: usize,
    /// The study folder: study.log (an Optuna journal), trial-NNNN run folders, best.toml.
    #[arg(long)]
    study: PathBuf,
    /// Seed of the sampler's suggestions (each trial trains with the base configuration's seed).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The sampler.
    #[arg(long, value_enum, default_value_t = SamplerArg::Tpe)]
    sampler: SamplerArg,
    /// Random trials before TPE takes over.
    #[arg(long, default_value_t = 10)]
    startup_trials: usize,
    /// TPE over all parameters jointly instead of one estimator per parameter.
    #[arg(long)]
    multivariate: bool,
    /// The pruner (trials report validation accuracy every train.eval_every steps).
    #[arg(long, value_enum, default_value_t = PrunerArg::Median)]
    pruner: PrunerArg,
    /// Finished trials before the pruner stops any.
    #[arg(long, default_value_t = 5)]
    prune_startup_trials: usize,
    /// Steps before which no trial is pruned (median pruner).
    #[arg(long, default_value_t = 0)]
    prune_warmup_steps: u64,
    /// Steps of successive halving's first rung (default: train.eval_every).
    #[arg(long)]
    halving_min_steps: Option<u64>,
    /// Successive halving's reduction factor r.
    #[arg(long, default_value_t = 4)]
    halving_rate: u64,
    /// Validation samples per class, carved from the training pool's labeled samples outside
    /// the labeled set (when the base configuration sets no data.dev_per_class).
    #[arg(long, default_value_t = 20)]
    validation_per_class: usize,
    /// Start no trial after this many seconds.
    #[arg(long)]
    timeout: Option<u64>,
    /// Worker processes sharing the study (each with its share of the cores).
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// No line per trial.
    #[arg(long)]
    quiet: bool,
}

/// Runs `metapseudo tune`.
pub fn run(args: TuneArgs) -> Result<()> {
    if args.jobs == 0 {
        bail!("--jobs must be at least 1");
    }
    if args.jobs > 1 {
        return run_workers(args.jobs);
    }
    let mut flags = Vec::new();
    if let Some(d) = &args.data {
        flags.push(("data.spec".to_string(), Value::String(d.clone())));
    }
    if let Some(m) = &args.method {
        flags.push(("method".to_string(), Value::String(m.clone())));
    }
    let base = args.layers.with_flags(flags)?.resolve()?;
    let space = SearchSpace::read(&args.space, &base)?;
    if args.halving_rate < 2 {
        bail!("--halving-rate must be at least 2");
    }
    let opts = TuneOptions {
        base: base.clone(),
        space,
        trials: args.trials,
        dir: args.study.clone(),
        seed: args.seed,
        sampler: match args.sampler {
            SamplerArg::Tpe => SamplerKind::Tpe,
            SamplerArg::Random => SamplerKind::Random,
        },
        startup_trials: args.startup_trials,
        multivariate: args.multivariate,
        pruner: match args.pruner {
            PrunerArg::Median => Some(Pruner::Median(MedianPruner {
                startup_trials: args.prune_startup_trials,
                warmup_steps: args.prune_warmup_steps,
            })),
            PrunerArg::Halving => Some(Pruner::SuccessiveHalving(SuccessiveHalving {
                min_steps: args.halving_min_steps.unwrap_or(base.train.eval_every),
                rate: args.halving_rate,
            })),
            PrunerArg::None => None,
        },
        validation_per_class: args.validation_per_class,
        timeout: args.timeout.map(Duration::from_secs),
        quiet: args.quiet,
    };
    metapseudo::train::interrupt::install_handlers();
    run_study(&opts)?;
    let best = args.study.join("best.toml");
    if !args.quiet && best.exists() {
        println!("best configuration: {}", best.display());
    }
    Ok(())
}

/// Runs `jobs` worker processes of this same command (each with `--jobs 1` and its share of
/// the cores) on one study, and waits for them.
fn run_workers(jobs: usize) -> Result<()> {
    let exe = std::env::current_exe().context("cannot find this program")?;
    let mut argv: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = argv.iter().position(|a| a == "--jobs") {
        argv[i + 1] = "1".into();
    } else if let Some(i) = argv.iter().position(|a| a.starts_with("--jobs=")) {
        argv[i] = "--jobs=1".into();
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = (cores / jobs).max(1);
    let mut children = Vec::new();
    for _ in 0..jobs {
        children.push(
            std::process::Command::new(&exe)
                .args(&argv)
                .env("RAYON_NUM_THREADS", threads.to_string())
                .spawn()
                .context("cannot start a tune worker")?,
        );
    }
    let mut failed = 0;
    for mut c in children {
        if !c.wait()?.success() {
            failed += 1;
        }
    }
    if failed > 0 {
        bail!("{failed} of {jobs} tune workers failed");
    }
    Ok(())
}
