//! The Alpaca client: one `reqwest` connection pool, one rate limiter and one circuit breaker
//! per instance (build one per process and share it), credentials read lazily on the first
//! request, and every failure classified into a [`MarketDataError`] whose step error name the
//! state machine matches.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::de::DeserializeOwned;
use tokio::sync::OnceCell;

use screener_core::Symbol;
use screener_core::bar::BarsBySymbol;
use screener_core::ports::{
    Asset, DataSourceInfo, MarketData, MarketDataError, SecretString, Secrets, SecretsError,
};

use crate::breaker::CircuitBreaker;
use crate::clock::{Clock, SystemClock, jitter_unit};
use crate::config::AlpacaConfig;
use crate::limiter::RateLimiter;
use crate::model::{Account, AssetJson, BarsPage, CalendarDay, Position, new_york_midnight};
use crate::universe::filter_assets;

/// Where the key pair comes from: a [`Secrets`] adapter (environment variables locally, SSM
/// SecureString parameters in Lambda) and the two names to ask it for.
pub struct CredentialSource {
    pub secrets: Arc<dyn Secrets>,
    pub key_id_name: String,
    pub secret_key_name: String,
    /// For error messages: what a person should check, e.g. "ALPACA_API_KEY_ID and
    /// ALPACA_API_SECRET_KEY" or "the SSM parameters /screener/alpaca/api_key and ...".
    pub described_as: String,
}

struct Credentials {
    key_id: SecretString,
    secret_key: SecretString,
}

/// Counters for tests, the benchmark and the logs.
#[derive(Debug, Default)]
pub struct Stats {
    /// HTTP requests sent (every try, 429s included).
    pub requests: AtomicU64,
    pub bars_requests: AtomicU64,
    pub rate_limited: AtomicU64,
    pub retries: AtomicU64,
    pub longest_url: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct StatsSnapshot {
    pub requests: u64,
    pub bars_requests: u64,
    pub rate_limited: u64,
    pub retries: u64,
    pub longest_url: u64,
}

#[derive(Clone, Copy, Debug)]
enum Api {
    Data,
    Trading,
}

pub struct Alpaca {
    http: reqwest::Client,
    config: AlpacaConfig,
    credentials: CredentialSource,
    cached: OnceCell<Credentials>,
    limiter: RateLimiter,
    breaker: CircuitBreaker,
    clock: Arc<dyn Clock>,
    stats: Stats,
}

impl std::fmt::Debug for Alpaca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alpaca")
            .field("data_url", &self.config.data_url)
            .field("trading_url", &self.config.trading_url)
            .field("feed", &self.config.feed)
            .field("credentials", &self.credentials.described_as)
            .finish_non_exhaustive()
    }
}

/// The client could not be built (a TLS or configuration problem); no network I/O happened.
#[derive(Debug, thiserror::Error)]
#[error("building the Alpaca HTTP client: {0}")]
pub struct BuildError(String);

impl Alpaca {
    /// A client on the system clock. No network I/O and no secret is read here.
    pub fn new(config: AlpacaConfig, credentials: CredentialSource) -> Result<Self, BuildError> {
        Self::with_clock(config, credentials, Arc::new(SystemClock))
    }

