//! Checkpoints: everything a session needs to continue exactly, and its restore.

use super::{Best, Session};
use crate::io::TensorFile;
use crate::methods::Learner;
use crate::methods::common::merge_states;
use crate::optim::Sgd;
use crate::params::{HostTensor, export_tensors, import_tensors};
use crate::run::checkpoint::CheckpointState;
use anyhow::{Context, Result};
use burn::tensor::Device;
use std::collections::BTreeMap;

impl Session {
    /// Everything needed to continue exactly: networks, optimiser states, EMA, step, batch
    /// stream position, method state.
    /// `inputs` are the checksums of the run folder's input files ([`CheckpointState::inputs`]).
    pub fn checkpoint(
        &mut self,
        metrics_bytes: u64,
        elapsed_seconds: f64,
        inputs: &BTreeMap<String, String>,
    ) -> Result<TensorFile> {
        let mut f = TensorFile::default();
        let mut learner = |name: &str, l: &Learner| {
            f.insert_all(name, export_tensors(&l.model));
            f.insert_all(&format!("{name}_momentum"), momentum(&l.stepper.optim));
        };
        // Networks are saved under their names, whatever roles they play at this step.
        let (student, teacher) = self.named_learners();
        learner("student", student);
        if let Some(t) = teacher {
            learner("teacher", t);
        }
        if let Some(e) = &self.ema {
            f.insert_all("ema", export_tensors(&e.model));
        }
        if let Some(b) = &self.best {
            f.insert_all("best", export_tensors(&b.model));
        }
        for (name, optim) in self.method.own_optimisers() {
            f.insert_all(&format!("{name}_momentum"), momentum(optim));
        }
        let state = CheckpointState {
            step: self.step,
            pipeline: self.pipeline.state(),
            method: crate::methods::save_state(self.method.as_mut()),
            metrics_bytes,
            elapsed_seconds,
            best: self.best.as_ref().map(|b| b.record),
            align: serde_json::Value::Null,
            inputs: inputs.clone(),
        };
        state.write(&mut f)?;
        Ok(f)
    }

    /// Restores a checkpoint; returns the metrics length it expects.
    pub fn restore(&mut self, f: &TensorFile) -> Result<u64> {
        let state = CheckpointState::read(f)?;
        // Networks load by name into their first roles, then take the roles of the saved step.
        self.step = 0;
        self.set_roles();
        let device = self.device.clone();
        let restore_learner = |name: &str, l: &mut Learner| -> Result<()> {
            l.model = import_tensors(l.model.clone(), &f.take_prefix(name))?;
            load_momentum(
                &mut l.stepper.optim,
                &f.take_prefix(&format!("{name}_momentum")),
                &device,
            )
        };
        restore_learner("student", &mut self.ctx.student)?;
        if let Some(t) = &mut self.ctx.teacher {
            restore_learner("teacher", t)?;
        }
        for (name, optim) in self.method.own_optimisers() {
            load_momentum(optim, &f.take_prefix(&format!("{name}_momentum")), &device)?;
        }
        if let Some(e) = &mut self.ema {
            e.model = import_tensors(e.model.clone(), &f.take_prefix("ema"))?;
        }
        self.best = match state.best {
            Some(record) => Some(Best {
                model: import_tensors(
                    self.followed_model().isolated_copy(),
                    &f.take_prefix("best"),
                )?,
                record,
            }),
            None => None,
        };
        self.pipeline.restore(&state.pipeline);
        let method_state = merge_states([state.method, state.align]);
        crate::methods::load_state(self.method.as_mut(), &method_state, &self.device)?;
        self.step = state.step;
        self.set_roles();
        self.elapsed_before = state.elapsed_seconds;
        Ok(state.metrics_bytes)
    }
}

fn momentum(optim: &Sgd) -> BTreeMap<String, HostTensor> {
    optim
        .state()
        .into_iter()
        .map(|(i, t)| (i.to_string(), t))
        .collect()
}

fn load_momentum(
    optim: &mut Sgd,
    saved: &BTreeMap<String, HostTensor>,
    device: &Device,
) -> Result<()> {
    let state = saved
        .iter()
        .map(|(k, t)| Ok((k.parse::<usize>().context("bad momentum index")?, t.clone())))
        .collect::<Result<Vec<_>>>()?;
    optim.load_state(&state, &device.clone().inner());
    Ok(())
}
