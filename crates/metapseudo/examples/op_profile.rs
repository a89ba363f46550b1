//! Times the operations of a WRN-28-2 training step one by one on flex, at the shape of the
//! first stage (batch 64, 32 channels, 32x32): Burn's convolution, leaky ReLU and batch norm
//! against the ones in `metapseudo::models`. Where a step's time goes.
//!
//! Then the convolution kernels alone, at the three stages' shapes of a WRN-28-2 step at batch
//! 64: the padded-layout products (`kernels::conv::kernels`, packing included) and the direct
//! AVX-512 kernels (`kernels::conv::direct`), forward, input gradient and weight gradient.
//! `bench/torch_conv.py` times PyTorch's at the same shapes. Last, the two stride-2 3x3
//! convolutions, forward and backward: Burn's against the stride phases (`kernels::conv::strided`).
//!
//! cargo run --release --example op_profile

use burn::nn::BatchNormConfig;
use burn::tensor::activation::{leaky_relu, relu};
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Distribution, Tensor};
use metapseudo::kernels::conv;
use metapseudo::kernels::conv::{channels_last, direct, kernels};
use metapseudo::models::layers;
use std::time::Instant;

/// Prints the mean milliseconds of `f` over `reps` calls after one untimed call.
fn time(name: &str, reps: usize, mut f: impl FnMut() -> f32) {
    f();
    let t = Instant::now();
    let mut s = 0.0;
    for _ in 0..reps {
        s += f();
    }
    let ms = t.elapsed().as_secs_f64() * 1e3 / reps as f64;
    println!("{name:<44} {ms:8.2} ms  ({s:.1})");
}

/// Times `f` forward and backward on `x0`: the loss is `sum(f(x) * r)`, so the incoming gradient
/// is an ordinary dense tensor (a plain `sum()` would hand back a broadcast view).
fn forward_backward(name: &str, x0: &Tensor<4>, r: &Tensor<4>, f: impl Fn(Tensor<4>) -> Tensor<4>) {
    time(name, 10, || {
        let x = x0.clone().require_grad();
        let g = f(x.clone()).mul(r.clone()).sum().backward();
        x.grad(&g).unwrap().sum().into_scalar()
    });
}

/// A tensor of normal values with standard deviation `std` on flex with autodiff.
fn normal(shape: [usize; 4], std: f64) -> Tensor<4> {
    let device = Device::flex().autodiff();
    Tensor::<4>::random(shape, Distribution::Normal(0.0, std), &device)
}

fn main() {
    let device = Device::flex().autodiff();
    let (x0, r, w0) = (
        normal([64, 32, 32, 32], 1.0),
        normal([64, 32, 32, 32], 1.0),
        normal([32, 32, 3, 3], 0.1),
    );
    let opts = || ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
    forward_backward("weighted sum only (the baseline)", &x0, &r, |x| x);

    let (xp, wp) = (x0.clone().inner(), w0.clone().inner());
    time("conv3x3 forward (no autodiff)", 5, || {
        conv2d(xp.clone(), wp.clone(), None, opts())
            .sum()
            .into_scalar()
    });
    time("conv3x3 forward+backward (x and w gradients)", 5, || {
        let x = x0.clone().require_grad();
        let w = w0.clone().require_grad();
        let g = conv2d(x.clone(), w.clone(), None, opts())
            .mul(r.clone())
            .sum()
            .backward();
        x.grad(&g).unwrap().sum().into_scalar::<f32>()
            + w.grad(&g).unwrap().sum().into_scalar::<f32>()
    });

    time("metapseudo conv3x3 forward (no autodiff)", 5, || {
        conv::conv2d(xp.clone(), wp.clone(), 1, 1)
            .sum()
            .into_scalar()
    });
    time("metapseudo conv3x3 forward+backward", 5, || {
        let x = x0.clone().require_grad();
        let w = w0.clone().require_grad();
        let g = conv::conv2d(x.clone(), w.clone(), 1, 1)
            .mul(r.clone())
            .sum()
            .backward();
        x.grad(&g).unwrap().sum().into_scalar::<f32>()
            + w.grad(&g).unwrap().sum().into_scalar::<f32>()
    });

    forward_backward("relu forward+backward", &x0, &r, relu);
    forward_backward("burn leaky_relu forward+backward", &x0, &r, |x| {
        leaky_relu(x, 0.1)
    });
    forward_backward("metapseudo leaky forward+backward", &x0, &r, layers::leaky);

    let burns = BatchNormConfig::new(32).init(&device);
    forward_backward("burn BatchNorm forward+backward", &x0, &r, |x| {
        burns.forward(x)
    });
    let ours = layers::batch_norm(32, 0.1, &device);
    forward_backward("metapseudo BatchNorm forward+backward", &x0, &r, |x| {
        ours.forward(x)
    });
    forward_backward("metapseudo BatchNorm + leaky (fused)", &x0, &r, |x| {
        ours.forward_then(x, layers::Act::Leaky)
    });

    kernel_shapes();
    strided_shapes();
}

