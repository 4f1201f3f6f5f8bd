//! A loopback Alpaca server for tests and the benchmark: a real HTTP/1.1 server (hyper) on
//! `127.0.0.1:0` that speaks the parts of Alpaca's API the client uses, the way Alpaca does:
//!
//! * `GET /v2/assets`, `/v2/calendar`, `/v2/account`, `/v2/positions` (trading host) and
//!   `GET /v2/stocks/bars` (data host; both are this one server);
//! * bars paginated like Alpaca: `limit` counts bars across all symbols, results are ordered by
//!   symbol then date, and a page token may continue in the middle of a symbol;
//! * the key pair checked on every request (401 otherwise);
//! * a fixed-window rate limiter (200 a minute by default) answering 429 with
//!   `X-Ratelimit-Limit/Remaining/Reset`, on the clock it is given (virtual in tests);
//! * URIs longer than a limit refused with 414;
//! * injectable faults on bars requests: HTTP 500/503, a response slower than the client's
//!   timeout, malformed JSON, `"bars": null`, a truncated body, a reset connection; and
//!   symbols the server has no bars for.
//!
//! Prices come from a deterministic model ([`FakeMarket`]), which is also the test oracle:
//! [`FakeAlpaca::expected_bars`] says what a complete, correct answer is.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{Duration as Days, NaiveDate};
use screener_test_support::loopback::{self, Bytes, LoopbackServer, Request, StatusCode};
use serde_json::json;

use screener_core::bar::BarsBySymbol;
use screener_core::{Bar, SplitMix64, Symbol, calendar};

use crate::clock::Clock;
use crate::model::{AssetJson, BarJson, new_york_date, new_york_midnight};

pub const KEY_ID: &str = "PKTEST0000000000";
pub const SECRET_KEY: &str = "test-secret-never-logged";

/// A fault served instead of (or around) a normal bars answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// This HTTP status with a JSON error body.
    Status(u16),
    /// Waits this long (real time) before answering normally.
    Slow(Duration),
    /// 200 with a body that is not JSON.
    Malformed,
    /// 200 with `{"bars": null, "next_page_token": null}`.
    NullBars,
    /// 200 with the right page cut in half.
    Truncated,
    /// Closes the connection without answering.
    Reset,
}

#[derive(Debug, Clone)]
struct FakeSymbol {
    asset: AssetJson,
    listed_from: Option<NaiveDate>,
    no_bars: bool,
    phase: f64,
    base: f64,
    /// Splits: (first day at the new price, ratio new shares per old share).
    splits: Vec<(NaiveDate, f64)>,
}

/// The server's market: symbols, their prices, and which days exist yet.
#[derive(Debug, Clone)]
pub struct FakeMarket {
    symbols: BTreeMap<String, FakeSymbol>,
    /// Assets that the universe filters must drop (OTC, inactive, untradable).
    others: Vec<AssetJson>,
    /// Bars exist up to and including this day ("today").
    pub last_day: NaiveDate,
    /// Closures the NYSE rules do not know (as a future day of mourning would be): no bars,
    /// and absent from `GET /v2/calendar`, as Alpaca serves such a day.
    pub unscheduled_closures: BTreeSet<NaiveDate>,
}

fn asset(symbol: &str, exchange: &str, status: &str, tradable: bool) -> AssetJson {
    AssetJson {
        symbol: symbol.into(),
        name: format!("{symbol} Corp"),
        exchange: exchange.into(),
        class: "us_equity".into(),
        status: status.into(),
        tradable,
        fractionable: true,
        shortable: true,
        marginable: true,
        easy_to_borrow: true,
        attributes: vec![],
    }
}

/// Ticker `i` of a generated market: 3 or 4 letters (about the length of real tickers).
pub fn ticker(i: usize) -> String {
    let len = 3 + i % 2;
    let mut n = i / 2;
    let mut out = vec![b'A'; len];
    for slot in out.iter_mut().rev() {
        *slot = b'A' + (n % 26) as u8;
        n /= 26;
    }
    String::from_utf8(out).unwrap()
}

