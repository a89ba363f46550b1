//! The run configuration: every option with its documented default.
//!
//! The defaults are the reference MPL recipe (docs/methods.md). A preset
//! ([`presets`](crate::config::presets)), chosen from the data unless named, adapts them to the
//! data at hand (the two-moons preset is the paper's figure-1 recipe); a TOML file,
//! `--set key=value` and CLI flags override them in that order. The effective configuration is saved as
//! `config.toml` in every run folder.

pub mod choice;
pub mod layers;
pub mod machine;
pub mod options;
pub mod presets;
mod validate;

pub use choice::{
    Activation, Cifar100Label, CsvHeader, FeedbackSign, FinetuneFrom, InitScheme,
    MetasemiConsistency, MethodName, ModelName, Normalize, Padding, PresetName, ReportedModel,
    RoleSwap, ScheduleKind, StageTieRule, StudentTargetName, TieRule, UnlabeledLoss,
    ValidationSource, ViewName,
};

use metapseudo_data::DataSpec;
use metapseudo_data::augment::NoiseView;
use metapseudo_data::policy::PolicyName;
use serde::{Deserialize, Serialize};

/// The whole configuration of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Preset the defaults came from (`moons`, `digits`, `tabular`); recorded for the reader.
    pub preset: PresetName,
    /// Training method: `supervised`, `pseudo-label`, `uda`, `mpl`, `smpl`, `metasemi` or
    /// `reduced-mpl`.
    pub method: MethodName,
    /// Run seed: labeled subset, initialisation, batch order and augmentation.
    pub seed: u64,
    /// Data set and split.
    pub data: DataConfig,
    /// Views of unlabeled (and labeled) samples.
    pub augment: AugmentConfig,
    /// Network.
    pub model: ModelConfig,
    /// Loop length, batches, evaluation, checkpoints and EMA.
    pub train: TrainConfig,
    /// Optimiser and schedule of the teacher (and of SMPL's second, teacher-role step).
    pub teacher_optim: OptimConfig,
    /// Optimiser and schedule of the student (the single model of one-model methods, and SMPL's
    /// first step).
    pub student_optim: OptimConfig,
    /// Meta Pseudo Labels options (also used by SMPL).
    pub mpl: MplConfig,
    /// Self Meta Pseudo Labels options of its own (the rest it shares with MPL).
    pub smpl: SmplConfig,
    /// UDA consistency options (the teacher's own loss inside MPL, and the `uda` method).
    pub uda: UdaConfig,
    /// Threshold pseudo-labelling options.
    pub pseudo_label: PseudoLabelConfig,
    /// MetaSemi options.
    pub metasemi: MetasemiConfig,
    /// Reduced MPL options.
    pub reduced_mpl: ReducedMplConfig,
    /// The finetune stage after training (`train --finetune-steps`, `metapseudo finetune`).
    pub finetune: FinetuneConfig,
    /// What a run writes besides its metrics, checkpoints and summary.
    pub output: OutputConfig,
}

