//! Options whose value is one of a fixed set of names: a typed enum whose TOML text is the
//! name, so a wrong value is an error that names the option and lists the valid values while
//! the file is read, and no code matches on strings.

/// Declares such an option: `choice! { /// doc  pub enum Name("section.key") { /// doc
/// Variant = "text", ... } }`; `Name("key", "things")` words the list of valid values. The
/// enum gets `ALL`, `NAMES`, `as_str`, `FromStr`, `Display` and serde by its text.
macro_rules! choice {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident($option:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        choice! {
            $(#[$meta])*
            $vis enum $name($option, "values") {
                $( $(#[$vmeta])* $variant = $text ),+
            }
        }
    };
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident($option:literal, $plural:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every value, in the documented order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];
            /// Every value's text, in the documented order.
            pub const NAMES: &'static [&'static str] = &[$($text),+];
            /// The option this value belongs to.
            pub const OPTION: &'static str = $option;

            /// The value's text, as TOML and the command line spell it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(format!(
                        "unknown {} '{}'; valid {}: {}",
                        $option,
                        s,
                        $plural,
                        Self::NAMES.join(", ")
                    )),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// Tests spell values as text.
        #[cfg(test)]
        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                s.parse().expect("a valid value")
            }
        }

        #[cfg(test)]
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <String as serde::Deserialize>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

choice! {
    /// The training method (`method`, `--method`).
    pub enum MethodName("method") {
        /// Labeled data only: the baseline every gain is read against.
        Supervised = "supervised",
        /// Threshold pseudo-labelling (FixMatch-style) on one network.
        PseudoLabel = "pseudo-label",
        /// Unsupervised Data Augmentation: consistency between weak and strong views.
        Uda = "uda",
        /// Meta Pseudo Labels: a teacher taught by its student's feedback.
        Mpl = "mpl",
        /// Self Meta Pseudo Labels: one network in both roles.
        Smpl = "smpl",
        /// MetaSemi: meta-learned soft targets for confident unlabeled samples.
        Metasemi = "metasemi",
        /// Reduced MPL: a small teacher over a trained large teacher's cached logits.
        ReducedMpl = "reduced-mpl",
    }
}

choice! {
    /// Feature normalisation fitted on the training pool (`data.normalize`).
    pub enum Normalize("data.normalize") {
        /// Per channel (or feature) mean 0 and standard deviation 1.
        Standardize = "standardize",
        /// The raw values (pixels scaled to [0, 1]).
        None = "none",
    }
}

choice! {
    /// Whether a CSV file's first row names its columns (`data.header`).
    pub enum CsvHeader("data.header") {
        /// Detect: a first row with a non-numeric cell is a header.
        Auto = "auto",
        /// The first row is a header.
        Yes = "yes",
        /// Every row is data.
        No = "no",
    }
}

choice! {
    /// Which CIFAR-100 labels to learn (`data.cifar100_label`).
    pub enum Cifar100Label("data.cifar100_label") {
        /// The 100 fine classes.
        Fine = "fine",
        /// The 20 superclasses.
        Coarse = "coarse",
    }
}

choice! {
    /// How pad-and-crop fills the border (`augment.padding`).
    pub enum Padding("augment.padding") {
        /// Mirror the image, as the MPL code.
        Reflect = "reflect",
        /// The fill grey level (`augment.fill`).
        Constant = "constant",
    }
}

choice! {
    /// The MLP's hidden activation (`model.activation`).
    pub enum Activation("model.activation") {
        /// Rectified linear units.
        Relu = "relu",
        /// Logistic units (the MPL paper's two-moons network).
        Sigmoid = "sigmoid",
    }
}

choice! {
    /// The MLP's weight initialisation (`model.init`).
    pub enum InitScheme("model.init") {
        /// U(-model.init_range, model.init_range), as the MPL paper's two-moons network.
        Uniform = "uniform",
        /// PyTorch's default for linear layers (Kaiming uniform).
        Kaiming = "kaiming",
    }
}

