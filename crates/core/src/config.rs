//! One typed configuration, parsed once from environment variables (the names `template.yaml`
//! sets on every function). The CLI builds the same struct from flags layered over the
//! environment. Which adapters run is decided here, and nowhere else.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use crate::synthetic;
use crate::validation::ValidationRules;

#[derive(Debug, Clone, PartialEq)]
pub enum StoreLocation {
    Dir(PathBuf),
    S3 { bucket: String, prefix: String },
}

impl StoreLocation {
    /// `s3://bucket/prefix` or a directory path.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        if let Some(rest) = text.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(ConfigError::new(
                    "SCREENER_STORE",
                    text,
                    "an s3:// URL needs a bucket name",
                ));
            }
            let prefix = prefix.trim_matches('/');
            let prefix = if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            };
            Ok(StoreLocation::S3 {
                bucket: bucket.to_string(),
                prefix,
            })
        } else if text.trim().is_empty() {
            Err(ConfigError::new(
                "SCREENER_STORE",
                text,
                "empty; give a directory or s3://bucket/prefix",
            ))
        } else {
            Ok(StoreLocation::Dir(PathBuf::from(text)))
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum SourceChoice {
    Synthetic { seed: u64, symbols: usize },
    Csv(PathBuf),
    Alpaca,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretsChoice {
    Env,
    Ssm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsChoice {
    Log,
    CloudWatch,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Symbols per Map iteration; [`BATCH_SIZE_AUTO`] lets FetchUniverse size batches so a
    /// backfill fills its last page of bars (the default for Alpaca).
    pub batch_size: usize,
    /// Calendar days of history fetched for each symbol.
    pub lookback_days: u32,
    pub validation: ValidationRules,
    /// `dev` or `prod`: the metrics dimension.
    pub environment: String,
    /// A screens TOML file replacing the built-in screens.
    pub screens_file: Option<PathBuf>,
}

/// Default prefix of the Telegram bot's SSM parameters.
pub const DEFAULT_PARAM_PREFIX: &str = "/screener/telegram/";
/// Telegram's Bot API.
pub const DEFAULT_TELEGRAM_API_URL: &str = "https://api.telegram.org";

/// The names of the Telegram bot's secrets: SSM parameters in AWS, each mapped to an
/// environment variable locally.
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
    /// SecureString: the dashboard's HMAC key, which the bot's `/dashboard` signs sign-in links
    /// with and the web Lambda checks them and its sessions with. Local: `SCREENER_DASHBOARD_KEY`.
    pub dashboard_key: String,
    /// String, optional in AWS: where the dashboard is (without `/app/`), for the bot's
    /// `/dashboard` links. Behind API Gateway the bot uses the address its webhook came through
    /// (the same HTTP API serves the dashboard), so this is needed only for a custom domain, and
    /// locally (`SCREENER_DASHBOARD_URL`), where the bot and `screener dashboard` listen apart.
    pub dashboard_url: String,
}

impl ParamNames {
    pub fn with_prefix(prefix: &str) -> Self {
        let prefix = format!("/{}/", prefix.trim_matches('/'));
        ParamNames {
            bot_token: format!("{prefix}bot_token"),
            secret_token: format!("{prefix}secret_token"),
            allowed_chats: format!("{prefix}allowed_chat_ids"),
            admin_chats: format!("{prefix}admin_chat_ids"),
            dashboard_key: format!("{prefix}dashboard_key"),
            dashboard_url: format!("{prefix}dashboard_url"),
        }
    }

    /// Parameter name -> the environment variable that stands in for it locally.
    pub fn env_mapping(&self) -> BTreeMap<String, String> {
        [
            (&self.bot_token, "TELEGRAM_BOT_TOKEN"),
            (&self.secret_token, "TELEGRAM_SECRET_TOKEN"),
            (&self.allowed_chats, "TELEGRAM_ALLOWED_CHAT_IDS"),
            (&self.admin_chats, "TELEGRAM_ADMIN_CHAT_IDS"),
            (&self.dashboard_key, "SCREENER_DASHBOARD_KEY"),
            (&self.dashboard_url, "SCREENER_DASHBOARD_URL"),
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

/// Telegram: where the bot's secrets are and where the Bot API is (the bot and publish's
/// alerts), and the bot's own knobs.
#[derive(Debug, Clone, PartialEq)]
pub struct BotSettings {
    /// `TELEGRAM_PARAM_PREFIX`.
    pub params: ParamNames,
    /// Bot API base URL (`TELEGRAM_API_URL`; tests point it at a loopback server).
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
    /// The store key of the bars file `/backtest` runs on (`SCREENER_BACKTEST_BARS`); unset,
    /// the last file under `uploads/`.
    pub backtest_bars: Option<String>,
}

impl Default for BotSettings {
    fn default() -> Self {
        BotSettings {
            params: ParamNames::default(),
            api_url: DEFAULT_TELEGRAM_API_URL.into(),
            bot_username: None,
            default_screen: "deepest_drawdown".into(),
            profit_target_pct: 100.0,
            results_check_interval: Duration::from_secs(30),
            stale_after_sessions: 1,
            max_rows: 200,
            backtest_bars: None,
        }
    }
}

impl BotSettings {
    /// The Telegram settings in `vars` (the process environment in practice).
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |name: &str| vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let mut settings = BotSettings::default();
        if let Some(prefix) = get("TELEGRAM_PARAM_PREFIX") {
            settings.params = ParamNames::with_prefix(prefix);
        }
        if let Some(url) = get("TELEGRAM_API_URL") {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError::new(
                    "TELEGRAM_API_URL",
                    url,
                    "expected an http(s) URL",
                ));
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
                    ConfigError::new(
                        "SCREENER_PROFIT_TARGET_PCT",
                        v,
                        "expected a number (percent)",
                    )
                })?;
        }
        if let Some(v) = get("SCREENER_BOT_RESULTS_TTL_SECS") {
            let secs = v.parse::<u64>().map_err(|_| {
                ConfigError::new("SCREENER_BOT_RESULTS_TTL_SECS", v, "expected whole seconds")
            })?;
            settings.results_check_interval = Duration::from_secs(secs);
        }
        settings.backtest_bars = get("SCREENER_BACKTEST_BARS").map(str::to_string);
        if let Some(v) = get("SCREENER_BOT_STALE_SESSIONS") {
            settings.stale_after_sessions = v.parse().map_err(|_| {
                ConfigError::new("SCREENER_BOT_STALE_SESSIONS", v, "expected a whole number")
            })?;
        }
        Ok(settings)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub store: StoreLocation,
    pub source: SourceChoice,
    pub secrets: SecretsChoice,
    pub metrics: MetricsChoice,
    pub settings: Settings,
    /// Telegram: the bot, and the alerts publish sends.
    pub bot: BotSettings,
    /// Both `ALPACA_API_KEY_ID` and `ALPACA_API_SECRET_KEY` are set (a local key pair).
    pub alpaca_key_pair: bool,
    /// `SCREENER_BOT_FAKE_BROKERAGE=1`: the bot's brokerage is a made-up demo portfolio.
    pub fake_brokerage: bool,
    /// `SCREENER_STATE_MACHINE_ARN`: the workflow the bot's `/rerun` starts.
    pub state_machine_arn: Option<String>,
    /// `SCREENER_BACKTEST_STATE_MACHINE_ARN`: the backtest workflow the bot's `/backtest` starts.
    pub backtest_state_machine_arn: Option<String>,
    /// The `ALPACA_*` settings (URLs, feed, rate limits, parameter names), parsed by
    /// `screener_alpaca::AlpacaConfig::from_vars` when the composition root builds the client;
    /// the key pair itself is not kept here (it is read through the secrets port).
    pub alpaca_settings: HashMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("configuration {variable}={value:?}: {problem}")]
pub struct ConfigError {
    pub variable: String,
    pub value: String,
    pub problem: String,
}

impl ConfigError {
    pub fn new(variable: &str, value: &str, problem: &str) -> Self {
        ConfigError {
            variable: variable.to_string(),
            value: value.to_string(),
            problem: problem.to_string(),
        }
    }
}

pub const DEFAULT_DATA_DIR: &str = "screener-data";
pub const DEFAULT_BATCH_SIZE: usize = 100;
/// `SCREENER_BATCH_SIZE=auto`: FetchUniverse chooses the batch size from the lookback and the
/// source's page size (see `screener_alpaca::batching`).
pub const BATCH_SIZE_AUTO: usize = 0;
/// With both set (and `SCREENER_SOURCE` unset), the source is Alpaca.
pub const ALPACA_CREDENTIAL_VARIABLES: [&str; 2] = ["ALPACA_API_KEY_ID", "ALPACA_API_SECRET_KEY"];
pub const DEFAULT_LOOKBACK_DAYS: u32 = 400;

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&std::env::vars().collect())
    }

    /// Parses the configuration from a map of variables (the process environment in practice).
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |name: &str| vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let in_lambda = get("AWS_LAMBDA_FUNCTION_NAME").is_some();
        fn number<T: std::str::FromStr>(
            name: &str,
            value: Option<&str>,
            default: T,
        ) -> Result<T, ConfigError> {
            match value {
                None => Ok(default),
                Some(v) => v
                    .parse()
                    .map_err(|_| ConfigError::new(name, v, "not a whole number")),
            }
        }

        let store = match get("SCREENER_STORE") {
            Some(text) => StoreLocation::parse(text)?,
            None if in_lambda => {
                return Err(ConfigError::new(
                    "SCREENER_STORE",
                    "",
                    "not set; in Lambda it must be s3://BUCKET/prefix (template.yaml sets it)",
                ));
            }
            None => StoreLocation::Dir(PathBuf::from(DEFAULT_DATA_DIR)),
        };
        let symbols = number(
            "SCREENER_SYNTHETIC_SYMBOLS",
            get("SCREENER_SYNTHETIC_SYMBOLS"),
            synthetic::DEFAULT_SYMBOLS,
        )?;
        if symbols == 0 || symbols > synthetic::MAX_SYMBOLS {
            return Err(ConfigError::new(
                "SCREENER_SYNTHETIC_SYMBOLS",
                &symbols.to_string(),
                &format!("must be 1..={}", synthetic::MAX_SYMBOLS),
            ));
        }
        let seed = number(
            "SCREENER_SYNTHETIC_SEED",
            get("SCREENER_SYNTHETIC_SEED"),
            synthetic::DEFAULT_SEED,
        )?;
        let alpaca_credentials = ALPACA_CREDENTIAL_VARIABLES
            .iter()
            .all(|name| get(name).is_some());
        let source = match get("SCREENER_SOURCE") {
            None if alpaca_credentials => SourceChoice::Alpaca,
            None | Some("synthetic") => SourceChoice::Synthetic { seed, symbols },
            Some("alpaca") => SourceChoice::Alpaca,
            Some(text) => match text.strip_prefix("csv:") {
                Some(path) if !path.is_empty() => SourceChoice::Csv(PathBuf::from(path)),
                _ => {
                    return Err(ConfigError::new(
                        "SCREENER_SOURCE",
                        text,
                        "expected synthetic, csv:PATH or alpaca",
                    ));
                }
            },
        };
        let secrets = match get("SCREENER_SECRETS") {
            None if in_lambda => SecretsChoice::Ssm,
            None | Some("env") => SecretsChoice::Env,
            Some("ssm") => SecretsChoice::Ssm,
            Some(other) => {
                return Err(ConfigError::new(
                    "SCREENER_SECRETS",
                    other,
                    "expected env or ssm",
                ));
            }
        };
        let metrics = match get("SCREENER_METRICS") {
            None if in_lambda => MetricsChoice::CloudWatch,
            None | Some("log") => MetricsChoice::Log,
            Some("cloudwatch") => MetricsChoice::CloudWatch,
            Some(other) => {
                return Err(ConfigError::new(
                    "SCREENER_METRICS",
                    other,
                    "expected log or cloudwatch",
                ));
            }
        };
        let batch_size = match get("SCREENER_BATCH_SIZE") {
            Some("auto") => BATCH_SIZE_AUTO,
            None if source == SourceChoice::Alpaca => BATCH_SIZE_AUTO,
            value => {
                let n = number("SCREENER_BATCH_SIZE", value, DEFAULT_BATCH_SIZE)?;
                if !(1..=2_000).contains(&n) {
                    return Err(ConfigError::new(
                        "SCREENER_BATCH_SIZE",
                        &n.to_string(),
                        "must be 1..=2000, or auto",
                    ));
                }
                n
            }
        };
        let defaults = ValidationRules::default();
        let settings = Settings {
            batch_size,
            lookback_days: number(
                "SCREENER_LOOKBACK_DAYS",
                get("SCREENER_LOOKBACK_DAYS"),
                DEFAULT_LOOKBACK_DAYS,
            )?,
            validation: ValidationRules {
                min_history_bars: number(
                    "SCREENER_MIN_HISTORY_BARS",
                    get("SCREENER_MIN_HISTORY_BARS"),
                    defaults.min_history_bars,
                )?,
                max_missing_sessions: number(
                    "SCREENER_MAX_MISSING_SESSIONS",
                    get("SCREENER_MAX_MISSING_SESSIONS"),
                    defaults.max_missing_sessions,
                )?,
                max_stale_sessions: number(
                    "SCREENER_MAX_STALE_SESSIONS",
                    get("SCREENER_MAX_STALE_SESSIONS"),
                    defaults.max_stale_sessions,
                )?,
            },
            environment: get("SCREENER_ENVIRONMENT").unwrap_or("dev").to_string(),
            screens_file: get("SCREENER_SCREENS_FILE").map(PathBuf::from),
        };
        Ok(Config {
            store,
            source,
            secrets,
            metrics,
            settings,
            bot: BotSettings::from_vars(vars)?,
            alpaca_key_pair: alpaca_credentials,
            fake_brokerage: get("SCREENER_BOT_FAKE_BROKERAGE") == Some("1"),
            state_machine_arn: get("SCREENER_STATE_MACHINE_ARN").map(str::to_string),
            backtest_state_machine_arn: get("SCREENER_BACKTEST_STATE_MACHINE_ARN")
                .map(str::to_string),
            alpaca_settings: vars
                .iter()
                .filter(|(name, _)| {
                    name.starts_with("ALPACA_")
                        && !ALPACA_CREDENTIAL_VARIABLES.contains(&name.as_str())
                })
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn alpaca_settings_are_kept_without_the_key_pair() {
        let config = Config::from_vars(&vars(&[
            ("ALPACA_FEED", "sip"),
            ("ALPACA_DATA_URL", "http://127.0.0.1:9"),
            ("ALPACA_API_KEY_ID", "key"),
            ("ALPACA_API_SECRET_KEY", "secret"),
            ("SCREENER_BATCH_SIZE", "50"),
        ]))
        .unwrap();
        assert_eq!(
            config.alpaca_settings,
            vars(&[
                ("ALPACA_FEED", "sip"),
                ("ALPACA_DATA_URL", "http://127.0.0.1:9")
            ])
        );
        assert!(config.alpaca_key_pair);
        assert!(!format!("{config:?}").contains("secret\""));
    }

    #[test]
    fn defaults_run_locally_on_the_synthetic_market() {
        let config = Config::from_vars(&vars(&[])).unwrap();
        assert_eq!(
            config.store,
            StoreLocation::Dir(PathBuf::from("screener-data"))
        );
        assert!(matches!(
            config.source,
            SourceChoice::Synthetic { symbols: 500, .. }
        ));
        assert_eq!(
            (config.secrets, config.metrics),
            (SecretsChoice::Env, MetricsChoice::Log)
        );
    }

    #[test]
    fn in_lambda_the_aws_adapters_are_the_default_and_the_store_is_required() {
        let err = Config::from_vars(&vars(&[("AWS_LAMBDA_FUNCTION_NAME", "f")])).unwrap_err();
        assert_eq!(err.variable, "SCREENER_STORE");
        let config = Config::from_vars(&vars(&[
            ("AWS_LAMBDA_FUNCTION_NAME", "f"),
            ("SCREENER_STORE", "s3://bucket/some/prefix/"),
        ]))
        .unwrap();
        assert_eq!(
            config.store,
            StoreLocation::S3 {
                bucket: "bucket".into(),
                prefix: "some/prefix/".into()
            }
        );
        assert_eq!(
            (config.secrets, config.metrics),
            (SecretsChoice::Ssm, MetricsChoice::CloudWatch)
        );
    }

    #[test]
    fn alpaca_is_the_default_source_when_both_credentials_are_set() {
        let both = [
            ("ALPACA_API_KEY_ID", "PK123"),
            ("ALPACA_API_SECRET_KEY", "s3cr3t"),
        ];
        let config = Config::from_vars(&vars(&both)).unwrap();
        assert_eq!(config.source, SourceChoice::Alpaca);
        assert_eq!(config.settings.batch_size, BATCH_SIZE_AUTO);
        // One of the two is not enough, and an explicit source wins.
        let config = Config::from_vars(&vars(&both[..1])).unwrap();
        assert!(matches!(config.source, SourceChoice::Synthetic { .. }));
        let mut explicit = both.to_vec();
        explicit.push(("SCREENER_SOURCE", "synthetic"));
        explicit.push(("SCREENER_BATCH_SIZE", "50"));
        let config = Config::from_vars(&vars(&explicit)).unwrap();
        assert!(matches!(config.source, SourceChoice::Synthetic { .. }));
        assert_eq!(config.settings.batch_size, 50);
        let config = Config::from_vars(&vars(&[("SCREENER_BATCH_SIZE", "auto")])).unwrap();
        assert_eq!(config.settings.batch_size, BATCH_SIZE_AUTO);
    }

    #[test]
    fn telegram_parameter_names_follow_the_prefix_and_map_to_the_local_variables() {
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
    fn bot_settings_come_from_the_environment() {
        let s = Config::from_vars(&vars(&[
            ("TELEGRAM_API_URL", "http://127.0.0.1:9"),
            ("SCREENER_PROFIT_TARGET_PCT", "50"),
            ("TELEGRAM_BOT_USERNAME", "@screener_bot"),
        ]))
        .unwrap()
        .bot;
        assert_eq!(s.api_url, "http://127.0.0.1:9");
        assert_eq!(s.profit_target_pct, 50.0);
        assert_eq!(s.bot_username.as_deref(), Some("screener_bot"));
        let bad = vars(&[("SCREENER_PROFIT_TARGET_PCT", "lots")]);
        assert_eq!(
            Config::from_vars(&bad).unwrap_err().variable,
            "SCREENER_PROFIT_TARGET_PCT"
        );
    }

    #[test]
    fn bad_values_name_the_variable_and_the_choices() {
        let err = Config::from_vars(&vars(&[("SCREENER_SOURCE", "yahoo")])).unwrap_err();
        assert!(
            err.to_string().contains("SCREENER_SOURCE") && err.to_string().contains("csv:PATH")
        );
        let err = Config::from_vars(&vars(&[("SCREENER_BATCH_SIZE", "lots")])).unwrap_err();
        assert_eq!(err.variable, "SCREENER_BATCH_SIZE");
        assert!(Config::from_vars(&vars(&[("SCREENER_SYNTHETIC_SYMBOLS", "0")])).is_err());
    }
}
