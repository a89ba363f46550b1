//! Image data end to end: folders and SVHN files through `data inspect`, `data preview`,
//! `bench augment` and `train`, the errors they give, and the shared real data sets.

mod common;

use common::{json, metapseudo, temp_dir, write_color_folder};
use metapseudo_data::svhn::fixture::svhn_mat;
use std::path::Path;

fn run_ok(args: &[&str]) -> String {
    let o = metapseudo(args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn run_err(args: &[&str]) -> String {
    let o = metapseudo(args);
    assert!(!o.status.success(), "expected a failure");
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn folder_inspect_preview_bench_and_train() {
    let dir = temp_dir("img-folder");
    let data = dir.join("colors");
    write_color_folder(&data, 20, 10, 15);
    let spec = format!("folder:{}", data.display());

    let report: serde_json::Value =
        serde_json::from_str(&run_ok(&["data", "inspect", "--data", &spec, "--json"])).unwrap();
    assert_eq!(report["kind"], "images");
    assert_eq!(report["shape"], serde_json::json!([3, 8, 8]));
    assert_eq!(
        (report["train"].as_u64(), report["test"].as_u64()),
        (Some(75), Some(30))
    );
    assert_eq!(report["train_unlabeled"], 15);
    assert_eq!(report["classes"][0]["name"], "blue");
    assert_eq!(report["classes"][2]["name"], "red");
    assert_eq!(report["classes"][2]["train"], 20);
    let text = run_ok(&["data", "inspect", "--data", &spec]);
    assert!(text.contains("8x8 pixels, 3 channels (RGB)"), "{text}");

    let png = dir.join("grid.png");
    let out = run_ok(&[
        "data",
        "preview",
        "--data",
        &spec,
        "--policy",
        "strong",
        "--rows",
        "3",
        "--views",
        "4",
        "--out",
        png.to_str().unwrap(),
    ]);
    assert!(out.contains("grid.png"));
    // Cells are scaled to 96 pixels (8 x 12) with 4-pixel gaps: 5 columns, 3 rows.
    let grid = image::open(&png).unwrap();
    assert_eq!(
        (grid.width(), grid.height()),
        (5 * 96 + 6 * 4, 3 * 96 + 4 * 4)
    );

    let bench = run_ok(&[
        "bench",
        "augment",
        "--data",
        &spec,
        "--batch",
        "16",
        "--seconds",
        "0.2",
        "--workers",
        "2",
    ]);
    let rate: f64 = bench
        .lines()
        .find_map(|l| l.strip_prefix("pairs_per_s="))
        .expect("a pairs_per_s= line")
        .parse()
        .unwrap();
    assert!(rate > 0.0);

    let run = dir.join("run");
    run_ok(&[
        "train",
        "--quiet",
        "--data",
        &spec,
        "--preset",
        "fashion-cpu",
        "--set",
        "model.width=4",
        "--method",
        "mpl",
        "--labels-per-class",
        "4",
        "--steps",
        "150",
        "--set",
        "train.batch_size=8",
        "--set",
        "train.mu=2",
        "--set",
        "student_optim.wait_steps=0",
        "--set",
        "train.report=student",
        "--out",
        run.to_str().unwrap(),
    ]);
    let s = json(&run.join("summary.json"));
    assert_eq!(s["test_size"], 30);
    assert!(s["accuracy"].as_f64().unwrap() > 0.8, "{s}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn folder_errors_name_the_file_and_skipping_warns_with_a_count() {
    let dir = temp_dir("img-bad");
    let data = dir.join("colors");
    write_color_folder(&data, 3, 2, 0);
    std::fs::write(data.join("train/red/zz-broken.png"), b"\x89PNG truncated").unwrap();
    let spec = format!("folder:{}", data.display());
    let err = run_err(&["data", "inspect", "--data", &spec]);
    assert!(
        err.contains("zz-broken.png") && err.contains("--skip-bad-images"),
        "{err}"
    );
    let o = metapseudo(&["data", "inspect", "--data", &spec, "--skip-bad-images"]);
    assert!(o.status.success());
    let warn = String::from_utf8_lossy(&o.stderr);
    assert!(
        warn.contains("skipped 1 undecodable image(s)") && warn.contains("zz-broken.png"),
        "{warn}"
    );
    std::fs::create_dir_all(data.join("train/empty")).unwrap();
    let err = run_err(&["data", "inspect", "--data", &spec, "--skip-bad-images"]);
    assert!(
        err.contains("empty: class folder has no JPEG or PNG images"),
        "{err}"
    );
    let err = run_err(&["data", "preview", "--data", "digits"]);
    assert!(err.contains("needs image data"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// SVHN-layout files: class k images have brightness 20 + 20 k; labels 1..10 (10 = digit 0).
fn write_svhn(dir: &Path, per_class: usize, compress: bool) {
    let (h, w) = (4, 4);
    let make = |name: &str| {
        let n = per_class * 10;
        let mut x = vec![0u8; h * w * 3 * n];
        let mut y = Vec::new();
        for i in 0..n {
            let digit = i % 10;
            for v in &mut x[i * h * w * 3..(i + 1) * h * w * 3] {
                *v = (20 + 20 * digit) as u8;
            }
            y.push(if digit == 0 { 10.0 } else { digit as f64 });
        }
        std::fs::write(dir.join(name), svhn_mat(h, w, &x, &y, compress)).unwrap();
    };
    std::fs::create_dir_all(dir).unwrap();
    make("train_32x32.mat");
    make("test_32x32.mat");
}

#[test]
fn svhn_files_train_and_truncation_is_named() {
    let dir = temp_dir("img-svhn");
    let data = dir.join("svhn");
    write_svhn(&data, 6, true);
    let spec = format!("svhn:{}", data.display());
    let report: serde_json::Value =
        serde_json::from_str(&run_ok(&["data", "inspect", "--data", &spec, "--json"])).unwrap();
    assert_eq!(report["train"], 60);
    assert_eq!(report["classes"][0]["name"], "0");
    assert_eq!(report["classes"][0]["train"], 6);
    let run = dir.join("run");
    run_ok(&[
        "train",
        "--quiet",
        "--data",
        &spec,
        "--preset",
        "tabular",
        "--method",
        "supervised",
        "--labels-per-class",
        "3",
        "--steps",
        "300",
        "--set",
        "train.batch_size=16",
        "--set",
        "augment.flip=false",
        "--set",
        "train.report=student",
        "--set",
        "teacher_optim.lr=0.1",
        "--set",
        "student_optim.lr=0.1",
        "--out",
        run.to_str().unwrap(),
    ]);
    let s = json(&run.join("summary.json"));
    assert!(s["accuracy"].as_f64().unwrap() > 0.9, "{s}");
    let test = data.join("test_32x32.mat");
    let bytes = std::fs::read(&test).unwrap();
    std::fs::write(&test, &bytes[..bytes.len() / 2]).unwrap();
    let err = run_err(&["data", "inspect", "--data", &spec]);
    assert!(
        err.contains("test_32x32.mat") && err.contains("truncated"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn shared_cifar10_folder_matches_the_published_statistics() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/cifar10");
    if !root.join("train").is_dir() {
        eprintln!("skipped: {} is absent", root.display());
        return;
    }
    let spec = format!("folder:{}", root.display());
    let r: serde_json::Value =
        serde_json::from_str(&run_ok(&["data", "inspect", "--data", &spec, "--json"])).unwrap();
    assert_eq!(
        (r["train"].as_u64(), r["test"].as_u64()),
        (Some(50_000), Some(10_000))
    );
    assert_eq!(r["classes"][0]["name"], "airplane");
    for c in r["classes"].as_array().unwrap() {
        assert_eq!(
            (c["train"].as_u64(), c["test"].as_u64()),
            (Some(5000), Some(1000))
        );
    }
    // CIFAR-10's channel statistics (0.4914, 0.4822, 0.4465 / 0.2470, 0.2435, 0.2616); these
    // JPEGs (quality 75) and the decoder move them by up to 0.002.
    for (k, (m, s)) in [(0.4914, 0.2470), (0.4822, 0.2435), (0.4465, 0.2616)]
        .iter()
        .enumerate()
    {
        let (gm, gs) = (
            r["mean"][k].as_f64().unwrap(),
            r["std"][k].as_f64().unwrap(),
        );
        assert!(
            (gm - m).abs() < 0.002 && (gs - s).abs() < 0.003,
            "channel {k}: {gm} {gs}"
        );
    }
}
