//! The checks of a configuration that typed values cannot express: ranges, and rules across
//! options. Method-dependent checks live with the methods (`methods::check`).

use super::*;

fn positive(option: &str, ok: bool, what: &str) -> anyhow::Result<()> {
    if ok {
        Ok(())
    } else {
        anyhow::bail!("{option} must be {what}")
    }
}

impl Config {
    /// Checks every enumerated option and range, naming the option at fault.
    pub fn validate(&self) -> anyhow::Result<()> {
        if let Some(key) = non_finite_key(&toml::Value::try_from(self)?, "") {
            anyhow::bail!("{key} must be a finite number (not NaN or infinite)");
        }
        self.train
            .device
            .parse::<crate::device::DeviceName>()
            .map_err(|e| anyhow::anyhow!("train.device: {e}"))?;
        positive(
            "augment.pad_fraction",
            (0.0..0.5).contains(&self.augment.pad_fraction),
            "in [0, 0.5)",
        )?;
        positive(
            "augment.cutout_fraction",
            (0.0..=1.0).contains(&self.augment.cutout_fraction),
            "in [0, 1]",
        )?;
        positive(
            "augment.randaugment_m",
            self.augment.randaugment_m >= 0.0,
            "at least 0",
        )?;
        metapseudo_data::randaugment::OpSet::from_names(&self.augment.randaugment_ops)
            .map_err(|e| anyhow::anyhow!("augment.randaugment_ops: {e}"))?;
        positive(
            "augment.mixup_alpha",
            self.augment.mixup_alpha >= 0.0,
            "at least 0",
        )?;
        positive("data.prefetch", self.data.prefetch > 0, "at least 1")?;
        positive(
            "train.checkpoint_minutes",
            self.train.checkpoint_minutes >= 0.0 && self.train.checkpoint_minutes.is_finite(),
            "a number of minutes, at least 0",
        )?;
        positive(
            "metasemi.target_lr",
            self.metasemi.target_lr >= 0.0 && self.metasemi.target_lr.is_finite(),
            "at least 0 (0: the model's learning rate)",
        )?;
        positive(
            "smpl.threshold",
            (0.0..=1.0).contains(&self.smpl.threshold),
            "in [0, 1]",
        )?;
        positive(
            "smpl.step1_label_smoothing",
            (0.0..1.0).contains(&self.smpl.step1_label_smoothing),
            "in [0, 1)",
        )?;
        positive(
            "model.dropout",
            (0.0..1.0).contains(&self.model.dropout),
            "in [0, 1)",
        )?;
        positive(
            "model.bn_momentum",
            (0.0..=1.0).contains(&self.model.bn_momentum),
            "in [0, 1] (0: the architecture's default)",
        )?;
        positive("model.width", self.model.width > 0, "at least 1")?;
        if self.train.report == ReportedModel::Best && !self.train.keep_best {
            anyhow::bail!("train.report = 'best' needs train.keep_best = true");
        }
        positive("finetune.lr", self.finetune.lr >= 0.0, "at least 0")?;
        positive(
            "finetune.momentum",
            (0.0..1.0).contains(&self.finetune.momentum),
            "in [0, 1)",
        )?;
        positive(
            "finetune.batch_size",
            self.finetune.batch_size > 0,
            "at least 1",
        )?;
        positive(
            "finetune.eval_every",
            self.finetune.eval_every > 0,
            "at least 1",
        )?;
        for (name, o) in self.optimisers() {
            if o.schedule == ScheduleKind::Step {
                positive(
                    &format!("{name}.decay_at"),
                    !o.decay_at.is_empty() && o.decay_at.is_sorted_by(|a, b| a < b),
                    "a list of increasing steps for schedule = 'step'",
                )?;
                positive(
                    &format!("{name}.decay_factor"),
                    o.decay_factor > 0.0 && o.decay_factor <= 1.0,
                    "in (0, 1]",
                )?;
            }
            positive(&format!("{name}.lr"), o.lr >= 0.0, "at least 0")?;
            positive(
                &format!("{name}.momentum"),
                (0.0..1.0).contains(&o.momentum),
                "in [0, 1)",
            )?;
            positive(
                &format!("{name}.weight_decay"),
                o.weight_decay >= 0.0,
                "at least 0",
            )?;
            positive(
                &format!("{name}.clip_norm"),
                o.clip_norm >= 0.0,
                "at least 0",
            )?;
        }
        let budgets = [
            self.data.labels_per_class > 0,
            self.data.labels > 0,
            self.data.labels_percent > 0.0,
        ];
        positive(
            "data.labels_per_class / data.labels / data.labels_percent",
            budgets.iter().filter(|&&b| b).count() == 1,
            "set exactly one (the others 0)",
        )?;
        positive("train.steps", self.train.steps > 0, "at least 1")?;
        positive("train.batch_size", self.train.batch_size > 0, "at least 1")?;
        positive(
            "train.label_smoothing",
            (0.0..1.0).contains(&self.train.label_smoothing),
            "in [0, 1)",
        )?;
        positive("train.log_every", self.train.log_every > 0, "at least 1")?;
        positive(
            "train.ema_decay",
            (0.0..1.0).contains(&self.train.ema_decay),
            "in [0, 1)",
        )?;
        positive(
            "model.hidden",
            self.model.hidden.iter().all(|&w| w > 0),
            "a list of positive widths",
        )?;
        positive(
            "uda.temperature",
            self.uda.temperature > 0.0,
            "greater than 0",
        )?;
        for (name, weight) in [
            ("uda.weight", self.uda.weight),
            ("metasemi.weight", self.metasemi.weight),
        ] {
            positive(name, weight >= 0.0, "at least 0 (a loss weight)")?;
        }
        for (name, p) in [
            ("uda.threshold", self.uda.threshold),
            ("pseudo_label.threshold", self.pseudo_label.threshold),
        ] {
            positive(name, (0.0..=1.0).contains(&p), "in [0, 1] (a probability)")?;
        }
        positive(
            "metasemi.epsilon",
            self.metasemi.epsilon > 0.0,
            "greater than 0",
        )?;
        positive(
            "train.align_decay",
            (0.0..1.0).contains(&self.train.align_decay),
            "in [0, 1)",
        )?;
        positive(
            "mpl.baseline_decay",
            (0.0..1.0).contains(&self.mpl.baseline_decay),
            "in [0, 1)",
        )?;
        for (name, v) in [
            ("augment.weak", self.augment.weak),
            ("augment.strong", self.augment.strong),
        ] {
            positive(
                &format!("{name}.noise_std"),
                v.noise_std >= 0.0,
                "at least 0",
            )?;
            positive(
                &format!("{name}.feature_dropout"),
                (0.0..1.0).contains(&v.feature_dropout),
                "in [0, 1)",
            )?;
        }
        positive(
            "reduced_mpl.width",
            self.reduced_mpl.width > 0,
            "at least 1",
        )?;
        if self.train.report == ReportedModel::Ema && self.train.ema_decay == 0.0 {
            anyhow::bail!("train.report = 'ema' needs train.ema_decay > 0");
        }
        Ok(())
    }
}

/// The first option, as a dotted key, whose value is a NaN or infinite number.
fn non_finite_key(value: &toml::Value, prefix: &str) -> Option<String> {
    match value {
        toml::Value::Float(f) if !f.is_finite() => Some(prefix.to_string()),
        toml::Value::Table(t) => t.iter().find_map(|(k, v)| {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            non_finite_key(v, &key)
        }),
        _ => None,
    }
}
