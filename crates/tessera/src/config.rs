//! Configuration: where every setting comes from, and the checks that turn raw values into the
//! core's [`Settings`] and the server's [`ServerConfig`].
//!
//! A setting is taken from the first of these that has it: a command-line flag, a `TESSERA_*`
//! environment variable, the TOML file named by `--config`, the built-in default. Clap handles
//! flags, variables and defaults (so `--help` documents all three); the file is slotted in under
//! the variables by asking clap where each value came from. Every value is checked once, after
//! the layers are merged, and an error names the flag, variable or file that set it.
//!
//! The file's keys are flat, like the flags, with one exception: ExtraView's settings may also
//! be written as an `[extraview]` table (`extraview.xml = "legacy"`), the way ExtraView's own
//! design document spells them.

use anyhow::{anyhow, Context as _};
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, ValueEnum};
use ipnet::IpNet;
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tessera_core::{Argon2Settings, CoreError, Lifetime, LockoutPolicy, Scope, Settings};
use tessera_server::{ExtraViewConfig, ServerConfig, TlsFiles, ZabbixConfig};
use time::UtcOffset;
use tracing_subscriber::EnvFilter;

// Upper bounds keep a typo from turning into a panic or an allocation the machine cannot
// make: the runtime's timers overflow on absurd periods, and Argon2 allocates its memory cost
// up front, once when the authority starts and once per password.
const MAX_ARGON2_MEMORY_KIB: u32 = 4 * 1024 * 1024;
const MAX_ARGON2_ITERATIONS: u32 = 100;
const MAX_ARGON2_PARALLELISM: u32 = 64;
const MAX_PASSWORD_WORKERS: usize = 1024;
const MAX_PASSWORD_QUEUE: usize = 1_000_000;
const MAX_CACHE_CAPACITY: usize = 10_000_000;
const MAX_INTERVAL_SECONDS: u64 = 3600;
const MAX_LOCKOUT_THRESHOLD: u32 = 1_000_000;
const MAX_LOCK_SECONDS: u64 = 24 * 3600;
const MAX_RETENTION_DAYS: u64 = 100 * 365;
const MAX_BODY_LIMIT_BYTES: usize = 1 << 30;
// The offsets zones actually use (Baker Island to Line Islands); anything outside is a typo.
const MIN_OFFSET_MINUTES: i32 = -12 * 60;
const MAX_OFFSET_MINUTES: i32 = 14 * 60;

/// Options every command takes: where the configuration file and the database are.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// TOML file with settings (keys are the long flag names with underscores)
    #[arg(long, global = true, env = "TESSERA_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Database URL: sqlite://PATH, sqlite:PATH, a bare file path, or postgres://USER@HOST/DB
    #[arg(
        long,
        global = true,
        env = "TESSERA_DATABASE_URL",
        default_value = "sqlite://tessera.db",
        value_name = "URL"
    )]
    pub database: String,
}

/// Every setting but the database. `serve` takes them as flags; the admin commands read them
/// from the environment and the file only, since they hash passwords with the same Argon2 cost
/// and check scopes against the same list as the server.
#[derive(Debug, Clone, Args)]
pub struct SettingsArgs {
    /// Address and port the HTTP server listens on
    #[arg(long, env = "TESSERA_LISTEN", value_name = "ADDR", default_value_t = ServerConfig::default().listen, help_heading = "Server")]
    pub listen: SocketAddr,

