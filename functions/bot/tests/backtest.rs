//! `/backtest` over real HTTP: the request the bot hands the backtest workflow, its refusals
//! (no screen, an unknown one, bad years or dates, nothing uploaded, one already running) and
//! the chat's backtest in `/status`. The workflow is scripted here; `tests/bot.rs` runs the
//! real one through `screener bot serve`.

mod common;

use std::sync::Arc;

use chrono::{Months, Utc};
use common::*;
use screener_core::backtest::{SweepRequest, keys, sweep_id};
use screener_core::ports::{BacktestState, Store};

async fn world_with(backtests: Arc<ScriptedBacktests>) -> World {
    World::new(Options {
        backtests: Some(backtests),
        ..Options::default()
    })
    .await
}

async fn upload(world: &World, key: &str) {
    world
        .store
        .put(
            key,
            b"symbol,date,open,high,low,close,volume\n".to_vec(),
            "text/csv",
        )
        .await
        .unwrap();
}

fn started(backtests: &ScriptedBacktests) -> Vec<(String, SweepRequest)> {
    backtests.started.lock().unwrap().clone()
}

/// A bot with bars uploaded and `/backtest deepest_drawdown` started by the allowed chat: the
/// world, the workflow, the execution's name and its sweep id.
async fn started_deepest_drawdown() -> (World, Arc<ScriptedBacktests>, String, String) {
    let backtests = Arc::new(ScriptedBacktests::default());
    let world = world_with(backtests.clone()).await;
    upload(&world, "uploads/bars.csv").await;
    assert!(
        world
            .say(ALLOWED, "/backtest deepest_drawdown")
            .await
            .starts_with("Started")
    );
    let (name, _) = started(&backtests)[0].clone();
    let id = sweep_id(&name);
    (world, backtests, name, id)
}

