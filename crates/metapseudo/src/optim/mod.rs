//! Optimisation: SGD with momentum, learning-rate schedules and gradient clipping.

pub mod schedule;
pub mod sgd;

pub use schedule::Schedule;
pub use sgd::Sgd;
