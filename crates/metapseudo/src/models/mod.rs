//! Networks by name: a registry that builds each from the configuration and the data's shape.

pub mod layers;
pub mod mlp;
pub mod plain_cnn;
pub mod reduced;
pub mod resnet;
pub mod weights;
pub mod wrn;

use crate::config::{Activation as ActivationName, InitScheme, ModelConfig, ModelName};
use anyhow::{Result, bail};
use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::tensor::{Device, Tensor};
use layers::global_avg_pool;
use metapseudo_data::Rng;
use mlp::{Activation, Init, Mlp};
use plain_cnn::{CONV_LARGE, PlainCnn, small_cnn_layers};
use reduced::ReducedTeacher;
use resnet::ResNet18;
use wrn::WideResNet;

/// Any network metapseudo trains: it maps flat inputs `[batch, features]` to logits. Image
/// networks reshape the features to `[batch, channels, height, width]` themselves.
// One network value per role lives for a whole run: the variants' size difference is harmless.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Network {
    /// A multi-layer perceptron.
    Mlp(Mlp),
    /// A convolutional network with a linear classifier.
    Image(ImageClassifier),
    /// Reduced MPL's teacher over cached logits.
    Reduced(ReducedTeacher),
}

impl Network {
    /// Logits `[batch, classes]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        match self {
            Network::Mlp(m) => m.forward(x),
            Network::Image(m) => m.forward(x),
            Network::Reduced(m) => m.forward(x),
        }
    }

    /// Penultimate-layer features `[batch, width]`.
    pub fn features(&self, x: Tensor<2>) -> Tensor<2> {
        match self {
            Network::Mlp(m) => m.features(x),
            Network::Image(m) => m.features(x),
            Network::Reduced(m) => m.features(x),
        }
    }

    /// A copy that shares nothing with `self`: batch-norm running statistics of a plain clone
    /// are shared with the original, so a virtual step on a clone would move the original's.
    pub fn isolated_copy(&self) -> Self {
        self.valid().train()
    }
}

/// The convolutional body of an image network.
#[derive(Module, Debug)]
pub enum Body {
    /// WideResNet-28-k.
    Wrn(WideResNet),
    /// ResNet-18 (CIFAR variant).
    ResNet(ResNet18),
    /// ConvLarge or the small CNN.
    Plain(PlainCnn),
}

impl Body {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Body::Wrn(m) => m.forward(x),
            Body::ResNet(m) => m.forward(x),
            Body::Plain(m) => m.forward(x),
        }
    }

    fn out_channels(&self) -> usize {
        match self {
            Body::Wrn(m) => m.out_channels(),
            Body::ResNet(m) => m.out_channels(),
            Body::Plain(m) => m.out_channels(),
        }
    }
}

/// A convolutional body, global average pooling, dense dropout and a linear classifier.
#[derive(Module, Debug)]
pub struct ImageClassifier {
    body: Body,
    dropout: Dropout,
    head: Linear,
    /// `[channels, height, width]` of one input.
    #[module(skip)]
    input: [usize; 3],
}

impl ImageClassifier {
    fn images(&self, x: Tensor<2>) -> Tensor<4> {
        let [c, h, w] = self.input;
        let b = x.dims()[0];
        x.reshape([b, c, h, w])
    }

    /// Pooled features `[batch, width]`.
    pub fn features(&self, x: Tensor<2>) -> Tensor<2> {
        global_avg_pool(self.body.forward(self.images(x)))
    }

    /// Logits `[batch, classes]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.head.forward(self.dropout.forward(self.features(x)))
    }
}

/// What a network must fit: the shape of one example and the number of classes.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelShape {
    /// `[features]` for tables, `[channels, height, width]` for images.
    pub sample: Vec<usize>,
    /// Number of classes.
    pub num_classes: usize,
}

impl ModelShape {
    /// Flat inputs of `dim` features.
    pub fn flat(dim: usize, num_classes: usize) -> Self {
        Self {
            sample: vec![dim],
            num_classes,
        }
    }

