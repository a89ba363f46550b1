//! What a person reads after a run: `report.html` (curves, confusion matrices, calibration,
//! feature embeddings, decision regions), run comparison tables and TensorBoard event files.

pub mod calibration;
pub mod compare;
pub mod embed;
pub mod html;
pub mod plots;
pub mod tensorboard;

use crate::eval::{
    EvalInputs, ModelEval, Output, TestLogits, argmax_row, evaluations, predict_rows,
    predict_rows_at, softmax_rows, true_classes,
};
use crate::io::write_atomic;
use crate::predict::SavedRun;
use crate::run::metrics::{MetricsLine, read_metrics};
use crate::run::{RunDir, SplitRecord, Summary};
use anyhow::{Context, Result};
use calibration::{Calibration, calibration};
use embed::{Rows, TsneOptions, pca_2d, tsne_2d};
use metapseudo_data::Rng;
use metapseudo_data::dataset::{Examples, Samples};
use plots::GridPrediction;
use std::path::PathBuf;

/// Confidence bins of the reliability diagrams.
pub const CALIBRATION_BINS: usize = 15;
/// Grid cells per side of the decision-region plots.
const GRID_CELLS: usize = 80;
/// Unlabeled training points drawn on the decision-region plots.
const REGION_POINTS: usize = 1000;

/// One evaluated model: its test metrics and calibration.
#[derive(Clone, Debug)]
pub struct ModelReport {
    /// `student`, `ema`, `teacher`, ...
    pub name: String,
    /// Accuracy, per-class accuracy and confusion matrix on the test split.
    pub eval: ModelEval,
    /// Expected calibration error and reliability bins on the test split.
    pub calibration: Calibration,
}

/// A 2-D embedding of some test examples' penultimate features.
#[derive(Clone, Debug)]
pub struct Embedding {
    /// `PCA` or `t-SNE`.
    pub method: &'static str,
    /// Coordinates.
    pub points: Vec<[f64; 2]>,
    /// True class of each point.
    pub labels: Vec<usize>,
}

/// Decision regions of the models of a run on 2-D data.
#[derive(Clone, Debug)]
pub struct Regions {
    /// Each model's predicted class over the grid.
    pub grids: Vec<(String, GridPrediction)>,
    /// Training points drawn on top (labeled ones and a sample of unlabeled ones).
    pub points: Vec<[f64; 2]>,
    /// Their classes (`None`: shown as unlabeled).
    pub labels: Vec<Option<usize>>,
}

/// Everything `report.html` shows.
#[derive(Clone, Debug)]
pub struct ReportContent {
    /// The summary of the run.
    pub summary: Summary,
    /// The effective configuration as TOML.
    pub config_toml: String,
    /// The labeled split.
    pub split: SplitRecord,
    /// The logged scalars.
    pub metrics: Vec<MetricsLine>,
    /// Every evaluated model.
    pub models: Vec<ModelReport>,
    /// Which model the embeddings are of.
    pub embedded_model: String,
    /// Test examples in the test split.
    pub test_size: usize,
    /// PCA and (when enabled) t-SNE of penultimate features.
    pub embeddings: Vec<Embedding>,
    /// Decision regions, for 2-D tabular data.
    pub regions: Option<Regions>,
}

/// `count` distinct indices below `n`, drawn from `rng` (all of them, shuffled, when `count`
/// is at least `n`).
fn sample_indices(n: usize, count: usize, rng: &mut Rng) -> Vec<usize> {
    let mut all: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut all);
    all.truncate(count.min(n));
    all
}

