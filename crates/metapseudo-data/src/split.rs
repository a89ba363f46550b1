//! Seeded, per-class selection of the labeled subset, and stratified hold-out splits.

use crate::error::{DataError, Result};
use crate::rng::Rng;
use serde::{Deserialize, Serialize};

/// How many labeled samples to keep from the training pool.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum LabelBudget {
    /// Exactly this many per class.
    PerClass(usize),
    /// This many in total, spread as evenly as possible over the classes.
    Total(usize),
    /// This percentage of each class's labeled samples (at least one per class).
    Percent(f64),
}

impl std::fmt::Display for LabelBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LabelBudget::PerClass(n) => write!(f, "{n} per class"),
            LabelBudget::Total(n) => write!(f, "{n} in total"),
            LabelBudget::Percent(p) => write!(f, "{p}% of each class"),
        }
    }
}

/// Indices of samples grouped by class: `by_class[c]` lists the samples labeled `c`, ascending.
pub fn indices_by_class(labels: &[Option<usize>], num_classes: usize) -> Vec<Vec<usize>> {
    let mut by_class = vec![Vec::new(); num_classes];
    for (i, l) in labels.iter().enumerate() {
        if let Some(c) = l {
            by_class[*c].push(i);
        }
    }
    by_class
}

/// Chooses the labeled subset of a training pool. Returns sorted sample indices.
///
/// `class_names` is only used in error messages.
pub fn select_labeled(
    labels: &[Option<usize>],
    class_names: &[String],
    budget: LabelBudget,
    rng: &mut Rng,
) -> Result<Vec<usize>> {
    let c = class_names.len();
    let by_class = indices_by_class(labels, c);
    let available: Vec<usize> = by_class.iter().map(Vec::len).collect();
    let total_available: usize = available.iter().sum();
    let wanted: Vec<usize> = match budget {
        LabelBudget::PerClass(0) | LabelBudget::Total(0) => {
            return Err(DataError::Invalid(
                "the label budget must be at least 1".into(),
            ));
        }
        LabelBudget::PerClass(n) => vec![n; c],
        LabelBudget::Total(n) => {
            if n > total_available {
                return Err(DataError::Invalid(format!(
                    "asked for {n} labels but the training set has only {total_available} labeled samples"
                )));
            }
            if n < c {
                return Err(DataError::Invalid(format!(
                    "{n} labels (data.labels, --labels) leave some of the {c} classes without a labeled sample: ask for at least {c}, or for labels per class with --labels-per-class"
                )));
            }
            let mut wanted = vec![n / c; c];
            let mut order: Vec<usize> = (0..c).collect();
            rng.shuffle(&mut order);
            for &k in order.iter().take(n % c) {
                wanted[k] += 1;
            }
            wanted
        }
        LabelBudget::Percent(p) => {
            if !(p > 0.0 && p <= 100.0) {
                return Err(DataError::Invalid(format!(
                    "the label percentage must be in (0, 100], got {p}"
                )));
            }
            available
                .iter()
                .map(|&a| ((a as f64 * p / 100.0).round() as usize).max(1))
                .collect()
        }
    };
    if let Some(k) = (0..c).find(|&k| wanted[k] > available[k]) {
        let smallest = available.iter().min().copied().unwrap_or(0);
        let most = match budget {
            LabelBudget::PerClass(_) => format!(
                "the most this data allows is {smallest} per class (--labels-per-class {smallest})"
            ),
            _ => format!("this data has {total_available} labeled training samples in all"),
        };
        return Err(DataError::Invalid(format!(
            "asked for {} labels of class '{}' ({budget}) but the training set has only {} labeled samples of it: {most}",
            wanted[k], class_names[k], available[k]
        )));
    }
    let mut chosen = Vec::new();
    for k in 0..c {
        let mut pool = by_class[k].clone();
        rng.shuffle(&mut pool);
        chosen.extend_from_slice(&pool[..wanted[k]]);
    }
    chosen.sort_unstable();
    Ok(chosen)
}

