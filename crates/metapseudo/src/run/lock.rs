//! One writer per run folder: a lock file, `DIR/.lock`, created exclusively and holding the
//! writer's process id. It is removed when the writer is done (whatever the way out of the
//! function that holds it); a lock left by a process that no longer runs is recognised and
//! taken over.

use anyhow::{Context, Result, bail};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The lock file of a run folder.
pub const LOCK_FILE: &str = ".lock";

/// An exclusive hold on a run folder, released when dropped.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
}

impl RunLock {
    /// Takes the lock of folder `dir` (which must exist) for `what` (`training`, `the report`,
    /// ...); another live process's lock is an error naming its process id.
    pub fn acquire(dir: &Path, what: &str) -> Result<Self> {
        let path = dir.join(LOCK_FILE);
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut file) => {
                    write!(file, "{}", std::process::id())
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    return Ok(Self { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&path)
                        .ok()
                        .and_then(|t| t.trim().parse::<u32>().ok());
                    match holder {
                        Some(pid) if process_alive(pid) => bail!(
                            "{} is in use by process {pid} (its lock is {}): wait for it to finish, or stop it, before {what} here",
                            dir.display(),
                            path.display()
                        ),
                        // A lock of a process that has ended (or an unreadable one): stale.
                        _ => {
                            let _ = std::fs::remove_file(&path);
                        }
                    }
                }
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot create {}", path.display()));
                }
            }
        }
        bail!("cannot take the lock {}", path.display())
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let ours = std::fs::read_to_string(&self.path)
            .is_ok_and(|t| t.trim() == std::process::id().to_string());
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Whether a process with id `pid` is running.
fn process_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        // Signal 0 checks existence only; EPERM means it exists under another user.
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return false;
        };
        // SAFETY: kill with signal 0 sends nothing.
        let r = unsafe { libc::kill(pid, 0) };
        r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_refuses_a_second_holder_and_a_stale_one_is_taken_over() {
        let dir = std::env::temp_dir().join(format!("metapseudo-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let first = RunLock::acquire(&dir, "training").unwrap();
        // Our own process is alive: a second hold is refused, naming it.
        let e = RunLock::acquire(&dir, "training").unwrap_err().to_string();
        assert!(e.contains(&std::process::id().to_string()), "{e}");
        drop(first);
        assert!(!dir.join(LOCK_FILE).exists());
        // A lock whose process has ended is stale.
        std::fs::write(dir.join(LOCK_FILE), "999999999").unwrap();
        let again = RunLock::acquire(&dir, "training").unwrap();
        drop(again);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
