//! `metapseudo tune`: hyper-parameter search over any config keys. Each trial is a run folder
//! `STUDY/trial-NNNN` trained on the base configuration with the trial's parameters; its
//! objective is the reported model's accuracy on a validation split carved from the training
//! pool's labeled samples outside the labeled set (`data.dev_per_class`), never the test set.
//! The test accuracy of each trial is computed at its end for the record only. The study is an
//! Optuna journal (`STUDY/study.log`, see [`journal`]); `tune` on an existing study continues
//! it, and a trial a killed process left running is marked failed and run again with the same
//! parameters, so a study killed at any moment ends with the trials of one never killed.

pub mod journal;
pub mod pruner;
pub mod report;
pub mod sampler;
pub mod space;

use crate::config::Config;
use crate::predict::SavedRun;
use crate::run::RunDir;
use crate::train::trainer::{EvalHook, Outcome, TrainOptions, train};
use anyhow::{Context, Result, bail};
use journal::{Journal, Study, Trial, TrialState, ops};
use metapseudo_data::Rng;
use pruner::Pruner;
use sampler::{Observation, Sampler};
use serde_json::{Value, json};
use space::{Params, SearchSpace};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Which sampler a study uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SamplerKind {
    /// Optuna's default TPE (independent).
    Tpe,
    /// Uniform random search.
    Random,
}

/// Everything a study needs.
#[derive(Clone, Debug)]
pub struct TuneOptions {
    /// The configuration every trial starts from.
    pub base: Config,
    /// The search space.
    pub space: SearchSpace,
    /// Trials the study should hold, complete or pruned (failed ones do not count).
    pub trials: usize,
    /// The study folder.
    pub dir: PathBuf,
    /// Seed of the sampler's suggestions.
    pub seed: u64,
    /// The sampler.
    pub sampler: SamplerKind,
    /// Random trials before TPE takes over.
    pub startup_trials: usize,
    /// TPE over all parameters jointly (Optuna's `multivariate=True`).
    pub multivariate: bool,
    /// The pruner; `None`: no pruning.
    pub pruner: Option<Pruner>,
    /// Validation samples per class when the base configuration has none.
    pub validation_per_class: usize,
    /// Stop starting trials after this long.
    pub timeout: Option<Duration>,
    /// No line per trial.
    pub quiet: bool,
}

/// The journal inside a study folder.
pub fn journal_path(dir: &Path) -> PathBuf {
    dir.join("study.log")
}

/// The run folder of trial `id`.
pub fn trial_dir(dir: &Path, id: usize) -> PathBuf {
    dir.join(format!("trial-{id:04}"))
}

impl TuneOptions {
    /// The configuration of a trial: the base with `params`, evaluated on the validation split
    /// and without a report of its own.
    pub fn trial_config(&self, params: &Params) -> Result<Config> {
        let mut c = self.space.apply(&self.base, params)?;
        if c.data.dev_per_class == 0 {
            c.data.dev_per_class = self.validation_per_class;
        }
        c.output.report = false;
        c.finetune.steps = 0;
        Ok(c)
    }

    fn sampler(&self) -> Box<dyn Sampler> {
        match self.sampler {
            SamplerKind::Tpe => Box::new(sampler::Tpe {
                startup_trials: self.startup_trials,
                multivariate: self.multivariate,
                ..Default::default()
            }),
            SamplerKind::Random => Box::new(sampler::Random),
        }
    }

    /// The validation split, in words recorded with the study.
    fn objective_words(&self) -> String {
        let per_class = if self.base.data.dev_per_class > 0 {
            self.base.data.dev_per_class
        } else {
            self.validation_per_class
        };
        format!(
            "accuracy of the reported model ({}) on a validation split of {per_class} per class carved from the training pool's labeled samples outside the labeled set (data.dev_per_class); the test set only for the record (user attribute test_accuracy)",
            self.base.train.report
        )
    }
}

