//! The bot over real HTTP (`bot::server`, as `screener bot serve` runs it): the secret check,
//! malformed bodies, updates that are not for us, the allow-list, dedup, every command, and
//! long replies split and sent through a loopback fake of the Telegram Bot API.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::*;
use screener_core::ports::Store;
use screener_telegram::api::MAX_MESSAGE_CHARS;
use serde_json::json;

#[tokio::test]
async fn a_missing_or_wrong_secret_is_401_and_nothing_else_happens() {
    let world = World::new(Options::default()).await;
    let update = message(1, ALLOWED, "/help");
    let body = serde_json::to_vec(&update).unwrap();
    for secret in [
        None,
        Some(""),
        Some("wrong"),
        // Same length as the real one, one character off.
        Some("test-secret_TOKEN-124"),
        Some("test-secret_TOKEN-12"),
    ] {
        let (status, reply) = world.post_raw(body.clone(), secret).await;
        assert_eq!(status, 401, "{secret:?}");
        assert_eq!(reply, "{}");
    }
    // A refused call did not consume the update id: the genuine delivery is answered.
    let (status, reply) = world.post(&update).await;
    assert_eq!(status, 200);
    assert_eq!(reply["method"], "sendMessage");
}

#[tokio::test]
async fn the_secret_is_checked_before_the_body_is_parsed() {
    let world = World::new(Options::default()).await;
    let (status, _) = world
        .post_raw(b"not json at all".to_vec(), Some("wrong"))
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn with_no_secret_configured_every_update_is_refused() {
    let world = World::new(Options::default()).await;
    world
        .secrets
        .remove(&world.deps.settings.params.secret_token);
    let (status, _) = world.post(&message(1, ALLOWED, "/help")).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_malformed_body_is_400_never_5xx() {
    let world = World::new(Options::default()).await;
    for body in [
        b"".to_vec(),
        b"not json".to_vec(),
        b"[1,2,3]".to_vec(),
        br#"{"message": {"chat": {"id": 1}, "text": "/help"}}"#.to_vec(),
        br#"{"update_id": "one"}"#.to_vec(),
        br#"{"update_id": 5, "message": {"text": "/help"}}"#.to_vec(),
        vec![0xff, 0xfe, 0x00],
    ] {
        let (status, reply) = world.post_raw(body.clone(), Some(SECRET)).await;
        assert_eq!(status, 400, "{:?}", String::from_utf8_lossy(&body));
        assert_eq!(reply, "{}");
    }
    // Over the size limit.
    let huge = vec![b' '; bot::server::MAX_BODY_BYTES + 10];
    let (status, _) = world.post_raw(huge, Some(SECRET)).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn updates_that_are_not_for_us_get_200_and_no_reply() {
    let world = World::new(Options::default()).await;
    let others = [
        json!({"update_id": 10, "edited_message": {"message_id": 1, "chat": {"id": ALLOWED, "type": "private"}, "text": "/help"}}),
        json!({"update_id": 11, "message": {"message_id": 2, "chat": {"id": ALLOWED, "type": "private"}, "sticker": {"file_id": "x"}}}),
        json!({"update_id": 12, "callback_query": {"id": "q", "data": "old-keyboard"}}),
        json!({"update_id": 13, "my_chat_member": {"chat": {"id": -100, "type": "group"}}}),
        message(14, -100123, "good morning everyone"),
        message(15, ALLOWED, "/start@SomeOtherBot"),
        json!({"update_id": 16}),
    ];
    for update in &others {
        let (status, reply) = world.post(update).await;
        assert_eq!(status, 200, "{update}");
        assert_eq!(reply, json!({}), "{update}");
    }
    // Addressed to us by name, it is answered.
    assert!(
        world
            .say(ALLOWED, "/help@screener_test_bot")
            .await
            .contains("/screen")
    );
}

#[tokio::test]
async fn a_repeated_update_id_is_answered_once_even_out_of_order() {
    let world = World::new(Options::default()).await;
    let (_, first) = world.post(&message(900, ALLOWED, "/help")).await;
    assert_eq!(first["method"], "sendMessage");
    let (status, again) = world.post(&message(900, ALLOWED, "/help")).await;
    assert_eq!((status, again), (200, json!({})));
    // Ids can jump after a pause and re-deliveries come late: "greater than the last" would
    // drop 950 after 5000; a set of recent ids does not.
    let (_, jumped) = world.post(&message(5000, ALLOWED, "/help")).await;
    assert_eq!(jumped["method"], "sendMessage");
    let (_, late) = world.post(&message(950, ALLOWED, "/help")).await;
    assert_eq!(late["method"], "sendMessage");
    let (_, late_again) = world.post(&message(950, ALLOWED, "/help")).await;
    assert_eq!(late_again, json!({}));
}

#[tokio::test]
async fn without_an_allow_list_everyone_is_refused_and_told_how_to_configure_it() {
    let world = World::new(Options {
        allow_list: None,
        ..Options::default()
    })
    .await;
    for chat in [ALLOWED, ADMIN, STRANGER] {
        let reply = world.say(chat, "/screen").await;
        assert!(reply.contains("answers nobody yet"), "{reply}");
        assert!(
            reply.contains("/screener/telegram/allowed_chat_ids"),
            "{reply}"
        );
        assert!(reply.contains("TELEGRAM_ALLOWED_CHAT_IDS"), "{reply}");
        assert!(reply.contains(&chat.to_string()), "{reply}");
        assert!(!reply.contains("AAPL"));
        assert_valid_html(&reply);
    }
    // An empty list is no list.
    world
        .secrets
        .set(&world.deps.settings.params.allowed_chats, " , ");
    assert!(
        world
            .say(ALLOWED, "/help")
            .await
            .contains("answers nobody yet")
    );
}

#[tokio::test]
async fn a_chat_not_on_the_allow_list_is_refused() {
    let world = World::new(Options::default()).await;
    let reply = world.say(STRANGER, "/screen").await;
    assert!(reply.contains("allow-list"), "{reply}");
    assert!(reply.contains(&STRANGER.to_string()));
    assert!(!reply.contains("deepest_drawdown"));
    // A malformed list refuses everyone rather than guessing.
    world
        .secrets
        .set(&world.deps.settings.params.allowed_chats, "1001,abc");
    assert!(world.say(ALLOWED, "/help").await.contains("malformed"));
}

#[tokio::test]
async fn start_help_and_unknown_commands_show_the_help() {
    let world = World::new(Options::default()).await;
    let start = world.say(ALLOWED, "/start").await;
    let help = world.say(ALLOWED, "/help").await;
    let unknown = world.say(ALLOWED, "/frobnicate now").await;
    for reply in [&start, &help, &unknown] {
        for command in [
            "/screen",
            "/symbol",
            "/status",
            "/alert add",
            "/rerun",
            "/monitor",
        ] {
            assert!(reply.contains(command), "{command} missing: {reply}");
        }
        assert_valid_html(reply);
    }
    assert!(unknown.contains("don't know that command"));
}

#[tokio::test]
async fn screen_shows_the_top_candidates_of_a_screen() {
    let world = World::new(Options::default()).await;
    let index = world.deps.results().await.unwrap();
    let deepest = index.screen("deepest_drawdown").unwrap();
    let first = &index.table.symbols[deepest.members[0]];

    let reply = world.say(ALLOWED, "/screen").await;
    assert!(reply.contains("<b>deepest_drawdown</b>"), "{reply}");
    assert!(reply.contains(&format!("{} passing", deepest.members.len())));
    assert!(reply.contains(first.as_str()));
    assert!(reply.matches('\n').count() > 10);
    assert!(reply.contains("Synthetic demo data"));
    assert_valid_html(&reply);

    let reply = world.say(ALLOWED, "/screen golden_cross_trend 3").await;
    let golden = index.screen("golden_cross_trend").unwrap();
    assert!(reply.contains("<b>golden_cross_trend</b>"));
    let rows = reply
        .lines()
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .count();
    assert_eq!(rows, 3, "{reply}");
    assert!(reply.contains(&format!("Showing 3 of {}", golden.members.len())));

    let reply = world.say(ALLOWED, "/screen no_such_screen").await;
    assert!(
        reply.contains("There is no screen “no_such_screen”"),
        "{reply}"
    );
    assert!(reply.contains("golden_cross_trend"));
    assert!(
        world
            .say(ALLOWED, "/screen 0")
            .await
            .contains("not a row count")
    );
    assert!(
        world
            .say(ALLOWED, "/screen 100000")
            .await
            .contains("not a row count")
    );
    let reply = world.say(ALLOWED, "/screen <b>").await;
    assert!(reply.contains("&lt;b&gt;"), "{reply}");
    assert_valid_html(&reply);
}

#[tokio::test]
async fn screens_lists_every_screen_with_its_count() {
    let world = World::new(Options::default()).await;
    let index = world.deps.results().await.unwrap();
    let reply = world.say(ALLOWED, "/screens").await;
    for s in &index.screens {
        assert!(
            reply.contains(&format!("<b>{}</b>: {} passing", s.name, s.members.len())),
            "{reply}"
        );
    }
    assert_valid_html(&reply);
}

#[tokio::test]
async fn symbol_shows_every_metric_its_rank_and_its_screens() {
    let world = World::new(Options::default()).await;
    let index = world.deps.results().await.unwrap();
    let reply = world.say(ALLOWED, "/symbol aapl").await;
    assert!(reply.contains("<b>AAPL</b>"), "{reply}");
    for metric in bot::fixtures::METRICS {
        let label = screener_core::catalogue::label(metric);
        assert!(reply.contains(label), "{label} ({metric}) missing");
    }
    assert!(
        reply.contains("data_source") && reply.contains("synthetic"),
        "{reply}"
    );
    let row = index.by_symbol["AAPL"];
    let rank = index.by_drawdown.iter().position(|&r| r == row).unwrap() + 1;
    assert!(
        reply.contains(&format!("Drawdown rank: {rank} of")),
        "{reply}"
    );
    for s in &index.screens {
        if let Some(k) = s.members.iter().position(|&r| r == row) {
            assert!(reply.contains(&format!("{} (#{} of {})", s.name, k + 1, s.members.len())));
        }
    }
    assert_valid_html(&reply);
    assert!(
        world
            .say(ALLOWED, "/symbol BRK.B")
            .await
            .contains("<b>BRK.B</b>")
    );
}

#[tokio::test]
async fn a_bad_or_unknown_symbol_gets_a_clear_reply() {
    let world = World::new(Options::default()).await;
    let reply = world.say(ALLOWED, "/symbol").await;
    assert!(reply.contains("Which symbol?"));
    let reply = world.say(ALLOWED, "/symbol $$<x>").await;
    assert!(reply.contains("is not a ticker symbol"), "{reply}");
    assert!(reply.contains("&lt;x&gt;"));
    assert_valid_html(&reply);
    let reply = world.say(ALLOWED, "/symbol TOOLONGSYMBOL").await;
    assert!(reply.contains("at most 10 characters"), "{reply}");
    let reply = world.say(ALLOWED, "/symbol ZZZZ").await;
    assert!(reply.contains("ZZZZ is not in the"), "{reply}");
    assert!(reply.contains("not in the universe"));
    let reply = world.say(ALLOWED, "/symbol REJ").await;
    assert!(
        reply.contains("rejected by validation: short_history"),
        "{reply}"
    );
    let reply = world.say(ALLOWED, "/symbol nodata").await;
    assert!(reply.contains("no bars"), "{reply}");
}

#[tokio::test]
async fn drawdown_lists_the_deepest_falls_in_order() {
    let world = World::new(Options::default()).await;
    let index = world.deps.results().await.unwrap();
    let reply = world.say(ALLOWED, "/drawdown 5").await;
    let symbols: Vec<&str> = index.by_drawdown[..5]
        .iter()
        .map(|&r| index.table.symbols[r].as_str())
        .collect();
    let mut last = 0;
    for s in symbols {
        let at = reply
            .find(&format!(" {s} "))
            .unwrap_or_else(|| panic!("{s}: {reply}"));
        assert!(at > last, "out of order: {reply}");
        last = at;
    }
    assert!(
        world
            .say(ALLOWED, "/drawdown x")
            .await
            .contains("not a row count")
    );
}

#[tokio::test]
async fn status_reports_the_last_run() {
    let world = World::new(Options::default()).await;
    let reply = world.say(ALLOWED, "/status").await;
    let last_run = format!("Last run: {}", run_date());
    for expected in [
        last_run.as_str(),
        "Run id:",
        "Published:",
        "Duration: 95.0 s",
        "2 rejected",
        "Failed batches: none",
        "fixture market &lt;test&gt;",
        "Worst drawdown: AAPL -80.0%",
    ] {
        assert!(reply.contains(expected), "{expected}: {reply}");
    }
    assert!(
        !reply.contains("days old"),
        "fresh results flagged stale: {reply}"
    );
    assert_valid_html(&reply);
}

#[tokio::test]
async fn old_results_are_answered_with_a_staleness_warning() {
    let world = World::new(Options {
        publish: false,
        ..Options::default()
    })
    .await;
    let old = run_date() - chrono::Duration::days(10);
    bot::fixtures::publish_run(world.store.as_ref(), 50, old, 1, Utc::now())
        .await
        .unwrap();
    for command in ["/status", "/screen", "/symbol AAPL"] {
        let reply = world.say(ALLOWED, command).await;
        assert!(reply.contains("days old"), "{command}: {reply}");
    }
}

#[tokio::test]
async fn without_results_the_reply_is_friendly() {
    let world = World::new(Options {
        publish: false,
        ..Options::default()
    })
    .await;
    for command in [
        "/screen",
        "/screens",
        "/symbol AAPL",
        "/drawdown",
        "/status",
        "/download",
        "/report",
    ] {
        let reply = world.say(ALLOWED, command).await;
        assert!(reply.contains("No results yet"), "{command}: {reply}");
    }
    // Unreadable results: an apology, not the error.
    world
        .store
        .as_ref()
        .put(
            screener_core::workflow::keys::LATEST,
            b"{broken".to_vec(),
            "application/json",
        )
        .await
        .unwrap();
    let reply = world.say(ALLOWED, "/screen").await;
    assert!(
        reply.contains("can't read the results right now"),
        "{reply}"
    );
    assert!(
        !reply.contains("EOF") && !reply.contains("latest.json"),
        "{reply}"
    );
}

#[tokio::test]
async fn a_new_run_is_picked_up_when_latest_json_changes() {
    let world = World::new(Options::default()).await;
    assert!(
        world
            .say(ALLOWED, "/symbol S250")
            .await
            .contains("<b>S250</b>")
    );
    bot::fixtures::publish_run(world.store.as_ref(), 100, run_date(), 2, Utc::now())
        .await
        .unwrap();
    assert!(
        world
            .say(ALLOWED, "/symbol S250")
            .await
            .contains("is not in the")
    );
}

#[tokio::test]
async fn download_and_report_give_links_to_the_files() {
    let world = World::new(Options::default()).await;
    let reply = world.say(ALLOWED, "/download").await;
    let prefix = world
        .dir
        .path()
        .join(format!("results/date={}", run_date()));
    for file in ["results.csv", "results.parquet", "report.html"] {
        let path = prefix.join(file);
        assert!(
            reply.contains(&format!("<code>{}</code>", path.display())),
            "{file}: {reply}"
        );
        assert!(path.exists());
    }
    assert!(reply.contains("valid 1 hour"));
    let reply = world.say(ALLOWED, "/report").await;
    assert!(
        reply.contains(&prefix.join("report.html").display().to_string()),
        "{reply}"
    );
    assert_valid_html(&reply);
}

#[tokio::test]
async fn portfolio_account_and_monitor_use_the_brokerage() {
    let world = World::new(Options::default()).await;
    let reply = world.say(ALLOWED, "/portfolio").await;
    for symbol in ["AAA", "BBB", "CCC", "DDD", "EEE", "FFF"] {
        assert!(reply.contains(symbol), "{reply}");
    }
    assert!(reply.contains("+150.0%"));
    assert_valid_html(&reply);
    let reply = world.say(ALLOWED, "/account").await;
    assert!(
        reply.contains("Equity: $") && reply.contains("Buying power: $20,000.00"),
        "{reply}"
    );
    let reply = world.say(ALLOWED, "/monitor").await;
    assert!(
        reply.contains("Average +64.3% vs target +100.0%"),
        "{reply}"
    );
    assert!(reply.contains("not reached"));
    assert_valid_html(&reply);
}

#[tokio::test]
async fn alerts_can_be_added_listed_and_removed() {
    let world = World::new(Options::default()).await;
    assert!(
        world
            .say(ALLOWED, "/alerts")
            .await
            .contains("no alerts yet")
    );
    let reply = world.say(ALLOWED, "/alert add deepest_drawdown").await;
    assert!(reply.contains("OK"), "{reply}");
    assert!(
        world
            .say(ALLOWED, "/alert add deepest_drawdown")
            .await
            .contains("already")
    );
    world.say(ALLOWED, "/alert add golden_cross_trend").await;
    let reply = world.say(ALLOWED, "/alerts").await;
    assert!(
        reply.contains("deepest_drawdown, golden_cross_trend"),
        "{reply}"
    );
    let reply = world.say(ALLOWED, "/alert add nope").await;
    assert!(reply.contains("There is no screen"), "{reply}");
    let reply = world.say(ALLOWED, "/alert remove deepest_drawdown").await;
    assert!(reply.contains("no more alerts"), "{reply}");
    assert!(
        world
            .say(ALLOWED, "/alert remove deepest_drawdown")
            .await
            .contains("had no alerts")
    );
    assert!(world.say(ALLOWED, "/alert").await.contains("Usage"));
    assert!(world.say(ALLOWED, "/alert frob x").await.contains("Usage"));
    let subs = screener_telegram::subscriptions::load(world.store.as_ref())
        .await
        .unwrap();
    assert_eq!(subs.screens_of(ALLOWED), vec!["golden_cross_trend"]);
}

#[tokio::test]
async fn rerun_is_for_admins_and_a_double_request_starts_one_run() {
    let world = World::new(Options::default()).await;
    let reply = world.say(ALLOWED, "/rerun 2025-06-13").await;
    assert!(reply.contains("Only admins"), "{reply}");
    assert!(world.rerun.started.lock().unwrap().is_empty());
    let reply = world.say(ADMIN, "/rerun 2025-06-13").await;
    assert!(reply.contains("Started a run for 2025-06-13"), "{reply}");
    let reply = world.say(ADMIN, "/rerun 2025-06-13").await;
    assert!(reply.contains("already requested"), "{reply}");
    assert_eq!(world.rerun.started.lock().unwrap().len(), 1);
    assert!(
        world
            .say(ADMIN, "/rerun yesterday")
            .await
            .contains("not a date")
    );
    assert!(
        world
            .say(ADMIN, "/rerun 2999-01-01")
            .await
            .contains("future")
    );
    assert!(
        world
            .say(ADMIN, "/rerun")
            .await
            .contains("the last session")
    );
}

#[tokio::test]
async fn a_long_reply_is_split_on_lines_and_sent_through_the_api() {
    let world = World::new(Options {
        symbols: 2000,
        ..Options::default()
    })
    .await;
    let (status, body) = world
        .post(&message(
            world.update_id(),
            ALLOWED,
            "/screen golden_cross_trend 200",
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({}), "a long reply is not in the webhook body");
    let sent = world.telegram.received();
    assert!(sent.len() >= 2, "{} parts", sent.len());
    let mut rows = 0;
    for part in &sent {
        assert_eq!(part.method, "sendMessage");
        assert_eq!(part.chat(), ALLOWED);
        assert_eq!(part.body["parse_mode"], "HTML");
        assert!(part.text().encode_utf16().count() <= MAX_MESSAGE_CHARS);
        assert_valid_html(part.text());
        rows += part
            .text()
            .lines()
            .map(|l| l.trim_start_matches("<pre>").trim_start())
            .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()))
            .count();
    }
    assert_eq!(rows, 200);
    // In order, and spaced by the per-chat limit.
    for pair in sent.windows(2) {
        assert!(pair[1].at - pair[0].at >= Duration::from_millis(95));
    }
}

#[tokio::test]
async fn a_reply_in_a_forum_topic_goes_to_the_same_topic() {
    let world = World::new(Options {
        allow_list: Some("-100777".into()),
        ..Options::default()
    })
    .await;
    let mut update = message(world.update_id(), -100777, "/help");
    update["message"]["message_thread_id"] = json!(42);
    let (_, reply) = world.post(&update).await;
    assert_eq!(reply["message_thread_id"], 42);
    assert_eq!(reply["chat_id"], -100777);
}

#[tokio::test]
async fn dashboard_answers_a_single_use_signin_link_for_this_chat() {
    use screener_web::auth::SigningKey;
    use screener_web::{Audience, WebDeps};

    let world = World::new(Options::default()).await;
    let params = world.deps.settings.params.clone();
    let reply = world.say(ALLOWED, "/dashboard").await;
    assert!(reply.contains("address is not set"), "{reply}");
    world
        .secrets
        .set(&params.dashboard_url, "https://dashboard.example/");
    let reply = world.say(ALLOWED, "/dashboard").await;
    assert!(reply.contains("no signing key"), "{reply}");
    world
        .secrets
        .set(&params.dashboard_key, "dashboard-test-key");
    let reply = world.say(ALLOWED, "/dashboard").await;
    assert!(
        reply.contains("href=\"https://dashboard.example/app/signin?token=v1."),
        "{reply}"
    );
    let token = reply
        .split("token=")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let key = SigningKey::new(screener_core::ports::SecretString::new(
        "dashboard-test-key",
    ));
    let (chat, _) = key.check_signin_token(&token, Utc::now()).unwrap();
    assert_eq!(chat, ALLOWED);
    // Not allowed chats get no link at all.
    assert!(!world.say(12345, "/dashboard").await.contains("token="));

    // The dashboard's handler over the same store takes the link once.
    let web = WebDeps::new(
        world.store.clone(),
        std::sync::Arc::new(world.secrets.clone()),
        key,
        Audience::AllowList {
            secret_name: params.allowed_chats.clone(),
        },
        "ask the bot",
    );
    let post = || {
        http::Request::builder()
            .method("POST")
            .uri("/app/signin")
            .body(format!("token={token}").into_bytes())
            .unwrap()
    };
    let first = screener_web::handle(post(), &web).await;
    assert_eq!(first.status(), 303);
    let cookie = first.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly; Secure; SameSite=Strict"),
        "{cookie}"
    );
    let again = screener_web::handle(post(), &web).await;
    assert_eq!(again.status(), 401);
    assert!(String::from_utf8_lossy(again.body()).contains("already used"));
}
