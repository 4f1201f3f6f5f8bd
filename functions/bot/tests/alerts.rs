//! Alert fan-out against a loopback fake of the Telegram Bot API: what subscribers are told,
//! Telegram's limits (1 message/s per chat, 30/s overall) at their real values, `retry_after`
//! on 429, a chat that blocked the bot dropped, and one alert per run date.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use common::*;
use screener_core::local::DirStore;
use screener_core::ports::{Delivery, SecretString, Store};
use screener_core::results::ResultsTable;
use screener_core::workflow::{Manifest, keys};
use screener_telegram::alerts::{FanOut, fan_out};
use screener_telegram::api::{SendLimits, SendMessage, TelegramApi};
use screener_telegram::subscriptions;
use serde_json::json;

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, d).unwrap()
}

async fn manifest(store: &dyn Store, date: NaiveDate) -> Manifest {
    serde_json::from_slice(
        &store
            .get(&keys::results_file(date, "manifest.json"))
            .await
            .unwrap(),
    )
    .unwrap()
}

async fn passing(store: &dyn Store, date: NaiveDate, screen: &str) -> Vec<String> {
    let table = ResultsTable::parse(
        &store
            .get(&keys::results_file(date, "results.csv"))
            .await
            .unwrap(),
    )
    .unwrap();
    table
        .passing(screen)
        .into_iter()
        .map(|r| table.symbols[r].clone())
        .collect()
}

#[tokio::test]
async fn subscribers_are_told_what_entered_and_left_their_screens_once_per_date() {
    let dir = tempfile::tempdir().unwrap();
    let store = DirStore::new(dir.path());
    let (telegram, url) = FakeTelegram::start().await;
    let notifier = notifier(&url);
    // Two runs with different pass sets (different seeds), 40 symbols.
    bot::fixtures::publish_run(&store, 40, day(12), 1, Utc::now())
        .await
        .unwrap();
    bot::fixtures::publish_run(&store, 40, day(13), 2, Utc::now())
        .await
        .unwrap();
    subscriptions::add(&store, 10, "deepest_drawdown")
        .await
        .unwrap();
    subscriptions::add(&store, 20, "golden_cross_trend")
        .await
        .unwrap();
    subscriptions::add(&store, 20, "deepest_drawdown")
        .await
        .unwrap();

    let m = manifest(&store, day(13)).await;
    let FanOut::Done(report) = fan_out(&store, &notifier, &m).await.unwrap() else {
        panic!("not sent");
    };
    assert_eq!(report.previous_date, Some(day(12)));
    assert_eq!((report.subscribers, report.sent), (2, 2));

    let before = passing(&store, day(12), "deepest_drawdown").await;
    let now = passing(&store, day(13), "deepest_drawdown").await;
    let entered: Vec<&String> = now.iter().filter(|s| !before.contains(s)).collect();
    let left: Vec<&String> = before.iter().filter(|s| !now.contains(s)).collect();
    assert!(
        !entered.is_empty() && !left.is_empty(),
        "the fixture should change"
    );

    let sent = telegram.received();
    let to_10: Vec<_> = sent.iter().filter(|r| r.chat() == 10).collect();
    assert_eq!(to_10.len(), 1);
    let text = to_10[0].text();
    assert!(
        text.contains(&format!("Screen changes {}", day(13))),
        "{text}"
    );
    assert!(text.contains(&format!("since {}", day(12))));
    assert!(
        text.contains(&format!("entered ({})", entered.len())),
        "{text}"
    );
    assert!(text.contains(&format!("left ({})", left.len())), "{text}");
    for s in entered.iter().chain(left.iter()) {
        assert!(text.contains(s.as_str()), "{s} missing: {text}");
    }
    assert!(
        !text.contains("golden_cross_trend"),
        "chat 10 did not subscribe to it"
    );
    assert_valid_html(text);
    let to_20 = sent.iter().find(|r| r.chat() == 20).unwrap();
    assert!(
        to_20.text().contains("golden_cross_trend") && to_20.text().contains("deepest_drawdown")
    );

    // A re-run of the same date: nothing is sent again.
    let count = telegram.received().len();
    assert!(matches!(
        fan_out(&store, &notifier, &m).await.unwrap(),
        FanOut::AlreadyDone
    ));
    assert_eq!(telegram.received().len(), count);
}

