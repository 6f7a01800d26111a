//! `Idempotency-Key` for POST requests. The first request with a key runs and its response
//! is stored; a retry with the same key and the same body gets the stored response back
//! (`Idempotent-Replayed: true`); the same key with a different body, or while the first
//! request is still running, is a `409`. A `5xx`, `401`, `403` or `429` is not stored: the
//! key is released so the request can run again. Keys are scoped to the caller (anonymous
//! callers by IP) and the route, and kept for 24 hours. A claim whose request never finished
//! (client gone, process died) is taken over after [`ABANDONED_SECS`].
//!
//! Routes a context marks exempt ([`Exemptions`]) are not covered: identity's, whose
//! responses carry credentials (storing them would keep tokens and key secrets in plain
//! text), and provider webhooks, deduplicated by the provider's event id.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::TimeDelta;
use sha2::{Digest, Sha256};
use std::sync::Arc;

use crate::auth::Principal;
use crate::db::Db;
use crate::error::AppError;
use crate::time::now;
use crate::{read, tx};

pub const HEADER: &str = "idempotency-key";
/// The field a page's form (`application/x-www-form-urlencoded`, outside `/api`) carries
/// its key in, since a plain form cannot set a header.
pub const FORM_FIELD: &str = "idempotency_key";
const MAX_KEY_LEN: usize = 255;
/// An unfinished claim older than this is considered abandoned.
pub const ABANDONED_SECS: i64 = 60;

/// Routes the header does not apply to, registered by the context that owns them (identity:
/// routes whose responses carry credentials; payments: provider webhooks, deduplicated by
/// the provider's event id). A rule is a route template: `{param}` matches one segment and a
/// final `*` any rest (`/api/auth/*`, `/api/orgs/{id}/api-keys`).
#[derive(Default)]
pub struct Exemptions {
    rules: std::sync::RwLock<Vec<Vec<String>>>,
}

impl Exemptions {
    pub fn add(&self, template: &str) {
        let rule = template.trim_matches('/').split('/').map(str::to_string).collect();
        self.rules.write().unwrap_or_else(|e| e.into_inner()).push(rule);
    }

    /// Whether `path` (a concrete path or a route template) is exempt.
    pub fn covers(&self, path: &str) -> bool {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        self.rules.read().unwrap_or_else(|e| e.into_inner()).iter().any(|rule| {
            let wildcard = rule.last().is_some_and(|r| r == "*");
            let fixed = if wildcard { &rule[..rule.len() - 1] } else { &rule[..] };
            let length_ok = if wildcard { segments.len() > fixed.len() } else { segments.len() == fixed.len() };
            length_ok && fixed.iter().zip(&segments).all(|(r, s)| r == s || (r.starts_with('{') && r.ends_with('}')))
        })
    }
}

/// The middleware's state.
#[derive(Clone)]
pub struct Idempotency {
    pub db: Db,
    pub exempt: Arc<Exemptions>,
}

#[derive(sqlx::FromRow)]
struct Stored {
    request_hash: String,
    status_code: Option<i64>,
    content_type: Option<String>,
    location: Option<String>,
    body: Option<Vec<u8>>,
}

pub async fn middleware(State(state): State<Idempotency>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST || state.exempt.covers(req.uri().path()) {
        return next.run(req).await;
    }
    let key = match req.headers().get(HEADER) {
        Some(key) => key.to_str().ok().map(str::to_string),
        None => {
            let form = req
                .headers()
                .get(header::CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes().starts_with(b"application/x-www-form-urlencoded"));
            if !form || req.uri().path().starts_with("/api/") {
                return next.run(req).await;
            }
            // A page's form cannot send a header: it carries its key as a field.
            let (parts, body) = req.into_parts();
            let bytes = match axum::body::to_bytes(body, usize::MAX).await {
                Ok(b) => b,
                Err(_) => return AppError::PayloadTooLarge.into_response(),
            };
            let key = form_urlencoded::parse(&bytes).find(|(k, _)| k == FORM_FIELD).map(|(_, v)| v.into_owned());
            let req = Request::from_parts(parts, Body::from(bytes));
            match key {
                Some(key) => return finish(run(&state.db, key, req, next).await),
                None => return next.run(req).await,
            }
        }
    };
    let key = match key {
        Some(k) if !k.is_empty() && k.len() <= MAX_KEY_LEN && k.bytes().all(|b| b.is_ascii_graphic()) => k,
        _ => return AppError::validation("Idempotency-Key", "must be 1–255 visible ASCII characters").into_response(),
    };
    finish(run(&state.db, key, req, next).await)
}

