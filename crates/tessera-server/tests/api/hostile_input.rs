//! Bad input never hurts: malformed forms, wrong content types, invalid UTF-8, oversized
//! bodies, random requests at every route. Each gets a 4xx, never a 5xx, a panic or a hang.

use crate::helpers::{spawn_app, TestApp};
use proptest::prelude::*;
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::Method;

const ROUTES: [&str; 18] = [
    "/oauth/token",
    "/api_jsonrpc.php",
    "/zabbix/api_jsonrpc.php",
    "/Token",
    "/evj/ExtraView/ev_api.action",
    "/generateToken",
    "/arcgis/tokens/generateToken",
    "/arcgis/admin/generateToken",
    "/sharing/rest/generateToken",
    "/arcgis/rest/info",
    "/oauth/introspect",
    "/oauth/revoke",
    "/.well-known/oauth-authorization-server",
    "/api/v1/whoami",
    "/auth/verify",
    "/healthz",
    "/readyz",
    "/no/such/route",
];

const PARAMETER_NAMES: [&str; 20] = [
    "statevar",
    "user_id",
    "ev_send_xml",
    "user",
    "client",
    "ip",
    "referer",
    "expiration",
    "f",
    "totp",
    "grant_type",
    "username",
    "password",
    "client_id",
    "client_secret",
    "scope",
    "refresh_token",
    "token",
    "token_type_hint",
    "access_token",
];

#[tokio::test]
async fn an_oversized_body_is_413() {
    let app = spawn_app().await;
    let body = format!("grant_type=password&username={}", "a".repeat(70 * 1024));
    let response = app
        .http
        .post(app.url("/oauth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
}

#[tokio::test]
async fn invalid_utf8_and_wrong_content_types_are_invalid_request() {
    let app = spawn_app().await;
    let cases: [(&str, &[u8]); 5] = [
        (
            "application/x-www-form-urlencoded",
            b"grant_type=password&username=%FF%FE&password=x",
        ),
        (
            "application/x-www-form-urlencoded",
            b"grant_type=pass\xffword",
        ),
        ("text/plain", b"grant_type=password"),
        ("application/json", b"{not json"),
        ("application/json", b"[\"grant_type\"]"),
    ];
    for (content_type, body) in cases {
        let response = app
            .http
            .post(app.url("/oauth/token"))
            .header("content-type", content_type)
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{content_type} {body:?}");
        let json: serde_json::Value = response.json().await.unwrap();
        assert_eq!(json["error"], "invalid_request");
    }
}

#[tokio::test]
async fn an_absurdly_long_password_is_refused_without_hashing() {
    let app = spawn_app().await;
    let response = app.password_grant("Admin", &"p".repeat(5000)).await;
    assert_eq!(response.status(), 400);
}

#[derive(Debug, Clone)]
struct RandomRequest {
    method: Method,
    route: &'static str,
    query: String,
    content_type: Option<String>,
    authorization: Option<Vec<u8>>,
    body: Vec<u8>,
}

fn random_form() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        (
            prop::sample::select(PARAMETER_NAMES.to_vec()),
            any::<String>(),
        ),
        0..6,
    )
    .prop_map(|pairs| {
        let encoded: Vec<String> = pairs
            .iter()
            .map(|(k, v)| {
                let value: String =
                    percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
                        .to_string();
                format!("{k}={value}")
            })
            .collect();
        encoded.join("&").into_bytes()
    })
}

fn random_request() -> impl Strategy<Value = RandomRequest> {
    let method = prop::sample::select(vec![
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
    ]);
    let route = prop::sample::select(ROUTES.to_vec());
    // Query strings name the vendor parameters too: ExtraView and ArcGIS read them there.
    let query = prop_oneof![
        "[a-z_=&%0-9A-F+]{0,40}",
        random_form().prop_map(|form| String::from_utf8_lossy(&form).into_owned()),
    ];
    let content_type = prop::option::of(prop::sample::select(vec![
        "application/x-www-form-urlencoded".to_owned(),
        "application/json".to_owned(),
        "application/x-www-form-urlencoded; charset=utf-8".to_owned(),
        "text/plain".to_owned(),
        "multipart/form-data; boundary=x".to_owned(),
        "application/json-rpc".to_owned(),
    ]));
    let authorization = prop::option::of(prop_oneof![
        any::<Vec<u8>>(),
        "[A-Za-z0-9_+/=.~-]{0,60}".prop_map(|t| format!("Bearer {t}").into_bytes()),
        "[A-Za-z0-9+/=]{0,60}".prop_map(|t| format!("Basic {t}").into_bytes()),
    ]);
    let body = prop_oneof![
        random_form(),
        prop::collection::vec(any::<u8>(), 0..512),
        any::<String>().prop_map(|s| serde_json::json!({ "grant_type": s, "token": s })
            .to_string()
            .into_bytes()),
        // JSON-RPC calls with random methods, params and auth, for the Zabbix door.
        (
            prop::sample::select(vec![
                "user.login",
                "token.get",
                "token.create",
                "user.get",
                "apiinfo.version",
                "x.y"
            ]),
            any::<String>(),
            prop_oneof![
                Just(serde_json::json!({})),
                any::<String>().prop_map(|s| serde_json::json!([s])),
                any::<String>().prop_map(
                    |s| serde_json::json!({ "output": s, "tokenids": s, "sortfield": s })
                )
            ],
        )
            .prop_map(|(method, auth, params)| serde_json::json!({
                "jsonrpc": "2.0", "method": method, "params": params, "auth": auth, "id": 1
            })
            .to_string()
            .into_bytes()),
    ];
    (method, route, query, content_type, authorization, body).prop_map(
        |(method, route, query, content_type, authorization, body)| RandomRequest {
            method,
            route,
            query,
            content_type,
            authorization,
            body,
        },
    )
}

