//! The finetune stage: continues a finished run on its labeled samples, keeps the best
//! checkpoint by validation (never the test split), records before/after, and resumes exactly.

mod common;

use common::{json, metapseudo, temp_dir};
use std::path::Path;

fn ok(args: &[&str]) {
    let o = metapseudo(args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A short digits MPL run in `dir`.
fn trained_run(dir: &Path) {
    ok(&[
        "train",
        "--quiet",
        "--data",
        "digits",
        "--method",
        "mpl",
        "--steps",
        "300",
        "--set",
        "student_optim.wait_steps=50",
        "--set",
        "output.report=false",
        "--out",
        dir.to_str().unwrap(),
    ]);
}

const STAGE: &[&str] = &[
    "--quiet",
    "--steps",
    "60",
    "--lr",
    "0.01",
    "--batch-size",
    "32",
    "--eval-every",
    "20",
];

#[test]
fn finetune_records_before_and_after_and_keeps_validation_out_of_training() {
    let dir = temp_dir("finetune-record");
    let run = dir.join("run");
    trained_run(&run);
    let before = json(&run.join("summary.json"));
    let e = String::from_utf8_lossy(&metapseudo(&["finetune", run.to_str().unwrap()]).stderr)
        .to_string();
    assert!(e.contains("--steps"), "{e}");
    ok(&[&["finetune", run.to_str().unwrap()], STAGE].concat());
    let s = json(&run.join("summary.json"));
    let f = &s["finetune"];
    assert_eq!(s["reported_model"], "finetuned");
    assert_eq!(f["from"], "ema");
    assert_eq!(f["before"], before["models"]["ema"]["accuracy"]);
    assert_eq!(f["after"], s["models"]["finetuned"]["accuracy"]);
    assert_eq!(s["accuracy"], f["after"]);
    assert_eq!(f["validation_size"], 10);
    let stage = run.join("finetune");
    let stage_summary = json(&stage.join("summary.json"));
    assert_eq!(stage_summary["models"]["best"], s["models"]["finetuned"]);
    assert_eq!(stage_summary["best"]["step"], f["best_step"]);
    // The validation cross entropy is kept with the best model and logged (`lower-loss` ties).
    assert!(stage_summary["best"]["loss"].as_f64().unwrap() > 0.0);
    let metrics = std::fs::read_to_string(stage.join("metrics.jsonl")).unwrap();
    assert!(metrics.contains("\"eval/validation/loss\""));
    let split = json(&stage.join("split.json"));
    let labeled: Vec<u64> = serde_json::from_value(split["labeled_indices"].clone()).unwrap();
    let validation: Vec<u64> = serde_json::from_value(split["validation_indices"].clone()).unwrap();
    let parent: Vec<u64> =
        serde_json::from_value(json(&run.join("split.json"))["labeled_indices"].clone()).unwrap();
    assert_eq!((labeled.len(), validation.len()), (40, 10));
    assert!(
        validation
            .iter()
            .all(|i| parent.contains(i) && !labeled.contains(i))
    );
    let config = std::fs::read_to_string(stage.join("config.toml")).unwrap();
    assert!(config.contains("method = \"supervised\""), "{config}");
    assert!(config.contains("dropout = 0.0"), "{config}");
    // Prediction defaults to the reported (finetuned) model, read from the stage's folder.
    let p = metapseudo::predict::Predictor::from_run(&run, None, &burn::tensor::Device::flex())
        .unwrap();
    assert_eq!((p.model_name.as_str(), p.members.len()), ("finetuned", 1));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_stopped_finetune_stage_resumes_to_the_same_result() {
    let dir = temp_dir("finetune-resume");
    let (a, b) = (dir.join("a"), dir.join("b"));
    trained_run(&a);
    trained_run(&b);
    ok(&[&["finetune", a.to_str().unwrap()], STAGE].concat());
    ok(&[&["finetune", b.to_str().unwrap(), "--stop-at", "30"], STAGE].concat());
    assert!(json(&b.join("summary.json")).get("finetune").is_none());
    ok(&["finetune", "--quiet", b.to_str().unwrap()]);
    let finetune = |d: &Path| {
        let mut s = json(&d.join("summary.json"));
        s.as_object_mut().unwrap().remove("wall_seconds");
        s
    };
    assert_eq!(finetune(&a), finetune(&b));
    let metrics = |d: &Path| std::fs::read_to_string(d.join("finetune/metrics.jsonl")).unwrap();
    assert_eq!(metrics(&a), metrics(&b));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A barely trained supervised moons run in `run` followed by a 600-step stage with
/// `validation` settings: the stage must lift it well above where it started. Returns the
/// run's summary and its finetune record.
fn barely_trained_then_finetuned(
    run: &Path,
    validation: &[&str],
) -> (serde_json::Value, serde_json::Value) {
    let mut args = vec![
        "train",
        "--quiet",
        "--method",
        "supervised",
        "--steps",
        "2",
        "--set",
        "student_optim.lr=0.01",
        "--set",
        "output.report=false",
        "--finetune-steps",
        "600",
        "--set",
        "finetune.lr=0.3",
        "--set",
        "finetune.batch_size=6",
        "--set",
        "finetune.from=\"student\"",
        "--out",
        run.to_str().unwrap(),
    ];
    for v in validation {
        args.extend(["--set", v]);
    }
    ok(&args);
    let s = json(&run.join("summary.json"));
    let f = s["finetune"].clone();
    let (before, after) = (f["before"].as_f64().unwrap(), f["after"].as_f64().unwrap());
    assert!(after > 0.75 && after > before + 0.1, "{f}");
    (s, f)
}

#[test]
fn the_stage_learns_from_the_labeled_samples() {
    // It chooses its checkpoint on validation samples outside the labeled set.
    let dir = temp_dir("finetune-learns");
    let (_, f) = barely_trained_then_finetuned(
        &dir.join("run"),
        &[
            "finetune.validation=\"training\"",
            "finetune.validation_per_class=20",
        ],
    );
    assert!(f["validation_best"].as_f64().unwrap() > f["validation_before"].as_f64().unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn without_validation_the_stage_trains_on_every_label_and_keeps_its_last_model() {
    // `finetune.validation_per_class = 0`: no samples held out, no best to choose; the stage
    // learns from every labeled sample and its last model is the finetuned one.
    let dir = temp_dir("finetune-no-validation");
    let run = dir.join("run");
    let (s, f) = barely_trained_then_finetuned(&run, &["finetune.validation_per_class=0"]);
    assert_eq!(
        (f["best_step"].as_u64(), f["validation_size"].as_u64()),
        (Some(600), Some(0))
    );
    assert!(f.get("validation_before").is_none() && f.get("validation_best").is_none());
    let stage = json(&run.join("finetune/summary.json"));
    assert_eq!(stage["models"]["student"], s["models"]["finetuned"]);
    assert!(stage.get("best").is_none());
    let split = json(&run.join("finetune/split.json"));
    let parent = json(&run.join("split.json"));
    assert_eq!(split["labeled_indices"], parent["labeled_indices"]);
    assert!(split.get("validation_indices").is_none(), "{split}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn predict_and_export_use_a_stage_that_kept_its_last_model() {
    // With no validation samples (as the fashion-cpu preset's stage), the stage keeps and
    // reports its last model; prediction and export of the finetuned model read that one.
    let dir = temp_dir("finetune-last");
    let run = dir.join("run");
    trained_run(&run);
    ok(&[
        &["finetune", run.to_str().unwrap()],
        STAGE,
        &["--validation-per-class", "0"],
    ]
    .concat());
    let s = json(&run.join("summary.json"));
    assert_eq!(s["reported_model"], "finetuned");
    let device = burn::tensor::Device::flex();
    for name in [None, Some("finetuned")] {
        let p = metapseudo::predict::Predictor::from_run(&run, name, &device).unwrap();
        assert_eq!((p.model_name.as_str(), p.members.len()), ("finetuned", 1));
    }
    let (weights, _) = metapseudo::export::export_run(&run, None, None).unwrap();
    assert!(weights.exists());
    // Settings for a stage that exists already would not apply: they are refused.
    let o = metapseudo(&[
        "finetune",
        run.to_str().unwrap(),
        "--steps",
        "400",
        "--lr",
        "0.05",
    ]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{e}");
    assert!(
        e.contains("already holds a finetune stage") && e.contains("finetune.lr"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
