//! `metapseudo compare`: a table of finished runs, with means and standard deviations over
//! seeds and the gain over the supervised run of the same data and label count.

use super::html::escape;
use crate::train::run::{RunDir, Summary};
use anyhow::{Context, Result, bail};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// One finished run.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRow {
    /// Its folder.
    pub dir: PathBuf,
    /// Its summary.
    pub summary: Summary,
    /// Its effective configuration as `section.key` -> value (empty when unknown).
    pub settings: BTreeMap<String, String>,
}

/// Settings that do not change a run's result (or are told apart otherwise) and so never split
/// a group: the seed is what a group is over.
const NOT_GROUPING: &[&str] = &[
    "seed",
    "preset",
    "data.workers",
    "data.prefetch",
    "data.cache_dir",
    "data.class_names",
    "train.log_every",
    "train.checkpoint_every",
];

/// A run's `config.toml` flattened to `section.key` -> value; empty when the folder has none.
fn read_settings(run: &std::path::Path) -> Result<BTreeMap<String, String>> {
    let path = run.join("config.toml");
    if !path.exists() {
        return Ok(BTreeMap::new());
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let table: toml::Table = text
        .parse()
        .with_context(|| format!("{} is not valid TOML", path.display()))?;
    let mut out = BTreeMap::new();
    flatten("", &table, &mut out);
    Ok(out)
}

/// Adds `table`'s values to `out` under dotted keys starting with `prefix`.
fn flatten(prefix: &str, table: &toml::Table, out: &mut BTreeMap<String, String>) {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(t) => flatten(&key, t, out),
            toml::Value::String(s) => {
                out.insert(key, s.clone());
            }
            other => {
                out.insert(key, other.to_string());
            }
        }
    }
}

/// Mean and sample standard deviation (0 for a single value).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stat {
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation.
    pub std: f64,
}

impl Stat {
    /// Of `values` (NaN mean when empty).
    pub fn of(values: &[f64]) -> Self {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let std = if values.len() > 1 {
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
        } else {
            0.0
        };
        Self { mean, std }
    }
}

/// Runs of one method on the same data and label count, over seeds.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// Method.
    pub method: String,
    /// Data specification.
    pub data: String,
    /// Labeled samples.
    pub labels: usize,
    /// Seeds of the runs.
    pub seeds: Vec<u64>,
    /// Test accuracy of each run's reported model.
    pub reported: Stat,
    /// Test accuracy of each model name, over the runs that have it.
    pub models: BTreeMap<String, Stat>,
    /// `reported.mean` minus the supervised group's (same data and labels), if there is one.
    pub gain: Option<f64>,
    /// Mean wall time in seconds.
    pub wall_seconds: f64,
}

/// Finished runs in `dirs`: each is a run folder, or a folder whose sub-folders are runs.
/// Folders without `summary.json` (runs still going) are skipped with a note on stderr.
pub fn collect_runs(dirs: &[PathBuf]) -> Result<Vec<RunRow>> {
    let mut rows = Vec::new();
    for dir in dirs {
        if !dir.is_dir() {
            bail!("{} is not a folder", dir.display());
        }
        let candidates: Vec<PathBuf> =
            if dir.join("summary.json").exists() || dir.join("config.toml").exists() {
                vec![dir.clone()]
            } else {
                let mut subs: Vec<PathBuf> = std::fs::read_dir(dir)
                    .with_context(|| format!("cannot list {}", dir.display()))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.join("config.toml").exists())
                    .collect();
                subs.sort();
                subs
            };
        for run in candidates {
            match (RunDir { dir: run.clone() }).read_summary()? {
                Some(summary) => {
                    let settings = read_settings(&run)?;
                    rows.push(RunRow {
                        dir: run,
                        summary,
                        settings,
                    })
                }
                None => eprintln!(
                    "note: {} has no summary.json (not finished); skipped",
                    run.display()
                ),
            }
        }
    }
    if rows.is_empty() {
        bail!(
            "no finished runs (folders with summary.json) in {}",
            list(dirs)
        );
    }
    Ok(rows)
}