choice! {
    /// The model a run's summary reports (`train.report`).
    pub enum ReportedModel("train.report") {
        /// The student's moving average.
        Ema = "ema",
        /// The student itself.
        Student = "student",
        /// The teacher (methods with a teacher network).
        Teacher = "teacher",
        /// The mean of the student's and the teacher's logits.
        Ensemble = "ensemble",
        /// The best model by validation accuracy (`train.keep_best`).
        Best = "best",
    }
}

impl ReportedModel {
    /// Whether this model needs a teacher network.
    pub fn needs_teacher(self) -> bool {
        matches!(self, Self::Teacher | Self::Ensemble)
    }
}

choice! {
    /// Which model a validation tie keeps (`train.best_on_tie`).
    pub enum TieRule("train.best_on_tie") {
        /// The earlier: a later model must be strictly better.
        Earlier = "earlier",
        /// The later.
        Later = "later",
        /// The one with the lower validation cross entropy.
        LowerLoss = "lower-loss",
    }
}

choice! {
    /// A learning-rate schedule (`teacher_optim.schedule`, `student_optim.schedule`).
    pub enum ScheduleKind("schedule") {
        /// Warm-up, then constant.
        Constant = "constant",
        /// Warm-up, then a cosine decay to 0.
        Cosine = "cosine",
        /// Warm-up, then multiplied by `decay_factor` at each step of `decay_at`.
        Step = "step",
    }
}

choice! {
    /// The sign of MPL's feedback `h` (`mpl.sign`).
    pub enum FeedbackSign("mpl.sign") {
        /// `h = new - old`, as both reference codes.
        NewMinusOld = "new-minus-old",
        /// `h = old - new`, the sign of the first-order derivation.
        OldMinusNew = "old-minus-new",
    }
}

choice! {
    /// What MPL's student learns from the teacher (`mpl.student_target`).
    pub enum StudentTargetName("mpl.student_target") {
        /// The teacher's argmax on the strong view.
        HardStrong = "hard-strong",
        /// The teacher's argmax on the weak view (its MPL term then reads that view).
        HardWeak = "hard-weak",
        /// The teacher's distribution (gives the teacher no MPL signal).
        Soft = "soft",
    }
}

choice! {
    /// One of the two views of an unlabeled sample (`smpl.mpl_view`, `metasemi.view`).
    pub enum ViewName("view") {
        /// Flip and pad-and-crop (noise for tables).
        Weak = "weak",
        /// The weak view, then RandAugment and Cutout (stronger noise for tables).
        Strong = "strong",
    }
}

choice! {
    /// UDA's consistency loss on unlabeled samples (`uda.unlabeled_loss`).
    pub enum UnlabeledLoss("uda.unlabeled_loss") {
        /// Cross entropy against the sharpened weak-view prediction.
        Ce = "ce",
        /// Negative cosine similarity between the probability vectors.
        Cosine = "cosine",
    }
}

choice! {
    /// MetaSemi's consistency against its meta-learned targets (`metasemi.consistency`).
    pub enum MetasemiConsistency("metasemi.consistency") {
        /// Squared distance between probability vectors (the paper).
        Mse = "mse",
        /// Cross entropy against the soft targets.
        Ce = "ce",
    }
}

choice! {
    /// Where the finetune stage's validation samples come from (`finetune.validation`).
    pub enum ValidationSource("finetune.validation") {
        /// Held out of the labeled set (no label beyond the run's budget).
        Labeled = "labeled",
        /// Labeled training samples outside the labeled set.
        Training = "training",
    }
}

choice! {
    /// The model the finetune stage starts from (`finetune.from`).
    pub enum FinetuneFrom("finetune.from") {
        /// The EMA student when the run keeps one, else the student.
        Auto = "",
        /// The student's moving average.
        Ema = "ema",
        /// The student itself.
        Student = "student",
    }
}

choice! {
    /// Which model a validation tie keeps in the finetune stage (`finetune.best_on_tie`).
    pub enum StageTieRule("finetune.best_on_tie") {
        /// The run's `train.best_on_tie`.
        Run = "",
        /// The earlier: a later model must be strictly better.
        Earlier = "earlier",
        /// The later.
        Later = "later",
        /// The one with the lower validation cross entropy.
        LowerLoss = "lower-loss",
    }
}

