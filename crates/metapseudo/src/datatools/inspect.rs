//! `metapseudo data inspect`: counts per split and class, example shape, mean and std.

use metapseudo_data::Dataset;
use metapseudo_data::normalize::Normalizer;
use serde::Serialize;

/// One class's counts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClassCount {
    /// Class name.
    pub name: String,
    /// Labeled training examples.
    pub train: usize,
    /// Test examples.
    pub test: usize,
}

/// What `data inspect` reports.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DataReport {
    /// Data set name.
    pub name: String,
    /// The `--data` specification.
    pub spec: String,
    /// `images` or `table`.
    pub kind: String,
    /// Shape of one example: `[channels, height, width]` or `[features]`.
    pub shape: Vec<usize>,
    /// Training pool size.
    pub train: usize,
    /// Training examples without a label.
    pub train_unlabeled: usize,
    /// Test split size.
    pub test: usize,
    /// Counts per class.
    pub classes: Vec<ClassCount>,
    /// Mean of the training pool per channel (images, pixels scaled to [0, 1]) or feature.
    pub mean: Vec<f32>,
    /// Standard deviation, likewise.
    pub std: Vec<f32>,
    /// Attribution.
    pub credit: Option<String>,
}

impl DataReport {
    /// Counts and statistics of `ds`, loaded from `spec`.
    pub fn new(ds: &Dataset, spec: &str) -> Self {
        let n = ds.num_classes();
        let (train_counts, test_counts) = (ds.train.class_counts(n), ds.test.class_counts(n));
        let stats = Normalizer::fit(&ds.train);
        Self {
            name: ds.name.clone(),
            spec: spec.to_string(),
            kind: if ds.train.images().is_some() {
                "images".into()
            } else {
                "table".into()
            },
            shape: ds.sample_shape.clone(),
            train: ds.train.len(),
            train_unlabeled: ds.train.labels().iter().filter(|l| l.is_none()).count(),
            test: ds.test.len(),
            classes: ds
                .classes
                .iter()
                .enumerate()
                .map(|(k, name)| ClassCount {
                    name: name.clone(),
                    train: train_counts[k],
                    test: test_counts[k],
                })
                .collect(),
            mean: stats.mean,
            std: stats.std,
            credit: ds.credit.clone(),
        }
    }

    /// A plain-text report.
    pub fn text(&self) -> String {
        let fmt = |v: &[f32]| {
            let shown: Vec<String> = v.iter().take(8).map(|x| format!("{x:.4}")).collect();
            let more = if v.len() > 8 {
                format!(" ... ({} values; --json lists all)", v.len())
            } else {
                String::new()
            };
            format!("{}{more}", shown.join(" "))
        };
        let mut s = format!("{} ({})\n", self.name, self.spec);
        if self.kind == "images" {
            let c = self.shape[0];
            s += &format!(
                "images: {}x{} pixels, {c} channel{} ({})\n",
                self.shape[1],
                self.shape[2],
                if c == 1 { "" } else { "s" },
                if c == 1 { "grey" } else { "RGB" }
            );
        } else {
            s += &format!("table: {} features per row\n", self.shape[0]);
        }
        s += &format!(
            "train: {} ({} labeled, {} unlabeled)\ntest:  {}\n",
            self.train,
            self.train - self.train_unlabeled,
            self.train_unlabeled,
            self.test
        );
        let what = if self.kind == "images" {
            "per channel, pixels in [0, 1]"
        } else {
            "per feature"
        };
        s += &format!("mean ({what}): {}\n", fmt(&self.mean));
        s += &format!("std  ({what}): {}\n", fmt(&self.std));
        let width = self
            .classes
            .iter()
            .map(|c| c.name.len())
            .max()
            .unwrap_or(5)
            .max(5);
        s += &format!("{:<width$} {:>8} {:>8}\n", "class", "train", "test");
        for c in &self.classes {
            s += &format!("{:<width$} {:>8} {:>8}\n", c.name, c.train, c.test);
        }
        if let Some(credit) = &self.credit {
            s += &format!("credit: {credit}\n");
        }
        s
    }
}
