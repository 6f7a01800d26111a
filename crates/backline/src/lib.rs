//! Assembles Backline: builds the kernel, the contexts and their routers, wraps them in the
//! shared HTTP edge, and serves. `run(config, listener, shutdown)` is how both the binary and
//! the tests start the app, so tests exercise exactly what production runs.

pub mod openapi;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use kernel::Kernel;
use kernel::auth::{Authenticator, OrgAccess};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use kernel::Config;
use kernel::config::{ConfigError, Section};

/// The configuration sections the contexts own, by top-level key.
pub const SECTIONS: [&str; 2] = [identity::AuthConfig::KEY, payments::PaymentsConfig::KEY];

/// Loads the configuration (defaults, `file`, environment) and checks every context's
/// section, so a bad value fails start-up before anything connects.
pub fn load_config(file: Option<&std::path::Path>) -> Result<Config, ConfigError> {
    let config = Config::load(file, &SECTIONS)?;
    describe_config(&config)?;
    Ok(config)
}

/// The whole configuration as `config check` prints it: the kernel's sections, then each
/// context's, secrets hidden.
pub fn describe_config(config: &Config) -> Result<String, ConfigError> {
    let auth: identity::AuthConfig = config.section()?;
    let payments: payments::PaymentsConfig = config.section()?;
    Ok(format!("{config:#?}\n{auth:#?}\n{payments:#?}"))
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Backline API", description = "The open, self-hostable platform for live music and events.", license(name = "MIT OR Apache-2.0")),
    modifiers(&BearerAuth),
    // Named by `$ref` from query parameters only, which utoipa does not collect.
    components(schemas(kernel::jobs::JobStatus)),
    tags(
        (name = "auth", description = "Registration, sign-in, tokens, sessions, password reset"),
        (name = "users", description = "Profiles"),
        (name = "organizations", description = "Organizations, members, invitations, API keys"),
        (name = "events", description = "Events, sessions, search, iCal"),
        (name = "venues", description = "Venues"),
        (name = "ticketing", description = "Ticket types, quotas, vouchers, ticketing settings"),
        (name = "bookings", description = "Bookings (orders), holds, offline payment, tickets, sales statistics"),
        (name = "waitlist", description = "Waitlists of sold-out ticket types and sessions, tiers, offers"),
        (name = "tickets", description = "Ticket PDFs and the organizations' ticket-signing keys"),
        (name = "check-in", description = "Check-in lists, scans (single and offline batches), undo"),
        (name = "payments", description = "Payments against a reference, refunds, history, subscriptions, Stripe webhook, ledger, settlement"),
        (name = "audit", description = "Audit trail"),
        (name = "files", description = "Signed file downloads (ticket PDFs, exports)"),
        (name = "admin", description = "Operator endpoints"),
        (name = "system", description = "Health, readiness, metrics, this description"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT or bk_… API key").build()),
        );
    }
}

/// The OpenAPI 3.1 description of every route (this one included).
#[utoipa::path(get, path = "/api/openapi.json", tag = "system", responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
async fn openapi_json(State(spec): State<Arc<OnceLock<String>>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], spec.get().cloned().unwrap_or_default())
}

/// A built application: its router and the services behind it.
pub struct App {
    pub router: Router,
    pub kernel: Arc<Kernel>,
    pub identity: Arc<identity::IdentityService>,
    pub events: Arc<events::EventsService>,
    pub ticketing: Arc<ticketing::TicketingService>,
    pub payments: Arc<payments::PaymentsService>,
    /// Held here: its job listeners only keep a weak handle.
    pub messaging: Arc<messaging::MessagingService>,
    /// The finished OpenAPI document (see [`openapi::finish`]).
    pub openapi: serde_json::Value,
}

/// Connects, migrates and wires every context.
pub async fn build(config: Config) -> anyhow::Result<App> {
    let kernel = Kernel::start(config).await?;
    let identity = identity::IdentityService::new(kernel.clone())?;
    let access: Arc<dyn OrgAccess> = identity.clone();
    let authenticator: Arc<dyn Authenticator> = identity.clone();
    let events = events::EventsService::new(kernel.clone(), access.clone());
    let ticketing = ticketing::TicketingService::new(kernel.clone(), access.clone(), events.clone())?;
    let payments = payments::PaymentsService::new(kernel.clone(), access.clone())?;
    ticketing.connect_payments(&payments);
    let messaging = messaging::MessagingService::new(kernel.clone(), events.clone(), ticketing.clone())?;
    let audit = audit::AuditService::new(kernel.clone(), access.clone());
    let web = web::Web::new(
        web::Services {
            events: events.clone(),
            ticketing: ticketing.clone(),
            identity: identity.clone(),
            payments: payments.clone(),
        },
        &kernel.config.server,
    )?;
    let spec_cell: Arc<OnceLock<String>> = Arc::default();

    let (router, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(kernel::http::system_router(kernel.clone()))
        .merge(kernel::admin::router(kernel.clone()))
        .merge(kernel::storage::router(kernel.clone()))
        .merge(identity::router(identity.clone()))
        .merge(events::router(events.clone()))
        .merge(ticketing::router(ticketing.clone()))
        .merge(payments::router(payments.clone()))
        .merge(audit::router(audit))
        .merge(OpenApiRouter::new().routes(routes!(openapi_json)).with_state(spec_cell.clone()))
        .split_for_parts();
    let mut openapi = serde_json::to_value(&openapi)?;
    openapi::finish(&mut openapi, &kernel.idempotency_exempt);
    let _ = spec_cell.set(openapi.to_string());
    // Pages beside the API; addresses nothing answers get the web's not-found (a page for
    // browsers, the API's problem document under `/api` and for everyone else).
    let router = router.merge(web::router(web.clone())).fallback_service(axum::routing::any(web::not_found).with_state(web));
    let router = kernel::http::apply_edge(router, kernel.clone(), authenticator);
    Ok(App { router, kernel, identity, events, ticketing, payments, messaging, openapi })
}

/// Serves the app on `listener` until `shutdown` is cancelled, then lets in-flight requests
/// finish (up to `server.shutdown_grace_secs`) and stops the job workers cleanly.
pub async fn run(config: Config, listener: TcpListener, shutdown: CancellationToken) -> anyhow::Result<()> {
    let app = build(config).await?;
    serve(app, listener, shutdown).await
}

/// Serves an already built app (see [`run`]).
pub async fn serve(app: App, listener: TcpListener, shutdown: CancellationToken) -> anyhow::Result<()> {
    let kernel = app.kernel.clone();
    let workers = kernel.config.jobs.enabled.then(|| kernel.jobs.start(shutdown.clone()));
    if kernel.config.jobs.enabled {
        app.ticketing.start(shutdown.clone());
        app.payments.start(shutdown.clone());
    }
    kernel.start_maintenance(shutdown.clone());
    let grace = std::time::Duration::from_secs(kernel.config.server.shutdown_grace_secs);
    let signal = shutdown.clone();
    let server = axum::serve(listener, app.router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move { signal.cancelled().await });
    let server = tokio::spawn(async move { server.await });
    let mut server = server;
    tokio::select! {
        res = &mut server => { res??; }
        _ = shutdown.cancelled() => {
            match tokio::time::timeout(grace, &mut server).await {
                Ok(res) => res??,
                Err(_) => tracing::warn!("in-flight requests did not finish within the grace period"),
            }
        }
    }
    if let Some(workers) = workers {
        let _ = tokio::time::timeout(grace, workers).await;
    }
    kernel.db.close().await;
    tracing::info!("stopped");
    Ok(())
}