/// A trial's parameters as the configuration takes them.
pub fn trial_params(space: &SearchSpace, t: &Trial) -> Params {
    space
        .params
        .iter()
        .filter_map(|(k, d)| {
            let (x, _) = t.params.get(k)?;
            Some((k.clone(), d.from_internal(*x)?))
        })
        .collect()
}

/// Complete and pruned trials with values, as the sampler sees them.
fn observations(space: &SearchSpace, study: &Study) -> Vec<Observation> {
    study
        .trials
        .iter()
        .filter(|t| matches!(t.state, TrialState::Complete | TrialState::Pruned))
        .filter_map(|t| {
            Some(Observation {
                params: trial_params(space, t),
                value: t.value?,
            })
        })
        .collect()
}

/// What the next trial is: parameters and the trial it runs again, if any.
struct Claim {
    id: usize,
    params: Params,
    rerun_of: Option<usize>,
}

/// Claims the next trial under the journal's lock: marks trials of dead workers failed (to
/// run again with their parameters), or suggests new parameters; `None` when the study holds
/// its trials.
fn claim(opts: &TuneOptions, journal: &Journal) -> Result<Option<Claim>> {
    journal.transact(|study| {
        let mut ops_out = Vec::new();
        if !study.created {
            ops_out.push(ops::create_study(&study_name(&opts.dir)));
            ops_out.push(ops::study_user_attr(
                "objective",
                json!(opts.objective_words()),
            ));
            ops_out.push(ops::study_user_attr("direction", json!("maximize")));
        }
        let abandoned: Vec<&Trial> = study
            .trials
            .iter()
            .filter(|t| t.state == TrialState::Running)
            .filter(|t| {
                t.user_attrs
                    .get("worker")
                    .and_then(Value::as_str)
                    .is_some_and(journal::worker_is_gone)
            })
            .collect();
        for t in &abandoned {
            ops_out.push(ops::user_attr(
                t.id,
                "failure",
                json!("its process died; run again"),
            ));
            ops_out.push(ops::finish(t.id, TrialState::Fail, None));
        }
        let counted = study
            .trials
            .iter()
            .filter(|t| t.state != TrialState::Fail)
            .count()
            - abandoned.len();
        let rerun = abandoned.first();
        if rerun.is_none() && counted >= opts.trials {
            return Ok((ops_out, None));
        }
        let id = study.trials.len();
        let (params, rerun_of) = match rerun {
            Some(t) => (trial_params(&opts.space, t), Some(t.id)),
            None => {
                let mut rng = Rng::stream(opts.seed, &format!("trial {counted}"));
                let seen = observations(&opts.space, study);
                (opts.sampler().suggest(&opts.space, &seen, &mut rng), None)
            }
        };
        ops_out.push(ops::create_trial());
        for (k, v) in &params {
            let d = &opts.space.params[k];
            ops_out.push(ops::param(id, k, d.to_internal(v), &d.to_optuna_json()));
        }
        ops_out.push(ops::user_attr(id, "worker", json!(journal.worker())));
        let folder = trial_dir(&opts.dir, id);
        ops_out.push(ops::user_attr(
            id,
            "run_folder",
            json!(folder.display().to_string()),
        ));
        if let Some(of) = rerun_of {
            ops_out.push(ops::system_attr(id, "rerun_of", json!(of)));
        }
        Ok((
            ops_out,
            Some(Claim {
                id,
                params,
                rerun_of,
            }),
        ))
    })
}

/// The study's name: its folder's name.
fn study_name(dir: &Path) -> String {
    dir.file_name()
        .map_or("metapseudo".into(), |n| n.to_string_lossy().into_owned())
}

/// How one trial ended.
#[derive(Clone, Debug, PartialEq)]
pub struct TrialResult {
    /// The trial's id.
    pub id: usize,
    /// Its parameters.
    pub params: Params,
    /// Complete, pruned or failed.
    pub state: TrialState,
    /// Validation accuracy (the objective).
    pub value: Option<f64>,
    /// Test accuracy, for the record.
    pub test_accuracy: Option<f64>,
    /// Training steps done.
    pub steps: u64,
}

