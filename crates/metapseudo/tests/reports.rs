//! Runs a person can read: report.html, compare, TensorBoard, predict, export, progress lines.

mod common;

use metapseudo::report::tensorboard::{event_files, read_event_file};
use metapseudo::run::RunDir;
use metapseudo::run::metrics::read_metrics;
use std::path::Path;

fn stdout(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// A short MPL run on moons through the CLI, not quiet (stderr is a pipe: progress lines).
fn moons_run(dir: &Path, extra: &[&str]) -> (RunDir, String) {
    let out = dir.join("moons");
    let mut args = vec![
        "train",
        "--out",
        out.to_str().unwrap(),
        "--steps",
        "600",
        "--set",
        "train.eval_every=200",
        "--set",
        "output.tsne_points=200",
    ];
    args.extend_from_slice(extra);
    let o = common::metapseudo(&args);
    stdout(&o);
    (
        RunDir { dir: out },
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The inner SVG documents of a page.
fn svgs(html: &str) -> Vec<&str> {
    html.split("<svg")
        .skip(1)
        .map(|s| &s[..s.find("</svg>").unwrap()])
        .collect()
}

#[test]
fn a_finished_run_has_a_report_with_every_section_and_progress_lines() {
    let dir = common::temp_dir("report");
    let (run, stderr) = moons_run(&dir, &[]);
    // Not a terminal: plain progress lines, about 20 per run, with rate, ETA and losses.
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("step ")).collect();
    assert!(lines.len() >= 10, "{stderr}");
    assert!(
        lines.last().unwrap().starts_with("step 600/600 (100%)"),
        "{stderr}"
    );
    assert!(lines[0].contains("steps/s") && lines[0].contains("ETA") && lines[0].contains("loss/"));

    let page = std::fs::read_to_string(run.dir.join("report.html")).unwrap();
    for section in [
        "id=\"curves\"",
        "id=\"classes\"",
        "id=\"confusion\"",
        "id=\"calibration\"",
        "id=\"embedding\"",
        "id=\"regions\"",
        "id=\"split\"",
        "id=\"config\"",
    ] {
        assert!(page.contains(section), "missing {section}");
    }
    assert!(
        !page.contains("src=\"http") && !page.contains("href=\"http"),
        "nothing is fetched"
    );
    assert!(!page.contains("<script"), "the page must not need scripts");
    let charts = svgs(&page);
    // Curves: loss, mpl, uda, lr, eval groups; per-class bars; 3 confusion matrices, 3
    // reliability diagrams, PCA + t-SNE, 3 decision-region plots.
    assert!(
        charts.len() >= 5 + 1 + 3 + 3 + 2 + 3,
        "{} charts",
        charts.len()
    );
    let curves = charts.iter().filter(|s| s.contains("<polyline")).count();
    assert!(curves >= 5, "{curves} line charts");
    for name in [
        "loss/teacher_mpl",
        "mpl/h",
        "uda/mask_ratio",
        "lr/teacher",
        "Accuracy during training",
        "Prediction balance",
    ] {
        assert!(page.contains(name), "no curve for {name}");
    }
    // Decision regions: a grid of cells in at least two colours, labeled points on top.
    let regions = &page[page.find("id=\"regions\"").unwrap()..];
    let first = svgs(regions)[0];
    assert!(first.matches("<rect").count() > 6000, "grid cells");
    assert!(first.contains("labeled: upper") && first.contains("unlabeled"));
    let fills: std::collections::BTreeSet<&str> = first
        .split("fill=\"")
        .skip(1)
        .map(|s| &s[..7])
        .filter(|f| f.starts_with('#'))
        .collect();
    assert!(fills.len() >= 3, "{fills:?}");
    // The embedding plots have a point per sampled test example (PCA: 1000 moons test points).
    let emb = &page[page.find("id=\"embedding\"").unwrap()..page.find("id=\"regions\"").unwrap()];
    assert!(svgs(emb)[0].matches("<circle").count() >= 1000);
    assert!(svgs(emb)[1].matches("<circle").count() >= 200);
    // ECE of every model is in the table.
    assert_eq!(page.matches("(reported)").count(), 1);
    assert!(page.contains("ECE"));

    // `metapseudo report` rebuilds the same page from the run folder.
    std::fs::remove_file(run.dir.join("report.html")).unwrap();
    let o = common::metapseudo(&["report", run.dir.to_str().unwrap()]);
    assert!(stdout(&o).contains("report.html"));
    let again = std::fs::read_to_string(run.dir.join("report.html")).unwrap();
    assert_eq!(svgs(&again).len(), charts.len());
}

#[test]
fn tensorboard_events_hold_every_logged_scalar() {
    let dir = common::temp_dir("tensorboard");
    let (run, _) = moons_run(
        &dir,
        &["--tensorboard", "--quiet", "--set", "output.report=false"],
    );
    assert!(!run.dir.join("report.html").exists());
    let files = event_files(&run.dir).unwrap();
    assert_eq!(files.len(), 1);
    let events = read_event_file(&files[0]).unwrap();
    let metrics = read_metrics(&run.metrics()).unwrap();
    // Every logged scalar but the epoch counter.
    let expected: usize = metrics.iter().map(|m| m.values.len() - 1).sum();
    assert_eq!(events.len(), expected);
    let last = metrics.last().unwrap();
    for (tag, v) in last.values.iter().filter(|(k, _)| *k != "epoch") {
        let e = events
            .iter()
            .find(|e| e.tag == *tag && e.step == last.step as i64)
            .unwrap_or_else(|| panic!("no event for {tag}"));
        assert_eq!(e.value, *v as f32, "{tag}");
    }
    assert!(events.iter().any(|e| e.tag == "mpl/h"));
}

#[test]
fn predict_matches_evaluation_and_exports_give_identical_predictions() {
    let dir = common::temp_dir("predict");
    let (run, _) = moons_run(&dir, &["--quiet", "--set", "output.report=false"]);
    // The moons test set as CSV rows with their labels (the label column is dropped).
    let config = run.read_config().unwrap();
    let data = metapseudo::run::RunData::prepare(&config, Some(run.read_split().unwrap())).unwrap();
    let test = data.dataset.test.table().unwrap();
    let mut csv = String::from("x,y,label\n");
    for i in 0..test.len() {
        let r = test.row(i);
        csv.push_str(&format!("{},{},{}\n", r[0], r[1], test.labels[i].unwrap()));
    }
    let csv_path = dir.join("test.csv");
    std::fs::write(&csv_path, csv).unwrap();
    let predict = |model: &Path, extra: &[&str]| {
        let mut args = vec![
            "predict",
            model.to_str().unwrap(),
            csv_path.to_str().unwrap(),
            "--json",
        ];
        args.extend_from_slice(extra);
        stdout(&common::metapseudo(&args))
    };
    let from_run = predict(&run.dir, &["--top-k", "2"]);
    let rows: Vec<serde_json::Value> = from_run
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), test.len());
    let correct = rows
        .iter()
        .zip(&test.labels)
        .filter(|(r, l)| r["predictions"][0]["index"] == serde_json::json!(l.unwrap()))
        .count();
    let summary = common::json(&run.summary());
    let acc = correct as f64 / test.len() as f64;
    assert!(
        (acc - summary["accuracy"].as_f64().unwrap()).abs() < 1e-9,
        "{acc} vs {}",
        summary["accuracy"]
    );
    let p0 = rows[0]["predictions"][0]["probability"].as_f64().unwrap();
    let p1 = rows[0]["predictions"][1]["probability"].as_f64().unwrap();
    assert!(p0 >= p1 && (p0 + p1 - 1.0).abs() < 1e-5);

    let out = common::metapseudo(&[
        "export",
        run.dir.to_str().unwrap(),
        "--out",
        dir.join("exp/m.safetensors").to_str().unwrap(),
    ]);
    assert!(stdout(&out).contains("m.json"));
    let meta = common::json(&dir.join("exp/m.json"));
    assert_eq!(meta["format"], "metapseudo-export-1");
    assert_eq!(meta["source_model"], summary["reported_model"]);
    let from_export = predict(&dir.join("exp/m.safetensors"), &["--top-k", "2"]);
    assert_eq!(
        from_run, from_export,
        "the export predicts exactly as the run"
    );
    // --device: the cpu, named, predicts as the default; a device this build lacks is named.
    let on_cpu = predict(&run.dir, &["--top-k", "2", "--device", "cpu"]);
    assert_eq!(on_cpu, from_run);
    let missing = metapseudo::device::DeviceName::EACH_BACKEND
        .into_iter()
        .find(|d| !d.is_built());
    if let Some(device) = missing {
        let name = device.to_string();
        let o = common::metapseudo(&[
            "predict",
            run.dir.to_str().unwrap(),
            csv_path.to_str().unwrap(),
            "--device",
            &name,
        ]);
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && e.contains(&name), "{e}");
    }
    let bad = common::metapseudo(&["export", run.dir.to_str().unwrap(), "--format", "onnx"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("valid formats: safetensors"));
}

