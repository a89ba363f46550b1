//! `metapseudo bench augment`: unlabeled (weak, strong) pairs per second through the full batch
//! pipeline (augment both views from the decoded images, normalise, batch) on worker threads.

use crate::config::AugmentConfig;
use crate::train::batches::image_policy;
use anyhow::{Result, bail};
use metapseudo_data::Dataset;
use metapseudo_data::normalize::Normalizer;
use metapseudo_data::pipeline::{BatchStream, StreamOptions, ViewMaker, Views};
use metapseudo_data::policy::PolicyName;
use std::sync::Arc;
use std::time::Instant;

/// The measurement's settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AugmentBench {
    /// Pairs per batch.
    pub batch: usize,
    /// Worker threads.
    pub workers: usize,
    /// Batches taken before timing starts.
    pub warmup_batches: usize,
    /// Minimum seconds of timing.
    pub seconds: f64,
}

/// The result.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AugmentThroughput {
    /// Pairs per second.
    pub pairs_per_s: f64,
    /// Batches timed.
    pub batches: usize,
    /// Seconds timed.
    pub seconds: f64,
}

/// Streams unlabeled pairs of `ds`'s training images, weak view `weak_policy` and strong
/// view `strong_policy` (with `augment`'s settings), and times them.
pub fn bench_augment(
    ds: &Dataset,
    augment: &AugmentConfig,
    strong_policy: PolicyName,
    opts: AugmentBench,
) -> Result<AugmentThroughput> {
    if ds.train.images().is_none() {
        bail!("bench augment needs image data; '{}' is tabular", ds.name);
    }
    let maker = ViewMaker {
        examples: Arc::clone(&ds.train),
        normalizer: Normalizer::fit(&ds.train),
        views: Views::Images {
            labeled: image_policy(PolicyName::None, augment)?,
            weak: image_policy(augment.weak_policy, augment)?,
            strong: image_policy(strong_policy, augment)?,
        },
    };
    let mut stream = BatchStream::new(
        maker,
        vec![0],
        (0..ds.train.len()).collect(),
        StreamOptions {
            labeled_batch: 0,
            unlabeled_batch: opts.batch,
            workers: opts.workers,
            prefetch: 2 * opts.workers.max(1),
            mixup_alpha: 0.0,
        },
        0,
    );
    for _ in 0..opts.warmup_batches {
        stream.next_batch();
    }
    let start = Instant::now();
    let mut batches = 0;
    let mut checksum = 0.0f32;
    while batches < 2 || start.elapsed().as_secs_f64() < opts.seconds {
        let b = stream.next_batch();
        checksum += b.unlabeled_strong[0] + b.unlabeled_weak[0];
        batches += 1;
    }
    let seconds = start.elapsed().as_secs_f64();
    std::hint::black_box(checksum);
    Ok(AugmentThroughput {
        pairs_per_s: (batches * opts.batch) as f64 / seconds,
        batches,
        seconds,
    })
}
