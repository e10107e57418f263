//! The Zabbix JSON-RPC door (DIALECTS §4, seed 003): `POST /api_jsonrpc.php` as Zabbix 6.0
//! answers it, for scripts and tools written for Zabbix (zabbix_utils, pyzabbix, Ansible).
//!
//! This module reads the JSON-RPC body (single or batch) with [`tessera_wire::zabbix`],
//! authenticates the caller by the body's `auth` field (Zabbix up to 6.x) or
//! `Authorization: Bearer` (6.4 and later), and hands the method to `users.rs` or `tokens.rs`;
//! `tessera_wire::zabbix::get` reads the common `*.get` parameters.

mod tokens;
mod users;

use crate::auth_header::{authorization, Authorization};
use crate::params::{self, Body};
use crate::responses::with_retry_after;
use crate::state::AppState;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter};
use axum::Router;
use serde_json::{json, Value};
use std::net::SocketAddr;
use tessera_core::{CoreError, Door, Origin, Refusal, TokenKind, TokenSecret, User};
pub use tessera_wire::zabbix::ZabbixError;
use tessera_wire::zabbix::{envelope, get, Envelope};

pub fn routes() -> Router<AppState> {
    // Zabbix's frontend answers any method; GET with a body is read like POST, and OPTIONS
    // (a CORS preflight) gets an empty 200.
    let methods = MethodFilter::POST
        .or(MethodFilter::GET)
        .or(MethodFilter::OPTIONS);
    Router::new()
        .route("/api_jsonrpc.php", on(methods, api))
        .route("/zabbix/api_jsonrpc.php", on(methods, api))
}

/// What a method handler gets.
pub struct Call<'a> {
    pub state: &'a AppState,
    pub origin: Origin,
    pub params: Value,
    /// The signed-in user and the secret they used, for methods that need one.
    pub caller: Option<(User, String)>,
}

impl Call<'_> {
    pub fn user(&self) -> Result<&User, ZabbixError> {
        self.caller
            .as_ref()
            .map(|(user, _)| user)
            .ok_or_else(ZabbixError::not_authorized)
    }
}

type MethodResult = Result<Value, ZabbixError>;

/// The params as a list of objects: Zabbix's `create` and `update` take one object or an array.
fn objects(params: &Value) -> Vec<&Value> {
    match params {
        Value::Array(items) => items.iter().collect(),
        single => vec![single],
    }
}

/// Methods that are called without authentication, and must be.
const WITHOUT_AUTH: [&str; 3] = ["apiinfo.version", "user.login", "user.checkauthentication"];

/// The content types Zabbix's frontend accepts, exactly as it compares them.
const CONTENT_TYPES: [&str; 3] = [
    "application/json-rpc",
    "application/json",
    "application/jsonrequest",
];

