//! The standard door: OAuth 2.0 token endpoint (RFC 6749), introspection (RFC 7662),
//! revocation (RFC 7009), server metadata (RFC 8414) and a protected resource, `whoami`,
//! answering with RFC 6750 errors.
//!
//! Parameters come from the body only (RFC 6749 §2.3.1 and §3.2 keep credentials out of URLs).
//! The password grant may be used without client authentication, as tessera's own first-party
//! login; a client id sent with an empty secret (requests-oauthlib does that) identifies no
//! client unless it names a registered one, which must then authenticate.

use crate::auth_header::{authorization, Authorization};
use crate::params::{self, Body, ParamError, Params};
use crate::rendered::{json_response, Answer};
use crate::responses::{no_store, with_retry_after};
use crate::state::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use tessera_core::{
    Client, CoreError, Door, GrantType, IssuedToken, Origin, Password, TokenKind, TokenPair,
    TokenSecret, Verified,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/oauth/token", post(token))
        .route("/oauth/introspect", post(introspect))
        .route("/oauth/revoke", post(revoke))
        .route("/.well-known/oauth-authorization-server", get(metadata))
        .route("/api/v1/whoami", get(whoami))
}

const REALM: &str = "tessera";

/// An RFC 6749 §5.2 error response.
#[derive(Debug)]
pub struct OAuthError {
    status: StatusCode,
    code: &'static str,
    description: String,
}

impl OAuthError {
    fn new(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            code,
            description: description.into(),
        }
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
    }

    fn missing(parameter: &str) -> Self {
        Self::invalid_request(format!("the parameter {parameter:?} is missing"))
    }
}

impl From<ParamError> for OAuthError {
    fn from(error: ParamError) -> Self {
        Self {
            status: params::status(&error),
            ..Self::invalid_request(error.to_string())
        }
    }
}

impl From<CoreError> for OAuthError {
    fn from(error: CoreError) -> Self {
        use StatusCode as S;
        match error {
            CoreError::InvalidCredentials => Self::new(
                S::BAD_REQUEST,
                "invalid_grant",
                "The user name or password is incorrect.",
            ),
            CoreError::InvalidClient => Self::invalid_client("Client authentication failed."),
            CoreError::UnauthorizedClient => Self::new(
                S::BAD_REQUEST,
                "unauthorized_client",
                "The client may not use this grant type.",
            ),
            CoreError::InvalidGrant(why) => Self::new(S::BAD_REQUEST, "invalid_grant", why),
            CoreError::Refused(why) => Self::new(S::BAD_REQUEST, "invalid_grant", why.to_string()),
            CoreError::InvalidScope(why) => Self::new(S::BAD_REQUEST, "invalid_scope", why),
            CoreError::InvalidInput(why) | CoreError::NotFound(why) | CoreError::Conflict(why) => {
                Self::invalid_request(why)
            }
            CoreError::Forbidden(why) => Self::new(S::BAD_REQUEST, "unauthorized_client", why),
            CoreError::Busy => Self::new(
                S::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "Too many sign-ins at once; try again shortly.",
            ),
            CoreError::Store(error) => {
                tracing::error!(%error, "the store failed");
                Self::new(
                    S::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "The database is unavailable; try again shortly.",
                )
            }
            CoreError::Internal(error) => {
                tracing::error!(%error, "internal error");
                Self::new(S::INTERNAL_SERVER_ERROR, "server_error", "Internal error.")
            }
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.code, "error_description": self.description });
        let mut response = with_retry_after((self.status, no_store(), Json(body)).into_response());
        if self.status == StatusCode::UNAUTHORIZED {
            let challenge = HeaderValue::from_static("Basic realm=\"tessera\"");
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}

fn origin(peer: SocketAddr) -> Origin {
    Origin::from_ip(Door::OAuth, peer.ip())
}

/// The client a request authenticates as, if any (RFC 6749 §2.3.1: HTTP Basic, or
/// `client_id` and `client_secret` in the body, never both).
async fn request_client(
    state: &AppState,
    authorization: Authorization,
    params: &Params,
    origin: &Origin,
) -> Result<Option<Arc<Client>>, OAuthError> {
    let body_id = params.get("client_id")?;
    let body_secret = params.get("client_secret")?;
    let (id, secret) = match authorization {
        Authorization::Basic { id, secret } => {
            if body_secret.is_some() || body_id.is_some_and(|b| b != id) {
                return Err(OAuthError::invalid_request(
                    "use one method of client authentication, not two",
                ));
            }
            (Some(id), Some(secret))
        }
        Authorization::Malformed => {
            return Err(OAuthError::invalid_client(
                "The Authorization header is not valid HTTP Basic.",
            ))
        }
        Authorization::None | Authorization::Bearer(_) => {
            (body_id.map(str::to_owned), body_secret.map(str::to_owned))
        }
    };
    let Some(id) = id.filter(|id| !id.is_empty()) else {
        if secret.is_some_and(|s| !s.is_empty()) {
            return Err(OAuthError::invalid_request(
                "client_secret without client_id",
            ));
        }
        return Ok(None);
    };
    match secret.filter(|s| !s.is_empty()) {
        Some(secret) => Ok(Some(
            state
                .authority
                .authenticate_client(&id, &TokenSecret::from_presented(secret), origin)
                .await?,
        )),
        // Every registered client is confidential and must authenticate; an unregistered id
        // without a secret is a public client that tessera does not know, so no client at all.
        None if state.authority.client(&id).await?.is_some() => Err(OAuthError::invalid_client(
            "This client must authenticate with its secret.",
        )),
        None => Ok(None),
    }
}

#[derive(Serialize)]
struct TokenResponse<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
    scope: String,
}

