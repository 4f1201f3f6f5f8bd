//! The Bot API: the parts of an update the bot reads, HTML escaping, splitting a long reply on
//! line boundaries, and the client that sends messages while respecting Telegram's limits
//! (about 1 message/s per chat, 30/s overall, `retry_after` on 429, 403 for a chat that blocked
//! the bot).

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use screener_core::ports::{Delivery, SecretString};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// Telegram's cap on one message's text.
pub const MAX_MESSAGE_CHARS: usize = 4096;

// ---------------------------------------------------------------------------------------------
// Incoming updates

/// An update as Telegram posts it to the webhook. Only what the bot reads is declared; every
/// other field (and every other kind of update) is accepted and ignored.
#[derive(Debug, Clone, Deserialize)]
pub struct Update {
    pub update_id: i64,
    #[serde(default)]
    pub message: Option<Message>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Message {
    #[serde(default)]
    pub message_id: i64,
    pub chat: Chat,
    #[serde(default)]
    pub text: Option<String>,
    /// Set in forum topics: the reply goes to the same topic.
    #[serde(default)]
    pub message_thread_id: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Chat {
    pub id: i64,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Outgoing text

/// Escapes text for `parse_mode` HTML: the pages' escaping (Telegram needs `<`, `>` and `&`;
/// `"` and `'` come out as entities it also accepts).
pub use screener_core::html::escape;

/// Telegram measures text in UTF-16 code units. Counting the HTML source (tags and entities
/// included) over-estimates the parsed length, which is the safe side.
fn units(text: &str) -> usize {
    text.encode_utf16().count()
}

/// Splits an HTML reply into messages of at most `max` UTF-16 units, on line boundaries. A
/// `<pre>` block cut by a split is closed at the end of one message and reopened at the start
/// of the next, so every message is well-formed on its own. A single line longer than `max` is
/// cut at a character boundary (only sensible for plain text, e.g. a very long URL).
pub fn split_message(text: &str, max: usize) -> Vec<String> {
    const OPEN: &str = "<pre>";
    const CLOSE: &str = "</pre>";
    let max = max.max(OPEN.len() + CLOSE.len() + 16);
    if units(text) <= max {
        return vec![text.to_string()];
    }
    let room = max - OPEN.len() - CLOSE.len() - 1;
    let mut messages = Vec::new();
    let mut current = String::new();
    let mut current_units = 0usize;
    // Whether `current` is only a reopened `<pre>` (no newline after it).
    let mut just_opened = false;
    let mut in_pre = false;
    for line in text.split('\n') {
        for piece in cut(line, room) {
            let pre_after = pre_state_after(&piece, in_pre);
            let piece_units = units(&piece);
            let closing = if pre_after { CLOSE.len() } else { 0 };
            let separator = usize::from(!current.is_empty() && !just_opened);
            if !current.is_empty() && current_units + separator + piece_units + closing > max {
                if in_pre {
                    current.push_str(CLOSE);
                }
                messages.push(std::mem::take(&mut current));
                current_units = 0;
                if in_pre {
                    current.push_str(OPEN);
                    current_units = OPEN.len();
                    just_opened = true;
                }
            }
            if !current.is_empty() && !just_opened {
                current.push('\n');
                current_units += 1;
            }
            current.push_str(&piece);
            current_units += piece_units;
            just_opened = false;
            in_pre = pre_after;
        }
    }
    if !current.trim().is_empty() {
        messages.push(current);
    }
    messages
}

/// `line` in pieces of at most `room` UTF-16 units, cut at character boundaries.
fn cut(line: &str, room: usize) -> Vec<String> {
    if units(line) <= room {
        return vec![line.to_string()];
    }
    let mut pieces = Vec::new();
    let mut piece = String::new();
    let mut piece_units = 0;
    for c in line.chars() {
        if piece_units + c.len_utf16() > room {
            pieces.push(std::mem::take(&mut piece));
            piece_units = 0;
        }
        piece.push(c);
        piece_units += c.len_utf16();
    }
    pieces.push(piece);
    pieces
}

/// Whether a `<pre>` block is open after `line`, given whether one was open before it.
fn pre_state_after(line: &str, mut open: bool) -> bool {
    let mut rest = line;
    loop {
        let next_open = rest.find("<pre>");
        let next_close = rest.find("</pre>");
        match (next_open, next_close) {
            (Some(o), Some(c)) if o < c => {
                open = true;
                rest = &rest[o + 5..];
            }
            (_, Some(c)) => {
                open = false;
                rest = &rest[c + 6..];
            }
            (Some(o), None) => {
                open = true;
                rest = &rest[o + 5..];
            }
            (None, None) => return open,
        }
    }
}

/// A `sendMessage` call: the webhook's response body for a short reply, or the body POSTed
/// to the Bot API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendMessage {
    pub chat_id: i64,
    pub text: String,
    pub parse_mode: String,
    #[serde(default)]
    pub disable_web_page_preview: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_thread_id: Option<i64>,
}

impl SendMessage {
    pub fn html(chat_id: i64, text: String) -> Self {
        SendMessage {
            chat_id,
            text,
            parse_mode: "HTML".into(),
            disable_web_page_preview: true,
            message_thread_id: None,
        }
    }

    pub fn in_thread(mut self, thread: Option<i64>) -> Self {
        self.message_thread_id = thread;
        self
    }

    /// The webhook response form: the method named in the body.
    pub fn as_webhook_reply(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).expect("a message serializes");
        value["method"] = serde_json::Value::String("sendMessage".into());
        value
    }
}

// ---------------------------------------------------------------------------------------------
// The Bot API client

/// What one HTTP attempt answered.
#[derive(Debug, Clone, PartialEq)]
enum Attempt {
    Ok,
    RetryAfter(Duration),
    Blocked,
    Transient(String),
    Permanent(String),
}

/// Telegram's error reply: `{"ok":false,"error_code":429,"description":"...","parameters":{"retry_after":3}}`.
#[derive(Debug, Deserialize)]
struct ApiReply {
    #[serde(default)]
    ok: bool,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<ApiParameters>,
}

#[derive(Debug, Deserialize)]
struct ApiParameters {
    #[serde(default)]
    retry_after: Option<u64>,
}

/// Telegram's limits as the sender applies them. The defaults are Telegram's published ones.
#[derive(Debug, Clone, PartialEq)]
pub struct SendLimits {
    /// Minimum time between two messages to the same chat.
    pub per_chat_interval: Duration,
    /// Messages per second over all chats.
    pub per_second: u32,
    /// Attempts per message on 429 and transient failures.
    pub max_attempts: u32,
    /// A `retry_after` longer than this gives up on the message instead of waiting.
    pub max_retry_after: Duration,
    /// Wait after a transient failure (5xx, network) before the next attempt.
    pub transient_backoff: Duration,
}

impl Default for SendLimits {
    fn default() -> Self {
        SendLimits {
            per_chat_interval: Duration::from_secs(1),
            per_second: 30,
            max_attempts: 5,
            max_retry_after: Duration::from_secs(120),
            transient_backoff: Duration::from_secs(1),
        }
    }
}

/// The Bot API at `base_url` (`https://api.telegram.org`, or a loopback server in tests).
#[derive(Clone)]
pub struct TelegramApi {
    http: reqwest::Client,
    base_url: String,
    token: SecretString,
}

impl std::fmt::Debug for TelegramApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramApi")
            .field("base_url", &self.base_url)
            .field("token", &self.token)
            .finish()
    }
}

