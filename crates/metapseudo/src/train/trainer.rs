//! The training loop: batches, the method's step, EMA, logging, evaluation, checkpoints,
//! resume and the final summary. Written once for every method. The session's validation
//! (`best`), test evaluation and summary (`evaluation`) and checkpoints (`checkpoint`) live in
//! the submodules.

use super::batches::batch_stream;
use super::ema::Ema;
use super::progress::Progress;
use crate::config::Config;
use crate::io::{TensorFile, write_atomic};
use crate::methods::{self, Inputs, Learner, Method, TeacherKind, TensorBatch, TrainContext};
use crate::methods::{non_finite_loss, read_scalars};
use crate::models::reduced::ReducedTeacher;
use crate::models::{self, ModelShape, Network};
use crate::params::import_tensors;
use crate::report::tensorboard::EventLog;
use crate::run::lock::RunLock;
use crate::run::metrics::MetricsLog;
use crate::run::{RunData, RunDir, Summary};
use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use metapseudo_data::Rng;
use metapseudo_data::pipeline::BatchStream;
use std::time::Instant;

mod best;
mod checkpoint;
mod evaluation;

pub use best::Best;

/// Options of one `train` invocation that are not part of the configuration.
#[derive(Clone, Debug, Default)]
pub struct TrainOptions {
    /// Save a checkpoint and exit after this many steps.
    pub stop_at: Option<u64>,
    /// No progress bar or final table.
    pub quiet: bool,
    /// Weights to start a new run's student (and EMA) from, instead of the seeded
    /// initialisation.
    pub init: Option<InitFrom>,
    /// Compute device of a continued run or stage, in place of its saved `train.device`.
    pub device: Option<String>,
    /// Called after each evaluation during training (see [`EvalHook`]).
    pub on_eval: Option<EvalHook>,
}

/// Called after each evaluation during training with the step and the reported model's
/// accuracy on the evaluation split; returning `true` stops the run there with a checkpoint
/// (`metapseudo tune` prunes a hopeless trial so).
#[derive(Clone)]
pub struct EvalHook(pub std::sync::Arc<dyn Fn(u64, f64) -> bool + Send + Sync>);

impl std::fmt::Debug for EvalHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EvalHook")
    }
}

/// A model of another run's checkpoint to start from.
#[derive(Clone, Debug)]
pub struct InitFrom {
    /// The checkpoint file.
    pub checkpoint: std::path::PathBuf,
    /// The model's name in it (`ema`, `student`).
    pub model: String,
}

impl InitFrom {
    /// Loads the weights into `session`'s student and EMA.
    fn apply(&self, session: &mut Session) -> Result<()> {
        let file = TensorFile::load(&self.checkpoint)?;
        let tensors = file.take_prefix(&self.model);
        if tensors.is_empty() {
            bail!(
                "{} has no model '{}' (models in the checkpoint: {})",
                self.checkpoint.display(),
                self.model,
                file.model_names().join(", ")
            );
        }
        let load = |m: &Network| {
            import_tensors(m.clone(), &tensors).with_context(|| {
                format!(
                    "loading '{}' from {}",
                    self.model,
                    self.checkpoint.display()
                )
            })
        };
        session.ctx.student.model = load(&session.ctx.student.model)?;
        if let Some(e) = &mut session.ema {
            e.model = load(&e.model)?;
        }
        Ok(())
    }
}

/// How a `train` invocation ended.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// All steps done; the summary was written.
    Finished(Box<Summary>),
    /// Stopped at `--stop-at`, or interrupted (SIGINT, SIGTERM) after a step; a checkpoint
    /// was saved: resume to continue.
    Stopped {
        /// Steps done so far.
        step: u64,
        /// Whether a signal stopped it (not `--stop-at`).
        interrupted: bool,
    },
}

/// A run in memory: data, networks, optimisers, method and batch stream.
pub struct Session {
    /// The effective configuration.
    pub config: Config,
    /// The data and split.
    pub data: RunData,
    /// The training device (autodiff enabled).
    pub device: Device,
    /// Models and optimisers.
    pub ctx: TrainContext,
    /// The student's moving average.
    pub ema: Option<Ema>,
    method: Box<dyn Method>,
    pipeline: BatchStream,
    /// Steps done.
    pub step: u64,
    /// Seconds spent in earlier pieces of this run.
    pub elapsed_before: f64,
    /// With `train.keep_best`: the best model by validation accuracy so far.
    pub best: Option<Best>,
    /// Whether the networks are in swapped roles now (`ctx.student` holds the network named
    /// `teacher`). A function of the step, so checkpoints need not record it.
    swapped: bool,
}

