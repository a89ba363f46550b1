//! Reduced MPL (docs/methods.md, "Reduced MPL"): a trained run's model is the large teacher; its
//! logits over the training pool are computed once, and a small teacher over those logits
//! ([`ReducedTeacher`](crate::models::reduced::ReducedTeacher)) is trained with the MPL rule
//! while the student trains on images. Only one image model is in memory at a time.
//!
//! The reduced teacher sees the same cached logits for an example's weak and strong views, so
//! its UDA term (if `uda.weight > 0`) compares a prediction with itself.

use super::mpl::Mpl;
use super::{Inputs, Method, MethodName, MethodSpec, Needs, Scalars, StatePart, TeacherKind};
use super::{TensorBatch, TrainContext};
use crate::config::Config;
use anyhow::{Context, Result};
use burn::tensor::{Device, Tensor, TensorData};
use metapseudo_data::Rng;

/// The large teacher's logits for every example of the training pool.
#[derive(Clone, Debug, PartialEq)]
pub struct TeacherLogits {
    classes: usize,
    rows: Vec<f32>,
}

impl TeacherLogits {
    /// The logits of `rows` (one per training-pool example, each `classes` long).
    pub fn new(classes: usize, rows: Vec<Vec<f32>>) -> Self {
        Self {
            classes,
            rows: rows.into_iter().flatten().collect(),
        }
    }

    /// Standard-normal logits for `n` examples (for `bench step`).
    pub fn random(n: usize, classes: usize, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        Self {
            classes,
            rows: (0..n * classes).map(|_| rng.normal() as f32).collect(),
        }
    }

    /// Number of examples covered.
    pub fn len(&self) -> usize {
        self.rows.len() / self.classes.max(1)
    }

    /// Whether no example is covered.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The logits of examples `idx`, `[idx.len(), classes]`, on `device`.
    pub fn gather(&self, idx: &[usize], device: &Device) -> Tensor<2> {
        let c = self.classes;
        let mut v = Vec::with_capacity(idx.len() * c);
        for &i in idx {
            v.extend_from_slice(&self.rows[i * c..(i + 1) * c]);
        }
        Tensor::from_data(TensorData::new(v, [idx.len(), c]), device)
    }
}

/// Reduced MPL's registry entry.
pub const SPEC: MethodSpec = MethodSpec {
    name: MethodName::ReducedMpl,
    about: "MPL with a trained run as the large teacher: its logits are cached once and a small teacher learns over them, so one image network is in memory; for a big teacher that does not fit beside the student.",
    needs: Needs {
        teacher: TeacherKind::ReducedOverCachedLogits,
        unlabeled: true,
        student_waits: true,
        consistency: true,
        student_target: true,
        ..Needs::ONE_NETWORK
    },
    build: |config, mut inputs| {
        let logits = inputs
            .teacher_logits
            .take()
            .context("reduced-mpl needs the large teacher's logits")?;
        Ok(Box::new(ReducedMpl::new(config, inputs, logits)?))
    },
};

/// MPL whose teacher reads cached logits instead of images.
pub struct ReducedMpl {
    mpl: Mpl,
    logits: TeacherLogits,
}

impl ReducedMpl {
    /// The method with the run's options and the large teacher's cached logits.
    pub fn new(config: &Config, inputs: Inputs, logits: TeacherLogits) -> Result<Self> {
        Ok(Self {
            mpl: Mpl::new(config, inputs),
            logits,
        })
    }

    /// The teacher's batch: the cached logits of the batch's examples (both unlabeled views
    /// read the same logits; mixup does not apply to them).
    fn teacher_batch(&self, b: &TensorBatch) -> TensorBatch {
        let device = b.x_l.device();
        let unlabeled = self.logits.gather(&b.unlabeled_index, &device);
        TensorBatch {
            x_l: self.logits.gather(&b.labeled_index, &device),
            y_l: b.y_l.clone(),
            x_uw: unlabeled.clone(),
            x_us: unlabeled,
            mix: None,
            labeled_index: b.labeled_index.clone(),
            unlabeled_index: b.unlabeled_index.clone(),
        }
    }
}

impl Method for ReducedMpl {
    fn step(&mut self, ctx: &mut TrainContext, b: &TensorBatch, step: u64) -> Scalars {
        let t = self.teacher_batch(b);
        self.mpl.step_with(ctx, &t, b, step)
    }

    fn state_parts(&mut self) -> Vec<&mut dyn StatePart> {
        self.mpl.state_parts()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gathers_the_rows_of_the_batch_examples() {
        let logits = TeacherLogits {
            classes: 2,
            rows: vec![0.0, 1.0, 10.0, 11.0, 20.0, 21.0],
        };
        assert_eq!(logits.len(), 3);
        let t = logits.gather(&[2, 0, 2], &Device::flex());
        let v: Vec<f32> = t.into_data().try_into_vec().unwrap();
        assert_eq!(v, vec![20.0, 21.0, 0.0, 1.0, 20.0, 21.0]);
    }
}