/// A 64-bit hash of `z`: the first draw of a SplitMix64 seeded with it.
fn mix(z: u64) -> u64 {
    SplitMix64::new(z).next_u64()
}

/// [`mix`] as a uniform fraction in [0, 1).
fn unit(z: u64) -> f64 {
    SplitMix64::new(z).uniform()
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

impl FakeMarket {
    /// `count` symbols on NYSE/NASDAQ/ARCA with bars up to `last_day`. Every 97th symbol
    /// listed 60 days before `last_day`; every 211th has no bars at all. Three more assets
    /// (OTC, inactive, untradable) are listed for the filters to drop.
    pub fn generate(count: usize, seed: u64, last_day: NaiveDate) -> Self {
        let exchanges = ["NYSE", "NASDAQ", "ARCA"];
        let mut symbols = BTreeMap::new();
        for i in 0..count {
            let name = ticker(i);
            let z = mix(seed ^ (i as u64).wrapping_mul(0x1234_5678_9ABC_DEF1));
            symbols.insert(
                name.clone(),
                FakeSymbol {
                    asset: asset(&name, exchanges[i % 3], "active", true),
                    listed_from: (i % 97 == 5).then(|| last_day - Days::days(60)),
                    no_bars: i % 211 == 3,
                    phase: unit(z) * std::f64::consts::TAU,
                    base: 5.0 + 300.0 * unit(z ^ 1),
                    splits: Vec::new(),
                },
            );
        }
        FakeMarket {
            symbols,
            others: vec![
                asset("ZZOTC", "OTC", "active", true),
                asset("ZZOLD", "NYSE", "inactive", false),
                asset("ZZHLT", "NASDAQ", "active", false),
            ],
            last_day,
            unscheduled_closures: BTreeSet::new(),
        }
    }

    /// Is the exchange open on `date` in this market (the rules, less the unscheduled closures)?
    fn is_session(&self, date: NaiveDate) -> bool {
        calendar::is_trading_day(date) && !self.unscheduled_closures.contains(&date)
    }

    pub fn symbols(&self) -> Vec<Symbol> {
        self.symbols
            .keys()
            .map(|s| Symbol::parse(s).unwrap())
            .collect()
    }

    /// Symbols that will never have bars (in the assets list all the same).
    pub fn symbols_without_bars(&self) -> Vec<Symbol> {
        self.symbols
            .iter()
            .filter(|(_, s)| s.no_bars)
            .map(|(name, _)| Symbol::parse(name).unwrap())
            .collect()
    }

    /// The bar of `symbol` on `date`, if it traded, adjusted as asked.
    fn bar(&self, symbol: &FakeSymbol, date: NaiveDate, adjustment: &str) -> Option<Bar> {
        if symbol.no_bars
            || date > self.last_day
            || symbol.listed_from.is_some_and(|from| date < from)
            || !self.is_session(date)
        {
            return None;
        }
        let day = (date - NaiveDate::from_ymd_opt(2000, 1, 1).unwrap()).num_days() as u64;
        let seed = day
            .wrapping_mul(31)
            .wrapping_add((symbol.base * 1e6) as u64);
        let wave = 0.25 * (day as f64 / 30.0 + symbol.phase).sin();
        let close = symbol.base * (wave + 0.02 * (unit(seed) - 0.5)).exp();
        let open = close * (1.0 + 0.01 * (unit(seed ^ 2) - 0.5));
        let volume = (100_000.0 + 900_000.0 * unit(seed ^ 3)).round();
        // Splits that have happened (on or before "today"): raw prices drop by the ratio on the
        // split day; adjusted prices are divided by every split so far, on every day, so a new
        // split changes the adjusted prices of all the days before it.
        let factor: f64 = symbol
            .splits
            .iter()
            .filter(|(on, _)| *on <= self.last_day && (adjustment != "raw" || *on <= date))
            .map(|(_, ratio)| ratio)
            .product();
        let (open, close, volume) = (open / factor, close / factor, (volume * factor).round());
        let high = open.max(close) * (1.0 + 0.01 * unit(seed ^ 4));
        let low = open.min(close) * (1.0 - 0.01 * unit(seed ^ 5));
        Some(Bar {
            date,
            open: round4(open),
            high: round4(high),
            low: round4(low),
            close: round4(close),
            volume,
            vwap: Some(round4((open + high + low + close) / 4.0)),
            trade_count: Some(1 + (volume / 150.0) as u64),
        })
    }
}

/// How the server behaves.
#[derive(Debug, Clone)]
pub struct FakeOptions {
    /// Requests per window before 429 (`None`: unlimited).
    pub rate_limit: Option<u32>,
    pub window_secs: u64,
    /// Send `X-Ratelimit-*` headers.
    pub rate_headers: bool,
    /// Longest request URI accepted (Alpaca's front end refuses long ones).
    pub max_uri_bytes: usize,
}

impl Default for FakeOptions {
    fn default() -> Self {
        FakeOptions {
            rate_limit: Some(200),
            window_secs: 60,
            rate_headers: true,
            max_uri_bytes: 8_192,
        }
    }
}

/// What the server saw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FakeStats {
    pub requests: u64,
    pub bars_requests: u64,
    pub rate_limited: u64,
    pub faults_served: u64,
    pub unauthorized: u64,
    pub longest_uri: usize,
    pub bars_served: u64,
    pub asset_requests: u64,
}

