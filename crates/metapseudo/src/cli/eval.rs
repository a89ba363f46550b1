//! `metapseudo eval`: re-evaluate a run's saved models on its test split.

use super::args::DeviceArg;
use anyhow::Result;
use clap::Args;
use metapseudo::predict::SavedRun;
use metapseudo::run::FINETUNED;
use metapseudo::run::RunDir;
use std::path::PathBuf;

/// `metapseudo eval`'s arguments.
#[derive(Args)]
pub struct EvalArgs {
    /// The run folder.
    dir: PathBuf,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    device: DeviceArg,
}

/// Runs `metapseudo eval`.
pub fn run(args: EvalArgs) -> Result<()> {
    let EvalArgs { dir, json, device } = args;
    let device = device.name();
    let run = RunDir { dir };
    let models = SavedRun::load(&run, device)?;
    let mut summary = models.summary(&models.test_logits());
    let saved = run.read_summary().ok().flatten();
    if let Some(old) = &saved {
        summary.wall_seconds = old.wall_seconds;
    }
    // The finetuned model lives in the stage's folder: its figures are carried over (re-evaluate
    // it with `metapseudo eval DIR/finetune`).
    if let Some(old) = saved
        && let (Some(record), Some(model)) = (old.finetune, old.models.get(FINETUNED))
    {
        summary.set_finetuned(record, model.clone());
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{}", summary.table());
    }
    Ok(())
}
