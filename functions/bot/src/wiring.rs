//! Building [`BotDeps`] from the environment: the same `SCREENER_STORE` / `SCREENER_SECRETS`
//! configuration as the workflow's steps, plus the bot's own variables (see [`crate::config`]).

use std::sync::Arc;

use screener_aws::{S3Store, SfnClient, SsmSecrets};
use screener_core::config::{Config, SecretsChoice, StoreLocation};
use screener_core::local::{DirStore, EnvSecrets};
use screener_core::ports::{Secrets, Store};

use crate::BotDeps;
use crate::brokerage::{Brokerage, FakeBrokerage, NotConfigured};
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

/// The brokerage behind `/portfolio`, `/account`, `/monitor`.
pub fn brokerage() -> Arc<dyn Brokerage> {
    if std::env::var("SCREENER_BOT_FAKE_BROKERAGE").is_ok_and(|v| v == "1") {
        return Arc::new(FakeBrokerage::demo());
    }
    // TODO(alpaca adapter): build the screener_alpaca trading client here once it lands.
    Arc::new(NotConfigured(
        "the Alpaca adapter is not wired into the bot yet (set SCREENER_BOT_FAKE_BROKERAGE=1 for a local demo)".into(),
    ))
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
            brokerage(),
            rerun().await,
            settings,
        ))
    }
}
