//! The Alpaca adapter's settings, from environment variables (the names `template.yaml` sets).
//! Every value has a default that works against the real API with a free (Basic) plan.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use screener_core::Symbol;

pub const DEFAULT_DATA_URL: &str = "https://data.alpaca.markets";
pub const DEFAULT_TRADING_URL: &str = "https://paper-api.alpaca.markets";
pub const DEFAULT_KEY_ID_PARAMETER: &str = "/screener/alpaca/api_key";
pub const DEFAULT_SECRET_KEY_PARAMETER: &str = "/screener/alpaca/secret_key";
/// Local credentials: read from these variables when secrets come from the environment.
pub const KEY_ID_VARIABLE: &str = "ALPACA_API_KEY_ID";
pub const SECRET_KEY_VARIABLE: &str = "ALPACA_API_SECRET_KEY";
/// Alpaca's largest page for `/v2/stocks/bars`; the limit counts bars across symbols.
pub const MAX_PAGE_LIMIT: usize = 10_000;
/// Symbols per bars request (and so per auto-sized batch). Chosen by measurement (the
/// `requests` benchmark, docs/alpaca.md): with page-filling batches every cap from 100 to 500
/// backfills 10,000 symbols in 254 requests (minimum 250), so the cap only decides the daily
/// incremental run, one request per batch: 37 requests at 300 (over the 30 target), 27 at 400,
/// 22 at 500. 400 is the smallest that meets the target with a margin; its URL is 2.2 KB with
/// tickers of real length (about 4.6 KB if all had 10 characters), far below the 8 KB at which
/// common front ends answer 414, and within the "few hundred symbols" users report safe.
pub const DEFAULT_MAX_SYMBOLS_PER_REQUEST: usize = 400;
/// A second guard on the URL itself, whatever the symbols' lengths.
pub const DEFAULT_MAX_URL_BYTES: usize = 6_000;
pub const DEFAULT_RATE_LIMIT_PER_MINUTE: u32 = 200;
pub const DEFAULT_BURST: u32 = 5;

const FEEDS: [&str; 6] = ["iex", "sip", "delayed_sip", "boats", "overnight", "otc"];
const ADJUSTMENTS: [&str; 5] = ["raw", "split", "dividend", "spin-off", "all"];

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("configuration {variable}={value:?}: {problem}")]
pub struct AlpacaConfigError {
    pub variable: String,
    pub value: String,
    pub problem: String,
}

fn bad(variable: &str, value: &str, problem: impl Into<String>) -> AlpacaConfigError {
    AlpacaConfigError {
        variable: variable.to_string(),
        value: value.to_string(),
        problem: problem.into(),
    }
}

/// Which assets make the universe. By default: active, tradable US equities on any exchange
/// but OTC.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UniverseFilter {
    /// Only these exchanges (upper case), when set.
    pub exchanges: Option<BTreeSet<String>>,
    pub include_otc: bool,
    /// Only these symbols (from a file), when set.
    pub only: Option<BTreeSet<Symbol>>,
    pub exclude: BTreeSet<Symbol>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AlpacaConfig {
    pub data_url: String,
    pub trading_url: String,
    pub feed: String,
    pub adjustment: String,
    /// SSM parameter names (Lambda) of the key id and the secret key.
    pub key_id_parameter: String,
    pub secret_key_parameter: String,
    pub rate_limit_per_minute: u32,
    pub burst: u32,
    pub page_limit: usize,
    pub max_symbols_per_request: usize,
    pub max_url_bytes: usize,
    /// Per HTTP request, connection to last byte.
    pub timeout: Duration,
    /// Tries per request for 5xx, timeouts, resets and malformed bodies.
    pub max_attempts: u32,
    /// 429s waited out per request before giving up with `MarketData.RateLimited`.
    pub max_rate_limited: u32,
    /// First retry back-off; doubles each try, with full jitter.
    pub backoff: Duration,
    pub circuit_threshold: u32,
    pub circuit_cooldown: Duration,
    pub universe: UniverseFilter,
}

impl Default for AlpacaConfig {
    fn default() -> Self {
        AlpacaConfig {
            data_url: DEFAULT_DATA_URL.into(),
            trading_url: DEFAULT_TRADING_URL.into(),
            feed: "sip".into(),
            adjustment: "all".into(),
            key_id_parameter: DEFAULT_KEY_ID_PARAMETER.into(),
            secret_key_parameter: DEFAULT_SECRET_KEY_PARAMETER.into(),
            rate_limit_per_minute: DEFAULT_RATE_LIMIT_PER_MINUTE,
            burst: DEFAULT_BURST,
            page_limit: MAX_PAGE_LIMIT,
            max_symbols_per_request: DEFAULT_MAX_SYMBOLS_PER_REQUEST,
            max_url_bytes: DEFAULT_MAX_URL_BYTES,
            timeout: Duration::from_secs(30),
            max_attempts: 3,
            max_rate_limited: 5,
            backoff: Duration::from_millis(500),
            circuit_threshold: 6,
            circuit_cooldown: Duration::from_secs(60),
            universe: UniverseFilter::default(),
        }
    }
}

