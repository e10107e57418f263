//! The `tessera` binary as an operator uses it: each test runs the real executable against a
//! fresh SQLite database in its own temporary directory, with a cheap Argon2 cost so that
//! hashing passwords does not dominate the run.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tempfile::TempDir;

const BINARY: &str = env!("CARGO_BIN_EXE_tessera");

/// A temporary directory holding one database, and the environment to run tessera on it.
struct Tessera {
    dir: TempDir,
}

impl Tessera {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// tessera with this test's database and a cheap Argon2 cost, and none of the caller's own
    /// TESSERA_* variables, which would make the tests depend on who runs them.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BINARY);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("TESSERA_") {
                command.env_remove(name);
            }
        }
        command
            .args(args)
            .current_dir(self.path())
            .env(
                "TESSERA_DATABASE_URL",
                format!("sqlite://{}", self.path().join("tessera.db").display()),
            )
            .env("TESSERA_ARGON2_MEMORY_KIB", "64")
            .env("TESSERA_ARGON2_ITERATIONS", "1")
            .stdin(Stdio::null());
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        let output = self.command(args).output().expect("tessera runs");
        assert_no_panic(&output);
        output
    }

    fn run_with_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tessera starts");
        child
            .stdin
            .take()
            .expect("a stdin pipe")
            .write_all(input.as_bytes())
            .expect("stdin is written");
        let output = child.wait_with_output().expect("tessera runs");
        assert_no_panic(&output);
        output
    }

    /// Runs a command that must succeed and returns its stdout.
    fn ok(&self, args: &[&str]) -> String {
        succeeded(args, self.run(args))
    }

    /// Runs a command with `--json` that must succeed and returns its parsed output.
    fn json(&self, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.push("--json");
        parse_json(&self.ok(&args))
    }

    /// Runs a command that must fail with exit code 1, and returns its stderr.
    fn fails(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{args:?} should fail with exit code 1; stdout: {}; stderr: {}",
            text(&output.stdout),
            text(&output.stderr)
        );
        text(&output.stderr)
    }

    /// Adds a user whose password comes from stdin, and returns the user as JSON.
    fn add_user(&self, name: &str, extra: &[&str]) -> Value {
        let mut args = vec!["user", "add", name, "--password-stdin", "--json"];
        args.extend_from_slice(extra);
        let output = self.run_with_stdin(&args, "correct horse battery staple\n");
        parse_json(&succeeded(&args, output))
    }

    /// The bytes of the database and its journal files.
    fn database_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        for entry in std::fs::read_dir(self.path()).expect("the directory is readable") {
            let entry = entry.expect("a directory entry");
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with("tessera.db")
            {
                bytes.extend(std::fs::read(entry.path()).expect("a database file is readable"));
            }
        }
        assert!(!bytes.is_empty(), "the database files were not found");
        bytes
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_no_panic(output: &Output) {
    let stderr = text(&output.stderr);
    assert!(!stderr.contains("panicked"), "tessera panicked: {stderr}");
}

fn succeeded(args: &[&str], output: Output) -> String {
    assert!(
        output.status.success(),
        "{args:?} failed with {:?}: {}",
        output.status.code(),
        text(&output.stderr)
    );
    text(&output.stdout)
}

