//! Several nodes, one truth: three real `tessera serve` processes on one PostgreSQL database.
//! A token issued on one works on the others; a token revoked, a user disabled or a token
//! expired through one, or a client deleted, is refused by the others within seconds, though
//! their caches would trust it for an hour: the database announces the change (LISTEN/NOTIFY).

mod support;

use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::{access_token, add_user, postgres_database, tessera, zabbix, Node, ADMIN_PASSWORD};

/// How long a change may take to reach the other nodes: NOTIFY takes milliseconds; the
/// margin is for a loaded CI machine, and still a thousandth of the caches' hour.
const PROPAGATION: Duration = Duration::from_secs(3);

async fn whoami(http: &Client, node: &Node, token: &str) -> StatusCode {
    http.get(node.url("/api/v1/whoami"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}

/// Waits until every one of `nodes` refuses the token, and says how long that took.
async fn refused_by_all(http: &Client, nodes: &[&Node], since: Instant, token: &str) -> Duration {
    let mut slowest = Duration::ZERO;
    for node in nodes {
        let took = support::within(since, Duration::from_secs(30), || async {
            whoami(http, node, token).await == StatusCode::UNAUTHORIZED
        })
        .await
        .unwrap_or_else(|| panic!("{} still accepts the token after 30 s", node.base));
        slowest = slowest.max(took);
    }
    slowest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_issue_check_and_refuse_as_one() {
    let Some(database) = postgres_database("tessera_nodes").await else {
        return;
    };
    let url = database.url();
    // The caches trust a check for an hour: only an announcement can make a node forget it.
    let serve = ["--cache-ttl-seconds", "3600"];
    // Three nodes started at once on an empty database: one migrates it and creates Admin,
    // the others wait for the migration and find Admin there.
    let nodes: Vec<Node> = (0..3).map(|_| Node::spawn(url, &serve)).collect();
    let nodes: Vec<Node> = nodes.into_iter().map(Node::ready).collect();
    let [a, b, c] = [&nodes[0], &nodes[1], &nodes[2]];
    let http = Client::new();

    // Issued on A, good on B and C (which now hold it in their caches).
    let token = access_token(&http, a, "Admin", ADMIN_PASSWORD).await;
    for node in [a, b, c] {
        assert_eq!(whoami(&http, node, &token).await, StatusCode::OK);
    }

    // Revoked through A: refused by B and C within PROPAGATION.
    let response = http
        .post(a.url("/oauth/revoke"))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let took = refused_by_all(&http, &[b, c], Instant::now(), &token).await;
    assert!(
        took <= PROPAGATION,
        "the revoke took {took:?} to reach B and C"
    );

    // A user disabled by another process (the admin CLI): their token is refused everywhere.
    let added = tessera(url, &["user", "add", "ops", "--password-stdin"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            child.stdin.take().unwrap().write_all(b"ops-password-1\n")?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(added.status.success(), "{added:?}");
    let ops = access_token(&http, b, "ops", "ops-password-1").await;
    for node in [a, b, c] {
        assert_eq!(whoami(&http, node, &ops).await, StatusCode::OK);
    }
    let disabled = tessera(url, &["user", "disable", "ops"]).output().unwrap();
    assert!(disabled.status.success(), "{disabled:?}");
    let since = Instant::now();
    let took = refused_by_all(&http, &[a, b, c], since, &ops).await;
    assert!(took <= PROPAGATION, "disabling took {took:?} to be seen");

    // A Zabbix API token made on C and used on A and B, then expired through C.
    let session = zabbix(
        &http,
        c,
        "user.login",
        json!({"username": "Admin", "password": ADMIN_PASSWORD}),
        None,
    )
    .await["result"]
        .as_str()
        .unwrap()
        .to_owned();
    let created = zabbix(
        &http,
        c,
        "token.create",
        json!({"name": "monitoring"}),
        Some(&session),
    )
    .await;
    let tokenid = created["result"]["tokenids"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let generated = zabbix(&http, c, "token.generate", json!([tokenid]), Some(&session)).await;
    let api_token = generated["result"][0]["token"].as_str().unwrap().to_owned();
    let list = json!({"output": ["tokenid"]});
    for node in [a, b] {
        let answer = zabbix(&http, node, "token.get", list.clone(), Some(&api_token)).await;
        assert!(answer["result"].is_array(), "{answer}");
    }
    let expired = zabbix(
        &http,
        c,
        "token.update",
        json!({"tokenid": tokenid, "expires_at": "1"}),
        Some(&session),
    )
    .await;
    assert!(expired["result"].is_object(), "{expired}");
    let since = Instant::now();
    for node in [a, b] {
        let took = support::within(since, Duration::from_secs(30), || async {
            let answer = zabbix(&http, node, "token.get", list.clone(), Some(&api_token)).await;
            answer["error"]["data"] == "API token expired."
        })
        .await
        .unwrap_or_else(|| panic!("{} still accepts the expired API token", node.base));
        assert!(
            took <= PROPAGATION,
            "the expiry took {took:?} to reach {}",
            node.base
        );
    }

    // A client registered and deleted by the CLI: the nodes cache it once it authenticates,
    // and stop accepting it as soon as the deletion is announced.
    let added = tessera(url, &["client", "add", "probe", "--json"])
        .output()
        .unwrap();
    assert!(added.status.success(), "{added:?}");
    let added: Value = serde_json::from_slice(&added.stdout).unwrap();
    let secret = added["client_secret"].as_str().unwrap().to_owned();
    let introspect = |node: &Node| {
        http.post(node.url("/oauth/introspect"))
            .basic_auth("probe", Some(&secret))
            .form(&[("token", ops.as_str())])
            .send()
    };
    for node in [a, b, c] {
        assert_eq!(introspect(node).await.unwrap().status(), StatusCode::OK);
    }
    let deleted = tessera(url, &["client", "delete", "probe"])
        .output()
        .unwrap();
    assert!(deleted.status.success(), "{deleted:?}");
    let since = Instant::now();
    for node in [a, b, c] {
        let took = support::within(since, Duration::from_secs(30), || async {
            introspect(node).await.unwrap().status() == StatusCode::UNAUTHORIZED
        })
        .await
        .unwrap_or_else(|| panic!("{} still accepts the deleted client", node.base));
        assert!(
            took <= PROPAGATION,
            "the deletion took {took:?} to reach {}",
            node.base
        );
    }

    // And A, which made the revoke, refuses the token too.
    assert_eq!(whoami(&http, a, &token).await, StatusCode::UNAUTHORIZED);
}

async fn owin_sign_in(http: &Client, node: &Node, user: &str, password: &str) -> String {
    let response = http
        .post(node.url("/Token"))
        .form(&[
            ("grant_type", "password"),
            ("username", user),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "OWIN sign-in");
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

/// Many clients at once across three nodes, while others keep checking every token they have
/// seen on every node (filling the caches in the middle of the changes): OWIN sign-ins of the
/// same users (each discards the user's earlier OWIN tokens), password grants, and revokes made
/// on another node than the issue. When it settles, exactly what should be valid is, on every
/// node: one OWIN token per user, and the password-grant tokens that were not revoked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sign_ins_and_revokes_across_nodes_leave_nothing_valid_that_should_not_be() {
    let Some(database) = postgres_database("tessera_nodes").await else {
        return;
    };
    let url = database.url().to_owned();
    let serve = ["--cache-ttl-seconds", "3600"];
    let first = Node::spawn(&url, &serve).ready();
    let nodes: Vec<Node> = std::iter::once(first)
        .chain(
            (0..2)
                .map(|_| Node::spawn(&url, &serve))
                .map(Node::ready)
                .collect::<Vec<_>>(),
        )
        .collect();
    let nodes = std::sync::Arc::new(nodes);
    let users: Vec<String> = (0..4).map(|i| format!("user{i}")).collect();
    for user in &users {
        add_user(&url, user, &format!("{user}-password"));
    }
    let http = Client::new();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));

    // Checkers: every token seen so far, on every node, again and again.
    let checkers: Vec<_> = (0..3)
        .map(|_| {
            let (http, nodes, seen, done) =
                (http.clone(), nodes.clone(), seen.clone(), done.clone());
            tokio::spawn(async move {
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    let tokens = seen.lock().unwrap().clone();
                    for token in tokens.iter().rev().take(20) {
                        for node in nodes.iter() {
                            whoami(&http, node, token).await;
                        }
                    }
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();

    // OWIN: ten sign-ins per user at once, spread over the nodes.
    let owin: Vec<_> = users
        .iter()
        .flat_map(|user| (0..10).map(move |i| (user.clone(), i)))
        .map(|(user, i)| {
            let (http, nodes, seen) = (http.clone(), nodes.clone(), seen.clone());
            tokio::spawn(async move {
                let password = format!("{user}-password");
                let token = owin_sign_in(&http, &nodes[i % 3], &user, &password).await;
                seen.lock().unwrap().push(token.clone());
                (user, token)
            })
        })
        .collect();
    // Password grants, every other one revoked through the next node.
    let grants: Vec<_> = (0..24)
        .map(|i| {
            let (http, nodes, seen) = (http.clone(), nodes.clone(), seen.clone());
            let user = users[i % users.len()].clone();
            tokio::spawn(async move {
                let password = format!("{user}-password");
                let token = access_token(&http, &nodes[i % 3], &user, &password).await;
                seen.lock().unwrap().push(token.clone());
                let revoke = i % 2 == 0;
                if revoke {
                    whoami(&http, &nodes[(i + 2) % 3], &token).await;
                    let response = http
                        .post(nodes[(i + 1) % 3].url("/oauth/revoke"))
                        .form(&[("token", token.as_str())])
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status(), StatusCode::OK);
                }
                (token, !revoke)
            })
        })
        .collect();
    let mut owin_tokens = Vec::new();
    for task in owin {
        owin_tokens.push(task.await.unwrap());
    }
    let mut grant_tokens = Vec::new();
    for task in grants {
        grant_tokens.push(task.await.unwrap());
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    for checker in checkers {
        checker.await.unwrap();
    }
    // Every change has had its time to reach every node.
    tokio::time::sleep(PROPAGATION).await;

    for user in &users {
        let mut alive = Vec::new();
        for (_, token) in owin_tokens.iter().filter(|(owner, _)| owner == user) {
            let answers = [
                whoami(&http, &nodes[0], token).await,
                whoami(&http, &nodes[1], token).await,
                whoami(&http, &nodes[2], token).await,
            ];
            assert!(
                answers.iter().all(|a| *a == answers[0]),
                "the nodes disagree about a token of {user}: {answers:?}"
            );
            if answers[0] == StatusCode::OK {
                alive.push(token);
            }
        }
        assert_eq!(
            alive.len(),
            1,
            "{user} has {} live OWIN tokens",
            alive.len()
        );
    }
    for (token, valid) in &grant_tokens {
        let expected = if *valid {
            StatusCode::OK
        } else {
            StatusCode::UNAUTHORIZED
        };
        for node in nodes.iter() {
            assert_eq!(
                whoami(&http, node, token).await,
                expected,
                "a password-grant token on {}",
                node.base
            );
        }
    }
}
