//! `metapseudo report`: rebuild a run's report.html.

use super::args::DeviceArg;
use anyhow::Result;
use clap::Args;
use metapseudo::report;
use metapseudo::train::run::RunDir;
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
    let path = report::rebuild_report(&RunDir { dir: args.dir }, args.device.name())?;
    println!("wrote {}", path.display());
    Ok(())
}
