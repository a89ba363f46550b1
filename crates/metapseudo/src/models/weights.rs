//! Pretrained weight files a user names: PyTorch checkpoints (`.pth`, `.pt`: the ZIP archive of
//! PyTorch 1.6 and later, the legacy pickle stream before it), read with `pytorch-reader`, the
//! reader behind Burn's own store; and `.safetensors`. Every floating-point tensor comes back as
//! f32 with its name and shape, beside the file's SHA-256 (a run records it).

use crate::params::HostTensor;
use anyhow::{Context, Result, bail};
use safetensors::tensor::{Dtype, SafeTensors};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A weight file's tensors.
#[derive(Clone, Debug, PartialEq)]
pub struct WeightFile {
    /// The file.
    pub path: PathBuf,
    /// Its container: `safetensors`, `pytorch zip` or `pytorch legacy`.
    pub format: String,
    /// SHA-256 of the file's bytes, lowercase hex.
    pub sha256: String,
    /// Floating-point tensors as f32, by name.
    pub tensors: BTreeMap<String, HostTensor>,
    /// Tensors of other element types (counters such as batch norm's `num_batches_tracked`),
    /// by name with their type: kept out of `tensors`.
    pub other: BTreeMap<String, String>,
}

/// SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl WeightFile {
    /// Reads a weight file; the error names it and says what it is not.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read weights {}", path.display()))?;
        let sha256 = sha256_hex(&bytes);
        if SafeTensors::read_metadata(&bytes).is_ok() {
            return Self::from_safetensors(path, &bytes, sha256);
        }
        Self::from_pytorch(path, sha256)
    }

    fn from_safetensors(path: &Path, bytes: &[u8], sha256: String) -> Result<Self> {
        let st = SafeTensors::deserialize(bytes)
            .with_context(|| format!("{} is not a valid safetensors file", path.display()))?;
        let (mut tensors, mut other) = (BTreeMap::new(), BTreeMap::new());
        for (name, view) in st.tensors() {
            let floats = match view.dtype() {
                Dtype::F32 => Some(Float::F32),
                Dtype::F64 => Some(Float::F64),
                Dtype::F16 => Some(Float::F16),
                Dtype::BF16 => Some(Float::BF16),
                _ => None,
            }
            .map(|kind| kind.decode(view.data()));
            match floats {
                Some(values) => {
                    tensors.insert(
                        name,
                        HostTensor {
                            shape: view.shape().to_vec(),
                            values,
                        },
                    );
                }
                None => {
                    other.insert(name, format!("{:?}", view.dtype()));
                }
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
            format: "safetensors".into(),
            sha256,
            tensors,
            other,
        })
    }

    fn from_pytorch(path: &Path, sha256: String) -> Result<Self> {
        use pytorch_reader::{DType, PytorchReader};
        let reader = PytorchReader::new(path).map_err(|e| {
            anyhow::anyhow!(
                "{} is neither a safetensors file nor a PyTorch checkpoint this program can read ({e})",
                path.display()
            )
        })?;
        let format = if reader.metadata().is_legacy_format() {
            "pytorch legacy"
        } else {
            "pytorch zip"
        };
        let (mut tensors, mut other) = (BTreeMap::new(), BTreeMap::new());
        for (name, t) in reader.tensors() {
            let kind = match t.dtype() {
                DType::F32 => Float::F32,
                DType::F64 => Float::F64,
                DType::F16 => Float::F16,
                DType::BF16 => Float::BF16,
                other_type => {
                    other.insert(name.clone(), format!("{other_type:?}"));
                    continue;
                }
            };
            let raw = t
                .read()
                .with_context(|| format!("{}: tensor '{name}'", path.display()))?;
            let values = kind.decode(&raw);
            if values.len() != t.num_elements() {
                bail!(
                    "{}: tensor '{name}' holds {} values, its shape {:?} needs {}",
                    path.display(),
                    values.len(),
                    t.shape(),
                    t.num_elements()
                );
            }
            tensors.insert(
                name.clone(),
                HostTensor {
                    shape: t.shape().to_vec(),
                    values,
                },
            );
        }
        Ok(Self {
            path: path.to_path_buf(),
            format: format.into(),
            sha256,
            tensors,
            other,
        })
    }

    /// Values in all floating-point tensors.
    pub fn value_count(&self) -> usize {
        self.tensors.values().map(|t| t.values.len()).sum()
    }
}

/// The floating-point element types a weight file may hold.
#[derive(Clone, Copy, Debug)]
enum Float {
    F32,
    F64,
    F16,
    BF16,
}

impl Float {
    /// Little-endian elements of this type as f32.
    fn decode(self, raw: &[u8]) -> Vec<f32> {
        match self {
            Float::F32 => raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            Float::F64 => raw
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
                .collect(),
            Float::F16 => raw
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            Float::BF16 => raw
                .chunks_exact(2)
                .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use safetensors::tensor::TensorView;

    #[test]
    fn safetensors_of_any_float_type_read_as_f32_with_the_files_hash() {
        let dir = std::env::temp_dir().join(format!("mp-weights-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f16: Vec<u8> = [1.5f32, -2.0]
            .iter()
            .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
            .collect();
        let f32s: Vec<u8> = [0.25f32, 4.0, 8.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let count: Vec<u8> = 7i64.to_le_bytes().to_vec();
        let views = vec![
            (
                "a.weight",
                TensorView::new(Dtype::F16, vec![2], &f16).unwrap(),
            ),
            (
                "b.bias",
                TensorView::new(Dtype::F32, vec![3], &f32s).unwrap(),
            ),
            (
                "bn.num_batches_tracked",
                TensorView::new(Dtype::I64, vec![], &count).unwrap(),
            ),
        ];
        let bytes = safetensors::serialize(views, None).unwrap();
        let path = dir.join("w.safetensors");
        std::fs::write(&path, &bytes).unwrap();
        let w = WeightFile::read(&path).unwrap();
        assert_eq!(w.format, "safetensors");
        assert_eq!(w.sha256, sha256_hex(&bytes));
        assert_eq!(w.tensors["a.weight"].values, [1.5, -2.0]);
        assert_eq!(w.tensors["b.bias"].shape, [3]);
        assert_eq!(w.other["bn.num_batches_tracked"], "I64");
        assert_eq!(w.value_count(), 5);
        std::fs::write(&path, b"not weights at all").unwrap();
        let e = format!("{:#}", WeightFile::read(&path).unwrap_err());
        assert!(
            e.contains("w.safetensors") && e.contains("neither a safetensors"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn the_shared_efficientnet_lite0_legacy_checkpoint_reads_when_present() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/models/efficientnet-lite0/efficientnet-lite0-57934424.pth");
        if !path.exists() {
            eprintln!("skipped: {} is absent", path.display());
            return;
        }
        let w = WeightFile::read(&path).unwrap();
        assert_eq!(w.format, "pytorch legacy");
        assert_eq!(
            w.sha256,
            "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
        );
        assert_eq!(w.tensors.len() + w.other.len(), 296);
        assert_eq!(w.tensors["_fc.weight"].shape, [1000, 1280]);
        assert_eq!(w.tensors["_conv_stem.weight"].shape, [32, 3, 3, 3]);
        assert!(
            w.tensors
                .values()
                .all(|t| t.values.iter().all(|v| v.is_finite()))
        );
    }
}
