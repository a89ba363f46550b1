//! Building the effective configuration from layers: defaults < preset < file < `--set` < flags.

use super::{Config, presets};
use anyhow::{Context, Result, bail};
use metapseudo_data::DataSpec;
use std::path::Path;
use toml::{Table, Value};

/// Everything the user said about the configuration, before it is resolved.
#[derive(Clone, Debug, Default)]
pub struct ConfigLayers {
    /// `--preset NAME`, if given.
    pub preset: Option<String>,
    /// `--config FILE`, parsed.
    pub file: Option<Table>,
    /// `--set key=value` pairs, in order.
    pub sets: Vec<(String, Value)>,
    /// The CLI shortcut flags, as `key=value` pairs applied last.
    pub flags: Vec<(String, Value)>,
}

/// Reads a TOML configuration file, checking every key it sets and each value's type, so that
/// an error names the file as well as the key.
pub fn read_config_file(path: &Path) -> Result<Table> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    let file = text
        .parse::<Table>()
        .with_context(|| format!("{} is not valid TOML", path.display()))?;
    let mut table = Table::try_from(Config::default()).expect("the default config serialises");
    merge(&mut table, &file, "", "config file")
        .and_then(|()| config_from_table(table))
        .with_context(|| format!("config file {}", path.display()))?;
    Ok(file)
}

/// The configuration saved as TOML `text`; errors name the key (the caller names the file).
pub fn config_from_toml(text: &str) -> Result<Config> {
    config_from_table(text.parse::<Table>()?)
}

/// Parses one `key=value` override; the value is read as TOML (a number, boolean, array,
/// inline table or quoted string) and otherwise taken as a bare string.
pub fn parse_set(arg: &str) -> Result<(String, Value)> {
    let Some((key, raw)) = arg.split_once('=') else {
        bail!("--set expects key=value, got '{arg}'");
    };
    let key = key.trim().to_string();
    let raw = raw.trim();
    let value = format!("v = {raw}")
        .parse::<Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| Value::String(raw.to_string()));
    Ok((key, value))
}

/// Sets `dotted.key` in `table`, refusing keys the configuration does not have.
fn set_key(table: &mut Table, key: &str, value: Value, source: &str) -> Result<()> {
    let parts: Vec<&str> = key.split('.').collect();
    let mut cur = table;
    for (i, part) in parts.iter().enumerate() {
        let valid: Vec<String> = cur.keys().cloned().collect();
        let Some(entry) = cur.get_mut(*part) else {
            let prefix = parts[..i].join(".");
            let at = if prefix.is_empty() {
                "the configuration".to_string()
            } else {
                format!("[{prefix}]")
            };
            bail!(
                "unknown option '{key}' ({source}); valid keys in {at}: {}",
                valid.join(", ")
            );
        };
        if i + 1 == parts.len() {
            if entry.is_table() && !value.is_table() {
                bail!("option '{key}' ({source}) is a section; set one of its keys instead");
            }
            *entry = coerce(entry, value);
            return Ok(());
        }
        cur = entry
            .as_table_mut()
            .with_context(|| format!("option '{key}' ({source}): '{part}' is not a section"))?;
    }
    Ok(())
}

/// `config` with the keys of `flags` set over it (unknown keys and invalid values refused).
pub fn override_config(config: &Config, flags: &[(String, Value)], source: &str) -> Result<Config> {
    let mut table = Table::try_from(config).context("the config serialises")?;
    for (k, v) in flags {
        set_key(&mut table, k, v.clone(), source)?;
    }
    let config = config_from_table(table)?;
    config.validate()?;
    Ok(config)
}

/// The configuration a merged table describes; a value of the wrong type or outside an
/// option's choices is an error that names the key.
fn config_from_table(table: Table) -> Result<Config> {
    serde_path_to_error::deserialize(Value::Table(table)).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().message().to_string();
        if path == "." || message.contains(&path) {
            anyhow::anyhow!("invalid configuration: {message}")
        } else {
            anyhow::anyhow!("invalid configuration: {path}: {message}")
        }
    })
}

/// Lets `--set lr=1` fill a float option and `--set name=3` a string option.
fn coerce(existing: &Value, value: Value) -> Value {
    match (existing, value) {
        (Value::Float(_), Value::Integer(i)) => Value::Float(i as f64),
        (Value::String(_), Value::Integer(i)) => Value::String(i.to_string()),
        (Value::String(_), Value::Float(f)) => Value::String(f.to_string()),
        (Value::String(_), Value::Boolean(b)) => Value::String(b.to_string()),
        (_, v) => v,
    }
}

