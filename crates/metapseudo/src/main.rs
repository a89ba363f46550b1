//! The `metapseudo` command line: train, evaluate and inspect semi-supervised runs.

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use metapseudo::config::layers::{ConfigLayers, parse_set, read_config_file};
use metapseudo::config::presets::PRESETS;
use metapseudo::config::{Config, FinetuneConfig, METHODS};
use metapseudo::datatools::bench::{AugmentBench, bench_augment};
use metapseudo::datatools::inspect::DataReport;
use metapseudo::datatools::preview::{PreviewOptions, write_preview};
use metapseudo::export;
use metapseudo::io::write_atomic;
use metapseudo::models::{MODELS, ModelShape, build, trainable_params};
use metapseudo::predict::{self, Predictor, read_inputs};
use metapseudo::report::{self, compare};
use metapseudo::train::batches::image_policy;
use metapseudo::train::bench_step::{StepBench, bench_step};
use metapseudo::train::finetune::{MODEL as FINETUNED, finetune, stage_dir};
use metapseudo::train::run::{RunDir, load_dataset};
use metapseudo::train::trainer::{Outcome, TrainOptions, load_session, train};
use std::path::PathBuf;
use std::process::ExitCode;
use toml::Value;

/// Semi-supervised learning with Meta Pseudo Labels and its family.
#[derive(Parser)]
#[command(name = "metapseudo", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model (default: MPL on the two-moons set); writes a run folder.
    Train(Box<TrainArgs>),
    /// Finetune a finished run's EMA student (or student) on its labeled samples only, with
    /// dropout off and a small learning rate, keeping the best checkpoint by validation
    /// accuracy; runs (or continues) in DIR/finetune and adds the model `finetuned` to the
    /// run's summary.
    Finetune(FinetuneArgs),
    /// Re-evaluate a run's saved models on its test split and print the summary.
    Eval {
        /// The run folder.
        dir: PathBuf,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        device: DeviceArg,
    },
    /// Rebuild a run's report.html (curves, confusion matrices, calibration, embeddings).
    Report {
        /// The run folder.
        dir: PathBuf,
        #[command(flatten)]
        device: DeviceArg,
    },
    /// Compare runs: a table per run and grouped over seeds, with the gain over supervised.
    Compare {
        /// Run folders, or folders holding run folders.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Write <OUT>.md and <OUT>.html.
        #[arg(long, default_value = "compare")]
        out: PathBuf,
    },
    /// Classify image files, folders of images or CSV rows with a run's model or an export.
    Predict {
        /// A run folder or an exported model (.safetensors or its folder).
        model: PathBuf,
        /// Image files, folders (searched recursively) or CSV files.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Classes to show per input, most probable first.
        #[arg(long, default_value_t = 1)]
        top_k: usize,
        /// Which model of a run folder (default: its reported model): student, ema, teacher, ensemble.
        #[arg(long)]
        model_name: Option<String>,
        /// Print JSON lines, one per input.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        device: DeviceArg,
    },
    /// Write a run's model as safetensors with a JSON description (architecture, preprocessing).
    Export {
        /// The run folder.
        dir: PathBuf,
        /// Output format (safetensors).
        #[arg(long, default_value = "safetensors")]
        format: String,
        /// Output file (default: <DIR>/export/model.safetensors).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Which model (default: the run's reported model): student, ema, teacher (an export holds one network).
        #[arg(long)]
        model_name: Option<String>,
    },
    /// Look at a data set: counts and statistics, or a grid of augmented images.
    #[command(subcommand)]
    Data(DataCommand),
    /// Measure speed.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// List the compute devices of this build and whether each opens; with --check, compare
    /// every network's logits and gradients on a device against the CPU's.
    Devices {
        /// Compare on this device (cuda, cuda:N, wgpu) against the CPU.
        #[arg(long, value_name = "DEVICE")]
        check: Option<String>,
        /// Compare only this network (default: every registered one).
        #[arg(long)]
        model: Option<String>,
        /// Random 3x32x32 images per comparison.
        #[arg(long, default_value_t = 8)]
        batch: usize,
        /// The largest relative error of the logits (||device - cpu|| / ||cpu||) that passes.
        #[arg(long, default_value_t = 1e-2)]
        tolerance: f64,
        /// The largest relative error of the gradients that passes (looser: an activation
        /// within rounding of LeakyReLU's kink takes another slope on another device).
        #[arg(long, default_value_t = 5e-2)]
        gradient_tolerance: f64,
    },
    /// List the registered networks with their trainable parameter counts.
    Models,
    /// List the presets.
    Presets,
}

