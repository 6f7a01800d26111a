//! The door: a phone-first scanner page for staff. It reads QR codes with the camera (or
//! takes a typed code), checks each ticket's Ed25519 signature in the browser against the
//! organization's public keys, keeps working without a network (scans wait in IndexedDB and
//! are uploaded to `POST /api/checkins/batch`, idempotent by scan id, when the connection is
//! back) and loads offline through a service worker once it has been opened.
//!
//! The page's script calls the API with the session cookie plus the CSRF token from the
//! page's `<meta name="csrf-token">` (see `kernel::auth::CSRF_HEADER`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use events::EventId;
use kernel::auth::Role;
use serde_json::json;

use super::manage_access;
use crate::Web;
use crate::pages::{Page, error_page};
use crate::session::Visitor;

/// `GET /scan/{event}`: staff and above.
pub async fn page(State(web): State<Arc<Web>>, visitor: Visitor, Path(id): Path<EventId>) -> Response {
    let (event, _) = match manage_access(&web, &visitor, id, Role::Staff).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    Page::new(&web, &visitor)
        .set("event", json!({ "id": event.id, "name": event.name, "org_id": event.org_id, "starts": event.local_starts_at }))
        .ok("scanner.html")
}

/// `GET /scan/{event}/data`: what the scanner keeps for offline use — the event, and the
/// organization's public ticket keys (a JWK set).
pub async fn data(State(web): State<Arc<Web>>, visitor: Visitor, Path(id): Path<EventId>) -> Response {
    let (event, _) = match manage_access(&web, &visitor, id, Role::Staff).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match web.ticketing.check_in().ticket_keys(event.org_id).await {
        Ok(keys) => (
            [(header::CACHE_CONTROL, "no-store")],
            axum::Json(json!({ "event_id": event.id, "org_id": event.org_id, "name": event.name, "keys": keys })),
        )
            .into_response(),
        Err(e) => error_page(&web, &visitor, e),
    }
}
