//! Image folders: one sub-folder per class, JPEG or PNG files of any size, decoded once (in
//! parallel), resized to a common square size and kept as `u8`.
//!
//! Layouts:
//! - `DIR/train/<class>/*` and `DIR/test/<class>/*`: the given split;
//! - `DIR/<class>/*`: one tree, split by a seeded stratified test fraction;
//! - an optional `DIR/unlabeled/*` (or `DIR/train/unlabeled/*`) adds images without a class to
//!   the training pool.
//!
//! Class names are the sorted sub-folder names. Decoded images can be kept in a cache file so a
//! later run skips decoding; the cache is keyed by every file's path, size and modification
//! time and by the target size, so any change to the folder invalidates it.

use crate::error::{DataError, Result};
use crate::image::ImageSet;
use crate::rng::Rng;
use crate::split::stratified_holdout;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

/// Options of the folder reader.
#[derive(Clone, Debug, PartialEq)]
pub struct FolderOptions {
    /// Side of the square images after resizing; `None`: the first image's size when both its
    /// sides are at most 96 pixels, else 32.
    pub size: Option<usize>,
    /// Test fraction for the one-tree layout.
    pub test_fraction: f64,
    /// Seed of that split.
    pub split_seed: u64,
    /// Skip undecodable images with a warning instead of failing.
    pub skip_bad_images: bool,
    /// Folder for the decoded-image cache file; `None`: no cache file.
    pub cache_dir: Option<PathBuf>,
    /// Decoding threads.
    pub threads: usize,
}

/// A decoded image folder.
#[derive(Clone, Debug, PartialEq)]
pub struct FolderData {
    /// Training pool (unlabeled images have no label).
    pub train: ImageSet,
    /// Test split.
    pub test: ImageSet,
    /// Class names.
    pub classes: Vec<String>,
    /// Files that could not be decoded and were skipped.
    pub skipped: Vec<PathBuf>,
    /// Whether the images came from the cache file.
    pub from_cache: bool,
}

const UNLABELED: &str = "unlabeled";

/// Whether `path` names a visible JPEG or PNG file (by extension).
pub fn is_image(path: &Path) -> bool {
    let hidden = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_none_or(|n| n.starts_with('.'));
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    !hidden && matches!(ext.as_deref(), Some("jpg" | "jpeg" | "png"))
}