/// The student's optimiser settings; its wait (for the teacher) only applies to methods whose
/// student learns from pseudo labels. The others train from step 0.
fn student_optim(config: &Config) -> crate::config::OptimConfig {
    let mut c = config.student_optim.clone();
    if !methods::needs(config).student_waits {
        c.wait_steps = 0;
    }
    c
}

/// Fresh networks (initialised from the run's seed) with their optimisers and schedules: the
/// student, and the teacher the method needs.
pub fn build_context(config: &Config, shape: &ModelShape, device: &Device) -> Result<TrainContext> {
    let steps = config.train.steps;
    let init = |who: &str| {
        models::build(
            &config.model,
            shape,
            &mut Rng::stream(config.seed, &format!("init/{who}")),
            device,
        )
    };
    let student = Learner::new(&student_optim(config), init("student")?, steps);
    let teacher = match methods::needs(config).teacher {
        TeacherKind::None => None,
        TeacherKind::SameArchitecture => Some(init("teacher")?),
        TeacherKind::ReducedOverCachedLogits => Some(Network::Reduced(ReducedTeacher::new(
            shape.num_classes,
            config.reduced_mpl.width,
            &mut Rng::stream(config.seed, "init/teacher"),
            device,
        ))),
    }
    .map(|model| Learner::new(&config.teacher_optim, model, steps));
    Ok(TrainContext {
        student,
        teacher,
        num_classes: shape.num_classes,
    })
}

/// Each class's share of the labeled samples (uniform when there are none).
fn labeled_frequencies(per_class: &[usize]) -> Vec<f32> {
    let total: usize = per_class.iter().sum();
    if total == 0 {
        return vec![1.0 / per_class.len().max(1) as f32; per_class.len()];
    }
    per_class.iter().map(|&n| n as f32 / total as f32).collect()
}

impl Session {
    /// Builds fresh networks and state for `config` on `data`.
    pub fn new(config: &Config, data: RunData) -> Result<Self> {
        methods::check(config)?;
        let base_device = crate::device::open(&config.train.device)?;
        let device = base_device.clone().autodiff();
        let shape = ModelShape {
            sample: data.dataset.sample_shape.clone(),
            num_classes: data.dataset.num_classes(),
        };
        let ctx = build_context(config, &shape, &device)?;
        let ema = (config.train.ema_decay > 0.0)
            .then(|| Ema::new(&ctx.student.model, config.train.ema_decay));
        let pipeline = batch_stream(config, &data)?;
        let teacher_logits = (methods::needs(config).teacher
            == TeacherKind::ReducedOverCachedLogits)
            .then(|| super::teacher_logits::teacher_logits(config, &data, &base_device))
            .transpose()?;
        let inputs = Inputs {
            teacher_logits,
            labeled_prior: labeled_frequencies(&data.split.labeled_per_class),
            steps_per_epoch: data.steps_per_epoch(config),
        };
        let session = Self {
            ctx,
            ema,
            method: methods::build(config, inputs)?,
            pipeline,
            step: 0,
            elapsed_before: 0.0,
            config: config.clone(),
            data,
            device,
            swapped: false,
            best: None,
        };
        if config.train.keep_best && session.data.split.validation_indices.is_empty() {
            bail!(
                "train.keep_best needs validation samples in the split (the finetune stage carves them: metapseudo finetune)"
            );
        }
        Ok(session)
    }

    /// Role-playing: steps between swaps of teacher and student, as the method asks.
    fn swap_every(&self) -> Option<u64> {
        self.method.role_swap_every()
    }

    /// The networks by name, whatever their current roles: (`student`, `teacher`).
    fn named_learners(&self) -> (&Learner, Option<&Learner>) {
        named_learners(&self.ctx, self.swapped)
    }

    /// Puts the networks in the roles step `self.step` asks for (role-playing).
    fn set_roles(&mut self) {
        let Some(every) = self.swap_every() else {
            return;
        };
        let swapped = (self.step / every) % 2 == 1;
        if swapped != self.swapped
            && let Some(t) = &mut self.ctx.teacher
        {
            std::mem::swap(&mut self.ctx.student, t);
            self.swapped = swapped;
        }
    }

    /// Steps in one reporting epoch.
    pub fn steps_per_epoch(&self) -> u64 {
        self.data.steps_per_epoch(&self.config)
    }

