//! `metapseudo finetune`: the finetune stage on a finished run.

use super::Interrupted;
use super::args::{RunControl, config_flags};
use super::report::after_training;
use anyhow::Result;
use clap::Args;
use metapseudo::config::layers::override_config;
use metapseudo::config::{Config, FinetuneConfig};
use metapseudo::run::RunDir;
use metapseudo::train::finetune::finetune;
use metapseudo::train::interrupt;
use std::path::PathBuf;

config_flags! {
    /// The stage's settings, each over the run's own `finetune.*`.
    pub struct StageFlags {
        values {
            /// Steps of the stage (default: the run's finetune.steps).
            steps: u64 => "finetune.steps",
            /// Constant learning rate (default: finetune.lr, 3e-5 as the MPL code).
            lr: f64 => "finetune.lr",
            /// Labeled samples per batch (default: finetune.batch_size, 512).
            batch_size: usize => "finetune.batch_size",
            /// Start from: ema or student (default: the EMA when the run keeps one).
            from: String => "finetune.from",
            /// Validation samples from: labeled (held out of the labeled set) or training
            /// (labeled training samples outside the labeled set). Never the test split.
            validation: String => "finetune.validation",
            /// Validation samples per class (default: finetune.validation_per_class, 1; 0: none,
            /// the stage trains on every labeled sample and keeps its last model).
            validation_per_class: usize => "finetune.validation_per_class",
            /// Validate (and keep the best model) every N steps.
            eval_every: u64 => "finetune.eval_every",
            /// Which model a validation tie keeps: earlier (default: the run's
            /// train.best_on_tie), later, or lower-loss (the lower validation cross entropy).
            best_on_tie: String => "finetune.best_on_tie",
        }
        switches {}
    }
}

/// `metapseudo finetune`'s arguments.
#[derive(Args)]
pub struct FinetuneArgs {
    /// The finished run folder.
    dir: PathBuf,
    #[command(flatten)]
    stage: StageFlags,
    #[command(flatten)]
    control: RunControl,
}

impl FinetuneArgs {
    /// The run's finetune settings with the flags on top.
    fn settings(&self, config: &Config) -> Result<FinetuneConfig> {
        Ok(override_config(config, &self.stage.flags(), "command-line flag")?.finetune)
    }
}

/// Runs `metapseudo finetune`.
pub fn run(args: FinetuneArgs) -> Result<()> {
    // Ctrl-C and SIGTERM finish the step and save before the process ends.
    interrupt::install_handlers();
    let run = RunDir {
        dir: args.dir.clone(),
    };
    let stage = run.stage();
    let flags = args.stage.flags();
    if stage.config().exists() && !flags.is_empty() {
        let given: Vec<&str> = flags.iter().map(|(k, _)| k.as_str()).collect();
        anyhow::bail!(
            "{} already holds a finetune stage, whose settings are in its config.toml; {} would not apply to it. Continue it with `metapseudo finetune {}`, or remove that folder to run a new stage with these settings",
            stage.dir.display(),
            given.join(", "),
            run.dir.display()
        );
    }
    let ft = args.settings(&run.read_config()?)?;
    let opts = args.control.options();
    match finetune(&run, &ft, &opts)? {
        Some(summary) => {
            after_training(&run.stage(), args.control.device.name(), args.control.quiet)?;
            if !args.control.quiet {
                print!("{}", summary.table());
                println!("stage folder: {}", run.stage().dir.display());
            }
        }
        None if interrupt::requested() => {
            return Err(Interrupted::stage(&run));
        }
        None => {
            if !args.control.quiet {
                println!(
                    "stopped; continue the stage with: metapseudo finetune {}",
                    run.dir.display()
                );
            }
        }
    }
    Ok(())
}
