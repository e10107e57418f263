use crate::helpers::spawn_app;
use tessera_core::{Door, Origin, Role};

#[tokio::test]
async fn whoami_names_the_token_holder() {
    let app = spawn_app().await;
    let (access, _) = app.admin_tokens().await;
    let response = app.whoami(&access).await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["user"]["username"], "Admin");
    assert_eq!(body["user"]["id"], 1);
    assert_eq!(body["user"]["role"], "super_admin");
    assert_eq!(body["scope"], "read write");
    assert_eq!(body["token"]["door"], "oauth");
    assert_eq!(body["token"]["kind"], "session");
    // The fields, in the order clients have always seen them.
    let keys = |value: &serde_json::Value| -> Vec<String> {
        value.as_object().unwrap().keys().cloned().collect()
    };
    assert_eq!(keys(&body), ["user", "client_id", "scope", "token"]);
    assert_eq!(
        keys(&body["user"]),
        [
            "id",
            "uuid",
            "username",
            "display_name",
            "role",
            "permissions"
        ]
    );
    assert_eq!(
        keys(&body["token"]),
        ["id", "kind", "door", "created_at", "expires_at"]
    );
    assert!(body["client_id"].is_null() && body["user"]["permissions"].is_array());
}

#[tokio::test]
async fn a_request_without_a_token_gets_a_bare_challenge() {
    let app = spawn_app().await;
    let response = app
        .http
        .get(app.url("/api/v1/whoami"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer realm=\"tessera\""
    );
}

#[tokio::test]
async fn an_invalid_token_gets_invalid_token() {
    let app = spawn_app().await;
    let response = app
        .whoami("tsr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA000000")
        .await;
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.starts_with("Bearer realm=\"tessera\", error=\"invalid_token\""),
        "{challenge}"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token");
}

#[tokio::test]
async fn a_malformed_authorization_header_is_invalid_request() {
    let app = spawn_app().await;
    for value in ["Bearer a b", "Bearer", "Token abc", "Basic !!"] {
        let response = app
            .http
            .get(app.url("/api/v1/whoami"))
            .header("authorization", value)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{value}");
        assert!(response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_request\""));
    }
}

#[tokio::test]
async fn a_refresh_token_is_not_an_access_token() {
    let app = spawn_app().await;
    let (_, refresh) = app.admin_tokens().await;
    assert_eq!(app.whoami(&refresh).await.status(), 401);
}

#[tokio::test]
async fn disabling_a_user_refuses_their_tokens_at_once() {
    let app = spawn_app().await;
    let dave = app.create_user("dave", "dave-password", Role::User).await;
    let body = app.sign_in("dave", "dave-password").await;
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(app.whoami(access).await.status(), 200);
    app.authority
        .set_user_enabled(dave.id, false, &Origin::new(Door::Cli))
        .await
        .unwrap();
    assert_eq!(app.whoami(access).await.status(), 401);
}
