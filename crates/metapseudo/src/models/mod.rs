//! Networks by name: a registry that builds each from the configuration and the data's shape.

pub mod mlp;

use crate::config::ModelConfig;
use anyhow::{Result, bail};
use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor};
use metapseudo_data::Rng;
use mlp::{Activation, Init, Mlp};

/// Any network metapseudo trains: it maps flat inputs `[batch, features]` to logits.
#[derive(Module, Debug)]
pub enum Network {
    /// A multi-layer perceptron.
    Mlp(Mlp),
}

impl Network {
    /// Logits `[batch, classes]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        match self {
            Network::Mlp(m) => m.forward(x),
        }
    }

    /// Penultimate-layer features `[batch, width]`.
    pub fn features(&self, x: Tensor<2>) -> Tensor<2> {
        match self {
            Network::Mlp(m) => m.features(x),
        }
    }
}

/// What a network must fit: the data's input size and number of classes.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelShape {
    /// Flat input features per sample.
    pub input_dim: usize,
    /// Number of classes.
    pub num_classes: usize,
}

/// Registered networks with a one-line description.
pub const MODELS: &[(&str, &str)] = &[(
    "mlp",
    "multi-layer perceptron (model.hidden widths, model.activation relu|sigmoid)",
)];

/// Builds the network `config.name`, initialised from `rng`.
pub fn build(
    config: &ModelConfig,
    shape: &ModelShape,
    rng: &mut Rng,
    device: &Device,
) -> Result<Network> {
    match config.name.as_str() {
        "mlp" => {
            let activation = match config.activation.as_str() {
                "sigmoid" => Activation::Sigmoid,
                _ => Activation::Relu,
            };
            let init = match config.init.as_str() {
                "uniform" => Init::Uniform(config.init_range),
                _ => Init::Kaiming,
            };
            Ok(Network::Mlp(Mlp::new(
                shape.input_dim,
                &config.hidden,
                shape.num_classes,
                activation,
                init,
                rng,
                device,
            )))
        }
        other => bail!(
            "unknown model '{other}'; valid models: {}",
            MODELS
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Number of trainable scalars (batch-norm running statistics are not counted).
pub fn trainable_params<M: Module>(model: &M) -> usize {
    struct Count(usize);
    impl ModuleVisitor for Count {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if param.is_require_grad() {
                self.0 += param.shape().num_elements();
            }
        }
    }
    let mut c = Count(0);
    model.visit(&mut c);
    c.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mlp_shapes_and_parameter_count() {
        let device = Device::flex().autodiff();
        let config = ModelConfig {
            hidden: vec![8, 8],
            ..Default::default()
        };
        let shape = ModelShape {
            input_dim: 2,
            num_classes: 2,
        };
        let net = build(&config, &shape, &mut Rng::new(1), &device).unwrap();
        // 2*8+8 + 8*8+8 + 8*2+2
        assert_eq!(trainable_params(&net), 24 + 72 + 18);
        let out = net.forward(Tensor::zeros([5, 2], &device));
        assert_eq!(out.dims(), [5, 2]);
        let bad = ModelConfig {
            name: "vgg".into(),
            ..Default::default()
        };
        let e = build(&bad, &shape, &mut Rng::new(1), &device).unwrap_err();
        assert!(e.to_string().contains("valid models: mlp"));
    }
}
