//! Plain stacks of `conv-bn-lrelu` layers with max pooling: MetaSemi's ConvLarge and a small
//! CNN for CPU runs on 28x28 and 32x32 images.

use super::layers::{Act, BatchNorm, Conv, batch_norm, max_pool_2x2};
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig};
use burn::tensor::{Device, Tensor};
use metapseudo_data::Rng;

/// One layer of a plain stack.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Layer {
    /// `k x k` convolution to this many channels (zero padding `pad`), batch norm, leaky ReLU.
    Conv {
        /// Output channels.
        out: usize,
        /// Kernel size.
        k: usize,
        /// Zero padding.
        pad: usize,
    },
    /// 2x2 max pooling, stride 2.
    Pool,
    /// Dropout with this probability (training only).
    Dropout(f64),
}

const fn conv3(out: usize) -> Layer {
    Layer::Conv { out, k: 3, pad: 1 }
}

/// MetaSemi's (and Mean Teacher's) ConvLarge: 3x128, pool, dropout 0.5, 3x256, pool, dropout
/// 0.5, 512 (3x3 valid), 256 (1x1), 128 (1x1).
pub const CONV_LARGE: &[Layer] = &[
    conv3(128),
    conv3(128),
    conv3(128),
    Layer::Pool,
    Layer::Dropout(0.5),
    conv3(256),
    conv3(256),
    conv3(256),
    Layer::Pool,
    Layer::Dropout(0.5),
    Layer::Conv {
        out: 512,
        k: 3,
        pad: 0,
    },
    Layer::Conv {
        out: 256,
        k: 1,
        pad: 0,
    },
    Layer::Conv {
        out: 128,
        k: 1,
        pad: 0,
    },
];

/// The small CNN's layers for base width `w`: 2 x w, pool, 2 x 2w, pool, 4w.
pub fn small_cnn_layers(w: usize) -> Vec<Layer> {
    vec![
        conv3(w),
        conv3(w),
        Layer::Pool,
        conv3(2 * w),
        conv3(2 * w),
        Layer::Pool,
        conv3(4 * w),
    ]
}

/// A convolution followed by its batch norm.
#[derive(Module, Debug)]
pub struct ConvBn {
    conv: Conv,
    bn: BatchNorm,
}

/// A plain convolutional body; output `[B, last width, H', W']`, activated.
#[derive(Module, Debug)]
pub struct PlainCnn {
    convs: Vec<ConvBn>,
    dropouts: Vec<Dropout>,
    /// The layer sequence: convolutions and dropouts are taken from the lists above in order.
    #[module(skip)]
    plan: Vec<Layer>,
}

impl PlainCnn {
    /// The stack `layers` over `in_channels` input planes.
    pub fn new(
        in_channels: usize,
        layers: &[Layer],
        bn_momentum: f64,
        rng: &mut Rng,
        device: &Device,
    ) -> Self {
        let mut c = in_channels;
        let (mut convs, mut dropouts) = (Vec::new(), Vec::new());
        for l in layers {
            match *l {
                Layer::Conv { out, k, pad } => {
                    convs.push(ConvBn {
                        conv: Conv::new([c, out], k, 1, pad, rng, device),
                        bn: batch_norm(out, bn_momentum, device),
                    });
                    c = out;
                }
                Layer::Pool => {}
                Layer::Dropout(p) => dropouts.push(DropoutConfig::new(p).init()),
            }
        }
        Self {
            convs,
            dropouts,
            plan: layers.to_vec(),
        }
    }

    /// Width of the final feature map.
    pub fn out_channels(&self) -> usize {
        let last = self.convs.last().expect("a plain CNN has a convolution");
        last.bn.gamma.shape().dims::<1>()[0]
    }

    /// `[B, C, H, W] -> [B, out, H', W']`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let (mut convs, mut dropouts) = (self.convs.iter(), self.dropouts.iter());
        self.plan.iter().fold(x, |h, l| match l {
            Layer::Conv { .. } => {
                let cb = convs.next().expect("one convolution per conv layer");
                cb.bn.forward_then(cb.conv.forward(h), Act::Leaky)
            }
            Layer::Pool => max_pool_2x2(h),
            Layer::Dropout(_) => dropouts.next().expect("one dropout per layer").forward(h),
        })
    }
}
