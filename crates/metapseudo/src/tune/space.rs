//! The search space: TOML that names config keys and the values each may take.
//!
//! ```toml
//! [params."teacher_optim.lr"]
//! type = "float"          # float | int | categorical
//! low = 0.01
//! high = 0.5
//! log = true              # float and int: search the logarithm
//!
//! [params."train.batch_size"]
//! type = "int"
//! low = 16
//! high = 64
//! step = 16
//!
//! [params."mpl.student_target"]
//! type = "categorical"
//! choices = ["hard-weak", "hard-strong"]
//! ```

use crate::config::Config;
use crate::config::layers::override_config;
use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use toml::Value;

/// The values one parameter may take (Optuna's distributions).
#[derive(Clone, Debug, PartialEq)]
pub enum Distribution {
    /// A float in `[low, high]`, searched on a log scale with `log`.
    Float {
        /// Smallest value.
        low: f64,
        /// Largest value.
        high: f64,
        /// Search the logarithm.
        log: bool,
    },
    /// An integer in `[low, high]` on a grid of `step`.
    Int {
        /// Smallest value.
        low: i64,
        /// Largest value.
        high: i64,
        /// Grid step.
        step: i64,
        /// Search the logarithm.
        log: bool,
    },
    /// One of `choices` (strings, numbers or booleans).
    Categorical {
        /// The choices, in order.
        choices: Vec<Value>,
    },
}

/// One parameter's value as the configuration takes it.
pub type ParamValue = Value;

/// Parameters by config key.
pub type Params = BTreeMap<String, ParamValue>;

/// A search space: distributions by config key.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchSpace {
    /// Distributions by config key, in key order.
    pub params: BTreeMap<String, Distribution>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpaceFile {
    params: BTreeMap<String, ParamSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ParamSpec {
    #[serde(rename = "type")]
    kind: String,
    low: Option<Value>,
    high: Option<Value>,
    #[serde(default)]
    log: bool,
    step: Option<i64>,
    choices: Option<Vec<Value>>,
}

impl Distribution {
    /// Optuna's JSON of the distribution (`distribution_to_json`).
    pub fn to_optuna_json(&self) -> String {
        let v = match self {
            Distribution::Float { low, high, log } => serde_json::json!({
                "name": "FloatDistribution",
                "attributes": {"step": null, "low": low, "high": high, "log": log}
            }),
            Distribution::Int {
                low,
                high,
                step,
                log,
            } => serde_json::json!({
                "name": "IntDistribution",
                "attributes": {"log": log, "step": step, "low": low, "high": high}
            }),
            Distribution::Categorical { choices } => {
                let choices: Vec<serde_json::Value> = choices.iter().map(toml_to_json).collect();
                serde_json::json!({"name": "CategoricalDistribution", "attributes": {"choices": choices}})
            }
        };
        v.to_string()
    }

    /// Optuna's internal representation of `value`: the number itself, or a choice's index.
    pub fn to_internal(&self, value: &ParamValue) -> f64 {
        match self {
            Distribution::Float { .. } => value.as_float().unwrap_or(f64::NAN),
            Distribution::Int { .. } => value.as_integer().map_or(f64::NAN, |v| v as f64),
            Distribution::Categorical { choices } => choices
                .iter()
                .position(|c| c == value)
                .map_or(f64::NAN, |i| i as f64),
        }
    }

    /// The value whose internal representation is `x` (see [`Distribution::to_internal`]).
    pub fn from_internal(&self, x: f64) -> Option<ParamValue> {
        match self {
            Distribution::Float { .. } => Some(Value::Float(x)),
            Distribution::Int { .. } => Some(Value::Integer(x.round() as i64)),
            Distribution::Categorical { choices } => {
                choices.get(x.round().max(0.0) as usize).cloned()
            }
        }
    }

    /// Whether the parameter is searched on a log scale.
    pub fn is_log(&self) -> bool {
        matches!(
            self,
            Distribution::Float { log: true, .. } | Distribution::Int { log: true, .. }
        )
    }

    /// The extreme and middle values, each checked against the configuration before a trial.
    fn probes(&self) -> Vec<ParamValue> {
        match self {
            Distribution::Float { low, high, .. } => {
                vec![Value::Float(*low), Value::Float(*high)]
            }
            Distribution::Int { low, high, .. } => {
                vec![Value::Integer(*low), Value::Integer(*high)]
            }
            Distribution::Categorical { choices } => choices.clone(),
        }
    }
}

/// A TOML value as JSON (for Optuna's categorical choices and the journal).
pub fn toml_to_json(v: &Value) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

impl SearchSpace {
    /// Reads and checks a search-space file against `base`: every key must be an option, and
    /// each parameter's extremes (every choice) must give a valid configuration.
    pub fn read(path: &Path, base: &Config) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read search space {}", path.display()))?;
        let space =
            Self::parse(&text).with_context(|| format!("search space {}", path.display()))?;
        space
            .check(base)
            .with_context(|| format!("search space {}", path.display()))?;
        Ok(space)
    }

    /// Parses the TOML text of a search space.
    pub fn parse(text: &str) -> Result<Self> {
        let file: SpaceFile = toml::from_str(text)?;
        if file.params.is_empty() {
            bail!("no [params.\"KEY\"] table: the search space is empty");
        }
        let mut params = BTreeMap::new();
        for (key, p) in file.params {
            params.insert(key.clone(), distribution(&key, p)?);
        }
        Ok(Self { params })
    }

    /// Checks that every key is an option of `base` and every extreme value is valid.
    pub fn check(&self, base: &Config) -> Result<()> {
        for (key, d) in &self.params {
            for v in d.probes() {
                let c = override_config(base, &[(key.clone(), v.clone())], "the search space")
                    .with_context(|| format!("{key} = {v}"))?;
                c.validate().with_context(|| format!("{key} = {v}"))?;
            }
        }
        Ok(())
    }

    /// `base` with `params` set.
    pub fn apply(&self, base: &Config, params: &Params) -> Result<Config> {
        let pairs: Vec<(String, Value)> =
            params.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let c = override_config(base, &pairs, "a trial's parameters")?;
        c.validate()?;
        Ok(c)
    }
}