#[derive(Subcommand)]
enum DataCommand {
    /// Counts per split and class, example shape, mean and std.
    Inspect {
        #[command(flatten)]
        data: DataArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a PNG grid: each row an original training image, then augmented views.
    Preview {
        #[command(flatten)]
        data: DataArgs,
        /// Augmentation policy: none, weak, strong, autoaugment.
        #[arg(long, default_value = "strong")]
        policy: String,
        /// Output PNG file.
        #[arg(long, default_value = "preview.png")]
        out: PathBuf,
        /// Images (rows).
        #[arg(long, default_value_t = 8)]
        rows: usize,
        /// Augmented views per image.
        #[arg(long, default_value_t = 7)]
        views: usize,
        /// Seed of the choice of images and of the augmentations.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Unlabeled (weak, strong) pairs per second through the batch pipeline.
    Augment {
        #[command(flatten)]
        data: DataArgs,
        /// Policy of the strong view.
        #[arg(long, default_value = "strong")]
        policy: String,
        /// Pairs per batch.
        #[arg(long, default_value_t = 448)]
        batch: usize,
        /// Worker threads (default: one per core).
        #[arg(long)]
        workers: Option<usize>,
        /// Seconds to measure.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
    },
    /// Seconds per training step of a method on a network, on random inputs (no data
    /// pipeline); prints median_s=, images per second and peak memory.
    Step {
        #[command(flatten)]
        layers: LayerArgs,
        /// Network (see `metapseudo models`).
        #[arg(long, default_value = "wrn-28-2")]
        model: String,
        /// Labeled examples per step.
        #[arg(long, default_value_t = 64)]
        batch: usize,
        /// Unlabeled examples per labeled one.
        #[arg(long, default_value_t = 7)]
        mu: usize,
        /// Method: supervised, pseudo-label, uda, mpl, smpl, metasemi, reduced-mpl.
        #[arg(long, default_value = "supervised")]
        method: String,
        /// One example's shape, CxHxW (or a feature count for the MLP).
        #[arg(long, default_value = "3x32x32")]
        shape: String,
        /// Number of classes.
        #[arg(long, default_value_t = 10)]
        classes: usize,
        /// Untimed steps first.
        #[arg(long, default_value_t = 3)]
        warmup: usize,
        /// Timed steps.
        #[arg(long, default_value_t = 10)]
        steps: usize,
        #[command(flatten)]
        device: DeviceArg,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

/// `--device`: where a command computes, in place of `train.device`.
#[derive(Args)]
struct DeviceArg {
    /// Compute device: cpu, cuda, cuda:N or wgpu (GPU devices need builds with the cargo
    /// features `cuda` / `wgpu`); default: train.device, an existing run's saved one (for an
    /// exported model, the cpu). A run continued with --resume continues there.
    #[arg(long, value_name = "DEVICE")]
    device: Option<String>,
}

/// Which data, with the options that shape it.
#[derive(Args)]
struct DataArgs {
    /// Data specification, e.g. idx:DIR, cifar10:DIR, svhn:DIR, folder:DIR, digits.
    #[arg(long)]
    data: String,
    #[command(flatten)]
    layers: LayerArgs,
    /// Skip undecodable images in a folder with a warning.
    #[arg(long)]
    skip_bad_images: bool,
}

impl DataArgs {
    fn config(&self) -> Result<Config> {
        let mut flags = vec![("data.spec".to_string(), Value::String(self.data.clone()))];
        if self.skip_bad_images {
            flags.push(("data.skip_bad_images".into(), Value::Boolean(true)));
        }
        self.layers.with_flags(flags)?.resolve()
    }
}

/// The configuration layers below the flags: preset, file and `--set` overrides.
#[derive(Args)]
struct LayerArgs {
    /// Preset (default: chosen from the data): moons, digits, tabular, none, ...
    #[arg(long)]
    preset: Option<String>,
    /// TOML configuration file.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override one option, e.g. --set mpl.sign=old-minus-new (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
}

impl LayerArgs {
    /// The layers, topped by `flags`.
    fn with_flags(&self, flags: Vec<(String, Value)>) -> Result<ConfigLayers> {
        Ok(ConfigLayers {
            preset: self.preset.clone(),
            file: self.config.as_deref().map(read_config_file).transpose()?,
            sets: self
                .sets
                .iter()
                .map(|s| parse_set(s))
                .collect::<Result<_>>()?,
            flags,
        })
    }
}

#[derive(Args)]
struct FinetuneArgs {
    /// The finished run folder.
    dir: PathBuf,
    /// Steps of the stage (default: the run's finetune.steps).
    #[arg(long)]
    steps: Option<u64>,
    /// Constant learning rate (default: finetune.lr, 3e-5 as the MPL code).
    #[arg(long)]
    lr: Option<f64>,
    /// Labeled samples per batch (default: finetune.batch_size, 512).
    #[arg(long)]
    batch_size: Option<usize>,
    /// Start from: ema or student (default: the EMA when the run keeps one).
    #[arg(long)]
    from: Option<String>,
    /// Validation samples from: labeled (held out of the labeled set) or training (labeled
    /// training samples outside the labeled set). Never the test split.
    #[arg(long)]
    validation: Option<String>,
    /// Validation samples per class (default: finetune.validation_per_class, 1; 0: none, the
    /// stage trains on every labeled sample and keeps its last model).
    #[arg(long)]
    validation_per_class: Option<usize>,
    /// Validate (and keep the best model) every N steps.
    #[arg(long)]
    eval_every: Option<u64>,
    /// Which model a validation tie keeps: earlier (default: the run's train.best_on_tie),
    /// later, or lower-loss (the lower validation cross entropy).
    #[arg(long)]
    best_on_tie: Option<String>,
    /// Save a checkpoint and exit after this many steps of the stage.
    #[arg(long)]
    stop_at: Option<u64>,
    #[command(flatten)]
    device: DeviceArg,
    /// No progress bar and no final table.
    #[arg(long)]
    quiet: bool,
}

impl FinetuneArgs {
    /// The run's finetune settings with the flags on top.
    fn settings(&self, config: &Config) -> Result<FinetuneConfig> {
        let mut ft = config.finetune.clone();
        if let Some(v) = self.steps {
            ft.steps = v;
        }
        if let Some(v) = self.lr {
            ft.lr = v;
        }
        if let Some(v) = self.batch_size {
            ft.batch_size = v;
        }
        if let Some(v) = &self.from {
            ft.from = v.clone();
        }
        if let Some(v) = &self.validation {
            ft.validation = v.clone();
        }
        if let Some(v) = self.validation_per_class {
            ft.validation_per_class = v;
        }
        if let Some(v) = self.eval_every {
            ft.eval_every = v;
        }
        if let Some(v) = &self.best_on_tie {
            ft.best_on_tie = v.clone();
        }
        let mut check = config.clone();
        check.finetune = ft.clone();
        check.validate()?;
        Ok(ft)
    }
}

#[derive(Args)]
struct TrainArgs {
    /// Data: moons, digits, csv:PATH, idx:DIR, cifar10:DIR, cifar100:DIR, svhn:DIR, folder:DIR.
    #[arg(long)]
    data: Option<String>,
    /// Method: supervised, pseudo-label, uda, mpl, smpl, metasemi or reduced-mpl.
    #[arg(long)]
    method: Option<String>,
    /// Run seed (labeled subset, initialisation, batch order, augmentation).
    #[arg(long)]
    seed: Option<u64>,
    /// Training steps.
    #[arg(long)]
    steps: Option<u64>,
    /// Labeled samples per class.
    #[arg(long, group = "budget")]
    labels_per_class: Option<usize>,
    /// Labeled samples in total, balanced over classes.
    #[arg(long, group = "budget")]
    labels: Option<usize>,
    /// Percentage of each class that keeps its label.
    #[arg(long, group = "budget")]
    labels_percent: Option<f64>,
    #[command(flatten)]
    layers: LayerArgs,
    /// Run folder (default: runs/<method>-<data>-seed<seed>-<time>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue the run in this folder from its last checkpoint.
    #[arg(long, conflicts_with_all = ["data", "method", "seed", "steps", "budget", "preset", "config", "sets", "out", "checkpoint_every", "skip_bad_images", "tensorboard", "unlabeled_loss", "role_swap", "teacher_run", "finetune_steps"])]
    resume: Option<PathBuf>,
    /// Save a checkpoint and exit after this many steps.
    #[arg(long)]
    stop_at: Option<u64>,
    /// Write a checkpoint every N steps.
    #[arg(long)]
    checkpoint_every: Option<u64>,
    /// Skip undecodable images in a folder with a warning.
    #[arg(long)]
    skip_bad_images: bool,
    /// Unlabeled consistency loss of UDA and the MPL teacher: ce or cosine.
    #[arg(long)]
    unlabeled_loss: Option<String>,
    /// Reduced MPL: the trained run whose model is the large teacher.
    #[arg(long, value_name = "DIR")]
    teacher_run: Option<PathBuf>,
    /// After training, finetune the EMA student on the labeled samples for N steps (see
    /// `metapseudo finetune`).
    #[arg(long, value_name = "N")]
    finetune_steps: Option<u64>,
    /// MPL role-playing: teacher and student swap roles every `epoch` or every N steps.
    #[arg(long, value_name = "epoch|N")]
    role_swap: Option<String>,
    /// Write TensorBoard event files of every logged scalar into the run folder.
    #[arg(long)]
    tensorboard: bool,
    #[command(flatten)]
    device: DeviceArg,
    /// No progress bar and no final table.
    #[arg(long)]
    quiet: bool,
}

impl TrainArgs {
    fn layers(&self) -> Result<ConfigLayers> {
        let mut flags: Vec<(String, Value)> = Vec::new();
        let mut flag = |k: &str, v: Value| flags.push((k.to_string(), v));
        if let Some(d) = &self.data {
            flag("data.spec", Value::String(d.clone()));
        }
        if let Some(m) = &self.method {
            flag("method", Value::String(m.clone()));
        }
        if let Some(s) = self.seed {
            flag("seed", Value::Integer(s as i64));
        }
        if let Some(s) = self.steps {
            flag("train.steps", Value::Integer(s as i64));
        }
        if let Some(n) = self.checkpoint_every {
            flag("train.checkpoint_every", Value::Integer(n as i64));
        }
        if self.skip_bad_images {
            flag("data.skip_bad_images", Value::Boolean(true));
        }
        if self.tensorboard {
            flag("output.tensorboard", Value::Boolean(true));
        }
        if let Some(l) = &self.unlabeled_loss {
            flag("uda.unlabeled_loss", Value::String(l.clone()));
        }
        if let Some(t) = &self.teacher_run {
            flag(
                "reduced_mpl.teacher_run",
                Value::String(t.display().to_string()),
            );
        }
        if let Some(n) = self.finetune_steps {
            flag("finetune.steps", Value::Integer(n as i64));
        }
        if let Some(r) = &self.role_swap {
            flag("mpl.role_swap", Value::String(r.clone()));
        }
        if let Some(d) = &self.device.device {
            flag("train.device", Value::String(d.clone()));
        }
        let budget = [
            (
                "data.labels_per_class",
                self.labels_per_class.map(|n| Value::Integer(n as i64)),
            ),
            ("data.labels", self.labels.map(|n| Value::Integer(n as i64))),
            ("data.labels_percent", self.labels_percent.map(Value::Float)),
        ];
        if budget.iter().any(|(_, v)| v.is_some()) {
            for (k, v) in budget {
                let zero = if k.ends_with("percent") {
                    Value::Float(0.0)
                } else {
                    Value::Integer(0)
                };
                flag(k, v.unwrap_or(zero));
            }
        }
        self.layers.with_flags(flags)
    }
}

fn default_out(config: &Config) -> PathBuf {
    let data = match config.data.spec.strip_prefix("csv:") {
        Some(p) => std::path::Path::new(p)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "csv".into()),
        None => config.data.spec.clone(),
    };
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    PathBuf::from("runs").join(format!(
        "{}-{}-seed{}-{}",
        config.method,
        data,
        config.seed,
        utc_stamp(secs)
    ))
}

/// `YYYYmmdd-HHMMSS` in UTC.
fn utc_stamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn cmd_train(args: TrainArgs) -> Result<()> {
    let opts = TrainOptions {
        stop_at: args.stop_at,
        quiet: args.quiet,
        init: None,
        device: args.device.device.clone(),
    };
    let (run, outcome) = match &args.resume {
        Some(dir) => {
            let run = RunDir { dir: dir.clone() };
            let outcome = train(None, &run, &opts)?;
            (run, outcome)
        }
        None => {
            let config = args.layers()?.resolve()?;
            for warning in config.warnings() {
                eprintln!("warning: {warning}");
            }
            let run = RunDir {
                dir: args.out.clone().unwrap_or_else(|| default_out(&config)),
            };
            let outcome = train(Some(&config), &run, &opts)?;
            (run, outcome)
        }
    };
    match outcome {
        Outcome::Finished(mut summary) => {
            let ft = run.read_config()?.finetune;
            if ft.steps > 0 {
                let stage_opts = TrainOptions {
                    stop_at: None,
                    ..opts
                };
                if let Some(s) = finetune(&run, &ft, &stage_opts)? {
                    *summary = s;
                }
            }
            if !args.quiet {
                print!("{}", summary.table());
                println!("run folder: {}", run.dir.display());
            }
        }
        Outcome::Stopped { step } => {
            if !args.quiet {
                println!(
                    "stopped at step {step}; continue with: metapseudo train --resume {}",
                    run.dir.display()
                );
            }
        }
    }
    Ok(())
}

fn cmd_finetune(args: FinetuneArgs) -> Result<()> {
    let run = RunDir {
        dir: args.dir.clone(),
    };
    let ft = args.settings(&run.read_config()?)?;
    let opts = TrainOptions {
        stop_at: args.stop_at,
        quiet: args.quiet,
        init: None,
        device: args.device.device.clone(),
    };
    match finetune(&run, &ft, &opts)? {
        Some(summary) => {
            if !args.quiet {
                print!("{}", summary.table());
                println!("stage folder: {}", stage_dir(&run).dir.display());
            }
        }
        None => {
            if !args.quiet {
                println!(
                    "stopped; continue the stage with: metapseudo finetune {}",
                    run.dir.display()
                );
            }
        }
    }
    Ok(())
}

fn cmd_eval(dir: PathBuf, json: bool, device: Option<&str>) -> Result<()> {
    let run = RunDir { dir };
    let (session, _) = load_session(&run, device)?;
    let saved = run.read_summary().ok().flatten();
    let wall = saved
        .as_ref()
        .map_or(session.elapsed_before, |s| s.wall_seconds);
    let mut summary = session.summary(wall);
    // The finetuned model lives in the stage's folder: its figures are carried over (re-evaluate
    // it with `metapseudo eval DIR/finetune`).
    if let Some(old) = saved
        && let (Some(record), Some(model)) = (old.finetune, old.models.get(FINETUNED))
    {
        summary.set_finetuned(record, model.clone());
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{}", summary.table());
    }
    Ok(())
}

fn cmd_compare(dirs: &[PathBuf], out: &std::path::Path) -> Result<()> {
    let rows = compare::collect_runs(dirs)?;
    let groups = compare::group_runs(&rows);
    let md = compare::markdown(&rows, &groups);
    print!("{md}");
    let (md_path, html_path) = (out.with_extension("md"), out.with_extension("html"));
    write_atomic(&md_path, md.as_bytes())?;
    write_atomic(&html_path, compare::html(&rows, &groups).as_bytes())?;
    println!("wrote {} and {}", md_path.display(), html_path.display());
    Ok(())
}

fn cmd_predict(
    model: &std::path::Path,
    inputs: &[PathBuf],
    top_k: usize,
    model_name: Option<&str>,
    json: bool,
    device: Option<&str>,
) -> Result<()> {
    let predictor = Predictor::open(model, model_name, device)?;
    let items = read_inputs(inputs, &predictor.pre)?;
    let raw: Vec<Vec<f32>> = items.iter().map(|i| i.features.clone()).collect();
    let probs = predictor.probabilities(&raw);
    for (item, p) in items.iter().zip(&probs) {
        let top = predict::top_k(p, &predictor.pre.classes, top_k);
        if json {
            println!(
                "{}",
                serde_json::json!({"input": item.name, "predictions": top})
            );
        } else {
            let cells: Vec<String> = top
                .iter()
                .map(|c| format!("{} {:.4}", c.class, c.probability))
                .collect();
            println!("{}\t{}", item.name, cells.join("\t"));
        }
    }
    Ok(())
}

fn cmd_export(
    dir: &std::path::Path,
    format: &str,
    out: Option<&std::path::Path>,
    model_name: Option<&str>,
) -> Result<()> {
    if format != "safetensors" {
        bail!("unknown export format '{format}'; valid formats: safetensors");
    }
    let (weights, meta) = export::export_run(dir, model_name, out)?;
    println!("wrote {} and {}", weights.display(), meta.display());
    Ok(())
}

fn cmd_data(cmd: DataCommand) -> Result<()> {
    match cmd {
        DataCommand::Inspect { data, json } => {
            let config = data.config()?;
            let ds = load_dataset(&config)?;
            let report = DataReport::new(&ds, &config.data.spec);
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.text());
            }
        }
        DataCommand::Preview {
            data,
            policy,
            out,
            rows,
            views,
            seed,
        } => {
            let config = data.config()?;
            let ds = load_dataset(&config)?;
            let Some(set) = ds.train.images() else {
                anyhow::bail!("data preview needs image data; '{}' is tabular", ds.name);
            };
            let policy = image_policy(&policy, &config.augment)?;
            write_preview(set, &policy, PreviewOptions { rows, views, seed }, &out)?;
            println!("wrote {}", out.display());
        }
    }
    Ok(())
}

fn cmd_bench(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Augment {
            data,
            policy,
            batch,
            workers,
            seconds,
        } => {
            let config = data.config()?;
            let ds = load_dataset(&config)?;
            let workers = workers
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
            let t = bench_augment(
                &ds,
                &config.augment,
                &policy,
                AugmentBench {
                    batch,
                    workers,
                    warmup_batches: 2 * workers,
                    seconds,
                },
            )?;
            println!(
                "data={} policy={policy} batch={batch} workers={workers} batches={} seconds={:.2}",
                config.data.spec, t.batches, t.seconds
            );
            println!("pairs_per_s={:.0}", t.pairs_per_s);
        }
        BenchCommand::Step {
            layers,
            model,
            batch,
            mu,
            method,
            shape,
            classes,
            warmup,
            steps,
            device,
            json,
        } => {
            let sample = parse_shape(&shape)?;
            let mut flags = vec![
                ("model.name".into(), Value::String(model.clone())),
                ("method".into(), Value::String(method.clone())),
                ("train.batch_size".into(), Value::Integer(batch as i64)),
                ("train.mu".into(), Value::Integer(mu as i64)),
            ];
            if let Some(d) = device.device {
                flags.push(("train.device".into(), Value::String(d)));
            }
            if method == "reduced-mpl" {
                // The measurement feeds the reduced teacher random logits, not a run's.
                flags.push((
                    "reduced_mpl.teacher_run".into(),
                    Value::String("(random logits)".into()),
                ));
            }
            let mut layers = layers.with_flags(flags)?;
            layers.preset.get_or_insert_with(|| "none".into());
            let config = layers.resolve()?;
            let spec = StepBench {
                sample,
                classes,
                warmup,
                steps,
            };
            // Each step's time as it ends, on stderr: on a GPU the first steps compile and tune
            // kernels for minutes, and this shows how far a slow start has come.
            let started = std::time::Instant::now();
            let t = bench_step(&config, &spec, &mut |done| {
                eprintln!(
                    "step {}/{} ({}) {:.4} s, {:.1} s since start",
                    done.index + 1,
                    done.total,
                    if done.warmup { "warm-up" } else { "timed" },
                    done.seconds,
                    started.elapsed().as_secs_f64()
                )
            })?;
            let mib = |b: Option<u64>| b.map_or(f64::NAN, |b| b as f64 / (1 << 20) as f64);
            let images_per_s = t.images_per_step as f64 / t.median_s;
            if json {
                println!(
                    "{}",
                    serde_json::json!({
                        "model": model, "method": method, "batch": batch, "mu": mu,
                        "shape": shape, "median_s": t.median_s, "min_s": t.min_s,
                        "max_s": t.max_s, "images_per_s": images_per_s,
                        "rss_start_mib": mib(t.rss_start), "rss_before_mib": mib(t.rss_before),
                        "peak_rss_mib": mib(t.peak_rss), "device": config.train.device,
                        "device_reserved_mib": t.device_reserved.map(|b| mib(Some(b))),
                        "device_in_use_mib": t.device_in_use.map(|b| mib(Some(b))),
                    })
                );
            } else {
                println!(
                    "model={model} method={method} batch={batch} mu={mu} shape={shape} device={} steps={steps} min_s={:.4} max_s={:.4}",
                    config.train.device, t.min_s, t.max_s
                );
                println!("median_s={:.4}", t.median_s);
                println!("images_per_s={images_per_s:.1}");
                println!(
                    "rss_start_mib={:.0} rss_before_mib={:.0} peak_rss_mib={:.0}",
                    mib(t.rss_start),
                    mib(t.rss_before),
                    mib(t.peak_rss)
                );
                if let (Some(reserved), Some(in_use)) = (t.device_reserved, t.device_in_use) {
                    println!(
                        "device_reserved_mib={:.0} device_in_use_mib={:.0}",
                        mib(Some(reserved)),
                        mib(Some(in_use))
                    );
                }
            }
        }
    }
    Ok(())
}

