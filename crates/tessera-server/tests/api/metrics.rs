//! `/metrics`: what an operator's Prometheus scrapes. Requests are counted by route template,
//! security events by kind and door, checks by outcome; nothing a client sent (a path, a name,
//! a password, a token) ever becomes a label.

use crate::helpers::{spawn_app, ADMIN_PASSWORD};

async fn scrape(app: &crate::helpers::TestApp) -> String {
    let response = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = response.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    text
}

/// The value of the sample whose name and labels are exactly `series`.
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no sample {series} in:\n{text}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn requests_events_and_checks_are_counted_without_secrets() {
    let app = spawn_app().await;
    let before = scrape(&app).await;
    assert_eq!(
        value(
            &before,
            r#"tessera_audit_events_total{kind="login.failed",door="oauth"}"#
        ),
        0.0
    );

    let (token, _) = app.admin_tokens().await;
    let wrong = "wrong-password-in-metrics";
    assert_eq!(app.password_grant("Admin", wrong).await.status(), 400);
    assert_eq!(app.whoami(&token).await.status(), 200);
    assert_eq!(app.whoami(&token).await.status(), 200);
    let unknown = "tsr_unknownTokenForMetrics";
    assert_eq!(app.whoami(unknown).await.status(), 401);
    let odd_path = "/no-such-route-with-a-secret-in-it";
    assert_eq!(
        app.http
            .get(app.url(odd_path))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    let text = scrape(&app).await;
    let requests = |status: u16| {
        value(
            &text,
            &format!(
                r#"tessera_http_requests_total{{route="/oauth/token",method="POST",status="{status}"}}"#
            ),
        )
    };
    assert_eq!(requests(200), 1.0);
    assert_eq!(requests(400), 1.0);
    assert_eq!(
        value(
            &text,
            r#"tessera_http_requests_total{route="unmatched",method="GET",status="404"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            r#"tessera_http_request_duration_seconds_count{route="/api/v1/whoami"}"#
        ),
        3.0
    );
    assert_eq!(
        value(
            &text,
            r#"tessera_audit_events_total{kind="login.failed",door="oauth"}"#
        ),
        1.0
    );
    // The password grant issued an access token and a refresh token.
    assert_eq!(
        value(
            &text,
            r#"tessera_audit_events_total{kind="token.issued",door="oauth"}"#
        ),
        2.0
    );
    assert_eq!(
        value(
            &text,
            r#"tessera_token_checks_total{door="oauth",outcome="accepted"}"#
        ),
        2.0
    );
    assert_eq!(
        value(
            &text,
            r#"tessera_token_checks_total{door="oauth",outcome="refused"}"#
        ),
        1.0
    );
    // The first check of the token read the database, the second found it cached.
    assert!(value(&text, r#"tessera_token_cache_lookups_total{result="hit"}"#) >= 1.0);
    assert!(value(&text, r#"tessera_token_cache_entries"#) >= 1.0);

    for secret in [
        ADMIN_PASSWORD,
        wrong,
        token.as_str(),
        unknown,
        odd_path,
        "Admin",
    ] {
        assert!(!text.contains(secret), "{secret:?} is in the metrics");
    }
}
