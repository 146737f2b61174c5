//! The result table: one row per measure with cogen, tokio, their ratio and the issue's
//! target; plus the small statistics it needs (median, percentiles).

/// A target on the ratio cogen / tokio.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    /// Informational: no target.
    None,
    /// The ratio must be at least this.
    AtLeast(f64),
    /// The ratio must be at most this.
    AtMost(f64),
}

/// One row of the table.
#[derive(Debug)]
pub struct Row {
    pub what: String,
    pub cogen: f64,
    pub tokio: f64,
    pub target: Target,
}

impl Row {
    pub fn new(what: impl Into<String>, cogen: f64, tokio: f64, target: Target) -> Self {
        Row { what: what.into(), cogen, tokio, target }
    }

    fn ratio(&self) -> Option<f64> {
        (self.tokio != 0.0 && self.tokio.is_finite() && self.cogen.is_finite())
            .then(|| self.cogen / self.tokio)
    }

    /// `Some(met)` for a row with a target.
    pub fn verdict(&self) -> Option<bool> {
        let r = self.ratio()?;
        match self.target {
            Target::None => None,
            Target::AtLeast(t) => Some(r >= t),
            Target::AtMost(t) => Some(r <= t),
        }
    }
}

/// Prints the table.
pub fn print(rows: &[Row]) {
    let width = rows.iter().map(|r| r.what.len()).max().unwrap_or(10).max(10);
    println!(
        "{:<width$}  {:>12}  {:>12}  {:>11}  {:<8}  result",
        "measure", "cogen", "tokio", "cogen/tokio", "target"
    );
    println!("{}", "-".repeat(width + 62));
    for row in rows {
        let ratio = row.ratio().map_or("-".to_owned(), |r| format!("{r:.2}x"));
        let target = match row.target {
            Target::None => String::new(),
            Target::AtLeast(t) => format!(">= {t:.2}x"),
            Target::AtMost(t) => format!("<= {t:.2}x"),
        };
        let verdict = match row.verdict() {
            None => "",
            Some(true) => "met",
            Some(false) => "MISSED",
        };
        println!(
            "{:<width$}  {:>12}  {:>12}  {:>11}  {:<8}  {verdict}",
            row.what,
            number(row.cogen),
            number(row.tokio),
            ratio,
            target
        );
    }
}

/// A figure with sensible precision: integers for large values, two decimals for small.
fn number(v: f64) -> String {
    if !v.is_finite() {
        "n/a".to_owned()
    } else if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// The median (the mean of the middle two for an even count); NaN when empty.
pub fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 { values[mid] } else { (values[mid - 1] + values[mid]) / 2.0 }
}

/// The `p`-th percentile (0..=100) of nanosecond samples, in microseconds; NaN when empty.
pub fn percentile_us(samples: &mut [u32], p: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.sort_unstable();
    let rank = ((p / 100.0) * (samples.len() - 1) as f64).round() as usize;
    f64::from(samples[rank.min(samples.len() - 1)]) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(Vec::new()).is_nan());
        let mut s: Vec<u32> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile_us(&mut s, 50.0), 51.0);
        assert_eq!(percentile_us(&mut s, 99.0), 99.0);
    }

    #[test]
    fn verdicts() {
        assert_eq!(Row::new("a", 12.0, 10.0, Target::AtLeast(1.2)).verdict(), Some(true));
        assert_eq!(Row::new("a", 11.0, 10.0, Target::AtLeast(1.2)).verdict(), Some(false));
        assert_eq!(Row::new("a", 4.0, 10.0, Target::AtMost(0.5)).verdict(), Some(true));
        assert_eq!(Row::new("a", 4.0, 10.0, Target::None).verdict(), None);
    }
}
