//! The run folder's records, read by everything above the training loop: the folder's layout,
//! its configuration, split, summary, metrics log, preprocessing and checkpoint header, and the
//! data a run trains on. Training writes them; reports, prediction and export read them.

pub mod checkpoint;
pub mod data;
pub mod lock;
pub mod metrics;
pub mod preprocess;
pub mod summary;

pub use data::{RunData, SplitRecord, count_per_class, load_dataset};
pub use preprocess::Preprocess;
pub use summary::{BestRecord, FinetuneRecord, Summary};

use crate::config::Config;
use anyhow::{Context, Result};
use std::path::PathBuf;

/// The model name of the finetune stage's result in a run's summary.
pub const FINETUNED: &str = "finetuned";

/// The networks a run of `config` evaluates, in the order summaries list them, where it has
/// them: the student, its EMA, a teacher of the run's architecture (a reduced teacher reads
/// logits, not inputs), and the best model by validation.
pub fn evaluated_models(config: &Config) -> Vec<&'static str> {
    let mut names = vec!["student", "ema"];
    if crate::methods::needs(config).teacher == crate::methods::TeacherKind::SameArchitecture {
        names.push("teacher");
    }
    names.push("best");
    names
}

/// The finetune stage's sub-folder in the finetuned run's folder.
pub const STAGE_FOLDER: &str = "finetune";

/// The files of a run folder.
#[derive(Clone, Debug)]
pub struct RunDir {
    /// The folder.
    pub dir: PathBuf,
}

impl RunDir {
    /// The effective configuration.
    pub fn config(&self) -> PathBuf {
        self.dir.join("config.toml")
    }
    /// The labeled split.
    pub fn split(&self) -> PathBuf {
        self.dir.join("split.json")
    }
    /// One JSON line per logged step.
    pub fn metrics(&self) -> PathBuf {
        self.dir.join("metrics.jsonl")
    }
    /// The latest checkpoint.
    pub fn checkpoint(&self) -> PathBuf {
        self.dir.join("checkpoint.safetensors")
    }
    /// The final results.
    pub fn summary(&self) -> PathBuf {
        self.dir.join("summary.json")
    }
    /// How raw inputs become network inputs.
    pub fn preprocess(&self) -> PathBuf {
        self.dir.join("preprocess.json")
    }
    /// The report.
    pub fn report(&self) -> PathBuf {
        self.dir.join("report.html")
    }
    /// The finetune stage's own run folder.
    pub fn stage(&self) -> RunDir {
        RunDir {
            dir: self.dir.join(STAGE_FOLDER),
        }
    }

    /// The checkpoint, which must exist: a run stopped before its first one has no model.
    pub fn require_checkpoint(&self) -> Result<PathBuf> {
        let path = self.checkpoint();
        if !path.exists() {
            anyhow::bail!(
                "{} has no checkpoint yet: it stopped before saving a model; continue it with `metapseudo train --resume {}`",
                self.dir.display(),
                self.dir.display()
            );
        }
        Ok(path)
    }

    /// Reads the saved configuration of an existing run.
    pub fn read_config(&self) -> Result<Config> {
        let path = self.config();
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "{} is not a metapseudo run folder (no readable config.toml)",
                self.dir.display()
            )
        })?;
        let config = crate::config::layers::config_from_toml(&text)
            .with_context(|| format!("{} is invalid", path.display()))?;
        config.validate()?;
        Ok(config)
    }

    /// Reads `summary.json`: `None` when the run has not finished (no file), an error naming
    /// the file when it is not a summary.
    pub fn read_summary(&self) -> Result<Option<Summary>> {
        let path = self.summary();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                Ok(Some(serde_json::from_str(&text).with_context(|| {
                    format!("{} is invalid", path.display())
                })?))
            }
            Err(_) => Ok(None),
        }
    }

    /// Reads the saved split of an existing run.
    pub fn read_split(&self) -> Result<SplitRecord> {
        let path = self.split();
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{} is invalid", path.display()))
    }
}
