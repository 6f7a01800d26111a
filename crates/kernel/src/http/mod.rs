//! The HTTP edge shared by every context: request ids and per-request context, structured
//! request logs and metrics, authentication, rate limits, idempotency, body limits, security
//! headers, CORS, compression, panics → problem+json, and the system routes (`/healthz`,
//! `/readyz`, `/metrics`).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use http_body_util::Limited;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tracing::Instrument;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

mod body_guard;

pub use body_guard::{GuardedBody, panic_message};

use crate::Kernel;
use crate::auth::{AuthErrorKind, AuthFailure, Authenticator, Principal};
use crate::context::RequestContext;
use crate::error::AppError;
use crate::extract::Json;
use crate::telemetry::{PanicLabels, RequestLabels, RouteLabels};

pub const REQUEST_ID: &str = "x-request-id";

#[derive(Clone)]
struct Edge {
    kernel: Arc<Kernel>,
    authenticator: Arc<dyn Authenticator>,
}

/// Wraps the assembled router in the shared middleware stack. The router brings its own
/// fallback for addresses no route answers (the binary's: a page for browsers, a problem
/// document for the API).
pub fn apply_edge(router: Router, kernel: Arc<Kernel>, authenticator: Arc<dyn Authenticator>) -> Router {
    let config = &kernel.config.server;
    let edge = Edge { kernel: kernel.clone(), authenticator };
    let csp = "default-src 'self'; img-src 'self' data: https:; style-src 'self'; script-src 'self'; \
               object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";
    let hsts = if config.behind_tls { Some(HeaderValue::from_static("max-age=63072000; includeSubDomains")) } else { None };
    let origins: Vec<HeaderValue> = config.cors_origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("idempotency-key"),
            HeaderName::from_static(REQUEST_ID),
        ])
        .expose_headers([HeaderName::from_static(REQUEST_ID), header::RETRY_AFTER])
        .max_age(std::time::Duration::from_secs(3600));

    router
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed.into_response() })
        // Innermost first: each `.layer` wraps everything above it.
        .layer(middleware::from_fn_with_state(
            crate::idempotency::Idempotency { db: kernel.db.clone(), exempt: kernel.idempotency_exempt.clone() },
            crate::idempotency::middleware,
        ))
        .layer(middleware::from_fn_with_state(edge.clone(), rate_limit))
        .layer(middleware::from_fn_with_state(edge.clone(), authenticate))
        .layer(middleware::from_fn_with_state(edge.clone(), body_limit))
        .layer(axum::extract::DefaultBodyLimit::max(config.body_limit_bytes))
        .layer(CatchPanicLayer::custom({
            let metrics = kernel.metrics.clone();
            move |_: Box<dyn std::any::Any + Send + 'static>| {
                // The panic hook (telemetry::init_logging) has logged it inside the request's span.
                metrics.panics.get_or_create(&PanicLabels { site: "handler".into() }).inc();
                AppError::internal("handler panicked").into_response()
            }
        }))
        .layer(middleware::from_fn_with_state(edge, request_context))
        .layer(
            ServiceBuilder::new()
                .layer(CompressionLayer::new())
                .layer(cors)
                .layer(SetResponseHeaderLayer::overriding(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp)))
                .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
                .layer(SetResponseHeaderLayer::overriding(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
                .layer(SetResponseHeaderLayer::overriding(
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("strict-origin-when-cross-origin"),
                ))
                .layer(SetResponseHeaderLayer::if_not_present(header::STRICT_TRANSPORT_SECURITY, move |_: &Response| {
                    hsts.clone()
                })),
        )
}

fn client_ip(req: &Request, trust_forwarded: bool) -> Option<IpAddr> {
    if trust_forwarded
        && let Some(ip) = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            // The right-most entry was added by our own proxy; entries to its left are
            // whatever the client claimed and could be forged.
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse().ok())
    {
        return Some(ip);
    }
    req.extensions().get::<ConnectInfo<SocketAddr>>().map(|ci| ci.0.ip())
}

async fn request_context(State(edge): State<Edge>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string());
    let ip = client_ip(&req, edge.kernel.config.server.trust_forwarded_for);
    let method = req.method().to_string();
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string()).unwrap_or_else(|| "unmatched".to_string());
    let path = req.uri().path().to_string();
    let span = tracing::info_span!("request", request_id = %request_id, method = %method, path = %path);
    let ctx = RequestContext { request_id: request_id.clone(), ip, ..RequestContext::default() };
    let queries = ctx.queries.clone();
    let timeout = std::time::Duration::from_secs(edge.kernel.config.server.request_timeout_secs);
    let mut response = match tokio::time::timeout(timeout, ctx.clone().scope(next.run(req).instrument(span.clone()))).await {
        Ok(response) => response,
        Err(_) => ctx.scope(async { AppError::Timeout.into_response() }).await,
    };
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    span.in_scope(|| {
        if status >= 500 {
            tracing::error!(status, route = %route, latency_ms = elapsed.as_secs_f64() * 1000.0, "request failed");
        } else {
            tracing::info!(status, route = %route, latency_ms = elapsed.as_secs_f64() * 1000.0, "request");
        }
    });
    let metrics = &edge.kernel.metrics;
    metrics.requests.get_or_create(&RequestLabels { method: method.clone(), route: route.clone(), status }).inc();
    metrics.latency.get_or_create(&RouteLabels { method, route }).observe(elapsed.as_secs_f64());
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, v);
    }
    if edge.kernel.config.server.count_queries {
        let n = queries.load(std::sync::atomic::Ordering::Relaxed);
        response.headers_mut().insert("x-db-queries", HeaderValue::from(n));
    }
    let panics = metrics.panics.get_or_create(&PanicLabels { site: "body".into() }).clone();
    response.map(|body| Body::new(GuardedBody::new(body, span, panics)))
}

