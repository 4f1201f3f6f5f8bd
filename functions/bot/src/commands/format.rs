//! Showing numbers to people in replies: percentages, whole amounts, money, durations, and
//! links. Metric values go through [`screener_core::catalogue`], which labels and formats
//! every metric the same way in the report, the bot and the terminal.

use screener_core::catalogue;

use screener_telegram::api::escape;

/// A fraction as a signed percentage with one decimal, `—` when missing (the catalogue's
/// percent format).
pub(super) fn pct(v: Option<f64>) -> String {
    catalogue::Format::Percent.show(v)
}

/// Whole amounts with thousands separators (money, share counts).
pub(super) fn thousands(v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), catalogue::thousands)
}

pub(super) fn num(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{v:.decimals$}"))
}

/// Dollars and cents with thousands separators: `-$1,234.50`.
pub(super) fn money(v: f64) -> String {
    let cents = format!("{:.2}", v.abs());
    let (whole, frac) = cents.split_once('.').unwrap_or((&cents, "00"));
    let whole = thousands(whole.parse::<f64>().ok());
    format!("{}${whole}.{frac}", if v < 0.0 { "-" } else { "" })
}

/// How long ago, in the largest unit that keeps it readable.
pub(super) fn human_duration(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        7200..=172_799 => format!("{} h", s / 3600),
        _ => format!("{} days", s / 86_400),
    }
}

/// A link for people: an `<a>` for a URL, a `<code>` path for a local file.
pub(super) fn link(label: &str, target: &str) -> String {
    if target.starts_with("https://") || target.starts_with("http://") {
        format!("<a href=\"{}\">{}</a>", escape(target), escape(label))
    } else {
        format!("{}: <code>{}</code>", escape(label), escape(target))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_shown_for_people() {
        assert_eq!(thousands(Some(3160791.9)), "3,160,792");
        assert_eq!(thousands(Some(-1000.0)), "-1,000");
        assert_eq!(money(1234567.891), "$1,234,567.89");
        assert_eq!(money(-5.5), "-$5.50");
        assert_eq!(catalogue::show("drawdown_180d", Some(-0.768)), "-76.8%");
        assert_eq!(catalogue::show("rel_volume", Some(0.334)), "0.33x");
        assert_eq!(catalogue::show("close", None), "—");
    }
}
