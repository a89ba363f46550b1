//! The batch stream a configuration asks for: views by data kind, batch sizes, workers.

use crate::config::Padding as PaddingName;
use crate::config::{AugmentConfig, Config};
use crate::run::RunData;
use anyhow::Result;
use metapseudo_data::Examples;
use metapseudo_data::imageops::Padding;
use metapseudo_data::pipeline::{BatchStream, StreamOptions, ViewMaker, Views};
use metapseudo_data::policy::PolicyName;
use metapseudo_data::policy::{ImagePolicy, PolicySettings};
use metapseudo_data::randaugment::OpSet;
use std::sync::Arc;

/// The shared settings of the image policies.
pub fn policy_settings(a: &AugmentConfig) -> Result<PolicySettings> {
    Ok(PolicySettings {
        flip: a.flip,
        pad_fraction: a.pad_fraction as f32,
        padding: match a.padding {
            PaddingName::Constant => Padding::Constant(a.fill),
            PaddingName::Reflect => Padding::Reflect,
        },
        randaugment_n: a.randaugment_n,
        randaugment_m: a.randaugment_m as f32,
        randaugment_ops: OpSet::from_names(&a.randaugment_ops)
            .map_err(|e| anyhow::anyhow!("augment.randaugment_ops: {e}"))?,
        cutout_fraction: a.cutout_fraction as f32,
        fill: a.fill,
    })
}

/// The image policy named `name` with the config's settings.
pub fn image_policy(name: PolicyName, a: &AugmentConfig) -> Result<ImagePolicy> {
    Ok(ImagePolicy::new(name, policy_settings(a)?))
}

/// The views of each role for `examples`: policies for images, noise for rows.
pub fn views(examples: &Examples, a: &AugmentConfig) -> Result<Views> {
    Ok(match examples {
        Examples::Images(_) => Views::Images {
            labeled: image_policy(a.labeled_policy, a)?,
            weak: image_policy(a.weak_policy, a)?,
            strong: image_policy(a.strong_policy, a)?,
        },
        Examples::Table(_) => Views::Noise {
            weak: a.weak,
            strong: a.strong,
        },
    })
}

/// The training batches of a run.
pub fn batch_stream(config: &Config, data: &RunData) -> Result<BatchStream> {
    let maker = ViewMaker {
        examples: Arc::clone(&data.dataset.train),
        normalizer: data.normalizer.clone(),
        views: views(&data.dataset.train, &config.augment)?,
    };
    let batch = config.train.batch_size;
    let mu = if crate::methods::needs(config).unlabeled {
        config.train.mu
    } else {
        0
    };
    Ok(BatchStream::new(
        maker,
        data.split.labeled_indices.clone(),
        data.unlabeled.clone(),
        StreamOptions {
            labeled_batch: batch,
            unlabeled_batch: batch * mu,
            workers: config.data.workers,
            prefetch: config.data.prefetch,
            mixup_alpha: config.augment.mixup_alpha,
        },
        config.seed,
    ))
}
