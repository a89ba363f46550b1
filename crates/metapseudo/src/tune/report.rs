//! `STUDY/report.html`: the study at a glance. The optimisation history, each parameter's value
//! against the objective, an importance estimate per parameter, and the best trials with their
//! validation and test accuracy.

use super::journal::{Study, Trial, TrialState};
use super::space::{Distribution, SearchSpace};
use crate::report::html::{STYLE, escape};
use crate::report::plots::{Series, bar_chart, class_scatter, line_chart};
use anyhow::Result;
use std::fmt::Write;
use std::path::Path;

/// Trials with a value: complete and pruned.
fn valued(study: &Study) -> Vec<&Trial> {
    study
        .trials
        .iter()
        .filter(|t| matches!(t.state, TrialState::Complete | TrialState::Pruned))
        .filter(|t| t.value.is_some_and(f64::is_finite))
        .collect()
}

/// Each parameter's importance: the share of the complete trials' objective variance that
/// its value explains (the correlation ratio over five rank bins, or over the choices),
/// normalised to sum to 1. An estimate for reading a study, not a significance test.
pub fn importance(space: &SearchSpace, study: &Study) -> Vec<(String, f64)> {
    let trials: Vec<&Trial> = study
        .trials
        .iter()
        .filter(|t| t.state == TrialState::Complete && t.value.is_some())
        .collect();
    let values: Vec<f64> = trials.iter().map(|t| t.value.unwrap_or(0.0)).collect();
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n.max(1.0);
    let total: f64 = values.iter().map(|v| (v - mean).powi(2)).sum();
    let mut raw: Vec<(String, f64)> = space
        .params
        .iter()
        .map(|(key, d)| {
            let xs: Vec<f64> = trials
                .iter()
                .map(|t| t.params.get(key).map_or(f64::NAN, |p| p.0))
                .collect();
            let groups: Vec<usize> = match d {
                Distribution::Categorical { .. } => xs.iter().map(|x| *x as usize).collect(),
                _ => {
                    let mut order: Vec<usize> = (0..xs.len()).collect();
                    order.sort_by(|&a, &b| xs[a].total_cmp(&xs[b]));
                    let mut g = vec![0; xs.len()];
                    for (rank, &i) in order.iter().enumerate() {
                        g[i] = rank * 5 / xs.len().max(1);
                    }
                    g
                }
            };
            let k = groups.iter().max().map_or(0, |m| m + 1);
            let (mut sum, mut count) = (vec![0.0; k], vec![0.0; k]);
            for (g, v) in groups.iter().zip(&values) {
                sum[*g] += v;
                count[*g] += 1.0;
            }
            let between: f64 = (0..k)
                .filter(|&g| count[g] > 0.0)
                .map(|g| count[g] * (sum[g] / count[g] - mean).powi(2))
                .sum();
            (key.clone(), if total > 0.0 { between / total } else { 0.0 })
        })
        .collect();
    let all: f64 = raw.iter().map(|(_, v)| v).sum();
    if all > 0.0 {
        raw.iter_mut().for_each(|(_, v)| *v /= all);
    }
    raw
}

