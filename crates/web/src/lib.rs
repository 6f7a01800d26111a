//! The web: server-rendered pages for fans (discover, the event page, checkout, their
//! tickets), their accounts, organizers (dashboard, events, orders, team) and door staff (the
//! offline-capable scanner), in the visitor's language, with times in the event's time zone.
//!
//! Pages call the contexts' services directly — the same use cases, and so the same access
//! rules, as the API, never an HTTP call to ourselves. Templates (minijinja, embedded at
//! build time), messages (Fluent, `locales/`) and static files (`assets/`, served under
//! content-hashed names) are all in the binary; nothing is fetched at run time and there is no
//! front-end build step. Scripts only enhance: every page but the camera scanner works
//! without them, and the Content-Security-Policy allows no inline script.
//!
//! Browsers sign in with an HttpOnly session cookie that identity keeps in the same session
//! table as bearer sessions ([`session`]); every state-changing form carries a CSRF token
//! ([`form`]) and, where a double submit must not act twice, an idempotency key.

mod assets;
mod form;
mod i18n;
mod pages;
mod qr;
mod render;
mod session;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use events::EventsService;
use identity::IdentityService;
use payments::PaymentsService;
use ticketing::TicketingService;

pub use i18n::{I18n, Locale};

/// What the pages need: the services they call and the rendering machinery.
pub struct Web {
    events: Arc<EventsService>,
    ticketing: Arc<TicketingService>,
    identity: Arc<IdentityService>,
    payments: Arc<PaymentsService>,
    /// Absolute base of canonical links and social cards (`server.public_url`).
    public_url: String,
    /// Cookies get `Secure` when the site is served over TLS (`server.behind_tls`).
    secure_cookies: bool,
    i18n: Arc<I18n>,
    assets: Arc<assets::Assets>,
    templates: minijinja::Environment<'static>,
}

/// The services a [`Web`] is built on.
pub struct Services {
    pub events: Arc<EventsService>,
    pub ticketing: Arc<TicketingService>,
    pub identity: Arc<IdentityService>,
    pub payments: Arc<PaymentsService>,
}

impl Web {
    pub fn new(services: Services, server: &kernel::config::ServerConfig) -> anyhow::Result<Arc<Web>> {
        let i18n = Arc::new(I18n::load()?);
        let assets = Arc::new(assets::Assets::load());
        let templates = render::environment(i18n.clone(), assets.clone())?;
        Ok(Arc::new(Web {
            events: services.events,
            ticketing: services.ticketing,
            identity: services.identity,
            payments: services.payments,
            public_url: server.public_url.trim_end_matches('/').to_string(),
            secure_cookies: server.behind_tls,
            i18n,
            assets,
            templates,
        }))
    }
}

/// The page routes. Unknown paths outside `/api` answer with [`not_found`], which the binary
/// installs as the router's fallback.
pub fn router(web: Arc<Web>) -> Router {
    use pages::{account, checkout, discover, manage, scanner, tickets};
    Router::new()
        .route("/", get(discover::home))
        .route("/events/{id}", get(discover::event))
        .route("/language", get(discover::language))
        .route("/assets/{file}", get(assets::serve))
        .route("/sw.js", get(assets::service_worker))
        .route("/favicon.ico", get(assets::favicon))
        // Account
        .route("/register", get(account::register_form).post(account::register))
        .route("/sign-in", get(account::sign_in_form).post(account::sign_in))
        .route("/sign-out", post(account::sign_out))
        .route("/forgot-password", get(account::forgot_form).post(account::forgot))
        .route("/reset-password", get(account::reset_form).post(account::reset))
        .route("/account", get(account::profile).post(account::update_profile))
        .route("/account/sessions", get(account::sessions))
        .route("/account/sessions/{id}/revoke", post(account::revoke_session))
        .route("/account/sessions/revoke-others", post(account::revoke_other_sessions))
        .route("/invitations/accept", get(account::invitation).post(account::accept_invitation))
        // Buying
        .route("/events/{id}/checkout", post(checkout::start))
        .route("/bookings/{id}", get(checkout::booking))
        .route("/bookings/{id}/details", post(checkout::details))
        .route("/bookings/{id}/pay", post(checkout::pay))
        .route("/bookings/{id}/cancel", post(checkout::cancel))
        .route("/bookings/{id}/pdf", post(checkout::pdf))
        .route("/bookings/{id}/qr/{code}", get(checkout::qr_image))
        .route("/tickets", get(tickets::mine))
        .route("/waitlist/{id}", get(tickets::waitlist_offer))
        .route("/waitlist/{id}/accept", post(tickets::accept_offer))
        .route("/waitlist/{id}/decline", post(tickets::decline_offer))
        .route("/events/{id}/waitlist", post(tickets::join_waitlist))
        // Organizers
        .route("/manage", get(manage::home))
        .route("/manage/orgs", post(manage::create_org))
        .route("/manage/orgs/{org}", get(manage::dashboard))
        .route("/manage/orgs/{org}/events", post(manage::create_event))
        .route("/manage/orgs/{org}/team", get(manage::team))
        .route("/manage/orgs/{org}/team/invite", post(manage::invite))
        .route("/manage/orgs/{org}/team/{user}/role", post(manage::change_role))
        .route("/manage/orgs/{org}/team/{user}/remove", post(manage::remove_member))
        .route("/manage/orgs/{org}/api-keys", post(manage::create_api_key))
        .route("/manage/orgs/{org}/payments", get(manage::payment_settings).post(manage::update_payment_settings))
        .route("/manage/events/{id}", get(manage::event_editor).post(manage::update_event))
        .route("/manage/events/{id}/status", post(manage::change_status))
        .route("/manage/events/{id}/venue", post(manage::create_venue))
        .route("/manage/events/{id}/ticket-types", post(manage::create_ticket_type))
        .route("/manage/events/{id}/quotas", post(manage::create_quota))
        .route("/manage/events/{id}/settings", post(manage::update_settings))
        .route("/manage/events/{id}/vouchers", post(manage::create_voucher))
        .route("/manage/events/{id}/sessions", post(manage::create_session))
        .route("/manage/events/{id}/orders", get(manage::orders))
        .route("/manage/events/{id}/orders.csv", get(manage::export_csv))
        .route("/manage/bookings/{id}", get(manage::booking))
        .route("/manage/bookings/{id}/mark-paid", post(manage::mark_paid))
        .route("/manage/bookings/{id}/cancel", post(manage::cancel_booking))
        .route("/manage/bookings/{id}/refund", post(manage::refund))
        // Door
        .route("/scan/{event}", get(scanner::page))
        .route("/scan/{event}/data", get(scanner::data))
        .layer(axum::middleware::from_fn_with_state(web.clone(), session::ensure_csrf_cookie))
        .with_state(web)
}

pub use pages::not_found;
