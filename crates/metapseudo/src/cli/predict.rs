//! `metapseudo predict`: classify images, folders of images or CSV rows with a run's model or
//! an export.

use super::args::DeviceArg;
use anyhow::Result;
use clap::Args;
use metapseudo::predict::{self, Predictor, read_inputs};
use metapseudo::run::RunDir;
use std::path::PathBuf;

/// `metapseudo predict`'s arguments.
#[derive(Args)]
pub struct PredictArgs {
    /// A run folder or an exported model (.safetensors or its folder).
    model: PathBuf,
    /// Image files, folders (searched recursively) or CSV files.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Classes to show per input, most probable first (at least 1).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    top_k: u64,
    /// Which model of a run folder (default: its reported model): student, ema, teacher, ensemble.
    #[arg(long)]
    model_name: Option<String>,
    /// Print JSON lines, one per input.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    device: DeviceArg,
}

/// Runs `metapseudo predict`.
pub fn run(args: PredictArgs) -> Result<()> {
    let (top_k, json) = (args.top_k as usize, args.json);
    let run = RunDir {
        dir: args.model.clone(),
    };
    if run.config().exists() && run.read_summary()?.is_none() {
        eprintln!(
            "note: {} has not finished training (no summary.json): predicting with its last checkpoint",
            run.dir.display()
        );
    }
    let predictor = Predictor::open(&args.model, args.model_name.as_deref(), args.device.name())?;
    let inputs = &args.inputs;
    let items = read_inputs(inputs, &predictor.pre)?;
    let raw: Vec<Vec<f32>> = items.iter().map(|i| i.features.clone()).collect();
    let probs = predictor.probabilities(&raw);
    for (item, p) in items.iter().zip(&probs) {
        let top = predict::top_k(p, &predictor.pre.classes, top_k);
        if json {
            println!(
                "{}",
                serde_json::json!({"input": item.name, "predictions": top})
            );
        } else {
            let cells: Vec<String> = top
                .iter()
                .map(|c| format!("{} {:.4}", c.class, c.probability))
                .collect();
            println!("{}\t{}", item.name, cells.join("\t"));
        }
    }
    Ok(())
}