/// Runs the study until it holds `opts.trials` trials (or the timeout), then writes
/// `best.toml`. Returns the trials this process ran.
pub fn run_study(opts: &TuneOptions) -> Result<Vec<TrialResult>> {
    std::fs::create_dir_all(&opts.dir)
        .with_context(|| format!("cannot create the study folder {}", opts.dir.display()))?;
    let journal = Journal::open(&journal_path(&opts.dir))?;
    // Under the journal's lock: workers starting together write the record once.
    journal.transact(|_| check_same_study(opts).map(|()| (Vec::new(), ())))?;
    let started = Instant::now();
    let mut results = Vec::new();
    while opts.timeout.is_none_or(|t| started.elapsed() < t) {
        let Some(c) = claim(opts, &journal)? else {
            break;
        };
        let t0 = Instant::now();
        let result = run_trial(opts, &journal, &c)?;
        if !opts.quiet {
            print_line(opts, &journal, &result, t0.elapsed(), c.rerun_of);
        }
        results.push(result);
        if crate::train::interrupt::requested() {
            break;
        }
    }
    let study = journal.read()?;
    write_best(opts, &study)?;
    report::write_study_report(&opts.dir, &opts.space, &study)?;
    Ok(results)
}

/// Refuses to continue a study with another base configuration or search space.
fn check_same_study(opts: &TuneOptions) -> Result<()> {
    let files = [
        ("base.toml", opts.base.to_toml()),
        ("space.toml", space_text(&opts.space)),
    ];
    for (name, text) in files {
        let path = opts.dir.join(name);
        match std::fs::read_to_string(&path) {
            Ok(saved) if saved == text => {}
            Ok(_) => bail!(
                "{} holds a study with another {}: continue it with the same base configuration and search space, or choose another --study",
                opts.dir.display(),
                if name == "base.toml" {
                    "base configuration"
                } else {
                    "search space"
                }
            ),
            Err(_) => crate::io::write_atomic(&path, text.as_bytes())?,
        }
    }
    Ok(())
}

/// The search space as canonical text (for the study's record).
fn space_text(space: &SearchSpace) -> String {
    let mut out = String::new();
    for (k, d) in &space.params {
        out.push_str(&format!("{k} = {}\n", d.to_optuna_json()));
    }
    out
}

/// Trains one trial and records how it ended.
fn run_trial(opts: &TuneOptions, journal: &Journal, c: &Claim) -> Result<TrialResult> {
    let run = RunDir {
        dir: trial_dir(&opts.dir, c.id),
    };
    if run.dir.exists() {
        // A trial folder of a killed attempt holds no finished trial: start it afresh.
        std::fs::remove_dir_all(&run.dir)
            .with_context(|| format!("cannot clear {}", run.dir.display()))?;
    }
    let hook = opts.pruner.map(|p| {
        let journal = journal.clone();
        let id = c.id;
        EvalHook(Arc::new(move |step, value| {
            let prune = journal.transact(|study| {
                Ok((
                    vec![ops::intermediate(id, step, value)],
                    p.prune(study, id, step, value),
                ))
            });
            prune.unwrap_or(false)
        }))
    });
    let outcome = opts.trial_config(&c.params).and_then(|config| {
        let train_opts = TrainOptions {
            quiet: true,
            on_eval: hook,
            ..Default::default()
        };
        train(Some(&config), &run, &train_opts)
    });
    let mut result = TrialResult {
        id: c.id,
        params: c.params.clone(),
        state: TrialState::Fail,
        value: None,
        test_accuracy: None,
        steps: 0,
    };
    let mut out_ops = Vec::new();
    match outcome {
        Ok(Outcome::Finished(summary)) => {
            result.state = TrialState::Complete;
            result.value = Some(summary.accuracy);
            result.steps = summary.steps;
        }
        Ok(Outcome::Stopped { step, interrupted }) => {
            if interrupted {
                // Ctrl-C: the trial stays running for the next `tune` to run again.
                bail!("interrupted during trial {}", c.id);
            }
            result.state = TrialState::Pruned;
            result.steps = step;
            let study = journal.read()?;
            result.value = study.trials[c.id].intermediate.values().last().copied();
        }
        Err(e) => {
            out_ops.push(ops::user_attr(c.id, "failure", json!(format!("{e:#}"))));
        }
    }
    if result.state != TrialState::Fail {
        result.test_accuracy = test_accuracy(&run).ok();
        if let Some(t) = result.test_accuracy {
            out_ops.push(ops::user_attr(c.id, "test_accuracy", json!(t)));
        }
        out_ops.push(ops::user_attr(c.id, "steps", json!(result.steps)));
    }
    out_ops.push(ops::finish(c.id, result.state, result.value));
    journal.transact(|_| Ok((out_ops, ())))?;
    Ok(result)
}

