//! Brute force: failed sign-ins lock the account for every door (Zabbix's defaults: five
//! failures, 30 s, here doubling with each further one), and too many failures from one address
//! lock the address out. A locked sign-in is answered exactly as a wrong password.

use crate::helpers::{spawn_app, TestApp, ADMIN_PASSWORD};
use serde_json::{json, Value};
use tessera_core::{AuditEvent, AuditKind, AuditQuery, Role};

const PASSWORD: &str = "Looking-Glass-1";

async fn rpc(app: &TestApp, method: &str, params: Value, auth: Option<&str>) -> Value {
    let mut body = json!({"jsonrpc": "2.0", "method": method, "params": params, "id": 1});
    if let Some(auth) = auth {
        body["auth"] = json!(auth);
    }
    app.http
        .post(app.url("/api_jsonrpc.php"))
        .header("content-type", "application/json-rpc")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn zabbix_login(app: &TestApp, user: &str, password: &str) -> Value {
    let params = json!({"username": user, "password": password});
    rpc(app, "user.login", params, None).await
}

async fn zabbix_call(app: &TestApp, session: &str, method: &str, params: Value) -> Value {
    rpc(app, method, params, Some(session)).await
}

/// What each door answers a sign-in: status and body, which must not tell a locked account
/// from a wrong password.
async fn answers(app: &TestApp, user: &str, password: &str) -> Vec<(u16, String)> {
    let oauth = app.password_grant(user, password).await;
    let extraview = app
        .http
        .get(app.url("/evj/ExtraView/ev_api.action"))
        .query(&[
            ("user_id", user),
            ("password", password),
            ("statevar", "get_token"),
        ])
        .send()
        .await
        .unwrap();
    let owin = app
        .post_form(
            "/Token",
            &[
                ("grant_type", "password"),
                ("username", user),
                ("password", password),
            ],
        )
        .await;
    let arcgis = app
        .post_form(
            "/arcgis/tokens/generateToken",
            &[("username", user), ("password", password), ("f", "json")],
        )
        .await;
    let mut out = Vec::new();
    for response in [oauth, extraview, owin, arcgis] {
        out.push((response.status().as_u16(), response.text().await.unwrap()));
    }
    let zabbix = zabbix_login(app, user, password).await;
    out.push((200, zabbix.to_string()));
    out
}

/// The newest audit events of a kind (up to 100).
async fn events(app: &TestApp, kind: AuditKind) -> Vec<AuditEvent> {
    app.authority
        .audit_events(&AuditQuery {
            kind: Some(kind),
            limit: 100,
            ..AuditQuery::default()
        })
        .await
        .unwrap()
}

fn is_session(answer: &Value) -> bool {
    answer["result"].as_str().is_some_and(|s| s.len() == 32)
}

#[tokio::test]
async fn five_failures_through_zabbix_lock_the_account_at_every_door_until_the_lock_ends() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, Role::User).await;
    // What a wrong password gets at each door (for another user, unlocked until the last).
    app.create_user("bruce", PASSWORD, Role::User).await;
    let wrong = answers(&app, "bruce", "wrong-password").await;
    for attempt in 0..5 {
        let answer = zabbix_login(&app, "alice", &format!("wrong-{attempt}")).await;
        assert_eq!(answer["error"]["code"], -32500, "{answer}");
    }

    // The right password now gets exactly the wrong password's answer, at every door.
    assert_eq!(answers(&app, "alice", PASSWORD).await, wrong);

    let locked = events(&app, AuditKind::AccountLocked).await;
    assert!(!locked.is_empty(), "the lock is audited");
    assert_eq!(locked[0].event.source_ip.as_deref(), Some("127.0.0.1"));

    // Zabbix's counters say so to an admin.
    let admin = zabbix_login(&app, "Admin", ADMIN_PASSWORD).await;
    let admin = admin["result"].as_str().unwrap();
    let counters = zabbix_call(
        &app,
        admin,
        "user.get",
        json!({"output": ["attempt_failed", "attempt_ip"], "filter": {"username": "alice"}}),
    )
    .await;
    let failed: u32 = counters["result"][0]["attempt_failed"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        failed, 5,
        "attempts during the lock do not count: {counters}"
    );
    assert_eq!(counters["result"][0]["attempt_ip"], "127.0.0.1");

    // The lock ends after its 30 s: then the right password works again, and resets the count.
    app.clock.advance(time::Duration::seconds(31));
    assert!(is_session(&zabbix_login(&app, "alice", PASSWORD).await));
    app.sign_in("alice", PASSWORD).await;
    let counters = zabbix_call(
        &app,
        admin,
        "user.get",
        json!({"output": ["attempt_failed"], "filter": {"username": "alice"}}),
    )
    .await;
    assert_eq!(counters["result"][0]["attempt_failed"], "0");
}