impl TelegramApi {
    pub fn new(base_url: &str, token: SecretString) -> Self {
        // reqwest is built without a default TLS crypto provider (see the workspace Cargo.toml):
        // ring, installed once per process; a later call finds it there.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .expect("an HTTP client builds");
        TelegramApi {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            token,
        }
    }

    async fn attempt(&self, message: &SendMessage) -> Attempt {
        let url = format!("{}/bot{}/sendMessage", self.base_url, self.token.expose());
        let response = match self.http.post(&url).json(message).send().await {
            Ok(response) => response,
            // The URL holds the token: describe the failure without it.
            Err(e) => return Attempt::Transient(describe_reqwest(&e)),
        };
        let status = response.status().as_u16();
        let reply: Option<ApiReply> = response.json().await.ok();
        let description = reply
            .as_ref()
            .and_then(|r| r.description.clone())
            .unwrap_or_default();
        match status {
            200 if reply.as_ref().is_none_or(|r| r.ok) => Attempt::Ok,
            429 => {
                let seconds = reply
                    .and_then(|r| r.parameters)
                    .and_then(|p| p.retry_after)
                    .unwrap_or(1);
                Attempt::RetryAfter(Duration::from_secs(seconds.max(1)))
            }
            403 => Attempt::Blocked,
            500..=599 => Attempt::Transient(format!("HTTP {status}: {description}")),
            _ => Attempt::Permanent(format!("HTTP {status}: {description}")),
        }
    }

