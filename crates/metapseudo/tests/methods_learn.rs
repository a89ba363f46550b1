//! Each method trains on the two-moons set and must beat chance by a wide margin.

mod common;

use metapseudo::run::{RunDir, Summary};

fn run(method: &str, extra: &[&str]) -> Summary {
    run_with_metrics(method, extra).0
}

/// The run's summary and its `metrics.jsonl`.
fn run_with_metrics(method: &str, extra: &[&str]) -> (Summary, String) {
    let mut sets = vec![format!("method={method}"), "train.steps=1500".into()];
    sets.extend(extra.iter().map(|s| s.to_string()));
    let config = common::config_with(None, &sets);
    let dir = common::temp_dir(&format!("learn-{method}"));
    let summary = common::train_to_end(
        &config,
        &RunDir {
            dir: dir.join("run"),
        },
    );
    let metrics = std::fs::read_to_string(dir.join("run/metrics.jsonl")).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    (summary, metrics)
}

#[test]
fn supervised_learns_the_labeled_points() {
    let s = run("supervised", &[]);
    assert!(s.accuracy > 0.75, "supervised: {}", s.accuracy);
}

#[test]
fn pseudo_label_learns() {
    let s = run(
        "pseudo-label",
        &[
            "pseudo_label.threshold=0.8",
            "augment.strong.noise_std=0.05",
        ],
    );
    assert!(s.accuracy > 0.75, "pseudo-label: {}", s.accuracy);
}

#[test]
fn uda_follows_the_moons() {
    let s = run("uda", &[]);
    assert!(s.accuracy > 0.9, "uda: {}", s.accuracy);
}

#[test]
fn mpl_student_follows_the_moons() {
    let s = run("mpl", &[]);
    assert!(s.models["teacher"].accuracy > 0.9, "{:?}", s.models);
    assert!(s.models["student"].accuracy > 0.9, "{:?}", s.models);
    assert_eq!(s.reported_model, "student");
}

#[test]
fn smpl_follows_the_moons_with_either_view_in_its_mpl_term() {
    let (s, strong) = run_with_metrics("smpl", &[]);
    assert!(s.accuracy > 0.9, "smpl: {}", s.accuracy);
    assert!(!s.models.contains_key("teacher"));
    let (s, weak) = run_with_metrics("smpl", &["smpl.mpl_view=\"weak\""]);
    assert!(s.accuracy > 0.9, "smpl, weak-view MPL term: {}", s.accuracy);
    // The second step's MPL cross entropy reads another view (and step 1's label), so its
    // logged values differ from the first step on.
    let (a, b) = (
        common::logged(&strong, "loss/mpl_ce"),
        common::logged(&weak, "loss/mpl_ce"),
    );
    assert!(!a.is_empty() && a.len() == b.len());
    assert_ne!(a[0], b[0], "the MPL term reads the same view");
}

#[test]
fn smpl_with_a_confidence_threshold_masks_its_first_step_and_learns() {
    let (s, metrics) = run_with_metrics("smpl", &["smpl.threshold=0.9"]);
    assert!(s.accuracy > 0.9, "smpl, threshold 0.9: {}", s.accuracy);
    let ratios = common::logged(&metrics, "smpl/mask_ratio");
    assert!(!ratios.is_empty(), "smpl/mask_ratio is logged");
    // Unsure at first, so the mask drops pseudo labels; confident later, so it keeps some.
    let (min, max) = ratios
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &r| (lo.min(r), hi.max(r)));
    assert!(min < 0.5 && max > 0.5, "mask ratios from {min} to {max}");
}

#[test]
fn metasemi_target_step_is_the_learning_rate_or_its_own() {
    use common::logged;
    let (_, spec) = run_with_metrics("metasemi", &["train.steps=30"]);
    let (steps, lrs) = (
        logged(&spec, "metasemi/target_lr"),
        logged(&spec, "lr/student"),
    );
    assert!(!steps.is_empty() && steps == lrs, "{steps:?} vs {lrs:?}");
    let (_, fixed) = run_with_metrics("metasemi", &["train.steps=30", "metasemi.target_lr=5"]);
    let steps = logged(&fixed, "metasemi/target_lr");
    assert!(
        !steps.is_empty() && steps.iter().all(|&s| s == 5.0),
        "{steps:?}"
    );
    // A larger step moves the targets further from the predictions.
    let mean = |v: Vec<f64>| v.iter().sum::<f64>() / v.len() as f64;
    let (small, large) = (
        mean(logged(&spec, "metasemi/target_shift")),
        mean(logged(&fixed, "metasemi/target_shift")),
    );
    assert!(large > 2.0 * small, "shift {small} with lr, {large} with 5");
}

#[test]
fn cosine_consistency_trains_uda_and_the_mpl_teacher() {
    let s = run("uda", &["uda.unlabeled_loss=\"cosine\""]);
    assert!(s.accuracy > 0.9, "uda with cosine: {}", s.accuracy);
    // The cosine term's gradient is bounded (smaller than cross entropy's), so the teacher
    // takes the preset's full 3000 steps.
    let s = run(
        "mpl",
        &["uda.unlabeled_loss=\"cosine\"", "train.steps=3000"],
    );
    assert!(s.models["teacher"].accuracy > 0.9, "{:?}", s.models);
}

#[test]
fn metasemi_follows_the_moons() {
    // The preset's full 3000 steps; supervised alone reaches about 0.86 there.
    let s = run("metasemi", &["train.steps=3000"]);
    assert!(s.accuracy > 0.95, "metasemi: {}", s.accuracy);
    assert!(!s.models.contains_key("teacher"));
}

#[test]
fn role_playing_mpl_learns_and_reports_its_ensemble() {
    let s = run(
        "mpl",
        &["mpl.role_swap=\"500\"", "train.report=\"ensemble\""],
    );
    for model in ["student", "teacher", "ensemble"] {
        assert!(s.models[model].accuracy > 0.9, "{model}: {:?}", s.models);
    }
    assert_eq!(s.reported_model, "ensemble");
    assert_eq!(s.accuracy, s.models["ensemble"].accuracy);
}

#[test]
fn reduced_mpl_student_learns_from_a_trained_runs_cached_logits() {
    let dir = common::temp_dir("learn-reduced");
    let teacher_run = RunDir {
        dir: dir.join("teacher"),
    };
    let teacher = common::train_to_end(
        &common::config_with(None, &["method=\"uda\"".into()]),
        &teacher_run,
    );
    let sets = [
        "method=\"reduced-mpl\"".to_string(),
        format!(
            "reduced_mpl.teacher_run={:?}",
            teacher_run.dir.display().to_string()
        ),
    ];
    let run = RunDir {
        dir: dir.join("reduced"),
    };
    let s = common::train_to_end(&common::config_with(None, &sets), &run);
    assert!(teacher.accuracy > 0.9, "teacher: {}", teacher.accuracy);
    assert!(s.accuracy > 0.9, "reduced-mpl student: {:?}", s.models);
    // The reduced teacher reads logits, so it is not evaluated on the test images.
    assert!(!s.models.contains_key("teacher"));
    assert_eq!(
        run.read_split().unwrap(),
        teacher_run.read_split().unwrap(),
        "the labeled split is the teacher run's"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
