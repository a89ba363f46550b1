//! Exponential moving average of the student's weights (batch-norm statistics averaged too).

use crate::models::Network;
use crate::params::{flat_tensors, map_tensors};
use burn::module::Module;

/// An EMA copy of a network, kept without autodiff.
#[derive(Clone, Debug)]
pub struct Ema {
    /// The averaged network (validation mode).
    pub model: Network,
    /// Decay per step.
    pub decay: f64,
}

impl Ema {
    /// Starts the average at the current weights of `model`.
    pub fn new(model: &Network, decay: f64) -> Self {
        Self {
            model: model.valid(),
            decay,
        }
    }

    /// `ema <- decay * ema + (1 - decay) * model`, tensor by tensor.
    pub fn update(&mut self, model: &Network) {
        let current = flat_tensors(model);
        let d = self.decay;
        self.model = map_tensors(self.model.clone(), |i, _, e| {
            Some(e.mul_scalar(d) + current[i].clone().mul_scalar(1.0 - d))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ModelConfig;
    use crate::models::{ModelShape, build};
    use crate::params::export_tensors;
    use burn::tensor::Device;
    use metapseudo_data::Rng;

    #[test]
    fn ema_moves_towards_the_model_by_one_minus_decay() {
        let device = Device::flex().autodiff();
        let shape = ModelShape::flat(2, 2);
        let a = build(&ModelConfig::default(), &shape, &mut Rng::new(1), &device).unwrap();
        let b = build(&ModelConfig::default(), &shape, &mut Rng::new(2), &device).unwrap();
        let mut ema = Ema::new(&a, 0.9);
        ema.update(&b);
        let (ea, eb, ee) = (
            export_tensors(&a),
            export_tensors(&b),
            export_tensors(&ema.model),
        );
        for (k, t) in &ee {
            for ((x, y), e) in ea[k].values.iter().zip(&eb[k].values).zip(&t.values) {
                assert!((e - (0.9 * x + 0.1 * y)).abs() < 1e-6);
            }
        }
    }
}
