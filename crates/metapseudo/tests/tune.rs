//! `metapseudo tune`: a study is an Optuna journal that Optuna itself reads, survives kill -9
//! with exactly the trials of a study never killed, and is shared by several processes.

mod common;

use common::{metapseudo, temp_dir};
use metapseudo::tune::journal::{Journal, Study, TrialState};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const SPACE: &str = r#"
[params."teacher_optim.lr"]
type = "float"
low = 0.05
high = 0.5
log = true
[params."uda.weight"]
type = "float"
low = 0.5
high = 4.0
[params."train.batch_size"]
type = "int"
low = 8
high = 32
step = 8
[params."mpl.student_target"]
type = "categorical"
choices = ["hard-weak", "hard-strong"]
"#;

/// The arguments of a small moons study with `trials` trials in `study`.
fn tune_args(space: &Path, study: &Path, trials: usize) -> Vec<String> {
    [
        "tune",
        "--quiet",
        "--data",
        "moons",
        "--method",
        "mpl",
        "--set",
        "train.steps=300",
        "--set",
        "train.eval_every=100",
        "--startup-trials",
        "3",
        "--prune-startup-trials",
        "2",
        "--trials",
        &trials.to_string(),
        "--space",
        space.to_str().unwrap(),
        "--study",
        study.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec()
}

fn run_tune(args: &[String]) {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = metapseudo(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn study(dir: &Path) -> Study {
    Journal::open(&dir.join("study.log"))
        .unwrap()
        .read()
        .unwrap()
}

/// A trial as the comparisons see it: state, parameters (internal values) and value.
type TrialFace = (TrialState, Vec<(String, f64)>, Option<f64>);

/// The finished trials in order, failed ones left out.
fn finished(s: &Study) -> Vec<TrialFace> {
    s.trials
        .iter()
        .filter(|t| t.state != TrialState::Fail)
        .map(|t| {
            let p = t.params.iter().map(|(k, (x, _))| (k.clone(), *x)).collect();
            (t.state, p, t.value)
        })
        .collect()
}

#[test]
fn a_study_is_an_optuna_journal_with_a_best_config_that_trains() {
    let dir = temp_dir("tune-study");
    let space = dir.join("space.toml");
    std::fs::write(&space, SPACE).unwrap();
    let s1 = dir.join("s1");
    run_tune(&tune_args(&space, &s1, 6));
    let st = study(&s1);
    assert_eq!(st.trials.len(), 6);
    assert!(
        st.trials
            .iter()
            .all(|t| t.state.is_finished() && t.params.len() == 4)
    );
    let complete = st
        .trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .count();
    assert!(complete >= 3, "{complete} complete trials");
    for t in st.trials.iter().filter(|t| t.state == TrialState::Complete) {
        let v = t.value.unwrap();
        let test = t.user_attrs["test_accuracy"].as_f64().unwrap();
        assert!(v > 0.5 && test > 0.5, "validation {v}, test {test}");
        assert!(!t.intermediate.is_empty());
    }
    assert!(
        st.user_attrs["objective"]
            .as_str()
            .unwrap()
            .contains("validation split")
    );
    // best.toml trains as it is.
    let run = dir.join("best-run");
    let o = metapseudo(&[
        "train",
        "--quiet",
        "--config",
        s1.join("best.toml").to_str().unwrap(),
        "--set",
        "output.report=false",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Continuing the study to 8 trials adds two; the same seed repeats the first six.
    run_tune(&tune_args(&space, &s1, 8));
    let more = study(&s1);
    assert_eq!(more.trials.len(), 8);
    assert_eq!(finished(&more)[..6], finished(&st)[..]);
    // Another search space on the same study is refused.
    std::fs::write(&space, SPACE.replace("high = 4.0", "high = 5.0")).unwrap();
    let args = tune_args(&space, &s1, 9);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = metapseudo(&args);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("another search space"));
    // Optuna reads the journal as its own, when it is installed.
    let check = format!(
        "import optuna\nfrom optuna.storages import JournalStorage\nfrom optuna.storages.journal import JournalFileBackend\ns = optuna.load_study(study_name='s1', storage=JournalStorage(JournalFileBackend({:?})))\nassert len(s.trials) == 8\nassert s.direction.name == 'MAXIMIZE'\nb = s.best_trial\nprint(b.number, b.value, sorted(b.params), b.user_attrs['test_accuracy'], [t.state.name for t in s.trials])\n",
        s1.join("study.log").to_str().unwrap()
    );
    match Command::new("python3").args(["-c", &check]).output() {
        Ok(o) if o.status.success() => {
            let out = String::from_utf8_lossy(&o.stdout);
            assert!(
                out.contains("mpl.student_target") && out.contains("COMPLETE"),
                "{out}"
            );
        }
        Ok(o) if String::from_utf8_lossy(&o.stderr).contains("No module named 'optuna'") => {
            eprintln!("skipped: Python's optuna is not installed");
        }
        Ok(o) => panic!(
            "optuna could not read the study: {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(_) => eprintln!("skipped: no python3"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_study_killed_three_times_holds_the_trials_of_one_never_killed() {
    let dir = temp_dir("tune-kill");
    let space = dir.join("space.toml");
    std::fs::write(&space, SPACE).unwrap();
    let (whole, killed) = (dir.join("whole"), dir.join("killed"));
    run_tune(&tune_args(&space, &whole, 7));
    let args = tune_args(&space, &killed, 7);
    for delay_ms in [700, 1300, 900] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_metapseudo"))
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap();
        child.wait().unwrap();
    }
    run_tune(&args);
    let (a, b) = (study(&whole), study(&killed));
    assert_eq!(finished(&b), finished(&a));
    let failed: Vec<_> = b
        .trials
        .iter()
        .filter(|t| t.state == TrialState::Fail)
        .collect();
    eprintln!("{} trial(s) killed in flight and run again", failed.len());
    for t in failed {
        let rerun = b
            .trials
            .iter()
            .find(|r| r.system_attrs.get("rerun_of").and_then(|v| v.as_u64()) == Some(t.id as u64));
        assert!(rerun.is_some(), "failed trial {} was not run again", t.id);
    }
    assert!(b.trials.iter().all(|t| t.state.is_finished()));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn two_processes_share_one_study_without_counting_a_trial_twice() {
    let dir = temp_dir("tune-shared");
    let space = dir.join("space.toml");
    std::fs::write(&space, SPACE).unwrap();
    let shared = dir.join("shared");
    let mut args = tune_args(&space, &shared, 6);
    args.extend(["--jobs".into(), "2".into()]);
    run_tune(&args);
    let s = study(&shared);
    let counted = s
        .trials
        .iter()
        .filter(|t| t.state != TrialState::Fail)
        .count();
    assert_eq!(counted, 6);
    let workers: std::collections::BTreeSet<&str> = s
        .trials
        .iter()
        .filter_map(|t| t.user_attrs.get("worker").and_then(|w| w.as_str()))
        .collect();
    assert_eq!(workers.len(), 2, "{workers:?}");
    assert!(s.trials.iter().all(|t| t.state.is_finished()));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_journal_written_by_optuna_reads_as_optuna_left_it() {
    // Written by Optuna 5.1.0's JournalFileBackend: two complete trials (a float on a log
    // scale, an int with a step, a categorical, a report at step 10, a user attribute), one
    // failed and one pruned with the value 0.3.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/optuna-5.1-journal.log");
    let copy = temp_dir("tune-fixture").join("study.log");
    std::fs::copy(&path, &copy).unwrap();
    let s = Journal::open(&copy).unwrap().read().unwrap();
    assert!(s.created);
    let states: Vec<TrialState> = s.trials.iter().map(|t| t.state).collect();
    use TrialState::*;
    assert_eq!(states, [Complete, Complete, Fail, Pruned]);
    let t = &s.trials[0];
    assert_eq!(t.params["b"].0, 16.0);
    assert_eq!(t.params["m"].0, 1.0);
    assert!(t.params["lr"].1.contains("\"log\": true"));
    assert_eq!(t.value, Some(t.params["lr"].0));
    assert_eq!(t.intermediate[&10], 0.5);
    assert_eq!(t.user_attrs["test"], 0.7);
    assert_eq!(s.trials[3].value, Some(0.3));
    // The same distributions as Optuna writes, for a space of the same parameters.
    let space = metapseudo::tune::space::SearchSpace::parse(
        "[params.lr]\ntype = \"float\"\nlow = 0.001\nhigh = 1.0\nlog = true\n[params.b]\ntype = \"int\"\nlow = 16\nhigh = 64\nstep = 16\n[params.m]\ntype = \"categorical\"\nchoices = [\"hard\", \"soft\"]\n",
    )
    .unwrap();
    let json = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap();
    for (k, d) in &space.params {
        assert_eq!(json(&d.to_optuna_json()), json(&t.params[k].1), "{k}");
    }
}
