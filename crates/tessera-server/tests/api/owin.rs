//! The OWIN-style `/Token` door: the seed's own curl, JSON and HTTP Basic variants, the rule
//! that a new token discards the older ones, expiry on the injected clock, and OWIN's errors.

use crate::helpers::{spawn_app, TestApp, ADMIN_PASSWORD};
use serde::de::{Deserializer, MapAccess, Visitor};
use std::fmt;
use tessera_core::{AuditKind, AuditQuery, Clock, Door, Role, TokenKind, TokenQuery, User};
use time::format_description::FormatItem;
use time::macros::format_description;
use time::{Duration, OffsetDateTime, PrimitiveDateTime};

const FIELDS: [&str; 8] = [
    "access_token",
    "token_type",
    "expires_in",
    "userName",
    "userId",
    "role",
    ".issued",
    ".expires",
];

const FOURTEEN_DAYS: i64 = 14 * 24 * 3600;

const RFC_1123: &[FormatItem<'static>] = format_description!(
    "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
);

/// A JSON object's members in the order they were sent: key order is part of the wire format
/// (the seed shows it, and clients that parse by position exist).
struct Ordered(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> Visitor<'de> for Members {
            type Value = Ordered;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry()? {
                    members.push(member);
                }
                Ok(Ordered(members))
            }
        }
        deserializer.deserialize_map(Members)
    }
}

impl Ordered {
    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(k, _)| k.as_str()).collect()
    }

    fn get(&self, key: &str) -> &serde_json::Value {
        &self.0.iter().find(|(k, _)| k == key).expect(key).1
    }

    fn str(&self, key: &str) -> &str {
        self.get(key).as_str().expect(key)
    }
}

fn rfc_1123(text: &str) -> OffsetDateTime {
    PrimitiveDateTime::parse(text, RFC_1123)
        .unwrap_or_else(|e| panic!("{text:?} is not RFC 1123: {e}"))
        .assume_utc()
}

fn whole_seconds(at: OffsetDateTime) -> OffsetDateTime {
    at.replace_nanosecond(0).unwrap()
}

/// Runs the seed's example request with the real curl, only the URL and the credentials
/// changed, and answers what curl printed.
async fn seed_curl(app: &TestApp, username: &str, password: &str) -> String {
    let url = app.url("/Token");
    let username = format!("username={username}");
    let password = format!("password={password}");
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("curl")
            .args(["--silent", "--show-error", "--location", "--request", "GET"])
            .arg(url)
            .args(["--header", "Content-Type: application/json"])
            .args(["--data-urlencode", "grant_type=password"])
            .args(["--data-urlencode", &username])
            .args(["--data-urlencode", &password])
            .output()
            .expect("curl runs")
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("a UTF-8 answer")
}

