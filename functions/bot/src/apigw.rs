//! API Gateway HTTP API (payload format 2.0) events as plain JSON, for `screener invoke bot`:
//! the event's secret header and body become an [`UpdateRequest`], and a [`WebhookResponse`]
//! becomes the proxy response API Gateway expects. The Lambda itself uses `lambda_http`.

use serde_json::{Value, json};

use crate::{SECRET_HEADER, UpdateRequest, WebhookResponse};

/// Whether `event` looks like an API Gateway HTTP API event rather than a bare update.
pub fn is_http_api_event(event: &Value) -> bool {
    event.get("requestContext").is_some() && event.get("update_id").is_none()
}

#[derive(Debug, thiserror::Error)]
#[error("not an API Gateway HTTP API event: {0}")]
pub struct EventError(String);

/// The request an HTTP API event carries. Header names are matched case-insensitively.
pub fn request_from_event(event: &Value) -> Result<UpdateRequest, EventError> {
    let headers = event
        .get("headers")
        .and_then(Value::as_object)
        .ok_or_else(|| EventError("no headers object".into()))?;
    let secret_token = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(SECRET_HEADER))
        .and_then(|(_, v)| v.as_str())
        .map(str::to_string);
    let body = match event.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(text)) => {
            if event.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
                base64_decode(text).ok_or_else(|| EventError("body is not valid base64".into()))?
            } else {
                text.clone().into_bytes()
            }
        }
        Some(_) => return Err(EventError("body is not a string".into())),
    };
    let context = event.get("requestContext");
    let field = |name: &str| context.and_then(|c| c.get(name)).and_then(Value::as_str);
    let origin = crate::public_origin(field("domainName"), field("stage"));
    Ok(UpdateRequest {
        secret_token,
        body,
        origin,
    })
}

/// The proxy response for `response`.
pub fn response_to_event(response: &WebhookResponse) -> Value {
    json!({
        "statusCode": response.status,
        "headers": { "content-type": response.content_type() },
        "body": response.body,
        "isBase64Encoded": false,
    })
}

/// API Gateway's base64 (standard alphabet, padded); anything else is not a body we accept.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_header_and_body_are_taken_from_the_event() {
        let event = json!({
            "version": "2.0",
            "headers": {"X-Telegram-Bot-Api-Secret-Token": "s3cret"},
            "requestContext": {"http": {"method": "POST"}},
            "body": "{\"update_id\":1}",
            "isBase64Encoded": false
        });
        assert!(is_http_api_event(&event));
        let request = request_from_event(&event).unwrap();
        assert_eq!(request.secret_token.as_deref(), Some("s3cret"));
        assert_eq!(request.body, b"{\"update_id\":1}");
    }

    #[test]
    fn a_base64_body_is_decoded() {
        let event = json!({
            "headers": {},
            "requestContext": {},
            "body": "eyJ1cGRhdGVfaWQiOjF9",
            "isBase64Encoded": true
        });
        assert_eq!(
            request_from_event(&event).unwrap().body,
            b"{\"update_id\":1}"
        );
        assert!(!is_http_api_event(&json!({"update_id": 1})));
    }

    #[test]
    fn a_body_that_is_not_base64_is_refused() {
        for body in ["eyJ1cGRhdGVfaWQiOjF9=", "eyJ1cGRhd*VfaWQiOjF9", "e"] {
            let event = json!({
                "headers": {},
                "requestContext": {},
                "body": body,
                "isBase64Encoded": true
            });
            assert!(request_from_event(&event).is_err(), "{body}");
        }
    }
}