    /// Issuer URL announced in the OAuth metadata [default: http://<listen address>]
    #[arg(
        long,
        env = "TESSERA_ISSUER",
        value_name = "URL",
        help_heading = "Server"
    )]
    pub issuer: Option<String>,

    /// Largest request body accepted, in bytes (at most 1 GiB)
    #[arg(long, env = "TESSERA_BODY_LIMIT_BYTES", value_name = "BYTES", default_value_t = ServerConfig::default().body_limit, help_heading = "Server")]
    pub body_limit_bytes: usize,

    /// Seconds a request may take before it is answered 408 (1 to 3600)
    #[arg(long, env = "TESSERA_REQUEST_TIMEOUT_SECONDS", value_name = "SECONDS", default_value_t = ServerConfig::default().request_timeout.as_secs(), help_heading = "Server")]
    pub request_timeout_seconds: u64,

    /// Seconds a new connection may stay silent, and a client may take to send a request's headers, before it is closed (1 to 3600)
    #[arg(long, env = "TESSERA_HEADER_TIMEOUT_SECONDS", value_name = "SECONDS", default_value_t = ServerConfig::default().header_timeout.as_secs(), help_heading = "Server")]
    pub header_timeout_seconds: u64,

    /// Seconds between writes of token last-access times (1 to 3600)
    #[arg(long, env = "TESSERA_LAST_ACCESS_FLUSH_SECONDS", value_name = "SECONDS", default_value_t = ServerConfig::default().last_access_flush.as_secs(), help_heading = "Server")]
    pub last_access_flush_seconds: u64,

    /// PEM certificate chain: serve HTTPS (with HSTS) instead of HTTP; needs --tls-key; read again on SIGHUP
    #[arg(
        long,
        env = "TESSERA_TLS_CERT",
        value_name = "PATH",
        help_heading = "Server"
    )]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert
    #[arg(
        long,
        env = "TESSERA_TLS_KEY",
        value_name = "PATH",
        help_heading = "Server"
    )]
    pub tls_key: Option<PathBuf>,

    /// Comma-separated proxy addresses or networks (127.0.0.1, 10.0.0.0/8) whose X-Forwarded-For names the client; from anyone else it is ignored
    #[arg(
        long,
        env = "TESSERA_TRUSTED_PROXIES",
        value_name = "ADDRESSES",
        default_value = "",
        help_heading = "Server"
    )]
    pub trusted_proxies: String,

    /// Lifetime of OAuth access tokens, in seconds (at most ten years)
    #[arg(long, env = "TESSERA_ACCESS_TOKEN_LIFETIME", value_name = "SECONDS", default_value_t = Settings::default().access_token_lifetime.as_secs(), help_heading = "Tokens")]
    pub access_token_lifetime: u64,

    /// Lifetime of OAuth refresh tokens, in seconds (at most ten years)
    #[arg(long, env = "TESSERA_REFRESH_TOKEN_LIFETIME", value_name = "SECONDS", default_value_t = Settings::default().refresh_token_lifetime.as_secs(), help_heading = "Tokens")]
    pub refresh_token_lifetime: u64,

    /// Lifetime of tokens from the OWIN-style /Token door, in seconds (at most ten years)
    #[arg(long, env = "TESSERA_OWIN_TOKEN_LIFETIME", value_name = "SECONDS", default_value_t = Settings::default().owin_token_lifetime.as_secs(), help_heading = "Tokens")]
    pub owin_token_lifetime: u64,

    /// Space-separated scopes tessera knows
    #[arg(long, env = "TESSERA_SCOPES", value_name = "SCOPES", default_value_t = Settings::default().scopes.join(" "), help_heading = "Tokens")]
    pub scopes: String,

    /// Scope a user's token gets when none is asked for
    #[arg(long, env = "TESSERA_DEFAULT_SCOPE", value_name = "SCOPES", default_value_t = Settings::default().default_scope, help_heading = "Tokens")]
    pub default_scope: String,

    /// Argon2id memory cost of a password hash, in KiB (8 per lane to 4194304)
    #[arg(long, env = "TESSERA_ARGON2_MEMORY_KIB", value_name = "KIB", default_value_t = Argon2Settings::default().memory_kib, help_heading = "Passwords")]
    pub argon2_memory_kib: u32,

    /// Argon2id iterations of a password hash (1 to 100)
    #[arg(long, env = "TESSERA_ARGON2_ITERATIONS", value_name = "N", default_value_t = Argon2Settings::default().iterations, help_heading = "Passwords")]
    pub argon2_iterations: u32,

    /// Argon2id lanes of a password hash (1 to 64)
    #[arg(long, env = "TESSERA_ARGON2_PARALLELISM", value_name = "N", default_value_t = Argon2Settings::default().parallelism, help_heading = "Passwords")]
    pub argon2_parallelism: u32,

    /// Password hashes that may run at once, 1 to 1024 [default: the number of CPUs]
    #[arg(long, env = "TESSERA_PASSWORD_WORKERS", value_name = "N", default_value_t = Settings::default().password_workers, hide_default_value = true, help_heading = "Passwords")]
    pub password_workers: usize,

    /// Sign-ins that may wait for a hashing thread before more are turned away (at most 1000000)
    #[arg(long, env = "TESSERA_PASSWORD_QUEUE", value_name = "N", default_value_t = Settings::default().password_queue, help_heading = "Passwords")]
    pub password_queue: usize,

    /// Verified tokens kept in the check cache (1 to 10000000)
    #[arg(long, env = "TESSERA_CACHE_CAPACITY", value_name = "N", default_value_t = Settings::default().cache_capacity, help_heading = "Cache")]
    pub cache_capacity: usize,

    /// Seconds a cached check is trusted; bounds how long a revoke made elsewhere takes to be seen (0 to 3600)
    #[arg(long, env = "TESSERA_CACHE_TTL_SECONDS", value_name = "SECONDS", default_value_t = Settings::default().cache_ttl.as_secs(), help_heading = "Cache")]
    pub cache_ttl_seconds: u64,

    /// Days audit events are kept before they are deleted; 0 keeps them for ever
    #[arg(long, env = "TESSERA_AUDIT_RETENTION_DAYS", value_name = "DAYS", default_value_t = Settings::default().audit_retention.map_or(0, |d| d.as_secs() / 86400), help_heading = "Audit")]
    pub audit_retention_days: u64,

    /// Failed sign-ins in a row that lock an account, through every door (0: never)
    #[arg(long, env = "TESSERA_LOCKOUT_THRESHOLD", value_name = "N", default_value_t = Settings::default().account_lockout.threshold, help_heading = "Brute force")]
    pub lockout_threshold: u32,

    /// Seconds the first lock lasts, for an account or a source address; each further failure doubles it (1 to 86400)
    #[arg(long, env = "TESSERA_LOCKOUT_SECONDS", value_name = "SECONDS", default_value_t = Settings::default().account_lockout.first_lock.as_secs(), help_heading = "Brute force")]
    pub lockout_seconds: u64,

    /// The longest a lock lasts, in seconds (at least --lockout-seconds, at most 86400)
    #[arg(long, env = "TESSERA_LOCKOUT_MAX_SECONDS", value_name = "SECONDS", default_value_t = Settings::default().account_lockout.longest_lock.as_secs(), help_heading = "Brute force")]
    pub lockout_max_seconds: u64,

    /// Failed sign-ins from one source address that lock it out, on this node (0: never)
    #[arg(long, env = "TESSERA_SOURCE_LOCKOUT_THRESHOLD", value_name = "N", default_value_t = Settings::default().source_lockout.threshold, help_heading = "Brute force")]
    pub source_lockout_threshold: u32,

    /// ExtraView's OAUTH2_TOKEN_LIFETIME_SECONDS: lifetime of get_token tokens, in seconds (at most ten years); `tessera setting set` overrides it while the server runs
    #[arg(long, env = "TESSERA_OAUTH2_TOKEN_LIFETIME_SECONDS", value_name = "SECONDS", default_value_t = Settings::default().extraview_token_lifetime.as_secs(), help_heading = "ExtraView")]
    pub oauth2_token_lifetime_seconds: u64,

    /// Shape of ExtraView's XML answers
    #[arg(long, env = "TESSERA_EXTRAVIEW_XML", value_name = "SHAPE", value_enum, default_value_t = ExtraViewXml::from(ExtraViewConfig::default().xml), help_heading = "ExtraView")]
    pub extraview_xml: ExtraViewXml,

    /// Zone of the expiration dates in ExtraView's answers: a fixed UTC offset (+HH:MM, -HH:MM, +HHMM, Z or UTC), with no daylight saving
    // Hyphen values are allowed so that `--extraview-time-zone -05:00` is not read as a flag.
    #[arg(long, env = "TESSERA_EXTRAVIEW_TIME_ZONE", value_name = "OFFSET", allow_hyphen_values = true, default_value_t = offset_text(ExtraViewConfig::default().time_zone), help_heading = "ExtraView")]
    pub extraview_time_zone: String,

    /// What Zabbix's apiinfo.version reports; Zabbix clients choose how to authenticate by it
    #[arg(long, env = "TESSERA_ZABBIX_VERSION", value_name = "VERSION", default_value_t = ZabbixConfig::default().version, help_heading = "Zabbix")]
    pub zabbix_version: String,

    /// Seconds a Zabbix user.login session may go unused before it ends (0: never; at most a day)
    #[arg(long, env = "TESSERA_ZABBIX_SESSION_IDLE_TIMEOUT", value_name = "SECONDS", default_value_t = ZabbixConfig::default().session_idle_timeout.map_or(0, |d| d.as_secs()), help_heading = "Zabbix")]
    pub zabbix_session_idle_timeout: u64,

    /// Log filter: a level (info, debug, ...) or tracing directives (tessera=debug,sqlx=warn)
    #[arg(
        long,
        env = "TESSERA_LOG_LEVEL",
        value_name = "FILTER",
        default_value = "info",
        help_heading = "Logging"
    )]
    pub log_level: String,

    /// Log line format
    #[arg(long, env = "TESSERA_LOG_FORMAT", value_name = "FORMAT", value_enum, default_value_t = LogFormat::Text, help_heading = "Logging")]
    pub log_format: LogFormat,
}

