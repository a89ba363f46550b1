//! Ctrl-C (SIGINT) and SIGTERM: a request that the loop stop after the step it is on, save a
//! checkpoint and return, so an interrupted run loses nothing. A second signal ends the
//! process at once.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Asks the training loop to stop after its current step.
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Whether a stop has been asked for.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Makes SIGINT and SIGTERM ask for a stop (the command line does this once at start).
pub fn install_handlers() {
    #[cfg(unix)]
    {
        extern "C" fn on_signal(_: libc::c_int) {
            if REQUESTED.swap(true, Ordering::SeqCst) {
                // The second signal: the user wants out now.
                // SAFETY: _exit is async-signal-safe.
                unsafe { libc::_exit(130) };
            }
        }
        let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // SAFETY: installing a handler that only touches an atomic and calls _exit.
        unsafe {
            libc::signal(libc::SIGINT, handler);
            libc::signal(libc::SIGTERM, handler);
        }
    }
}

/// When a checkpoint is due by the clock: `minutes` after the last one (never when 0).
#[derive(Clone, Debug)]
pub struct CheckpointClock {
    every: Option<std::time::Duration>,
    last: std::time::Instant,
}

impl CheckpointClock {
    /// A clock that rings every `minutes` minutes from now.
    pub fn new(minutes: f64) -> Self {
        Self {
            every: (minutes > 0.0).then(|| std::time::Duration::from_secs_f64(minutes * 60.0)),
            last: std::time::Instant::now(),
        }
    }

    /// Whether a checkpoint is due at `now`.
    pub fn due(&self, now: std::time::Instant) -> bool {
        self.every
            .is_some_and(|every| now.duration_since(self.last) >= every)
    }

    /// A checkpoint was written at `now`.
    pub fn written(&mut self, now: std::time::Instant) {
        self.last = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn the_clock_rings_after_its_minutes_and_never_when_off() {
        let start = Instant::now();
        let mut clock = CheckpointClock::new(0.5);
        assert!(!clock.due(start));
        assert!(clock.due(start + Duration::from_secs(31)));
        clock.written(start + Duration::from_secs(31));
        assert!(!clock.due(start + Duration::from_secs(40)));
        assert!(clock.due(start + Duration::from_secs(62)));
        assert!(!CheckpointClock::new(0.0).due(start + Duration::from_secs(100_000)));
    }
}