/// `3x32x32` -> `[3, 32, 32]`; `64` -> `[64]`.
fn parse_shape(s: &str) -> Result<Vec<usize>> {
    let dims = s
        .split('x')
        .map(|d| d.trim().parse::<usize>().ok().filter(|&d| d > 0))
        .collect::<Option<Vec<_>>>();
    match dims {
        Some(d) if d.len() == 1 || d.len() == 3 => Ok(d),
        _ => bail!("--shape '{s}': expected CxHxW (e.g. 3x32x32) or a feature count"),
    }
}

fn cmd_devices(
    check: Option<&str>,
    model: Option<&str>,
    batch: usize,
    (tolerance, gradient_tolerance): (f64, f64),
) -> Result<()> {
    use metapseudo::device::{self, DeviceName, parity};
    let Some(name) = check else {
        for name in DeviceName::EACH_BACKEND {
            let state = match name.missing_feature() {
                Some(feature) => format!("not in this build (cargo feature `{feature}`)"),
                None => match device::open(&name.to_string()) {
                    Ok(_) => "opens".to_string(),
                    Err(e) => format!("built, does not open: {e:#}"),
                },
            };
            println!("{:<7} {state}", name.to_string());
        }
        return Ok(());
    };
    let device = device::open(name)?;
    println!(
        "{:<10} {:>11} {:>11} {:>11} {:>19}  (relative errors against the cpu, batch {batch})",
        "model", "eval logits", "train logits", "gradients", "loss cpu / device"
    );
    let cell = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2e}"));
    let mut failed = Vec::new();
    let models: Vec<&str> = match model {
        Some(m) => vec![m],
        None => metapseudo::models::MODELS.iter().map(|(n, _)| *n).collect(),
    };
    for model in models {
        let p = parity::check_model(model, &device, batch)?;
        let loss = p
            .loss
            .map_or("-".into(), |(a, b)| format!("{a:.5} / {b:.5}"));
        let passes = p.passes(tolerance, gradient_tolerance);
        let verdict = if passes { "ok" } else { "MISMATCH" };
        println!(
            "{:<10} {:>11} {:>11} {:>11} {:>19}  {verdict}{}",
            p.model,
            cell(Some(p.eval_logits)),
            cell(p.train_logits),
            cell(p.gradients),
            loss,
            if p.gradients.is_none() {
                " (dropout: evaluation mode only)"
            } else {
                ""
            }
        );
        if !passes {
            failed.push(p.model);
        }
    }
    if !failed.is_empty() {
        bail!(
            "{name} differs from the cpu by more than {tolerance} (logits) or {gradient_tolerance} (gradients) on: {}",
            failed.join(", ")
        );
    }
    Ok(())
}

