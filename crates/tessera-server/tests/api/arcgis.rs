//! The ArcGIS door: `generateToken` on its five paths, in JSON, pretty JSON and HTML; the token's
//! binding to an IP or a referer enforced at `/auth/verify`; ArcGIS-style errors; `rest/info`.

use crate::helpers::{spawn_app, TestApp, ADMIN_PASSWORD};
use reqwest::{Client as Http, Response};
use serde_json::Value;
use std::net::IpAddr;
use std::time::Duration;
use tessera_core::{AuditKind, AuditQuery, Binding, Door, Origin, Role, TokenQuery};

const SEED_PATH: &str = "/arcgis/admin/generateToken";
/// The seed's example request, byte for byte (the password is `"testpassword"`, quotes and all).
const SEED_BODY: &str = "user=testUser&password=\"testpassword\"&client=ipAddress&f=pjson";
const SEED_PASSWORD: &str = "\"testpassword\"";

const PATHS: [&str; 5] = [
    "/generateToken",
    "/arcgis/tokens/generateToken",
    "/arcgis/admin/generateToken",
    "/arcgis/sharing/rest/generateToken",
    "/sharing/rest/generateToken",
];

/// POSTs an urlencoded body exactly as given.
async fn post_raw(app: &TestApp, path: &str, body: impl Into<reqwest::Body>) -> Response {
    app.http
        .post(app.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// POSTs `generateToken` from the server's usual caller, 127.0.0.1.
async fn generate(app: &TestApp, form: &[(&str, &str)]) -> Value {
    generate_with(&app.http, app, form).await
}

async fn generate_with(http: &Http, app: &TestApp, form: &[(&str, &str)]) -> Value {
    let response = http
        .post(app.url("/arcgis/tokens/generateToken"))
        .form(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// The token of a successful answer.
fn token_of(answer: &Value) -> String {
    answer["token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token in {answer}"))
        .to_owned()
}

/// The detail of an ArcGIS error answer.
fn error_detail(answer: &Value) -> &str {
    assert_eq!(answer["error"]["code"], 400, "{answer}");
    assert_eq!(answer["error"]["message"], "Unable to generate token.");
    answer["error"]["details"][0]
        .as_str()
        .unwrap_or_else(|| panic!("no details in {answer}"))
}

/// A client whose connections come from `address` (Linux routes all of 127/8 on `lo`).
fn http_from(address: &str) -> Http {
    Http::builder()
        .local_address(address.parse::<IpAddr>().unwrap())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// The three ways an ArcGIS client presents its token.
#[derive(Debug, Clone, Copy)]
enum Via {
    TokenParameter,
    EsriHeader,
    BearerHeader,
}

const EVERY_WAY: [Via; 3] = [Via::TokenParameter, Via::EsriHeader, Via::BearerHeader];

async fn verify(
    http: &Http,
    app: &TestApp,
    token: &str,
    via: Via,
    referer: Option<&str>,
) -> reqwest::StatusCode {
    let request = match via {
        Via::TokenParameter => http.get(app.url(&format!("/auth/verify?token={token}"))),
        Via::EsriHeader => http
            .get(app.url("/auth/verify"))
            .header("x-esri-authorization", format!("Bearer {token}")),
        Via::BearerHeader => http.get(app.url("/auth/verify")).bearer_auth(token),
    };
    let request = match referer {
        Some(referer) => request.header("referer", referer),
        None => request,
    };
    request.send().await.unwrap().status()
}

fn in_minutes_ms(app: &TestApp, minutes: i64) -> i64 {
    let at = app.authority.now() + time::Duration::minutes(minutes);
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

#[tokio::test]
async fn the_seeds_example_request_gets_a_pretty_token_answer() {
    let app = spawn_app().await;
    app.create_user("testUser", SEED_PASSWORD, Role::User).await;
    let response = post_raw(&app, SEED_PATH, SEED_BODY).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let text = response.text().await.unwrap();
    assert!(text.contains('\n'), "pjson is pretty: {text}");
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert!(token_of(&answer).starts_with("tsr_"));
    assert_eq!(answer["expires"].as_i64(), Some(in_minutes_ms(&app, 60)));
    assert_eq!(answer["loginAsPSA"], false);
    let keys: Vec<_> = answer.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys.len(), 3);
    let positions: Vec<_> = ["\"token\"", "\"expires\"", "\"loginAsPSA\""]
        .iter()
        .map(|key| text.find(key).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
}

#[tokio::test]
async fn a_super_admin_logs_in_as_primary_site_administrator() {
    let app = spawn_app().await;
    let body = format!("user=Admin&password={ADMIN_PASSWORD}&client=ipAddress&f=pjson");
    let answer: Value = post_raw(&app, SEED_PATH, body).await.json().await.unwrap();
    assert_eq!(answer["loginAsPSA"], true, "{answer}");
    app.create_user("plainAdmin", "an admin password", Role::Admin)
        .await;
    let answer = generate(
        &app,
        &[
            ("username", "plainAdmin"),
            ("password", "an admin password"),
            ("f", "json"),
        ],
    )
    .await;
    assert_eq!(answer["loginAsPSA"], false, "only super admins: {answer}");
}

#[tokio::test]
async fn every_generate_token_path_answers_post_and_get() {
    let app = spawn_app().await;
    app.create_user("testUser", SEED_PASSWORD, Role::User).await;
    for path in PATHS {
        let response = post_raw(&app, path, SEED_BODY).await;
        assert_eq!(response.status(), 200, "POST {path}");
        let answer: Value = response.json().await.unwrap();
        assert!(answer["token"].is_string(), "POST {path}: {answer}");

        let query = "username=testUser&password=%22testpassword%22&client=requestip&f=json";
        let response = app
            .http
            .get(app.url(&format!("{path}?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
        let text = response.text().await.unwrap();
        assert!(!text.contains('\n'), "f=json is compact: {text}");
        let answer: Value = serde_json::from_str(&text).unwrap();
        assert!(answer["token"].is_string(), "GET {path}: {answer}");
        assert!(answer["expires"].is_i64());
    }
}

#[tokio::test]
async fn parameters_may_be_split_between_query_and_body() {
    let app = spawn_app().await;
    app.create_user("testUser", SEED_PASSWORD, Role::User).await;
    let response = post_raw(
        &app,
        "/sharing/rest/generateToken?f=json&client=requestip",
        "username=testUser&password=%22testpassword%22",
    )
    .await;
    let answer: Value = response.json().await.unwrap();
    assert!(answer["token"].is_string(), "{answer}");
}

#[tokio::test]
async fn a_requestip_token_works_only_from_the_address_that_asked_for_it() {
    let app = spawn_app().await;
    app.create_user("alice", "alice's password", Role::User)
        .await;
    let here = http_from("127.0.0.1");
    let elsewhere = http_from("127.0.0.2");
    let answer = generate_with(
        &here,
        &app,
        &[
            ("username", "alice"),
            ("password", "alice's password"),
            ("client", "requestip"),
            ("f", "json"),
        ],
    )
    .await;
    let token = token_of(&answer);
    for via in EVERY_WAY {
        assert_eq!(verify(&here, &app, &token, via, None).await, 200, "{via:?}");
        assert_eq!(
            verify(&elsewhere, &app, &token, via, None).await,
            401,
            "{via:?}"
        );
    }
}

#[tokio::test]
async fn an_ip_token_works_only_from_the_named_address() {
    let app = spawn_app().await;
    app.create_user("alice", "alice's password", Role::User)
        .await;
    let here = http_from("127.0.0.1");
    let there = http_from("127.0.0.2");
    // Asked for from 127.0.0.1, for use from 127.0.0.2.
    let answer = generate_with(
        &here,
        &app,
        &[
            ("username", "alice"),
            ("password", "alice's password"),
            ("client", "ip"),
            ("ip", "127.0.0.2"),
            ("f", "json"),
        ],
    )
    .await;
    let token = token_of(&answer);
    for via in EVERY_WAY {
        assert_eq!(
            verify(&there, &app, &token, via, None).await,
            200,
            "{via:?}"
        );
        assert_eq!(verify(&here, &app, &token, via, None).await, 401, "{via:?}");
    }
}

#[tokio::test]
async fn the_seeds_ip_address_client_binds_to_the_given_ip_or_the_caller() {
    let app = spawn_app().await;
    app.create_user("testUser", SEED_PASSWORD, Role::User).await;
    let here = http_from("127.0.0.1");
    let there = http_from("127.0.0.2");
    let answer: Value = post_raw(&app, SEED_PATH, SEED_BODY)
        .await
        .json()
        .await
        .unwrap();
    let callers_own = token_of(&answer);
    assert_eq!(
        verify(&here, &app, &callers_own, Via::TokenParameter, None).await,
        200
    );
    assert_eq!(
        verify(&there, &app, &callers_own, Via::TokenParameter, None).await,
        401
    );

    let body = format!("{SEED_BODY}&ip=127.0.0.2");
    let answer: Value = post_raw(&app, SEED_PATH, body).await.json().await.unwrap();
    let named = token_of(&answer);
    assert_eq!(
        verify(&there, &app, &named, Via::TokenParameter, None).await,
        200
    );
    assert_eq!(
        verify(&here, &app, &named, Via::TokenParameter, None).await,
        401
    );
}

#[tokio::test]
async fn a_referer_token_needs_that_exact_referer() {
    let app = spawn_app().await;
    app.create_user("alice", "alice's password", Role::User)
        .await;
    let answer = generate(
        &app,
        &[
            ("username", "alice"),
            ("password", "alice's password"),
            ("client", "referer"),
            ("referer", "https://app.example/"),
            ("f", "json"),
        ],
    )
    .await;
    let token = token_of(&answer);
    let http = &app.http;
    for via in EVERY_WAY {
        let right = verify(http, &app, &token, via, Some("https://app.example/")).await;
        assert_eq!(right, 200, "{via:?}");
        let other = verify(http, &app, &token, via, Some("https://evil.example/")).await;
        assert_eq!(other, 401, "{via:?}");
        let prefix = verify(http, &app, &token, via, Some("https://app.example/x")).await;
        assert_eq!(prefix, 401, "{via:?}");
        assert_eq!(verify(http, &app, &token, via, None).await, 401, "{via:?}");
    }
}

#[tokio::test]
async fn a_token_without_client_is_unbound() {
    let app = spawn_app().await;
    app.create_user("alice", "alice's password", Role::User)
        .await;
    let answer = generate(
        &app,
        &[
            ("username", "alice"),
            ("password", "alice's password"),
            ("f", "json"),
        ],
    )
    .await;
    let token = token_of(&answer);
    let status = verify(&http_from("127.0.0.2"), &app, &token, Via::EsriHeader, None).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn expiration_defaults_to_an_hour_and_is_cut_to_a_year() {
    let app = spawn_app().await;
    app.create_user("alice", "alice's password", Role::User)
        .await;
    let with_expiration = |minutes: &'static str| {
        [
            ("username", "alice"),
            ("password", "alice's password"),
            ("expiration", minutes),
            ("f", "json"),
        ]
    };
    let default = generate(&app, &with_expiration("")).await;
    assert_eq!(default["expires"].as_i64(), Some(in_minutes_ms(&app, 60)));
    let five = generate(&app, &with_expiration("5")).await;
    assert_eq!(five["expires"].as_i64(), Some(in_minutes_ms(&app, 5)));
    let year = generate(&app, &with_expiration("525600")).await;
    assert_eq!(year["expires"].as_i64(), Some(in_minutes_ms(&app, 525_600)));
    let over = generate(&app, &with_expiration("525601")).await;
    assert_eq!(over["expires"].as_i64(), Some(in_minutes_ms(&app, 525_600)));
}

#[tokio::test]
async fn an_expiration_that_is_not_a_positive_number_is_an_error() {
    let app = spawn_app().await;
    app.create_user("alice", "alice's password", Role::User)
        .await;
    for bad in ["abc", "0", "-5", "1.5"] {
        let answer = generate(
            &app,
            &[
                ("username", "alice"),
                ("password", "alice's password"),
                ("expiration", bad),
                ("f", "json"),
            ],
        )
        .await;
        assert_eq!(
            error_detail(&answer),
            "Invalid value for parameter expiration.",
            "{bad}"
        );
    }
}

#[tokio::test]
async fn a_token_is_refused_once_its_expiration_has_passed() {
    let app = spawn_app().await;
    app.create_user("alice", "alice's password", Role::User)
        .await;
    let answer = generate(
        &app,
        &[
            ("username", "alice"),
            ("password", "alice's password"),
            ("expiration", "2"),
            ("f", "json"),
        ],
    )
    .await;
    let token = token_of(&answer);
    app.clock.advance(time::Duration::seconds(119));
    assert_eq!(
        verify(&app.http, &app, &token, Via::TokenParameter, None).await,
        200
    );
    app.clock.advance(time::Duration::seconds(1));
    assert_eq!(
        verify(&app.http, &app, &token, Via::TokenParameter, None).await,
        401
    );
}

/// The token shown on an HTML result page.
fn token_in_page(page: &str) -> String {
    let start = page
        .find("<code id=\"token\">")
        .expect("a token on the page")
        + 17;
    let end = start + page[start..].find("</code>").unwrap();
    page[start..end].to_owned()
}

#[tokio::test]
async fn html_is_the_default_format_with_a_form_and_the_token() {
    let app = spawn_app().await;
    app.create_user("alice", "alice's password", Role::User)
        .await;
    let blank = app
        .http
        .get(app.url("/arcgis/tokens/generateToken"))
        .send()
        .await
        .unwrap();
    assert_eq!(blank.status(), 200);
    assert_eq!(blank.headers()["content-type"], "text/html; charset=utf-8");
    let blank = blank.text().await.unwrap();
    assert!(blank.contains("<form"), "{blank}");
    assert!(blank.contains("action=\"/arcgis/tokens/generateToken\""));
    assert!(!blank.contains("Unable to generate token"), "{blank}");

    for f in [None, Some("html")] {
        let mut form = vec![
            ("username", "alice"),
            ("password", "alice's password"),
            ("client", "requestip"),
        ];
        form.extend(f.map(|f| ("f", f)));
        let response = app
            .http
            .post(app.url("/generateToken"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "text/html; charset=utf-8"
        );
        assert_eq!(response.headers()["cache-control"], "no-store");
        let page = response.text().await.unwrap();
        assert!(page.contains("<form"), "{page}");
        assert!(page.contains("value=\"alice\""), "the user name is echoed");
        let token = token_in_page(&page);
        assert!(token.starts_with("tsr_"), "{token}");
        assert_eq!(
            verify(&app.http, &app, &token, Via::EsriHeader, None).await,
            200
        );
    }
}

#[tokio::test]
async fn the_html_page_escapes_what_it_echoes_and_never_shows_the_password() {
    let app = spawn_app().await;
    let password = "pw-<b>never-shown</b>";
    app.create_user("alice", password, Role::User).await;
    let hostile = "<script>alert('x')</script>\"";
    let mut bodies = Vec::new();
    for (username, f) in [
        (hostile, "html"),
        (hostile, "json"),
        ("alice", "html"),
        ("alice", "json"),
        ("alice", "pjson"),
    ] {
        let response = app
            .http
            .post(app.url("/generateToken"))
            .form(&[
                ("username", username),
                ("password", password),
                ("referer", "\"><script>x</script>"),
                ("f", f),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        bodies.push(response.text().await.unwrap());
    }
    let error_page = &bodies[0];
    assert!(
        error_page.contains("Invalid username or password."),
        "{error_page}"
    );
    assert!(error_page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;"));
    assert!(error_page.contains("&quot;&gt;&lt;script&gt;x&lt;/script&gt;"));
    assert!(!error_page.contains("<script>"), "{error_page}");
    let encoded_password = "pw-%3Cb%3Enever-shown%3C%2Fb%3E";
    for body in &bodies {
        assert!(!body.contains("never-shown"), "{body}");
        assert!(!body.contains(encoded_password), "{body}");
    }
    assert!(
        bodies[2].contains("<code id=\"token\">tsr_"),
        "alice signed in"
    );
}

#[tokio::test]
async fn wrong_password_unknown_user_and_disabled_user_get_the_same_answer() {
    let app = spawn_app().await;
    let alice = app
        .create_user("alice", "alice's password", Role::User)
        .await;
    app.create_user("bob", "bob's password", Role::User).await;
    let bob = app.authority.user_by_name("bob").await.unwrap();
    app.authority
        .set_user_enabled(bob.id, false, &Origin::new(Door::Cli))
        .await
        .unwrap();
    let attempt = |username: &'static str, password: &'static str| {
        let app = &app;
        async move {
            let response = post_raw(
                app,
                "/arcgis/sharing/rest/generateToken",
                format!("username={username}&password={password}&f=json"),
            )
            .await;
            assert_eq!(response.status(), 200);
            response.text().await.unwrap()
        }
    };
    let wrong = attempt("alice", "not-it").await;
    let unknown = attempt("nobody", "not-it").await;
    let disabled = attempt("bob", "bob's%20password").await;
    assert_eq!(
        wrong,
        r#"{"error":{"code":400,"message":"Unable to generate token.","details":["Invalid username or password."]}}"#
    );
    assert_eq!(wrong, unknown);
    assert_eq!(wrong, disabled);
    assert!(alice.enabled);
}

#[tokio::test]
async fn bad_input_gets_an_arcgis_error_never_a_5xx() {
    let app = spawn_app().await;
    app.create_user("alice", "alice's password", Role::User)
        .await;
    let cases: [(&str, &[u8], &str); 12] = [
        ("", b"password=x&f=json", "'username' must be specified."),
        (
            "",
            b"username=alice&f=json",
            "'password' must be specified.",
        ),
        (
            "",
            b"username=alice&password=x&client=bogus&f=json",
            "Invalid value for parameter client.",
        ),
        (
            "",
            b"username=alice&password=x&client=ip&f=json",
            "'ip' must be specified.",
        ),
        (
            "",
            b"username=alice&password=x&client=ip&ip=not.an.ip&f=json",
            "Invalid value for parameter ip.",
        ),
        (
            "",
            b"username=alice&password=x&client=referer&f=json",
            "'referer' must be specified.",
        ),
        ("", b"username=a&username=b&password=x&f=json", "repeated"),
        ("?username=a", b"username=a&password=x&f=json", "repeated"),
        ("", b"username=a&user=a&password=x&f=json", "repeated"),
        ("", b"username=alice&password=x&f=json&f=pjson", "repeated"),
        ("", b"username=%FF%FE&password=x&f=json", "UTF-8"),
        ("?f=json", b"username=al\xffice&password=x", "UTF-8"),
    ];
    for (query, body, expected) in cases {
        let response = post_raw(&app, &format!("/generateToken{query}"), body.to_vec()).await;
        assert_eq!(response.status(), 200, "{query} {body:?}");
        let answer: Value = response.json().await.unwrap();
        let detail = error_detail(&answer);
        assert!(detail.contains(expected), "{detail} for {query} {body:?}");
    }
    let wrong_type = app
        .http
        .post(app.url("/generateToken?f=json"))
        .header("content-type", "text/plain")
        .body("username=alice")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), 200);
    let answer: Value = wrong_type.json().await.unwrap();
    assert!(error_detail(&answer).starts_with("Malformed request"));
    let unknown_format = post_raw(&app, "/generateToken", "f=xml").await;
    assert_eq!(unknown_format.status(), 200);
    let answer: Value = unknown_format.json().await.unwrap();
    assert_eq!(error_detail(&answer), "Invalid value for parameter f.");
}

#[tokio::test]
async fn rest_info_points_arcgis_clients_at_the_token_service() {
    let app = spawn_app().await;
    for query in ["?f=json", "", "?f=pjson"] {
        let response = app
            .http
            .get(app.url(&format!("/arcgis/rest/info{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let text = response.text().await.unwrap();
        assert_eq!(text.contains('\n'), query == "?f=pjson", "{text}");
        let info: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(info["currentVersion"], 11.3);
        assert_eq!(info["authInfo"]["isTokenBasedSecurity"], true);
        assert_eq!(
            info["authInfo"]["tokenServicesUrl"],
            app.url("/arcgis/tokens/generateToken")
        );
        assert_eq!(info["authInfo"]["shortLivedTokenValidity"], 60);
    }
}

#[tokio::test]
async fn an_arcgis_token_is_a_core_token_with_its_door_binding_and_audit() {
    let app = spawn_app().await;
    let alice = app
        .create_user("alice", "alice's password", Role::User)
        .await;
    let answer = generate(
        &app,
        &[
            ("username", "alice"),
            ("password", "alice's password"),
            ("client", "referer"),
            ("referer", "https://app.example/"),
            ("f", "json"),
        ],
    )
    .await;
    token_of(&answer);
    let tokens = app
        .authority
        .tokens(&TokenQuery {
            door: Some(Door::ArcGis),
            limit: 10,
            ..TokenQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(tokens.len(), 1);
    let token = &tokens[0];
    assert_eq!(token.user_id, Some(alice.id));
    assert_eq!(
        token.binding,
        Binding::Referer("https://app.example/".into())
    );
    assert_eq!(token.kind, tessera_core::TokenKind::Session);
    let issued = app
        .authority
        .audit_events(&AuditQuery {
            kind: Some(AuditKind::TokenIssued),
            door: Some(Door::ArcGis),
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].event.token_id, Some(token.id));
    assert_eq!(issued[0].event.source_ip.as_deref(), Some("127.0.0.1"));
}
