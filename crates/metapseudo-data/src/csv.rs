//! CSV tables of numeric features and a class label column; an empty label means unlabeled.
//! The `csv` crate reads the rows (quoting, byte-order marks, `;` or tab delimiters); this
//! file gives them their meaning: the label column, the header, numeric features, classes.

use crate::dataset::{Dataset, Samples};
use crate::error::{DataError, Result};
use crate::rng::Rng;
use crate::split::stratified_holdout;
use std::path::Path;

/// Which column holds the class label.
#[derive(Clone, Debug, PartialEq)]
pub enum LabelColumn {
    /// The last column (the default).
    Last,
    /// The first column.
    First,
    /// A 1-based column number.
    Number(usize),
    /// A column named in the header row.
    Name(String),
}

impl std::str::FromStr for LabelColumn {
    type Err = DataError;

    /// Parses `last`, `first`, a 1-based column number, or a header name.
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.trim() {
            "last" | "" => LabelColumn::Last,
            "first" => LabelColumn::First,
            t => match t.parse::<usize>() {
                Ok(0) => {
                    return Err(DataError::Invalid("label column numbers start at 1".into()));
                }
                Ok(n) => LabelColumn::Number(n),
                Err(_) => LabelColumn::Name(t.to_string()),
            },
        })
    }
}

/// How to read a CSV file.
#[derive(Clone, Debug, PartialEq)]
pub struct CsvOptions {
    /// The label column.
    pub label_column: LabelColumn,
    /// Whether the first row is a header; `None` detects it (a first row with a cell that is not
    /// a number is a header).
    pub header: Option<bool>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            label_column: LabelColumn::Last,
            header: None,
        }
    }
}

/// A parsed CSV table.
#[derive(Clone, Debug, PartialEq)]
pub struct CsvTable {
    /// One sample per data row.
    pub samples: Samples,
    /// Class names, sorted numerically when every label is an integer, else alphabetically.
    pub classes: Vec<String>,
    /// Names of the feature columns (`column N` without a header).
    pub feature_names: Vec<String>,
    /// Whether the first row was a header (the feature names are the file's own).
    pub header: bool,
}

/// A row's line number and its fields.
type Row = (usize, Vec<String>);

/// The non-empty rows of CSV text with their line numbers, read by the `csv` crate: quoted
/// fields (with commas or quotes inside) resolved, fields trimmed, a UTF-8 byte-order mark
/// dropped. The delimiter is the first of `,`, `;` and tab that the first row has.
fn read_rows(text: &str) -> std::result::Result<Vec<Row>, (usize, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let delimiter = [b',', b';', b'\t']
        .into_iter()
        .find(|d| first.as_bytes().contains(d))
        .unwrap_or(b',');
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(::csv::Trim::All)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() as usize);
            (line, e.to_string())
        })?;
        if record.iter().all(str::is_empty) {
            continue;
        }
        let line = record.position().map_or(0, |p| p.line() as usize);
        rows.push((line, record.iter().map(str::to_string).collect()));
    }
    Ok(rows)
}

fn is_number(cell: &str) -> bool {
    cell.parse::<f64>().is_ok()
}

