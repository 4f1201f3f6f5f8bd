//! How many symbols go in one Map batch (one fetch-bars invocation, one request group).
//!
//! Alpaca's `limit` counts bars across all the symbols of a request, and pages continue
//! mid-symbol, so a request group costs `ceil(symbols x bars per symbol / page)` requests: only
//! its last page can be partly empty. A group whose bar count falls just under a multiple of
//! the page wastes almost nothing; one just over wastes a whole request. So the batch is the
//! largest size, within the per-request symbol limit, whose backfill fills its last page.
//! Incremental days need one request per batch whatever the size, so the symbol limit (URL
//! length) is what bounds them.

use chrono::{Duration, NaiveDate};
use screener_core::calendar;

use crate::config::{DEFAULT_MAX_SYMBOLS_PER_REQUEST, MAX_PAGE_LIMIT};

/// Symbols per batch so that a backfill of `bars_per_symbol` bars each fills its last page:
/// `floor(k x page / bars)` for the largest `k` that stays within `max_symbols`.
pub fn batch_size_for(bars_per_symbol: usize, page_limit: usize, max_symbols: usize) -> usize {
    let bars = bars_per_symbol.max(1);
    let max_symbols = max_symbols.max(1);
    let pages = max_symbols * bars / page_limit.max(1);
    if pages == 0 {
        // A whole request's worth of symbols fits on one page.
        return max_symbols;
    }
    (pages * page_limit / bars).clamp(1, max_symbols)
}

/// The batch size for a run on `run_date` fetching `lookback_days` of history, with Alpaca's
/// page and the default symbol limit per request.
pub fn auto_batch_size(run_date: NaiveDate, lookback_days: u32) -> usize {
    let start = run_date - Duration::days(i64::from(lookback_days));
    let sessions = calendar::trading_days(start, run_date).len();
    batch_size_for(sessions, MAX_PAGE_LIMIT, DEFAULT_MAX_SYMBOLS_PER_REQUEST)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backfill_batch_fills_its_last_page() {
        // One year (252 sessions): 396 x 252 = 99,792 bars = 10 pages, the last 98% full.
        assert_eq!(batch_size_for(252, 10_000, 400), 396);
        // 400 calendar days (276 sessions): 398 x 276 = 109,848 = 11 pages.
        assert_eq!(batch_size_for(276, 10_000, 400), 398);
        for bars in [20, 100, 252, 276, 500, 1000] {
            let n = batch_size_for(bars, 10_000, 400);
            let total = n * bars;
            let last_page = total - (total.div_ceil(10_000) - 1) * 10_000;
            assert!(n <= 400 && n > 0);
            assert!(
                last_page as f64 >= 0.9 * 10_000.0 || n == 400,
                "{bars}: {n} {last_page}"
            );
        }
    }

    #[test]
    fn short_histories_use_the_whole_symbol_limit() {
        assert_eq!(batch_size_for(5, 10_000, 400), 400);
        assert_eq!(batch_size_for(1, 10_000, 400), 400);
    }

    #[test]
    fn the_auto_size_follows_the_calendar() {
        let date = NaiveDate::from_ymd_opt(2025, 6, 13).unwrap();
        let n = auto_batch_size(date, 365);
        assert!((390..=400).contains(&n), "{n}");
    }
}
