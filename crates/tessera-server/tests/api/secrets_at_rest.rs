use crate::helpers::{spawn_app, ADMIN_PASSWORD};
use tessera_core::GrantType;

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn the_database_holds_no_password_and_no_secret() {
    let app = spawn_app().await;
    let client_secret = app
        .create_client("svc", &[GrantType::ClientCredentials])
        .await;
    let (access, refresh) = app.admin_tokens().await;
    let rotated = app
        .post_form(
            "/oauth/token",
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
    assert_eq!(rotated.status(), 200);
    let failed = app.password_grant("Admin", "a-wrong-password-typed").await;
    assert_eq!(failed.status(), 400);
    let typo = app.password_grant(ADMIN_PASSWORD, "x").await;
    assert_eq!(
        typo.status(),
        400,
        "a password typed into the user name field"
    );
    app.authority.flush_last_access().await.unwrap();
    let bytes = app.database_bytes().await;
    assert!(!bytes.is_empty());
    for secret in [
        ADMIN_PASSWORD,
        "a-wrong-password-typed",
        &client_secret,
        &access,
        &refresh,
    ] {
        assert!(!contains(&bytes, secret), "a secret is stored in clear");
    }
    assert!(
        contains(&bytes, "$argon2id$"),
        "passwords are Argon2id hashes"
    );
}
