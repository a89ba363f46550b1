//! Inference outside training: a trained model with its preprocessing, from a run folder or
//! an exported model, applied to image files, folders or CSV rows; and every saved network of
//! a run folder, for evaluation and reports.

mod export_format;
mod saved;

pub use export_format::{EXPORT_FILE, EXPORT_FORMAT, ExportMeta, LAYOUT_NOTE};
pub use saved::SavedRun;

use crate::config::{Config, ModelConfig};
use crate::eval::softmax_rows;
use crate::eval::{EvalInputs, mean_logits, predict_logits};
use crate::io::TensorFile;
use crate::models::{ModelShape, Network, build};
use crate::params::import_tensors;
use crate::run::{FINETUNED, Preprocess, RunDir};
use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use metapseudo_data::Rng;
use metapseudo_data::csv::LabelColumn;
use metapseudo_data::folder::{image_files_recursive, is_image, load_image_as};
use metapseudo_data::image::hwc_to_chw;
use metapseudo_data::{Examples, Samples};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// A trained network (or an ensemble of networks) and what it needs to classify raw inputs.
pub struct Predictor {
    /// The network, or the members of an ensemble, whose logits are averaged (no autodiff).
    pub members: Vec<Network>,
    /// Their architecture.
    pub model_config: ModelConfig,
    /// Which model of the run it is (`ema`, `student`, `teacher`, `ensemble`).
    pub model_name: String,
    /// Input preprocessing and class names.
    pub pre: Preprocess,
    device: Device,
}

/// A network of `config`'s architecture for inputs and classes of `shape`, holding `tensors`.
fn network_from(
    config: &ModelConfig,
    shape: &ModelShape,
    tensors: &std::collections::BTreeMap<String, crate::params::HostTensor>,
    device: &Device,
) -> Result<Network> {
    let fresh = build(config, shape, &mut Rng::new(0), device)?;
    import_tensors(fresh, tensors)
}

/// The network shape of inputs preprocessed by `pre`.
fn shape_of(pre: &Preprocess) -> ModelShape {
    ModelShape {
        sample: pre.sample_shape.clone(),
        num_classes: pre.classes.len(),
    }
}

impl Predictor {
    /// The model `name` (default: the run's reported model) of a run folder's checkpoint, on
    /// `device` (without autodiff).
    pub fn from_run(dir: &Path, name: Option<&str>, device: &Device) -> Result<Self> {
        let run = RunDir {
            dir: dir.to_path_buf(),
        };
        let config = run.read_config()?;
        Self::from_run_config(&run, config, name, device)
    }

