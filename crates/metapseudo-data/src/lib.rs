//! Data for metapseudo: data sets, labeled/unlabeled splits, augmentation and batch streams.
//!
//! This crate has no deep-learning types, so it compiles and tests in seconds.
#![warn(missing_docs)]

pub mod augment;
pub mod autoaugment;
pub mod cifar;
pub mod colorops;
pub mod csv;
pub mod dataset;
pub mod digits;
pub mod error;
pub mod folder;
pub mod idx;
pub mod image;
pub mod imageops;
pub mod mixup;
pub mod moons;
pub mod mutate;
pub mod normalize;
pub mod pipeline;
pub mod policy;
pub mod randaugment;
pub mod rng;
pub mod sampler;
pub mod spec;
pub mod split;
pub mod svhn;

pub use dataset::{Dataset, Examples, Samples};
pub use error::{DataError, Result};
pub use rng::Rng;
pub use spec::{DataSpec, LoadOptions};
