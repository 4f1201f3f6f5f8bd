//! The Alpaca client against the loopback Alpaca server (`screener_alpaca::testing`): a real
//! HTTP server on 127.0.0.1 that paginates, rate-limits and fails like Alpaca. Waits (rate
//! limit, back-off, circuit cool-down) run on a virtual clock shared by client and server, so
//! a one-minute rate-limit window costs no real time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;
use screener_alpaca::clock::{Clock, FastForwardClock};
use screener_alpaca::history::{self, history_prefix};
use screener_alpaca::testing::{FakeAlpaca, FakeMarket, FakeOptions, Fault, KEY_ID, SECRET_KEY};
use screener_alpaca::{Alpaca, AlpacaConfig, CredentialSource};
use screener_core::Symbol;
use screener_core::local::DirStore;
use screener_core::ports::{
    MarketData, MarketDataError, SecretString, Secrets, SecretsError, Store,
};
use screener_core::workflow::StepError;

/// 2025-06-13 22:00 UTC, after that day's close.
const EVENING: u64 = 1_749_852_000;

fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

/// The key pair from memory, counting reads.
struct StaticSecrets {
    key_id: String,
    secret_key: String,
    reads: AtomicU32,
}

#[async_trait]
impl Secrets for StaticSecrets {
    async fn get(&self, name: &str) -> Result<SecretString, SecretsError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        match name {
            "key" => Ok(SecretString::new(&self.key_id)),
            "secret" => Ok(SecretString::new(&self.secret_key)),
            _ => Err(SecretsError::Missing {
                name: name.into(),
                hint: "unknown".into(),
            }),
        }
    }
}

struct Rig {
    fake: FakeAlpaca,
    client: Alpaca,
    clock: Arc<FastForwardClock>,
    secrets: Arc<StaticSecrets>,
    symbols: Vec<Symbol>,
}

async fn rig_with(
    symbols: usize,
    options: FakeOptions,
    secret_key: &str,
    tweak: impl FnOnce(&mut AlpacaConfig),
) -> Rig {
    let clock = Arc::new(FastForwardClock::starting_at(EVENING));
    let market = FakeMarket::generate(symbols, 7, day("2025-06-13"));
    let all = market.symbols();
    let fake = FakeAlpaca::start(market, options, clock.clone()).await;
    let mut config = AlpacaConfig {
        data_url: fake.url(),
        trading_url: fake.url(),
        timeout: Duration::from_secs(5),
        ..AlpacaConfig::default()
    };
    tweak(&mut config);
    let secrets = Arc::new(StaticSecrets {
        key_id: KEY_ID.into(),
        secret_key: secret_key.into(),
        reads: AtomicU32::new(0),
    });
    let client = Alpaca::with_clock(
        config,
        CredentialSource {
            secrets: secrets.clone(),
            key_id_name: "key".into(),
            secret_key_name: "secret".into(),
            described_as: "TEST_KEY_ID and TEST_SECRET".into(),
        },
        clock.clone(),
    )
    .unwrap();
    Rig {
        fake,
        client,
        clock,
        secrets,
        symbols: all,
    }
}

async fn rig(symbols: usize, tweak: impl FnOnce(&mut AlpacaConfig)) -> Rig {
    rig_with(symbols, FakeOptions::default(), SECRET_KEY, tweak).await
}

fn name(error: MarketDataError) -> &'static str {
    StepError::from(error).name()
}

#[tokio::test]
async fn no_bar_is_lost_or_duplicated_across_pages_that_split_symbols() {
    // 7 bars a page: nearly every page ends in the middle of a symbol.
    let r = rig(40, |c| {
        c.page_limit = 7;
        c.max_symbols_per_request = 15;
    })
    .await;
    let (start, end) = (day("2025-04-01"), day("2025-06-13"));
    let got = r.client.bars(&r.symbols, start, end).await.unwrap();
    let expected = r.fake.expected_bars(&r.symbols, start, end, "all");
    assert_eq!(got, expected);
    let total: usize = expected.values().map(Vec::len).sum();
    assert!(total > 1000, "{total}");
    // Three requests of 14, 13 and 13 symbols, each exactly ceil(its bars / 7) pages.
    let mut pages = 0;
    for chunk in [&r.symbols[..14], &r.symbols[14..27], &r.symbols[27..]] {
        let bars: usize = r
            .fake
            .expected_bars(chunk, start, end, "all")
            .values()
            .map(Vec::len)
            .sum();
        pages += bars.div_ceil(7);
    }
    assert_eq!(r.fake.stats().bars_requests as usize, pages);
    assert_eq!(r.fake.stats().bars_served as usize, total);
    // Dates ascend within each symbol and are New York dates of trading days.
    for bars in got.values() {
        assert!(bars.windows(2).all(|w| w[0].date < w[1].date));
        assert!(
            bars.iter()
                .all(|b| screener_core::calendar::is_trading_day(b.date))
        );
    }
}