fn cmd_models() -> Result<()> {
    // Parameters require gradients only on an autodiff device; that is what is counted.
    let device = burn::tensor::Device::flex().autodiff();
    let config = Config::default();
    println!("{:<10} {:>12}  description", "name", "params");
    for (name, about) in MODELS {
        let mut model_config = config.model.clone();
        model_config.name = name.to_string();
        let (shape, counted_on) = if *name == "mlp" {
            (
                ModelShape::flat(64, 10),
                "64 inputs, 10 classes, default widths",
            )
        } else {
            (
                ModelShape::image([3, 32, 32], 10),
                "3x32x32 images, 10 classes",
            )
        };
        let net = build(
            &model_config,
            &shape,
            &mut metapseudo::data::Rng::new(0),
            &device,
        )
        .context("building a registered model")?;
        println!(
            "{name:<10} {:>12}  {about} (counted for {counted_on})",
            trainable_params(&net)
        );
    }
    Ok(())
}

/// Asks glibc's allocator to keep freed memory for reuse: every training step allocates and
/// frees tensors of a few megabytes, which glibc by default returns to the system (its mmap
/// threshold) and takes back through page faults that zero each page again. Raising the mmap
/// threshold to its maximum (32 MiB) and the trim threshold made the WRN-28-2 step 15-20 %
/// faster with the same peak memory (BENCHMARKS.md). `MALLOC_*` variables set by the user win.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let user_set = std::env::vars_os().any(|(key, _)| {
            key.to_str()
                .is_some_and(|k| k.starts_with("MALLOC_") && k.ends_with("_THRESHOLD_"))
        });
        if !user_set {
            // SAFETY: mallopt only changes allocator parameters; called before any thread starts.
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
                libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
            }
        }
    }
}

