//! SVHN's cropped-digit format: `train_32x32.mat`, `test_32x32.mat` and optionally
//! `extra_32x32.mat`, MATLAB v5 files (read with the `matfile` crate) holding `X`, a
//! 32x32x3xN `uint8` array in MATLAB's column-major order, and `y`, N labels 1..10 where 10
//! stands for the digit 0.

use crate::error::{DataError, Result, read_file};
use crate::image::ImageSet;
use matfile::{MatFile, NumericData};
use std::path::Path;

/// Class names: the digits.
pub fn svhn_classes() -> Vec<String> {
    (0..10).map(|d| d.to_string()).collect()
}

fn invalid(path: &Path, what: impl std::fmt::Display) -> DataError {
    DataError::Invalid(format!("{}: {what}", path.display()))
}

/// Label values of a numeric array, whatever its element type.
fn as_f64(data: &NumericData) -> Option<Vec<f64>> {
    Some(match data {
        NumericData::Double { real, .. } => real.clone(),
        NumericData::Single { real, .. } => real.iter().map(|&v| f64::from(v)).collect(),
        NumericData::UInt8 { real, .. } => real.iter().map(|&v| f64::from(v)).collect(),
        NumericData::Int32 { real, .. } => real.iter().map(|&v| f64::from(v)).collect(),
        NumericData::UInt16 { real, .. } => real.iter().map(|&v| f64::from(v)).collect(),
        _ => return None,
    })
}

/// Reads one SVHN `.mat` file into images (HWC) with digit labels.
pub fn read_svhn_mat(path: &Path) -> Result<ImageSet> {
    let bytes = read_file(path)?;
    let mat = MatFile::parse(&bytes[..]).map_err(|e| {
        invalid(
            path,
            format!("not a readable MATLAB v5 file ({e}); the file may be truncated"),
        )
    })?;
    let x = mat
        .find_by_name("X")
        .ok_or_else(|| invalid(path, "has no readable array 'X' (SVHN's images); the file may be truncated or not an SVHN file"))?;
    let y = mat
        .find_by_name("y")
        .ok_or_else(|| invalid(path, "has no readable array 'y' (SVHN's labels); the file may be truncated or not an SVHN file"))?;
    let dims = x.size();
    if dims.len() != 4 || dims[2] != 3 {
        return Err(invalid(
            path,
            format!("'X' has shape {dims:?}; expected [height, width, 3, count]"),
        ));
    }
    let (h, w, n) = (dims[0], dims[1], dims[3]);
    let NumericData::UInt8 { real: pixels, .. } = x.data() else {
        return Err(invalid(path, "'X' is not a uint8 array"));
    };
    let declared = [h, w, 3, n]
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d));
    if declared != Some(pixels.len()) || pixels.is_empty() {
        return Err(invalid(
            path,
            format!(
                "'X' declares shape {dims:?} but holds {} bytes: a damaged or truncated file",
                pixels.len()
            ),
        ));
    }
    let labels = as_f64(y.data()).ok_or_else(|| invalid(path, "'y' is not a numeric array"))?;
    if labels.len() != n {
        return Err(invalid(
            path,
            format!("{n} images in 'X' but {} labels in 'y'", labels.len()),
        ));
    }
    let mut set = ImageSet {
        pixels: vec![0; n * h * w * 3],
        height: h,
        width: w,
        channels: 3,
        labels: Vec::with_capacity(n),
    };
    for (i, &v) in labels.iter().enumerate() {
        if !(v.fract() == 0.0 && (1.0..=10.0).contains(&v)) {
            return Err(invalid(
                path,
                format!("label {v} of image {i} is outside 1..10"),
            ));
        }
        set.labels.push(Some(v as usize % 10));
    }
    // Column-major: element (row, col, channel, image) sits at row + h*(col + w*(channel + 3*image)).
    for i in 0..n {
        for c in 0..3 {
            for col in 0..w {
                let src = h * (col + w * (c + 3 * i));
                for row in 0..h {
                    set.pixels[((i * h + row) * w + col) * 3 + c] = pixels[src + row];
                }
            }
        }
    }
    Ok(set)
}

/// Reads SVHN's train and test splits from `dir`; with `extra`, `extra_32x32.mat` joins the
/// training pool as unlabeled images.
pub fn read_svhn(dir: &Path, extra: bool) -> Result<(ImageSet, ImageSet)> {
    let mut train = read_svhn_mat(&dir.join("train_32x32.mat"))?;
    let test = read_svhn_mat(&dir.join("test_32x32.mat"))?;
    if extra {
        let mut more = read_svhn_mat(&dir.join("extra_32x32.mat"))?;
        more.labels.iter_mut().for_each(|l| *l = None);
        train.extend(&more);
    }
    Ok((train, test))
}

/// Writes MATLAB v5 files in SVHN's layout, for tests and examples (uncompressed or
/// zlib-compressed elements, as MATLAB writes them).
pub mod fixture {
    use flate2::{Compression, write::ZlibEncoder};
    use std::io::Write;

    fn element(kind: u32, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(data);
        while out.len() % 8 != 0 {
            out.push(0);
        }
        out
    }

