use crate::helpers::{spawn_app, ADMIN_PASSWORD, ALL_GRANTS};
use tessera_core::{AuditKind, AuditQuery, Door, GrantType, Origin, Role};

#[tokio::test]
async fn password_grant_issues_an_access_and_a_refresh_token() {
    let app = spawn_app().await;
    let response = app.password_grant("Admin", ADMIN_PASSWORD).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["pragma"], "no-cache");
    let body: serde_json::Value = response.json().await.unwrap();
    let access = body["access_token"].as_str().unwrap();
    assert!(access.starts_with("tsr_") && access.len() == 61, "{access}");
    assert!(body["refresh_token"].as_str().unwrap().starts_with("tsr_"));
    assert_ne!(body["access_token"], body["refresh_token"]);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "read write");
}

#[tokio::test]
async fn user_names_match_ignoring_case() {
    let app = spawn_app().await;
    assert_eq!(
        app.password_grant("admin", ADMIN_PASSWORD).await.status(),
        200
    );
}

#[tokio::test]
async fn wrong_password_unknown_user_and_disabled_user_get_the_same_answer() {
    let app = spawn_app().await;
    let bob = app.create_user("bob", "bob-password", Role::User).await;
    app.authority
        .set_user_enabled(bob.id, false, &Origin::new(Door::Cli))
        .await
        .unwrap();
    let mut bodies = Vec::new();
    for (user, password) in [
        ("Admin", "wrong"),
        ("nobody", "whatever"),
        ("bob", "bob-password"),
    ] {
        let response = app.password_grant(user, password).await;
        assert_eq!(response.status(), 400);
        bodies.push(response.text().await.unwrap());
    }
    assert!(bodies.iter().all(|b| b == &bodies[0]), "{bodies:?}");
    assert!(bodies[0].contains("\"error\":\"invalid_grant\""));
    let failures = app
        .authority
        .audit_events(&AuditQuery {
            kind: Some(AuditKind::LoginFailed),
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(failures.len(), 3);
    assert!(failures.iter().all(|e| e.event.door == Door::OAuth));
    assert!(failures
        .iter()
        .all(|e| e.event.source_ip.as_deref() == Some("127.0.0.1")));
}

#[tokio::test]
async fn client_credentials_need_an_authenticated_client() {
    let app = spawn_app().await;
    let response = app
        .post_form("/oauth/token", &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(response.status(), 401);
    assert!(response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");

    let secret = app
        .create_client("svc", &[GrantType::ClientCredentials])
        .await;
    let wrong = app.client_credentials("svc", "tsr_wrong").await;
    assert_eq!(wrong.status(), 401);
    let body: serde_json::Value = wrong.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    assert!(!body.to_string().contains(&secret));
}

#[tokio::test]
async fn client_credentials_work_with_basic_and_with_body_credentials() {
    let app = spawn_app().await;
    let secret = app
        .create_client("svc", &[GrantType::ClientCredentials])
        .await;
    let basic = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth("svc", Some(&secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "read")])
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 200);
    let body: serde_json::Value = basic.json().await.unwrap();
    assert_eq!(body["scope"], "read");
    assert!(body.get("refresh_token").is_none(), "RFC 6749 §4.4.3");

    let post = app
        .post_form(
            "/oauth/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "svc"),
                ("client_secret", &secret),
            ],
        )
        .await;
    assert_eq!(post.status(), 200);
    let body: serde_json::Value = post.json().await.unwrap();
    let whoami: serde_json::Value = app
        .whoami(body["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(whoami["client_id"], "svc");
    assert!(whoami["user"].is_null());
}

#[tokio::test]
async fn two_client_authentication_methods_at_once_are_refused() {
    let app = spawn_app().await;
    let secret = app
        .create_client("svc", &[GrantType::ClientCredentials])
        .await;
    let response = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth("svc", Some(&secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_secret", &secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
}

#[tokio::test]
async fn a_client_may_only_use_its_grants_and_scopes() {
    let app = spawn_app().await;
    let secret = app
        .create_client("svc", &[GrantType::ClientCredentials])
        .await;
    let password = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth("svc", Some(&secret))
        .form(&[
            ("grant_type", "password"),
            ("username", "Admin"),
            ("password", ADMIN_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(password.status(), 400);
    let body: serde_json::Value = password.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized_client");

    let scope = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth("svc", Some(&secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "read admin"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(scope.status(), 400);
    let body: serde_json::Value = scope.json().await.unwrap();
    assert_eq!(body["error"], "invalid_scope");
}

#[tokio::test]
async fn a_registered_client_without_its_secret_is_refused_but_an_unknown_public_id_is_ignored() {
    let app = spawn_app().await;
    app.create_client("web", &ALL_GRANTS).await;
    let form = [
        ("grant_type", "password"),
        ("username", "Admin"),
        ("password", ADMIN_PASSWORD),
    ];
    let registered = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth("web", Some(""))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 401);
    let unknown = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth("some-script", Some(""))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 200);
    let body: serde_json::Value = unknown.json().await.unwrap();
    let whoami: serde_json::Value = app
        .whoami(body["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert!(whoami["client_id"].is_null());
}

#[tokio::test]
async fn malformed_token_requests_get_rfc_6749_errors() {
    let app = spawn_app().await;
    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[], "invalid_request"),
        (
            &[("grant_type", "authorization_code")],
            "unsupported_grant_type",
        ),
        (
            &[("grant_type", "password"), ("username", "Admin")],
            "invalid_request",
        ),
        (
            &[("grant_type", "password"), ("grant_type", "password")],
            "invalid_request",
        ),
        (&[("grant_type", "refresh_token")], "invalid_request"),
    ];
    for (form, error) in cases {
        let response = app.post_form("/oauth/token", form).await;
        assert_eq!(response.status(), 400, "{form:?}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"], error, "{form:?}");
        assert!(body["error_description"].is_string());
    }
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let app = spawn_app().await;
    let (first_access, first_refresh) = app.admin_tokens().await;
    let rotated = app
        .post_form(
            "/oauth/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &first_refresh),
            ],
        )
        .await;
    assert_eq!(rotated.status(), 200);
    let rotated: serde_json::Value = rotated.json().await.unwrap();
    let second_access = rotated["access_token"].as_str().unwrap();
    let second_refresh = rotated["refresh_token"].as_str().unwrap();
    assert_ne!(second_refresh, first_refresh);
    assert_eq!(app.whoami(second_access).await.status(), 200);

    let replay = app
        .post_form(
            "/oauth/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &first_refresh),
            ],
        )
        .await;
    assert_eq!(replay.status(), 400);
    let body: serde_json::Value = replay.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    for token in [first_access.as_str(), second_access] {
        assert_eq!(app.whoami(token).await.status(), 401);
    }
    let after = app
        .post_form(
            "/oauth/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", second_refresh),
            ],
        )
        .await;
    assert_eq!(
        after.status(),
        400,
        "the newest refresh token dies with its family"
    );
    let reuse = app
        .authority
        .audit_events(&AuditQuery {
            kind: Some(tessera_core::AuditKind::RefreshReused),
            limit: 5,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(reuse.len(), 1);
}

#[tokio::test]
async fn a_refresh_token_only_works_for_its_own_client_and_within_its_scope() {
    let app = spawn_app().await;
    let secret = app.create_client("web", &ALL_GRANTS).await;
    let other = app.create_client("other", &ALL_GRANTS).await;
    let issued: serde_json::Value = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth("web", Some(&secret))
        .form(&[
            ("grant_type", "password"),
            ("username", "Admin"),
            ("password", ADMIN_PASSWORD),
            ("scope", "read"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let refresh = issued["refresh_token"].as_str().unwrap();
    let stolen = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth("other", Some(&other))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh)])
        .send()
        .await
        .unwrap();
    assert_eq!(stolen.status(), 400);
    let wider = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth("web", Some(&secret))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("scope", "read write"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wider.status(), 400);
    let body: serde_json::Value = wider.json().await.unwrap();
    assert_eq!(body["error"], "invalid_scope");
    let fine = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth("web", Some(&secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh)])
        .send()
        .await
        .unwrap();
    assert_eq!(fine.status(), 200);
}

#[tokio::test]
async fn tokens_expire_on_the_injected_clock() {
    let app = spawn_app().await;
    let (access, refresh) = app.admin_tokens().await;
    assert_eq!(app.whoami(&access).await.status(), 200);
    app.clock.advance(time::Duration::seconds(3601));
    assert_eq!(app.whoami(&access).await.status(), 401);
    let refreshed = app
        .post_form(
            "/oauth/token",
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
    assert_eq!(refreshed.status(), 200, "the refresh token lives 30 days");
    app.clock.advance(time::Duration::days(31));
    let body: serde_json::Value = refreshed.json().await.unwrap();
    let late = app
        .post_form(
            "/oauth/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", body["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(late.status(), 400);
}

#[tokio::test]
async fn json_bodies_are_accepted_too() {
    let app = spawn_app().await;
    let response = app
        .http
        .post(app.url("/oauth/token"))
        .json(&serde_json::json!({
            "grant_type": "password", "username": "Admin", "password": ADMIN_PASSWORD
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// The id of the token behind `access`, from a check of it (which notes its use).
async fn checked_token_id(app: &crate::helpers::TestApp, access: &str) -> i64 {
    let whoami: serde_json::Value = app.whoami(access).await.json().await.unwrap();
    whoami["token"]["id"].as_i64().unwrap()
}

#[tokio::test]
async fn last_access_is_written_in_batches() {
    let app = spawn_app().await;
    let (access, _) = app.admin_tokens().await;
    let id = checked_token_id(&app, &access).await;
    assert_eq!(app.authority.token(id).await.unwrap().last_access, None);
    assert_eq!(app.authority.flush_last_access().await.unwrap(), 1);
    assert!(app.authority.token(id).await.unwrap().last_access.is_some());
    assert_eq!(app.authority.flush_last_access().await.unwrap(), 0);
}

/// A flush of more times than one store call takes (256) is written in several, every time
/// of it included.
#[tokio::test]
async fn a_large_last_access_flush_is_written_whole() {
    let app = spawn_app().await;
    let secret = app
        .create_client("many", &[GrantType::ClientCredentials])
        .await;
    let mut ids = Vec::new();
    for _ in 0..600 {
        let response = app.client_credentials("many", &secret).await;
        let body: serde_json::Value = response.json().await.unwrap();
        let access = body["access_token"].as_str().unwrap().to_owned();
        ids.push(checked_token_id(&app, &access).await);
    }
    assert_eq!(app.authority.flush_last_access().await.unwrap(), 600);
    for id in ids {
        let token = app.authority.token(id).await.unwrap();
        assert!(token.last_access.is_some(), "token {id} has no last access");
    }
    assert_eq!(app.authority.flush_last_access().await.unwrap(), 0);
}

#[tokio::test]
async fn a_busy_token_s_last_access_is_rewritten_at_most_once_a_minute() {
    let app = spawn_app().await;
    let (access, _) = app.admin_tokens().await;
    let id = checked_token_id(&app, &access).await;
    let stored = || async { app.authority.token(id).await.unwrap().last_access };
    // The server's periodic flush: the first use is written at once.
    assert_eq!(app.authority.flush_due_last_access().await.unwrap(), 1);
    let first = stored().await.unwrap();
    // Used again 10 s later: the newer time waits, and the stored one stands.
    app.clock.advance(time::Duration::seconds(10));
    assert_eq!(app.whoami(&access).await.status(), 200);
    assert_eq!(app.authority.flush_due_last_access().await.unwrap(), 0);
    assert_eq!(stored().await, Some(first));
    // A minute after the first was written, it is due.
    app.clock.advance(time::Duration::seconds(51));
    assert_eq!(app.whoami(&access).await.status(), 200);
    assert_eq!(app.authority.flush_due_last_access().await.unwrap(), 1);
    assert_eq!(stored().await, Some(first + time::Duration::seconds(61)));
    // A full flush (shutdown, a search by last access) writes whatever is noted.
    app.clock.advance(time::Duration::seconds(1));
    assert_eq!(app.whoami(&access).await.status(), 200);
    assert_eq!(app.authority.flush_last_access().await.unwrap(), 1);
    assert_eq!(stored().await, Some(first + time::Duration::seconds(62)));
}

#[tokio::test]
async fn concurrent_use_of_one_refresh_token_lets_at_most_one_win_and_kills_the_family() {
    let app = spawn_app().await;
    let (_, refresh) = app.admin_tokens().await;
    let mut attempts = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let request = app.http.post(app.url("/oauth/token")).form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
        ]);
        attempts.spawn(async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<serde_json::Value>().await.unwrap())
        });
    }
    let mut winners = Vec::new();
    while let Some(outcome) = attempts.join_next().await {
        let (status, body) = outcome.unwrap();
        match status {
            200 => winners.push(body["access_token"].as_str().unwrap().to_owned()),
            other => assert_eq!(other, 400, "{body}"),
        }
    }
    assert!(
        winners.len() <= 1,
        "one refresh token spent {} times",
        winners.len()
    );
    // The losers presented a spent token: the family, the winner's new token too, is revoked,
    // whichever request got there first.
    for token in &winners {
        assert_eq!(app.whoami(token).await.status(), 401);
    }
}
