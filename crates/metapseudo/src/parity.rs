//! `metapseudo devices --check DEVICE`: each registered network's logits, loss and gradients on
//! a device against the CPU's, from the same weights and the same inputs. A backend whose
//! kernels are wrong shows here in seconds rather than as a run that learns less.

use crate::config::ModelConfig;
use crate::losses::cross_entropy;
use crate::models::{ModelShape, Network, build};
use anyhow::Result;
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Int, Tensor, TensorData};
use metapseudo_data::Rng;

/// One network's comparison. Errors are relative: `||device - cpu|| / ||cpu||`.
#[derive(Clone, Debug, PartialEq)]
pub struct Parity {
    /// Registry name.
    pub model: String,
    /// Logits in evaluation mode (running statistics, no dropout).
    pub eval_logits: f64,
    /// Logits in training mode (batch statistics).
    pub train_logits: Option<f64>,
    /// The gradients of the training-mode cross entropy, all parameters' as one vector.
    pub gradients: Option<f64>,
    /// The training-mode cross entropy on the CPU and on the device.
    pub loss: Option<(f64, f64)>,
}

impl Parity {
    /// Whether the logits are within `tolerance` and the gradients within
    /// `gradient_tolerance`. Gradients get their own, looser bound: where a LeakyReLU input lies
    /// within rounding of 0 the two devices take different slopes there, and every gradient
    /// below it moves (by 2e-3 to 7e-3 on WRN-28-2 at batch 8 between `wgpu` and the CPU, whose
    /// logits agree to 5e-7), while a wrong kernel moves them by far more.
    pub fn passes(&self, tolerance: f64, gradient_tolerance: f64) -> bool {
        let logits = [Some(self.eval_logits), self.train_logits];
        logits.into_iter().flatten().all(|e| e <= tolerance)
            && self.gradients.is_none_or(|e| e <= gradient_tolerance)
    }
}

/// `||other - reference|| / ||reference||` (Euclidean norms; the absolute norm of the difference
/// when the reference is all zeros). A whole-tensor measure: a single element may differ by more
/// where the computation cancels (batch norm's backward pass on small batches does), while a
/// wrong kernel moves the whole tensor.
pub fn relative_error(reference: &[f32], other: &[f32]) -> f64 {
    assert_eq!(
        reference.len(),
        other.len(),
        "compared tensors differ in size"
    );
    let norm = |it: &mut dyn Iterator<Item = f64>| it.map(|v| v * v).sum::<f64>().sqrt();
    let scale = norm(&mut reference.iter().map(|&v| v as f64));
    let diff = norm(
        &mut reference
            .iter()
            .zip(other)
            .map(|(&a, &b)| a as f64 - b as f64),
    );
    if scale > 0.0 { diff / scale } else { diff }
}

/// What one forward and backward pass gives on one device.
struct Pass {
    eval_logits: Vec<f32>,
    train_logits: Vec<f32>,
    loss: f64,
    gradients: Vec<Vec<f32>>,
}

fn host(t: Tensor<2>) -> Vec<f32> {
    t.into_data()
        .try_into_vec()
        .expect("float tensors hold f32")
}

/// Every parameter's gradient, flattened to the host, in traversal order.
fn host_gradients(net: &Network, grads: &GradientsParams) -> Vec<Vec<f32>> {
    struct Collect<'a>(&'a GradientsParams, Vec<Vec<f32>>);
    impl ModuleVisitor for Collect<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.0.get::<D>(param.id) {
                self.1
                    .push(g.into_data().try_into_vec().expect("f32 gradients"));
            }
        }
    }
    let mut c = Collect(grads, Vec::new());
    net.visit(&mut c);
    c.1
}

