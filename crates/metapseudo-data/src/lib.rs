//! Data for metapseudo: data sets, labeled/unlabeled splits, augmentation and batch streams.
//!
//! This crate has no deep-learning types, so it compiles and tests in seconds.
#![warn(missing_docs)]

pub mod augment;
pub mod cifar;
pub mod csv;
pub mod dataset;
pub mod digits;
pub mod error;
pub mod idx;
pub mod image;
pub mod imageops;
pub mod moons;
pub mod normalize;
pub mod pipeline;
pub mod rng;
pub mod sampler;
pub mod split;

pub use dataset::{Dataset, Samples};
pub use error::{DataError, Result};
pub use rng::Rng;
