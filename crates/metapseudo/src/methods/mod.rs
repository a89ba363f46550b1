//! The methods of the family, one file each. A method implements one `step` over the shared
//! [`TrainContext`]; schedules, EMA, logging, checkpoints and evaluation live in the loop.

pub mod align;
pub mod common;
pub mod metasemi;
pub mod mpl;
pub mod pseudo_label;
pub mod reduced_mpl;
pub mod smpl;
pub mod supervised;
pub mod uda;

use crate::config::Config;
use crate::train::{TensorBatch, TrainContext};
use anyhow::{Context, Result};
use burn::tensor::{Device, Tensor};
use reduced_mpl::TeacherLogits;

/// A logged value: a device scalar read lazily at logging time, or a host number.
#[derive(Clone, Debug)]
pub enum Scalar {
    /// A one-element tensor (read only when the step is logged).
    Tensor(Box<Tensor<1>>),
    /// A value already on the host.
    Value(f64),
}

impl Scalar {
    /// A lazily read device scalar.
    pub fn tensor(t: Tensor<1>) -> Self {
        Scalar::Tensor(Box::new(t))
    }
}

/// The named scalars of one step. Names starting with `loss/` are loss terms and are checked
/// for NaN/inf.
pub type Scalars = Vec<(&'static str, Scalar)>;

/// One training algorithm.
pub trait Method {
    /// Performs one training step (0-based `step`) and returns what to log.
    fn step(&mut self, ctx: &mut TrainContext, batch: &TensorBatch, step: u64) -> Scalars;

    /// Method state to keep in checkpoints (e.g. MPL's moving baseline).
    fn save_state(&self) -> serde_json::Value {
        serde_json::Value::Null
    }

    /// Restores what [`Method::save_state`] returned.
    fn load_state(&mut self, _state: &serde_json::Value, _device: &Device) -> Result<()> {
        Ok(())
    }
}

/// The method `config.method` names; Reduced MPL needs its large teacher's cached logits.
pub fn build(config: &Config, teacher_logits: Option<TeacherLogits>) -> Result<Box<dyn Method>> {
    Ok(match config.method.as_str() {
        "reduced-mpl" => Box::new(reduced_mpl::ReducedMpl::new(
            config,
            teacher_logits.context("reduced-mpl needs the large teacher's logits")?,
        )),
        "supervised" => Box::new(supervised::Supervised::new(config)),
        "pseudo-label" => Box::new(pseudo_label::PseudoLabel::new(config)),
        "uda" => Box::new(uda::Uda::new(config)),
        "smpl" => Box::new(smpl::Smpl::new(config)),
        "metasemi" => Box::new(metasemi::MetaSemi::new(config)),
        _ => Box::new(mpl::Mpl::new(config)),
    })
}
