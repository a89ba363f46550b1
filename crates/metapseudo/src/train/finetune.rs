//! The finetune stage after training (docs/methods.md, "The finetune stage"): the run's EMA student (or
//! student) continues on the labeled samples only, with dropout off and a small constant
//! learning rate, and the best checkpoint by validation accuracy is kept. The validation
//! samples are carved from the labeled set or from the rest of the training pool, never from
//! the test split; with none (`finetune.validation_per_class = 0`) the stage trains on every
//! labeled sample for its steps and keeps its last model.
//!
//! The stage is a run of its own in the `finetune` sub-folder (config, split with validation
//! samples, metrics, checkpoints, report), so it logs, checkpoints and resumes like any run.
//! When it finishes, the finetuned run's summary gains the model `finetuned` (reported) and a
//! before/after record.

use super::trainer::{InitFrom, Outcome, TrainOptions, train};
use crate::config::{Config, FinetuneConfig, OptimConfig};
use crate::config::{FinetuneFrom, ReportedModel, ScheduleKind};
use crate::io::write_atomic;
use crate::run::{FinetuneRecord, RunData, RunDir, STAGE_FOLDER, Summary, count_per_class};
use anyhow::{Context, Result, bail};
use metapseudo_data::Rng;
use metapseudo_data::split::{ValidationSource, carve_validation};

/// The model the stage starts from: `ft.from`, or the EMA when the run keeps one.
pub fn start_model(config: &Config, ft: &FinetuneConfig) -> String {
    match ft.from {
        FinetuneFrom::Auto if config.train.ema_decay > 0.0 => "ema".into(),
        FinetuneFrom::Auto => "student".into(),
        named => named.as_str().into(),
    }
}

/// The stage's configuration: the run's data, network (dropout off) and labeled views;
/// supervised steps at `ft`'s constant learning rate; no EMA; the best model by validation
/// is reported (the last model when `ft` holds no validation samples out).
pub fn stage_config(parent: &Config, ft: &FinetuneConfig) -> Config {
    let mut c = parent.clone();
    c.method = crate::config::MethodName::Supervised;
    c.model.dropout = 0.0;
    c.augment.mixup_alpha = 0.0;
    c.train.steps = ft.steps;
    c.train.batch_size = ft.batch_size;
    c.train.ema_decay = 0.0;
    // Without validation samples there is no best to keep: the last model is the stage's.
    c.train.keep_best = ft.validation_per_class > 0;
    c.train.report = if c.train.keep_best {
        ReportedModel::Best
    } else {
        ReportedModel::Student
    };
    c.train.eval_every = ft.eval_every;
    c.train.checkpoint_every = ft.eval_every;
    c.train.steps_per_epoch = 0;
    c.train.best_on_tie = ft.best_on_tie.resolve(parent.train.best_on_tie);
    c.student_optim = OptimConfig {
        lr: ft.lr,
        momentum: ft.momentum,
        nesterov: true,
        weight_decay: ft.weight_decay,
        warmup_steps: 0,
        schedule: ScheduleKind::Constant,
        wait_steps: 0,
        clip_norm: 0.0,
        ..OptimConfig::default()
    };
    // Recorded for the reader; the stage itself runs no further stage.
    c.finetune = FinetuneConfig {
        steps: 0,
        ..ft.clone()
    };
    c
}

/// Writes the stage's folder: config, split with validation samples carved per `ft` (none
/// when `ft.validation_per_class` is 0), and the run's preprocessing.
fn prepare_stage(
    parent: &RunDir,
    config: &Config,
    ft: &FinetuneConfig,
    stage: &RunDir,
) -> Result<()> {
    let stage_cfg = stage_config(config, ft);
    stage_cfg.validate()?;
    let split = parent.read_split()?;
    let data = RunData::prepare(&stage_cfg, Some(split.clone()))?;
    let (labeled, validation) = if ft.validation_per_class == 0 {
        (split.labeled_indices.clone(), Vec::new())
    } else {
        let source = match ft.validation {
            crate::config::ValidationSource::Training => ValidationSource::Training,
            crate::config::ValidationSource::Labeled => ValidationSource::Labeled,
        };
        carve_validation(
            data.dataset.train.labels(),
            &data.dataset.classes,
            &split.labeled_indices,
            ft.validation_per_class,
            source,
            &mut Rng::stream(config.seed, "finetune/validation"),
        )
        .with_context(|| format!("finetune.validation = '{}'", ft.validation))?
    };
    let mut stage_split = split;
    stage_split.labeled_per_class = count_per_class(
        data.dataset.train.labels(),
        &labeled,
        data.dataset.num_classes(),
    );
    stage_split.labeled_indices = labeled;
    stage_split.validation_indices = validation;
    std::fs::create_dir_all(&stage.dir)
        .with_context(|| format!("cannot create {}", stage.dir.display()))?;
    write_atomic(&stage.config(), stage_cfg.to_toml().as_bytes())?;
    write_atomic(
        &stage.split(),
        serde_json::to_string_pretty(&stage_split)?.as_bytes(),
    )?;
    let pre = parent.read_preprocess(config)?;
    stage.save_preprocess(&pre)
}

