//! The dashboard as a Lambda behind the stack's HTTP API (`/app`, `/app/{proxy+}`): wiring
//! only. The store and secrets come from the composition root; the signing key is the SSM
//! parameter `<TELEGRAM_PARAM_PREFIX>dashboard_key` (the bot signs `/dashboard` links with it);
//! sessions are re-checked against the bot's allow-list. The work is [`screener_web::handle`].

use std::sync::Arc;

use lambda_http::{Body, Error, Request, Response, service_fn};
use screener_web::auth::SigningKey;
use screener_web::{Audience, WebDeps};

#[tokio::main]
async fn main() -> Result<(), Error> {
    screener_composition::init_lambda_tracing();
    let (config, deps) = screener_composition::wire("web").await?;
    let params = &config.bot.params;
    let key = deps.secrets.get(&params.dashboard_key).await?;
    let web = Arc::new(WebDeps::new(
        deps.store,
        deps.secrets,
        SigningKey::new(key),
        Audience::AllowList {
            secret_name: params.allowed_chats.clone(),
        },
        "Send /dashboard to the Telegram bot for a new sign-in link.",
    ));
    lambda_http::run(service_fn(move |request: Request| {
        let web = web.clone();
        async move {
            let (parts, body) = request.into_parts();
            let request = lambda_http::http::Request::from_parts(parts, body.to_vec());
            let response = screener_web::handle(request, &web).await;
            let (parts, body) = response.into_parts();
            Ok::<_, Error>(Response::from_parts(parts, Body::from(body)))
        }
    }))
    .await
}
