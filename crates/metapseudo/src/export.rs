//! `metapseudo export`: a run's reported model as a standalone safetensors file, with a JSON
//! description of its architecture and preprocessing (also stored in the file's metadata), so
//! `predict` and other frameworks can load it without the run folder.

use crate::config::ModelConfig;
use crate::io::{TensorFile, write_atomic};
use crate::params::export_tensors;
use crate::predict::{Predictor, Preprocess};
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

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

/// Writes the reported model (or `model`) of run `dir` to `out` (default:
/// `<dir>/export/model.safetensors`) and its description beside it (`.json`); returns both paths.
pub fn export_run(
    dir: &Path,
    model: Option<&str>,
    out: Option<&Path>,
) -> Result<(PathBuf, PathBuf)> {
    // Only the tensors are read back: the CPU holds them.
    let predictor = Predictor::from_run(dir, model, &burn::tensor::Device::flex())?;
    let [network] = predictor.members.as_slice() else {
        bail!(
            "'{}' is an ensemble of {} networks; export one of them (--model-name student or teacher)",
            predictor.model_name,
            predictor.members.len()
        );
    };
    let out = out.map_or_else(|| dir.join("export").join(EXPORT_FILE), Path::to_path_buf);
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let meta = ExportMeta {
        format: EXPORT_FORMAT.into(),
        model: predictor.model_config.clone(),
        source_model: predictor.model_name.clone(),
        source_run: dir.display().to_string(),
        preprocess: predictor.pre.clone(),
        layout: LAYOUT_NOTE.into(),
    };
    let json = serde_json::to_string_pretty(&meta)?;
    let mut file = TensorFile {
        tensors: export_tensors(network),
        ..Default::default()
    };
    file.metadata.insert("metapseudo".into(), json.clone());
    file.save(&out)?;
    let json_path = out.with_extension("json");
    write_atomic(&json_path, json.as_bytes())?;
    Ok((out, json_path))
}