fn token_response(
    state: &AppState,
    access: &IssuedToken,
    refresh: Option<&IssuedToken>,
) -> Response {
    let now = state.authority.now();
    // Rounded, so that a token issued a few microseconds ago still says its full lifetime.
    let expires_in = access.token.expires_at.map_or(0, |at| {
        ((at - now).whole_milliseconds().max(0) as i64 + 500) / 1000
    });
    let body = TokenResponse {
        access_token: access.secret.expose(),
        token_type: "Bearer",
        expires_in,
        refresh_token: refresh.map(|r| r.secret.expose()),
        scope: access.token.scope.to_string(),
    };
    (no_store(), Json(body)).into_response()
}

async fn token(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, OAuthError> {
    let origin = origin(peer);
    let params = params::from_body(&headers, body.bytes()?)?;
    let grant = params
        .get("grant_type")?
        .ok_or_else(|| OAuthError::missing("grant_type"))?;
    let grant: GrantType = grant.parse().map_err(|_| {
        OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Use password, client_credentials or refresh_token.",
        )
    })?;
    let client = request_client(&state, authorization(&headers), &params, &origin).await?;
    if client.as_ref().is_some_and(|c| !c.allows(grant)) {
        return Err(CoreError::UnauthorizedClient.into());
    }
    let authority = &state.authority;
    let scope = params.get("scope")?;
    match grant {
        GrantType::Password => {
            let username = params
                .get("username")?
                .ok_or_else(|| OAuthError::missing("username"))?;
            let password = params
                .get("password")?
                .ok_or_else(|| OAuthError::missing("password"))?;
            let password = Password::new(password)?;
            let scope = authority.resolve_scope(scope, client.as_deref())?;
            let code = params.get("totp")?;
            let user = authority
                .authenticate_user_with_code(username, &password, code, &origin)
                .await?;
            let TokenPair { access, refresh } = authority
                .issue_user_pair(&user, client.as_deref(), scope, &origin)
                .await?;
            Ok(token_response(&state, &access, refresh.as_ref()))
        }
        GrantType::ClientCredentials => {
            let client = client.ok_or_else(|| {
                OAuthError::invalid_client(
                    "The client_credentials grant needs client authentication.",
                )
            })?;
            let scope = authority.resolve_scope(scope, Some(&client))?;
            let access = authority
                .issue_client_token(&client, scope, &origin)
                .await?;
            Ok(token_response(&state, &access, None))
        }
        GrantType::RefreshToken => {
            let presented = params
                .get("refresh_token")?
                .ok_or_else(|| OAuthError::missing("refresh_token"))?;
            let TokenPair { access, refresh } = authority
                .refresh(
                    &TokenSecret::from_presented(presented),
                    client.as_deref(),
                    scope,
                    &origin,
                )
                .await?;
            Ok(token_response(&state, &access, refresh.as_ref()))
        }
    }
}