struct State {
    market: FakeMarket,
    faults: VecDeque<Fault>,
    always: Option<Fault>,
    window: (u64, u32),
    stats: FakeStats,
}

struct Inner {
    options: FakeOptions,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

/// The running server; stops when dropped.
pub struct FakeAlpaca {
    inner: Arc<Inner>,
    server: LoopbackServer,
}

impl FakeAlpaca {
    pub async fn start(market: FakeMarket, options: FakeOptions, clock: Arc<dyn Clock>) -> Self {
        let inner = Arc::new(Inner {
            options,
            clock,
            state: Mutex::new(State {
                market,
                faults: VecDeque::new(),
                always: None,
                window: (0, 0),
                stats: FakeStats::default(),
            }),
        });
        let state = inner.clone();
        let server = LoopbackServer::start_fallible(move |request| handle(state.clone(), request));
        FakeAlpaca { inner, server }
    }

    /// `http://127.0.0.1:PORT`: both the data and the trading URL.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Serves these faults, in order, to the next bars requests.
    pub fn push_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        self.inner.state.lock().unwrap().faults.extend(faults);
    }

    /// Serves this fault to every bars request until cleared.
    pub fn set_always(&self, fault: Option<Fault>) {
        self.inner.state.lock().unwrap().always = fault;
    }

    /// A split of `ratio` (e.g. 2.0 for 2-for-1) effective on `on`.
    pub fn add_split(&self, symbol: &str, on: NaiveDate, ratio: f64) {
        let mut state = self.inner.state.lock().unwrap();
        state
            .market
            .symbols
            .get_mut(symbol)
            .expect("a symbol of the market")
            .splits
            .push((on, ratio));
    }

    /// Closes the market on `day` although the NYSE rules say it trades: no bar that day, and
    /// the calendar leaves it out.
    pub fn close_unscheduled(&self, day: NaiveDate) {
        let mut state = self.inner.state.lock().unwrap();
        state.market.unscheduled_closures.insert(day);
    }

    /// Moves "today": bars exist up to `day`.
    pub fn set_last_day(&self, day: NaiveDate) {
        self.inner.state.lock().unwrap().market.last_day = day;
    }

    pub fn stats(&self) -> FakeStats {
        self.inner.state.lock().unwrap().stats.clone()
    }

    pub fn reset_stats(&self) {
        self.inner.state.lock().unwrap().stats = FakeStats::default();
    }

