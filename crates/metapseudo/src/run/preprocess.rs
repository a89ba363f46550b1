//! `preprocess.json`: how raw inputs become network inputs, saved in every run folder and
//! inside every export.

use super::{RunData, RunDir};
use crate::config::Config;
use crate::io::write_atomic;
use anyhow::{Context, Result};
use metapseudo_data::normalize::Normalizer;
use serde::{Deserialize, Serialize};

/// How raw inputs become network inputs, saved as `preprocess.json` in every run folder and
/// inside every export.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Preprocess {
    /// One example's shape: `[features]` for tables, `[channels, height, width]` for images.
    pub sample_shape: Vec<usize>,
    /// The standardisation fitted on the training pool (applied after scaling pixels to
    /// `[0, 1]`).
    pub normalizer: Normalizer,
    /// Class names, in output order.
    pub classes: Vec<String>,
    /// The label column of the training CSV (dropped from CSV rows that still have it).
    pub label_column: String,
    /// The feature names of the training CSV's header (empty without one): CSV rows to
    /// predict with a header are read by these names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub feature_names: Vec<String>,
    /// The factor from raw row values to the network's features (see
    /// `Dataset::raw_scale`); runs made before it existed get their shape's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_scale: Option<f32>,
}

impl Preprocess {
    /// The preprocessing of a run's data.
    pub fn of(data: &RunData, config: &Config) -> Self {
        Self {
            sample_shape: data.dataset.sample_shape.clone(),
            normalizer: data.normalizer.clone(),
            classes: data.dataset.classes.clone(),
            label_column: config.data.label_column.clone(),
            feature_names: data.dataset.feature_names.clone(),
            raw_scale: Some(data.dataset.raw_scale),
        }
    }

    /// The factor from raw CSV row values to the network's features.
    pub fn raw_scale(&self) -> f32 {
        self.raw_scale.unwrap_or(if self.sample_shape.len() == 3 {
            1.0 / 255.0
        } else {
            1.0
        })
    }

    /// Features per example.
    pub fn feature_len(&self) -> usize {
        self.sample_shape.iter().product()
    }
}

impl RunDir {
    /// Writes `preprocess.json` into the run folder.
    pub fn save_preprocess(&self, pre: &Preprocess) -> Result<()> {
        write_atomic(
            &self.preprocess(),
            serde_json::to_string_pretty(pre)?.as_bytes(),
        )
    }

    /// The run's preprocessing: `preprocess.json`, or, for runs made before it existed,
    /// recomputed from the run's data.
    pub fn read_preprocess(&self, config: &Config) -> Result<Preprocess> {
        let path = self.preprocess();
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .with_context(|| format!("{} is invalid", path.display())),
            Err(_) => {
                let data = RunData::prepare(config, Some(self.read_split()?))?;
                Ok(Preprocess::of(&data, config))
            }
        }
    }
}
