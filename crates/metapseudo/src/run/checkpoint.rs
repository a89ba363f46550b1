//! The checkpoint's header: the non-tensor state a run continues from, stored in the
//! checkpoint file's metadata beside the networks' and optimisers' tensors.

use super::{BestRecord, RunDir};
use crate::io::TensorFile;
use anyhow::{Context, Result, bail};
use metapseudo_data::pipeline::PipelineState;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Identifies checkpoint files written by this version.
pub const CHECKPOINT_FORMAT: &str = "metapseudo-checkpoint-1";

/// The non-tensor part of a checkpoint.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckpointState {
    /// Steps done.
    pub step: u64,
    /// The batch stream's position before the next batch.
    pub pipeline: PipelineState,
    /// The method's own state (its parts' fields side by side).
    pub method: serde_json::Value,
    /// Length of `metrics.jsonl` at this step.
    pub metrics_bytes: u64,
    /// Training seconds so far.
    pub elapsed_seconds: f64,
    /// The best model's record (`train.keep_best`).
    #[serde(default)]
    pub best: Option<BestRecord>,
    /// Distribution alignment's running mean in checkpoints written before the methods kept
    /// it in their own state (`method`); read only.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub align: serde_json::Value,
    /// The CRC-32 of each file of the run folder the run depends on (`config.toml`,
    /// `split.json`, `preprocess.json`) when the checkpoint was written; a resume verifies them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inputs: BTreeMap<String, String>,
}

/// The run-folder files a run depends on, whose checksums its checkpoints record.
const INPUT_FILES: [&str; 3] = ["config.toml", "split.json", "preprocess.json"];

impl RunDir {
    /// The CRC-32 (hex) of each input file of the run that exists.
    pub fn input_checksums(&self) -> Result<BTreeMap<String, String>> {
        let mut sums = BTreeMap::new();
        for name in INPUT_FILES {
            let path = self.dir.join(name);
            match std::fs::read(&path) {
                Ok(bytes) => {
                    sums.insert(name.to_string(), format!("{:08x}", crc32fast::hash(&bytes)));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
            }
        }
        Ok(sums)
    }

    /// An error naming every input file that differs from the one the checkpoint at `step`
    /// recorded (edited, replaced or deleted since).
    pub fn verify_inputs(&self, recorded: &BTreeMap<String, String>, step: u64) -> Result<()> {
        let now = self.input_checksums()?;
        let changed: Vec<&str> = recorded
            .iter()
            .filter(|(name, sum)| now.get(*name) != Some(sum))
            .map(|(name, _)| name.as_str())
            .collect();
        if !changed.is_empty() {
            bail!(
                "{} of {} changed after its checkpoint at step {step} was written: the run would not continue the run it saved. Restore the file(s) or start a new run",
                changed.join(" and "),
                self.dir.display()
            );
        }
        Ok(())
    }
}

impl CheckpointState {
    /// The header of a checkpoint file.
    pub fn read(f: &TensorFile) -> Result<Self> {
        if f.metadata.get("format").map(String::as_str) != Some(CHECKPOINT_FORMAT) {
            bail!("not a {CHECKPOINT_FORMAT} file");
        }
        serde_json::from_str(
            f.metadata
                .get("state")
                .context("the checkpoint has no state")?,
        )
        .context("the checkpoint's state is invalid")
    }

    /// Stores the header in a checkpoint file.
    pub fn write(&self, f: &mut TensorFile) -> Result<()> {
        f.metadata.insert("format".into(), CHECKPOINT_FORMAT.into());
        f.metadata
            .insert("state".into(), serde_json::to_string(self)?);
        Ok(())
    }
}
