//! The compute device a run uses, by name: `cpu` (Burn's `flex` backend, always built), `cuda`
//! or `cuda:N` (the `cuda` cargo feature) and `wgpu` (the `wgpu` cargo feature: Vulkan, Metal
//! or DirectX, whichever the machine offers).

pub mod kernel_cache;

use anyhow::{Result, anyhow, bail};
use burn::tensor::{Device, Tensor};
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

/// A device named in a configuration or on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceName {
    /// The multi-threaded CPU backend (`flex`).
    Cpu,
    /// A CUDA GPU by index.
    Cuda(usize),
    /// The default `wgpu` adapter.
    Wgpu,
}

impl FromStr for DeviceName {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "cpu" => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda(0)),
            "wgpu" => Ok(Self::Wgpu),
            _ => match s.strip_prefix("cuda:").map(str::parse::<usize>) {
                Some(Ok(index)) => Ok(Self::Cuda(index)),
                _ => Err(anyhow!(
                    "unknown device '{s}'; valid devices: cpu, cuda, cuda:N (N a GPU index), wgpu"
                )),
            },
        }
    }
}

impl fmt::Display for DeviceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cpu => write!(f, "cpu"),
            Self::Cuda(i) => write!(f, "cuda:{i}"),
            Self::Wgpu => write!(f, "wgpu"),
        }
    }
}

impl DeviceName {
    /// One device of each backend, for listings.
    pub const EACH_BACKEND: [DeviceName; 3] = [Self::Cpu, Self::Cuda(0), Self::Wgpu];

    /// The backend's name: `cpu`, `cuda` or `wgpu`.
    pub fn backend(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Cuda(_) => "cuda",
            Self::Wgpu => "wgpu",
        }
    }

    /// The cargo feature that builds this device's backend, named as the backend (`None` for
    /// the CPU, always built).
    pub fn feature(self) -> Option<&'static str> {
        (self != Self::Cpu).then(|| self.backend())
    }

    /// Whether this build holds the device's backend.
    pub fn is_built(self) -> bool {
        match self {
            Self::Cpu => true,
            Self::Cuda(_) => cfg!(feature = "cuda"),
            Self::Wgpu => cfg!(feature = "wgpu"),
        }
    }

    /// The cargo feature this build would need for the device (`None` when it has it).
    pub fn missing_feature(self) -> Option<&'static str> {
        self.feature().filter(|_| !self.is_built())
    }
}

/// The backends this build holds, by name, for messages.
pub fn built() -> Vec<&'static str> {
    DeviceName::EACH_BACKEND
        .into_iter()
        .filter(|d| d.is_built())
        .map(DeviceName::backend)
        .collect()
}

/// Checks that `name` is a device this build can use, without touching the hardware.
pub fn check(name: &str) -> Result<DeviceName> {
    let device: DeviceName = name.parse()?;
    if let Some(feature) = device.missing_feature() {
        bail!(
            "device '{name}' needs the `{feature}` cargo feature: build with `cargo build --release --features {feature}`, or choose one this build has with --device: {}",
            built().join(", ")
        );
    }
    Ok(device)
}

/// The Burn device (without autodiff) named `name`. A GPU is tried with one small operation
/// first, so that a machine without one gets an error naming the device rather than a panic
/// deep inside training.
pub fn open(name: &str) -> Result<Device> {
    let device = match check(name)? {
        DeviceName::Cpu => return Ok(Device::flex()),
        DeviceName::Cuda(index) => cuda(index),
        DeviceName::Wgpu => wgpu(),
    };
    probe(&device).map_err(|why| {
        anyhow!("device '{name}' cannot be used: {why}; choose another with --device (cpu is always there)")
    })?;
    Ok(device)
}

#[cfg(feature = "cuda")]
fn cuda(index: usize) -> Device {
    kernel_cache::enable();
    Device::cuda(index)
}

#[cfg(not(feature = "cuda"))]
fn cuda(_index: usize) -> Device {
    unreachable!("check() refuses cuda without the cuda feature")
}

#[cfg(feature = "wgpu")]
fn wgpu() -> Device {
    Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)
}

#[cfg(not(feature = "wgpu"))]
fn wgpu() -> Device {
    unreachable!("check() refuses wgpu without the wgpu feature")
}

/// The text of a panic's payload.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "the backend panicked".into())
}

/// Runs one addition on `device` and reads it back. A backend that cannot start panics, often
/// in a thread of its own whose failure reaches this one as a closed channel: the messages of
/// every panic meanwhile are collected (and kept off the terminal) to say what went wrong.
fn probe(device: &Device) -> std::result::Result<(), String> {
    let messages = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&messages);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if let Ok(mut m) = seen.lock() {
            m.push(panic_text(info.payload()));
        }
    }));
    let outcome = std::panic::catch_unwind(|| {
        let x = Tensor::<1>::from_floats([1.0, 2.0], device);
        (x.clone() + x).into_data().try_into_vec::<f32>()
    });
    std::panic::set_hook(previous);
    match outcome {
        Ok(Ok(v)) if v == [2.0, 4.0] => Ok(()),
        Ok(Ok(v)) => Err(format!("1 + 1 and 2 + 2 gave {v:?}")),
        Ok(Err(e)) => Err(format!("{e:?}")),
        Err(panic) => {
            let mut all = messages.lock().map(|m| m.clone()).unwrap_or_default();
            let last = panic_text(panic.as_ref());
            if !all.contains(&last) {
                all.push(last);
            }
            Err(all.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_print_back() {
        for (name, device, shown) in [
            ("cpu", DeviceName::Cpu, "cpu"),
            ("cuda", DeviceName::Cuda(0), "cuda:0"),
            ("cuda:3", DeviceName::Cuda(3), "cuda:3"),
            ("wgpu", DeviceName::Wgpu, "wgpu"),
        ] {
            let parsed: DeviceName = name.parse().unwrap();
            assert_eq!(parsed, device);
            assert_eq!(parsed.to_string(), shown);
        }
        for bad in ["gpu", "cuda:", "cuda:x", "CPU", ""] {
            let e = bad.parse::<DeviceName>().unwrap_err().to_string();
            assert!(
                e.contains(&format!("'{bad}'")) && e.contains("cuda:N"),
                "{e}"
            );
        }
    }

    #[test]
    fn the_cpu_opens_and_computes() {
        let device = open("cpu").unwrap();
        let x = Tensor::<1>::from_floats([1.5], &device);
        assert_eq!((x * 2.0).into_data().try_into_vec::<f32>().unwrap(), [3.0]);
    }

    #[test]
    fn a_backend_left_out_of_the_build_is_named_with_its_feature() {
        for (name, device) in [("cuda:1", DeviceName::Cuda(1)), ("wgpu", DeviceName::Wgpu)] {
            if device.is_built() {
                continue;
            }
            let e = open(name).unwrap_err().to_string();
            let feature = device.feature().unwrap();
            assert!(
                e.contains(&format!("--features {feature}")) && e.contains("with --device: cpu"),
                "{e}"
            );
        }
    }
}
