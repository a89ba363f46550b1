//! Every method trains the small CNN on a small image folder (three colour classes, 8x8): the
//! supervised loss falls and test accuracy ends well above chance (1/3).

mod common;

use metapseudo::run::RunDir;

/// Mean of `key` over the first and the last `n` metric lines that have it.
fn first_and_last_mean(metrics: &str, key: &str, n: usize) -> (f64, f64) {
    let values = common::logged(metrics, key);
    assert!(
        values.len() >= 2 * n,
        "too few '{key}' lines: {}",
        values.len()
    );
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    (mean(&values[..n]), mean(&values[values.len() - n..]))
}

fn learns(method: &str, sup_key: &str) {
    let dir = common::temp_dir(&format!("cnn-{method}"));
    let data = dir.join("colors");
    common::write_color_folder(&data, 12, 10, 30);
    let sets = [
        format!("data.spec=\"folder:{}\"", data.display()),
        format!("method=\"{method}\""),
        "data.labels_per_class=6".into(),
        "model.width=4".into(),
        "train.steps=120".into(),
        "train.batch_size=6".into(),
        "train.mu=2".into(),
        "train.log_every=5".into(),
        "train.eval_every=0".into(),
        "train.report=\"student\"".into(),
        "teacher_optim.warmup_steps=10".into(),
        "student_optim.warmup_steps=10".into(),
        "student_optim.wait_steps=0".into(),
    ];
    let config = common::config_with(Some("fashion-cpu"), &sets);
    assert_eq!(config.model.name.as_str(), "cnn-small");
    let run = RunDir {
        dir: dir.join("run"),
    };
    let summary = common::train_to_end(&config, &run);
    let metrics = std::fs::read_to_string(run.metrics()).unwrap();
    let (first, last) = first_and_last_mean(&metrics, sup_key, 4);
    assert!(last < first, "{method}: {sup_key} {first:.3} -> {last:.3}");
    assert!(
        summary.accuracy > 0.6,
        "{method}: accuracy {}",
        summary.accuracy
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn supervised_cnn_learns() {
    learns("supervised", "loss/sup");
}

#[test]
fn pseudo_label_cnn_learns() {
    learns("pseudo-label", "loss/sup");
}

#[test]
fn uda_cnn_learns() {
    learns("uda", "loss/sup");
}

#[test]
fn mpl_cnn_learns() {
    learns("mpl", "loss/teacher_sup");
}

#[test]
fn smpl_cnn_learns() {
    learns("smpl", "loss/sup");
}

fn stdout_of(args: &[&str]) -> String {
    let o = common::metapseudo(args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn models_lists_the_reference_counts_and_bench_step_reports_time_and_memory() {
    let models = stdout_of(&["models"]);
    let wrn = models
        .lines()
        .find(|l| l.starts_with("wrn-28-2 "))
        .expect("wrn-28-2 is listed");
    assert!(wrn.contains(" 1467610 "), "{wrn}");

    let o = common::metapseudo(&[
        "bench",
        "step",
        "--model",
        "cnn-small",
        "--shape",
        "1x8x8",
        "--batch",
        "2",
        "--mu",
        "1",
        "--method",
        "mpl",
        "--warmup",
        "1",
        "--steps",
        "3",
        "--json",
    ]);
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(o.status.success(), "{err}");
    // Each step's time as it ends, on stderr: one warm-up step, then three timed ones.
    let steps: Vec<&str> = err.lines().filter(|l| l.starts_with("step ")).collect();
    assert_eq!(steps.len(), 4, "{err}");
    assert!(steps[0].starts_with("step 1/4 (warm-up) "), "{err}");
    assert!(steps[3].starts_with("step 4/4 (timed) "), "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let median = v["median_s"].as_f64().unwrap();
    assert!(
        median > 0.0 && median <= v["max_s"].as_f64().unwrap(),
        "{v}"
    );
    assert!(v["images_per_s"].as_f64().unwrap() > 0.0, "{v}");
    if let Some(peak) = v["peak_rss_mib"].as_f64() {
        assert!(peak >= v["rss_start_mib"].as_f64().unwrap(), "{v}");
    }
    let text = stdout_of(&[
        "bench", "step", "--model", "mlp", "--shape", "4", "--batch", "2", "--mu", "1", "--method",
        "smpl", "--warmup", "0", "--steps", "1",
    ]);
    assert!(text.lines().any(|l| l.starts_with("median_s=")), "{text}");
    let e = common::metapseudo(&["bench", "step", "--shape", "3x32"]);
    assert!(String::from_utf8_lossy(&e.stderr).contains("--shape '3x32'"));
}
