//! Distribution alignment (ReMixMatch, Berthelot et al. 2020) of the weak-view targets of the
//! unlabeled losses, behind `train.align_decay` (0, off, is the papers' behaviour).
//!
//! Self-training drifts towards the classes it already predicts well: a hard class that seldom
//! passes the threshold is learned less and predicted less. Alignment multiplies each target
//! distribution by `prior / running`, the labeled classes' frequencies over a running mean of
//! the model's weak-view predictions, so the targets of a batch keep the labeled classes'
//! proportions on average. On logits this is `weak + ln(prior) - ln(running)`, so sharpening,
//! thresholds and `argmax` apply to the aligned distribution unchanged.

use super::{Scalar, Scalars};
use crate::config::Config;
use anyhow::{Context, Result};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// The running mean of the weak-view predictions and the alignment it gives.
#[derive(Clone, Debug)]
pub struct Alignment {
    decay: f64,
    /// The labeled classes' frequencies: the distribution targets are aligned to.
    prior: Vec<f32>,
    running: Option<Tensor<1>>,
    /// A running mean read from a checkpoint, made a tensor on the device of the first batch
    /// that reads it (MetaSemi's meta step works on non-autodiff tensors; a value moved there
    /// from the autodiff device would not compute bit for bit the same).
    restored: Option<Vec<f32>>,
}

#[derive(Serialize, Deserialize)]
struct AlignState {
    #[serde(default)]
    align_running: Option<Vec<f32>>,
}

/// Smallest probability the logarithms see (a class without labels, a class never predicted).
const FLOOR: f64 = 1e-6;

impl Alignment {
    /// From `train.align_decay`, towards `prior` (each class's share of the labeled samples).
    pub fn new(config: &Config, prior: Vec<f32>) -> Self {
        Self {
            decay: config.train.align_decay,
            prior,
            running: None,
            restored: None,
        }
    }

    /// The targets' logits for the weak-view logits `weak`, detached: unchanged when off;
    /// otherwise the running mean first takes in this batch's mean prediction (it starts at
    /// the prior), then [`Alignment::apply`].
    pub fn targets(&mut self, weak: &Tensor<2>) -> Tensor<2> {
        if self.decay > 0.0 {
            let device = weak.device();
            let batch_mean: Tensor<1> =
                softmax(weak.clone().detach(), 1).mean_dim(0).squeeze_dim(0);
            let before = self
                .current(&device)
                .unwrap_or_else(|| self.prior_on(&device));
            self.restored = None;
            self.running =
                Some(before.mul_scalar(self.decay) + batch_mean.mul_scalar(1.0 - self.decay));
        }
        self.apply(weak)
    }

    /// `weak + ln(prior) - ln(running)`, detached, with the running mean as it stands (SMPL's
    /// second step reads the batch again after its first step took it in); `weak` itself,
    /// detached, when off or before the first batch.
    pub fn apply(&self, weak: &Tensor<2>) -> Tensor<2> {
        let weak = weak.clone().detach();
        let device = weak.device();
        let Some(running) = self.current(&device).filter(|_| self.decay > 0.0) else {
            return weak;
        };
        let shift = self.prior_on(&device).log() - running.clamp_min(FLOOR).log();
        weak + shift.unsqueeze_dim(0)
    }

    /// The running mean on `device`, if there is one yet.
    fn current(&self, device: &Device) -> Option<Tensor<1>> {
        match (&self.running, &self.restored) {
            (Some(r), _) => Some(r.clone().to_device(device)),
            (None, Some(v)) => Some(Tensor::from_data(
                TensorData::new(v.clone(), [v.len()]),
                device,
            )),
            (None, None) => None,
        }
    }

    /// The prior on `device`, floored so that its logarithm is finite.
    fn prior_on(&self, device: &Device) -> Tensor<1> {
        Tensor::<1>::from_data(
            TensorData::new(self.prior.clone(), [self.prior.len()]),
            device,
        )
        .clamp_min(FLOOR)
    }