/// Sub-folders of `dir`, sorted by name.
fn sub_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(DataError::io(dir))? {
        let path = entry.map_err(DataError::io(dir))?.path();
        if path.is_dir()
            && !path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// Image files directly in `dir`, sorted.
fn image_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(DataError::io(dir))? {
        let path = entry.map_err(DataError::io(dir))?.path();
        if path.is_file() && is_image(&path) {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

fn name_of(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Image files with their class index.
type ClassFiles = Vec<(PathBuf, usize)>;

/// `(file, class)` pairs of a class tree; `classes` fixes the class order when given.
fn class_tree(root: &Path, classes: Option<&[String]>) -> Result<(ClassFiles, Vec<String>)> {
    let dirs: Vec<PathBuf> = sub_dirs(root)?
        .into_iter()
        .filter(|d| name_of(d) != UNLABELED)
        .collect();
    let names: Vec<String> = match classes {
        Some(c) => c.to_vec(),
        None => dirs.iter().map(|d| name_of(d)).collect(),
    };
    let mut files = Vec::new();
    for d in &dirs {
        let name = name_of(d);
        let Some(class) = names.iter().position(|n| *n == name) else {
            return Err(DataError::Invalid(format!(
                "{}: class '{name}' is not a training class (training classes: {})",
                d.display(),
                names.join(", ")
            )));
        };
        let list = image_files(d)?;
        if list.is_empty() {
            return Err(DataError::Invalid(format!(
                "{}: class folder has no JPEG or PNG images",
                d.display()
            )));
        }
        files.extend(list.into_iter().map(|f| (f, class)));
    }
    Ok((files, names))
}

/// One decoded image: pixels HWC and channel count (1 or 3), already resized.
type Decoded = (Vec<u8>, usize);

/// Reads and decodes an image file, resized to `size` x `size` if it is not already.
fn open_resized(path: &Path, size: usize) -> std::result::Result<image::DynamicImage, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let img = image::load_from_memory(&bytes).map_err(|e| e.to_string())?;
    Ok(
        if img.width() as usize != size || img.height() as usize != size {
            img.resize_exact(
                size as u32,
                size as u32,
                image::imageops::FilterType::Triangle,
            )
        } else {
            img
        },
    )
}

fn decode(path: &Path, size: usize) -> std::result::Result<Decoded, String> {
    let img = open_resized(path, size)?;
    Ok(if img.color().has_color() {
        (img.into_rgb8().into_raw(), 3)
    } else {
        (img.into_luma8().into_raw(), 1)
    })
}

/// One JPEG or PNG file as a network of this data set's geometry sees it: resized to `size` x
/// `size` as the folder loader does, converted to `channels` (1: luma, 3: RGB), HWC `u8`.
pub fn load_image_as(path: &Path, size: usize, channels: usize) -> Result<Vec<u8>> {
    let img = open_resized(path, size)
        .map_err(|e| DataError::Invalid(format!("{}: cannot decode image: {e}", path.display())))?;
    Ok(match channels {
        1 => img.into_luma8().into_raw(),
        _ => img.into_rgb8().into_raw(),
    })
}

/// The JPEG and PNG files in `dir` and its sub-folders, sorted.
pub fn image_files_recursive(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = image_files(dir)?;
    for sub in sub_dirs(dir)? {
        out.extend(image_files_recursive(&sub)?);
    }
    out.sort();
    Ok(out)
}

/// The target side: `opts.size`, or derived from the first image.
fn target_size(first: &Path, opts: &FolderOptions) -> Result<usize> {
    if let Some(s) = opts.size {
        return Ok(s);
    }
    let (w, h) = image::image_dimensions(first).map_err(|e| {
        DataError::Invalid(format!("{}: cannot read image size: {e}", first.display()))
    })?;
    Ok(if w.max(h) <= 96 && w == h {
        w as usize
    } else {
        32
    })
}

/// Decodes `files` on `threads` threads; bad files are errors unless `skip`.
fn decode_all(
    files: &[PathBuf],
    size: usize,
    threads: usize,
    skip: bool,
) -> Result<Vec<Option<Decoded>>> {
    let chunk = files.len().div_ceil(threads.max(1)).max(1);
    let results: Vec<Vec<std::result::Result<Decoded, String>>> = std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(|p| decode(p, size)).collect()))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("an image decoding thread panicked"))
            .collect()
    });
    let mut out = Vec::with_capacity(files.len());
    for (r, path) in results.into_iter().flatten().zip(files) {
        match r {
            Ok(d) => out.push(Some(d)),
            Err(_) if skip => out.push(None),
            Err(e) => {
                return Err(DataError::Invalid(format!(
                    "{}: cannot decode image ({e}); fix or remove the file, or pass --skip-bad-images",
                    path.display()
                )));
            }
        }
    }
    Ok(out)
}

/// Builds an image set from decoded images, converting grey ones to RGB when any has colour.
fn assemble(decoded: Vec<(Decoded, Option<usize>)>, size: usize, channels: usize) -> ImageSet {
    let mut set = ImageSet {
        pixels: Vec::with_capacity(decoded.len() * size * size * channels),
        height: size,
        width: size,
        channels,
        labels: Vec::with_capacity(decoded.len()),
    };
    for ((pixels, c), label) in decoded {
        if c == channels {
            set.pixels.extend_from_slice(&pixels);
        } else {
            set.pixels.extend(pixels.iter().flat_map(|&v| [v; 3]));
        }
        set.labels.push(label);
    }
    set
}

