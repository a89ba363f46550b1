//! The command line: bad input gets a clear message and a non-zero exit, never a panic; `eval`
//! reproduces a run's summary.

mod common;

use common::{json, metapseudo, temp_dir};

/// Runs a command expected to fail and returns its standard error.
fn fails(args: &[&str]) -> String {
    let o = metapseudo(args);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(!o.status.success(), "{args:?} should fail");
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    err
}

#[test]
fn bad_input_is_named() {
    let dir = temp_dir("cli-errors");
    let out = dir.join("run");
    let out = out.to_str().unwrap();
    let e = fails(&["train", "--data", "csv:/no/such/file.csv", "--out", out]);
    assert!(e.contains("/no/such/file.csv"), "{e}");
    let csv = dir.join("bad.csv");
    std::fs::write(&csv, "x,y,label\n1,2,a\n3,zz,b\n").unwrap();
    let spec = format!("csv:{}", csv.display());
    let e = fails(&["train", "--data", &spec, "--out", out]);
    assert!(
        e.contains("line 3, column 2") && e.contains("\"zz\""),
        "{e}"
    );
    let e = fails(&["train", "--method", "fixmatch", "--out", out]);
    assert!(e.contains("fixmatch") && e.contains("mpl, smpl"), "{e}");
    let e = fails(&["train", "--set", "train.stpes=3", "--out", out]);
    assert!(e.contains("train.stpes") && e.contains("steps"), "{e}");
    let e = fails(&["train", "--labels-per-class", "5000", "--out", out]);
    assert!(e.contains("5000") && e.contains("only 1000"), "{e}");
    let e = fails(&["train", "--preset", "imagenet", "--out", out]);
    assert!(e.contains("valid presets"), "{e}");
    let e = fails(&["eval", dir.join("nothing").to_str().unwrap()]);
    assert!(e.contains("not a metapseudo run folder"), "{e}");
    let e = fails(&["train", "--method", "reduced-mpl", "--out", out]);
    assert!(e.contains("--teacher-run"), "{e}");
    let nothing = dir.join("nothing");
    let e = fails(&[
        "train",
        "--method",
        "reduced-mpl",
        "--teacher-run",
        nothing.to_str().unwrap(),
        "--out",
        out,
    ]);
    assert!(
        e.contains("reduced_mpl.teacher_run") && e.contains("nothing"),
        "{e}"
    );
    let e = fails(&[
        "train",
        "--method",
        "uda",
        "--role-swap",
        "epoch",
        "--out",
        out,
    ]);
    assert!(
        e.contains("mpl.role_swap") && e.contains("--method mpl"),
        "{e}"
    );
    let e = fails(&["train", "--role-swap", "sometimes", "--out", out]);
    assert!(e.contains("'sometimes'"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn reduced_mpl_rejects_a_teacher_trained_on_other_data() {
    let dir = temp_dir("cli-reduced-data");
    let teacher = dir.join("moons-teacher");
    let o = metapseudo(&[
        "train",
        "--quiet",
        "--method",
        "supervised",
        "--steps",
        "20",
        "--set",
        "output.report=false",
        "--out",
        teacher.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = dir.join("run");
    let e = fails(&[
        "train",
        "--data",
        "digits",
        "--method",
        "reduced-mpl",
        "--teacher-run",
        teacher.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(e.contains("other data") || e.contains("split.json"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_non_finite_loss_stops_the_run_and_keeps_the_last_checkpoint() {
    let dir = temp_dir("cli-nan");
    let out = dir.join("run");
    let e = fails(&[
        "train",
        "--quiet",
        "--method",
        "mpl",
        "--steps",
        "300",
        "--checkpoint-every",
        "20",
        "--set",
        "teacher_optim.lr=1e9",
        "--set",
        "teacher_optim.wait_steps=50",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(e.contains("loss term 'loss/teacher_sup' is NaN"), "{e}");
    assert!(
        e.contains("step 60") && e.contains("last good checkpoint (step 40)"),
        "{e}"
    );
    // The kept checkpoint resumes (and fails again at the same place, with the same message).
    let again = fails(&["train", "--quiet", "--resume", out.to_str().unwrap()]);
    let error = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("error:"))
            .map(String::from)
    };
    assert_eq!(error(&e), error(&again));
    // The run was shorter than its preset's: the new run said how its phases were scaled.
    assert!(e.contains("note: train.steps = 300 is shorter"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn eval_reprints_the_summary_and_existing_folders_are_protected() {
    let dir = temp_dir("cli-eval");
    let out = dir.join("run");
    let out_s = out.to_str().unwrap();
    let o = metapseudo(&["train", "--steps", "200", "--out", out_s]);
    assert!(o.status.success());
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("<- reported") && table.contains("teacher"),
        "{table}"
    );
    for f in [
        "config.toml",
        "split.json",
        "metrics.jsonl",
        "checkpoint.safetensors",
        "summary.json",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    let summary = json(&out.join("summary.json"));
    let e = metapseudo(&["eval", out_s, "--json"]);
    assert!(e.status.success());
    let again: serde_json::Value = serde_json::from_slice(&e.stdout).unwrap();
    assert_eq!(again, summary);
    let split = json(&out.join("split.json"));
    assert_eq!(split["labeled_indices"].as_array().unwrap().len(), 6);
    assert_eq!(summary["labels"], 6);
    let e = fails(&["train", "--out", out_s]);
    assert!(
        e.contains("already holds a run") && e.contains("--resume"),
        "{e}"
    );
    // --device computes elsewhere; on the cpu, named explicitly, the numbers are the same.
    let e = metapseudo(&["eval", out_s, "--json", "--device", "cpu"]);
    let on_cpu: serde_json::Value = serde_json::from_slice(&e.stdout).unwrap();
    assert_eq!(on_cpu, summary);
    let e = fails(&["eval", out_s, "--device", "tpu"]);
    assert!(e.contains("'tpu'") && e.contains("cuda:N"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn devices_the_build_lacks_leave_no_run_folder_and_a_resume_can_name_one() {
    use metapseudo::device::DeviceName;
    let dir = temp_dir("cli-device");
    let out = dir.join("run");
    let out_s = out.to_str().unwrap();
    let missing = DeviceName::EACH_BACKEND
        .into_iter()
        .filter(|d| !d.is_built());
    for device in missing {
        let name = device.to_string();
        let feature = device.feature().unwrap();
        let e = fails(&["train", "--steps", "5", "--device", &name, "--out", out_s]);
        assert!(
            e.contains(&name) && e.contains(&format!("--features {feature}")),
            "{e}"
        );
        assert!(!out.exists(), "{name}: the run folder was made");
        let e = fails(&[
            "bench", "step", "--model", "mlp", "--shape", "4", "--device", &name,
        ]);
        assert!(e.contains(&format!("--features {feature}")), "{e}");
    }
    // Resuming on a named device: the cpu, as the run was, gives the one-go run's numbers.
    let once = dir.join("once");
    let run = |args: &[&str]| {
        let o = metapseudo(args);
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    run(&[
        "train",
        "--quiet",
        "--steps",
        "200",
        "--out",
        once.to_str().unwrap(),
    ]);
    run(&[
        "train",
        "--quiet",
        "--steps",
        "200",
        "--stop-at",
        "120",
        "--out",
        out_s,
    ]);
    run(&["train", "--quiet", "--resume", out_s, "--device", "cpu"]);
    let models = |d: &std::path::Path| json(&d.join("summary.json"))["models"].clone();
    assert_eq!(models(&out), models(&once));
    let e = fails(&["train", "--resume", out_s, "--device", "tpu"]);
    assert!(e.contains("'tpu'"), "{e}");
    let e = fails(&["train", "--set", "train.device=\"gpu\"", "--out", out_s]);
    assert!(e.contains("train.device") && e.contains("'gpu'"), "{e}");
    let listed = metapseudo(&["devices"]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("cpu") && l.ends_with("opens")),
        "{listed}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_dev_split_replaces_the_test_split_and_is_named_everywhere() {
    let dir = temp_dir("cli-dev");
    let out = dir.join("run");
    let out_s = out.to_str().unwrap();
    let o = metapseudo(&[
        "train",
        "--steps",
        "50",
        "--set",
        "data.dev_per_class=40",
        "--out",
        out_s,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary = json(&out.join("summary.json"));
    assert_eq!(summary["eval_split"], "dev");
    assert_eq!(summary["test_size"], 80);
    assert_eq!(summary["data"], "moons [dev 40/class]");
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        report.contains("dev accuracy"),
        "the report names the split"
    );
    // Re-evaluation rebuilds the same development split from the saved configuration.
    let e = metapseudo(&["eval", out_s, "--json"]);
    assert!(e.status.success());
    let again: serde_json::Value = serde_json::from_slice(&e.stdout).unwrap();
    assert_eq!(again, summary);
    let bad = dir.join("bad");
    let e = fails(&[
        "train",
        "--steps",
        "5",
        "--set",
        "data.dev_per_class=100000",
        "--out",
        bad.to_str().unwrap(),
    ]);
    assert!(e.contains("development split"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// IDX bytes of unsigned-byte data with the given dimensions.
fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        b.extend_from_slice(&d.to_be_bytes());
    }
    b.extend_from_slice(data);
    b
}

#[test]
fn idx_images_train_end_to_end() {
    let dir = temp_dir("cli-idx");
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    // Two classes of 4x4 images: class 0 bright on the left half, class 1 on the right.
    let make = |n: usize| {
        let mut px = Vec::new();
        let mut labels = Vec::new();
        for i in 0..n {
            let c = i % 2;
            for _y in 0..4 {
                for x in 0..4 {
                    let bright = (x < 2) == (c == 0);
                    px.push(if bright {
                        200 + (i % 50) as u8
                    } else {
                        (i % 30) as u8
                    });
                }
            }
            labels.push(c as u8);
        }
        (px, labels)
    };
    let (px, labels) = make(200);
    std::fs::write(
        data.join("train-images-idx3-ubyte"),
        idx_bytes(&[200, 4, 4], &px),
    )
    .unwrap();
    std::fs::write(
        data.join("train-labels-idx1-ubyte"),
        idx_bytes(&[200], &labels),
    )
    .unwrap();
    let (px, labels) = make(40);
    std::fs::write(
        data.join("t10k-images-idx3-ubyte"),
        idx_bytes(&[40, 4, 4], &px),
    )
    .unwrap();
    std::fs::write(
        data.join("t10k-labels-idx1-ubyte"),
        idx_bytes(&[40], &labels),
    )
    .unwrap();
    let spec = format!("idx:{}", data.display());
    let out = dir.join("run");
    let o = metapseudo(&[
        "train",
        "--quiet",
        "--data",
        &spec,
        "--method",
        "supervised",
        "--labels-per-class",
        "3",
        "--steps",
        "200",
        // Left/right is the class here, so flips would destroy the labels.
        "--set",
        "augment.flip=false",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = json(&out.join("summary.json"));
    assert_eq!(s["test_size"], 40);
    assert_eq!(s["labels"], 6);
    assert!(s["accuracy"].as_f64().unwrap() > 0.9, "{s}");
    std::fs::write(
        data.join("t10k-images-idx3-ubyte"),
        &idx_bytes(&[40, 4, 4], &px)[..100],
    )
    .unwrap();
    let e = fails(&[
        "train",
        "--data",
        &spec,
        "--out",
        dir.join("run2").to_str().unwrap(),
    ]);
    assert!(
        e.contains("t10k-images-idx3-ubyte") && e.contains("truncated"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn flags_that_could_not_act_are_refused() {
    let dir = temp_dir("cli-refused");
    let out = dir.join("run");
    let out = out.to_str().unwrap();
    let e = fails(&["train", "--stop-at", "0", "--out", out]);
    assert!(e.contains("--stop-at") && e.contains("0"), "{e}");
    let e = fails(&["predict", out, "x.png", "--top-k", "0"]);
    assert!(e.contains("--top-k"), "{e}");
    // Fewer labels than classes would leave classes without any label.
    let e = fails(&["train", "--data", "digits", "--labels", "5", "--out", out]);
    assert!(e.contains("data.labels") && e.contains("10 classes"), "{e}");
    assert!(!dir.join("run").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn messages_say_what_to_fix() {
    let dir = temp_dir("cli-messages");
    let out = dir.join("run");
    let out_s = out.to_str().unwrap();
    let e = fails(&["train", "--set", "train.steps=abc", "--out", out_s]);
    assert!(e.contains("train.steps") && e.contains("abc"), "{e}");
    let missing = dir.join("nothing.csv");
    let e = fails(&[
        "train",
        "--data",
        &format!("csv:{}", missing.display()),
        "--out",
        out_s,
    ]);
    assert!(
        e.contains("data file") && e.contains("does not exist"),
        "{e}"
    );
    assert_eq!(
        e.matches("nothing.csv").count(),
        2,
        "named once, and in the flag: {e}"
    );
    let e = fails(&[
        "train",
        "--data",
        &format!("idx:{}", dir.join("no-idx").display()),
        "--out",
        out_s,
    ]);
    assert!(e.contains("data folder") && e.contains("no-idx"), "{e}");
    // A run without a finetune stage, and one killed before its first checkpoint.
    let o = metapseudo(&["train", "--quiet", "--steps", "30", "--out", out_s]);
    assert!(o.status.success());
    let e = fails(&["predict", out_s, "x.csv", "--model-name", "finetuned"]);
    assert!(
        e.contains("has no finetune stage") && e.contains("metapseudo finetune"),
        "{e}"
    );
    std::fs::remove_file(out.join("checkpoint.safetensors")).unwrap();
    for cmd in [
        vec!["eval", out_s],
        vec!["export", out_s],
        vec!["predict", out_s, "x.csv"],
    ] {
        let e = fails(&cmd);
        assert!(
            e.contains("no checkpoint yet") && e.contains("--resume"),
            "{cmd:?}: {e}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn no_non_finite_weights_are_saved_and_no_non_finite_option_is_accepted() {
    let dir = temp_dir("cli-non-finite");
    let out = dir.join("run");
    let out_s = out.to_str().unwrap();
    // A step this large makes the teacher's weights infinite while the loss it was computed
    // from was finite: nothing of it may be saved as a good checkpoint.
    let e = fails(&[
        "train",
        "--quiet",
        "--method",
        "mpl",
        "--checkpoint-every",
        "1",
        "--set",
        "teacher_optim.lr=1e300",
        "--set",
        "teacher_optim.warmup_steps=0",
        "--out",
        out_s,
    ]);
    assert!(
        e.contains("became non-finite") && e.contains("teacher/"),
        "{e}"
    );
    assert!(!out.join("checkpoint.safetensors").exists());
    for bad in [
        "teacher_optim.lr=inf",
        "uda.threshold=nan",
        "data.moons_noise=-inf",
    ] {
        let e = fails(&["train", "--set", bad, "--out", out_s]);
        let key = bad.split('=').next().unwrap();
        assert!(e.contains(key) && e.contains("finite"), "{bad}: {e}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn values_that_mean_nothing_are_refused() {
    let dir = temp_dir("cli-meaningless");
    let out = dir.join("run");
    let out_s = out.to_str().unwrap();
    for (set, says) in [
        ("uda.weight=-1", "uda.weight"),
        ("metasemi.weight=-0.5", "metasemi.weight"),
        ("uda.threshold=1.5", "uda.threshold"),
        ("metasemi.epsilon=0", "metasemi.epsilon"),
    ] {
        let e = fails(&["train", "--set", set, "--out", out_s]);
        assert!(e.contains(says), "{set}: {e}");
    }
    // 2^63 does not fit the configuration's integers: refused, not read as -1.
    let e = fails(&["train", "--seed", "9223372036854775808", "--out", out_s]);
    assert!(e.contains("--seed"), "{e}");
    assert!(!out.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_thread_count_is_honoured_from_the_flag_and_the_environment() {
    let step = [
        "bench", "step", "--model", "mlp", "--shape", "2", "--steps", "2", "--warmup", "1",
    ];
    let threads = |out: &std::process::Output| -> String {
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.split_whitespace()
            .find_map(|w| w.strip_prefix("threads=").map(String::from))
            .unwrap_or_else(|| panic!("no thread count in {text}"))
    };
    let flag = metapseudo(&[&["--threads", "3"][..], &step[..]].concat());
    assert_eq!(threads(&flag), "3");
    let env = std::process::Command::new(env!("CARGO_BIN_EXE_metapseudo"))
        .args(step)
        .env("RAYON_NUM_THREADS", "1")
        .output()
        .unwrap();
    assert_eq!(threads(&env), "1");
    let zero = metapseudo(&["--threads", "0", "models"]);
    assert!(!zero.status.success());
    assert!(String::from_utf8_lossy(&zero.stderr).contains("--threads must be at least 1"));
}
