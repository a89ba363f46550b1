//! Each method trains on the two-moons set and must beat chance by a wide margin.

mod common;

use metapseudo::train::run::{RunDir, Summary};

fn run(method: &str, extra: &[&str]) -> Summary {
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
    std::fs::remove_dir_all(&dir).unwrap();
    summary
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
fn smpl_follows_the_moons() {
    let s = run("smpl", &[]);
    assert!(s.accuracy > 0.9, "smpl: {}", s.accuracy);
    assert!(!s.models.contains_key("teacher"));
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
