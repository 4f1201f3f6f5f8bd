//! Alerts after a publish: runs once `results/latest.json` has moved, and tells each Telegram
//! subscriber what entered and left the screens it follows (the fan-out itself is
//! [`screener_telegram::alerts::fan_out`], through the notifier in [`Deps`]). Nothing here can
//! fail the run or move `latest.json` back: every problem is logged and the publish succeeds.
//!
//! With no subscribers nothing is read or sent; with subscribers but no way to send (no bot
//! token: `/screener/telegram/bot_token` in SSM, `TELEGRAM_BOT_TOKEN` locally), a warning
//! says so.

use screener_core::Deps;
use screener_core::workflow::Manifest;
use screener_telegram::alerts::{FanOut, fan_out};
use screener_telegram::subscriptions;

/// Sends the alerts for the run just published. Never fails; logs what happened.
pub async fn after_publish(deps: &Deps, manifest: &Manifest) {
    let store = deps.store.as_ref();
    match subscriptions::load(store).await {
        Ok(subs) if subs.chats.is_empty() => return,
        Ok(_) => {}
        Err(e) => {
            tracing::error!(error = %e, "alerts not sent: the subscriptions are unreadable");
            return;
        }
    }
    if let Err(e) = deps.notifier.ready().await {
        tracing::warn!(error = %e, "alerts not sent: there are subscribers but no bot token");
        return;
    }
    match fan_out(store, deps.notifier.as_ref(), manifest).await {
        Ok(FanOut::Done(report)) => {
            if !report.failed.is_empty() {
                tracing::error!(failed = ?report.failed, "some alerts could not be sent");
            }
        }
        Ok(FanOut::AlreadyDone) => {}
        Err(e) => tracing::error!(error = %e, "alerts failed; the run is published regardless"),
    }
}
