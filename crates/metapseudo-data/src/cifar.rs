//! The original CIFAR-10 and CIFAR-100 binary batches.
//!
//! CIFAR-10: `data_batch_1.bin` ... `data_batch_5.bin` and `test_batch.bin`, records of one
//! label byte and 3072 pixel bytes (1024 red, 1024 green, 1024 blue, row-major 32x32).
//! CIFAR-100: `train.bin` and `test.bin`, records of a coarse and a fine label byte, then the
//! pixels. Either may sit in `DIR` or in the archive's folder inside it
//! (`cifar-10-batches-bin/`, `cifar-100-binary/`).

use crate::error::{DataError, Result, read_file};
use crate::image::ImageSet;
use std::path::{Path, PathBuf};

const SIDE: usize = 32;
const PIXELS: usize = SIDE * SIDE * 3;

/// The CIFAR-10 class names, in label order.
pub const CIFAR10_CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// Which label of CIFAR-100 to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cifar100Label {
    /// The 100 fine classes (default).
    Fine,
    /// The 20 superclasses.
    Coarse,
}

/// Parses records of `label_bytes` label bytes plus 3072 planar pixels; `label_index` picks the
/// label byte; labels must be below `classes`.
fn parse_records(
    bytes: &[u8],
    path: &Path,
    label_bytes: usize,
    label_index: usize,
    classes: usize,
    out: &mut ImageSet,
) -> Result<()> {
    let record = label_bytes + PIXELS;
    if bytes.is_empty() || !bytes.len().is_multiple_of(record) {
        return Err(DataError::Invalid(format!(
            "{}: {} bytes is not a whole number of {record}-byte records (truncated or not a CIFAR binary batch)",
            path.display(),
            bytes.len()
        )));
    }
    for (r, rec) in bytes.chunks_exact(record).enumerate() {
        let label = usize::from(rec[label_index]);
        if label >= classes {
            return Err(DataError::Invalid(format!(
                "{}: record {r} has label {label}, but there are {classes} classes (wrong file or format?)",
                path.display()
            )));
        }
        let planes = &rec[label_bytes..];
        for p in 0..SIDE * SIDE {
            for c in 0..3 {
                out.pixels.push(planes[c * SIDE * SIDE + p]);
            }
        }
        out.labels.push(Some(label));
    }
    Ok(())
}

fn empty() -> ImageSet {
    ImageSet {
        height: SIDE,
        width: SIDE,
        channels: 3,
        ..Default::default()
    }
}

/// `dir`, or its sub-folder `inner` when the files are there.
fn base(dir: &Path, inner: &str, probe: &str) -> PathBuf {
    let nested = dir.join(inner);
    if !dir.join(probe).exists() && nested.join(probe).exists() {
        nested
    } else {
        dir.to_path_buf()
    }
}

/// Reads CIFAR-10's train (five batches) and test splits.
pub fn read_cifar10(dir: &Path) -> Result<(ImageSet, ImageSet)> {
    let dir = base(dir, "cifar-10-batches-bin", "test_batch.bin");
    let mut train = empty();
    for k in 1..=5 {
        let p = dir.join(format!("data_batch_{k}.bin"));
        parse_records(&read_file(&p)?, &p, 1, 0, 10, &mut train)?;
    }
    let mut test = empty();
    let p = dir.join("test_batch.bin");
    parse_records(&read_file(&p)?, &p, 1, 0, 10, &mut test)?;
    Ok((train, test))
}

/// Reads CIFAR-100's train and test splits with fine or coarse labels.
pub fn read_cifar100(dir: &Path, label: Cifar100Label) -> Result<(ImageSet, ImageSet)> {
    let dir = base(dir, "cifar-100-binary", "test.bin");
    let (index, classes) = match label {
        Cifar100Label::Coarse => (0, 20),
        Cifar100Label::Fine => (1, 100),
    };
    let mut splits = Vec::new();
    for name in ["train.bin", "test.bin"] {
        let p = dir.join(name);
        let mut set = empty();
        parse_records(&read_file(&p)?, &p, 2, index, classes, &mut set)?;
        splits.push(set);
    }
    let test = splits.pop().expect("two splits");
    let train = splits.pop().expect("two splits");
    Ok((train, test))
}

