//! Real `tessera serve` processes for tests that need several of them, or need to watch one
//! survive its database going away: each node is the release-shaped binary, started on a free
//! loopback port, with its output collected so a failure shows what the node said.

#![allow(dead_code)] // Each test binary uses its own part of this module.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};
use tessera_store::scratch::{test_server, ScratchDatabase, ScratchError, TestServer};

pub const BINARY: &str = env!("CARGO_BIN_EXE_tessera");
pub const ADMIN_PASSWORD: &str = "admin-password-for-node-tests";

/// A new database on the test PostgreSQL server (`TESSERA_TEST_POSTGRES_URL`, or the default
/// server), or `None` when there is none and none was required.
pub async fn postgres_database(prefix: &str) -> Option<ScratchDatabase> {
    static SKIPPING: Once = Once::new();
    let TestServer {
        url: server,
        required,
    } = test_server();
    match ScratchDatabase::create(&server, prefix).await {
        Ok(database) => Some(database),
        Err(ScratchError::Unreachable { .. }) if !required => {
            SKIPPING.call_once(|| {
                eprintln!(
                    "skipping multi-node tests: no PostgreSQL at {server}; \
                     set TESSERA_TEST_POSTGRES_URL to require them"
                )
            });
            None
        }
        Err(error) => panic!("these tests need their PostgreSQL server: {error}"),
    }
}

/// The `tessera` command with a cheap Argon2 cost and none of the caller's TESSERA_* variables.
pub fn tessera(database_url: &str, args: &[&str]) -> Command {
    let mut command = Command::new(BINARY);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("TESSERA_") {
            command.env_remove(name);
        }
    }
    command
        .args(args)
        .current_dir(std::env::temp_dir())
        .env("TESSERA_DATABASE_URL", database_url)
        .env("TESSERA_BOOTSTRAP_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("TESSERA_ARGON2_MEMORY_KIB", "64")
        .env("TESSERA_ARGON2_ITERATIONS", "1")
        .stdin(Stdio::null());
    command
}

/// One `tessera serve` process. It is killed when dropped.
pub struct Node {
    child: Child,
    output: Arc<Mutex<Vec<String>>>,
    pub base: String,
}