/// Parses CSV text; `path` names the file in error messages.
pub fn parse_csv(text: &str, path: &Path, opts: &CsvOptions) -> Result<CsvTable> {
    let err = |line: usize, column: usize, message: String| DataError::Csv {
        path: path.to_path_buf(),
        line,
        column,
        message,
    };
    let rows = read_rows(text).map_err(|(line, message)| err(line, 0, message))?;
    let Some((first_line, first)) = rows.first() else {
        return Err(err(0, 0, "the file has no rows".into()));
    };
    let ncols = first.len();
    if ncols < 2 {
        return Err(err(
            *first_line,
            0,
            "need at least one feature column and a label column, separated by commas".into(),
        ));
    }
    let label_col = match &opts.label_column {
        LabelColumn::Last => ncols - 1,
        LabelColumn::First => 0,
        LabelColumn::Number(n) if *n <= ncols => n - 1,
        LabelColumn::Number(n) => {
            return Err(err(
                *first_line,
                0,
                format!("label column {n} does not exist: the file has {ncols} columns"),
            ));
        }
        LabelColumn::Name(name) => first.iter().position(|c| c == name).ok_or_else(|| {
            err(
                *first_line,
                0,
                format!(
                    "no column named '{name}' in the header; columns are: {}",
                    first.join(", ")
                ),
            )
        })?,
    };
    let header = match opts.header {
        Some(h) => h,
        None => {
            matches!(opts.label_column, LabelColumn::Name(_))
                || first
                    .iter()
                    .enumerate()
                    .any(|(j, c)| j != label_col && !is_number(c))
        }
    };
    let feature_cols: Vec<usize> = (0..ncols).filter(|&j| j != label_col).collect();
    let feature_names = feature_cols
        .iter()
        .map(|&j| {
            if header {
                first[j].clone()
            } else {
                format!("column {}", j + 1)
            }
        })
        .collect::<Vec<_>>();
    let column_name = |j: usize| {
        if header {
            format!(" (\"{}\")", first[j])
        } else {
            String::new()
        }
    };
    let data_rows = if header { &rows[1..] } else { &rows[..] };
    let mut features = Vec::with_capacity(data_rows.len() * feature_cols.len());
    let mut raw_labels = Vec::with_capacity(data_rows.len());
    for (line, cells) in data_rows {
        if cells.len() != ncols {
            return Err(err(
                *line,
                0,
                format!(
                    "expected {ncols} columns (as on line {first_line}), found {}",
                    cells.len()
                ),
            ));
        }
        for &j in &feature_cols {
            let v: f32 = cells[j].parse().map_err(|_| {
                err(
                    *line,
                    j + 1,
                    format!(
                        "cannot read \"{}\"{} as a number; every column but the label must be numeric (choose the label column with data.label_column)",
                        cells[j],
                        column_name(j)
                    ),
                )
            })?;
            if !v.is_finite() {
                return Err(err(
                    *line,
                    j + 1,
                    format!("\"{}\"{} is not a finite number", cells[j], column_name(j)),
                ));
            }
            features.push(v);
        }
        let l = cells[label_col].as_str();
        raw_labels.push(if l.is_empty() { None } else { Some(l) });
    }
    if raw_labels.is_empty() {
        return Err(err(
            *first_line,
            0,
            "the file has a header but no data rows".into(),
        ));
    }
    // Integer labels are classes by value: "1" and "01" are one class, named "1".
    let all_int = raw_labels
        .iter()
        .flatten()
        .all(|c| c.parse::<i64>().is_ok());
    let raw_labels: Vec<Option<String>> = raw_labels
        .iter()
        .map(|l| {
            l.map(|l| match l.parse::<i64>() {
                Ok(v) if all_int => v.to_string(),
                _ => l.to_string(),
            })
        })
        .collect();
    let mut classes: Vec<&str> = raw_labels.iter().flatten().map(String::as_str).collect();
    if all_int {
        classes.sort_by_key(|c| c.parse::<i64>().unwrap_or_default());
    } else {
        classes.sort_unstable();
    }
    classes.dedup();
    let labels = raw_labels
        .iter()
        .map(|l| {
            l.as_deref()
                .map(|l| classes.iter().position(|c| *c == l).unwrap_or_default())
        })
        .collect();
    Ok(CsvTable {
        samples: Samples {
            features,
            dim: feature_cols.len(),
            labels,
        },
        classes: classes.into_iter().map(String::from).collect(),
        feature_names,
        header,
    })
}

/// Reads and parses a CSV file.
pub fn read_csv(path: &Path, opts: &CsvOptions) -> Result<CsvTable> {
    let text = std::fs::read_to_string(path).map_err(DataError::io(path))?;
    parse_csv(&text, path, opts)
}

