//! The study on disk: an Optuna journal file (the JSON lines of Optuna's `JournalFileBackend`),
//! so that `optuna.load_study(storage=JournalStorage(JournalFileBackend(path)))` and
//! `optuna-dashboard` read it as their own. Writers take the same lock as Optuna's default
//! (`JournalFileSymlinkLock`: a symbolic link `PATH.lock`, created atomically, released by
//! renaming it away; a lock older than 30 seconds is broken), so metapseudo and Optuna
//! workers on several machines sharing a folder work on one study without counting a trial
//! twice.

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// Optuna's operation codes.
mod op {
    pub const CREATE_STUDY: u64 = 0;
    pub const SET_STUDY_USER_ATTR: u64 = 2;
    pub const CREATE_TRIAL: u64 = 4;
    pub const SET_TRIAL_PARAM: u64 = 5;
    pub const SET_TRIAL_STATE_VALUES: u64 = 6;
    pub const SET_TRIAL_INTERMEDIATE_VALUE: u64 = 7;
    pub const SET_TRIAL_USER_ATTR: u64 = 8;
    pub const SET_TRIAL_SYSTEM_ATTR: u64 = 9;
}

/// A trial's state, numbered as Optuna's `TrialState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrialState {
    /// Being evaluated.
    Running = 0,
    /// Finished with a value.
    Complete = 1,
    /// Stopped early by the pruner, with its last value.
    Pruned = 2,
    /// Failed (or killed and re-run as a new trial).
    Fail = 3,
    /// Queued.
    Waiting = 4,
}

impl TrialState {
    fn from_code(c: u64) -> Result<Self> {
        Ok(match c {
            0 => Self::Running,
            1 => Self::Complete,
            2 => Self::Pruned,
            3 => Self::Fail,
            4 => Self::Waiting,
            other => bail!("unknown trial state {other}"),
        })
    }

    /// Whether the trial is over.
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Complete | Self::Pruned | Self::Fail)
    }
}

/// One trial of the study, as the journal's operations leave it.
#[derive(Clone, Debug, PartialEq)]
pub struct Trial {
    /// Its id (its number within this one-study journal).
    pub id: usize,
    /// Its state.
    pub state: TrialState,
    /// Parameters: internal value and Optuna distribution JSON, by name.
    pub params: BTreeMap<String, (f64, String)>,
    /// The objective's value (complete or pruned trials).
    pub value: Option<f64>,
    /// Reported values by step.
    pub intermediate: BTreeMap<u64, f64>,
    /// User attributes.
    pub user_attrs: BTreeMap<String, Value>,
    /// System attributes.
    pub system_attrs: BTreeMap<String, Value>,
}

/// The study a journal describes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Study {
    /// Whether `CREATE_STUDY` was written.
    pub created: bool,
    /// Study user attributes.
    pub user_attrs: BTreeMap<String, Value>,
    /// Trials in order of creation.
    pub trials: Vec<Trial>,
}

/// A journal file and this process's worker id.
#[derive(Clone, Debug)]
pub struct Journal {
    path: PathBuf,
    worker: String,
}

/// Seconds after which another writer's lock counts as abandoned (Optuna's grace period).
const GRACE: Duration = Duration::from_secs(30);

impl Journal {
    /// The journal at `path` (created empty when absent).
    pub fn open(path: &Path) -> Result<Self> {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open the study journal {}", path.display()))?;
        Ok(Self {
            path: path.to_path_buf(),
            worker: worker_id(),
        })
    }

    /// This process's worker id (`host/pid`), as written in every operation.
    pub fn worker(&self) -> &str {
        &self.worker
    }

    /// The journal's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the study. A last line without its newline (a writer killed mid-line) is left out,
    /// as Optuna does; any other malformed line is an error naming it.
    pub fn read(&self) -> Result<Study> {
        let text = std::fs::read_to_string(&self.path)
            .with_context(|| format!("cannot read {}", self.path.display()))?;
        let complete = match text.rfind('\n') {
            Some(i) => &text[..=i],
            None => "",
        };
        let mut study = Study::default();
        for (i, line) in complete.lines().enumerate() {
            let log: Map<String, Value> = serde_json::from_str(line).with_context(|| {
                format!(
                    "{} line {}: not a journal operation",
                    self.path.display(),
                    i + 1
                )
            })?;
            apply(&mut study, &log)
                .with_context(|| format!("{} line {}", self.path.display(), i + 1))?;
        }
        Ok(study)
    }

