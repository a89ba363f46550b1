//! `metapseudo eval`: re-evaluate a run's saved models on its test split.

use super::args::DeviceArg;
use anyhow::Result;
use clap::Args;
use metapseudo::train::finetune::MODEL as FINETUNED;
use metapseudo::train::run::RunDir;
use metapseudo::train::trainer::load_session;
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
    let (session, _) = load_session(&run, device)?;
    let saved = run.read_summary().ok().flatten();
    let wall = saved
        .as_ref()
        .map_or(session.elapsed_before, |s| s.wall_seconds);
    let mut summary = session.summary(wall);
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