impl StageTieRule {
    /// The rule in force, given the run's own.
    pub fn resolve(self, run: TieRule) -> TieRule {
        match self {
            Self::Run => run,
            Self::Earlier => TieRule::Earlier,
            Self::Later => TieRule::Later,
            Self::LowerLoss => TieRule::LowerLoss,
        }
    }
}

choice! {
    /// A registered network (`model.name`; `metapseudo models` describes each).
    pub enum ModelName("model.name") {
        /// Multi-layer perceptron.
        Mlp = "mlp",
        /// Small CNN for CPU runs.
        CnnSmall = "cnn-small",
        /// MetaSemi's ConvLarge.
        ConvLarge = "conv-large",
        /// WideResNet-28-2 as in the MPL code.
        Wrn28x2 = "wrn-28-2",
        /// WideResNet-28-8 as in the MPL code.
        Wrn28x8 = "wrn-28-8",
        /// ResNet-18, CIFAR variant.
        Resnet18 = "resnet-18",
    }
}

/// Role-playing MPL's swap schedule (`mpl.role_swap`): `off`, `epoch`, or a number of steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RoleSwap {
    /// The networks keep their roles.
    #[default]
    Off,
    /// Swap after every reporting epoch.
    Epoch,
    /// Swap every this many steps (at least 1).
    Steps(u64),
}

impl RoleSwap {
    /// Steps between swaps, `None` when off; `steps_per_epoch` resolves `epoch`.
    pub fn every(self, steps_per_epoch: u64) -> Option<u64> {
        match self {
            Self::Off => None,
            Self::Epoch => Some(steps_per_epoch.max(1)),
            Self::Steps(n) => Some(n),
        }
    }
}

impl std::str::FromStr for RoleSwap {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "off" => Ok(Self::Off),
            "epoch" => Ok(Self::Epoch),
            n => n.parse::<u64>().ok().filter(|&n| n > 0).map(Self::Steps).ok_or_else(|| {
                format!(
                    "mpl.role_swap = '{n}': expected 'off', 'epoch' or a number of steps (at least 1)"
                )
            }),
        }
    }
}

impl std::fmt::Display for RoleSwap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Off => f.write_str("off"),
            Self::Epoch => f.write_str("epoch"),
            Self::Steps(n) => write!(f, "{n}"),
        }
    }
}

impl serde::Serialize for RoleSwap {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for RoleSwap {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <String as serde::Deserialize>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

choice! {
    /// The preset the defaults came from (`preset`, `--preset`; `metapseudo presets`).
    pub enum PresetName("preset", "presets") {
        /// Two moons, 3 labels per class, tuned.
        Moons = "moons",
        /// The MPL paper's two-moons recipe.
        MoonsPaper = "moons-paper",
        /// The UCI digits with an MLP.
        Digits = "digits",
        /// Numeric CSV tables with an MLP.
        Tabular = "tabular",
        /// The MPL paper's CIFAR-10 recipe.
        Cifar10Mpl = "cifar10-4k-mpl",
        /// The CIFAR-10 recipe, then the finetune stage.
        Cifar10MplFinetune = "cifar10-4k-mpl-finetune",
        /// SMPL on CIFAR-10.
        Cifar10Smpl = "cifar10-4k-smpl",
        /// MetaSemi's CIFAR-10 recipe.
        Cifar10Metasemi = "cifar10-4k-metasemi",
        /// MetaSemi on SVHN.
        SvhnMetasemi = "svhn-1k-metasemi",
        /// Role-playing MPL on image folders with 3 % labels.
        RolePlay = "role-play-3pct",
        /// CIFAR-100 on WRN-28-8.
        Cifar100Mpl = "cifar100-10k-mpl",
        /// The MPL paper's SVHN recipe.
        SvhnMpl = "svhn-1k-mpl",
        /// Small images on a CPU.
        FashionCpu = "fashion-cpu",
        /// The reference defaults, unchanged.
        Reference = "none",
    }
}