/// Data set and labeled split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// `moons`, `digits`, `csv:PATH`, `idx:DIR` (MNIST-style), `cifar10:DIR` or `cifar100:DIR`
    /// (the original binary batches), `svhn:DIR` (`.mat` files) or `folder:DIR` (JPEG/PNG
    /// images in one sub-folder per class).
    pub spec: DataSpec,
    /// Labeled samples per class (0: unset). Exactly one of the three label budgets is set.
    pub labels_per_class: usize,
    /// Labeled samples in total, spread evenly over classes (0: unset).
    pub labels: usize,
    /// Percentage of each class's samples that keep their label (0: unset).
    pub labels_percent: f64,
    /// Whether labeled samples are also in the unlabeled pool (the reference MPL code: yes).
    pub unlabeled_includes_labeled: bool,
    /// Feature normalisation fitted on the training pool: `standardize` or `none`.
    pub normalize: Normalize,
    /// Seed of generated data and of held-out test splits; independent of the run's `seed`.
    pub data_seed: u64,
    /// Two-moons training points.
    pub moons_train_size: usize,
    /// Two-moons test points.
    pub moons_test_size: usize,
    /// Two-moons coordinate noise (standard deviation).
    pub moons_noise: f64,
    /// CSV: label column (`last`, `first`, a 1-based number, or a header name).
    pub label_column: String,
    /// CSV: `auto` (detect), `yes` or `no`.
    pub header: CsvHeader,
    /// CSV: file with the test rows; empty to hold out `test_fraction` of the labeled rows.
    pub test_path: String,
    /// CSV: fraction of labeled rows held out as the test split when there is no test file.
    pub test_fraction: f64,
    /// CIFAR-100: `fine` (100 classes) or `coarse` (20 superclasses).
    pub cifar100_label: Cifar100Label,
    /// SVHN: add `extra_32x32.mat` to the training pool as unlabeled images.
    pub svhn_extra: bool,
    /// Image folders: side of the square images after resizing (0: the images' own size when
    /// they are square and at most 96 pixels, else 32).
    pub image_size: usize,
    /// Image folders: skip undecodable files with a warning instead of stopping.
    pub skip_bad_images: bool,
    /// Image folders: where to keep decoded images between runs (empty: nowhere; `auto`: a
    /// `.metapseudo-cache` folder inside the data folder; otherwise a folder path).
    pub cache_dir: String,
    /// Batch-making worker threads (0: on the training thread).
    pub workers: usize,
    /// Batches prepared ahead of training (bounds the memory of the pipeline).
    pub prefetch: usize,
    /// A development split: hold out this many labeled training samples per class (drawn with
    /// `data_seed`, taken out of the training pool) and evaluate on them in place of the test
    /// split, to choose options without looking at the test set (0: evaluate on test).
    pub dev_per_class: usize,
    /// Names of the classes, in label order, for reports, summaries and predictions (empty:
    /// the data set's own: folder names, the CIFAR and SVHN names, label numbers for IDX and
    /// CSV). Must name every class.
    pub class_names: Vec<String>,
}

impl DataConfig {
    /// The data specification, with ` [dev N/class]` when runs evaluate on a development split.
    pub fn label(&self) -> String {
        match self.dev_per_class {
            0 => self.spec.to_string(),
            n => metapseudo_data::dataset::dev_split_name(&self.spec.to_string(), n),
        }
    }

    /// The split runs are evaluated on: `test`, or `dev` with `dev_per_class`.
    pub fn eval_split(&self) -> &'static str {
        if self.dev_per_class > 0 {
            "dev"
        } else {
            "test"
        }
    }
}

/// Augmentation: noise views for tabular data, named policies for images, mixup for both.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AugmentConfig {
    /// Tabular weak view, applied to labeled samples and to the weak copy of unlabeled ones.
    pub weak: NoiseView,
    /// Tabular strong view of unlabeled samples.
    pub strong: NoiseView,
    /// Images: policy of labeled images (`none`, `weak`, `strong`, `autoaugment`).
    pub labeled_policy: PolicyName,
    /// Images: policy of the weak view of unlabeled images.
    pub weak_policy: PolicyName,
    /// Images: policy of the strong view of unlabeled images.
    pub strong_policy: PolicyName,
    /// Images: allow horizontal flips (off for digits, SVHN).
    pub flip: bool,
    /// Images: pad-and-crop padding as a fraction of the side (0.125: 4 pixels on 32).
    pub pad_fraction: f64,
    /// Images: `reflect` (the MPL code) or `constant` padding (with `fill`).
    pub padding: Padding,
    /// Images: grey level (0-255) of Cutout's hole, of pixels uncovered by geometric
    /// augmentations and of constant padding (128 in the MPL code).
    pub fill: u8,
    /// Images: RandAugment operations per image.
    pub randaugment_n: usize,
    /// Images: RandAugment magnitude (0..10 scale; the MPL CIFAR recipe uses 16).
    pub randaugment_m: f64,
    /// Images: the operations RandAugment draws from (all 14 of the MPL code by default).
    pub randaugment_ops: Vec<String>,
    /// Images: Cutout side as a fraction of the image side in `strong`/`autoaugment` (0: off).
    pub cutout_fraction: f64,
    /// Mixup's Beta parameter for labeled batches (0: off).
    pub mixup_alpha: f64,
}

