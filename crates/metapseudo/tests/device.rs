//! The GPU backends against the CPU. Set `METAPSEUDO_TEST_DEVICE` to a device of the build
//! (`cuda`, `cuda:N`, `wgpu`) to run them:
//!
//!     METAPSEUDO_TEST_DEVICE=cuda cargo test --release --features cuda --test device
//!
//! Without it (CI has no GPU) each test says so and passes; the same comparisons of the CPU
//! against itself run in the library's unit tests.

mod common;

use metapseudo::device;
use metapseudo::parity;
use metapseudo::run::RunDir;

/// The device under test, opened, or `None` (with a note) when none is named.
fn device_under_test() -> Option<(String, burn::tensor::Device)> {
    let Ok(name) = std::env::var("METAPSEUDO_TEST_DEVICE") else {
        eprintln!("METAPSEUDO_TEST_DEVICE is not set: no GPU device tested");
        return None;
    };
    let device = device::open(&name).unwrap_or_else(|e| panic!("{e:#}"));
    Some((name, device))
}

#[test]
fn every_network_computes_what_the_cpu_computes() {
    let Some((name, device)) = device_under_test() else {
        return;
    };
    for (model, _) in metapseudo::models::MODELS {
        let p = parity::check_model(model.as_str(), &device, 8).unwrap();
        eprintln!("{name} {p:?}");
        assert!(p.passes(1e-2, 5e-2), "{name}: {p:?}");
        if let Some((cpu, other)) = p.loss {
            assert!((cpu - other).abs() < 1e-3 * cpu.abs().max(1.0), "{p:?}");
        }
    }
}

#[test]
fn mpl_learns_the_moons_on_the_device_as_on_the_cpu_and_predicts_there_alike() {
    let Some((name, device)) = device_under_test() else {
        return;
    };
    let dir = common::temp_dir("device-moons");
    let train = |device: &str, folder: &str| {
        let sets = [
            "train.steps=1500".to_string(),
            format!("train.device=\"{device}\""),
        ];
        let config = common::config_with(None, &sets);
        let run = RunDir {
            dir: dir.join(folder),
        };
        (common::train_to_end(&config, &run).accuracy, config, run)
    };
    let (cpu, _, _) = train("cpu", "cpu");
    let (other, config, run) = train(&name, "device");
    eprintln!("moons MPL accuracy: cpu {cpu}, {name} {other}");
    assert!(other > 0.9, "{name}: {other}");
    assert!((cpu - other).abs() < 0.05, "cpu {cpu}, {name} {other}");
    // The device's model predicts there as on the CPU.
    let data = metapseudo::run::RunData::prepare(&config, Some(run.read_split().unwrap())).unwrap();
    let logits = |on: &burn::tensor::Device| {
        metapseudo::predict::Predictor::from_run(&run.dir, None, on)
            .unwrap()
            .logits(&data.dataset.test)
    };
    let (on_device, on_cpu) = (logits(&device), logits(&burn::tensor::Device::flex()));
    let worst = on_device
        .iter()
        .flatten()
        .zip(on_cpu.iter().flatten())
        .map(|(a, b)| (a - b).abs() / b.abs().max(1.0))
        .fold(0.0f32, f32::max);
    eprintln!("predicted logits: {worst:.2e} from the CPU's at most (relative)");
    assert!(
        worst < 1e-2,
        "{name}: predicted logits {worst} from the CPU's"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