/// The distribution of parameter `key`.
fn distribution(key: &str, p: ParamSpec) -> Result<Distribution> {
    let num = |v: &Option<Value>, what: &str| -> Result<f64> {
        match v {
            Some(Value::Float(x)) => Ok(*x),
            Some(Value::Integer(i)) => Ok(*i as f64),
            _ => bail!("{key}: '{what}' must be a number"),
        }
    };
    let d = match p.kind.as_str() {
        "float" => {
            let (low, high) = (num(&p.low, "low")?, num(&p.high, "high")?);
            if !(low.is_finite() && high.is_finite() && low < high) {
                bail!("{key}: low must be below high, both finite");
            }
            if p.log && low <= 0.0 {
                bail!("{key}: a log scale needs low > 0");
            }
            Distribution::Float {
                low,
                high,
                log: p.log,
            }
        }
        "int" => {
            let int = |v: &Option<Value>, what: &str| match v {
                Some(Value::Integer(i)) => Ok(*i),
                _ => Err(anyhow::anyhow!("{key}: '{what}' must be an integer")),
            };
            let (low, high) = (int(&p.low, "low")?, int(&p.high, "high")?);
            let step = p.step.unwrap_or(1);
            if low >= high || step < 1 || (high - low) % step != 0 {
                bail!("{key}: needs low < high and a step >= 1 that divides high - low");
            }
            if p.log && (low < 1 || step != 1) {
                bail!("{key}: a log scale needs low >= 1 and step 1");
            }
            Distribution::Int {
                low,
                high,
                step,
                log: p.log,
            }
        }
        "categorical" => {
            let choices = p.choices.unwrap_or_default();
            if choices.is_empty() {
                bail!("{key}: 'choices' must list at least one value");
            }
            Distribution::Categorical { choices }
        }
        other => bail!("{key}: type '{other}' is not float, int or categorical"),
    };
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPACE: &str = r#"
[params."teacher_optim.lr"]
type = "float"
low = 0.01
high = 0.5
log = true
[params."train.batch_size"]
type = "int"
low = 16
high = 64
step = 16
[params."mpl.student_target"]
type = "categorical"
choices = ["hard-weak", "hard-strong"]
"#;

    #[test]
    fn a_space_parses_checks_and_applies() {
        let s = SearchSpace::parse(SPACE).unwrap();
        assert_eq!(s.params.len(), 3);
        let base = Config::default();
        s.check(&base).unwrap();
        let params = Params::from([
            ("teacher_optim.lr".into(), Value::Float(0.1)),
            ("train.batch_size".into(), Value::Integer(32)),
            (
                "mpl.student_target".into(),
                Value::String("hard-strong".into()),
            ),
        ]);
        let c = s.apply(&base, &params).unwrap();
        assert_eq!((c.teacher_optim.lr, c.train.batch_size), (0.1, 32));
        let d = &s.params["mpl.student_target"];
        assert_eq!(d.to_internal(&Value::String("hard-strong".into())), 1.0);
        assert!(d.to_optuna_json().contains("CategoricalDistribution"));
    }

    #[test]
    fn keys_and_values_that_do_not_fit_are_refused_before_any_trial() {
        let base = Config::default();
        let bad_key = "[params.\"teacher_optim.lrr\"]\ntype = \"float\"\nlow = 0.1\nhigh = 1.0\n";
        let e = format!(
            "{:#}",
            SearchSpace::parse(bad_key)
                .unwrap()
                .check(&base)
                .unwrap_err()
        );
        assert!(e.contains("teacher_optim.lrr"), "{e}");
        let bad_value = "[params.\"train.ema_decay\"]\ntype = \"float\"\nlow = 0.5\nhigh = 1.5\n";
        let e = format!(
            "{:#}",
            SearchSpace::parse(bad_value)
                .unwrap()
                .check(&base)
                .unwrap_err()
        );
        assert!(e.contains("train.ema_decay = 1.5"), "{e}");
        let bad_choice =
            "[params.\"mpl.student_target\"]\ntype = \"categorical\"\nchoices = [\"x\"]\n";
        assert!(
            SearchSpace::parse(bad_choice)
                .unwrap()
                .check(&base)
                .is_err()
        );
        assert!(
            SearchSpace::parse("[params.\"a\"]\ntype = \"float\"\nlow = 2\nhigh = 1\n").is_err()
        );
    }
}
