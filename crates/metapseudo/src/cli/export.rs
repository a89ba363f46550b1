//! `metapseudo export`: a run's model as safetensors with a JSON description.

use anyhow::{Result, bail};
use clap::Args;
use metapseudo::export;
use std::path::PathBuf;

/// `metapseudo export`'s arguments.
#[derive(Args)]
pub struct ExportArgs {
    /// The run folder.
    dir: PathBuf,
    /// Output format (safetensors).
    #[arg(long, default_value = "safetensors")]
    format: String,
    /// Output file (default: <DIR>/export/model.safetensors).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Which model (default: the run's reported model): student, ema, teacher (an export holds one network).
    #[arg(long)]
    model_name: Option<String>,
}

/// Runs `metapseudo export`.
pub fn run(args: ExportArgs) -> Result<()> {
    let (dir, format, out, model_name) = (
        &args.dir,
        args.format.as_str(),
        args.out.as_deref(),
        args.model_name.as_deref(),
    );
    if format != "safetensors" {
        bail!("unknown export format '{format}'; valid formats: safetensors");
    }
    let (weights, meta) = export::export_run(dir, model_name, out)?;
    println!("wrote {} and {}", weights.display(), meta.display());
    Ok(())
}
