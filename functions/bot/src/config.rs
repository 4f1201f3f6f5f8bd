//! The bot's configuration: where its secrets live (SSM parameter names, or environment
//! variables locally), the Telegram API base URL, and a few knobs. Parsed once from the
//! environment.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use crate::telegram::{DEFAULT_API_URL, SendLimits};

/// Default prefix of the bot's SSM parameters.
pub const DEFAULT_PARAM_PREFIX: &str = "/screener/telegram/";

/// The names of the bot's secrets: SSM parameters in AWS, each mapped to an environment
/// variable locally.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamNames {
    /// SecureString: the bot token from BotFather. Local: `TELEGRAM_BOT_TOKEN`.
    pub bot_token: String,
    /// SecureString: the `secret_token` given to setWebhook. Local: `TELEGRAM_SECRET_TOKEN`.
    pub secret_token: String,
    /// String: comma-separated chat ids that may use the bot. Local: `TELEGRAM_ALLOWED_CHAT_IDS`.
    pub allowed_chats: String,
    /// String: comma-separated chat ids that may `/rerun`. Local: `TELEGRAM_ADMIN_CHAT_IDS`.
    pub admin_chats: String,
}

impl ParamNames {
    pub fn with_prefix(prefix: &str) -> Self {
        let prefix = format!("/{}/", prefix.trim_matches('/'));
        ParamNames {
            bot_token: format!("{prefix}bot_token"),
            secret_token: format!("{prefix}secret_token"),
            allowed_chats: format!("{prefix}allowed_chat_ids"),
            admin_chats: format!("{prefix}admin_chat_ids"),
        }
    }

    /// Parameter name -> the environment variable that stands in for it locally.
    pub fn env_mapping(&self) -> BTreeMap<String, String> {
        [
            (&self.bot_token, "TELEGRAM_BOT_TOKEN"),
            (&self.secret_token, "TELEGRAM_SECRET_TOKEN"),
            (&self.allowed_chats, "TELEGRAM_ALLOWED_CHAT_IDS"),
            (&self.admin_chats, "TELEGRAM_ADMIN_CHAT_IDS"),
        ]
        .into_iter()
        .map(|(name, var)| (name.clone(), var.to_string()))
        .collect()
    }
}

impl Default for ParamNames {
    fn default() -> Self {
        ParamNames::with_prefix(DEFAULT_PARAM_PREFIX)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct BotSettings {
    pub params: ParamNames,
    /// Bot API base URL (`TELEGRAM_API_URL`).
    pub api_url: String,
    /// The bot's @username without `@` (`TELEGRAM_BOT_USERNAME`): commands addressed to other
    /// bots in a group (`/start@OtherBot`) are then ignored.
    pub bot_username: Option<String>,
    /// `/screen` without a name (`SCREENER_BOT_DEFAULT_SCREEN`).
    pub default_screen: String,
    /// `/monitor`'s target for the average unrealised return of the top 5 positions, percent
    /// (`SCREENER_PROFIT_TARGET_PCT`, default 100).
    pub profit_target_pct: f64,
    /// How often `latest.json` is re-read (`SCREENER_BOT_RESULTS_TTL_SECS`, default 30).
    pub results_check_interval: Duration,
    /// Sessions a run may lag before replies warn it is stale (`SCREENER_BOT_STALE_SESSIONS`,
    /// default 1: yesterday's session should have been published by today).
    pub stale_after_sessions: usize,
    /// Rows `/screen` and `/drawdown` show at most.
    pub max_rows: usize,
    pub limits: SendLimits,
}

impl Default for BotSettings {
    fn default() -> Self {
        BotSettings {
            params: ParamNames::default(),
            api_url: DEFAULT_API_URL.into(),
            bot_username: None,
            default_screen: "deepest_drawdown".into(),
            profit_target_pct: 100.0,
            results_check_interval: Duration::from_secs(30),
            stale_after_sessions: 1,
            max_rows: 200,
            limits: SendLimits::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("configuration {variable}={value:?}: {problem}")]
pub struct BotConfigError {
    pub variable: String,
    pub value: String,
    pub problem: String,
}

impl BotSettings {
    pub fn from_env() -> Result<Self, BotConfigError> {
        Self::from_vars(&std::env::vars().collect())
    }

    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, BotConfigError> {
        let get = |name: &str| vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let bad = |variable: &str, value: &str, problem: &str| BotConfigError {
            variable: variable.into(),
            value: value.into(),
            problem: problem.into(),
        };
        let mut settings = BotSettings::default();
        if let Some(prefix) = get("TELEGRAM_PARAM_PREFIX") {
            settings.params = ParamNames::with_prefix(prefix);
        }
        if let Some(url) = get("TELEGRAM_API_URL") {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(bad("TELEGRAM_API_URL", url, "expected an http(s) URL"));
            }
            settings.api_url = url.to_string();
        }
        settings.bot_username =
            get("TELEGRAM_BOT_USERNAME").map(|u| u.trim_start_matches('@').to_string());
        if let Some(screen) = get("SCREENER_BOT_DEFAULT_SCREEN") {
            settings.default_screen = screen.to_string();
        }
        if let Some(v) = get("SCREENER_PROFIT_TARGET_PCT") {
            settings.profit_target_pct = v
                .parse::<f64>()
                .ok()
                .filter(|t| t.is_finite())
                .ok_or_else(|| {
                    bad(
                        "SCREENER_PROFIT_TARGET_PCT",
                        v,
                        "expected a number (percent)",
                    )
                })?;
        }
        if let Some(v) = get("SCREENER_BOT_RESULTS_TTL_SECS") {
            let secs = v
                .parse::<u64>()
                .map_err(|_| bad("SCREENER_BOT_RESULTS_TTL_SECS", v, "expected whole seconds"))?;
            settings.results_check_interval = Duration::from_secs(secs);
        }
        if let Some(v) = get("SCREENER_BOT_STALE_SESSIONS") {
            settings.stale_after_sessions = v
                .parse()
                .map_err(|_| bad("SCREENER_BOT_STALE_SESSIONS", v, "expected a whole number"))?;
        }
        Ok(settings)
    }
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

    #[test]
    fn parameter_names_follow_the_prefix_and_map_to_the_local_variables() {
        let names = ParamNames::with_prefix("screener/prod/telegram");
        assert_eq!(
            names.allowed_chats,
            "/screener/prod/telegram/allowed_chat_ids"
        );
        assert_eq!(
            names.env_mapping()[&names.secret_token],
            "TELEGRAM_SECRET_TOKEN"
        );
        assert_eq!(
            ParamNames::default().bot_token,
            "/screener/telegram/bot_token"
        );
    }

    #[test]
    fn settings_come_from_the_environment() {
        let vars: HashMap<String, String> = [
            ("TELEGRAM_API_URL", "http://127.0.0.1:9"),
            ("SCREENER_PROFIT_TARGET_PCT", "50"),
            ("TELEGRAM_BOT_USERNAME", "@screener_bot"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let s = BotSettings::from_vars(&vars).unwrap();
        assert_eq!(s.api_url, "http://127.0.0.1:9");
        assert_eq!(s.profit_target_pct, 50.0);
        assert_eq!(s.bot_username.as_deref(), Some("screener_bot"));
        let bad: HashMap<String, String> =
            [("SCREENER_PROFIT_TARGET_PCT".to_string(), "lots".to_string())].into();
        assert_eq!(
            BotSettings::from_vars(&bad).unwrap_err().variable,
            "SCREENER_PROFIT_TARGET_PCT"
        );
    }
}