#[tokio::test]
async fn a_long_symbol_list_is_split_to_stay_under_the_url_limit() {
    let options = FakeOptions {
        max_uri_bytes: 2_000,
        ..FakeOptions::default()
    };
    let r = rig_with(900, options, SECRET_KEY, |c| {
        c.max_symbols_per_request = 5_000;
        c.max_url_bytes = 2_000;
    })
    .await;
    let (start, end) = (day("2025-06-02"), day("2025-06-13"));
    let got = r.client.bars(&r.symbols, start, end).await.unwrap();
    assert_eq!(got, r.fake.expected_bars(&r.symbols, start, end, "all"));
    let stats = r.fake.stats();
    assert!(stats.longest_uri <= 2_000, "{}", stats.longest_uri);
    assert!(stats.bars_requests >= 2);
}

#[tokio::test]
async fn a_429_is_waited_out_until_the_reset_and_nothing_is_lost() {
    // The client believes the limit is far higher than the server's 200 a minute.
    let r = rig(60, |c| {
        c.page_limit = 10;
        c.rate_limit_per_minute = 100_000;
        c.burst = 10_000;
    })
    .await;
    let (start, end) = (day("2025-01-02"), day("2025-06-13"));
    let before = r.clock.epoch_seconds();
    let got = r.client.bars(&r.symbols, start, end).await.unwrap();
    assert_eq!(got, r.fake.expected_bars(&r.symbols, start, end, "all"));
    let server = r.fake.stats();
    assert!(server.bars_requests > 400, "{}", server.bars_requests);
    // The server's headers announce the end of the window: the client stops at 0 remaining
    // and waits, so at most one 429 per window slips through, and each is waited out.
    assert_eq!(r.client.stats().rate_limited, server.rate_limited);
    let served = server.bars_requests - server.rate_limited;
    let windows = (r.clock.epoch_seconds() - before) / 60.0;
    assert!(
        windows >= (served as f64 / 200.0).floor(),
        "{windows} windows for {served}"
    );
}

#[tokio::test]
async fn without_rate_headers_429s_are_still_waited_out() {
    let options = FakeOptions {
        rate_headers: false,
        ..FakeOptions::default()
    };
    let r = rig_with(60, options, SECRET_KEY, |c| {
        c.page_limit = 10;
        c.rate_limit_per_minute = 100_000;
        c.burst = 10_000;
        c.max_rate_limited = 20;
    })
    .await;
    let (start, end) = (day("2025-01-02"), day("2025-06-13"));
    let got = r.client.bars(&r.symbols, start, end).await.unwrap();
    assert_eq!(got, r.fake.expected_bars(&r.symbols, start, end, "all"));
    assert!(r.fake.stats().rate_limited > 0);
    assert_eq!(r.client.stats().rate_limited, r.fake.stats().rate_limited);
}

#[tokio::test]
async fn at_the_known_limit_the_client_never_gets_a_429_with_or_without_headers() {
    for rate_headers in [true, false] {
        let options = FakeOptions {
            rate_headers,
            ..FakeOptions::default()
        };
        let r = rig_with(60, options, SECRET_KEY, |c| c.page_limit = 10).await;
        let (start, end) = (day("2025-01-02"), day("2025-06-13"));
        let got = r.client.bars(&r.symbols, start, end).await.unwrap();
        assert_eq!(got, r.fake.expected_bars(&r.symbols, start, end, "all"));
        let stats = r.fake.stats();
        assert!(stats.bars_requests > 400);
        assert_eq!(stats.rate_limited, 0, "headers: {rate_headers}");
        // ...and it is not much slower than the limit allows.
        let minutes = (r.clock.epoch_seconds() - EVENING as f64) / 60.0;
        let floor = (stats.requests as f64 - 200.0) / 200.0;
        assert!(
            minutes >= floor && minutes <= floor * 1.1 + 1.0,
            "{minutes} min for {}",
            stats.requests
        );
    }
}

