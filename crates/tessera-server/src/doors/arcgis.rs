//! The ArcGIS door: `generateToken` (seed 004, DIALECTS §5) and the `/arcgis/rest/info` answer
//! that tells ArcGIS clients where to find it.
//!
//! ArcGIS clients send their parameters in the query string, in an urlencoded body, or split
//! between the two, so both are read together; a parameter given twice, in one place or across
//! both, is refused rather than guessed at. The door only parses: the user is checked, the token
//! issued and its binding (to an IP or a referer) later enforced by the core. ArcGIS answers
//! errors with HTTP 200 and an `{"error": {...}}` body, and its clients expect exactly that, so
//! only an unavailable database or a full sign-in queue gets a 503.

use crate::params::{self, Body, ParamError, Params};
use crate::responses::{escape_markup, no_store, with_retry_after};
use crate::state::AppState;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use std::net::{IpAddr, SocketAddr};
use tessera_core::{
    Binding, CoreError, Door, IssuedToken, Lifetime, Origin, Password, Role, SecretFormat,
};

/// Every path ArcGIS products serve `generateToken` on: the token service, the admin API,
/// Portal's sharing API (with and without the web adaptor's `/arcgis` prefix) and the bare root.
const GENERATE_TOKEN_PATHS: [&str; 5] = [
    "/generateToken",
    "/arcgis/tokens/generateToken",
    "/arcgis/admin/generateToken",
    "/arcgis/sharing/rest/generateToken",
    "/sharing/rest/generateToken",
];

/// The default and the longest token lifetime, in minutes (the seed's one hour and one year).
const DEFAULT_EXPIRATION_MINUTES: u64 = 60;
const MAX_EXPIRATION_MINUTES: u64 = 525_600;

pub fn routes() -> Router<AppState> {
    GENERATE_TOKEN_PATHS
        .into_iter()
        .fold(Router::new(), |router, path| {
            router.route(path, get(generate_token).post(generate_token))
        })
        .route("/arcgis/rest/info", get(rest_info))
}

/// The `f` parameter: how the answer is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Html,
    Json,
    PrettyJson,
}

impl Format {
    fn parse(value: &str) -> Option<Self> {
        [
            ("html", Format::Html),
            ("json", Format::Json),
            ("pjson", Format::PrettyJson),
        ]
        .into_iter()
        .find_map(|(name, format)| value.eq_ignore_ascii_case(name).then_some(format))
    }

    /// The format asked for by a request whose parameters could not be read (invalid UTF-8
    /// elsewhere, a repeat): the first `f=` that names a format, so that a JSON client still
    /// gets its error as JSON.
    fn sniff(sources: &[&[u8]]) -> Self {
        sources
            .iter()
            .flat_map(|source| source.split(|b| *b == b'&'))
            .filter_map(|piece| piece.strip_prefix(b"f="))
            .find_map(|value| std::str::from_utf8(value).ok().and_then(Format::parse))
            .unwrap_or(Format::Html)
    }
}

/// An error as ArcGIS writes it: `{"error": {"code", "message", "details"}}`.
#[derive(Debug)]
struct ArcGisError {
    status: StatusCode,
    code: u16,
    detail: String,
}

impl ArcGisError {
    fn bad_request(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::OK,
            code: 400,
            detail: detail.into(),
        }
    }

    fn invalid(parameter: &str) -> Self {
        Self::bad_request(format!("Invalid value for parameter {parameter}."))
    }

    fn missing(parameter: &str) -> Self {
        Self::bad_request(format!("'{parameter}' must be specified."))
    }

    fn unavailable(detail: &str) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: 503,
            detail: detail.into(),
        }
    }
}

impl From<ParamError> for ArcGisError {
    fn from(error: ParamError) -> Self {
        let status = params::status(&error);
        let detail = format!("Malformed request: {error}.");
        if status == StatusCode::BAD_REQUEST {
            return Self::bad_request(detail);
        }
        // Not an ArcGIS answer (those are HTTP 200): a body over the limit is refused as HTTP
        // refuses it, with the ArcGIS error body besides.
        Self {
            status,
            code: status.as_u16(),
            detail,
        }
    }
}

