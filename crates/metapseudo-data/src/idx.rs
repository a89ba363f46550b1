//! MNIST-style IDX files (MNIST, Fashion-MNIST, ...), gzipped or not.

use crate::error::{DataError, Result};
use crate::image::ImageSet;
use flate2::read::MultiGzDecoder;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The largest IDX data this reader accepts (16 GiB), checked before anything is allocated.
pub const MAX_IDX_BYTES: u64 = 1 << 34;

/// Reads one IDX file of unsigned bytes, un-gzipping it (every member of a multi-member file)
/// when its name ends in `.gz`; returns its dimensions and data. The data never grows past the
/// size the header declares: a file (or an inflating stream) longer than that is refused after
/// one byte more, so a small gzip cannot inflate to gigabytes first.
fn read_idx(path: &Path) -> Result<(Vec<usize>, Vec<u8>)> {
    let file = std::fs::File::open(path).map_err(DataError::io(path))?;
    let file = std::io::BufReader::new(file);
    let gzipped = path.extension().is_some_and(|e| e == "gz");
    let mut reader: Box<dyn Read> = if gzipped {
        Box::new(MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let read_err = |e: std::io::Error| {
        if gzipped {
            DataError::Invalid(format!("{}: not a valid gzip file ({e})", path.display()))
        } else {
            DataError::io(path)(e)
        }
    };
    let mut head = [0u8; 4];
    let got = read_up_to(&mut reader, &mut head).map_err(read_err)?;
    let mut dims_bytes = vec![0u8; 4 * usize::from(head[3])];
    let got_dims = if got == 4 {
        read_up_to(&mut reader, &mut dims_bytes).map_err(read_err)?
    } else {
        0
    };
    let mut header = head[..got].to_vec();
    header.extend_from_slice(&dims_bytes[..got_dims]);
    let (dims, expected) = parse_idx_header(&header, path)?;
    let mut data = Vec::with_capacity(expected as usize);
    reader
        .take(expected + 1)
        .read_to_end(&mut data)
        .map_err(read_err)?;
    check_data_len(&dims, expected, data.len(), path)?;
    Ok((dims, data))
}

/// Reads until `buf` is full or the stream ends; returns the bytes read.
fn read_up_to(reader: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// The dimensions an IDX header declares and the data bytes they need, checked: a known
/// magic number, unsigned bytes, no zero dimension, and a product that neither overflows nor
/// passes [`MAX_IDX_BYTES`].
fn parse_idx_header(bytes: &[u8], path: &Path) -> Result<(Vec<usize>, u64)> {
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
    if ndim == 0 || bytes.len() < 4 + 4 * ndim {
        return Err(bad("truncated IDX header".into()));
    }
    let dims: Vec<usize> = bytes[4..4 + 4 * ndim]
        .chunks_exact(4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .collect();
    if dims.contains(&0) {
        return Err(bad(format!(
            "dimensions {dims:?} include a zero: no data to read"
        )));
    }
    let expected = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
        .filter(|&n| n <= MAX_IDX_BYTES)
        .ok_or_else(|| {
            bad(format!(
                "dimensions {dims:?} declare more than {MAX_IDX_BYTES} bytes of data: a damaged header"
            ))
        })?;
    Ok((dims, expected))
}

/// Checks that the data read after the header has exactly the size it declares.
fn check_data_len(dims: &[usize], expected: u64, got: usize, path: &Path) -> Result<()> {
    if got as u64 == expected {
        return Ok(());
    }
    let has = if got as u64 > expected {
        "more".to_string()
    } else {
        got.to_string()
    };
    Err(DataError::Invalid(format!(
        "{}: truncated or oversized: dimensions {dims:?} need {expected} bytes of data, the file has {has}",
        path.display()
    )))
}

/// Parses one IDX file of unsigned bytes held in memory; returns its dimensions and data.
pub fn parse_idx(bytes: &[u8], path: &Path) -> Result<(Vec<usize>, Vec<u8>)> {
    let (dims, expected) = parse_idx_header(bytes, path)?;
    let data = &bytes[4 + 4 * dims.len()..];
    check_data_len(&dims, expected, data.len(), path)?;
    Ok((dims, data.to_vec()))
}

/// The classes of IDX data: the label numbers that occur, in ascending order, named by their
/// numbers. Labels are renumbered to their class's index, which leaves MNIST's dense `0..10`
/// as it is, while a stray byte such as 255 makes one visible class `255` rather than 246
/// empty ones.
pub fn number_classes(train: &mut ImageSet, test: &mut ImageSet) -> Vec<String> {
    let mut used = [false; 256];
    for &l in train.labels.iter().chain(&test.labels).flatten() {
        used[l.min(255)] = true;
    }
    let numbers: Vec<usize> = (0..256).filter(|&k| used[k]).collect();
    let mut index = [0usize; 256];
    for (i, &k) in numbers.iter().enumerate() {
        index[k] = i;
    }
    for l in train
        .labels
        .iter_mut()
        .chain(test.labels.iter_mut())
        .flatten()
    {
        *l = index[(*l).min(255)];
    }
    numbers.iter().map(|k| k.to_string()).collect()
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
    let (dims, pixels) = read_idx(images)?;
    if dims.len() != 3 {
        return Err(DataError::Invalid(format!(
            "{}: expected 3 dimensions (count, rows, columns), found {dims:?}",
            images.display()
        )));
    }
    let (ldims, label_bytes) = read_idx(labels)?;
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
    fn crafted_headers_are_refused_before_allocating() {
        let p = Path::new("x.idx");
        let e = parse_idx(&idx_bytes(&[2, 0, 28], &[]), p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("include a zero"), "{e}");
        // 2^32-1 cubed overflows u64; 65536 x 65536 x 65536 passes the 16 GiB limit.
        for dims in [[u32::MAX; 3], [65536; 3]] {
            let e = parse_idx(&idx_bytes(&dims, &[1, 2, 3]), p)
                .unwrap_err()
                .to_string();
            assert!(e.contains("a damaged header"), "{e}");
        }
        let dir = std::env::temp_dir().join(format!("mp-idx-crafted-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // A gzip of 1 MiB of zeros whose header claims 4 bytes: refused at the fifth byte.
        let mut bomb = idx_bytes(&[1, 2, 2], &[0; 4]);
        bomb.extend(std::iter::repeat_n(0u8, 1 << 20));
        let path = dir.join("bomb.gz");
        std::fs::write(&path, gz(&bomb)).unwrap();
        let e = read_idx(&path).unwrap_err().to_string();
        assert!(e.contains("need 4 bytes") && e.contains("has more"), "{e}");
        // Two gzip members, as `cat a.gz b.gz` makes, are one file.
        let whole = idx_bytes(&[2, 1, 2], &[1, 2, 3, 4]);
        let mut two = gz(&whole[..10]);
        two.extend(gz(&whole[10..]));
        let path = dir.join("two.gz");
        std::fs::write(&path, two).unwrap();
        assert_eq!(read_idx(&path).unwrap(), (vec![2, 1, 2], vec![1, 2, 3, 4]));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn classes_are_the_label_numbers_that_occur() {
        let set = |labels: &[usize]| ImageSet {
            pixels: vec![0; labels.len()],
            height: 1,
            width: 1,
            channels: 1,
            labels: labels.iter().map(|&l| Some(l)).collect(),
        };
        let (mut train, mut test) = (set(&[0, 1, 2, 255]), set(&[1]));
        assert_eq!(
            number_classes(&mut train, &mut test),
            ["0", "1", "2", "255"]
        );
        assert_eq!(train.labels[3], Some(3));
        let (mut train, mut test) = (set(&[2, 0, 1]), set(&[2]));
        assert_eq!(number_classes(&mut train, &mut test), ["0", "1", "2"]);
        assert_eq!((train.labels[0], test.labels[0]), (Some(2), Some(2)));
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