    /// Runs one training step and returns its scalars.
    pub fn step_once(&mut self) -> methods::Scalars {
        let batch = self.pipeline.next_batch();
        let tb = TensorBatch::from_host(&batch, &self.device);
        // Dropout draws from the backend's generator: seeding it per step makes the masks a
        // function of (seed, step), so runs repeat and resume exactly.
        let dropout_seed = Rng::stream(self.config.seed, "dropout")
            .child(self.step)
            .next_u64();
        self.device.seed(dropout_seed);
        let mut scalars = self.method.step(&mut self.ctx, &tb, self.step);
        if self.swap_every().is_some() {
            let role = if self.swapped { 1.0 } else { 0.0 };
            scalars.push(("mpl/roles_swapped", methods::Scalar::Value(role)));
        }
        if let Some(ema) = &mut self.ema {
            ema.update(&named_learners(&self.ctx, self.swapped).0.model);
        }
        self.step += 1;
        self.set_roles();
        scalars
    }
}

/// `ctx`'s networks by name, `swapped` telling whether they play each other's roles now.
fn named_learners(ctx: &TrainContext, swapped: bool) -> (&Learner, Option<&Learner>) {
    match (&ctx.teacher, swapped) {
        (Some(t), true) => (t, Some(&ctx.student)),
        (t, _) => (&ctx.student, t.as_ref()),
    }
}

/// Loads the session of an existing run folder from its checkpoint, on `device` (default: the
/// run's saved `train.device`).
pub fn load_session(run: &RunDir, device: Option<&str>) -> Result<(Session, u64)> {
    let mut session = fresh_session(run, device)?;
    let path = run.checkpoint();
    let file = TensorFile::load(&path)?;
    file.check_finite(&path)?;
    let state = crate::run::checkpoint::CheckpointState::read(&file)
        .with_context(|| format!("cannot restore {}", path.display()))?;
    run.verify_inputs(&state.inputs, state.step)?;
    let metrics = session
        .restore(&file)
        .with_context(|| format!("cannot restore {}", path.display()))?;
    Ok((session, metrics))
}

/// The session of an existing run folder at step 0: its saved config and split, fresh state,
/// on `device` (default: the saved one).
fn fresh_session(run: &RunDir, device: Option<&str>) -> Result<Session> {
    let mut config = run.read_config()?;
    if let Some(d) = device {
        config.train.device = d.to_string();
        config.validate()?;
    }
    let data = RunData::prepare(&config, Some(run.read_split()?))?;
    Session::new(&config, data)
}

/// Moves the metrics of an attempt that left no checkpoint aside (`metrics.lost.jsonl`), so
/// that starting over loses nothing logged; returns the words that say so, or nothing.
fn keep_lost_metrics(run: &RunDir) -> Result<String> {
    let path = run.metrics();
    let lines = std::fs::read_to_string(&path).map_or(0, |t| t.lines().count());
    if lines == 0 {
        return Ok(String::new());
    }
    let aside = run.dir.join("metrics.lost.jsonl");
    std::fs::rename(&path, &aside)
        .with_context(|| format!("cannot move {} aside", path.display()))?;
    Ok(format!(
        "; the {lines} line(s) logged before are kept in {}",
        aside.display()
    ))
}

/// Reduced MPL reuses its teacher run's labeled split; other methods draw their own.
fn teacher_split(config: &Config) -> Result<Option<crate::run::SplitRecord>> {
    if methods::needs(config).teacher != TeacherKind::ReducedOverCachedLogits {
        return Ok(None);
    }
    let teacher = RunDir {
        dir: config.reduced_mpl.teacher_run.clone().into(),
    };
    teacher
        .read_split()
        .map(Some)
        .context("reduced_mpl.teacher_run must be a trained run folder")
}

/// An error when `run` already holds a run: a new one must not mix its files with it.
fn refuse_existing_run(run: &RunDir) -> Result<()> {
    if run.config().exists() {
        bail!(
            "{} already holds a run: continue it with `metapseudo train --resume {}` or choose another --out",
            run.dir.display(),
            run.dir.display()
        );
    }
    Ok(())
}

