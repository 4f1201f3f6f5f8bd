//! What a URL may say, parsed before anything is read: dates, symbols, screen names, backtest
//! ids and file names are checked here, and the pages then accept a value only when the store
//! lists it (a date with a manifest, a screen in that manifest, a backtest id with a summary).
//! Nothing from a URL reaches a store key unchecked: no `..`, no `/`, no encoded tricks.

use chrono::NaiveDate;
use screener_core::Symbol;

/// A query string as ordered pairs (repeated names kept).
pub fn pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub fn first<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.as_str())
}

pub fn all<'a>(pairs: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    pairs
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// `YYYY-MM-DD`, exactly.
pub fn date(text: &str) -> Option<NaiveDate> {
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    (date.format("%Y-%m-%d").to_string() == text).then_some(date)
}

/// A ticker as [`Symbol::parse`] takes it, starting with a letter or digit (so never `.` or `..`).
pub fn symbol(text: &str) -> Option<Symbol> {
    let first = text.bytes().next()?;
    if !first.is_ascii_alphanumeric() {
        return None;
    }
    Symbol::parse(text).ok()
}

/// A name made only of `[A-Za-z0-9_-]` and inner dots (screen names, backtest ids, file names),
/// at most 128 characters, not starting with a dot.
pub fn plain_name(text: &str) -> Option<&str> {
    let ok = !text.is_empty()
        && text.len() <= 128
        && !text.starts_with('.')
        && !text.contains("..")
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    ok.then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_exact_iso_dates_are_dates() {
        assert!(date("2025-06-13").is_some());
        for bad in [
            "2025-6-13",
            "2025-06-13/../x",
            "../2025-06-13",
            "",
            "2025-02-30",
            "+2025-06-13",
        ] {
            assert!(date(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_symbol_that_could_walk_a_path_is_refused() {
        assert_eq!(symbol("BRK.B").unwrap().as_str(), "BRK.B");
        for bad in [
            "..", ".", "../etc", "AAPL/..", "aapl", "", "A%2F", "%2E%2E", "A\\B",
        ] {
            assert!(symbol(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn plain_names_have_no_separators_or_dot_dot() {
        assert!(plain_name("bt-2025_06.v1").is_some());
        for bad in [
            "..", "a/b", "../x", ".hidden", "a..b", "a b", "", "a\\b", "%2e%2e",
        ] {
            assert!(plain_name(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn repeated_query_names_keep_their_order() {
        let p = pairs("fm=rsi_14&fo=gt&fv=30&fm=close&fo=lt&fv=100&sort=-close");
        assert_eq!(all(&p, "fm"), vec!["rsi_14", "close"]);
        assert_eq!(first(&p, "sort"), Some("-close"));
        assert_eq!(first(&p, "none"), None);
    }
}
