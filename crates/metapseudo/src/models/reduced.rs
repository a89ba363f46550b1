//! Reduced MPL's teacher: a small residual MLP over a large teacher's cached logits.

use super::layers::{default_linear, uniform_tensor};
use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use metapseudo_data::Rng;

/// Half-width of the output layer's initial weights: small, so the network starts near the
/// identity (its pseudo labels are the large teacher's).
const NEAR_IDENTITY: f64 = 1e-3;

/// `logits -> logits + W2 relu(W1 logits + b1) + b2`, with `W2` near zero and `b2 = 0` at the
/// start.
#[derive(Module, Debug)]
pub struct ReducedTeacher {
    /// `classes -> hidden`.
    pub hidden: Linear,
    /// `hidden -> classes`, the residual branch's output.
    pub out: Linear,
}

impl ReducedTeacher {
    /// A reduced teacher for `classes` logits with one hidden layer of `width`.
    pub fn new(classes: usize, width: usize, rng: &mut Rng, device: &Device) -> Self {
        let hidden = default_linear(classes, width, rng, device);
        let out = Linear {
            weight: Param::from_tensor(uniform_tensor(
                [width, classes],
                NEAR_IDENTITY,
                rng,
                device,
            )),
            bias: Some(Param::from_tensor(Tensor::zeros([classes], device))),
        };
        Self { hidden, out }
    }

    /// The hidden activations `[batch, width]`.
    pub fn features(&self, x: Tensor<2>) -> Tensor<2> {
        relu(self.hidden.forward(x))
    }

    /// Refined logits `[batch, classes]` from the large teacher's logits `[batch, classes]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        x.clone() + self.out.forward(self.features(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    #[test]
    fn starts_near_the_identity() {
        let device = Device::flex();
        let t = ReducedTeacher::new(4, 16, &mut Rng::new(3), &device);
        let v = vec![3.0f32, -1.0, 0.5, 2.0, -4.0, 1.0, 0.0, 7.0];
        let x = Tensor::<2>::from_data(TensorData::new(v.clone(), [2, 4]), &device);
        let y: Vec<f32> = t.forward(x).into_data().try_into_vec().unwrap();
        for (a, b) in v.iter().zip(&y) {
            assert!((a - b).abs() < 0.05, "{v:?} -> {y:?}");
        }
        assert_ne!(v, y, "the residual branch is not exactly zero");
    }
}