    /// As [`Predictor::from_run`], with the run's configuration already read.
    fn from_run_config(
        run: &RunDir,
        config: Config,
        name: Option<&str>,
        device: &Device,
    ) -> Result<Self> {
        let pre = run.read_preprocess(&config)?;
        // Default: the model the summary reports (after a finetune stage, `finetuned`).
        let reported = run
            .read_summary()?
            .map_or(config.train.report.to_string(), |s| s.reported_model);
        let name = name.unwrap_or(&reported).to_string();
        if name == FINETUNED {
            // The stage's own reported model: its best by validation, or, when it held no
            // validation samples out, its last model.
            let stage = run.stage();
            if !stage.config().exists() {
                bail!(
                    "{} has no finetune stage, so no model '{FINETUNED}': run one with `metapseudo finetune {} --steps N`, or choose --model-name student, ema or teacher",
                    run.dir.display(),
                    run.dir.display()
                );
            }
            let mut p = Self::from_run(&stage.dir, None, device)?;
            p.model_name = name;
            return Ok(p);
        }
        let reads_logits = crate::methods::needs(&config).teacher
            == crate::methods::TeacherKind::ReducedOverCachedLogits;
        if reads_logits && matches!(name.as_str(), "teacher" | "ensemble") {
            bail!(
                "the teacher of a {} run reads another run's logits, not inputs: predict with its student or ema",
                config.method
            );
        }
        let path = run.require_checkpoint()?;
        let file = TensorFile::load(&path)?;
        file.check_finite(&path)?;
        // The ensemble averages the logits of the student and the teacher.
        let member_names = if name == "ensemble" {
            vec!["student", "teacher"]
        } else {
            vec![name.as_str()]
        };
        let members = member_names
            .into_iter()
            .map(|member| {
                let tensors = file.take_prefix(member);
                if tensors.is_empty() {
                    bail!(
                        "{} has no model '{member}' (models in the checkpoint: {})",
                        run.checkpoint().display(),
                        file.model_names().join(", ")
                    );
                }
                network_from(&config.model, &shape_of(&pre), &tensors, device).with_context(|| {
                    format!("loading '{member}' from {}", run.checkpoint().display())
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            members,
            model_config: config.model,
            model_name: name,
            pre,
            device: device.clone(),
        })
    }

    /// A model written by `metapseudo export` (the `.safetensors` file, or its folder), on
    /// `device`.
    pub fn from_export(path: &Path, device: &Device) -> Result<Self> {
        let file_path = if path.is_dir() {
            path.join(EXPORT_FILE)
        } else {
            path.to_path_buf()
        };
        let file = TensorFile::load(&file_path)?;
        file.check_finite(&file_path)?;
        let meta = ExportMeta::from_file(&file, &file_path)?;
        let model = network_from(
            &meta.model,
            &shape_of(&meta.preprocess),
            &file.tensors,
            device,
        )
        .with_context(|| format!("loading {}", file_path.display()))?;
        Ok(Self {
            members: vec![model],
            model_config: meta.model,
            model_name: meta.source_model,
            pre: meta.preprocess,
            device: device.clone(),
        })
    }

    /// A run folder (it has `config.toml`) or an export, on the device `device_name`, else a
    /// run's saved `train.device`, else (an export) the CPU.
    pub fn open(path: &Path, name: Option<&str>, device_name: Option<&str>) -> Result<Self> {
        if path.join("config.toml").exists() {
            let run = RunDir {
                dir: path.to_path_buf(),
            };
            let config = run.read_config()?;
            let device = crate::device::open(device_name.unwrap_or(&config.train.device))?;
            Self::from_run_config(&run, config, name, &device)
        } else if path.exists() {
            if let Some(n) = name {
                bail!(
                    "{} is an export, which holds one model: drop --model-name {n}",
                    path.display()
                );
            }
            Self::from_export(path, &crate::device::open(device_name.unwrap_or("cpu"))?)
        } else {
            bail!(
                "{} does not exist (expected a run folder or an exported model)",
                path.display()
            )
        }
    }

    /// Class probabilities of raw examples (`feature_len()` values each: table rows, or images
    /// channel-planar scaled to `[0, 1]`).
    pub fn probabilities(&self, raw: &[Vec<f32>]) -> Vec<Vec<f32>> {
        let mut rows = Samples::new(self.pre.feature_len());
        for r in raw {
            rows.push(r, None);
        }
        softmax_rows(&self.logits(&Examples::Table(rows)))
    }

    /// Logits of examples (raw, as a data set holds them; normalised here), averaged over
    /// the members of an ensemble.
    pub fn logits(&self, examples: &Examples) -> Vec<Vec<f32>> {
        let inputs = EvalInputs {
            examples,
            normalizer: &self.pre.normalizer,
        };
        let logits: Vec<Vec<Vec<f32>>> = self
            .members
            .iter()
            .map(|m| predict_logits(m, inputs, &self.device))
            .collect();
        mean_logits(&logits.iter().collect::<Vec<_>>())
    }
}

/// One input to classify: where it came from and its raw features.
#[derive(Clone, Debug, PartialEq)]
pub struct Input {
    /// `path` for an image, `path:line` for a CSV row.
    pub name: String,
    /// Raw features (`Preprocess::feature_len()` values).
    pub features: Vec<f32>,
}

/// Reads image files, folders of images (recursively) and CSV files into inputs for `pre`.
pub fn read_inputs(paths: &[PathBuf], pre: &Preprocess) -> Result<Vec<Input>> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let files = image_files_recursive(path)?;
            if files.is_empty() {
                bail!("{} holds no JPEG or PNG images", path.display());
            }
            for f in files {
                out.push(image_input(&f, pre)?);
            }
        } else if is_image(path) {
            out.push(image_input(path, pre)?);
        } else if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
        {
            out.extend(csv_inputs(path, pre)?);
        } else if !path.exists() {
            bail!("{} does not exist", path.display());
        } else {
            bail!(
                "{}: expected a JPEG/PNG image, a folder of images or a .csv file",
                path.display()
            );
        }
    }
    Ok(out)
}