impl From<CoreError> for ArcGisError {
    fn from(error: CoreError) -> Self {
        match error {
            CoreError::InvalidCredentials => Self::bad_request("Invalid username or password."),
            CoreError::Busy => Self::unavailable("Too many sign-ins at once; try again shortly."),
            CoreError::Store(error) => {
                tracing::error!(%error, "the store failed");
                Self::unavailable("The database is unavailable; try again shortly.")
            }
            CoreError::Internal(error) => {
                tracing::error!(%error, "internal error");
                Self {
                    status: StatusCode::OK,
                    code: 500,
                    detail: "Internal error.".into(),
                }
            }
            // Input the core refused (a password over its length limit, say): its words name
            // the problem and never carry a secret.
            other => Self::bad_request(other.to_string()),
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorFields<'a>,
}

#[derive(Serialize)]
struct ErrorFields<'a> {
    code: u16,
    message: &'static str,
    details: [&'a str; 1],
}

/// The success answer, in the order ArcGIS's own examples list the fields.
#[derive(Serialize)]
struct TokenBody<'a> {
    token: &'a str,
    /// Milliseconds since the epoch.
    expires: i64,
    #[serde(rename = "loginAsPSA")]
    login_as_psa: bool,
}

impl<'a> TokenBody<'a> {
    fn new(issued: &'a IssuedToken, super_admin: bool) -> Self {
        let expires = issued
            .token
            .expires_at
            .map_or(0, |at| (at.unix_timestamp_nanos() / 1_000_000) as i64);
        Self {
            token: issued.secret.expose(),
            expires,
            login_as_psa: super_admin,
        }
    }
}

/// The user name, as `username` or as the seed's example's `user`; both at once is a repeat.
fn username(params: &Params) -> Result<Option<&str>, ParamError> {
    match (params.get("username")?, params.get("user")?) {
        (Some(_), Some(_)) => Err(ParamError::Repeated("username".into())),
        (username, user) => Ok(username.or(user)),
    }
}

/// A `generateToken` request, parsed.
struct TokenRequest<'a> {
    username: &'a str,
    password: Password,
    binding: Binding,
    minutes: u64,
}

impl<'a> TokenRequest<'a> {
    fn parse(params: &'a Params, caller: IpAddr) -> Result<Self, ArcGisError> {
        let username = username(params)?.ok_or_else(|| ArcGisError::missing("username"))?;
        let password = params
            .get("password")?
            .ok_or_else(|| ArcGisError::missing("password"))?;
        let password = Password::new(password)?;
        let binding = binding(params, caller)?;
        let minutes = match params.get("expiration")? {
            None => DEFAULT_EXPIRATION_MINUTES,
            Some(text) => expiration_minutes(text)?,
        };
        Ok(Self {
            username,
            password,
            binding,
            minutes,
        })
    }
}

/// Where the token may be used from, by the `client` parameter.
fn binding(params: &Params, caller: IpAddr) -> Result<Binding, ArcGisError> {
    let Some(client) = params.get("client")? else {
        return Ok(Binding::None);
    };
    let ip = || -> Result<Option<IpAddr>, ArcGisError> {
        params
            .get("ip")?
            .map(|ip| ip.trim().parse().map_err(|_| ArcGisError::invalid("ip")))
            .transpose()
    };
    let client = client.to_ascii_lowercase();
    match client.as_str() {
        "ip" => Ok(Binding::Ip(
            ip()?.ok_or_else(|| ArcGisError::missing("ip"))?,
        )),
        // The seed's example says `client=ipAddress` and no `ip`: the caller's own address.
        "ipaddress" => Ok(Binding::Ip(ip()?.unwrap_or(caller))),
        "requestip" => Ok(Binding::Ip(caller)),
        "referer" => {
            let referer = params
                .get("referer")?
                .ok_or_else(|| ArcGisError::missing("referer"))?;
            Ok(Binding::Referer(referer.to_owned()))
        }
        _ => Err(ArcGisError::invalid("client")),
    }
}

/// Minutes, at least one; more than a year is cut to a year, as ArcGIS does.
fn expiration_minutes(text: &str) -> Result<u64, ArcGisError> {
    let text = text.trim();
    match text.parse::<i64>() {
        Ok(minutes) if minutes > 0 => Ok((minutes as u64).min(MAX_EXPIRATION_MINUTES)),
        // A number of minutes too large for any integer is still just "very long".
        Err(_) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(MAX_EXPIRATION_MINUTES)
        }
        _ => Err(ArcGisError::invalid("expiration")),
    }
}