    /// Sends `messages` in order per chat, spacing them by `limits`. Messages to different
    /// chats are interleaved so that one slow chat does not hold the others up. After a chat
    /// answers 403 ([`Delivery::Blocked`]: the user blocked the bot, or it was removed from
    /// the group), its remaining messages are not sent. Returns one outcome per chat: its
    /// first failure, else [`Delivery::Sent`]; a failure is logged, not retried further.
    pub async fn send_all(
        &self,
        messages: Vec<SendMessage>,
        limits: &SendLimits,
    ) -> Vec<(i64, Delivery)> {
        // Per-chat queues, in first-seen order of chats.
        let mut order: Vec<i64> = Vec::new();
        let mut queues: HashMap<i64, VecDeque<(SendMessage, u32)>> = HashMap::new();
        for message in messages {
            let queue = queues.entry(message.chat_id).or_insert_with(|| {
                order.push(message.chat_id);
                VecDeque::new()
            });
            queue.push_back((message, 0));
        }
        let mut outcome: HashMap<i64, Delivery> = HashMap::new();
        let mut chat_ready: HashMap<i64, Instant> = HashMap::new();
        let global_gap = Duration::from_secs(1) / limits.per_second.max(1);
        let mut global_ready = Instant::now();
        let mut next = 0usize;
        loop {
            let pending: Vec<i64> = order
                .iter()
                .copied()
                .filter(|c| queues.get(c).is_some_and(|q| !q.is_empty()))
                .collect();
            if pending.is_empty() {
                break;
            }
            // Round-robin from `next`: the first chat that may be sent to now, else the one
            // that will be ready soonest.
            let now = Instant::now();
            let ready_at = |c: &i64| chat_ready.get(c).copied().unwrap_or(now);
            let start = next % pending.len();
            let rotated = pending[start..].iter().chain(pending[..start].iter());
            let chat = *rotated
                .min_by_key(|c| ready_at(c).max(now))
                .expect("pending is not empty");
            next = pending.iter().position(|c| *c == chat).unwrap_or(0) + 1;
            let when = ready_at(&chat).max(global_ready);
            tokio::time::sleep_until(when).await;
            let (message, attempts) = queues
                .get_mut(&chat)
                .and_then(|q| q.pop_front())
                .expect("the chat has a message");
            let sent_at = Instant::now();
            global_ready = sent_at + global_gap;
            chat_ready.insert(chat, sent_at + limits.per_chat_interval);
            let attempts = attempts + 1;
            match self.attempt(&message).await {
                Attempt::Ok => {
                    outcome.entry(chat).or_insert(Delivery::Sent);
                }
                Attempt::RetryAfter(wait)
                    if attempts < limits.max_attempts && wait <= limits.max_retry_after =>
                {
                    tracing::warn!(
                        chat,
                        retry_after_s = wait.as_secs(),
                        "Telegram asked to slow down (429)"
                    );
                    chat_ready.insert(chat, Instant::now() + wait);
                    queues
                        .get_mut(&chat)
                        .expect("queue exists")
                        .push_front((message, attempts));
                }
                Attempt::Transient(why) if attempts < limits.max_attempts => {
                    tracing::warn!(chat, error = %why, "sendMessage failed; will retry");
                    chat_ready.insert(chat, Instant::now() + limits.transient_backoff);
                    queues
                        .get_mut(&chat)
                        .expect("queue exists")
                        .push_front((message, attempts));
                }
                Attempt::Blocked => {
                    tracing::info!(chat, "chat blocked the bot (403); dropping it");
                    outcome.insert(chat, Delivery::Blocked);
                    queues.get_mut(&chat).expect("queue exists").clear();
                }
                Attempt::RetryAfter(wait) => {
                    let why = format!("rate limited (retry_after {} s)", wait.as_secs());
                    gave_up(&mut outcome, chat, why);
                }
                Attempt::Transient(why) | Attempt::Permanent(why) => {
                    gave_up(&mut outcome, chat, why);
                }
            }
        }
        order
            .into_iter()
            .map(|chat| {
                let o = outcome
                    .remove(&chat)
                    .unwrap_or(Delivery::Failed("not sent".into()));
                (chat, o)
            })
            .collect()
    }
}

