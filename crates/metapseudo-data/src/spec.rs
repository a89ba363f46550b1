//! The `--data` specification, parsed once: a built-in set (`moons`, `digits`) or
//! `KIND:PATH`, and the registry of data formats that load each kind. Each format reads
//! through its own file (`idx.rs`, `csv.rs`, ...); adding one is that file and its entry here.

use crate::csv::{CsvOptions, CsvTest};
use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use crate::folder::FolderOptions;
use crate::image::ImageSet;
use crate::moons::MoonsOptions;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// What a format reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Nothing: the set is generated or built in (`moons`, `digits`).
    BuiltIn,
    /// A file (`csv:PATH`).
    File,
    /// A folder (`idx:DIR`, ...).
    Dir,
}

/// One data format: its kind, what it reads, and how to load it.
pub struct DataFormat {
    /// The kind, as `--data` spells it (`idx` in `idx:DIR`).
    pub kind: &'static str,
    /// What the path names.
    pub source: Source,
    /// One line for help texts.
    pub about: &'static str,
    /// The preset the program chooses for this kind of data when none is named and the run
    /// computes on a GPU.
    pub preset: &'static str,
    /// The preset it chooses when the run computes on the CPU (sized for a few cores).
    pub cpu_preset: &'static str,
    /// Loads the set (`path` is `None` for built-in sets).
    pub load: fn(Option<&Path>, &LoadOptions) -> Result<Dataset>,
}

/// Every data format, one line each; each reads through its own file's reader.
pub const FORMATS: &[&DataFormat] = &[
    &MOONS, &DIGITS, &CSV, &IDX, &CIFAR10, &CIFAR100, &SVHN, &FOLDER,
];

/// The options the formats read, each used by the formats it names.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// `moons`: how to generate the set.
    pub moons: MoonsOptions,
    /// `csv`: label column and header.
    pub csv: CsvOptions,
    /// `csv`: where the test rows come from.
    pub csv_test: CsvTest,
    /// `folder`: image size, split, bad images, cache. A cache folder of `auto` is resolved
    /// by [`LoadOptions::folder_cache_auto`].
    pub folder: FolderOptions,
    /// `folder`: keep the decoded images in `DIR/.metapseudo-cache`.
    pub folder_cache_auto: bool,
    /// `cifar100`: fine or coarse labels.
    pub cifar100_label: crate::cifar::Cifar100Label,
    /// `svhn`: add `extra_32x32.mat` as unlabeled images.
    pub svhn_extra: bool,
}

/// A parsed `--data` specification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataSpec {
    kind: &'static str,
    path: Option<PathBuf>,
}

impl DataSpec {
    /// The format that reads it.
    pub fn format(&self) -> &'static DataFormat {
        FORMATS
            .iter()
            .find(|f| f.kind == self.kind)
            .expect("a parsed spec names a registered format")
    }

    /// Its kind (`moons`, `idx`, ...).
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The file or folder it reads, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Loads the data set; a file or folder that does not exist is named as such.
    pub fn load(&self, opts: &LoadOptions) -> Result<Dataset> {
        let format = self.format();
        if let Some(path) = self.path() {
            let (exists, what) = match format.source {
                Source::Dir => (path.is_dir(), "folder"),
                _ => (path.is_file(), "file"),
            };
            if !exists {
                return Err(DataError::Invalid(format!(
                    "data {what} {} does not exist (--data {self})",
                    path.display()
                )));
            }
        }
        (format.load)(self.path(), opts)
    }

    /// A short name for folder names: a CSV file's stem, else the whole specification.
    pub fn short_name(&self) -> String {
        match (&self.path, self.format().source) {
            (Some(p), Source::File) => p.file_stem().map_or_else(
                || self.kind.to_string(),
                |s| s.to_string_lossy().into_owned(),
            ),
            _ => self.to_string(),
        }
    }
}

