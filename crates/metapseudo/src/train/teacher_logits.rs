//! Reduced MPL's large teacher: a trained run's model, run once over this run's training pool.

use crate::config::Config;
use crate::methods::reduced_mpl::TeacherLogits;
use crate::predict::Predictor;
use crate::run::RunData;
use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use std::path::Path;

/// Runs model `reduced_mpl.teacher_model` of run `reduced_mpl.teacher_run` over `data`'s
/// training pool. The run must have been trained on the same data (classes, example shape
/// and pool size are checked), on `device` (without autodiff).
pub fn teacher_logits(config: &Config, data: &RunData, device: &Device) -> Result<TeacherLogits> {
    let dir = Path::new(&config.reduced_mpl.teacher_run);
    let name = Some(config.reduced_mpl.teacher_model.as_str()).filter(|n| !n.is_empty());
    let teacher = Predictor::from_run(dir, name, device)
        .with_context(|| format!("reduced_mpl.teacher_run = {}", dir.display()))?;
    let ds = &data.dataset;
    if teacher.pre.classes != ds.classes || teacher.pre.sample_shape != ds.sample_shape {
        bail!(
            "the teacher run {} was trained on other data ({} classes of shape {:?}; this run: {} classes of shape {:?})",
            dir.display(),
            teacher.pre.classes.len(),
            teacher.pre.sample_shape,
            ds.classes.len(),
            ds.sample_shape
        );
    }
    let logits = teacher.logits(&ds.train);
    Ok(TeacherLogits::new(ds.classes.len(), logits))
    // The teacher network is dropped here, before the student's training starts.
}