    /// Images of `[channels, height, width]`.
    pub fn image(chw: [usize; 3], num_classes: usize) -> Self {
        Self {
            sample: chw.to_vec(),
            num_classes,
        }
    }

    /// Features per example.
    pub fn input_dim(&self) -> usize {
        self.sample.iter().product()
    }
}

/// Registered networks with a one-line description.
pub const MODELS: &[(ModelName, &str)] = &[
    (
        ModelName::Mlp,
        "multi-layer perceptron (model.hidden widths, model.activation relu|sigmoid)",
    ),
    (
        ModelName::CnnSmall,
        "small CNN for CPU runs: 2 x w, pool, 2 x 2w, pool, 4w, each conv3x3-BN-LReLU (model.width w, default 32)",
    ),
    (
        ModelName::ConvLarge,
        "MetaSemi's ConvLarge: 3x128, pool, 3x256, pool, 512-256-128, dropout 0.5 after pools",
    ),
    (
        ModelName::Wrn28x2,
        "WideResNet-28-2 as in the MPL code (pre-activation, LReLU 0.1, BN momentum 0.001)",
    ),
    (
        ModelName::Wrn28x8,
        "WideResNet-28-8 as in the MPL code (pre-activation, LReLU 0.1, BN momentum 0.001)",
    ),
    (
        ModelName::Resnet18,
        "ResNet-18, CIFAR variant (3x3 stem, no max pool, BN momentum 0.1)",
    ),
];

/// The network's batch-norm momentum: `model.bn_momentum`, or when that is 0 the reference
/// code's for the network (0.001 for the WideResNets, 0.1 otherwise).
pub fn bn_momentum(config: &ModelConfig) -> f64 {
    if config.bn_momentum > 0.0 {
        config.bn_momentum
    } else if matches!(config.name, ModelName::Wrn28x2 | ModelName::Wrn28x8) {
        0.001
    } else {
        0.1
    }
}

/// Builds the network `config.name`, initialised from `rng`.
pub fn build(
    config: &ModelConfig,
    shape: &ModelShape,
    rng: &mut Rng,
    device: &Device,
) -> Result<Network> {
    let name = config.name;
    if name == ModelName::Mlp {
        let activation = match config.activation {
            ActivationName::Sigmoid => Activation::Sigmoid,
            ActivationName::Relu => Activation::Relu,
        };
        let init = match config.init {
            InitScheme::Uniform => Init::Uniform(config.init_range),
            InitScheme::Kaiming => Init::Kaiming,
        };
        return Ok(Network::Mlp(Mlp::new(
            shape.input_dim(),
            &config.hidden,
            shape.num_classes,
            activation,
            init,
            rng,
            device,
        )));
    }
    let &[c, h, w] = shape.sample.as_slice() else {
        bail!(
            "model '{name}' needs images ([channels, height, width]) but the data has examples of shape {:?}; use model.name = \"mlp\" for tables",
            shape.sample
        );
    };
    let m = bn_momentum(config);
    let body = match name {
        ModelName::Wrn28x2 => Body::Wrn(WideResNet::new(c, 28, 2, m, rng, device)),
        ModelName::Wrn28x8 => Body::Wrn(WideResNet::new(c, 28, 8, m, rng, device)),
        ModelName::Resnet18 => Body::ResNet(ResNet18::new(c, m, rng, device)),
        ModelName::ConvLarge => {
            if h < 20 || w < 20 {
                bail!("conv-large needs images of at least 20x20 pixels, got {h}x{w}");
            }
            Body::Plain(PlainCnn::new(c, CONV_LARGE, m, rng, device))
        }
        ModelName::Mlp | ModelName::CnnSmall => Body::Plain(PlainCnn::new(
            c,
            &small_cnn_layers(config.width.max(1)),
            m,
            rng,
            device,
        )),
    };
    let features = body.out_channels();
    let head = if matches!(body, Body::Wrn(_)) {
        layers::xavier_linear(features, shape.num_classes, rng, device)
    } else {
        layers::default_linear(features, shape.num_classes, rng, device)
    };
    Ok(Network::Image(ImageClassifier {
        body,
        dropout: DropoutConfig::new(config.dropout).init(),
        head,
        input: [c, h, w],
    }))
}