fn main() -> ExitCode {
    // Output piped into `head` and the like: end quietly when the reader goes away, as Unix
    // tools do, instead of panicking on the failed write.
    #[cfg(unix)]
    // SAFETY: restoring the default action of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    keep_freed_memory();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => cmd_train(*args),
        Command::Finetune(args) => cmd_finetune(args),
        Command::Eval { dir, json, device } => cmd_eval(dir, json, device.device.as_deref()),
        Command::Report { dir, device } => {
            report::rebuild_report(&RunDir { dir }, device.device.as_deref()).map(|p| {
                println!("wrote {}", p.display());
            })
        }
        Command::Compare { dirs, out } => cmd_compare(&dirs, &out),
        Command::Predict {
            model,
            inputs,
            top_k,
            model_name,
            json,
            device,
        } => cmd_predict(
            &model,
            &inputs,
            top_k,
            model_name.as_deref(),
            json,
            device.device.as_deref(),
        ),
        Command::Export {
            dir,
            format,
            out,
            model_name,
        } => cmd_export(&dir, &format, out.as_deref(), model_name.as_deref()),
        Command::Data(cmd) => cmd_data(cmd),
        Command::Bench(cmd) => cmd_bench(cmd),
        Command::Devices {
            check,
            model,
            batch,
            tolerance,
            gradient_tolerance,
        } => cmd_devices(
            check.as_deref(),
            model.as_deref(),
            batch,
            (tolerance, gradient_tolerance),
        ),
        Command::Models => cmd_models(),
        Command::Presets => {
            let width = PRESETS.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
            for (name, about) in PRESETS {
                println!("{name:<width$}  {about}");
            }
            println!("methods: {}", METHODS.join(", "));
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_stamp_formats_dates() {
        assert_eq!(super::utc_stamp(0), "19700101-000000");
        assert_eq!(super::utc_stamp(1_700_000_000), "20231114-221320");
    }
}