/// Runs the finetune stage of the finished run `parent` with settings `ft` (or continues the
/// stage already in its folder, with that folder's saved settings). Returns the run's updated
/// summary, or `None` when `opts.stop_at` stopped the stage.
pub fn finetune(
    parent: &RunDir,
    ft: &FinetuneConfig,
    opts: &TrainOptions,
) -> Result<Option<Summary>> {
    let config = parent.read_config()?;
    let _lock = crate::run::lock::RunLock::acquire(&parent.dir, "the finetune stage")?;
    let Some(mut summary) = parent.read_summary()? else {
        bail!(
            "{} has not finished training (no summary.json): finish it first with `metapseudo train --resume {}`",
            parent.dir.display(),
            parent.dir.display()
        );
    };
    let stage = parent.stage();
    let ft = if stage.config().exists() {
        let saved = stage.read_config()?;
        if !opts.quiet {
            eprintln!(
                "continuing the finetune stage in {} with its saved settings (delete that folder to start over)",
                stage.dir.display()
            );
        }
        FinetuneConfig {
            steps: saved.train.steps,
            ..saved.finetune
        }
    } else {
        if ft.steps == 0 {
            bail!("the finetune stage needs a number of steps: --steps N (finetune.steps)");
        }
        prepare_stage(parent, &config, ft, &stage)?;
        ft.clone()
    };
    let from = start_model(&config, &ft);
    let before = summary
        .models
        .get(&from)
        .with_context(|| format!("{} has no model '{from}' to finetune", parent.dir.display()))?
        .accuracy;
    let opts = TrainOptions {
        init: Some(InitFrom {
            checkpoint: parent.checkpoint(),
            model: from.clone(),
        }),
        ..opts.clone()
    };
    let stage_summary = match train(None, &stage, &opts)? {
        Outcome::Finished(s) => *s,
        Outcome::Stopped { .. } => return Ok(None),
    };
    let validation_size = stage.read_split()?.validation_indices.len();
    let best = stage_summary.best;
    if validation_size > 0 && best.is_none() {
        bail!("the finetune stage kept no best model");
    }
    // The stage reports its best model by validation, or its last without validation samples.
    let after = stage_summary.models[&stage_summary.reported_model].clone();
    let record = FinetuneRecord {
        folder: STAGE_FOLDER.into(),
        from,
        steps: stage_summary.steps,
        before,
        after: after.accuracy,
        best_step: best.map_or(stage_summary.steps, |b| b.step),
        validation_before: best.map(|b| b.initial),
        validation_best: best.map(|b| b.accuracy),
        validation_size,
    };
    summary.set_finetuned(record, after);
    summary.save(&parent.summary())?;
    Ok(Some(summary))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stage_takes_its_own_tie_rule_or_the_runs() {
        let mut parent = Config::default();
        parent.train.best_on_tie = "later".into();
        let mut ft = FinetuneConfig {
            steps: 10,
            ..FinetuneConfig::default()
        };
        assert_eq!(stage_config(&parent, &ft).train.best_on_tie, "later");
        parent.train.best_on_tie = "earlier".into();
        ft.best_on_tie = "later".into();
        let stage = stage_config(&parent, &ft);
        assert_eq!(stage.train.best_on_tie, "later");
        stage.validate().unwrap();
        // An unknown rule is refused when the configuration is read.
        let err = "sooner".parse::<crate::config::StageTieRule>().unwrap_err();
        assert!(err.contains("finetune.best_on_tie"), "{err}");
    }
}
