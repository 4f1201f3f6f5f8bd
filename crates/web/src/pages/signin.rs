//! Sign-in: `GET /app/signin?token=...` shows a form holding the token (link previews and
//! prefetchers stop there, so they cannot use up the link); the page's script, or the button
//! without JavaScript, posts it. `POST /app/signin` checks the token, records its single use,
//! checks the chat against the allow-list, and answers with the session cookie and a
//! redirect to Today.

use askama::Template;
use chrono::Utc;
use http::{Response, StatusCode, header};

use crate::auth::{self, AuthError};
use crate::{BASE, WebDeps, WebResponse, params};

#[derive(Template)]
#[template(path = "signin.html")]
struct SigninPage<'a> {
    token: &'a str,
}

pub fn form(query: &str) -> WebResponse {
    let pairs = params::pairs(query);
    match params::first(&pairs, "token") {
        Some(token) if token.len() <= 256 => super::html(StatusCode::OK, &SigninPage { token }),
        _ => super::message(
            StatusCode::BAD_REQUEST,
            "Sign in",
            "This sign-in link has no token. Ask the bot for a new one with /dashboard.",
        ),
    }
}

pub async fn submit(body: &[u8], deps: &WebDeps) -> WebResponse {
    let token = form_urlencoded::parse(body)
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    match sign_in(&token, deps).await {
        Ok(cookie) => Response::builder()
            .status(StatusCode::SEE_OTHER)
            .header(header::LOCATION, format!("{BASE}/"))
            .header(header::SET_COOKIE, cookie)
            .body(Vec::new())
            .expect("a redirect builds"),
        Err(reason) => {
            tracing::warn!(%reason, "sign-in refused");
            super::denied(&reason, &deps.signin_hint)
        }
    }
}

/// The session cookie for a good token, used up now.
async fn sign_in(token: &str, deps: &WebDeps) -> Result<String, AuthError> {
    let now = Utc::now();
    let (chat, nonce) = deps.key.check_signin_token(token, now)?;
    if !deps.allowed(chat).await? {
        return Err(AuthError::NotAllowed);
    }
    auth::consume_signin(deps.data.store(), &nonce, chat).await?;
    Ok(auth::session_cookie(&deps.key.session_value(chat, now)))
}