/// The reported model's accuracy on the real test split (not the validation split the trial
/// was judged on), for the record.
fn test_accuracy(run: &RunDir) -> Result<f64> {
    let saved = SavedRun::load_on_test(run, None)?;
    let summary = saved.summary(&saved.test_logits());
    Ok(summary.accuracy)
}

/// One line per trial: number, parameters, value, best so far, the study's ETA.
fn print_line(
    opts: &TuneOptions,
    journal: &Journal,
    r: &TrialResult,
    took: Duration,
    rerun_of: Option<usize>,
) {
    let study = journal.read().unwrap_or_default();
    let best = best_trial(&study);
    let params: Vec<String> = r
        .params
        .iter()
        .map(|(k, v)| match v.as_float() {
            Some(x) if x != 0.0 && x.abs() < 1e-3 => format!("{k}={x:.3e}"),
            Some(x) => format!("{k}={x:.4}"),
            None => format!("{k}={v}"),
        })
        .collect();
    let value = r.value.map_or("-".into(), |v| format!("{:.2}%", 100.0 * v));
    let test = r
        .test_accuracy
        .map_or(String::new(), |t| format!(" (test {:.2}%)", 100.0 * t));
    let done = study
        .trials
        .iter()
        .filter(|t| matches!(t.state, TrialState::Complete | TrialState::Pruned))
        .count();
    let left = opts.trials.saturating_sub(done);
    let state = match r.state {
        TrialState::Complete => "complete",
        TrialState::Pruned => "pruned",
        _ => "failed",
    };
    let again = rerun_of.map_or(String::new(), |o| format!(", again for trial {o}"));
    let best = best.map_or(String::new(), |b| {
        format!(
            "; best {:.2}% (trial {})",
            100.0 * b.value.unwrap_or_default(),
            b.id
        )
    });
    println!(
        "trial {} {state}{again}: {} -> validation {value}{test} at step {} in {:.1} s{best}; {left} left, about {:.0} s",
        r.id,
        params.join(" "),
        r.steps,
        took.as_secs_f64(),
        left as f64 * took.as_secs_f64()
    );
}

/// The complete trial with the highest value (the earliest among equals).
pub fn best_trial(study: &Study) -> Option<&Trial> {
    study
        .trials
        .iter()
        .filter(|t| t.state == TrialState::Complete && t.value.is_some())
        .fold(None, |best: Option<&Trial>, t| match best {
            Some(b) if b.value >= t.value => Some(b),
            _ => Some(t),
        })
}

/// Writes `best.toml`: the base configuration with the best trial's parameters, which
/// `metapseudo train --config` runs as is.
fn write_best(opts: &TuneOptions, study: &Study) -> Result<()> {
    let Some(best) = best_trial(study) else {
        return Ok(());
    };
    let config = opts
        .space
        .apply(&opts.base, &trial_params(&opts.space, best))?;
    let header = format!(
        "# The best of {} trials of study {}: trial {}, validation accuracy {:.4}.\n",
        study.trials.len(),
        opts.dir.display(),
        best.id,
        best.value.unwrap_or_default()
    );
    crate::io::write_atomic(
        &opts.dir.join("best.toml"),
        format!("{header}{}", config.to_toml()).as_bytes(),
    )
}
