//! `metapseudo export`: a run's reported model as a standalone safetensors file, with a JSON
//! description of its architecture and preprocessing (also stored in the file's metadata), so
//! `predict` and other frameworks can load it without the run folder.

use crate::io::{TensorFile, write_atomic};
use crate::params::export_tensors;
use crate::predict::{EXPORT_FILE, EXPORT_FORMAT, ExportMeta, LAYOUT_NOTE, Predictor};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};

/// Writes the reported model (or `model`) of run `dir` to `out` (default:
/// `<dir>/export/model.safetensors`) and its description beside it (`.json`); returns both paths.
pub fn export_run(
    dir: &Path,
    model: Option<&str>,
    out: Option<&Path>,
) -> Result<(PathBuf, PathBuf)> {
    let run = crate::run::RunDir {
        dir: dir.to_path_buf(),
    };
    run.read_config()?;
    let _lock = crate::run::lock::RunLock::acquire(dir, "exporting")?;
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