fn image_input(path: &Path, pre: &Preprocess) -> Result<Input> {
    let &[c, h, w] = pre.sample_shape.as_slice() else {
        bail!(
            "{}: this model takes table rows of {} features, not images",
            path.display(),
            pre.feature_len()
        );
    };
    if h != w {
        bail!("the model takes {h}x{w} images; only square images are supported");
    }
    let hwc = load_image_as(path, h, c)?;
    let mut features = vec![0.0; c * h * w];
    hwc_to_chw(&hwc, c, &mut features);
    Ok(Input {
        name: path.display().to_string(),
        features,
    })
}

/// Rows of a CSV file: `feature_len()` numeric cells (an image model's pixels in channel,
/// row, column order), or one more when the training label column is still there (it is
/// dropped). A first row with a non-numeric cell is a header; when the training CSV had one
/// too, columns are read by their names, in any order. Values are scaled as the training
/// data's were ([`Preprocess::raw_scale`]).
fn csv_inputs(path: &Path, pre: &Preprocess) -> Result<Vec<Input>> {
    let dim = pre.feature_len();
    let takes = match pre.sample_shape.as_slice() {
        &[c, h, w] => format!("{dim} pixel values ({c}x{h}x{w})"),
        _ => format!("{dim} features"),
    };
    let scale = pre.raw_scale();
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut header: Option<Vec<String>> = None;
    let mut by_name: Option<Vec<usize>> = None;
    let mut out = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let mut cells: Vec<&str> = line
            .split(',')
            .map(|c| c.trim().trim_matches('"'))
            .collect();
        if out.is_empty() && header.is_none() && cells.iter().any(|c| c.parse::<f32>().is_err()) {
            let names: Vec<String> = cells.iter().map(|c| c.to_string()).collect();
            by_name = columns_by_name(pre, &names, path)?;
            header = Some(names);
            continue;
        }
        if let Some(columns) = &by_name {
            if cells.len() != header.as_ref().map_or(0, Vec::len) {
                bail!(
                    "{} line {}: {} values, but the header has {} columns",
                    path.display(),
                    i + 1,
                    cells.len(),
                    header.as_ref().map_or(0, Vec::len)
                );
            }
            cells = columns.iter().map(|&j| cells[j]).collect();
        } else if cells.len() == dim + 1 {
            cells.remove(label_index(pre, header.as_deref(), cells.len(), path)?);
        }
        if cells.len() != dim {
            bail!(
                "{} line {}: {} values, but the model takes {takes} (or {} with the label column)",
                path.display(),
                i + 1,
                cells.len(),
                dim + 1
            );
        }
        let values = cells
            .iter()
            .map(|c| c.parse::<f32>().map(|v| v * scale))
            .collect::<std::result::Result<Vec<f32>, _>>()
            .map_err(|_| {
                anyhow::anyhow!(
                    "{} line {}: a feature cell is not a number",
                    path.display(),
                    i + 1
                )
            })?;
        out.push(Input {
            name: format!("{}:{}", path.display(), i + 1),
            features: values,
        });
    }
    Ok(out)
}

/// Where each of the model's named features sits in `header`, or `None` when the training
/// CSV had no header (rows are then read in order). Names the features the header lacks.
fn columns_by_name(pre: &Preprocess, header: &[String], path: &Path) -> Result<Option<Vec<usize>>> {
    if pre.feature_names.is_empty() {
        return Ok(None);
    }
    let found: Vec<Option<usize>> = pre
        .feature_names
        .iter()
        .map(|n| header.iter().position(|h| h == n))
        .collect();
    let missing: Vec<&str> = pre
        .feature_names
        .iter()
        .zip(&found)
        .filter(|(_, f)| f.is_none())
        .map(|(n, _)| n.as_str())
        .collect();
    if !missing.is_empty() {
        bail!(
            "{}: the header lacks the model's feature column(s) {}; the model reads {}",
            path.display(),
            missing.join(", "),
            pre.feature_names.join(", ")
        );
    }
    Ok(Some(found.into_iter().flatten().collect()))
}