impl SettingsArgs {
    /// The settings as the environment and the defaults give them, for the commands that have
    /// no settings flags of their own. The matches are kept to tell defaults from variables.
    pub fn from_environment() -> anyhow::Result<(Self, ArgMatches)> {
        use clap::FromArgMatches as _;
        let command = Self::augment_args(clap::Command::new("tessera").no_binary_name(true));
        let matches = command
            .try_get_matches_from(std::iter::empty::<String>())
            .map_err(|e| {
                anyhow!(
                    "invalid TESSERA_* environment variable: {}",
                    clap_message(&e)
                )
            })?;
        let args = Self::from_arg_matches(&matches).map_err(|e| {
            anyhow!(
                "invalid TESSERA_* environment variable: {}",
                clap_message(&e)
            )
        })?;
        Ok((args, matches))
    }
}

/// Clap's rendered error without its `error: ` prefix and usage lines, to fit our one-line style.
fn clap_message(error: &clap::Error) -> String {
    let rendered = error.to_string();
    let first = rendered.lines().next().unwrap_or_default();
    first.strip_prefix("error: ").unwrap_or(first).to_owned()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines
    Text,
    /// One JSON object per line
    Json,
}

/// How the ExtraView door writes its XML answers (the server's [`tessera_server::ExtraViewXml`],
/// spelt for the command line and the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExtraViewXml {
    /// Well-formed XML (<expiration_date>), which XML parsers accept
    WellFormed,
    /// The documented bytes (<Expiration Date> … </lifetime>, not well formed), for clients that match the text
    Legacy,
}

impl From<tessera_server::ExtraViewXml> for ExtraViewXml {
    fn from(xml: tessera_server::ExtraViewXml) -> Self {
        match xml {
            tessera_server::ExtraViewXml::WellFormed => Self::WellFormed,
            tessera_server::ExtraViewXml::Legacy => Self::Legacy,
        }
    }
}

impl From<ExtraViewXml> for tessera_server::ExtraViewXml {
    fn from(xml: ExtraViewXml) -> Self {
        match xml {
            ExtraViewXml::WellFormed => Self::WellFormed,
            ExtraViewXml::Legacy => Self::Legacy,
        }
    }
}

/// The TOML file. Every key is optional; an unknown key is an error, since a misspelt setting
/// silently falling back to its default is worse than refusing to start.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    database: Option<String>,
    listen: Option<SocketAddr>,
    issuer: Option<String>,
    body_limit_bytes: Option<usize>,
    request_timeout_seconds: Option<u64>,
    header_timeout_seconds: Option<u64>,
    last_access_flush_seconds: Option<u64>,
    trusted_proxies: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    access_token_lifetime: Option<u64>,
    refresh_token_lifetime: Option<u64>,
    owin_token_lifetime: Option<u64>,
    scopes: Option<String>,
    default_scope: Option<String>,
    argon2_memory_kib: Option<u32>,
    argon2_iterations: Option<u32>,
    argon2_parallelism: Option<u32>,
    password_workers: Option<usize>,
    password_queue: Option<usize>,
    cache_capacity: Option<usize>,
    cache_ttl_seconds: Option<u64>,
    audit_retention_days: Option<u64>,
    lockout_threshold: Option<u32>,
    lockout_seconds: Option<u64>,
    lockout_max_seconds: Option<u64>,
    source_lockout_threshold: Option<u32>,
    oauth2_token_lifetime_seconds: Option<u64>,
    extraview_xml: Option<ExtraViewXml>,
    extraview_time_zone: Option<String>,
    extraview: Option<ExtraViewTable>,
    zabbix_version: Option<String>,
    zabbix_session_idle_timeout: Option<u64>,
    log_level: Option<String>,
    log_format: Option<LogFormat>,
    /// The flat keys whose value came from the `[extraview]` table, with the key as written
    /// there, so that an error names what the operator wrote.
    #[serde(skip)]
    from_table: Vec<(&'static str, &'static str)>,
}

