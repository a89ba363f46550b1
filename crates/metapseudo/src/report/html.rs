//! The self-contained `report.html` page: inline SVG charts, tables and the configuration;
//! nothing is fetched from the network.

use super::plots::{
    LabeledPoints, Series, bar_chart, class_scatter, confusion_heatmap, decision_regions,
    line_chart, reliability_diagram,
};
use super::{CALIBRATION_BINS, ReportContent};
use anyhow::Result;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The stylesheet of the report pages.
pub const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1360px;color:#222}\
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}\
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 9px;text-align:right}\
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}\
.grid{display:flex;flex-wrap:wrap;gap:12px}.grid figure{margin:0}\
figcaption{font-size:13px;color:#555;max-width:640px}pre{background:#f7f7f7;padding:10px;overflow:auto;font-size:12px}\
nav a{margin-right:14px}.note{color:#555;font-size:14px}";

/// Titles of the learning-curve groups, by the scalar name's prefix.
fn group_title(prefix: &str) -> String {
    match prefix {
        "loss" => "Loss terms".into(),
        "mpl" => "MPL signal h, its baseline and the student's losses".into(),
        "uda" => "UDA: mask ratio and weight".into(),
        "lr" => "Learning rates".into(),
        "eval" => "Accuracy during training".into(),
        "balance" => "Prediction balance: least predicted class, predictions / samples".into(),
        "validation-loss" => "Validation loss".into(),
        other => other.to_string(),
    }
}

/// Where a group's charts come on the page: the results first, then the losses and signals.
fn group_rank(prefix: &str) -> usize {
    [
        "eval",
        "validation-loss",
        "balance",
        "loss",
        "mpl",
        "uda",
        "lr",
    ]
    .iter()
    .position(|p| *p == prefix)
    .unwrap_or(usize::MAX)
}

/// Whether a group's series stay on one chart whatever their scales (accuracies and ratios
/// in [0, 1] read best side by side).
fn one_chart(prefix: &str) -> bool {
    matches!(prefix, "eval" | "balance")
}

/// The logged scalars as chart series, grouped by prefix (`loss/`, `mpl/`, ...); the `eval/`
/// scalars make three groups with one series per model: accuracies (`eval`), least predicted
/// ratios (`balance`) and the validation loss (`validation-loss`).
pub fn curve_groups(metrics: &[super::MetricsLine]) -> BTreeMap<String, Vec<Series>> {
    let mut by_name: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for line in metrics {
        for (k, &v) in &line.values {
            if k != "epoch" {
                by_name
                    .entry(k.clone())
                    .or_default()
                    .push((line.step as f64, v));
            }
        }
    }
    let mut groups: BTreeMap<String, Vec<Series>> = BTreeMap::new();
    for (name, points) in by_name {
        let (prefix, rest) = name.split_once('/').unwrap_or(("other", name.as_str()));
        let (model, scalar) = rest.split_once('/').unwrap_or((rest, ""));
        let (group, label) = match (prefix, scalar) {
            ("eval", "accuracy") => ("eval", model.to_string()),
            ("eval", "least_predicted_ratio") => ("balance", model.to_string()),
            ("eval", "loss") => ("validation-loss", model.to_string()),
            ("eval", _) => ("eval", rest.to_string()),
            _ => (prefix, name.clone()),
        };
        groups.entry(group.to_string()).or_default().push(Series {
            name: label,
            points,
        });
    }
    groups
}

/// Largest absolute finite value of a series.
fn magnitude(s: &Series) -> f64 {
    s.points
        .iter()
        .map(|p| p.1.abs())
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max)
}

/// Splits a group's series into charts of similar magnitude (within a factor of 10), so that a
/// ratio in [0, 1] is not flattened beside a weight of 8.
pub fn split_by_scale(series: &[Series]) -> Vec<Vec<Series>> {
    let mut sorted: Vec<&Series> = series.iter().collect();
    sorted.sort_by(|a, b| magnitude(a).total_cmp(&magnitude(b)));
    let mut parts: Vec<(f64, Vec<Series>)> = Vec::new();
    for s in sorted {
        let m = magnitude(s);
        match parts.last_mut() {
            Some((first, part)) if m <= 10.0 * first.max(1e-12) => part.push(s.clone()),
            _ => parts.push((m, vec![s.clone()])),
        }
    }
    parts.into_iter().map(|(_, p)| p).collect()
}

/// A chart with its caption (none when `caption` is empty).
fn figure(out: &mut String, svg: &str, caption: &str) {
    if caption.is_empty() {
        let _ = write!(out, "<figure>{svg}</figure>");
        return;
    }
    let _ = write!(
        out,
        "<figure>{svg}<figcaption>{}</figcaption></figure>",
        escape(caption)
    );
}

fn pct(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}

/// The whole page.
pub fn page(c: &ReportContent) -> Result<String> {
    let s = &c.summary;
    let mut out = String::new();
    let title = format!(
        "{} on {} — {} labels, seed {}",
        s.method, s.data, s.labels, s.seed
    );
    let _ = write!(
        out,
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>",
        escape(&title)
    );
    let _ = write!(out, "<h1>{}</h1>", escape(&title));
    let _ = write!(
        out,
        "<p>{} steps, {:.1} s. Reported model: <b>{}</b>, {split} accuracy <b>{}</b> on {} {split} examples.</p>",
        s.steps,
        s.wall_seconds,
        escape(&s.reported_model),
        pct(s.accuracy),
        s.test_size,
        split = escape(&s.eval_split),
    );
    out.push_str("<nav><a href=\"#curves\">curves</a><a href=\"#classes\">per class</a><a href=\"#confusion\">confusion</a><a href=\"#calibration\">calibration</a><a href=\"#embedding\">embedding</a>");
    if c.regions.is_some() {
        out.push_str("<a href=\"#regions\">decision regions</a>");
    }
    out.push_str("<a href=\"#split\">split</a><a href=\"#config\">configuration</a></nav>");

    let _ = write!(
        out,
        "<table><tr><th>model</th><th>{} accuracy</th><th>ECE</th></tr>",
        escape(&s.eval_split)
    );
    for m in &c.models {
        let mark = if m.name == s.reported_model {
            " (reported)"
        } else {
            ""
        };
        let _ = write!(
            out,
            "<tr><td>{}{mark}</td><td>{}</td><td>{:.4}</td></tr>",
            escape(&m.name),
            pct(m.eval.accuracy),
            m.calibration.ece
        );
    }
    out.push_str("</table>");
    if let Some(note) = s.closing_note() {
        let _ = write!(out, "<p class=\"note\">{}</p>", escape(note.trim_end()));
    }

    out.push_str("<h2 id=\"curves\">Learning curves</h2><div class=\"grid\">");
    let groups = curve_groups(&c.metrics);
    if groups.is_empty() {
        out.push_str("<p class=\"note\">No scalars were logged.</p>");
    }
    let mut ordered: Vec<(&String, &Vec<Series>)> = groups.iter().collect();
    ordered.sort_by_key(|(prefix, _)| group_rank(prefix));
    for (prefix, series) in ordered {
        let parts = if one_chart(prefix) {
            vec![series.clone()]
        } else {
            split_by_scale(series)
        };
        for (i, part) in parts.iter().enumerate() {
            let mut title = group_title(prefix);
            if parts.len() > 1 {
                title = format!("{title} (scale {} of {})", i + 1, parts.len());
            }
            figure(&mut out, &line_chart(&title, "step", part)?, "");
        }
    }
    out.push_str("</div>");

    out.push_str("<h2 id=\"classes\">Per-class accuracy</h2><div class=\"grid\">");
    let bars: Vec<(String, Vec<f64>)> = c
        .models
        .iter()
        .map(|m| (m.name.clone(), m.eval.per_class_accuracy.clone()))
        .collect();
    figure(
        &mut out,
        &bar_chart(
            &format!("{} accuracy by true class", s.eval_split),
            "accuracy",
            &s.classes,
            &bars,
        )?,
        &format!(
            "each bar: the fraction of a class's {} examples the model classifies correctly",
            s.eval_split
        ),
    );
    out.push_str("</div><table><tr><th>class</th>");
    for m in &c.models {
        let _ = write!(out, "<th>{}</th>", escape(&m.name));
    }
    out.push_str("</tr>");
    for (k, class) in s.classes.iter().enumerate() {
        let _ = write!(out, "<tr><td>{}</td>", escape(class));
        for m in &c.models {
            let v = m.eval.per_class_accuracy.get(k).copied().unwrap_or(0.0);
            let _ = write!(out, "<td>{}</td>", pct(v));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");

    out.push_str("<h2 id=\"confusion\">Confusion matrices</h2><div class=\"grid\">");
    for m in &c.models {
        let svg = confusion_heatmap(
            &format!("{} ({})", m.name, s.eval_split),
            &s.classes,
            &m.eval.confusion,
        )?;
        figure(
            &mut out,
            &svg,
            "rows: true class; columns: predicted class; shade: share of the row; numbers: counts",
        );
    }
    out.push_str("</div>");

    out.push_str("<h2 id=\"calibration\">Calibration</h2><div class=\"grid\">");
    for m in &c.models {
        let svg = reliability_diagram(
            &format!("{}: ECE {:.4}", m.name, m.calibration.ece),
            &m.calibration.bins,
        )?;
        figure(
            &mut out,
            &svg,
            &format!(
                "{CALIBRATION_BINS} equal-width confidence bins; a calibrated model's bars reach the diagonal"
            ),
        );
    }
    out.push_str("</div>");

    let _ = write!(
        out,
        "<h2 id=\"embedding\">Penultimate features of {} examples</h2><div class=\"grid\">",
        escape(&s.eval_split)
    );
    for e in &c.embeddings {
        let svg = class_scatter(
            &format!("{} of the {} model's features", e.method, c.embedded_model),
            &e.points,
            &e.labels,
            &s.classes,
        )?;
        figure(
            &mut out,
            &svg,
            &format!(
                "{} of {} {} examples (a seeded sample), coloured by true class",
                e.points.len(),
                c.test_size,
                s.eval_split
            ),
        );
    }
    out.push_str("</div>");

    if let Some(r) = &c.regions {
        out.push_str("<h2 id=\"regions\">Decision regions</h2><div class=\"grid\">");
        for (name, grid) in &r.grids {
            let svg = decision_regions(
                name,
                grid,
                LabeledPoints {
                    points: &r.points,
                    labels: &r.labels,
                },
                &s.classes,
            )?;
            figure(
                &mut out,
                &svg,
                "shade: the model's predicted class; large dots: labeled training samples; grey dots: unlabeled samples",
            );
        }
        out.push_str("</div>");
    }

    let sp = &c.split;
    let _ = write!(
        out,
        "<h2 id=\"split\">Split</h2><p>Label budget: {}. {} labeled samples; unlabeled pool of {} samples ({}).</p><table><tr><th>class</th><th>labeled</th></tr>",
        escape(&sp.budget),
        sp.labeled_indices.len(),
        sp.unlabeled_count,
        if sp.unlabeled_includes_labeled {
            "includes the labeled ones"
        } else {
            "labeled ones excluded"
        }
    );
    for (class, n) in s.classes.iter().zip(&sp.labeled_per_class) {
        let _ = write!(out, "<tr><td>{}</td><td>{n}</td></tr>", escape(class));
    }
    out.push_str("</table>");
    let _ = writeln!(
        out,
        "<h2 id=\"config\">Configuration</h2><pre>{}</pre></body></html>",
        escape(&c.config_toml)
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::metrics::MetricsLine;

    #[test]
    fn accuracies_chart_apart_from_the_other_eval_scalars() {
        let values = [
            ("eval/ema/accuracy", 0.7),
            ("eval/student/accuracy", 0.69),
            ("eval/ema/least_predicted_ratio", 0.4),
            ("eval/validation/loss", 1.2),
            ("loss/sup", 0.9),
        ];
        let line = MetricsLine {
            step: 10,
            values: values.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        };
        let groups = curve_groups(&[line]);
        let names = |g: &str| -> Vec<String> { groups[g].iter().map(|s| s.name.clone()).collect() };
        assert_eq!(names("eval"), ["ema", "student"]);
        assert_eq!(names("balance"), ["ema"]);
        assert_eq!(names("validation-loss"), ["validation"]);
        assert_eq!(names("loss"), ["loss/sup"]);
    }
}
