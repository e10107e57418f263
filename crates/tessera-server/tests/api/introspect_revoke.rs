use crate::helpers::{spawn_app, ALL_GRANTS};
use tessera_core::{AuditKind, AuditQuery, Door, GrantType, Origin, Role};

#[tokio::test]
async fn introspection_needs_an_authenticated_caller() {
    let app = spawn_app().await;
    let (access, _) = app.admin_tokens().await;
    let anonymous = app
        .post_form("/oauth/introspect", &[("token", &access)])
        .await;
    assert_eq!(anonymous.status(), 401);
    let body: serde_json::Value = anonymous.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");

    app.create_user("carol", "carol-password", Role::User).await;
    let carol = app.sign_in("carol", "carol-password").await;
    let as_user = app
        .http
        .post(app.url("/oauth/introspect"))
        .bearer_auth(carol["access_token"].as_str().unwrap())
        .form(&[("token", &access)])
        .send()
        .await
        .unwrap();
    assert_eq!(as_user.status(), 401, "a plain user may not introspect");

    let as_admin = app
        .http
        .post(app.url("/oauth/introspect"))
        .bearer_auth(&access)
        .form(&[("token", carol["access_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(as_admin.status(), 200);
    let body: serde_json::Value = as_admin.json().await.unwrap();
    assert_eq!(body["active"], true);
    assert_eq!(body["username"], "carol");
}

#[tokio::test]
async fn introspection_reports_active_tokens_and_only_active_false_otherwise() {
    let app = spawn_app().await;
    let secret = app
        .create_client("rs", &[GrantType::ClientCredentials])
        .await;
    let (access, refresh) = app.admin_tokens().await;
    let body = app.introspect(("rs", &secret), &access).await;
    assert_eq!(body["active"], true);
    assert_eq!(body["username"], "Admin");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "read write");
    assert_eq!(body["door"], "oauth");
    assert!(body["exp"].as_i64().unwrap() > body["iat"].as_i64().unwrap());
    assert_eq!(body["iss"], app.address);

    let body = app.introspect(("rs", &secret), &refresh).await;
    assert_eq!(body["active"], true);
    assert_eq!(body["token_type"], "refresh_token");

    for garbage in ["tsr_nonsense", "not-a-token", &"x".repeat(2000)] {
        let body = app.introspect(("rs", &secret), garbage).await;
        assert_eq!(body, serde_json::json!({ "active": false }));
    }
}

/// The client is cached once it authenticates; a wrong secret, or a deletion, still counts at
/// once.
#[tokio::test]
async fn a_cached_client_still_needs_its_secret_and_is_forgotten_when_deleted() {
    let app = spawn_app().await;
    let secret = app
        .create_client("rs", &[GrantType::ClientCredentials])
        .await;
    let (access, _) = app.admin_tokens().await;
    let call = |secret: String| {
        app.http
            .post(app.url("/oauth/introspect"))
            .basic_auth("rs", Some(secret))
            .form(&[("token", &access)])
            .send()
    };
    assert_eq!(call(secret.clone()).await.unwrap().status(), 200);
    assert_eq!(call(format!("{secret}x")).await.unwrap().status(), 401);
    assert_eq!(call(secret.clone()).await.unwrap().status(), 200);

    app.authority
        .delete_client("rs", &Origin::new(Door::Cli))
        .await
        .unwrap();
    let refused = call(secret).await.unwrap();
    assert_eq!(refused.status(), 401);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
}

#[tokio::test]
async fn revoked_tokens_are_refused_at_once() {
    let app = spawn_app().await;
    let secret = app
        .create_client("rs", &[GrantType::ClientCredentials])
        .await;
    let (access, _) = app.admin_tokens().await;
    assert_eq!(app.whoami(&access).await.status(), 200, "now cached");
    let revoked = app.post_form("/oauth/revoke", &[("token", &access)]).await;
    assert_eq!(revoked.status(), 200);
    assert_eq!(revoked.text().await.unwrap(), "");
    assert_eq!(app.whoami(&access).await.status(), 401);
    let body = app.introspect(("rs", &secret), &access).await;
    assert_eq!(body["active"], false);
    let events = app
        .authority
        .audit_events(&AuditQuery {
            kind: Some(AuditKind::TokenRevoked),
            limit: 5,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
}

#[tokio::test]
async fn revoking_an_unknown_token_is_not_an_error() {
    let app = spawn_app().await;
    let response = app
        .post_form(
            "/oauth/revoke",
            &[
                ("token", "tsr_unknown"),
                ("token_type_hint", "access_token"),
            ],
        )
        .await;
    assert_eq!(response.status(), 200);
    let missing = app.post_form("/oauth/revoke", &[]).await;
    assert_eq!(missing.status(), 400);
}

#[tokio::test]
async fn revoking_a_refresh_token_revokes_its_access_tokens() {
    let app = spawn_app().await;
    let (access, refresh) = app.admin_tokens().await;
    let response = app
        .post_form(
            "/oauth/revoke",
            &[("token", &refresh), ("token_type_hint", "refresh_token")],
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(app.whoami(&access).await.status(), 401);
}

#[tokio::test]
async fn only_the_owning_client_may_revoke_a_client_token() {
    let app = spawn_app().await;
    let owner = app.create_client("owner", &ALL_GRANTS).await;
    let thief = app.create_client("thief", &ALL_GRANTS).await;
    let issued: serde_json::Value = app
        .client_credentials("owner", &owner)
        .await
        .json()
        .await
        .unwrap();
    let token = issued["access_token"].as_str().unwrap();
    let anonymous = app.post_form("/oauth/revoke", &[("token", token)]).await;
    assert_eq!(anonymous.status(), 401);
    let other = app
        .http
        .post(app.url("/oauth/revoke"))
        .basic_auth("thief", Some(&thief))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 400);
    assert_eq!(app.whoami(token).await.status(), 200);
    let own = app
        .http
        .post(app.url("/oauth/revoke"))
        .basic_auth("owner", Some(&owner))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
    assert_eq!(app.whoami(token).await.status(), 401);
}

#[tokio::test]
async fn metadata_announces_the_endpoints() {
    let app = spawn_app().await;
    let body: serde_json::Value = app
        .http
        .get(app.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["issuer"], app.address);
    assert_eq!(body["token_endpoint"], app.url("/oauth/token"));
    assert_eq!(body["introspection_endpoint"], app.url("/oauth/introspect"));
    assert_eq!(body["revocation_endpoint"], app.url("/oauth/revoke"));
    assert_eq!(
        body["grant_types_supported"],
        serde_json::json!(["password", "client_credentials", "refresh_token"])
    );
    assert_eq!(
        body["scopes_supported"],
        serde_json::json!(["read", "write"])
    );
}