/// The network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// Registry name (see `metapseudo models`).
    pub name: ModelName,
    /// Hidden layer widths of the MLP.
    pub hidden: Vec<usize>,
    /// Hidden activation: `relu` or `sigmoid`.
    pub activation: Activation,
    /// Initialisation: `uniform` (U(-init_range, init_range), the MPL two-moons paper) or
    /// `kaiming` (PyTorch's default for linear layers).
    pub init: InitScheme,
    /// Half-width of the uniform initialisation.
    pub init_range: f64,
    /// Dropout before the classifier of image networks (the MPL recipe's dense dropout, 0.2).
    pub dropout: f64,
    /// Batch-norm momentum, PyTorch convention (`running <- (1 - m) running + m batch`);
    /// 0 means the architecture's reference value (0.001 for WRN, 0.1 otherwise).
    pub bn_momentum: f64,
    /// Base width of `cnn-small`.
    pub width: usize,
}

/// Loop length, batch sizes, evaluation, checkpoints and EMA.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Training steps (one step = one labeled batch and its unlabeled batch).
    pub steps: u64,
    /// Labeled samples per batch.
    pub batch_size: usize,
    /// Unlabeled samples per labeled sample in a batch.
    pub mu: usize,
    /// Label smoothing of the supervised and student cross entropies (`CE_ls`).
    pub label_smoothing: f64,
    /// Write a metrics line every this many steps.
    pub log_every: u64,
    /// Evaluate on the test split every this many steps (0: only at the end).
    pub eval_every: u64,
    /// Write a checkpoint every this many steps (0: only at the end and at `--stop-at`).
    pub checkpoint_every: u64,
    /// Also write a checkpoint when this many minutes have passed since the last one, so a
    /// killed run loses at most that much work (0: by steps only).
    pub checkpoint_minutes: f64,
    /// EMA decay of the student's weights (0: no EMA model).
    pub ema_decay: f64,
    /// Which evaluated model `summary.json` reports: `ema`, `student`, `teacher`, `ensemble`
    /// (student and teacher logits averaged) or `best` (with `keep_best`).
    pub report: ReportedModel,
    /// Keep the model (the EMA if there is one, else the student) with the best accuracy on
    /// the split's validation samples, checked every `eval_every` steps and before the first
    /// step; it is evaluated as `best`. Needs a validation split (the finetune stage has one).
    pub keep_best: bool,
    /// Which model `keep_best` keeps when validation accuracy ties the best so far: `earlier`
    /// (strict improvement only, as the MPL PyTorch port's `top1 > best_top1`), `later`, or
    /// `lower-loss` (the one with the lower validation cross entropy).
    pub best_on_tie: TieRule,
    /// Steps per reporting epoch (0: one pass over the unlabeled pool, i.e. pool / (batch * mu)).
    /// Training length is always counted in steps; epochs only label the logs.
    pub steps_per_epoch: u64,
    /// Distribution alignment (ReMixMatch, Berthelot et al. 2020) of the weak-view targets of
    /// every unlabeled loss: the predictions are multiplied by the labeled classes' frequencies
    /// over a running mean of the model's weak-view predictions, which decays by this factor
    /// per step. Not part of any method in docs/methods.md: 0 (off) is the default.
    pub align_decay: f64,
    /// Compute device: `cpu` (always built), `cuda` or `cuda:N` and `wgpu` (builds with the
    /// cargo features of those names). Where a run computes, not what: the same run on two
    /// devices differs only by floating-point rounding.
    pub device: String,
}

/// SGD with momentum and a learning-rate schedule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptimConfig {
    /// Peak learning rate.
    pub lr: f64,
    /// Momentum (0: plain SGD).
    pub momentum: f64,
    /// Nesterov momentum.
    pub nesterov: bool,
    /// Weight decay on weights (never on biases or normalisation parameters).
    pub weight_decay: f64,
    /// Linear warm-up steps (after any wait).
    pub warmup_steps: u64,
    /// After warm-up: `constant`, `cosine` (to 0 at the last step) or `step` (times
    /// `decay_factor` at each step of `decay_at`).
    pub schedule: ScheduleKind,
    /// Steps (from the start of training, increasing) at which a `step` schedule drops.
    pub decay_at: Vec<u64>,
    /// The factor of each drop of a `step` schedule.
    pub decay_factor: f64,
    /// Steps at the start with learning rate 0 (the MPL student waits 3000 steps for its
    /// teacher). Only MPL's student and SMPL's first step wait; one-model methods ignore it.
    pub wait_steps: u64,
    /// Global gradient-norm clipping threshold (0: off).
    pub clip_norm: f64,
}

