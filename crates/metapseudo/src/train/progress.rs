//! Progress of a long run: a bar with steps/s, ETA and the latest loss on a terminal, plain
//! periodic lines otherwise (logs, CI, `nohup`).

use indicatif::{ProgressBar, ProgressState, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// How progress is shown.
pub enum Progress {
    /// A live bar on a terminal.
    Bar(ProgressBar),
    /// A line on stderr about every `every` steps.
    Lines {
        /// Total steps.
        total: u64,
        /// Steps between lines.
        every: u64,
        /// Step and time at the start of this invocation.
        start: (u64, Instant),
        /// The latest message (losses).
        message: String,
    },
    /// Nothing (`--quiet`).
    Hidden,
}

/// Steps after which plain progress prints its first line (rate and ETA).
const EARLY_LINE_STEPS: u64 = 10;

/// `1h02m`, `3m05s`, `42s`.
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        s if s >= 3600 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        s if s >= 60 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

impl Progress {
    /// A bar when stderr is a terminal, lines (about 20 per run) when it is not.
    pub fn new(total: u64, start: u64, quiet: bool) -> Self {
        if quiet {
            return Self::Hidden;
        }
        if !std::io::stderr().is_terminal() {
            return Self::Lines {
                total,
                every: total.div_ceil(20).max(1),
                start: (start, Instant::now()),
                message: String::new(),
            };
        }
        let pb = ProgressBar::new(total);
        // The losses take what is left of the line and are cut at its end, so the bar never
        // wraps; the rate counts only this invocation's steps (not those a resume skipped).
        pb.set_style(
            ProgressStyle::with_template(
                "{bar:20.cyan/blue} {pos}/{len} {rate} ETA {eta} {wide_msg}",
            )
            .expect("valid template")
            .with_key(
                "rate",
                |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{}", format_rate(state.per_sec()));
                },
            )
            .progress_chars("=> "),
        );
        pb.set_position(start);
        pb.reset_eta();
        Self::Bar(pb)
    }

    /// Sets the latest losses.
    pub fn set_message(&mut self, text: String) {
        match self {
            Self::Bar(pb) => pb.set_message(text),
            Self::Lines { message, .. } => *message = text,
            Self::Hidden => {}
        }
    }

    /// Records that `step` steps are done.
    pub fn set_position(&mut self, step: u64) {
        match self {
            Self::Bar(pb) => pb.set_position(step),
            Self::Lines {
                total,
                every,
                start,
                message,
            } => {
                // An early line gives the rate and the run's expected duration within seconds,
                // before the first 5 %.
                let early = step == start.0 + EARLY_LINE_STEPS;
                if early || step.is_multiple_of(*every) || step == *total {
                    eprintln!("{}", progress_line(step, *total, *start, message));
                }
            }
            Self::Hidden => {}
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Self::Bar(pb) = self {
            pb.finish_and_clear();
        }
    }
}

/// `96.4 steps/s`, `2.31 steps/s`, `0.047 steps/s`: three significant digits at most.
pub fn format_rate(per_sec: f64) -> String {
    match per_sec {
        r if r >= 10.0 => format!("{r:.1} steps/s"),
        r if r >= 1.0 => format!("{r:.2} steps/s"),
        r => format!("{r:.3} steps/s"),
    }
}

/// The loss terms a progress line shows: a method's overall terms where it logs them (the
/// total, the student's and the teacher's, SMPL's two steps), else its supervised term.
pub fn headline_losses(values: &[(&str, f64)]) -> String {
    const HEADLINES: &[&str] = &[
        "loss/total",
        "loss/student",
        "loss/teacher",
        "loss/step1",
        "loss/step2",
        "loss/sup",
    ];
    HEADLINES
        .iter()
        .filter_map(|name| values.iter().find(|(k, _)| k == name))
        .take(3)
        .map(|(k, v)| format!("{k} {v:.4}"))
        .collect::<Vec<_>>()
        .join("  ")
}

/// `step 300/1500 (20%)  2.31 steps/s  ETA 8m40s  loss/sup 0.4312`.
fn progress_line(step: u64, total: u64, start: (u64, Instant), message: &str) -> String {
    let done = step.saturating_sub(start.0);
    let secs = start.1.elapsed().as_secs_f64();
    let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
    let eta = if rate > 0.0 {
        format_duration(Duration::from_secs_f64(
            (total - step.min(total)) as f64 / rate,
        ))
    } else {
        "?".into()
    };
    format!(
        "step {step}/{total} ({:.0}%)  {}  ETA {eta}  {message}",
        100.0 * step as f64 / total.max(1) as f64,
        format_rate(rate)
    )
    .trim_end()
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_durations() {
        assert_eq!(format_duration(Duration::from_secs(42)), "42s");
        assert_eq!(format_duration(Duration::from_secs(185)), "3m05s");
        assert_eq!(format_duration(Duration::from_secs(3720)), "1h02m");
        let start = (0, Instant::now() - Duration::from_secs(10));
        let line = progress_line(20, 100, start, "loss/sup 0.5000");
        assert!(line.starts_with("step 20/100 (20%)  2.0"), "{line}");
        assert!(
            line.contains("ETA 4") && line.ends_with("loss/sup 0.5000"),
            "{line}"
        );
        assert_eq!(format_rate(96.4321), "96.4 steps/s");
        assert_eq!(format_rate(0.04712), "0.047 steps/s");
        // MPL: the student's and the teacher's overall losses, not three teacher terms.
        let mpl = [
            ("loss/teacher_sup", 1.0),
            ("loss/teacher_uda", 2.0),
            ("loss/teacher_mpl", 3.0),
            ("loss/teacher", 4.0),
            ("loss/student", 5.0),
        ];
        assert_eq!(
            headline_losses(&mpl),
            "loss/student 5.0000  loss/teacher 4.0000"
        );
    }
}
