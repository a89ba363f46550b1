//! The training loop and what it shares across methods: context, EMA, logging, checkpoints.

pub mod batches;
pub mod bench_step;
pub mod ema;
pub mod finetune;
pub mod metrics;
pub mod progress;
pub mod run;
pub mod teacher_logits;
pub mod trainer;

pub use crate::methods::{Learner, Stepper, TensorBatch, TrainContext};
