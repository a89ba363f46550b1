//! In-memory data sets: tabular rows or decoded `u8` images, with optional class labels.

use crate::error::{DataError, Result};
use crate::image::ImageSet;
use crate::rng::Rng;
use crate::split::{LabelBudget, complement, select_labeled};
use std::sync::Arc;

/// A list of samples, each a row of `dim` features and an optional class index.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Samples {
    /// Row-major features, `len() * dim` values.
    pub features: Vec<f32>,
    /// Number of features per sample.
    pub dim: usize,
    /// Class index per sample; `None` for samples that come without a label.
    pub labels: Vec<Option<usize>>,
}

impl Samples {
    /// An empty set of `dim`-feature samples.
    pub fn new(dim: usize) -> Self {
        Self {
            features: Vec::new(),
            dim,
            labels: Vec::new(),
        }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Features of sample `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.features[i * self.dim..(i + 1) * self.dim]
    }

    /// Appends one sample.
    pub fn push(&mut self, row: &[f32], label: Option<usize>) {
        debug_assert_eq!(row.len(), self.dim);
        self.features.extend_from_slice(row);
        self.labels.push(label);
    }

    /// The samples at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Samples {
        let mut out = Samples::new(self.dim);
        for &i in indices {
            out.push(self.row(i), self.labels[i]);
        }
        out
    }
}

/// The examples of one split: tabular rows or images kept as decoded `u8`.
#[derive(Clone, Debug, PartialEq)]
pub enum Examples {
    /// Rows of `f32` features.
    Table(Samples),
    /// Images, HWC `u8`.
    Images(ImageSet),
}

impl From<Samples> for Examples {
    fn from(s: Samples) -> Self {
        Self::Table(s)
    }
}

impl From<ImageSet> for Examples {
    fn from(s: ImageSet) -> Self {
        Self::Images(s)
    }
}

impl Examples {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels().len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Class of each example (`None`: unlabeled).
    pub fn labels(&self) -> &[Option<usize>] {
        match self {
            Self::Table(s) => &s.labels,
            Self::Images(s) => &s.labels,
        }
    }

    /// Features per example as the network sees them (`channels * height * width` for images).
    pub fn feature_len(&self) -> usize {
        match self {
            Self::Table(s) => s.dim,
            Self::Images(s) => s.image_len(),
        }
    }

    /// The rows, when these are tabular.
    pub fn table(&self) -> Option<&Samples> {
        match self {
            Self::Table(s) => Some(s),
            Self::Images(_) => None,
        }
    }

    /// The images, when these are images.
    pub fn images(&self) -> Option<&ImageSet> {
        match self {
            Self::Images(s) => Some(s),
            Self::Table(_) => None,
        }
    }

    /// The examples at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Examples {
        match self {
            Self::Table(s) => Self::Table(s.select(indices)),
            Self::Images(s) => Self::Images(s.select(indices)),
        }
    }

    /// Writes example `i`'s raw features into `out` (`feature_len()` values): the row itself,
    /// or the image channel-planar (CHW) scaled to `[0, 1]`.
    pub fn write_features(&self, i: usize, out: &mut [f32]) {
        match self {
            Self::Table(s) => out.copy_from_slice(s.row(i)),
            Self::Images(s) => s.write_chw(s.image(i), out),
        }
    }

    /// Number of examples of each of `num_classes` classes (unlabeled ones are not counted).
    pub fn class_counts(&self, num_classes: usize) -> Vec<usize> {
        let mut counts = vec![0; num_classes];
        for c in self.labels().iter().flatten() {
            counts[*c] += 1;
        }
        counts
    }

    /// Checks that the storage matches the example count.
    fn consistent(&self) -> bool {
        match self {
            Self::Table(s) => s.features.len() == s.len() * s.dim,
            Self::Images(s) => s.pixels.len() == s.len() * s.image_len(),
        }
    }
}

/// A data set ready for training: a training pool, a fixed labeled test split and class names.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// Short name, e.g. `moons` or the CSV file name.
    pub name: String,
    /// The training pool; examples may lack labels. Shared with the batch workers.
    pub train: Arc<Examples>,
    /// The test split; every example is labeled. It never depends on the run's seed.
    pub test: Arc<Examples>,
    /// Class names, indexed by class.
    pub classes: Vec<String>,
    /// Shape of one example's features (`[dim]` for tabular data, `[channels, height, width]`
    /// for images).
    pub sample_shape: Vec<usize>,
    /// Attribution to show wherever the data is used.
    pub credit: Option<String>,
    /// The names of the features, from the file's header; empty when it has none.
    pub feature_names: Vec<String>,
    /// The factor that turns a raw row of this data's values (a CSV row of its features or
    /// pixels) into the features the network reads: 1 for tables, 1/255 for images.
    pub raw_scale: f32,
}

impl Dataset {
    /// A data set from its parts.
    pub fn new(
        name: impl Into<String>,
        train: impl Into<Examples>,
        test: impl Into<Examples>,
        classes: Vec<String>,
        sample_shape: Vec<usize>,
    ) -> Self {
        let raw_scale = if sample_shape.len() == 3 {
            1.0 / 255.0
        } else {
            1.0
        };
        Self {
            name: name.into(),
            train: Arc::new(train.into()),
            test: Arc::new(test.into()),
            classes,
            sample_shape,
            credit: None,
            feature_names: Vec::new(),
            raw_scale,
        }
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.classes.len()
    }

    /// Number of features per example.
    pub fn dim(&self) -> usize {
        self.train.feature_len()
    }

    /// This data set with its test split replaced by a development split: `per_class` labeled
    /// training samples of each class, drawn with `seed` and taken out of the training pool.
    /// Options chosen on it have not seen the test set. The name gains ` [dev N/class]`.
    pub fn with_dev_split(&self, per_class: usize, seed: u64) -> Result<Dataset> {
        let labels = self.train.labels();
        let dev = select_labeled(
            labels,
            &self.classes,
            LabelBudget::PerClass(per_class),
            &mut Rng::stream(seed, "dev-split"),
        )
        .map_err(|e| DataError::Invalid(format!("the development split: {e}")))?;
        let kept = complement(labels.len(), &dev);
        Ok(Dataset {
            name: dev_split_name(&self.name, per_class),
            train: Arc::new(self.train.select(&kept)),
            test: Arc::new(self.train.select(&dev)),
            ..self.clone()
        })
    }

    /// The names of the classes the test split holds no sample of (their accuracy cannot be
    /// measured).
    pub fn classes_missing_from_test(&self) -> Vec<&str> {
        let mut seen = vec![false; self.num_classes()];
        for &c in self.test.labels().iter().flatten() {
            if let Some(s) = seen.get_mut(c) {
                *s = true;
            }
        }
        self.classes
            .iter()
            .zip(seen)
            .filter(|(_, s)| !s)
            .map(|(n, _)| n.as_str())
            .collect()
    }

    /// Checks the invariants every loader must meet.
    pub fn validate(&self) -> Result<()> {
        let c = self.num_classes();
        if c < 2 {
            return Err(DataError::Invalid(format!(
                "data set '{}' has {c} class(es); classification needs at least 2",
                self.name
            )));
        }
        if self.test.is_empty() {
            return Err(DataError::Invalid(format!(
                "data set '{}' has an empty test split",
                self.name
            )));
        }
        for (split, s) in [("train", &self.train), ("test", &self.test)] {
            if !s.consistent() || s.feature_len() != self.dim() {
                return Err(DataError::Invalid(format!(
                    "data set '{}': {split} features do not match its sample count",
                    self.name
                )));
            }
            if let Some(bad) = s.labels().iter().flatten().find(|&&l| l >= c) {
                return Err(DataError::Invalid(format!(
                    "data set '{}': {split} label {bad} out of range for {c} classes",
                    self.name
                )));
            }
        }
        if self.test.labels().iter().any(Option::is_none) {
            return Err(DataError::Invalid(format!(
                "data set '{}': every test sample needs a label",
                self.name
            )));
        }
        Ok(())
    }
}

/// `name` marked as evaluated on a development split of `per_class` samples per class:
/// `NAME [dev N/class]` (data sets here, data specifications in run summaries).
pub fn dev_split_name(name: &str, per_class: usize) -> String {
    format!("{name} [dev {per_class}/class]")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_images() -> Dataset {
        // 12 one-pixel grey images: image i has value i and class i % 3.
        let train = ImageSet {
            pixels: (0..12).collect(),
            height: 1,
            width: 1,
            channels: 1,
            labels: (0..12).map(|i| Some(i % 3)).collect(),
        };
        let test = train.select(&[0, 1, 2]);
        let classes = vec!["a".into(), "b".into(), "c".into()];
        Dataset::new("tiny", train, test, classes, vec![1, 1, 1])
    }

    #[test]
    fn classes_missing_from_the_test_split_are_named() {
        let mut ds = tiny_images();
        assert!(ds.classes_missing_from_test().is_empty());
        ds.test = Arc::new(ds.train.select(&[0, 3]));
        assert_eq!(ds.classes_missing_from_test(), ["b", "c"]);
    }

    #[test]
    fn a_dev_split_takes_per_class_samples_out_of_training_and_replaces_test() {
        let ds = tiny_images();
        let dev = ds.with_dev_split(2, 7).unwrap();
        dev.validate().unwrap();
        assert_eq!(dev.name, "tiny [dev 2/class]");
        assert_eq!(dev.test.len(), 6);
        assert_eq!(dev.train.len(), 6);
        assert_eq!(dev.test.class_counts(3), vec![2, 2, 2]);
        assert_eq!(dev.train.class_counts(3), vec![2, 2, 2]);
        // Every image keeps its label and lands in exactly one of the two splits.
        let pixels = |e: &Examples| e.images().unwrap().pixels.clone();
        let mut all: Vec<u8> = pixels(&dev.train);
        all.extend(pixels(&dev.test));
        all.sort_unstable();
        assert_eq!(all, (0..12).collect::<Vec<u8>>());
        for e in [&dev.train, &dev.test] {
            let imgs = e.images().unwrap();
            for (p, l) in imgs.pixels.iter().zip(&imgs.labels) {
                assert_eq!(Some(usize::from(*p) % 3), *l);
            }
        }
        // The draw depends on the seed only.
        assert_eq!(ds.with_dev_split(2, 7).unwrap(), dev);
        assert_ne!(ds.with_dev_split(2, 8).unwrap().test, dev.test);
    }

    #[test]
    fn a_dev_split_larger_than_a_class_is_an_error_naming_the_class() {
        let e = tiny_images().with_dev_split(5, 1).unwrap_err().to_string();
        assert!(e.contains("development split"), "{e}");
        assert!(e.contains("'a'"), "{e}");
    }
}