async fn generate_token(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let params = body
        .bytes()
        .and_then(|bytes| params::from_query_and_body(&uri, &headers, bytes));
    let format = match params.as_ref().map(|p| p.get("f")) {
        Ok(Ok(None)) => Some(Format::Html),
        Ok(Ok(Some(f))) => Format::parse(f),
        _ => Some(Format::sniff(&[
            uri.query().unwrap_or("").as_bytes(),
            body.bytes().unwrap_or_default(),
        ])),
    };
    let page = Page {
        path: uri.path(),
        echo: params.as_ref().ok(),
    };
    let Some(format) = format else {
        return page.error(Format::Json, &ArcGisError::invalid("f"));
    };
    let params = match params.as_ref().map(|p| (p, p.get("f"))) {
        Ok((params, Ok(_))) => params,
        Ok((_, Err(error))) => return page.error(format, &error.into()),
        Err(error) => return page.error(format, &error.clone().into()),
    };
    if format == Format::Html && asks_for_nothing(params) {
        return page.html(StatusCode::OK, "");
    }
    match issue(&state, params, &headers, peer.ip()).await {
        Ok((issued, super_admin)) => page.token(format, &TokenBody::new(&issued, super_admin)),
        Err(error) => page.error(format, &error),
    }
}

/// A browser opening the page asks for nothing yet: it gets the form alone.
fn asks_for_nothing(params: &Params) -> bool {
    matches!(username(params), Ok(None)) && matches!(params.get("password"), Ok(None))
}

/// The core's part: check the user, issue a session token with the asked-for binding.
async fn issue(
    state: &AppState,
    params: &Params,
    headers: &HeaderMap,
    caller: IpAddr,
) -> Result<(IssuedToken, bool), ArcGisError> {
    let request = TokenRequest::parse(params, caller)?;
    let origin = Origin {
        referer: headers
            .get(header::REFERER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        ..Origin::from_ip(Door::ArcGis, caller)
    };
    let authority = &state.authority;
    let user = authority
        .authenticate_user(request.username, &request.password, &origin)
        .await?;
    let lifetime = Lifetime::from_secs(request.minutes * 60)?;
    let issued = authority
        .issue_session(
            &user,
            lifetime,
            request.binding,
            SecretFormat::Tessera,
            &origin,
        )
        .await?;
    Ok((issued, user.role == Role::SuperAdmin))
}

/// Writes an answer in the asked-for format. The HTML page echoes what was typed into its form
/// (escaped), except the password.
struct Page<'a> {
    path: &'a str,
    echo: Option<&'a Params>,
}

