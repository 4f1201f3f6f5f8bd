//! The dashboard: server-rendered pages over the [`Store`] port, for people signed in through
//! the Telegram bot. One handler, [`handle`], serves `screener dashboard` (a local hyper
//! server) and the `web` Lambda (API Gateway HTTP API) alike.
//!
//! * Pages ([`pages`]): **Today** `/app/`, **Symbol** `/app/symbol/AAPL`, **History**
//!   `/app/history`, **Backtests** `/app/backtests`, and downloads under `/app/files/`. Every
//!   page works without JavaScript; the charts are drawn by TradingView's Lightweight Charts,
//!   vendored in [`assets`] and served from `/app/static/` (no CDN).
//! * Security ([`auth`]): deny by default. Every page and file needs a signed session cookie
//!   whose chat is still on the allow-list; without one the answer is 401 and a page saying to
//!   ask the bot for a link. Sign-in links are single-use. Only `GET` is served, apart from the
//!   sign-in `POST`. Every response carries a strict Content-Security-Policy (scripts only from
//!   our own files, no inline script). Dates, symbols, screen names and backtest ids from the
//!   URL are parsed ([`params`]) and checked against what the store lists before any store key
//!   is made from them.
//! * Data ([`data`]): `latest.json`, manifests, `results.csv`, each run's `digest.json` and the
//!   valid bars, backtests' `summary.json` and `equity.csv`.

pub mod assets;
pub mod auth;
pub mod data;
pub mod pages;
pub mod params;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use http::{Method, Request, Response, StatusCode, header};
use screener_core::ports::{Secrets, SecretsError, Store};

use auth::{AuthError, Session, SigningKey};
use data::Data;

/// The path every page lives under (the HTTP API routes `/app` and `/app/{proxy+}` here).
pub const BASE: &str = "/app";

/// The Content-Security-Policy of every response: our own scripts, styles and images only;
/// no inline script, no framing, forms only to ourselves.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// How long the allow-list is trusted before it is read again from the secrets.
const ALLOW_LIST_TTL: Duration = Duration::from_secs(30);

/// Who may hold a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// The chats listed in this secret (the bot's allow-list, `allowed_chat_ids`), read again
    /// at most every 30 seconds: a chat removed from it loses its session.
    AllowList { secret_name: String },
    /// Only this chat id (the local `screener dashboard`, whose owner signs in with the link it
    /// prints).
    Only(i64),
}

/// The chat id `screener dashboard` signs its owner in as.
pub const LOCAL_OWNER: i64 = 0;

/// What the dashboard is given: built by the composition root.
pub struct WebDeps {
    pub data: Data,
    pub secrets: Arc<dyn Secrets>,
    pub key: SigningKey,
    pub audience: Audience,
    /// Set on pages: what the 401 page tells people to do (`/dashboard` to the bot, or run
    /// `screener dashboard` again).
    pub signin_hint: String,
    allow_list: Mutex<Option<(Instant, Vec<i64>)>>,
    latest_run: Mutex<Option<String>>,
}

impl WebDeps {
    pub fn new(
        store: Arc<dyn Store>,
        secrets: Arc<dyn Secrets>,
        key: SigningKey,
        audience: Audience,
        signin_hint: impl Into<String>,
    ) -> Self {
        WebDeps {
            data: Data::new(store),
            secrets,
            key,
            audience,
            signin_hint: signin_hint.into(),
            allow_list: Mutex::new(None),
            latest_run: Mutex::new(None),
        }
    }

    /// Whether `chat` may use the dashboard now.
    pub async fn allowed(&self, chat: i64) -> Result<bool, AuthError> {
        let secret_name = match &self.audience {
            Audience::Only(owner) => return Ok(chat == *owner),
            Audience::AllowList { secret_name } => secret_name,
        };
        if let Some((read_at, ids)) = self.allow_list.lock().unwrap().as_ref()
            && read_at.elapsed() < ALLOW_LIST_TTL
        {
            return Ok(ids.contains(&chat));
        }
        let ids = match self.secrets.get(secret_name).await {
            Ok(text) => auth::parse_allow_list(text.expose()),
            Err(SecretsError::Missing { .. }) => Vec::new(),
            Err(e) => return Err(AuthError::Unavailable(e.to_string())),
        };
        let allowed = ids.contains(&chat);
        *self.allow_list.lock().unwrap() = Some((Instant::now(), ids));
        Ok(allowed)
    }

