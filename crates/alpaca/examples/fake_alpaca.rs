//! The loopback Alpaca server as a process, to try `screener run --source alpaca` without an
//! account. Prints the URL, serves for at most `FAKE_ALPACA_SECONDS` (default 600), then exits.
//!
//! ```sh
//! cargo run -p screener-alpaca --features testing --example fake_alpaca -- 300 2025-06-13 &
//! export ALPACA_DATA_URL=http://127.0.0.1:PORT ALPACA_TRADING_URL=http://127.0.0.1:PORT
//! export ALPACA_API_KEY_ID=PKTEST0000000000 ALPACA_API_SECRET_KEY=test-secret-never-logged
//! screener run --date 2025-06-13
//! ```

use std::sync::Arc;
use std::time::Duration;

use screener_alpaca::clock::SystemClock;
use screener_alpaca::testing::{FakeAlpaca, FakeMarket, FakeOptions, KEY_ID, SECRET_KEY};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let symbols: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(300);
    let last_day = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| chrono::Utc::now().date_naive());
    let seconds: u64 = std::env::var("FAKE_ALPACA_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    let fake = FakeAlpaca::start(
        FakeMarket::generate(symbols, 1, last_day),
        FakeOptions::default(),
        Arc::new(SystemClock),
    )
    .await;
    println!("{}", fake.url());
    eprintln!(
        "fake Alpaca: {symbols} symbols up to {last_day}, keys {KEY_ID} / {SECRET_KEY}, stops in {seconds} s"
    );
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    eprintln!("fake Alpaca: {:?}", fake.stats());
}
