//! The methods of the family, one file each, and their registry.
//!
//! A method's file declares a [`MethodSpec`]: what it needs from the training loop
//! ([`Needs`]) and how to build it. The loop asks the registry ([`spec`]); nothing outside this
//! module compares a method's name. A method implements one [`Method::step`] over the shared
//! [`TrainContext`] and owns the rest of its state (SMPL's self-teacher optimiser, distribution
//! alignment, MPL's role swapping); schedules, EMA, logging, checkpoints and evaluation live
//! in the loop. `docs/methods.md` describes each method and its options.
//!
//! Adding a method: a file here with its `SPEC`, a variant of [`MethodName`], and one line in
//! [`REGISTRY`].

pub mod align;
pub mod common;
pub mod context;
pub mod metasemi;
pub mod mpl;
pub mod pseudo_label;
pub mod reduced_mpl;
pub mod smpl;
pub mod supervised;
pub mod uda;

pub use crate::config::MethodName;
pub use context::{Learner, Stepper, TensorBatch, TrainContext};

use crate::config::{Config, RoleSwap, StudentTargetName, UnlabeledLoss};
use crate::optim::Sgd;
use anyhow::{Result, bail};
use burn::tensor::{Device, Tensor};
use reduced_mpl::TeacherLogits;

/// A logged value: a device scalar read lazily at logging time, or a host number.
#[derive(Clone, Debug)]
pub enum Scalar {
    /// A one-element tensor (read only when the step is logged).
    Tensor(Box<Tensor<1>>),
    /// A value already on the host.
    Value(f64),
}

impl Scalar {
    /// A lazily read device scalar.
    pub fn tensor(t: Tensor<1>) -> Self {
        Scalar::Tensor(Box::new(t))
    }
}

