//! `/dashboard`: a single-use sign-in link to the web dashboard for this chat, signed with the
//! dashboard's key (an SSM parameter, read through the Secrets port), good for 10 minutes. The
//! dashboard records its use with a conditional write, so a forwarded or replayed link fails;
//! the session it buys is re-checked against the same allow-list on every request.

use chrono::Utc;
use screener_core::ports::SecretsError;
use screener_telegram::api::escape;
use screener_web::auth::SigningKey;

use crate::BotDeps;

/// `origin` is the address the webhook was called on (behind API Gateway, the same HTTP API
/// serves the dashboard under `/app`); the dashboard URL parameter, when set, wins over it (a
/// custom domain, or locally, where the bot and `screener dashboard` listen apart).
pub(super) async fn dashboard(chat: i64, origin: Option<&str>, deps: &BotDeps) -> String {
    let params = &deps.settings.params;
    let base = match (deps.secrets.get(&params.dashboard_url).await, origin) {
        (Ok(url), _) => url.expose().to_string(),
        (Err(_), Some(origin)) => origin.to_string(),
        (Err(_), None) => {
            return format!(
                "The dashboard's address is not set: put it in the SSM parameter <code>{}</code> (locally <code>SCREENER_DASHBOARD_URL</code>, e.g. the address <code>screener dashboard</code> printed, without /app/).",
                escape(&params.dashboard_url)
            );
        }
    };
    let name = &params.dashboard_key;
    let key = match deps.secrets.get(name).await {
        Ok(key) => SigningKey::new(key),
        Err(SecretsError::Missing { .. }) => {
            return format!(
                "The dashboard has no signing key yet: put a long random value in the SSM SecureString parameter <code>{}</code> (locally <code>SCREENER_DASHBOARD_KEY</code>).",
                escape(name)
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "the dashboard key could not be read");
            return "Sorry, I could not make a sign-in link just now. Please try again.".into();
        }
    };
    let token = key.signin_token(chat, Utc::now());
    let url = format!("{}/app/signin?token={token}", base.trim_end_matches('/'));
    format!(
        "<a href=\"{}\">Open the dashboard</a>\nThe link works once, for 10 minutes, for this chat only: don't forward it. The session lasts 12 hours.",
        escape(&url)
    )
}
