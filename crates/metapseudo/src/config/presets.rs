//! Named presets: partial configurations that adapt the reference defaults to a data set.

use super::{Config, PresetName};
use anyhow::Result;
use toml::Table;

/// Two moons, tuned here: with the paper's figure-1 setting (below, `moons-paper`) no method
/// separates the moons in 1000 steps on this data (the sigmoid net barely trains, and once a
/// student fits the 6 labels MPL's signal `h` vanishes). This preset keeps 3 labels per class
/// but uses a 2-32-32-2 ReLU MLP with PyTorch's initialisation, SGD at 0.3 for 3000 steps,
/// small Gaussian noise views and the UDA consistency term in the teacher (weight 4, ramped
/// over 200 steps).
const MOONS: &str = r#"
[data]
labels_per_class = 3
normalize = "none"
# Tabular batches take microseconds: worker threads would cost more than they save.
workers = 0
[augment.weak]
noise_std = 0.05
feature_dropout = 0.0
[augment.strong]
noise_std = 0.2
feature_dropout = 0.0
[model]
hidden = [32, 32]
activation = "relu"
init = "kaiming"
[train]
steps = 3000
batch_size = 6
mu = 8
label_smoothing = 0.0
eval_every = 500
report = "student"
[teacher_optim]
lr = 0.3
momentum = 0.0
nesterov = false
weight_decay = 0.0
warmup_steps = 0
schedule = "constant"
[student_optim]
lr = 0.3
momentum = 0.0
nesterov = false
weight_decay = 0.0
warmup_steps = 0
wait_steps = 0
schedule = "constant"
[uda]
weight = 4.0
ramp_steps = 200
[metasemi]
view = "strong"
weight = 1.0
"#;

/// The MPL paper's two-moons recipe (figure 1), as changes to [`MOONS`]: MLP 2-8-8-2 with
/// sigmoid units, U(-0.1, 0.1) initialisation, plain SGD at a constant 0.1, no augmentation or
/// regularisation, 1000 steps, teacher loss = supervised + MPL term only.
const MOONS_PAPER: &str = r#"
[augment.strong]
noise_std = 0.0
[augment.weak]
noise_std = 0.0
[model]
hidden = [8, 8]
activation = "sigmoid"
init = "uniform"
init_range = 0.1
[train]
steps = 1000
eval_every = 100
[teacher_optim]
lr = 0.1
[student_optim]
lr = 0.1
[uda]
weight = 0.0
"#;

/// UCI digits (64 pixel features): a one-hidden-layer ReLU MLP, noise views, a short schedule;
/// the student waits 1000 steps for its teacher (without the wait SMPL confirms its own early
/// mistakes on some seeds).
const DIGITS: &str = r#"
[data]
labels_per_class = 5
workers = 0
[model]
hidden = [128]
[train]
steps = 3000
batch_size = 50
mu = 7
eval_every = 500
[teacher_optim]
lr = 0.05
warmup_steps = 200
[student_optim]
lr = 0.05
warmup_steps = 200
wait_steps = 1000
[uda]
weight = 1.0
ramp_steps = 1000
[metasemi]
view = "strong"
weight = 5.0
[finetune]
lr = 0.01
batch_size = 64
eval_every = 25
"#;

/// Generic numeric tables (CSV), as changes to [`DIGITS`]: 10% of each class labeled, batch 32.
/// The MPL paper's CIFAR-10 recipe (docs/methods.md, "Meta Pseudo Labels"): the reference defaults with
/// WRN-28-2 and its dense dropout, 4000 labels.
const CIFAR10_4K_MPL: &str = r#"
[data]
labels_per_class = 400
[model]
name = "wrn-28-2"
dropout = 0.2
"#;

/// The CIFAR-10 MPL recipe followed by the finetune stage of the most used PyTorch port
/// (625 epochs of 4000 labels at batch 512 = 5000 steps, lr 3e-5), validation held out of the
/// labeled set (10 per class) instead of the port's choice on the test split.
const CIFAR10_4K_MPL_FINETUNE: &str = r#"
[finetune]
steps = 5000
validation = "labeled"
validation_per_class = 10
"#;

/// SMPL's CIFAR-10 setting: the MPL recipe with one model in both roles.
const CIFAR10_4K_SMPL: &str = r#"
method = "smpl"
"#;