/// Merges `overlay` into `base`, key by key, refusing unknown keys.
fn merge(base: &mut Table, overlay: &Table, prefix: &str, source: &str) -> Result<()> {
    for (k, v) in overlay {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match (base.get_mut(k), v) {
            (Some(Value::Table(b)), Value::Table(o)) => merge(b, o, &key, source)?,
            _ => set_key(base, k, v.clone(), source).map_err(|e| {
                anyhow::anyhow!(
                    e.to_string()
                        .replace(&format!("'{k}'"), &format!("'{key}'"))
                )
            })?,
        }
    }
    Ok(())
}

/// The value of `dotted.key` in `t`, if there is one.
fn value_at<'a>(t: &'a Table, key: &str) -> Option<&'a Value> {
    let mut cur = t;
    let parts: Vec<&str> = key.split('.').collect();
    for p in &parts[..parts.len() - 1] {
        cur = cur.get(*p)?.as_table()?;
    }
    cur.get(*parts.last()?)
}

fn string_at<'a>(t: &'a Table, key: &str) -> Option<&'a str> {
    value_at(t, key)?.as_str()
}

impl ConfigLayers {
    /// The value a key gets from the user's layers (flags over sets over file), if any.
    fn user_string(&self, key: &str) -> Option<String> {
        let from_pairs = |pairs: &[(String, Value)]| {
            pairs
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .and_then(|(_, v)| v.as_str().map(String::from))
        };
        from_pairs(&self.flags)
            .or_else(|| from_pairs(&self.sets))
            .or_else(|| {
                self.file
                    .as_ref()
                    .and_then(|f| string_at(f, key).map(String::from))
            })
    }

    /// The configuration of `preset` (None: chosen from the data) topped by `--set` style
    /// overrides (`key=value`).
    pub fn resolve_with(preset: Option<&str>, sets: &[&str]) -> Result<Config> {
        Self {
            preset: preset.map(str::to_string),
            sets: sets.iter().map(|s| parse_set(s)).collect::<Result<_>>()?,
            ..Default::default()
        }
        .resolve()
    }

    /// Resolves the layers into a validated configuration.
    pub fn resolve(&self) -> Result<Config> {
        Ok(self.resolve_noted()?.0)
    }

    /// Whether the user's layers (file, `--set`, flags) set `key`.
    fn user_sets(&self, key: &str) -> bool {
        self.flags.iter().chain(&self.sets).any(|(k, _)| k == key)
            || self
                .file
                .as_ref()
                .is_some_and(|f| value_at(f, key).is_some())
    }

    /// As [`ConfigLayers::resolve`], with a line for each schedule phase scaled to a shorter
    /// run (see [`scale_phases`]).
    pub fn resolve_noted(&self) -> Result<(Config, Vec<String>)> {
        let data_spec = match self.user_string("data.spec") {
            Some(s) => s
                .parse::<DataSpec>()
                .map_err(|e| anyhow::anyhow!("data.spec: {e}"))?,
            None => Config::default().data.spec,
        };
        let mut notes = Vec::new();
        let preset = match self.preset.clone().or_else(|| self.user_string("preset")) {
            Some(named) => named,
            None => {
                let format = data_spec.format();
                let device = self
                    .user_string("train.device")
                    .unwrap_or_else(|| Config::default().train.device);
                let (chosen, why) = if device == "cpu" {
                    (format.cpu_preset, "on the cpu")
                } else {
                    (format.preset, "on a GPU")
                };
                if format.cpu_preset != format.preset {
                    notes.push(format!(
                        "preset '{chosen}', chosen for {}: data {why} (the GPU recipe is '{}'); name another with --preset",
                        format.kind, format.preset
                    ));
                }
                chosen.to_string()
            }
        };
        let mut table = Table::try_from(Config::default()).expect("the default config serialises");
        let method = self
            .user_string("method")
            .unwrap_or_else(|| Config::default().method.to_string());
        let preset_table = presets::preset_table(&preset, &method)?;
        merge(&mut table, &preset_table, "", &format!("preset '{preset}'"))?;
        let before_user = table.clone();
        if let Some(file) = &self.file {
            merge(&mut table, file, "", "config file")?;
        }
        for (k, v) in &self.sets {
            set_key(&mut table, k, v.clone(), "--set")?;
        }
        for (k, v) in &self.flags {
            set_key(&mut table, k, v.clone(), "command-line flag")?;
        }
        notes.extend(scale_phases(
            &before_user,
            &mut table,
            |k| self.user_sets(k),
            &preset,
        ));
        table.insert("preset".into(), Value::String(preset));
        let config = config_from_table(table)?;
        config.validate()?;
        Ok((config, notes))
    }
}

