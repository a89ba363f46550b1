//! `metapseudo compare`: a table of finished runs, with means and standard deviations over
//! seeds and the gain over the supervised run of the same data and label count.

use super::html::escape;
use crate::run::{RunDir, Summary};
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
    "train.checkpoint_minutes",
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
    /// `reported.mean` minus that of the supervised group of the same data and labels trained
    /// most like this one (see `baseline_differs`), if there is one.
    pub gain: Option<f64>,
    /// The settings that shape a labels-only model in which that supervised group differs from
    /// this one, as `key (here VALUE, there VALUE)`; empty when it was trained as docs/methods.md's
    /// baseline for this group (same model, optimiser, schedule and labeled augmentation).
    pub baseline_differs: Vec<String>,
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
    let mut by_key: BTreeMap<(String, usize, String), Vec<&RunRow>> = BTreeMap::new();
    for (r, label) in rows.iter().zip(run_labels(rows)) {
        let s = &r.summary;
        by_key
            .entry((s.data.clone(), s.labels, label))
            .or_default()
            .push(r);
    }
    let mut groups: Vec<(Group, &RunRow)> = by_key
        .into_iter()
        .map(|((data, labels, method), runs)| {
            let names: BTreeSet<&String> =
                runs.iter().flat_map(|r| r.summary.models.keys()).collect();
            let models = names
                .into_iter()
                .map(|n| {
                    let v: Vec<f64> = runs
                        .iter()
                        .filter_map(|r| r.summary.models.get(n))
                        .map(|m| m.accuracy)
                        .collect();
                    (n.clone(), Stat::of(&v))
                })
                .collect();
            let acc: Vec<f64> = runs.iter().map(|r| r.summary.accuracy).collect();
            let wall: f64 = runs.iter().map(|r| r.summary.wall_seconds).sum();
            let group = Group {
                method,
                data,
                labels,
                seeds: runs.iter().map(|r| r.summary.seed).collect(),
                reported: Stat::of(&acc),
                models,
                gain: None,
                baseline_differs: Vec::new(),
                wall_seconds: wall / runs.len() as f64,
            };
            (group, runs[0])
        })
        .collect();
    let supervised: Vec<(String, usize, f64, &BTreeMap<String, String>)> = groups
        .iter()
        .filter(|(_, first)| first.summary.is_baseline())
        .map(|(g, first)| (g.data.clone(), g.labels, g.reported.mean, &first.settings))
        .collect();
    for (g, first) in &mut groups {
        // The supervised group of the same data and labels that differs least in the settings
        // that shape a labels-only model; the first such group on a tie.
        let baseline = supervised
            .iter()
            .filter(|(data, labels, ..)| *data == g.data && *labels == g.labels)
            .map(|(.., mean, theirs)| (mean, baseline_differences(&first.settings, theirs)))
            .min_by_key(|(_, differs)| differs.len());
        if let Some((mean, differs)) = baseline {
            g.gain = Some(g.reported.mean - mean);
            g.baseline_differs = differs;
        }
    }
    groups.into_iter().map(|(g, _)| g).collect()
}

/// The items of a flattened TOML array (`["a", "b"]`; items are names without commas), or
/// `None` for any other value.
fn list_items(value: &str) -> Option<Vec<&str>> {
    let inner = value.strip_prefix('[')?.strip_suffix(']')?;
    Some(
        inner
            .split(',')
            .map(str::trim)
            .filter(|i| !i.is_empty())
            .collect(),
    )
}

/// Whether `key` shapes what a labels-only model learns: the baseline of docs/methods.md has "the same
/// model, optimiser, schedule and augmentation" as the run it is compared with. The strong
/// view's settings count when `labeled_policy` sends the labeled batch through it.
fn shapes_the_baseline(key: &str, settings: &BTreeMap<String, String>) -> bool {
    const SECTIONS: &[&str] = &["data.", "model.", "student_optim."];
    const KEYS: &[&str] = &[
        "train.steps",
        "train.batch_size",
        "train.label_smoothing",
        "train.ema_decay",
        "augment.labeled_policy",
        "augment.flip",
        "augment.pad_fraction",
        "augment.padding",
        "augment.mixup_alpha",
    ];
    const STRONG_VIEW: &[&str] = &["augment.randaugment_", "augment.cutout_", "augment.fill"];
    let strong_labels = settings
        .get("augment.labeled_policy")
        .is_some_and(|p| p != "weak" && p != "none");
    !NOT_GROUPING.contains(&key)
        && (SECTIONS.iter().any(|s| key.starts_with(s))
            || KEYS.contains(&key)
            || (strong_labels && STRONG_VIEW.iter().any(|s| key.starts_with(s))))
}