/// RFC 7662. The caller must be an authenticated client or hold an admin's access token.
async fn introspect(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, OAuthError> {
    let origin = origin(peer);
    let params = params::from_body(&headers, body.bytes()?)?;
    let authorized = match authorization(&headers) {
        Authorization::Bearer(token) => state
            .authority
            .verify(&TokenSecret::from_presented(token), &origin)
            .await
            .ok()
            .and_then(|v| v.user)
            .is_some_and(|user| user.is_admin()),
        other => request_client(&state, other, &params, &origin)
            .await?
            .is_some(),
    };
    if !authorized {
        return Err(OAuthError::invalid_client(
            "Introspection needs client authentication or an admin's bearer token.",
        ));
    }
    let presented = params
        .get("token")?
        .ok_or_else(|| OAuthError::missing("token"))?;
    let verified = state
        .authority
        .introspect(&TokenSecret::from_presented(presented), &origin)
        .await?;
    let answer = match &verified {
        Some(verified) => {
            json_response(state.answers.json(Answer::Introspection, verified, || {
                introspection(&state, verified)
            }))
        }
        None => Json(Introspection::INACTIVE).into_response(),
    };
    Ok((no_store(), answer).into_response())
}

/// An RFC 7662 answer, its members in alphabetical order (as they were when it was a JSON map).
/// Typed rather than a `json!` tree: building the tree cost a third of a cached check.
#[derive(Serialize)]
struct Introspection<'a> {
    active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    door: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jti: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<&'a str>,
}

impl Introspection<'_> {
    /// What is said of a token that is not active: nothing else (RFC 7662 §2.2).
    const INACTIVE: Self = Self {
        active: false,
        client_id: None,
        door: None,
        exp: None,
        iat: None,
        iss: None,
        jti: None,
        kind: None,
        scope: None,
        sub: None,
        token_type: None,
        username: None,
    };
}

fn introspection<'a>(state: &'a AppState, verified: &'a Verified) -> Introspection<'a> {
    let token = &verified.token;
    let user = verified.user.as_deref();
    Introspection {
        active: true,
        client_id: token.client_id.as_deref(),
        door: Some(token.door.as_str()),
        exp: token.expires_at.map(|at| at.unix_timestamp()),
        iat: Some(token.created_at.unix_timestamp()),
        iss: Some(&state.issuer),
        jti: Some(token.id.to_string()),
        kind: Some(token.kind.as_str()),
        scope: Some(token.scope.to_string()),
        sub: match user {
            Some(user) => Some(user.uuid.to_string()),
            None => token.client_id.clone(),
        },
        token_type: Some(if token.kind == TokenKind::Refresh {
            "refresh_token"
        } else {
            "Bearer"
        }),
        username: user.map(|u| u.username.as_str()),
    }
}

/// RFC 7009. Unknown tokens are answered 200 like known ones.
async fn revoke(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, OAuthError> {
    let origin = origin(peer);
    let params = params::from_body(&headers, body.bytes()?)?;
    let caller = request_client(&state, authorization(&headers), &params, &origin).await?;
    let presented = params
        .get("token")?
        .ok_or_else(|| OAuthError::missing("token"))?;
    params.get("token_type_hint")?;
    match state
        .authority
        .revoke_secret(
            &TokenSecret::from_presented(presented),
            caller.as_deref(),
            &origin,
        )
        .await
    {
        Ok(()) => Ok((no_store(), StatusCode::OK).into_response()),
        Err(CoreError::Forbidden(_)) if caller.is_none() => Err(OAuthError::invalid_client(
            "The token was issued to a client: authenticate as that client to revoke it.",
        )),
        Err(other) => Err(other.into()),
    }
}

/// RFC 8414 authorization server metadata.
async fn metadata(State(state): State<AppState>) -> Response {
    let issuer = &*state.issuer;
    let client_auth = ["client_secret_basic", "client_secret_post"];
    Json(json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}/oauth/token"),
        "introspection_endpoint": format!("{issuer}/oauth/introspect"),
        "revocation_endpoint": format!("{issuer}/oauth/revoke"),
        "grant_types_supported": GrantType::ALL.map(GrantType::as_str),
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": client_auth,
        "introspection_endpoint_auth_methods_supported": client_auth,
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "scopes_supported": state.authority.known_scopes().iter().collect::<Vec<_>>(),
    }))
    .into_response()
}

