//! Test harness: `TestApp::spawn()` starts the real app on 127.0.0.1:0 against a fresh
//! database — a new SQLite file, or, when `TEST_DATABASE_URL` is set, a new PostgreSQL
//! database created for this app and dropped afterwards — and talks to it over HTTP.
#![allow(dead_code)]

pub mod browser;
pub mod payments;
pub mod sales;

use std::path::PathBuf;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub dir: tempfile::TempDir,
    pub shutdown: CancellationToken,
    pub server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    pub database_url: String,
    config: Value,
    pg: Option<PgDatabase>,
}

/// A PostgreSQL database that exists for one test app.
struct PgDatabase {
    admin_url: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop may run inside or outside a runtime; use a thread with its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                use sqlx::Connection;
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url).await {
                    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await;
                }
            });
        })
        .join();
    }
}

pub fn is_postgres() -> bool {
    std::env::var("TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty())
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(json!({})).await
    }

    /// Spawns with configuration overrides merged over the test defaults.
    pub async fn spawn_with(overrides: Value) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let (database_url, pg) = match std::env::var("TEST_DATABASE_URL") {
            Ok(admin_url) if !admin_url.is_empty() => {
                use sqlx::Connection;
                let name = format!("backline_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = sqlx::PgConnection::connect(&admin_url).await.expect("connect to TEST_DATABASE_URL");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                    .execute(&mut conn)
                    .await
                    .expect("create database");
                let mut url = url::Url::parse(&admin_url).expect("TEST_DATABASE_URL");
                url.set_path(&name);
                (url.to_string(), Some(PgDatabase { admin_url, name }))
            }
            _ => (format!("sqlite://{}/test.db", dir.path().display()), None),
        };
        let mut config = json!({
            "data_dir": dir.path(),
            "database": { "url": database_url, "max_connections": 8 },
            "auth": { "argon2_memory_kib": 64, "jwt_keys": [{ "kid": "test-1", "secret": "test-secret-that-is-long-enough-0123456789" }] },
            "jobs": { "poll_interval_ms": 25, "backoff_base_ms": 20, "backoff_max_ms": 200 },
            "rate_limit": { "per_ip_per_min": 100000, "per_user_per_min": 100000, "login_per_account_per_min": 1000, "login_per_ip_per_min": 1000 },
            "log": { "level": "warn" },
            "server": { "shutdown_grace_secs": 5 },
        });
        merge(&mut config, overrides);
        let (base, shutdown, server) = start(&config).await;
        let app = TestApp {
            base,
            client: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
            dir,
            shutdown,
            server: Some(server),
            database_url,
            config,
            pg,
        };
        app.wait_until_up().await;
        app
    }

    /// Stops this app and starts a new process-equivalent on the same database and data
    /// directory, with `overrides` applied on top of the previous configuration.
    pub async fn restart(mut self, overrides: Value) -> TestApp {
        self.stop().await;
        merge(&mut self.config, overrides);
        let (base, shutdown, server) = start(&self.config).await;
        self.base = base;
        self.shutdown = shutdown;
        self.server = Some(server);
        self.wait_until_up().await;
        self
    }

    async fn wait_until_up(&self) {
        for _ in 0..200 {
            if self.client.get(self.url("/healthz")).send().await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("test app did not come up");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn mail_dir(&self) -> PathBuf {
        self.dir.path().join("mail")
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(s) = self.server.take() {
            s.await.expect("join").expect("server ran cleanly");
        }
    }

    pub async fn request(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.request(Method::GET, path, token, None).await
    }
    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.request(Method::POST, path, token, Some(body)).await
    }
    pub async fn put(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.request(Method::PUT, path, token, Some(body)).await
    }
    pub async fn delete(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.request(Method::DELETE, path, token, None).await
    }

    /// Registers a user; returns (access token, full token response).
    pub async fn register(&self, email: &str) -> (String, Value) {
        let (s, body) = self
            .post("/api/auth/register", None, json!({ "email": email, "password": "correct horse battery", "name": "Test User" }))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
        (body["access_token"].as_str().unwrap().to_string(), body)
    }

    /// Registers a user and creates an organization they own; returns (token, org id).
    pub async fn owner_with_org(&self, email: &str, org_name: &str) -> (String, String) {
        let (token, _) = self.register(email).await;
        let (s, org) = self.post("/api/orgs", Some(&token), json!({ "name": org_name })).await;
        assert_eq!(s, StatusCode::CREATED, "{org}");
        (token, org["id"].as_str().unwrap().to_string())
    }

    /// Adds a new user to `org` with `role` through the invitation flow; returns their token.
    pub async fn member(&self, owner_token: &str, org: &str, email: &str, role: &str) -> String {
        let (token, _) = self.register(email).await;
        let (s, inv) =
            self.post(&format!("/api/orgs/{org}/invitations"), Some(owner_token), json!({ "email": email, "role": role })).await;
        assert_eq!(s, StatusCode::CREATED, "{inv}");
        let invite_token = self.wait_for_token(email, "invitation-token: ").await;
        let (s, body) = self.post("/api/invitations/accept", Some(&token), json!({ "token": invite_token })).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        token
    }

    /// Waits (bounded) for a mail to `to` containing `marker`, returns the token after it.
    pub async fn wait_for_token(&self, to: &str, marker: &str) -> String {
        for _ in 0..400 {
            if let Ok(entries) = std::fs::read_dir(self.mail_dir()) {
                let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
                files.sort();
                for f in files.iter().rev() {
                    let text = std::fs::read_to_string(f).unwrap_or_default();
                    // Quoted-printable: soft line breaks go, and `=` is written `=3D`.
                    let unfolded = text.replace("=\r\n", "").replace("=\n", "").replace("=3D", "=");
                    let to_them = unfolded.contains(&format!("To: {to}")) || unfolded.contains(&format!("<{to}>"));
                    if to_them && let Some(i) = unfolded.find(marker) {
                        let rest = &unfolded[i + marker.len()..];
                        return rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').collect();
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("no mail to {to} with {marker}");
    }
}

async fn start(config: &Value) -> (String, CancellationToken, tokio::task::JoinHandle<anyhow::Result<()>>) {
    let config = kernel::Config::from_overrides(config.clone()).expect("test config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(backline::run(config, listener, shutdown.clone()));
    (format!("http://{addr}"), shutdown, server)
}

fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                merge(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (b, o) => *b = o,
    }
}