fn parse_json(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

fn names(users: &Value) -> Vec<&str> {
    users
        .as_array()
        .expect("a JSON array")
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect()
}

// ----- users -----

#[test]
fn users_are_added_listed_shown_changed_and_deleted() {
    let t = Tessera::new();
    let bob = t.add_user(
        "bob",
        &[
            "--display-name",
            "Bob B.",
            "--role",
            "admin",
            "--permission",
            "USER.EXCLUDE_2FA",
        ],
    );
    assert_eq!(bob["username"], "bob");
    assert_eq!(bob["display_name"], "Bob B.");
    assert_eq!(bob["role"], "admin");
    assert_eq!(bob["enabled"], true);
    assert_eq!(bob["permissions"], serde_json::json!(["USER.EXCLUDE_2FA"]));
    assert!(
        bob.get("password").is_none(),
        "a password from stdin is not echoed"
    );
    assert!(bob["uuid"].as_str().is_some_and(|u| u.len() == 36));
    assert!(bob["created_at"].as_str().is_some_and(|t| t.ends_with('Z')));
    let id = bob["id"].as_i64().expect("a numeric id").to_string();

    t.add_user("carol", &[]);
    assert_eq!(names(&t.json(&["user", "list"])), ["Admin", "bob", "carol"]);
    let table = t.ok(&["user", "list"]);
    assert!(table.starts_with("ID"), "{table}");
    assert!(table.contains("Bob B."), "{table}");

    assert_eq!(t.json(&["user", "show", "bob"]), bob);
    assert_eq!(
        t.json(&["user", "show", &id]),
        bob,
        "a user is found by id too"
    );
    assert!(t.ok(&["user", "show", "bob"]).contains("USER.EXCLUDE_2FA"));

    let output = t.run_with_stdin(
        &["user", "passwd", "bob", "--password-stdin"],
        "new pass\r\n",
    );
    succeeded(&["user", "passwd"], output);
    let changed = t.json(&["user", "passwd", "bob"]);
    let generated = changed["password"].as_str().expect("a generated password");
    assert_eq!(generated.len(), 24);

    assert_eq!(t.json(&["user", "disable", "bob"])["enabled"], false);
    assert_eq!(t.json(&["user", "show", "bob"])["enabled"], false);
    assert_eq!(t.json(&["user", "enable", &id])["enabled"], true);

    assert!(t
        .ok(&["user", "delete", "bob"])
        .contains("Deleted user \"bob\""));
    assert_eq!(names(&t.json(&["user", "list"])), ["Admin", "carol"]);
    let error = t.fails(&["user", "show", "bob"]);
    assert_eq!(error.trim(), "error: user \"bob\" not found");
}

#[test]
fn duplicate_user_name_is_refused_ignoring_case() {
    let t = Tessera::new();
    t.add_user("bob", &[]);
    let error = t.fails(&["user", "add", "BOB"]);
    assert!(error.contains("\"BOB\""), "{error}");
    assert!(error.contains("already exists"), "{error}");
    assert_eq!(error.lines().count(), 1, "one line: {error}");
    assert_eq!(names(&t.json(&["user", "list"])), ["Admin", "bob"]);
}

#[test]
fn a_generated_password_is_shown_once_and_none_is_taken_from_an_argument() {
    let t = Tessera::new();
    let stdout = t.ok(&["user", "add", "dave"]);
    let passwords: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("    "))
        .map(str::trim)
        .collect();
    assert_eq!(passwords.len(), 1, "{stdout}");
    assert_eq!(passwords[0].len(), 24);
    assert!(passwords[0].chars().all(|c| c.is_ascii_alphanumeric()));
    assert!(!t.ok(&["user", "show", "dave"]).contains(passwords[0]));

    let output = t.run(&["user", "add", "erin", "--password", "hunter2"]);
    assert_eq!(output.status.code(), Some(2), "there is no --password flag");
}

#[test]
fn an_empty_password_on_stdin_is_refused() {
    let t = Tessera::new();
    let output = t.run_with_stdin(&["user", "add", "frank", "--password-stdin"], "\n");
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("no password on stdin"));
    assert_eq!(names(&t.json(&["user", "list"])), ["Admin"]);
}

#[test]
fn the_last_enabled_super_admin_can_be_neither_disabled_nor_deleted() {
    let t = Tessera::new();
    assert!(t
        .fails(&["user", "disable", "Admin"])
        .contains("last enabled super admin"));
    assert!(t
        .fails(&["user", "delete", "1"])
        .contains("last enabled super admin"));
    t.add_user("root2", &["--role", "super_admin"]);
    assert_eq!(t.json(&["user", "disable", "Admin"])["enabled"], false);
}

// ----- two-factor sign-in -----

#[test]
fn totp_enable_shows_an_otpauth_uri_once_and_disable_turns_it_off() {
    let t = Tessera::new();
    t.add_user("bob", &[]);
    assert_eq!(t.json(&["user", "show", "bob"])["totp_enabled"], false);

    let stdout = t.ok(&["user", "totp", "enable", "bob"]);
    let uris: Vec<&str> = stdout
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("otpauth://totp/"))
        .collect();
    assert_eq!(uris.len(), 1, "{stdout}");
    assert!(uris[0].contains("secret="), "{stdout}");
    assert!(uris[0].contains("issuer=tessera"), "{stdout}");
    assert!(stdout.contains("authenticator app"), "{stdout}");
    assert!(!t.ok(&["user", "show", "bob"]).contains(uris[0]));
    assert_eq!(t.json(&["user", "show", "bob"])["totp_enabled"], true);
    assert!(t
        .ok(&["user", "show", "bob"])
        .contains("two-factor      yes"));

    let enrolment = t.json(&["user", "totp", "enable", "bob"]);
    let uri = enrolment["otpauth_uri"].as_str().expect("an otpauth URI");
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    assert_ne!(uri, uris[0], "enabling again gives a new secret");
    assert_eq!(enrolment["user"]["username"], "bob");
    assert_eq!(enrolment["user"]["totp_enabled"], true);

    let disabled = t.json(&["user", "totp", "disable", "bob"]);
    assert_eq!(disabled["totp_enabled"], false);
    assert_eq!(t.json(&["user", "show", "bob"])["totp_enabled"], false);
    assert!(t
        .ok(&["user", "totp", "disable", "bob"])
        .contains("already off"));
    assert!(t
        .fails(&["user", "totp", "enable", "nobody"])
        .contains("not found"));
}

