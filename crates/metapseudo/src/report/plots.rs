//! The report's charts as SVG text, drawn with `plotters`: learning curves, bars, heat maps,
//! reliability diagrams, scatter plots and decision regions.

use super::calibration::ReliabilityBin;
use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Chart size in pixels, without its legend strip.
const SIZE: (u32, u32) = (500, 360);
/// Square charts (confusion matrix, scatter plots, decision regions).
const SQUARE: (u32, u32) = (520, 520);

/// Colour of class (or series) `k`: the ten "tab10" colours, then evenly spaced hues.
pub fn class_colour(k: usize) -> RGBColor {
    const TAB10: [(u8, u8, u8); 10] = [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
    ];
    if let Some(&(r, g, b)) = TAB10.get(k) {
        return RGBColor(r, g, b);
    }
    let hue = (k as f64 * 0.618_033_988_75).fract();
    let (r, g, b) = HSLColor(hue, 0.65, 0.5).to_backend_color().rgb;
    RGBColor(r, g, b)
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A titled chart on `root` with label areas of `(x, y)` pixels over the ranges `x` and `y`.
fn chart_on<'a, 'b>(
    root: &'a Area<'b>,
    title: &str,
    label_areas: (u32, u32),
    x: (f64, f64),
    y: (f64, f64),
) -> Result<Chart<'a, 'b>> {
    ChartBuilder::on(root)
        .caption(title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(label_areas.0)
        .y_label_area_size(label_areas.1)
        .build_cartesian_2d(x.0..x.1, y.0..y.1)
        .map_err(plot_err)
}

/// How a legend entry shows its series.
#[derive(Clone, Copy, Debug)]
pub enum Mark {
    /// A line segment.
    Line,
    /// A filled square (bars).
    Box,
    /// A filled dot of this radius.
    Dot(i32),
}

/// One entry of a chart's legend.
#[derive(Clone, Debug)]
pub struct Key {
    /// Legend text.
    pub name: String,
    /// Colour of the series.
    pub colour: RGBColor,
    /// How the series is marked.
    pub mark: Mark,
}

impl Key {
    fn new(name: impl Into<String>, colour: RGBColor, mark: Mark) -> Self {
        Self {
            name: name.into(),
            colour,
            mark,
        }
    }
}

/// Most legend entries drawn; further ones are summarised in one line.
const MAX_KEYS: usize = 24;

/// Draws `keys` down the strip `area`, beside the chart, where they cover no data.
fn draw_keys(area: &Area<'_>, keys: &[Key]) -> Result<()> {
    let style = ("sans-serif", 13).into_font().color(&BLACK);
    let shown = if keys.len() > MAX_KEYS {
        MAX_KEYS - 1
    } else {
        keys.len()
    };
    for (i, key) in keys.iter().take(shown).enumerate() {
        let y = 40 + 20 * i as i32;
        let c = key.colour;
        match key.mark {
            Mark::Line => area.draw(&PathElement::new([(6, y), (26, y)], c.stroke_width(2))),
            Mark::Box => area.draw(&Rectangle::new([(10, y - 6), (22, y + 6)], c.filled())),
            Mark::Dot(r) => area.draw(&Circle::new((16, y), r, c.filled())),
        }
        .map_err(plot_err)?;
        area.draw(&Text::new(key.name.clone(), (32, y - 7), style.clone()))
            .map_err(plot_err)?;
    }
    if shown < keys.len() {
        let y = 40 + 20 * shown as i32;
        let more = format!("... and {} more", keys.len() - shown);
        area.draw(&Text::new(more, (32, y - 7), style))
            .map_err(plot_err)?;
    }
    Ok(())
}

/// Draws a chart of `size` into a fresh SVG, with the legend of `keys` in a strip to its
/// right (none without keys), and returns its text.
fn svg_keyed(
    size: (u32, u32),
    keys: &[Key],
    draw: impl FnOnce(&Area<'_>) -> Result<()>,
) -> Result<String> {
    if keys.is_empty() {
        return svg(size, draw);
    }
    let longest = keys
        .iter()
        .map(|k| k.name.chars().count())
        .max()
        .unwrap_or(0);
    let strip = (longest as u32 * 6 + 40).clamp(90, 280);
    svg((size.0 + strip, size.1), |root| {
        let (plot, side) = root.split_horizontally(size.0);
        draw(&plot)?;
        draw_keys(&side, keys)
    })
}

/// Draws into a fresh SVG of `size` and returns its text.
fn svg(size: (u32, u32), draw: impl FnOnce(&Area<'_>) -> Result<()>) -> Result<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        draw(&root)?;
        root.present().map_err(plot_err)?;
    }
    Ok(out)
}

fn plot_err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("drawing a chart: {e}")
}

/// `(lo, hi)` of finite values with a margin; a flat range (one point) is widened by a tenth
/// of its value, at least 0.5, and the margin never takes values that are all non-negative
/// below 0.
fn padded_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = if hi > lo {
        0.05 * (hi - lo)
    } else {
        (0.1 * lo.abs()).max(0.5)
    };
    let floor = if lo >= 0.0 { 0.0 } else { f64::NEG_INFINITY };
    ((lo - pad).max(floor), hi + pad)
}

/// One named line of a chart.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// `(x, y)` points in order of x; non-finite values are skipped.
    pub points: Vec<(f64, f64)>,
}

