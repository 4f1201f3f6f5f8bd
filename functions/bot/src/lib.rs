//! The Telegram bot: answers questions about the published results from a phone.
//!
//! [`handle`] is the whole webhook: the Lambda (`main.rs`, API Gateway HTTP API), the local
//! server ([`server`], `screener bot serve`), `screener invoke bot` and the tests all call it.
//! In order, it
//!
//! 1. compares `X-Telegram-Bot-Api-Secret-Token` with the configured secret in constant time,
//!    before reading the body: a mismatch is 401 and nothing else happens;
//! 2. parses the update: a body that is not an update is 400 and a log line, never a 5xx;
//! 3. drops an `update_id` seen recently (Telegram re-delivers when unsure), answering 200;
//! 4. ignores (200, no reply) anything that is not a command message: edits, stickers,
//!    callback queries, group chatter, commands for other bots;
//! 5. checks the chat against the allow-list (deny by default; no list = nobody, and the
//!    reply says how to configure one) and, for `/rerun`, the admin list;
//! 6. answers the command ([`commands`]) in the webhook response as a `sendMessage` with
//!    `parse_mode` HTML, or, past 4,096 characters, through the Bot API in line-split parts.
//!
//! Modules: [`results`] (the per-container index of the latest results), [`commands`],
//! [`brokerage`] (the profit check of `/monitor`), [`server`] (plain HTTP), [`apigw`] (API
//! Gateway events). Telegram itself (updates, escaping, splitting, the Bot API, alert
//! subscriptions) is `screener_telegram`; the ports ([`BotDeps`]) are built by the composition
//! root, `screener_composition`.

pub mod apigw;
pub mod brokerage;
pub mod commands;
#[cfg(feature = "fixtures")]
pub mod fixtures;
pub mod results;
pub mod server;

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use screener_core::Deps;
use screener_core::backtest::{ScreenSpec, default_screen_specs};
use screener_core::config::{BotSettings, Config};
use screener_core::local::BacktestsNotConfigured;
use screener_core::ports::{
    Backtests, Brokerage, Notification, Notifier, Rerun, SecretString, Secrets, SecretsError, Store,
};
use screener_telegram::api::{MAX_MESSAGE_CHARS, SendMessage, Update, split_message};
use subtle::ConstantTimeEq;
use tracing::Instrument;

use results::{ResultsCache, ResultsIndex};
use screener_core::results::ResultsError;

/// The header Telegram sends the webhook's `secret_token` in.
pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

/// How many recent update ids are remembered per container.
const RECENT_IDS: usize = 10_000;

/// One webhook call, as the bot needs it: the secret header, the raw body and, behind API
/// Gateway, the public address it was called on.
#[derive(Debug, Clone, Default)]
pub struct UpdateRequest {
    pub secret_token: Option<String>,
    pub body: Vec<u8>,
    /// `https://DOMAIN[/STAGE]` of the HTTP API that carried the call ([`public_origin`]): the
    /// dashboard is served on the same API, so `/dashboard` links need no configured address.
    pub origin: Option<String>,
}

/// The public address of the HTTP API a Lambda request came through ([`public_origin`]).
#[cfg(feature = "lambda")]
pub fn lambda_request_origin(request: &lambda_http::Request) -> Option<String> {
    use lambda_http::RequestExt;
    use lambda_http::request::RequestContext;
    if let Some(RequestContext::ApiGatewayV2(context)) = request.request_context_ref() {
        public_origin(context.domain_name.as_deref(), context.stage.as_deref())
    } else {
        None
    }
}

/// The public address of an API Gateway HTTP API from its request context: `https://` and the
/// domain name, plus `/STAGE` for a named stage (the `$default` stage has no path prefix).
/// `None` for a missing or malformed domain name.
pub fn public_origin(domain_name: Option<&str>, stage: Option<&str>) -> Option<String> {
    let plain = |text: &str| {
        text.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
    };
    let domain = domain_name.filter(|d| !d.is_empty() && plain(d))?;
    match stage {
        None | Some("" | "$default") => Some(format!("https://{domain}")),
        Some(stage) if plain(stage) => Some(format!("https://{domain}/{stage}")),
        Some(_) => None,
    }
}

/// The webhook's answer: a status and a JSON body (a `sendMessage` call, or `{}`).
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookResponse {
    pub status: u16,
    pub body: String,
}

impl WebhookResponse {
    fn empty(status: u16) -> Self {
        WebhookResponse {
            status,
            body: "{}".into(),
        }
    }

    pub fn content_type(&self) -> &'static str {
        "application/json"
    }

    /// The reply carried in the body, if any.
    pub fn reply(&self) -> Option<SendMessage> {
        serde_json::from_str(&self.body).ok()
    }
}

/// Update ids seen recently (a bounded set, oldest forgotten first). Not "greater than the
/// last": after a pause Telegram's ids can jump, and re-deliveries arrive out of order.
struct RecentIds {
    inner: Mutex<(HashSet<i64>, VecDeque<i64>)>,
}

