//! The table `make bench` prints: one row per figure, with its median, spread,
//! number of samples, target and verdict, grouped by section.

use std::fmt::Write;

use crate::stats::Summary;

/// How a figure is shown. Values are kept in base units: seconds, bytes,
/// events per second, plain ratios.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Micros,
    Millis,
    /// A ratio, shown as `1.23×`.
    Times,
    /// Events per second, with the events' name: `docs/s`.
    Rate(&'static str),
    Bytes,
    KiB,
    MiB,
    /// A plain number of things.
    Count,
}

impl Unit {
    pub fn format(self, value: f64) -> String {
        match self {
            Unit::Micros => format!("{} µs", significant(value * 1e6)),
            Unit::Millis => format!("{} ms", significant(value * 1e3)),
            Unit::Times => format!("{}×", significant(value)),
            Unit::Rate(what) => format!("{} {what}", thousands(value)),
            Unit::Bytes => format!("{} B", thousands(value)),
            Unit::KiB => format!("{} KiB", significant(value / 1024.0)),
            Unit::MiB => format!("{} MiB", significant(value / (1024.0 * 1024.0))),
            Unit::Count => thousands(value),
        }
    }
}

/// Three significant digits, and no exponent: `0.0123`, `1.23`, `123`, `1234`.
fn significant(value: f64) -> String {
    let magnitude = value.abs();
    let decimals = if magnitude >= 100.0 || magnitude == 0.0 {
        0
    } else {
        (2 - magnitude.log10().floor() as i32).max(0) as usize
    };
    format!("{value:.decimals$}")
}

/// A whole number with thousands separators: `123,456`.
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.abs());
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    if value < 0.0 { format!("-{out}") } else { out }
}

/// What a figure is held against. Reported, never asserted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    AtMost(f64),
    AtLeast(f64),
}

impl Target {
    fn met_by(self, value: f64) -> bool {
        match self {
            Target::AtMost(limit) => value <= limit,
            Target::AtLeast(limit) => value >= limit,
        }
    }

    fn format(self, unit: Unit) -> String {
        match self {
            Target::AtMost(limit) => format!("≤ {}", unit.format(limit)),
            Target::AtLeast(limit) => format!("≥ {}", unit.format(limit)),
        }
    }
}

#[derive(Debug, Clone)]
enum Value {
    /// Repeated samples: a median and a spread.
    Measured(Summary),
    /// A single exact figure, such as a file size.
    Exact(f64),
    /// Why there is no figure.
    NotMeasured(String),
}

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Row {
    figure: String,
    value: Value,
    unit: Unit,
    target: Option<Target>,
}

impl Row {
    pub fn measured(figure: impl Into<String>, summary: Summary, unit: Unit) -> Self {
        Self::new(figure, Value::Measured(summary), unit)
    }

    /// A figure from samples; a row saying so when there were none.
    pub fn from_samples(figure: impl Into<String>, samples: &[f64], unit: Unit) -> Self {
        match Summary::of(samples) {
            Some(summary) => Self::measured(figure, summary, unit),
            None => Self::not_measured(figure, "no successful run", unit),
        }
    }

    pub fn exact(figure: impl Into<String>, value: f64, unit: Unit) -> Self {
        Self::new(figure, Value::Exact(value), unit)
    }

    pub fn not_measured(figure: impl Into<String>, why: impl Into<String>, unit: Unit) -> Self {
        Self::new(figure, Value::NotMeasured(why.into()), unit)
    }

    fn new(figure: impl Into<String>, value: Value, unit: Unit) -> Self {
        Self {
            figure: figure.into(),
            value,
            unit,
            target: None,
        }
    }

    pub fn target(mut self, target: Target) -> Self {
        self.target = Some(target);
        self
    }

    /// The figure's median, when it was measured.
    pub fn median(&self) -> Option<f64> {
        match &self.value {
            Value::Measured(summary) => Some(summary.median),
            Value::Exact(value) => Some(*value),
            Value::NotMeasured(_) => None,
        }
    }

