//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// A fresh, empty temporary folder, its own on every call (tests running at the same time may
/// pass the same name).
pub fn temp_dir(name: &str) -> PathBuf {
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let k = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir =
        std::env::temp_dir().join(format!("metapseudo-test-{name}-{}-{k}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The configuration of `preset` (None: chosen from the data) topped by `sets` (`key=value`).
pub fn config_with(preset: Option<&str>, sets: &[String]) -> metapseudo::config::Config {
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    metapseudo::config::layers::ConfigLayers::resolve_with(preset, &sets).unwrap()
}

/// Trains `config` to the end in the new run folder `run`, quietly, in this process.
pub fn train_to_end(
    config: &metapseudo::config::Config,
    run: &metapseudo::run::RunDir,
) -> metapseudo::run::Summary {
    use metapseudo::train::trainer::{Outcome, TrainOptions, train};
    let opts = TrainOptions {
        quiet: true,
        ..Default::default()
    };
    let summary = match train(Some(config), run, &opts).unwrap() {
        Outcome::Finished(summary) => *summary,
        Outcome::Stopped { .. } => panic!("the run did not finish"),
    };
    // As `metapseudo train` does: the report is written after training.
    if config.output.report {
        metapseudo::report::write_report(run, None).unwrap();
    }
    summary
}

/// Runs the `metapseudo` binary.
pub fn metapseudo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_metapseudo"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// The values of scalar `key`, in order, from the text of a `metrics.jsonl` (lines without
/// it are skipped).
pub fn logged(metrics: &str, key: &str) -> Vec<f64> {
    metrics
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()?[key].as_f64())
        .collect()
}

/// Reads a JSON file.
pub fn json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Writes an image folder: classes `red`, `green`, `blue` (8x8 PNGs whose named channel is
/// bright), `train_per_class` and `test_per_class` images each, and `unlabeled` images
/// without a class. Pixel noise is seeded, so the folder is the same on every call.
pub fn write_color_folder(
    dir: &std::path::Path,
    train_per_class: usize,
    test_per_class: usize,
    unlabeled: usize,
) {
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n) as u8
    };
    let mut write = |path: PathBuf, class: usize| {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let img = image::RgbImage::from_fn(8, 8, |_, _| {
            let mut px = [next(100), next(100), next(100)];
            px[class] = 150 + next(100);
            image::Rgb(px)
        });
        img.save(path).unwrap();
    };
    for (class, name) in ["red", "green", "blue"].iter().enumerate() {
        for k in 0..train_per_class {
            write(dir.join(format!("train/{name}/{k:03}.png")), class);
        }
        for k in 0..test_per_class {
            write(dir.join(format!("test/{name}/{k:03}.png")), class);
        }
    }
    for k in 0..unlabeled {
        write(dir.join(format!("unlabeled/{k:03}.png")), k % 3);
    }
}
