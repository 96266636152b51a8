//! `arb plot`: a CSV of numbers over time as an SVG, one panel per column, through
//! [`crate::plot::time_series_svg`]. It exists so that `scripts/soak.sh` can draw its
//! samples on a fresh machine with nothing but the engine's binary (no gnuplot, no
//! Python packages).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// What to plot.
#[derive(clap::Args, Debug)]
pub struct PlotArgs {
    /// A CSV file with a header line; the first column is the x axis (such as seconds),
    /// every other numeric column becomes a panel.
    pub csv: PathBuf,
    /// The SVG file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// The plot's title (default: the CSV's file name).
    #[arg(long)]
    pub title: Option<String>,
    /// Only these columns, comma-separated (default: every column after the first).
    #[arg(long, value_delimiter = ',')]
    pub columns: Vec<String>,
}

pub fn run(args: &PlotArgs) -> Result<()> {
    let text =
        std::fs::read_to_string(&args.csv).with_context(|| format!("cannot read {}", args.csv.display()))?;
    let series = columns(&text, &args.columns).with_context(|| format!("{}", args.csv.display()))?;
    let title = args.title.clone().unwrap_or_else(|| file_name(&args.csv));
    let x_label = text.lines().next().and_then(|h| h.split(',').next()).unwrap_or("x").trim().to_owned();
    std::fs::write(&args.out, crate::plot::time_series_svg(&title, &x_label, &series))
        .with_context(|| format!("cannot write {}", args.out.display()))
}

fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// The columns of a CSV (header first) as `(x, y)` series over its first column. Cells
/// that are not numbers are left out of their series; a row whose x is not a number is
/// refused.
pub fn columns(text: &str, only: &[String]) -> Result<Vec<crate::plot::TimeSeries>> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> =
        lines.next().context("empty CSV: no header line")?.split(',').map(str::trim).collect();
    if header.len() < 2 {
        bail!("the CSV needs an x column and at least one more");
    }
    let wanted: Vec<usize> = if only.is_empty() {
        (1..header.len()).collect()
    } else {
        only.iter()
            .map(|c| {
                header.iter().position(|h| h == c).with_context(|| format!("no column {c:?} in {header:?}"))
            })
            .collect::<Result<_>>()?
    };
    let mut series: Vec<crate::plot::TimeSeries> =
        wanted.iter().map(|&i| (header[i].to_owned(), Vec::new())).collect();
    for (n, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        let x: f64 =
            cells[0].parse().with_context(|| format!("row {}: x {:?} is not a number", n + 2, cells[0]))?;
        for (s, &i) in series.iter_mut().zip(&wanted) {
            if let Some(y) = cells.get(i).and_then(|c| c.parse::<f64>().ok()) {
                s.1.push((x, y));
            }
        }
    }
    Ok(series)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_become_series_over_the_first() {
        let csv = "elapsed_s,rss_kb,books_synced,state\n0,100,10,ok\n10,101,9,ok\n20,,10,ok\n";
        let s = columns(csv, &[]).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(
            s[0],
            ("rss_kb".to_owned(), vec![(0.0, 100.0), (10.0, 101.0)]),
            "empty cells are left out"
        );
        assert_eq!(s[1].1, [(0.0, 10.0), (10.0, 9.0), (20.0, 10.0)]);
        assert!(s[2].1.is_empty(), "text is no number");
        let only = columns(csv, &["books_synced".to_owned()]).unwrap();
        assert_eq!(only.len(), 1);
        assert!(columns(csv, &["nope".to_owned()]).unwrap_err().to_string().contains("no column"));
        assert!(columns("t,a\nx,1\n", &[]).unwrap_err().to_string().contains("row 2"));
        assert!(columns("", &[]).is_err());
    }
}