#[tokio::test]
async fn each_fault_once_is_retried_and_the_answer_is_complete() {
    for fault in [
        Fault::Status(500),
        Fault::Status(503),
        Fault::Slow(Duration::from_millis(1_500)),
        Fault::Malformed,
        Fault::Truncated,
        Fault::Reset,
    ] {
        let r = rig(20, |c| {
            c.page_limit = 50;
            c.timeout = Duration::from_millis(400);
        })
        .await;
        r.fake.push_faults([fault.clone()]);
        let (start, end) = (day("2025-05-01"), day("2025-06-13"));
        let got = r.client.bars(&r.symbols, start, end).await;
        let got = got.unwrap_or_else(|e| panic!("{fault:?}: {e}"));
        assert_eq!(
            got,
            r.fake.expected_bars(&r.symbols, start, end, "all"),
            "{fault:?}"
        );
        assert_eq!(r.client.stats().retries, 1, "{fault:?}");
    }
}

#[tokio::test]
async fn each_fault_that_persists_is_classified_under_its_step_error_name() {
    let cases = [
        (Fault::Status(500), "MarketData.Unavailable", "HTTP 500"),
        (Fault::Status(503), "MarketData.Unavailable", "HTTP 503"),
        (
            Fault::Slow(Duration::from_millis(1_500)),
            "MarketData.Unavailable",
            "timed out",
        ),
        (
            Fault::Reset,
            "MarketData.Unavailable",
            "GET /v2/stocks/bars",
        ),
        (
            Fault::Malformed,
            "MarketData.BadResponse",
            "not the expected JSON",
        ),
        (
            Fault::Truncated,
            "MarketData.BadResponse",
            "not the expected JSON",
        ),
    ];
    for (fault, expected, mentions) in cases {
        let r = rig(10, |c| {
            c.timeout = Duration::from_millis(400);
            c.max_attempts = 3;
            c.circuit_threshold = 100;
        })
        .await;
        r.fake.set_always(Some(fault.clone()));
        let err = r
            .client
            .bars(&r.symbols, day("2025-05-01"), day("2025-06-13"))
            .await
            .unwrap_err();
        let text = err.to_string();
        assert_eq!(name(err), expected, "{fault:?}: {text}");
        assert!(text.contains(mentions), "{fault:?}: {text}");
        assert_eq!(r.fake.stats().bars_requests, 3, "{fault:?}: three tries");
    }
}

#[tokio::test]
async fn null_bars_and_symbols_missing_from_the_answer_are_no_data_not_errors() {
    let r = rig(250, |_| {}).await;
    let (start, end) = (day("2025-05-01"), day("2025-06-13"));
    r.fake.push_faults([Fault::NullBars]);
    let got = r.client.bars(&r.symbols[..5], start, end).await.unwrap();
    assert!(got.is_empty());
    // The generated market has symbols the server never returns bars for.
    let missing = r.fake_missing();
    assert!(!missing.is_empty());
    let got = r.client.bars(&r.symbols, start, end).await.unwrap();
    for symbol in &missing {
        assert!(!got.contains_key(symbol), "{symbol}");
    }
    assert_eq!(got.len() + missing.len(), r.symbols.len());
}

impl Rig {
    fn fake_missing(&self) -> Vec<Symbol> {
        FakeMarket::generate(self.symbols.len(), 7, day("2025-06-13")).symbols_without_bars()
    }
}

