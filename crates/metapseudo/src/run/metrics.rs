//! `metrics.jsonl`: one JSON object per logged step, every scalar the step produced.

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Appends JSON lines to `metrics.jsonl`, flushing each so a killed run loses nothing logged.
pub struct MetricsLog {
    path: PathBuf,
    file: File,
}

impl MetricsLog {
    /// Opens the log for appending; on resume it is first cut back to `keep_bytes`, dropping
    /// lines a killed run wrote after its last checkpoint.
    pub fn open(path: &Path, keep_bytes: Option<u64>) -> Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        if let Some(len) = keep_bytes {
            let current = file.metadata()?.len();
            if current < len {
                bail!(
                    "{} is shorter than its checkpoint expects ({current} < {len} bytes): it was changed after the checkpoint",
                    path.display()
                );
            }
            file.set_len(len)?;
        }
        Ok(Self {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Writes one line: `{"step": .., "epoch": .., <fields>}`.
    pub fn write(&mut self, step: u64, epoch: f64, fields: &[(&str, f64)]) -> Result<()> {
        let mut obj = Map::new();
        obj.insert("step".into(), Value::from(step));
        obj.insert("epoch".into(), Value::from((epoch * 1e4).round() / 1e4));
        for (k, v) in fields {
            let value = serde_json::Number::from_f64(*v)
                .map(Value::Number)
                .unwrap_or_else(|| Value::String(v.to_string()));
            obj.insert((*k).to_string(), value);
        }
        let mut line = serde_json::to_string(&Value::Object(obj))?;
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        self.file.flush()?;
        Ok(())
    }

    /// Current length in bytes (saved with checkpoints).
    pub fn bytes_written(&self) -> Result<u64> {
        self.file.sync_data()?;
        Ok(self.file.metadata()?.len())
    }
}

/// One line of `metrics.jsonl` read back: the step and every numeric field (NaN and infinite
/// values, written as strings, come back as such).
#[derive(Clone, Debug, PartialEq)]
pub struct MetricsLine {
    /// The step.
    pub step: u64,
    /// Every other field by name (`epoch` included).
    pub values: std::collections::BTreeMap<String, f64>,
}

/// Reads `metrics.jsonl`, naming the file and line of a malformed record.
pub fn read_metrics(path: &Path) -> Result<Vec<MetricsLine>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut lines = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let bad = || format!("{} line {}: not a metrics record", path.display(), i + 1);
        let obj: Map<String, Value> = serde_json::from_str(line).with_context(bad)?;
        let step = obj.get("step").and_then(Value::as_u64).with_context(bad)?;
        let values = obj
            .iter()
            .filter(|(k, _)| k.as_str() != "step")
            .filter_map(|(k, v)| {
                let x = match v {
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) => s.parse::<f64>().ok(),
                    _ => None,
                };
                x.map(|x| (k.clone(), x))
            })
            .collect();
        lines.push(MetricsLine { step, values });
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_and_resume_truncates() {
        let dir = std::env::temp_dir().join(format!("mp-metrics-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("metrics.jsonl");
        let mut log = MetricsLog::open(&path, None).unwrap();
        log.write(10, 0.5, &[("loss/sup", 1.5), ("mpl/h", f64::NAN)])
            .unwrap();
        let keep = log.bytes_written().unwrap();
        log.write(20, 1.0, &[("loss/sup", 1.0)]).unwrap();
        drop(log);
        MetricsLog::open(&path, Some(keep)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 1);
        let v: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        let back = read_metrics(&path).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].step, 10);
        assert_eq!(back[0].values["loss/sup"], 1.5);
        assert!(back[0].values["mpl/h"].is_nan());
        assert_eq!(v["step"], 10);
        assert_eq!(v["loss/sup"], 1.5);
        assert_eq!(v["mpl/h"], "NaN");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
