//! A multi-layer perceptron with configurable widths, activation and initialisation.

use super::layers::uniform_tensor;
use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::{Device, Tensor};
use metapseudo_data::Rng;

/// Hidden-layer non-linearity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// max(0, x).
    Relu,
    /// 1 / (1 + exp(-x)), as in the MPL paper's two-moons network.
    Sigmoid,
}

/// Weight initialisation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// Weights and biases from U(-r, r).
    Uniform(f64),
    /// PyTorch's default for linear layers: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights
    /// (Kaiming-uniform with a = sqrt(5)) and biases.
    Kaiming,
}

/// Fully connected layers with an activation between them; the last layer gives logits.
#[derive(Module, Debug)]
pub struct Mlp {
    /// The layers, input first.
    pub layers: Vec<Linear>,
    /// The hidden activation.
    #[module(skip)]
    pub activation: Activation,
}

impl Mlp {
    /// An MLP `input -> hidden... -> classes`, initialised from `rng`.
    pub fn new(
        input: usize,
        hidden: &[usize],
        classes: usize,
        activation: Activation,
        init: Init,
        rng: &mut Rng,
        device: &Device,
    ) -> Self {
        let widths: Vec<usize> = std::iter::once(input)
            .chain(hidden.iter().copied())
            .chain(std::iter::once(classes))
            .collect();
        let layers = widths
            .windows(2)
            .map(|w| {
                let bound = match init {
                    Init::Uniform(r) => r,
                    Init::Kaiming => 1.0 / (w[0] as f64).sqrt(),
                };
                Linear {
                    weight: Param::from_tensor(uniform_tensor([w[0], w[1]], bound, rng, device)),
                    bias: Some(Param::from_tensor(uniform_tensor(
                        [w[1]],
                        bound,
                        rng,
                        device,
                    ))),
                }
            })
            .collect();
        Self { layers, activation }
    }

    /// Penultimate features: the input through every layer but the last, activated.
    pub fn features(&self, x: Tensor<2>) -> Tensor<2> {
        let hidden = self.layers.len() - 1;
        self.layers[..hidden].iter().fold(x, |h, layer| {
            let z = layer.forward(h);
            match self.activation {
                Activation::Relu => relu(z),
                Activation::Sigmoid => sigmoid(z),
            }
        })
    }

    /// Logits for a batch of flat inputs `[batch, input]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let last = self.layers.last().expect("an MLP has at least one layer");
        last.forward(self.features(x))
    }
}