impl Page<'_> {
    fn token(&self, format: Format, body: &TokenBody) -> Response {
        match format {
            Format::Html => {
                let result = format!(
                    "<h2>Token</h2>\n<p><code id=\"token\">{}</code></p>\n\
                     <p>Expires: <span id=\"expires\">{}</span> (milliseconds since 1970)</p>\n\
                     <p>loginAsPSA: {}</p>\n",
                    escape_markup(body.token),
                    body.expires,
                    body.login_as_psa
                );
                self.html(StatusCode::OK, &result)
            }
            json => json_response(StatusCode::OK, json, body),
        }
    }

    fn error(&self, format: Format, error: &ArcGisError) -> Response {
        match format {
            Format::Html => {
                let result = format!(
                    "<h2>Unable to generate token.</h2>\n<p class=\"error\">{}</p>\n",
                    escape_markup(&error.detail)
                );
                self.html(error.status, &result)
            }
            json => {
                let body = ErrorBody {
                    error: ErrorFields {
                        code: error.code,
                        message: "Unable to generate token.",
                        details: [&error.detail],
                    },
                };
                json_response(error.status, json, &body)
            }
        }
    }

    fn html(&self, status: StatusCode, result: &str) -> Response {
        let echoed = |name: &str| {
            let value = match self.echo {
                Some(params) if name == "username" => username(params).ok().flatten(),
                Some(params) => params.get(name).ok().flatten(),
                None => None,
            };
            escape_markup(value.unwrap_or(""))
        };
        let client = echoed("client");
        let option = |value: &str, label: &str| {
            let selected = if client.eq_ignore_ascii_case(value) {
                " selected"
            } else {
                ""
            };
            format!("<option value=\"{value}\"{selected}>{label}</option>")
        };
        let page = format!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Generate Token</title></head>\n\
             <body>\n<h1>Generate Token</h1>\n\
             <form method=\"post\" action=\"{action}\">\n\
             <p><label>Username <input name=\"username\" value=\"{username}\" autocomplete=\"username\"></label></p>\n\
             <p><label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\"></label></p>\n\
             <p><label>Client <select name=\"client\">{none}{ip_option}{referer_option}{requestip}</select></label></p>\n\
             <p><label>IP <input name=\"ip\" value=\"{ip}\"></label></p>\n\
             <p><label>Referer <input name=\"referer\" value=\"{referer}\"></label></p>\n\
             <p><label>Expiration (minutes) <input name=\"expiration\" value=\"{expiration}\"></label></p>\n\
             <p><label>Format <select name=\"f\"><option value=\"html\">HTML</option>\
             <option value=\"json\">JSON</option><option value=\"pjson\">Pretty JSON</option></select></label></p>\n\
             <p><button type=\"submit\">Generate Token</button></p>\n\
             </form>\n{result}</body></html>\n",
            action = escape_markup(self.path),
            username = echoed("username"),
            none = option("", "None (any address)"),
            ip_option = option("ip", "IP address"),
            referer_option = option("referer", "Web application (referer)"),
            requestip = option("requestip", "IP address of this request"),
            ip = echoed("ip"),
            referer = echoed("referer"),
            expiration = echoed("expiration"),
        );
        let headers = [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; form-action 'self'; frame-ancestors 'none'",
                ),
            ),
        ];
        (status, no_store(), headers, page).into_response()
    }
}

fn json_response(status: StatusCode, format: Format, body: &impl Serialize) -> Response {
    let text = if format == Format::PrettyJson {
        serde_json::to_string_pretty(body)
    } else {
        serde_json::to_string(body)
    };
    // Serializing these plain structs cannot fail; an empty object is a safe answer if it did.
    let text = text.unwrap_or_else(|_| "{}".to_owned());
    let content_type = [(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    )];
    with_retry_after((status, no_store(), content_type, text).into_response())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RestInfo {
    current_version: f64,
    auth_info: AuthInfo,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AuthInfo {
    is_token_based_security: bool,
    token_services_url: String,
    short_lived_token_validity: u64,
}

/// `GET /arcgis/rest/info`: how ArcGIS clients discover that this server takes tokens, and
/// where to get one.
async fn rest_info(State(state): State<AppState>, uri: Uri) -> Response {
    let format = Params::from_urlencoded(uri.query().unwrap_or("").as_bytes())
        .ok()
        .and_then(|params| params.get("f").ok().flatten().and_then(Format::parse));
    let format = match format {
        Some(Format::PrettyJson) => Format::PrettyJson,
        _ => Format::Json,
    };
    let info = RestInfo {
        current_version: 11.3,
        auth_info: AuthInfo {
            is_token_based_security: true,
            token_services_url: format!("{}/arcgis/tokens/generateToken", state.issuer),
            short_lived_token_validity: DEFAULT_EXPIRATION_MINUTES,
        },
    };
    json_response(StatusCode::OK, format, &info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiration_is_positive_minutes_capped_at_a_year() {
        assert_eq!(expiration_minutes("1").unwrap(), 1);
        assert_eq!(expiration_minutes("525600").unwrap(), 525_600);
        assert_eq!(expiration_minutes("525601").unwrap(), 525_600);
        assert_eq!(
            expiration_minutes("99999999999999999999999").unwrap(),
            525_600
        );
        for bad in ["0", "-5", "abc", "1.5", "", "-99999999999999999999999"] {
            assert!(expiration_minutes(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_unreadable_request_still_names_its_format() {
        assert_eq!(Format::sniff(&[b"a=\xff&f=pjson"]), Format::PrettyJson);
        assert_eq!(Format::sniff(&[b"", b"f=JSON&x=%FF"]), Format::Json);
        assert_eq!(Format::sniff(&[b"f=xml"]), Format::Html);
    }
}