/// Schedule phases counted in steps: the student's wait, the warm-ups, the consistency ramps.
const PHASES: &[&str] = &[
    "student_optim.wait_steps",
    "student_optim.warmup_steps",
    "teacher_optim.warmup_steps",
    "uda.ramp_steps",
    "metasemi.ramp_steps",
];

/// Step milestones of the step schedules.
const MILESTONES: &[&str] = &["student_optim.decay_at", "teacher_optim.decay_at"];

/// A run asked to be shorter than its preset's (`train.steps` set by the user below the
/// value the defaults and preset give) keeps its shape: every schedule phase and milestone
/// that the user did not set is scaled by the same factor, so that a student that waits 300
/// of 4000 steps waits 22 of 300 rather than all of them. Returns one line per scaled key.
fn scale_phases(
    base: &Table,
    table: &mut Table,
    user_sets: impl Fn(&str) -> bool,
    preset: &str,
) -> Vec<String> {
    let steps = |t: &Table| value_at(t, "train.steps").and_then(Value::as_integer);
    let (Some(planned), Some(asked)) = (steps(base), steps(table)) else {
        return Vec::new();
    };
    if asked >= planned || planned <= 0 || !user_sets("train.steps") {
        return Vec::new();
    }
    let scale = |v: i64| ((v as f64) * asked as f64 / planned as f64).round() as i64;
    let mut notes = Vec::new();
    for key in PHASES.iter().chain(MILESTONES).filter(|k| !user_sets(k)) {
        let Some(old) = value_at(table, key).cloned() else {
            continue;
        };
        let new = match &old {
            Value::Integer(v) if *v > 0 => Value::Integer(scale(*v)),
            Value::Array(a) if !a.is_empty() => Value::Array(
                a.iter()
                    .map(|v| {
                        v.as_integer()
                            .map_or(v.clone(), |v| Value::Integer(scale(v)))
                    })
                    .collect(),
            ),
            _ => continue,
        };
        notes.push(format!("{key} {old} -> {new}"));
        set_key(table, key, new, "phase scaling").expect("the key exists");
    }
    if !notes.is_empty() {
        notes.insert(
            0,
            format!(
                "train.steps = {asked} is shorter than the {planned} steps of preset '{preset}': its schedule phases are scaled to match (set any of them to keep it):"
            ),
        );
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_data_on_the_cpu_gets_the_cpu_preset_and_says_so() {
        let on = |device: Option<&str>| {
            let mut sets = vec![parse_set("data.spec=\"folder:photos\"").unwrap()];
            if let Some(d) = device {
                sets.push(("train.device".into(), Value::String(d.into())));
            }
            ConfigLayers {
                sets,
                ..Default::default()
            }
            .resolve_noted()
            .unwrap()
        };
        let (c, notes) = on(None);
        assert_eq!(c.preset.as_str(), "fashion-cpu");
        assert!(
            notes[0].contains("'fashion-cpu'") && notes[0].contains("on the cpu"),
            "{notes:?}"
        );
        let (c, _) = on(Some("cuda"));
        assert_eq!(c.preset.as_str(), "cifar10-4k-mpl");
        // Tables keep their preset, with nothing to say.
        let (c, notes) = ConfigLayers::default().resolve_noted().unwrap();
        assert_eq!((c.preset.as_str(), notes.len()), ("moons", 0));
    }

    #[test]
    fn a_shorter_run_scales_the_phases_the_user_did_not_set() {
        let layers = |sets: &[&str]| ConfigLayers {
            preset: Some("fashion-cpu".into()),
            sets: sets.iter().map(|s| parse_set(s).unwrap()).collect(),
            ..Default::default()
        };
        let (c, notes) = layers(&["train.steps=400"]).resolve_noted().unwrap();
        // fashion-cpu: 4000 steps, the student waits 300, UDA ramps over 1000.
        assert_eq!(c.student_optim.wait_steps, 30);
        assert_eq!(c.uda.ramp_steps, 100);
        assert!(
            notes[0].contains("shorter than the 4000 steps"),
            "{notes:?}"
        );
        assert!(
            notes
                .iter()
                .any(|n| n.contains("student_optim.wait_steps 300 -> 30"))
        );
        // A phase the user set is kept; a longer run keeps every phase.
        let (c, _) = layers(&["train.steps=400", "student_optim.wait_steps=100"])
            .resolve_noted()
            .unwrap();
        assert_eq!((c.student_optim.wait_steps, c.uda.ramp_steps), (100, 100));
        let (c, notes) = layers(&["train.steps=8000"]).resolve_noted().unwrap();
        assert_eq!((c.student_optim.wait_steps, notes.len()), (300, 0));
    }

    #[test]
    fn layers_apply_in_order_and_record_the_preset() {
        let layers = ConfigLayers {
            file: Some("seed = 5\n[train]\nsteps = 10\n".parse().unwrap()),
            sets: vec![
                parse_set("train.steps=20").unwrap(),
                parse_set("student_optim.lr=1").unwrap(),
            ],
            flags: vec![("seed".into(), Value::Integer(9))],
            ..Default::default()
        };
        let c = layers.resolve().unwrap();
        assert_eq!(c.preset, "moons");
        assert_eq!(c.train.steps, 20);
        assert_eq!(c.seed, 9);
        assert_eq!(c.student_optim.lr, 1.0);
        assert_eq!(c.model.hidden, vec![32, 32]);
        let digits = ConfigLayers {
            flags: vec![("data.spec".into(), Value::String("digits".into()))],
            ..Default::default()
        }
        .resolve()
        .unwrap();
        assert_eq!(digits.preset, "digits");
    }

    #[test]
    fn unknown_options_and_bad_values_are_named() {
        let bad = |sets: &[&str]| {
            ConfigLayers {
                sets: sets.iter().map(|s| parse_set(s).unwrap()).collect(),
                ..Default::default()
            }
            .resolve()
            .unwrap_err()
            .to_string()
        };
        let e = bad(&["train.stepz=3"]);
        assert!(e.contains("train.stepz") && e.contains("steps"), "{e}");
        let e = bad(&["method=fixmatch"]);
        assert!(
            e.contains("fixmatch") && e.contains("supervised, pseudo-label"),
            "{e}"
        );
        let e = bad(&["train.steps=abc"]);
        assert!(e.contains("invalid configuration"), "{e}");
        let e = bad(&["mpl.sign=up"]);
        assert!(e.contains("mpl.sign") && e.contains("old-minus-new"), "{e}");
        let e = bad(&["metasemi.target_lr=-1"]);
        assert!(e.contains("metasemi.target_lr"), "{e}");
        let e = bad(&[r#"metasemi.consistency="kl""#]);
        assert!(
            e.contains("metasemi.consistency") && e.contains("mse"),
            "{e}"
        );
        let e = bad(&["smpl.threshold=1.5"]);
        assert!(e.contains("smpl.threshold") && e.contains("[0, 1]"), "{e}");
        let e = bad(&["smpl.step1_label_smoothing=1"]);
        assert!(e.contains("smpl.step1_label_smoothing"), "{e}");
        let e = bad(&[r#"smpl.mpl_view="teacher""#]);
        assert!(e.contains("smpl.mpl_view") && e.contains("weak"), "{e}");
        let e = bad(&[r#"augment.randaugment_ops=["Rotate", "Mirror"]"#]);
        assert!(
            e.contains("augment.randaugment_ops") && e.contains("'Mirror'"),
            "{e}"
        );
        let e = bad(&["student_optim.schedule=step"]);
        assert!(e.contains("student_optim.decay_at"), "{e}");
        let e = bad(&[
            "teacher_optim.schedule=step",
            "teacher_optim.decay_at=[30, 20]",
        ]);
        assert!(
            e.contains("teacher_optim.decay_at") && e.contains("increasing"),
            "{e}"
        );
        let e = ConfigLayers {
            file: Some("[model]\ndepth = 3\n".parse().unwrap()),
            ..Default::default()
        }
        .resolve()
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("model.depth") && e.contains("config file"),
            "{e}"
        );
        assert!(parse_set("novalue").is_err());
    }

    #[test]
    fn a_config_file_of_the_wrong_type_is_named_with_its_key() {
        let path = std::env::temp_dir().join(format!("mp-bad-config-{}.toml", std::process::id()));
        std::fs::write(&path, "[uda]\nweight = \"fast\"\n").unwrap();
        let e = format!("{:#}", read_config_file(&path).unwrap_err());
        assert!(
            e.contains(&path.display().to_string()) && e.contains("uda.weight: invalid type"),
            "{e}"
        );
        std::fs::write(&path, "[uda]\nweight = 2.5\n").unwrap();
        assert!(read_config_file(&path).is_ok());
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn saved_config_round_trips() {
        let c = ConfigLayers::default().resolve().unwrap();
        let text = c.to_toml();
        let back = ConfigLayers {
            file: Some(text.parse().unwrap()),
            ..Default::default()
        }
        .resolve()
        .unwrap();
        assert_eq!(back, c);
    }
}
