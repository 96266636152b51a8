//! Output pieces of `arb journal`: aligned tables with optional colour, CSV fields, UTC
//! dates, and the rounded amounts tables show (CSV and JSON show exact ones).

use std::fmt::Write as _;

use pipeline::types::Amount;
use pipeline::types::decimal::Scaled;

/// How a table cell is coloured when colour is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Paint {
    Plain,
    Good,
    Bad,
    Dim,
}

impl Paint {
    fn code(self) -> Option<&'static str> {
        match self {
            Paint::Plain => None,
            Paint::Good => Some("32"),
            Paint::Bad => Some("31"),
            Paint::Dim => Some("2"),
        }
    }

    /// Green for a gain, red for a loss.
    pub fn of(a: Amount) -> Paint {
        match a.0.signum() {
            1 => Paint::Good,
            -1 => Paint::Bad,
            _ => Paint::Plain,
        }
    }
}

/// `text` in `paint`'s colour when `color` is on.
pub fn paint(text: &str, paint: Paint, color: bool) -> String {
    match paint.code() {
        Some(code) if color => format!("\x1b[{code}m{text}\x1b[0m"),
        _ => text.to_owned(),
    }
}

/// Column alignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// A table: a header and rows of painted cells, aligned on the widest cell.
#[derive(Debug, Default)]
pub struct Table {
    head: Vec<(&'static str, Align)>,
    rows: Vec<Vec<(String, Paint)>>,
}

impl Table {
    pub fn new(head: &[(&'static str, Align)]) -> Self {
        Self { head: head.to_vec(), rows: Vec::new() }
    }

    pub fn push(&mut self, row: Vec<(String, Paint)>) {
        self.rows.push(row);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Appends the table to `out`; escapes only when `color` is on.
    pub fn render(&self, color: bool, out: &mut String) {
        let mut width: Vec<usize> = self.head.iter().map(|(h, _)| h.chars().count()).collect();
        for row in &self.rows {
            for (w, (cell, _)) in width.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: Vec<(String, Paint)>, out: &mut String| {
            let last = cells.len().saturating_sub(1);
            for (i, ((cell, p), ((_, align), w))) in
                cells.into_iter().zip(self.head.iter().zip(&width)).enumerate()
            {
                let pad = w.saturating_sub(cell.chars().count());
                let (left, right) = match align {
                    Align::Left if i == last => (0, 0),
                    Align::Left => (0, pad),
                    Align::Right => (pad, 0),
                };
                if i > 0 {
                    out.push_str("  ");
                }
                let _ = write!(out, "{}{}{}", " ".repeat(left), paint(&cell, p, color), " ".repeat(right));
            }
            out.push('\n');
        };
        let head: Vec<(String, Paint)> =
            self.head.iter().map(|(h, _)| ((*h).to_owned(), Paint::Plain)).collect();
        if color {
            // Bold header: the escape goes around the whole padded line.
            let mut h = String::new();
            line(head, &mut h);
            let _ = writeln!(out, "\x1b[1m{}\x1b[0m", h.trim_end_matches('\n'));
        } else {
            line(head, out);
        }
        for row in &self.rows {
            line(row.clone(), out);
        }
    }
}

/// One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_owned() }
}

/// One CSV line.
pub fn csv_line(fields: &[String], out: &mut String) {
    let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
    out.push_str(&line.join(","));
    out.push('\n');
}

/// (year, month, day) of a day count since 1970-01-01 (proleptic Gregorian calendar).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `YYYY-MM-DD` of a day count since 1970-01-01.
pub fn utc_day(day: u64) -> String {
    let (y, m, d) = civil(day as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` (ISO 8601, UTC) of milliseconds since the Unix epoch.
pub fn utc_time(ms: u64) -> String {
    let day = ms / pipeline::journal::history::DAY_MS;
    let in_day = ms % pipeline::journal::history::DAY_MS;
    let (h, min, s, milli) = (in_day / 3_600_000, in_day / 60_000 % 60, in_day / 1_000 % 60, in_day % 1_000);
    format!("{}T{h:02}:{min:02}:{s:02}.{milli:03}Z", utc_day(day))
}

/// `a` rounded half away from zero to `places` decimal places (at most 18).
fn round(a: Amount, places: u8) -> i128 {
    let unit = 10i128.pow(u32::from(18 - places.min(18)));
    let half = unit / 2;
    a.0.signum() * ((a.0.abs() + half) / unit)
}

/// `a` rounded to cents, always with two decimals (`-0.10`, `12.35`).
pub fn cents(a: Amount) -> String {
    let c = round(a, 2);
    let sign = if c < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", c.abs() / 100, c.abs() % 100)
}

/// `a` rounded to at most eight decimals, trailing zeros dropped.
pub fn short(a: Amount) -> String {
    Scaled::new(round(a, 8), 8).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_and_gregorian() {
        assert_eq!(utc_day(0), "1970-01-01");
        assert_eq!(utc_day(11_016), "2000-02-29");
        assert_eq!(utc_day(19_723), "2024-01-01");
        assert_eq!(utc_time(19_723 * 86_400_000 + 3_723_004), "2024-01-01T01:02:03.004Z");
    }

    #[test]
    fn tables_round_and_csv_quotes() {
        let a = |s| Amount::parse(s).unwrap();
        assert_eq!(cents(a("1.005")), "1.01");
        assert_eq!(cents(a("-1.005")), "-1.01");
        assert_eq!(cents(a("-0.004")), "0.00");
        assert_eq!(cents(a("12")), "12.00");
        assert_eq!(short(a("0.000000123456")), "0.00000012");
        assert_eq!(short(a("0.5")), "0.5");
        assert_eq!(csv_field("a, b"), "\"a, b\"");
        assert_eq!(csv_field("say \"x\""), "\"say \"\"x\"\"\"");
        assert_eq!(csv_field("plain"), "plain");
    }

    #[test]
    fn colour_only_when_asked() {
        let mut t = Table::new(&[("a", Align::Left), ("pnl", Align::Right)]);
        t.push(vec![("x".into(), Paint::Plain), ("-1.00".into(), Paint::Bad)]);
        let (mut plain, mut colored) = (String::new(), String::new());
        t.render(false, &mut plain);
        t.render(true, &mut colored);
        assert_eq!(plain, "a    pnl\nx  -1.00\n");
        assert!(!plain.contains('\x1b'));
        assert!(colored.contains("\x1b[31m-1.00\x1b[0m"), "{colored:?}");
    }
}