/// Trains `config` in `run` (a new folder), or, without a config, continues the run there.
/// The folder is locked for the duration: a second writer is refused.
pub fn train(config: Option<&Config>, run: &RunDir, opts: &TrainOptions) -> Result<Outcome> {
    let lock: RunLock;
    let (mut session, metrics_bytes) = match config {
        Some(config) => {
            methods::check(config)?;
            refuse_existing_run(run)?;
            let machine = crate::config::machine::Machine::this();
            config.check_machine(&machine)?;
            let data = RunData::prepare(config, teacher_split(config)?)?;
            config.check_fits(&machine, data.dataset.dim(), data.dataset.num_classes())?;
            let missing = data.dataset.classes_missing_from_test();
            if !missing.is_empty() && !opts.quiet {
                eprintln!(
                    "warning: the {} split has no sample of class {}: its accuracy there cannot be measured",
                    config.data.eval_split(),
                    missing.join(", ")
                );
            }
            let preprocess = crate::run::Preprocess::of(&data, config);
            // The session (its device above all) is set up before the folder exists, so a run
            // that cannot start leaves nothing behind.
            let session = Session::new(config, data)?;
            std::fs::create_dir_all(&run.dir)
                .with_context(|| format!("cannot create run folder {}", run.dir.display()))?;
            lock = RunLock::acquire(&run.dir, "training")?;
            // Checked again under the lock: another process may have started a run here.
            refuse_existing_run(run)?;
            let written = (|| -> Result<()> {
                write_atomic(&run.config(), config.to_toml().as_bytes())?;
                write_atomic(
                    &run.split(),
                    serde_json::to_string_pretty(&session.data.split)?.as_bytes(),
                )?;
                run.save_preprocess(&preprocess)
            })();
            if written.is_err() {
                // A full disk must not leave a folder that is neither a run nor free.
                for path in [run.config(), run.split(), run.preprocess()] {
                    let _ = std::fs::remove_file(path);
                }
            }
            written?;
            (session, 0)
        }
        None if run.checkpoint().exists() => {
            lock = RunLock::acquire(&run.dir, "training")?;
            load_session(run, opts.device.as_deref())?
        }
        // Killed before its first checkpoint (or the checkpoint was deleted): start the same
        // run again from step 0, keeping what the lost attempt logged.
        None => {
            lock = RunLock::acquire(&run.dir, "training")?;
            let kept = keep_lost_metrics(run)?;
            eprintln!(
                "note: {} has no checkpoint (the run stopped before its first, or it was deleted): the run starts again from step 0{kept}",
                run.dir.display()
            );
            (fresh_session(run, opts.device.as_deref())?, 0)
        }
    };
    if session.step == 0
        && let Some(init) = &opts.init
    {
        init.apply(&mut session)?;
    }
    let _lock = lock;
    let mut metrics = MetricsLog::open(&run.metrics(), Some((metrics_bytes, session.step)))?;
    run_loop(&mut session, run, &mut metrics, opts)
}

/// What to do about a run that diverged.
const LOWER_RATES: &str = "Lower the learning rates or clip gradients (--set teacher_optim.clip_norm=5 --set student_optim.clip_norm=5)";