    /// Runs `f` on the study under the journal's lock and appends the operations it returns
    /// (with this worker's id), fsynced, before the lock is released.
    pub fn transact<T>(&self, f: impl FnOnce(&Study) -> Result<(Vec<Value>, T)>) -> Result<T> {
        let _lock = SymlinkLock::acquire(&self.path)?;
        let study = self.read()?;
        let (ops, out) = f(&study)?;
        self.append(&ops)?;
        Ok(out)
    }

    fn append(&self, ops: &[Value]) -> Result<()> {
        if ops.is_empty() {
            return Ok(());
        }
        let mut text = String::new();
        for o in ops {
            let mut o = o.clone();
            if let Some(obj) = o.as_object_mut() {
                // Optuna writes op_code first and worker_id second.
                let mut ordered = Map::new();
                ordered.insert(
                    "op_code".into(),
                    obj.remove("op_code").unwrap_or(Value::Null),
                );
                ordered.insert("worker_id".into(), Value::String(self.worker.clone()));
                ordered.extend(std::mem::take(obj));
                o = Value::Object(ordered);
            }
            text.push_str(&serde_json::to_string(&o)?);
            text.push('\n');
        }
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.path)
            .with_context(|| format!("cannot open {}", self.path.display()))?;
        // A writer killed mid-line left a line without its newline: cut it, under the lock,
        // so that it cannot join the next operation.
        let bytes = std::fs::read(&self.path)?;
        if bytes.last().is_some_and(|&b| b != b'\n') {
            let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            f.set_len(keep as u64)?;
        }
        f.write_all(text.as_bytes())
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        f.sync_all()?;
        Ok(())
    }
}

/// `host/pid` of this process.
fn worker_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    format!("{host}/{}", std::process::id())
}

/// Whether the worker `id` (`host/pid`) is known to be gone: it ran on this host and its
/// process no longer exists. Workers of other hosts are never judged.
pub fn worker_is_gone(id: &str) -> bool {
    let Some((host, pid)) = id.rsplit_once('/') else {
        return false;
    };
    let this = worker_id();
    let this_host = this.rsplit_once('/').map_or("", |(h, _)| h);
    let Ok(pid) = pid.parse::<i32>() else {
        return false;
    };
    host == this_host && pid != std::process::id() as i32 && !process_exists(pid)
}

fn process_exists(pid: i32) -> bool {
    // Signal 0 checks for the process without touching it.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Optuna's default journal lock: the symbolic link `PATH.lock`.
struct SymlinkLock {
    link: PathBuf,
}

impl SymlinkLock {
    fn acquire(path: &Path) -> Result<Self> {
        let link = PathBuf::from(format!("{}.lock", path.display()));
        let started = Instant::now();
        let mut seen_mtime = None;
        let mut seen_since = Instant::now();
        let mut sleep = Duration::from_millis(1);
        loop {
            match std::os::unix::fs::symlink(path, &link) {
                Ok(()) => return Ok(Self { link }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let mtime = std::fs::symlink_metadata(&link)
                        .and_then(|m| m.modified())
                        .ok();
                    if mtime != seen_mtime {
                        seen_mtime = mtime;
                        seen_since = Instant::now();
                    } else if seen_since.elapsed() > GRACE {
                        eprintln!(
                            "warning: breaking the study lock {} held for over {} s",
                            link.display(),
                            GRACE.as_secs()
                        );
                        let _ = release(&link);
                        seen_since = Instant::now();
                    }
                    if started.elapsed() > 10 * GRACE {
                        bail!("cannot take the study lock {}", link.display());
                    }
                    std::thread::sleep(sleep);
                    sleep = (sleep * 2).min(Duration::from_millis(200));
                }
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot create {}", link.display()));
                }
            }
        }
    }
}

