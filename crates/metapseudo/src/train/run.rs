//! The run folder and the data a run trains on: paths, split record and summary.

use crate::config::{Config, CsvHeader, MethodName};
use crate::eval::ModelEval;
use crate::io::write_atomic;
use anyhow::{Context, Result, bail};
use metapseudo_data::cifar::Cifar100Label;
use metapseudo_data::csv::{CsvOptions, CsvTest};
use metapseudo_data::folder::FolderOptions;
use metapseudo_data::moons::MoonsOptions;
use metapseudo_data::normalize::Normalizer;
use metapseudo_data::split::{LabelBudget, complement, select_labeled};
use metapseudo_data::{Dataset, LoadOptions, Rng};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The files of a run folder.
#[derive(Clone, Debug)]
pub struct RunDir {
    /// The folder.
    pub dir: PathBuf,
}

impl RunDir {
    /// The effective configuration.
    pub fn config(&self) -> PathBuf {
        self.dir.join("config.toml")
    }
    /// The labeled split.
    pub fn split(&self) -> PathBuf {
        self.dir.join("split.json")
    }
    /// One JSON line per logged step.
    pub fn metrics(&self) -> PathBuf {
        self.dir.join("metrics.jsonl")
    }
    /// The latest checkpoint.
    pub fn checkpoint(&self) -> PathBuf {
        self.dir.join("checkpoint.safetensors")
    }
    /// The final results.
    pub fn summary(&self) -> PathBuf {
        self.dir.join("summary.json")
    }

    /// Reads the saved configuration of an existing run.
    pub fn read_config(&self) -> Result<Config> {
        let path = self.config();
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "{} is not a metapseudo run folder (no readable config.toml)",
                self.dir.display()
            )
        })?;
        let config: Config =
            toml::from_str(&text).with_context(|| format!("{} is invalid", path.display()))?;
        config.validate()?;
        Ok(config)
    }

    /// Reads `summary.json`: `None` when the run has not finished (no file), an error naming
    /// the file when it is not a summary.
    pub fn read_summary(&self) -> Result<Option<Summary>> {
        let path = self.summary();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                Ok(Some(serde_json::from_str(&text).with_context(|| {
                    format!("{} is invalid", path.display())
                })?))
            }
            Err(_) => Ok(None),
        }
    }

    /// Reads the saved split of an existing run.
    pub fn read_split(&self) -> Result<SplitRecord> {
        let path = self.split();
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{} is invalid", path.display()))
    }
}

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
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
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
    let d = &config.data;
    let ds = d.spec.load(&load_options(config)?)?;
    let mut ds = if d.dev_per_class > 0 {
        ds.with_dev_split(d.dev_per_class, d.data_seed)?
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
    /// Loads and normalises the data and draws the labeled split from the run's seed, or
    /// reuses `saved` (a resumed or re-evaluated run).
    pub fn prepare(config: &Config, saved: Option<SplitRecord>) -> Result<Self> {
        let dataset = load_dataset(config)?;
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
            )?,
        };
        let unlabeled: Vec<usize> = if config.data.unlabeled_includes_labeled {
            (0..dataset.train.len()).collect()
        } else {
            complement(dataset.train.len(), &labeled)
        };
        if unlabeled.is_empty() && crate::methods::needs(config).unlabeled {
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

/// Below this ratio of predictions to samples, the summary table warns of a drained class.
pub const DRAINED_CLASS_RATIO: f64 = 0.5;

/// `summary.json`: what a run achieved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Test accuracy of the reported model.
    pub accuracy: f64,
    /// Which model `accuracy` belongs to (`student`, `ema` or `teacher`).
    pub reported_model: String,
    /// Every evaluated model on the test split.
    pub models: BTreeMap<String, ModelEval>,
    /// The method.
    pub method: MethodName,
    /// A variant of the method worth telling apart in comparisons (e.g. `role-swap 500, cosine,
    /// target hard-weak`), or empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub variant: String,
    /// The data specification, with ` [dev N/class]` when evaluated on a development split.
    pub data: String,
    /// The split the models were evaluated on: `test`, or `dev` (`data.dev_per_class`).
    #[serde(default = "test_split")]
    pub eval_split: String,
    /// Number of labeled samples.
    pub labels: usize,
    /// Training steps done.
    pub steps: u64,
    /// The run seed.
    pub seed: u64,
    /// Seconds spent training and evaluating, summed over resumed pieces.
    pub wall_seconds: f64,
    /// Class names.
    pub classes: Vec<String>,
    /// Size of the evaluation split (`eval_split`).
    pub test_size: usize,
    /// With `train.keep_best`: when the best model by validation was seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best: Option<super::trainer::BestRecord>,
    /// The finetune stage, when one ran (its model is `finetuned`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finetune: Option<FinetuneRecord>,
}

/// The evaluation split of summaries written before development splits existed.
fn test_split() -> String {
    "test".into()
}

/// What the finetune stage did, in the summary of the run it finetuned.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FinetuneRecord {
    /// The sub-folder holding the stage's run.
    pub folder: String,
    /// The model it started from (`ema` or `student`).
    pub from: String,
    /// Steps of the stage.
    pub steps: u64,
    /// Test accuracy before (the `from` model).
    pub before: f64,
    /// Test accuracy after (the best checkpoint by validation; the last model without one).
    pub after: f64,
    /// Step of the kept model (0: the starting model was kept).
    pub best_step: u64,
    /// Validation accuracy before the first step (none without validation samples).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_before: Option<f64>,
    /// Validation accuracy of the best checkpoint (none without validation samples).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_best: Option<f64>,
    /// Number of validation samples (0: the stage kept its last model).
    pub validation_size: usize,
}