/// MetaSemi's CIFAR-10 recipe (docs/methods.md, "MetaSemi"): ConvLarge, SGD momentum 0.9, lr 0.1
/// with 4000 warm-up steps, 400k steps. The paper divides the rate by 10 at 300k and 350k;
/// this preset decays it by a cosine instead (piecewise decay is not a schedule here yet).
const CIFAR10_4K_METASEMI: &str = r#"
method = "metasemi"
[model]
name = "conv-large"
dropout = 0.0
[train]
steps = 400000
batch_size = 100
mu = 1
[student_optim]
lr = 0.1
momentum = 0.9
nesterov = false
warmup_steps = 4000
wait_steps = 0
schedule = "step"
decay_at = [300000, 350000]
decay_factor = 0.1
"#;

/// Role-playing MPL with an ensemble (the flowers study, 3% labels): roles swap every epoch,
/// the ensemble is reported, cosine consistency. The study's network and image size are not
/// in the paper: ResNet-18 on 32-pixel images here.
const ROLE_PLAY_3PCT: &str = r#"
[data]
labels_per_class = 0
labels_percent = 3.0
[model]
name = "resnet-18"
[mpl]
role_swap = "epoch"
[uda]
unlabeled_loss = "cosine"
[train]
report = "ensemble"
"#;

/// CIFAR-100 with 10000 labels on WRN-28-8 (the MPL paper's CIFAR-100 setting).
const CIFAR100_10K_MPL: &str = r#"
[data]
labels_per_class = 100
[model]
name = "wrn-28-8"
"#;

/// SVHN with 1000 labels: as CIFAR-10 but no flips (digits).
const SVHN_1K_MPL: &str = r#"
[data]
labels_per_class = 100
[augment]
flip = false
"#;

/// Every RandAugment op but Invert, as a TOML array: fashion-cpu's list for MetaSemi and SMPL.
macro_rules! all_ops_but_invert {
    () => {
        r#"["AutoContrast", "Equalize", "Rotate", "Posterize", "Solarize", "Color", "Contrast", "Brightness", "Sharpness", "ShearX", "ShearY", "TranslateX", "TranslateY"]"#
    };
}

/// Fashion-MNIST/MNIST-sized data on this kind of machine's CPU: the small CNN, short schedules.
const FASHION_CPU: &str = concat!(
    r#"
[data]
labels_per_class = 10
[model]
name = "cnn-small"
width = 8
[train]
steps = 4000
batch_size = 16
mu = 3
eval_every = 500
log_every = 10
ema_decay = 0.99
[augment]
randaugment_m = 8.0
cutout_fraction = 0.25
[teacher_optim]
lr = 0.05
warmup_steps = 100
[student_optim]
lr = 0.05
warmup_steps = 100
wait_steps = 300
[mpl]
student_target = "hard-weak"
[uda]
weight = 2.0
ramp_steps = 1000
[metasemi]
view = "strong"
weight = 5.0
ramp_steps = 500
[finetune]
lr = 0.001
batch_size = 64
eval_every = 50
validation_per_class = 0
[for_method.mpl.train]
align_decay = 0.99
[for_method.metasemi.student_optim]
lr = 0.1
[for_method.metasemi.augment]
randaugment_n = 3
randaugment_ops = "#,
    all_ops_but_invert!(),
    r#"
[for_method.smpl.smpl]
mpl_view = "weak"
[for_method.smpl.train]
align_decay = 0.99
[for_method.smpl.uda]
temperature = 1.0
[for_method.smpl.augment]
randaugment_ops = "#,
    all_ops_but_invert!(),
    "\n"
);

const TABULAR: &str = r#"
[data]
labels_per_class = 0
labels_percent = 10.0
[train]
batch_size = 32
"#;