/// The valid specifications, for messages: `moons, digits, csv:PATH, idx:DIR, ...`.
pub fn valid_specs() -> String {
    FORMATS
        .iter()
        .map(|f| match f.source {
            Source::BuiltIn => f.kind.to_string(),
            Source::File => format!("{}:PATH", f.kind),
            Source::Dir => format!("{}:DIR", f.kind),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl FromStr for DataSpec {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self> {
        let (kind, path) = match s.split_once(':') {
            Some((kind, path)) => (kind, Some(path)),
            None => (s, None),
        };
        let unknown =
            || DataError::Invalid(format!("unknown data '{s}'; valid data: {}", valid_specs()));
        let format = FORMATS
            .iter()
            .find(|f| f.kind == kind)
            .ok_or_else(unknown)?;
        match (format.source, path) {
            (Source::BuiltIn, None) => Ok(Self {
                kind: format.kind,
                path: None,
            }),
            (Source::File | Source::Dir, Some(p)) if !p.is_empty() => Ok(Self {
                kind: format.kind,
                path: Some(PathBuf::from(p)),
            }),
            (Source::BuiltIn, Some(_)) => Err(DataError::Invalid(format!(
                "data '{s}': '{kind}' is built in and takes no path; write --data {kind}"
            ))),
            _ => Err(DataError::Invalid(format!(
                "data '{s}' needs a path: {kind}:{}",
                if format.source == Source::File {
                    "PATH"
                } else {
                    "DIR"
                }
            ))),
        }
    }
}

impl fmt::Display for DataSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(p) => write!(f, "{}:{}", self.kind, p.display()),
            None => f.write_str(self.kind),
        }
    }
}

impl serde::Serialize for DataSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for DataSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = <String as serde::Deserialize>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The path of a format that reads one (the registry only calls such formats with one).
pub(crate) fn required(path: Option<&Path>) -> &Path {
    path.expect("the spec of a file or folder format carries its path")
}

/// An image data set named after its folder, from its train and test images and classes.
pub(crate) fn image_dataset(
    dir: &Path,
    kind: &str,
    (train, test, classes): (ImageSet, ImageSet, Vec<String>),
) -> Dataset {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| kind.to_string());
    let shape = vec![train.channels, train.height, train.width];
    Dataset::new(name, train, test, classes, shape)
}

/// The `moons` data format: the set generated from `LoadOptions::moons`.
const MOONS: DataFormat = DataFormat {
    kind: "moons",
    source: Source::BuiltIn,
    about: "two interleaving half circles, generated and seeded (the MPL paper's figure 1)",
    preset: "moons",
    cpu_preset: "moons",
    load: |_, opts| Ok(crate::moons::moons(&opts.moons)),
};

/// The `digits` data format: the embedded UCI digits.
const DIGITS: DataFormat = DataFormat {
    kind: "digits",
    source: Source::BuiltIn,
    about: "the UCI 8x8 handwritten digits, embedded (no download)",
    preset: "digits",
    cpu_preset: "digits",
    load: |_, _| crate::digits::digits(),
};

/// The `csv:PATH` data format: numeric columns and a label column.
const CSV: DataFormat = DataFormat {
    kind: "csv",
    source: Source::File,
    about: "numeric columns and a label column; an empty label means unlabeled",
    preset: "tabular",
    cpu_preset: "tabular",
    load: |path, opts| crate::csv::csv_dataset(required(path), &opts.csv, &opts.csv_test),
};

/// The `idx:DIR` data format: MNIST-style IDX files; classes are the label numbers that occur.
const IDX: DataFormat = DataFormat {
    kind: "idx",
    source: Source::Dir,
    about: "MNIST-style IDX files (MNIST, Fashion-MNIST, KMNIST), gzipped or not",
    preset: "fashion-cpu",
    cpu_preset: "fashion-cpu",
    load: |path, _| {
        let dir = required(path);
        let (mut train, mut test) = crate::idx::read_idx_dir(dir)?;
        let classes = crate::idx::number_classes(&mut train, &mut test);
        Ok(image_dataset(dir, "idx", (train, test, classes)))
    },
};