/// Meta Pseudo Labels options.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MplConfig {
    /// Sign of the feedback `h`: `new-minus-old` (both reference codes) or `old-minus-new` (the
    /// first-order derivation).
    pub sign: FeedbackSign,
    /// Moving-average baseline decay for `h` (0: off).
    pub baseline_decay: f64,
    /// The student's target: `hard-strong` (argmax of the teacher on the strong view),
    /// `hard-weak` (on the weak view) or `soft` (softmax of the teacher on the strong view; gives
    /// the teacher no MPL signal, kept for reproduction). Read by MPL and Reduced MPL; SMPL's
    /// first step always learns the weak view's argmax.
    pub student_target: StudentTargetName,
    /// Role-playing: teacher and student swap roles, each keeping its optimiser and schedule,
    /// every `epoch` (`train.steps_per_epoch`) or every N steps (a number); `off` never.
    /// Models keep the names of their first role (`student` started as the student), and the
    /// EMA follows the network named `student`.
    pub role_swap: RoleSwap,
}

/// SMPL options.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmplConfig {
    /// Confidence (softmax of the weak view) a pseudo label of the first step needs; the
    /// others are masked out of its loss, averaged over the whole batch as FixMatch. 0 (the
    /// paper) keeps every pseudo label.
    pub threshold: f64,
    /// The view of the second step's MPL term: `strong` (the paper: the updated model's strong
    /// view against its own argmax) or `weak` (the updated model's weak view against the label
    /// the first step learned, the view that label came from, as MPL's `hard-weak`).
    pub mpl_view: ViewName,
    /// Label smoothing of the first step's cross entropy against the model's own hard labels:
    /// 0 (the paper's SMPL step), or as MPL's student step (`CE_ls`, 0.15 in the MPL recipe).
    pub step1_label_smoothing: f64,
}

impl Default for SmplConfig {
    fn default() -> Self {
        Self {
            threshold: 0.0,
            mpl_view: ViewName::Strong,
            step1_label_smoothing: 0.0,
        }
    }
}

/// UDA options.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UdaConfig {
    /// Sharpening temperature of the weak-view target.
    pub temperature: f64,
    /// Confidence threshold on the sharpened target.
    pub threshold: f64,
    /// Final weight `lambda_u` of the unlabeled loss (0 disables it).
    pub weight: f64,
    /// Steps of the linear ramp of the weight (also ramps pseudo-labelling's weight).
    pub ramp_steps: u64,
    /// The per-example consistency loss: `ce` (cross entropy against the sharpened target, the
    /// reference) or `cosine` (negative cosine similarity between the target and the predicted
    /// probabilities, with a gradient through the prediction).
    pub unlabeled_loss: UnlabeledLoss,
}

/// Threshold pseudo-labelling options.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PseudoLabelConfig {
    /// Confidence a weak-view prediction needs to become a target.
    pub threshold: f64,
}

/// MetaSemi (meta-learned consistency targets) options.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetasemiConfig {
    /// Size of the finite-difference step: the parameters move by `epsilon / ||g||` times the
    /// labeled-loss gradient `g` (0.01 in the paper).
    pub epsilon: f64,
    /// Final weight of the consistency loss.
    pub weight: f64,
    /// Steps of the linear ramp of the weight.
    pub ramp_steps: u64,
    /// Which unlabeled view the targets and the consistency loss use: `weak` (one view for
    /// both, as the paper) or `strong` (targets on the weak view, loss on the strong one).
    pub view: ViewName,
    /// The step `lr` of the target update `y_u - lr * d`: 0 (the paper's form) takes the model's
    /// learning rate at that step; a positive value is a fixed step of its own.
    pub target_lr: f64,
    /// The consistency loss against the meta-learned targets: `mse` (the paper: squared distance
    /// between probability vectors) or `ce` (cross entropy against the soft targets: the KL
    /// form of an earlier public code of the algorithm).
    pub consistency: MetasemiConsistency,
}

impl Default for MetasemiConfig {
    fn default() -> Self {
        Self {
            epsilon: 0.01,
            weight: 1.0,
            ramp_steps: 0,
            view: ViewName::Weak,
            target_lr: 0.0,
            consistency: MetasemiConsistency::Mse,
        }
    }
}