/// The `[extraview]` table: the same three settings under ExtraView's own names.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExtraViewTable {
    xml: Option<ExtraViewXml>,
    time_zone: Option<String>,
    #[serde(rename = "OAUTH2_TOKEN_LIFETIME_SECONDS")]
    oauth2_token_lifetime_seconds: Option<u64>,
}

impl FileSettings {
    /// Moves the `[extraview]` table's values to the flat keys. A setting given both ways is
    /// refused rather than one of them silently winning.
    fn fold_extraview_table(&mut self) -> Result<(), String> {
        let Some(table) = self.extraview.take() else {
            return Ok(());
        };
        let from_table = &mut self.from_table;
        fold(
            &mut self.oauth2_token_lifetime_seconds,
            table.oauth2_token_lifetime_seconds,
            (
                "oauth2_token_lifetime_seconds",
                "extraview.OAUTH2_TOKEN_LIFETIME_SECONDS",
            ),
            from_table,
        )?;
        fold(
            &mut self.extraview_xml,
            table.xml,
            ("extraview_xml", "extraview.xml"),
            from_table,
        )?;
        fold(
            &mut self.extraview_time_zone,
            table.time_zone,
            ("extraview_time_zone", "extraview.time_zone"),
            from_table,
        )
    }
}

fn fold<T>(
    flat: &mut Option<T>,
    nested: Option<T>,
    (flat_key, nested_key): (&'static str, &'static str),
    from_table: &mut Vec<(&'static str, &'static str)>,
) -> Result<(), String> {
    let Some(value) = nested else {
        return Ok(());
    };
    if flat.is_some() {
        return Err(format!(
            "{flat_key} and {nested_key} are the same setting: give only one of them"
        ));
    }
    *flat = Some(value);
    from_table.push((flat_key, nested_key));
    Ok(())
}

/// Everything a command needs to know, checked. (Logging is set up before the command runs,
/// so its settings are handed out apart.)
#[derive(Debug)]
pub struct Config {
    pub database: String,
    pub server: ServerConfig,
    pub core: Settings,
}

#[derive(Debug)]
pub struct LogConfig {
    pub filter: EnvFilter,
    pub format: LogFormat,
}