#[tokio::test]
async fn each_failure_after_a_lock_ends_locks_again_for_twice_as_long() {
    let app = spawn_app().await;
    app.create_user("bob", PASSWORD, Role::User).await;
    for _ in 0..5 {
        assert_eq!(app.password_grant("bob", "wrong").await.status(), 400);
    }
    assert_eq!(app.password_grant("bob", PASSWORD).await.status(), 400);
    app.clock.advance(time::Duration::seconds(31));
    // The first lock (30 s) is over; one more failure locks for 60 s.
    assert_eq!(app.password_grant("bob", "wrong").await.status(), 400);
    app.clock.advance(time::Duration::seconds(31));
    assert_eq!(
        app.password_grant("bob", PASSWORD).await.status(),
        400,
        "still locked"
    );
    app.clock.advance(time::Duration::seconds(30));
    app.sign_in("bob", PASSWORD).await;
}

#[tokio::test]
async fn an_admin_unlocks_an_account_through_zabbix_or_the_core() {
    let app = spawn_app().await;
    let carol = app.create_user("carol", PASSWORD, Role::User).await;
    let lock = || async {
        for _ in 0..5 {
            app.password_grant("carol", "wrong").await;
        }
        assert_eq!(app.password_grant("carol", PASSWORD).await.status(), 400);
    };
    lock().await;
    let admin = zabbix_login(&app, "Admin", ADMIN_PASSWORD).await;
    let admin = admin["result"].as_str().unwrap();
    let unblocked = zabbix_call(&app, admin, "user.unblock", json!([carol.id.to_string()])).await;
    assert_eq!(
        unblocked["result"]["userids"],
        json!([carol.id.to_string()])
    );
    app.sign_in("carol", PASSWORD).await;

    // Only a super admin may unblock; an unknown id is Zabbix's usual refusal.
    let carol_session = zabbix_login(&app, "carol", PASSWORD).await;
    let carol_session = carol_session["result"].as_str().unwrap();
    let refused = zabbix_call(&app, carol_session, "user.unblock", json!(["1"])).await;
    assert_eq!(
        refused["error"]["data"],
        "No permissions to call \"user.unblock\"."
    );
    let unknown = zabbix_call(&app, admin, "user.unblock", json!(["999"])).await;
    assert_eq!(
        unknown["error"]["data"],
        "No permissions to referred object or it does not exist!"
    );

    lock().await;
    app.authority
        .unlock_user(
            carol.id,
            &tessera_core::Origin::new(tessera_core::Door::Cli),
        )
        .await
        .unwrap();
    app.sign_in("carol", PASSWORD).await;
}

#[tokio::test]
async fn too_many_failures_from_one_address_lock_it_out_for_every_account() {
    let app = spawn_app().await;
    // Twenty guesses at names that do not exist: no account to lock, but the source is.
    for i in 0..20 {
        let response = app.password_grant(&format!("nobody-{i}"), "guess").await;
        assert_eq!(response.status(), 400);
    }
    let refused = app.password_grant("Admin", ADMIN_PASSWORD).await;
    assert_eq!(refused.status(), 400, "even the right password, from here");
    let audit = events(&app, AuditKind::LoginFailed).await;
    assert_eq!(audit[0].event.detail, "source address locked out");
    app.clock.advance(time::Duration::seconds(31));
    app.sign_in("Admin", ADMIN_PASSWORD).await;
}