    /// The complete, correct answer for these symbols and dates: the oracle.
    pub fn expected_bars(
        &self,
        symbols: &[Symbol],
        start: NaiveDate,
        end: NaiveDate,
        adjustment: &str,
    ) -> BarsBySymbol {
        let state = self.inner.state.lock().unwrap();
        let market = &state.market;
        let mut out = BarsBySymbol::new();
        for symbol in symbols {
            let Some(fake) = market.symbols.get(symbol.as_str()) else {
                continue;
            };
            let bars: Vec<Bar> = calendar::trading_days(start, end)
                .into_iter()
                .filter_map(|d| market.bar(fake, d, adjustment))
                .collect();
            if !bars.is_empty() {
                out.insert(symbol.clone(), bars);
            }
        }
        out
    }
}

/// An answer, or `Err` to drop the connection (an injected reset).
type Reply = Result<loopback::Reply, std::io::Error>;

fn reply(status: u16, body: Vec<u8>, headers: &[(String, String)]) -> Reply {
    let status = StatusCode::from_u16(status).expect("a valid status");
    let mut response = loopback::with_type(status, "application/json", body);
    for (name, value) in headers {
        response.headers_mut().insert(
            loopback::header::HeaderName::from_bytes(name.as_bytes()).expect("a valid header name"),
            loopback::header::HeaderValue::from_str(value).expect("a valid header value"),
        );
    }
    Ok(response)
}

fn json_reply(status: u16, value: serde_json::Value, headers: &[(String, String)]) -> Reply {
    reply(status, serde_json::to_vec(&value).unwrap(), headers)
}

fn parse_day(text: &str) -> Option<NaiveDate> {
    if let Ok(date) = text.parse::<NaiveDate>() {
        return Some(date);
    }
    text.parse::<chrono::DateTime<chrono::Utc>>()
        .ok()
        .map(new_york_date)
}

fn token_for(symbol: &str, date: NaiveDate) -> String {
    hex::encode(format!("{symbol}|{date}"))
}

fn parse_token(token: &str) -> Option<(String, NaiveDate)> {
    let text = String::from_utf8(hex::decode(token).ok()?).ok()?;
    let (symbol, date) = text.split_once('|')?;
    Some((symbol.to_string(), date.parse().ok()?))
}