impl Summary {
    /// Writes `summary.json` atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_atomic(path, serde_json::to_string_pretty(self)?.as_bytes())
    }

    /// Records the finetune stage: its model `finetuned` (`eval`, the stage's best checkpoint)
    /// joins the models and becomes the reported one.
    pub fn set_finetuned(&mut self, record: FinetuneRecord, eval: ModelEval) {
        self.accuracy = eval.accuracy;
        self.reported_model = super::finetune::MODEL.into();
        self.models.insert(super::finetune::MODEL.into(), eval);
        self.finetune = Some(record);
    }

    /// Whether this is a plain baseline run: a method that reads no unlabeled data, in its
    /// reference form, without a finetune stage.
    pub fn is_baseline(&self) -> bool {
        !crate::methods::spec(self.method).needs.unlabeled
            && self.variant.is_empty()
            && self.finetune.is_none()
    }

    /// The method with its variant and stages, e.g. `mpl role-swap 500+finetune`.
    pub fn label(&self) -> String {
        let mut l = self.method.to_string();
        if !self.variant.is_empty() {
            l = format!("{l} {}", self.variant);
        }
        if self.finetune.is_some() {
            l.push_str("+finetune");
        }
        l
    }

    /// The reported model's least predicted class, by name, and its ratio of predictions to
    /// samples ([`ModelEval::least_predicted`]); `None` without a confusion matrix.
    pub fn least_predicted_class(&self) -> Option<(String, f64)> {
        let (class, ratio) = self.models.get(&self.reported_model)?.least_predicted()?;
        let name = self
            .classes
            .get(class)
            .map_or(class.to_string(), Clone::clone);
        Some((name, ratio))
    }

    /// A warning line when the reported model predicts some class less than half as often as
    /// it occurs in the evaluation split.
    pub fn drained_class_note(&self) -> Option<String> {
        let (name, ratio) = self.least_predicted_class()?;
        (ratio < DRAINED_CLASS_RATIO).then(|| {
            let why = if !crate::methods::spec(self.method).needs.unlabeled {
                ""
            } else {
                "; where the supervised baseline does not, self-training has drained that class (train.align_decay counters it)"
            };
            format!(
                "note: the reported model ({}) predicts class '{name}' {ratio:.2} times as often as it occurs in the {} split{why}\n",
                self.reported_model, self.eval_split
            )
        })
    }

    /// A plain-text table of the evaluated models.
    pub fn table(&self) -> String {
        let mut s = format!(
            "{} on {} ({} labels, seed {}, {} steps, {:.1} s)\n",
            self.label(),
            self.data,
            self.labels,
            self.seed,
            self.steps,
            self.wall_seconds
        );
        s.push_str(&format!("model      {} accuracy\n", self.eval_split));
        for (name, m) in &self.models {
            let mark = if *name == self.reported_model {
                "  <- reported"
            } else {
                ""
            };
            s.push_str(&format!("{name:<10} {:>8.2}%{mark}\n", 100.0 * m.accuracy));
        }
        if let Some(note) = self.drained_class_note() {
            s.push_str(&note);
        }
        if let Some(f) = &self.finetune {
            let kept = match (f.validation_before, f.validation_best) {
                (Some(before), Some(best)) => format!(
                    "best step {} by validation {:.2}% -> {:.2}% on {} samples",
                    f.best_step,
                    100.0 * before,
                    100.0 * best,
                    f.validation_size
                ),
                _ => format!(
                    "no validation samples: the last step ({}) kept",
                    f.best_step
                ),
            };
            s.push_str(&format!(
                "finetune ({} steps from {}): {:.2}% -> {:.2}%; {kept}\n",
                f.steps,
                f.from,
                100.0 * f.before,
                100.0 * f.after,
            ));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(pred: &[usize], truth: &[usize]) -> Summary {
        let eval = ModelEval::from_predictions(pred, truth, 2);
        Summary {
            accuracy: eval.accuracy,
            reported_model: "ema".into(),
            models: BTreeMap::from([("ema".to_string(), eval)]),
            method: MethodName::Smpl,
            variant: String::new(),
            data: "digits".into(),
            eval_split: "test".into(),
            labels: 2,
            steps: 1,
            seed: 1,
            wall_seconds: 1.0,
            classes: vec!["coat".into(), "shirt".into()],
            test_size: truth.len(),
            best: None,
            finetune: None,
        }
    }

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

    #[test]
    fn the_table_warns_of_a_class_the_reported_model_rarely_predicts() {
        let truth = [0, 0, 0, 0, 1, 1, 1, 1];
        let drained = summary(&[0, 0, 0, 0, 0, 0, 0, 1], &truth);
        let note = drained.drained_class_note().unwrap();
        assert!(note.contains("'shirt' 0.25 times"), "{note}");
        assert!(drained.table().contains(&note));
        assert!(note.contains("self-training"), "{note}");
        let mut supervised = drained.clone();
        supervised.method = MethodName::Supervised;
        let note = supervised.drained_class_note().unwrap();
        assert!(
            note.contains("'shirt' 0.25 times") && !note.contains("self-training"),
            "{note}"
        );
        let balanced = summary(&[0, 0, 0, 1, 1, 1, 1, 0], &truth);
        assert_eq!(balanced.drained_class_note(), None);
        assert!(!balanced.table().contains("note:"));
    }
}