/// Releases a lock as Optuna does: rename it away, then remove it.
fn release(link: &Path) -> std::io::Result<()> {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let aside = PathBuf::from(format!(
        "{}{}-{nanos}.rename",
        link.display(),
        std::process::id()
    ));
    std::fs::rename(link, &aside)?;
    std::fs::remove_file(aside)
}

impl Drop for SymlinkLock {
    fn drop(&mut self) {
        let _ = release(&self.link);
    }
}

fn field<'a>(log: &'a Map<String, Value>, key: &str) -> Result<&'a Value> {
    log.get(key).with_context(|| format!("missing '{key}'"))
}

fn trial_mut<'a>(study: &'a mut Study, log: &Map<String, Value>) -> Result<&'a mut Trial> {
    let id = field(log, "trial_id")?
        .as_u64()
        .context("'trial_id' is not a number")? as usize;
    study
        .trials
        .get_mut(id)
        .with_context(|| format!("trial {id} was never created"))
}

/// Applies one operation to the study.
fn apply(study: &mut Study, log: &Map<String, Value>) -> Result<()> {
    let code = field(log, "op_code")?
        .as_u64()
        .context("'op_code' is not a number")?;
    match code {
        op::CREATE_STUDY => study.created = true,
        op::SET_STUDY_USER_ATTR => {
            if let Some(attrs) = field(log, "user_attr")?.as_object() {
                study.user_attrs.extend(attrs.clone());
            }
        }
        op::CREATE_TRIAL => {
            let state = match log.get("state").and_then(Value::as_u64) {
                Some(c) => TrialState::from_code(c)?,
                None => TrialState::Running,
            };
            let id = study.trials.len();
            study.trials.push(Trial {
                id,
                state,
                params: BTreeMap::new(),
                value: None,
                intermediate: BTreeMap::new(),
                user_attrs: BTreeMap::new(),
                system_attrs: BTreeMap::new(),
            });
        }
        op::SET_TRIAL_PARAM => {
            let name = field(log, "param_name")?
                .as_str()
                .context("'param_name' is not text")?
                .to_string();
            let x = field(log, "param_value_internal")?
                .as_f64()
                .context("'param_value_internal' is not a number")?;
            let dist = field(log, "distribution")?
                .as_str()
                .unwrap_or_default()
                .to_string();
            trial_mut(study, log)?.params.insert(name, (x, dist));
        }
        op::SET_TRIAL_STATE_VALUES => {
            let state = TrialState::from_code(
                field(log, "state")?
                    .as_u64()
                    .context("'state' is not a number")?,
            )?;
            let value = log
                .get("values")
                .and_then(Value::as_array)
                .and_then(|v| v.first())
                .and_then(Value::as_f64);
            let t = trial_mut(study, log)?;
            t.state = state;
            if value.is_some() {
                t.value = value;
            }
        }
        op::SET_TRIAL_INTERMEDIATE_VALUE => {
            let step = field(log, "step")?
                .as_u64()
                .context("'step' is not a number")?;
            let v = field(log, "intermediate_value")?
                .as_f64()
                .unwrap_or(f64::NAN);
            trial_mut(study, log)?.intermediate.insert(step, v);
        }
        op::SET_TRIAL_USER_ATTR | op::SET_TRIAL_SYSTEM_ATTR => {
            let key = if code == op::SET_TRIAL_USER_ATTR {
                "user_attr"
            } else {
                "system_attr"
            };
            let attrs = field(log, key)?.as_object().cloned().unwrap_or_default();
            let t = trial_mut(study, log)?;
            let target = if code == op::SET_TRIAL_USER_ATTR {
                &mut t.user_attrs
            } else {
                &mut t.system_attrs
            };
            target.extend(attrs);
        }
        _ => {}
    }
    Ok(())
}

/// Now as Optuna writes times: ISO 8601 with microseconds and `+00:00`.
pub fn now_iso() -> String {
    let d = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let t = crate::utc::UtcTime::from_unix(d.as_secs());
    let (h, m, sec) = t.hms;
    format!(
        "{:04}-{:02}-{:02}T{h:02}:{m:02}:{sec:02}.{:06}+00:00",
        t.year,
        t.month,
        t.day,
        d.subsec_micros()
    )
}