/// Gathers the report of the run `saved` holds, whose models gave `logits` and whose summary
/// is `summary`.
pub fn report_content(
    saved: &SavedRun,
    run: &RunDir,
    summary: &Summary,
    logits: &TestLogits,
) -> Result<ReportContent> {
    let metrics = if run.metrics().exists() {
        read_metrics(&run.metrics())?
    } else {
        Vec::new()
    };
    let data = &saved.data;
    let inputs = EvalInputs {
        examples: &data.dataset.test,
        normalizer: &data.normalizer,
    };
    let truth = true_classes(inputs.examples);
    let evals = evaluations(logits, inputs.examples, data.dataset.num_classes());
    let models = logits
        .iter()
        .map(|(name, rows)| ModelReport {
            name: name.clone(),
            eval: evals[name].clone(),
            calibration: calibration(&softmax_rows(rows), &truth, CALIBRATION_BINS),
        })
        .collect();
    let out = &saved.config.output;
    let embedded = saved
        .named()
        .into_iter()
        .find(|(n, _)| *n == summary.reported_model)
        .or_else(|| saved.named().into_iter().next())
        .context("the run has no model")?;
    let mut rng = Rng::stream(saved.config.seed, "report");
    let chosen = sample_indices(inputs.examples.len(), out.embed_points, &mut rng);
    let features = predict_rows_at(embedded.1, inputs, &chosen, Output::Features, &saved.device);
    let labels: Vec<usize> = chosen.iter().map(|&i| truth[i]).collect();
    let mut embeddings = Vec::new();
    if !features.is_empty() {
        embeddings.push(Embedding {
            method: "PCA",
            points: pca_2d(&Rows::from_vecs(&features)),
            labels: labels.clone(),
        });
        let k = out.tsne_points.min(features.len());
        if k >= 10 {
            let points = tsne_2d(
                &Rows::from_vecs(&features[..k]),
                TsneOptions {
                    seed: saved.config.seed,
                    ..TsneOptions::default()
                },
            );
            embeddings.push(Embedding {
                method: "t-SNE",
                points,
                labels: labels[..k].to_vec(),
            });
        }
    }
    Ok(ReportContent {
        summary: summary.clone(),
        config_toml: saved.config.to_toml(),
        split: data.split.clone(),
        metrics,
        models,
        embedded_model: embedded.0.to_string(),
        test_size: inputs.examples.len(),
        embeddings,
        regions: decision_regions(saved, &mut rng),
    })
}

/// Each model's decision regions over the training data's bounding box, for 2-D tables.
fn decision_regions(saved: &SavedRun, rng: &mut Rng) -> Option<Regions> {
    let data = &saved.data;
    let train = data.dataset.train.table().filter(|t| t.dim == 2)?;
    let range = |k: usize| {
        let (lo, hi) = (0..train.len())
            .map(|i| f64::from(train.row(i)[k]))
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            });
        let pad = 0.1 * (hi - lo).max(1e-6);
        (lo - pad, hi + pad)
    };
    let template = GridPrediction {
        x_range: range(0),
        y_range: range(1),
        cells: GRID_CELLS,
        classes: Vec::new(),
    };
    let mut grid = Samples::new(2);
    for iy in 0..GRID_CELLS {
        for ix in 0..GRID_CELLS {
            let (x, y) = template.centre(ix, iy);
            grid.push(&[x as f32, y as f32], None);
        }
    }
    let grid = Examples::Table(grid);
    let inputs = EvalInputs {
        examples: &grid,
        normalizer: &data.normalizer,
    };
    let grids = saved
        .named()
        .into_iter()
        .map(|(name, model)| {
            let classes = predict_rows(model, inputs, Output::Logits, &saved.device)
                .iter()
                .map(|r| argmax_row(r))
                .collect();
            (
                name.to_string(),
                GridPrediction {
                    classes,
                    ..template.clone()
                },
            )
        })
        .collect();
    let labeled = &data.split.labeled_indices;
    let unlabeled: Vec<usize> = sample_indices(data.unlabeled.len(), REGION_POINTS, rng)
        .into_iter()
        .map(|k| data.unlabeled[k])
        .filter(|i| !labeled.contains(i))
        .collect();
    let coords = |i: usize| {
        let r = train.row(i);
        [f64::from(r[0]), f64::from(r[1])]
    };
    let mut points: Vec<[f64; 2]> = unlabeled.iter().map(|&i| coords(i)).collect();
    let mut labels: Vec<Option<usize>> = vec![None; points.len()];
    for &i in labeled {
        points.push(coords(i));
        labels.push(train.labels[i]);
    }
    Some(Regions {
        grids,
        points,
        labels,
    })
}

/// Writes `report.html` of a run folder from its checkpoint, metrics and summary, computing on
/// `device` (default: the run's own). A run that has not finished is reported as it stands at
/// its last checkpoint.
pub fn write_report(run: &RunDir, device: Option<&str>) -> Result<PathBuf> {
    run.read_config()?;
    let _lock = crate::run::lock::RunLock::acquire(&run.dir, "writing the report")?;
    let saved = SavedRun::load(run, device)?;
    let logits = saved.test_logits();
    let summary = match run.read_summary()? {
        Some(summary) => summary,
        None => saved.summary(&logits),
    };
    let content = report_content(&saved, run, &summary, &logits)?;
    let page = html::page(&content)?;
    let path = run.report();
    write_atomic(&path, page.as_bytes())?;
    Ok(path)
}
