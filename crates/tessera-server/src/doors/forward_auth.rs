//! `/auth/verify`, for reverse proxies (nginx `auth_request`, Traefik `forwardAuth`): is the
//! token on the original request good? 200 with the holder in `X-Auth-*` headers, or 401.
//!
//! The token is read where the original request carried it: `X-Esri-Authorization: Bearer`
//! (ArcGIS clients use it when `Authorization` belongs to a web tier in front), `Authorization:
//! Bearer`, or an `access_token=` / `token=` query parameter of the original URI
//! (`X-Original-URI` from nginx, `X-Forwarded-Uri` from Traefik, or this request's own query).
//! The `Referer` header, which both proxies pass on, is given to the core so that a token bound
//! to a referer (ArcGIS `client=referer`) is accepted from that web application only.

use crate::auth_header::{authorization, bearer, Authorization};
use crate::params::Params;
use crate::state::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use std::net::SocketAddr;
use tessera_core::{CoreError, Door, Origin, TokenSecret, Verified};

pub fn routes() -> Router<AppState> {
    Router::new().route("/auth/verify", any(verify))
}

/// The query parameters that carry tokens in the vendor dialects (ExtraView, ArcGIS).
const TOKEN_PARAMETERS: [&str; 2] = ["access_token", "token"];

enum Presented {
    Token(String),
    Missing,
    Malformed,
}

/// `X-Esri-Authorization: Bearer <token>`; `None` when the header is absent.
fn esri_authorization(headers: &HeaderMap) -> Option<Presented> {
    let mut values = headers.get_all("x-esri-authorization").iter();
    let value = values.next()?;
    if values.next().is_some() {
        return Some(Presented::Malformed);
    }
    let token = value
        .to_str()
        .ok()
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .and_then(|(_, token)| bearer(token.trim()));
    Some(token.map_or(Presented::Malformed, Presented::Token))
}

fn presented_token(headers: &HeaderMap, uri: &Uri) -> Presented {
    if let Some(presented) = esri_authorization(headers) {
        return presented;
    }
    match authorization(headers) {
        Authorization::Bearer(token) => return Presented::Token(token),
        Authorization::Basic { .. } | Authorization::Malformed => return Presented::Malformed,
        Authorization::None => {}
    }
    let original_query = ["x-original-uri", "x-forwarded-uri"]
        .iter()
        .find_map(|name| headers.get(*name))
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once('?').map(|(_, q)| q.to_owned()))
        .or_else(|| uri.query().map(str::to_owned));
    let Some(query) = original_query else {
        return Presented::Missing;
    };
    let Ok(params) = Params::from_urlencoded(query.as_bytes()) else {
        return Presented::Malformed;
    };
    for name in TOKEN_PARAMETERS {
        match params.get(name) {
            Ok(Some(token)) => return Presented::Token(token.to_owned()),
            Ok(None) => {}
            Err(_) => return Presented::Malformed,
        }
    }
    Presented::Missing
}

/// Takes the request itself rather than a `HeaderMap`, which axum would copy for every check.
async fn verify(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let headers = request.headers();
    let token = match presented_token(headers, request.uri()) {
        Presented::Token(token) => token,
        Presented::Missing => return challenge(StatusCode::UNAUTHORIZED, None),
        Presented::Malformed => return challenge(StatusCode::BAD_REQUEST, Some("invalid_request")),
    };
    let origin = Origin {
        referer: headers
            .get(header::REFERER)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned),
        ..Origin::from_ip(Door::ForwardAuth, peer.ip())
    };
    match state
        .authority
        .verify(&TokenSecret::from_presented(token), &origin)
        .await
    {
        Ok(verified) => {
            let mut response = StatusCode::OK.into_response();
            *response.headers_mut() = state
                .answers
                .headers(&verified, || holder_headers(&verified));
            response
        }
        Err(CoreError::Refused(_)) => challenge(StatusCode::UNAUTHORIZED, Some("invalid_token")),
        Err(error) => {
            tracing::error!(%error, "a token check failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// The holder of a good token, as the `X-Auth-*` headers a proxy passes on to its upstream.
fn holder_headers(verified: &Verified) -> HeaderMap {
    let token = &verified.token;
    let user = verified.user.as_deref();
    // Each value is made once and moved into its header (`from_str` would copy it).
    let text = |value: String| HeaderValue::try_from(value).ok();
    let pairs = [
        ("x-auth-user", user.and_then(|u| text(u.username.clone()))),
        ("x-auth-user-id", user.map(|u| HeaderValue::from(u.id))),
        (
            "x-auth-user-uuid",
            user.and_then(|u| text(u.uuid.to_string())),
        ),
        (
            "x-auth-role",
            user.map(|u| HeaderValue::from_static(u.role.as_str())),
        ),
        ("x-auth-client", token.client_id.clone().and_then(text)),
        ("x-auth-scope", text(token.scope.to_string())),
        ("x-auth-token-id", Some(HeaderValue::from(token.id))),
    ];
    let mut headers = HeaderMap::with_capacity(pairs.len());
    for (name, value) in pairs {
        if let Some(value) = value {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    headers
}

fn challenge(status: StatusCode, error: Option<&str>) -> Response {
    let value = match error {
        Some(error) => format!("Bearer realm=\"tessera\", error=\"{error}\""),
        None => "Bearer realm=\"tessera\"".to_owned(),
    };
    let mut response = status.into_response();
    if let Ok(value) = HeaderValue::from_str(&value) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}
