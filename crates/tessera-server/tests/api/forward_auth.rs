use crate::helpers::spawn_app;

#[tokio::test]
async fn verify_accepts_a_bearer_token_and_names_its_holder() {
    let app = spawn_app().await;
    let (access, _) = app.admin_tokens().await;
    let response = app
        .http
        .get(app.url("/auth/verify"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-auth-user"], "Admin");
    assert_eq!(response.headers()["x-auth-role"], "super_admin");
    assert_eq!(response.headers()["x-auth-scope"], "read write");
}

#[tokio::test]
async fn verify_reads_access_token_from_the_original_uri() {
    let app = spawn_app().await;
    let (access, _) = app.admin_tokens().await;
    let original = format!("/evj/ExtraView/ev_api.action?access_token={access}&statevar=fields");
    let response = app
        .http
        .get(app.url("/auth/verify"))
        .header("x-original-uri", original)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let own_query = app
        .http
        .get(app.url(&format!("/auth/verify?token={access}")))
        .send()
        .await
        .unwrap();
    assert_eq!(own_query.status(), 200);
}

#[tokio::test]
async fn verify_refuses_missing_and_bad_tokens() {
    let app = spawn_app().await;
    let missing = app.http.get(app.url("/auth/verify")).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    assert_eq!(
        missing.headers()["www-authenticate"],
        "Bearer realm=\"tessera\""
    );
    let bad = app
        .http
        .get(app.url("/auth/verify"))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    assert!(bad.headers().get("x-auth-user").is_none());
    let repeated = app
        .http
        .get(app.url("/auth/verify?token=a&token=b"))
        .send()
        .await
        .unwrap();
    assert_eq!(repeated.status(), 400);
}

#[tokio::test]
async fn verify_names_the_holder_as_they_are_now_not_as_first_checked() {
    use tessera_core::{Door, Origin, Role, Username};
    let app = spawn_app().await;
    let dave = app.create_user("dave", "dave-password", Role::User).await;
    let body = app.sign_in("dave", "dave-password").await;
    let access = body["access_token"].as_str().unwrap().to_owned();
    let holder = |headers: &reqwest::header::HeaderMap| {
        (
            headers["x-auth-user"].to_str().unwrap().to_owned(),
            headers["x-auth-role"].to_str().unwrap().to_owned(),
        )
    };
    for _ in 0..2 {
        let response = app.http.get(app.url("/auth/verify")).bearer_auth(&access);
        let response = response.send().await.unwrap();
        assert_eq!(holder(response.headers()), ("dave".into(), "user".into()));
        assert_eq!(app.whoami(&access).await.status(), 200);
    }
    app.authority
        .update_user(
            dave.id,
            Some(Username::parse("david").unwrap()),
            "David".into(),
            Role::Admin,
            &Origin::new(Door::Cli),
        )
        .await
        .unwrap();
    let response = app.http.get(app.url("/auth/verify")).bearer_auth(&access);
    let response = response.send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(holder(response.headers()), ("david".into(), "admin".into()));
    let whoami: serde_json::Value = app.whoami(&access).await.json().await.unwrap();
    assert_eq!(
        (&whoami["user"]["username"], &whoami["user"]["role"]),
        (&"david".into(), &"admin".into())
    );
}
