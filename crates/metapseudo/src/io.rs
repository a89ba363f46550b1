//! Files that must never be half-written, and tensor files in the safetensors format.

use crate::params::HostTensor;
use anyhow::{Context, Result, bail};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically: a temporary file in the same folder is written and
/// fsynced, then renamed over `path`, and the folder is fsynced. A crash leaves either the old
/// file or the new one, never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .with_context(|| format!("{} is not a file path", path.display()))?;
    let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    let written = (|| -> Result<()> {
        let mut f = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        f.write_all(bytes)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        f.sync_all()
            .with_context(|| format!("cannot sync {}", tmp.display()))?;
        std::fs::rename(&tmp, path)
            .with_context(|| format!("cannot move {} to {}", tmp.display(), path.display()))
    })();
    if written.is_err() {
        // A full disk must not leave temporary files behind.
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The metadata key of a tensor file's content checksum (CRC-32, hex).
pub const CONTENT_CRC: &str = "content_crc32";

/// Named f32 tensors with string metadata.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TensorFile {
    /// Tensors by name.
    pub tensors: BTreeMap<String, HostTensor>,
    /// Free-form metadata (the safetensors `__metadata__` map).
    pub metadata: BTreeMap<String, String>,
}

impl TensorFile {
    /// The names of the tensors holding NaN or infinite values, in order.
    pub fn non_finite(&self) -> Vec<&str> {
        self.tensors
            .iter()
            .filter(|(_, t)| t.values.iter().any(|v| !v.is_finite()))
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// An error naming `path` and its first non-finite tensors, if it has any: such a
    /// checkpoint is not a model to evaluate, predict with or continue from.
    pub fn check_finite(&self, path: &Path) -> Result<()> {
        let bad = self.non_finite();
        if bad.is_empty() {
            return Ok(());
        }
        bail!(
            "{} holds non-finite (NaN or infinite) values in {} tensor(s): {}{}; it cannot be used",
            path.display(),
            bad.len(),
            bad.iter().take(5).copied().collect::<Vec<_>>().join(", "),
            if bad.len() > 5 { ", ..." } else { "" }
        );
    }

    /// Adds every tensor of `map` under `prefix/`.
    pub fn insert_all(&mut self, prefix: &str, map: BTreeMap<String, HostTensor>) {
        for (k, v) in map {
            self.tensors.insert(format!("{prefix}/{k}"), v);
        }
    }

    /// The models stored in the file (the prefixes of its tensor names, optimiser momentum
    /// left out), sorted.
    pub fn model_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .tensors
            .keys()
            .filter_map(|k| k.split_once('/').map(|(p, _)| p.to_string()))
            .filter(|p| !p.ends_with("_momentum"))
            .collect();
        names.dedup();
        names
    }

    /// The tensors under `prefix/`, with the prefix removed.
    pub fn take_prefix(&self, prefix: &str) -> BTreeMap<String, HostTensor> {
        let p = format!("{prefix}/");
        self.tensors
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(&p).map(|k| (k.to_string(), v.clone())))
            .collect()
    }

    /// The CRC-32 of the whole content: every metadata entry but [`CONTENT_CRC`] itself, and
    /// every tensor's name, shape and values.
    fn content_crc(&self) -> String {
        let mut crc = crc32fast::Hasher::new();
        for (k, v) in self.metadata.iter().filter(|(k, _)| *k != CONTENT_CRC) {
            crc.update(format!("{k}={v}\n").as_bytes());
        }
        for (name, t) in &self.tensors {
            crc.update(format!("{name}{:?}", t.shape).as_bytes());
            for v in &t.values {
                crc.update(&v.to_le_bytes());
            }
        }
        format!("{:08x}", crc.finalize())
    }

    /// Serialises to safetensors bytes, with the content's checksum in the metadata.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = self
            .tensors
            .iter()
            .map(|(k, t)| {
                let raw = t.values.iter().flat_map(|v| v.to_le_bytes()).collect();
                (k.clone(), t.shape.clone(), raw)
            })
            .collect();
        let views = bytes
            .iter()
            .map(|(k, shape, raw)| {
                TensorView::new(Dtype::F32, shape.clone(), raw).map(|v| (k.as_str(), v))
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let mut meta: HashMap<String, String> = self.metadata.clone().into_iter().collect();
        meta.insert(CONTENT_CRC.into(), self.content_crc());
        Ok(safetensors::serialize(views, Some(meta))?)
    }

    /// Parses safetensors bytes; `path` names the file in errors. A file that carries a
    /// content checksum ([`CONTENT_CRC`]) must match it: an edited checkpoint is refused.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self> {
        let st = SafeTensors::deserialize(bytes)
            .with_context(|| format!("{} is not a valid safetensors file", path.display()))?;
        let (_, meta) = SafeTensors::read_metadata(bytes)?;
        let mut out = TensorFile {
            metadata: meta
                .metadata()
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect(),
            ..Default::default()
        };
        for (name, view) in st.tensors() {
            if view.dtype() != Dtype::F32 {
                bail!(
                    "{}: tensor '{name}' is {:?}, expected F32",
                    path.display(),
                    view.dtype()
                );
            }
            let values = view
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            out.tensors.insert(
                name,
                HostTensor {
                    shape: view.shape().to_vec(),
                    values,
                },
            );
        }
        if let Some(stored) = out.metadata.remove(CONTENT_CRC)
            && stored != out.content_crc()
        {
            bail!(
                "{} was changed after it was written (its checksum does not match its content): restore it, or start the run again",
                path.display()
            );
        }
        Ok(out)
    }

    /// Writes the file atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_atomic(path, &self.to_bytes()?)
    }

    /// Reads a file written by [`TensorFile::save`].
    pub fn load(path: &Path) -> Result<Self> {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        Self::from_bytes(&bytes, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_with_non_finite_values_is_refused_by_name() {
        let mut f = TensorFile::default();
        let t = |v: f32| HostTensor {
            shape: vec![2],
            values: vec![1.0, v],
        };
        f.tensors.insert("ema/w".into(), t(2.0));
        assert!(f.check_finite(Path::new("c.safetensors")).is_ok());
        f.tensors.insert("teacher/w".into(), t(f32::NAN));
        assert_eq!(f.non_finite(), ["teacher/w"]);
        let e = f
            .check_finite(Path::new("c.safetensors"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("c.safetensors") && e.contains("teacher/w"),
            "{e}"
        );
    }

    #[test]
    fn tensor_file_round_trip_and_atomic_replace() {
        let dir = std::env::temp_dir().join(format!("mp-io-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.safetensors");
        let mut f = TensorFile::default();
        f.tensors.insert(
            "a/w".into(),
            HostTensor {
                shape: vec![2, 2],
                values: vec![1.0, -2.5, f32::MIN_POSITIVE, 4.0],
            },
        );
        f.metadata.insert("state".into(), "{\"step\":3}".into());
        f.save(&path).unwrap();
        assert_eq!(TensorFile::load(&path).unwrap(), f);
        assert_eq!(f.take_prefix("a")["w"].values[1], -2.5);
        f.metadata.insert("state".into(), "{\"step\":4}".into());
        f.save(&path).unwrap();
        assert_eq!(
            TensorFile::load(&path).unwrap().metadata["state"],
            "{\"step\":4}"
        );
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "no temporary file is left: {names:?}");
        std::fs::write(&path, b"garbage").unwrap();
        let e = TensorFile::load(&path).unwrap_err().to_string();
        assert!(e.contains("t.safetensors"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