/// Every input file with its split (`true`: test) and label, in a fixed order.
struct Listing {
    files: Vec<PathBuf>,
    labels: Vec<Option<usize>>,
    is_test: Vec<bool>,
    classes: Vec<String>,
}

fn list(dir: &Path, opts: &FolderOptions) -> Result<Listing> {
    if !dir.is_dir() {
        return Err(DataError::Invalid(format!(
            "{}: not a folder (folder:DIR needs DIR/<class>/* or DIR/train/<class>/* and DIR/test/<class>/*)",
            dir.display()
        )));
    }
    let train_dir = dir.join("train");
    let mut out = Listing {
        files: Vec::new(),
        labels: Vec::new(),
        is_test: Vec::new(),
        classes: Vec::new(),
    };
    let unlabeled_dirs;
    if train_dir.is_dir() {
        let (train, classes) = class_tree(&train_dir, None)?;
        let test_dir = dir.join("test");
        if !test_dir.is_dir() {
            return Err(DataError::Invalid(format!(
                "{}: has train/ but no test/ folder; add DIR/test/<class>/* or use one DIR/<class>/* tree",
                dir.display()
            )));
        }
        let (test, _) = class_tree(&test_dir, Some(&classes))?;
        for (f, c) in train {
            out.files.push(f);
            out.labels.push(Some(c));
            out.is_test.push(false);
        }
        for (f, c) in test {
            out.files.push(f);
            out.labels.push(Some(c));
            out.is_test.push(true);
        }
        out.classes = classes;
        unlabeled_dirs = vec![dir.join(UNLABELED), train_dir.join(UNLABELED)];
    } else {
        let (all, classes) = class_tree(dir, None)?;
        let labels: Vec<Option<usize>> = all.iter().map(|(_, c)| Some(*c)).collect();
        let (_, held) = stratified_holdout(
            &labels,
            classes.len(),
            opts.test_fraction,
            &mut Rng::stream(opts.split_seed, "folder/test-split"),
        )?;
        let mut is_test = vec![false; all.len()];
        for i in held {
            is_test[i] = true;
        }
        for ((f, c), t) in all.into_iter().zip(is_test) {
            out.files.push(f);
            out.labels.push(Some(c));
            out.is_test.push(t);
        }
        out.classes = classes;
        unlabeled_dirs = vec![dir.join(UNLABELED)];
    }
    if out.classes.len() < 2 {
        return Err(DataError::Invalid(format!(
            "{}: found {} class folder(s); classification needs at least 2",
            dir.display(),
            out.classes.len()
        )));
    }
    for u in unlabeled_dirs.iter().filter(|u| u.is_dir()) {
        for f in image_files(u)? {
            out.files.push(f);
            out.labels.push(None);
            out.is_test.push(false);
        }
    }
    Ok(out)
}

/// A fingerprint of the listing and the target size (FNV-1a over paths, sizes, times).
fn fingerprint(listing: &Listing, size: usize) -> Result<u64> {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3);
        }
    };
    eat(&(size as u64).to_le_bytes());
    for (i, f) in listing.files.iter().enumerate() {
        let meta = std::fs::metadata(f).map_err(DataError::io(f))?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as u64);
        eat(f.to_string_lossy().as_bytes());
        eat(&meta.len().to_le_bytes());
        eat(&mtime.to_le_bytes());
        eat(&[u8::from(listing.is_test[i])]);
        eat(&listing.labels[i]
            .map_or(u64::MAX, |l| l as u64)
            .to_le_bytes());
    }
    Ok(h)
}

mod cache {
    //! The decoded-image cache file: a magic line, the CRC-32 of everything after it (hex), a
    //! JSON header and the raw pixels. A file that fails any check is not used.
    use super::FolderData;
    use crate::image::ImageSet;
    use serde::{Deserialize, Serialize};
    use std::io::Write;
    use std::path::Path;

    const MAGIC: &[u8] = b"METAPSEUDO-IMAGE-CACHE 2\n";
    /// The largest image side a cache may declare.
    const MAX_SIZE: usize = 1 << 14;

