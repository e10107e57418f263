//! ExtraView's `get_token` (seeds 000 and 001): `ev_api.action?statevar=get_token&user_id=…
//! &password=…[&ev_send_xml=true]` answers a token as five lines of text, or as XML.
//!
//! The lifetime is the behaviour setting `OAUTH2_TOKEN_LIFETIME_SECONDS` (the core's, so an
//! admin can change it while tessera runs). A later call that carries `access_token=` is
//! answered whether the token is good; an expired, revoked or unknown one is "an invalid sign
//! on" (401). The two-factor rule (`USER.EXCLUDE_2FA` plus the user's API bypass) is the
//! core's, as for every door without a place for a code.

use crate::params::{self, Body, ParamError, Params};
use crate::responses::escape_markup;
use crate::startup::{ExtraViewConfig, ExtraViewXml};
use crate::state::AppState;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::net::SocketAddr;
use tessera_core::{
    Binding, CoreError, Door, IssuedToken, Origin, Password, SecretFormat, TokenSecret,
};
use time::format_description::FormatItem;
use time::macros::format_description;

pub fn routes() -> Router<AppState> {
    Router::new().route("/evj/ExtraView/ev_api.action", get(ev_api).post(ev_api))
}

/// `yyyy-MM-dd HH:mm:ss.SSS Z`, as in the seed: `2020-07-02 18:39:48.818 -0700`.
const EXPIRATION_DATE: &[FormatItem<'static>] = format_description!(
    "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:3] [offset_hour sign:mandatory][offset_minute]"
);

const INVALID_SIGN_ON: &str = "Invalid sign on";

/// The two shapes of every answer: text, or XML when `ev_send_xml=true` (any case).
struct Reply {
    xml: bool,
}

impl Reply {
    fn message(&self, status: StatusCode, message: &str) -> Response {
        if self.xml {
            let body = format!("<error>{}</error>", escape_markup(message));
            (status, [(header::CONTENT_TYPE, XML)], body).into_response()
        } else {
            (status, [(header::CONTENT_TYPE, TEXT)], message.to_owned()).into_response()
        }
    }

    fn core_error(&self, error: CoreError) -> Response {
        match error {
            CoreError::InvalidCredentials | CoreError::Refused(_) => {
                self.message(StatusCode::UNAUTHORIZED, INVALID_SIGN_ON)
            }
            CoreError::InvalidInput(why) => self.message(StatusCode::BAD_REQUEST, &why),
            CoreError::Busy => self.message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Too many sign-ins at once; try again shortly",
            ),
            other => {
                tracing::error!(error = %other, "the ExtraView door failed");
                self.message(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The service is unavailable; try again shortly",
                )
            }
        }
    }

    fn token(&self, issued: &IssuedToken, lifetime: u64, config: &ExtraViewConfig) -> Response {
        let token = issued.secret.expose();
        let expires = issued
            .token
            .expires_at
            .map(|at| at.to_offset(config.time_zone))
            .and_then(|at| at.format(EXPIRATION_DATE).ok())
            .unwrap_or_default();
        let scope = issued.token.scope.to_string();
        if !self.xml {
            let body = format!(
                "Token:{token}\nType:Bearer\nLifetime:{lifetime}\nExpiration Date:{expires}\nScope:{scope}\n"
            );
            return ([(header::CONTENT_TYPE, TEXT)], body).into_response();
        }
        let scope = escape_markup(&scope);
        let expiration = match config.xml {
            ExtraViewXml::WellFormed => format!("<expiration_date> {expires} </expiration_date>"),
            ExtraViewXml::Legacy => format!("<Expiration Date> {expires} </lifetime>"),
        };
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<access_token>\n<value> {token} </value>\n<type> Bearer </type>\n<lifetime> {lifetime} </lifetime>\n{expiration}\n<scope> {scope} </scope>\n</access_token>\n"
        );
        ([(header::CONTENT_TYPE, XML)], body).into_response()
    }
}

const TEXT: &str = "text/plain; charset=UTF-8";
const XML: &str = "text/xml; charset=UTF-8";

async fn ev_api(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Response {
    let params = match body
        .bytes()
        .and_then(|bytes| params::from_query_and_body(&uri, &headers, bytes))
    {
        Ok(params) => params,
        Err(error) => {
            return Reply { xml: false }.message(params::status(&error), &error.to_string())
        }
    };
    let xml = matches!(params.get("ev_send_xml"), Ok(Some(v)) if v.eq_ignore_ascii_case("true"));
    let reply = Reply { xml };
    match answer(&state, peer, &params, &reply).await {
        Ok(response) => response,
        Err(response) => *response,
    }
}

async fn answer(
    state: &AppState,
    peer: SocketAddr,
    params: &Params,
    reply: &Reply,
) -> Result<Response, Box<Response>> {
    let bad =
        |error: ParamError| Box::new(reply.message(params::status(&error), &error.to_string()));
    let origin = Origin::from_ip(Door::ExtraView, peer.ip());
    let authority = &state.authority;
    let statevar = params.get("statevar").map_err(bad)?;
    if statevar.is_some_and(|s| s.eq_ignore_ascii_case("get_token")) {
        let missing = |name: &str| {
            Box::new(reply.message(
                StatusCode::BAD_REQUEST,
                &format!("Missing parameter {name}"),
            ))
        };
        let user_id = params
            .get("user_id")
            .map_err(bad)?
            .ok_or_else(|| missing("user_id"))?;
        let password = params
            .get("password")
            .map_err(bad)?
            .ok_or_else(|| missing("password"))?;
        let core = |e: CoreError| Box::new(reply.core_error(e));
        let password = Password::new(password).map_err(core)?;
        let user = authority
            .authenticate_user(user_id, &password, &origin)
            .await
            .map_err(core)?;
        let lifetime = authority.extraview_token_lifetime().await.map_err(core)?;
        let issued = authority
            .issue_session(
                &user,
                lifetime,
                Binding::None,
                SecretFormat::Base64Url,
                &origin,
            )
            .await
            .map_err(core)?;
        return Ok(reply.token(&issued, lifetime.as_secs(), &state.extraview));
    }
    // Any other command: tessera is the token authority, not ExtraView. It says whether the
    // token is good; the ExtraView API itself sits behind a proxy that asks /auth/verify.
    let Some(token) = params.get("access_token").map_err(bad)? else {
        return Err(Box::new(reply.message(
            StatusCode::BAD_REQUEST,
            "Missing parameter statevar=get_token, or access_token",
        )));
    };
    match authority
        .verify(&TokenSecret::from_presented(token), &origin)
        .await
    {
        Ok(_) => Ok(reply.message(StatusCode::OK, "Valid sign on")),
        Err(error) => Err(Box::new(reply.core_error(error))),
    }
}