#[tokio::test]
async fn refused_credentials_fail_fast_naming_what_to_check_and_never_showing_the_secret() {
    let r = rig_with(10, FakeOptions::default(), "wrong-secret-value", |_| {}).await;
    let err = r.client.account().await.unwrap_err();
    let text = err.to_string();
    assert_eq!(name(err), "MarketData.Unauthorized");
    assert!(
        text.contains("HTTP 401") && text.contains("TEST_KEY_ID and TEST_SECRET"),
        "{text}"
    );
    assert!(
        !text.contains("wrong-secret-value") && !text.contains(KEY_ID),
        "{text}"
    );
    assert!(!format!("{:?}", r.client).contains("wrong-secret-value"));
    // Not retried, and every later call fails at once without a request.
    assert_eq!(r.fake.stats().requests, 1);
    let again = r
        .client
        .bars(&r.symbols, day("2025-06-02"), day("2025-06-13"))
        .await
        .unwrap_err();
    assert_eq!(name(again), "MarketData.Unauthorized");
    assert_eq!(r.fake.stats().requests, 1);
}

#[tokio::test]
async fn the_circuit_opens_after_consecutive_failures_and_later_calls_fail_fast_saying_why() {
    let r = rig(10, |c| {
        c.max_attempts = 2;
        c.circuit_threshold = 4;
    })
    .await;
    r.fake.set_always(Some(Fault::Status(503)));
    let (start, end) = (day("2025-06-02"), day("2025-06-13"));
    for _ in 0..2 {
        let err = r.client.bars(&r.symbols, start, end).await.unwrap_err();
        assert_eq!(name(err), "MarketData.Unavailable");
    }
    assert_eq!(r.fake.stats().bars_requests, 4);
    let err = r.client.bars(&r.symbols, start, end).await.unwrap_err();
    let text = err.to_string();
    assert_eq!(name(err), "MarketData.Unavailable");
    assert!(
        text.contains("circuit open")
            && text.contains("4 consecutive")
            && text.contains("HTTP 503"),
        "{text}"
    );
    assert_eq!(r.fake.stats().bars_requests, 4, "no request while open");
    assert_eq!(r.client.circuit_trips(), 1);
    // After the cool-down, a healthy API closes it again.
    r.fake.set_always(None);
    r.clock.advance(Duration::from_secs(61));
    assert!(r.client.bars(&r.symbols, start, end).await.is_ok());
}

#[tokio::test]
async fn a_key_pair_that_is_not_there_is_a_missing_secret_not_a_refusal() {
    let r = rig(10, |_| {}).await;
    let client = Alpaca::with_clock(
        r.client.config().clone(),
        CredentialSource {
            secrets: r.secrets.clone(),
            key_id_name: "no-such-parameter".into(),
            secret_key_name: "secret".into(),
            described_as: "TEST_KEY_ID and TEST_SECRET".into(),
        },
        r.clock.clone(),
    )
    .unwrap();
    let err = client.account().await.unwrap_err();
    assert!(matches!(err, MarketDataError::NotConfigured(_)), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("TEST_KEY_ID and TEST_SECRET"), "{text}");
    assert_eq!(name(err), "Config.MissingSecret");
    assert_eq!(r.fake.stats().requests, 0, "nothing to send without keys");
}