/// An RFC 6750 error from a protected resource.
struct BearerError {
    status: StatusCode,
    code: Option<&'static str>,
    description: &'static str,
}

impl IntoResponse for BearerError {
    fn into_response(self) -> Response {
        let challenge = match self.code {
            Some(code) => format!(
                "Bearer realm=\"{REALM}\", error=\"{code}\", error_description=\"{}\"",
                self.description
            ),
            None => format!("Bearer realm=\"{REALM}\""),
        };
        let body = match self.code {
            Some(code) => json!({ "error": code, "error_description": self.description }),
            None => json!({ "error_description": self.description }),
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// Who holds this token: a protected resource for clients to try their tokens on.
/// `whoami`'s answer, in this field order.
#[derive(Serialize)]
struct Whoami<'a> {
    user: Option<WhoamiUser<'a>>,
    client_id: Option<&'a str>,
    scope: String,
    token: WhoamiToken,
}

#[derive(Serialize)]
struct WhoamiUser<'a> {
    id: i64,
    uuid: String,
    username: &'a str,
    display_name: &'a str,
    role: &'static str,
    permissions: Vec<&'static str>,
}

#[derive(Serialize)]
struct WhoamiToken {
    id: i64,
    kind: &'static str,
    door: &'static str,
    created_at: String,
    expires_at: Option<String>,
}

/// Takes the request itself rather than a `HeaderMap`, which axum would copy for every check.
async fn whoami(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Result<Response, BearerError> {
    let presented = match authorization(request.headers()) {
        Authorization::Bearer(token) => token,
        Authorization::None => {
            return Err(BearerError {
                status: StatusCode::UNAUTHORIZED,
                code: None,
                description: "This resource needs a bearer token.",
            })
        }
        Authorization::Basic { .. } | Authorization::Malformed => {
            return Err(BearerError {
                status: StatusCode::BAD_REQUEST,
                code: Some("invalid_request"),
                description: "The Authorization header is not a valid bearer token.",
            })
        }
    };
    let verified = match state
        .authority
        .verify(&TokenSecret::from_presented(presented), &origin(peer))
        .await
    {
        Ok(verified) => verified,
        Err(CoreError::Refused(_)) => {
            return Err(BearerError {
                status: StatusCode::UNAUTHORIZED,
                code: Some("invalid_token"),
                description: "The access token is invalid, expired or revoked.",
            })
        }
        Err(error) => {
            tracing::error!(%error, "a token check failed");
            return Err(BearerError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: Some("temporarily_unavailable"),
                description: "The token cannot be checked right now.",
            });
        }
    };
    let token = &verified.token;
    let rfc3339 = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    // Typed rather than `json!`: this answers every check a service makes, and building a
    // `Value` map for it cost a third of the request (bench/profile, callgrind). Rendered once
    // per cached token and user, then reused (`rendered`).
    let render = || Whoami {
        user: verified.user.as_ref().map(|user| WhoamiUser {
            id: user.id,
            uuid: user.uuid.to_string(),
            username: user.username.as_str(),
            display_name: &user.display_name,
            role: user.role.as_str(),
            permissions: user.permissions.iter().map(|p| p.as_str()).collect(),
        }),
        client_id: token.client_id.as_deref(),
        scope: token.scope.to_string(),
        token: WhoamiToken {
            id: token.id,
            kind: token.kind.as_str(),
            door: token.door.as_str(),
            created_at: rfc3339(token.created_at),
            expires_at: token.expires_at.map(rfc3339),
        },
    };
    Ok(json_response(state.answers.json(
        Answer::Whoami,
        &verified,
        render,
    )))
}
