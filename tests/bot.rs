//! What a run publishes for people, on real workflow runs: `report.html` rendered by headless
//! Chromium (tables and charts present after its script ran, and a screenshot), the business
//! metrics, Telegram alerts after publish (once per date, never failing the run), and the bot
//! answering from the real `results.csv`.

use crate::support::run_succeeding;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::NaiveDate;
use screener_core::Deps;
use screener_core::config::{BotSettings, Config};
use screener_core::local::{
    DirStore, EnvSecrets, FakeBrokerage, MarketBars, MemoryMetrics, MemoryNotifier,
    RerunNotConfigured,
};
use screener_core::ports::{SecretString, Secrets, SecretsError};
use screener_core::results::ResultsTable;
use screener_core::synthetic::SyntheticMarket;
use screener_core::workflow::{LatestPointer, Manifest, keys};
use screener_telegram::TelegramNotifier;
use screener_telegram::{alerts, subscriptions};
use screener_test_support::LoopbackServer;
use screener_test_support::chromium::{self, Chromium};
use screener_test_support::loopback::{self, StatusCode};
use serde_json::{Value, json};

fn date(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, d).unwrap()
}

/// A month before [`date`]`(13)`: far enough for screens to change on the synthetic market.
fn month_before() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 5, 13).unwrap()
}

