//! Looking at data without training: counts and statistics, augmentation previews, and the
//! throughput of the batch pipeline.

pub mod bench;
pub mod inspect;
pub mod preview;
