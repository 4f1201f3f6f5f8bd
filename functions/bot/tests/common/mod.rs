//! Shared by the bot's HTTP tests: secrets from a map, a recording re-run, a loopback fake of
//! the Telegram Bot API, and a bot served over real HTTP on a published fixture run.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bot::BotDeps;
use chrono::{NaiveDate, Utc};
use screener_core::backtest::SweepRequest;
use screener_core::config::BotSettings;
use screener_core::local::{DirStore, FakeBrokerage};
use screener_core::ports::{
    BacktestError, BacktestState, Backtests, Brokerage, Rerun, RerunError, RerunOutcome,
    SecretString, Secrets, SecretsError, execution_name,
};
use screener_telegram::TelegramNotifier;
use screener_telegram::api::SendLimits;
use screener_test_support::loopback::{
    Bytes, LoopbackServer, Reply, Request, StatusCode, json as json_reply,
};
use serde_json::{Value, json};
use tokio::time::Instant;

pub const SECRET: &str = "test-secret_TOKEN-123";
pub const BOT_TOKEN: &str = "123456:TEST-TOKEN";
pub const ALLOWED: i64 = 1001;
pub const ADMIN: i64 = 1002;
pub const STRANGER: i64 = 666;

/// Secrets from a map that tests can change.
#[derive(Default, Clone)]
pub struct MapSecrets(pub Arc<Mutex<HashMap<String, String>>>);

impl MapSecrets {
    pub fn set(&self, name: &str, value: &str) {
        self.0
            .lock()
            .unwrap()
            .insert(name.to_string(), value.to_string());
    }
    pub fn remove(&self, name: &str) {
        self.0.lock().unwrap().remove(name);
    }
}

#[async_trait]
impl Secrets for MapSecrets {
    async fn get(&self, name: &str) -> Result<SecretString, SecretsError> {
        self.0
            .lock()
            .unwrap()
            .get(name)
            .map(SecretString::new)
            .ok_or_else(|| SecretsError::Missing {
                name: name.to_string(),
                hint: "not in the test's map".into(),
            })
    }
}

/// Records re-run requests; a second request for the same name is "already running".
#[derive(Default)]
pub struct RecordingRerun {
    pub started: Mutex<Vec<String>>,
}

#[async_trait]
impl Rerun for RecordingRerun {
    async fn rerun(&self, date: Option<NaiveDate>) -> Result<RerunOutcome, RerunError> {
        let name = execution_name(date, Utc::now().date_naive());
        let mut started = self.started.lock().unwrap();
        if started.contains(&name) {
            return Ok(RerunOutcome::AlreadyRunning {
                name,
                status: "RUNNING".into(),
            });
        }
        started.push(name.clone());
        Ok(RerunOutcome::Started {
            name,
            detail: "test execution".into(),
        })
    }
}

/// One request the fake Telegram API received.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub method: String,
    pub body: Value,
}

impl Received {
    pub fn chat(&self) -> i64 {
        self.body["chat_id"].as_i64().unwrap_or_default()
    }
    pub fn text(&self) -> &str {
        self.body["text"].as_str().unwrap_or_default()
    }
}

/// A loopback Bot API: records every call; answers 200 unless a scripted answer is queued for
/// the chat (`(status, body)`), which is used once.
type Scripted = HashMap<i64, VecDeque<(u16, Value)>>;

#[derive(Clone, Default)]
pub struct FakeTelegram {
    pub received: Arc<Mutex<Vec<Received>>>,
    pub scripted: Arc<Mutex<Scripted>>,
    /// Answer this status to every call for the chat, for good (403 = blocked).
    pub always: Arc<Mutex<HashMap<i64, (u16, Value)>>>,
    /// Serves until the last clone is dropped.
    server: Option<Arc<LoopbackServer>>,
}

impl FakeTelegram {
    pub async fn start() -> (FakeTelegram, String) {
        let mut fake = FakeTelegram::default();
        let state = fake.clone();
        let server = LoopbackServer::start(move |request| {
            let reply = state.answer(request);
            async move { reply }
        });
        let url = server.url();
        fake.server = Some(Arc::new(server));
        (fake, url)
    }

