//! MNIST-style IDX files (MNIST, Fashion-MNIST, ...), gzipped or not.

use crate::error::{DataError, Result, read_file};
use crate::image::ImageSet;
use flate2::read::GzDecoder;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Reads a file, un-gzipping it when its name ends in `.gz`.
fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let raw = read_file(path)?;
    if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| {
                DataError::Invalid(format!("{}: not a valid gzip file ({e})", path.display()))
            })?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Parses one IDX file of unsigned bytes; returns its dimensions and data.
pub fn parse_idx(bytes: &[u8], path: &Path) -> Result<(Vec<usize>, Vec<u8>)> {
    let bad = |m: String| DataError::Invalid(format!("{}: {m}", path.display()));
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        return Err(bad("not an IDX file (wrong magic number)".into()));
    }
    if bytes[2] != 0x08 {
        return Err(bad(format!(
            "IDX data type 0x{:02x} is not supported (only unsigned bytes, 0x08)",
            bytes[2]
        )));
    }
    let ndim = usize::from(bytes[3]);
    let header = 4 + 4 * ndim;
    if ndim == 0 || bytes.len() < header {
        return Err(bad("truncated IDX header".into()));
    }
    let dims: Vec<usize> = (0..ndim)
        .map(|d| {
            let b = &bytes[4 + 4 * d..8 + 4 * d];
            u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize
        })
        .collect();
    let expected: usize = dims.iter().product();
    let data = &bytes[header..];
    if data.len() != expected {
        return Err(bad(format!(
            "truncated or oversized: dimensions {dims:?} need {expected} bytes of data, the file has {}",
            data.len()
        )));
    }
    Ok((dims, data.to_vec()))
}

/// The path of `stem` in `dir`, gzipped or not.
fn find(dir: &Path, stems: &[&str]) -> Result<PathBuf> {
    for stem in stems {
        for name in [stem.to_string(), format!("{stem}.gz")] {
            let p = dir.join(&name);
            if p.exists() {
                return Ok(p);
            }
        }
    }
    Err(DataError::Invalid(format!(
        "{}: no {} (or .gz) found",
        dir.display(),
        stems[0]
    )))
}

/// Reads an images file and its labels file into an [`ImageSet`].
pub fn read_idx_pair(images: &Path, labels: &Path) -> Result<ImageSet> {
    let (dims, pixels) = parse_idx(&read_maybe_gz(images)?, images)?;
    if dims.len() != 3 {
        return Err(DataError::Invalid(format!(
            "{}: expected 3 dimensions (count, rows, columns), found {dims:?}",
            images.display()
        )));
    }
    let (ldims, label_bytes) = parse_idx(&read_maybe_gz(labels)?, labels)?;
    if ldims.len() != 1 || ldims[0] != dims[0] {
        return Err(DataError::Invalid(format!(
            "{} holds {} images but {} holds {:?} labels",
            images.display(),
            dims[0],
            labels.display(),
            ldims
        )));
    }
    let labels = label_bytes;
    Ok(ImageSet {
        pixels,
        height: dims[1],
        width: dims[2],
        channels: 1,
        labels: labels.iter().map(|&l| Some(usize::from(l))).collect(),
    })
}

