//! `metrics.jsonl`: one JSON object per logged step, every scalar the step produced.

use anyhow::{Context, Result};
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
    /// Opens the log for appending. On resume from a checkpoint at `step` that saw
    /// `keep_bytes` of the log, the log is first cut back to those bytes, dropping lines a
    /// killed run wrote after the checkpoint. A log changed since (deleted, shortened or edited
    /// so that the cut would fall inside a line) is recovered instead: its readable lines up to
    /// `step` are kept, and a warning says how many.
    pub fn open(path: &Path, keep: Option<(u64, u64)>) -> Result<Self> {
        let clean = match keep {
            Some((bytes, _)) => cut_is_clean(path, bytes)?,
            None => true,
        };
        if let Some((bytes, step)) = keep
            && !clean
        {
            let kept = recover(path, step)?;
            eprintln!(
                "warning: {} changed after the checkpoint at step {step} ({bytes} bytes expected): kept its {kept} readable line(s) up to that step; the others are lost from the log",
                path.display()
            );
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        if let Some((bytes, _)) = keep
            && clean
            && file.metadata()?.len() > bytes
        {
            file.set_len(bytes)?;
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

/// Whether cutting the log at `bytes` ends it at a line boundary after a readable line (the
/// log is as the checkpoint saw it, perhaps with lines written after it).
fn cut_is_clean(path: &Path, bytes: u64) -> Result<bool> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(bytes == 0),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let Ok(end) = usize::try_from(bytes) else {
        return Ok(false);
    };
    if end == 0 {
        return Ok(true);
    }
    if text.len() < end || text[end - 1] != b'\n' {
        return Ok(false);
    }
    let start = text[..end - 1]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    Ok(serde_json::from_slice::<Map<String, Value>>(&text[start..end - 1]).is_ok())
}

/// Rewrites the log with its readable lines whose step is at most `step`; returns how many.
fn recover(path: &Path, step: u64) -> Result<usize> {
    let text = std::fs::read(path).unwrap_or_default();
    let mut kept = Vec::new();
    let mut count = 0;
    for line in text.split(|&b| b == b'\n') {
        let Ok(obj) = serde_json::from_slice::<Map<String, Value>>(line) else {
            continue;
        };
        if obj
            .get("step")
            .and_then(Value::as_u64)
            .is_some_and(|s| s <= step)
        {
            kept.extend_from_slice(line);
            kept.push(b'\n');
            count += 1;
        }
    }
    crate::io::write_atomic(path, &kept)?;
    Ok(count)
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
        MetricsLog::open(&path, Some((keep, 10))).unwrap();
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

    #[test]
    fn a_log_changed_after_its_checkpoint_is_recovered_up_to_the_step() {
        let dir = std::env::temp_dir().join(format!("mp-metrics-rec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("metrics.jsonl");
        let mut log = MetricsLog::open(&path, None).unwrap();
        for step in [10, 20, 30] {
            log.write(step, 0.0, &[("loss/sup", 1.0)]).unwrap();
        }
        let keep = log.bytes_written().unwrap();
        log.write(40, 0.0, &[("loss/sup", 1.0)]).unwrap();
        drop(log);
        let steps = || -> Vec<u64> {
            read_metrics(&path)
                .unwrap()
                .iter()
                .map(|l| l.step)
                .collect()
        };
        // Edited: a line made longer moves the cut inside a line; a garbled line is dropped.
        let text = std::fs::read_to_string(&path).unwrap();
        let edited = text.replacen("\"step\":10}", "\"step\":10 }", 1).replacen(
            "\"step\":20}",
            "\"st\":20}",
            1,
        );
        assert_ne!(edited, text);
        std::fs::write(&path, edited).unwrap();
        let mut log = MetricsLog::open(&path, Some((keep, 30))).unwrap();
        assert_eq!(steps(), [10, 30]);
        log.write(40, 0.0, &[("loss/sup", 1.0)]).unwrap();
        assert_eq!(steps(), [10, 30, 40]);
        // Deleted: the run goes on with an empty log instead of refusing forever.
        std::fs::remove_file(&path).unwrap();
        let mut log = MetricsLog::open(&path, Some((keep, 30))).unwrap();
        log.write(40, 0.0, &[("loss/sup", 1.0)]).unwrap();
        assert_eq!(steps(), [40]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
