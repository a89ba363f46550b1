//! Meta Pseudo Labels (Pham et al., CVPR 2021), in the first-order form of docs/methods.md.

use super::align::Alignment;
use super::common::{UdaTerms, forward_three};
use super::{
    Inputs, Method, MethodName, MethodSpec, Needs, Scalar, Scalars, StatePart, TeacherKind,
};
use super::{TensorBatch, TrainContext};
use crate::config::{Config, FeedbackSign, StudentTargetName};
use crate::losses::{argmax, cross_entropy, smoothed_one_hot, soft_cross_entropy};
use anyhow::{Context, Result};
use burn::tensor::Tensor;
use burn::tensor::activation::softmax;
use serde::{Deserialize, Serialize};

/// The teacher's feedback signal `h` from the student's labeled loss before and after its step,
/// with the configured sign and optional moving-average baseline.
#[derive(Clone, Debug)]
pub struct Feedback {
    new_minus_old: bool,
    decay: f64,
    baseline: Option<Tensor<1>>,
}

/// What [`Feedback::signal`] computed, for logging.
pub struct FeedbackTerms {
    /// `h` after the baseline, detached.
    pub h: Tensor<1>,
    /// `h` before the baseline.
    pub h_raw: Tensor<1>,
    /// The baseline before this step's update (0 when off).
    pub baseline: Option<Tensor<1>>,
}

#[derive(Serialize, Deserialize)]
struct FeedbackState {
    baseline: Option<f32>,
}

impl Feedback {
    /// From `mpl.sign` and `mpl.baseline_decay`.
    pub fn new(config: &Config) -> Self {
        Self {
            new_minus_old: config.mpl.sign == FeedbackSign::NewMinusOld,
            decay: config.mpl.baseline_decay,
            baseline: None,
        }
    }

    /// `h = ±(new - old)`, minus the moving baseline `b` when enabled; then
    /// `b <- b + (1 - decay) (h_raw - b)`.
    pub fn signal(&mut self, old: Tensor<1>, new: Tensor<1>) -> FeedbackTerms {
        let h_raw = if self.new_minus_old {
            new - old
        } else {
            old - new
        }
        .detach();
        if self.decay == 0.0 {
            return FeedbackTerms {
                h: h_raw.clone(),
                h_raw,
                baseline: None,
            };
        }
        let b = self.baseline.take().unwrap_or_else(|| h_raw.zeros_like());
        let h = h_raw.clone() - b.clone();
        self.baseline = Some(b.clone() + (h_raw.clone() - b.clone()).mul_scalar(1.0 - self.decay));
        FeedbackTerms {
            h,
            h_raw,
            baseline: Some(b),
        }
    }

    /// Logs the signal.
    pub fn log(&self, terms: &FeedbackTerms, old: Tensor<1>, new: Tensor<1>, out: &mut Scalars) {
        out.push(("mpl/old", Scalar::tensor(old)));
        out.push(("mpl/new", Scalar::tensor(new)));
        out.push(("mpl/h", Scalar::tensor(terms.h.clone())));
        out.push(("mpl/h_raw", Scalar::tensor(terms.h_raw.clone())));
        if let Some(b) = &terms.baseline {
            out.push(("mpl/baseline", Scalar::tensor(b.clone())));
        }
    }
}

impl StatePart for Feedback {
    /// The baseline for checkpoints.
    fn save(&self) -> serde_json::Value {
        let baseline = self.baseline.clone().map(|b| b.into_scalar::<f32>());
        serde_json::to_value(FeedbackState { baseline }).expect("plain state serialises")
    }

    /// Restores the baseline on `device`.
    fn load(&mut self, state: &serde_json::Value, device: &burn::tensor::Device) -> Result<()> {
        let s: FeedbackState =
            serde_json::from_value(state.clone()).context("checkpoint: bad MPL baseline state")?;
        self.baseline = s
            .baseline
            .map(|b| Tensor::from_data(burn::tensor::TensorData::new(vec![b], [1]), device));
        Ok(())
    }
}