#[test]
fn the_api_2fa_bypass_is_turned_on_and_off() {
    let t = Tessera::new();
    let bob = t.add_user("bob", &["--permission", "USER.EXCLUDE_2FA"]);
    assert_eq!(bob["api_2fa_bypass"], false);

    assert_eq!(
        t.json(&["user", "api-bypass", "on", "bob"])["api_2fa_bypass"],
        true
    );
    assert_eq!(t.json(&["user", "show", "bob"])["api_2fa_bypass"], true);
    assert_eq!(
        t.json(&["user", "api-bypass", "off", "bob"])["api_2fa_bypass"],
        false
    );
    assert_eq!(t.json(&["user", "show", "bob"])["api_2fa_bypass"], false);

    // Without USER.EXCLUDE_2FA the choice is kept but changes nothing, and the operator is told.
    t.add_user("carol", &[]);
    let output = t.run(&["user", "api-bypass", "on", "carol", "--json"]);
    let stdout = succeeded(&["user", "api-bypass"], output.clone());
    assert_eq!(parse_json(&stdout)["api_2fa_bypass"], true);
    assert!(text(&output.stderr).contains("USER.EXCLUDE_2FA"));
    assert!(t
        .ok(&["user", "show", "carol"])
        .contains("no effect without USER.EXCLUDE_2FA"));

    let output = t.run(&["user", "api-bypass", "maybe", "bob"]);
    assert_eq!(output.status.code(), Some(2));
}

// ----- behaviour settings -----

#[test]
fn a_behaviour_setting_is_set_listed_and_unset() {
    let t = Tessera::new();
    let unset = serde_json::json!([{"name": "OAUTH2_TOKEN_LIFETIME_SECONDS", "value": null}]);
    assert_eq!(t.json(&["setting", "list"]), unset);
    assert!(t
        .ok(&["setting", "list"])
        .contains("(not set: the configured value applies)"));

    let set = t.json(&["setting", "set", "OAUTH2_TOKEN_LIFETIME_SECONDS", "600"]);
    assert_eq!(
        set,
        serde_json::json!({"name": "OAUTH2_TOKEN_LIFETIME_SECONDS", "value": "600"})
    );
    assert_eq!(
        t.json(&["setting", "list"]),
        serde_json::json!([{"name": "OAUTH2_TOKEN_LIFETIME_SECONDS", "value": "600"}])
    );
    let table = t.ok(&["setting", "list"]);
    assert!(
        table.contains("OAUTH2_TOKEN_LIFETIME_SECONDS  600"),
        "{table}"
    );

    let error = t.fails(&["setting", "set", "OAUTH2_TOKEN_LIFETIME_SECONDS", "0"]);
    assert!(error.contains("OAUTH2_TOKEN_LIFETIME_SECONDS"), "{error}");
    assert_eq!(error.lines().count(), 1, "one line: {error}");
    let error = t.fails(&["setting", "set", "TOKEN_LIFETIME", "600"]);
    assert!(error.contains("\"TOKEN_LIFETIME\""), "{error}");
    assert!(error.contains("OAUTH2_TOKEN_LIFETIME_SECONDS"), "{error}");
    t.fails(&["setting", "unset", "TOKEN_LIFETIME"]);
    assert_eq!(
        t.json(&["setting", "list"])[0]["value"],
        "600",
        "a refused change leaves the value"
    );

    let unset_one = t.json(&["setting", "unset", "OAUTH2_TOKEN_LIFETIME_SECONDS"]);
    assert_eq!(unset_one["value"], Value::Null);
    assert_eq!(t.json(&["setting", "list"]), unset);

    let changes = t.json(&["audit", "list", "--kind", "setting.changed"]);
    assert_eq!(changes.as_array().map(Vec::len), Some(2));
    assert_eq!(changes[0]["door"], "cli");
}

// ----- migrations -----