/// Merges the layers and checks the result.
///
/// `global_matches` are the matches `GlobalArgs` were read from, `settings_matches` those of
/// `SettingsArgs`: clap's value sources say which values are mere defaults that the file may
/// replace.
pub fn load(
    global: &GlobalArgs,
    global_matches: &ArgMatches,
    settings: &SettingsArgs,
    settings_matches: &ArgMatches,
) -> anyhow::Result<(Config, LogConfig)> {
    let file = match &global.config {
        Some(path) => read_file(path)?,
        None => FileSettings::default(),
    };
    let global_layers = Layers {
        matches: global_matches,
        file: global.config.as_deref(),
        file_keys: &file.from_table,
    };
    let layers = Layers {
        matches: settings_matches,
        file: global.config.as_deref(),
        file_keys: &file.from_table,
    };

    let database = global_layers.pick("database", global.database.clone(), file.database);
    if database.value.trim().is_empty() {
        return Err(database.invalid("the database URL is empty"));
    }

    // The key named in errors and looked up in clap's matches is the field's own name, so the
    // two cannot drift apart.
    macro_rules! pick {
        ($key:ident) => {
            layers.pick(stringify!($key), settings.$key.clone(), file.$key)
        };
    }

    let listen = pick!(listen);
    let issuer = layers.pick_optional("issuer", settings.issuer.clone(), file.issuer);
    if let Some(url) = &issuer.value {
        check_issuer(url).map_err(|reason| issuer.invalid(reason))?;
    }
    let body_limit = pick!(body_limit_bytes);
    body_limit.check_range(1..=MAX_BODY_LIMIT_BYTES)?;
    let request_timeout = pick!(request_timeout_seconds);
    request_timeout.check_range(1..=MAX_INTERVAL_SECONDS)?;
    let header_timeout = pick!(header_timeout_seconds);
    header_timeout.check_range(1..=MAX_INTERVAL_SECONDS)?;
    let flush = pick!(last_access_flush_seconds);
    flush.check_range(1..=MAX_INTERVAL_SECONDS)?;
    let tls_cert = layers.pick_optional("tls_cert", settings.tls_cert.clone(), file.tls_cert);
    let tls_key = layers.pick_optional("tls_key", settings.tls_key.clone(), file.tls_key);
    let tls = match (&tls_cert.value, &tls_key.value) {
        (Some(cert), Some(key)) => Some(TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        }),
        (None, None) => None,
        (Some(_), None) => {
            return Err(tls_cert.invalid("--tls-key (TESSERA_TLS_KEY) is needed too"))
        }
        (None, Some(_)) => {
            return Err(tls_key.invalid("--tls-cert (TESSERA_TLS_CERT) is needed too"))
        }
    };
    let proxies = pick!(trusted_proxies);
    let trusted_proxies =
        parse_networks(&proxies.value).map_err(|reason| proxies.invalid(reason))?;

    let access = pick!(access_token_lifetime);
    let access_token_lifetime =
        Lifetime::from_secs(access.value).map_err(|e| access.invalid(reason(e)))?;
    let refresh = pick!(refresh_token_lifetime);
    let refresh_token_lifetime =
        Lifetime::from_secs(refresh.value).map_err(|e| refresh.invalid(reason(e)))?;
    let owin = pick!(owin_token_lifetime);
    let owin_token_lifetime =
        Lifetime::from_secs(owin.value).map_err(|e| owin.invalid(reason(e)))?;

    let scopes = pick!(scopes);
    let known = Scope::parse(&scopes.value).map_err(|e| scopes.invalid(reason(e)))?;
    if known.is_empty() {
        return Err(scopes.invalid("at least one scope is needed"));
    }
    let default_scope = pick!(default_scope);
    let default =
        Scope::parse(&default_scope.value).map_err(|e| default_scope.invalid(reason(e)))?;
    if default.is_empty() {
        return Err(default_scope.invalid("at least one scope is needed"));
    }
    if !default.is_subset(&known) {
        return Err(default_scope.invalid(format!(
            "{:?} is not within the scopes ({known})",
            default.to_string()
        )));
    }

    let memory = pick!(argon2_memory_kib);
    let iterations = pick!(argon2_iterations);
    iterations.check_range(1..=MAX_ARGON2_ITERATIONS)?;
    let parallelism = pick!(argon2_parallelism);
    parallelism.check_range(1..=MAX_ARGON2_PARALLELISM)?;
    // Argon2 needs at least 8 KiB per lane.
    memory.check_range(8 * parallelism.value..=MAX_ARGON2_MEMORY_KIB)?;

    let workers = pick!(password_workers);
    workers.check_range(1..=MAX_PASSWORD_WORKERS)?;
    let queue = pick!(password_queue);
    queue.check_range(0..=MAX_PASSWORD_QUEUE)?;
    let capacity = pick!(cache_capacity);
    capacity.check_range(1..=MAX_CACHE_CAPACITY)?;
    let ttl = pick!(cache_ttl_seconds);
    ttl.check_range(0..=MAX_INTERVAL_SECONDS)?;

    let retention = pick!(audit_retention_days);
    retention.check_range(0..=MAX_RETENTION_DAYS)?;
    let lockout_threshold = pick!(lockout_threshold);
    lockout_threshold.check_range(0..=MAX_LOCKOUT_THRESHOLD)?;
    let source_lockout_threshold = pick!(source_lockout_threshold);
    source_lockout_threshold.check_range(0..=MAX_LOCKOUT_THRESHOLD)?;
    let first_lock = pick!(lockout_seconds);
    first_lock.check_range(1..=MAX_LOCK_SECONDS)?;
    let longest_lock = pick!(lockout_max_seconds);
    longest_lock.check_range(first_lock.value..=MAX_LOCK_SECONDS)?;
    let lockout = |threshold: u32| LockoutPolicy {
        threshold,
        first_lock: Duration::from_secs(first_lock.value),
        longest_lock: Duration::from_secs(longest_lock.value),
    };

    let extraview_lifetime = pick!(oauth2_token_lifetime_seconds);
    let extraview_token_lifetime = Lifetime::from_secs(extraview_lifetime.value)
        .map_err(|e| extraview_lifetime.invalid(reason(e)))?;
    let extraview_xml = pick!(extraview_xml);
    let time_zone = pick!(extraview_time_zone);
    let extraview_time_zone =
        parse_utc_offset(&time_zone.value).map_err(|reason| time_zone.invalid(reason))?;

    let zabbix_version = pick!(zabbix_version);
    let version_ok = !zabbix_version.value.is_empty()
        && zabbix_version.value.len() <= 32
        && zabbix_version
            .value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    if !version_ok {
        return Err(zabbix_version.invalid("a version looks like 6.0.0"));
    }
    let idle = pick!(zabbix_session_idle_timeout);
    idle.check_range(0..=24 * 3600)?;

    let log_level = pick!(log_level);
    let filter = EnvFilter::try_new(&log_level.value).map_err(|e| log_level.invalid(e))?;
    let log_format = pick!(log_format);

    let config = Config {
        database: database.value,
        server: ServerConfig {
            listen: listen.value,
            issuer: issuer.value,
            body_limit: body_limit.value,
            request_timeout: Duration::from_secs(request_timeout.value),
            header_timeout: Duration::from_secs(header_timeout.value),
            last_access_flush: Duration::from_secs(flush.value),
            trusted_proxies,
            tls,
            extraview: ExtraViewConfig {
                xml: extraview_xml.value.into(),
                time_zone: extraview_time_zone,
            },
            zabbix: ZabbixConfig {
                version: zabbix_version.value,
                session_idle_timeout: (idle.value > 0).then(|| Duration::from_secs(idle.value)),
            },
        },
        core: Settings {
            access_token_lifetime,
            refresh_token_lifetime,
            owin_token_lifetime,
            extraview_token_lifetime,
            scopes: known.iter().map(str::to_owned).collect(),
            default_scope: default.to_string(),
            argon2: Argon2Settings {
                memory_kib: memory.value,
                iterations: iterations.value,
                parallelism: parallelism.value,
            },
            password_workers: workers.value,
            password_queue: queue.value,
            cache_capacity: capacity.value,
            cache_ttl: Duration::from_secs(ttl.value),
            audit_retention: (retention.value > 0)
                .then(|| Duration::from_secs(retention.value * 86400)),
            account_lockout: lockout(lockout_threshold.value),
            source_lockout: lockout(source_lockout_threshold.value),
        },
    };
    let log = LogConfig {
        filter,
        format: log_format.value,
    };
    Ok((config, log))
}