#[tokio::test]
async fn backtest_starts_the_workflow_for_the_chat_on_the_uploaded_history() {
    let backtests = Arc::new(ScriptedBacktests::default());
    let world = world_with(backtests.clone()).await;
    upload(&world, "uploads/a-old.parquet").await;
    upload(&world, "uploads/b-new.csv").await;
    upload(&world, "uploads/notes.txt").await;

    let reply = world.say(ALLOWED, "/backtest Oversold_Uptrend 3").await;
    assert!(
        reply.starts_with("Started a backtest of <b>oversold_uptrend</b>"),
        "{reply}"
    );
    assert_valid_html(&reply);
    let runs = started(&backtests);
    assert_eq!(runs.len(), 1);
    let (name, request) = &runs[0];
    assert!(
        name.starts_with(&format!("bot-{ALLOWED}-oversold_uptrend-")),
        "{name}"
    );
    assert!(reply.contains(name.as_str()), "{reply}");
    // The last bars file under uploads/ (by name), the screen as screens.toml writes it.
    assert_eq!(request.bars, "uploads/b-new.csv");
    assert_eq!(request.notify_chat, Some(ALLOWED));
    assert_eq!(request.screen.len(), 1);
    assert_eq!(request.screen[0].name, "oversold_uptrend");
    assert!(
        request.screen[0]
            .conditions
            .contains(&"rsi_14 < 30".to_string())
    );
    assert!(request.grid.is_empty());
    let today = Utc::now().date_naive();
    assert_eq!(request.end, today);
    assert_eq!(request.start, today - Months::new(36));
    // The plan the workflow would make of it is fine.
    assert_eq!(request.plan("check").unwrap().items.len(), 1);

    // Remembered for the one-at-a-time rule and for /status.
    let record: serde_json::Value = serde_json::from_slice(
        &world
            .store
            .get(&format!("bot/backtests/chat={ALLOWED}.json"))
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(record["execution"], name.as_str());
}

#[tokio::test]
async fn one_backtest_at_a_time_per_chat_with_its_progress_in_status() {
    let (world, backtests, name, id) = started_deepest_drawdown().await;

    // Before the plan is written, then with 1 of 3 items done.
    let status = world.say(ALLOWED, "/status").await;
    assert!(
        status.contains("<b>Backtest of deepest_drawdown</b>"),
        "{status}"
    );
    assert!(status.contains("running: planning"), "{status}");
    assert!(
        status.contains("Last run:"),
        "the run's status is still there: {status}"
    );
    world
        .store
        .put(
            &keys::plan(&id),
            br#"{"items": [{}, {}, {}]}"#.to_vec(),
            "application/json",
        )
        .await
        .unwrap();
    world
        .store
        .put(
            &keys::item_result(&id, "i001"),
            b"{}".to_vec(),
            "application/json",
        )
        .await
        .unwrap();
    let status = world.say(ALLOWED, "/status").await;
    assert!(status.contains("running: 1 of 3 items done"), "{status}");
    assert_valid_html(&status);

    let refused = world.say(ALLOWED, "/backtest oversold_uptrend").await;
    assert!(
        refused.starts_with(
            "Your backtest of <b>deepest_drawdown</b> is still running (1 of 3 items done)"
        ),
        "{refused}"
    );
    assert_eq!(started(&backtests).len(), 1, "nothing else started");
    // Another chat is not held up.
    assert!(
        world
            .say(ADMIN, "/backtest oversold_uptrend")
            .await
            .starts_with("Started")
    );

    backtests.finish(
        &name,
        BacktestState::Failed {
            error: "Backtest.Failed: no session".into(),
        },
    );
    let status = world.say(ALLOWED, "/status").await;
    assert!(
        status.contains("failed: Backtest.Failed: no session"),
        "{status}"
    );
    backtests.finish(&name, BacktestState::Succeeded);
    let status = world.say(ALLOWED, "/status").await;
    assert!(
        status.contains(&format!(
            "finished; the report is <code>backtests/{id}/report.html</code>"
        )),
        "{status}"
    );
    assert!(
        world
            .say(ALLOWED, "/backtest oversold_uptrend")
            .await
            .starts_with("Started")
    );
    assert_eq!(started(&backtests).len(), 3);
}

#[tokio::test]
async fn a_backtest_the_workflow_no_longer_knows_is_read_off_the_store() {
    // A local bot that restarted: its in-process runs are forgotten, the store is not.
    let (world, backtests, _, id) = started_deepest_drawdown().await;
    backtests.states.lock().unwrap().clear();

    let status = world.say(ALLOWED, "/status").await;
    assert!(
        status.contains("no longer followed here, and it wrote no report"),
        "{status}"
    );
    world
        .store
        .put(
            &keys::file(&id, "report.html"),
            b"<html>".to_vec(),
            "text/html",
        )
        .await
        .unwrap();
    let status = world.say(ALLOWED, "/status").await;
    assert!(
        status.contains(&format!(
            "finished; the report is <code>backtests/{id}/report.html</code>"
        )),
        "{status}"
    );
}

#[tokio::test]
async fn bad_backtest_requests_get_a_reply_that_says_what_to_send() {
    let backtests = Arc::new(ScriptedBacktests::default());
    let world = world_with(backtests.clone()).await;
    let cases = [
        ("/backtest", "Which screen?"),
        (
            "/backtest no_such_screen",
            "There is no screen “no_such_screen”. Screens: <code>deepest_drawdown</code>",
        ),
        (
            "/backtest deepest_drawdown lots",
            "“lots” is not a number of years: give 1 to 30",
        ),
        (
            "/backtest deepest_drawdown 0",
            "“0” is not a number of years",
        ),
        (
            "/backtest deepest_drawdown 5 yesterday",
            "“yesterday” is not a date: use YYYY-MM-DD",
        ),
        (
            "/backtest deepest_drawdown 5 2999-01-01",
            "2999-01-01 is in the future",
        ),
        (
            "/backtest deepest_drawdown 5 2018-12-31 more",
            "Too many words",
        ),
        // Nothing uploaded yet.
        (
            "/backtest deepest_drawdown 5 2018-12-31",
            "There is no history to backtest on yet.",
        ),
    ];
    for (text, expected) in cases {
        let reply = world.say(ALLOWED, text).await;
        assert!(reply.contains(expected), "{text}: {reply}");
        assert_valid_html(&reply);
    }
    assert!(started(&backtests).is_empty());
    // A chat off the allow-list starts nothing.
    upload(&world, "uploads/bars.csv").await;
    assert!(
        world
            .say(STRANGER, "/backtest deepest_drawdown")
            .await
            .contains("allow-list")
    );
    assert!(started(&backtests).is_empty());
    // An explicit end date sets the period.
    let reply = world
        .say(ALLOWED, "/backtest deepest_drawdown 5 2018-12-31")
        .await;
    assert!(reply.contains("from 2013-12-31 to 2018-12-31"), "{reply}");
}

#[tokio::test]
async fn without_a_backtest_workflow_the_reply_says_so() {
    let world = World::new(Options::default()).await;
    upload(&world, "uploads/bars.csv").await;
    let reply = world.say(ALLOWED, "/backtest deepest_drawdown").await;
    assert_eq!(
        reply,
        "Backtests are not configured here: no backtest workflow is configured."
    );
    let status = world.say(ALLOWED, "/status").await;
    assert!(!status.contains("Backtest of"), "{status}");
}