    #[derive(Serialize, Deserialize)]
    struct Header {
        fingerprint: u64,
        size: usize,
        channels: usize,
        classes: Vec<String>,
        train_labels: Vec<Option<usize>>,
        test_labels: Vec<Option<usize>>,
        skipped: Vec<std::path::PathBuf>,
    }

    /// Why a cache file cannot be used, or `Ok(None)` when it belongs to other images
    /// (another fingerprint).
    pub fn load(path: &Path, fingerprint: u64) -> Result<Option<FolderData>, String> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.to_string()),
        };
        let rest = bytes
            .strip_prefix(MAGIC)
            .ok_or("not a cache file of this version")?;
        let nl = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or("no checksum line")?;
        let body = &rest[nl + 1..];
        if rest[..nl] != *format!("{:08x}", crc32fast::hash(body)).as_bytes() {
            return Err("its checksum does not match its content".into());
        }
        let nl = body.iter().position(|&b| b == b'\n').ok_or("no header")?;
        let header: Header =
            serde_json::from_slice(&body[..nl]).map_err(|e| format!("its header: {e}"))?;
        if header.fingerprint != fingerprint {
            return Ok(None);
        }
        let sane_labels =
            |labels: &[Option<usize>]| labels.iter().flatten().all(|&l| l < header.classes.len());
        if !matches!(header.channels, 1 | 3)
            || !(1..=MAX_SIZE).contains(&header.size)
            || !sane_labels(&header.train_labels)
            || !sane_labels(&header.test_labels)
        {
            return Err("its header holds impossible sizes or labels".into());
        }
        let pixels = &body[nl + 1..];
        let per = header.size * header.size * header.channels;
        let n_train = header.train_labels.len();
        let images = n_train.checked_add(header.test_labels.len());
        if images.and_then(|n| n.checked_mul(per)) != Some(pixels.len()) {
            return Err("its pixels do not fill the images its header declares".into());
        }
        let set = |px: &[u8], labels: Vec<Option<usize>>| ImageSet {
            pixels: px.to_vec(),
            height: header.size,
            width: header.size,
            channels: header.channels,
            labels,
        };
        Ok(Some(FolderData {
            train: set(&pixels[..per * n_train], header.train_labels.clone()),
            test: set(&pixels[per * n_train..], header.test_labels.clone()),
            classes: header.classes,
            skipped: header.skipped,
            from_cache: true,
        }))
    }

    /// Writes the cache atomically (temporary file, fsync, rename); a failed write removes
    /// its temporary file.
    pub fn save(path: &Path, fingerprint: u64, data: &FolderData) -> std::io::Result<()> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let header = Header {
            fingerprint,
            size: data.train.height,
            channels: data.train.channels,
            classes: data.classes.clone(),
            train_labels: data.train.labels.clone(),
            test_labels: data.test.labels.clone(),
            skipped: data.skipped.clone(),
        };
        let mut head = serde_json::to_vec(&header)?;
        head.push(b'\n');
        let mut crc = crc32fast::Hasher::new();
        for part in [&head, &data.train.pixels, &data.test.pixels] {
            crc.update(part);
        }
        let tmp = path.with_extension("tmp");
        let write = || -> std::io::Result<()> {
            let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
            f.write_all(MAGIC)?;
            writeln!(f, "{:08x}", crc.clone().finalize())?;
            for part in [&head, &data.train.pixels, &data.test.pixels] {
                f.write_all(part)?;
            }
            f.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            std::fs::rename(&tmp, path)
        };
        write().inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
    }
}

/// The cache file for `dir` at `size` inside `cache_dir`.
pub fn cache_path(cache_dir: &Path, dir: &Path, size: usize) -> PathBuf {
    let name = name_of(dir);
    cache_dir.join(format!(
        "{}-{size}px.mpcache",
        if name.is_empty() { "images" } else { &name }
    ))
}

