//! Times the operations of a WRN-28-2 training step one by one on flex (forward and backward),
//! at the shape of the first stage (batch 64, 32 channels, 32x32): where a step's time goes.
//!
//! cargo run --release --example op_profile

use burn::tensor::activation::{leaky_relu, relu};
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Distribution, Tensor};
use std::time::Instant;

fn time(name: &str, reps: usize, mut f: impl FnMut() -> f32) {
    f();
    let t = Instant::now();
    let mut s = 0.0;
    for _ in 0..reps {
        s += f();
    }
    let ms = t.elapsed().as_secs_f64() * 1e3 / reps as f64;
    println!("{name:<40} {ms:8.2} ms  ({s:.1})");
}

fn main() {
    let device = Device::flex().autodiff();
    let x0: Tensor<4> = Tensor::random([64, 32, 32, 32], Distribution::Normal(0.0, 1.0), &device);
    let w0: Tensor<4> = Tensor::random([32, 32, 3, 3], Distribution::Normal(0.0, 0.1), &device);
    let r: Tensor<4> = Tensor::random([64, 32, 32, 32], Distribution::Normal(0.0, 1.0), &device);
    time("weighted sum only", 10, || {
        let x = x0.clone().require_grad();
        let g = x.clone().mul(r.clone()).sum().backward();
        x.grad(&g).unwrap().sum().into_scalar()
    });
    let opts = || ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
    let plain = device.clone().inner();
    let xp = x0.clone().inner();
    let wp = w0.clone().inner();
    time("conv3x3 forward (no autodiff)", 5, || {
        conv2d(xp.clone(), wp.clone(), None, opts())
            .sum()
            .into_scalar()
    });
    time("conv3x3 forward+backward (x, w grads)", 5, || {
        let x = x0.clone().require_grad();
        let w = w0.clone().require_grad();
        let y = conv2d(x.clone(), w.clone(), None, opts());
        let g = y.mul(r.clone()).sum().backward();
        x.grad(&g).unwrap().sum().into_scalar::<f32>()
            + w.grad(&g).unwrap().sum().into_scalar::<f32>()
    });
    time("leaky_relu forward (no autodiff)", 10, || {
        leaky_relu(xp.clone(), 0.1).sum().into_scalar()
    });
    time("leaky_relu forward+backward", 10, || {
        let x = x0.clone().require_grad();
        let g = leaky_relu(x.clone(), 0.1).mul(r.clone()).sum().backward();
        x.grad(&g).unwrap().sum().into_scalar()
    });
    time("relu forward+backward", 10, || {
        let x = x0.clone().require_grad();
        let g = relu(x.clone()).mul(r.clone()).sum().backward();
        x.grad(&g).unwrap().sum().into_scalar()
    });
    time("relu*0.9+0.1x forward+backward", 10, || {
        let x = x0.clone().require_grad();
        let y = relu(x.clone()).mul_scalar(0.9) + x.clone().mul_scalar(0.1);
        let g = y.mul(r.clone()).sum().backward();
        x.grad(&g).unwrap().sum().into_scalar()
    });
    time("relu(x)*0.9 only", 10, || {
        let x = x0.clone().require_grad();
        let g = relu(x.clone())
            .mul_scalar(0.9)
            .mul(r.clone())
            .sum()
            .backward();
        x.grad(&g).unwrap().sum().into_scalar()
    });
    time("x*0.1 only", 10, || {
        let x = x0.clone().require_grad();
        let g = x.clone().mul_scalar(0.1).mul(r.clone()).sum().backward();
        x.grad(&g).unwrap().sum().into_scalar()
    });
    time("x + x", 10, || {
        let x = x0.clone().require_grad();
        let g = (x.clone() + x.clone()).mul(r.clone()).sum().backward();
        x.grad(&g).unwrap().sum().into_scalar()
    });
    time("relu(x) - relu(-x)*0.1", 10, || {
        let x = x0.clone().require_grad();
        let y = relu(x.clone()) - relu(x.clone().neg()).mul_scalar(0.1);
        let g = y.mul(r.clone()).sum().backward();
        x.grad(&g).unwrap().sum().into_scalar()
    });
    time("x * mask(x.detach() > 0 -> 1 | 0.1)", 10, || {
        let x = x0.clone().require_grad();
        let m = x
            .clone()
            .detach()
            .greater_elem(0.0)
            .float()
            .mul_scalar(0.9)
            .add_scalar(0.1);
        let y = x.clone() * m;
        let g = y.mul(r.clone()).sum().backward();
        x.grad(&g).unwrap().sum().into_scalar()
    });
    time("x * mask, mask from inner (no autodiff)", 10, || {
        let x = x0.clone().require_grad();
        let m = x
            .clone()
            .inner()
            .greater_elem(0.0)
            .float()
            .mul_scalar(0.9)
            .add_scalar(0.1);
        let y = x.clone() * Tensor::from_inner(m);
        let g = y.mul(r.clone()).sum().backward();
        x.grad(&g).unwrap().sum().into_scalar()
    });
    time("plain: greater_elem().float()", 10, || {
        xp.clone().greater_elem(0.0).float().sum().into_scalar()
    });
    time("plain: x * y", 10, || {
        (xp.clone() * xp.clone().mul_scalar(0.5))
            .sum()
            .into_scalar()
    });
    time("plain: mask_where", 10, || {
        let m = xp.clone().greater_elem(0.0);
        xp.clone()
            .mask_where(m, xp.clone().mul_scalar(0.1))
            .sum()
            .into_scalar()
    });
    time("max_pair(x, 0.1x)", 10, || {
        let x = x0.clone().require_grad();
        let y = x.clone().max_pair(x.clone().mul_scalar(0.1));
        let g = y.mul(r.clone()).sum().backward();
        x.grad(&g).unwrap().sum().into_scalar()
    });
    let gamma: Tensor<1> = Tensor::ones([32], &device);
    let beta: Tensor<1> = Tensor::zeros([32], &device);
    time("batch_norm_train forward+backward", 10, || {
        let x = x0.clone().require_grad();
        let (g1, b1) = (gamma.clone().require_grad(), beta.clone().require_grad());
        let out = burn::tensor::module::batch_norm_train(x.clone(), g1, b1, 1e-5);
        let g = out.output.mul(r.clone()).sum().backward();
        x.grad(&g).unwrap().sum().into_scalar()
    });
    time("composite batch norm forward+backward", 10, || {
        let x = x0.clone().require_grad();
        let (g1, b1) = (gamma.clone().require_grad(), beta.clone().require_grad());
        let mean = x.clone().mean_dim(0).mean_dim(2).mean_dim(3);
        let xc = x.clone() - mean;
        let var = xc.clone().square().mean_dim(0).mean_dim(2).mean_dim(3);
        let y = xc * (var.add_scalar(1e-5)).sqrt().recip();
        let y = y * g1.reshape([1, 32, 1, 1]) + b1.reshape([1, 32, 1, 1]);
        let g = y.mul(r.clone()).sum().backward();
        x.grad(&g).unwrap().sum().into_scalar()
    });
    time("moments batch norm (E[x^2]-E[x]^2, [B,C,HW])", 10, || {
        let x = x0.clone().require_grad();
        let (g1, b1) = (gamma.clone().require_grad(), beta.clone().require_grad());
        let x3 = x.clone().reshape([64, 32, 1024]);
        let n = (64 * 1024) as f64;
        let mean = x3.clone().sum_dim(2).sum_dim(0).div_scalar(n);
        let sq = x3.clone().square().sum_dim(2).sum_dim(0).div_scalar(n);
        let var = sq - mean.clone().square();
        let scale = g1.reshape([1, 32, 1]) * var.add_scalar(1e-5).sqrt().recip();
        let shift = b1.reshape([1, 32, 1]) - mean * scale.clone();
        let y = (x3 * scale + shift).reshape([64, 32, 32, 32]);
        let g = y.mul(r.clone()).sum().backward();
        x.grad(&g).unwrap().sum().into_scalar()
    });
    time("add forward (no autodiff)", 10, || {
        (xp.clone() + xp.clone()).sum().into_scalar()
    });
    time("sum only (no autodiff)", 10, || {
        xp.clone().sum().into_scalar()
    });
    let _ = plain;
}
