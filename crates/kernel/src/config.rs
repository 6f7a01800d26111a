//! Typed configuration, layered: built-in defaults → `backline.toml` → `BACKLINE_*` environment.
//!
//! Nested keys use a double underscore in the environment (`BACKLINE_SERVER__BIND`). The
//! conventional `DATABASE_URL` and `SMTP_URL` variables are honoured too. Secrets are wrapped
//! in [`SecretString`] so neither `Debug` nor a log line can print them. [`Config::validate`]
//! fails start-up with a message naming the offending key.
//!
//! The kernel owns the infrastructure's sections (server, database, jobs, mail, …). A bounded
//! context owns its own — identity `auth`, payments `payments` — as a [`Section`]: its type,
//! defaults and checks live in the context, which reads it with [`Config::section`] when it is
//! built. The binary names every section it composes ([`Config::load`]'s `sections`), so a
//! misspelt top-level key still fails start-up, and `config check` prints them all.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::{Figment, Provider};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// The infrastructure's configuration of one Backline process, and the sources the
/// contexts read their sections from.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    /// Directory for the SQLite file, local mail sink, generated keys and files.
    pub data_dir: PathBuf,
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub rate_limit: RateLimitConfig,
    pub jobs: JobsConfig,
    pub mail: MailConfig,
    pub cache: CacheConfig,
    pub storage: StorageConfig,
    pub log: LogConfig,
    /// The layered sources, for [`Config::section`].
    #[serde(skip)]
    sources: Sources,
}

/// The keys the kernel itself reads.
const KERNEL_KEYS: [&str; 9] = ["data_dir", "server", "database", "rate_limit", "jobs", "mail", "cache", "storage", "log"];

/// A bounded context's part of the configuration: one top-level key, owned by the context.
pub trait Section: serde::de::DeserializeOwned + std::fmt::Debug + Sized {
    /// The top-level key (`payments` for `[payments]` in `backline.toml`, `BACKLINE_PAYMENTS__…`).
    const KEY: &'static str;

    /// The built-in values, under which files and the environment are layered.
    fn defaults() -> serde_json::Value;

    /// Checks values that parse but make no sense; errors name the key.
    fn validate(&self) -> Result<(), ConfigError> {
        Ok(())
    }
}

#[derive(Clone, Default)]
struct Sources(Option<Figment>);

// The sources hold secrets; the sections print themselves (redacted) when extracted.
impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sources")
    }
}

/// Where generated files (ticket PDFs, exports) are kept; see [`crate::storage`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// Unset: `data_dir/files`. `file://<dir>`: another local directory (`file://data/files`
    /// is relative to the working directory, `file:///srv/files` absolute). Env `STORAGE_URL`.
    pub url: Option<String>,
    /// Key for signing download links (at least 32 bytes). Unset: generated once and kept in
    /// `data_dir/storage.key`; nodes that share the files must share this secret.
    pub url_secret: Option<SecretString>,
}

/// In-process read caches (published event details).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    /// Upper bound on how stale a cached entry can be when another node changed it; changes
    /// made through this node invalidate at once. 0 disables caching.
    pub ttl_secs: u64,
    pub max_entries: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub bind: SocketAddr,
    /// Public base URL used in links sent by email (invitations, password resets).
    pub public_url: String,
    /// Largest accepted request body in bytes.
    pub body_limit_bytes: usize,
    /// Set when a TLS-terminating proxy sits in front: enables HSTS.
    pub behind_tls: bool,
    /// Trust the left-most `X-Forwarded-For` address as the client IP.
    pub trust_forwarded_for: bool,
    /// Origins allowed by CORS; empty means no cross-origin access.
    pub cors_origins: Vec<String>,
    pub request_timeout_secs: u64,
    /// Seconds to let in-flight requests finish after SIGTERM/Ctrl-C.
    pub shutdown_grace_secs: u64,
    /// Answer every request with `x-db-queries: <n>`, the database statements it ran (for
    /// tests and profiling: pages must make a small, fixed number of them).
    pub count_queries: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://path` or `postgres://…`.
    pub url: SecretString,
    pub max_connections: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    pub per_user_per_min: u32,
    pub per_ip_per_min: u32,
    pub login_per_account_per_min: u32,
    pub login_per_ip_per_min: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsConfig {
    /// Run the outbox dispatcher and job workers in this process.
    pub enabled: bool,
    pub workers: usize,
    pub poll_interval_ms: u64,
    pub max_attempts: i64,
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailConfig {
    /// `smtp://host:port` (add `?tls=required` for STARTTLS), `smtps://host:port` (TLS), or unset for the dev sink.
    pub smtp_url: Option<SecretString>,
    pub from: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub format: LogFormat,
    /// `tracing` filter directive, e.g. `info,sqlx=warn`.
    pub level: String,
}

/// The defaults, as a serializable tree so figment can layer files and env on top.
fn defaults() -> serde_json::Value {
    serde_json::json!({
        "data_dir": "data",
        "server": {
            "bind": "127.0.0.1:8080",
            "public_url": "http://127.0.0.1:8080",
            "body_limit_bytes": 1_048_576,
            "behind_tls": false,
            "trust_forwarded_for": false,
            "cors_origins": [],
            "request_timeout_secs": 30,
            "count_queries": false,
            "shutdown_grace_secs": 20,
        },
        "database": { "url": "sqlite://data/backline.db", "max_connections": 16 },
        "rate_limit": {
            "per_user_per_min": 1000,
            "per_ip_per_min": 300,
            "login_per_account_per_min": 5,
            "login_per_ip_per_min": 30,
        },
        "jobs": {
            "enabled": true,
            "workers": 16,
            "poll_interval_ms": 500,
            "max_attempts": 8,
            "backoff_base_ms": 2000,
            "backoff_max_ms": 3_600_000,
        },
        "mail": { "smtp_url": null, "from": "Backline <no-reply@backline.local>" },
        "cache": { "ttl_secs": 5, "max_entries": 10_000 },
        "storage": { "url": null, "url_secret": null },
        "log": { "format": "json", "level": "info,sqlx=warn" },
    })
}

fn load_error(e: figment::Error) -> ConfigError {
    ConfigError::Load(e.into_iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))
}