#[test]
fn migrate_applies_the_schema_once_then_says_it_is_up_to_date() {
    let t = Tessera::new();
    assert_eq!(
        t.ok(&["migrate"]),
        "Applied migration: initial\n\
         Applied migration: two factor and behavior\n\
         Applied migration: token search\n\
         Applied migration: change announcements\n\
         Applied migration: sign in lockout\n\
         Applied migration: token indexes at scale\n\
         Applied migration: client announcements\n\
         Applied migration: user token index\n\
         Applied migration: token text trigrams\n\
         Applied migration: api token indexes\n\
         Applied migration: live user token index\n\
         Applied migration: partial user indexes\n"
    );
    assert_eq!(t.ok(&["migrate"]), "The database is up to date.\n");
    assert_eq!(t.json(&["migrate"]), serde_json::json!({"applied": []}));
    let fresh = Tessera::new();
    assert_eq!(
        fresh.json(&["migrate"])["applied"].as_array().map(Vec::len),
        Some(12)
    );

    // Migrating creates no user: the first command after it still makes Admin user 1.
    let output = t.run(&["user", "list", "--json"]);
    let users: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(users[0]["username"], "Admin");
    assert_eq!(users[0]["id"], 1);
}

#[test]
fn migrate_on_an_unreachable_postgres_fails_in_one_line_without_the_password() {
    let t = Tessera::new();
    let error = t.fails(&[
        "migrate",
        "--database",
        "postgres://tessera:hunter2@127.0.0.1:1/tessera",
    ]);
    assert!(error.contains("cannot migrate the database"), "{error}");
    assert!(error.contains("127.0.0.1:1/tessera"), "{error}");
    assert!(!error.contains("hunter2"), "{error}");
    assert_eq!(error.lines().count(), 1, "one line: {error}");
}

// ----- clients -----

#[test]
fn a_client_secret_is_shown_once_and_never_listed() {
    let t = Tessera::new();
    let client = t.json(&[
        "client",
        "add",
        "grafana",
        "--name",
        "Grafana",
        "--grant",
        "password",
        "--grant",
        "refresh_token",
        "--scope",
        "read",
    ]);
    let secret = client["client_secret"].as_str().expect("a client secret");
    assert!(secret.starts_with("tsr_"), "{secret}");
    assert_eq!(client["client_id"], "grafana");
    assert_eq!(client["name"], "Grafana");
    assert_eq!(
        client["grants"],
        serde_json::json!(["password", "refresh_token"])
    );
    assert_eq!(client["scope"], "read");

    let stdout = t.ok(&["client", "add", "backup"]);
    assert_eq!(stdout.matches("tsr_").count(), 1, "{stdout}");

    let listed = t.json(&["client", "list"]);
    let listed = listed.as_array().expect("a JSON array");
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|c| c.get("client_secret").is_none()));
    let backup = listed.iter().find(|c| c["client_id"] == "backup");
    assert_eq!(
        backup.map(|c| &c["grants"]),
        Some(&serde_json::json!(["client_credentials"])),
        "client_credentials is the default grant"
    );
    let table = t.ok(&["client", "list"]);
    assert!(!table.contains("tsr_"), "{table}");
    assert!(!contains(&t.database_bytes(), secret));

    t.ok(&["client", "delete", "backup"]);
    assert_eq!(
        t.json(&["client", "list"]).as_array().map(Vec::len),
        Some(1)
    );
    assert!(t
        .fails(&["client", "delete", "backup"])
        .contains("not found"));
    assert!(t
        .fails(&["client", "add", "grafana"])
        .contains("already exists"));
}

// ----- tokens -----

#[test]
fn tokens_are_issued_listed_shown_and_revoked() {
    let t = Tessera::new();
    t.add_user("bob", &[]);
    let issued = t.json(&[
        "token",
        "issue",
        "--user",
        "bob",
        "--name",
        "ci",
        "--description",
        "nightly build",
        "--scope",
        "read",
        "--lifetime",
        "12h",
    ]);
    let secret = issued["token"].as_str().expect("the token's secret");
    assert!(secret.starts_with("tsr_"));
    assert_eq!(issued["kind"], "api");
    assert_eq!(issued["door"], "cli");
    assert_eq!(issued["name"], "ci");
    assert_eq!(issued["description"], "nightly build");
    assert_eq!(issued["scope"], "read");
    assert_eq!(issued["status"], "active");
    assert_eq!(issued["binding"], Value::Null);
    assert!(issued["expires_at"].is_string());
    let id = issued["id"].as_i64().expect("a token id").to_string();

    let forever = t.json(&["token", "issue", "--user", "bob", "--never-expires"]);
    assert_eq!(forever["expires_at"], Value::Null);
    assert_eq!(forever["scope"], "read write", "the default scope");

    let listed = t.json(&["token", "list", "--user", "bob"]);
    let listed = listed.as_array().expect("a JSON array");
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|token| token.get("token").is_none()));
    assert!(!t.ok(&["token", "list"]).contains("tsr_"));

    let shown = t.json(&["token", "show", &id]);
    assert!(shown.get("token").is_none());
    assert_eq!(shown["user_id"], issued["user_id"]);

    assert_eq!(t.json(&["token", "revoke", &id])["status"], "revoked");
    assert!(t.ok(&["token", "revoke", &id]).contains("already revoked"));
    let revoked = t.json(&["token", "list", "--status", "revoked"]);
    assert_eq!(revoked.as_array().map(Vec::len), Some(1));
    let page = t.json(&["token", "list", "--after", &id, "--limit", "1"]);
    assert_eq!(page[0]["id"], forever["id"]);
}

