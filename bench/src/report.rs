//! The result table: one row per measure with cogen, its peer (tokio, hyper), their ratio,
//! the range of per-run ratios and the target; plus the small statistics it needs
//! (median, percentiles).

/// A target on the ratio cogen / peer.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    /// Informational: no target.
    None,
    /// The ratio must be at least this.
    AtLeast(f64),
    /// The ratio must be at most this.
    AtMost(f64),
    /// cogen's own figure (not the ratio) must be at most this.
    CogenAtMost(f64),
}

/// One row of the table.
#[derive(Debug)]
pub struct Row {
    /// What was measured.
    pub what: String,
    /// cogen's figure.
    pub cogen: f64,
    /// The peer's figure (tokio, hyper).
    pub peer: f64,
    /// The target on cogen / peer.
    pub target: Target,
    /// The lowest and highest ratio of single runs, when the figures are medians of runs.
    pub range: Option<(f64, f64)>,
}

impl Row {
    /// A row of two figures.
    pub fn new(what: impl Into<String>, cogen: f64, peer: f64, target: Target) -> Self {
        Row { what: what.into(), cogen, peer, target, range: None }
    }

    /// A row of the medians of paired runs (`cogen[i]` and `peer[i]` measured in the same
    /// round), with the range of the per-run ratios.
    pub fn runs(what: impl Into<String>, cogen: &[f64], peer: &[f64], target: Target) -> Self {
        let ratios: Vec<f64> = cogen
            .iter()
            .zip(peer)
            .filter(|(_, p)| **p != 0.0)
            .map(|(c, p)| c / p)
            .filter(|r| r.is_finite())
            .collect();
        let range =
            ratios.iter().copied().reduce(f64::min).zip(ratios.iter().copied().reduce(f64::max));
        Row {
            what: what.into(),
            cogen: median(cogen.to_vec()),
            peer: median(peer.to_vec()),
            target,
            range,
        }
    }

    /// cogen / peer, if both are finite and the peer is not zero.
    pub fn ratio(&self) -> Option<f64> {
        (self.peer != 0.0 && self.peer.is_finite() && self.cogen.is_finite())
            .then(|| self.cogen / self.peer)
    }

    /// `Some(met)` for a row with a target.
    pub fn verdict(&self) -> Option<bool> {
        if let Target::CogenAtMost(t) = self.target {
            return self.cogen.is_finite().then_some(self.cogen <= t);
        }
        let r = self.ratio()?;
        match self.target {
            Target::None | Target::CogenAtMost(_) => None,
            Target::AtLeast(t) => Some(r >= t),
            Target::AtMost(t) => Some(r <= t),
        }
    }
}

/// Prints the table; `peer` names the peer's column (`tokio`, `hyper`).
pub fn print(rows: &[Row], peer: &str) {
    let width = rows.iter().map(|r| r.what.len()).max().unwrap_or(10).max(10);
    let ratio_head = format!("cogen/{peer}");
    println!(
        "{:<width$}  {:>12}  {:>12}  {:>11}  {:>11}  {:<8}  result",
        "measure", "cogen", peer, ratio_head, "run ratios", "target"
    );
    println!("{}", "-".repeat(width + 75));
    for row in rows {
        let ratio = row.ratio().map_or("-".to_owned(), |r| format!("{r:.2}x"));
        let range = row.range.map_or(String::new(), |(lo, hi)| format!("{lo:.2}-{hi:.2}"));
        let target = match row.target {
            Target::None => String::new(),
            Target::AtLeast(t) => format!(">= {t:.2}x"),
            Target::AtMost(t) => format!("<= {t:.2}x"),
            Target::CogenAtMost(t) => format!("<= {t:.2}"),
        };
        let verdict = match row.verdict() {
            None => "",
            Some(true) => "met",
            Some(false) => "MISSED",
        };
        println!(
            "{:<width$}  {:>12}  {:>12}  {:>11}  {:>11}  {:<8}  {verdict}",
            row.what,
            number(row.cogen),
            number(row.peer),
            ratio,
            range,
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
        assert_eq!(Row::new("a", 2.0, 0.0, Target::CogenAtMost(2.1)).verdict(), Some(true));
        assert_eq!(Row::new("a", 2.2, 1.0, Target::CogenAtMost(2.1)).verdict(), Some(false));
    }

    #[test]
    fn runs() {
        let row = Row::runs("a", &[10.0, 30.0, 20.0], &[10.0, 20.0, 10.0], Target::AtLeast(1.3));
        assert_eq!((row.cogen, row.peer), (20.0, 10.0));
        assert_eq!(row.range, Some((1.0, 2.0)));
        assert_eq!(row.verdict(), Some(true));
    }
}