/// A message the sender gave up on: the chat's first failure is its outcome.
fn gave_up(outcome: &mut HashMap<i64, Delivery>, chat: i64, why: String) {
    tracing::error!(chat, error = %why, "sendMessage gave up");
    match outcome.get_mut(&chat) {
        Some(o @ Delivery::Sent) => *o = Delivery::Failed(why),
        Some(_) => {}
        None => {
            outcome.insert(chat, Delivery::Failed(why));
        }
    }
}

fn describe_reqwest(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    // reqwest's Display includes the URL, and so the token: never log it.
    format!("sendMessage {kind}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_special_characters_are_escaped() {
        assert_eq!(
            escape("<b>AT&T</b> \"x\""),
            "&lt;b&gt;AT&amp;T&lt;/b&gt; &quot;x&quot;"
        );
    }

    #[test]
    fn a_short_reply_is_one_message() {
        assert_eq!(split_message("a\nb", 4096), vec!["a\nb"]);
    }

    #[test]
    fn a_long_reply_is_split_on_line_boundaries_under_the_limit() {
        let lines: Vec<String> = (0..500).map(|i| format!("line {i:04}")).collect();
        let text = lines.join("\n");
        let parts = split_message(&text, 1000);
        assert!(parts.len() > 1);
        for part in &parts {
            assert!(units(part) <= 1000, "{}", units(part));
        }
        assert_eq!(parts.join("\n"), text);
    }

    #[test]
    fn a_pre_block_cut_by_a_split_is_closed_and_reopened() {
        let mut text = String::from("<b>title</b>\n<pre>");
        for i in 0..300 {
            text.push_str(&format!("\nrow {i:03} ........"));
        }
        text.push_str("\n</pre>\nafter");
        let parts = split_message(&text, 500);
        assert!(parts.len() > 2);
        for part in &parts {
            assert!(units(part) <= 500);
            assert_eq!(
                part.matches("<pre>").count(),
                part.matches("</pre>").count(),
                "unbalanced: {part}"
            );
        }
        let rows: usize = parts.iter().map(|p| p.matches("row ").count()).sum();
        assert_eq!(rows, 300);
        assert!(parts.last().unwrap().ends_with("after"));
    }

    #[test]
    fn an_overlong_line_is_cut_at_a_character_boundary() {
        let text = "é".repeat(3000);
        let parts = split_message(&text, 1000);
        assert!(parts.iter().all(|p| units(p) <= 1000));
        assert_eq!(parts.concat(), text);
    }

    #[test]
    fn the_webhook_reply_names_the_method() {
        let reply = SendMessage::html(7, "hi".into())
            .in_thread(Some(3))
            .as_webhook_reply();
        assert_eq!(reply["method"], "sendMessage");
        assert_eq!(reply["chat_id"], 7);
        assert_eq!(reply["parse_mode"], "HTML");
        assert_eq!(reply["message_thread_id"], 3);
    }

    #[test]
    fn the_token_never_shows_in_debug_output() {
        let api = TelegramApi::new("http://127.0.0.1:9", SecretString::new("123:SECRET"));
        assert!(!format!("{api:?}").contains("SECRET"));
    }
}