#[test]
fn token_secrets_are_absent_from_the_database_and_the_log() {
    let t = Tessera::new();
    t.add_user("bob", &[]);
    let args = ["token", "issue", "--user", "bob", "--json"];
    let output = t
        .command(&args)
        .env("TESSERA_LOG_LEVEL", "trace")
        .output()
        .expect("tessera runs");
    let stdout = succeeded(&args, output.clone());
    let secret = parse_json(&stdout)["token"]
        .as_str()
        .expect("the token's secret")
        .to_owned();
    assert!(!contains(&output.stderr, &secret), "the secret was logged");
    assert!(
        !contains(&t.database_bytes(), &secret),
        "the secret was stored"
    );
}

#[test]
fn a_disabled_user_gets_no_new_token() {
    let t = Tessera::new();
    t.add_user("bob", &[]);
    t.ok(&["user", "disable", "bob"]);
    assert!(t
        .fails(&["token", "issue", "--user", "bob"])
        .contains("disabled"));
}

// ----- audit -----

#[test]
fn the_audit_trail_shows_what_the_cli_did() {
    let t = Tessera::new();
    let bob = t.add_user("bob", &[]);
    t.ok(&["client", "add", "grafana"]);
    let token = t.json(&["token", "issue", "--user", "bob"]);
    let token_id = token["id"].as_i64().expect("a token id").to_string();
    t.ok(&["token", "revoke", &token_id]);

    let events = t.json(&["audit", "list"]);
    let kinds: Vec<&str> = events
        .as_array()
        .expect("a JSON array")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "token.revoked",
            "token.issued",
            "client.created",
            "user.created",
            "user.created"
        ],
        "newest first; the oldest is Admin's creation on first open"
    );
    assert!(events
        .as_array()
        .into_iter()
        .flatten()
        .all(|e| e["door"] == "cli" && e["at"].is_string()));

    let revoked = t.json(&["audit", "list", "--kind", "token.revoked"]);
    assert_eq!(revoked.as_array().map(Vec::len), Some(1));
    assert_eq!(revoked[0]["token_id"], token["id"]);
    assert_eq!(revoked[0]["subject_user_id"], bob["id"]);
    let about_token = t.json(&["audit", "list", "--token", &token_id]);
    assert_eq!(about_token.as_array().map(Vec::len), Some(2));
    let about_bob = t.json(&["audit", "list", "--user", "bob", "--limit", "10"]);
    assert_eq!(about_bob.as_array().map(Vec::len), Some(3));
    let future = t.json(&["audit", "list", "--since", "2999-01-01T00:00:00Z"]);
    assert_eq!(future.as_array().map(Vec::len), Some(0));
    assert!(t.ok(&["audit", "list"]).contains("client.created"));
    assert!(!t
        .ok(&["audit", "list"])
        .contains(token["token"].as_str().unwrap_or("tsr_")));
}

// ----- bad input -----

