//! The pages: each module reads what it needs through [`crate::data`], builds a view (plain
//! data) and renders it with its template under `templates/` (askama: HTML-escaped by
//! default). Handlers return data; templates render it.

pub mod backtests;
pub mod files;
pub mod history;
pub mod signin;
pub mod symbol;
pub mod today;

use askama::Template;
use http::{Response, StatusCode, header};

use crate::WebResponse;
use crate::auth::AuthError;
use crate::data::DataError;

/// Why a page could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unavailable(String),
}

impl From<DataError> for PageError {
    fn from(e: DataError) -> Self {
        match e {
            DataError::NotFound(what) => PageError::NotFound(format!("Not in the store: {what}")),
            other => {
                tracing::error!(error = %other, "dashboard data unavailable");
                PageError::Unavailable(other.to_string())
            }
        }
    }
}

impl PageError {
    pub fn into_response(self) -> WebResponse {
        let (status, title) = match &self {
            PageError::NotFound(_) => (StatusCode::NOT_FOUND, "Not found"),
            PageError::BadRequest(_) => (StatusCode::BAD_REQUEST, "Bad request"),
            PageError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "Unavailable"),
        };
        message(status, title, &self.to_string())
    }
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    title: &'a str,
    text: &'a str,
    hint: Option<&'a str>,
}

/// A page with a title and a sentence (errors, 404, 405).
pub fn message(status: StatusCode, title: &str, text: &str) -> WebResponse {
    html(
        status,
        &MessagePage {
            title,
            text,
            hint: None,
        },
    )
}

/// 401: no valid session, and what to do about it.
pub fn denied(reason: &AuthError, hint: &str) -> WebResponse {
    let text = match reason {
        AuthError::Malformed => "You are not signed in.".to_string(),
        other => format!("You are not signed in: {other}."),
    };
    html(
        StatusCode::UNAUTHORIZED,
        &MessagePage {
            title: "Sign in to the dashboard",
            text: &text,
            hint: Some(hint),
        },
    )
}

/// A rendered template as an HTML response.
pub fn html(status: StatusCode, page: &impl Template) -> WebResponse {
    match page.render() {
        Ok(body) => Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
            .body(body.into_bytes())
            .expect("an HTML response builds"),
        Err(e) => {
            tracing::error!(error = %e, "a template failed to render");
            Response::builder()
                .status(StatusCode::INTERNAL_SERVER_ERROR)
                .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
                .body(b"the page could not be rendered".to_vec())
                .expect("a plain response builds")
        }
    }
}

/// A page as `Ok`, for handlers that return `Result`.
pub fn ok(page: &impl Template) -> Result<WebResponse, PageError> {
    Ok(html(StatusCode::OK, page))
}

/// JSON for a `data-*` attribute that the page's script reads (escaped by the template).
pub fn json_attr(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).expect("chart data serialises")
}

/// A query string from pairs (values URL-encoded).
pub fn query_string<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        out.append_pair(k, v);
    }
    out.finish()
}
