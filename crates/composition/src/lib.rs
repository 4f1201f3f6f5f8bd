//! The composition root, shared by the Lambda binaries and the CLI: [`build_deps`] turns a
//! [`Config`] into the adapters it names (store, market data and how a batch's bars are read,
//! metrics, secrets, notifier), and
//! [`build_brokerage`] and [`build_rerun`] the bot's two more; [`wire`] does it from the
//! environment, once per container; [`serve_step`] runs a step handler behind the Lambda
//! Runtime API, reporting each [`StepError`] under the stable name the state machine matches,
//! and [`serve_http`] runs the bot's and the dashboard's handlers on a local HTTP server.
//! No handler builds a client or reads an environment variable: they are given [`Deps`].

mod local_http;
pub use local_http::serve_http;

use std::future::Future;
use std::sync::Arc;

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use std::collections::BTreeMap;

use aws_config::SdkConfig;
use screener_alpaca::brokerage::AlpacaBrokerage;
use screener_alpaca::config::{KEY_ID_VARIABLE, SECRET_KEY_VARIABLE};
use screener_alpaca::history::StoredHistory;
use screener_alpaca::{Alpaca, AlpacaConfig, CredentialSource};
use screener_aws::{CloudWatchMetrics, S3Store, SfnBacktests, SfnClient, SfnRerun, SsmSecrets};
use screener_core::Deps;
use screener_core::backtest::ScreenSpec;
use screener_core::config::{Config, MetricsChoice, SecretsChoice, SourceChoice, StoreLocation};
use screener_core::csv_source::CsvMarket;
use screener_core::local::{
    BacktestsNotConfigured, BrokerageNotConfigured, DirStore, EnvSecrets, FakeBrokerage,
    LogMetrics, MarketBars, RerunNotConfigured,
};
use screener_core::ports::{
    Backtests, BarSource, Brokerage, MarketData, Metrics, Notifier, Rerun, Secrets, Store,
};
use screener_core::synthetic::SyntheticMarket;
use screener_core::workflow::error_names::CONFIG_INVALID;
use screener_core::workflow::{StepError, parse_input};
use screener_telegram::TelegramNotifier;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::OnceCell;

pub const METRICS_NAMESPACE: &str = "StockScreener/Business";

#[derive(Debug, thiserror::Error)]
pub enum WiringError {
    #[error(transparent)]
    Config(#[from] screener_core::config::ConfigError),
    #[error("market data source: {0}")]
    Source(String),
    #[error("{0}")]
    Unsupported(String),
}

/// The AWS SDK configuration, loaded once per process and only if an AWS adapter is used.
/// The endpoint comes from `AWS_ENDPOINT_URL` when set (a loopback server in tests).
pub async fn aws() -> &'static SdkConfig {
    static CONFIG: OnceCell<SdkConfig> = OnceCell::const_new();
    CONFIG.get_or_init(|| screener_aws::aws_config(None)).await
}

/// The secrets adapter the configuration names: SSM, or locally environment variables, with
/// the `TELEGRAM_*` variables standing in for the Telegram bot's parameters.
pub async fn build_secrets(config: &Config) -> Arc<dyn Secrets> {
    match config.secrets {
        SecretsChoice::Env => Arc::new(EnvSecrets::new(config.bot.params.env_mapping())),
        SecretsChoice::Ssm => Arc::new(SsmSecrets::from_config(aws().await)),
    }
}

/// Telegram's Bot API at `TELEGRAM_API_URL`, with the bot token from `secrets` (read on the
/// first message, not here).
pub fn build_notifier(config: &Config, secrets: Arc<dyn Secrets>) -> Arc<dyn Notifier> {
    Arc::new(TelegramNotifier::new(
        &config.bot.api_url,
        secrets,
        &config.bot.params.bot_token,
    ))
}

