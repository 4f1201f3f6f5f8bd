//! `/portfolio`, `/account` and `/monitor` against Alpaca, over real HTTP at both ends: the
//! webhook served by `bot::server`, its brokerage an [`AlpacaBrokerage`] whose client talks to
//! the loopback Alpaca server (`screener_alpaca::testing`) on 127.0.0.1.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use common::*;
use screener_alpaca::brokerage::AlpacaBrokerage;
use screener_alpaca::clock::SystemClock;
use screener_alpaca::testing::{FakeAlpaca, FakeMarket, FakeOptions, KEY_ID, SECRET_KEY};
use screener_alpaca::{Alpaca, AlpacaConfig, CredentialSource};
use screener_core::ports::Brokerage;

const HOW_TO_CONFIGURE: &str = "create the test key pair";

async fn fake_alpaca() -> FakeAlpaca {
    let market = FakeMarket::generate(5, 7, NaiveDate::from_ymd_opt(2025, 6, 13).unwrap());
    FakeAlpaca::start(market, FakeOptions::default(), Arc::new(SystemClock)).await
}

/// The adapter over a client for `url`, with `pair` (key id, secret key) in its secrets
/// (none: the key pair is not configured).
fn brokerage(url: &str, pair: Option<(&str, &str)>) -> Arc<AlpacaBrokerage> {
    let config = AlpacaConfig {
        data_url: url.into(),
        trading_url: url.into(),
        timeout: Duration::from_secs(5),
        max_attempts: 2,
        backoff: Duration::from_millis(10),
        ..AlpacaConfig::default()
    };
    let secrets = MapSecrets::default();
    if let Some((key_id, secret_key)) = pair {
        secrets.set(&config.key_id_parameter, key_id);
        secrets.set(&config.secret_key_parameter, secret_key);
    }
    let credentials = CredentialSource {
        secrets: Arc::new(secrets),
        key_id_name: config.key_id_parameter.clone(),
        secret_key_name: config.secret_key_parameter.clone(),
        described_as: "the test's key pair".into(),
    };
    let client = Alpaca::new(config, credentials).unwrap();
    Arc::new(AlpacaBrokerage::new(client, HOW_TO_CONFIGURE))
}

async fn bot_with(brokerage: Arc<AlpacaBrokerage>) -> World {
    World::new(Options {
        symbols: 20,
        brokerage: Some(brokerage as Arc<dyn Brokerage>),
        ..Options::default()
    })
    .await
}

#[tokio::test]
async fn portfolio_account_and_monitor_show_the_alpaca_account() {
    let alpaca = fake_alpaca().await;
    let world = bot_with(brokerage(&alpaca.url(), Some((KEY_ID, SECRET_KEY)))).await;

    let reply = world.say(ALLOWED, "/portfolio").await;
    assert_valid_html(&reply);
    // Largest position first: AAA (10 at $110.00), then AAAB (5 at $18.00).
    let aaa = reply.find("\nAAA ").expect(&reply);
    let aaab = reply.find("\nAAAB ").expect(&reply);
    assert!(aaa < aaab, "{reply}");
    assert!(
        reply.contains("<b>Positions</b> (2)")
            && reply.contains("110.00")
            && reply.contains("$1,100.00")
            && reply.contains("-10.0%"),
        "{reply}"
    );
    assert!(
        reply.contains("Total $1,190.00, unrealised P/L $85.00"),
        "{reply}"
    );

    let reply = world.say(ALLOWED, "/account").await;
    assert_valid_html(&reply);
    for line in [
        "<b>Account</b> (paper · USD)",
        "Equity: $112,345.67",
        // 112,345.67 against last_equity 110,000.00.
        "Today: $2,345.67 (+2.1%)",
        "Cash: $100,000.00",
        "Buying power: $200,000.00",
        "Status: ACTIVE",
    ] {
        assert!(reply.contains(line), "{line:?} missing from {reply}");
    }

    let reply = world.say(ALLOWED, "/monitor").await;
    assert_valid_html(&reply);
    // (+9.45% - 10%) / 2.
    assert!(
        reply.contains("top 2 positions") && reply.contains("Average -0.3% vs target +100.0%"),
        "{reply}"
    );
    assert!(reply.contains("not reached"), "{reply}");

    let stats = alpaca.stats();
    assert_eq!((stats.requests, stats.unauthorized), (3, 0));
}

#[tokio::test]
async fn a_refused_key_pair_is_a_friendly_reply_and_the_webhook_still_answers_200() {
    let alpaca = fake_alpaca().await;
    let adapter = brokerage(&alpaca.url(), Some((KEY_ID, "wrong-secret-value")));
    let world = bot_with(adapter.clone()).await;
    for command in ["/portfolio", "/account", "/monitor"] {
        // `say` asserts the 200.
        let reply = world.say(ALLOWED, command).await;
        assert_eq!(
            reply, "The brokerage refused the bot's credentials; the operator needs to check them.",
            "{command}"
        );
    }
    // Alpaca was asked once: a refused key pair is not retried, and later calls fail at once.
    assert_eq!(alpaca.stats().unauthorized, 1);
    for (what, text) in [
        (
            "the error",
            adapter.positions().await.unwrap_err().to_string(),
        ),
        ("Debug", format!("{adapter:?}")),
    ] {
        assert!(
            !text.contains("wrong-secret-value") && !text.contains(KEY_ID),
            "{what} shows the key pair: {text}"
        );
    }
}

#[tokio::test]
async fn an_unreachable_alpaca_is_a_friendly_reply() {
    // A port nothing listens on any more.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let world = bot_with(brokerage(&url, Some((KEY_ID, SECRET_KEY)))).await;
    for command in ["/portfolio", "/account", "/monitor"] {
        let reply = world.say(ALLOWED, command).await;
        assert_eq!(
            reply,
            "Sorry, I can't reach the brokerage right now. Please try again in a few minutes.",
            "{command}"
        );
    }
}

#[tokio::test]
async fn an_alpaca_that_never_answers_is_given_up_on_at_the_deadline() {
    // Accepts connections and never answers (the client's own timeout is 5 s).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            open.push(stream);
        }
    });
    let adapter = Arc::into_inner(brokerage(&url, Some((KEY_ID, SECRET_KEY))))
        .unwrap()
        .with_deadline(Duration::from_millis(300));
    let world = bot_with(Arc::new(adapter)).await;
    let started = std::time::Instant::now();
    let reply = world.say(ALLOWED, "/portfolio").await;
    assert!(
        reply.starts_with("Sorry, I can't reach the brokerage"),
        "{reply}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    held.abort();
}

#[tokio::test]
async fn a_missing_key_pair_says_how_to_configure_one_without_calling_alpaca() {
    let alpaca = fake_alpaca().await;
    let world = bot_with(brokerage(&alpaca.url(), None)).await;
    let reply = world.say(ALLOWED, "/account").await;
    assert_eq!(
        reply,
        format!("No brokerage account is connected: {HOW_TO_CONFIGURE}.")
    );
    assert_eq!(alpaca.stats().requests, 0);
}