#[tokio::test]
async fn secrets_are_read_lazily_and_once() {
    let r = rig(10, |_| {}).await;
    assert_eq!(
        r.secrets.reads.load(Ordering::SeqCst),
        0,
        "nothing read at build time"
    );
    r.client.account().await.unwrap();
    r.client.positions().await.unwrap();
    r.client
        .calendar(day("2025-06-01"), day("2025-06-30"))
        .await
        .unwrap();
    assert_eq!(r.secrets.reads.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn the_trading_endpoints_and_the_filtered_universe() {
    let r = rig(30, |_| {}).await;
    let account = r.client.account().await.unwrap();
    assert_eq!(account.status, "ACTIVE");
    assert_eq!(r.client.positions().await.unwrap().len(), 2);
    let days = r
        .client
        .calendar(day("2025-06-16"), day("2025-06-22"))
        .await
        .unwrap();
    // Juneteenth (Thursday 19 June) is a holiday.
    let dates: Vec<String> = days.iter().map(|d| d.date.to_string()).collect();
    assert_eq!(
        dates,
        ["2025-06-16", "2025-06-17", "2025-06-18", "2025-06-20"]
    );
    let universe = r.client.universe().await.unwrap();
    assert_eq!(
        universe.len(),
        30,
        "OTC, inactive and untradable assets dropped"
    );
    assert!(universe.windows(2).all(|w| w[0].symbol < w[1].symbol));
    let source = r.client.source();
    assert_eq!(
        (
            source.kind.as_str(),
            source.feed.as_deref(),
            source.adjustment.as_str()
        ),
        ("alpaca", Some("sip"), "all")
    );
    assert!(!source.synthetic);
}

#[tokio::test]
async fn history_backfills_once_then_appends_a_day_in_one_request_and_refetches_after_a_split() {
    let r = rig(120, |_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(DirStore::new(dir.path()));
    let prefix = history_prefix(&r.client.source());
    let lookback = |end: NaiveDate| end - chrono::Duration::days(400);

    // Day 1: backfill.
    let end = day("2025-06-13");
    let first = history::fetch_incremental(
        store.clone(),
        &r.client,
        &prefix,
        &r.symbols,
        lookback(end),
        end,
    )
    .await
    .unwrap();
    assert_eq!(first.backfilled, 120);
    assert_eq!(
        first.bars,
        r.fake.expected_bars(&r.symbols, lookback(end), end, "all")
    );
    let backfill_requests = r.fake.stats().bars_requests;

    // Day 2: one more session, one request for all 120 symbols.
    let end = day("2025-06-16");
    r.fake.set_last_day(end);
    r.clock.advance(Duration::from_secs(3 * 86_400));
    let second = history::fetch_incremental(
        store.clone(),
        &r.client,
        &prefix,
        &r.symbols,
        lookback(end),
        end,
    )
    .await
    .unwrap();
    assert_eq!(r.fake.stats().bars_requests - backfill_requests, 1);
    // Symbols without bars were stored as empty histories: they are incremental too.
    assert_eq!(
        (second.incremental, second.backfilled, second.groups),
        (120, 0, 1)
    );
    assert_eq!(
        second.bars,
        r.fake.expected_bars(&r.symbols, lookback(end), end, "all")
    );
    assert!(second.refetched.is_empty());

    // Day 3: a 2-for-1 split in AAAD; its stored prices no longer match.
    let end = day("2025-06-17");
    r.fake.set_last_day(end);
    r.clock.advance(Duration::from_secs(86_400));
    r.fake.add_split("AAAD", end, 2.0);
    let third = history::fetch_incremental(
        store.clone(),
        &r.client,
        &prefix,
        &r.symbols,
        lookback(end),
        end,
    )
    .await
    .unwrap();
    assert_eq!(third.refetched.len(), 1);
    assert_eq!(third.refetched[0].symbol.as_str(), "AAAD");
    assert!(
        third.refetched[0].reason.contains("x0.5000"),
        "{}",
        third.refetched[0].reason
    );
    assert_eq!(
        third.bars,
        r.fake.expected_bars(&r.symbols, lookback(end), end, "all")
    );
    // And the stored history is now the adjusted one: a re-run serves it from the store.
    let before = r.fake.stats().bars_requests;
    let again = history::fetch_incremental(
        store.clone(),
        &r.client,
        &prefix,
        &r.symbols,
        lookback(end),
        end,
    )
    .await
    .unwrap();
    assert_eq!(again.from_store, 120);
    assert_eq!(r.fake.stats().bars_requests, before);
    assert_eq!(again.bars, third.bars);
}

/// reqwest is built with ring as its TLS provider (installed by the client, since reqwest has
/// no default one here): an `https://` Alpaca URL opens with a TLS ClientHello.
#[tokio::test]
async fn https_urls_are_spoken_to_in_tls() {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "https://127.0.0.1:{}",
        listener.local_addr().unwrap().port()
    );
    let first_bytes = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut head = [0u8; 6];
        socket.read_exact(&mut head).await.unwrap();
        head
    });
    let config = AlpacaConfig {
        data_url: url.clone(),
        trading_url: url,
        timeout: Duration::from_secs(5),
        max_attempts: 1,
        ..AlpacaConfig::default()
    };
    let secrets = Arc::new(StaticSecrets {
        key_id: KEY_ID.into(),
        secret_key: SECRET_KEY.into(),
        reads: AtomicU32::new(0),
    });
    let client = Alpaca::new(
        config,
        CredentialSource {
            secrets,
            key_id_name: "key".into(),
            secret_key_name: "secret".into(),
            described_as: "TEST_KEY_ID and TEST_SECRET".into(),
        },
    )
    .unwrap();
    let request = tokio::spawn(async move { client.account().await });
    let head = first_bytes.await.unwrap();
    // Record type 22 (handshake), TLS 1.x, then message type 1 (ClientHello).
    assert_eq!((head[0], head[1], head[5]), (0x16, 0x03, 0x01), "{head:?}");
    assert!(request.await.unwrap().is_err());
}

