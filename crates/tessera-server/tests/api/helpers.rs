//! `spawn_app()`: the real server on a free port, with its own database and a manual clock.
//!
//! The database is an SQLite file in the app's temporary directory, or, with
//! `TESSERA_TEST_STORE=postgres`, a PostgreSQL database created for the app on the server
//! `TESSERA_TEST_POSTGRES_URL` names (default `postgres://postgres@127.0.0.1:5432`) and dropped
//! with it.

use reqwest::{Client as Http, Response};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;
use tessera_core::{
    Argon2Settings, Authority, ClientId, Door, GrantType, ManualClock, NewClient, Origin, Password,
    Role, Scope, Settings, Store, User, Username,
};
use tessera_server::{bind, ServerConfig};
use tessera_store::scratch::{test_server, ScratchDatabase};
use time::OffsetDateTime;
use tokio::sync::oneshot;

pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";

pub struct TestApp {
    pub address: String,
    pub http: Http,
    pub authority: Authority,
    pub clock: Arc<ManualClock>,
    pub dir: TempDir,
    /// The app's PostgreSQL database when the tests run on PostgreSQL; a field after the
    /// others so that it is dropped once the server has been told to stop.
    pub postgres: Option<ScratchDatabase>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.shutdown.take() {
            let _ = stop.send(());
        }
    }
}

pub fn cheap_settings() -> Settings {
    Settings {
        argon2: Argon2Settings {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        ..Settings::default()
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(cheap_settings()).await
}

pub async fn spawn_app_with(settings: Settings) -> TestApp {
    spawn_app_configured(settings, ServerConfig::default()).await
}

/// The server with these core settings and server settings (its address is always port 0).
pub async fn spawn_app_configured(settings: Settings, server: ServerConfig) -> TestApp {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (store, postgres) = open_store(dir.path()).await;
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let authority = Authority::new(store, clock.clone(), settings).expect("valid settings");
    authority
        .bootstrap(Some(Password::new(ADMIN_PASSWORD).unwrap()))
        .await
        .expect("bootstrap");
    let config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        request_timeout: Duration::from_secs(5),
        ..server
    };
    let server = bind(config, authority.clone()).await.expect("bind");
    let address = format!("http://{}", server.local_addr());
    let (stop, stopped) = oneshot::channel();
    tokio::spawn(server.serve_until(async {
        let _ = stopped.await;
    }));
    TestApp {
        address,
        http: Http::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
        authority,
        clock,
        dir,
        postgres,
        shutdown: Some(stop),
    }
}

/// A new store for one app: an SQLite file in `dir`, or a new PostgreSQL database.
async fn open_store(dir: &Path) -> (Arc<dyn Store>, Option<ScratchDatabase>) {
    match std::env::var("TESSERA_TEST_STORE").as_deref() {
        Err(_) | Ok("") | Ok("sqlite") => {
            let database = dir.join("tessera.db");
            let store = tessera_store::connect(database.to_str().expect("a UTF-8 path"))
                .await
                .expect("the store opens");
            (store, None)
        }
        Ok("postgres") => {
            let database = ScratchDatabase::create(&test_server().url, "tessera_api_test")
                .await
                .unwrap_or_else(|e| panic!("TESSERA_TEST_STORE=postgres needs a server: {e}"));
            let store = tessera_store::connect(database.url())
                .await
                .expect("the store opens");
            (store, Some(database))
        }
        Ok(other) => panic!("TESSERA_TEST_STORE={other:?}: use sqlite or postgres"),
    }
}

impl TestApp {
    /// Everything the app's database holds as a reader of its storage would see it: the
    /// SQLite files (database and journals), or every text and bytea value in PostgreSQL.
    pub async fn database_bytes(&self) -> Vec<u8> {
        if let Some(database) = &self.postgres {
            return database
                .stored_bytes()
                .await
                .expect("the database is readable");
        }
        let mut bytes = Vec::new();
        for entry in std::fs::read_dir(self.dir.path()).unwrap() {
            bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
        }
        bytes
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.http
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    pub async fn password_grant(&self, username: &str, password: &str) -> Response {
        self.post_form(
            "/oauth/token",
            &[
                ("grant_type", "password"),
                ("username", username),
                ("password", password),
            ],
        )
        .await
    }

    /// A client_credentials grant, the client authenticated with HTTP Basic.
    pub async fn client_credentials(&self, client_id: &str, secret: &str) -> Response {
        self.http
            .post(self.url("/oauth/token"))
            .basic_auth(client_id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
    }

    /// Signs in and returns the token response's JSON.
    pub async fn sign_in(&self, username: &str, password: &str) -> serde_json::Value {
        let response = self.password_grant(username, password).await;
        assert_eq!(response.status(), 200, "sign-in of {username} failed");
        response.json().await.unwrap()
    }

    pub async fn admin_tokens(&self) -> (String, String) {
        let body = self.sign_in("Admin", ADMIN_PASSWORD).await;
        (
            body["access_token"].as_str().unwrap().to_owned(),
            body["refresh_token"].as_str().unwrap().to_owned(),
        )
    }

    pub async fn create_user(&self, name: &str, password: &str, role: Role) -> User {
        self.authority
            .create_user(
                Username::parse(name).unwrap(),
                name.to_owned(),
                role,
                Vec::new(),
                &Password::new(password).unwrap(),
                &Origin::new(Door::Cli),
            )
            .await
            .unwrap()
    }

    /// Registers a client and returns its secret.
    pub async fn create_client(&self, id: &str, grants: &[GrantType]) -> String {
        let (_, secret) = self
            .authority
            .register_client(
                NewClient {
                    id: ClientId::parse(id).unwrap(),
                    name: id.to_owned(),
                    grants: grants.to_vec(),
                    scope: Scope::parse("read write").unwrap(),
                },
                &Origin::new(Door::Cli),
            )
            .await
            .unwrap();
        secret.expose().to_owned()
    }

    pub async fn whoami(&self, token: &str) -> Response {
        self.http
            .get(self.url("/api/v1/whoami"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn introspect(&self, client: (&str, &str), token: &str) -> serde_json::Value {
        let response = self
            .http
            .post(self.url("/oauth/introspect"))
            .basic_auth(client.0, Some(client.1))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }
}

pub const ALL_GRANTS: [GrantType; 3] = GrantType::ALL;