/// Every preset name with a one-line description.
pub const PRESETS: &[(PresetName, &str)] = &[
    (
        PresetName::Moons,
        "two moons, 3 labels per class, ReLU MLP with UDA in the teacher (tuned)",
    ),
    (
        PresetName::MoonsPaper,
        "the MPL paper's two-moons recipe (figure 1), exactly",
    ),
    (
        PresetName::Digits,
        "UCI digits with an MLP, 5 labels per class",
    ),
    (
        PresetName::Tabular,
        "numeric CSV tables with an MLP, 10% labels",
    ),
    (
        PresetName::Cifar10Mpl,
        "the MPL paper's CIFAR-10 recipe: 4000 labels, WRN-28-2 (dropout 0.2), 300k steps (GPU)",
    ),
    (
        PresetName::Cifar10MplFinetune,
        "cifar10-4k-mpl, then the PyTorch port's finetune stage (5000 steps, lr 3e-5, batch 512)",
    ),
    (
        PresetName::Cifar10Smpl,
        "SMPL on CIFAR-10 with 4000 labels: the MPL recipe, one model (GPU)",
    ),
    (
        PresetName::Cifar10Metasemi,
        "MetaSemi's CIFAR-10 recipe: ConvLarge, lr 0.1, 400k steps (GPU)",
    ),
    (
        PresetName::SvhnMetasemi,
        "MetaSemi on SVHN with 1000 labels: its CIFAR recipe without flips (GPU)",
    ),
    (
        PresetName::RolePlay,
        "role-playing MPL with the ensemble reported, 3% labels, cosine consistency (image folders)",
    ),
    (
        PresetName::Cifar100Mpl,
        "CIFAR-100 with 10000 labels on WRN-28-8, 300k steps (GPU)",
    ),
    (
        PresetName::SvhnMpl,
        "the MPL paper's SVHN recipe: 1000 labels, WRN-28-2, no flips, 300k steps (GPU)",
    ),
    (
        PresetName::FashionCpu,
        "Fashion-MNIST/MNIST-sized images on a CPU: 10 labels per class, small CNN (w = 8), 4000 steps; MPL and SMPL align their targets (train.align_decay = 0.99); MetaSemi's and SMPL's RandAugment draws from every op but Invert; MetaSemi takes three ops a view (augment.randaugment_n = 3) and lr 0.1 (student_optim.lr); SMPL's MPL term reads the weak view (smpl.mpl_view) and its UDA targets are not sharpened (uda.temperature = 1.0); the finetune stage learns from every label at lr 0.001 and keeps its last model (finetune.validation_per_class = 0)",
    ),
    (
        PresetName::Reference,
        "the reference MPL defaults, unchanged",
    ),
];

/// The partial configurations a preset applies, in order (a preset may build on another).
fn preset_parts(name: PresetName) -> &'static [&'static str] {
    match name {
        PresetName::Moons => &[MOONS],
        PresetName::MoonsPaper => &[MOONS, MOONS_PAPER],
        PresetName::Digits => &[DIGITS],
        PresetName::Tabular => &[DIGITS, TABULAR],
        PresetName::Cifar10Mpl => &[CIFAR10_4K_MPL],
        PresetName::Cifar10MplFinetune => &[CIFAR10_4K_MPL, CIFAR10_4K_MPL_FINETUNE],
        PresetName::Cifar10Smpl => &[CIFAR10_4K_MPL, CIFAR10_4K_SMPL],
        PresetName::Cifar10Metasemi => &[CIFAR10_4K_MPL, CIFAR10_4K_METASEMI],
        PresetName::SvhnMetasemi => &[CIFAR10_4K_MPL, SVHN_1K_MPL, CIFAR10_4K_METASEMI],
        PresetName::RolePlay => &[ROLE_PLAY_3PCT],
        PresetName::Cifar100Mpl => &[CIFAR10_4K_MPL, CIFAR100_10K_MPL],
        PresetName::SvhnMpl => &[CIFAR10_4K_MPL, SVHN_1K_MPL],
        PresetName::FashionCpu => &[FASHION_CPU],
        PresetName::Reference => &[],
    }
}

/// The partial configuration of a preset for `method`: a preset's `[for_method.NAME]` tables
/// apply only when the run's method is NAME.
pub fn preset_table(name: &str, method: &str) -> Result<Table> {
    let name: PresetName = name.parse().map_err(anyhow::Error::msg)?;
    let mut table = Table::new();
    for part in preset_parts(name) {
        let overlay: Table = part.parse().expect("built-in presets are valid TOML");
        overlay_tables(&mut table, overlay);
    }
    if let Some(toml::Value::Table(mut per_method)) = table.remove("for_method")
        && let Some(toml::Value::Table(overlay)) = per_method.remove(method)
    {
        overlay_tables(&mut table, overlay);
    }
    Ok(table)
}