/// The stride-2 3x3 convolutions of a WRN-28-2 step at batch 64 (the first of stages 2 and 3),
/// forward and both gradients: Burn's against this module's stride phases.
fn strided_shapes() {
    for (cin, size) in [(32, 32), (64, 16)] {
        let x0 = normal([64, cin, size, size], 1.0);
        let w0 = normal([2 * cin, cin, 3, 3], 0.1);
        let r = normal([64, 2 * cin, size / 2, size / 2], 1.0);
        let run = |own: bool| {
            let x = x0.clone().require_grad();
            let w = w0.clone().require_grad();
            let y = if own {
                conv::conv2d(x.clone(), w.clone(), 2, 1)
            } else {
                conv2d(
                    x.clone(),
                    w.clone(),
                    None,
                    ConvOptions::new([2, 2], [1, 1], [1, 1], 1),
                )
            };
            let g = y.mul(r.clone()).sum().backward();
            x.grad(&g).unwrap().sum().into_scalar::<f32>()
                + w.grad(&g).unwrap().sum().into_scalar::<f32>()
        };
        let name = |who: &str| format!("stride-2 3x3 {cin}->{} {size}x{size}, {who}", 2 * cin);
        time(&name("burn fwd+bwd"), 8, || run(false));
        time(&name("phases fwd+bwd"), 8, || run(true));
    }
}

/// The convolution kernels alone at each stage's shape, milliseconds per call.
fn kernel_shapes() {
    for (cin, size) in [(32, 32), (64, 16), (128, 8)] {
        let g = kernels::Geometry {
            batch: 64,
            cin,
            cout: cin,
            h: size,
            w: size,
            k: 3,
        };
        let mut rng = metapseudo_data::Rng::new(1);
        let mut values = |n: usize| (0..n).map(|_| rng.normal() as f32).collect::<Vec<_>>();
        let (x, w, r) = (
            values(64 * cin * size * size),
            values(cin * cin * 9),
            values(64 * cin * size * size),
        );
        let name = |what: &str| format!("{cin} channels {size}x{size}: {what}");
        let first = |v: Vec<f32>| v[0];
        time(&name("padded forward (with packing)"), 10, || {
            first(kernels::unpack(
                &kernels::forward(&kernels::pack(&x, &g, cin), &w, &g),
                &g,
                cin,
            ))
        });
        time(&name("padded input gradient"), 10, || {
            first(kernels::unpack(
                &kernels::input_grad(&kernels::pack(&r, &g, cin), &w, &g),
                &g,
                cin,
            ))
        });
        time(&name("padded weight gradient"), 10, || {
            first(kernels::weight_grad(
                &kernels::pack(&x, &g, cin),
                &kernels::pack(&r, &g, cin),
                &g,
            ))
        });
        if direct::available() {
            time(&name("direct forward"), 10, || {
                first(direct::forward(&x, &w, &g))
            });
            time(&name("direct input gradient"), 10, || {
                first(direct::input_grad(&r, &w, &g))
            });
            time(&name("direct weight gradient"), 10, || {
                first(direct::weight_grad(&x, &r, &g))
            });
            time(&name("channels-last weight gradient"), 10, || {
                first(channels_last::weight_grad(&x, &r, &g))
            });
            // The direct kernel again after it: on a noisy host, only alternated rounds compare.
            time(&name("direct weight gradient"), 10, || {
                first(direct::weight_grad(&x, &r, &g))
            });
        }
    }
}
