//! The metric catalogue: every metric a run publishes (the bar's own fields and the indicators
//! of `crates/analytics/METRICS.md`), with its label, its short header for narrow tables, its
//! unit, how it reads, and what it means. The daily report, the dashboard, the bot and the
//! terminal summary label and format a metric from here and nowhere else, so a figure reads
//! the same wherever a person sees it.
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

/// What a metric's value measures, for people reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// US dollars: prices, price ranges, dollar volume.
    Dollars,
    /// Shares traded.
    Shares,
    /// Calendar days, weekends and holidays included.
    CalendarDays,
    /// A fraction, written as a percentage (`-0.768` is -76.8%).
    Percent,
    /// An index from 0 to 100 (RSI).
    Index,
    /// A multiple of a reference value (today's volume over its average).
    Multiple,
}

impl Unit {
    /// The unit in words, as a table column shows it.
    pub fn name(self) -> &'static str {
        match self {
            Unit::Dollars => "dollars",
            Unit::Shares => "shares",
            Unit::CalendarDays => "calendar days",
            Unit::Percent => "percent",
            Unit::Index => "index 0-100",
            Unit::Multiple => "multiple",
        }
    }
}

/// One metric of `results.csv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    /// The column name in `results.csv` and in screen conditions.
    pub name: &'static str,
    /// A short label for table headers and chat replies.
    pub label: &'static str,
    /// An upper-case header of at most 8 characters for narrow fixed-width tables (the bot's).
    pub short: &'static str,
    pub unit: Unit,
    pub format: Format,
    /// One line on what it is (the formula is in METRICS.md).
    pub description: &'static str,
}

const fn m(
    name: &'static str,
    label: &'static str,
    short: &'static str,
    unit: Unit,
    format: Format,
    description: &'static str,
) -> Metric {
    Metric {
        name,
        label,
        short,
        unit,
        format,
        description,
    }
}