/// The settings that shape a labels-only model, read from either side, in which `theirs`
/// differs from `ours`, as `key (here OURS, there THEIRS)`; lists by the items only one side
/// has.
fn baseline_differences(
    ours: &BTreeMap<String, String>,
    theirs: &BTreeMap<String, String>,
) -> Vec<String> {
    let keys: BTreeSet<&String> = ours.keys().chain(theirs.keys()).collect();
    keys.into_iter()
        .filter(|k| shapes_the_baseline(k, ours) || shapes_the_baseline(k, theirs))
        .filter(|k| ours.get(*k) != theirs.get(*k))
        .map(|k| {
            let unset = String::from("(unset)");
            let (a, b) = (
                ours.get(k).unwrap_or(&unset),
                theirs.get(k).unwrap_or(&unset),
            );
            match (list_items(a), list_items(b)) {
                (Some(a), Some(b)) => {
                    let only = |side: &str, x: &[&str], y: &[&str]| {
                        let items: Vec<&str> =
                            x.iter().filter(|i| !y.contains(i)).copied().collect();
                        (!items.is_empty()).then(|| format!("only {side}: {}", items.join(", ")))
                    };
                    let sides: Vec<String> = [only("here", &a, &b), only("there", &b, &a)]
                        .into_iter()
                        .flatten()
                        .collect();
                    format!("{k} ({})", sides.join("; "))
                }
                _ => format!("{k} (here {a}, there {b})"),
            }
        })
        .collect()
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
                format!(
                    "{} ({}){}",
                    pct(s.accuracy),
                    s.reported_model,
                    if s.caveat.is_some() { " ‡" } else { "" }
                ),
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
            let mark = if g.baseline_differs.is_empty() {
                ""
            } else {
                " †"
            };
            row.push(
                g.gain
                    .map_or("-".into(), |d| format!("{:+.2}{mark}", 100.0 * d)),
            );
            row.push(format!("{:.0}", g.wall_seconds));
            row
        })
        .collect();
    [(group_head, group_rows), (run_head, run_rows)]
}

/// One line per group whose gain is read against supervised runs trained differently (the
/// `†` of its gain cell): which settings differ.
fn baseline_notes(groups: &[Group]) -> Vec<String> {
    groups
        .iter()
        .filter(|g| g.gain.is_some() && !g.baseline_differs.is_empty())
        .map(|g| {
            format!(
                "† {} on {}, {} labels: its gain is over supervised runs that differ in {}",
                g.method,
                g.data,
                g.labels,
                g.baseline_differs.join(", ")
            )
        })
        .collect()
}

/// The notes under each table: [`baseline_notes`] under the groups, and under the runs one
/// line per run whose reported model is untrained (the `‡` of its reported cell).
fn table_notes(rows: &[RunRow], groups: &[Group]) -> [Vec<String>; 2] {
    let untrained = rows
        .iter()
        .filter_map(|r| {
            let caveat = r.summary.caveat.as_ref()?;
            Some(format!("‡ {}: {caveat}", r.dir.display()))
        })
        .collect();
    [baseline_notes(groups), untrained]
}

/// Both tables as Markdown (groups first), each with its notes.
pub fn markdown(rows: &[RunRow], groups: &[Group]) -> String {
    let mut out = String::new();
    let titles = ["Grouped over seeds (mean ± sample std)", "Runs"];
    let notes = table_notes(rows, groups);
    for (i, (title, (head, body))) in titles.iter().zip(tables(rows, groups)).enumerate() {
        out.push_str(&format!(
            "## {title}\n\n| {} |\n|{}\n",
            head.join(" | "),
            "---|".repeat(head.len())
        ));
        for r in body {
            out.push_str(&format!("| {} |\n", r.join(" | ")));
        }
        out.push('\n');
        for note in &notes[i] {
            out.push_str(&format!("{note}\n\n"));
        }
    }
    out
}

