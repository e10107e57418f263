//! Zabbix door behaviour the recordings cannot show: idle sessions on the injected clock,
//! Bearer auth when tessera reports 6.4, and Zabbix tokens being the core's tokens.

use crate::helpers::{cheap_settings, spawn_app_configured, TestApp, ADMIN_PASSWORD};
use serde_json::{json, Value};
use std::time::Duration;
use tessera_core::{Door, Origin, TokenQuery};
use tessera_server::{ServerConfig, ZabbixConfig};

async fn zabbix_app(version: &str) -> TestApp {
    let server = ServerConfig {
        zabbix: ZabbixConfig {
            version: version.into(),
            session_idle_timeout: Some(Duration::from_secs(900)),
        },
        ..ServerConfig::default()
    };
    spawn_app_configured(cheap_settings(), server).await
}

async fn rpc(app: &TestApp, body: Value, bearer: Option<&str>) -> Value {
    let mut request = app
        .http
        .post(app.url("/api_jsonrpc.php"))
        .header("content-type", "application/json-rpc")
        .body(body.to_string());
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap().json().await.unwrap()
}

async fn login(app: &TestApp) -> String {
    let answer = rpc(
        app,
        json!({"jsonrpc":"2.0","method":"user.login","params":{"username":"Admin","password":ADMIN_PASSWORD},"id":1}),
        None,
    )
    .await;
    answer["result"].as_str().unwrap().to_owned()
}

fn user_get(auth: Option<&str>) -> Value {
    let mut call =
        json!({"jsonrpc":"2.0","method":"user.get","params":{"output":["username"]},"id":2});
    if let Some(auth) = auth {
        call["auth"] = json!(auth);
    }
    call
}

#[tokio::test]
async fn a_session_ends_when_idle_for_the_timeout_and_use_keeps_it_alive() {
    let app = zabbix_app("6.0.0").await;
    let session = login(&app).await;
    assert_eq!(session.len(), 32);
    app.clock.advance(time::Duration::minutes(14));
    assert!(rpc(&app, user_get(Some(&session)), None).await["result"].is_array());
    app.clock.advance(time::Duration::minutes(14));
    assert!(
        rpc(&app, user_get(Some(&session)), None).await["result"].is_array(),
        "used 14 minutes ago"
    );
    app.clock
        .advance(time::Duration::minutes(15) + time::Duration::seconds(1));
    let answer = rpc(&app, user_get(Some(&session)), None).await;
    assert_eq!(
        answer["error"]["data"],
        "Session terminated, re-login, please."
    );
}

#[tokio::test]
async fn bearer_auth_is_read_when_tessera_reports_6_4_and_ignored_for_6_0() {
    for (version, works) in [("6.4.0", true), ("6.0.0", false)] {
        let app = zabbix_app(version).await;
        let answer = rpc(
            &app,
            json!({"jsonrpc":"2.0","method":"apiinfo.version","params":{},"id":1}),
            None,
        )
        .await;
        assert_eq!(answer["result"], version);
        let session = login(&app).await;
        let answer = rpc(&app, user_get(None), Some(&session)).await;
        assert_eq!(answer["result"].is_array(), works, "{version}: {answer}");
    }
}

#[tokio::test]
async fn a_zabbix_api_token_is_a_core_token_checked_everywhere_and_revoked_by_the_operator() {
    let app = zabbix_app("6.0.0").await;
    let session = login(&app).await;
    let created = rpc(
        &app,
        json!({"jsonrpc":"2.0","method":"token.create","params":{"name":"ci"},"auth":session,"id":3}),
        None,
    )
    .await;
    let id = created["result"]["tokenids"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let generated = rpc(
        &app,
        json!({"jsonrpc":"2.0","method":"token.generate","params":[id],"auth":session,"id":4}),
        None,
    )
    .await;
    let secret = generated["result"][0]["token"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 64);
    assert!(rpc(&app, user_get(Some(&secret)), None).await["result"].is_array());
    let verify = app
        .http
        .get(app.url("/auth/verify"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(verify.status(), 200);
    assert_eq!(verify.headers()["x-auth-user"], "Admin");
    let listed = app
        .authority
        .tokens(&TokenQuery {
            door: Some(Door::Zabbix),
            limit: 10,
            ..TokenQuery::default()
        })
        .await
        .unwrap();
    let token = listed
        .iter()
        .find(|t| t.id.to_string() == id)
        .expect("listed by the core");
    app.authority.flush_last_access().await.unwrap();
    let seen = rpc(
        &app,
        json!({"jsonrpc":"2.0","method":"token.get","params":{"output":["lastaccess"],"tokenids":id},"auth":session,"id":5}),
        None,
    )
    .await;
    assert_ne!(
        seen["result"][0]["lastaccess"], "0",
        "lastaccess is set by use"
    );
    app.authority
        .revoke_id(token.id, &Origin::new(Door::Cli))
        .await
        .unwrap();
    let refused = rpc(&app, user_get(Some(&secret)), None).await;
    assert_eq!(refused["error"]["data"], "Not authorized.");
}

#[tokio::test]
async fn a_description_with_control_characters_is_refused_but_line_breaks_are_kept() {
    let app = zabbix_app("6.0.0").await;
    let session = login(&app).await;
    let create = |description: &str, name: &str| json!({"jsonrpc":"2.0","method":"token.create","params":{"name":name,"description":description},"auth":session,"id":6});
    let refused = rpc(&app, create("bad\u{0}byte", "a"), None).await;
    assert_eq!(refused["error"]["code"], -32602, "{refused}");
    let kept = rpc(&app, create("two\nlines", "b"), None).await;
    assert!(kept["result"]["tokenids"].is_array(), "{kept}");
}