    fn answer(&self, request: Request<Bytes>) -> Reply {
        let path = request.uri().path().to_string();
        let body: Value = serde_json::from_slice(request.body()).unwrap_or(Value::Null);
        let method = path.rsplit('/').next().unwrap_or_default().to_string();
        assert!(
            path.starts_with(&format!("/bot{BOT_TOKEN}/")),
            "the token is in the path: {path}"
        );
        let chat = body["chat_id"].as_i64().unwrap_or_default();
        self.received.lock().unwrap().push(Received {
            at: Instant::now(),
            method,
            body,
        });
        let scripted = self
            .scripted
            .lock()
            .unwrap()
            .get_mut(&chat)
            .and_then(|q| q.pop_front());
        let (status, reply) = scripted
            .or_else(|| self.always.lock().unwrap().get(&chat).cloned())
            .unwrap_or((200, json!({"ok": true, "result": {"message_id": 1}})));
        json_reply(StatusCode::from_u16(status).unwrap(), &reply)
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    pub fn script(&self, chat: i64, status: u16, body: Value) {
        self.scripted
            .lock()
            .unwrap()
            .entry(chat)
            .or_default()
            .push_back((status, body));
    }

    pub fn always(&self, chat: i64, status: u16, body: Value) {
        self.always.lock().unwrap().insert(chat, (status, body));
    }
}

/// The Bot API at `url` with [`BOT_TOKEN`], at [`quick_limits`].
pub fn notifier(url: &str) -> TelegramNotifier {
    let secrets = MapSecrets::default();
    let name = BotSettings::default().params.bot_token;
    secrets.set(&name, BOT_TOKEN);
    TelegramNotifier::new(url, Arc::new(secrets), &name).with_limits(quick_limits())
}

/// Limits scaled down 10x so the tests stay quick; the limit logic is the same.
pub fn quick_limits() -> SendLimits {
    SendLimits {
        per_chat_interval: Duration::from_millis(100),
        per_second: 300,
        max_attempts: 5,
        max_retry_after: Duration::from_secs(5),
        transient_backoff: Duration::from_millis(50),
    }
}

pub fn run_date() -> NaiveDate {
    // A recent session, so that replies are not flagged stale unless a test wants that.
    screener_core::calendar::last_trading_day_on_or_before(
        Utc::now().date_naive() - chrono::Duration::days(1),
    )
}

/// A backtest workflow that records what it was asked to start and answers the state a test
/// sets (running until told otherwise).
#[derive(Default)]
pub struct ScriptedBacktests {
    pub started: Mutex<Vec<(String, SweepRequest)>>,
    pub states: Mutex<HashMap<String, BacktestState>>,
}

impl ScriptedBacktests {
    pub fn finish(&self, name: &str, state: BacktestState) {
        self.states.lock().unwrap().insert(name.to_string(), state);
    }
}

#[async_trait]
impl Backtests for ScriptedBacktests {
    async fn start(&self, name: &str, request: &SweepRequest) -> Result<String, BacktestError> {
        self.started
            .lock()
            .unwrap()
            .push((name.to_string(), request.clone()));
        self.finish(name, BacktestState::Running);
        Ok(format!(
            "arn:aws:states:us-east-1:123456789012:execution:backtest:{name}"
        ))
    }

    async fn state(&self, name: &str) -> Result<BacktestState, BacktestError> {
        Ok(self
            .states
            .lock()
            .unwrap()
            .get(name)
            .cloned()
            .unwrap_or(BacktestState::Unknown))
    }
}

/// A bot on a fixture run, served over loopback HTTP, with a fake Telegram API.
pub struct World {
    pub dir: tempfile::TempDir,
    pub store: Arc<DirStore>,
    pub secrets: MapSecrets,
    pub rerun: Arc<RecordingRerun>,
    pub telegram: FakeTelegram,
    pub deps: Arc<BotDeps>,
    pub url: String,
    pub http: reqwest::Client,
    next_update: Mutex<i64>,
}

pub struct Options {
    pub symbols: usize,
    pub publish: bool,
    pub allow_list: Option<String>,
    /// The brokerage behind /portfolio, /account, /monitor (default: the demo fake).
    pub brokerage: Option<Arc<dyn Brokerage>>,
    /// The workflow behind /backtest (default: not configured).
    pub backtests: Option<Arc<dyn Backtests>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            symbols: 300,
            publish: true,
            allow_list: Some(format!("{ALLOWED}, {ADMIN}")),
            brokerage: None,
            backtests: None,
        }
    }
}

