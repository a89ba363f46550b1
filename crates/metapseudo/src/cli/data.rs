//! `metapseudo data`: look at a data set: counts and statistics, or a grid of augmented images.

use super::args::DataArgs;
use anyhow::Result;
use clap::Subcommand;
use metapseudo::data::policy::PolicyName;
use metapseudo::datatools::inspect::DataReport;
use metapseudo::datatools::preview::{PreviewOptions, write_preview};
use metapseudo::run::load_dataset;
use metapseudo::train::batches::image_policy;
use std::path::PathBuf;

/// `metapseudo data`'s subcommands.
#[derive(Subcommand)]
pub enum DataCommand {
    /// Counts per split and class, example shape, mean and std.
    Inspect {
        #[command(flatten)]
        data: DataArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a PNG grid: each row an original training image, then augmented views.
    Preview {
        #[command(flatten)]
        data: DataArgs,
        /// Augmentation policy: none, weak, strong, autoaugment.
        #[arg(long, default_value = "strong")]
        policy: PolicyName,
        /// Output PNG file.
        #[arg(long, default_value = "preview.png")]
        out: PathBuf,
        /// Images (rows).
        #[arg(long, default_value_t = 8)]
        rows: usize,
        /// Augmented views per image.
        #[arg(long, default_value_t = 7)]
        views: usize,
        /// Seed of the choice of images and of the augmentations.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
}

/// Runs `metapseudo data`.
pub fn run(cmd: DataCommand) -> Result<()> {
    match cmd {
        DataCommand::Inspect { data, json } => {
            let config = data.config()?;
            let ds = load_dataset(&config)?;
            let report = DataReport::new(&ds, &config.data.spec.to_string());
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.text());
            }
        }
        DataCommand::Preview {
            data,
            policy,
            out,
            rows,
            views,
            seed,
        } => {
            let config = data.config()?;
            let ds = load_dataset(&config)?;
            let Some(set) = ds.train.images() else {
                anyhow::bail!("data preview needs image data; '{}' is tabular", ds.name);
            };
            let policy = image_policy(policy, &config.augment)?;
            write_preview(set, &policy, PreviewOptions { rows, views, seed }, &out)?;
            println!("wrote {}", out.display());
        }
    }
    Ok(())
}