/// Where the test split of a CSV data set comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum CsvTest {
    /// A stratified fraction of the labeled rows, drawn with a fixed seed.
    Fraction {
        /// Fraction of labeled rows held out.
        fraction: f64,
        /// Seed of the hold-out draw (not the run's seed).
        seed: u64,
    },
    /// A second CSV file with the same columns.
    File(std::path::PathBuf),
}

/// Loads a CSV data set with its test split.
pub fn csv_dataset(path: &Path, opts: &CsvOptions, test: &CsvTest) -> Result<Dataset> {
    let table = read_csv(path, opts)?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "csv".into());
    let (train, test, classes) = match test {
        CsvTest::Fraction { fraction, seed } => {
            let (kept, held) = stratified_holdout(
                &table.samples.labels,
                table.classes.len(),
                *fraction,
                &mut Rng::stream(*seed, "csv/test-split"),
            )?;
            (
                table.samples.select(&kept),
                table.samples.select(&held),
                table.classes,
            )
        }
        CsvTest::File(test_path) => {
            let t = read_csv(test_path, opts)?;
            if t.samples.dim != table.samples.dim {
                return Err(DataError::Invalid(format!(
                    "{} has {} feature columns but {} has {}",
                    test_path.display(),
                    t.samples.dim,
                    path.display(),
                    table.samples.dim
                )));
            }
            let mut classes = table.classes.clone();
            for c in &t.classes {
                if !classes.contains(c) {
                    classes.push(c.clone());
                }
            }
            let remap = |s: Samples, own: &[String]| -> Result<Samples> {
                let labels = s
                    .labels
                    .iter()
                    .map(|l| l.map(|l| classes.iter().position(|c| *c == own[l]).unwrap_or(0)))
                    .collect();
                Ok(Samples { labels, ..s })
            };
            let test = remap(t.samples, &t.classes)?;
            if test.labels.iter().any(Option::is_none) {
                return Err(DataError::Invalid(format!(
                    "{}: every row of a test file needs a label",
                    test_path.display()
                )));
            }
            (remap(table.samples, &table.classes)?, test, classes)
        }
    };
    let dim = train.dim;
    let mut ds = Dataset::new(name, train, test, classes, vec![dim]);
    if table.header {
        ds.feature_names = table.feature_names;
    }
    ds.validate()?;
    Ok(ds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, opts: &CsvOptions) -> Result<CsvTable> {
        parse_csv(text, Path::new("t.csv"), opts)
    }

    #[test]
    fn integer_labels_are_classes_by_value() {
        let t = parse("x,y\n1,01\n2,1\n3,2\n4,002\n", &CsvOptions::default()).unwrap();
        assert_eq!(t.classes, ["1", "2"]);
        assert_eq!(t.samples.labels, [Some(0), Some(0), Some(1), Some(1)]);
    }

    #[test]
    fn quoted_fields_byte_order_marks_and_other_delimiters_are_read() {
        let comma = parse(
            "\u{feff}\"x\",y,\"kind, of\"\n1,2,\"a, b\"\n3,4,c\n",
            &CsvOptions::default(),
        )
        .unwrap();
        assert_eq!(comma.feature_names, ["x", "y"]);
        assert_eq!(comma.classes, ["a, b", "c"]);
        assert_eq!(comma.samples.features, [1.0, 2.0, 3.0, 4.0]);
        let semicolon = parse("x;y;class\n1.5;2;a\n3;4;b\n", &CsvOptions::default()).unwrap();
        assert_eq!(semicolon.samples.features, [1.5, 2.0, 3.0, 4.0]);
        assert_eq!(
            semicolon,
            parse("x\ty\tclass\n1.5\t2\ta\n3\t4\tb\n", &CsvOptions::default()).unwrap()
        );
        // Line numbers in errors count the file's lines, blank ones included.
        let e = parse("x,y,c\n\n1,2,a\n1,z,b\n", &CsvOptions::default()).unwrap_err();
        assert!(e.to_string().contains("line 4, column 2"), "{e}");
    }

    #[test]
    fn header_is_detected_and_empty_labels_are_unlabeled() {
        let t = parse(
            "a,b,class\n1,2,cat\n3,4,\n5,6,dog\n",
            &CsvOptions::default(),
        )
        .unwrap();
        assert_eq!(t.feature_names, vec!["a", "b"]);
        assert_eq!(t.classes, vec!["cat", "dog"]);
        assert_eq!(t.samples.features, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(t.samples.labels, vec![Some(0), None, Some(1)]);
        let t = parse("1,2,10\n3,4,9\n", &CsvOptions::default()).unwrap();
        assert_eq!(t.classes, vec!["9", "10"]);
        assert_eq!(t.samples.labels, vec![Some(1), Some(0)]);
    }

    #[test]
    fn label_column_by_number_and_name() {
        let opts = CsvOptions {
            label_column: "first".parse().unwrap(),
            header: None,
        };
        let t = parse("y,x1,x2\n1,0.5,0.25\n", &opts).unwrap();
        assert_eq!(t.samples.features, vec![0.5, 0.25]);
        let opts = CsvOptions {
            label_column: "x1".parse().unwrap(),
            header: None,
        };
        let t = parse("y,x1,x2\n1,0.5,0.25\n", &opts).unwrap();
        assert_eq!(t.samples.features, vec![1.0, 0.25]);
        assert_eq!(t.classes, vec!["0.5"]);
        assert_eq!("2".parse::<LabelColumn>().unwrap(), LabelColumn::Number(2));
        assert!("0".parse::<LabelColumn>().is_err());
    }

    #[test]
    fn malformed_cells_name_line_and_column() {
        let e = parse("a,b,y\n1,2,0\n3,oops,1\n", &CsvOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("t.csv: line 3, column 2"), "{e}");
        assert!(e.contains("\"oops\"") && e.contains("(\"b\")"), "{e}");
        let e = parse("1,2,0\n3,1\n", &CsvOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 2") && e.contains("expected 3 columns"),
            "{e}"
        );
        let e = parse("1,inf,0\n", &CsvOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a finite number"), "{e}");
        let opts = CsvOptions {
            label_column: LabelColumn::Name("label".into()),
            header: None,
        };
        let e = parse("a,b\n1,2\n", &opts).unwrap_err().to_string();
        assert!(
            e.contains("no column named 'label'") && e.contains("a, b"),
            "{e}"
        );
        let e = parse("", &CsvOptions::default()).unwrap_err().to_string();
        assert!(e.contains("no rows"), "{e}");
    }

    #[test]
    fn csv_dataset_holds_out_labeled_rows_only() {
        let dir = std::env::temp_dir().join(format!("mp-csv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("points.csv");
        let mut text = String::from("x,y,label\n");
        for i in 0..40 {
            let label = if i % 4 == 3 {
                String::new()
            } else {
                (i % 2).to_string()
            };
            text.push_str(&format!("{i},{},{label}\n", i * 2));
        }
        std::fs::write(&path, text).unwrap();
        let test = CsvTest::Fraction {
            fraction: 0.25,
            seed: 0,
        };
        let d = csv_dataset(&path, &CsvOptions::default(), &test).unwrap();
        assert_eq!(d.name, "points");
        assert_eq!(d.test.len(), 8); // ceil(0.25 * 30 labeled rows)
        assert_eq!(d.train.len(), 32);
        assert_eq!(d.train.labels().iter().filter(|l| l.is_none()).count(), 10);
        let missing = csv_dataset(&dir.join("nope.csv"), &CsvOptions::default(), &test)
            .unwrap_err()
            .to_string();
        assert!(missing.contains("nope.csv"), "{missing}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