/// `127.0.0.1, 10.0.0.0/8, ::1`: addresses (a network of one) and networks; empty for none.
fn parse_networks(list: &str) -> Result<Vec<IpNet>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            item.parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    format!("{item:?} is neither an IP address nor a network like 10.0.0.0/8")
                })
        })
        .collect()
}

fn read_file(path: &Path) -> anyhow::Result<FileSettings> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the config file {}", path.display()))?;
    let mut file: FileSettings = toml::from_str(&text).map_err(|error| {
        // toml's own rendering spans several lines with a caret; one line naming the file, the
        // line and its text is enough to find the mistake.
        let at = error
            .span()
            .and_then(|span| {
                let line_number = text.get(..span.start)?.matches('\n').count() + 1;
                let line = text.lines().nth(line_number - 1)?.trim();
                Some(format!(", line {line_number} (`{line}`)"))
            })
            .unwrap_or_default();
        let message = error.message().trim_end();
        // The one secret setting is kept out of files on purpose; say so rather than only
        // "unknown field".
        let hint = if message.contains("`bootstrap_admin_password`") {
            " (the bootstrap admin password is read from TESSERA_BOOTSTRAP_ADMIN_PASSWORD only)"
        } else {
            ""
        };
        anyhow!(
            "invalid config file {}{at}: {message}{hint}",
            path.display()
        )
    })?;
    file.fold_extraview_table()
        .map_err(|reason| anyhow!("invalid config file {}: {reason}", path.display()))?;
    Ok(file)
}

/// Parses a fixed UTC offset: `+HH:MM`, `-HH:MM`, `+HHMM`, `Z` or `UTC`.
///
/// Named zones (`Europe/Paris`) are refused rather than guessed at: their offset changes with
/// daylight saving, and the ExtraView door writes every date with one offset.
fn parse_utc_offset(text: &str) -> Result<UtcOffset, String> {
    const FORMS: &str = "write a UTC offset as +HH:MM, -HH:MM, +HHMM, Z or UTC";
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("the time zone is empty: {FORMS}"));
    }
    if text.eq_ignore_ascii_case("Z") || text.eq_ignore_ascii_case("UTC") {
        return Ok(UtcOffset::UTC);
    }
    let not_an_offset = || {
        format!(
            "{text:?} is not a UTC offset: {FORMS} (a fixed offset: named zones and daylight \
             saving are not supported)"
        )
    };
    let (sign, digits) = match text.split_at_checked(1) {
        Some(("+", rest)) => (1, rest),
        Some(("-", rest)) => (-1, rest),
        _ => return Err(not_an_offset()),
    };
    let (hours, minutes) = match digits.split_once(':') {
        Some((hours, minutes)) => (hours, minutes),
        None => digits.split_at_checked(2).ok_or_else(not_an_offset)?,
    };
    let two_digits = |part: &str| {
        (part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit()))
            .then(|| part.parse::<i32>().ok())
            .flatten()
    };
    let (Some(hours), Some(minutes)) = (two_digits(hours), two_digits(minutes)) else {
        return Err(not_an_offset());
    };
    if minutes > 59 {
        return Err(format!("{text:?} has more than 59 minutes"));
    }
    let total = sign * (hours * 60 + minutes);
    if !(MIN_OFFSET_MINUTES..=MAX_OFFSET_MINUTES).contains(&total) {
        return Err(format!(
            "{text:?} is outside the offsets in use ({} to {})",
            offset_text(minutes_offset(MIN_OFFSET_MINUTES)),
            offset_text(minutes_offset(MAX_OFFSET_MINUTES))
        ));
    }
    Ok(minutes_offset(total))
}

/// An offset of whole minutes; the callers keep `minutes` within a day, where this cannot fail.
fn minutes_offset(minutes: i32) -> UtcOffset {
    UtcOffset::from_whole_seconds(minutes * 60).unwrap_or(UtcOffset::UTC)
}

/// An offset as `+HH:MM`, the form `--help` shows and [`parse_utc_offset`] reads back.
fn offset_text(offset: UtcOffset) -> String {
    let (hours, minutes, _) = offset.as_hms();
    let sign = if offset.is_negative() { '-' } else { '+' };
    format!(
        "{sign}{:02}:{:02}",
        hours.unsigned_abs(),
        minutes.unsigned_abs()
    )
}

/// An issuer is an http(s) URL without query or fragment (RFC 8414 §2).
fn check_issuer(url: &str) -> Result<(), &'static str> {
    let has_scheme = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .is_some_and(|rest| !rest.is_empty());
    if !has_scheme {
        return Err("the issuer must be an http:// or https:// URL");
    }
    if url.contains(['?', '#']) || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("the issuer must have no query, fragment or spaces");
    }
    Ok(())
}

/// Where one `ArgMatches` and the file say values come from.
struct Layers<'a> {
    matches: &'a ArgMatches,
    file: Option<&'a Path>,
    /// Flat keys whose file value was written under another name (`extraview.xml`).
    file_keys: &'a [(&'static str, &'static str)],
}