fn finish(result: Result<Response, AppError>) -> Response {
    match result {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn run(db: &Db, key: String, req: Request, next: Next) -> Result<Response, AppError> {
    let caller = match req.extensions().get::<Principal>() {
        Some(p) => p.actor(),
        None => match crate::context::RequestContext::current().and_then(|c| c.ip) {
            Some(ip) => format!("anonymous:{ip}"),
            None => "anonymous".into(),
        },
    };
    // Per route as well as per caller: the same key sent to another route is another
    // request's key, not a reuse. Otherwise a key an anonymous buyer used for a booking
    // would answer 409 on a route that should have said 401.
    let scope = format!("{caller} {} {}", req.method(), req.uri().path());
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.map_err(|_| AppError::PayloadTooLarge)?;
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str());
    hasher.update(b" ");
    // The query is part of the request: the same key with other parameters is a reuse.
    hasher.update(parts.uri.path_and_query().map_or(parts.uri.path(), |pq| pq.as_str()));
    hasher.update(b"\n");
    hasher.update(&bytes);
    let hash = hex::encode(hasher.finalize());
    let at = now();

    // Claim the key; only one request can insert it.
    let mut tx = db.begin().await?;
    let inserted = tx!(&mut tx, |c| sqlx::query(
        "INSERT INTO idempotency_keys (scope, idem_key, request_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) \
         ON CONFLICT (scope, idem_key) DO NOTHING"
    )
    .bind(&scope)
    .bind(&key)
    .bind(&hash)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    // Take over a claim whose request never finished.
    let inserted = if inserted == 0 {
        tx!(&mut tx, |c| sqlx::query(
            "UPDATE idempotency_keys SET request_hash = $1, created_at = $2, updated_at = $2 \
             WHERE scope = $3 AND idem_key = $4 AND status_code IS NULL AND updated_at < $5"
        )
        .bind(&hash)
        .bind(at)
        .bind(&scope)
        .bind(&key)
        .bind(at - TimeDelta::seconds(ABANDONED_SECS))
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?
    } else {
        inserted
    };
    tx.commit().await?;

    if inserted == 0 {
        let stored: Stored = read!(db, |c| {
            sqlx::query_as(
            "SELECT request_hash, status_code, content_type, location, body FROM idempotency_keys WHERE scope = $1 AND idem_key = $2"
        )
        .bind(&scope)
        .bind(&key)
        .fetch_one(c)
        .await
        })?;
        if stored.request_hash != hash {
            return Err(AppError::conflict("idempotency_key_reused", "this Idempotency-Key was used with a different request"));
        }
        let Some(status) = stored.status_code else {
            return Err(AppError::conflict(
                "idempotency_in_progress",
                "a request with this Idempotency-Key is still in progress",
            ));
        };
        let mut response = Response::new(Body::from(stored.body.unwrap_or_default()));
        *response.status_mut() = StatusCode::from_u16(status as u16).unwrap_or(StatusCode::OK);
        if let Some(ct) = stored.content_type.and_then(|ct| HeaderValue::from_str(&ct).ok()) {
            response.headers_mut().insert(header::CONTENT_TYPE, ct);
        }
        if let Some(to) = stored.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            response.headers_mut().insert(header::LOCATION, to);
        }
        response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
        return Ok(response);
    }

    let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    let (parts, body) = response.into_parts();
    let body: Bytes = axum::body::to_bytes(body, usize::MAX).await.map_err(AppError::internal)?;
    let mut tx = db.begin().await?;
    if releases_key(parts.status) {
        tx!(&mut tx, |c| sqlx::query("DELETE FROM idempotency_keys WHERE scope = $1 AND idem_key = $2")
            .bind(&scope)
            .bind(&key)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
    } else {
        let ct = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
        let location = parts.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()).map(str::to_string);
        tx!(&mut tx, |c| {
            sqlx::query(
                "UPDATE idempotency_keys SET status_code = $1, content_type = $2, body = $3, updated_at = $4, location = $7 \
             WHERE scope = $5 AND idem_key = $6",
            )
            .bind(parts.status.as_u16() as i64)
            .bind(ct)
            .bind(body.to_vec())
            .bind(now())
            .bind(&scope)
            .bind(&key)
            .bind(location.as_deref())
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })?;
    }
    tx.commit().await?;
    Ok(Response::from_parts(parts, Body::from(body)))
}

/// Answers that say nothing about the request itself free the key again: a 5xx was not the
/// client's fault, and a 401/403/429 depends on credentials or timing, so the same request
/// must be able to run once the caller has signed in or waited.
fn releases_key(status: StatusCode) -> bool {
    status.is_server_error() || matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::TOO_MANY_REQUESTS)
}

/// Deletes keys older than 24 hours.
pub async fn prune(db: &Db) -> Result<(), sqlx::Error> {
    let cutoff = now() - TimeDelta::hours(24);
    let mut tx = db.begin().await?;
    tx!(&mut tx, |c| sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
        .bind(cutoff)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exemptions_match_route_templates() {
        let e = Exemptions::default();
        e.add("/api/auth/*");
        e.add("/api/orgs/{id}/api-keys");
        assert!(e.covers("/api/auth/login"));
        assert!(e.covers("/api/auth/password-reset/confirm"));
        assert!(!e.covers("/api/auth"));
        assert!(e.covers("/api/orgs/01a23c97-20d3-7134-974b-8ea90bafd91f/api-keys"));
        assert!(e.covers("/api/orgs/{id}/api-keys"));
        assert!(!e.covers("/api/orgs/x/api-keys/y"));
        assert!(!e.covers("/api/orgs"));
        assert!(!e.covers("/api/bookings"));
    }
}