fn list(dirs: &[PathBuf]) -> String {
    dirs.iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Each run's method label, with the settings in which it differs from other runs of the same
/// method, data and label count (e.g. `metasemi [metasemi.weight=10.0]`), so that runs with
/// different settings are never averaged together.
pub fn run_labels(rows: &[RunRow]) -> Vec<String> {
    let base = |r: &RunRow| (r.summary.data.clone(), r.summary.labels, r.summary.label());
    let mut by_key: BTreeMap<_, Vec<&RunRow>> = BTreeMap::new();
    for r in rows {
        by_key.entry(base(r)).or_default().push(r);
    }
    let differing: BTreeMap<_, Vec<&String>> = by_key
        .iter()
        .map(|(key, runs)| {
            let keys: BTreeSet<&String> = runs.iter().flat_map(|r| r.settings.keys()).collect();
            let varying = keys
                .into_iter()
                .filter(|k| !NOT_GROUPING.contains(&k.as_str()))
                .filter(|k| {
                    runs.iter()
                        .any(|r| r.settings.get(*k) != runs[0].settings.get(*k))
                })
                .filter(|k| !follows_seed(runs, k))
                .collect();
            (key.clone(), varying)
        })
        .collect();
    rows.iter()
        .map(|r| {
            let (_, _, label) = base(r);
            let keys = &differing[&base(r)];
            if keys.is_empty() {
                return label;
            }
            let values: Vec<String> = keys
                .iter()
                .map(|k| {
                    let v = r.settings.get(*k).map_or("(unset)", String::as_str);
                    format!("{k}={v}")
                })
                .collect();
            format!("{label} [{}]", values.join(", "))
        })
        .collect()
}

/// Whether setting `key` changes exactly when the seed does (each seed's own teacher run, say):
/// then it is part of the seed, not a variant.
fn follows_seed(runs: &[&RunRow], key: &str) -> bool {
    runs.iter().enumerate().all(|(i, a)| {
        runs[..i].iter().all(|b| {
            (a.summary.seed == b.summary.seed) == (a.settings.get(key) == b.settings.get(key))
        })
    })
}

/// Groups runs by (data, labels, method label with differing settings), with the gain over
/// supervised.
pub fn group_runs(rows: &[RunRow]) -> Vec<Group> {
    let mut by_key: BTreeMap<(String, usize, String), Vec<&Summary>> = BTreeMap::new();
    for (r, label) in rows.iter().zip(run_labels(rows)) {
        let s = &r.summary;
        by_key
            .entry((s.data.clone(), s.labels, label))
            .or_default()
            .push(s);
    }
    let mut groups: Vec<Group> = by_key
        .into_iter()
        .map(|((data, labels, method), runs)| {
            let names: BTreeSet<&String> = runs.iter().flat_map(|s| s.models.keys()).collect();
            let models = names
                .into_iter()
                .map(|n| {
                    let v: Vec<f64> = runs
                        .iter()
                        .filter_map(|s| s.models.get(n))
                        .map(|m| m.accuracy)
                        .collect();
                    (n.clone(), Stat::of(&v))
                })
                .collect();
            let acc: Vec<f64> = runs.iter().map(|s| s.accuracy).collect();
            Group {
                method,
                data,
                labels,
                seeds: runs.iter().map(|s| s.seed).collect(),
                reported: Stat::of(&acc),
                models,
                gain: None,
                wall_seconds: runs.iter().map(|s| s.wall_seconds).sum::<f64>() / runs.len() as f64,
            }
        })
        .collect();
    let supervised: BTreeMap<(String, usize), f64> = groups
        .iter()
        .filter(|g| g.method == "supervised")
        .map(|g| ((g.data.clone(), g.labels), g.reported.mean))
        .collect();
    for g in &mut groups {
        g.gain = supervised
            .get(&(g.data.clone(), g.labels))
            .map(|s| g.reported.mean - s);
    }
    groups
}

/// The model names that appear in any run, in a fixed order.
fn model_names(rows: &[RunRow]) -> Vec<String> {
    let names: BTreeSet<String> = rows
        .iter()
        .flat_map(|r| r.summary.models.keys().cloned())
        .collect();
    names.into_iter().collect()
}

fn pct(x: f64) -> String {
    format!("{:.2}", 100.0 * x)
}

fn stat(s: &Stat, n: usize) -> String {
    if n > 1 {
        format!("{} ± {}", pct(s.mean), pct(s.std))
    } else {
        pct(s.mean)
    }
}

/// `name x ratio` for the reported model's least predicted class (predictions over samples),
/// `-` when the summary has no confusion matrix.
fn least_predicted_cell(s: &Summary) -> String {
    s.least_predicted_class()
        .map_or("-".into(), |(name, ratio)| format!("{name} x{ratio:.2}"))
}

/// Cells of the two tables: header row, then rows.
fn tables(rows: &[RunRow], groups: &[Group]) -> [(Vec<String>, Vec<Vec<String>>); 2] {
    let names = model_names(rows);
    let mut run_head: Vec<String> = ["run", "method", "data", "labels", "seed", "reported"]
        .map(String::from)
        .to_vec();
    run_head.extend(names.iter().map(|n| format!("{n} %")));
    run_head.extend(["least predicted class (reported)".into(), "wall s".into()]);
    let run_rows = rows
        .iter()
        .zip(run_labels(rows))
        .map(|(r, label)| {
            let s = &r.summary;
            let mut row = vec![
                r.dir.display().to_string(),
                label,
                s.data.clone(),
                s.labels.to_string(),
                s.seed.to_string(),
                format!("{} ({})", pct(s.accuracy), s.reported_model),
            ];
            row.extend(
                names
                    .iter()
                    .map(|n| s.models.get(n).map_or("-".into(), |m| pct(m.accuracy))),
            );
            row.push(least_predicted_cell(s));
            row.push(format!("{:.0}", s.wall_seconds));
            row
        })
        .collect();
    let mut group_head: Vec<String> = ["method", "data", "labels", "runs", "reported %"]
        .map(String::from)
        .to_vec();
    group_head.extend(names.iter().map(|n| format!("{n} %")));
    group_head.extend(["gain over supervised".to_string(), "wall s".to_string()]);
    let group_rows = groups
        .iter()
        .map(|g| {
            let n = g.seeds.len();
            let mut row = vec![
                g.method.clone(),
                g.data.clone(),
                g.labels.to_string(),
                n.to_string(),
                stat(&g.reported, n),
            ];
            row.extend(
                names
                    .iter()
                    .map(|m| g.models.get(m).map_or("-".into(), |s| stat(s, n))),
            );
            row.push(g.gain.map_or("-".into(), |d| format!("{:+.2}", 100.0 * d)));
            row.push(format!("{:.0}", g.wall_seconds));
            row
        })
        .collect();
    [(group_head, group_rows), (run_head, run_rows)]
}

/// Both tables as Markdown (groups first).
pub fn markdown(rows: &[RunRow], groups: &[Group]) -> String {
    let mut out = String::new();
    let titles = ["Grouped over seeds (mean ± sample std)", "Runs"];
    for (title, (head, body)) in titles.iter().zip(tables(rows, groups)) {
        out.push_str(&format!(
            "## {title}\n\n| {} |\n|{}\n",
            head.join(" | "),
            "---|".repeat(head.len())
        ));
        for r in body {
            out.push_str(&format!("| {} |\n", r.join(" | ")));
        }
        out.push('\n');
    }
    out
}

/// Both tables as a self-contained HTML page.
pub fn html(rows: &[RunRow], groups: &[Group]) -> String {
    let mut out = String::from(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>metapseudo runs</title><style>body{font-family:system-ui,sans-serif;margin:24px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px}th{background:#f3f3f3}</style></head><body>",
    );
    let titles = ["Grouped over seeds (mean ± sample std)", "Runs"];
    for (title, (head, body)) in titles.iter().zip(tables(rows, groups)) {
        out.push_str(&format!("<h2>{}</h2><table><tr>", escape(title)));
        for h in head {
            out.push_str(&format!("<th>{}</th>", escape(&h)));
        }
        out.push_str("</tr>");
        for r in body {
            out.push_str("<tr>");
            for c in r {
                out.push_str(&format!("<td>{}</td>", escape(&c)));
            }
            out.push_str("</tr>");
        }
        out.push_str("</table>");
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::ModelEval;

    fn run(method: &str, seed: u64, acc: f64, teacher: Option<f64>) -> RunRow {
        let eval = |a: f64| ModelEval {
            accuracy: a,
            per_class_accuracy: vec![],
            confusion: vec![],
        };
        let mut models = BTreeMap::from([("ema".to_string(), eval(acc))]);
        if let Some(t) = teacher {
            models.insert("teacher".into(), eval(t));
        }
        RunRow {
            dir: PathBuf::from(format!("runs/{method}-{seed}")),
            summary: Summary {
                accuracy: acc,
                reported_model: "ema".into(),
                models,
                method: method.into(),
                data: "digits".into(),
                eval_split: "test".into(),
                labels: 50,
                steps: 100,
                seed,
                wall_seconds: 10.0 * seed as f64,
                classes: vec![],
                test_size: 10,
                variant: String::new(),
                best: None,
                finetune: None,
            },
            settings: BTreeMap::from([("method".to_string(), method.to_string())]),
        }
    }

    #[test]
    fn groups_means_stds_and_gains() {
        let rows = vec![
            run("supervised", 1, 0.70, None),
            run("supervised", 2, 0.74, None),
            run("mpl", 1, 0.80, Some(0.78)),
            run("mpl", 2, 0.84, Some(0.80)),
            run("mpl", 3, 0.82, Some(0.82)),
        ];
        let groups = group_runs(&rows);
        assert_eq!(groups.len(), 2);
        let mpl = groups.iter().find(|g| g.method == "mpl").unwrap();
        assert_eq!(mpl.seeds, vec![1, 2, 3]);
        assert!((mpl.reported.mean - 0.82).abs() < 1e-12);
        assert!((mpl.reported.std - 0.02).abs() < 1e-12);
        assert!((mpl.models["teacher"].mean - 0.80).abs() < 1e-12);
        assert!((mpl.gain.unwrap() - 0.10).abs() < 1e-12);
        assert!((mpl.wall_seconds - 20.0).abs() < 1e-12);
        let sup = groups.iter().find(|g| g.method == "supervised").unwrap();
        assert!((sup.reported.std - (0.0008f64).sqrt()).abs() < 1e-12);
        assert_eq!(sup.gain, Some(0.0));
        let md = markdown(&rows, &groups);
        assert!(
            md.contains("| mpl | digits | 50 | 3 | 82.00 ± 2.00 |"),
            "{md}"
        );
        assert!(md.contains("+10.00"));
        assert!(html(&rows, &groups).contains("<td>82.00 ± 2.00</td>"));
        // No confusion matrix in these summaries: no least predicted class.
        assert!(
            md.contains("| 3 | 82.00 (ema) | 82.00 | 82.00 | - | 30 |"),
            "{md}"
        );
    }

    #[test]
    fn the_runs_table_names_the_least_predicted_class() {
        let mut r = run("smpl", 1, 0.75, None);
        // Class 1 (shirt) occurs 4 times and is predicted once.
        r.summary.models.insert(
            "ema".into(),
            ModelEval::from_predictions(&[0, 0, 0, 0, 0, 0, 0, 1], &[0, 0, 0, 0, 1, 1, 1, 1], 2),
        );
        r.summary.classes = vec!["coat".into(), "shirt".into()];
        let rows = vec![r];
        let md = markdown(&rows, &group_runs(&rows));
        assert!(md.contains("| shirt x0.25 |"), "{md}");
    }

    #[test]
    fn runs_with_different_settings_are_grouped_apart_and_labelled() {
        let with = |mut r: RunRow, key: &str, value: &str| {
            r.settings.insert(key.into(), value.into());
            r
        };
        let rows = vec![
            with(run("metasemi", 1, 0.80, None), "metasemi.weight", "5.0"),
            with(run("metasemi", 2, 0.82, None), "metasemi.weight", "5.0"),
            with(run("metasemi", 1, 0.70, None), "metasemi.weight", "20.0"),
            // A different seed, logging interval or set of class names never splits a group,
            // nor a setting that changes with the seed (each seed's own teacher run).
            with(run("supervised", 1, 0.70, None), "train.log_every", "10"),
            with(
                with(run("supervised", 2, 0.72, None), "train.log_every", "50"),
                "data.class_names",
                "[\"a\", \"b\"]",
            ),
            with(
                run("reduced-mpl", 1, 0.80, None),
                "reduced_mpl.teacher_run",
                "t1",
            ),
            with(
                run("reduced-mpl", 2, 0.80, None),
                "reduced_mpl.teacher_run",
                "t2",
            ),
        ];
        let groups = group_runs(&rows);
        let names: Vec<&str> = groups.iter().map(|g| g.method.as_str()).collect();
        assert_eq!(
            names,
            [
                "metasemi [metasemi.weight=20.0]",
                "metasemi [metasemi.weight=5.0]",
                "reduced-mpl",
                "supervised"
            ]
        );
        assert_eq!(groups[1].seeds, vec![1, 2]);
        assert!((groups[1].reported.mean - 0.81).abs() < 1e-12);
        assert!(markdown(&rows, &groups).contains("| metasemi [metasemi.weight=20.0] | digits |"));
    }
}