/// Where a value was set, to name it in an error.
#[derive(Debug, Clone)]
enum Source {
    Default,
    /// The file, and the key as written there.
    File(PathBuf, &'static str),
    Environment,
    Flag,
}

/// A setting's value with its name and origin.
struct Picked<T> {
    key: &'static str,
    value: T,
    source: Source,
}

impl Layers<'_> {
    /// The flag's or variable's value if clap saw one, else the file's, else clap's default.
    fn pick<T>(&self, key: &'static str, clap_value: T, file_value: Option<T>) -> Picked<T> {
        let (value, source) = match (self.matches.value_source(key), file_value, self.file) {
            (Some(ValueSource::CommandLine), _, _) => (clap_value, Source::Flag),
            (Some(ValueSource::EnvVariable), _, _) => (clap_value, Source::Environment),
            (_, Some(value), Some(path)) => {
                let written = self
                    .file_keys
                    .iter()
                    .find(|(flat, _)| *flat == key)
                    .map_or(key, |(_, written)| written);
                (value, Source::File(path.to_owned(), written))
            }
            _ => (clap_value, Source::Default),
        };
        Picked { key, value, source }
    }

    /// Like [`pick`](Self::pick), for settings without a default.
    fn pick_optional<T>(
        &self,
        key: &'static str,
        clap_value: Option<T>,
        file_value: Option<T>,
    ) -> Picked<Option<T>> {
        let from_file = file_value.map(Some);
        self.pick(key, clap_value, from_file)
    }
}

impl<T> Picked<T> {
    fn invalid(&self, reason: impl std::fmt::Display) -> anyhow::Error {
        let key = self.key;
        match &self.source {
            Source::Flag => anyhow!("invalid --{}: {reason}", key.replace('_', "-")),
            Source::Environment => anyhow!("invalid {}: {reason}", env_name(key)),
            Source::File(path, written) => {
                anyhow!(
                    "invalid {written} in the config file {}: {reason}",
                    path.display()
                )
            }
            Source::Default => anyhow!("invalid {key} (the built-in default): {reason}"),
        }
    }
}

impl<T: PartialOrd + std::fmt::Display + Copy> Picked<T> {
    fn check_range(&self, range: std::ops::RangeInclusive<T>) -> anyhow::Result<()> {
        if range.contains(&self.value) {
            return Ok(());
        }
        Err(self.invalid(format!(
            "{} is not between {} and {}",
            self.value,
            range.start(),
            range.end()
        )))
    }
}

/// The core's message without its "invalid input: " prefix, which the "invalid KEY" before it
/// already says.
pub fn reason(error: CoreError) -> String {
    match error {
        CoreError::InvalidInput(message) | CoreError::InvalidScope(message) => message,
        other => other.to_string(),
    }
}