/// POSTs an urlencoded `/Token` request and answers the status and body.
async fn post_token(app: &TestApp, form: &[(&str, &str)]) -> (u16, String) {
    let response = app
        .http
        .post(app.url("/Token"))
        .form(form)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn owin_sign_in(app: &TestApp, username: &str, password: &str) -> Ordered {
    let (status, body) = post_token(
        app,
        &[
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn assert_is_token_of(answer: &Ordered, user: &User, role: &str) {
    assert_eq!(answer.keys(), FIELDS);
    assert!(answer.str("access_token").starts_with("tsr_"));
    assert_eq!(answer.str("token_type"), "bearer");
    assert_eq!(answer.get("expires_in"), FOURTEEN_DAYS);
    assert_eq!(answer.str("userName"), user.username);
    assert_eq!(answer.str("userId"), user.uuid.to_string());
    assert_eq!(answer.str("role"), role);
}

#[tokio::test]
async fn the_seeds_curl_gets_a_token_in_owins_format() {
    let app = spawn_app().await;
    let alice = app
        .create_user(
            "alice@example.com",
            "alice's passphrase & more",
            Role::Admin,
        )
        .await;

    let body = seed_curl(&app, "alice@example.com", "alice's passphrase & more").await;
    let answer: Ordered = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));

    assert_eq!(answer.keys(), FIELDS, "{body}");
    assert!(answer.str("access_token").starts_with("tsr_"));
    assert_eq!(answer.str("token_type"), "bearer");
    assert_eq!(answer.get("expires_in"), FOURTEEN_DAYS);
    assert!(answer.get("expires_in").is_i64());
    assert_eq!(answer.str("userName"), "alice@example.com");
    assert_eq!(answer.str("userId"), alice.uuid.to_string());
    assert_eq!(answer.str("role"), "Administrator");
    let issued = rfc_1123(answer.str(".issued"));
    let expires = rfc_1123(answer.str(".expires"));
    assert_eq!(issued, whole_seconds(app.clock.now()));
    assert_eq!(expires - issued, Duration::days(14));
    assert!(answer.str(".issued").ends_with(" GMT"));

    let whoami = app.whoami(answer.str("access_token")).await;
    assert_eq!(whoami.status(), 200);
    let whoami: serde_json::Value = whoami.json().await.unwrap();
    assert_eq!(whoami["user"]["username"], "alice@example.com");
    assert_eq!(whoami["token"]["door"], "owin");
}

#[tokio::test]
async fn each_role_has_its_owin_name_and_headers_forbid_caching() {
    let app = spawn_app().await;
    let user = app.create_user("carol", "carol-password", Role::User).await;
    assert_is_token_of(
        &owin_sign_in(&app, "carol", "carol-password").await,
        &user,
        "User",
    );
    let admin = app.authority.user_by_name("Admin").await.unwrap();
    assert_is_token_of(
        &owin_sign_in(&app, "Admin", ADMIN_PASSWORD).await,
        &admin,
        "Super Administrator",
    );

    let response = app
        .http
        .post(app.url("/Token"))
        .form(&[
            ("grant_type", "password"),
            ("username", "carol"),
            ("password", "carol-password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["pragma"], "no-cache");
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
}

#[tokio::test]
async fn a_real_json_body_is_accepted() {
    let app = spawn_app().await;
    let dave = app.create_user("dave", "dave-password", Role::User).await;
    let response = app
        .http
        .post(app.url("/Token"))
        .json(&serde_json::json!({
            "grant_type": "password",
            "username": "dave",
            "password": "dave-password",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Ordered = response.json().await.unwrap();
    assert_is_token_of(&answer, &dave, "User");
}

#[tokio::test]
async fn http_basic_credentials_stand_in_for_missing_username_and_password() {
    let app = spawn_app().await;
    // `+` and `%` would be mangled if the header were form-decoded like OAuth client secrets.
    let erin = app.create_user("erin", "p+ss%20word", Role::User).await;
    let response = app
        .http
        .post(app.url("/Token"))
        .basic_auth("erin", Some("p+ss%20word"))
        .form(&[("grant_type", "password")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Ordered = response.json().await.unwrap();
    assert_is_token_of(&answer, &erin, "User");

    let wrong = app
        .http
        .post(app.url("/Token"))
        .basic_auth("erin", Some("not-it"))
        .form(&[("grant_type", "password")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 400);
    let body: serde_json::Value = wrong.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn a_new_token_discards_the_older_ones_but_not_other_doors_tokens() {
    let app = spawn_app().await;
    app.create_user("frank", "frank-password", Role::User).await;
    let oauth = app.sign_in("frank", "frank-password").await;
    let oauth_token = oauth["access_token"].as_str().unwrap();

    let first = owin_sign_in(&app, "frank", "frank-password").await;
    assert_eq!(app.whoami(first.str("access_token")).await.status(), 200);
    let second = owin_sign_in(&app, "frank", "frank-password").await;
    assert_ne!(first.str("access_token"), second.str("access_token"));

    assert_eq!(app.whoami(first.str("access_token")).await.status(), 401);
    assert_eq!(app.whoami(second.str("access_token")).await.status(), 200);
    assert_eq!(app.whoami(oauth_token).await.status(), 200);
    let discarded = app
        .authority
        .audit_events(&AuditQuery {
            kind: Some(AuditKind::TokenRevoked),
            door: Some(Door::Owin),
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(discarded.len(), 1);

    // Another user's /Token token is not theirs to discard.
    app.create_user("grace", "grace-password", Role::User).await;
    owin_sign_in(&app, "grace", "grace-password").await;
    assert_eq!(app.whoami(second.str("access_token")).await.status(), 200);
}

#[tokio::test]
async fn expiry_follows_the_injected_clock() {
    let app = spawn_app().await;
    app.create_user("heidi", "heidi-password", Role::User).await;
    let first = owin_sign_in(&app, "heidi", "heidi-password").await;

    app.clock.advance(Duration::seconds(1));
    let second = owin_sign_in(&app, "heidi", "heidi-password").await;
    assert_eq!(second.get("expires_in"), FOURTEEN_DAYS);
    assert_eq!(
        rfc_1123(second.str(".issued")) - rfc_1123(first.str(".issued")),
        Duration::seconds(1)
    );
    assert_eq!(
        rfc_1123(second.str(".expires")) - rfc_1123(first.str(".expires")),
        Duration::seconds(1)
    );

    let token = second.str("access_token");
    app.clock
        .advance(Duration::seconds(FOURTEEN_DAYS) - Duration::seconds(1));
    assert_eq!(app.whoami(token).await.status(), 200);
    app.clock.advance(Duration::seconds(2));
    assert_eq!(app.whoami(token).await.status(), 401);
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_byte_identical_answers() {
    let app = spawn_app().await;
    app.create_user("ivan", "ivan-password", Role::User).await;
    let mut bodies = Vec::new();
    for (user, password) in [("ivan", "wrong-password"), ("nobody", "ivan-password")] {
        let (status, body) = post_token(
            &app,
            &[
                ("grant_type", "password"),
                ("username", user),
                ("password", password),
            ],
        )
        .await;
        assert_eq!(status, 400);
        assert!(!body.contains(password), "{body}");
        bodies.push(body);
    }
    assert_eq!(bodies[0], bodies[1]);
    assert_eq!(
        bodies[0],
        r#"{"error":"invalid_grant","error_description":"The user name or password is incorrect."}"#
    );
    let failures = app
        .authority
        .audit_events(&AuditQuery {
            kind: Some(AuditKind::LoginFailed),
            door: Some(Door::Owin),
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(failures.len(), 2);
}

#[tokio::test]
async fn bad_requests_get_owins_errors_and_never_a_5xx() {
    let app = spawn_app().await;
    app.create_user("judy", "judy-secret-pw", Role::User).await;
    let urlencoded = "application/x-www-form-urlencoded";
    let cases: [(&str, &[u8], &str); 10] = [
        (
            urlencoded,
            b"grant_type=client_credentials&username=judy&password=judy-secret-pw",
            "unsupported_grant_type",
        ),
        (
            urlencoded,
            b"username=judy&password=judy-secret-pw",
            "unsupported_grant_type",
        ),
        (urlencoded, b"", "unsupported_grant_type"),
        (urlencoded, b"grant_type=password", "invalid_grant"),
        (
            urlencoded,
            b"grant_type=password&username=judy",
            "invalid_grant",
        ),
        (
            urlencoded,
            b"grant_type=password&username=ju\xffdy&password=judy-secret-pw",
            "invalid_request",
        ),
        (
            urlencoded,
            b"grant_type=password&username=%FF&password=judy-secret-pw",
            "invalid_request",
        ),
        (
            urlencoded,
            b"grant_type=password&username=judy&username=judy&password=judy-secret-pw",
            "invalid_request",
        ),
        (
            "application/json",
            br#"["grant_type","password","judy","judy-secret-pw"]"#,
            "invalid_request",
        ),
        (
            "application/json",
            br#"{"grant_type":"password","username":"judy","password":"judy-secret-pw""#,
            "invalid_request",
        ),
    ];
    for (content_type, body, error) in cases {
        let response = app
            .http
            .post(app.url("/Token"))
            .header("content-type", content_type)
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(status, 400, "{body:?}: {text}");
        assert!(!text.contains("judy-secret-pw"), "{text}");
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["error"], error, "{body:?}: {text}");
        if error == "unsupported_grant_type" {
            assert_eq!(text, r#"{"error":"unsupported_grant_type"}"#);
        } else {
            assert!(json["error_description"].is_string(), "{text}");
        }
    }

    let put = app.http.put(app.url("/Token")).send().await.unwrap();
    assert_eq!(put.status(), 405);
}

#[tokio::test]
async fn the_token_is_a_core_token_of_the_owin_door() {
    let app = spawn_app().await;
    let kim = app.create_user("kim", "kim-password", Role::User).await;
    let answer = owin_sign_in(&app, "kim", "kim-password").await;

    let tokens = app
        .authority
        .tokens(&TokenQuery {
            door: Some(Door::Owin),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(tokens.len(), 1);
    let token = &tokens[0];
    assert_eq!(token.door, Door::Owin);
    assert_eq!(token.user_id, Some(kim.id));
    assert_eq!(token.kind, TokenKind::Session);
    assert_eq!(
        token.expires_at.map(whole_seconds),
        Some(rfc_1123(answer.str(".expires")))
    );

    let issued = app
        .authority
        .audit_events(&AuditQuery {
            kind: Some(AuditKind::TokenIssued),
            door: Some(Door::Owin),
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].event.door, Door::Owin);
    assert_eq!(issued[0].event.token_id, Some(token.id));
    assert_eq!(issued[0].event.subject_user_id, Some(kim.id));
    assert_eq!(issued[0].event.source_ip.as_deref(), Some("127.0.0.1"));
}