/// The `cifar10:DIR` data format: CIFAR-10's binary batches.
const CIFAR10: DataFormat = DataFormat {
    kind: "cifar10",
    source: Source::Dir,
    about: "CIFAR-10's original binary batches",
    preset: "cifar10-4k-mpl",
    cpu_preset: "fashion-cpu",
    load: |path, _| {
        let dir = required(path);
        let (train, test) = crate::cifar::read_cifar10(dir)?;
        let classes = crate::cifar::CIFAR10_CLASSES
            .iter()
            .map(|c| c.to_string())
            .collect();
        Ok(image_dataset(dir, "cifar10", (train, test, classes)))
    },
};

/// The `cifar100:DIR` data format: CIFAR-100's binary batches, fine or coarse labels.
const CIFAR100: DataFormat = DataFormat {
    kind: "cifar100",
    source: Source::Dir,
    about: "CIFAR-100's original binary batches (fine or coarse labels)",
    preset: "cifar100-10k-mpl",
    cpu_preset: "fashion-cpu",
    load: |path, opts| {
        let dir = required(path);
        let label = opts.cifar100_label;
        let (train, test) = crate::cifar::read_cifar100(dir, label)?;
        let classes = crate::cifar::cifar100_classes(dir, label);
        Ok(image_dataset(dir, "cifar100", (train, test, classes)))
    },
};

/// The `svhn:DIR` data format: SVHN's `.mat` files.
const SVHN: DataFormat = DataFormat {
    kind: "svhn",
    source: Source::Dir,
    about: "SVHN's train_32x32.mat and test_32x32.mat (extra_32x32.mat as unlabeled)",
    preset: "svhn-1k-mpl",
    cpu_preset: "fashion-cpu",
    load: |path, opts| {
        let dir = required(path);
        let (train, test) = crate::svhn::read_svhn(dir, opts.svhn_extra)?;
        Ok(image_dataset(
            dir,
            "svhn",
            (train, test, crate::svhn::svhn_classes()),
        ))
    },
};

/// The `folder:DIR` data format: JPEG/PNG images in one sub-folder per class.
const FOLDER: DataFormat = DataFormat {
    kind: "folder",
    source: Source::Dir,
    about: "JPEG/PNG images in one sub-folder per class, any size",
    preset: "cifar10-4k-mpl",
    cpu_preset: "fashion-cpu",
    load: |path, opts| {
        let dir = required(path);
        let mut folder = opts.folder.clone();
        if opts.folder_cache_auto {
            folder.cache_dir = Some(dir.join(".metapseudo-cache"));
        }
        let data = crate::folder::read_folder(dir, &folder)?;
        if let Some(first) = data.skipped.first() {
            eprintln!(
                "warning: skipped {} undecodable image(s) in {} (first: {})",
                data.skipped.len(),
                dir.display(),
                first.display()
            );
        }
        Ok(image_dataset(
            dir,
            "folder",
            (data.train, data.test, data.classes),
        ))
    },
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_once_into_their_format() {
        let s: DataSpec = "idx:data/fashion".parse().unwrap();
        assert_eq!(s.kind(), "idx");
        assert_eq!(s.path(), Some(Path::new("data/fashion")));
        assert_eq!(s.format().preset, "fashion-cpu");
        assert_eq!(s.to_string(), "idx:data/fashion");
        assert_eq!("moons".parse::<DataSpec>().unwrap().path(), None);
        assert_eq!(
            "csv:dir/points.csv"
                .parse::<DataSpec>()
                .unwrap()
                .short_name(),
            "points"
        );
        for bad in ["mnist:dir", "moons:x", "idx:", "csv", "digit"] {
            let e = bad.parse::<DataSpec>().unwrap_err().to_string();
            assert!(e.contains(bad), "{bad}: {e}");
        }
        let e = "mnist:dir".parse::<DataSpec>().unwrap_err().to_string();
        assert!(e.contains("idx:DIR") && e.contains("folder:DIR"), "{e}");
    }

    #[test]
    fn every_kind_is_registered_once() {
        for f in FORMATS {
            assert_eq!(FORMATS.iter().filter(|g| g.kind == f.kind).count(), 1);
        }
    }
}