/// Lines sharing axes, with a legend.
pub fn line_chart(title: &str, x_desc: &str, series: &[Series]) -> Result<String> {
    let all = || series.iter().flat_map(|s| s.points.iter());
    let (x0, x1) = padded_range(all().map(|p| p.0));
    let (y0, y1) = padded_range(all().map(|p| p.1));
    let keys: Vec<Key> = if series.len() > 1 || series.first().is_some_and(|s| !s.name.is_empty()) {
        series
            .iter()
            .enumerate()
            .map(|(k, s)| Key::new(s.name.as_str(), class_colour(k), Mark::Line))
            .collect()
    } else {
        Vec::new()
    };
    svg_keyed(SIZE, &keys, |root| {
        let mut chart = chart_on(root, title, (35, 55), (x0, x1), (y0, y1))?;
        let integer = |x: &f64| format!("{x:.0}");
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .x_label_formatter(&integer)
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(plot_err)?;
        for (k, s) in series.iter().enumerate() {
            let colour = class_colour(k);
            let points: Vec<(f64, f64)> = s
                .points
                .iter()
                .copied()
                .filter(|p| p.0.is_finite() && p.1.is_finite())
                .collect();
            let marker = points.len() <= 20;
            chart
                .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))
                .map_err(plot_err)?;
            if marker {
                chart
                    .draw_series(points.iter().map(|&p| Circle::new(p, 3, colour.filled())))
                    .map_err(plot_err)?;
            }
        }
        Ok(())
    })
}

/// Grouped vertical bars: one group per category, one bar per named value list, in `[0, 1]`,
/// on an axis named `y_desc`.
pub fn bar_chart(
    title: &str,
    y_desc: &str,
    categories: &[String],
    groups: &[(String, Vec<f64>)],
) -> Result<String> {
    let k = categories.len().max(1);
    let g = groups.len().max(1);
    let keys: Vec<Key> = groups
        .iter()
        .enumerate()
        .map(|(gi, (name, _))| Key::new(name.as_str(), class_colour(gi), Mark::Box))
        .collect();
    svg_keyed(SIZE, &keys, |root| {
        let mut chart = chart_on(
            root,
            title,
            (45, 45),
            (-0.5f64, k as f64 - 0.5),
            (0.0f64, 1.05),
        )?;
        let label = |x: &f64| index_label(*x, categories);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(k.min(40))
            .x_label_formatter(&label)
            .y_desc(y_desc)
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(plot_err)?;
        let width = 0.8 / g as f64;
        for (gi, (_, values)) in groups.iter().enumerate() {
            let colour = class_colour(gi);
            chart
                .draw_series(values.iter().enumerate().map(|(c, &v)| {
                    let x = c as f64 - 0.4 + gi as f64 * width;
                    Rectangle::new([(x, 0.0), (x + width * 0.9, v)], colour.filled())
                }))
                .map_err(plot_err)?;
        }
        Ok(())
    })
}

/// The label of the category nearest to `x`, or nothing between categories.
fn index_label(x: f64, names: &[String]) -> String {
    let i = x.round();
    if (x - i).abs() > 1e-6 || i < 0.0 {
        return String::new();
    }
    names.get(i as usize).cloned().unwrap_or_default()
}

