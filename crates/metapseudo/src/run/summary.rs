//! `summary.json`: what a run achieved, with the records of its best model and finetune stage.

use super::{FINETUNED, RunData};
use crate::config::Config;
use crate::config::MethodName;
use crate::eval::ModelEval;
use crate::io::write_atomic;
use crate::methods;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// When the best model was seen and how good it was on validation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BestRecord {
    /// Step of the best model.
    pub step: u64,
    /// Its validation accuracy.
    pub accuracy: f64,
    /// Validation accuracy of the model before the first step.
    pub initial: f64,
    /// Its mean validation cross entropy (0 in records written before it was kept).
    #[serde(default)]
    pub loss: f64,
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
    pub best: Option<BestRecord>,
    /// The finetune stage, when one ran (its model is `finetuned`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finetune: Option<FinetuneRecord>,
    /// Why the reported model is not a trained result, when the schedule left it untrained
    /// (see [`untrained_caveat`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caveat: Option<String>,
    /// The steps the run's preset plans, when the run did fewer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_steps: Option<u64>,
}

/// Above this share of its initial weights, a reported EMA counts as untrained.
pub const UNTRAINED_EMA_SHARE: f64 = 0.1;

/// Why the model `config.train.report` names is still (mostly) its initialisation after `steps`
/// steps, or `None`: a student that waited every step, or an EMA that still holds more than
/// [`UNTRAINED_EMA_SHARE`] of the student's initial weights.
pub fn untrained_caveat(config: &Config, steps: u64) -> Option<String> {
    use crate::config::ReportedModel;
    let reported = config.train.report;
    if !matches!(
        reported,
        ReportedModel::Student | ReportedModel::Ema | ReportedModel::Ensemble
    ) {
        return None;
    }
    let wait = if methods::needs(config).student_waits {
        config.student_optim.wait_steps
    } else {
        0
    };
    let trained = steps.saturating_sub(wait);
    if steps == 0 {
        return Some("the run has not trained a step yet".into());
    }
    if trained == 0 {
        return Some(format!(
            "the student never trained: it waits {wait} steps (student_optim.wait_steps) and the run had {steps}; run more steps or lower the wait"
        ));
    }
    let decay = config.train.ema_decay;
    let share = decay.powf(trained as f64);
    (reported == ReportedModel::Ema && share > UNTRAINED_EMA_SHARE).then(|| {
        format!(
            "the reported EMA is mostly untrained: after the student's {trained} steps it still holds {:.0}% of the initial weights (train.ema_decay = {decay} averages over about {:.0} steps); run more steps, lower train.ema_decay, or report the student (train.report = student)",
            100.0 * share,
            1.0 / (1.0 - decay)
        )
    })
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
    /// The summary of a run of `config` on `data` at `step`, from its models' evaluations on
    /// the evaluation split; `best` is the best model's record (`train.keep_best`).
    pub fn of(
        config: &Config,
        data: &RunData,
        models: BTreeMap<String, ModelEval>,
        (step, wall_seconds): (u64, f64),
        best: Option<BestRecord>,
    ) -> Self {
        let reported = config.train.report.to_string();
        let swap_every = config.mpl.role_swap.every(data.steps_per_epoch(config));
        Summary {
            accuracy: models[&reported].accuracy,
            reported_model: reported,
            models,
            method: config.method,
            variant: methods::variant(config, swap_every),
            data: config.data.label(),
            eval_split: config.data.eval_split().into(),
            labels: data.split.labeled_indices.len(),
            steps: step,
            seed: config.seed,
            wall_seconds,
            classes: data.dataset.classes.clone(),
            test_size: data.dataset.test.len(),
            best,
            finetune: None,
            caveat: untrained_caveat(config, step),
            planned_steps: crate::config::presets::planned_steps(config).filter(|&p| p > step),
        }
    }

    /// Writes `summary.json` atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_atomic(path, serde_json::to_string_pretty(self)?.as_bytes())
    }

    /// Records the finetune stage: its model `finetuned` (`eval`, the stage's best checkpoint)
    /// joins the models and becomes the reported one.
    pub fn set_finetuned(&mut self, record: FinetuneRecord, eval: ModelEval) {
        self.accuracy = eval.accuracy;
        self.reported_model = FINETUNED.into();
        self.models.insert(FINETUNED.into(), eval);
        self.finetune = Some(record);
        self.caveat = None;
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

    /// A warning line: the [`Summary::caveat`] of an untrained reported model, or that the
    /// reported model predicts some class less than half as often as it occurs in the
    /// evaluation split.
    pub fn closing_note(&self) -> Option<String> {
        if let Some(caveat) = &self.caveat {
            return Some(format!("note: {caveat}\n"));
        }
        let (name, ratio) = self.least_predicted_class()?;
        (ratio < DRAINED_CLASS_RATIO).then(|| {
            let why = if let Some(planned) = self.planned_steps {
                format!(
                    "; this run is {} of its preset's {planned} steps, so its models may be undertrained rather than the class drained (a supervised run of the same length tells)",
                    self.steps
                )
            } else if !crate::methods::spec(self.method).needs.unlabeled {
                String::new()
            } else {
                "; where the supervised baseline does not, self-training has drained that class (train.align_decay counters it)".into()
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
        if let Some(note) = self.closing_note() {
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
            caveat: None,
            planned_steps: None,
        }
    }

    #[test]
    fn an_untrained_reported_model_is_named_with_its_cause() {
        let mut c = Config {
            method: MethodName::Mpl,
            ..Default::default()
        };
        c.train.report = crate::config::ReportedModel::Ema;
        c.train.ema_decay = 0.995;
        c.student_optim.wait_steps = 300;
        let never = untrained_caveat(&c, 300).unwrap();
        assert!(
            never.contains("never trained") && never.contains("wait_steps"),
            "{never}"
        );
        // 277 trained steps at decay 0.995 leave 0.995^277 = 25% of the initial weights.
        c.student_optim.wait_steps = 23;
        let ema = untrained_caveat(&c, 300).unwrap();
        assert!(ema.contains("holds 25% of the initial weights"), "{ema}");
        assert_eq!(untrained_caveat(&c, 1000), None);
        c.train.report = crate::config::ReportedModel::Student;
        assert_eq!(untrained_caveat(&c, 300), None);
        c.method = MethodName::Supervised;
        assert_eq!(untrained_caveat(&c, 0).map(|_| ()), Some(()));
        let mut s = summary(&[0, 0, 0, 0, 0, 0, 0, 1], &[0, 0, 0, 0, 1, 1, 1, 1]);
        s.caveat = Some(ema.clone());
        let note = s.closing_note().unwrap();
        assert!(
            note.contains("mostly untrained") && !note.contains("drained"),
            "{note}"
        );
        s.caveat = None;
        s.planned_steps = Some(4000);
        let note = s.closing_note().unwrap();
        assert!(note.contains("1 of its preset's 4000 steps"), "{note}");
        c.preset = crate::config::PresetName::FashionCpu;
        c.method = MethodName::Mpl;
        assert_eq!(crate::config::presets::planned_steps(&c), Some(4000));
    }

    #[test]
    fn the_table_warns_of_a_class_the_reported_model_rarely_predicts() {
        let truth = [0, 0, 0, 0, 1, 1, 1, 1];
        let drained = summary(&[0, 0, 0, 0, 0, 0, 0, 1], &truth);
        let note = drained.closing_note().unwrap();
        assert!(note.contains("'shirt' 0.25 times"), "{note}");
        assert!(drained.table().contains(&note));
        assert!(note.contains("self-training"), "{note}");
        let mut supervised = drained.clone();
        supervised.method = MethodName::Supervised;
        let note = supervised.closing_note().unwrap();
        assert!(
            note.contains("'shirt' 0.25 times") && !note.contains("self-training"),
            "{note}"
        );
        let balanced = summary(&[0, 0, 0, 1, 1, 1, 1, 0], &truth);
        assert_eq!(balanced.closing_note(), None);
        assert!(!balanced.table().contains("note:"));
    }
}