impl Node {
    /// Starts a node on the database with extra `serve` arguments; see [`Node::ready`].
    pub fn spawn(database_url: &str, extra: &[&str]) -> Node {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        // The level the "listening" line needs; a `--log-level` in `extra` overrides it.
        let mut child = tessera(database_url, &args)
            .env("TESSERA_LOG_LEVEL", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tessera serve starts");
        let output = Arc::new(Mutex::new(Vec::new()));
        collect(child.stdout.take().expect("stdout"), output.clone());
        collect(child.stderr.take().expect("stderr"), output.clone());
        Node {
            child,
            output,
            base: String::new(),
        }
    }

    /// Waits (at most 60 s) until the node says where it listens.
    pub fn ready(mut self) -> Node {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let url = self.lines().iter().find_map(|line| {
                let (_, rest) = line.split_once("tessera listening on ")?;
                Some(rest.split_whitespace().next()?.to_owned())
            });
            if let Some(url) = url {
                self.base = url;
                return self;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the node exited ({status}): {:#?}", self.lines());
            }
            assert!(
                Instant::now() < deadline,
                "the node did not start within 60 s: {:#?}",
                self.lines()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything the node wrote so far, stdout and stderr interleaved.
    pub fn lines(&self) -> Vec<String> {
        self.output.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn collect(pipe: impl Read + Send + 'static, into: Arc<Mutex<Vec<String>>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            into.lock().unwrap().push(line);
        }
    });
}

/// Polls `check` every 20 ms until it holds or `limit` has passed since `since`; answers how
/// long it took, or `None` if it never held.
pub async fn within<F, Fut>(since: Instant, limit: Duration, mut check: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    loop {
        if check().await {
            return Some(since.elapsed());
        }
        if since.elapsed() > limit {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A PostgreSQL cluster of the test's own, on a port of its own, that the test may stop and
/// start (the shared server stays up for everyone else). It is stopped and deleted when dropped.
pub struct Cluster {
    dir: tempfile::TempDir,
    bin: std::path::PathBuf,
    pub port: u16,
}

impl Cluster {
    /// Creates and starts a cluster, or `None` (with a notice) when PostgreSQL's server
    /// programs are not installed and `TESSERA_TEST_POSTGRES_URL` does not require them.
    pub fn start_new() -> Option<Cluster> {
        let Some(bin) = postgres_bin_dir() else {
            assert!(
                std::env::var_os("TESSERA_TEST_POSTGRES_URL").is_none(),
                "PostgreSQL's initdb is not under /usr/lib/postgresql/*/bin"
            );
            eprintln!("skipping: PostgreSQL's server programs are not installed");
            return None;
        };
        let dir = tempfile::tempdir().expect("a temporary directory");
        let port = free_port();
        let cluster = Cluster { dir, bin, port };
        // PostgreSQL refuses to run as root: run it as the `postgres` user then.
        if running_as_root() {
            let owned = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(cluster.dir.path())
                .status()
                .expect("chown runs");
            assert!(
                owned.success(),
                "cannot give the cluster's directory to postgres"
            );
        }
        let data = cluster.data_dir();
        cluster.run(
            "initdb",
            &["-D", &data, "-U", "postgres", "-A", "trust", "--no-sync"],
        );
        cluster.start();
        Some(cluster)
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the server and waits until it accepts connections.
    pub fn start(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log");
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data_dir(),
                "-l",
                &log.to_string_lossy(),
                "-o",
                &options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
    }

    /// Stops the server at once, as a crash or a pulled cable would: open connections break.
    pub fn stop(&self) {
        self.run(
            "pg_ctl",
            &["-D", &self.data_dir(), "-m", "immediate", "-w", "stop"],
        );
    }

    fn data_dir(&self) -> String {
        self.dir.path().join("data").to_string_lossy().into_owned()
    }

    fn run(&self, program: &str, args: &[&str]) {
        let output = self
            .command(program, args)
            .output()
            .expect("a PostgreSQL program runs");
        assert!(
            output.status.success(),
            "{program} {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// One of PostgreSQL's programs, run as `postgres` when we are root (PostgreSQL refuses
    /// to run as root).
    fn command(&self, program: &str, args: &[&str]) -> Command {
        let program = self.bin.join(program);
        let mut command = if running_as_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        };
        command.args(args).stdin(Stdio::null());
        command
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data_dir();
        let _ = self
            .command("pg_ctl", &["-D", &data, "-m", "immediate", "stop"])
            .output();
    }
}

/// The newest `/usr/lib/postgresql/<version>/bin` that holds `initdb`.
fn postgres_bin_dir() -> Option<std::path::PathBuf> {
    let mut found: Vec<(u32, std::path::PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| output.stdout.trim_ascii() == b"0")
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// Adds a user with the CLI, the password on stdin.
pub fn add_user(database_url: &str, name: &str, password: &str) {
    use std::io::Write as _;
    let mut child = tessera(database_url, &["user", "add", name, "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("tessera runs");
    writeln!(child.stdin.take().expect("stdin"), "{password}").expect("the password is written");
    assert!(
        child.wait().expect("tessera ends").success(),
        "user add {name}"
    );
}

/// One Zabbix JSON-RPC call (`auth` in the body, as Zabbix 6.0 takes it); answers the JSON.
pub async fn zabbix(
    http: &reqwest::Client,
    node: &Node,
    method: &str,
    params: serde_json::Value,
    auth: Option<&str>,
) -> serde_json::Value {
    let mut body =
        serde_json::json!({"jsonrpc": "2.0", "method": method, "params": params, "id": 1});
    if let Some(auth) = auth {
        body["auth"] = serde_json::json!(auth);
    }
    http.post(node.url("/api_jsonrpc.php"))
        .header("content-type", "application/json-rpc")
        .body(body.to_string())
        .send()
        .await
        .expect("an HTTP answer")
        .json()
        .await
        .expect("a JSON answer")
}

/// A password grant at `/oauth/token`; answers the access token, failing the test otherwise.
pub async fn access_token(
    http: &reqwest::Client,
    node: &Node,
    user: &str,
    password: &str,
) -> String {
    let response = http
        .post(node.url("/oauth/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", user),
            ("password", password),
        ])
        .send()
        .await
        .expect("an HTTP answer");
    assert_eq!(response.status(), 200, "the password grant for {user}");
    let body: serde_json::Value = response.json().await.expect("a JSON answer");
    body["access_token"]
        .as_str()
        .expect("an access token")
        .to_owned()
}