/// The steps `config`'s preset plans for its method (`train.steps` of the preset, else the
/// default), or `None` when the preset is unknown.
pub fn planned_steps(config: &Config) -> Option<u64> {
    let table = preset_table(config.preset.as_str(), config.method.as_str()).ok()?;
    let steps = table
        .get("train")
        .and_then(|t| t.get("steps"))
        .and_then(toml::Value::as_integer)
        .map_or(Config::default().train.steps, |s| s as u64);
    Some(steps)
}

/// Copies `overlay` into `base`, section by section.
fn overlay_tables(base: &mut Table, overlay: Table) {
    for (k, v) in overlay {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => overlay_tables(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_parses_and_unknown_is_an_error() {
        for (name, _) in PRESETS {
            // Every preset resolves to a valid configuration (known keys, valid values) for the
            // default method and for each method it has a `[for_method.NAME]` table for.
            let own_tables: Vec<String> = preset_parts(*name)
                .iter()
                .filter_map(|part| part.parse::<Table>().unwrap().remove("for_method"))
                .flat_map(|t| t.as_table().unwrap().keys().cloned().collect::<Vec<_>>())
                .collect();
            let methods = std::iter::once(None).chain(own_tables.into_iter().map(Some));
            for method in methods {
                crate::config::layers::ConfigLayers {
                    preset: Some(name.to_string()),
                    sets: method
                        .iter()
                        .map(|m| ("method".to_string(), toml::Value::String(m.clone())))
                        .collect(),
                    ..Default::default()
                }
                .resolve()
                .unwrap_or_else(|e| panic!("preset {name}, method {method:?}: {e:#}"));
            }
        }
        let paper = preset_table("moons-paper", "mpl").unwrap();
        assert_eq!(paper["model"]["activation"].as_str(), Some("sigmoid"));
        assert_eq!(paper["data"]["labels_per_class"].as_integer(), Some(3));
        assert_eq!(
            paper["augment"]["strong"]["noise_std"].as_float(),
            Some(0.0)
        );
        let e = preset_table("cifar", "mpl").unwrap_err().to_string();
        assert!(e.contains("moons, moons-paper, digits"), "{e}");
    }

    #[test]
    fn method_specific_parts_apply_to_their_method_only() {
        // The value at `section.key` of fashion-cpu for `method`, if the preset sets it.
        let value = |method: &str, section: &str, key: &str| {
            let t = preset_table("fashion-cpu", method).unwrap();
            assert!(t.get("for_method").is_none());
            t.get(section).and_then(|s| s.get(key)).cloned()
        };
        let align = |method: &str| value(method, "train", "align_decay").and_then(|v| v.as_float());
        assert_eq!(align("mpl"), Some(0.99));
        assert_eq!(align("smpl"), Some(0.99));
        assert_eq!(align("metasemi"), None);
        let temperature =
            |method: &str| value(method, "uda", "temperature").and_then(|v| v.as_float());
        assert_eq!(temperature("smpl"), Some(1.0));
        assert_eq!(temperature("mpl"), None);
        let metasemi = preset_table("fashion-cpu", "metasemi").unwrap();
        assert_eq!(metasemi["student_optim"]["lr"].as_float(), Some(0.1));
        assert_eq!(metasemi["augment"]["randaugment_n"].as_integer(), Some(3));
        let supervised = preset_table("fashion-cpu", "supervised").unwrap();
        assert_eq!(supervised["student_optim"]["lr"].as_float(), Some(0.05));
        let ops = |method: &str| {
            value(method, "augment", "randaugment_ops")
                .map(|v| v.try_into::<Vec<String>>().unwrap())
        };
        let all_but_invert: Vec<String> = metapseudo_data::randaugment::OPS
            .iter()
            .filter(|op| **op != "Invert")
            .map(|op| op.to_string())
            .collect();
        assert_eq!(ops("metasemi"), Some(all_but_invert.clone()));
        assert_eq!(ops("smpl"), Some(all_but_invert));
        assert_eq!(ops("mpl"), None);
        let view = |method: &str| {
            value(method, "smpl", "mpl_view").and_then(|v| v.as_str().map(str::to_string))
        };
        assert_eq!(view("smpl").as_deref(), Some("weak"));
        assert_eq!(view("mpl"), None);
        // The rest of the preset is the same for every method.
        let (mpl, smpl) = (
            preset_table("fashion-cpu", "mpl").unwrap(),
            preset_table("fashion-cpu", "smpl").unwrap(),
        );
        assert_eq!(mpl["train"]["steps"], smpl["train"]["steps"]);
    }
}
