//! The subcommands, one file each; `main.rs` parses the command line and dispatches here.

pub mod args;
pub mod bench;
pub mod compare;
pub mod data;
pub mod devices;
pub mod eval;
pub mod export;
pub mod finetune;
pub mod lists;
pub mod models;
pub mod predict;
pub mod process;
pub mod report;
pub mod train;
pub mod tune;

use clap::{Parser, Subcommand};

/// A command stopped by SIGINT or SIGTERM after saving its work; `main` says how to continue
/// and exits with status 130.
#[derive(Debug)]
pub struct Interrupted {
    /// Steps done when it stopped (`None` when not known here).
    pub step: Option<u64>,
    /// The command that continues it.
    pub resume: String,
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = self.step.map_or(String::new(), |s| format!(" at step {s}"));
        write!(
            f,
            "interrupted{at}; the checkpoint is saved: continue with `{}`",
            self.resume
        )
    }
}

impl std::error::Error for Interrupted {}

impl Interrupted {
    /// The finetune stage of `run` was interrupted.
    pub fn stage(run: &metapseudo::run::RunDir) -> anyhow::Error {
        Interrupted {
            step: None,
            resume: format!("metapseudo finetune {}", run.dir.display()),
        }
        .into()
    }
}

/// Semi-supervised learning with Meta Pseudo Labels and its family.
#[derive(Parser)]
#[command(name = "metapseudo", version, about)]
pub struct Cli {
    /// Compute threads (default: RAYON_NUM_THREADS, else one per core). Data workers
    /// (data.workers) come on top of them: on a small machine, count them in.
    #[arg(long, global = true)]
    pub threads: Option<usize>,
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Sizes the compute thread pool: `--threads`, else `RAYON_NUM_THREADS`, else one thread
    /// per core. Called once, before any computation.
    pub fn set_threads(&self) -> anyhow::Result<()> {
        if let Some(n) = self.threads {
            if n == 0 {
                anyhow::bail!("--threads must be at least 1");
            }
            rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build_global()
                .map_err(|e| anyhow::anyhow!("cannot size the thread pool: {e}"))?;
        }
        Ok(())
    }
}

/// The subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Train a model (default: MPL on the two-moons set); writes a run folder.
    Train(Box<train::TrainArgs>),
    /// Finetune a finished run's EMA student (or student) on its labeled samples only, with
    /// dropout off and a small learning rate, keeping the best checkpoint by validation
    /// accuracy; runs (or continues) in DIR/finetune and adds the model `finetuned` to the
    /// run's summary.
    Finetune(finetune::FinetuneArgs),
    /// Re-evaluate a run's saved models on its test split and print the summary.
    Eval(eval::EvalArgs),
    /// Rebuild a run's report.html (curves, confusion matrices, calibration, embeddings).
    Report(report::ReportArgs),
    /// Search hyper-parameters: trials of a base configuration over a search space (TPE or
    /// random, median pruning), judged on a validation split, stored as an Optuna journal.
    Tune(Box<tune::TuneArgs>),
    /// Compare runs: a table per run and grouped over seeds, with the gain over supervised.
    Compare(compare::CompareArgs),
    /// Classify image files, folders of images or CSV rows with a run's model or an export.
    Predict(predict::PredictArgs),
    /// Write a run's model as safetensors with a JSON description (architecture, preprocessing).
    Export(export::ExportArgs),
    /// Look at a data set: counts and statistics, or a grid of augmented images.
    #[command(subcommand)]
    Data(data::DataCommand),
    /// Measure speed.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// List the compute devices of this build and whether each opens; with --check, compare
    /// every network's logits and gradients on a device against the CPU's.
    Devices(devices::DevicesArgs),
    /// List the registered networks with their trainable parameter counts.
    Models,
    /// List the presets.
    Presets,
    /// List the methods: what each does, what it costs, when to choose it.
    Methods,
    /// List every configuration key with its type, default and meaning.
    Options(lists::OptionsArgs),
}
