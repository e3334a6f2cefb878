//! Pareto plots of the evaluation (one curve per method family) as PNG and SVG with plotters.
//! PNG text needs a TrueType font: `AUTOJUDGE_FONT`, else DejaVu Sans / Liberation Sans.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::prelude::*;

use autojudge_eval::MethodSummary;

const FONT_PATHS: [&str; 3] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

fn register_font() -> Result<(), String> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        let candidates = std::env::var("AUTOJUDGE_FONT")
            .ok()
            .into_iter()
            .chain(FONT_PATHS.iter().map(|s| s.to_string()));
        for p in candidates {
            if let Ok(bytes) = std::fs::read(&p) {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                return plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
                    .map_err(|_| format!("{p}: not a usable font"));
            }
        }
        Err("no TrueType font found; set AUTOJUDGE_FONT".into())
    })
    .clone()
}

type Axis<'a> = (&'a str, fn(&MethodSummary) -> f64);

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    rows: &[MethodSummary],
    (xl, x): Axis<'_>,
    (yl, y): Axis<'_>,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(e)?;
    let pts: Vec<(f64, f64)> = rows
        .iter()
        .map(|r| (x(r), y(r)))
        .filter(|p| p.0.is_finite() && p.1.is_finite())
        .collect();
    let xmax = pts.iter().map(|p| p.0).fold(0.0f64, f64::max) * 1.1 + 0.1;
    let xmin = pts
        .iter()
        .map(|p| p.0)
        .fold(f64::INFINITY, f64::min)
        .min(0.0);
    let ymax = (pts.iter().map(|p| p.1).fold(0.0f64, f64::max) * 1.1).clamp(0.05, 1.05);
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{yl} vs {xl}"), ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(xmin..xmax, 0.0..ymax)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc(xl)
        .y_desc(yl)
        .draw()
        .map_err(e)?;
    // Curves first, single points (target-only, lossless) last and larger, so none hides.
    let mut families: Vec<String> = rows.iter().map(|r| r.family.clone()).collect();
    families.sort();
    families.dedup();
    let count = |f: &String| rows.iter().filter(|r| &r.family == f).count();
    families.sort_by_key(|f| std::cmp::Reverse(count(f)));
    for (i, fam) in families.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let mut fp: Vec<(f64, f64)> = rows
            .iter()
            .filter(|r| &r.family == fam)
            .map(|r| (x(r), y(r)))
            .filter(|p| p.0.is_finite() && p.1.is_finite())
            .collect();
        fp.sort_by(|a, b| a.0.total_cmp(&b.0));
        chart
            .draw_series(LineSeries::new(fp.clone(), color.stroke_width(2)))
            .map_err(e)?
            .label(fam.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart
            .draw_series(
                fp.iter()
                    .map(|&p| Circle::new(p, if fp.len() == 1 { 8 } else { 5 }, color.filled())),
            )
            .map_err(e)?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerLeft)
        .draw()
        .map_err(e)?;
    root.present().map_err(e)
}

/// Writes `<base>.png` and `<base>.svg`; returns the paths written.
pub fn pareto(
    base: &Path,
    rows: &[MethodSummary],
    x: Axis<'_>,
    y: Axis<'_>,
) -> Result<Vec<PathBuf>, String> {
    register_font()?;
    let png = base.with_extension("png");
    let svg = base.with_extension("svg");
    draw(
        BitMapBackend::new(&png, (900, 600)).into_drawing_area(),
        rows,
        x,
        y,
    )?;
    draw(
        SVGBackend::new(&svg, (900, 600)).into_drawing_area(),
        rows,
        x,
        y,
    )?;
    Ok(vec![png, svg])
}

fn draw_curve<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    curve: &autojudge_eval::LearningCurve,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(e)?;
    let p = &curve.points;
    let xmax = p.iter().map(|p| p.train_prompts as f64).fold(1.0, f64::max) * 1.08;
    let finite = |v: f64| if v.is_finite() { v } else { 0.5 };
    let ymin = p
        .iter()
        .map(|p| finite(p.auc_low))
        .fold(1.0, f64::min)
        .min(0.5)
        - 0.02;
    let ymax = p
        .iter()
        .map(|p| finite(p.auc_high))
        .fold(0.0, f64::max)
        .max(0.6)
        + 0.02;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "validation ROC-AUC vs training prompts ({} validation prompts)",
                curve.validation_prompts
            ),
            ("sans-serif", 20),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..xmax, ymin..ymax)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("training prompts")
        .y_desc("validation ROC-AUC (95% CI)")
        .draw()
        .map_err(e)?;
    let mut sets = Vec::new();
    for q in p {
        if !sets.contains(&q.features) {
            sets.push(q.features);
        }
    }
    for (i, set) in sets.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let pts: Vec<_> = p.iter().filter(|q| q.features == *set).collect();
        // A small horizontal offset per set keeps the interval bars apart.
        let dx = (i as f64 - sets.len() as f64 / 2.0) * xmax * 0.004;
        chart
            .draw_series(LineSeries::new(
                pts.iter().map(|q| (q.train_prompts as f64 + dx, q.auc)),
                color.stroke_width(2),
            ))
            .map_err(e)?
            .label(set.name())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart
            .draw_series(pts.iter().map(|q| {
                let x = q.train_prompts as f64 + dx;
                PathElement::new(
                    vec![(x, finite(q.auc_low)), (x, finite(q.auc_high))],
                    color.stroke_width(1),
                )
            }))
            .map_err(e)?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(e)?;
    root.present().map_err(e)
}

/// Writes the learning curve as `<base>.png` and `<base>.svg`; returns the paths written.
pub fn learning_curve(
    base: &Path,
    curve: &autojudge_eval::LearningCurve,
) -> Result<Vec<PathBuf>, String> {
    register_font()?;
    let png = base.with_extension("png");
    let svg = base.with_extension("svg");
    draw_curve(
        BitMapBackend::new(&png, (900, 600)).into_drawing_area(),
        curve,
    )?;
    draw_curve(SVGBackend::new(&svg, (900, 600)).into_drawing_area(), curve)?;
    Ok(vec![png, svg])
}
