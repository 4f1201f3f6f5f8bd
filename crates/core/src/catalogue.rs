//! The metric catalogue: every metric a run publishes (the bar's own fields and the indicators
//! of `crates/analytics/METRICS.md`), with its label, how it reads, and what it means. The daily
//! report, the bot and the terminal summary label and format a metric from here and nowhere
//! else, so a figure reads the same wherever a person sees it.
//!
//! Adding a metric: compute it in `crates/analytics` and add its entry here; the analytics
//! crate's tests fail until both agree.

/// How a metric's value is written for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A price: two decimals (`57.15`).
    Price,
    /// A fraction shown as a signed percentage with one decimal (`-0.768` -> `-76.8%`).
    Percent,
    /// A count or volume: whole number with thousands separators (`1,234,567`).
    Count,
    /// Whole days (`12`).
    Days,
    /// One decimal (`28.4`, RSI).
    Decimal1,
    /// A multiple (`0.33x`).
    Multiple,
}

impl Format {
    /// The value as people read it; a missing or non-finite value is an em dash.
    pub fn show(self, value: Option<f64>) -> String {
        let Some(v) = value.filter(|v| v.is_finite()) else {
            return "—".into();
        };
        match self {
            Format::Price => format!("{v:.2}"),
            Format::Percent => format!("{:+.1}%", v * 100.0),
            Format::Count => thousands(v),
            Format::Days => format!("{v:.0}"),
            Format::Decimal1 => format!("{v:.1}"),
            Format::Multiple => format!("{v:.2}x"),
        }
    }
}

/// A whole number with thousands separators (`-1,234,567`).
pub fn thousands(v: f64) -> String {
    let digits = format!("{:.0}", v.abs());
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if v < 0.0 && digits != "0" {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// One metric of `results.csv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    /// The column name in `results.csv` and in screen conditions.
    pub name: &'static str,
    /// A short label for table headers and chat replies.
    pub label: &'static str,
    pub format: Format,
    /// One line on what it is (the formula is in METRICS.md).
    pub description: &'static str,
}

const fn m(
    name: &'static str,
    label: &'static str,
    format: Format,
    description: &'static str,
) -> Metric {
    Metric {
        name,
        label,
        format,
        description,
    }
}

/// Every metric, in the order of the columns of `results.csv`.
pub const METRICS: [Metric; 30] = [
    m("open", "Open", Format::Price, "the session's opening price"),
    m("high", "High", Format::Price, "the session's highest price"),
    m("low", "Low", Format::Price, "the session's lowest price"),
    m(
        "close",
        "Close",
        Format::Price,
        "the session's closing price",
    ),
    m(
        "volume",
        "Volume",
        Format::Count,
        "shares traded in the session",
    ),
    m(
        "sma_20",
        "SMA 20",
        Format::Price,
        "mean of the last 20 closes",
    ),
    m(
        "sma_50",
        "SMA 50",
        Format::Price,
        "mean of the last 50 closes",
    ),
    m(
        "sma_200",
        "SMA 200",
        Format::Price,
        "mean of the last 200 closes",
    ),
    m(
        "ema_12",
        "EMA 12",
        Format::Price,
        "12-session exponential average of closes",
    ),
    m(
        "ema_26",
        "EMA 26",
        Format::Price,
        "26-session exponential average of closes",
    ),
    m(
        "rsi_14",
        "RSI 14",
        Format::Decimal1,
        "Wilder's 14-session relative strength index, 0-100",
    ),
    m(
        "atr_14",
        "ATR 14",
        Format::Price,
        "Wilder's 14-session average true range",
    ),
    m(
        "high_52w",
        "52w high",
        Format::Price,
        "highest close of the last 252 sessions",
    ),
    m(
        "low_52w",
        "52w low",
        Format::Price,
        "lowest close of the last 252 sessions",
    ),
    m(
        "pct_from_high_52w",
        "From 52w high",
        Format::Percent,
        "close against the 52-week high",
    ),
    m(
        "pct_from_low_52w",
        "From 52w low",
        Format::Percent,
        "close against the 52-week low",
    ),
    m(
        "drawdown_180d",
        "Drawdown 180d",
        Format::Percent,
        "close against the highest close of the last 180 calendar days",
    ),
    m(
        "days_since_peak_180d",
        "Days since peak",
        Format::Days,
        "calendar days since that 180-day high",
    ),
    m(
        "max_drawdown_252",
        "Max drawdown 252",
        Format::Percent,
        "deepest peak-to-trough fall of the last 252 closes",
    ),
    m(
        "ret_1d",
        "Return 1d",
        Format::Percent,
        "return over the last session",
    ),
    m(
        "ret_5d",
        "Return 5d",
        Format::Percent,
        "return over the last 5 sessions",
    ),
    m(
        "ret_21d",
        "Return 21d",
        Format::Percent,
        "return over the last 21 sessions (a month)",
    ),
    m(
        "ret_63d",
        "Return 63d",
        Format::Percent,
        "return over the last 63 sessions (a quarter)",
    ),
    m(
        "ret_126d",
        "Return 126d",
        Format::Percent,
        "return over the last 126 sessions (half a year)",
    ),
    m(
        "ret_252d",
        "Return 252d",
        Format::Percent,
        "return over the last 252 sessions (a year)",
    ),
    m(
        "avg_volume_20",
        "Avg volume 20d",
        Format::Count,
        "mean volume of the 20 sessions before today",
    ),
    m(
        "rel_volume",
        "Rel volume",
        Format::Multiple,
        "today's volume over the 20-session average",
    ),
    m(
        "dollar_volume_20",
        "Dollar volume 20d",
        Format::Count,
        "mean close x volume over the last 20 sessions",
    ),
    m(
        "volatility_20",
        "Volatility 20d",
        Format::Percent,
        "annualised standard deviation of the last 20 log returns",
    ),
    m(
        "gap_pct",
        "Gap",
        Format::Percent,
        "today's open against yesterday's close",
    ),
];

/// The catalogue entry of a metric, by column name.
pub fn metric(name: &str) -> Option<&'static Metric> {
    METRICS.iter().find(|m| m.name == name)
}

/// A metric's value as people read it; an unknown name is shown with two decimals.
pub fn show(name: &str, value: Option<f64>) -> String {
    metric(name).map_or(Format::Price, |m| m.format).show(value)
}

/// A metric's label; an unknown name is its own label.
pub fn label(name: &str) -> &str {
    metric(name).map_or(name, |m| m.label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_format_reads_as_people_expect() {
        assert_eq!(show("drawdown_180d", Some(-0.768)), "-76.8%");
        assert_eq!(show("ret_21d", Some(0.05)), "+5.0%");
        assert_eq!(show("rel_volume", Some(0.334)), "0.33x");
        assert_eq!(show("avg_volume_20", Some(1_234_567.4)), "1,234,567");
        assert_eq!(show("volume", Some(999.0)), "999");
        assert_eq!(show("close", Some(57.149)), "57.15");
        assert_eq!(show("rsi_14", Some(28.44)), "28.4");
        assert_eq!(show("days_since_peak_180d", Some(12.0)), "12");
        assert_eq!(show("close", None), "—");
        assert_eq!(show("close", Some(f64::NAN)), "—");
        assert_eq!(label("high_52w"), "52w high");
        assert_eq!(label("rank"), "rank");
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<&str> = METRICS.iter().map(|m| m.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), METRICS.len());
    }
}
