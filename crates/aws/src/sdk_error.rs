//! One way to say what an SDK call failed on, for every adapter: the operation, then the
//! service's error code and message with the HTTP status, or the transport failure with its
//! causes. Never the SDK's `Debug` dump.

use std::error::Error;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

/// The service's error code (`NoSuchKey`, `ParameterNotFound`, ...), if it sent one.
pub(crate) fn code<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> Option<&str> {
    match err {
        SdkError::ServiceError(service) => service.err().code(),
        _ => None,
    }
}

/// The HTTP status of the response, if there was one.
pub(crate) fn status<E>(err: &SdkError<E, HttpResponse>) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

/// `"GetObject failed: AccessDenied: Access Denied (HTTP 403)"`,
/// `"GetObject failed: could not reach the service: io error: ... Connection refused"`.
pub(crate) fn describe<E>(operation: &str, err: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + Error + 'static,
{
    let what = match err {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let inner = service.err();
            match (inner.code(), inner.message()) {
                (Some(code), Some(message)) if !message.is_empty() => {
                    format!("{code}: {message} (HTTP {status})")
                }
                (Some(code), _) => format!("{code} (HTTP {status})"),
                (None, _) => format!("HTTP {status} without an error code"),
            }
        }
        SdkError::TimeoutError(_) => format!("timed out{}", causes(err)),
        SdkError::DispatchFailure(_) => format!("could not reach the service{}", causes(err)),
        SdkError::ResponseError(response) => format!(
            "unreadable response (HTTP {}){}",
            response.raw().status().as_u16(),
            causes(err)
        ),
        SdkError::ConstructionFailure(_) => {
            format!("could not build the request{}", causes(err))
        }
        _ => format!("unexpected failure{}", causes(err)),
    };
    format!("{operation} failed: {what}")
}

/// `": cause: its cause: ..."` for every source below `err`, or `""`.
fn causes(err: &(dyn Error + 'static)) -> String {
    let mut text = String::new();
    let mut next = err.source();
    while let Some(cause) = next {
        let line = cause.to_string();
        // Wrappers often repeat their source's text; say each thing once.
        if !line.is_empty() && !text.ends_with(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        next = cause.source();
    }
    text
}
