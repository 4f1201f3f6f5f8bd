//! One typed configuration, parsed once from environment variables (the names `template.yaml`
//! sets on every function). The CLI builds the same struct from flags layered over the
//! environment. Which adapters run is decided here, and nowhere else.

use std::collections::HashMap;
use std::path::PathBuf;

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

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub store: StoreLocation,
    pub source: SourceChoice,
    pub secrets: SecretsChoice,
    pub metrics: MetricsChoice,
    pub settings: Settings,
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
