//! The export format: a standalone safetensors file of one network with a JSON description
//! of its architecture and preprocessing, which `metapseudo export` writes and `predict` reads.

use crate::config::ModelConfig;
use crate::io::TensorFile;
use crate::run::Preprocess;
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Identifies export files written by this version.
pub const EXPORT_FORMAT: &str = "metapseudo-export-1";
/// The weights file name inside an export folder.
pub const EXPORT_FILE: &str = "model.safetensors";

/// How the stored tensors relate to PyTorch's layouts.
pub const LAYOUT_NOTE: &str = "float32 tensors named by module path. Conv weights are [out, in, kh, kw] as in PyTorch. \
Linear weights are [in, out] (Burn's layout): transpose them for torch.nn.Linear. Batch norm: gamma = weight, \
beta = bias, running_var is unbiased (PyTorch's convention), eps 1e-5. Inputs: images channel-planar (CHW) scaled \
to [0, 1], then (x - mean[c]) / std[c] per channel; table rows (x - mean[j]) / std[j] per feature.";

/// What an export says about its model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExportMeta {
    /// [`EXPORT_FORMAT`].
    pub format: String,
    /// The architecture (`model` section of the run's configuration).
    pub model: ModelConfig,
    /// Which model of the run this is (`ema`, `student`, `teacher`).
    pub source_model: String,
    /// The run folder it came from.
    pub source_run: String,
    /// Input preprocessing and class names.
    pub preprocess: Preprocess,
    /// Tensor naming and layouts, in words.
    pub layout: String,
}

impl ExportMeta {
    /// The description stored in an export file's metadata.
    pub fn from_file(file: &TensorFile, path: &Path) -> Result<Self> {
        let text = file.metadata.get("metapseudo").with_context(|| {
            format!(
                "{} is not a metapseudo export (no 'metapseudo' metadata)",
                path.display()
            )
        })?;
        let meta: Self = serde_json::from_str(text)
            .with_context(|| format!("{}: invalid export metadata", path.display()))?;
        if meta.format != EXPORT_FORMAT {
            bail!(
                "{}: export format '{}', expected '{EXPORT_FORMAT}'",
                path.display(),
                meta.format
            );
        }
        Ok(meta)
    }
}