fn deps(dir: &Path) -> (Deps, Arc<MemoryMetrics>) {
    let vars: HashMap<String, String> = [("SCREENER_BATCH_SIZE", "25")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut settings = Config::from_vars(&vars).unwrap().settings;
    settings.environment = "test".into();
    let metrics = Arc::new(MemoryMetrics::default());
    let market = Arc::new(SyntheticMarket::new(42, 120).unwrap());
    let deps = Deps {
        store: Arc::new(DirStore::new(dir)),
        bars: Arc::new(MarketBars(market.clone())),
        market,
        metrics: metrics.clone(),
        secrets: Arc::new(EnvSecrets::new(BTreeMap::new())),
        notifier: Arc::new(MemoryNotifier::default()),
        settings,
    };
    (deps, metrics)
}

async fn manifest(deps: &Deps, day: NaiveDate) -> Manifest {
    serde_json::from_slice(
        &deps
            .store
            .get(&keys::results_file(day, "manifest.json"))
            .await
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn the_report_renders_in_headless_chromium_with_its_tables_and_charts() {
    let dir = tempfile::tempdir().unwrap();
    let (deps, _) = deps(dir.path());
    run_succeeding(&deps, date(13), "report-run").await;
    let m = manifest(&deps, date(13)).await;
    assert!(
        m.files.contains(&"report.html".to_string()),
        "{:?}",
        m.files
    );
    let path = dir.path().join(keys::results_file(date(13), "report.html"));
    let html = std::fs::read_to_string(&path).unwrap();

    // Self-contained: nothing is fetched from anywhere.
    for external in [
        "src=\"http",
        "href=\"http",
        "url(",
        "@import",
        "<link",
        "<img",
    ] {
        assert!(!html.contains(external), "{external} in report.html");
    }
    let screens_with_rows = m.screens.iter().filter(|s| s.count > 0).count();
    let charts_in_file = html.matches("<svg class=\"chart\"").count();
    assert!(screens_with_rows > 0 && charts_in_file > 0);
    for s in &m.screens {
        assert!(
            html.contains(&format!("id=\"screen-{}\"", s.name)),
            "{}",
            s.name
        );
    }
    assert!(html.contains("Run health") && html.contains("id=\"durations\""));
    // Charts are drawn from history: a charted symbol's path has one point per session.
    let first_chart = &html[html.find("class=\"close\" d=\"").unwrap()..];
    let points = first_chart[..first_chart.find("\"/>").unwrap()]
        .matches(" L")
        .count();
    assert!(points > 200, "{points} points in the first chart");
    // Every chart title's close and 52-week high are the run's own metrics for that symbol
    // (`close`, `high_52w` in results.csv): one 52-week high, whichever part of the page.
    let results =
        std::fs::read_to_string(dir.path().join(keys::results_file(date(13), "results.csv")))
            .unwrap();
    let mut rows = results.lines();
    let header: Vec<&str> = rows.next().unwrap().split(',').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (symbol_at, close_at, high_at) = (column("symbol"), column("close"), column("high_52w"));
    let metrics: std::collections::HashMap<&str, (f64, f64)> = rows
        .map(|line| line.split(',').collect::<Vec<_>>())
        .filter(|cells| !cells[high_at].is_empty())
        .map(|cells| {
            let number = |i: usize| cells[i].parse::<f64>().unwrap();
            (cells[symbol_at], (number(close_at), number(high_at)))
        })
        .collect();
    let mut titles_checked = 0;
    for title in html.split("class=\"title\">").skip(1) {
        let title = &title[..title.find("</text>").unwrap()];
        let parts: Vec<&str> = title.split(" · ").collect();
        let Some(high) = parts.iter().find_map(|p| p.strip_prefix("52w high ")) else {
            continue;
        };
        let (close, high_52w) = metrics[parts[0]];
        assert_eq!(parts[1], format!("close {close:.2}"), "{title}");
        assert_eq!(
            high,
            format!("{high_52w:.2}"),
            "{title}: results.csv high_52w"
        );
        titles_checked += 1;
    }
    assert!(titles_checked > 0, "no chart title with a 52w high");

    let Some(browser) = Chromium::find() else {
        println!(
            "SKIPPED the headless-Chromium half of this test: {}. The report's static checks above ran.",
            chromium::SKIPPED
        );
        return;
    };
    let dom = browser.dump_dom(&path);
    // The script ran: it marks each sortable table ready and counts the charts on <body>.
    let sortable = dom.matches("class=\"sortable").count();
    assert!(sortable >= screens_with_rows);
    assert_eq!(
        dom.matches("data-sortable=\"ready\"").count(),
        sortable,
        "every sortable table was wired by the script"
    );
    assert!(
        dom.contains(&format!("data-charts=\"{charts_in_file}\"")),
        "the browser found {charts_in_file} charts"
    );
    assert!(dom.contains(&format!("data-tables=\"{sortable}\"")));
    for s in m.screens.iter().filter(|s| s.count > 0) {
        assert!(dom.contains(&format!("id=\"table-{}\"", s.name)));
    }
    let shot = dir.path().join("report.png");
    let png = browser.screenshot(&path, &shot, (1280, 2000));
    assert!(
        png.len() > 20_000,
        "a blank page would be tiny: {} bytes",
        png.len()
    );
    if let Ok(keep) = std::env::var("SCREENER_REPORT_SCREENSHOT") {
        std::fs::copy(&shot, &keep).unwrap();
        println!("screenshot kept at {keep}");
    }
}

#[tokio::test]
async fn publish_sends_the_business_metrics_in_one_call() {
    let dir = tempfile::tempdir().unwrap();
    let (deps, metrics) = deps(dir.path());
    run_succeeding(&deps, date(13), "metrics-run").await;
    let m = manifest(&deps, date(13)).await;
    let recorded = metrics.recorded();
    let names: BTreeSet<&str> = recorded.iter().map(|d| d.name.as_str()).collect();
    for wanted in [
        "WorstDrawdown",
        "SymbolsScreened",
        "SymbolsRejected",
        "SymbolsFailed",
        "Candidates",
        "RunDuration",
    ] {
        assert!(names.contains(wanted), "{wanted} missing from {names:?}");
    }
    let per_screen: BTreeSet<String> = recorded
        .iter()
        .filter(|d| d.name == "Candidates")
        .flat_map(|d| d.dimensions.iter())
        .filter(|(k, _)| k == "Screen")
        .map(|(_, v)| v.clone())
        .collect();
    let screens: BTreeSet<String> = m.screens.iter().map(|s| s.name.clone()).collect();
    assert_eq!(per_screen, screens);
    let screened = recorded
        .iter()
        .find(|d| d.name == "SymbolsScreened")
        .unwrap();
    assert_eq!(screened.value, f64::from(m.counts.screened));
    // CloudWatch takes up to 1000 data per PutMetricData call: one call carries them all.
    assert!(recorded.len() <= 1000);
}

/// A loopback Bot API that answers every request `{"ok":true}` and records the bodies.
fn fake_telegram() -> (LoopbackServer, Arc<Mutex<Vec<Value>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = received.clone();
    let server = LoopbackServer::start(move |request| {
        if let Ok(body) = serde_json::from_slice(request.body()) {
            log.lock().unwrap().push(body);
        }
        async {
            loopback::json(
                StatusCode::OK,
                &json!({"ok": true, "result": {"message_id": 1}}),
            )
        }
    });
    (server, received)
}

/// `deps` with publish's notifier on the Bot API at `url` (the bot token from [`TestSecrets`]).
fn telegram_at(deps: &Deps, url: &str) -> Deps {
    let token = BotSettings::default().params.bot_token;
    Deps {
        notifier: Arc::new(TelegramNotifier::new(url, Arc::new(TestSecrets), &token)),
        ..deps.clone()
    }
}

#[tokio::test]
async fn subscribers_are_alerted_after_publish_once_per_date_and_a_failed_alert_fails_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (deps, _) = deps(dir.path());
    let (telegram, received) = fake_telegram();
    let url = telegram.url();
    let deps = telegram_at(&deps, &url);
    run_succeeding(&deps, month_before(), "alerts-day-1").await;
    let store = deps.store.as_ref();
    for screen in [
        "deepest_drawdown",
        "golden_cross_trend",
        "new_high_heavy_volume",
    ] {
        subscriptions::add(store, 77, screen).await.unwrap();
    }
    assert!(received.lock().unwrap().is_empty());

    run_succeeding(&deps, date(13), "alerts-day-2").await;

    // What changed between the two results files...
    let table = |d: NaiveDate| async move {
        ResultsTable::parse(
            &store
                .get(&keys::results_file(d, "results.csv"))
                .await
                .unwrap(),
        )
        .unwrap()
    };
    let (before, now) = (table(month_before()).await, table(date(13)).await);
    let m = manifest(&deps, date(13)).await;
    let changes = alerts::diff_screens(&m, &now, Some(&before));
    let changed: Vec<_> = changes
        .iter()
        .filter(|c| c.screen != "oversold_uptrend")
        .filter(|c| !c.entered.is_empty() || !c.left.is_empty())
        .collect();
    assert!(
        !changed.is_empty(),
        "the synthetic market should move in a month"
    );

    // ...is what the subscriber was told.
    let sent = received.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["chat_id"], 77);
    assert_eq!(sent[0]["parse_mode"], "HTML");
    let text = sent[0]["text"].as_str().unwrap();
    assert!(text.contains("Screen changes 2025-06-13"), "{text}");
    assert!(text.contains("since 2025-05-13"), "{text}");
    for change in changed {
        assert!(
            text.contains(&format!("<b>{}</b>", change.screen)),
            "{text}"
        );
        for s in change.entered.iter().chain(&change.left).take(20) {
            assert!(
                text.contains(s.as_str()),
                "{s} changed but is not in: {text}"
            );
        }
    }

    // A re-run of the same date publishes again but alerts no one twice.
    run_succeeding(&deps, date(13), "alerts-day-2-rerun").await;
    assert_eq!(received.lock().unwrap().len(), 1);

    // Telegram unreachable: the run still succeeds and latest.json still moves.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    run_succeeding(&telegram_at(&deps, &dead_url), date(16), "alerts-day-3").await;
    let latest: LatestPointer =
        serde_json::from_slice(&store.get(keys::LATEST).await.unwrap()).unwrap();
    assert_eq!(latest.date, date(16));
}

struct TestSecrets;

#[async_trait]
impl Secrets for TestSecrets {
    async fn get(&self, name: &str) -> Result<SecretString, SecretsError> {
        match name.rsplit('/').next() {
            Some("secret_token") => Ok(SecretString::new("s3cret")),
            Some("bot_token") => Ok(SecretString::new("42:integration-test")),
            Some("allowed_chat_ids") => Ok(SecretString::new("5")),
            _ => Err(SecretsError::Missing {
                name: name.into(),
                hint: "test".into(),
            }),
        }
    }
}

#[tokio::test]
async fn the_bot_answers_from_a_real_run() {
    let dir = tempfile::tempdir().unwrap();
    let (deps, _) = deps(dir.path());
    run_succeeding(&deps, date(13), "bot-run").await;
    let m = manifest(&deps, date(13)).await;
    let bot_deps = bot::BotDeps::new(
        deps.store.clone(),
        Arc::new(TestSecrets),
        deps.notifier.clone(),
        Arc::new(FakeBrokerage::demo()),
        Arc::new(RerunNotConfigured("test".into())),
        BotSettings::default(),
    );
    let ask = |id: i64, text: &str| {
        let body = json!({"update_id": id, "message": {"message_id": id, "chat": {"id": 5, "type": "private"}, "text": text}});
        bot::UpdateRequest {
            secret_token: Some("s3cret".into()),
            body: serde_json::to_vec(&body).unwrap(),
            origin: None,
        }
    };
    let worst = m.worst_drawdown.as_ref().unwrap();
    let reply = bot::handle(ask(1, &format!("/symbol {}", worst.symbol)), &bot_deps)
        .await
        .reply()
        .unwrap()
        .text;
    assert!(
        reply.contains(&format!("<b>{}</b>", worst.symbol)),
        "{reply}"
    );
    assert!(reply.contains("Drawdown rank: 1 of"), "{reply}");
    assert!(
        reply.contains(&format!("{:+.1}%", worst.drawdown_180d * 100.0)),
        "{reply}"
    );
    let reply = bot::handle(ask(2, "/screens"), &bot_deps)
        .await
        .reply()
        .unwrap()
        .text;
    for s in &m.screens {
        assert!(
            reply.contains(&format!("<b>{}</b>: {} passing", s.name, s.count)),
            "{reply}"
        );
    }
    let reply = bot::handle(ask(3, "/status"), &bot_deps)
        .await
        .reply()
        .unwrap()
        .text;
    assert!(
        reply.contains(&format!("{} screened", m.counts.screened)),
        "{reply}"
    );
}

/// `/backtest` through the real `screener bot serve`: the local backtest workflow runs in the
/// background on the bot's store, and its last step tells the chat, through the Telegram Bot
/// API at `TELEGRAM_API_URL`, the ranking and the report (or, for a period without bars, the
/// error the state machine caught); `/status` follows it.
#[test]
fn the_local_bot_runs_a_backtest_and_tells_the_chat_when_it_ends() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    const CHAT: i64 = 4242;
    const SECRET: &str = "bot-e2e-secret";
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir_all(store.join("uploads")).unwrap();
    crate::analytics_cli::write_bars_csv(&store.join("uploads/bars.csv"), 30, 500);
    let (telegram, received) = fake_telegram();

    let mut child = Command::new(env!("CARGO_BIN_EXE_screener"))
        .args(["bot", "serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&store)
        .env_remove("SCREENER_STORE")
        .env_remove("SCREENER_SCREENS_FILE")
        .env_remove("SCREENER_BACKTEST_BARS")
        .env("TELEGRAM_SECRET_TOKEN", SECRET)
        .env("TELEGRAM_ALLOWED_CHAT_IDS", CHAT.to_string())
        .env("TELEGRAM_BOT_TOKEN", "1:e2e")
        .env("TELEGRAM_API_URL", telegram.url())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let _running = crate::dashboard::Running(child);
    let mut lines = BufReader::new(stderr).lines();
    let addr: std::net::SocketAddr = loop {
        let line = lines.next().expect("screener bot serve ended").unwrap();
        if let Some(rest) = line.strip_prefix("screener bot: POST http://") {
            break rest.split('/').next().unwrap().parse().unwrap();
        }
    };
    // Keep draining the server's log so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});

    let mut update_id = 0;
    let mut say = |text: &str| -> String {
        update_id += 1;
        let update = json!({
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": 1_750_000_000,
                "chat": {"id": CHAT, "type": "private"},
                "from": {"id": CHAT, "is_bot": false, "first_name": "Test"},
                "text": text,
            }
        });
        let (status, _, body) = crate::dashboard::http(
            addr,
            "POST",
            "/webhook",
            &[
                ("content-type", "application/json"),
                ("x-telegram-bot-api-secret-token", SECRET),
            ],
            &serde_json::to_vec(&update).unwrap(),
        );
        assert_eq!(status, 200, "{text}");
        let reply: Value = serde_json::from_slice(&body).unwrap();
        reply["text"].as_str().unwrap_or_default().to_string()
    };
    // The first message sent through the Bot API (not a webhook reply) containing `needle`.
    let wait_for = |needle: &str| -> String {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let found = received.lock().unwrap().iter().find_map(|m| {
                let text = m["text"].as_str()?;
                (m["chat_id"] == CHAT && text.contains(needle)).then(|| text.to_string())
            });
            if let Some(text) = found {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "no message with {needle:?}: {:?}",
                received.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };

    let started = say("/backtest deepest_drawdown 1 2024-11-29");
    assert!(started.starts_with("Started a backtest of <b>deepest_drawdown</b> from 2023-11-29 to 2024-11-29 on <code>uploads/bars.csv</code>"), "{started}");
    let finished = wait_for("finished</b>");
    assert!(
        finished.starts_with("<b>Backtest bot-4242-deepest_drawdown-"),
        "{finished}"
    );
    assert!(
        finished.contains("<pre>1 variants ranked by sharpe; 0 of 1 items failed\n\nrank"),
        "{finished}"
    );
    assert!(
        finished.contains("  #1  v001     deepest_drawdown  every=5 cost=10"),
        "{finished}"
    );
    let report = finished
        .split("Report: <code>")
        .nth(1)
        .and_then(|rest| rest.split("</code>").next())
        .unwrap_or_else(|| panic!("no report path in {finished}"));
    assert!(Path::new(report).is_file(), "{report}");
    assert!(report.ends_with("report.html"), "{report}");
    // The local run is followed until the end.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = say("/status");
        if status.contains("finished; the report is") {
            break;
        }
        assert!(Instant::now() < deadline, "{status}");
        std::thread::sleep(Duration::from_millis(100));
    }

    // No bar in the period: every item fails, the Map fails, and the chat hears why.
    let started = say("/backtest deepest_drawdown 1 2020-06-30");
    assert!(started.starts_with("Started"), "{started}");
    let failed = wait_for("failed</b>");
    assert!(
        failed.contains("States.ExceedToleratedFailureThreshold"),
        "{failed}"
    );
}
