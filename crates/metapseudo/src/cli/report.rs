//! `metapseudo report`: rebuild a run's report.html.

use super::args::DeviceArg;
use anyhow::Result;
use clap::Args;
use metapseudo::report;
use metapseudo::run::RunDir;
use std::path::PathBuf;

/// `metapseudo report`'s arguments.
#[derive(Args)]
pub struct ReportArgs {
    /// The run folder.
    dir: PathBuf,
    #[command(flatten)]
    device: DeviceArg,
}

/// Runs `metapseudo report`.
pub fn run(args: ReportArgs) -> Result<()> {
    let path = report::write_report(&RunDir { dir: args.dir }, args.device.name())?;
    println!("wrote {}", path.display());
    Ok(())
}

/// Writes the report of a run that has just finished, when its configuration asks for one
/// (`output.report`); a report that cannot be drawn costs the run nothing but a warning.
pub fn after_training(run: &RunDir, device: Option<&str>, quiet: bool) -> Result<()> {
    if !run.read_config()?.output.report {
        return Ok(());
    }
    if !quiet {
        eprintln!("writing {} ...", run.report().display());
    }
    if let Err(e) = report::write_report(run, device) {
        eprintln!(
            "warning: report.html was not written: {e:#}; retry with `metapseudo report {}`",
            run.dir.display()
        );
    }
    Ok(())
}