    fn cells(&self) -> [String; 6] {
        let unit = self.unit;
        let (median, spread, n) = match &self.value {
            Value::Measured(s) => (
                unit.format(s.median),
                format!("{} – {}", unit.format(s.p10), unit.format(s.p90)),
                s.n.to_string(),
            ),
            Value::Exact(value) => (unit.format(*value), "exact".into(), "1".into()),
            Value::NotMeasured(why) => (format!("not measured: {why}"), "".into(), "0".into()),
        };
        let target = self.target.map(|t| t.format(unit)).unwrap_or_default();
        let verdict = match (self.target, self.median()) {
            (Some(target), Some(value)) if target.met_by(value) => "meets",
            (Some(_), Some(_)) => "MISSES",
            (Some(_), None) => "not measured",
            (None, _) => "",
        };
        [
            self.figure.clone(),
            median,
            spread,
            n,
            target,
            verdict.into(),
        ]
    }
}

/// A titled group of rows.
#[derive(Debug, Clone)]
pub struct Section {
    pub title: String,
    pub rows: Vec<Row>,
    /// Lines printed under the table: what a figure includes, what was seen.
    pub notes: Vec<String>,
}

impl Section {
    pub fn new(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            rows: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn row(&mut self, row: Row) -> &Row {
        self.rows.push(row);
        self.rows.last().expect("just pushed")
    }

    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }
}

const HEADER: [&str; 6] = [
    "figure",
    "median",
    "spread (p10 – p90)",
    "n",
    "target",
    "verdict",
];

/// The sections as one Markdown table, padded so that it reads as well in a
/// terminal as in BENCHMARKS.md, with each section's notes below it.
pub fn render(sections: &[Section]) -> String {
    let mut lines: Vec<[String; 6]> = vec![HEADER.map(String::from)];
    for section in sections {
        lines.push([
            format!("**{}**", section.title),
            "".into(),
            "".into(),
            "".into(),
            "".into(),
            "".into(),
        ]);
        lines.extend(section.rows.iter().map(Row::cells));
    }
    let widths: Vec<usize> = (0..HEADER.len())
        .map(|column| {
            lines
                .iter()
                .map(|line| line[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        out.push_str(&table_line(line, &widths));
        if i == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            out.push_str(&table_line(&rule, &widths));
        }
    }
    for section in sections.iter().filter(|s| !s.notes.is_empty()) {
        let _ = write!(out, "\n{}:\n", section.title);
        for note in &section.notes {
            let _ = writeln!(out, "- {note}");
        }
    }
    out
}

fn table_line(cells: &[String], widths: &[usize]) -> String {
    let padded: Vec<String> = cells
        .iter()
        .zip(widths)
        .map(|(cell, width)| format!("{cell:<width$}"))
        .collect();
    format!("| {} |\n", padded.join(" | "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_read_naturally() {
        assert_eq!(Unit::Micros.format(12.345e-6), "12.3 µs");
        assert_eq!(Unit::Millis.format(0.5), "500 ms");
        assert_eq!(Unit::Times.format(1.234), "1.23×");
        assert_eq!(Unit::Rate("docs/s").format(123456.7), "123,457 docs/s");
        assert_eq!(Unit::KiB.format(80_000.0), "78.1 KiB");
        assert_eq!(Unit::Bytes.format(1234.4), "1,234 B");
        assert_eq!(Unit::MiB.format(0.0), "0 MiB");
    }

    #[test]
    fn verdicts_follow_targets() {
        let summary = Summary::of(&[2.0, 3.0, 4.0]).expect("samples");
        let cells = |target| {
            Row::measured("x", summary, Unit::Times)
                .target(target)
                .cells()
        };
        assert_eq!(cells(Target::AtMost(3.0))[5], "meets");
        assert_eq!(cells(Target::AtLeast(3.5))[5], "MISSES");
        let missing = Row::not_measured("y", "why", Unit::Times).target(Target::AtMost(1.0));
        assert_eq!(missing.cells()[5], "not measured");
    }

    #[test]
    fn the_table_is_aligned_markdown() {
        let mut section = Section::new("S");
        section.row(Row::exact("size", 2048.0, Unit::KiB));
        section.note("a note");
        let table = render(&[section]);
        let widths: Vec<usize> = table.lines().take(4).map(|l| l.chars().count()).collect();
        assert!(widths.windows(2).all(|w| w[0] == w[1]), "{table}");
        assert!(table.contains("| size ") && table.contains("- a note"));
    }
}
