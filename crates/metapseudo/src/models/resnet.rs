//! ResNet-18 for 32x32 images (the common CIFAR variant: a 3x3 stem without max pooling, four
//! stages of two basic blocks, widths 64-512), as used by MetaSemi's ImageNet/CIFAR runs.

use super::layers::{Act, BatchNorm, Conv, batch_norm};
use burn::module::Module;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use metapseudo_data::Rng;

/// A projection shortcut: strided 1x1 convolution and batch norm.
#[derive(Module, Debug)]
struct Projection {
    conv: Conv,
    bn: BatchNorm,
}

/// `conv3x3-bn-relu-conv3x3-bn` plus the shortcut, then ReLU.
#[derive(Module, Debug)]
pub struct BasicBlock {
    conv1: Conv,
    bn1: BatchNorm,
    conv2: Conv,
    bn2: BatchNorm,
    shortcut: Option<Projection>,
}

impl BasicBlock {
    fn new(channels: [usize; 2], stride: usize, m: f64, rng: &mut Rng, device: &Device) -> Self {
        let [cin, cout] = channels;
        let shortcut = (cin != cout || stride != 1).then(|| Projection {
            conv: Conv::new([cin, cout], 1, stride, 0, rng, device),
            bn: batch_norm(cout, m, device),
        });
        Self {
            conv1: Conv::new([cin, cout], 3, stride, 1, rng, device),
            bn1: batch_norm(cout, m, device),
            conv2: Conv::new([cout, cout], 3, 1, 1, rng, device),
            bn2: batch_norm(cout, m, device),
            shortcut,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let out = self
            .bn1
            .forward_then(self.conv1.forward(x.clone()), Act::Relu);
        let out = self.bn2.forward(self.conv2.forward(out));
        let residual = match &self.shortcut {
            Some(p) => p.bn.forward(p.conv.forward(x)),
            None => x,
        };
        relu(out + residual)
    }
}

/// The convolutional body of ResNet-18; output `[B, 512, H/8, W/8]`.
#[derive(Module, Debug)]
pub struct ResNet18 {
    stem: Conv,
    bn: BatchNorm,
    blocks: Vec<BasicBlock>,
}

impl ResNet18 {
    /// ResNet-18 over `in_channels` input planes.
    pub fn new(in_channels: usize, bn_momentum: f64, rng: &mut Rng, device: &Device) -> Self {
        let widths = [64, 128, 256, 512];
        let stem = Conv::new([in_channels, 64], 3, 1, 1, rng, device);
        let mut blocks = Vec::with_capacity(8);
        let mut cin = 64;
        for (stage, &w) in widths.iter().enumerate() {
            for i in 0..2 {
                let stride = if i == 0 && stage > 0 { 2 } else { 1 };
                blocks.push(BasicBlock::new([cin, w], stride, bn_momentum, rng, device));
                cin = w;
            }
        }
        Self {
            stem,
            bn: batch_norm(64, bn_momentum, device),
            blocks,
        }
    }

    /// Width of the final feature map.
    pub fn out_channels(&self) -> usize {
        512
    }

    /// `[B, C, H, W] -> [B, 512, H/8, W/8]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.bn.forward_then(self.stem.forward(x), Act::Relu);
        self.blocks.iter().fold(x, |h, b| b.forward(h))
    }
}