#[test]
fn images_are_predicted_with_the_runs_preprocessing() {
    let dir = common::temp_dir("predict-images");
    let data = dir.join("colors");
    common::write_color_folder(&data, 12, 6, 12);
    let sets = [
        format!("data.spec=\"folder:{}\"", data.display()),
        "method=\"supervised\"".into(),
        "data.labels_per_class=12".into(),
        "model.width=4".into(),
        "train.steps=80".into(),
        "train.batch_size=6".into(),
        "train.eval_every=0".into(),
        "output.tsne_points=0".into(),
    ];
    let config = common::config_with(Some("fashion-cpu"), &sets);
    let run = RunDir {
        dir: dir.join("run"),
    };
    let summary = common::train_to_end(&config, &run);
    assert!(run.dir.join("report.html").exists());
    let test = data.join("test");
    let o = common::metapseudo(&["predict", run.dir.to_str().unwrap(), test.to_str().unwrap()]);
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 18);
    let correct = lines
        .iter()
        .filter(|l| {
            let (path, pred) = l.split_once('\t').unwrap();
            let truth = Path::new(path)
                .parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_str()
                .unwrap();
            pred.starts_with(&format!("{truth} "))
        })
        .count();
    // The folder's own test split is these same images: predict agrees with evaluation.
    assert_eq!(correct as f64 / 18.0, summary.accuracy);
    common::metapseudo(&["export", run.dir.to_str().unwrap()]);
    let exported = run.dir.join("export");
    let o2 = common::metapseudo(&[
        "predict",
        exported.to_str().unwrap(),
        test.to_str().unwrap(),
    ]);
    assert_eq!(text, stdout(&o2));
    let err = common::metapseudo(&[
        "predict",
        run.dir.to_str().unwrap(),
        dir.join("missing.png").to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&err.stderr).contains("missing.png"));
}