/// Reduced MPL: a trained run's logits, cached, feed a small teacher MLP.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReducedMplConfig {
    /// The trained run folder whose model is the large teacher (its labeled split is reused).
    pub teacher_run: String,
    /// Which of its models gives the cached logits (empty: its reported model).
    pub teacher_model: String,
    /// Hidden width of the reduced teacher (a residual MLP over the logits).
    pub width: usize,
}

impl Default for ReducedMplConfig {
    fn default() -> Self {
        Self {
            teacher_run: String::new(),
            teacher_model: String::new(),
            width: 64,
        }
    }
}

/// The finetune stage: the trained (EMA) student on the labeled set only, dropout off, small
/// learning rate, best checkpoint by validation accuracy (or the last model, without
/// validation samples). Runs in the `finetune` sub-folder.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FinetuneConfig {
    /// Steps of the stage after `train` (0: no stage; `metapseudo finetune --steps` sets it).
    pub steps: u64,
    /// Which model it starts from: `ema`, `student` or empty (the EMA if there is one).
    pub from: FinetuneFrom,
    /// Constant learning rate (the MPL code: 3e-5).
    pub lr: f64,
    /// Labeled samples per batch (the MPL code: 512; drawn with reshuffled passes).
    pub batch_size: usize,
    /// Nesterov momentum.
    pub momentum: f64,
    /// Weight decay.
    pub weight_decay: f64,
    /// Validation (and best-checkpoint choice) every this many steps.
    pub eval_every: u64,
    /// Where the validation split comes from: `labeled` (held out of the labeled set; no label
    /// beyond the run's budget is used) or `training` (labeled training samples outside the
    /// labeled set). Never the test split.
    pub validation: ValidationSource,
    /// Validation samples per class (0: none; the stage trains on every labeled sample and
    /// keeps its last model instead of the best by validation).
    pub validation_per_class: usize,
    /// Which model a validation tie keeps: `earlier`, `later`, `lower-loss`, or empty (the
    /// run's `train.best_on_tie`).
    pub best_on_tie: StageTieRule,
}

impl Default for FinetuneConfig {
    fn default() -> Self {
        Self {
            steps: 0,
            from: FinetuneFrom::Auto,
            lr: 3e-5,
            batch_size: 512,
            momentum: 0.9,
            weight_decay: 0.0,
            eval_every: 50,
            validation: ValidationSource::Labeled,
            validation_per_class: 1,
            best_on_tie: StageTieRule::Run,
        }
    }
}

/// Report and TensorBoard output of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputConfig {
    /// Write `report.html` when the run finishes.
    pub report: bool,
    /// Write TensorBoard event files of every logged scalar into the run folder.
    pub tensorboard: bool,
    /// Test examples in the report's PCA plot of penultimate features (a seeded subsample).
    pub embed_points: usize,
    /// Test examples in the report's t-SNE plot (exact t-SNE, quadratic cost; 0: no t-SNE).
    pub tsne_points: usize,
}

impl Default for OutputConfig {
    fn default() -> Self {
        Self {
            report: true,
            tensorboard: false,
            embed_points: 2000,
            tsne_points: 800,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            preset: PresetName::Reference,
            method: MethodName::Mpl,
            seed: 1,
            data: DataConfig::default(),
            augment: AugmentConfig::default(),
            model: ModelConfig::default(),
            train: TrainConfig::default(),
            teacher_optim: OptimConfig::default(),
            student_optim: OptimConfig::reference_student(),
            mpl: MplConfig::default(),
            smpl: SmplConfig::default(),
            uda: UdaConfig::default(),
            pseudo_label: PseudoLabelConfig::default(),
            metasemi: MetasemiConfig::default(),
            reduced_mpl: ReducedMplConfig::default(),
            finetune: FinetuneConfig::default(),
            output: OutputConfig::default(),
        }
    }
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            spec: "moons".parse().expect("a built-in data set"),
            labels_per_class: 3,
            labels: 0,
            labels_percent: 0.0,
            unlabeled_includes_labeled: true,
            normalize: Normalize::Standardize,
            data_seed: 0,
            moons_train_size: 2000,
            moons_test_size: 1000,
            moons_noise: 0.1,
            label_column: "last".into(),
            header: CsvHeader::Auto,
            test_path: String::new(),
            test_fraction: 0.25,
            cifar100_label: Cifar100Label::Fine,
            svhn_extra: false,
            image_size: 0,
            skip_bad_images: false,
            cache_dir: String::new(),
            workers: 2,
            prefetch: 4,
            dev_per_class: 0,
            class_names: Vec::new(),
        }
    }
}

