//! `tessera export` and `tessera import` as an operator moving from SQLite to PostgreSQL uses
//! them: the real binary builds an SQLite installation (users, one with TOTP, a client, tokens
//! from the CLI and from every door of a running server, revoked and rotated ones, audit events,
//! a behaviour setting), exports it, imports it into a fresh PostgreSQL database, and a server
//! on PostgreSQL then answers for every token, password and client secret exactly as the old one
//! did. Without a PostgreSQL server (`TESSERA_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432`) the move goes to a second SQLite file instead, and the
//! test says so.
//!
//! Everything talks to 127.0.0.1 only, and every wait has a deadline.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tessera_store::scratch::{test_server, ScratchDatabase, ScratchError, TestServer};
use time::OffsetDateTime;

const BINARY: &str = env!("CARGO_BIN_EXE_tessera");
const ADMIN_PASSWORD: &str = "admin passphrase for the transfer tests";
const ALICE_PASSWORD: &str = "alice passphrase for the transfer tests";
const BOB_PASSWORD: &str = "bob passphrase for the transfer tests";

/// tessera on `database`, run in `dir`, with a cheap Argon2 cost, the admin's password for a
/// first start, and none of the caller's own TESSERA_* variables.
fn tessera(dir: &Path, database: &str, args: &[&str]) -> Command {
    let mut command = Command::new(BINARY);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("TESSERA_") {
            command.env_remove(name);
        }
    }
    command
        .args(args)
        .current_dir(dir)
        .env("TESSERA_DATABASE_URL", database)
        .env("TESSERA_BOOTSTRAP_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("TESSERA_ARGON2_MEMORY_KIB", "64")
        .env("TESSERA_ARGON2_ITERATIONS", "1")
        .stdin(Stdio::null());
    command
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs tessera with `input` on stdin; a process that panics fails the test.
fn run(dir: &Path, database: &str, args: &[&str], input: &str) -> Output {
    let mut child = tessera(dir, database, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tessera starts");
    let mut stdin = child.stdin.take().expect("a stdin pipe");
    // A command that does not read its input may have exited already: a broken pipe is fine.
    let _ = stdin.write_all(input.as_bytes());
    drop(stdin);
    let output = child.wait_with_output().expect("tessera runs");
    let stderr = text(&output.stderr);
    assert!(!stderr.contains("panicked"), "tessera panicked: {stderr}");
    output
}

/// Runs a command that must succeed; answers its stdout and stderr.
fn ok(dir: &Path, database: &str, args: &[&str], input: &str) -> (String, String) {
    let output = run(dir, database, args, input);
    assert!(
        output.status.success(),
        "{args:?} failed with {:?}: {}",
        output.status.code(),
        text(&output.stderr)
    );
    (text(&output.stdout), text(&output.stderr))
}

/// Runs a command that must fail with exit code 1; answers its stderr.
fn fails(dir: &Path, database: &str, args: &[&str]) -> String {
    let output = run(dir, database, args, "");
    assert_eq!(
        output.status.code(),
        Some(1),
        "{args:?} should fail; stdout: {}; stderr: {}",
        text(&output.stdout),
        text(&output.stderr)
    );
    text(&output.stderr)
}

fn json_of(dir: &Path, database: &str, args: &[&str], input: &str) -> Value {
    let mut args = args.to_vec();
    args.push("--json");
    let (stdout, _) = ok(dir, database, &args, input);
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

/// The dump of a database, as `tessera export` writes it to stdout.
fn export(dir: &Path, database: &str) -> String {
    ok(dir, database, &["export"], "").0
}

fn every_audit_event(dir: &Path, database: &str) -> Value {
    json_of(dir, database, &["audit", "list", "--limit", "10000"], "")
}

fn sqlite(dir: &Path, name: &str) -> String {
    format!("sqlite://{}", dir.join(name).display())
}

/// A fresh PostgreSQL database, or `None` (said on stderr) when no server answers and none was
/// required.
fn postgres_database() -> Option<ScratchDatabase> {
    let TestServer {
        url: server,
        required,
    } = test_server();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    match runtime.block_on(ScratchDatabase::create(&server, "tessera_transfer")) {
        Ok(database) => Some(database),
        Err(ScratchError::Unreachable { .. }) if !required => {
            eprintln!(
                "no PostgreSQL at {server}: the transfer test moves to a second SQLite file \
                 instead; set TESSERA_TEST_POSTGRES_URL to require PostgreSQL"
            );
            None
        }
        Err(error) => panic!("the transfer test needs its PostgreSQL server: {error}"),
    }
}

// ----- a running server, and HTTP to it -----

/// A `tessera serve` on a free loopback port; stopped (and its output kept) when dropped.
struct Server {
    child: Child,
    port: u16,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(dir: &Path, database: &str) -> Self {
        let mut child = tessera(dir, database, &["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tessera serve starts");
        let lines = Arc::new(Mutex::new(Vec::new()));
        collect(child.stdout.take().expect("stdout"), &lines);
        collect(child.stderr.take().expect("stderr"), &lines);
        let deadline = Instant::now() + Duration::from_secs(30);
        let port = loop {
            let port = lines.lock().expect("the lines").iter().find_map(|line| {
                let (_, rest) = line.split_once("tessera listening on http://127.0.0.1:")?;
                rest.trim().parse::<u16>().ok()
            });
            if let Some(port) = port {
                break port;
            }
            if Instant::now() > deadline || child.try_wait().is_ok_and(|s| s.is_some()) {
                let _ = child.kill();
                panic!(
                    "the server did not start: {:?}",
                    lines.lock().expect("lines")
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        Self { child, port, lines }
    }

    /// Stops the server with SIGTERM, so that it flushes what it holds (last access times), and
    /// waits at most 10 seconds for it.
    fn stop(mut self) {
        let terminated = cfg!(unix)
            && Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status()
                .is_ok_and(|status| status.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        while terminated && Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let body = fields
            .iter()
            .map(|(name, value)| format!("{}={}", form_encode(name), form_encode(value)))
            .collect::<Vec<_>>()
            .join("&");
        self.request(
            "POST",
            path,
            &[("Content-Type", "application/x-www-form-urlencoded")],
            &body,
        )
    }

    fn zabbix(&self, method: &str, params: Value, auth: Option<&str>) -> Value {
        let mut call = json!({"jsonrpc": "2.0", "method": method, "params": params, "id": 1});
        if let Some(auth) = auth {
            call["auth"] = auth.into();
        }
        let reply = self.request(
            "POST",
            "/api_jsonrpc.php",
            &[("Content-Type", "application/json-rpc")],
            &call.to_string(),
        );
        assert_eq!(reply.status, 200, "{method}: {}", reply.body);
        reply.json()
    }

    /// One HTTP/1.1 request on a new connection; the whole answer, read with a deadline.
    fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        let address = SocketAddr::from(([127, 0, 0, 1], self.port));
        let mut stream =
            TcpStream::connect_timeout(&address, Duration::from_secs(5)).expect("a connection");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("a read timeout");
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\
             Content-Length: {}\r\n",
            self.port,
            body.len()
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(body);
        stream
            .write_all(request.as_bytes())
            .expect("the request is sent");
        let mut answer = Vec::new();
        stream
            .read_to_end(&mut answer)
            .unwrap_or_else(|e| panic!("no whole answer to {method} {path}: {e}"));
        Reply::parse(&answer)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
            if std::thread::panicking() {
                eprintln!("server output: {:?}", self.lines.lock().map(|l| l.clone()));
            }
        }
    }
}

fn collect(pipe: impl Read + Send + 'static, lines: &Arc<Mutex<Vec<String>>>) {
    let lines = Arc::clone(lines);
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if let Ok(mut lines) = lines.lock() {
                lines.push(line);
            }
        }
    });
}

struct Reply {
    status: u16,
    body: String,
}

impl Reply {
    fn parse(answer: &[u8]) -> Self {
        let answer = text(answer);
        let (head, body) = answer
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("not an HTTP answer: {answer}"));
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("no status: {head}"));
        let chunked = head
            .lines()
            .any(|l| l.eq_ignore_ascii_case("transfer-encoding: chunked"));
        let body = if chunked {
            unchunk(body)
        } else {
            body.to_owned()
        };
        Self { status, body }
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

fn unchunk(mut body: &str) -> String {
    let mut whole = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).expect("a chunk size");
        if size == 0 {
            break;
        }
        whole.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    whole
}

fn form_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

// ----- the installation to move -----

/// Every secret the test knows, by a name for messages, to ask the new server about.
struct Secrets {
    client_secret: String,
    bob_totp_secret: String,
    tokens: Vec<(&'static str, String)>,
    zabbix_api_token: String,
    zabbix_session: String,
    /// The refresh token spent by a refresh; presenting it again revokes its family.
    spent_refresh: String,
    current_refresh: String,
}

/// Builds the SQLite installation through the CLI and a running server.
fn build_installation(dir: &Path, database: &str) -> Secrets {
    let add = |name: &str, password: &str, extra: &[&str]| {
        let mut args = vec!["user", "add", name, "--password-stdin"];
        args.extend_from_slice(extra);
        json_of(dir, database, &args, &format!("{password}\n"))
    };
    // The first command creates Admin (user 1) with ADMIN_PASSWORD.
    add(
        "alice",
        ALICE_PASSWORD,
        &["--role", "admin", "--permission", "USER.EXCLUDE_2FA"],
    );
    add("bob", BOB_PASSWORD, &["--display-name", "Bob B."]);
    let enrolment = json_of(dir, database, &["user", "totp", "enable", "bob"], "");
    let uri = enrolment["otpauth_uri"].as_str().expect("an otpauth URI");
    let bob_totp_secret = uri
        .split(['?', '&'])
        .find_map(|part| part.strip_prefix("secret="))
        .expect("a secret in the URI")
        .to_owned();
    json_of(dir, database, &["user", "api-bypass", "on", "alice"], "");
    let client = json_of(
        dir,
        database,
        &[
            "client",
            "add",
            "billing",
            "--grant",
            "client_credentials",
            "--grant",
            "password",
            "--grant",
            "refresh_token",
            "--scope",
            "read write",
        ],
        "",
    );
    let client_secret = client["client_secret"]
        .as_str()
        .expect("a secret")
        .to_owned();
    let issue = |name: &str| {
        json_of(
            dir,
            database,
            &[
                "token",
                "issue",
                "--user",
                "alice",
                "--name",
                name,
                "--lifetime",
                "30d",
            ],
            "",
        )
    };
    let backup = issue("backup");
    let doomed = issue("doomed");
    let doomed_id = doomed["id"].as_i64().expect("an id").to_string();
    json_of(dir, database, &["token", "revoke", &doomed_id], "");
    ok(
        dir,
        database,
        &["setting", "set", "OAUTH2_TOKEN_LIFETIME_SECONDS", "7200"],
        "",
    );
    let mut tokens = vec![
        (
            "cli backup",
            backup["token"].as_str().expect("a token").to_owned(),
        ),
        (
            "cli revoked",
            doomed["token"].as_str().expect("a token").to_owned(),
        ),
    ];

    let server = Server::start(dir, database);
    let password_grant = |username: &str, password: &str| {
        let reply = server.post_form(
            "/oauth/token",
            &[
                ("grant_type", "password"),
                ("username", username),
                ("password", password),
            ],
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()
    };
    let first = password_grant("alice", ALICE_PASSWORD);
    let spent_refresh = first["refresh_token"]
        .as_str()
        .expect("a refresh")
        .to_owned();
    let refreshed = server.post_form(
        "/oauth/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &spent_refresh),
        ],
    );
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let refreshed = refreshed.json();
    let current_refresh = refreshed["refresh_token"]
        .as_str()
        .expect("a refresh")
        .to_owned();
    let revoked = password_grant("alice", ALICE_PASSWORD);
    let revoked_access = revoked["access_token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let reply = server.post_form("/oauth/revoke", &[("token", &revoked_access)]);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = server.post_form(
        "/oauth/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "billing"),
            ("client_secret", &client_secret),
        ],
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let client_token = reply.json()["access_token"]
        .as_str()
        .expect("a token")
        .to_owned();
    // A wrong password, for a login.failed event.
    let reply = server.post_form(
        "/oauth/token",
        &[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "not alice's password"),
        ],
    );
    assert_eq!(reply.status, 400, "{}", reply.body);
    tokens.extend([
        (
            "oauth access before a refresh",
            first["access_token"].as_str().expect("a token").to_owned(),
        ),
        (
            "oauth access after a refresh",
            refreshed["access_token"]
                .as_str()
                .expect("a token")
                .to_owned(),
        ),
        ("oauth refresh, spent", spent_refresh.clone()),
        ("oauth refresh, current", current_refresh.clone()),
        ("oauth access, revoked", revoked_access),
        ("client credentials", client_token),
    ]);

    // Zabbix: a session, and an API token made with it.
    let login = server.zabbix(
        "user.login",
        json!({"username": "Admin", "password": ADMIN_PASSWORD}),
        None,
    );
    let zabbix_session = login["result"].as_str().expect("a session id").to_owned();
    let created = server.zabbix(
        "token.create",
        json!({"name": "monitoring", "expires_at": "1893456000"}),
        Some(&zabbix_session),
    );
    let token_id = created["result"]["tokenids"][0]
        .as_str()
        .expect("a token id")
        .to_owned();
    let generated = server.zabbix("token.generate", json!([token_id]), Some(&zabbix_session));
    let zabbix_api_token = generated["result"][0]["token"]
        .as_str()
        .expect("an API token")
        .to_owned();

    // ExtraView, OWIN and ArcGIS (bound to the caller's address).
    let reply = server.request(
        "GET",
        &format!(
            "/evj/ExtraView/ev_api.action?user_id=alice&password={}&statevar=get_token",
            form_encode(ALICE_PASSWORD)
        ),
        &[],
        "",
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let extraview = reply
        .body
        .lines()
        .find_map(|l| l.strip_prefix("Token:"))
        .expect("a Token: line")
        .to_owned();
    let reply = server.post_form(
        "/Token",
        &[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", ALICE_PASSWORD),
        ],
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let owin = reply.json()["access_token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let reply = server.post_form(
        "/arcgis/tokens/generateToken",
        &[
            ("username", "alice"),
            ("password", ALICE_PASSWORD),
            ("client", "requestip"),
            ("expiration", "120"),
            ("f", "json"),
        ],
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let arcgis = reply.json()["token"].as_str().expect("a token").to_owned();
    tokens.extend([
        ("zabbix api token", zabbix_api_token.clone()),
        ("zabbix session", zabbix_session.clone()),
        ("extraview", extraview),
        ("owin", owin),
        ("arcgis", arcgis),
    ]);
    server.stop();

    Secrets {
        client_secret,
        bob_totp_secret,
        tokens,
        zabbix_api_token,
        zabbix_session,
        spent_refresh,
        current_refresh,
    }
}

/// What introspection (as the client `billing`) says of every known token, without the issuer,
/// which names the server's own address.
fn introspect_all(server: &Server, secrets: &Secrets) -> Vec<(&'static str, Value)> {
    secrets
        .tokens
        .iter()
        .map(|(name, token)| {
            let reply = server.post_form(
                "/oauth/introspect",
                &[
                    ("token", token),
                    ("client_id", "billing"),
                    ("client_secret", &secrets.client_secret),
                ],
            );
            assert_eq!(reply.status, 200, "{name}: {}", reply.body);
            let mut answer = reply.json();
            if let Some(object) = answer.as_object_mut() {
                object.remove("iss");
            }
            (*name, answer)
        })
        .collect()
}

fn active(answers: &[(&str, Value)], name: &str) -> bool {
    let (_, answer) = answers
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no answer for {name}"));
    answer["active"]
        .as_bool()
        .unwrap_or_else(|| panic!("{name}: {answer}"))
}

/// The dump's last line, parsed.
fn last_line(dump: &str) -> Value {
    let line = dump.lines().last().expect("a last line");
    serde_json::from_str::<Value>(line).expect("JSON")["end"].clone()
}

#[test]
fn a_sqlite_installation_moves_to_postgres_losing_nothing() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let dir = dir.path();
    let source = sqlite(dir, "tessera.db");
    let secrets = build_installation(dir, &source);

    // The truth before the move: what the old server says of every token.
    let server = Server::start(dir, &source);
    let before = introspect_all(&server, &secrets);
    server.stop();
    for name in [
        "cli backup",
        "oauth access after a refresh",
        "oauth refresh, current",
        "client credentials",
        "zabbix api token",
        "zabbix session",
        "extraview",
        "owin",
        "arcgis",
    ] {
        assert!(active(&before, name), "{name} should be active: {before:?}");
    }
    for name in [
        "cli revoked",
        "oauth refresh, spent",
        "oauth access, revoked",
    ] {
        assert!(
            !active(&before, name),
            "{name} should be refused: {before:?}"
        );
    }
    let audit = every_audit_event(dir, &source);
    assert!(
        audit.as_array().is_some_and(|events| events.len() > 15),
        "{audit}"
    );

    // Export to a file only its owner reads.
    let dump_path = dir.join("tessera.dump");
    let dump_arg = dump_path.to_str().expect("a UTF-8 path");
    let (stdout, stderr) = ok(dir, &source, &["export", "--output", dump_arg], "");
    assert_eq!(stdout, "");
    let counts = stderr
        .lines()
        .find_map(|l| l.strip_prefix("Exported "))
        .unwrap_or_else(|| panic!("a summary: {stderr}"))
        .to_owned();
    assert!(
        counts.starts_with("users 3, clients 1, tokens "),
        "{counts}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&dump_path)
            .expect("the dump")
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the dump is readable by its owner only"
        );
    }
    let dump = std::fs::read_to_string(&dump_path).expect("the dump");
    assert_eq!(dump, export(dir, &source), "stdout gets the same dump");
    for (name, secret) in &secrets.tokens {
        assert!(
            !dump.contains(secret.as_str()),
            "{name} is in the dump in clear"
        );
    }
    for secret in [
        ADMIN_PASSWORD,
        ALICE_PASSWORD,
        BOB_PASSWORD,
        &secrets.client_secret,
    ] {
        assert!(!dump.contains(secret), "a secret is in the dump in clear");
    }
    let old_sequences = last_line(&dump)["sequences"].clone();
    let old_last_token = old_sequences["tokens"].as_i64().expect("a position");
    assert!(old_last_token >= secrets.tokens.len() as i64);

    // Import into a fresh PostgreSQL database (or, without a server, a second SQLite file).
    let scratch = postgres_database();
    let target = scratch
        .as_ref()
        .map_or_else(|| sqlite(dir, "moved.db"), |d| d.url().to_owned());
    let (_, stderr) = ok(dir, &target, &["import", "--input", dump_arg], "");
    assert!(stderr.contains(&format!("Imported {counts}")), "{stderr}");
    assert_eq!(
        export(dir, &target),
        dump,
        "the new database exports the same bytes"
    );
    assert_eq!(
        every_audit_event(dir, &target),
        audit,
        "every audit event is there"
    );

    // A second import into the now full database is refused and changes nothing.
    let refused = fails(dir, &target, &["import", "--input", dump_arg]);
    assert!(
        refused.contains("the database is not empty (users 3,"),
        "{refused}"
    );
    assert_eq!(refused.lines().count(), 1, "{refused}");
    assert_eq!(export(dir, &target), dump);

    // The new server answers as the old one did.
    let server = Server::start(dir, &target);
    let after = introspect_all(&server, &secrets);
    assert_eq!(after, before, "introspection differs after the move");

    let reply = server.request(
        "GET",
        "/api/v1/whoami",
        &[("Authorization", &format!("Bearer {}", secrets.tokens[0].1))],
        "",
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.body.contains("\"alice\""), "{}", reply.body);
    for (auth, field) in [
        (&secrets.zabbix_api_token, "token"),
        (&secrets.zabbix_session, "sessionid"),
    ] {
        let answer = server.zabbix("user.checkAuthentication", json!({ field: auth }), None);
        assert_eq!(answer["result"]["username"], "Admin", "{field}: {answer}");
    }
    let answer = server.zabbix(
        "token.get",
        json!({"output": "extend"}),
        Some(&secrets.zabbix_api_token),
    );
    assert!(answer["result"].is_array(), "{answer}");

    // Passwords, the client secret and bob's authenticator still work.
    let grant = |fields: &[(&str, &str)]| server.post_form("/oauth/token", fields);
    for (username, password) in [("Admin", ADMIN_PASSWORD), ("alice", ALICE_PASSWORD)] {
        let reply = grant(&[
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
        ]);
        assert_eq!(reply.status, 200, "{username}: {}", reply.body);
    }
    let reply = grant(&[
        ("grant_type", "password"),
        ("username", "bob"),
        ("password", BOB_PASSWORD),
    ]);
    assert_eq!(reply.status, 400, "bob needs his code: {}", reply.body);
    let code = tessera_core::totp::code_at(&secrets.bob_totp_secret, OffsetDateTime::now_utc())
        .expect("a TOTP code");
    let reply = grant(&[
        ("grant_type", "password"),
        ("username", "bob"),
        ("password", BOB_PASSWORD),
        ("totp", &code),
    ]);
    assert_eq!(reply.status, 200, "bob with his code: {}", reply.body);
    let reply = grant(&[
        ("grant_type", "client_credentials"),
        ("client_id", "billing"),
        ("client_secret", &secrets.client_secret),
    ]);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let new_token = reply.json()["access_token"]
        .as_str()
        .expect("a token")
        .to_owned();

    // The current refresh token refreshes; the spent one is still refused.
    let reply = grant(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", &secrets.current_refresh),
    ]);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = grant(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", &secrets.spent_refresh),
    ]);
    assert_eq!(reply.status, 400, "{}", reply.body);

    // New rows get ids past the old ones: the token just issued, and one from the CLI.
    let reply = server.post_form(
        "/oauth/introspect",
        &[
            ("token", &new_token),
            ("client_id", "billing"),
            ("client_secret", &secrets.client_secret),
        ],
    );
    let new_id: i64 = reply.json()["jti"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("an id");
    assert!(new_id > old_last_token, "{new_id} after {old_last_token}");
    server.stop();
    let issued = json_of(dir, &target, &["token", "issue", "--user", "bob"], "");
    assert!(issued["id"].as_i64().expect("an id") > new_id, "{issued}");
    let carol = json_of(
        dir,
        &target,
        &["user", "add", "carol", "--password-stdin"],
        "carol's long passphrase\n",
    );
    assert_eq!(carol["id"], 4);
    let events = every_audit_event(dir, &target);
    let events = events.as_array().expect("events");
    let old_last_event = old_sequences["audit_events"].as_i64().expect("a position");
    assert!(events.len() > audit.as_array().map_or(0, Vec::len));
    assert!(events
        .iter()
        .filter_map(|e| e["id"].as_i64())
        .any(|id| id > old_last_event));

    // And back: the grown database moves to SQLite and exports the same bytes again.
    let grown = export(dir, &target);
    let back = sqlite(dir, "back.db");
    let input = grown.clone();
    ok(dir, &back, &["import"], &input);
    assert_eq!(export(dir, &back), grown, "the round trip changed the dump");
}

#[test]
fn a_dump_cut_short_or_altered_is_refused_and_imports_nothing() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let dir = dir.path();
    let source = sqlite(dir, "tessera.db");
    json_of(dir, &source, &["token", "issue", "--user", "Admin"], "");
    let dump = export(dir, &source);
    let lines: Vec<&str> = dump.lines().collect();
    let token_line = lines
        .iter()
        .position(|l| l.starts_with(r#"{"table":"tokens""#))
        .expect("a token row");
    let hash = serde_json::from_str::<Value>(lines[token_line]).expect("JSON")["row"]["hash"]
        .as_str()
        .expect("a hash")
        .to_owned();

    let without_last_line = lines[..lines.len() - 1].join("\n") + "\n";
    let cut_in_a_row = format!(
        "{}{}",
        lines[..token_line].join("\n") + "\n",
        &lines[token_line][..60]
    );
    let upper_case_hash = dump.replace(&hash, &hash.to_uppercase());
    let extra_column = dump.replacen(
        r#""idle_timeout":null"#,
        r#""idle_timeout":null,"colour":"red""#,
        1,
    );
    let miscounted = dump.replace(r#""tokens":1,"audit"#, r#""tokens":2,"audit"#);
    for (i, (altered, expected)) in [
        (
            without_last_line,
            format!(
                "the dump is truncated: it ends after line {}",
                lines.len() - 1
            ),
        ),
        (
            cut_in_a_row,
            format!("line {}: the line is cut short", token_line + 1),
        ),
        (
            upper_case_hash,
            format!(
                "line {}: tokens.hash is not 64 lowercase hex digits",
                token_line + 1
            ),
        ),
        (
            extra_column,
            format!("line {}: tokens has no column \"colour\"", token_line + 1),
        ),
        (
            miscounted,
            "counts 2 rows of tokens but it holds 1".to_owned(),
        ),
        (String::new(), "the dump is empty".to_owned()),
    ]
    .into_iter()
    .enumerate()
    {
        let target = sqlite(dir, &format!("target-{i}.db"));
        let file = dir.join(format!("altered-{i}.dump"));
        std::fs::write(&file, &altered).expect("the altered dump is written");
        let stderr = fails(
            dir,
            &target,
            &["import", "--input", file.to_str().expect("a path")],
        );
        assert!(
            stderr.starts_with("error: the import failed and imported nothing: "),
            "{stderr}"
        );
        assert!(stderr.contains(&expected), "{expected:?} in {stderr}");
        assert!(
            !stderr.to_lowercase().contains(&hash),
            "a hash is shown: {stderr}"
        );
        let empty = export(dir, &target);
        assert_eq!(empty.lines().count(), 2, "something was imported: {empty}");
    }
}

#[test]
fn import_refuses_a_database_that_is_not_empty_and_neither_command_creates_an_admin() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let dir = dir.path();

    // `migrate` then `export` of the empty schema: a dump without rows, and no admin created.
    let empty = sqlite(dir, "empty.db");
    ok(dir, &empty, &["migrate"], "");
    let empty_dump = export(dir, &empty);
    assert_eq!(empty_dump.lines().count(), 2, "{empty_dump}");
    assert_eq!(export(dir, &empty), empty_dump);

    // Importing it creates no admin either: the next command makes Admin user 1.
    let target = sqlite(dir, "target.db");
    let (_, stderr) = ok(dir, &target, &["import"], &empty_dump);
    assert!(
        stderr.contains("Imported users 0, clients 0, tokens 0"),
        "{stderr}"
    );
    assert_eq!(export(dir, &target), empty_dump);

    // A database a command has used holds Admin and its audit event: refused, left as it was.
    let source = sqlite(dir, "source.db");
    json_of(dir, &source, &["token", "issue", "--user", "Admin"], "");
    let dump = export(dir, &source);
    let users = json_of(dir, &target, &["user", "list"], "");
    assert_eq!(users[0]["id"], 1);
    let before = export(dir, &target);
    let output = run(dir, &target, &["import"], &dump);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("the database is not empty (users 1, audit_events 1)"),
        "{stderr}"
    );
    assert_eq!(export(dir, &target), before);
}

#[test]
fn export_refuses_a_missing_database_and_an_existing_output_file() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let dir = dir.path();
    let missing: PathBuf = dir.join("missing.db");
    let output = dir.join("out.dump");
    let stderr = fails(
        dir,
        &format!("sqlite://{}", missing.display()),
        &["export", "--output", output.to_str().expect("a path")],
    );
    assert!(
        stderr.contains("does not exist (export does not create one)"),
        "{stderr}"
    );
    assert!(!missing.exists(), "the database was created");
    assert!(!output.exists(), "a failed export left its file behind");

    let source = sqlite(dir, "tessera.db");
    ok(dir, &source, &["migrate"], "");
    std::fs::write(&output, "keep me").expect("a file");
    let stderr = fails(
        dir,
        &source,
        &["export", "--output", output.to_str().expect("a path")],
    );
    assert!(stderr.contains("already exists"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&output).expect("the file"),
        "keep me"
    );
}