impl RecentIds {
    fn new() -> Self {
        RecentIds {
            inner: Mutex::new((HashSet::new(), VecDeque::new())),
        }
    }

    /// True when `id` is new (and now remembered).
    fn insert(&self, id: i64) -> bool {
        let mut guard = self.inner.lock().unwrap();
        let (set, order) = &mut *guard;
        if !set.insert(id) {
            return false;
        }
        order.push_back(id);
        if order.len() > RECENT_IDS
            && let Some(old) = order.pop_front()
        {
            set.remove(&old);
        }
        true
    }
}

/// Who a chat is to the bot.
#[derive(Debug, Clone, PartialEq)]
pub enum Access {
    Allowed {
        admin: bool,
    },
    NotListed,
    /// No allow-list is configured (or it is unreadable): nobody gets answers.
    NoAllowList(String),
    /// The allow-list could not be read just now.
    Unknown,
}

/// Everything the bot uses, built once per container: the ports (from the composition root's
/// `Deps`, plus the brokerage and re-runs), its settings, and what it keeps between updates.
pub struct BotDeps {
    pub store: Arc<dyn Store>,
    pub secrets: Arc<dyn Secrets>,
    /// Replies too long for the webhook response go out through the Bot API.
    pub notifier: Arc<dyn Notifier>,
    pub brokerage: Arc<dyn Brokerage>,
    pub rerun: Arc<dyn Rerun>,
    /// `/backtest`: none configured until [`BotDeps::with_backtests`].
    pub backtests: Arc<dyn Backtests>,
    /// The screens `/backtest` offers: the embedded default until [`BotDeps::with_screens`].
    pub screens: Vec<ScreenSpec>,
    pub settings: BotSettings,
    results: ResultsCache,
    seen: RecentIds,
}

impl BotDeps {
    pub fn new(
        store: Arc<dyn Store>,
        secrets: Arc<dyn Secrets>,
        notifier: Arc<dyn Notifier>,
        brokerage: Arc<dyn Brokerage>,
        rerun: Arc<dyn Rerun>,
        settings: BotSettings,
    ) -> Self {
        BotDeps {
            results: ResultsCache::new(settings.results_check_interval),
            store,
            secrets,
            notifier,
            brokerage,
            rerun,
            backtests: Arc::new(BacktestsNotConfigured(
                "no backtest workflow is configured".into(),
            )),
            screens: default_screen_specs().to_vec(),
            settings,
            seen: RecentIds::new(),
        }
    }

    /// Where `/backtest` starts its workflow.
    pub fn with_backtests(mut self, backtests: Arc<dyn Backtests>) -> Self {
        self.backtests = backtests;
        self
    }

    /// The screens `/backtest` offers.
    pub fn with_screens(mut self, screens: Vec<ScreenSpec>) -> Self {
        self.screens = screens;
        self
    }

    /// The bot's dependencies from the composition root's `deps` and `config`. Only how
    /// `/rerun` and `/backtest` run is given: Step Functions in the Lambda, in-process under
    /// `screener bot serve`.
    pub async fn compose(
        config: &Config,
        deps: Deps,
        rerun: Arc<dyn Rerun>,
        backtests: Arc<dyn Backtests>,
    ) -> Result<BotDeps, screener_composition::WiringError> {
        Ok(BotDeps::new(
            deps.store,
            deps.secrets,
            deps.notifier,
            screener_composition::build_brokerage(config).await,
            rerun,
            config.bot.clone(),
        )
        .with_backtests(backtests)
        .with_screens(screener_composition::build_screen_specs(config)?))
    }

    /// The latest results (cached per container).
    pub async fn results(&self) -> Result<Arc<ResultsIndex>, ResultsError> {
        self.results.get(self.store.as_ref()).await
    }