#[test]
fn compare_groups_runs_and_writes_markdown_and_html() {
    let dir = common::temp_dir("compare");
    for (method, seed) in [("supervised", "1"), ("supervised", "2"), ("uda", "1")] {
        let out = dir.join(format!("runs/{method}-{seed}"));
        let o = common::metapseudo(&[
            "train",
            "--quiet",
            "--data",
            "digits",
            "--method",
            method,
            "--seed",
            seed,
            "--steps",
            "60",
            "--set",
            "output.report=false",
            "--out",
            out.to_str().unwrap(),
        ]);
        stdout(&o);
    }
    let prefix = dir.join("table");
    let o = common::metapseudo(&[
        "compare",
        dir.join("runs").to_str().unwrap(),
        "--out",
        prefix.to_str().unwrap(),
    ]);
    let text = stdout(&o);
    assert!(text.contains("| supervised | digits | 50 | 2 |"), "{text}");
    assert!(text.contains("| uda | digits | 50 | 1 |"), "{text}");
    assert!(text.contains("gain over supervised"));
    let md = std::fs::read_to_string(prefix.with_extension("md")).unwrap();
    assert_eq!(
        md,
        text.lines()
            .take_while(|l| !l.starts_with("wrote"))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    );
    assert!(
        std::fs::read_to_string(prefix.with_extension("html"))
            .unwrap()
            .contains("<table>")
    );
    // Without --out the tables go beside the runs, not into the working directory.
    let o = common::metapseudo(&["compare", dir.join("runs").to_str().unwrap()]);
    stdout(&o);
    assert!(dir.join("runs").join("compare.md").exists());
    assert!(dir.join("runs").join("compare.html").exists());
}
