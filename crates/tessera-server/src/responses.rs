//! Response pieces every door that hands out secrets needs.

use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;

/// An answer with a token (or a credential error) in it must not be cached (RFC 6749 §5.1);
/// OWIN and ArcGIS send the same two headers.
pub fn no_store() -> [(HeaderName, HeaderValue); 2] {
    [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::PRAGMA, HeaderValue::from_static("no-cache")),
    ]
}

/// A 503 (too many sign-ins waiting for a password hash, or the database away) tells the
/// client when to try again.
pub fn with_retry_after(mut response: Response) -> Response {
    if response.status() == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}