#[test]
fn bad_input_is_refused_without_a_panic() {
    let t = Tessera::new();
    t.add_user("bob", &[]);
    let refused: &[&[&str]] = &[
        &["user", "add", "x", "--role", "god"],
        &["user", "add", "x", "--permission", "root"],
        &["user", "add", " padded"],
        &["token", "issue", "--user", "bob", "--lifetime", "0"],
        &["token", "issue", "--user", "bob", "--lifetime", "99999d"],
        &["token", "issue", "--user", "bob", "--lifetime", "soon"],
        &[
            "token",
            "issue",
            "--user",
            "bob",
            "--lifetime",
            "1d",
            "--never-expires",
        ],
        &["token", "issue", "--user", "bob", "--scope", "admin"],
        &["token", "issue", "--user", "nobody"],
        &["token", "list", "--limit", "0"],
        &["token", "list", "--limit", "10001"],
        &["token", "list", "--door", "telnet"],
        &["token", "show", "999"],
        &["token", "show", "abc"],
        &["token", "revoke", "999"],
        &["client", "add", "bad id!"],
        &["client", "add", "c", "--grant", "implicit"],
        &["client", "add", "c", "--scope", "admin"],
        &["audit", "list", "--since", "yesterday"],
        &["audit", "list", "--kind", "everything"],
        &["user", "show", "nobody"],
        &["serve", "--listen", "not an address"],
        &["serve", "--access-token-lifetime", "0"],
        &["serve", "--log-format", "xml"],
        &["serve", "--extraview-xml", "strict"],
        &["serve", "--extraview-time-zone", "+25:00"],
        &["serve", "--oauth2-token-lifetime-seconds", "0"],
        &["user", "totp", "enable", "nobody"],
        &["user", "api-bypass", "on", "nobody"],
        &["setting", "set", "NOPE", "1"],
        &["setting", "set", "OAUTH2_TOKEN_LIFETIME_SECONDS", "soon"],
        &["frobnicate"],
    ];
    for args in refused {
        let output = t.run(args);
        assert!(
            matches!(output.status.code(), Some(1 | 2)),
            "{args:?} exited with {:?}",
            output.status.code()
        );
        let stderr = text(&output.stderr);
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
    }
    assert_eq!(
        t.fails(&["token", "issue", "--user", "nobody"]).trim(),
        "error: user \"nobody\" not found"
    );
}

// ----- configuration -----

#[test]
fn serve_help_documents_every_setting_with_its_variable_and_default() {
    let t = Tessera::new();
    let help = t.ok(&["serve", "--help"]);
    for variable in [
        "TESSERA_CONFIG",
        "TESSERA_DATABASE_URL",
        "TESSERA_LISTEN",
        "TESSERA_ISSUER",
        "TESSERA_ACCESS_TOKEN_LIFETIME",
        "TESSERA_REFRESH_TOKEN_LIFETIME",
        "TESSERA_SCOPES",
        "TESSERA_DEFAULT_SCOPE",
        "TESSERA_ARGON2_MEMORY_KIB",
        "TESSERA_ARGON2_ITERATIONS",
        "TESSERA_ARGON2_PARALLELISM",
        "TESSERA_PASSWORD_WORKERS",
        "TESSERA_PASSWORD_QUEUE",
        "TESSERA_CACHE_CAPACITY",
        "TESSERA_CACHE_TTL_SECONDS",
        "TESSERA_BODY_LIMIT_BYTES",
        "TESSERA_REQUEST_TIMEOUT_SECONDS",
        "TESSERA_LAST_ACCESS_FLUSH_SECONDS",
        "TESSERA_LOG_LEVEL",
        "TESSERA_LOG_FORMAT",
        "TESSERA_OAUTH2_TOKEN_LIFETIME_SECONDS",
        "TESSERA_EXTRAVIEW_XML",
        "TESSERA_EXTRAVIEW_TIME_ZONE",
        "TESSERA_BOOTSTRAP_ADMIN_PASSWORD",
    ] {
        assert!(help.contains(variable), "{variable} is not in the help");
    }
    for default in [
        "127.0.0.1:8080",
        "sqlite://tessera.db",
        "3600",
        "2592000",
        "19456",
        "65536",
        "well-formed",
        "+00:00",
    ] {
        assert!(
            help.contains(default),
            "the default {default} is not in the help"
        );
    }
}

#[test]
fn the_config_file_is_used_and_the_environment_overrides_it() {
    let t = Tessera::new();
    let config = t.path().join("tessera.toml");
    std::fs::write(
        &config,
        "scopes = \"read write admin\"\ndefault_scope = \"read\"\n",
    )
    .expect("the config file is written");
    let config = config.to_string_lossy().into_owned();
    t.add_user("bob", &[]);

    let issued = t.json(&["token", "issue", "--user", "bob", "--config", &config]);
    assert_eq!(issued["scope"], "read", "default_scope comes from the file");
    let admin = t.json(&[
        "--config", &config, "token", "issue", "--user", "bob", "--scope", "admin",
    ]);
    assert_eq!(admin["scope"], "admin", "scopes come from the file");

    let args = [
        "--config", &config, "token", "issue", "--user", "bob", "--scope", "admin",
    ];
    let output = t
        .command(&args)
        .env("TESSERA_SCOPES", "read write")
        .output()
        .expect("tessera runs");
    assert_eq!(
        output.status.code(),
        Some(1),
        "TESSERA_SCOPES overrides the file"
    );
    assert!(text(&output.stderr).contains("invalid scope"));

    let output = t
        .command(&["token", "issue", "--user", "bob", "--json"])
        .env("TESSERA_CONFIG", &config)
        .output()
        .expect("tessera runs");
    assert_eq!(
        parse_json(&text(&output.stdout))["scope"],
        "read",
        "TESSERA_CONFIG names the file"
    );
}

