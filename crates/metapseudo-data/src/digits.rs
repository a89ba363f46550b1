//! The UCI optical handwritten digits (8x8, 1797 images), embedded in the binary.

use crate::csv::{CsvOptions, LabelColumn, parse_csv};
use crate::dataset::Dataset;
use crate::error::Result;
use crate::rng::Rng;
use crate::split::stratified_holdout;
use flate2::read::GzDecoder;
use std::io::Read;

/// Attribution for the digits data.
pub const DIGITS_CREDIT: &str = "UCI optical recognition of handwritten digits: E. Alpaydin, C. Kaynak (1998), UCI Machine Learning Repository, CC BY 4.0";

const DIGITS_GZ: &[u8] = include_bytes!("../assets/digits.csv.gz");

/// Seed of the fixed test split; it never depends on the run's seed.
const DIGITS_TEST_SEED: u64 = 0;

/// Loads the embedded digits: 64 pixel features scaled from 0..16 to 0..1, a fixed stratified
/// 25% test split (450 images) and 1347 training images.
pub fn digits() -> Result<Dataset> {
    let mut text = String::new();
    GzDecoder::new(DIGITS_GZ)
        .read_to_string(&mut text)
        .expect("the embedded digits archive is valid");
    let table = parse_csv(
        &text,
        "digits.csv".as_ref(),
        &CsvOptions {
            label_column: LabelColumn::Last,
            header: Some(false),
        },
    )?;
    let mut all = table.samples;
    for v in &mut all.features {
        *v /= 16.0;
    }
    let (train_idx, test_idx) = stratified_holdout(
        &all.labels,
        table.classes.len(),
        0.25,
        &mut Rng::stream(DIGITS_TEST_SEED, "digits/test-split"),
    )?;
    Ok(Dataset {
        credit: Some(DIGITS_CREDIT.into()),
        raw_scale: 1.0 / 16.0,
        ..Dataset::new(
            "digits",
            all.select(&train_idx),
            all.select(&test_idx),
            table.classes,
            vec![1, 8, 8],
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_counts_values_and_fixed_split() {
        let d = digits().unwrap();
        d.validate().unwrap();
        assert_eq!(d.train.len(), 1347);
        assert_eq!(d.test.len(), 450);
        assert_eq!(d.dim(), 64);
        assert_eq!(
            d.classes,
            (0..10).map(|c| c.to_string()).collect::<Vec<_>>()
        );
        let counts = d.test.class_counts(10);
        assert_eq!(counts.iter().sum::<usize>(), 450);
        assert!(counts.iter().all(|&n| (43..=46).contains(&n)), "{counts:?}");
        assert!(
            d.train
                .table()
                .unwrap()
                .features
                .iter()
                .all(|&v| (0.0..=1.0).contains(&v))
        );
        // The first image of the file (a 0) starts 0,0,5,13,9,1 and is in one of the splits.
        let first = [0.0, 0.0, 5.0 / 16.0, 13.0 / 16.0, 9.0 / 16.0, 1.0 / 16.0];
        let found = (0..d.train.len())
            .map(|i| d.train.table().unwrap().row(i))
            .chain((0..d.test.len()).map(|i| d.test.table().unwrap().row(i)))
            .any(|r| r[..6] == first);
        assert!(found);
        assert_eq!(d.test, digits().unwrap().test);
    }
}