/// Reads an image folder.
pub fn read_folder(dir: &Path, opts: &FolderOptions) -> Result<FolderData> {
    let listing = list(dir, opts)?;
    let first = listing.files.first().ok_or_else(|| {
        DataError::Invalid(format!("{}: no JPEG or PNG images found", dir.display()))
    })?;
    let size = target_size(first, opts)?;
    // Stat every file for the cache key only when there is a cache to check.
    let cache = match &opts.cache_dir {
        Some(c) => Some((cache_path(c, dir, size), fingerprint(&listing, size)?)),
        None => None,
    };
    if let Some((path, fp)) = &cache {
        match cache::load(path, *fp) {
            Ok(Some(data)) => return Ok(data),
            Ok(None) => {}
            Err(why) => eprintln!(
                "warning: the image cache {} is not used ({why}); decoding the images again",
                path.display()
            ),
        }
    }
    let decoded = decode_all(&listing.files, size, opts.threads, opts.skip_bad_images)?;
    let channels = if decoded.iter().flatten().any(|(_, c)| *c == 3) {
        3
    } else {
        1
    };
    let (mut train, mut test, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
    for (i, d) in decoded.into_iter().enumerate() {
        match d {
            Some(img) if listing.is_test[i] => test.push((img, listing.labels[i])),
            Some(img) => train.push((img, listing.labels[i])),
            None => skipped.push(listing.files[i].clone()),
        }
    }
    let data = FolderData {
        train: assemble(train, size, channels),
        test: assemble(test, size, channels),
        classes: listing.classes,
        skipped,
        from_cache: false,
    };
    if let Some((p, fp)) = &cache
        && let Err(e) = cache::save(p, *fp, &data)
    {
        eprintln!("warning: cannot write the image cache {}: {e}", p.display());
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> FolderOptions {
        FolderOptions {
            size: None,
            test_fraction: 0.25,
            split_seed: 1,
            skip_bad_images: false,
            cache_dir: None,
            threads: 2,
        }
    }

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("mp-folder-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// Writes a `w`x`h` RGB PNG whose every pixel is `rgb`.
    fn png(path: &Path, w: u32, h: u32, rgb: [u8; 3]) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        image::RgbImage::from_pixel(w, h, image::Rgb(rgb))
            .save(path)
            .unwrap();
    }

    #[test]
    fn split_layout_with_unlabeled_resize_and_cache() {
        let d = tmp("split");
        png(&d.join("train/cat/a.png"), 8, 8, [200, 10, 10]);
        png(&d.join("train/cat/b.png"), 8, 8, [190, 10, 10]);
        png(&d.join("train/dog/c.png"), 16, 12, [10, 10, 200]);
        png(&d.join("test/dog/d.png"), 8, 8, [10, 10, 210]);
        png(&d.join("unlabeled/e.png"), 8, 8, [1, 2, 3]);
        std::fs::write(d.join("train/cat/notes.txt"), "ignored").unwrap();
        let mut o = opts();
        o.cache_dir = Some(d.join("cache"));
        let data = read_folder(&d, &o).unwrap();
        assert_eq!(data.classes, vec!["cat", "dog"]);
        assert_eq!((data.train.len(), data.test.len()), (4, 1));
        assert_eq!(
            (data.train.height, data.train.width, data.train.channels),
            (8, 8, 3)
        );
        assert_eq!(data.train.labels, vec![Some(0), Some(0), Some(1), None]);
        assert_eq!(data.test.labels, vec![Some(1)]);
        // The 16x12 image is resized to 8x8 and keeps its flat colour.
        assert_eq!(&data.train.image(2)[..3], &[10, 10, 200]);
        assert_eq!(&data.train.image(3)[..3], &[1, 2, 3]);
        assert!(!data.from_cache);
        let again = read_folder(&d, &o).unwrap();
        assert!(again.from_cache);
        assert_eq!(
            (again.train.clone(), again.test.clone()),
            (data.train.clone(), data.test)
        );
        // Every single-bit flip of the cache file is caught, none silently changes a label.
        let path = cache_path(&d.join("cache"), &d, 8);
        let good = std::fs::read(&path).unwrap();
        let fp = fingerprint(&list(&d, &o).unwrap(), 8).unwrap();
        for bit in 0..good.len() * 8 {
            let mut bad = good.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            std::fs::write(&path, &bad).unwrap();
            assert!(
                cache::load(&path, fp).is_err(),
                "bit {bit} flipped unnoticed"
            );
        }
        // A header that declares 2 channels is refused even with a matching checksum.
        let text = String::from_utf8_lossy(&good).into_owned();
        let body_at = good.iter().position(|&b| b == b'\n').unwrap() + 10;
        let mut body = good[body_at..].to_vec();
        let head = String::from_utf8_lossy(&body[..body.iter().position(|&b| b == b'\n').unwrap()])
            .replace("\"channels\":3", "\"channels\":2");
        assert!(text.contains("\"channels\":3"));
        let nl = body.iter().position(|&b| b == b'\n').unwrap();
        body.splice(..nl, head.bytes());
        let mut crafted = good[..body_at - 9].to_vec();
        crafted.extend(format!("{:08x}\n", crc32fast::hash(&body)).bytes());
        crafted.extend(&body);
        std::fs::write(&path, &crafted).unwrap();
        let e = cache::load(&path, fp).unwrap_err();
        assert!(e.contains("impossible sizes"), "{e}");
        // A damaged cache is decoded again and rewritten.
        assert!(!read_folder(&d, &o).unwrap().from_cache);
        assert!(read_folder(&d, &o).unwrap().from_cache);
        // Touching the folder invalidates the cache.
        png(&d.join("train/dog/f.png"), 8, 8, [0, 0, 100]);
        let changed = read_folder(&d, &o).unwrap();
        assert!(!changed.from_cache);
        assert_eq!(changed.train.len(), 5);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn one_tree_is_split_by_a_seeded_fraction_and_grey_stays_grey() {
        let d = tmp("tree");
        for k in 0..8 {
            for (class, v) in [("a", 20u8), ("b", 220)] {
                let p = d.join(class).join(format!("{k}.png"));
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                image::GrayImage::from_pixel(4, 4, image::Luma([v]))
                    .save(&p)
                    .unwrap();
            }
        }
        let data = read_folder(&d, &opts()).unwrap();
        assert_eq!((data.train.len(), data.test.len()), (12, 4));
        assert_eq!(data.train.channels, 1);
        assert_eq!(
            crate::Examples::from(data.test.clone()).class_counts(2),
            vec![2, 2]
        );
        assert_eq!(read_folder(&d, &opts()).unwrap(), data);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn bad_inputs_name_the_file_or_folder() {
        let d = tmp("bad");
        png(&d.join("a/1.png"), 4, 4, [1, 1, 1]);
        png(&d.join("a/2.png"), 4, 4, [1, 1, 1]);
        png(&d.join("b/1.png"), 4, 4, [9, 9, 9]);
        png(&d.join("b/3.png"), 4, 4, [9, 9, 9]);
        std::fs::write(d.join("b/broken.jpg"), b"\xFF\xD8 not really a jpeg").unwrap();
        let err = read_folder(&d, &opts()).unwrap_err().to_string();
        assert!(
            err.contains("broken.jpg") && err.contains("--skip-bad-images"),
            "{err}"
        );
        let mut skip = opts();
        skip.skip_bad_images = true;
        let data = read_folder(&d, &skip).unwrap();
        assert_eq!(data.skipped.len(), 1);
        assert_eq!(data.train.len() + data.test.len(), 4);
        std::fs::create_dir_all(d.join("c")).unwrap();
        let err = read_folder(&d, &skip).unwrap_err().to_string();
        assert!(
            err.contains("c: class folder has no JPEG or PNG images"),
            "{err}"
        );
        let err = read_folder(&d.join("missing"), &opts())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("missing") && err.contains("not a folder"),
            "{err}"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}