#[test]
fn an_invalid_config_file_is_refused_naming_the_key_and_the_file() {
    let t = Tessera::new();
    let cases = [
        ("access_token_lifetime = 0\n", "access_token_lifetime"),
        ("listen = 8080\n", "listen"),
        ("lisen = \"127.0.0.1:1\"\n", "lisen"),
        ("log_format = \"xml\"\n", "log_format"),
        (
            "bootstrap_admin_password = \"x\"\n",
            "TESSERA_BOOTSTRAP_ADMIN_PASSWORD",
        ),
        ("request_timeout_seconds = 0\n", "request_timeout_seconds"),
        ("extraview.time_zone = \"CET\"\n", "extraview.time_zone"),
        (
            "extraview_xml = \"legacy\"\nextraview.xml = \"legacy\"\n",
            "extraview.xml",
        ),
        ("not toml at all", "bad.toml"),
    ];
    let config = t.path().join("bad.toml");
    let config_arg = config.to_string_lossy().into_owned();
    for (contents, named) in cases {
        std::fs::write(&config, contents).expect("the config file is written");
        let error = t.fails(&["--config", &config_arg, "user", "list"]);
        assert!(error.contains(named), "{contents:?} gave {error}");
        assert!(error.contains("bad.toml"), "{contents:?} gave {error}");
        assert_eq!(error.lines().count(), 1, "one line: {error}");
    }
    let error = t.fails(&["--config", "missing.toml", "user", "list"]);
    assert!(error.contains("missing.toml"), "{error}");
}

#[test]
fn an_invalid_environment_variable_is_named() {
    let t = Tessera::new();
    let output = t
        .command(&["user", "list"])
        .env("TESSERA_REFRESH_TOKEN_LIFETIME", "0")
        .output()
        .expect("tessera runs");
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("TESSERA_REFRESH_TOKEN_LIFETIME"));

    let output = t
        .command(&["user", "list"])
        .env("TESSERA_EXTRAVIEW_TIME_ZONE", "Europe/Paris")
        .output()
        .expect("tessera runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("TESSERA_EXTRAVIEW_TIME_ZONE"), "{stderr}");
    assert!(stderr.contains("Europe/Paris"), "{stderr}");
}

// ----- serve -----

/// A `tessera serve` child whose output lines arrive on a channel, so a test can wait for a line
/// with a deadline instead of blocking on a pipe forever.
struct Server {
    child: Child,
    lines: mpsc::Receiver<(Stream, String)>,
    readers: Vec<JoinHandle<()>>,
    stdout: Vec<String>,
    stderr: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Stdout,
    Stderr,
}

impl Server {
    fn start(t: &Tessera) -> Self {
        let mut child = t
            .command(&["serve", "--listen", "127.0.0.1:0"])
            .env_remove("TESSERA_BOOTSTRAP_ADMIN_PASSWORD")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tessera serve starts");
        let (sender, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("a stdout pipe");
        let stderr = child.stderr.take().expect("a stderr pipe");
        let readers = vec![
            forward(stdout, Stream::Stdout, sender.clone()),
            forward(stderr, Stream::Stderr, sender),
        ];
        Self {
            child,
            lines,
            readers,
            stdout: Vec::new(),
            stderr: Vec::new(),
        }
    }

    /// Collects lines until `done` says so; gives up (and stops the server) after 30 seconds.
    fn wait_until(&mut self, what: &str, done: impl Fn(&Self) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !done(self) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((Stream::Stdout, line)) => self.stdout.push(line),
                Ok((Stream::Stderr, line)) => self.stderr.push(line),
                Err(_) => {
                    let _ = self.child.kill();
                    panic!(
                        "gave up waiting for {what}; stdout: {:?}; stderr: {:?}",
                        self.stdout, self.stderr
                    );
                }
            }
        }
    }

    fn listening(&self) -> bool {
        self.stderr
            .iter()
            .any(|l| l.contains("tessera listening on http://127.0.0.1:"))
    }

    /// Stops the server (SIGTERM where there is one, for a graceful stop) and collects the rest
    /// of its output. Answers whether it exited successfully.
    fn stop(mut self) -> (bool, Vec<String>, Vec<String>) {
        let terminated = cfg!(unix)
            && Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status()
                .is_ok_and(|status| status.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        let graceful = terminated
            && loop {
                match self.child.try_wait() {
                    Ok(Some(status)) => break status.success(),
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(50))
                    }
                    _ => break false,
                }
            };
        let _ = self.child.kill();
        let _ = self.child.wait();
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        for (stream, line) in self.lines.try_iter() {
            match stream {
                Stream::Stdout => self.stdout.push(line),
                Stream::Stderr => self.stderr.push(line),
            }
        }
        (graceful, self.stdout, self.stderr)
    }
}

