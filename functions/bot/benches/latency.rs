//! Bot latency for `/screen` and `/symbol` over a 10,000-symbol result set: in-process
//! (`bot::handle`) and over loopback HTTP (`bot::server`, as `screener bot serve` runs it).
//! Not a timed test: it prints p50/p99/max per case. Target: p99 under 20 ms warm.
//!
//!     cargo bench -p bot --bench latency            # SCREENER_BENCH_REQUESTS=N to change N

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bot::BotDeps;
use chrono::Utc;
use screener_core::config::BotSettings;
use screener_core::local::{DirStore, FakeBrokerage, MemoryNotifier, RerunNotConfigured};
use screener_core::ports::{SecretString, Secrets, SecretsError};

const SYMBOLS: usize = 10_000;
const SECRET: &str = "bench-secret";
const CHAT: i64 = 7;

struct BenchSecrets;

#[async_trait]
impl Secrets for BenchSecrets {
    async fn get(&self, name: &str) -> Result<SecretString, SecretsError> {
        match name.rsplit('/').next() {
            Some("secret_token") => Ok(SecretString::new(SECRET)),
            Some("allowed_chat_ids") => Ok(SecretString::new(CHAT.to_string())),
            _ => Err(SecretsError::Missing {
                name: name.into(),
                hint: "bench".into(),
            }),
        }
    }
}

fn update(id: i64, text: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "update_id": id,
        "message": {"message_id": id, "date": 0, "chat": {"id": CHAT, "type": "private"}, "text": text}
    }))
    .unwrap()
}

fn summary(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let q = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name:<34} n={:<5} p50 {:>7.3} ms   p99 {:>7.3} ms   max {:>7.3} ms",
        samples.len(),
        ms(q(0.5)),
        ms(q(0.99)),
        ms(*samples.last().unwrap())
    );
}

/// The commands of one case: `/screen` (default screen, 10 rows), or `/symbol` over symbols
/// spread through the set.
fn command(case: &str, i: usize) -> String {
    match case {
        "/screen" => "/screen".into(),
        "/screen 50" => "/screen golden_cross_trend 50".into(),
        _ => format!("/symbol {}", bot::fixtures::symbol((i * 7919) % SYMBOLS)),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("SCREENER_BENCH_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(DirStore::new(dir.path()));
    let date = screener_core::calendar::last_trading_day_on_or_before(
        Utc::now().date_naive() - chrono::Duration::days(1),
    );
    bot::fixtures::publish_run(store.as_ref(), SYMBOLS, date, 1, Utc::now())
        .await
        .unwrap();
    let csv_bytes = std::fs::metadata(dir.path().join(format!("results/date={date}/results.csv")))
        .unwrap()
        .len();
    println!(
        "bot latency over {SYMBOLS} symbols (results.csv {:.1} MB), {n} requests per case",
        csv_bytes as f64 / 1e6
    );

    for (label, ttl) in [
        (
            "warm, latest.json checked every 30 s",
            Duration::from_secs(30),
        ),
        ("latest.json re-read on every request", Duration::ZERO),
    ] {
        println!("\n[{label}]");
        let settings = BotSettings {
            results_check_interval: ttl,
            ..BotSettings::default()
        };
        let deps = Arc::new(BotDeps::new(
            store.clone(),
            Arc::new(BenchSecrets),
            Arc::new(MemoryNotifier::default()),
            Arc::new(FakeBrokerage::demo()),
            Arc::new(RerunNotConfigured("bench".into())),
            settings,
        ));
        // Cold: the first request loads and indexes results.csv.
        let started = Instant::now();
        let response = bot::handle(
            bot::UpdateRequest {
                secret_token: Some(SECRET.into()),
                body: update(1, "/screen"),
                origin: None,
            },
            &deps,
        )
        .await;
        assert_eq!(response.status, 200);
        assert!(response.body.contains("deepest_drawdown"));
        println!(
            "{:<34} {:>7.3} ms (loads and indexes results.csv)",
            "cold first request",
            started.elapsed().as_secs_f64() * 1000.0
        );
        let mut id = 10i64;
        for case in ["/screen", "/screen 50", "/symbol"] {
            let mut samples = Vec::with_capacity(n);
            for i in 0..n {
                id += 1;
                let request = bot::UpdateRequest {
                    secret_token: Some(SECRET.into()),
                    body: update(id, &command(case, i)),
                    origin: None,
                };
                let t = Instant::now();
                let response = bot::handle(request, &deps).await;
                samples.push(t.elapsed());
                assert!(response.body.contains("sendMessage"), "{}", response.body);
            }
            summary(&format!("in-process {case}"), samples);
        }

        let (addr, _server) = bot::server::spawn("127.0.0.1:0".parse().unwrap(), deps.clone())
            .await
            .unwrap();
        let url = format!("http://{addr}/webhook");
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::new();
        for case in ["/screen", "/screen 50", "/symbol"] {
            let mut samples = Vec::with_capacity(n);
            for i in 0..n {
                id += 1;
                let body = update(id, &command(case, i));
                let t = Instant::now();
                let response = client
                    .post(&url)
                    .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                let status = response.status();
                let text = response.text().await.unwrap();
                samples.push(t.elapsed());
                assert!(
                    status.is_success() && text.contains("sendMessage"),
                    "{text}"
                );
            }
            summary(&format!("loopback HTTP {case}"), samples);
        }
    }
}
