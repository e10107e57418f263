//! No secret in any log line, at any level: a real node logging at `trace` for every crate
//! (tessera's, axum's, hyper's, sqlx's) is driven through every door with passwords, wrong
//! passwords, client secrets, access and refresh tokens, sessions and API tokens, in bodies,
//! query strings and headers. Then its whole output, and the database files, are searched for
//! each of them.

mod support;

use reqwest::Client;
use serde_json::{json, Value};
use support::{add_user, tessera, zabbix, Node, ADMIN_PASSWORD};

const ALICE_PASSWORD: &str = "Alice-Passphrase-42";
const WRONG_PASSWORD: &str = "Wrong-Passphrase-17";

fn client_secret(url: &str) -> String {
    let output = tessera(url, &["client", "add", "billing", "--json"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let client: Value = serde_json::from_slice(&output.stdout).unwrap();
    client["client_secret"].as_str().unwrap().to_owned()
}

async fn json(response: reqwest::Response) -> Value {
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_a_trace_log_or_the_database_through_any_door() {
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("tessera.db");
    let url = format!("sqlite://{}", db_path.display());
    add_user(&url, "alice", ALICE_PASSWORD);
    let client_secret = client_secret(&url);
    let node = Node::spawn(&url, &["--log-level", "trace"]).ready();
    let http = Client::new();
    let mut secrets = vec![
        ADMIN_PASSWORD.to_owned(),
        ALICE_PASSWORD.to_owned(),
        WRONG_PASSWORD.to_owned(),
        client_secret.clone(),
    ];

    // OAuth 2.0: password grant (right and wrong), refresh, client credentials, whoami,
    // introspection, revocation, forward auth.
    let wrong = http
        .post(node.url("/oauth/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", WRONG_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 400);
    let pair = json(
        http.post(node.url("/oauth/token"))
            .form(&[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", ALICE_PASSWORD),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    let refresh = pair["refresh_token"].as_str().unwrap().to_owned();
    let rotated = json(
        http.post(node.url("/oauth/token"))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh.as_str()),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    let access = rotated["access_token"].as_str().unwrap().to_owned();
    secrets.extend([
        pair["access_token"].as_str().unwrap().to_owned(),
        refresh,
        access.clone(),
        rotated["refresh_token"].as_str().unwrap().to_owned(),
    ]);
    let service = json(
        http.post(node.url("/oauth/token"))
            .basic_auth("billing", Some(&client_secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    secrets.push(service["access_token"].as_str().unwrap().to_owned());
    let me = http
        .get(node.url("/api/v1/whoami"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let introspected = json(
        http.post(node.url("/oauth/introspect"))
            .basic_auth("billing", Some(&client_secret))
            .form(&[("token", access.as_str())])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(introspected["active"], true);
    let verified = http
        .get(node.url("/auth/verify"))
        .header("x-original-uri", format!("/app?access_token={access}"))
        .send()
        .await
        .unwrap();
    assert_eq!(verified.status(), 200);

    // ExtraView: the password and the token in the query string.
    let extraview = http
        .get(node.url("/evj/ExtraView/ev_api.action"))
        .query(&[
            ("user_id", "alice"),
            ("password", ALICE_PASSWORD),
            ("statevar", "get_token"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let ev_token = extraview
        .lines()
        .find_map(|l| l.strip_prefix("Token:"))
        .unwrap()
        .to_owned();
    let used = http
        .get(node.url("/evj/ExtraView/ev_api.action"))
        .query(&[("access_token", ev_token.as_str()), ("statevar", "fields")])
        .send()
        .await
        .unwrap();
    assert_eq!(used.status(), 200);
    secrets.push(ev_token);

    // OWIN /Token.
    let owin = json(
        http.post(node.url("/Token"))
            .form(&[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", ALICE_PASSWORD),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    secrets.push(owin["access_token"].as_str().unwrap().to_owned());

    // ArcGIS: GET with the password in the query, then the token as token=.
    let arcgis = json(
        http.get(node.url("/arcgis/tokens/generateToken"))
            .query(&[
                ("username", "alice"),
                ("password", ALICE_PASSWORD),
                ("f", "json"),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    let arcgis_token = arcgis["token"].as_str().unwrap().to_owned();
    let used = http
        .get(node.url("/auth/verify"))
        .query(&[("token", arcgis_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(used.status(), 200);
    secrets.push(arcgis_token);

    // Zabbix: a session, an API token made and used, a wrong password.
    let wrong = zabbix(
        &http,
        &node,
        "user.login",
        json!({"username": "Admin", "password": WRONG_PASSWORD}),
        None,
    )
    .await;
    assert!(wrong["error"].is_object());
    let session = zabbix(
        &http,
        &node,
        "user.login",
        json!({"username": "Admin", "password": ADMIN_PASSWORD}),
        None,
    )
    .await;
    let session = session["result"].as_str().unwrap().to_owned();
    let created = zabbix(
        &http,
        &node,
        "token.create",
        json!({"name": "backup"}),
        Some(&session),
    )
    .await;
    let tokenid = created["result"]["tokenids"][0].clone();
    let generated = zabbix(
        &http,
        &node,
        "token.generate",
        json!([tokenid]),
        Some(&session),
    )
    .await;
    let api_token = generated["result"][0]["token"].as_str().unwrap().to_owned();
    let listed = zabbix(
        &http,
        &node,
        "token.get",
        json!({"output": "extend"}),
        Some(&api_token),
    )
    .await;
    assert!(listed["result"].is_array());
    secrets.extend([session, api_token]);

    // Revocation, last.
    let revoked = http
        .post(node.url("/oauth/revoke"))
        .form(&[("token", access.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);

    // Let the node write what it batches (last access), then stop it to flush everything.
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    let lines = node.lines();
    drop(node);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("TRACE") || l.contains("DEBUG")),
        "the node did not log at trace level: {lines:#?}"
    );
    let log = lines.join("\n");
    // The requests were logged (their routes are), only without their secrets.
    for route in [
        "/oauth/token",
        "/evj/ExtraView/ev_api.action",
        "/Token",
        "/api_jsonrpc.php",
    ] {
        assert!(log.contains(route), "no log line names {route}");
    }
    let mut database = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().contains("tessera.db") {
            database.extend(std::fs::read(&path).unwrap());
        }
    }
    let database = String::from_utf8_lossy(&database);
    for secret in &secrets {
        assert!(
            secret.len() >= 16,
            "a secret this short proves little: {}",
            secret.len()
        );
        assert!(
            !log.contains(secret.as_str()),
            "a secret ({} characters) is in the trace log",
            secret.len()
        );
        assert!(
            !database.contains(secret.as_str()),
            "a secret ({} characters) is in the database",
            secret.len()
        );
    }
}