async fn api(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: axum::http::Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if method == axum::http::Method::OPTIONS {
        return StatusCode::OK.into_response();
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim());
    if !content_type.is_some_and(|t| CONTENT_TYPES.contains(&t)) {
        return StatusCode::PRECONDITION_FAILED.into_response();
    }
    let not_a_request = || {
        Some(error_response(
            &Value::Null,
            &ZabbixError::invalid_request("The received JSON is not a valid JSON-RPC request."),
        ))
    };
    let body = match body.bytes() {
        Ok(bytes) => bytes,
        // Zabbix's PHP would stop at its post_max_size; tessera says why, in JSON-RPC.
        Err(error) => {
            let answer = error_response(
                &Value::Null,
                &ZabbixError::invalid_request(format!("{error}.")),
            );
            return (
                params::status(&error),
                [(header::CONTENT_TYPE, "application/json")],
                answer.to_string(),
            )
                .into_response();
        }
    };
    let mut unavailable = false;
    let answer = match serde_json::from_slice::<Value>(body) {
        Err(_) => Some(error_response(&Value::Null, &ZabbixError::parse_error())),
        Ok(Value::Array(batch)) if batch.is_empty() => not_a_request(),
        Ok(Value::Object(object)) if object.is_empty() => not_a_request(),
        Ok(Value::Array(batch)) => {
            let mut answers = Vec::with_capacity(batch.len());
            for request in batch {
                let (answer, failed) = one(&state, peer, &headers, request).await;
                unavailable |= failed;
                answers.extend(answer);
            }
            (!answers.is_empty()).then_some(Value::Array(answers))
        }
        Ok(request @ Value::Object(_)) => {
            let (answer, failed) = one(&state, peer, &headers, request).await;
            unavailable |= failed;
            answer
        }
        Ok(_) => not_a_request(),
    };
    // Zabbix answers every call with 200; tessera says 503 (with Retry-After) when the
    // database or the sign-in queue failed a call, so that load balancers and retrying
    // clients see it. The body is the same JSON-RPC error either way.
    let status = if unavailable {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    with_retry_after(match answer {
        Some(answer) => (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            answer.to_string(),
        )
            .into_response(),
        None => status.into_response(),
    })
}

fn error_response(id: &Value, error: &ZabbixError) -> Value {
    json!({ "jsonrpc": "2.0", "error": error.to_json(), "id": id })
}

/// Answers one request; `None` for a notification (no `id`), which gets no answer unless the
/// request itself is malformed (Zabbix answers those with id null). Also says whether the call
/// failed because the service is unavailable.
async fn one(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    request: Value,
) -> (Option<Value>, bool) {
    let id = request.get("id").cloned();
    let answer_id = match &id {
        Some(id @ (Value::String(_) | Value::Number(_))) => id.clone(),
        _ => Value::Null,
    };
    let result = match envelope(request) {
        Ok(Envelope {
            method,
            params,
            auth,
        }) => call(state, peer, headers, &method, params, auth).await,
        Err(error) => return (Some(error_response(&answer_id, &error)), false),
    };
    let unavailable = result
        .as_ref()
        .is_err_and(|error| *error == ZabbixError::unavailable());
    if id.is_none() {
        return (None, unavailable);
    }
    let answer = match result {
        Ok(result) => json!({ "jsonrpc": "2.0", "result": result, "id": answer_id }),
        Err(error) => error_response(&answer_id, &error),
    };
    (Some(answer), unavailable)
}

async fn call(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    method: &str,
    params: Value,
    auth: Option<String>,
) -> MethodResult {
    // As PHP's list($api, $action) = explode('.', $method): a third part is ignored, and
    // names match ignoring case but are quoted back as sent.
    let mut parts = method.split('.');
    let (api_name, action_name) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (api, action) = (
        api_name.to_ascii_lowercase(),
        action_name.to_ascii_lowercase(),
    );
    let (api, action) = (api.as_str(), action.as_str());
    if !matches!(api, "apiinfo" | "user" | "token") {
        return Err(ZabbixError::method_not_found(format!(
            "Incorrect API \"{api_name}\"."
        )));
    }
    let method = format!("{api_name}.{action_name}");
    let known = matches!(
        (api, action),
        ("apiinfo", "version")
            | (
                "user",
                "login"
                    | "logout"
                    | "checkauthentication"
                    | "get"
                    | "create"
                    | "update"
                    | "delete"
                    | "unblock"
            )
            | ("token", "create" | "get" | "update" | "delete" | "generate")
    );
    if !known {
        return Err(ZabbixError::method_not_found(format!(
            "Incorrect method \"{method}\"."
        )));
    }
    let origin = Origin::from_ip(Door::Zabbix, peer.ip());
    // Zabbix reads `Authorization: Bearer` from 6.4 on; 6.0 ignores the header. tessera does
    // what the version it reports would do, which is how clients choose.
    let bearer = match authorization(headers) {
        Authorization::Bearer(token) if state.zabbix.reads_bearer() => Some(token),
        _ => None,
    };
    let presented = auth.or(bearer);
    let caller = if WITHOUT_AUTH.contains(&format!("{api}.{action}").as_str()) {
        if presented.is_some() {
            return Err(ZabbixError::invalid_params(format!(
                "The \"{method}\" method must be called without the \"auth\" parameter."
            )));
        }
        None
    } else {
        let Some(secret) = presented else {
            return Err(ZabbixError::not_authorized());
        };
        Some((authenticate(state, &secret, &origin).await?, secret))
    };
    let mut origin = origin;
    origin.actor_user_id = caller.as_ref().map(|(user, _)| user.id);
    let call = Call {
        state,
        origin,
        params,
        caller,
    };
    match (api, action) {
        ("apiinfo", _) => {
            get::no_params(&call.params)?;
            Ok(Value::String(state.zabbix.version.clone()))
        }
        ("user", action) => users::call(&call, action).await,
        (_, action) => tokens::call(&call, action).await,
    }
}

/// The user behind a session id or an API token.
async fn authenticate(
    state: &AppState,
    secret: &str,
    origin: &Origin,
) -> Result<User, ZabbixError> {
    let verified = state
        .authority
        .verify(&TokenSecret::from_presented(secret), origin)
        .await;
    match verified {
        Ok(verified) => {
            let usable = matches!(verified.token.kind, TokenKind::Session | TokenKind::Api);
            match verified.user {
                Some(user) if usable => Ok(User::clone(&user)),
                _ => Err(ZabbixError::not_authorized()),
            }
        }
        // An API token has 64 hex digits, a session id 32: answer each in its own words.
        Err(CoreError::Refused(Refusal::Expired)) if secret.len() == 64 => {
            Err(ZabbixError::application("API token expired."))
        }
        Err(CoreError::Refused(_)) if secret.len() == 64 => Err(ZabbixError::not_authorized()),
        Err(CoreError::Refused(_)) => Err(ZabbixError::session_terminated()),
        Err(error) => Err(core_error(error)),
    }
}

/// A core error in Zabbix's words, for errors no method-specific rule covered.
pub fn core_error(error: CoreError) -> ZabbixError {
    match error {
        CoreError::InvalidCredentials => ZabbixError::wrong_credentials(),
        CoreError::NotFound(_) | CoreError::Forbidden(_) => ZabbixError::no_permissions(),
        CoreError::InvalidInput(why)
        | CoreError::InvalidGrant(why)
        | CoreError::InvalidScope(why) => ZabbixError::invalid_params(why),
        CoreError::Conflict(what) => ZabbixError::invalid_params(format!("{what} already exists.")),
        CoreError::Refused(_) => ZabbixError::session_terminated(),
        CoreError::InvalidClient | CoreError::UnauthorizedClient => ZabbixError::not_authorized(),
        CoreError::Busy => ZabbixError::unavailable(),
        CoreError::Store(error) => {
            tracing::error!(%error, "the store failed");
            ZabbixError::unavailable()
        }
        CoreError::Internal(error) => {
            tracing::error!(%error, "internal error");
            ZabbixError::unavailable()
        }
    }
}