impl Default for AugmentConfig {
    fn default() -> Self {
        Self {
            weak: NoiseView {
                noise_std: 0.1,
                feature_dropout: 0.0,
            },
            strong: NoiseView {
                noise_std: 0.3,
                feature_dropout: 0.2,
            },
            labeled_policy: PolicyName::Weak,
            weak_policy: PolicyName::Weak,
            strong_policy: PolicyName::Strong,
            flip: true,
            pad_fraction: 0.125,
            padding: Padding::Reflect,
            fill: metapseudo_data::randaugment::FILL,
            randaugment_n: 2,
            randaugment_m: 16.0,
            randaugment_ops: metapseudo_data::randaugment::OPS
                .iter()
                .map(|op| op.to_string())
                .collect(),
            cutout_fraction: 0.5,
            mixup_alpha: 0.0,
        }
    }
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            name: ModelName::Mlp,
            hidden: vec![128],
            activation: Activation::Relu,
            init: InitScheme::Kaiming,
            init_range: 0.1,
            dropout: 0.0,
            bn_momentum: 0.0,
            width: 32,
        }
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            steps: 300_000,
            batch_size: 128,
            mu: 7,
            label_smoothing: 0.15,
            log_every: 10,
            eval_every: 1000,
            checkpoint_every: 0,
            checkpoint_minutes: 5.0,
            ema_decay: 0.995,
            report: ReportedModel::Ema,
            keep_best: false,
            best_on_tie: TieRule::Earlier,
            steps_per_epoch: 0,
            align_decay: 0.0,
            device: "cpu".into(),
        }
    }
}

impl Default for OptimConfig {
    fn default() -> Self {
        Self {
            lr: 0.05,
            momentum: 0.9,
            nesterov: true,
            weight_decay: 5e-4,
            warmup_steps: 5000,
            schedule: ScheduleKind::Cosine,
            decay_at: Vec::new(),
            decay_factor: 0.1,
            wait_steps: 0,
            clip_norm: 0.0,
        }
    }
}

impl OptimConfig {
    /// The reference student: as the teacher, after waiting 3000 steps.
    pub fn reference_student() -> Self {
        Self {
            wait_steps: 3000,
            ..Self::default()
        }
    }
}

impl Default for MplConfig {
    fn default() -> Self {
        Self {
            sign: FeedbackSign::NewMinusOld,
            baseline_decay: 0.0,
            student_target: StudentTargetName::HardStrong,
            role_swap: RoleSwap::Off,
        }
    }
}

impl Default for UdaConfig {
    fn default() -> Self {
        Self {
            temperature: 0.7,
            threshold: 0.6,
            weight: 8.0,
            ramp_steps: 5000,
            unlabeled_loss: UnlabeledLoss::Ce,
        }
    }
}

impl Default for PseudoLabelConfig {
    fn default() -> Self {
        Self { threshold: 0.95 }
    }
}

impl Config {
    /// Both optimisers' settings with their section names.
    pub fn optimisers(&self) -> [(&'static str, &OptimConfig); 2] {
        [
            ("teacher_optim", &self.teacher_optim),
            ("student_optim", &self.student_optim),
        ]
    }

    /// Settings that are valid but almost certainly not what the user meant, one sentence
    /// each: a step schedule that drops at or after the last step. The methods add their own
    /// (`methods::warnings`).
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, o) in self.optimisers() {
            if o.schedule != ScheduleKind::Step {
                continue;
            }
            let late: Vec<String> = o
                .decay_at
                .iter()
                .filter(|&&m| m >= self.train.steps)
                .map(u64::to_string)
                .collect();
            if !late.is_empty() {
                out.push(format!(
                    "{name}.decay_at has drops at step {} but the run has only {} steps: the rate never drops there; set {name}.decay_at for this run's length",
                    late.join(", "),
                    self.train.steps
                ));
            }
        }
        out
    }

    /// The effective configuration as TOML, with a header saying where it came from.
    pub fn to_toml(&self) -> String {
        let body = toml::to_string_pretty(self).expect("the config serialises");
        format!(
            "# metapseudo {} effective configuration (defaults < preset '{}' < --config < --set < flags)\n{body}",
            env!("CARGO_PKG_VERSION"),
            self.preset
        )
    }
}