/// A confusion matrix as a heat map: rows are true classes (top to bottom), columns predicted
/// classes; cell colour is the row-normalised rate, the text the count.
pub fn confusion_heatmap(
    title: &str,
    classes: &[String],
    confusion: &[Vec<u64>],
) -> Result<String> {
    let k = classes.len().max(1);
    let reversed: Vec<String> = classes.iter().rev().cloned().collect();
    svg(SQUARE, |root| {
        let mut chart = chart_on(
            root,
            title,
            (45, 70),
            (-0.5f64, k as f64 - 0.5),
            (-0.5f64, k as f64 - 0.5),
        )?;
        let x_label = |x: &f64| index_label(*x, classes);
        let y_label = |y: &f64| index_label(*y, &reversed);
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(k.min(40))
            .y_labels(k.min(40))
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .x_desc("predicted")
            .y_desc("true")
            .draw()
            .map_err(plot_err)?;
        let font_size = if k <= 12 { 13 } else { 0 };
        for (t, row) in confusion.iter().enumerate() {
            let total = row.iter().sum::<u64>().max(1) as f64;
            let y = (k - 1 - t) as f64;
            for (p, &count) in row.iter().enumerate() {
                let rate = count as f64 / total;
                let x = p as f64;
                // White (0) to dark blue (1).
                let shade = |full: u8| (255.0 - rate * (255.0 - f64::from(full))) as u8;
                let colour = RGBColor(shade(8), shade(48), shade(107));
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)],
                        colour.filled(),
                    )))
                    .map_err(plot_err)?;
                if font_size > 0 {
                    let text_colour = if rate > 0.5 { WHITE } else { BLACK };
                    let style = ("sans-serif", font_size)
                        .into_font()
                        .color(&text_colour)
                        .pos(Pos::new(HPos::Center, VPos::Center));
                    chart
                        .draw_series(std::iter::once(Text::new(count.to_string(), (x, y), style)))
                        .map_err(plot_err)?;
                }
            }
        }
        Ok(())
    })
}

/// A reliability diagram: accuracy of each confidence bin as bars, the diagonal of perfect
/// calibration, and the bins' mean confidence as points.
pub fn reliability_diagram(title: &str, bins: &[ReliabilityBin]) -> Result<String> {
    let (blue, grey, red) = (class_colour(0), RGBColor(102, 102, 102), class_colour(3));
    let keys = [
        Key::new("accuracy", blue, Mark::Box),
        Key::new("perfect calibration", grey, Mark::Line),
        Key::new("mean confidence", red, Mark::Dot(4)),
    ];
    svg_keyed(SQUARE, &keys, |root| {
        let mut chart = chart_on(root, title, (40, 50), (0.0f64, 1.0), (0.0f64, 1.0))?;
        chart
            .configure_mesh()
            .x_desc("confidence")
            .y_desc("accuracy")
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(plot_err)?;
        chart
            .draw_series(bins.iter().filter(|b| b.count > 0).map(|b| {
                Rectangle::new(
                    [(b.lower, 0.0), (b.upper, b.accuracy)],
                    blue.mix(0.7).filled(),
                )
            }))
            .map_err(plot_err)?;
        chart
            .draw_series(LineSeries::new(
                [(0.0, 0.0), (1.0, 1.0)],
                grey.stroke_width(1),
            ))
            .map_err(plot_err)?;
        chart
            .draw_series(
                bins.iter().filter(|b| b.count > 0).map(|b| {
                    Circle::new(((b.lower + b.upper) / 2.0, b.confidence), 4, red.filled())
                }),
            )
            .map_err(plot_err)?;
        Ok(())
    })
}

/// Points coloured by class, with a legend of class names.
pub fn class_scatter(
    title: &str,
    points: &[[f64; 2]],
    labels: &[usize],
    classes: &[String],
) -> Result<String> {
    let (x0, x1) = padded_range(points.iter().map(|p| p[0]));
    let (y0, y1) = padded_range(points.iter().map(|p| p[1]));
    let keys: Vec<Key> = classes
        .iter()
        .enumerate()
        .map(|(c, name)| Key::new(name.as_str(), class_colour(c), Mark::Dot(4)))
        .collect();
    svg_keyed(SQUARE, &keys, |root| {
        let mut chart = chart_on(root, title, (30, 50), (x0, x1), (y0, y1))?;
        chart
            .configure_mesh()
            .disable_mesh()
            .draw()
            .map_err(plot_err)?;
        for c in 0..classes.len() {
            let colour = class_colour(c);
            chart
                .draw_series(
                    points
                        .iter()
                        .zip(labels)
                        .filter(|(_, l)| **l == c)
                        .map(|(p, _)| Circle::new((p[0], p[1]), 2, colour.mix(0.8).filled())),
                )
                .map_err(plot_err)?;
        }
        Ok(())
    })
}

/// Predicted classes over a regular grid, for [`decision_regions`].
#[derive(Clone, Debug)]
pub struct GridPrediction {
    /// `(min, max)` of the first coordinate.
    pub x_range: (f64, f64),
    /// `(min, max)` of the second coordinate.
    pub y_range: (f64, f64),
    /// Cells per side.
    pub cells: usize,
    /// Class of each cell centre, row by row from `y_range.0` upwards, `cells * cells` long.
    pub classes: Vec<usize>,
}

impl GridPrediction {
    /// The centre of cell `(ix, iy)`.
    pub fn centre(&self, ix: usize, iy: usize) -> (f64, f64) {
        let step =
            |(lo, hi): (f64, f64), i: usize| lo + (i as f64 + 0.5) * (hi - lo) / self.cells as f64;
        (step(self.x_range, ix), step(self.y_range, iy))
    }
}

