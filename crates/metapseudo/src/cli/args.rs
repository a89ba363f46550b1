//! Argument groups several subcommands share: the device, the configuration layers, the data,
//! and the flags that stand for configuration keys.

use anyhow::Result;
use clap::Args;
use metapseudo::config::Config;
use metapseudo::config::layers::{ConfigLayers, parse_set, read_config_file};
use metapseudo::train::trainer::TrainOptions;
use std::path::PathBuf;
use toml::Value;

/// `--device`: where a command computes, in place of `train.device`.
#[derive(Args)]
pub struct DeviceArg {
    /// Compute device: cpu, cuda, cuda:N or wgpu (GPU devices need builds with the cargo
    /// features `cuda` / `wgpu`); default: train.device, an existing run's saved one (for an
    /// exported model, the cpu). A run continued with --resume continues there.
    #[arg(long, value_name = "DEVICE")]
    pub device: Option<String>,
}

impl DeviceArg {
    /// The device named, if any.
    pub fn name(&self) -> Option<&str> {
        self.device.as_deref()
    }
}

/// How a training command runs: where it stops, where it computes, how much it prints.
#[derive(Args)]
pub struct RunControl {
    /// Save a checkpoint and exit after this many steps (of the run, or of the stage).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub stop_at: Option<u64>,
    #[command(flatten)]
    pub device: DeviceArg,
    /// No progress bar and no final table.
    #[arg(long)]
    pub quiet: bool,
}

impl RunControl {
    /// The training loop's options these give.
    pub fn options(&self) -> TrainOptions {
        TrainOptions {
            stop_at: self.stop_at,
            quiet: self.quiet,
            init: None,
            on_eval: None,
            device: self.device.device.clone(),
        }
    }
}

/// The configuration layers below the flags: preset, file and `--set` overrides.
#[derive(Args)]
pub struct LayerArgs {
    /// Preset (default: chosen from the data): moons, digits, tabular, none, ...
    #[arg(long)]
    pub preset: Option<String>,
    /// TOML configuration file.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Override one option, e.g. --set mpl.sign=old-minus-new (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
}

impl LayerArgs {
    /// The layers, topped by `flags`.
    pub fn with_flags(&self, flags: Vec<(String, Value)>) -> Result<ConfigLayers> {
        Ok(ConfigLayers {
            preset: self.preset.clone(),
            file: self.config.as_deref().map(read_config_file).transpose()?,
            sets: self
                .sets
                .iter()
                .map(|s| parse_set(s))
                .collect::<Result<_>>()?,
            flags,
        })
    }
}

/// Declares a group of flags that each stand for one configuration key, once: the flag's
/// type, help and key. `values` take a value; `switches` set their key to `true`.
macro_rules! config_flags {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            values { $( $(#[$fmeta:meta])* $field:ident: $ty:ty => $key:literal, )* }
            switches { $( $(#[$smeta:meta])* $switch:ident => $skey:literal, )* }
        }
    ) => {
        $(#[$meta])*
        #[derive(clap::Args)]
        pub struct $name {
            $( $(#[$fmeta])* #[arg(long)] pub $field: Option<$ty>, )*
            $( $(#[$smeta])* #[arg(long)] pub $switch: bool, )*
        }

        impl $name {
            /// The configuration keys the given flags set, with their values.
            pub fn flags(&self) -> Vec<(String, toml::Value)> {
                let mut out = Vec::new();
                $(
                    if let Some(v) = &self.$field {
                        out.push((
                            $key.to_string(),
                            $crate::cli::args::ToTomlValue::to_toml_value(v),
                        ));
                    }
                )*
                $(
                    if self.$switch {
                        out.push(($skey.to_string(), toml::Value::Boolean(true)));
                    }
                )*
                out
            }
        }
    };
}

pub(crate) use config_flags;

/// Values a configuration flag can carry, as TOML (paths and numbers as the configuration
/// spells them).
pub trait ToTomlValue {
    /// The value as TOML.
    fn to_toml_value(&self) -> Value;
}

impl ToTomlValue for String {
    fn to_toml_value(&self) -> Value {
        Value::String(self.clone())
    }
}

impl ToTomlValue for PathBuf {
    fn to_toml_value(&self) -> Value {
        Value::String(self.display().to_string())
    }
}

impl ToTomlValue for u64 {
    fn to_toml_value(&self) -> Value {
        // TOML integers are signed: a larger value stays too large (and is refused as such)
        // instead of wrapping to a negative number.
        i64::try_from(*self).map_or(Value::Float(*self as f64), Value::Integer)
    }
}

impl ToTomlValue for usize {
    fn to_toml_value(&self) -> Value {
        Value::Integer(*self as i64)
    }
}

impl ToTomlValue for f64 {
    fn to_toml_value(&self) -> Value {
        Value::Float(*self)
    }
}

/// Which data, with the options that shape it.
#[derive(Args)]
pub struct DataArgs {
    /// Data specification, e.g. idx:DIR, cifar10:DIR, svhn:DIR, folder:DIR, digits.
    #[arg(long)]
    pub data: String,
    #[command(flatten)]
    pub layers: LayerArgs,
    /// Skip undecodable images in a folder with a warning.
    #[arg(long)]
    pub skip_bad_images: bool,
}

impl DataArgs {
    /// The configuration these arguments give.
    pub fn config(&self) -> Result<Config> {
        let mut flags = vec![("data.spec".to_string(), Value::String(self.data.clone()))];
        if self.skip_bad_images {
            flags.push(("data.skip_bad_images".into(), Value::Boolean(true)));
        }
        self.layers.with_flags(flags)?.resolve()
    }
}

impl ToTomlValue for metapseudo::config::MethodName {
    fn to_toml_value(&self) -> Value {
        Value::String(self.to_string())
    }
}