fn env_name(key: &str) -> String {
    match key {
        "database" => "TESSERA_DATABASE_URL".to_owned(),
        other => format!("TESSERA_{}", other.to_ascii_uppercase()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::FromArgMatches as _;

    /// Loads the configuration from command-line arguments and, if given, a config file.
    /// (Environment variables are left to the CLI tests, which set them per child process.)
    fn load_from(args: &[&str], file: Option<&str>) -> anyhow::Result<Config> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("tessera.toml");
        let mut argv: Vec<String> = std::iter::once("tessera")
            .chain(args.iter().copied())
            .map(str::to_owned)
            .collect();
        if let Some(text) = file {
            std::fs::write(&path, text)?;
            argv.extend(["--config".to_owned(), path.display().to_string()]);
        }
        let command =
            SettingsArgs::augment_args(GlobalArgs::augment_args(clap::Command::new("tessera")));
        let matches = command.try_get_matches_from(argv)?;
        let global = GlobalArgs::from_arg_matches(&matches)?;
        let settings = SettingsArgs::from_arg_matches(&matches)?;
        Ok(load(&global, &matches, &settings, &matches)?.0)
    }

    #[test]
    fn a_flag_beats_the_file_and_the_file_beats_the_default() {
        let file = "listen = \"127.0.0.1:9000\"\nscopes = \"read write admin\"\n";
        let config = load_from(&["--listen", "127.0.0.1:9001"], Some(file)).unwrap();
        assert_eq!(config.server.listen.port(), 9001);
        assert_eq!(config.core.scopes, ["admin", "read", "write"]);
        assert_eq!(config.core.access_token_lifetime.as_secs(), 3600);

        let config = load_from(&[], Some(file)).unwrap();
        assert_eq!(config.server.listen.port(), 9000);
    }

    #[test]
    fn an_error_names_where_the_bad_value_came_from() {
        let error = load_from(&["--cache-ttl-seconds", "86400"], None).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("invalid --cache-ttl-seconds:"),
            "{error}"
        );
        let error = load_from(&[], Some("refresh_token_lifetime = 0\n")).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("invalid refresh_token_lifetime in the config file"),
            "{error}"
        );
        let error = load_from(&[], Some("scopes = \"read\"\n")).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("invalid default_scope (the built-in default)"),
            "{error}"
        );
    }

    #[test]
    fn extraview_settings_default_to_well_formed_xml_in_utc_for_an_hour() {
        let config = load_from(&[], None).unwrap();
        assert_eq!(
            config.server.extraview.xml,
            tessera_server::ExtraViewXml::WellFormed
        );
        assert_eq!(config.server.extraview.time_zone, UtcOffset::UTC);
        assert_eq!(config.core.extraview_token_lifetime.as_secs(), 3600);
    }

    #[test]
    fn extraview_settings_come_from_flags_and_flat_file_keys() {
        let args = [
            "--extraview-xml",
            "legacy",
            "--extraview-time-zone",
            "-05:30",
            "--oauth2-token-lifetime-seconds",
            "600",
        ];
        let config = load_from(&args, None).unwrap();
        assert_eq!(
            config.server.extraview.xml,
            tessera_server::ExtraViewXml::Legacy
        );
        assert_eq!(
            config.server.extraview.time_zone,
            UtcOffset::from_hms(-5, -30, 0).unwrap()
        );
        assert_eq!(config.core.extraview_token_lifetime.as_secs(), 600);

        let file = "extraview_xml = \"legacy\"\nextraview_time_zone = \"+0200\"\n\
                    oauth2_token_lifetime_seconds = 120\n";
        let config = load_from(&[], Some(file)).unwrap();
        assert_eq!(
            config.server.extraview.xml,
            tessera_server::ExtraViewXml::Legacy
        );
        assert_eq!(
            config.server.extraview.time_zone,
            UtcOffset::from_hms(2, 0, 0).unwrap()
        );
        assert_eq!(config.core.extraview_token_lifetime.as_secs(), 120);
    }

    #[test]
    fn the_extraview_table_in_the_file_sets_the_same_settings() {
        let config = load_from(&[], Some("extraview.xml = \"legacy\"\n")).unwrap();
        assert_eq!(
            config.server.extraview.xml,
            tessera_server::ExtraViewXml::Legacy
        );

        let file = "[extraview]\nxml = \"well-formed\"\ntime_zone = \"Z\"\n\
                    OAUTH2_TOKEN_LIFETIME_SECONDS = 900\n";
        let config = load_from(&[], Some(file)).unwrap();
        assert_eq!(
            config.server.extraview.xml,
            tessera_server::ExtraViewXml::WellFormed
        );
        assert_eq!(config.server.extraview.time_zone, UtcOffset::UTC);
        assert_eq!(config.core.extraview_token_lifetime.as_secs(), 900);

        // A flag still beats the file, whichever way the file spells the key.
        let config = load_from(&["--oauth2-token-lifetime-seconds", "60"], Some(file)).unwrap();
        assert_eq!(config.core.extraview_token_lifetime.as_secs(), 60);
    }

    #[test]
    fn an_extraview_setting_given_both_flat_and_in_the_table_is_refused() {
        let file = "extraview_xml = \"legacy\"\n[extraview]\nxml = \"legacy\"\n";
        let error = load_from(&[], Some(file)).unwrap_err().to_string();
        assert!(error.contains("extraview_xml"), "{error}");
        assert!(error.contains("extraview.xml"), "{error}");
        assert!(error.contains("tessera.toml"), "{error}");

        let file = "oauth2_token_lifetime_seconds = 60\n\
                    extraview.OAUTH2_TOKEN_LIFETIME_SECONDS = 60\n";
        let error = load_from(&[], Some(file)).unwrap_err().to_string();
        assert!(
            error.contains("oauth2_token_lifetime_seconds")
                && error.contains("extraview.OAUTH2_TOKEN_LIFETIME_SECONDS"),
            "{error}"
        );

        let error = load_from(&[], Some("[extraview]\nzone = \"Z\"\n")).unwrap_err();
        assert!(error.to_string().contains("zone"), "{error}");
    }

    #[test]
    fn a_bad_extraview_value_is_named_as_it_was_written() {
        let error = load_from(&["--extraview-time-zone", "Europe/Paris"], None).unwrap_err();
        let error = error.to_string();
        assert!(
            error.starts_with("invalid --extraview-time-zone:"),
            "{error}"
        );
        assert!(error.contains("daylight saving"), "{error}");

        let file = "[extraview]\ntime_zone = \"+25:00\"\n";
        let error = load_from(&[], Some(file)).unwrap_err().to_string();
        assert!(
            error.starts_with("invalid extraview.time_zone in the config file"),
            "{error}"
        );

        let file = "extraview_time_zone = \"+2\"\n";
        let error = load_from(&[], Some(file)).unwrap_err().to_string();
        assert!(
            error.starts_with("invalid extraview_time_zone in the config file"),
            "{error}"
        );

        let error = load_from(&["--oauth2-token-lifetime-seconds", "0"], None).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("invalid --oauth2-token-lifetime-seconds:"),
            "{error}"
        );

        let error = load_from(&[], Some("extraview.xml = \"strict\"\n")).unwrap_err();
        assert!(error.to_string().contains("strict"), "{error}");
    }

    #[test]
    fn utc_offsets_are_read_in_the_usual_fixed_forms() {
        let offset = |h, m| UtcOffset::from_hms(h, m, 0).unwrap();
        for (text, expected) in [
            ("+00:00", UtcOffset::UTC),
            ("-00:00", UtcOffset::UTC),
            ("Z", UtcOffset::UTC),
            ("z", UtcOffset::UTC),
            ("UTC", UtcOffset::UTC),
            ("+02:00", offset(2, 0)),
            ("+0530", offset(5, 30)),
            ("-03:30", offset(-3, -30)),
            ("-1200", offset(-12, 0)),
            ("+14:00", offset(14, 0)),
        ] {
            assert_eq!(parse_utc_offset(text), Ok(expected), "{text}");
            assert_eq!(parse_utc_offset(&offset_text(expected)), Ok(expected));
        }
        for bad in [
            "",
            "02:00",
            "+2",
            "+2:00",
            "+02:0",
            "+02:60",
            "+15:00",
            "-13:00",
            "+02:00:00",
            "+0a:00",
            "GMT+2",
            "CET",
            "Europe/Paris",
            "+é",
        ] {
            assert!(parse_utc_offset(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(offset_text(offset(-3, -30)), "-03:30");
    }

    #[test]
    fn issuers_are_http_urls_without_query_or_fragment() {
        assert!(check_issuer("https://auth.example.com").is_ok());
        assert!(check_issuer("http://127.0.0.1:8080/tessera").is_ok());
        for bad in [
            "auth.example.com",
            "https://",
            "ftp://x",
            "https://x/?a=b",
            "https://x/#f",
            "https://a b",
        ] {
            assert!(check_issuer(bad).is_err(), "{bad} was accepted");
        }
    }
}
