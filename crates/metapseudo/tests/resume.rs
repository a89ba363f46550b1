//! A run stopped (or killed) and resumed ends exactly like an uninterrupted one.

mod common;

use common::{json, metapseudo, temp_dir};
use std::path::Path;
use std::time::{Duration, Instant};

const ARGS: &[&str] = &[
    "train",
    "--quiet",
    "--method",
    "mpl",
    "--set",
    "mpl.baseline_decay=0.9",
    "--set",
    "teacher_optim.momentum=0.9",
    "--set",
    "teacher_optim.lr=0.05",
];

fn train(out: &Path, extra: &[&str]) {
    let mut args: Vec<&str> = ARGS.to_vec();
    args.extend(["--out", out.to_str().unwrap()]);
    args.extend(extra);
    let o = metapseudo(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn resume(out: &Path, extra: &[&str]) {
    let mut args = vec!["train", "--quiet", "--resume", out.to_str().unwrap()];
    args.extend(extra);
    let o = metapseudo(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Summary without its timing.
fn results(dir: &Path) -> serde_json::Value {
    let mut s = json(&dir.join("summary.json"));
    s.as_object_mut().unwrap().remove("wall_seconds");
    s
}

fn metrics(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

/// Compares two runs' metrics line by line, reporting the first difference only.
fn assert_same_metrics(a: &Path, b: &Path) {
    let (ma, mb) = (metrics(a), metrics(b));
    for (i, (x, y)) in ma.iter().zip(&mb).enumerate() {
        assert_eq!(x, y, "metrics line {} differs", i + 1);
    }
    assert_eq!(ma.len(), mb.len());
}

#[test]
fn stop_and_resume_matches_an_uninterrupted_run() {
    let dir = temp_dir("resume-stop");
    let (a, b) = (dir.join("a"), dir.join("b"));
    let short = ["--steps", "400", "--checkpoint-every", "50"];
    train(&a, &short);
    train(&b, &[&short[..], &["--stop-at", "130"]].concat());
    assert!(!b.join("summary.json").exists());
    resume(&b, &["--stop-at", "275"]);
    resume(&b, &[]);
    assert_eq!(results(&a), results(&b));
    assert_same_metrics(&a, &b);
    let weights = |d: &Path| {
        metapseudo::io::TensorFile::load(&d.join("checkpoint.safetensors"))
            .unwrap()
            .tensors
    };
    assert!(
        weights(&a) == weights(&b),
        "final checkpoints hold different tensors"
    );
    let s = results(&a);
    assert_eq!(s["steps"], 400);
    assert!(s["models"]["teacher"]["accuracy"].as_f64().unwrap() > 0.5);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_killed_run_resumes_to_the_same_result() {
    let dir = temp_dir("resume-kill");
    let (a, c) = (dir.join("a"), dir.join("c"));
    let long = ["--steps", "4000", "--checkpoint-every", "25"];
    train(&a, &long);
    let mut args: Vec<&str> = ARGS.to_vec();
    args.extend(["--out", c.to_str().unwrap()]);
    args.extend(long);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_metapseudo"))
        .args(&args)
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !c.join("checkpoint.safetensors").exists() && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(150));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    resume(&c, &[]);
    assert_eq!(results(&a), results(&c));
    assert_same_metrics(&a, &c);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_image_run_with_worker_threads_resumes_exactly() {
    let dir = temp_dir("resume-images");
    let data = dir.join("colors");
    common::write_color_folder(&data, 10, 5, 20);
    let spec = format!("folder:{}", data.display());
    let (a, b) = (dir.join("a"), dir.join("b"));
    // Three workers prepare batches ahead of training; strong views and mixup draw from the
    // per-batch generators, so the stopped run must continue with the same batches. WRN-28-2
    // with dense dropout: batch-norm running statistics (pending updates included) and dropout
    // masks must come back exactly too.
    let args = [
        "--preset",
        "cifar10-4k-mpl",
        "--data",
        &spec,
        "--labels-per-class",
        "3",
        "--steps",
        "60",
        "--checkpoint-every",
        "10",
        "--set",
        "train.batch_size=4",
        "--set",
        "train.mu=2",
        "--set",
        "data.workers=3",
        "--set",
        "data.prefetch=5",
        "--set",
        "augment.mixup_alpha=0.75",
        "--set",
        "student_optim.wait_steps=0",
    ];
    train(&a, &args);
    train(&b, &[&args[..], &["--stop-at", "27"]].concat());
    resume(&b, &[]);
    assert_eq!(results(&a), results(&b));
    assert_same_metrics(&a, &b);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Trains 120 digits steps of `method` uninterrupted and stopped at `stop_at` then resumed;
/// both must end the same.
fn digits_run_resumes_exactly(name: &str, method: &str, stop_at: &str, extra: &[&str]) {
    let dir = temp_dir(name);
    let run = |out: &Path, more: &[&str]| {
        let mut args = vec![
            "train",
            "--quiet",
            "--data",
            "digits",
            "--method",
            method,
            "--steps",
            "120",
            "--set",
            "train.eval_every=40",
            "--set",
            "output.report=false",
            "--out",
        ];
        args.push(out.to_str().unwrap());
        args.extend(extra);
        args.extend(more);
        let o = metapseudo(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    let (a, b) = (dir.join("a"), dir.join("b"));
    run(&a, &[]);
    run(&b, &["--stop-at", stop_at]);
    resume(&b, &[]);
    assert_eq!(results(&a), results(&b));
    assert_same_metrics(&a, &b);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn metasemi_resumes_exactly() {
    // With alignment: its running mean lives beside the meta step's non-autodiff tensors.
    let align = ["--set", "train.align_decay=0.9"];
    digits_run_resumes_exactly("resume-metasemi", "metasemi", "70", &align);
}

#[test]
fn distribution_alignment_resumes_exactly() {
    // The checkpoint holds both MPL's moving baseline and the alignment's running mean.
    let dir = temp_dir("resume-align-check");
    let extra = [
        "--set",
        "train.align_decay=0.9",
        "--set",
        "mpl.baseline_decay=0.9",
    ];
    digits_run_resumes_exactly("resume-align", "mpl", "70", &extra);
    let out = dir.join("run");
    let mut args = vec!["train", "--quiet", "--data", "digits", "--steps", "20"];
    args.extend(extra);
    args.extend(["--out", out.to_str().unwrap()]);
    let o = metapseudo(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let logged = metrics(&out).join("\n");
    assert!(
        logged.contains("align/max_ratio"),
        "alignment is not logged"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn role_playing_resumes_exactly_in_swapped_roles() {
    // Roles swap every 30 steps: at step 95 the network named `student` plays the teacher.
    let swap = ["--role-swap", "30", "--set", "student_optim.wait_steps=10"];
    digits_run_resumes_exactly("resume-roles", "mpl", "95", &swap);
}

#[test]
fn reduced_mpl_resumes_exactly() {
    let dir = temp_dir("resume-reduced-teacher");
    let teacher = dir.join("teacher");
    let o = metapseudo(&[
        "train",
        "--quiet",
        "--data",
        "digits",
        "--method",
        "uda",
        "--steps",
        "100",
        "--set",
        "output.report=false",
        "--out",
        teacher.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let extra = [
        "--teacher-run",
        teacher.to_str().unwrap(),
        "--set",
        "student_optim.wait_steps=20",
    ];
    digits_run_resumes_exactly("resume-reduced", "reduced-mpl", "70", &extra);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn ctrl_c_saves_the_step_and_the_resumed_run_ends_as_an_uninterrupted_one() {
    let dir = common::temp_dir("interrupt");
    let (a, b) = (dir.join("a"), dir.join("b"));
    let args = |out: &std::path::Path| -> Vec<String> {
        [
            "train",
            "--steps",
            "12000",
            "--set",
            "output.report=false",
            "--out",
            out.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec()
    };
    let whole = common::metapseudo(&args(&a).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(whole.status.success());
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_metapseudo"))
        .args(args(&b))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until training has logged a step, then press Ctrl-C.
    let metrics = b.join("metrics.jsonl");
    let started = std::time::Instant::now();
    while std::fs::metadata(&metrics).map_or(0, |m| m.len()) == 0 {
        assert!(started.elapsed().as_secs() < 60, "the run never logged");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SAFETY: sending SIGINT to our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted at step") && stderr.contains("train --resume"),
        "{stderr}"
    );
    assert!(b.join("checkpoint.safetensors").exists());
    assert!(
        !b.join("summary.json").exists(),
        "it stopped before the end"
    );
    let resumed = common::metapseudo(&["train", "--resume", b.to_str().unwrap()]);
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let read = |d: &std::path::Path, f: &str| std::fs::read_to_string(d.join(f)).unwrap();
    assert_eq!(read(&a, "metrics.jsonl"), read(&b, "metrics.jsonl"));
    let acc = |d: &std::path::Path| common::json(&d.join("summary.json"))["accuracy"].clone();
    assert_eq!(acc(&a), acc(&b));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_second_process_in_a_run_folder_is_refused_naming_the_first() {
    let dir = common::temp_dir("lock");
    let run = dir.join("run");
    let mut first = std::process::Command::new(env!("CARGO_BIN_EXE_metapseudo"))
        .args([
            "train",
            "--quiet",
            "--steps",
            "200000",
            "--out",
            run.to_str().unwrap(),
        ])
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while !run.join("metrics.jsonl").exists() {
        assert!(
            started.elapsed().as_secs() < 60,
            "the first run never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let pid = first.id().to_string();
    let refusal = |args: &[&str]| {
        let o = common::metapseudo(args);
        assert!(!o.status.success(), "{args:?}");
        String::from_utf8_lossy(&o.stderr).to_string()
    };
    let e = refusal(&["train", "--quiet", "--resume", run.to_str().unwrap()]);
    assert!(e.contains("in use by process") && e.contains(&pid), "{e}");
    let e = refusal(&["train", "--quiet", "--out", run.to_str().unwrap()]);
    assert!(e.contains("already holds a run"), "{e}");
    let e = refusal(&["report", run.to_str().unwrap()]);
    assert!(e.contains("in use by process"), "{e}");
    first.kill().unwrap();
    first.wait().unwrap();
    // Killed, it left its lock behind: the lock is stale, and the run resumes.
    assert!(run.join(".lock").exists());
    let o = common::metapseudo(&[
        "train",
        "--quiet",
        "--resume",
        run.to_str().unwrap(),
        "--stop-at",
        "200",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!run.join(".lock").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `metapseudo train --resume DIR`'s error (it must fail).
fn resume_error(out: &Path) -> String {
    let o = metapseudo(&["train", "--quiet", "--resume", out.to_str().unwrap()]);
    assert!(!o.status.success(), "the resume should have been refused");
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_run_folder_edited_after_its_checkpoint_is_not_trusted() {
    let dir = temp_dir("resume-edited");
    let (a, b) = (dir.join("a"), dir.join("b"));
    let short = [
        "--steps",
        "300",
        "--checkpoint-every",
        "50",
        "--stop-at",
        "100",
    ];
    train(&a, &short);
    let ckpt = a.join("checkpoint.safetensors");
    let original = std::fs::read(&ckpt).unwrap();
    // An edited split: the resume names the file instead of silently training another run.
    let split = std::fs::read_to_string(a.join("split.json")).unwrap();
    std::fs::write(a.join("split.json"), split.replacen('1', "2", 1)).unwrap();
    let e = resume_error(&a);
    assert!(e.contains("split.json of") && e.contains("step 100"), "{e}");
    std::fs::write(a.join("split.json"), &split).unwrap();
    // An edited step in the checkpoint's header: its checksum no longer matches.
    let text = String::from_utf8_lossy(&original).into_owned();
    let at = text
        .find("\\\"step\\\":100")
        .expect("the header holds the step");
    let mut edited = original.clone();
    edited[at + 9] = b'9';
    std::fs::write(&ckpt, &edited).unwrap();
    let e = resume_error(&a);
    assert!(
        e.contains("checkpoint.safetensors was changed after it was written"),
        "{e}"
    );
    std::fs::write(&ckpt, &original).unwrap();
    // A deleted metrics log: the run continues and ends like an uninterrupted one's tail.
    std::fs::remove_file(a.join("metrics.jsonl")).unwrap();
    resume(&a, &[]);
    train(&b, &short[..4]);
    let tail = |d: &Path| -> Vec<String> {
        metrics(d)
            .into_iter()
            .filter(|l| !l.starts_with("{\"step\":10,") && json_step(l) > 100)
            .collect()
    };
    assert_eq!(tail(&a), tail(&b));
    assert_eq!(results(&a), results(&b));
    // A deleted checkpoint: the run starts over, keeping the lost attempt's log aside.
    let c = dir.join("c");
    train(&c, &short);
    std::fs::remove_file(c.join("checkpoint.safetensors")).unwrap();
    let o = metapseudo(&["train", "--resume", c.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success() && err.contains("starts again from step 0"),
        "{err}"
    );
    assert!(err.contains("metrics.lost.jsonl"), "{err}");
    assert_eq!(results(&c), results(&b));
    std::fs::remove_dir_all(&dir).unwrap();
}

fn json_step(line: &str) -> u64 {
    serde_json::from_str::<serde_json::Value>(line).unwrap()["step"]
        .as_u64()
        .unwrap()
}

#[test]
fn a_run_that_cannot_write_its_first_files_leaves_no_half_made_folder() {
    let dir = temp_dir("first-files");
    let out = dir.join("run");
    // A directory where split.json's temporary file must go makes that write fail, as a full
    // disk would after config.toml.
    std::fs::create_dir_all(out.join(".split.json.tmp")).unwrap();
    let o = metapseudo(&[
        "train",
        "--quiet",
        "--steps",
        "20",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(".split.json.tmp"), "{err}");
    for left in [
        "config.toml",
        "split.json",
        "preprocess.json",
        ".config.toml.tmp",
        ".lock",
    ] {
        assert!(!out.join(left).exists(), "{left} was left behind");
    }
    // The folder takes a new run once the obstacle is gone.
    std::fs::remove_dir(out.join(".split.json.tmp")).unwrap();
    train(&out, &["--steps", "20"]);
    std::fs::remove_dir_all(&dir).unwrap();
}
