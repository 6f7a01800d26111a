//! The shared HTTP edge and kernel behaviour: problem responses for bad input, security
//! headers, CORS, compression, request ids, rate limits, idempotency keys, jobs with retry,
//! backoff and dead-letter, the outbox across restarts, health/readiness/metrics, OpenAPI.

mod common;

use std::time::Duration;

use common::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn malformed_requests_get_clear_4xx() {
    let app = TestApp::spawn_with(json!({"server": {"body_limit_bytes": 4096}})).await;
    let c = &app.client;
    // Malformed JSON.
    let r = c
        .post(app.url("/api/auth/register"))
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["code"], "malformed_json");
    assert!(p["request_id"].is_string());
    // Wrong content type.
    let r = c.post(app.url("/api/auth/register")).header("content-type", "text/plain").body("hello").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Oversized body.
    let big = json!({"email": "a@b.org", "password": "x".repeat(10_000), "name": "n"});
    let r = c.post(app.url("/api/auth/register")).json(&big).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Bad id in a path.
    let (token, _) = app.register("edge@example.org").await;
    let (s, p) = app.get("/api/orgs/not-a-uuid", Some(&token)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(p["field"], "id");
    // Unknown route and wrong method.
    let (s, p) = app.get("/api/nothing-here", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(p["code"], "not_found");
    let r = c.delete(app.url("/api/auth/login")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    // Page size out of range names the parameter.
    let (s, p) = app.get("/api/events?limit=1000", None).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(p["field"], "limit");
}

#[tokio::test]
async fn security_headers_request_ids_cors_and_compression() {
    let app = TestApp::spawn_with(json!({"server": {"cors_origins": ["https://tickets.example.org"], "behind_tls": true}})).await;
    let r = app.client.get(app.url("/healthz")).header("x-request-id", "req-abc-123").send().await.unwrap();
    let h = r.headers();
    assert_eq!(h["x-request-id"], "req-abc-123");
    assert!(h["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert!(h["strict-transport-security"].to_str().unwrap().contains("max-age="));
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert!(!r.headers()["x-request-id"].is_empty(), "generated when absent");

    // CORS: the allowed origin is echoed, others are not.
    let r = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/events"))
        .header("origin", "https://tickets.example.org")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["access-control-allow-origin"], "https://tickets.example.org");
    let r = app.client.get(app.url("/api/events")).header("origin", "https://evil.example").send().await.unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());

    // Compression when asked for.
    let r = app.client.get(app.url("/api/openapi.json")).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(r.headers()["content-encoding"], "gzip");

    // No HSTS without TLS in front.
    let plain = TestApp::spawn().await;
    let r = plain.client.get(plain.url("/healthz")).send().await.unwrap();
    assert!(r.headers().get("strict-transport-security").is_none());
}

#[tokio::test]
async fn rate_limits_per_ip_and_per_user() {
    let app = TestApp::spawn_with(json!({"rate_limit": {"per_ip_per_min": 5, "per_user_per_min": 8}})).await;
    // Registration itself is an anonymous request: budget 5 per IP.
    let (token, _) = app.register("rl@example.org").await;
    let mut anon = Vec::new();
    for _ in 0..6 {
        anon.push(app.client.get(app.url("/api/events")).send().await.unwrap());
    }
    let limited = anon.last().unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry >= 1);
    // The signed-in user has their own budget.
    let mut statuses = Vec::new();
    for _ in 0..9 {
        statuses.push(app.get("/api/users/me", Some(&token)).await.0);
    }
    assert_eq!(statuses[..8], [StatusCode::OK; 8]);
    assert_eq!(statuses[8], StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn idempotency_keys_replay_and_conflict() {
    let app = TestApp::spawn().await;
    let (token, _) = app.register("idem@example.org").await;
    let send = |key: &'static str, name: &'static str| {
        app.client
            .post(app.url("/api/orgs"))
            .bearer_auth(&token)
            .header("idempotency-key", key)
            .json(&json!({"name": name}))
            .send()
    };
    let first = send("k-1", "Idem Org").await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let again = send("k-1", "Idem Org").await.unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(first["id"], again["id"], "same response, no second org");
    let (_, orgs) = app.get("/api/orgs", Some(&token)).await;
    assert_eq!(orgs.as_array().unwrap().len(), 1);

    let other = send("k-1", "Different Body").await.unwrap();
    assert_eq!(other.status(), StatusCode::CONFLICT);
    let p: Value = other.json().await.unwrap();
    assert_eq!(p["code"], "idempotency_key_reused");
    // The query string is part of the request too.
    let other_query = app
        .client
        .post(app.url("/api/orgs?source=retry"))
        .bearer_auth(&token)
        .header("idempotency-key", "k-1")
        .json(&json!({"name": "Idem Org"}))
        .send()
        .await
        .unwrap();
    assert_eq!(other_query.status(), StatusCode::CONFLICT);
    // Another key creates normally.
    assert_eq!(send("k-2", "Second Org").await.unwrap().status(), StatusCode::CREATED);

    // Identity marks API-key creation exempt (its answer carries the key's secret): the same
    // key twice makes two keys, and no secret is stored for a replay.
    let org_id = first["id"].as_str().unwrap();
    let mut secrets = Vec::new();
    for _ in 0..2 {
        let r = app
            .client
            .post(app.url(&format!("/api/orgs/{org_id}/api-keys")))
            .bearer_auth(&token)
            .header("idempotency-key", "k-key")
            .json(&json!({"name": "CI", "role": "viewer"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        assert!(r.headers().get("idempotent-replayed").is_none());
        secrets.push(r.json::<Value>().await.unwrap()["key"].as_str().unwrap().to_string());
    }
    assert_ne!(secrets[0], secrets[1]);

    // A 401 does not use the key up: signed out, the same key on another route is a 401
    // again (not a 409), and once signed in the original request runs.
    let anonymous =
        |path: &str| app.client.post(app.url(path)).header("idempotency-key", "k-3").json(&json!({"name": "Later Org"})).send();
    assert_eq!(anonymous("/api/orgs").await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous("/api/checkins/batch").await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(send("k-3", "Later Org").await.unwrap().status(), StatusCode::CREATED);
}

/// Creates a platform administrator with the CLI (`backline admin create-user`), as an
/// operator would during maintenance: the app is stopped, the command runs against its
/// database, and the app starts again.
async fn platform_admin(mut app: TestApp, email: &str) -> (TestApp, String) {
    app.stop().await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_backline"))
        .args(["admin", "create-user", "--email", email, "--name", "Operator"])
        .env("DATABASE_URL", &app.database_url)
        .env("BACKLINE_DATA_DIR", app.dir.path())
        .env("BACKLINE_ADMIN_PASSWORD", "operator password 1")
        .env("BACKLINE_LOG__LEVEL", "warn")
        .output()
        .expect("run backline admin create-user");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let app = app.restart(json!({})).await;
    let (s, body) = app.post("/api/auth/login", None, json!({"email": email, "password": "operator password 1"})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let token = body["access_token"].as_str().unwrap().to_string();
    (app, token)
}

/// `backline admin create-user` against the database of a running, busy server (on SQLite a
/// second process sharing the file): every run succeeds, and the server sees the account at
/// once.
#[tokio::test]
async fn admin_create_user_works_beside_a_running_busy_server() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let (token, _) = app.register("busy@example.org").await;
    let busy = {
        let (app, token) = (app.clone(), token.clone());
        tokio::spawn(async move {
            for i in 0.. {
                let (s, body) = app.post("/api/orgs", Some(&token), json!({"name": format!("Busy {i}")})).await;
                assert_eq!(s, StatusCode::CREATED, "{body}");
            }
        })
    };
    for n in 0..3 {
        let email = format!("ops{n}@example.org");
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_backline"));
        cmd.args(["admin", "create-user", "--email", &email, "--name", "Operator"])
            .env("DATABASE_URL", &app.database_url)
            .env("BACKLINE_DATA_DIR", app.dir.path())
            .env("BACKLINE_ADMIN_PASSWORD", "operator password 1")
            .env("BACKLINE_LOG__LEVEL", "warn");
        let out = tokio::task::spawn_blocking(move || cmd.output()).await.unwrap().expect("run backline admin create-user");
        assert!(out.status.success(), "run {n}: {}", String::from_utf8_lossy(&out.stderr));
        let (s, body) = app.post("/api/auth/login", None, json!({"email": email, "password": "operator password 1"})).await;
        assert_eq!(s, StatusCode::OK, "{body}");
    }
    busy.abort();
}

async fn wait_for_jobs(app: &TestApp, token: &str, status: &str, n: usize) -> Value {
    for _ in 0..400 {
        let (s, page) = app.get(&format!("/api/admin/jobs?status={status}"), Some(token)).await;
        assert_eq!(s, StatusCode::OK, "{page}");
        if page["items"].as_array().unwrap().len() >= n {
            return page;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no {n} {status} jobs");
}

#[tokio::test]
async fn failing_jobs_retry_with_backoff_then_dead_letter_and_can_be_retried() {
    // An SMTP server that refuses connections: every mail job fails.
    let app = TestApp::spawn_with(json!({"mail": {"smtp_url": "smtp://127.0.0.1:1"}, "jobs": {"max_attempts": 3}})).await;
    let (app, admin) = platform_admin(app, "ops@example.org").await;
    let (user, _) = app.register("fan@example.org").await;
    assert_eq!(app.get("/api/admin/jobs", Some(&user)).await.0, StatusCode::FORBIDDEN);

    let dead = wait_for_jobs(&app, &admin, "dead", 2).await;
    let job =
        dead["items"].as_array().unwrap().iter().find(|j| j["payload"]["data"]["email"] == "fan@example.org").unwrap().clone();
    assert_eq!(job["kind"], "identity.welcome_mail");
    assert_eq!(job["attempts"], 3);
    assert!(job["last_error"].as_str().unwrap().len() > 3);
    // Backoff: the time from creation to the last failure covers at least the two waits.
    let created: chrono::DateTime<chrono::Utc> = job["created_at"].as_str().unwrap().parse().unwrap();
    let updated: chrono::DateTime<chrono::Utc> = job["updated_at"].as_str().unwrap().parse().unwrap();
    assert!(updated - created >= chrono::TimeDelta::milliseconds(20 * 8 / 10 + 40 * 8 / 10), "{created} → {updated}");

    let id = job["id"].as_str().unwrap();
    let (s, retried) = app.post(&format!("/api/admin/jobs/{id}/retry"), Some(&admin), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{retried}");
    assert_eq!(retried["status"], "queued");
    let (s, p) = app.post(&format!("/api/admin/jobs/{id}/retry"), Some(&admin), json!({})).await;
    assert!(s == StatusCode::CONFLICT || s == StatusCode::OK, "{p}");
    // It fails again and lands back in the dead-letter state with a fresh count.
    for _ in 0..400 {
        let (_, page) = app.get("/api/admin/jobs?status=dead", Some(&admin)).await;
        if page["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["id"] == id && j["attempts"] == 3 && j["updated_at"] != job["updated_at"])
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("retried job did not run again");
}

#[tokio::test]
async fn outbox_events_survive_a_restart() {
    // Jobs off: the event is committed but nothing delivers it, as if the process died.
    let app = TestApp::spawn_with(json!({"jobs": {"enabled": false}})).await;
    app.register("late-welcome@example.org").await;
    assert!(std::fs::read_dir(app.mail_dir()).map(|d| d.count() == 0).unwrap_or(true), "nothing sent yet");
    // The next process delivers it.
    let app = app.restart(json!({"jobs": {"enabled": true}})).await;
    let _ = app.wait_for_token("late-welcome@example.org", "Welcome").await;
}

#[tokio::test]
async fn events_nobody_subscribes_to_are_recorded_already_dispatched() {
    // Jobs off, so the dispatcher cannot be what marked anything.
    let app = TestApp::spawn_with(json!({"jobs": {"enabled": false}})).await;
    app.owner_with_org("outbox-owner@example.org", "Outbox Org").await;
    let db = kernel::Db::connect(&app.database_url, 2).await.unwrap();
    let rows: Vec<(String, bool)> = kernel::read!(&db, |c| sqlx::query_as(
        "SELECT topic, dispatched_at IS NOT NULL FROM outbox WHERE topic IN ('user.registered', 'org.created')"
    )
    .fetch_all(c)
    .await)
    .unwrap();
    db.close().await;
    // `user.registered` has a subscriber (the welcome mail) and waits for the dispatcher;
    // nothing listens to `org.created`, so it is a record only.
    assert_eq!(rows.iter().find(|(t, _)| t == "user.registered").map(|r| r.1), Some(false), "{rows:?}");
    assert_eq!(rows.iter().find(|(t, _)| t == "org.created").map(|r| r.1), Some(true), "{rows:?}");
}

#[tokio::test]
async fn health_readiness_metrics_and_clean_stop() {
    let mut app = TestApp::spawn().await;
    assert_eq!(app.get("/healthz", None).await.0, StatusCode::OK);
    let (s, r) = app.get("/readyz", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(r["status"], "ready");
    let r = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    assert!(text.contains("backline_http_requests_total"), "{text}");
    assert!(text.contains("route=\"/readyz\""));
    assert!(text.contains("backline_http_request_duration_seconds_bucket"));
    assert!(text.contains("backline_db_pool_connections"));
    assert!(text.contains("backline_jobs{status=\"queued\"}"));
    app.stop().await;
}

#[tokio::test]
async fn openapi_describes_every_route() {
    let app = TestApp::spawn().await;
    let (s, spec) = app.get("/api/openapi.json", None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = spec["paths"].as_object().unwrap();
    // Every described operation is routed (the router's own fallback answers `route` 404s
    // with resource "route", which no handler uses).
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let concrete = path
                .split('/')
                .map(|seg| if seg.starts_with('{') { "00000000-0000-7000-8000-000000000000" } else { seg })
                .collect::<Vec<_>>()
                .join("/");
            let r = app.client.request(method.to_uppercase().parse().unwrap(), app.url(&concrete)).send().await.unwrap();
            let status = r.status();
            let body = r.text().await.unwrap_or_default();
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert!(!body.contains("route not found"), "{method} {path} is described but not routed");
        }
    }
    // And every route is described. axum cannot list a router's routes, so this checks the
    // only way to add one without documenting it: every crate registers handlers through
    // utoipa_axum's `routes!` (which documents them), and none calls axum's own
    // `.route(`/`.nest(` anywhere — but the `web` crate, whose HTML pages are not part of the
    // API and so not of its description.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut offenders = Vec::new();
    for krate in std::fs::read_dir(&root).unwrap().flatten().filter(|k| k.file_name() != "web") {
        let src = krate.path().join("src");
        for file in walk(&src) {
            let text = std::fs::read_to_string(&file).unwrap();
            if [".route(", ".route_service(", ".nest(", ".nest_service("].iter().any(|call| text.contains(call)) {
                offenders.push(file.display().to_string());
            }
        }
    }
    assert!(offenders.is_empty(), "undocumented routes in {offenders:?}");
    for expected in [
        "/api/auth/register",
        "/api/auth/login",
        "/api/auth/refresh",
        "/api/auth/logout",
        "/api/auth/verify",
        "/api/auth/password-reset",
        "/api/events",
        "/api/events/{id}",
        "/api/events/search",
        "/api/audit/logs",
        "/healthz",
        "/metrics",
    ] {
        assert!(paths.contains_key(expected), "{expected} missing from the spec");
    }
}

/// The description is self-contained and says how errors look: every `$ref` names a
/// component that exists (a missing one, like `JobStatus` once was, breaks every generated
/// client), every error response is `application/problem+json` with the Problem schema, and
/// every operation lists `500` (and `401` when it takes credentials).
#[tokio::test]
async fn openapi_refs_resolve_and_errors_are_problems() {
    let app = TestApp::spawn().await;
    let (_, spec) = app.get("/api/openapi.json", None).await;
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&spec, &mut all);
    assert!(all.len() > 100, "{} refs", all.len());
    for r in &all {
        let pointer = r.strip_prefix('#').unwrap_or_else(|| panic!("external ref {r}"));
        assert!(spec.pointer(pointer).is_some(), "{r} does not resolve");
    }
    assert!(spec.pointer("/components/schemas/JobStatus").is_some());

    let mut operations = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.contains_key("500"), "{method} {path} does not list 500");
            let secured = op["security"].as_array().is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some()));
            if secured {
                assert!(responses.contains_key("401"), "{method} {path} takes credentials but does not list 401");
            }
            for (status, response) in responses {
                if !(status.starts_with('4') || status.starts_with('5')) {
                    continue;
                }
                let content = response["content"].as_object().unwrap_or_else(|| panic!("{method} {path} {status}: no content"));
                assert_eq!(content.keys().collect::<Vec<_>>(), ["application/problem+json"], "{method} {path} {status}");
                assert_eq!(
                    content["application/problem+json"]["schema"]["$ref"], "#/components/schemas/Problem",
                    "{method} {path} {status}"
                );
            }
        }
    }
    assert!(operations > 100, "{operations} operations");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out
}
