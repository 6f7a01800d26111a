//! The web: server-rendered pages for fans (discover events, the event page), in the
//! visitor's language, with the event's times in the event's own time zone.
//!
//! Pages call the contexts' services directly — the same use cases, and so the same access
//! rules, as the API, never an HTTP call to ourselves. Templates (minijinja, embedded at
//! build time), messages (Fluent, `locales/`) and static files (`assets/`, served under
//! content-hashed names) are all in the binary; nothing is fetched at run time and there is no
//! front-end build step. Scripts only enhance: every page works without them, and the
//! Content-Security-Policy allows no inline script.

mod assets;
mod i18n;
mod pages;
mod render;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use events::EventsService;
use ticketing::TicketingService;

pub use i18n::{I18n, Locale};

/// What the pages need: the services they call and the rendering machinery.
pub struct Web {
    events: Arc<EventsService>,
    ticketing: Arc<TicketingService>,
    /// Absolute base of canonical links and social cards (`server.public_url`).
    public_url: String,
    i18n: Arc<I18n>,
    assets: Arc<assets::Assets>,
    templates: minijinja::Environment<'static>,
}

impl Web {
    pub fn new(events: Arc<EventsService>, ticketing: Arc<TicketingService>, public_url: &str) -> anyhow::Result<Arc<Web>> {
        let i18n = Arc::new(I18n::load()?);
        let assets = Arc::new(assets::Assets::load());
        let templates = render::environment(i18n.clone(), assets.clone())?;
        Ok(Arc::new(Web { events, ticketing, public_url: public_url.trim_end_matches('/').to_string(), i18n, assets, templates }))
    }
}

/// The page routes. Unknown paths outside `/api` answer with [`not_found`], which the binary
/// installs as the router's fallback.
pub fn router(web: Arc<Web>) -> Router {
    Router::new()
        .route("/", get(pages::home))
        .route("/events/{id}", get(pages::event))
        .route("/language", get(pages::language))
        .route("/assets/{file}", get(assets::serve))
        .with_state(web)
}

pub use pages::not_found;