async fn send(app: &TestApp, request: &RandomRequest) -> u16 {
    let url = format!("{}?{}", app.url(request.route), request.query);
    let mut builder = app
        .http
        .request(request.method.clone(), url)
        .body(request.body.clone());
    if let Some(content_type) = &request.content_type {
        builder = builder.header("content-type", content_type);
    }
    if let Some(value) = request
        .authorization
        .as_ref()
        .and_then(|v| HeaderValue::from_bytes(v).ok())
    {
        builder = builder.header(HeaderName::from_static("authorization"), value);
    }
    builder
        .send()
        .await
        .expect("the server answers")
        .status()
        .as_u16()
}

#[test]
fn random_requests_at_every_route_never_get_a_5xx() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let app = runtime.block_on(spawn_app());
    let config = ProptestConfig {
        cases: 400,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(request in random_request())| {
        let status = runtime.block_on(send(&app, &request));
        prop_assert!(status < 500, "{request:?} answered {status}");
    });
}

/// A body over the limit (64 KiB) gets 413 at every door, in the door's own format.
#[tokio::test]
async fn an_oversized_body_gets_413_in_each_doors_format() {
    let app = spawn_app().await;
    let big = format!(
        "grant_type=password&username=Admin&padding={}",
        "a".repeat(70 * 1024)
    );
    let send = |path: &str, content_type: &str| {
        app.http
            .post(app.url(path))
            .header("content-type", content_type)
            .body(big.clone())
            .send()
    };
    let form = "application/x-www-form-urlencoded";

    let oauth = send("/oauth/token", form).await.unwrap();
    assert_eq!(oauth.status(), 413);
    let body: serde_json::Value = oauth.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");

    let owin = send("/Token", form).await.unwrap();
    assert_eq!(owin.status(), 413);
    let body: serde_json::Value = owin.json().await.unwrap();
    assert!(body["error"].is_string(), "{body}");

    let arcgis = send("/arcgis/tokens/generateToken?f=json", form)
        .await
        .unwrap();
    assert_eq!(arcgis.status(), 413);
    let body: serde_json::Value = arcgis.json().await.unwrap();
    assert_eq!(body["error"]["code"], 413, "{body}");

    let extraview = send("/evj/ExtraView/ev_api.action", form).await.unwrap();
    assert_eq!(extraview.status(), 413);
    assert_eq!(
        extraview.text().await.unwrap(),
        "the request body is too large"
    );

    let zabbix = send("/api_jsonrpc.php", "application/json-rpc")
        .await
        .unwrap();
    assert_eq!(zabbix.status(), 413);
    let body: serde_json::Value = zabbix.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32600, "{body}");
}

/// JSON nested deeper than any client writes is refused like any invalid JSON, by every door
/// that reads JSON, without exhausting the stack.
#[tokio::test]
async fn deeply_nested_json_is_refused_cleanly() {
    let app = spawn_app().await;
    let deep = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
    let nested_object = format!(
        "{{\"grant_type\":{}1{}}}",
        "{\"a\":".repeat(5_000),
        "}".repeat(5_000)
    );
    for (path, content_type, body) in [
        ("/api_jsonrpc.php", "application/json-rpc", deep.clone()),
        ("/oauth/token", "application/json", nested_object.clone()),
        ("/Token", "application/json", deep.clone()),
        ("/oauth/token", "application/json", deep),
        ("/Token", "application/json", nested_object),
    ] {
        let response = app
            .http
            .post(app.url(path))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        if path == "/api_jsonrpc.php" {
            assert_eq!(status, 200, "{text}");
            assert!(text.contains("-32700"), "{text}");
        } else {
            assert_eq!(status, 400, "{path}: {text}");
        }
    }
    // The server is still there.
    let health = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
}