/// Number of trainable scalars: parameters that require gradients, which they do only on an
/// autodiff device (batch-norm running statistics never count).
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
    use crate::params::export_tensors;
    use burn::tensor::{Distribution, TensorData};

    fn named(name: &str) -> ModelConfig {
        ModelConfig {
            name: name.into(),
            ..Default::default()
        }
    }

    fn image_net(name: &str, chw: [usize; 3], classes: usize) -> (Network, Device) {
        let device = Device::flex().autodiff();
        let shape = ModelShape::image(chw, classes);
        let net = build(&named(name), &shape, &mut Rng::new(1), &device).unwrap();
        (net, device)
    }

    #[test]
    fn mlp_shapes_and_parameter_count() {
        let device = Device::flex().autodiff();
        let config = ModelConfig {
            hidden: vec![8, 8],
            ..Default::default()
        };
        let shape = ModelShape::flat(2, 2);
        let net = build(&config, &shape, &mut Rng::new(1), &device).unwrap();
        // 2*8+8 + 8*8+8 + 8*2+2
        assert_eq!(trainable_params(&net), 24 + 72 + 18);
        let out = net.forward(Tensor::zeros([5, 2], &device));
        assert_eq!(out.dims(), [5, 2]);
        // An unknown network is refused when the configuration is read.
        let e = "vgg".parse::<ModelName>().unwrap_err();
        assert!(
            e.contains("model.name") && e.contains("mlp, cnn-small"),
            "{e}"
        );
        let e = build(&named("wrn-28-2"), &shape, &mut Rng::new(1), &device).unwrap_err();
        assert!(e.to_string().contains("needs images"), "{e}");
    }

    #[test]
    fn parameter_counts_match_the_reference_implementations() {
        // wrn-28-2: the MPL PyTorch code's count; wrn-28-8 and resnet-18 (CIFAR): the counts
        // of the common PyTorch definitions; conv-large: 3,121,802 from its layer list
        // (convolutions without bias, batch-norm scale and shift, a 128 -> 10 classifier).
        for (name, expected) in [
            ("wrn-28-2", 1_467_610),
            ("wrn-28-8", 23_354_842),
            ("resnet-18", 11_173_962),
            ("conv-large", 3_121_802),
            ("cnn-small", 141_034),
        ] {
            let (net, _) = image_net(name, [3, 32, 32], 10);
            assert_eq!(trainable_params(&net), expected, "{name}");
        }
    }

    #[test]
    fn every_image_model_gives_logits_and_gradients_for_each_parameter() {
        for (name, chw) in [
            ("cnn-small", [1, 28, 28]),
            ("conv-large", [3, 32, 32]),
            ("wrn-28-2", [3, 32, 32]),
            ("resnet-18", [3, 32, 32]),
        ] {
            let (net, device) = image_net(name, chw, 7);
            let dim: usize = chw.iter().product();
            let x: Tensor<2> = Tensor::random([2, dim], Distribution::Normal(0.0, 1.0), &device);
            let logits = net.forward(x.clone());
            assert_eq!(logits.dims(), [2, 7], "{name}");
            assert_eq!(net.features(x).dims()[0], 2, "{name}");
            let grads = logits.sum().backward();
            struct Check<'a>(&'a burn::tensor::Gradients, usize, usize);
            impl ModuleVisitor for Check<'_> {
                fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
                    if p.is_require_grad() {
                        self.1 += 1;
                        if p.val().grad(self.0).is_some() {
                            self.2 += 1;
                        }
                    }
                }
            }
            let mut check = Check(&grads, 0, 0);
            net.visit(&mut check);
            assert!(check.1 > 0);
            assert_eq!(check.1, check.2, "{name}: parameters without a gradient");
        }
    }

    #[test]
    fn running_statistics_are_exported_current_and_not_shared_by_isolated_copies() {
        let (net, device) = image_net("cnn-small", [1, 8, 8], 3);
        let mean_of = |n: &Network| {
            let t = export_tensors(n);
            let key = t
                .keys()
                .find(|k| k.ends_with("running_mean"))
                .expect("running statistics are exported")
                .clone();
            t[&key].values.clone()
        };
        assert!(mean_of(&net).iter().all(|&v| v == 0.0));
        let x = Tensor::<2>::from_data(TensorData::new(vec![3.0f32; 2 * 64], [2, 64]), &device);

        let copy = net.isolated_copy();
        let _ = copy.forward(x.clone());
        assert!(
            mean_of(&net).iter().all(|&v| v == 0.0),
            "the copy moved the original"
        );
        assert!(mean_of(&copy).iter().any(|&v| v != 0.0));

        // A single training forward is visible at once (no pending update left behind).
        let _ = net.forward(x);
        assert!(mean_of(&net).iter().any(|&v| v != 0.0));
    }

    /// Asserts that `a` and `b` give the same values and the same gradient with respect to `x`.
    fn assert_same_function(
        x: Tensor<4>,
        a: impl Fn(Tensor<4>) -> Tensor<4>,
        b: impl Fn(Tensor<4>) -> Tensor<4>,
    ) {
        let x = x.require_grad();
        let w = Tensor::random(x.dims(), Distribution::Normal(0.0, 1.0), &x.device());
        let tol = burn::tensor::Tolerance::rel_abs(1e-4, 1e-4);
        let (ya, yb) = (a(x.clone()), b(x.clone()));
        ya.clone()
            .into_data()
            .assert_approx_eq::<f32>(&yb.clone().into_data(), tol);
        let ga = x.grad(&(ya * w.clone()).sum().backward()).unwrap();
        let gb = x.grad(&(yb * w).sum().backward()).unwrap();
        ga.into_data().assert_approx_eq::<f32>(&gb.into_data(), tol);
    }

    #[test]
    fn leaky_relu_matches_burns_values_and_gradient() {
        let device = Device::flex().autodiff();
        let x = Tensor::random([2, 3, 4, 4], Distribution::Normal(0.0, 1.0), &device);
        assert_same_function(x, layers::leaky, |x| {
            burn::tensor::activation::leaky_relu(x, 0.1)
        });
    }

    #[test]
    fn batch_norm_matches_burns_in_training_and_validation() {
        use burn::nn::BatchNormConfig;
        let device = Device::flex().autodiff();
        let x: Tensor<4> = Tensor::random([4, 3, 5, 5], Distribution::Normal(2.0, 3.0), &device);
        let ours = layers::batch_norm(3, 0.1, &device);
        let burns = BatchNormConfig::new(3).with_momentum(0.1).init(&device);
        assert_same_function(x.clone(), |x| ours.forward(x), |x| burns.forward(x));
        let stat =
            |net: &dyn Fn() -> std::collections::BTreeMap<String, crate::params::HostTensor>,
             suffix: &str| {
                let t = net();
                t.into_iter()
                    .find(|(k, _)| k.ends_with(suffix))
                    .expect("running statistics are exported")
                    .1
                    .values
            };
        let ours_stats = || export_tensors(&ours);
        let burns_stats = || export_tensors(&burns);
        // Running mean: 0.9 * 0 + 0.1 * batch mean, for both.
        let m = stat(&ours_stats, "running_mean");
        for (a, b) in m.iter().zip(stat(&burns_stats, "running_mean")) {
            assert!((a - b).abs() < 1e-4 && a.abs() > 0.05, "{a} vs {b}");
        }
        // Validation uses the running statistics (PyTorch keeps the unbiased variance).
        let var = stat(&ours_stats, "running_var");
        let v = ours.valid().forward(x.clone().inner());
        let x0 = x.inner().into_data().try_to_vec::<f32>().unwrap();
        let v0 = v.into_data().try_to_vec::<f32>().unwrap();
        let expected = (x0[0] - m[0]) / (var[0] + 1e-5).sqrt();
        assert!((v0[0] - expected).abs() < 1e-4, "{} vs {expected}", v0[0]);
    }
}