async fn handle(inner: Arc<Inner>, request: Request<Bytes>) -> Reply {
    let path = request.uri().path().to_string();
    let uri_len = request.uri().to_string().len();
    let query: HashMap<String, String> =
        form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let authorized = request
        .headers()
        .get("apca-api-key-id")
        .is_some_and(|v| v == KEY_ID)
        && request
            .headers()
            .get("apca-api-secret-key")
            .is_some_and(|v| v == SECRET_KEY);

    // Rate limit, auth, URI length, then the fault (bars only), under one lock.
    let (headers, fault) = {
        let mut state = inner.state.lock().unwrap();
        state.stats.requests += 1;
        state.stats.longest_uri = state.stats.longest_uri.max(uri_len);
        let mut headers = Vec::new();
        if let Some(limit) = inner.options.rate_limit {
            let window = inner.clock.epoch_seconds() as u64 / inner.options.window_secs;
            if state.window.0 != window {
                state.window = (window, 0);
            }
            let reset = (window + 1) * inner.options.window_secs;
            if inner.options.rate_headers {
                headers.push(("x-ratelimit-limit".to_string(), limit.to_string()));
                headers.push(("x-ratelimit-reset".to_string(), reset.to_string()));
            }
            if state.window.1 >= limit {
                state.stats.rate_limited += 1;
                if inner.options.rate_headers {
                    headers.push(("x-ratelimit-remaining".to_string(), "0".to_string()));
                }
                drop(state);
                return json_reply(429, json!({"message": "too many requests."}), &headers);
            }
            state.window.1 += 1;
            if inner.options.rate_headers {
                headers.push((
                    "x-ratelimit-remaining".to_string(),
                    (limit - state.window.1).to_string(),
                ));
            }
        }
        if !authorized {
            state.stats.unauthorized += 1;
            drop(state);
            return json_reply(
                401,
                json!({"code": 40110000, "message": "request is not authorized"}),
                &headers,
            );
        }
        if uri_len > inner.options.max_uri_bytes {
            drop(state);
            return json_reply(414, json!({"message": "Request-URI Too Large"}), &headers);
        }
        let fault = if path == "/v2/stocks/bars" {
            state.stats.bars_requests += 1;
            state.faults.pop_front().or_else(|| state.always.clone())
        } else {
            None
        };
        if fault.is_some() {
            state.stats.faults_served += 1;
        }
        (headers, fault)
    };

    match &fault {
        Some(Fault::Status(code)) => {
            return json_reply(
                *code,
                json!({"message": format!("injected HTTP {code}")}),
                &headers,
            );
        }
        Some(Fault::Slow(wait)) => tokio::time::sleep(*wait).await,
        Some(Fault::Malformed) => {
            return reply(200, b"{\"bars\": {\"AAA\": [}".to_vec(), &headers);
        }
        Some(Fault::NullBars) => {
            return json_reply(
                200,
                json!({"bars": null, "next_page_token": null}),
                &headers,
            );
        }
        Some(Fault::Reset) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "injected reset",
            ));
        }
        Some(Fault::Truncated) | None => {}
    }

    let state = inner.state.lock().unwrap();
    let market = &state.market;
    let body = match path.as_str() {
        "/v2/assets" => {
            let mut all: Vec<&AssetJson> = market.symbols.values().map(|s| &s.asset).collect();
            all.extend(market.others.iter());
            serde_json::to_value(all).unwrap()
        }
        "/v2/calendar" => {
            let (Some(start), Some(end)) = (
                query.get("start").and_then(|s| parse_day(s)),
                query.get("end").and_then(|s| parse_day(s)),
            ) else {
                drop(state);
                return json_reply(
                    422,
                    json!({"message": "start and end are required"}),
                    &headers,
                );
            };
            let days: Vec<serde_json::Value> = calendar::trading_days(start, end)
                .into_iter()
                .filter(|d| market.is_session(*d))
                .map(|d| json!({"date": d, "open": "09:30", "close": "16:00", "session_open": "0400", "session_close": "2000"}))
                .collect();
            json!(days)
        }
        "/v2/account" => json!({
            "id": "0d9b1c0e-fake-4f0e-9a57-account00001",
            "account_number": "PA3FAKE00001",
            "status": "ACTIVE",
            "currency": "USD",
            "cash": "100000.00",
            "equity": "112345.67",
            "buying_power": "200000.00",
            "last_equity": "110000.00",
            "portfolio_value": "112345.67"
        }),
        "/v2/positions" => json!([
            {"symbol": "AAA", "qty": "10", "side": "long", "exchange": "NYSE", "avg_entry_price": "100.5", "market_value": "1100.0", "cost_basis": "1005.0", "unrealized_pl": "95.0", "unrealized_plpc": "0.0945", "current_price": "110.0"},
            {"symbol": "AAAB", "qty": "5", "side": "long", "exchange": "NASDAQ", "avg_entry_price": "20", "market_value": "90.0", "cost_basis": "100.0", "unrealized_pl": "-10.0", "unrealized_plpc": "-0.1", "current_price": "18.0"}
        ]),
        "/v2/stocks/bars" => match bars_page(market, &query) {
            Ok((value, served)) => {
                drop(state);
                inner.state.lock().unwrap().stats.bars_served += served;
                let mut body = serde_json::to_vec(&value).unwrap();
                if fault == Some(Fault::Truncated) {
                    body.truncate(body.len() / 2);
                }
                return reply(200, body, &headers);
            }
            Err(message) => {
                drop(state);
                return json_reply(400, json!({"message": message}), &headers);
            }
        },
        _ => {
            drop(state);
            return json_reply(404, json!({"message": "not found"}), &headers);
        }
    };
    drop(state);
    json_reply(200, body, &headers)
}

