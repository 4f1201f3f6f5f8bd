//! Building [`BotDeps`] from the environment: the same `SCREENER_STORE` / `SCREENER_SECRETS`
//! configuration as the workflow's steps (and the same `ALPACA_*` settings for the brokerage),
//! plus the bot's own variables (see [`crate::config`]).

use std::sync::Arc;

use screener_alpaca::AlpacaConfig;
use screener_alpaca::config::{KEY_ID_VARIABLE, SECRET_KEY_VARIABLE};
use screener_aws::{S3Store, SfnClient, SsmSecrets};
use screener_core::config::{Config, SecretsChoice, StoreLocation};
use screener_core::local::{DirStore, EnvSecrets};
use screener_core::ports::{Secrets, Store};

use crate::BotDeps;
use crate::brokerage::{AlpacaBrokerage, Brokerage, FakeBrokerage, NotConfigured};
use crate::config::{BotConfigError, BotSettings, ParamNames};
use crate::rerun::{Rerun, RerunNotConfigured, SfnRerun};

#[derive(Debug, thiserror::Error)]
pub enum WiringError {
    #[error(transparent)]
    Config(#[from] screener_core::config::ConfigError),
    #[error(transparent)]
    Bot(#[from] BotConfigError),
}

/// The AWS SDK configuration, loaded once per process and only when an AWS adapter is used
/// (`AWS_ENDPOINT_URL` points it at a loopback server in tests).
pub async fn aws() -> &'static aws_config::SdkConfig {
    static CONFIG: tokio::sync::OnceCell<aws_config::SdkConfig> =
        tokio::sync::OnceCell::const_new();
    CONFIG.get_or_init(|| screener_aws::aws_config(None)).await
}

/// JSON logs for CloudWatch; `RUST_LOG` filters (default `info`).
pub fn init_lambda_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .without_time()
        .try_init();
}

/// The store the configuration names.
pub async fn store(config: &Config) -> Arc<dyn Store> {
    match &config.store {
        StoreLocation::Dir(path) => Arc::new(DirStore::new(path)),
        StoreLocation::S3 { bucket, prefix } => {
            Arc::new(S3Store::from_config(aws().await, bucket.clone(), prefix))
        }
    }
}

/// SSM in AWS; locally the `TELEGRAM_*` environment variables stand in for the parameters.
pub async fn secrets(config: &Config, params: &ParamNames) -> Arc<dyn Secrets> {
    match config.secrets {
        SecretsChoice::Env => Arc::new(EnvSecrets::new(params.env_mapping())),
        SecretsChoice::Ssm => Arc::new(SsmSecrets::from_config(aws().await)),
    }
}

/// The brokerage behind `/portfolio`, `/account`, `/monitor`, for the configuration in the
/// environment (what `screener bot serve` uses); see [`brokerage_for`].
pub fn brokerage() -> Arc<dyn Brokerage> {
    if fake_brokerage_requested() {
        return Arc::new(FakeBrokerage::demo());
    }
    match Config::from_env() {
        Ok(config) => brokerage_for(&config),
        Err(e) => {
            tracing::error!(error = %e, "no brokerage: the configuration is invalid");
            Arc::new(NotConfigured(
                "the bot's configuration is invalid (the bot's log says why)".into(),
            ))
        }
    }
}

/// The brokerage for `config`. No I/O:
///
/// * `SCREENER_BOT_FAKE_BROKERAGE=1`: [`FakeBrokerage`]'s made-up positions (local demos);
/// * secrets from the environment (local) without `ALPACA_API_KEY_ID` and
///   `ALPACA_API_SECRET_KEY`: [`NotConfigured`], saying which variables to set;
/// * otherwise Alpaca ([`AlpacaBrokerage`]), built as the fetch steps build it: the `ALPACA_*`
///   settings, and the key pair from those variables or, in Lambda, from the SSM parameters
///   `/screener/alpaca/api_key` and `/screener/alpaca/secret_key` (read on the first command;
///   when they do not exist the commands answer how to create them).
pub fn brokerage_for(config: &Config) -> Arc<dyn Brokerage> {
    if fake_brokerage_requested() {
        return Arc::new(FakeBrokerage::demo());
    }
    let alpaca = match AlpacaConfig::from_env() {
        Ok(alpaca) => alpaca,
        Err(e) => {
            tracing::error!(error = %e, "no brokerage: the Alpaca settings are invalid");
            return Arc::new(NotConfigured(
                "the Alpaca settings are not usable (the bot's log says why)".into(),
            ));
        }
    };
    let how_to_configure = match config.secrets {
        SecretsChoice::Env => {
            let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
            let how = format!(
                "set {KEY_ID_VARIABLE} and {SECRET_KEY_VARIABLE} to an Alpaca key pair (paper keys go with the default ALPACA_TRADING_URL), or SCREENER_BOT_FAKE_BROKERAGE=1 for a made-up demo portfolio"
            );
            if !(set(KEY_ID_VARIABLE) && set(SECRET_KEY_VARIABLE)) {
                return Arc::new(NotConfigured(how));
            }
            how
        }
        SecretsChoice::Ssm => format!(
            "the operator can create the SSM SecureString parameters {} and {} with an Alpaca key pair (docs/bot.md)",
            alpaca.key_id_parameter, alpaca.secret_key_parameter
        ),
    };
    Arc::new(AlpacaBrokerage::lazy(config.clone(), how_to_configure))
}

fn fake_brokerage_requested() -> bool {
    std::env::var("SCREENER_BOT_FAKE_BROKERAGE").is_ok_and(|v| v == "1")
}

/// `/rerun` through Step Functions when `SCREENER_STATE_MACHINE_ARN` is set.
pub async fn rerun() -> Arc<dyn Rerun> {
    match std::env::var("SCREENER_STATE_MACHINE_ARN") {
        Ok(arn) if !arn.trim().is_empty() => Arc::new(SfnRerun {
            client: SfnClient::from_config(aws().await),
            state_machine_arn: arn.trim().to_string(),
        }),
        _ => Arc::new(RerunNotConfigured(
            "SCREENER_STATE_MACHINE_ARN is not set".into(),
        )),
    }
}

impl BotDeps {
    /// Everything from the environment, as the Lambda runs. No network I/O.
    pub async fn from_env() -> Result<Self, WiringError> {
        let config = Config::from_env()?;
        let settings = BotSettings::from_env()?;
        let store = store(&config).await;
        let secrets = secrets(&config, &settings.params).await;
        Ok(BotDeps::new(
            store,
            secrets,
            brokerage_for(&config),
            rerun().await,
            settings,
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::brokerage::BrokerageError;

    #[tokio::test]
    async fn locally_without_the_key_pair_the_brokerage_says_which_variables_to_set() {
        let set = |name: &str| std::env::var_os(name).is_some();
        if set(KEY_ID_VARIABLE) || set(SECRET_KEY_VARIABLE) || set("SCREENER_BOT_FAKE_BROKERAGE") {
            eprintln!("skipped: the environment configures a brokerage");
            return;
        }
        let vars = HashMap::from([("SCREENER_SECRETS".to_string(), "env".to_string())]);
        let brokerage = brokerage_for(&Config::from_vars(&vars).unwrap());
        let Err(BrokerageError::NotConfigured(how)) = brokerage.positions().await else {
            panic!("expected NotConfigured");
        };
        assert!(
            how.contains("ALPACA_API_KEY_ID and ALPACA_API_SECRET_KEY")
                && how.contains("SCREENER_BOT_FAKE_BROKERAGE=1"),
            "{how}"
        );
    }
}