/// Writes `dir/report.html` for `study` over `space`.
pub fn write_study_report(dir: &Path, space: &SearchSpace, study: &Study) -> Result<()> {
    let name = dir
        .file_name()
        .map_or("study".into(), |n| n.to_string_lossy().into_owned());
    let mut out = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>study {0}</title><style>{STYLE}</style></head><body><h1>Study {0}</h1>",
        escape(&name)
    );
    let count = |s: TrialState| study.trials.iter().filter(|t| t.state == s).count();
    let _ = write!(
        out,
        "<p>{} trials: {} complete, {} pruned, {} failed, {} running. Objective: {}.</p>",
        study.trials.len(),
        count(TrialState::Complete),
        count(TrialState::Pruned),
        count(TrialState::Fail),
        count(TrialState::Running),
        escape(
            study
                .user_attrs
                .get("objective")
                .and_then(|v| v.as_str())
                .unwrap_or("validation accuracy")
        )
    );
    let trials = valued(study);
    out.push_str("<h2>Optimisation history</h2><div class=\"grid\">");
    let mut best_so_far = Vec::new();
    let mut best = f64::MIN;
    for t in study
        .trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
    {
        if let Some(v) = t.value {
            best = best.max(v);
            best_so_far.push((t.id as f64, best));
        }
    }
    let points = |s: TrialState| -> Vec<(f64, f64)> {
        trials
            .iter()
            .filter(|t| t.state == s)
            .map(|t| (t.id as f64, t.value.unwrap_or(f64::NAN)))
            .collect()
    };
    let history = [
        Series {
            name: "complete".into(),
            points: points(TrialState::Complete),
        },
        Series {
            name: "pruned (last value)".into(),
            points: points(TrialState::Pruned),
        },
        Series {
            name: "best so far".into(),
            points: best_so_far,
        },
    ];
    out.push_str(&line_chart(
        "Validation accuracy by trial",
        "trial",
        &history,
    )?);
    out.push_str("</div><h2>Parameters against the objective</h2><div class=\"grid\">");
    let classes = vec!["complete".to_string(), "pruned".to_string()];
    let labels: Vec<usize> = trials
        .iter()
        .map(|t| usize::from(t.state == TrialState::Pruned))
        .collect();
    for (key, d) in &space.params {
        let log = d.is_log();
        let pts: Vec<[f64; 2]> = trials
            .iter()
            .map(|t| {
                let x = t.params.get(key).map_or(f64::NAN, |p| p.0);
                [if log { x.log10() } else { x }, t.value.unwrap_or(f64::NAN)]
            })
            .collect();
        let axis = match d {
            Distribution::Categorical { .. } => " (choice number)",
            _ if log => " (log10)",
            _ => "",
        };
        let title = format!("{key}{axis} against validation accuracy");
        out.push_str(&class_scatter(&title, &pts, &labels, &classes)?);
    }
    out.push_str("</div><h2>Importance</h2><div class=\"grid\">");
    let imp = importance(space, study);
    let names: Vec<String> = imp.iter().map(|(k, _)| k.clone()).collect();
    let shares = vec![(
        "share of the variance".to_string(),
        imp.iter().map(|(_, v)| *v).collect(),
    )];
    out.push_str(&bar_chart(
        "Share of the objective's variance each parameter explains",
        "share",
        &names,
        &shares,
    )?);
    out.push_str("</div><h2>Best trials</h2><table><tr><th>trial</th><th>validation</th><th>test</th><th>steps</th>");
    for key in space.params.keys() {
        let _ = write!(out, "<th>{}</th>", escape(key));
    }
    out.push_str("</tr>");
    let mut ranked: Vec<&Trial> = trials
        .iter()
        .copied()
        .filter(|t| t.state == TrialState::Complete)
        .collect();
    ranked.sort_by(|a, b| b.value.unwrap_or(0.0).total_cmp(&a.value.unwrap_or(0.0)));
    for t in ranked.iter().take(10) {
        let attr = |k: &str| t.user_attrs.get(k).and_then(|v| v.as_f64());
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{:.2}%</td><td>{}</td><td>{}</td>",
            t.id,
            100.0 * t.value.unwrap_or(0.0),
            attr("test_accuracy").map_or("-".into(), |v| format!("{:.2}%", 100.0 * v)),
            attr("steps").map_or("-".into(), |v| format!("{v:.0}"))
        );
        for (key, d) in &space.params {
            let v = t
                .params
                .get(key)
                .and_then(|p| d.from_internal(p.0))
                .map_or("-".into(), |v| match v.as_float() {
                    Some(x) => format!("{x:.4}"),
                    None => v.to_string(),
                });
            let _ = write!(out, "<td>{}</td>", escape(&v));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table><p class=\"note\">Test accuracy is for the record only: trials are chosen by validation accuracy.</p></body></html>\n");
    crate::io::write_atomic(&dir.join("report.html"), out.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn the_parameter_that_drives_the_objective_is_the_important_one() {
        let space = SearchSpace::parse(
            "[params.a]\ntype = \"float\"\nlow = 0.0\nhigh = 1.0\n[params.b]\ntype = \"float\"\nlow = 0.0\nhigh = 1.0\n",
        )
        .unwrap();
        let mut study = Study::default();
        for i in 0..40 {
            let a = (i as f64 * 0.37).fract();
            let b = (i as f64 * 0.61).fract();
            study.trials.push(Trial {
                id: i,
                state: TrialState::Complete,
                params: BTreeMap::from([
                    ("a".into(), (a, String::new())),
                    ("b".into(), (b, String::new())),
                ]),
                value: Some(a + 0.05 * b),
                intermediate: BTreeMap::new(),
                user_attrs: BTreeMap::new(),
                system_attrs: BTreeMap::new(),
            });
        }
        let imp = importance(&space, &study);
        assert!(imp[0].1 > 0.8 && imp[1].1 < 0.2, "{imp:?}");
        let dir = std::env::temp_dir().join(format!("mp-study-report-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        write_study_report(&dir, &space, &study).unwrap();
        let page = std::fs::read_to_string(dir.join("report.html")).unwrap();
        assert_eq!(page.matches("<svg").count(), 4);
        let best = study
            .trials
            .iter()
            .max_by(|x, y| x.value.unwrap().total_cmp(&y.value.unwrap()))
            .unwrap();
        let first_row = format!(
            "</tr><tr><td>{}</td><td>{:.2}%",
            best.id,
            100.0 * best.value.unwrap()
        );
        assert!(page.contains(&first_row), "the best trial heads the table");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