/// The teacher's objective `L_sup + w(t) L_uda + sg(h) * mpl_ce`; returns the MPL term and the
/// total. MPL applies it to the teacher, SMPL to its second (teacher-role) step.
pub fn teacher_objective(
    uda: &UdaTerms,
    mpl_ce: &Tensor<1>,
    fb: &FeedbackTerms,
) -> (Tensor<1>, Tensor<1>) {
    let mpl_loss = mpl_ce.clone() * fb.h.clone();
    let total = uda.total() + mpl_loss.clone();
    (mpl_loss, total)
}

/// Which pseudo label the student learns from, and the matching teacher MPL term.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StudentTarget {
    /// `argmax` of the teacher on the strong view (default).
    HardStrong,
    /// `argmax` of the teacher on the weak view.
    HardWeak,
    /// `softmax` of the teacher on the strong view: the MPL term then has zero gradient.
    Soft,
}

impl StudentTarget {
    /// From `mpl.student_target`.
    pub fn from_config(config: &Config) -> Self {
        match config.mpl.student_target {
            StudentTargetName::HardStrong => StudentTarget::HardStrong,
            StudentTargetName::HardWeak => StudentTarget::HardWeak,
            StudentTargetName::Soft => StudentTarget::Soft,
        }
    }

    /// The student's loss on `student_strong` against the teacher's logits (`weak_targets`: the
    /// teacher's weak-view logits after any distribution alignment).
    pub fn student_loss(
        self,
        student_strong: Tensor<2>,
        weak_targets: &Tensor<2>,
        teacher_strong: &Tensor<2>,
        ls: f64,
    ) -> Tensor<1> {
        let classes = student_strong.dims()[1];
        let target = match self {
            StudentTarget::HardStrong => {
                smoothed_one_hot(argmax(teacher_strong.clone().detach()), classes, ls)
            }
            StudentTarget::HardWeak => {
                smoothed_one_hot(argmax(weak_targets.clone().detach()), classes, ls)
            }
            StudentTarget::Soft => softmax(teacher_strong.clone().detach(), 1),
        };
        soft_cross_entropy(student_strong, target)
    }

    /// The teacher's cross entropy that `h` multiplies: against its own hard label on the view
    /// the student learned from, or, for soft targets, against its own detached softmax (whose
    /// gradient is zero). `weak_targets` gives the weak view's label, as in
    /// [`StudentTarget::student_loss`].
    pub fn teacher_term(
        self,
        teacher_weak: &Tensor<2>,
        weak_targets: &Tensor<2>,
        teacher_strong: &Tensor<2>,
    ) -> Tensor<1> {
        match self {
            StudentTarget::HardStrong => cross_entropy(
                teacher_strong.clone(),
                argmax(teacher_strong.clone().detach()),
                0.0,
            ),
            StudentTarget::HardWeak => cross_entropy(
                teacher_weak.clone(),
                argmax(weak_targets.clone().detach()),
                0.0,
            ),
            StudentTarget::Soft => soft_cross_entropy(
                teacher_strong.clone(),
                softmax(teacher_strong.clone().detach(), 1),
            ),
        }
    }
}

/// MPL's registry entry.
pub const SPEC: MethodSpec = MethodSpec {
    name: MethodName::Mpl,
    about: "A teacher that learns from its student's feedback on the labeled batch, and a student that learns only from the teacher's pseudo labels; two networks, about twice UDA's step; the papers' best results at scale.",
    needs: Needs {
        teacher: TeacherKind::SameArchitecture,
        unlabeled: true,
        student_waits: true,
        consistency: true,
        student_target: true,
        role_swap: true,
        ..Needs::ONE_NETWORK
    },
    build: |config, inputs| Ok(Box::new(Mpl::new(config, inputs))),
};

/// Meta Pseudo Labels: a teacher (UDA + MPL feedback) and a student that learns only from the
/// teacher's pseudo labels.
pub struct Mpl {
    config: Config,
    target: StudentTarget,
    feedback: Feedback,
    align: Alignment,
    /// Role-playing: steps between swaps of teacher and student (`mpl.role_swap`).
    swap_every: Option<u64>,
}

impl Mpl {
    /// The method with the run's options.
    pub fn new(config: &Config, inputs: Inputs) -> Self {
        Self {
            config: config.clone(),
            target: StudentTarget::from_config(config),
            feedback: Feedback::new(config),
            align: Alignment::new(config, inputs.labeled_prior),
            swap_every: config.mpl.role_swap.every(inputs.steps_per_epoch),
        }
    }
}