/// Every metric, in the order of the columns of `results.csv`.
pub const METRICS: [Metric; 30] = [
    m(
        "open",
        "Open",
        "OPEN",
        Unit::Dollars,
        Format::Price,
        "the session's opening price",
    ),
    m(
        "high",
        "High",
        "HIGH",
        Unit::Dollars,
        Format::Price,
        "the session's highest price",
    ),
    m(
        "low",
        "Low",
        "LOW",
        Unit::Dollars,
        Format::Price,
        "the session's lowest price",
    ),
    m(
        "close",
        "Close",
        "CLOSE",
        Unit::Dollars,
        Format::Price,
        "the session's closing price",
    ),
    m(
        "volume",
        "Volume",
        "VOL",
        Unit::Shares,
        Format::Count,
        "shares traded in the session",
    ),
    m(
        "sma_20",
        "SMA 20",
        "SMA20",
        Unit::Dollars,
        Format::Price,
        "mean of the last 20 closes",
    ),
    m(
        "sma_50",
        "SMA 50",
        "SMA50",
        Unit::Dollars,
        Format::Price,
        "mean of the last 50 closes",
    ),
    m(
        "sma_200",
        "SMA 200",
        "SMA200",
        Unit::Dollars,
        Format::Price,
        "mean of the last 200 closes",
    ),
    m(
        "ema_12",
        "EMA 12",
        "EMA12",
        Unit::Dollars,
        Format::Price,
        "12-session exponential average of closes",
    ),
    m(
        "ema_26",
        "EMA 26",
        "EMA26",
        Unit::Dollars,
        Format::Price,
        "26-session exponential average of closes",
    ),
    m(
        "rsi_14",
        "RSI 14",
        "RSI",
        Unit::Index,
        Format::Decimal1,
        "Wilder's 14-session relative strength index, 0-100",
    ),
    m(
        "atr_14",
        "ATR 14",
        "ATR",
        Unit::Dollars,
        Format::Price,
        "Wilder's 14-session average true range",
    ),
    m(
        "high_52w",
        "52w high",
        "HI52W",
        Unit::Dollars,
        Format::Price,
        "highest close of the last 252 sessions",
    ),
    m(
        "low_52w",
        "52w low",
        "LO52W",
        Unit::Dollars,
        Format::Price,
        "lowest close of the last 252 sessions",
    ),
    m(
        "pct_from_high_52w",
        "From 52w high",
        "FRHI52W",
        Unit::Percent,
        Format::Percent,
        "close against the 52-week high",
    ),
    m(
        "pct_from_low_52w",
        "From 52w low",
        "FRLO52W",
        Unit::Percent,
        Format::Percent,
        "close against the 52-week low",
    ),
    m(
        "drawdown_180d",
        "Drawdown 180d",
        "DD180",
        Unit::Percent,
        Format::Percent,
        "close against the highest close of the last 180 calendar days",
    ),
    m(
        "days_since_peak_180d",
        "Days since peak",
        "PEAKDAYS",
        Unit::CalendarDays,
        Format::Days,
        "calendar days since that 180-day high",
    ),
    m(
        "max_drawdown_252",
        "Max drawdown 252",
        "MDD252",
        Unit::Percent,
        Format::Percent,
        "deepest peak-to-trough fall of the last 252 closes",
    ),
    m(
        "ret_1d",
        "Return 1d",
        "RET1",
        Unit::Percent,
        Format::Percent,
        "return over the last session",
    ),
    m(
        "ret_5d",
        "Return 5d",
        "RET5",
        Unit::Percent,
        Format::Percent,
        "return over the last 5 sessions",
    ),
    m(
        "ret_21d",
        "Return 21d",
        "RET21",
        Unit::Percent,
        Format::Percent,
        "return over the last 21 sessions (a month)",
    ),
    m(
        "ret_63d",
        "Return 63d",
        "RET63",
        Unit::Percent,
        Format::Percent,
        "return over the last 63 sessions (a quarter)",
    ),
    m(
        "ret_126d",
        "Return 126d",
        "RET126",
        Unit::Percent,
        Format::Percent,
        "return over the last 126 sessions (half a year)",
    ),
    m(
        "ret_252d",
        "Return 252d",
        "RET252",
        Unit::Percent,
        Format::Percent,
        "return over the last 252 sessions (a year)",
    ),
    m(
        "avg_volume_20",
        "Avg volume 20d",
        "AVGVOL20",
        Unit::Shares,
        Format::Count,
        "mean volume of the 20 sessions before today",
    ),
    m(
        "rel_volume",
        "Rel volume",
        "RELVOL",
        Unit::Multiple,
        Format::Multiple,
        "today's volume over the 20-session average",
    ),
    m(
        "dollar_volume_20",
        "Dollar volume 20d",
        "DOLVOL20",
        Unit::Dollars,
        Format::Count,
        "mean close x volume over the last 20 sessions",
    ),
    m(
        "volatility_20",
        "Volatility 20d",
        "VOLAT20",
        Unit::Percent,
        Format::Percent,
        "annualised standard deviation of the last 20 log returns",
    ),
    m(
        "gap_pct",
        "Gap",
        "GAP",
        Unit::Percent,
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

/// A metric's short header for narrow tables; an unknown name is its own header.
pub fn short(name: &str) -> &str {
    metric(name).map_or(name, |m| m.short)
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
        assert_eq!(short("drawdown_180d"), "DD180");
        assert_eq!(short("symbol"), "symbol");
    }

    #[test]
    fn units_say_what_a_value_measures() {
        let unit = |name| metric(name).map(|m| m.unit);
        assert_eq!(unit("close"), Some(Unit::Dollars));
        assert_eq!(unit("dollar_volume_20"), Some(Unit::Dollars));
        assert_eq!(unit("avg_volume_20"), Some(Unit::Shares));
        assert_eq!(unit("days_since_peak_180d"), Some(Unit::CalendarDays));
        assert_eq!(unit("rsi_14"), Some(Unit::Index));
        assert_eq!(unit("rel_volume"), Some(Unit::Multiple));
        // Every metric written as a percentage measures a fraction, and the other way round.
        for m in &METRICS {
            assert_eq!(
                m.format == Format::Percent,
                m.unit == Unit::Percent,
                "{}",
                m.name
            );
        }
    }

    #[test]
    fn short_headers_are_unique_upper_case_and_narrow() {
        let mut shorts: Vec<&str> = METRICS.iter().map(|m| m.short).collect();
        for s in &shorts {
            assert!(
                (1..=8).contains(&s.len())
                    && s.chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()),
                "{s:?}"
            );
        }
        shorts.sort_unstable();
        shorts.dedup();
        assert_eq!(shorts.len(), METRICS.len());
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<&str> = METRICS.iter().map(|m| m.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), METRICS.len());
    }
}