async fn body_limit(State(edge): State<Edge>, req: Request, next: Next) -> Response {
    let limit = edge.kernel.config.server.body_limit_bytes;
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return AppError::PayloadTooLarge.into_response();
    }
    next.run(req.map(|b| Body::new(Limited::new(b, limit)))).await
}

async fn authenticate(State(edge): State<Edge>, mut req: Request, next: Next) -> Response {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")).map(str::trim).ok_or(()))
        .or_else(|| req.headers().get("x-api-key").and_then(|v| v.to_str().ok()).map(|v| Ok(v.trim())));
    let principal = match token {
        None => match cookie_principal(&edge, req.headers(), req.uri().path()).await {
            Ok(p) => p,
            Err(e) => return e.into_response(),
        },
        Some(Err(())) => {
            req.extensions_mut().insert(AuthFailure(AuthErrorKind {
                code: "invalid_token",
                message: "Authorization must be `Bearer <token>`".into(),
            }));
            None
        }
        Some(Ok(token)) => match edge.authenticator.authenticate(token).await {
            Ok(p) => Some(p),
            Err(AppError::Unauthorized { code, message }) => {
                req.extensions_mut().insert(AuthFailure(AuthErrorKind { code, message }));
                None
            }
            Err(other) => return other.into_response(),
        },
    };
    match principal {
        Some(p) => {
            req.extensions_mut().insert(p.clone());
            let mut ctx = RequestContext::current().unwrap_or_default();
            ctx.principal = Some(p);
            ctx.scope(next.run(req)).await
        }
        None => next.run(req).await,
    }
}

/// The browser session behind the session cookie. Pages take it as it is (their forms carry
/// their own CSRF check); an API call made with it must also carry the CSRF token in a
/// header, which another site's page cannot send, or it is treated as anonymous.
async fn cookie_principal(edge: &Edge, headers: &axum::http::HeaderMap, path: &str) -> Result<Option<Principal>, AppError> {
    let Some(secret) = crate::auth::cookie(headers, crate::auth::SESSION_COOKIE) else { return Ok(None) };
    if path.starts_with("/api/") {
        let expected = crate::auth::cookie(headers, crate::auth::CSRF_COOKIE).map(crate::auth::csrf_token);
        let sent = headers.get(crate::auth::CSRF_HEADER).and_then(|v| v.to_str().ok());
        if expected.is_none() || sent != expected.as_deref() {
            return Ok(None);
        }
    }
    edge.authenticator.authenticate_cookie(secret).await
}

async fn rate_limit(State(edge): State<Edge>, req: Request, next: Next) -> Response {
    // Probes and scrapes must keep working while a client is being throttled.
    if matches!(req.uri().path(), "/healthz" | "/readyz" | "/metrics") {
        return next.run(req).await;
    }
    let limits = &edge.kernel.limits;
    let verdict = match req.extensions().get::<Principal>() {
        Some(p) => limits.check_actor(&p.actor()),
        None => match RequestContext::current().and_then(|c| c.ip) {
            Some(ip) => limits.check_ip(ip),
            None => Ok(()),
        },
    };
    match verdict {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

/// Liveness: the process is up and serving.
#[utoipa::path(get, path = "/healthz", tag = "system", responses((status = 200, description = "Alive", body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok".into() })
}

/// Readiness: the database answers.
#[utoipa::path(get, path = "/readyz", tag = "system", responses(
    (status = 200, description = "Ready", body = Health),
    (status = 503, description = "Database unreachable", body = crate::error::Problem)))]
async fn readyz(State(kernel): State<Arc<Kernel>>) -> Result<Json<Health>, AppError> {
    kernel.db.ping().await.map_err(|e| {
        tracing::warn!(error = %e, "readiness check failed");
        AppError::Unavailable { message: "database unreachable".into() }
    })?;
    Ok(Json(Health { status: "ready".into() }))
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(get, path = "/metrics", tag = "system", responses((status = 200, description = "Prometheus text", body = String, content_type = "text/plain")))]
async fn metrics(State(kernel): State<Arc<Kernel>>) -> Response {
    let m = &kernel.metrics;
    let (size, idle) = kernel.db.pool_stats();
    m.db_connections.set(size as i64);
    m.db_idle.set(idle as i64);
    if let Ok(depth) = kernel.jobs.depth().await {
        for status in ["queued", "running", "done", "dead"] {
            let n = depth.iter().find(|(s, _)| s == status).map(|(_, n)| *n).unwrap_or(0);
            m.jobs.get_or_create(&crate::telemetry::StatusLabels { status: status.into() }).set(n);
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], m.render()).into_response()
}

#[derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Health {
    pub status: String,
}

/// `/healthz`, `/readyz`, `/metrics`.
pub fn system_router(kernel: Arc<Kernel>) -> OpenApiRouter {
    OpenApiRouter::new().routes(routes!(healthz)).routes(routes!(readyz)).routes(routes!(metrics)).with_state(kernel)
}
