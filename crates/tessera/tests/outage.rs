//! The database goes away: a real PostgreSQL cluster of the test's own is stopped under a
//! running node and started again. Meanwhile `/readyz` says not ready, every door answers a
//! clear 503 in its own format within a bounded time, a token revoked before the outage stays
//! refused (nothing cached can outlive `cache_ttl`), and when the database is back the node
//! carries on by itself.

mod support;

use reqwest::{Client, RequestBuilder, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::{Cluster, Node, ADMIN_PASSWORD};

/// The longest any request may take while the database is down: the pool's wait for a
/// connection (5 s) and some room for a busy machine.
const BOUNDED: Duration = Duration::from_secs(8);
/// How long the node trusts a cached check.
const CACHE_TTL: Duration = Duration::from_secs(2);

/// Sends a request, failing the test if the answer takes longer than [`BOUNDED`].
async fn bounded(request: RequestBuilder) -> (StatusCode, String) {
    let started = Instant::now();
    let response = tokio::time::timeout(BOUNDED, request.send())
        .await
        .unwrap_or_else(|_| panic!("no answer within {BOUNDED:?}"))
        .expect("an HTTP answer");
    let status = response.status();
    let body = response.text().await.unwrap();
    assert!(started.elapsed() <= BOUNDED);
    (status, body)
}

async fn password_grant(http: &Client, node: &Node) -> (StatusCode, String) {
    bounded(http.post(node.url("/oauth/token")).form(&[
        ("grant_type", "password"),
        ("username", "Admin"),
        ("password", ADMIN_PASSWORD),
    ]))
    .await
}

async fn access_token(http: &Client, node: &Node) -> String {
    let (status, body) = password_grant(http, node).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

async fn whoami(http: &Client, node: &Node, token: &str) -> StatusCode {
    bounded(http.get(node.url("/api/v1/whoami")).bearer_auth(token))
        .await
        .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_fails_closed_while_postgres_is_down_and_recovers_by_itself() {
    let Some(cluster) = Cluster::start_new() else {
        return;
    };
    let ttl = CACHE_TTL.as_secs().to_string();
    let node = Node::spawn(&cluster.url(), &["--cache-ttl-seconds", &ttl]).ready();
    let http = Client::new();

    let kept = access_token(&http, &node).await;
    let revoked = access_token(&http, &node).await;
    let (status, _) = bounded(
        http.post(node.url("/oauth/revoke"))
            .form(&[("token", revoked.as_str())]),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(whoami(&http, &node, &kept).await, StatusCode::OK);
    assert_eq!(
        whoami(&http, &node, &revoked).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        bounded(http.get(node.url("/readyz"))).await.0,
        StatusCode::OK
    );

    cluster.stop();
    let down = Instant::now();

    // A check made just before the outage is still answered from the cache...
    assert_eq!(whoami(&http, &node, &kept).await, StatusCode::OK);

    // ...but nothing that needs the database is. Each of these waits for the pool's timeout,
    // so they are sent at once.
    let ready = bounded(http.get(node.url("/readyz")));
    let revoked_whoami = bounded(http.get(node.url("/api/v1/whoami")).bearer_auth(&revoked));
    let revoked_verify = bounded(http.get(node.url("/auth/verify")).bearer_auth(&revoked));
    let oauth = password_grant(&http, &node);
    let extraview = bounded(http.get(node.url(&format!(
        "/evj/ExtraView/ev_api.action?user_id=Admin&password={ADMIN_PASSWORD}&statevar=get_token"
    ))));
    let owin = bounded(http.post(node.url("/Token")).form(&[
        ("grant_type", "password"),
        ("username", "Admin"),
        ("password", ADMIN_PASSWORD),
    ]));
    let arcgis = bounded(http.post(node.url("/arcgis/tokens/generateToken")).form(&[
        ("username", "Admin"),
        ("password", ADMIN_PASSWORD),
        ("client", "requestip"),
        ("f", "json"),
    ]));
    let login = json!({"jsonrpc": "2.0", "method": "user.login", "id": 1,
                       "params": {"username": "Admin", "password": ADMIN_PASSWORD}});
    let zabbix = bounded(
        http.post(node.url("/api_jsonrpc.php"))
            .header("content-type", "application/json-rpc")
            .body(login.to_string()),
    );
    let (ready, revoked_whoami, revoked_verify, oauth, extraview, owin, arcgis, zabbix) = tokio::join!(
        ready,
        revoked_whoami,
        revoked_verify,
        oauth,
        extraview,
        owin,
        arcgis,
        zabbix
    );
    let json = |body: &str| serde_json::from_str::<Value>(body).unwrap();
    let unavailable = StatusCode::SERVICE_UNAVAILABLE;

    // Not ready, for the load balancer.
    assert_eq!(ready, (unavailable, "not ready\n".to_owned()));
    // The revoked token is refused: as revoked while the cache remembers it so (401), then
    // because the store cannot say (503); never accepted.
    let refused = [StatusCode::UNAUTHORIZED, unavailable];
    assert!(refused.contains(&revoked_whoami.0), "{revoked_whoami:?}");
    assert!(refused.contains(&revoked_verify.0), "{revoked_verify:?}");
    // Every door turns sign-ins away with a 503 in its own words.
    assert_eq!(oauth.0, unavailable);
    assert_eq!(json(&oauth.1)["error"], "temporarily_unavailable");
    assert_eq!(extraview.0, unavailable);
    assert!(extraview.1.contains("unavailable"), "{}", extraview.1);
    assert_eq!(owin.0, unavailable);
    assert!(json(&owin.1)["error"].is_string(), "{}", owin.1);
    assert_eq!(arcgis.0, unavailable);
    assert_eq!(json(&arcgis.1)["error"]["code"], 503, "{}", arcgis.1);
    assert_eq!(zabbix.0, unavailable);
    assert_eq!(json(&zabbix.1)["error"]["code"], -32500, "{}", zabbix.1);
    assert_eq!(json(&zabbix.1)["id"], 1);

    // A token checked before the outage is trusted for the cache's lifetime, no longer.
    tokio::time::sleep(CACHE_TTL.saturating_sub(down.elapsed())).await;
    assert_eq!(whoami(&http, &node, &kept).await, unavailable);

    // The database comes back: the node reconnects by itself.
    cluster.start();
    let back = Instant::now();
    let ready = support::within(back, Duration::from_secs(30), || async {
        bounded(http.get(node.url("/readyz"))).await.0 == StatusCode::OK
    })
    .await;
    assert!(
        ready.is_some(),
        "not ready 30 s after the database came back"
    );
    assert_eq!(whoami(&http, &node, &kept).await, StatusCode::OK);
    assert_eq!(
        whoami(&http, &node, &revoked).await,
        StatusCode::UNAUTHORIZED
    );
    let fresh = access_token(&http, &node).await;
    assert_eq!(whoami(&http, &node, &fresh).await, StatusCode::OK);

    // It listens for other nodes' changes again.
    let relistening = support::within(back, Duration::from_secs(30), || async {
        node.lines()
            .iter()
            .any(|line| line.contains("listening for changes from other nodes again"))
    })
    .await;
    assert!(relistening.is_some(), "{:#?}", node.lines());

    // No secret reached the log, outage or not.
    let log = node.lines().join("\n");
    for secret in [ADMIN_PASSWORD, &kept, &revoked, &fresh] {
        assert!(!log.contains(secret), "a secret is in the log");
    }
}