    /// A client whose waits (rate limit, back-off, circuit cool-down) use `clock`.
    pub fn with_clock(
        config: AlpacaConfig,
        credentials: CredentialSource,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, BuildError> {
        // reqwest is built without a default TLS crypto provider (see the workspace Cargo.toml):
        // ring, installed once per process; a later call finds it there.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(concat!("screener-alpaca/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| BuildError(e.to_string()))?;
        Ok(Alpaca {
            http,
            limiter: RateLimiter::new(config.rate_limit_per_minute, config.burst, clock.clone()),
            breaker: CircuitBreaker::new(
                config.circuit_threshold,
                config.circuit_cooldown.as_secs_f64(),
                clock.clone(),
            ),
            config,
            credentials,
            cached: OnceCell::new(),
            clock,
            stats: Stats::default(),
        })
    }

    pub fn config(&self) -> &AlpacaConfig {
        &self.config
    }

    pub fn stats(&self) -> StatsSnapshot {
        let s = &self.stats;
        StatsSnapshot {
            requests: s.requests.load(Ordering::Relaxed),
            bars_requests: s.bars_requests.load(Ordering::Relaxed),
            rate_limited: s.rate_limited.load(Ordering::Relaxed),
            retries: s.retries.load(Ordering::Relaxed),
            longest_url: s.longest_url.load(Ordering::Relaxed),
        }
    }

    /// Time spent waiting for the rate limiter.
    pub fn rate_limit_wait(&self) -> Duration {
        self.limiter.waited()
    }

    /// How many times the circuit breaker opened.
    pub fn circuit_trips(&self) -> u32 {
        self.breaker.trips()
    }

    /// `GET /v2/assets?status=active&asset_class=us_equity`, unfiltered.
    pub async fn assets(&self) -> Result<Vec<AssetJson>, MarketDataError> {
        self.get_json(
            Api::Trading,
            "/v2/assets",
            &[
                ("status", "active".into()),
                ("asset_class", "us_equity".into()),
            ],
            "assets",
        )
        .await
    }

    /// `GET /v2/calendar`: the trading days in `start..=end` with their hours.
    pub async fn calendar(
        &self,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<Vec<CalendarDay>, MarketDataError> {
        self.get_json(
            Api::Trading,
            "/v2/calendar",
            &[("start", start.to_string()), ("end", end.to_string())],
            "calendar",
        )
        .await
    }

    /// `GET /v2/account`.
    pub async fn account(&self) -> Result<Account, MarketDataError> {
        self.get_json(Api::Trading, "/v2/account", &[], "account")
            .await
    }

    /// `GET /v2/positions`.
    pub async fn positions(&self) -> Result<Vec<Position>, MarketDataError> {
        self.get_json(Api::Trading, "/v2/positions", &[], "positions")
            .await
    }

    /// Daily bars of `symbols` dated `start..=end`: as many requests as the URL limits need,
    /// each paginated with `page_token` until it is null, merged per symbol in date order.
    pub async fn bars(
        &self,
        symbols: &[Symbol],
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<BarsBySymbol, MarketDataError> {
        MarketDataError::check_range(start, end)?;
        let mut out = BarsBySymbol::new();
        let unique: BTreeSet<&Symbol> = symbols.iter().collect();
        let unique: Vec<&Symbol> = unique.into_iter().collect();
        let end_param = self.end_parameter(end);
        for chunk in self.request_chunks(&unique) {
            let requested: HashSet<&str> = chunk.iter().map(|s| s.as_str()).collect();
            let list = chunk
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(",");
            let mut token: Option<String> = None;
            let mut seen_tokens = HashSet::new();
            for page in 1.. {
                let mut query = vec![
                    ("symbols", list.clone()),
                    ("timeframe", "1Day".to_string()),
                    ("start", start.to_string()),
                    ("end", end_param.clone()),
                    ("limit", self.config.page_limit.to_string()),
                    ("adjustment", self.config.adjustment.clone()),
                    ("feed", self.config.feed.clone()),
                    ("sort", "asc".to_string()),
                ];
                if let Some(token) = &token {
                    query.push(("page_token", token.clone()));
                }
                let what = format!("bars page {page} of {} symbols", chunk.len());
                self.stats.bars_requests.fetch_add(1, Ordering::Relaxed);
                let body: BarsPage = self
                    .get_json(Api::Data, "/v2/stocks/bars", &query, &what)
                    .await?;
                for (symbol, bars) in body.bars.unwrap_or_default() {
                    if !requested.contains(symbol.as_str()) {
                        tracing::warn!(%symbol, "Alpaca returned bars for a symbol not asked for; ignored");
                        continue;
                    }
                    let Ok(symbol) = Symbol::parse(&symbol) else {
                        continue;
                    };
                    let list = bars.unwrap_or_default();
                    if list.is_empty() {
                        continue;
                    }
                    out.entry(symbol)
                        .or_default()
                        .extend(list.iter().map(|b| b.to_bar()));
                }
                match body.next_page_token.filter(|t| !t.is_empty()) {
                    None => break,
                    Some(next) => {
                        if !seen_tokens.insert(next.clone()) {
                            return Err(MarketDataError::BadResponse(format!(
                                "GET /v2/stocks/bars: page token {next:?} came back twice; stopping rather than looping"
                            )));
                        }
                        token = Some(next);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Splits a symbol list into requests that respect both the symbol and the URL limits, as
    /// evenly as possible (so that no request is a tiny remainder).
    fn request_chunks<'a>(&self, symbols: &[&'a Symbol]) -> Vec<Vec<&'a Symbol>> {
        if symbols.is_empty() {
            return Vec::new();
        }
        // Room for the path and the other parameters (page token included).
        let budget = self
            .config
            .max_url_bytes
            .saturating_sub(self.config.data_url.len() + 260);
        let bytes: usize = symbols.iter().map(|s| s.as_str().len() + 1).sum();
        let by_count = symbols.len().div_ceil(self.config.max_symbols_per_request);
        let by_bytes = bytes.div_ceil(budget.max(64));
        let chunks = by_count.max(by_bytes).max(1);
        let size = symbols.len().div_ceil(chunks);
        // Even by count; then split any chunk still over the byte budget (very long symbols).
        let mut out = Vec::new();
        for chunk in symbols.chunks(size) {
            let mut current: Vec<&Symbol> = Vec::new();
            let mut used = 0;
            for symbol in chunk {
                let cost = symbol.as_str().len() + 1;
                if !current.is_empty() && used + cost > budget {
                    out.push(std::mem::take(&mut current));
                    used = 0;
                }
                used += cost;
                current.push(symbol);
            }
            out.push(current);
        }
        out
    }

    /// The `end` parameter. SIP data of the last 15 minutes is refused on the free plan, so an
    /// end that is not safely in the past is sent as an instant 16 minutes ago.
    fn end_parameter(&self, end: NaiveDate) -> String {
        let end_of_day = new_york_midnight(end.succ_opt().unwrap_or(end));
        let safe = self.clock.epoch_seconds() - 16.0 * 60.0;
        if end_of_day.timestamp() as f64 <= safe {
            return end.to_string();
        }
        DateTime::<Utc>::from_timestamp(safe as i64, 0)
            .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_else(|| end.to_string())
    }

    async fn credentials(&self) -> Result<&Credentials, MarketDataError> {
        self.cached
            .get_or_try_init(|| async {
                let source = &self.credentials;
                let read = |result: Result<SecretString, SecretsError>| {
                    result.map_err(|e| match e {
                        SecretsError::Missing { .. } => MarketDataError::NotConfigured(format!(
                            "no Alpaca credentials: {e} (check {})",
                            source.described_as
                        )),
                        SecretsError::Unavailable { .. } => {
                            MarketDataError::Unavailable(format!("reading Alpaca credentials: {e}"))
                        }
                    })
                };
                let key_id = read(source.secrets.get(&source.key_id_name).await)?;
                let secret_key = read(source.secrets.get(&source.secret_key_name).await)?;
                Ok(Credentials { key_id, secret_key })
            })
            .await
    }

    fn url(&self, api: Api, path: &str, query: &[(&str, String)]) -> String {
        let base = match api {
            Api::Data => &self.config.data_url,
            Api::Trading => &self.config.trading_url,
        };
        let mut url = format!("{base}{path}");
        for (i, (name, value)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(name);
            url.push('=');
            encode_into(&mut url, value);
        }
        url
    }

    /// One logical GET: waits for the rate limiter, retries transient failures with jittered
    /// exponential back-off, waits out 429s, and classifies what is left.
    async fn get_json<T: DeserializeOwned>(
        &self,
        api: Api,
        path: &str,
        query: &[(&str, String)],
        what: &str,
    ) -> Result<T, MarketDataError> {
        let url = self.url(api, path, query);
        self.stats
            .longest_url
            .fetch_max(url.len() as u64, Ordering::Relaxed);
        let mut failures = 0u32;
        let mut rate_limited = 0u32;
        loop {
            self.breaker.check()?;
            let credentials = self.credentials().await?;
            self.limiter.acquire().await;
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            let outcome = self.send(api, path, &url, credentials, what).await;
            let error = match outcome {
                Ok(Response::Body(bytes)) => match serde_json::from_slice::<T>(&bytes) {
                    Ok(value) => {
                        self.breaker.success();
                        return Ok(value);
                    }
                    Err(e) => MarketDataError::BadResponse(format!(
                        "GET {path} ({what}): the body is not the expected JSON ({} bytes): {e}",
                        bytes.len()
                    )),
                },
                Ok(Response::RateLimited { reset, retry_after }) => {
                    self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                    rate_limited += 1;
                    if rate_limited > self.config.max_rate_limited {
                        return Err(MarketDataError::RateLimited(format!(
                            "GET {path} ({what}): HTTP 429 {rate_limited} times in a row, each waited out; giving up (ALPACA_MAX_RATE_LIMITED={})",
                            self.config.max_rate_limited
                        )));
                    }
                    let fallback = Duration::from_secs(3 << rate_limited.min(4));
                    let wait = self
                        .limiter
                        .rate_limited(reset, retry_after, fallback)
                        .await;
                    tracing::warn!(
                        path,
                        what,
                        wait_s = wait.as_secs_f64(),
                        "HTTP 429: waiting for the rate-limit window to reset"
                    );
                    continue;
                }
                Err(error) => error,
            };
            match &error {
                MarketDataError::Unavailable(_) | MarketDataError::BadResponse(_) => {
                    self.breaker.failure(&error.to_string());
                    failures += 1;
                    if failures >= self.config.max_attempts {
                        return Err(error);
                    }
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    let ceiling = self.config.backoff.as_secs_f64()
                        * f64::from(1u32 << (failures - 1).min(10));
                    let wait = Duration::from_secs_f64(ceiling * (0.5 + 0.5 * jitter_unit()));
                    tracing::warn!(path, what, attempt = failures, error = %error, wait_s = wait.as_secs_f64(), "retrying");
                    self.clock.sleep(wait).await;
                }
                MarketDataError::Unauthorized(message) => {
                    self.breaker.unauthorized(message);
                    return Err(error);
                }
                _ => return Err(error),
            }
        }
    }

    /// One HTTP exchange, classified.
    async fn send(
        &self,
        api: Api,
        path: &str,
        url: &str,
        credentials: &Credentials,
        what: &str,
    ) -> Result<Response, MarketDataError> {
        let response = self
            .http
            .get(url)
            .header("APCA-API-KEY-ID", credentials.key_id.expose())
            .header("APCA-API-SECRET-KEY", credentials.secret_key.expose())
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| MarketDataError::Unavailable(describe_transport("GET", path, what, &e)))?;
        let status = response.status().as_u16();
        let header = |name: &str| -> Option<f64> {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
        };
        let remaining = header("x-ratelimit-remaining").map(|v| v.max(0.0) as u32);
        let reset = header("x-ratelimit-reset");
        let retry_after = header("retry-after");
        self.limiter.observe(remaining, reset).await;
        if status == 429 {
            return Ok(Response::RateLimited { reset, retry_after });
        }
        let body = response.bytes().await;
        let body = match body {
            Ok(body) => body,
            Err(e) if status == 200 => {
                return Err(MarketDataError::Unavailable(describe_transport(
                    "GET", path, what, &e,
                )));
            }
            Err(_) => Default::default(),
        };
        let excerpt = || {
            let text = String::from_utf8_lossy(&body);
            let text: String = text.chars().take(200).collect();
            text.replace('\n', " ")
        };
        let host = match api {
            Api::Data => "the market data API (ALPACA_DATA_URL)",
            Api::Trading => "the trading API (ALPACA_TRADING_URL)",
        };
        match status {
            200..=299 => Ok(Response::Body(body.to_vec())),
            401 => Err(MarketDataError::Unauthorized(format!(
                "HTTP 401 from {host} for GET {path}: the key pair was refused ({}). Check the key id and the secret key ({}), and that paper keys go with the paper trading host",
                excerpt(),
                self.credentials.described_as
            ))),
            403 => Err(MarketDataError::Unauthorized(format!(
                "HTTP 403 from {host} for GET {path}: the key was accepted but may not do this ({}). For bars, the plan may not include feed={} for this period: try ALPACA_FEED=iex, or check the keys ({})",
                excerpt(),
                self.config.feed,
                self.credentials.described_as
            ))),
            500..=599 => Err(MarketDataError::Unavailable(format!(
                "HTTP {status} from {host} for GET {path} ({what}): {}",
                excerpt()
            ))),
            408 => Err(MarketDataError::Unavailable(format!(
                "HTTP 408 from {host} for GET {path} ({what})"
            ))),
            _ => Err(MarketDataError::InvalidRequest(format!(
                "HTTP {status} from {host} for GET {path} ({what}): {}",
                excerpt()
            ))),
        }
    }
}

enum Response {
    Body(Vec<u8>),
    RateLimited {
        reset: Option<f64>,
        retry_after: Option<f64>,
    },
}

fn describe_transport(method: &str, path: &str, what: &str, e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "connection broken while reading the body"
    } else {
        "connection failed"
    };
    // The error's own text carries the URL (no secrets: they travel in headers only).
    let mut source = std::error::Error::source(e);
    let mut detail = e.to_string();
    while let Some(inner) = source {
        detail.push_str(": ");
        detail.push_str(&inner.to_string());
        source = inner.source();
    }
    format!("{method} {path} ({what}) {kind}: {detail}")
}

/// Percent-encodes a query value, leaving the characters symbols, dates and lists use.
fn encode_into(out: &mut String, value: &str) {
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b',' | b':' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
}

#[async_trait]
impl MarketData for Alpaca {
    fn source(&self) -> DataSourceInfo {
        DataSourceInfo {
            kind: "alpaca".into(),
            description: format!(
                "Alpaca market data ({}, feed {}, adjustment {})",
                self.config.data_url, self.config.feed, self.config.adjustment
            ),
            synthetic: false,
            feed: Some(self.config.feed.clone()),
            adjustment: self.config.adjustment.clone(),
        }
    }

    async fn universe(&self) -> Result<Vec<Asset>, MarketDataError> {
        let assets = self.assets().await?;
        let (kept, counts) = filter_assets(assets, &self.config.universe);
        tracing::info!(?counts, kept = kept.len(), "universe filtered");
        Ok(kept)
    }

    async fn daily_bars(
        &self,
        symbols: &[Symbol],
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<BarsBySymbol, MarketDataError> {
        self.bars(symbols, start, end).await
    }

    /// Alpaca's calendar is the exchange's, unscheduled closures included.
    async fn sessions(
        &self,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<Option<Vec<NaiveDate>>, MarketDataError> {
        let days = self.calendar(start, end).await?;
        Ok(Some(days.into_iter().map(|d| d.date).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use screener_core::local::EnvSecrets;

    fn client(config: AlpacaConfig) -> Alpaca {
        Alpaca::new(
            config,
            CredentialSource {
                secrets: Arc::new(EnvSecrets::new(Default::default())),
                key_id_name: "k".into(),
                secret_key_name: "s".into(),
                described_as: "test".into(),
            },
        )
        .unwrap()
    }

    fn symbols(n: usize, len: usize) -> Vec<Symbol> {
        (0..n)
            .map(|i| Symbol::parse(&format!("{:A>len$}", format!("{i}"))).unwrap())
            .collect()
    }

    #[test]
    fn symbol_lists_are_split_evenly_by_count_and_by_url_length() {
        let c = client(AlpacaConfig::default());
        let list = symbols(1000, 4);
        let refs: Vec<&Symbol> = list.iter().collect();
        let chunks = c.request_chunks(&refs);
        let sizes: Vec<usize> = chunks.iter().map(Vec::len).collect();
        assert_eq!(sizes, [334, 334, 332]);
        // Ten-character symbols and no count limit: the URL budget binds.
        let c = client(AlpacaConfig {
            max_symbols_per_request: 5_000,
            ..AlpacaConfig::default()
        });
        let list = symbols(600, 10);
        let refs: Vec<&Symbol> = list.iter().collect();
        let chunks = c.request_chunks(&refs);
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks.iter().map(Vec::len).sum::<usize>(), 600);
        for chunk in chunks {
            let query: Vec<&str> = chunk.iter().map(|s| s.as_str()).collect();
            let url = c.url(
                Api::Data,
                "/v2/stocks/bars",
                &[("symbols", query.join(","))],
            );
            assert!(url.len() + 260 <= c.config.max_url_bytes, "{}", url.len());
        }
    }

    #[test]
    fn query_values_are_encoded_but_lists_stay_readable() {
        let c = client(AlpacaConfig::default());
        let url = c.url(
            Api::Data,
            "/v2/stocks/bars",
            &[
                ("symbols", "AAPL,BRK.B".into()),
                ("page_token", "a+b/c=".into()),
            ],
        );
        assert_eq!(
            url,
            "https://data.alpaca.markets/v2/stocks/bars?symbols=AAPL,BRK.B&page_token=a%2Bb%2Fc%3D"
        );
    }

    #[test]
    fn the_debug_form_shows_no_secret() {
        let c = client(AlpacaConfig::default());
        let text = format!("{c:?}");
        assert!(text.contains("data.alpaca.markets") && !text.contains("secret_key_name"));
    }
}