/// Builds `config`'s network on `device` (seeded: the same weights on every device) and runs
/// it on `inputs` (`[batch, features]`) and `labels`.
fn pass(
    config: &ModelConfig,
    shape: &ModelShape,
    inputs: &[f32],
    labels: &[i64],
    device: &Device,
) -> Result<Pass> {
    let device = device.clone().autodiff();
    let net = build(config, shape, &mut Rng::new(0), &device)?;
    let n = labels.len();
    let x = |d: &Device| {
        Tensor::<2>::from_data(TensorData::new(inputs.to_vec(), [n, inputs.len() / n]), d)
    };
    let eval_logits = host(net.valid().forward(x(&device.clone().inner())));
    let logits = net.forward(x(&device));
    let y = Tensor::<1, Int>::from_data(TensorData::new(labels.to_vec(), [n]), &device);
    let loss = cross_entropy(logits.clone(), y, 0.0);
    let loss_value = loss.clone().into_scalar::<f32>() as f64;
    let grads = GradientsParams::from_grads(loss.backward(), &net);
    Ok(Pass {
        eval_logits,
        train_logits: host(logits.inner()),
        loss: loss_value,
        gradients: host_gradients(&net, &grads),
    })
}

/// Compares `model` on `device` against the CPU on `batch` random 3x32x32 images (64 features
/// for the MLP) of 10 classes. A network whose training pass is random (dropout) is compared
/// in evaluation mode only: its two training passes cannot match.
pub fn check_model(model: &str, device: &Device, batch: usize) -> Result<Parity> {
    let config = ModelConfig {
        name: model.parse().map_err(anyhow::Error::msg)?,
        ..ModelConfig::default()
    };
    let shape = if config.name == crate::config::ModelName::Mlp {
        ModelShape::flat(64, 10)
    } else {
        ModelShape::image([3, 32, 32], 10)
    };
    let mut rng = Rng::new(1);
    let inputs: Vec<f32> = (0..batch * shape.input_dim())
        .map(|_| rng.normal() as f32)
        .collect();
    let labels: Vec<i64> = (0..batch as i64).map(|i| i % 10).collect();
    let cpu = pass(&config, &shape, &inputs, &labels, &Device::flex())?;
    let deterministic =
        pass(&config, &shape, &inputs, &labels, &Device::flex())?.train_logits == cpu.train_logits;
    let other = pass(&config, &shape, &inputs, &labels, device)?;
    let trained = deterministic.then(|| {
        let flat = |g: &[Vec<f32>]| g.concat();
        (
            relative_error(&cpu.train_logits, &other.train_logits),
            relative_error(&flat(&cpu.gradients), &flat(&other.gradients)),
            (cpu.loss, other.loss),
        )
    });
    Ok(Parity {
        model: model.to_string(),
        eval_logits: relative_error(&cpu.eval_logits, &other.eval_logits),
        train_logits: trained.map(|t| t.0),
        gradients: trained.map(|t| t.1),
        loss: trained.map(|t| t.2),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_error_scales_by_the_reference() {
        assert_eq!(relative_error(&[3.0, -4.0], &[3.0, -4.0]), 0.0);
        assert!((relative_error(&[3.0, -4.0], &[3.5, -4.0]) - 0.1).abs() < 1e-12);
        assert_eq!(relative_error(&[0.0, 0.0], &[0.0, 0.5]), 0.5);
    }

    #[test]
    fn the_cpu_against_itself_matches_exactly_and_dropout_skips_training_mode() {
        let mlp = check_model("mlp", &Device::flex(), 4).unwrap();
        assert_eq!(
            (mlp.eval_logits, mlp.train_logits, mlp.gradients),
            (0.0, Some(0.0), Some(0.0))
        );
        assert!(mlp.passes(0.0, 0.0));
        let (a, b) = mlp.loss.unwrap();
        assert!(a > 0.0 && a == b, "{a} {b}");
        // ConvLarge has dropout 0.5 after its pools: only evaluation mode is compared.
        let conv = check_model("conv-large", &Device::flex(), 2).unwrap();
        assert_eq!(conv.eval_logits, 0.0);
        assert!(conv.train_logits.is_none() && conv.gradients.is_none());
        let off = Parity {
            gradients: Some(0.03),
            ..mlp
        };
        assert!(off.passes(1e-2, 5e-2) && !off.passes(1e-2, 1e-2));
    }
}