/// The Alpaca client: the `ALPACA_*` settings of the configuration; the key pair from
/// `ALPACA_API_KEY_ID`/`ALPACA_API_SECRET_KEY` locally, or from the SSM parameters
/// `ALPACA_API_KEY_PARAMETER`/`ALPACA_SECRET_KEY_PARAMETER` (defaults `/screener/alpaca/api_key`
/// and `/screener/alpaca/secret_key`) with `SCREENER_SECRETS=ssm` (the default in Lambda). The
/// secrets are read on the first request, not here. One client per process: its connection
/// pool and rate limiter are shared by every batch of a local run.
pub async fn build_alpaca(config: &Config) -> Result<Alpaca, WiringError> {
    let alpaca = AlpacaConfig::from_vars(&config.alpaca_settings)
        .map_err(|e| WiringError::Source(e.to_string()))?;
    alpaca_client(config, alpaca).await
}

async fn alpaca_client(config: &Config, alpaca: AlpacaConfig) -> Result<Alpaca, WiringError> {
    let (secrets, described_as): (Arc<dyn Secrets>, String) = match config.secrets {
        SecretsChoice::Env => {
            let mapping = BTreeMap::from([
                (alpaca.key_id_parameter.clone(), KEY_ID_VARIABLE.to_string()),
                (
                    alpaca.secret_key_parameter.clone(),
                    SECRET_KEY_VARIABLE.to_string(),
                ),
            ]);
            (
                Arc::new(EnvSecrets::new(mapping)),
                format!("the environment variables {KEY_ID_VARIABLE} and {SECRET_KEY_VARIABLE}"),
            )
        }
        SecretsChoice::Ssm => (
            build_secrets(config).await,
            format!(
                "the SSM SecureString parameters {} (key id) and {} (secret key)",
                alpaca.key_id_parameter, alpaca.secret_key_parameter
            ),
        ),
    };
    let credentials = CredentialSource {
        secrets,
        key_id_name: alpaca.key_id_parameter.clone(),
        secret_key_name: alpaca.secret_key_parameter.clone(),
        described_as,
    };
    Alpaca::new(alpaca, credentials).map_err(|e| WiringError::Source(e.to_string()))
}

/// Builds the adapters the configuration names. Cheap: no network I/O happens here, so a
/// Lambda's init stays short.
pub async fn build_deps(config: &Config) -> Result<Deps, WiringError> {
    let store: Arc<dyn Store> = match &config.store {
        StoreLocation::Dir(path) => Arc::new(DirStore::new(path)),
        StoreLocation::S3 { bucket, prefix } => {
            Arc::new(S3Store::from_config(aws().await, bucket.clone(), prefix))
        }
    };
    let market: Arc<dyn MarketData> = match &config.source {
        SourceChoice::Synthetic { seed, symbols } => Arc::new(
            SyntheticMarket::new(*seed, *symbols)
                .map_err(|e| WiringError::Source(e.to_string()))?,
        ),
        SourceChoice::Csv(path) => {
            Arc::new(CsvMarket::open(path).map_err(|e| WiringError::Source(e.to_string()))?)
        }
        SourceChoice::Alpaca => Arc::new(build_alpaca(config).await?),
    };
    // Alpaca's bars go through the history kept in the store; the offline sources are read whole.
    let bars: Arc<dyn BarSource> = match &config.source {
        SourceChoice::Alpaca => Arc::new(StoredHistory::new(store.clone(), market.clone())),
        SourceChoice::Synthetic { .. } | SourceChoice::Csv(_) => {
            Arc::new(MarketBars(market.clone()))
        }
    };
    let secrets = build_secrets(config).await;
    let metrics: Arc<dyn Metrics> = match config.metrics {
        MetricsChoice::Log => Arc::new(LogMetrics {
            namespace: METRICS_NAMESPACE.into(),
            environment: config.settings.environment.clone(),
        }),
        MetricsChoice::CloudWatch => Arc::new(CloudWatchMetrics::from_config(
            aws().await,
            METRICS_NAMESPACE,
            config.settings.environment.clone(),
        )),
    };
    Ok(Deps {
        store,
        market,
        bars,
        metrics,
        notifier: build_notifier(config, secrets.clone()),
        secrets,
        settings: config.settings.clone(),
    })
}