impl AlpacaConfig {
    /// The settings in `vars`: the `ALPACA_*` variables the composition root keeps in its
    /// `Config` (`alpaca_settings`).
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, AlpacaConfigError> {
        let get = |name: &str| vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        fn number<T: std::str::FromStr + PartialOrd + std::fmt::Display>(
            name: &str,
            value: Option<&str>,
            default: T,
            min: T,
            max: T,
        ) -> Result<T, AlpacaConfigError> {
            let Some(text) = value else {
                return Ok(default);
            };
            let n: T = text.parse().map_err(|_| bad(name, text, "not a number"))?;
            if n < min || n > max {
                return Err(bad(name, text, format!("must be {min}..={max}")));
            }
            Ok(n)
        }
        let secs =
            |name: &str, default: Duration, max: f64| -> Result<Duration, AlpacaConfigError> {
                let value = number(name, get(name), default.as_secs_f64(), 0.0, max)?;
                Ok(Duration::from_secs_f64(value))
            };
        let url = |name: &str, default: &str| -> Result<String, AlpacaConfigError> {
            let text = get(name).unwrap_or(default);
            if !(text.starts_with("https://") || text.starts_with("http://")) {
                return Err(bad(name, text, "expected an http:// or https:// URL"));
            }
            Ok(text.trim_end_matches('/').to_string())
        };
        let d = AlpacaConfig::default();
        let feed = get("ALPACA_FEED").unwrap_or(&d.feed).to_ascii_lowercase();
        if !FEEDS.contains(&feed.as_str()) {
            return Err(bad(
                "ALPACA_FEED",
                &feed,
                format!("expected one of {FEEDS:?}"),
            ));
        }
        let adjustment = get("ALPACA_ADJUSTMENT")
            .unwrap_or(&d.adjustment)
            .to_ascii_lowercase();
        if !ADJUSTMENTS.contains(&adjustment.as_str()) {
            return Err(bad(
                "ALPACA_ADJUSTMENT",
                &adjustment,
                format!("expected one of {ADJUSTMENTS:?}"),
            ));
        }
        let rate_limit_per_minute = number(
            "ALPACA_RATE_LIMIT_PER_MINUTE",
            get("ALPACA_RATE_LIMIT_PER_MINUTE"),
            d.rate_limit_per_minute,
            2,
            1_000_000,
        )?;
        let burst = number(
            "ALPACA_RATE_BURST",
            get("ALPACA_RATE_BURST"),
            d.burst.min(rate_limit_per_minute - 1),
            1,
            rate_limit_per_minute - 1,
        )?;
        let symbols_list = |name: &str| -> Result<BTreeSet<Symbol>, AlpacaConfigError> {
            get(name)
                .map(|text| parse_symbols(text).map_err(|e| bad(name, text, e)))
                .transpose()
                .map(Option::unwrap_or_default)
        };
        let only = match get("ALPACA_SYMBOLS_FILE") {
            None => None,
            Some(path) => {
                let text = std::fs::read_to_string(PathBuf::from(path))
                    .map_err(|e| bad("ALPACA_SYMBOLS_FILE", path, e.to_string()))?;
                Some(parse_symbols(&text).map_err(|e| bad("ALPACA_SYMBOLS_FILE", path, e))?)
            }
        };
        let exchanges = get("ALPACA_EXCHANGES").map(|text| {
            text.split([',', ' '])
                .map(|e| e.trim().to_ascii_uppercase())
                .filter(|e| !e.is_empty())
                .collect::<BTreeSet<_>>()
        });
        let include_otc = match get("ALPACA_INCLUDE_OTC") {
            None | Some("false" | "0" | "no") => false,
            Some("true" | "1" | "yes") => true,
            Some(other) => return Err(bad("ALPACA_INCLUDE_OTC", other, "expected true or false")),
        };
        Ok(AlpacaConfig {
            data_url: url("ALPACA_DATA_URL", DEFAULT_DATA_URL)?,
            trading_url: url("ALPACA_TRADING_URL", DEFAULT_TRADING_URL)?,
            feed,
            adjustment,
            key_id_parameter: get("ALPACA_API_KEY_PARAMETER")
                .unwrap_or(DEFAULT_KEY_ID_PARAMETER)
                .to_string(),
            secret_key_parameter: get("ALPACA_SECRET_KEY_PARAMETER")
                .unwrap_or(DEFAULT_SECRET_KEY_PARAMETER)
                .to_string(),
            rate_limit_per_minute,
            burst,
            page_limit: number(
                "ALPACA_PAGE_LIMIT",
                get("ALPACA_PAGE_LIMIT"),
                d.page_limit,
                1,
                MAX_PAGE_LIMIT,
            )?,
            max_symbols_per_request: number(
                "ALPACA_MAX_SYMBOLS_PER_REQUEST",
                get("ALPACA_MAX_SYMBOLS_PER_REQUEST"),
                d.max_symbols_per_request,
                1,
                5_000,
            )?,
            max_url_bytes: number(
                "ALPACA_MAX_URL_BYTES",
                get("ALPACA_MAX_URL_BYTES"),
                d.max_url_bytes,
                512,
                64_000,
            )?,
            timeout: secs("ALPACA_TIMEOUT_SECS", d.timeout, 900.0)?,
            max_attempts: number(
                "ALPACA_MAX_ATTEMPTS",
                get("ALPACA_MAX_ATTEMPTS"),
                d.max_attempts,
                1,
                20,
            )?,
            max_rate_limited: number(
                "ALPACA_MAX_RATE_LIMITED",
                get("ALPACA_MAX_RATE_LIMITED"),
                d.max_rate_limited,
                0,
                100,
            )?,
            backoff: secs("ALPACA_BACKOFF_SECS", d.backoff, 60.0)?,
            circuit_threshold: number(
                "ALPACA_CIRCUIT_THRESHOLD",
                get("ALPACA_CIRCUIT_THRESHOLD"),
                d.circuit_threshold,
                1,
                1_000,
            )?,
            circuit_cooldown: secs("ALPACA_CIRCUIT_COOLDOWN_SECS", d.circuit_cooldown, 3_600.0)?,
            universe: UniverseFilter {
                exchanges,
                include_otc,
                only,
                exclude: symbols_list("ALPACA_EXCLUDE_SYMBOLS")?,
            },
        })
    }
}