/// One page of bars, Alpaca style, and how many bars it holds.
fn bars_page(
    market: &FakeMarket,
    query: &HashMap<String, String>,
) -> Result<(serde_json::Value, u64), String> {
    if query.get("timeframe").map(String::as_str) != Some("1Day") {
        return Err("only timeframe=1Day is served here".into());
    }
    let symbols: BTreeSet<&str> = query
        .get("symbols")
        .ok_or("symbols is required")?
        .split(',')
        .filter(|s| !s.is_empty())
        .collect();
    let start = query
        .get("start")
        .and_then(|s| parse_day(s))
        .ok_or("bad start")?;
    let end = query
        .get("end")
        .and_then(|s| parse_day(s))
        .ok_or("bad end")?;
    let limit: usize = query
        .get("limit")
        .map(|l| l.parse().map_err(|_| "bad limit"))
        .transpose()?
        .unwrap_or(1000);
    if !(1..=10_000).contains(&limit) {
        return Err("limit must be 1..=10000".into());
    }
    let adjustment = query.get("adjustment").map(String::as_str).unwrap_or("raw");
    let from = match query.get("page_token") {
        Some(token) => Some(parse_token(token).ok_or("invalid page token")?),
        None => None,
    };
    let days = calendar::trading_days(start, end);
    let mut page: BTreeMap<&str, Vec<BarJson>> = BTreeMap::new();
    let mut served = 0usize;
    let mut next = None;
    'symbols: for symbol in &symbols {
        if let Some((token_symbol, _)) = &from
            && *symbol < token_symbol.as_str()
        {
            continue;
        }
        let Some(fake) = market.symbols.get(*symbol) else {
            continue;
        };
        for day in &days {
            if let Some((token_symbol, token_day)) = &from
                && *symbol == token_symbol.as_str()
                && day < token_day
            {
                continue;
            }
            let Some(bar) = market.bar(fake, *day, adjustment) else {
                continue;
            };
            if served == limit {
                next = Some(token_for(symbol, *day));
                break 'symbols;
            }
            page.entry(symbol).or_default().push(BarJson {
                t: new_york_midnight(bar.date),
                o: bar.open,
                h: bar.high,
                l: bar.low,
                c: bar.close,
                v: bar.volume,
                n: bar.trade_count,
                vw: bar.vwap,
            });
            served += 1;
        }
    }
    Ok((
        json!({"bars": page, "next_page_token": next}),
        served as u64,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickers_are_unique_and_short() {
        let all: BTreeSet<String> = (0..20_000).map(ticker).collect();
        assert_eq!(all.len(), 20_000);
        assert!(all.iter().all(|t| (3..=4).contains(&t.len())));
    }

    #[test]
    fn page_tokens_round_trip() {
        let date = NaiveDate::from_ymd_opt(2025, 1, 2).unwrap();
        assert_eq!(
            parse_token(&token_for("BRK.B", date)),
            Some(("BRK.B".to_string(), date))
        );
    }

    #[test]
    fn a_new_split_changes_adjusted_prices_before_it_but_not_raw_ones() {
        let today = NaiveDate::from_ymd_opt(2025, 6, 13).unwrap();
        let mut market = FakeMarket::generate(10, 1, today);
        let before = NaiveDate::from_ymd_opt(2025, 6, 10).unwrap();
        let adjusted = market_bar(&market, "AAA", before, "all").unwrap();
        let raw = market_bar(&market, "AAA", before, "raw").unwrap();
        assert_eq!(adjusted, raw, "no split yet");
        let split_day = NaiveDate::from_ymd_opt(2025, 6, 12).unwrap();
        market
            .symbols
            .get_mut("AAA")
            .unwrap()
            .splits
            .push((split_day, 2.0));
        assert_eq!(market_bar(&market, "AAA", before, "raw").unwrap(), raw);
        let now = market_bar(&market, "AAA", before, "all").unwrap();
        assert!((adjusted.close / now.close - 2.0).abs() < 1e-3);
        // On the split day, raw and adjusted agree again.
        assert_eq!(
            market_bar(&market, "AAA", split_day, "raw"),
            market_bar(&market, "AAA", split_day, "all")
        );
    }

    fn market_bar(
        market: &FakeMarket,
        symbol: &str,
        day: NaiveDate,
        adjustment: &str,
    ) -> Option<Bar> {
        market.bar(&market.symbols[symbol], day, adjustment)
    }
}