    /// A single-use sign-in path (`/app/signin?token=...`) for `chat`.
    pub fn signin_path(&self, chat: i64, now: DateTime<Utc>) -> String {
        format!("{BASE}/signin?token={}", self.key.signin_token(chat, now))
    }

    /// Called with each request's view of `latest.json`: a new run id means a run (or a re-run
    /// of a date) was published, and cached manifests may be stale.
    pub(crate) fn saw_latest_run(&self, run_id: &str) {
        let mut last = self.latest_run.lock().unwrap();
        if last.as_deref() != Some(run_id) {
            self.data.forget_manifests();
            *last = Some(run_id.to_string());
        }
    }
}

/// A response body and its headers, before the security headers are added.
pub type WebResponse = Response<Vec<u8>>;

/// The whole dashboard: one request in, one response out.
pub async fn handle(request: Request<Vec<u8>>, deps: &WebDeps) -> WebResponse {
    let started = Instant::now();
    let path = request.uri().path().to_string();
    let mut response = route(&request, deps).await;
    secure(&mut response);
    tracing::info!(
        method = %request.method(),
        path = %path,
        status = response.status().as_u16(),
        ms = started.elapsed().as_secs_f64() * 1000.0,
        "dashboard request"
    );
    response
}

async fn route(request: &Request<Vec<u8>>, deps: &WebDeps) -> WebResponse {
    let path = request.uri().path();
    let query = request.uri().query().unwrap_or("");
    if path == "/" || path == BASE {
        return redirect(&format!("{BASE}/"));
    }
    let Some(rest) = path.strip_prefix(BASE).and_then(|p| p.strip_prefix('/')) else {
        return pages::message(StatusCode::NOT_FOUND, "Not found", "There is no such page.");
    };
    // Before a session exists: the sign-in and the static files (our scripts, the stylesheet and
    // the chart library's licence; no data).
    if rest == "signin" {
        return match *request.method() {
            Method::GET => pages::signin::form(query),
            Method::POST => pages::signin::submit(request.body(), deps).await,
            _ => method_not_allowed(),
        };
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return method_not_allowed();
    }
    if let Some(name) = rest.strip_prefix("static/") {
        return assets::serve(name);
    }
    let session = match session_of(request, deps).await {
        Ok(session) => session,
        Err(reason) => return pages::denied(&reason, &deps.signin_hint),
    };
    tracing::debug!(chat = session.chat, "signed in");
    let result = match rest {
        "" => pages::today::page(query, deps).await,
        "history" => pages::history::page(deps).await,
        "backtests" => pages::backtests::page(query, deps).await,
        "symbol" => Ok(pages::symbol::search(query)),
        _ => {
            if let Some(symbol) = rest.strip_prefix("symbol/") {
                pages::symbol::page(symbol, deps).await
            } else if let Some(file) = rest.strip_prefix("files/") {
                pages::files::serve(file, deps).await
            } else {
                Err(pages::PageError::NotFound("There is no such page.".into()))
            }
        }
    };
    result.unwrap_or_else(pages::PageError::into_response)
}

async fn session_of(request: &Request<Vec<u8>>, deps: &WebDeps) -> Result<Session, AuthError> {
    let value = request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|h| auth::cookie_value(h, auth::SESSION_COOKIE))
        .ok_or(AuthError::Malformed)?;
    let session = deps.key.check_session(value, Utc::now())?;
    if !deps.allowed(session.chat).await? {
        return Err(AuthError::NotAllowed);
    }
    Ok(session)
}

fn redirect(location: &str) -> WebResponse {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, location)
        .body(Vec::new())
        .expect("a redirect builds")
}

fn method_not_allowed() -> WebResponse {
    let mut response = pages::message(
        StatusCode::METHOD_NOT_ALLOWED,
        "Method not allowed",
        "The dashboard only reads: GET.",
    );
    response
        .headers_mut()
        .insert(header::ALLOW, http::HeaderValue::from_static("GET, HEAD"));
    response
}

/// The headers every response carries.
fn secure(response: &mut WebResponse) {
    let headers = response.headers_mut();
    let set = |headers: &mut http::HeaderMap, name: &'static str, value: &'static str| {
        headers.insert(name, http::HeaderValue::from_static(value));
    };
    set(headers, "content-security-policy", CONTENT_SECURITY_POLICY);
    set(headers, "x-content-type-options", "nosniff");
    set(headers, "referrer-policy", "no-referrer");
    set(headers, "x-frame-options", "DENY");
    set(headers, "cross-origin-opener-policy", "same-origin");
    if !headers.contains_key(header::CACHE_CONTROL) {
        set(headers, "cache-control", "no-store");
    }
}