/// The brokerage behind the bot's `/portfolio`, `/account`, `/monitor`. No I/O:
///
/// * `SCREENER_BOT_FAKE_BROKERAGE=1`: [`FakeBrokerage`]'s made-up positions (local demos);
/// * secrets from the environment (local) without `ALPACA_API_KEY_ID` and
///   `ALPACA_API_SECRET_KEY`: [`BrokerageNotConfigured`], saying which variables to set;
/// * otherwise Alpaca ([`AlpacaBrokerage`]), built as the fetch steps build it
///   ([`build_alpaca`]): the `ALPACA_*` settings, and the key pair from those variables or, in
///   Lambda, from the SSM parameters `/screener/alpaca/api_key` and
///   `/screener/alpaca/secret_key` (read on the first command; when they do not exist the
///   commands answer how to create them).
pub async fn build_brokerage(config: &Config) -> Arc<dyn Brokerage> {
    if config.fake_brokerage {
        return Arc::new(FakeBrokerage::demo());
    }
    let unusable = |error: &dyn std::fmt::Display| -> Arc<dyn Brokerage> {
        tracing::error!(%error, "no brokerage: the Alpaca settings are invalid");
        Arc::new(BrokerageNotConfigured(
            "the Alpaca settings are not usable (the bot's log says why)".into(),
        ))
    };
    let alpaca = match AlpacaConfig::from_vars(&config.alpaca_settings) {
        Ok(alpaca) => alpaca,
        Err(e) => return unusable(&e),
    };
    let how_to_configure = match config.secrets {
        SecretsChoice::Env => {
            let how = format!(
                "set {KEY_ID_VARIABLE} and {SECRET_KEY_VARIABLE} to an Alpaca key pair (paper keys go with the default ALPACA_TRADING_URL), or SCREENER_BOT_FAKE_BROKERAGE=1 for a made-up demo portfolio"
            );
            if !config.alpaca_key_pair {
                return Arc::new(BrokerageNotConfigured(how));
            }
            how
        }
        SecretsChoice::Ssm => format!(
            "the operator can create the SSM SecureString parameters {} and {} with an Alpaca key pair (docs/bot.md)",
            alpaca.key_id_parameter, alpaca.secret_key_parameter
        ),
    };
    match alpaca_client(config, alpaca).await {
        Ok(client) => Arc::new(AlpacaBrokerage::new(client, how_to_configure)),
        Err(e) => unusable(&e),
    }
}

/// The bot's `/rerun`: the deployed state machine (`SCREENER_STATE_MACHINE_ARN`) through Step
/// Functions, else a refusal saying it is not configured.
pub async fn build_rerun(config: &Config) -> Arc<dyn Rerun> {
    match &config.state_machine_arn {
        Some(arn) => Arc::new(SfnRerun {
            client: SfnClient::from_config(aws().await),
            state_machine_arn: arn.clone(),
        }),
        None => Arc::new(RerunNotConfigured(
            "SCREENER_STATE_MACHINE_ARN is not set".into(),
        )),
    }
}

/// The bot's `/backtest`: the deployed backtest state machine
/// (`SCREENER_BACKTEST_STATE_MACHINE_ARN`) through Step Functions, else a refusal saying it is
/// not configured. (`screener bot serve` runs the workflow in-process instead.)
pub async fn build_backtests(config: &Config) -> Arc<dyn Backtests> {
    match &config.backtest_state_machine_arn {
        Some(arn) => Arc::new(SfnBacktests {
            client: SfnClient::from_config(aws().await),
            state_machine_arn: arn.clone(),
        }),
        None => Arc::new(BacktestsNotConfigured(
            "SCREENER_BACKTEST_STATE_MACHINE_ARN is not set".into(),
        )),
    }
}

/// The screens `/backtest` offers: the configured screens file (`SCREENER_SCREENS_FILE`), else
/// the embedded default, as the daily run screens.
pub fn build_screen_specs(config: &Config) -> Result<Vec<ScreenSpec>, WiringError> {
    let Some(path) = &config.settings.screens_file else {
        return Ok(screener_core::backtest::default_screen_specs().to_vec());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| WiringError::Unsupported(format!("screens file {}: {e}", path.display())))?;
    screener_core::backtest::screen_specs(&text)
        .map_err(|e| WiringError::Unsupported(format!("screens file: {e}")))
}

