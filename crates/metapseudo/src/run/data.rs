//! The data a run trains on: the data set its configuration names, its normalisation and the
//! labeled split (`split.json`).

use crate::config::{Config, CsvHeader};
use crate::methods;
use anyhow::{Context, Result, bail};
use metapseudo_data::cifar::Cifar100Label;
use metapseudo_data::csv::{CsvOptions, CsvTest};
use metapseudo_data::folder::FolderOptions;
use metapseudo_data::moons::MoonsOptions;
use metapseudo_data::normalize::Normalizer;
use metapseudo_data::split::{LabelBudget, complement, select_labeled};
use metapseudo_data::{Dataset, LoadOptions, Rng};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The labeled subset, as written to `split.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SplitRecord {
    /// The label budget, in words.
    pub budget: String,
    /// Indices into the training pool (after the fixed test split) of the labeled samples.
    pub labeled_indices: Vec<usize>,
    /// Labeled samples per class.
    pub labeled_per_class: Vec<usize>,
    /// Size of the unlabeled pool.
    pub unlabeled_count: usize,
    /// Whether the labeled samples are also in the unlabeled pool.
    pub unlabeled_includes_labeled: bool,
    /// Indices into the training pool of labeled samples kept for validation (choosing the
    /// best checkpoint); never trained on as labeled samples.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub validation_indices: Vec<usize>,
}

/// The data of a run: the examples, their normalisation and the labeled/unlabeled pools.
#[derive(Clone, Debug)]
pub struct RunData {
    /// The data set, as loaded (normalisation is applied when batches are made).
    pub dataset: Dataset,
    /// Normalisation fitted on the training pool.
    pub normalizer: Normalizer,
    /// The labeled split.
    pub split: SplitRecord,
    /// Indices of the unlabeled pool.
    pub unlabeled: Vec<usize>,
}

/// The options the data formats read, from the configuration.
fn load_options(config: &Config) -> Result<LoadOptions> {
    let d = &config.data;
    Ok(LoadOptions {
        moons: MoonsOptions {
            train_size: d.moons_train_size,
            test_size: d.moons_test_size,
            noise: d.moons_noise,
            seed: d.data_seed,
        },
        csv: CsvOptions {
            label_column: d.label_column.parse()?,
            header: match d.header {
                CsvHeader::Yes => Some(true),
                CsvHeader::No => Some(false),
                CsvHeader::Auto => None,
            },
        },
        csv_test: if d.test_path.is_empty() {
            CsvTest::Fraction {
                fraction: d.test_fraction,
                seed: d.data_seed,
            }
        } else {
            CsvTest::File(PathBuf::from(&d.test_path))
        },
        folder: FolderOptions {
            size: (d.image_size > 0).then_some(d.image_size),
            test_fraction: d.test_fraction,
            split_seed: d.data_seed,
            skip_bad_images: d.skip_bad_images,
            cache_dir: match d.cache_dir.as_str() {
                "" | "auto" => None,
                other => Some(PathBuf::from(other)),
            },
            threads: rayon::current_num_threads(),
        },
        folder_cache_auto: d.cache_dir == "auto",
        cifar100_label: match d.cifar100_label {
            crate::config::Cifar100Label::Fine => Cifar100Label::Fine,
            crate::config::Cifar100Label::Coarse => Cifar100Label::Coarse,
        },
        svhn_extra: d.svhn_extra,
    })
}

/// Loads the data set a configuration names.
pub fn load_dataset(config: &Config) -> Result<Dataset> {
    load_dataset_with(config, false)
}

/// Loads the data set a configuration names; with `keep_test`, a run evaluated on a
/// development split (`data.dev_per_class`) keeps that split's training pool but gets the real
/// test split back (to record a tuned trial's test accuracy).
fn load_dataset_with(config: &Config, keep_test: bool) -> Result<Dataset> {
    let d = &config.data;
    let ds = d.spec.load(&load_options(config)?)?;
    let mut ds = if d.dev_per_class > 0 {
        let test = ds.test.clone();
        let mut dev = ds.with_dev_split(d.dev_per_class, d.data_seed)?;
        if keep_test {
            dev.test = test;
        }
        dev
    } else {
        ds
    };
    if !d.class_names.is_empty() {
        if d.class_names.len() != ds.num_classes() {
            bail!(
                "data.class_names has {} name(s) but data set '{}' has {} classes (labels 0-{})",
                d.class_names.len(),
                ds.name,
                ds.num_classes(),
                ds.num_classes().saturating_sub(1)
            );
        }
        ds.classes = d.class_names.clone();
    }
    ds.validate()?;
    Ok(ds)
}

fn budget(config: &Config) -> LabelBudget {
    let d = &config.data;
    if d.labels_per_class > 0 {
        LabelBudget::PerClass(d.labels_per_class)
    } else if d.labels > 0 {
        LabelBudget::Total(d.labels)
    } else {
        LabelBudget::Percent(d.labels_percent)
    }
}

impl RunData {
    /// Steps in one reporting epoch: `train.steps_per_epoch`, or one pass over the unlabeled
    /// pool (over the labeled samples for a method that reads no unlabeled batches).
    pub fn steps_per_epoch(&self, config: &Config) -> u64 {
        if config.train.steps_per_epoch > 0 {
            return config.train.steps_per_epoch;
        }
        let batch = config.train.batch_size;
        let (pool, per_step) = if methods::needs(config).unlabeled {
            (self.unlabeled.len(), batch * config.train.mu)
        } else {
            (self.split.labeled_indices.len(), batch)
        };
        (pool as u64).div_ceil(per_step as u64).max(1)
    }

    /// Loads and normalises the data and draws the labeled split from the run's seed, or
    /// reuses `saved` (a resumed or re-evaluated run).
    pub fn prepare(config: &Config, saved: Option<SplitRecord>) -> Result<Self> {
        Self::prepare_with(config, saved, false)
    }

    /// As [`RunData::prepare`], evaluating on the real test split even when the run was
    /// judged on a development split (`keep_test`, see `load_dataset_with`).
    pub fn prepare_with(
        config: &Config,
        saved: Option<SplitRecord>,
        keep_test: bool,
    ) -> Result<Self> {
        let dataset = load_dataset_with(config, keep_test)?;
        let normalizer = if config.data.normalize == crate::config::Normalize::Standardize {
            Normalizer::fit(&dataset.train)
        } else {
            Normalizer::identity(dataset.dim())
        };
        let train_labels = dataset.train.labels();
        let labeled = match &saved {
            Some(s) => {
                if let Some(bad) = s
                    .labeled_indices
                    .iter()
                    .find(|&&i| i >= train_labels.len() || train_labels[i].is_none())
                {
                    bail!(
                        "split.json names sample {bad}, which is not a labeled training sample of this data"
                    );
                }
                s.labeled_indices.clone()
            }
            None => select_labeled(
                train_labels,
                &dataset.classes,
                budget(config),
                &mut Rng::stream(config.seed, "split"),
            )
            .with_context(|| {
                format!(
                    "the label budget (data.labels_per_class / data.labels / data.labels_percent, set by you or by the preset '{}') does not fit the data",
                    config.preset
                )
            })?,
        };
        let unlabeled: Vec<usize> = if config.data.unlabeled_includes_labeled {
            (0..dataset.train.len()).collect()
        } else {
            complement(dataset.train.len(), &labeled)
        };
        if unlabeled.is_empty() && methods::needs(config).unlabeled {
            bail!("no unlabeled samples are left for '{}'", config.method);
        }
        let per_class = count_per_class(train_labels, &labeled, dataset.num_classes());
        let validation = saved.map(|s| s.validation_indices).unwrap_or_default();
        if let Some(bad) = validation.iter().find(|&&i| {
            i >= train_labels.len() || train_labels[i].is_none() || labeled.contains(&i)
        }) {
            bail!(
                "split.json keeps sample {bad} for validation, which is not a labeled training sample outside the labeled set"
            );
        }
        let split = SplitRecord {
            budget: budget(config).to_string(),
            labeled_indices: labeled,
            labeled_per_class: per_class,
            unlabeled_count: unlabeled.len(),
            unlabeled_includes_labeled: config.data.unlabeled_includes_labeled,
            validation_indices: validation,
        };
        Ok(Self {
            dataset,
            normalizer,
            split,
            unlabeled,
        })
    }
}

/// How many of the samples `idx` each class has (`labels` of the training pool).
pub fn count_per_class(labels: &[Option<usize>], idx: &[usize], classes: usize) -> Vec<usize> {
    let mut per_class = vec![0; classes];
    for &i in idx {
        per_class[labels[i].unwrap_or_default()] += 1;
    }
    per_class
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_rename_the_classes_and_must_name_each() {
        let mut config = Config::default();
        config.data.spec = "moons".parse().unwrap();
        assert_eq!(load_dataset(&config).unwrap().classes, ["upper", "lower"]);
        config.data.class_names = vec!["top".into(), "bottom".into()];
        assert_eq!(load_dataset(&config).unwrap().classes, ["top", "bottom"]);
        config.data.class_names.push("third".into());
        let e = load_dataset(&config).unwrap_err().to_string();
        assert!(
            e.contains("data.class_names has 3 name(s)") && e.contains("2 classes"),
            "{e}"
        );
    }
}
