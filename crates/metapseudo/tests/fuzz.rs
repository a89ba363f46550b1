//! Robustness of every run-folder reader and of the configuration: seeded mutants of each file
//! of a real run (config.toml, split.json, summary.json, preprocess.json, metrics.jsonl, the
//! checkpoint, the lock) and of configuration files give a result or an error, never a panic.
//! `METAPSEUDO_FUZZ_MUTANTS=N` sets the mutants per file (a soak sets thousands).

mod common;

use common::{config_with, temp_dir, train_to_end};
use metapseudo::config::layers::{config_from_toml, read_config_file};
use metapseudo::run::{RunData, RunDir, lock::RunLock, metrics::read_metrics};
use metapseudo::train::trainer::load_session;
use metapseudo_data::mutate::{fuzz, mutants_per_format};

/// Mutants per file in the suite's bounded run.
const BOUNDED: usize = 150;

/// Writes mutants of `file` in `run` and calls `read` on the run after each; the file is
/// restored afterwards. Returns how many mutants were refused.
fn fuzz_file(run: &RunDir, file: &str, read: impl Fn(&RunDir) -> bool) -> usize {
    let path = run.dir.join(file);
    let good = std::fs::read(&path).unwrap();
    let n = mutants_per_format(BOUNDED);
    let refused = fuzz(file, std::slice::from_ref(&good), n, &run.dir, |m| {
        std::fs::write(&path, m).unwrap();
        read(run)
    });
    std::fs::write(&path, good).unwrap();
    refused
}

#[test]
fn run_folder_files_never_panic_their_readers() {
    let dir = temp_dir("fuzz-run");
    let run = RunDir {
        dir: dir.join("run"),
    };
    let config = config_with(
        None,
        &[
            "method=mpl".into(),
            "train.steps=20".into(),
            "train.eval_every=10".into(),
            "output.report=false".into(),
        ],
    );
    train_to_end(&config, &run);
    std::fs::write(run.dir.join(".lock"), "12345 training\n").unwrap();
    let mut refused = 0;
    refused += fuzz_file(&run, "config.toml", |r| r.read_config().is_ok());
    refused += fuzz_file(&run, "split.json", |r| {
        r.read_split()
            .and_then(|s| RunData::prepare(&config, Some(s)))
            .is_ok()
    });
    refused += fuzz_file(&run, "summary.json", |r| r.read_summary().is_ok());
    refused += fuzz_file(&run, "preprocess.json", |r| {
        r.read_preprocess(&config).is_ok()
    });
    refused += fuzz_file(&run, "metrics.jsonl", |r| {
        read_metrics(&r.metrics()).is_ok()
    });
    refused += fuzz_file(&run, "checkpoint.safetensors", |r| {
        load_session(r, None).is_ok()
    });
    refused += fuzz_file(&run, ".lock", |r| {
        RunLock::acquire(&r.dir, "fuzzing").is_ok()
    });
    assert!(refused > 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn configuration_files_never_panic() {
    let dir = temp_dir("fuzz-config");
    let path = dir.join("c.toml");
    let good = b"method = \"smpl\"\nseed = 3\n[train]\nsteps = 200\nbatch_size = 16\n[uda]\nweight = 2.5\nthreshold = 0.8\n[model]\nhidden = [32, 32]\n".to_vec();
    std::fs::write(&path, &good).unwrap();
    read_config_file(&path).unwrap();
    let refused = fuzz(
        "config",
        &[good],
        mutants_per_format(BOUNDED * 2),
        &dir,
        |m| {
            std::fs::write(&path, m).unwrap();
            let text = String::from_utf8_lossy(m);
            let file = read_config_file(&path);
            let saved = config_from_toml(&text).and_then(|c| c.validate().map(|()| c));
            file.is_ok() && saved.is_ok()
        },
    );
    assert!(refused > 0);
    std::fs::remove_dir_all(&dir).unwrap();
}