    /// Logs the largest and smallest ratio `running / prior` (1 and 1 when balanced).
    pub fn log(&self, out: &mut Scalars) {
        let Some(running) = &self.running else { return };
        let ratio = running.clone() / self.prior_on(&running.device());
        out.push(("align/max_ratio", Scalar::tensor(ratio.clone().max())));
        out.push(("align/min_ratio", Scalar::tensor(ratio.min())));
    }
}

impl super::StatePart for Alignment {
    /// The running mean for checkpoints.
    fn save(&self) -> serde_json::Value {
        let align_running = match &self.running {
            Some(r) => Some(
                r.clone()
                    .into_data()
                    .try_into_vec::<f32>()
                    .expect("f32 running mean"),
            ),
            None => self.restored.clone(),
        };
        serde_json::to_value(AlignState { align_running }).expect("plain state serialises")
    }

    /// Restores the running mean (a tensor again at the next batch); a state without one (an
    /// older checkpoint, or alignment off) starts it again from the prior.
    fn load(&mut self, state: &serde_json::Value, _: &Device) -> Result<()> {
        self.running = None;
        self.restored = None;
        if state.is_null() {
            return Ok(());
        }
        let s: AlignState = serde_json::from_value(state.clone())
            .context("checkpoint: bad distribution-alignment state")?;
        self.restored = s.align_running;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods::StatePart;

    fn values(t: Tensor<2>) -> Vec<f32> {
        t.into_data().try_into_vec().unwrap()
    }

    fn config(decay: f64) -> Config {
        let mut c = Config::default();
        c.train.align_decay = decay;
        c
    }

    #[test]
    fn off_leaves_the_logits_unchanged() {
        let d = Device::flex();
        let weak =
            Tensor::<2>::from_data(TensorData::new(vec![1.0f32, -2.0, 0.5, 3.0], [2, 2]), &d);
        let mut a = Alignment::new(&config(0.0), vec![0.5, 0.5]);
        assert_eq!(values(a.targets(&weak)), values(weak));
        assert!(a.save()["align_running"].is_null());
    }

    #[test]
    fn targets_follow_prior_over_running_mean() {
        let d = Device::flex();
        // Both rows favour class 0: p = softmax(row).
        let rows = vec![2.0f32, 0.0, 1.0, 0.0];
        let weak = Tensor::<2>::from_data(TensorData::new(rows.clone(), [2, 2]), &d);
        let p: Vec<[f64; 2]> = rows
            .chunks(2)
            .map(|r| {
                let e = [(r[0] as f64).exp(), (r[1] as f64).exp()];
                [e[0] / (e[0] + e[1]), e[1] / (e[0] + e[1])]
            })
            .collect();
        let mean0 = (p[0][0] + p[1][0]) / 2.0;
        let decay = 0.9;
        let running0 = decay * 0.5 + (1.0 - decay) * mean0;
        let running = [running0, 1.0 - running0];
        let mut a = Alignment::new(&config(decay), vec![0.5, 0.5]);
        let got = values(softmax(a.targets(&weak), 1));
        for (i, row) in p.iter().enumerate() {
            let un = [row[0] * 0.5 / running[0], row[1] * 0.5 / running[1]];
            let z = un[0] + un[1];
            for c in 0..2 {
                assert!(
                    (got[2 * i + c] as f64 - un[c] / z).abs() < 1e-5,
                    "row {i} class {c}: {got:?}"
                );
            }
        }
        // Class 0 is over-predicted, so its targets shrink.
        assert!(got[0] < p[0][0] as f32);
        let state = a.save();
        let saved: Vec<f32> = serde_json::from_value(state["align_running"].clone()).unwrap();
        assert!((saved[0] as f64 - running0).abs() < 1e-6);

        // A restored alignment continues exactly where the first one is.
        let mut b = Alignment::new(&config(decay), vec![0.5, 0.5]);
        b.load(&state, &d).unwrap();
        let next_a = values(a.targets(&weak));
        let next_b = values(b.targets(&weak));
        assert_eq!(next_a, next_b);
    }
}