/// The Lambda error for a step failure: its type is the stable name `Retry`/`Catch` match.
pub fn diagnostic(error: StepError) -> Diagnostic {
    Diagnostic {
        error_type: error.name().to_string(),
        error_message: error.to_string(),
    }
}

/// JSON logs for CloudWatch; `RUST_LOG` filters (default `info`).
pub fn init_lambda_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .without_time() // CloudWatch stamps every line
        .try_init();
}

/// The configuration from the environment and the adapters it names: what a Lambda builds
/// once per container. A configuration that cannot be used is logged and reported to Lambda
/// as an init error named `Config.Invalid` (the caller then exits).
pub async fn wire(function: &str) -> Result<(Config, Deps), WiringError> {
    let wired = async {
        let config = Config::from_env()?;
        let deps = build_deps(&config).await?;
        Ok((config, deps))
    }
    .await;
    if let Err(error) = &wired {
        tracing::error!(function, error = CONFIG_INVALID, cause = %error, "cannot start");
        report_init_error(&diagnostic_for_init(error)).await;
    }
    wired
}

/// An init failure (bad configuration) as Lambda should report it.
fn diagnostic_for_init(error: &WiringError) -> Diagnostic {
    Diagnostic {
        error_type: CONFIG_INVALID.to_string(),
        error_message: error.to_string(),
    }
}

/// Tells the Lambda service why this function cannot start (`POST /runtime/init/error`), so
/// the failed invocation and the logs name the configuration problem instead of a bare
/// `Runtime.ExitError`. Best effort: a failure to report is logged, and the caller exits
/// either way.
async fn report_init_error(diagnostic: &Diagnostic) {
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        return; // not in Lambda
    }
    let body = serde_json::to_vec(diagnostic).unwrap_or_default();
    let request = lambda_runtime_api_client::build_request()
        .method("POST")
        .uri("/2018-06-01/runtime/init/error")
        .header("lambda-runtime-function-error-type", &diagnostic.error_type)
        .header("content-type", "application/json")
        .body(lambda_runtime_api_client::body::Body::from(body));
    let sent: Result<(), lambda_runtime::Error> = match (
        request,
        lambda_runtime_api_client::Client::builder().build(),
    ) {
        (Ok(request), Ok(client)) => client.call(request).await.map(|_| ()),
        (Err(e), _) => Err(e.into()),
        (_, Err(e)) => Err(e.into()),
    };
    if let Err(error) = sent {
        tracing::error!(%error, "could not report the init error to the Lambda Runtime API");
    }
}

/// Runs one step handler as a Lambda function: reads the configuration, builds the adapters
/// once per container, parses each event into the step's input type (a bad event is
/// `Input.Invalid`, naming the problem), and reports errors under their stable names. A
/// configuration that cannot be used is reported to Lambda as an init error named
/// `Config.Invalid`, and the process exits.
pub async fn serve_step<I, O, F, Fut>(
    step: &'static str,
    handler: F,
) -> Result<(), lambda_runtime::Error>
where
    I: DeserializeOwned + Send,
    O: Serialize,
    F: Fn(I, Deps) -> Fut,
    Fut: Future<Output = Result<O, StepError>>,
{
    init_lambda_tracing();
    let (_, deps) = wire(step).await?;
    let handler = &handler;
    let deps = &deps;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let input: I = parse_input(step, event.payload).map_err(diagnostic)?;
            let output = handler(input, deps.clone()).await.map_err(|error| {
                tracing::error!(step, error = error.name(), cause = %error, "step failed");
                diagnostic(error)
            })?;
            Ok::<O, Diagnostic>(output)
        },
    ))
    .await
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use screener_core::ports::BrokerageError;

    use super::*;

    #[tokio::test]
    async fn locally_without_the_key_pair_the_brokerage_says_which_variables_to_set() {
        let vars = HashMap::from([("SCREENER_SECRETS".to_string(), "env".to_string())]);
        let brokerage = build_brokerage(&Config::from_vars(&vars).unwrap()).await;
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