/// Why configuration could not be loaded; the message names the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(String),
    #[error("configuration key `{key}`: {message}")]
    Invalid { key: &'static str, message: String },
}

impl Config {
    /// Loads defaults, then `file` (if it exists), then the environment. `sections` are the
    /// top-level keys the contexts own; any other key the kernel does not read is an error.
    pub fn load(file: Option<&Path>, sections: &[&str]) -> Result<Config, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(defaults()));
        let file = file.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("backline.toml"));
        if file.exists() {
            fig = fig.merge(Toml::file(&file));
        }
        fig = fig
            // BACKLINE_ADMIN_PASSWORD belongs to `backline admin create-user`, not to the config.
            .merge(Env::prefixed("BACKLINE_").ignore(&["admin_password"]).split("__"))
            .merge(Env::raw().only(&["DATABASE_URL"]).map(|_| "database.url".into()))
            .merge(Env::raw().only(&["SMTP_URL"]).map(|_| "mail.smtp_url".into()))
            .merge(Env::raw().only(&["STORAGE_URL"]).map(|_| "storage.url".into()));
        let config = Self::from_figment(fig)?;
        config.refuse_unknown_keys(sections)?;
        Ok(config)
    }

    /// Defaults with explicit overrides on top (used by tests and `demo`).
    pub fn from_overrides(overrides: serde_json::Value) -> Result<Config, ConfigError> {
        let fig = Figment::from(Serialized::defaults(defaults())).merge(Serialized::globals(overrides));
        Self::from_figment(fig)
    }

    fn from_figment(fig: Figment) -> Result<Config, ConfigError> {
        let mut config: Config = fig.extract().map_err(load_error)?;
        config.validate()?;
        config.sources = Sources(Some(fig));
        Ok(config)
    }

    /// A context's section: its defaults under whatever the file and environment set, then
    /// its checks.
    pub fn section<S: Section>(&self) -> Result<S, ConfigError> {
        let fig = self.sources.0.clone().unwrap_or_default().join(Serialized::default(S::KEY, S::defaults()));
        let section: S = fig.extract_inner(S::KEY).map_err(load_error)?;
        section.validate()?;
        Ok(section)
    }

    fn refuse_unknown_keys(&self, sections: &[&str]) -> Result<(), ConfigError> {
        let Some(fig) = &self.sources.0 else { return Ok(()) };
        let data = fig.data().map_err(load_error)?;
        for dict in data.values() {
            if let Some(key) = dict.keys().find(|k| !KERNEL_KEYS.contains(&k.as_str()) && !sections.contains(&k.as_str())) {
                return Err(ConfigError::Load(format!("unknown configuration key `{key}`")));
            }
        }
        Ok(())
    }

    /// Checks values that parse but make no sense.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| ConfigError::Invalid { key, message: message.to_string() };
        let url = self.database.url.expose_secret();
        match url.split_once(':').map(|(s, _)| s) {
            Some("sqlite" | "postgres" | "postgresql") => {}
            _ => {
                return Err(invalid("database.url", "unknown scheme: expected sqlite://… or postgres://…"));
            }
        }
        if let Some(smtp) = &self.mail.smtp_url {
            match url::Url::parse(smtp.expose_secret()) {
                Ok(u) if matches!(u.scheme(), "smtp" | "smtps") => {}
                _ => return Err(invalid("mail.smtp_url", "expected smtp://host:port or smtps://host:port")),
            }
        }
        if let Some(storage) = &self.storage.url {
            crate::storage::Location::parse(storage).map_err(|message| invalid("storage.url", &message))?;
        }
        if self.storage.url_secret.as_ref().is_some_and(|s| s.expose_secret().len() < 32) {
            return Err(invalid("storage.url_secret", "must be at least 32 bytes"));
        }
        if url::Url::parse(&self.server.public_url).is_err() {
            return Err(invalid("server.public_url", "not an absolute URL"));
        }
        for origin in &self.server.cors_origins {
            if http::HeaderValue::from_str(origin).is_err() || !origin.starts_with("http") {
                return Err(invalid("server.cors_origins", "each origin must look like https://host[:port]"));
            }
        }
        if self.server.body_limit_bytes < 1024 {
            return Err(invalid("server.body_limit_bytes", "must be at least 1024"));
        }
        if self.database.max_connections == 0 {
            return Err(invalid("database.max_connections", "must be at least 1"));
        }
        let limits = &self.rate_limit;
        if [limits.per_user_per_min, limits.per_ip_per_min, limits.login_per_account_per_min, limits.login_per_ip_per_min]
            .contains(&0)
        {
            return Err(invalid("rate_limit", "limits must be at least 1 per minute"));
        }
        if self.jobs.workers == 0 || self.jobs.max_attempts < 1 {
            return Err(invalid("jobs", "workers and max_attempts must be at least 1"));
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return Err(invalid("log.level", "not a valid tracing filter"));
        }
        Ok(())
    }

    /// The database backend named by the URL scheme, for logs (never the URL itself).
    pub fn database_kind(&self) -> &'static str {
        if self.database.url.expose_secret().starts_with("sqlite") { "sqlite" } else { "postgres" }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let c = Config::from_overrides(serde_json::json!({})).unwrap();
        assert_eq!(c.server.bind.port(), 8080);
        assert_eq!(c.database_kind(), "sqlite");
    }

    #[test]
    fn unknown_scheme_names_the_key() {
        let err = Config::from_overrides(serde_json::json!({"database": {"url": "mysql://x"}})).unwrap_err();
        assert!(err.to_string().contains("database.url"), "{err}");
    }

    #[test]
    fn bad_value_names_the_key() {
        let err = Config::from_overrides(serde_json::json!({"server": {"bind": "nope"}})).unwrap_err();
        assert!(err.to_string().contains("bind"), "{err}");
    }

    #[test]
    fn storage_url_scheme_is_checked() {
        let ok = Config::from_overrides(serde_json::json!({"storage": {"url": "file:///srv/backline/files"}})).unwrap();
        assert_eq!(ok.storage.url.as_deref(), Some("file:///srv/backline/files"));
        for bad in ["s3://bucket", "ftp://x", "/srv/files", "file://"] {
            let err = Config::from_overrides(serde_json::json!({"storage": {"url": bad}})).unwrap_err();
            assert!(err.to_string().contains("storage.url"), "{bad}: {err}");
        }
        let err = Config::from_overrides(serde_json::json!({"storage": {"url_secret": "short"}})).unwrap_err();
        assert!(err.to_string().contains("storage.url_secret"), "{err}");
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Sample {
        limit: u32,
        secret: Option<SecretString>,
    }

    impl Section for Sample {
        const KEY: &'static str = "sample";
        fn defaults() -> serde_json::Value {
            serde_json::json!({ "limit": 5, "secret": null })
        }
        fn validate(&self) -> Result<(), ConfigError> {
            if self.limit == 0 {
                return Err(ConfigError::Invalid { key: "sample.limit", message: "must be at least 1".into() });
            }
            Ok(())
        }
    }

    #[test]
    fn sections_layer_over_their_own_defaults() {
        let c = Config::from_overrides(serde_json::json!({})).unwrap();
        assert_eq!(c.section::<Sample>().unwrap().limit, 5);
        let c = Config::from_overrides(serde_json::json!({ "sample": { "limit": 7 } })).unwrap();
        assert_eq!(c.section::<Sample>().unwrap().limit, 7);
        let err =
            Config::from_overrides(serde_json::json!({ "sample": { "limit": 0 } })).unwrap().section::<Sample>().unwrap_err();
        assert!(err.to_string().contains("sample.limit"), "{err}");
        let err =
            Config::from_overrides(serde_json::json!({ "sample": { "limt": 1 } })).unwrap().section::<Sample>().unwrap_err();
        assert!(err.to_string().contains("limt"), "{err}");
        let c = Config::from_overrides(serde_json::json!({ "sample": { "secret": "hunter2" } })).unwrap();
        let sample = c.section::<Sample>().unwrap();
        assert!(sample.secret.is_some() && !format!("{sample:?} {c:?}").contains("hunter2"));
    }

    #[test]
    fn unknown_top_level_keys_fail_unless_a_context_owns_them() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("backline.toml");
        std::fs::write(&file, "[sample]\nlimit = 3\n[sampel]\nlimit = 3\n").unwrap();
        let err = Config::load(Some(&file), &["sample"]).unwrap_err();
        assert!(err.to_string().contains("sampel"), "{err}");
        std::fs::write(&file, "[sample]\nlimit = 3\n").unwrap();
        let c = Config::load(Some(&file), &["sample"]).unwrap();
        assert_eq!(c.section::<Sample>().unwrap().limit, 3);
    }

    #[test]
    fn secrets_do_not_leak_through_debug() {
        let c = Config::from_overrides(serde_json::json!({
            "database": {"url": "postgres://u:hunter2@localhost/db"},
            "mail": {"smtp_url": "smtp://u:hunter2@localhost:25"},
            "storage": {"url_secret": "hunter2-hunter2-hunter2-hunter2-hunter2"}
        }))
        .unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