/// Splits labeled samples into `(kept, held_out)` with `ceil(fraction * n)` held out, stratified by
/// class (largest-remainder allocation). Unlabeled samples always stay in `kept`.
pub fn stratified_holdout(
    labels: &[Option<usize>],
    num_classes: usize,
    fraction: f64,
    rng: &mut Rng,
) -> Result<(Vec<usize>, Vec<usize>)> {
    if !(fraction > 0.0 && fraction < 1.0) {
        return Err(DataError::Invalid(format!(
            "a hold-out fraction must be in (0, 1), got {fraction}"
        )));
    }
    let by_class = indices_by_class(labels, num_classes);
    let n: usize = by_class.iter().map(Vec::len).sum();
    let target = (fraction * n as f64).ceil() as usize;
    let exact: Vec<f64> = by_class.iter().map(|v| v.len() as f64 * fraction).collect();
    let mut take: Vec<usize> = exact.iter().map(|x| x.floor() as usize).collect();
    let mut order: Vec<usize> = (0..num_classes).collect();
    order.sort_by(|&a, &b| {
        let ra = exact[a] - exact[a].floor();
        let rb = exact[b] - exact[b].floor();
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    let mut missing = target.saturating_sub(take.iter().sum());
    for &k in order.iter().cycle().take(num_classes * 2) {
        if missing == 0 {
            break;
        }
        if take[k] < by_class[k].len() {
            take[k] += 1;
            missing -= 1;
        }
    }
    let mut held = Vec::with_capacity(target);
    for (k, idx) in by_class.iter().enumerate() {
        let mut pool = idx.clone();
        rng.shuffle(&mut pool);
        held.extend_from_slice(&pool[..take[k]]);
    }
    held.sort_unstable();
    Ok((complement(labels.len(), &held), held))
}

/// The indices `0..n` not in `chosen`, in order.
pub fn complement(n: usize, chosen: &[usize]) -> Vec<usize> {
    let mut is_chosen = vec![false; n];
    for &i in chosen {
        is_chosen[i] = true;
    }
    (0..n).filter(|&i| !is_chosen[i]).collect()
}

/// Where a validation split is carved from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValidationSource {
    /// From the labeled subset, which keeps the rest (at least one sample per class).
    Labeled,
    /// From labeled training samples outside the labeled subset (whose labels the run did not
    /// train on).
    Training,
}

/// Carves `per_class` validation samples of each class out of `source`. Returns the labeled
/// subset left for training and the validation samples, both sorted.
pub fn carve_validation(
    labels: &[Option<usize>],
    class_names: &[String],
    labeled: &[usize],
    per_class: usize,
    source: ValidationSource,
    rng: &mut Rng,
) -> Result<(Vec<usize>, Vec<usize>)> {
    if per_class == 0 {
        return Err(DataError::Invalid(
            "a validation split needs at least 1 sample per class".into(),
        ));
    }
    let mut in_labeled = vec![false; labels.len()];
    for &i in labeled {
        in_labeled[i] = true;
    }
    let from_labeled = source == ValidationSource::Labeled;
    let (needed, whence) = match source {
        ValidationSource::Labeled => (
            per_class + 1,
            "labeled samples (one must stay for training)",
        ),
        ValidationSource::Training => (
            per_class,
            "labeled training samples outside the labeled subset",
        ),
    };
    let mut keep = labeled.to_vec();
    let mut validation = Vec::new();
    for (k, members) in indices_by_class(labels, class_names.len())
        .iter()
        .enumerate()
    {
        let mut pool: Vec<usize> = members
            .iter()
            .copied()
            .filter(|&i| in_labeled[i] == from_labeled)
            .collect();
        if pool.len() < needed {
            return Err(DataError::Invalid(format!(
                "a validation split of {per_class} per class needs {needed} {whence} of class '{}', but there are {}",
                class_names[k],
                pool.len()
            )));
        }
        rng.shuffle(&mut pool);
        validation.extend_from_slice(&pool[..per_class]);
    }
    validation.sort_unstable();
    if from_labeled {
        keep.retain(|i| validation.binary_search(i).is_err());
    }
    keep.sort_unstable();
    Ok((keep, validation))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(c: usize) -> Vec<String> {
        (0..c).map(|k| k.to_string()).collect()
    }

    fn labels(counts: &[usize]) -> Vec<Option<usize>> {
        counts
            .iter()
            .enumerate()
            .flat_map(|(c, &n)| std::iter::repeat_n(Some(c), n))
            .collect()
    }

    #[test]
    fn per_class_budget_is_balanced_seeded_and_sorted() {
        let l = labels(&[10, 12, 8]);
        let a = select_labeled(&l, &names(3), LabelBudget::PerClass(3), &mut Rng::new(1)).unwrap();
        let b = select_labeled(&l, &names(3), LabelBudget::PerClass(3), &mut Rng::new(1)).unwrap();
        let c = select_labeled(&l, &names(3), LabelBudget::PerClass(3), &mut Rng::new(2)).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 9);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        for k in 0..3 {
            assert_eq!(a.iter().filter(|&&i| l[i] == Some(k)).count(), 3);
        }
    }

    #[test]
    fn total_and_percent_budgets() {
        let l = labels(&[10, 10, 10]);
        let t = select_labeled(&l, &names(3), LabelBudget::Total(7), &mut Rng::new(1)).unwrap();
        assert_eq!(t.len(), 7);
        let per: Vec<usize> = (0..3)
            .map(|k| t.iter().filter(|&&i| l[i] == Some(k)).count())
            .collect();
        assert!(per.iter().all(|&n| n == 2 || n == 3), "{per:?}");
        let p =
            select_labeled(&l, &names(3), LabelBudget::Percent(20.0), &mut Rng::new(1)).unwrap();
        assert_eq!(p.len(), 6);
    }

    #[test]
    fn impossible_budgets_are_clear_errors() {
        let l = labels(&[5, 2]);
        let e = select_labeled(&l, &names(2), LabelBudget::PerClass(3), &mut Rng::new(1))
            .unwrap_err()
            .to_string();
        assert!(e.contains("class '1'") && e.contains("only 2"), "{e}");
        assert!(
            e.contains("allows is 2 per class (--labels-per-class 2)"),
            "{e}"
        );
        let e = select_labeled(&l, &names(2), LabelBudget::Total(8), &mut Rng::new(1))
            .unwrap_err()
            .to_string();
        assert!(e.contains("only 7"), "{e}");
        assert!(select_labeled(&l, &names(2), LabelBudget::PerClass(0), &mut Rng::new(1)).is_err());
        assert!(
            select_labeled(&l, &names(2), LabelBudget::Percent(150.0), &mut Rng::new(1)).is_err()
        );
    }

    #[test]
    fn unlabeled_samples_are_never_selected() {
        let mut l = labels(&[4, 4]);
        l.extend([None, None, None]);
        let s = select_labeled(&l, &names(2), LabelBudget::PerClass(4), &mut Rng::new(5)).unwrap();
        assert_eq!(s, (0..8).collect::<Vec<_>>());
    }

    #[test]
    fn holdout_is_stratified_with_ceiling_total() {
        // 1797 samples at 25% gives 450 held out, as scikit-learn's train_test_split.
        let counts = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180];
        let l = labels(&counts);
        let (kept, held) = stratified_holdout(&l, 10, 0.25, &mut Rng::new(0)).unwrap();
        assert_eq!(held.len(), 450);
        assert_eq!(kept.len() + held.len(), 1797);
        for (k, &n) in counts.iter().enumerate() {
            let h = held.iter().filter(|&&i| l[i] == Some(k)).count();
            assert!((h as f64 - n as f64 * 0.25).abs() <= 1.0, "class {k}: {h}");
        }
    }

    #[test]
    fn validation_is_carved_per_class_from_the_chosen_source() {
        let labels: Vec<Option<usize>> = (0..40).map(|i| Some(i % 2)).collect();
        let names = vec!["a".to_string(), "b".to_string()];
        let labeled = vec![0, 1, 2, 3, 4, 5];
        let (keep, val) = carve_validation(
            &labels,
            &names,
            &labeled,
            1,
            ValidationSource::Labeled,
            &mut Rng::new(1),
        )
        .unwrap();
        assert_eq!((keep.len(), val.len()), (4, 2));
        assert!(val.iter().all(|i| labeled.contains(i)));
        assert!(keep.iter().all(|i| !val.contains(i)));
        assert_eq!(
            val.iter().map(|&i| i % 2).sum::<usize>(),
            1,
            "one per class"
        );
        let (keep, val) = carve_validation(
            &labels,
            &names,
            &labeled,
            5,
            ValidationSource::Training,
            &mut Rng::new(1),
        )
        .unwrap();
        assert_eq!(keep, labeled);
        assert_eq!(val.len(), 10);
        assert!(val.iter().all(|i| !labeled.contains(i)));
        let e = carve_validation(
            &labels,
            &names,
            &labeled,
            3,
            ValidationSource::Labeled,
            &mut Rng::new(1),
        )
        .unwrap_err();
        assert!(e.to_string().contains("class 'a'"), "{e}");
    }
}