/// Symbols separated by commas, spaces or new lines; `#` starts a comment.
pub fn parse_symbols(text: &str) -> Result<BTreeSet<Symbol>, String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        for word in line.split([',', ' ', '\t']).filter(|w| !w.is_empty()) {
            out.insert(Symbol::parse(&word.to_ascii_uppercase()).map_err(|e| e.to_string())?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_the_real_hosts_the_free_plan_and_adjusted_prices() {
        let c = AlpacaConfig::from_vars(&vars(&[])).unwrap();
        assert_eq!(c.data_url, "https://data.alpaca.markets");
        assert_eq!(c.trading_url, "https://paper-api.alpaca.markets");
        assert_eq!((c.feed.as_str(), c.adjustment.as_str()), ("sip", "all"));
        assert_eq!((c.rate_limit_per_minute, c.page_limit), (200, 10_000));
        assert_eq!(c.key_id_parameter, "/screener/alpaca/api_key");
        assert!(!c.universe.include_otc && c.universe.exchanges.is_none());
    }

    #[test]
    fn urls_lose_their_trailing_slash_and_bad_values_name_the_variable() {
        let c =
            AlpacaConfig::from_vars(&vars(&[("ALPACA_DATA_URL", "http://127.0.0.1:9/")])).unwrap();
        assert_eq!(c.data_url, "http://127.0.0.1:9");
        for (name, value) in [
            ("ALPACA_FEED", "nasdaq"),
            ("ALPACA_ADJUSTMENT", "none"),
            ("ALPACA_PAGE_LIMIT", "20000"),
            ("ALPACA_TRADING_URL", "paper-api.alpaca.markets"),
            ("ALPACA_EXCLUDE_SYMBOLS", "AAPL,bad symbol$"),
        ] {
            let err = AlpacaConfig::from_vars(&vars(&[(name, value)])).unwrap_err();
            assert_eq!(err.variable, name, "{err}");
        }
    }

    #[test]
    fn symbol_lists_take_commas_spaces_lines_and_comments() {
        let set = parse_symbols("aapl, MSFT\n# a comment\nBRK.B  # class B\n").unwrap();
        let names: Vec<&str> = set.iter().map(Symbol::as_str).collect();
        assert_eq!(names, ["AAPL", "BRK.B", "MSFT"]);
    }
}