/// The operations this project writes, in Optuna's field names.
pub mod ops {
    use super::*;

    /// `CREATE_STUDY` of a maximising study.
    pub fn create_study(name: &str) -> Value {
        json!({"op_code": op::CREATE_STUDY, "study_name": name, "directions": [2]})
    }

    /// One study user attribute.
    pub fn study_user_attr(key: &str, value: Value) -> Value {
        json!({"op_code": op::SET_STUDY_USER_ATTR, "study_id": 0, "user_attr": {key: value}})
    }

    /// `CREATE_TRIAL` of a running trial.
    pub fn create_trial() -> Value {
        json!({"op_code": op::CREATE_TRIAL, "study_id": 0, "datetime_start": now_iso()})
    }

    /// One parameter of trial `id`.
    pub fn param(id: usize, name: &str, internal: f64, distribution: &str) -> Value {
        json!({"op_code": op::SET_TRIAL_PARAM, "trial_id": id, "param_name": name,
            "param_value_internal": internal, "distribution": distribution})
    }

    /// The value trial `id` reported at `step`.
    pub fn intermediate(id: usize, step: u64, value: f64) -> Value {
        json!({"op_code": op::SET_TRIAL_INTERMEDIATE_VALUE, "trial_id": id, "step": step,
            "intermediate_value": value})
    }

    /// One user attribute of trial `id`.
    pub fn user_attr(id: usize, key: &str, value: Value) -> Value {
        json!({"op_code": op::SET_TRIAL_USER_ATTR, "trial_id": id, "user_attr": {key: value}})
    }

    /// One system attribute of trial `id`.
    pub fn system_attr(id: usize, key: &str, value: Value) -> Value {
        json!({"op_code": op::SET_TRIAL_SYSTEM_ATTR, "trial_id": id, "system_attr": {key: value}})
    }

    /// Trial `id`'s final state, with its value for a complete or pruned trial.
    pub fn finish(id: usize, state: TrialState, value: Option<f64>) -> Value {
        json!({"op_code": op::SET_TRIAL_STATE_VALUES, "trial_id": id, "state": state as u64,
            "values": value.map(|v| vec![v]), "datetime_complete": now_iso()})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_replay_into_trials_and_a_cut_last_line_is_ignored() {
        let dir = std::env::temp_dir().join(format!("mp-journal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("study.log");
        let _ = std::fs::remove_file(&path);
        let j = Journal::open(&path).unwrap();
        j.transact(|s| {
            assert!(!s.created);
            Ok((
                vec![
                    ops::create_study("s"),
                    ops::create_trial(),
                    ops::param(0, "x", 0.5, "{}"),
                    ops::intermediate(0, 10, 0.4),
                    ops::user_attr(0, "test_accuracy", json!(0.7)),
                    ops::finish(0, TrialState::Complete, Some(0.6)),
                    ops::create_trial(),
                ],
                (),
            ))
        })
        .unwrap();
        let mut text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with('{') && text.contains("\"worker_id\":"));
        text.push_str("{\"op_code\":6,\"trial_id\":1,\"st");
        std::fs::write(&path, &text).unwrap();
        let s = j.read().unwrap();
        assert_eq!(s.trials.len(), 2);
        j.transact(|_| Ok((vec![ops::finish(1, TrialState::Fail, None)], ())))
            .unwrap();
        assert_eq!(j.read().unwrap().trials[1].state, TrialState::Fail);
        assert_eq!(s.trials[0].state, TrialState::Complete);
        assert_eq!(s.trials[0].value, Some(0.6));
        assert_eq!(s.trials[0].params["x"].0, 0.5);
        assert_eq!(s.trials[0].intermediate[&10], 0.4);
        assert_eq!(s.trials[1].state, TrialState::Running);
        assert!(!Path::new(&format!("{}.lock", path.display())).exists());
        assert!(now_iso().ends_with("+00:00") && now_iso().len() == 32);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