impl Mpl {
    /// One MPL step where the teacher reads `teacher_in` (the batch itself, or Reduced MPL's
    /// cached logits of the same examples) and the student reads `b`.
    pub fn step_with(
        &mut self,
        ctx: &mut TrainContext,
        teacher_in: &TensorBatch,
        b: &TensorBatch,
        step: u64,
    ) -> Scalars {
        let ls = self.config.train.label_smoothing;
        let teacher = ctx.teacher.as_mut().expect("MPL runs with a teacher");
        let t = forward_three(&teacher.model, teacher_in);
        let weak_targets = self.align.targets(&t.weak);
        let uda = UdaTerms::new(&t, &weak_targets, teacher_in, &self.config, step);

        let nl = b.num_labeled();
        let nu = b.num_unlabeled();
        let s = ctx
            .student
            .model
            .forward(Tensor::cat(vec![b.x_l.clone(), b.x_us.clone()], 0));
        let s_l = s.clone().narrow(0, 0, nl);
        let s_us = s.narrow(0, nl, nu);
        let old = b.supervised_loss(s_l.detach(), 0.0);
        let student_loss = self.target.student_loss(s_us, &weak_targets, &t.strong, ls);
        let lr_student = ctx.student.update(&student_loss, step);

        let new = b.supervised_loss(ctx.student.model.forward(b.x_l.clone()).detach(), 0.0);
        let fb = self.feedback.signal(old.clone(), new.clone());
        let mpl = self.target.teacher_term(&t.weak, &weak_targets, &t.strong);
        let (mpl_loss, teacher_loss) = teacher_objective(&uda, &mpl, &fb);
        let lr_teacher = teacher.update(&teacher_loss, step);

        let mut out = Scalars::new();
        uda.log(&mut out, "loss/teacher_sup", "loss/teacher_uda");
        out.push(("loss/teacher_mpl", Scalar::tensor(mpl_loss)));
        out.push(("loss/teacher_mpl_ce", Scalar::tensor(mpl)));
        out.push(("loss/teacher", Scalar::tensor(teacher_loss)));
        out.push(("loss/student", Scalar::tensor(student_loss)));
        self.feedback.log(&fb, old, new, &mut out);
        out.push(("lr/teacher", Scalar::Value(lr_teacher)));
        out.push(("lr/student", Scalar::Value(lr_student)));
        self.align.log(&mut out);
        out
    }
}

impl Method for Mpl {
    fn step(&mut self, ctx: &mut TrainContext, b: &TensorBatch, step: u64) -> Scalars {
        self.step_with(ctx, b, b, step)
    }

    fn state_parts(&mut self) -> Vec<&mut dyn StatePart> {
        vec![&mut self.feedback, &mut self.align]
    }

    fn role_swap_every(&self) -> Option<u64> {
        self.swap_every
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    /// The gradient of `h * teacher_term` with respect to the teacher's strong-view logits.
    fn mpl_gradient(target: StudentTarget) -> Vec<f32> {
        let d = Device::flex().autodiff();
        let values = vec![1.5f32, -0.3, 0.2, 0.1, 0.9, -1.2];
        let strong =
            Tensor::<2>::from_data(TensorData::new(values.clone(), [2, 3]), &d).require_grad();
        let weak = Tensor::<2>::from_data(TensorData::new(values, [2, 3]), &d);
        let h = 0.7;
        let loss = target.teacher_term(&weak, &weak, &strong).mul_scalar(h);
        let grads = loss.backward();
        strong
            .grad(&grads)
            .unwrap()
            .into_data()
            .try_into_vec()
            .unwrap()
    }

    #[test]
    fn soft_targets_give_the_teacher_no_mpl_signal() {
        let soft = mpl_gradient(StudentTarget::Soft);
        assert!(soft.iter().all(|g| g.abs() < 1e-6), "soft: {soft:?}");
        let hard = mpl_gradient(StudentTarget::HardStrong);
        assert!(hard.iter().any(|g| g.abs() > 0.01), "hard: {hard:?}");
    }
}
