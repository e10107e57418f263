//! The OWIN-style `/Token` door (DIALECTS §3, seed 002): the password grant of an ASP.NET Web
//! API template, answering with OWIN's bearer token JSON (`userName`, `userId`, `role`,
//! `.issued`, `.expires`) and OWIN's error shape.
//!
//! The seed's own curl sends `GET` with an urlencoded body labelled `application/json`, so the
//! body is read by what it looks like, not by what the request calls it: an object (or array)
//! is JSON, anything else is urlencoded. Parameters come from the body only, as in OWIN, which
//! keeps passwords out of URLs and logs. A new token discards the user's earlier `/Token`
//! tokens, as the seed promises; tokens from the other doors are left alone.

use crate::params::{self, Body, ParamError, Params};
use crate::responses::{no_store, with_retry_after};
use crate::state::AppState;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use serde::Serialize;
use std::net::SocketAddr;
use tessera_core::{
    Binding, CoreError, Door, IssuedToken, Origin, Password, Role, SecretFormat, User,
};
use time::format_description::FormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

pub fn routes() -> Router<AppState> {
    // OWIN matches its token path ignoring case; clients are seen with both spellings.
    let handler = post(token).get(token);
    Router::new()
        .route("/Token", handler.clone())
        .route("/token", handler)
}

/// The message of the ASP.NET template's `GrantResourceOwnerCredentials`, which OWIN clients
/// have been shown for a decade.
const WRONG_CREDENTIALS: &str = "The user name or password is incorrect.";

/// RFC 1123 dates as .NET writes them (`"r"`): `Sun, 13 Sep 2020 09:35:33 GMT`.
const RFC_1123: &[FormatItem<'static>] = format_description!(
    "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
);

/// An error as OWIN's `OAuthAuthorizationServerHandler` writes it: HTTP 400 (or 503 here) and
/// `{"error": ..., "error_description": ...}`, the description left out where OWIN has none.
#[derive(Debug)]
pub struct OwinError {
    status: StatusCode,
    code: &'static str,
    description: Option<String>,
}

impl OwinError {
    fn bad_request(code: &'static str, description: Option<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code,
            description,
        }
    }

    fn invalid_grant() -> Self {
        Self::bad_request("invalid_grant", Some(WRONG_CREDENTIALS.into()))
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        Self::bad_request("invalid_request", Some(description.into()))
    }

    /// OWIN answers an unknown and a missing `grant_type` alike, with no description.
    fn unsupported_grant_type() -> Self {
        Self::bad_request("unsupported_grant_type", None)
    }

    fn unavailable(description: &str) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "temporarily_unavailable",
            description: Some(description.into()),
        }
    }
}

impl From<ParamError> for OwinError {
    fn from(error: ParamError) -> Self {
        Self {
            status: params::status(&error),
            ..Self::invalid_request(error.to_string())
        }
    }
}

impl From<CoreError> for OwinError {
    fn from(error: CoreError) -> Self {
        match error {
            CoreError::InvalidCredentials => Self::invalid_grant(),
            CoreError::Busy => Self::unavailable("Too many sign-ins at once; try again shortly."),
            CoreError::Store(error) => {
                tracing::error!(%error, "the store failed");
                Self::unavailable("The database is unavailable; try again shortly.")
            }
            // A password hashing thread that died: the next request gets a fresh one.
            CoreError::Internal(error) => {
                tracing::error!(%error, "internal error");
                Self::unavailable("Try again shortly.")
            }
            CoreError::InvalidInput(why)
            | CoreError::InvalidScope(why)
            | CoreError::InvalidGrant(why)
            | CoreError::NotFound(why)
            | CoreError::Conflict(why)
            | CoreError::Forbidden(why) => Self::invalid_request(why),
            CoreError::InvalidClient | CoreError::UnauthorizedClient | CoreError::Refused(_) => {
                Self::invalid_grant()
            }
        }
    }
}

impl IntoResponse for OwinError {
    fn into_response(self) -> Response {
        let body = match self.description {
            Some(description) => {
                serde_json::json!({ "error": self.code, "error_description": description })
            }
            None => serde_json::json!({ "error": self.code }),
        };
        with_retry_after((self.status, no_store(), Json(body)).into_response())
    }
}

/// The parameters of the body, whatever `Content-Type` claims: the seed's curl labels an
/// urlencoded body `application/json`, and a client that really sends JSON sends an object.
fn body_params(body: &[u8]) -> Result<Params, ParamError> {
    match body.trim_ascii_start().first() {
        Some(b'{' | b'[') => Params::from_json(body),
        _ => Params::from_urlencoded(body),
    }
}