fn run_loop(
    s: &mut Session,
    run: &RunDir,
    metrics: &mut MetricsLog,
    opts: &TrainOptions,
) -> Result<Outcome> {
    let total = s.config.train.steps;
    let t = s.config.train.clone();
    let started = Instant::now();
    let elapsed = |s: &Session| s.elapsed_before + started.elapsed().as_secs_f64();
    let per_epoch = s.steps_per_epoch() as f64;
    let mut pb = Progress::new(total, s.step, opts.quiet);
    let mut events = if s.config.output.tensorboard {
        Some(EventLog::create(&run.dir)?)
    } else {
        None
    };
    let mut last_checkpoint: Option<u64> = run.checkpoint().exists().then_some(s.step);
    let mut clock = super::interrupt::CheckpointClock::new(t.checkpoint_minutes);
    let inputs = run.input_checksums()?;
    let kept = |last: Option<u64>| match last {
        Some(c) => format!(
            "the last good checkpoint (step {c}) is kept in {}",
            run.checkpoint().display()
        ),
        None => "no checkpoint had been written yet".to_string(),
    };
    if s.step == 0 {
        // The starting model is the first candidate for the best checkpoint.
        s.check_validation();
    }
    while s.step < total {
        let scalars = s.step_once();
        let step = s.step;
        let interrupted = super::interrupt::requested();
        let mut stop_here = opts.stop_at == Some(step) || interrupted;
        let now = Instant::now();
        let checkpoint_here = stop_here
            || step == total
            || (t.checkpoint_every > 0 && step.is_multiple_of(t.checkpoint_every))
            || clock.due(now);
        let eval_here = step == total || (t.eval_every > 0 && step.is_multiple_of(t.eval_every));
        let log_here = step.is_multiple_of(t.log_every) || eval_here;
        if log_here || checkpoint_here {
            let values = read_scalars(&scalars);
            if let Some((name, v)) = non_finite_loss(&values) {
                pb.finish();
                bail!(
                    "training stopped at step {step}: loss term '{name}' is {v}; {}. {LOWER_RATES}",
                    kept(last_checkpoint)
                );
            }
            if log_here {
                let mut fields: Vec<(String, f64)> =
                    values.iter().map(|(k, v)| (k.to_string(), *v)).collect();
                if eval_here {
                    let reported = s.config.train.report.to_string();
                    for (name, e) in s.evaluate_all() {
                        if name == reported
                            && let Some(hook) = &opts.on_eval
                        {
                            stop_here |= (hook.0)(step, e.accuracy);
                        }
                        fields.push((format!("eval/{name}/accuracy"), e.accuracy));
                        if let Some((_, ratio)) = e.least_predicted() {
                            fields.push((format!("eval/{name}/least_predicted_ratio"), ratio));
                        }
                    }
                    if let Some(v) = s.check_validation() {
                        fields.push(("eval/validation/accuracy".into(), v.accuracy));
                        fields.push(("eval/validation/loss".into(), v.loss));
                    }
                }
                let refs: Vec<(&str, f64)> = fields.iter().map(|(k, v)| (k.as_str(), *v)).collect();
                metrics.write(step, step as f64 / per_epoch, &refs)?;
                if let Some(ev) = &mut events {
                    ev.write(step, &refs)?;
                }
                pb.set_message(super::progress::headline_losses(&values));
            }
        }
        if checkpoint_here || stop_here {
            let f = s.checkpoint(metrics.bytes_written()?, elapsed(s), &inputs)?;
            // The loss was finite before the update; the updated weights need not be.
            let bad = f.non_finite();
            if !bad.is_empty() {
                pb.finish();
                bail!(
                    "training stopped at step {step}: {} tensor(s) of the networks or their optimisers became non-finite (first: {}); {}. {LOWER_RATES}",
                    bad.len(),
                    bad[0],
                    kept(last_checkpoint)
                );
            }
            f.save(&run.checkpoint())?;
            last_checkpoint = Some(step);
            clock.written(now);
        }
        pb.set_position(step);
        if stop_here && step < total {
            pb.finish();
            return Ok(Outcome::Stopped { step, interrupted });
        }
    }
    pb.finish();
    if !opts.quiet {
        eprintln!(
            "evaluating {} model(s) on the {} split ...",
            s.models().len(),
            s.config.data.eval_split()
        );
    }
    let summary = s.summary(elapsed(s));
    summary.save(&run.summary())?;
    Ok(Outcome::Finished(Box::new(summary)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::export_tensors;

    #[test]
    fn role_playing_swaps_networks_with_their_optimisers_and_keeps_their_names() {
        let sets = [
            "method=\"mpl\"",
            "mpl.role_swap=\"3\"",
            "student_optim.wait_steps=100",
        ];
        let config = crate::config::layers::ConfigLayers::resolve_with(None, &sets).unwrap();
        let mut s = Session::new(&config, RunData::prepare(&config, None).unwrap()).unwrap();
        let waiting = s.ctx.student.stepper.schedule.clone();
        let named = |s: &Session| {
            let (student, teacher) = s.named_learners();
            (
                export_tensors(&student.model),
                export_tensors(&teacher.unwrap().model),
            )
        };
        for step in 1..=7u64 {
            s.step_once();
            let swapped = (step / 3) % 2 == 1;
            assert_eq!(s.swapped, swapped, "step {step}");
            // The waiting schedule travels with the network named `student`.
            let student_slot = if swapped {
                s.ctx.teacher.as_ref().unwrap()
            } else {
                &s.ctx.student
            };
            assert_eq!(student_slot.stepper.schedule, waiting, "step {step}");
            let (student, teacher) = named(&s);
            assert_eq!(student, export_tensors(&student_slot.model));
            assert_ne!(student, teacher);
        }
        // Waiting at lr 0 in both roles, the network named `student` has not moved.
        let fresh = Session::new(&config, RunData::prepare(&config, None).unwrap()).unwrap();
        assert_eq!(named(&s).0, export_tensors(&fresh.ctx.student.model));
    }

    #[test]
    fn only_pseudo_label_students_wait_for_a_teacher() {
        let mut config = Config::default();
        config.student_optim.wait_steps = 10;
        for (method, wait) in [
            ("mpl", 10),
            ("smpl", 10),
            ("reduced-mpl", 10),
            ("supervised", 0),
            ("uda", 0),
            ("pseudo-label", 0),
        ] {
            config.method = method.parse().unwrap();
            assert_eq!(student_optim(&config).wait_steps, wait, "{method}");
        }
    }
}
