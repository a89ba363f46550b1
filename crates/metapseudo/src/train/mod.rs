//! The training loop: batches, the method's step, EMA, logging, progress, validation,
//! checkpoints and resume, written once for every method. It writes the run folder's records
//! (`crate::run`) and never calls the report or prediction code.

pub mod batches;
pub mod bench_step;
pub mod ema;
pub mod finetune;
pub mod interrupt;
pub mod progress;
pub mod teacher_logits;
pub mod trainer;
