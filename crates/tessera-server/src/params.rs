//! Request parameters as the doors read them over HTTP: the body (with the server's size
//! limit), and the parsing rules of [`tessera_wire::params`] applied to it.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use std::convert::Infallible;
pub use tessera_wire::params::{ParamError, Params};

/// The HTTP status a parameter error deserves: 413 for a body over the limit, else 400.
pub fn status(error: &ParamError) -> StatusCode {
    match error {
        ParamError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// A request's body, or why it could not be read: unlike axum's `Bytes`, a body over the limit
/// reaches the door, which answers it in its own format.
pub struct Body(Result<Bytes, ParamError>);

impl Body {
    pub fn bytes(&self) -> Result<&[u8], ParamError> {
        self.0.as_deref().map_err(Clone::clone)
    }
}

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = Infallible;

    async fn from_request(request: Request, state: &S) -> Result<Self, Infallible> {
        Ok(Body(Bytes::from_request(request, state).await.map_err(
            |rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ParamError::TooLarge
                } else {
                    ParamError::Unreadable
                }
            },
        )))
    }
}

fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
}

/// The body's parameters, read by its `Content-Type`.
pub fn from_body(headers: &HeaderMap, body: &[u8]) -> Result<Params, ParamError> {
    Params::from_body(content_type(headers), body)
}

/// The query string's parameters and the body's together (ExtraView, ArcGIS).
pub fn from_query_and_body(
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Params, ParamError> {
    Params::from_query_and_body(uri.query(), content_type(headers), body)
}