/// Reads the train and test splits of an IDX folder (`train-images-idx3-ubyte[.gz]`,
/// `train-labels-idx1-ubyte[.gz]`, `t10k-images-idx3-ubyte[.gz]`, `t10k-labels-idx1-ubyte[.gz]`).
pub fn read_idx_dir(dir: &Path) -> Result<(ImageSet, ImageSet)> {
    let train = read_idx_pair(
        &find(dir, &["train-images-idx3-ubyte", "train-images.idx3-ubyte"])?,
        &find(dir, &["train-labels-idx1-ubyte", "train-labels.idx1-ubyte"])?,
    )?;
    let test = read_idx_pair(
        &find(dir, &["t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"])?,
        &find(dir, &["t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"])?,
    )?;
    if (train.height, train.width) != (test.height, test.width) {
        return Err(DataError::Invalid(format!(
            "{}: train images are {}x{} but test images are {}x{}",
            dir.display(),
            train.height,
            train.width,
            test.height,
            test.width
        )));
    }
    Ok((train, test))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    /// IDX bytes of unsigned-byte data with the given dimensions.
    pub fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut b = vec![0, 0, 0x08, dims.len() as u8];
        for d in dims {
            b.extend_from_slice(&d.to_be_bytes());
        }
        b.extend_from_slice(data);
        b
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn write_fixture(dir: &Path, gzipped: bool) {
        std::fs::create_dir_all(dir).unwrap();
        let pixels: Vec<u8> = (0..3 * 2 * 2).map(|v| v as u8 * 10).collect();
        let files = [
            ("train-images-idx3-ubyte", idx_bytes(&[3, 2, 2], &pixels)),
            ("train-labels-idx1-ubyte", idx_bytes(&[3], &[7, 0, 9])),
            (
                "t10k-images-idx3-ubyte",
                idx_bytes(&[1, 2, 2], &[1, 2, 3, 4]),
            ),
            ("t10k-labels-idx1-ubyte", idx_bytes(&[1], &[5])),
        ];
        for (name, bytes) in files {
            if gzipped {
                std::fs::write(dir.join(format!("{name}.gz")), gz(&bytes)).unwrap();
            } else {
                std::fs::write(dir.join(name), bytes).unwrap();
            }
        }
    }

    #[test]
    fn reads_plain_and_gzipped_folders() {
        for gzipped in [false, true] {
            let dir = std::env::temp_dir().join(format!("mp-idx-{gzipped}-{}", std::process::id()));
            write_fixture(&dir, gzipped);
            let (train, test) = read_idx_dir(&dir).unwrap();
            assert_eq!(
                (train.len(), train.height, train.width, train.channels),
                (3, 2, 2, 1)
            );
            assert_eq!(train.image(1), &[40, 50, 60, 70]);
            assert_eq!(train.labels, vec![Some(7), Some(0), Some(9)]);
            assert_eq!(test.image(0), &[1, 2, 3, 4]);
            assert_eq!(test.labels, vec![Some(5)]);
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    #[test]
    fn bad_files_are_named() {
        let p = Path::new("x.idx");
        let e = parse_idx(&[1, 2, 3, 4], p).unwrap_err().to_string();
        assert!(e.contains("x.idx") && e.contains("magic"), "{e}");
        let e = parse_idx(&idx_bytes(&[2, 2, 2], &[0; 5]), p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("need 8 bytes") && e.contains("has 5"), "{e}");
        let e = parse_idx(&[0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0], p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("0x0d"), "{e}");
        let dir = std::env::temp_dir().join(format!("mp-idx-bad-{}", std::process::id()));
        write_fixture(&dir, false);
        std::fs::write(dir.join("t10k-labels-idx1-ubyte"), idx_bytes(&[2], &[1, 2])).unwrap();
        let e = read_idx_dir(&dir).unwrap_err().to_string();
        assert!(
            e.contains("holds 1 images") && e.contains("t10k-labels"),
            "{e}"
        );
        std::fs::remove_file(dir.join("t10k-labels-idx1-ubyte")).unwrap();
        let e = read_idx_dir(&dir).unwrap_err().to_string();
        assert!(e.contains("no t10k-labels-idx1-ubyte"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reads_the_shared_fashion_mnist_when_present() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/fashion-mnist");
        if !dir.exists() {
            eprintln!("skipped: {} is absent", dir.display());
            return;
        }
        let (train, test) = read_idx_dir(&dir).unwrap();
        assert_eq!((train.len(), test.len()), (60_000, 10_000));
        assert_eq!((train.height, train.width), (28, 28));
        let mut counts = [0usize; 10];
        for l in train.labels.iter().flatten() {
            counts[*l] += 1;
        }
        assert_eq!(counts, [6000; 10]);
        // The first training image is an ankle boot (class 9).
        assert_eq!(train.labels[0], Some(9));
        let mean =
            train.pixels.iter().map(|&p| f64::from(p)).sum::<f64>() / train.pixels.len() as f64;
        assert!(
            (mean / 255.0 - 0.2860).abs() < 1e-3,
            "mean {}",
            mean / 255.0
        );
    }
}