/// Class names of CIFAR-100 from `fine_label_names.txt` / `coarse_label_names.txt` when the
/// folder has them, else the label numbers.
pub fn cifar100_classes(dir: &Path, label: Cifar100Label) -> Vec<String> {
    let dir = base(dir, "cifar-100-binary", "test.bin");
    let (file, n) = match label {
        Cifar100Label::Fine => ("fine_label_names.txt", 100),
        Cifar100Label::Coarse => ("coarse_label_names.txt", 20),
    };
    let names: Vec<String> = std::fs::read_to_string(dir.join(file))
        .map(|t| {
            t.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    if names.len() == n {
        names
    } else {
        (0..n).map(|k| k.to_string()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One record: labels, then pixel value `(c * 1024 + p) % 251` per plane position.
    fn record(labels: &[u8], seed: u8) -> Vec<u8> {
        let mut r = labels.to_vec();
        r.extend((0..PIXELS).map(|i| ((i % 251) as u8).wrapping_add(seed)));
        r
    }

    #[test]
    fn cifar10_batches_in_a_nested_folder() {
        let root = std::env::temp_dir().join(format!("mp-cifar10-{}", std::process::id()));
        let dir = root.join("cifar-10-batches-bin");
        std::fs::create_dir_all(&dir).unwrap();
        for k in 1..=5 {
            let bytes: Vec<u8> = [record(&[k], k), record(&[9], 0)].concat();
            std::fs::write(dir.join(format!("data_batch_{k}.bin")), bytes).unwrap();
        }
        std::fs::write(dir.join("test_batch.bin"), record(&[3], 7)).unwrap();
        let (train, test) = read_cifar10(&root).unwrap();
        assert_eq!(train.len(), 10);
        assert_eq!(test.len(), 1);
        assert_eq!(train.labels[0], Some(1));
        assert_eq!(train.labels[9], Some(9));
        // Planar to interleaved: pixel 0 is (R[0], G[0], B[0]) = (0, 1024 % 251, 2048 % 251) + seed.
        let img = test.image(0);
        assert_eq!(
            &img[..3],
            &[7, (1024 % 251 + 7) as u8, (2048 % 251 + 7) as u8]
        );
        assert_eq!(img.len(), 3072);
        // A truncated batch is named.
        std::fs::write(dir.join("test_batch.bin"), &record(&[3], 7)[..3000]).unwrap();
        let e = read_cifar10(&root).unwrap_err().to_string();
        assert!(
            e.contains("test_batch.bin") && e.contains("3000 bytes"),
            "{e}"
        );
        std::fs::write(dir.join("test_batch.bin"), record(&[12], 7)).unwrap();
        let e = read_cifar10(&root).unwrap_err().to_string();
        assert!(e.contains("label 12"), "{e}");
        std::fs::remove_file(dir.join("data_batch_4.bin")).unwrap();
        let e = read_cifar10(&root).unwrap_err().to_string();
        assert!(e.contains("data_batch_4.bin"), "{e}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn cifar100_fine_and_coarse_labels() {
        let dir = std::env::temp_dir().join(format!("mp-cifar100-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("train.bin"),
            [record(&[4, 77], 0), record(&[19, 99], 1)].concat(),
        )
        .unwrap();
        std::fs::write(dir.join("test.bin"), record(&[0, 5], 2)).unwrap();
        let (train, test) = read_cifar100(&dir, Cifar100Label::Fine).unwrap();
        assert_eq!(train.labels, vec![Some(77), Some(99)]);
        assert_eq!(test.labels, vec![Some(5)]);
        let (train, _) = read_cifar100(&dir, Cifar100Label::Coarse).unwrap();
        assert_eq!(train.labels, vec![Some(4), Some(19)]);
        assert_eq!(cifar100_classes(&dir, Cifar100Label::Coarse).len(), 20);
        let names: String = (0..20).map(|k| format!("super{k}\n")).collect();
        std::fs::write(dir.join("coarse_label_names.txt"), names).unwrap();
        assert_eq!(cifar100_classes(&dir, Cifar100Label::Coarse)[3], "super3");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
