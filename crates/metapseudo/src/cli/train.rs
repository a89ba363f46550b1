//! `metapseudo train`: train a model (default: MPL on the two-moons set) into a run folder, or
//! continue one.

use super::Interrupted;
use super::args::{LayerArgs, RunControl, config_flags};
use super::report::after_training;
use anyhow::Result;
use clap::Args;
use metapseudo::config::layers::ConfigLayers;
use metapseudo::config::{Config, MethodName};
use metapseudo::run::RunDir;
use metapseudo::train::finetune::finetune;
use metapseudo::train::interrupt;
use metapseudo::train::trainer::{Outcome, TrainOptions, train};
use std::path::PathBuf;
use toml::Value;

config_flags! {
    /// Flags that stand for configuration keys (each also settable with --set KEY=VALUE).
    pub struct TrainFlags {
        values {
            /// Data: moons, digits, csv:PATH, idx:DIR, cifar10:DIR, cifar100:DIR, svhn:DIR, folder:DIR.
            data: String => "data.spec",
            /// Method: supervised, pseudo-label, uda, mpl, smpl, metasemi or reduced-mpl.
            method: MethodName => "method",
            /// Run seed (labeled subset, initialisation, batch order, augmentation).
            #[arg(value_parser = clap::value_parser!(u64).range(..=i64::MAX as u64))]
            seed: u64 => "seed",
            /// Training steps.
            steps: u64 => "train.steps",
            /// Write a checkpoint every N steps.
            checkpoint_every: u64 => "train.checkpoint_every",
            /// Unlabeled consistency loss of UDA and the MPL teacher: ce or cosine.
            unlabeled_loss: String => "uda.unlabeled_loss",
            /// Reduced MPL: the trained run whose model is the large teacher.
            #[arg(value_name = "DIR")]
            teacher_run: PathBuf => "reduced_mpl.teacher_run",
            /// After training, finetune the EMA student on the labeled samples for N steps (see
            /// `metapseudo finetune`).
            #[arg(value_name = "N")]
            finetune_steps: u64 => "finetune.steps",
            /// MPL role-playing: teacher and student swap roles every `epoch` or every N steps.
            #[arg(value_name = "epoch|N")]
            role_swap: String => "mpl.role_swap",
        }
        switches {
            /// Skip undecodable images in a folder with a warning.
            skip_bad_images => "data.skip_bad_images",
            /// Write TensorBoard event files of every logged scalar into the run folder.
            tensorboard => "output.tensorboard",
        }
    }
}

/// `metapseudo train`'s arguments.
#[derive(Args)]
pub struct TrainArgs {
    #[command(flatten)]
    flags: TrainFlags,
    /// Labeled samples per class.
    #[arg(long, group = "budget")]
    labels_per_class: Option<usize>,
    /// Labeled samples in total, balanced over classes.
    #[arg(long, group = "budget")]
    labels: Option<usize>,
    /// Percentage of each class that keeps its label.
    #[arg(long, group = "budget")]
    labels_percent: Option<f64>,
    #[command(flatten)]
    layers: LayerArgs,
    /// Run folder (default: runs/<method>-<data>-seed<seed>-<time>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue the run in this folder from its last checkpoint.
    #[arg(long, conflicts_with_all = ["data", "method", "seed", "steps", "budget", "preset", "config", "sets", "out", "checkpoint_every", "skip_bad_images", "tensorboard", "unlabeled_loss", "role_swap", "teacher_run", "finetune_steps"])]
    resume: Option<PathBuf>,
    #[command(flatten)]
    control: RunControl,
}

impl TrainArgs {
    fn layers(&self) -> Result<ConfigLayers> {
        let mut flags = self.flags.flags();
        if let Some(d) = self.control.device.name() {
            flags.push(("train.device".into(), Value::String(d.to_string())));
        }
        // One label budget replaces the preset's: the other two are cleared.
        let budget = [
            (
                "data.labels_per_class",
                self.labels_per_class.map(|n| Value::Integer(n as i64)),
            ),
            ("data.labels", self.labels.map(|n| Value::Integer(n as i64))),
            ("data.labels_percent", self.labels_percent.map(Value::Float)),
        ];
        if budget.iter().any(|(_, v)| v.is_some()) {
            for (k, v) in budget {
                let zero = if k.ends_with("percent") {
                    Value::Float(0.0)
                } else {
                    Value::Integer(0)
                };
                flags.push((k.to_string(), v.unwrap_or(zero)));
            }
        }
        self.layers.with_flags(flags)
    }
}

fn default_out(config: &Config) -> PathBuf {
    let data = config.data.spec.short_name();
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    PathBuf::from("runs").join(format!(
        "{}-{}-seed{}-{}",
        config.method,
        data,
        config.seed,
        utc_stamp(secs)
    ))
}

/// `YYYYmmdd-HHMMSS` in UTC.
fn utc_stamp(secs: u64) -> String {
    let t = metapseudo::utc::UtcTime::from_unix(secs);
    let (h, m, s) = t.hms;
    format!("{:04}{:02}{:02}-{h:02}{m:02}{s:02}", t.year, t.month, t.day)
}

/// Runs `metapseudo train`.
pub fn run(args: TrainArgs) -> Result<()> {
    // Ctrl-C and SIGTERM finish the step and save before the process ends.
    interrupt::install_handlers();
    let opts = args.control.options();
    let (run, outcome) = match &args.resume {
        Some(dir) => {
            let run = RunDir { dir: dir.clone() };
            let outcome = train(None, &run, &opts)?;
            (run, outcome)
        }
        None => {
            let (config, notes) = args.layers()?.resolve_noted()?;
            for note in notes {
                eprintln!("note: {note}");
            }
            for warning in metapseudo::methods::warnings(&config) {
                eprintln!("warning: {warning}");
            }
            let run = RunDir {
                dir: args.out.clone().unwrap_or_else(|| default_out(&config)),
            };
            let outcome = train(Some(&config), &run, &opts)?;
            (run, outcome)
        }
    };
    match outcome {
        Outcome::Finished(mut summary) => {
            after_training(&run, args.control.device.name(), args.control.quiet)?;
            let ft = run.read_config()?.finetune;
            if ft.steps > 0 {
                let stage_opts = TrainOptions {
                    stop_at: None,
                    ..opts
                };
                match finetune(&run, &ft, &stage_opts)? {
                    Some(s) => {
                        after_training(
                            &run.stage(),
                            args.control.device.name(),
                            args.control.quiet,
                        )?;
                        *summary = s;
                    }
                    None if interrupt::requested() => {
                        return Err(Interrupted::stage(&run));
                    }
                    None => {}
                }
            }
            if !args.control.quiet {
                print!("{}", summary.table());
                println!("run folder: {}", run.dir.display());
            }
        }
        Outcome::Stopped {
            step,
            interrupted: true,
        } => {
            return Err(Interrupted {
                step: Some(step),
                resume: format!("metapseudo train --resume {}", run.dir.display()),
            }
            .into());
        }
        Outcome::Stopped { step, .. } => {
            if !args.control.quiet {
                println!(
                    "stopped at step {step}; continue with: metapseudo train --resume {}",
                    run.dir.display()
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_stamp_formats_dates() {
        assert_eq!(super::utc_stamp(0), "19700101-000000");
        assert_eq!(super::utc_stamp(1_700_000_000), "20231114-221320");
    }
}
