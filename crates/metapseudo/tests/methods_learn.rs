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
