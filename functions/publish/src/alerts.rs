//! Alerts after a publish: runs once `results/latest.json` has moved, and tells each Telegram
//! subscriber what entered and left the screens it follows (the fan-out itself is
//! [`bot::alerts::fan_out`], shared with the bot). Nothing here can fail the run or move
//! `latest.json` back: every problem is logged and the publish succeeds.
//!
//! Configuration: the bot token from the `Secrets` port (`/screener/telegram/bot_token` in
//! SSM, or `TELEGRAM_BOT_TOKEN` locally; `TELEGRAM_PARAM_PREFIX` changes the prefix), the API
//! base URL from `TELEGRAM_API_URL`. With no subscribers nothing is read or written; with
//! subscribers but no token, a warning says so.

use screener_core::Deps;
use screener_core::config::Config;
use screener_core::workflow::Manifest;

use bot::alerts::{FanOut, fan_out};
use bot::config::BotSettings;
use bot::telegram::TelegramApi;

/// The alert sender's configuration, read from the environment at each publish (once a day;
/// cheap), so that it follows the environment it runs in.
struct AlertConfig {
    settings: BotSettings,
    secrets: std::sync::Arc<dyn screener_core::ports::Secrets>,
}

async fn config() -> Option<AlertConfig> {
    let settings = match BotSettings::from_env() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "alerts are off: bad Telegram configuration");
            return None;
        }
    };
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "alerts are off: bad configuration");
            return None;
        }
    };
    let secrets = bot::wiring::secrets(&config, &settings.params).await;
    Some(AlertConfig { settings, secrets })
}

/// Sends the alerts for the run just published. Never fails; logs what happened.
pub async fn after_publish(deps: &Deps, manifest: &Manifest) {
    let store = deps.store.as_ref();
    match bot::subscriptions::load(store).await {
        Ok(subs) if subs.chats.is_empty() => return,
        Ok(_) => {}
        Err(e) => {
            tracing::error!(error = %e, "alerts not sent: the subscriptions are unreadable");
            return;
        }
    }
    let Some(config) = config().await else {
        return;
    };
    let token = match config.secrets.get(&config.settings.params.bot_token).await {
        Ok(token) => token,
        Err(e) => {
            tracing::warn!(error = %e, "alerts not sent: there are subscribers but no bot token");
            return;
        }
    };
    let api = TelegramApi::new(&config.settings.api_url, token);
    match fan_out(store, &api, &config.settings.limits, manifest).await {
        Ok(FanOut::Done(report)) => {
            if !report.failed.is_empty() {
                tracing::error!(failed = ?report.failed, "some alerts could not be sent");
            }
        }
        Ok(FanOut::AlreadyDone) => {}
        Err(e) => tracing::error!(error = %e, "alerts failed; the run is published regardless"),
    }
}
