//! TensorBoard event files: every logged scalar, written in TensorBoard's own record format
//! (`tensorboard-rs` frames the records, `tensorboard-proto` encodes the events), and read back.

use anyhow::{Context, Result, bail};
use protobuf::Message;
use std::fs::File;
use std::io::{BufWriter, Read};
use std::path::{Path, PathBuf};
use tensorboard_proto::event::Event;
use tensorboard_rs::masked_crc32c::masked_crc32c;
use tensorboard_rs::record_writer::RecordWriter;
use tensorboard_rs::summary::scalar;

/// Appends scalar events to one new `events.out.tfevents.*` file.
pub struct EventLog {
    path: PathBuf,
    writer: RecordWriter<BufWriter<File>>,
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl EventLog {
    /// Creates a new event file in `dir` (one per training invocation, as TensorBoard's own
    /// writers do; a resumed run adds a file and TensorBoard shows the steps in order).
    pub fn create(dir: &Path) -> Result<Self> {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
        let stamp = now();
        let mut k = 0;
        let path = loop {
            let p = dir.join(format!(
                "events.out.tfevents.{:010}.{host}.{}.{k}",
                stamp as u64,
                std::process::id()
            ));
            if !p.exists() {
                break p;
            }
            k += 1;
        };
        let file =
            File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        let mut log = Self {
            path,
            writer: RecordWriter::new(BufWriter::new(file)),
        };
        let mut version = Event::new();
        version.set_wall_time(stamp);
        version.set_file_version("brain.Event:2".into());
        log.write_event(&version)?;
        Ok(log)
    }

    fn write_event(&mut self, event: &Event) -> Result<()> {
        let bytes = event
            .write_to_bytes()
            .context("encoding a TensorBoard event")?;
        self.writer
            .write(&bytes)
            .with_context(|| format!("cannot write {}", self.path.display()))
    }

    /// Writes one scalar event per field at `step`, then flushes.
    pub fn write(&mut self, step: u64, fields: &[(&str, f64)]) -> Result<()> {
        let wall = now();
        for (tag, v) in fields {
            let mut event = Event::new();
            event.set_wall_time(wall);
            event.set_step(step as i64);
            event.set_summary(scalar(tag, *v as f32));
            self.write_event(&event)?;
        }
        self.writer
            .flush()
            .with_context(|| format!("cannot write {}", self.path.display()))
    }
}

/// One scalar read back from an event file.
#[derive(Clone, Debug, PartialEq)]
pub struct ScalarEvent {
    /// The tag (the metrics name).
    pub tag: String,
    /// The step.
    pub step: i64,
    /// The value.
    pub value: f32,
}

/// Reads every scalar of an event file, checking each record's length and data checksums.
pub fn read_event_file(path: &Path) -> Result<Vec<ScalarEvent>> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut out = Vec::new();
    let mut at = 0usize;
    let u32_at = |b: &[u8], i: usize| u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"));
    while at < bytes.len() {
        let bad = |what: &str| format!("{}: {what} at byte {at}", path.display());
        if bytes.len() < at + 12 {
            bail!(bad("truncated record header"));
        }
        let len_bytes = &bytes[at..at + 8];
        let len = u64::from_le_bytes(len_bytes.try_into().expect("8 bytes")) as usize;
        if masked_crc32c(len_bytes) != u32_at(&bytes, at + 8) {
            bail!(bad("bad length checksum"));
        }
        let start = at + 12;
        if bytes.len() < start + len + 4 {
            bail!(bad("truncated record"));
        }
        let data = &bytes[start..start + len];
        if masked_crc32c(data) != u32_at(&bytes, start + len) {
            bail!(bad("bad data checksum"));
        }
        let event = Event::parse_from_bytes(data).with_context(|| bad("undecodable event"))?;
        if event.has_summary() {
            for v in event.get_summary().get_value() {
                out.push(ScalarEvent {
                    tag: v.get_tag().to_string(),
                    step: event.get_step(),
                    value: v.get_simple_value(),
                });
            }
        }
        at = start + len + 4;
    }
    Ok(out)
}

/// The event files in `dir`, oldest name first.
pub fn event_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("events.out.tfevents."))
        })
        .collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_round_trip_and_corruption_is_caught() {
        let dir = std::env::temp_dir().join(format!("mp-tb-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut log = EventLog::create(&dir).unwrap();
        log.write(10, &[("loss/sup", 1.5), ("mpl/h", -0.25)])
            .unwrap();
        log.write(20, &[("loss/sup", 0.75)]).unwrap();
        drop(log);
        let files = event_files(&dir).unwrap();
        assert_eq!(files.len(), 1);
        let events = read_event_file(&files[0]).unwrap();
        let expect = |tag: &str, step, value| ScalarEvent {
            tag: tag.into(),
            step,
            value,
        };
        assert_eq!(
            events,
            vec![
                expect("loss/sup", 10, 1.5),
                expect("mpl/h", 10, -0.25),
                expect("loss/sup", 20, 0.75)
            ]
        );
        let mut bytes = std::fs::read(&files[0]).unwrap();
        let n = bytes.len();
        bytes[n - 6] ^= 1;
        std::fs::write(&files[0], &bytes).unwrap();
        assert!(
            read_event_file(&files[0])
                .unwrap_err()
                .to_string()
                .contains("checksum")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