/// Both tables as a self-contained HTML page.
pub fn html(rows: &[RunRow], groups: &[Group]) -> String {
    let mut out = String::from(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>metapseudo runs</title><style>body{font-family:system-ui,sans-serif;margin:24px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px}th{background:#f3f3f3}</style></head><body>",
    );
    let titles = ["Grouped over seeds (mean ± sample std)", "Runs"];
    let notes = table_notes(rows, groups);
    for (i, (title, (head, body))) in titles.iter().zip(tables(rows, groups)).enumerate() {
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
        for note in &notes[i] {
            out.push_str(&format!("<p>{}</p>", escape(note)));
        }
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
                method: method.parse().unwrap(),
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
                caveat: None,
                planned_steps: None,
            },
            settings: BTreeMap::from([("method".to_string(), method.to_string())]),
        }
    }

    /// `r` with `settings` added to its configuration.
    fn with(mut r: RunRow, settings: &[(&str, &str)]) -> RunRow {
        for (k, v) in settings {
            r.settings.insert(k.to_string(), v.to_string());
        }
        r
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
    fn each_group_is_compared_with_the_supervised_runs_trained_like_it() {
        let weak = [("augment.labeled_policy", "weak"), ("model.width", "8")];
        let strong = [
            ("augment.labeled_policy", "strong"),
            ("model.width", "8"),
            ("augment.randaugment_ops", "[\"Rotate\", \"Color\"]"),
        ];
        let rows = vec![
            with(run("supervised", 1, 0.70, None), &weak),
            with(run("supervised", 2, 0.72, None), &weak),
            with(run("supervised", 1, 0.74, None), &strong),
            with(run("smpl", 1, 0.80, None), &weak),
            // The strong view's ops count once labels go through it; the UDA weight never does.
            with(
                run("mpl", 1, 0.79, None),
                &[
                    ("augment.labeled_policy", "strong"),
                    ("model.width", "8"),
                    ("augment.randaugment_ops", "[\"Invert\", \"Rotate\"]"),
                    ("uda.weight", "4.0"),
                ],
            ),
            with(run("uda", 1, 0.78, None), &[("model.width", "16")]),
        ];
        let groups = group_runs(&rows);
        let find = |name: &str| groups.iter().find(|g| g.method == name).unwrap();
        let smpl = find("smpl");
        assert!((smpl.gain.unwrap() - 0.09).abs() < 1e-12);
        assert!(smpl.baseline_differs.is_empty());
        let mpl = find("mpl");
        assert!((mpl.gain.unwrap() - 0.05).abs() < 1e-12);
        assert_eq!(
            mpl.baseline_differs,
            ["augment.randaugment_ops (only here: \"Invert\"; only there: \"Color\")"]
        );
        // No supervised run of width 16: the gain is over the closest, and says how it differs.
        let uda = find("uda");
        assert_eq!(
            uda.baseline_differs,
            [
                "augment.labeled_policy (here (unset), there weak)",
                "model.width (here 16, there 8)"
            ]
        );
        let md = markdown(&rows, &groups);
        assert!(md.contains("| +5.00 † |"), "{md}");
        assert!(md.contains("| +9.00 |"), "{md}");
        assert!(
            md.contains("† uda on digits, 50 labels: its gain is over supervised runs that differ in augment.labeled_policy"),
            "{md}"
        );
        assert!(html(&rows, &groups).contains("<p>† uda on digits, 50 labels:"));
    }

    #[test]
    fn runs_with_different_settings_are_grouped_apart_and_labelled() {
        let rows = vec![
            with(
                run("metasemi", 1, 0.80, None),
                &[("metasemi.weight", "5.0")],
            ),
            with(
                run("metasemi", 2, 0.82, None),
                &[("metasemi.weight", "5.0")],
            ),
            with(
                run("metasemi", 1, 0.70, None),
                &[("metasemi.weight", "20.0")],
            ),
            // A different seed, logging interval or set of class names never splits a group,
            // nor a setting that changes with the seed (each seed's own teacher run).
            with(
                run("supervised", 1, 0.70, None),
                &[("train.log_every", "10")],
            ),
            with(
                run("supervised", 2, 0.72, None),
                &[
                    ("train.log_every", "50"),
                    ("data.class_names", "[\"a\", \"b\"]"),
                ],
            ),
            with(
                run("reduced-mpl", 1, 0.80, None),
                &[("reduced_mpl.teacher_run", "t1")],
            ),
            with(
                run("reduced-mpl", 2, 0.80, None),
                &[("reduced_mpl.teacher_run", "t2")],
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
