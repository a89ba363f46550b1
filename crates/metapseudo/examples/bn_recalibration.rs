//! Diagnostic: does a run's EMA model gain when its batch-norm running statistics are
//! recomputed on clean training images (no augmentation) instead of the mixed weak, strong and
//! labeled batches it trained on? For each run folder it prints the accuracy on the run's
//! evaluation split before and after.
//!
//! `cargo run --release --example bn_recalibration -- RUN...` (BENCHMARKS.md, twenty-first pass).

use anyhow::{Context, Result};
use burn::module::Module;
use burn::tensor::Device;
use metapseudo::config::ModelConfig;
use metapseudo::eval::{EvalInputs, ModelEval, predict_logits, true_classes};
use metapseudo::models::{Network, bn_momentum};
use metapseudo::predict::Predictor;
use metapseudo::run::{RunData, RunDir};
use metapseudo_data::Rng;
use std::path::PathBuf;

/// The fewest training-mode forward passes that refresh the running statistics; networks
/// with a small batch-norm momentum get more (see [`passes`]).
const MIN_PASSES: usize = 100;
/// Images per pass, drawn with replacement from the run's unlabeled pool.
const BATCH_SIZE: usize = 256;

fn main() -> Result<()> {
    let runs: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    if runs.is_empty() {
        anyhow::bail!("usage: bn_recalibration RUN...");
    }
    for dir in runs {
        let (before, after) =
            recalibrated_accuracy(&dir).with_context(|| format!("run {}", dir.display()))?;
        println!(
            "{}\tbefore {:.2}\tafter {:.2}\tchange {:+.2}",
            dir.display(),
            100.0 * before,
            100.0 * after,
            100.0 * (after - before)
        );
    }
    Ok(())
}

/// The EMA model's accuracy on the run's evaluation split, as trained and after its running
/// statistics are recomputed on clean images of the run's unlabeled pool.
fn recalibrated_accuracy(dir: &std::path::Path) -> Result<(f64, f64)> {
    let device = Device::flex().autodiff();
    let run = RunDir {
        dir: dir.to_path_buf(),
    };
    let config = run.read_config()?;
    let data = RunData::prepare(&config, Some(run.read_split()?))?;
    let predictor = Predictor::from_run(dir, Some("ema"), &device)?;
    // On an autodiff device the network is in training mode: its batch norms use batch
    // statistics and fold them into the running ones. Without gradients no graph is kept.
    let model = predictor.members[0].clone().valid().train().no_grad();
    let truth = true_classes(&data.dataset.test);
    let inputs = EvalInputs {
        examples: &data.dataset.test,
        normalizer: &data.normalizer,
    };
    let accuracy = |m: &Network| {
        ModelEval::from_logits(
            &predict_logits(m, inputs, &device),
            &truth,
            data.dataset.num_classes(),
        )
        .accuracy
    };
    let before = accuracy(&model);
    let pool = EvalInputs {
        examples: &data.dataset.train,
        normalizer: &data.normalizer,
    };
    let mut rng = Rng::new(7);
    for _ in 0..passes(&config.model) {
        let drawn: Vec<usize> = (0..BATCH_SIZE)
            .map(|_| data.unlabeled[rng.below(data.unlabeled.len())])
            .collect();
        let _ = model.forward(pool.batch(&drawn, &device));
    }
    Ok((before, accuracy(&model)))
}

/// Passes enough for the trained statistics' weight in the running ones to fall below 1 %
/// (`(1 - momentum)^passes`): 100 at cnn-small's momentum 0.1, 4,603 at the WideResNets' 0.001.
fn passes(model: &ModelConfig) -> usize {
    let momentum = bn_momentum(model);
    MIN_PASSES.max((0.01f64.ln() / (1.0 - momentum).ln()).ceil() as usize)
}
