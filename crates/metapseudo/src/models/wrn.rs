//! WideResNet-28-k for 32x32 images, as in the MPL code: pre-activation basic blocks, leaky
//! ReLU 0.1, batch-norm momentum 0.001 (PyTorch convention), He-normal convolutions.

use super::layers::{Act, BatchNorm, Conv, batch_norm};
use burn::module::Module;
use burn::tensor::{Device, Tensor};
use metapseudo_data::Rng;

/// One pre-activation block: `bn-lrelu-conv3x3(stride)-bn-lrelu-conv3x3` plus the shortcut
/// (identity, or a strided 1x1 convolution when the width or size changes).
#[derive(Module, Debug)]
pub struct WrnBlock {
    bn1: BatchNorm,
    conv1: Conv,
    bn2: BatchNorm,
    conv2: Conv,
    shortcut: Option<Conv>,
    /// The shortcut takes the activated input (first block of the network) instead of the raw
    /// input.
    #[module(skip)]
    activate_before_residual: bool,
}

impl WrnBlock {
    fn new(
        channels: [usize; 2],
        stride: usize,
        activate_before_residual: bool,
        bn_momentum: f64,
        rng: &mut Rng,
        device: &Device,
    ) -> Self {
        let [cin, cout] = channels;
        let shortcut =
            (cin != cout || stride != 1).then(|| Conv::new([cin, cout], 1, stride, 0, rng, device));
        Self {
            bn1: batch_norm(cin, bn_momentum, device),
            conv1: Conv::new([cin, cout], 3, stride, 1, rng, device),
            bn2: batch_norm(cout, bn_momentum, device),
            conv2: Conv::new([cout, cout], 3, 1, 1, rng, device),
            shortcut,
            activate_before_residual,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let activated = self.bn1.forward_then(x.clone(), Act::Leaky);
        let residual = if self.activate_before_residual {
            activated.clone()
        } else {
            x
        };
        let out = self.conv1.forward(activated);
        let out = self.conv2.forward(self.bn2.forward_then(out, Act::Leaky));
        let residual = match &self.shortcut {
            Some(conv) => conv.forward(residual),
            None => residual,
        };
        residual + out
    }
}

/// The convolutional body of WRN-`depth`-`widen`; its output is the final activated feature
/// map `[B, 64 widen, H/4, W/4]`.
#[derive(Module, Debug)]
pub struct WideResNet {
    stem: Conv,
    blocks: Vec<WrnBlock>,
    bn: BatchNorm,
}

impl WideResNet {
    /// WRN-`depth`-`widen` over `in_channels` input planes (`depth = 6 n + 4`).
    pub fn new(
        in_channels: usize,
        depth: usize,
        widen: usize,
        bn_momentum: f64,
        rng: &mut Rng,
        device: &Device,
    ) -> Self {
        assert!(
            depth >= 10 && (depth - 4).is_multiple_of(6),
            "WRN depth must be 6n+4"
        );
        let n = (depth - 4) / 6;
        let widths = [16, 16 * widen, 32 * widen, 64 * widen];
        let stem = Conv::new([in_channels, widths[0]], 3, 1, 1, rng, device);
        let mut blocks = Vec::with_capacity(3 * n);
        for stage in 0..3 {
            for i in 0..n {
                let cin = if i == 0 {
                    widths[stage]
                } else {
                    widths[stage + 1]
                };
                let stride = if i == 0 && stage > 0 { 2 } else { 1 };
                let before = i == 0 && stage == 0;
                blocks.push(WrnBlock::new(
                    [cin, widths[stage + 1]],
                    stride,
                    before,
                    bn_momentum,
                    rng,
                    device,
                ));
            }
        }
        Self {
            stem,
            blocks,
            bn: batch_norm(widths[3], bn_momentum, device),
        }
    }

    /// Width of the final feature map.
    pub fn out_channels(&self) -> usize {
        self.bn.gamma.shape().dims::<1>()[0]
    }

    /// `[B, C, H, W] -> [B, 64 widen, H/4, W/4]`, activated.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self
            .blocks
            .iter()
            .fold(self.stem.forward(x), |h, block| block.forward(h));
        self.bn.forward_then(x, Act::Leaky)
    }
}
