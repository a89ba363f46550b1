//! The checkpoint's header: the non-tensor state a run continues from, stored in the
//! checkpoint file's metadata beside the networks' and optimisers' tensors.

use super::BestRecord;
use crate::io::TensorFile;
use anyhow::{Context, Result, bail};
use metapseudo_data::pipeline::PipelineState;
use serde::{Deserialize, Serialize};

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
