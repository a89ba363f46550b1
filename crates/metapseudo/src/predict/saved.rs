//! Every network a run folder's checkpoint holds, with the run's configuration and data: what
//! evaluation and the report read, without a training session (no optimisers, no batch
//! workers, no autodiff).

use crate::config::Config;
use crate::eval::{EvalInputs, TestLogits, evaluations, test_logits};
use crate::io::TensorFile;
use crate::models::{ModelShape, Network};
use crate::run::checkpoint::CheckpointState;
use crate::run::{RunData, RunDir, Summary};
use anyhow::{Context, Result};
use burn::tensor::Device;

/// A run folder's saved networks with what evaluating them needs.
pub struct SavedRun {
    /// The run's configuration.
    pub config: Config,
    /// Its data and split.
    pub data: RunData,
    /// Where the networks compute.
    pub device: Device,
    /// The networks by name, in the order summaries list them: student, ema, teacher, best.
    pub models: Vec<(String, Network)>,
    /// The checkpoint's header: step, elapsed time, the best model's record.
    pub state: CheckpointState,
}

impl SavedRun {
    /// Loads run `run` from its checkpoint, on `device` (default: the run's saved one).
    pub fn load(run: &RunDir, device: Option<&str>) -> Result<Self> {
        Self::load_with(run, device, false)
    }

    /// As [`SavedRun::load`], with the real test split as the evaluation split even for a run
    /// judged on a development split (a tuned trial's test accuracy, for the record).
    pub fn load_on_test(run: &RunDir, device: Option<&str>) -> Result<Self> {
        Self::load_with(run, device, true)
    }

    fn load_with(run: &RunDir, device: Option<&str>, keep_test: bool) -> Result<Self> {
        let config = run.read_config()?;
        let device = crate::device::open(device.unwrap_or(&config.train.device))?;
        let data = RunData::prepare_with(&config, Some(run.read_split()?), keep_test)?;
        let path = run.require_checkpoint()?;
        let file = TensorFile::load(&path)?;
        file.check_finite(&path)?;
        let state = CheckpointState::read(&file)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let shape = ModelShape {
            sample: data.dataset.sample_shape.clone(),
            num_classes: data.dataset.num_classes(),
        };
        let mut models = Vec::new();
        for name in crate::run::evaluated_models(&config) {
            let tensors = file.take_prefix(name);
            if tensors.is_empty() {
                continue;
            }
            let network = super::network_from(&config.model, &shape, &tensors, &device)
                .with_context(|| format!("loading '{name}' from {}", path.display()))?;
            models.push((name.to_string(), network));
        }
        Ok(Self {
            config,
            data,
            device,
            models,
            state,
        })
    }

    /// The networks by name.
    pub fn named(&self) -> Vec<(&str, &Network)> {
        self.models.iter().map(|(n, m)| (n.as_str(), m)).collect()
    }

    /// Every network's logits on the evaluation split, with the student-teacher `ensemble`.
    pub fn test_logits(&self) -> TestLogits {
        let inputs = EvalInputs {
            examples: &self.data.dataset.test,
            normalizer: &self.data.normalizer,
        };
        test_logits(&self.named(), inputs, &self.device)
    }

    /// The run's summary at its checkpoint, from its networks' logits (for a run that has not
    /// finished and so has no `summary.json`).
    pub fn summary(&self, logits: &TestLogits) -> Summary {
        let ds = &self.data.dataset;
        Summary::of(
            &self.config,
            &self.data,
            evaluations(logits, &ds.test, ds.num_classes()),
            (self.state.step, self.state.elapsed_seconds),
            self.state.best,
        )
    }
}