    async fn list(&self, name: &str) -> Result<Option<Vec<i64>>, String> {
        match self.secrets.get(name).await {
            Ok(value) => parse_chat_ids(value.expose())
                .map(|ids| (!ids.is_empty()).then_some(ids))
                .map_err(|e| format!("{name}: {e}")),
            Err(SecretsError::Missing { .. }) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Whether `chat` may use the bot, and may `/rerun`. Admins must be on the allow-list too.
    pub async fn access(&self, chat: i64) -> Access {
        let params = &self.settings.params;
        let allowed = match self.list(&params.allowed_chats).await {
            Ok(Some(ids)) => ids,
            Ok(None) => return Access::NoAllowList("no allow-list is configured".into()),
            Err(e) if e.contains("is not a chat id") => {
                tracing::error!(error = %e, "the allow-list is malformed; refusing everyone");
                return Access::NoAllowList("the allow-list is malformed".into());
            }
            Err(e) => {
                tracing::error!(error = %e, "could not read the allow-list");
                return Access::Unknown;
            }
        };
        if !allowed.contains(&chat) {
            return Access::NotListed;
        }
        let admin = match self.list(&params.admin_chats).await {
            Ok(ids) => ids.unwrap_or_default().contains(&chat),
            Err(e) => {
                tracing::error!(error = %e, "could not read the admin list; treating as no admins");
                false
            }
        };
        Access::Allowed { admin }
    }

    async fn secret_matches(&self, given: Option<&str>) -> bool {
        let expected: SecretString = match self
            .secrets
            .get(&self.settings.params.secret_token)
            .await
        {
            Ok(secret) => secret,
            Err(e) => {
                tracing::error!(error = %e, "the webhook secret token is not configured: refusing every update");
                return false;
            }
        };
        let given = given.unwrap_or("").as_bytes();
        // subtle compares equal-length slices in constant time (a length mismatch is
        // answered at once, which reveals only the length).
        bool::from(given.ct_eq(expected.expose().as_bytes()))
    }
}

/// The webhook: see the crate documentation for the order of checks.
pub async fn handle(request: UpdateRequest, deps: &BotDeps) -> WebhookResponse {
    if !deps.secret_matches(request.secret_token.as_deref()).await {
        tracing::warn!("webhook call with a missing or wrong secret token refused (401)");
        return WebhookResponse::empty(401);
    }
    let update: Update = match serde_json::from_slice(&request.body) {
        Ok(update) => update,
        Err(e) => {
            tracing::warn!(error = %e, bytes = request.body.len(), "malformed update refused (400)");
            return WebhookResponse::empty(400);
        }
    };
    if !deps.seen.insert(update.update_id) {
        tracing::info!(update_id = update.update_id, "duplicate update ignored");
        return WebhookResponse::empty(200);
    }
    let Some(message) = update.message else {
        return WebhookResponse::empty(200);
    };
    let Some(command) = message
        .text
        .as_deref()
        .and_then(|t| commands::Command::parse(t, deps.settings.bot_username.as_deref()))
    else {
        return WebhookResponse::empty(200);
    };
    let chat = message.chat.id;
    let span = tracing::info_span!(
        "command",
        update_id = update.update_id,
        chat,
        command = %command.name
    );
    let text = async {
        match deps.access(chat).await {
            Access::Allowed { admin } => {
                commands::run(&command, chat, admin, request.origin.as_deref(), deps).await
            }
            Access::NotListed => {
                tracing::warn!(chat, "chat not on the allow-list refused");
                commands::not_allowed(chat)
            }
            Access::NoAllowList(why) => commands::no_allow_list(chat, &why, &deps.settings.params),
            Access::Unknown => {
                "The bot can't check who may use it right now. Please try again in a minute.".into()
            }
        }
    }
    .instrument(span)
    .await;
    deliver(chat, message.message_thread_id, text, deps).await
}

/// A reply that fits goes back in the webhook response; a longer one is split on line
/// boundaries and sent through the Bot API (the webhook then answers `{}`).
async fn deliver(chat: i64, thread: Option<i64>, text: String, deps: &BotDeps) -> WebhookResponse {
    let parts = split_message(&text, MAX_MESSAGE_CHARS);
    if parts.len() == 1 {
        let reply = SendMessage::html(chat, text).in_thread(thread);
        return WebhookResponse {
            status: 200,
            body: reply.as_webhook_reply().to_string(),
        };
    }
    let count = parts.len();
    let messages = parts
        .iter()
        .map(|p| Notification::new(chat, p.as_str()).in_thread(thread))
        .collect();
    match deps.notifier.send(messages).await {
        Ok(outcome) => {
            tracing::info!(chat, parts = count, outcome = ?outcome, "long reply sent through the Bot API");
            WebhookResponse::empty(200)
        }
        Err(e) => {
            tracing::error!(error = %e, "a long reply needs the bot token to send; answering its first part only");
            let first = parts.into_iter().next().unwrap_or_default();
            let notice = format!(
                "\n… ({} more parts not sent: the bot token is not configured)",
                count - 1
            );
            let mut text = first;
            // The first part leaves room for a closing tag, not for a notice: trim lines.
            while telegram_len(&text) + telegram_len(&notice) > MAX_MESSAGE_CHARS {
                match text.rfind('\n') {
                    Some(i) => text.truncate(i),
                    None => break,
                }
            }
            if text.matches("<pre>").count() > text.matches("</pre>").count() {
                text.push_str("</pre>");
            }
            text.push_str(&notice);
            let reply = SendMessage::html(chat, text).in_thread(thread);
            WebhookResponse {
                status: 200,
                body: reply.as_webhook_reply().to_string(),
            }
        }
    }
}

fn telegram_len(text: &str) -> usize {
    text.encode_utf16().count() + "</pre>".len()
}

/// Parses a comma-separated list of chat ids (group ids are negative). Blanks are ignored;
/// anything else that is not an id is an error naming it.
pub fn parse_chat_ids(text: &str) -> Result<Vec<i64>, String> {
    text.split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<i64>()
                .map_err(|_| format!("{s:?} is not a chat id"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_ids_are_comma_separated_and_may_be_negative() {
        assert_eq!(
            parse_chat_ids("1, -100200,42").unwrap(),
            vec![1, -100200, 42]
        );
        assert_eq!(parse_chat_ids(" ").unwrap(), Vec::<i64>::new());
        assert!(parse_chat_ids("1,abc").unwrap_err().contains("abc"));
    }
}
