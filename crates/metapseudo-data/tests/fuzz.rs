//! Robustness of every data reader: seeded mutants of valid files (IDX, CIFAR, SVHN `.mat`,
//! CSV, PNG and JPEG images, the decoded-image cache) must give a result or an error, never a
//! panic; a damaged image cache must never change the data. `METAPSEUDO_FUZZ_MUTANTS=N` sets
//! the mutants per format (the suite's bounded run uses a few hundred; a soak, thousands).

use metapseudo_data::csv::{CsvOptions, parse_csv};
use metapseudo_data::folder::{FolderOptions, cache_path, load_image_as, read_folder};
use metapseudo_data::mutate::{self, mutants_per_format};
use metapseudo_data::{cifar, idx, svhn};
use std::path::{Path, PathBuf};

/// Mutants per format in the suite's bounded run.
const BOUNDED: usize = 300;

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mp-fuzz-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Feeds the bounded (or soak) number of mutants of `seeds` to `read`; see [`mutate::fuzz`].
fn fuzz(format: &str, dir: &Path, seeds: &[Vec<u8>], read: impl Fn(&[u8]) -> bool) -> usize {
    mutate::fuzz(format, seeds, mutants_per_format(BOUNDED), dir, read)
}

fn idx_file(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        b.extend_from_slice(&d.to_be_bytes());
    }
    b.extend_from_slice(data);
    b
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn idx_readers_never_panic() {
    let dir = temp_dir("idx");
    let images = idx_file(&[3, 4, 4], &[7; 48]);
    let labels = idx_file(&[3], &[0, 1, 2]);
    let seeds = [images.clone(), labels.clone(), gz(&images), gz(&labels)];
    let refused = fuzz("idx", &dir, &seeds, |m| {
        // The mutant replaces one of the four files of a valid folder.
        let files = [
            ("train-images-idx3-ubyte", &images),
            ("train-labels-idx1-ubyte", &labels),
            ("t10k-images-idx3-ubyte", &images),
            ("t10k-labels-idx1-ubyte", &labels),
        ];
        for (name, bytes) in files {
            let _ = std::fs::remove_file(dir.join(name));
            let _ = std::fs::remove_file(dir.join(format!("{name}.gz")));
            std::fs::write(dir.join(name), bytes).unwrap();
        }
        let gzipped = m.starts_with(&[0x1f, 0x8b]);
        let target = if m.get(3) == Some(&1) || m.len() < 40 {
            "train-labels-idx1-ubyte"
        } else {
            "train-images-idx3-ubyte"
        };
        std::fs::remove_file(dir.join(target)).unwrap();
        let name = if gzipped {
            format!("{target}.gz")
        } else {
            target.to_string()
        };
        std::fs::write(dir.join(name), m).unwrap();
        let _ = idx::parse_idx(m, Path::new("mutant"));
        idx::read_idx_dir(&dir).is_ok()
    });
    assert!(refused > 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn cifar_readers_never_panic() {
    let dir = temp_dir("cifar");
    let record = |label: u8| {
        let mut r = vec![label];
        r.extend(std::iter::repeat_n(label * 20, 3072));
        r
    };
    let batch: Vec<u8> = [record(1), record(2)].concat();
    let names: Vec<String> = (1..=5)
        .map(|i| format!("data_batch_{i}.bin"))
        .chain(["test_batch.bin".to_string()])
        .collect();
    let refused = fuzz("cifar10", &dir, std::slice::from_ref(&batch), |m| {
        for name in &names {
            std::fs::write(dir.join(name), &batch).unwrap();
        }
        std::fs::write(dir.join(&names[m.len() % names.len()]), m).unwrap();
        cifar::read_cifar10(&dir).is_ok()
    });
    assert!(refused > 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn svhn_reader_never_panics() {
    let dir = temp_dir("svhn");
    let (h, w) = (4, 4);
    let x: Vec<u8> = (0..h * w * 3 * 2).map(|v| v as u8).collect();
    let seeds = [
        svhn::fixture::svhn_mat(h, w, &x, &[1.0, 10.0], false),
        svhn::fixture::svhn_mat(h, w, &x, &[3.0, 4.0], true),
    ];
    let path = dir.join("train_32x32.mat");
    let refused = fuzz("svhn", &dir, &seeds, |m| {
        std::fs::write(&path, m).unwrap();
        svhn::read_svhn_mat(&path).is_ok()
    });
    assert!(refused > 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn csv_reader_never_panics() {
    let dir = temp_dir("csv");
    let seeds = [
        b"x,y,label\n1.5,2,a\n3,4,b\n5,6,\n\"7\",8,a\n".to_vec(),
        b"0.1,0.2,1\n0.3,0.4,01\n0.5,0.6,2\n".to_vec(),
    ];
    let refused = fuzz("csv", &dir, &seeds, |m| {
        let text = String::from_utf8_lossy(m);
        parse_csv(&text, Path::new("mutant.csv"), &CsvOptions::default()).is_ok()
    });
    assert!(refused > 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn image_decoding_never_panics() {
    let dir = temp_dir("images");
    let img = image::RgbImage::from_fn(6, 5, |x, y| image::Rgb([x as u8 * 40, y as u8 * 50, 90]));
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let mut jpg = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut jpg),
        image::ImageFormat::Jpeg,
    )
    .unwrap();
    let refused = fuzz("images", &dir, &[png, jpg], |m| {
        let ext = if m.starts_with(&[0x89, b'P']) {
            "png"
        } else {
            "jpg"
        };
        let path = dir.join(format!("x.{ext}"));
        std::fs::write(&path, m).unwrap();
        load_image_as(&path, 8, 3).is_ok()
    });
    assert!(refused > 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_damaged_image_cache_never_changes_the_data() {
    let dir = temp_dir("cache");
    let data_dir = dir.join("photos");
    for (class, v) in [("a", 30u8), ("b", 220)] {
        for k in 0..4 {
            let p = data_dir.join(class).join(format!("{k}.png"));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            image::GrayImage::from_pixel(4, 4, image::Luma([v + k]))
                .save(&p)
                .unwrap();
        }
    }
    let opts = FolderOptions {
        size: None,
        test_fraction: 0.25,
        split_seed: 1,
        skip_bad_images: false,
        cache_dir: Some(dir.join("cache")),
        threads: 1,
    };
    let truth = read_folder(&data_dir, &opts).unwrap();
    let path = cache_path(&dir.join("cache"), &data_dir, truth.train.height);
    let good = std::fs::read(&path).unwrap();
    let refused = fuzz("image-cache", &dir, &[good], |m| {
        std::fs::write(&path, m).unwrap();
        let got = read_folder(&data_dir, &opts).unwrap();
        assert_eq!(
            (&got.train, &got.test, &got.classes),
            (&truth.train, &truth.test, &truth.classes)
        );
        got.from_cache
    });
    assert!(refused > 0);
    std::fs::remove_dir_all(&dir).unwrap();
}