#[tokio::test]
async fn a_chat_that_blocked_the_bot_is_dropped_and_the_others_still_get_theirs() {
    let dir = tempfile::tempdir().unwrap();
    let store = DirStore::new(dir.path());
    let (telegram, url) = FakeTelegram::start().await;
    let notifier = notifier(&url);
    bot::fixtures::publish_run(&store, 40, day(13), 1, Utc::now())
        .await
        .unwrap();
    for chat in [1, 2, 3] {
        subscriptions::add(&store, chat, "deepest_drawdown")
            .await
            .unwrap();
    }
    telegram.always(
        2,
        403,
        json!({"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}),
    );
    let m = manifest(&store, day(13)).await;
    let FanOut::Done(report) = fan_out(&store, &notifier, &m).await.unwrap() else {
        panic!("not sent");
    };
    assert_eq!(report.blocked, vec![2]);
    assert_eq!(report.sent, 2);
    let subs = subscriptions::load(&store).await.unwrap();
    assert_eq!(subs.chats.keys().copied().collect::<Vec<_>>(), vec![1, 3]);
    // The chat was asked once, not retried.
    assert_eq!(
        telegram.received().iter().filter(|r| r.chat() == 2).count(),
        1
    );
}

#[tokio::test]
async fn retry_after_on_429_is_honoured() {
    let (telegram, url) = FakeTelegram::start().await;
    let api = TelegramApi::new(&url, SecretString::new(BOT_TOKEN));
    telegram.script(
        7,
        429,
        json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 2", "parameters": {"retry_after": 2}}),
    );
    let outcome = api
        .send_all(
            vec![
                SendMessage::html(7, "first".into()),
                SendMessage::html(8, "other chat".into()),
            ],
            &SendLimits::default(),
        )
        .await;
    assert_eq!(outcome, vec![(7, Delivery::Sent), (8, Delivery::Sent)]);
    let received = telegram.received();
    let to_7: Vec<_> = received.iter().filter(|r| r.chat() == 7).collect();
    assert_eq!(to_7.len(), 2, "refused once, then resent");
    let waited = to_7[1].at - to_7[0].at;
    assert!(waited >= Duration::from_secs(2), "resent after {waited:?}");
    assert!(waited < Duration::from_secs(4), "resent after {waited:?}");
    // The other chat was not held up by chat 7's wait.
    let to_8 = received.iter().find(|r| r.chat() == 8).unwrap();
    assert!(to_8.at < to_7[1].at);
}

#[tokio::test]
async fn a_429_that_never_ends_gives_up_after_the_attempts() {
    let (telegram, url) = FakeTelegram::start().await;
    let api = TelegramApi::new(&url, SecretString::new(BOT_TOKEN));
    telegram.always(
        7,
        429,
        json!({"ok": false, "error_code": 429, "parameters": {"retry_after": 1}}),
    );
    let limits = SendLimits {
        max_attempts: 2,
        ..SendLimits::default()
    };
    let outcome = api
        .send_all(vec![SendMessage::html(7, "x".into())], &limits)
        .await;
    assert!(matches!(outcome[0].1, Delivery::Failed(_)), "{outcome:?}");
    assert_eq!(telegram.received().len(), 2);
}

#[tokio::test]
async fn messages_to_one_chat_are_at_least_a_second_apart() {
    let (telegram, url) = FakeTelegram::start().await;
    let api = TelegramApi::new(&url, SecretString::new(BOT_TOKEN));
    let mut messages = Vec::new();
    for part in 0..3 {
        for chat in [1, 2, 3] {
            messages.push(SendMessage::html(chat, format!("part {part}")));
        }
    }
    let outcome = api.send_all(messages, &SendLimits::default()).await;
    assert!(outcome.iter().all(|(_, o)| *o == Delivery::Sent));
    let received = telegram.received();
    assert_eq!(received.len(), 9);
    for chat in [1, 2, 3] {
        let times: Vec<_> = received
            .iter()
            .filter(|r| r.chat() == chat)
            .map(|r| (r.at, r.text().to_string()))
            .collect();
        assert_eq!(
            times.iter().map(|t| t.1.as_str()).collect::<Vec<_>>(),
            vec!["part 0", "part 1", "part 2"],
            "order kept per chat"
        );
        for pair in times.windows(2) {
            let gap = pair[1].0 - pair[0].0;
            assert!(gap >= Duration::from_millis(990), "chat {chat}: {gap:?}");
        }
    }
    // Chats are interleaved: all three first parts go out before any second part.
    let first_three: Vec<i64> = received[..3].iter().map(|r| r.chat()).collect();
    assert_eq!(first_three, vec![1, 2, 3]);
}

#[tokio::test]
async fn no_more_than_30_messages_go_out_in_any_second() {
    let (telegram, url) = FakeTelegram::start().await;
    let api = TelegramApi::new(&url, SecretString::new(BOT_TOKEN));
    let messages: Vec<SendMessage> = (0..45)
        .map(|chat| SendMessage::html(chat, "hello".into()))
        .collect();
    let started = tokio::time::Instant::now();
    let outcome = api.send_all(messages, &SendLimits::default()).await;
    assert_eq!(outcome.len(), 45);
    let received = telegram.received();
    assert_eq!(received.len(), 45);
    for (i, r) in received.iter().enumerate() {
        let in_window = received[i..]
            .iter()
            .take_while(|later| later.at - r.at < Duration::from_secs(1))
            .count();
        assert!(in_window <= 30, "{in_window} messages within a second");
    }
    // ...and the sender does not crawl either: 45 messages at 30/s take about 1.5 s.
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[tokio::test]
async fn concurrent_subscription_changes_from_the_bot_are_all_kept() {
    let world = Arc::new(World::new(Options::default()).await);
    let mut tasks = Vec::new();
    for (i, screen) in [
        "deepest_drawdown",
        "golden_cross_trend",
        "oversold_uptrend",
        "new_high_heavy_volume",
    ]
    .into_iter()
    .enumerate()
    {
        for chat in [ALLOWED, ADMIN] {
            let world = world.clone();
            tasks.push(tokio::spawn(async move {
                let _ = i;
                world.say(chat, &format!("/alert add {screen}")).await
            }));
        }
    }
    for t in tasks {
        assert!(t.await.unwrap().contains("OK"));
    }
    let subs = subscriptions::load(world.store.as_ref()).await.unwrap();
    assert_eq!(subs.screens_of(ALLOWED).len(), 4);
    assert_eq!(subs.screens_of(ADMIN).len(), 4);
}