    /// One numeric matrix element: `class` 6 = double, 9 = uint8; `kind` the data type
    /// (9 = miDOUBLE, 2 = miUINT8).
    fn matrix(name: &str, dims: &[i32], class: u32, kind: u32, data: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        let mut flags = class.to_le_bytes().to_vec();
        flags.extend_from_slice(&0u32.to_le_bytes());
        body.extend(element(6, &flags));
        let d: Vec<u8> = dims.iter().flat_map(|v| v.to_le_bytes()).collect();
        body.extend(element(5, &d));
        body.extend(element(1, name.as_bytes()));
        body.extend(element(kind, data));
        element(14, &body)
    }

    /// A `.mat` file with `X` (`h`x`w`x3xN uint8, given column-major) and `y` (N doubles).
    pub fn svhn_mat(h: usize, w: usize, x_colmajor: &[u8], y: &[f64], compress: bool) -> Vec<u8> {
        let mut out = vec![b' '; 116];
        out[..27].copy_from_slice(b"MATLAB 5.0 MAT-file, test  ");
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&0x0100u16.to_le_bytes());
        out.extend_from_slice(b"IM");
        let n = y.len() as i32;
        let ys: Vec<u8> = y.iter().flat_map(|v| v.to_le_bytes()).collect();
        for el in [
            matrix("X", &[h as i32, w as i32, 3, n], 9, 2, x_colmajor),
            matrix("y", &[n, 1], 6, 9, &ys),
        ] {
            if compress {
                let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
                z.write_all(&el).expect("in memory");
                let packed = z.finish().expect("in memory");
                out.extend_from_slice(&15u32.to_le_bytes());
                out.extend_from_slice(&(packed.len() as u32).to_le_bytes());
                out.extend_from_slice(&packed);
            } else {
                out.extend(el);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::svhn_mat;
    use super::*;

    /// Three 2x3 images; pixel value = 100*image + 10*row + col + 50*channel (mod 256).
    fn fixture(compress: bool, labels: &[f64]) -> Vec<u8> {
        let (h, w, n) = (2, 3, labels.len());
        let mut x = vec![0u8; h * w * 3 * n];
        for i in 0..n {
            for c in 0..3 {
                for col in 0..w {
                    for row in 0..h {
                        x[row + h * (col + w * (c + 3 * i))] =
                            ((100 * i + 10 * row + col + 50 * c) % 256) as u8;
                    }
                }
            }
        }
        svhn_mat(h, w, &x, labels, compress)
    }

    #[test]
    fn reads_images_in_hwc_and_maps_label_ten_to_zero() {
        let dir = std::env::temp_dir().join(format!("mp-svhn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for compress in [false, true] {
            let p = dir.join(format!("t{compress}.mat"));
            std::fs::write(&p, fixture(compress, &[1.0, 10.0, 7.0])).unwrap();
            let set = read_svhn_mat(&p).unwrap();
            assert_eq!(
                (set.len(), set.height, set.width, set.channels),
                (3, 2, 3, 3)
            );
            assert_eq!(set.labels, vec![Some(1), Some(0), Some(7)]);
            // Image 1, row 1, column 2: channels 112, 162, 212.
            let img = set.image(1);
            assert_eq!(&img[(3 + 2) * 3..(3 + 2) * 3 + 3], &[112, 162, 212]);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn extra_images_join_the_training_pool_unlabeled() {
        let dir = std::env::temp_dir().join(format!("mp-svhn-extra-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("train_32x32.mat"), fixture(true, &[1.0, 2.0])).unwrap();
        std::fs::write(dir.join("test_32x32.mat"), fixture(true, &[3.0])).unwrap();
        std::fs::write(dir.join("extra_32x32.mat"), fixture(true, &[4.0, 5.0, 6.0])).unwrap();
        let (train, test) = read_svhn(&dir, false).unwrap();
        assert_eq!((train.len(), test.len()), (2, 1));
        let (train, _) = read_svhn(&dir, true).unwrap();
        assert_eq!(train.labels, vec![Some(1), Some(2), None, None, None]);
        assert_eq!(
            train.image(2),
            read_svhn_mat(&dir.join("extra_32x32.mat"))
                .unwrap()
                .image(0)
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_files_are_named() {
        let dir = std::env::temp_dir().join(format!("mp-svhn-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = fixture(true, &[1.0, 2.0, 3.0]);
        let cases = [
            (
                "truncated.mat",
                good[..good.len() - 20].to_vec(),
                "truncated",
            ),
            ("magic.mat", b"not a mat file at all".to_vec(), "MATLAB"),
            (
                "label.mat",
                fixture(false, &[1.0, 11.0, 3.0]),
                "outside 1..10",
            ),
            (
                "huge.mat",
                svhn_mat(65536, 65536, &[], &[], false),
                "declares shape [65536, 65536, 3, 0] but holds 0 bytes",
            ),
        ];
        for (name, bytes, expect) in cases {
            let p = dir.join(name);
            std::fs::write(&p, bytes).unwrap();
            let err = read_svhn_mat(&p).unwrap_err().to_string();
            assert!(err.contains(name) && err.contains(expect), "{err}");
        }
        let err = read_svhn(&dir, false).unwrap_err().to_string();
        assert!(err.contains("train_32x32.mat"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
