//! Self Meta Pseudo Labels (Ng & Wang, 2022): one network in both roles, two steps per batch.

use super::align::Alignment;
use super::common::{UdaTerms, forward_three};
use super::mpl::{Feedback, StudentTarget, teacher_objective};
use super::{Inputs, Method, MethodName, MethodSpec, Needs, Scalar, Scalars, StatePart, Stepper};
use super::{TensorBatch, TrainContext};
use crate::config::{Config, ViewName};
use crate::losses::{argmax, cross_entropy, pseudo_label_loss};
use crate::optim::Sgd;

/// Step 1 learns from the model's own hard pseudo labels (student optimiser, `eta1`; with
/// `smpl.threshold`, only the confident ones; `smpl.step1_label_smoothing` smooths them); step
/// 2, with fresh gradients, applies the teacher's loss with the MPL feedback to the updated
/// weights (teacher optimiser, `eta2`); its MPL term reads the strong view (the paper) or, with
/// `smpl.mpl_view = "weak"`, step 1's labels on the weak view.
pub struct Smpl {
    config: Config,
    feedback: Feedback,
    /// The second step's MPL term, MPL's teacher term for the view `smpl.mpl_view` names.
    mpl_term: StudentTarget,
    /// The optimiser of the teacher-role step over the model's own weights.
    self_teacher: Stepper,
    align: Alignment,
}

/// SMPL's registry entry.
pub const SPEC: MethodSpec = MethodSpec {
    name: MethodName::Smpl,
    about: "MPL's feedback with one network in both roles: two updates per batch, about MPL's cost with the memory of one model; often the best gain on a CPU.",
    needs: Needs {
        self_teacher: true,
        unlabeled: true,
        student_waits: true,
        consistency: true,
        ..Needs::ONE_NETWORK
    },
    build: |config, inputs| Ok(Box::new(Smpl::new(config, inputs))),
};

impl Smpl {
    /// The method with the run's options.
    pub fn new(config: &Config, inputs: Inputs) -> Self {
        Self {
            config: config.clone(),
            feedback: Feedback::new(config),
            mpl_term: match config.smpl.mpl_view {
                ViewName::Weak => StudentTarget::HardWeak,
                ViewName::Strong => StudentTarget::HardStrong,
            },
            self_teacher: Stepper::new(&config.teacher_optim, config.train.steps),
            align: Alignment::new(config, inputs.labeled_prior),
        }
    }
}

impl Method for Smpl {
    fn step(&mut self, ctx: &mut TrainContext, b: &TensorBatch, step: u64) -> Scalars {
        let v = forward_three(&ctx.student.model, b);
        let old = b.supervised_loss(v.labeled.detach(), 0.0);
        let targets = self.align.targets(&v.weak);
        let (threshold, ls) = (
            self.config.smpl.threshold,
            self.config.smpl.step1_label_smoothing,
        );
        let (step1_loss, mask_ratio) = if threshold > 0.0 {
            let masked = pseudo_label_loss(targets.clone(), v.strong, threshold, ls);
            (masked.loss, Some(masked.mask_ratio))
        } else {
            (cross_entropy(v.strong, argmax(targets.clone()), ls), None)
        };
        let lr1 = ctx.student.update(&step1_loss, step);

        let v2 = forward_three(&ctx.student.model, b);
        let new = b.supervised_loss(v2.labeled.clone().detach(), 0.0);
        let weak_targets = self.align.apply(&v2.weak);
        let uda = UdaTerms::new(&v2, &weak_targets, b, &self.config, step);
        let fb = self.feedback.signal(old.clone(), new.clone());
        // Step 1's label and weak view, or the updated model's own label on the strong view.
        let mpl = self.mpl_term.teacher_term(&v2.weak, &targets, &v2.strong);
        let (mpl_loss, step2_loss) = teacher_objective(&uda, &mpl, &fb);
        let (model, lr2) = self
            .self_teacher
            .apply(ctx.student.model.clone(), &step2_loss, step);
        ctx.student.model = model;

        let mut out = Scalars::new();
        out.push(("loss/step1", Scalar::tensor(step1_loss)));
        if let Some(ratio) = mask_ratio {
            out.push(("smpl/mask_ratio", Scalar::tensor(ratio)));
        }
        uda.log(&mut out, "loss/sup", "loss/uda");
        out.push(("loss/mpl", Scalar::tensor(mpl_loss)));
        out.push(("loss/mpl_ce", Scalar::tensor(mpl)));
        out.push(("loss/step2", Scalar::tensor(step2_loss)));
        self.feedback.log(&fb, old, new, &mut out);
        out.push(("lr/student", Scalar::Value(lr1)));
        out.push(("lr/teacher", Scalar::Value(lr2)));
        self.align.log(&mut out);
        out
    }

    fn state_parts(&mut self) -> Vec<&mut dyn StatePart> {
        vec![&mut self.feedback, &mut self.align]
    }

    fn own_optimisers(&mut self) -> Vec<(&'static str, &mut Sgd)> {
        vec![("self_teacher", &mut self.self_teacher.optim)]
    }
}