/// 2-D points with labels (`None`: unlabeled) for [`decision_regions`].
pub struct LabeledPoints<'a> {
    /// Coordinates.
    pub points: &'a [[f64; 2]],
    /// Class of each point, or `None`.
    pub labels: &'a [Option<usize>],
}

/// Decision regions of a model on 2-D inputs (light class colours), with unlabeled points as
/// small grey dots and labeled points as large outlined dots in their class colour.
pub fn decision_regions(
    title: &str,
    grid: &GridPrediction,
    data: LabeledPoints<'_>,
    classes: &[String],
) -> Result<String> {
    let (x0, x1) = grid.x_range;
    let (y0, y1) = grid.y_range;
    let (dx, dy) = ((x1 - x0) / grid.cells as f64, (y1 - y0) / grid.cells as f64);
    let grey = RGBColor(90, 90, 90);
    let mut keys = vec![Key::new("unlabeled", grey, Mark::Dot(3))];
    keys.extend(
        classes
            .iter()
            .enumerate()
            .map(|(c, name)| Key::new(format!("labeled: {name}"), class_colour(c), Mark::Dot(5))),
    );
    svg_keyed(SQUARE, &keys, |root| {
        let mut chart = chart_on(root, title, (30, 45), (x0, x1), (y0, y1))?;
        chart
            .configure_mesh()
            .disable_mesh()
            .draw()
            .map_err(plot_err)?;
        let cells = (0..grid.cells).flat_map(|iy| (0..grid.cells).map(move |ix| (ix, iy)));
        chart
            .draw_series(cells.map(|(ix, iy)| {
                let (cx, cy) = grid.centre(ix, iy);
                let c = grid.classes[iy * grid.cells + ix];
                Rectangle::new(
                    [
                        (cx - dx / 2.0, cy - dy / 2.0),
                        (cx + dx / 2.0, cy + dy / 2.0),
                    ],
                    class_colour(c).mix(0.25).filled(),
                )
            }))
            .map_err(plot_err)?;
        chart
            .draw_series(
                data.points
                    .iter()
                    .zip(data.labels)
                    .filter(|(_, l)| l.is_none())
                    .map(|(p, _)| Circle::new((p[0], p[1]), 2, grey.mix(0.6).filled())),
            )
            .map_err(plot_err)?;
        for c in 0..classes.len() {
            let colour = class_colour(c);
            let labeled = data
                .points
                .iter()
                .zip(data.labels)
                .filter(|(_, l)| **l == Some(c))
                .map(|(p, _)| (p[0], p[1]))
                .collect::<Vec<_>>();
            chart
                .draw_series(labeled.iter().map(|&p| Circle::new(p, 7, colour.filled())))
                .map_err(plot_err)?;
            chart
                .draw_series(
                    labeled
                        .iter()
                        .map(|&p| Circle::new(p, 7, BLACK.stroke_width(2))),
                )
                .map_err(plot_err)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_svg_with_their_content() {
        let s = line_chart(
            "loss",
            "step",
            &[Series {
                name: "loss/sup".into(),
                points: vec![(0.0, 2.0), (10.0, 1.0), (20.0, f64::NAN)],
            }],
        )
        .unwrap();
        assert!(s.starts_with("<svg") && s.contains("loss/sup") && s.contains("<polyline"));
        // The legend sits in a strip right of the plot, where it covers no data.
        let key = s
            .find(">\nloss/sup\n</text>")
            .expect("the legend names the series");
        let x_at = s[..key].rfind("<text x=\"").unwrap() + "<text x=\"".len();
        let x: f64 = s[x_at..].split('"').next().unwrap().parse().unwrap();
        assert!(x > f64::from(SIZE.0), "legend at x = {x}");
        let names = vec!["a".to_string(), "b".to_string()];
        let h = confusion_heatmap("confusion", &names, &[vec![5, 1], vec![0, 7]]).unwrap();
        assert!(
            h.contains("\n7\n</text>") && h.matches("<rect").count() >= 4,
            "{h}"
        );
        let b = bar_chart(
            "per class",
            "accuracy",
            &names,
            &[("ema".into(), vec![0.5, 0.9])],
        )
        .unwrap();
        assert!(b.contains("ema"));
        assert_eq!(class_colour(0), RGBColor(31, 119, 180));
        // Non-negative values (learning rates) keep the axis at or above 0; one point gets
        // room of a tenth of its value.
        assert_eq!(padded_range([0.0, 0.2].into_iter()).0, 0.0);
        assert_eq!(padded_range([3000.0].into_iter()), (2700.0, 3300.0));
        assert_eq!(padded_range([-1.0, 1.0].into_iter()), (-1.1, 1.1));
        assert_ne!(class_colour(10), class_colour(11));
    }
}