impl World {
    pub async fn new(options: Options) -> World {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(DirStore::new(dir.path()));
        if options.publish {
            bot::fixtures::publish_run(store.as_ref(), options.symbols, run_date(), 1, Utc::now())
                .await
                .unwrap();
        }
        let (telegram, api_url) = FakeTelegram::start().await;
        let settings = BotSettings {
            bot_username: Some("screener_test_bot".into()),
            results_check_interval: Duration::ZERO,
            ..BotSettings::default()
        };
        let secrets = MapSecrets::default();
        secrets.set(&settings.params.secret_token, SECRET);
        secrets.set(&settings.params.bot_token, BOT_TOKEN);
        if let Some(list) = &options.allow_list {
            secrets.set(&settings.params.allowed_chats, list);
        }
        secrets.set(&settings.params.admin_chats, &ADMIN.to_string());
        let rerun = Arc::new(RecordingRerun::default());
        let notifier = TelegramNotifier::new(
            &api_url,
            Arc::new(secrets.clone()),
            &settings.params.bot_token,
        )
        .with_limits(quick_limits());
        let deps = BotDeps::new(
            store.clone(),
            Arc::new(secrets.clone()),
            Arc::new(notifier),
            options
                .brokerage
                .unwrap_or_else(|| Arc::new(FakeBrokerage::demo())),
            rerun.clone(),
            settings,
        );
        let deps = Arc::new(match options.backtests {
            Some(backtests) => deps.with_backtests(backtests),
            None => deps,
        });
        let (addr, _server) = bot::server::spawn("127.0.0.1:0".parse().unwrap(), deps.clone())
            .await
            .unwrap();
        World {
            dir,
            store,
            secrets,
            rerun,
            telegram,
            deps,
            url: format!("http://{addr}/webhook"),
            http: {
                let _ = rustls::crypto::ring::default_provider().install_default();
                reqwest::Client::new()
            },
            next_update: Mutex::new(500_000),
        }
    }

    pub fn update_id(&self) -> i64 {
        let mut next = self.next_update.lock().unwrap();
        *next += 1;
        *next
    }

    /// POSTs `body` with `secret` as the header (none when `None`).
    pub async fn post_raw(&self, body: Vec<u8>, secret: Option<&str>) -> (u16, String) {
        let mut request = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body);
        if let Some(secret) = secret {
            request = request.header("X-Telegram-Bot-Api-Secret-Token", secret);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    pub async fn post(&self, update: &Value) -> (u16, Value) {
        let (status, body) = self
            .post_raw(serde_json::to_vec(update).unwrap(), Some(SECRET))
            .await;
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    /// Sends `text` from `chat` and answers the reply text ("" when none).
    pub async fn say(&self, chat: i64, text: &str) -> String {
        let (status, body) = self.post(&message(self.update_id(), chat, text)).await;
        assert_eq!(status, 200, "{text}: {body}");
        if body["method"] == "sendMessage" {
            assert_eq!(body["chat_id"], chat);
            assert_eq!(body["parse_mode"], "HTML");
            body["text"].as_str().unwrap().to_string()
        } else {
            String::new()
        }
    }
}

pub fn message(update_id: i64, chat: i64, text: &str) -> Value {
    json!({
        "update_id": update_id,
        "message": {
            "message_id": update_id % 1000,
            "date": 1_750_000_000,
            "chat": {"id": chat, "type": if chat < 0 { "supergroup" } else { "private" }},
            "from": {"id": chat.abs(), "is_bot": false, "first_name": "Test"},
            "text": text,
        }
    })
}

/// Checks what Telegram's HTML parser would refuse: unbalanced tags and bare `<`/`&`.
pub fn assert_valid_html(text: &str) {
    for tag in ["b", "i", "pre", "code", "a"] {
        let opens =
            text.matches(&format!("<{tag}>")).count() + text.matches(&format!("<{tag} ")).count();
        let closes = text.matches(&format!("</{tag}>")).count();
        assert_eq!(opens, closes, "unbalanced <{tag}> in: {text}");
    }
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        let entity = &rest[i..];
        // Telegram's named entities, and numerical ones (`&#39;`), which it also accepts.
        let numeric = entity.strip_prefix("&#").is_some_and(|digits| {
            let n = digits.chars().take_while(char::is_ascii_digit).count();
            n > 0 && digits[n..].starts_with(';')
        });
        assert!(
            numeric
                || ["&lt;", "&gt;", "&amp;", "&quot;"]
                    .iter()
                    .any(|e| entity.starts_with(e)),
            "bare & in: {text}"
        );
        rest = &rest[i + 1..];
    }
    let mut rest = text;
    while let Some(i) = rest.find('<') {
        let tag = &rest[i + 1..];
        assert!(
            [
                "b>", "/b>", "i>", "/i>", "pre>", "/pre>", "code>", "/code>", "a href=", "/a>"
            ]
            .iter()
            .any(|t| tag.starts_with(t)),
            "unexpected < in: {text}"
        );
        rest = &rest[i + 1..];
    }
}