#[tokio::test]
async fn wrong_two_factor_codes_count_as_failures() {
    let app = spawn_app().await;
    let dave = app.create_user("dave", PASSWORD, Role::User).await;
    let origin = tessera_core::Origin::new(tessera_core::Door::Cli);
    let uri = app.authority.enable_totp(dave.id, &origin).await.unwrap();
    let secret = uri
        .split("secret=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let with_code = |code: String| {
        let app = &app;
        async move {
            app.post_form(
                "/oauth/token",
                &[
                    ("grant_type", "password"),
                    ("username", "dave"),
                    ("password", PASSWORD),
                    ("totp", &code),
                ],
            )
            .await
            .status()
            .as_u16()
        }
    };
    // The right password with five wrong codes: a known password must not buy unlimited
    // guesses at six digits.
    for _ in 0..5 {
        assert_eq!(with_code("000000".into()).await, 400);
    }
    let code = tessera_core::totp::code_at(&secret, app.authority.now()).unwrap();
    assert_eq!(
        with_code(code).await,
        400,
        "locked, even with the right code"
    );
}

async fn sign_in_via_proxy(app: &TestApp, client: &str, user: &str, password: &str) -> u16 {
    app.http
        .post(app.url("/oauth/token"))
        .header("x-forwarded-for", format!("198.51.100.1, {client}"))
        .form(&[
            ("grant_type", "password"),
            ("username", user),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Behind a trusted proxy each client is counted on its own: one client's guesses do not lock
/// out the others who share the proxy. From an untrusted peer the header means nothing.
#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_is_locked_out_on_its_own() {
    let server = tessera_server::ServerConfig {
        trusted_proxies: vec!["127.0.0.0/8".parse().unwrap()],
        ..tessera_server::ServerConfig::default()
    };
    let app = crate::helpers::spawn_app_configured(crate::helpers::cheap_settings(), server).await;
    for i in 0..20 {
        let status = sign_in_via_proxy(&app, "203.0.113.9", &format!("nobody-{i}"), "x").await;
        assert_eq!(status, 400);
    }
    assert_eq!(
        sign_in_via_proxy(&app, "203.0.113.9", "Admin", ADMIN_PASSWORD).await,
        400,
        "the guessing client is locked out"
    );
    assert_eq!(
        sign_in_via_proxy(&app, "203.0.113.10", "Admin", ADMIN_PASSWORD).await,
        200,
        "another client behind the same proxy is not"
    );
    let failures = events(&app, AuditKind::LoginFailed).await;
    assert_eq!(failures[0].event.source_ip.as_deref(), Some("203.0.113.9"));

    // Without trust, the same header is the client's own claim, and ignored.
    let plain = spawn_app().await;
    assert_eq!(
        sign_in_via_proxy(&plain, "203.0.113.9", "nobody", "x").await,
        400
    );
    let failures = events(&plain, AuditKind::LoginFailed).await;
    assert_eq!(failures[0].event.source_ip.as_deref(), Some("127.0.0.1"));
}

/// Forty wrong passwords sent at once: attempts take turns, one at a time once the account has
/// a failure, so no more than the five a lock allows are ever checked; the rest find the account
/// locked. (Without turns, all forty would read a count of none and be checked.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guesses_sent_at_once_get_no_more_than_the_lock_allows() {
    let app = spawn_app().await;
    app.create_user("erin", PASSWORD, Role::User).await;
    let guesses = (0..40).map(|i| {
        let app = &app;
        async move {
            app.password_grant("erin", &format!("guess-{i}"))
                .await
                .status()
        }
    });
    for status in futures_util::future::join_all(guesses).await {
        assert_eq!(status, 400);
    }
    let failures = events(&app, AuditKind::LoginFailed).await;
    let checked = failures
        .iter()
        .filter(|e| e.event.detail == "wrong password")
        .count();
    let refused = failures
        .iter()
        .filter(|e| e.event.detail != "wrong password")
        .count();
    assert!(checked <= 5, "{checked} passwords were checked");
    assert_eq!(checked + refused, 40);
    assert_eq!(
        app.password_grant("erin", PASSWORD).await.status(),
        400,
        "locked"
    );
}