/// HTTP Basic credentials as RFC 7617 has them: `base64(user ":" password)`, nothing escaped.
/// (The OAuth door's client credentials are form-urlencoded first, RFC 6749 §2.3.1; a user's
/// password with `+` or `%` in it must not be decoded here.)
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OwinError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let malformed =
        || OwinError::invalid_request("The Authorization header is not valid HTTP Basic.");
    if values.next().is_some() {
        return Err(malformed());
    }
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, encoded) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("basic") {
        // A bearer token (or another scheme) does not sign anybody in here.
        return Ok(None);
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (username, password) = decoded.split_once(':').ok_or_else(malformed)?;
    Ok(Some((username.to_owned(), password.to_owned())))
}

/// What the template's `Role` claim says for each of tessera's roles.
fn role_name(role: Role) -> &'static str {
    match role {
        Role::User => "User",
        Role::Admin => "Administrator",
        Role::SuperAdmin => "Super Administrator",
    }
}

fn rfc_1123(at: OffsetDateTime) -> Result<String, OwinError> {
    at.to_offset(UtcOffset::UTC)
        .format(RFC_1123)
        .map_err(|e| CoreError::Internal(format!("a date could not be formatted: {e}")).into())
}

/// The success body, in OWIN's field order.
#[derive(Serialize)]
struct TokenResponse<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: i64,
    #[serde(rename = "userName")]
    user_name: &'a str,
    #[serde(rename = "userId")]
    user_id: String,
    role: &'static str,
    #[serde(rename = ".issued")]
    issued: String,
    #[serde(rename = ".expires")]
    expires: String,
}

fn token_response(
    issued: &IssuedToken,
    user: &User,
    now: OffsetDateTime,
) -> Result<Response, OwinError> {
    let token = &issued.token;
    let expires_at = token.expires_at.ok_or_else(|| {
        OwinError::from(CoreError::Internal("a /Token token without expiry".into()))
    })?;
    // Rounded, so that a token issued a few microseconds ago still says its full lifetime.
    let expires_in = ((expires_at - now).whole_milliseconds().max(0) as i64 + 500) / 1000;
    let body = TokenResponse {
        access_token: issued.secret.expose(),
        token_type: "bearer",
        expires_in,
        user_name: &user.username,
        user_id: user.uuid.to_string(),
        role: role_name(user.role),
        issued: rfc_1123(token.created_at)?,
        expires: rfc_1123(expires_at)?,
    };
    Ok((no_store(), Json(body)).into_response())
}

async fn token(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, OwinError> {
    let origin = Origin::from_ip(Door::Owin, peer.ip());
    let params = body_params(body.bytes()?)?;
    match params.get("grant_type")? {
        Some("password") => {}
        _ => return Err(OwinError::unsupported_grant_type()),
    }
    let (username, password) = match (params.get("username")?, params.get("password")?) {
        (Some(username), Some(password)) => (username.to_owned(), password.to_owned()),
        (None, None) => basic_credentials(&headers)?.ok_or_else(OwinError::invalid_grant)?,
        _ => return Err(OwinError::invalid_grant()),
    };
    if username.is_empty() {
        return Err(OwinError::invalid_grant());
    }
    // An empty or absurdly long password cannot be anybody's: the same answer as a wrong one.
    let password = Password::new(password).map_err(|_| OwinError::invalid_grant())?;

    let authority = &state.authority;
    let user = authority
        .authenticate_user(&username, &password, &origin)
        .await?;
    let issued = authority
        .issue_sole_session(
            &user,
            authority.settings().owin_token_lifetime,
            Binding::None,
            SecretFormat::Tessera,
            &origin,
        )
        .await?;
    token_response(&issued, &user, authority.now())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use time::macros::datetime;

    #[test]
    fn dates_are_rfc_1123_in_gmt() {
        let at = datetime!(2020-09-13 11:35:33 +02:00);
        assert_eq!(rfc_1123(at).unwrap(), "Sun, 13 Sep 2020 09:35:33 GMT");
        let at = datetime!(2020-09-07 09:05:03 UTC);
        assert_eq!(rfc_1123(at).unwrap(), "Mon, 07 Sep 2020 09:05:03 GMT");
    }

    #[test]
    fn the_body_is_read_by_its_shape_not_its_content_type() {
        let form = body_params(b"grant_type=password&username=a%2Bb").unwrap();
        assert_eq!(form.get("username").unwrap(), Some("a+b"));
        let json = body_params(b"  {\"grant_type\":\"password\"}").unwrap();
        assert_eq!(json.get("grant_type").unwrap(), Some("password"));
        assert_eq!(body_params(b"[1]").unwrap_err(), ParamError::InvalidJson);
    }

    #[test]
    fn basic_credentials_are_not_url_decoded() {
        let mut headers = HeaderMap::new();
        let encoded = base64::engine::general_purpose::STANDARD.encode("alice:p+ss%20:word");
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {encoded}")).unwrap(),
        );
        assert_eq!(
            basic_credentials(&headers).unwrap(),
            Some(("alice".into(), "p+ss%20:word".into()))
        );
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        assert_eq!(basic_credentials(&headers).unwrap(), None);
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic !!"));
        assert!(basic_credentials(&headers).is_err());
    }
}