/// Index of the training label column in a row of `width` cells.
fn label_index(
    pre: &Preprocess,
    header: Option<&[String]>,
    width: usize,
    path: &Path,
) -> Result<usize> {
    Ok(match pre.label_column.parse::<LabelColumn>()? {
        LabelColumn::Last => width - 1,
        LabelColumn::First => 0,
        LabelColumn::Number(n) if n <= width => n - 1,
        LabelColumn::Number(n) => bail!(
            "{}: label column {n} is beyond the row's {width} cells",
            path.display()
        ),
        LabelColumn::Name(name) => header
            .and_then(|h| h.iter().position(|c| *c == name))
            .with_context(|| {
                format!(
                    "{}: no header cell names the label column '{name}'",
                    path.display()
                )
            })?,
    })
}

/// One predicted class with its probability.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClassProbability {
    /// Class name.
    pub class: String,
    /// Class index.
    pub index: usize,
    /// Softmax probability.
    pub probability: f32,
}

/// The `k` most probable classes of a probability row, most probable first.
pub fn top_k(probs: &[f32], classes: &[String], k: usize) -> Vec<ClassProbability> {
    let mut order: Vec<usize> = (0..probs.len()).collect();
    order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]).then(a.cmp(&b)));
    order
        .into_iter()
        .take(k.max(1))
        .map(|i| ClassProbability {
            class: classes.get(i).cloned().unwrap_or_else(|| i.to_string()),
            index: i,
            probability: probs[i],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use metapseudo_data::normalize::Normalizer;

    fn table_pre(dim: usize) -> Preprocess {
        Preprocess {
            sample_shape: vec![dim],
            normalizer: Normalizer::identity(dim),
            classes: vec!["a".into(), "b".into()],
            label_column: "last".into(),
            feature_names: Vec::new(),
            raw_scale: None,
        }
    }

    #[test]
    fn csv_rows_are_read_by_the_training_header_names_and_scaled() {
        let dir = std::env::temp_dir().join(format!("mp-predict-names-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("rows.csv");
        let mut pre = table_pre(2);
        pre.feature_names = vec!["x".into(), "y".into()];
        std::fs::write(&path, "label,y,x\na,2,1\n").unwrap();
        let inputs = read_inputs(std::slice::from_ref(&path), &pre).unwrap();
        assert_eq!(inputs[0].features, vec![1.0, 2.0]);
        std::fs::write(&path, "label,y,z\na,2,1\n").unwrap();
        let err = read_inputs(std::slice::from_ref(&path), &pre).unwrap_err();
        assert!(
            err.to_string()
                .contains("lacks the model's feature column(s) x"),
            "{err}"
        );
        // A 1x2x2 image model (the digits' layout) takes rows of pixels, label last, scaled
        // as its training data was.
        let mut image = table_pre(4);
        image.sample_shape = vec![1, 2, 2];
        image.raw_scale = Some(1.0 / 16.0);
        std::fs::write(&path, "0,16,8,4,7\n").unwrap();
        let inputs = read_inputs(std::slice::from_ref(&path), &image).unwrap();
        assert_eq!(inputs[0].features, vec![0.0, 1.0, 0.5, 0.25]);
        std::fs::write(&path, "0,16,8\n").unwrap();
        let err = read_inputs(std::slice::from_ref(&path), &image).unwrap_err();
        assert!(err.to_string().contains("4 pixel values (1x2x2)"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn csv_rows_with_and_without_labels() {
        let dir = std::env::temp_dir().join(format!("mp-predict-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("rows.csv");
        std::fs::write(&path, "x,y,label\n1,2,a\n3,4\n").unwrap();
        let inputs = read_inputs(std::slice::from_ref(&path), &table_pre(2)).unwrap();
        assert_eq!(inputs.len(), 2);
        assert_eq!(inputs[0].features, vec![1.0, 2.0]);
        assert_eq!(inputs[1].features, vec![3.0, 4.0]);
        assert!(inputs[0].name.ends_with("rows.csv:2"));
        std::fs::write(&path, "1,2,3,4\n").unwrap();
        let err = read_inputs(std::slice::from_ref(&path), &table_pre(2)).unwrap_err();
        assert!(err.to_string().contains("line 1: 4 values"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn top_k_orders_by_probability() {
        let classes: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let t = top_k(&[0.2, 0.5, 0.3], &classes, 2);
        assert_eq!(t.len(), 2);
        assert_eq!((t[0].class.as_str(), t[0].index), ("b", 1));
        assert_eq!((t[1].class.as_str(), t[1].index), ("c", 2));
    }
}