/// Bars as Alpaca sends them (`t` at New York midnight in UTC) on the sessions the NYSE held
/// from 2024-09-03 to 2025-01-31, written out here by hand: weekdays less Thanksgiving,
/// Christmas, New Year's Day, President Carter's day of mourning (2025-01-09) and Martin Luther
/// King Jr. Day. Validation finds no missing trading day in them, and a bar dated 2025-01-09
/// is noted as dated on a closed day.
#[test]
fn validation_knows_the_2025_01_09_closure_in_alpaca_shaped_bars() {
    use chrono::{Datelike, Weekday};
    use screener_alpaca::model::BarsPage;
    use screener_core::calendar::Sessions;
    use screener_core::validation::{ValidationRules, validate_symbol};

    let closed: Vec<NaiveDate> = [
        "2024-11-28",
        "2024-12-25",
        "2025-01-01",
        "2025-01-09",
        "2025-01-20",
    ]
    .iter()
    .map(|d| d.parse().unwrap())
    .collect();
    let first: NaiveDate = "2024-09-03".parse().unwrap();
    let last: NaiveDate = "2025-01-31".parse().unwrap();
    let sessions: Vec<NaiveDate> = first
        .iter_days()
        .take_while(|d| *d <= last)
        .filter(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) && !closed.contains(d))
        .collect();
    let page = |days: &[NaiveDate]| {
        let bars: Vec<serde_json::Value> = days
            .iter()
            .enumerate()
            .map(|(i, d)| {
                // New York midnight: 04:00Z in daylight time, 05:00Z in standard time.
                let hour = if *d < "2024-11-03".parse::<NaiveDate>().unwrap() {
                    4
                } else {
                    5
                };
                let close = 580.0 + (i as f64 * 0.7).sin() * 6.0;
                serde_json::json!({
                    "t": format!("{d}T{hour:02}:00:00Z"),
                    "o": close - 1.0, "h": close + 2.0, "l": close - 3.0, "c": close,
                    "v": 45_000_000.0 + i as f64, "n": 500_000, "vw": close - 0.5
                })
            })
            .collect();
        let body = serde_json::json!({"bars": {"SPY": bars}, "next_page_token": null});
        let page: BarsPage = serde_json::from_value(body).unwrap();
        let bars: Vec<screener_core::Bar> = page.bars.unwrap()["SPY"]
            .as_ref()
            .unwrap()
            .iter()
            .map(|b| b.to_bar())
            .collect();
        assert_eq!(bars.iter().map(|b| b.date).collect::<Vec<_>>(), days);
        bars
    };
    let symbol = Symbol::parse("SPY").unwrap();
    let rules = ValidationRules::default();
    let (report, kept) = validate_symbol(&symbol, page(&sessions), last, &Sessions::nyse(), &rules);
    let codes: Vec<&str> = report.findings.iter().map(|f| f.code.as_str()).collect();
    assert!(codes.is_empty(), "{:?}", report.findings);
    assert_eq!(kept.unwrap().len(), sessions.len());

    // A bar on the day of mourning is a bar on a closed day.
    let mut with_closed_day = sessions.clone();
    with_closed_day.push("2025-01-09".parse().unwrap());
    with_closed_day.sort();
    let (report, _) = validate_symbol(
        &symbol,
        page(&with_closed_day),
        last,
        &Sessions::nyse(),
        &rules,
    );
    assert!(
        report.findings.iter().any(|f| f.code == "non_trading_day"),
        "{:?}",
        report.findings
    );
}