fn forward(
    pipe: impl Read + Send + 'static,
    stream: Stream,
    sender: mpsc::Sender<(Stream, String)>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if sender.send((stream, line)).is_err() {
                break;
            }
        }
    })
}

fn password_line(lines: &[String]) -> Option<String> {
    lines
        .iter()
        .find(|l| l.starts_with("    ") && !l.trim().is_empty())
        .map(|l| l.trim().to_owned())
}

#[test]
fn serve_shows_a_generated_admin_password_once_and_never_logs_it() {
    let t = Tessera::new();
    let mut server = Server::start(&t);
    server.wait_until("the password and the listening line", |s| {
        password_line(&s.stdout).is_some() && s.listening()
    });
    let (graceful, stdout, stderr) = server.stop();
    let password = password_line(&stdout).expect("a password line");
    assert_eq!(password.len(), 24, "{stdout:?}");
    assert!(stdout
        .iter()
        .any(|l| l.contains("Created the super admin \"Admin\"")));
    assert_eq!(stdout.iter().filter(|l| l.contains(&password)).count(), 1);
    assert!(
        stderr.iter().all(|l| !l.contains(&password)),
        "the password was logged: {stderr:?}"
    );
    if cfg!(unix) {
        assert!(
            graceful,
            "SIGTERM should stop the server cleanly: {stderr:?}"
        );
    }

    let admin = t.json(&["user", "show", "Admin"]);
    assert_eq!(admin["role"], "super_admin");
    assert_eq!(admin["id"], 1);

    // The admin exists now, so a second start creates nothing and shows nothing.
    let mut again = Server::start(&t);
    again.wait_until("the listening line", Server::listening);
    let (_, stdout, _) = again.stop();
    assert!(password_line(&stdout).is_none(), "{stdout:?}");
}

#[test]
fn the_first_command_on_a_new_database_creates_admin_as_user_1_and_shows_its_password_on_stderr() {
    let t = Tessera::new();
    let output = t.run(&["user", "list", "--json"]);
    assert_eq!(output.status.code(), Some(0));
    let users: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("stdout stays pure JSON");
    assert_eq!(users[0]["username"], "Admin");
    assert_eq!(users[0]["id"], 1);
    assert_eq!(users[0]["role"], "super_admin");
    let stderr = text(&output.stderr);
    assert!(stderr.contains("shown only this once"), "{stderr}");
    let again = t.run(&["user", "list", "--json"]);
    assert!(
        !text(&again.stderr).contains("shown only this once"),
        "only once"
    );
}

/// A password grant through real curl; answers the HTTP status.
fn curl_password_grant(base: &str, user: &str, password: &str) -> String {
    let output = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "10",
        ])
        .args(["-d", "grant_type=password", "--data-urlencode"])
        .arg(format!("username={user}"))
        .arg("--data-urlencode")
        .arg(format!("password={password}"))
        .arg(format!("{base}/oauth/token"))
        .output()
        .expect("curl runs");
    text(&output.stdout)
}

#[test]
fn a_locked_user_is_shown_and_unlocked_by_the_admin() {
    let t = Tessera::new();
    t.add_user("alice", &[]);
    let mut server = Server::start(&t);
    server.wait_until("the listening line", Server::listening);
    let base = server
        .stderr
        .iter()
        .find_map(|l| {
            l.split_once("tessera listening on ")
                .map(|(_, a)| a.trim().to_owned())
        })
        .unwrap();
    let password = "correct horse battery staple";
    for _ in 0..5 {
        assert_eq!(curl_password_grant(&base, "alice", "wrong"), "400");
    }
    assert_eq!(
        curl_password_grant(&base, "alice", password),
        "400",
        "locked"
    );
    let shown = t.json(&["user", "show", "alice"]);
    assert_eq!(shown["failed_sign_ins"], 5);
    assert!(shown["last_failed_sign_in_at"].is_string());
    let locks = t.json(&["audit", "list", "--kind", "login.locked"]);
    assert_eq!(locks.as_array().unwrap().len(), 1);

    assert!(t
        .ok(&["user", "unlock", "alice"])
        .contains("Unlocked user \"alice\""));
    assert_eq!(t.json(&["user", "show", "alice"])["failed_sign_ins"], 0);
    assert_eq!(curl_password_grant(&base, "alice", password), "200");
    assert!(t.fails(&["user", "unlock", "nobody"]).contains("nobody"));
    server.stop();
}