/// The named scalars of one step. Names starting with `loss/` are loss terms and are checked
/// for NaN/inf.
pub type Scalars = Vec<(&'static str, Scalar)>;

/// Reads a step's scalars to host numbers, in order.
pub fn read_scalars(scalars: &Scalars) -> Vec<(&'static str, f64)> {
    scalars
        .iter()
        .map(|(name, s)| {
            let v = match s {
                Scalar::Value(v) => *v,
                Scalar::Tensor(t) => f64::from((**t).clone().into_scalar::<f32>()),
            };
            (*name, v)
        })
        .collect()
}

/// The first loss term that is NaN or infinite, if any.
pub fn non_finite_loss(values: &[(&'static str, f64)]) -> Option<(&'static str, f64)> {
    values
        .iter()
        .find(|(name, v)| name.starts_with("loss/") && !v.is_finite())
        .copied()
}

/// One training algorithm.
pub trait Method {
    /// Performs one training step (0-based `step`) and returns what to log.
    fn step(&mut self, ctx: &mut TrainContext, batch: &TensorBatch, step: u64) -> Scalars;

    /// The parts of its state that checkpoints keep (distribution alignment, MPL's moving
    /// baseline); their saved fields sit side by side in one JSON object.
    fn state_parts(&mut self) -> Vec<&mut dyn StatePart> {
        Vec::new()
    }

    /// Optimisers the method owns besides the networks' (SMPL's teacher-role step), by the
    /// name their state is checkpointed under.
    fn own_optimisers(&mut self) -> Vec<(&'static str, &mut Sgd)> {
        Vec::new()
    }

    /// Role-playing: steps between swaps of the teacher and student networks, `None` when
    /// the roles stay fixed.
    fn role_swap_every(&self) -> Option<u64> {
        None
    }
}

/// A piece of a method's state that checkpoints keep.
pub trait StatePart {
    /// The state as JSON fields of its own.
    fn save(&self) -> serde_json::Value;

    /// Restores it from the fields [`StatePart::save`] wrote (other parts' fields ignored).
    fn load(&mut self, state: &serde_json::Value, device: &Device) -> Result<()>;
}

/// The method's checkpoint state: its parts' fields in one object.
pub fn save_state(method: &mut dyn Method) -> serde_json::Value {
    common::merge_states(method.state_parts().into_iter().map(|p| p.save()))
}

/// Restores what [`save_state`] wrote.
pub fn load_state(
    method: &mut dyn Method,
    state: &serde_json::Value,
    device: &Device,
) -> Result<()> {
    for part in method.state_parts() {
        part.load(state, device)?;
    }
    Ok(())
}

/// Which teacher network the loop builds for a method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TeacherKind {
    /// One network only (the student).
    None,
    /// A teacher of the run's architecture, trained beside the student.
    SameArchitecture,
    /// A small teacher over a trained run's cached logits (Reduced MPL).
    ReducedOverCachedLogits,
}

/// What a method needs from the training loop, declared in the method's own file.
#[derive(Clone, Copy, Debug)]
pub struct Needs {
    /// The teacher network the loop builds.
    pub teacher: TeacherKind,
    /// Whether the method keeps a second optimiser over the student's own weights (SMPL).
    pub self_teacher: bool,
    /// Whether it reads unlabeled batches (`train.mu` of them per labeled sample).
    pub unlabeled: bool,
    /// Whether the student learns from a teacher's pseudo labels and so waits for it
    /// (`student_optim.wait_steps`).
    pub student_waits: bool,
    /// Whether `uda.unlabeled_loss` shapes a loss it computes (named in the run's label).
    pub consistency: bool,
    /// Whether `mpl.student_target` shapes its student's loss (named in the run's label).
    pub student_target: bool,
    /// Whether it can swap the roles of teacher and student (`mpl.role_swap`).
    pub role_swap: bool,
}

impl Needs {
    /// One network that learns from labeled batches only and waits for nothing: the base
    /// each method's declaration changes.
    pub const ONE_NETWORK: Needs = Needs {
        teacher: TeacherKind::None,
        self_teacher: false,
        unlabeled: false,
        student_waits: false,
        consistency: false,
        student_target: false,
        role_swap: false,
    };
}

/// What the loop hands a method when it builds it.
pub struct Inputs {
    /// Reduced MPL: the large teacher's logits over the training pool.
    pub teacher_logits: Option<TeacherLogits>,
    /// Each class's share of the labeled samples (distribution alignment's target).
    pub labeled_prior: Vec<f32>,
    /// Steps in one reporting epoch (what `mpl.role_swap = "epoch"` means).
    pub steps_per_epoch: u64,
}

/// A method's entry in the registry.
pub struct MethodSpec {
    /// Its name.
    pub name: MethodName,
    /// One line: what it does, what it costs, when to choose it.
    pub about: &'static str,
    /// What it needs from the loop.
    pub needs: Needs,
    /// Builds the method for a run.
    pub build: fn(&Config, Inputs) -> Result<Box<dyn Method>>,
}

/// Every method, one line each.
pub const REGISTRY: &[&MethodSpec] = &[
    &supervised::SPEC,
    &pseudo_label::SPEC,
    &uda::SPEC,
    &mpl::SPEC,
    &smpl::SPEC,
    &metasemi::SPEC,
    &reduced_mpl::SPEC,
];

/// The registry entry of `name`.
pub fn spec(name: MethodName) -> &'static MethodSpec {
    REGISTRY
        .iter()
        .find(|s| s.name == name)
        .expect("every method name has a registry entry")
}

/// What the method of `config` needs from the loop.
pub fn needs(config: &Config) -> Needs {
    spec(config.method).needs
}

/// Builds the method `config.method` names.
pub fn build(config: &Config, inputs: Inputs) -> Result<Box<dyn Method>> {
    (spec(config.method).build)(config, inputs)
}

/// Checks the options that depend on the method (a teacher to report, unlabeled batches, a
/// role swap, Reduced MPL's teacher run), naming the option at fault.
pub fn check(config: &Config) -> Result<()> {
    let needs = needs(config);
    let method = config.method;
    if needs.unlabeled && config.train.mu == 0 {
        bail!("train.mu must be at least 1 for semi-supervised methods");
    }
    if matches!(config.train.report.as_str(), "teacher" | "ensemble")
        && needs.teacher != TeacherKind::SameArchitecture
    {
        bail!(
            "train.report = '{}' needs a method with a teacher (mpl); '{method}' trains one model",
            config.train.report
        );
    }
    if needs.teacher == TeacherKind::ReducedOverCachedLogits
        && config.reduced_mpl.teacher_run.is_empty()
    {
        bail!(
            "--method {method} needs a trained teacher run: --teacher-run DIR (reduced_mpl.teacher_run)"
        );
    }
    if config.mpl.role_swap != RoleSwap::Off && !needs.role_swap {
        bail!(
            "mpl.role_swap = '{}' swaps a teacher and a student: it needs --method mpl, not '{method}'",
            config.mpl.role_swap
        );
    }
    Ok(())
}

/// Settings that are valid but almost certainly not what the user meant, one sentence each:
/// a student that waits past the end of the run, and the configuration's own
/// ([`Config::warnings`]).
pub fn warnings(config: &Config) -> Vec<String> {
    let mut out = Vec::new();
    if needs(config).student_waits && config.student_optim.wait_steps >= config.train.steps {
        out.push(format!(
            "the student waits {} steps (student_optim.wait_steps) but the run has only {}: it will not train; lower the wait with --set student_optim.wait_steps=N",
            config.student_optim.wait_steps, config.train.steps
        ));
    }
    out.extend(config.warnings());
    out
}

/// The run's variant, for its label: role swapping (every `swap_every` steps), cosine
/// consistency and the student's target, each only where the method uses it.
pub fn variant(config: &Config, swap_every: Option<u64>) -> String {
    let needs = needs(config);
    let mut parts = Vec::new();
    if let Some(n) = swap_every {
        parts.push(format!("role-swap {n}"));
    }
    if needs.consistency && config.uda.unlabeled_loss != UnlabeledLoss::Ce {
        parts.push(config.uda.unlabeled_loss.to_string());
    }
    if needs.student_target && config.mpl.student_target != StudentTargetName::HardStrong {
        parts.push(format!("target {}", config.mpl.student_target));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_non_finite_loss_term_is_found() {
        assert_eq!(
            non_finite_loss(&[("mpl/h", f64::NAN), ("loss/x", f64::INFINITY)]),
            Some(("loss/x", f64::INFINITY))
        );
    }

    #[test]
    fn every_method_name_has_one_registry_entry() {
        for name in MethodName::ALL {
            let entries = REGISTRY.iter().filter(|s| s.name == *name).count();
            assert_eq!(entries, 1, "{name}");
        }
        assert_eq!(REGISTRY.len(), MethodName::ALL.len());
    }

    #[test]
    fn an_unknown_method_is_an_error_listing_the_valid_ones() {
        let e = "fixmatch".parse::<MethodName>().unwrap_err();
        assert!(
            e.contains("unknown method 'fixmatch'") && e.contains("reduced-mpl"),
            "{e}"
        );
        let e = crate::config::layers::ConfigLayers::resolve_with(None, &["method=\"mlp\""])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown method 'mlp'") && e.contains("smpl"),
            "{e}"
        );
    }

    #[test]
    fn the_student_target_labels_only_methods_that_read_it() {
        let mut c = Config::default();
        c.mpl.student_target = StudentTargetName::HardWeak;
        for (method, label) in [
            ("mpl", "target hard-weak"),
            ("reduced-mpl", "target hard-weak"),
            ("smpl", ""),
            ("uda", ""),
        ] {
            c.method = method.parse().unwrap();
            assert_eq!(variant(&c, None), label, "{method}");
        }
        c.method = MethodName::Mpl;
        c.uda.unlabeled_loss = UnlabeledLoss::Cosine;
        assert_eq!(
            variant(&c, Some(500)),
            "role-swap 500, cosine, target hard-weak"
        );
    }

    #[test]
    fn settings_that_cannot_act_are_warned_about() {
        let mut c = Config {
            method: MethodName::Mpl,
            ..Config::default()
        };
        c.train.steps = 1000;
        c.student_optim.wait_steps = 300;
        assert!(warnings(&c).is_empty());
        c.student_optim.wait_steps = 1000;
        let w = warnings(&c);
        assert!(
            w.len() == 1 && w[0].contains("student_optim.wait_steps"),
            "{w:?}"
        );
        c.student_optim.wait_steps = 0;
        c.student_optim.schedule = crate::config::ScheduleKind::Step;
        c.student_optim.decay_at = vec![500, 1000, 2000];
        let w = warnings(&c);
        assert!(
            w.len() == 1 && w[0].contains("student_optim.decay_at") && w[0].contains("1000, 2000"),
            "{w:?}"
        );
        c.student_optim.decay_at = vec![500, 999];
        assert!(warnings(&c).is_empty());
    }
}
