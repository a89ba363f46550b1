//! `metapseudo compare`: tables over runs and seeds, with each group's gain over supervised.

use anyhow::Result;
use clap::Args;
use metapseudo::io::write_atomic;
use metapseudo::report::compare;
use std::path::PathBuf;

/// `metapseudo compare`'s arguments.
#[derive(Args)]
pub struct CompareArgs {
    /// Run folders, or folders holding run folders.
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// Write <OUT>.md and <OUT>.html (default: `compare` inside the first folder given).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Runs `metapseudo compare`.
pub fn run(args: CompareArgs) -> Result<()> {
    let dirs = &args.dirs;
    let out = args.out.clone().unwrap_or_else(|| dirs[0].join("compare"));
    let rows = compare::collect_runs(dirs)?;
    let groups = compare::group_runs(&rows);
    let md = compare::markdown(&rows, &groups);
    print!("{md}");
    let (md_path, html_path) = (out.with_extension("md"), out.with_extension("html"));
    write_atomic(&md_path, md.as_bytes())?;
    write_atomic(&html_path, compare::html(&rows, &groups).as_bytes())?;
    println!("wrote {} and {}", md_path.display(), html_path.display());
    Ok(())
}
