//! The event editor: details and times (typed in the event's zone), draft → publish →
//! cancel (cancelling asks for a confirmation), ticket types and the quotas they share.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use events::{CreateEvent, CreateVenue, EventId, EventStatus, UpdateEvent};
use kernel::AppError;
use kernel::auth::Role;
use kernel::id::OrgId;
use serde::Deserialize;
use serde_json::{Value, json};
use ticketing::domain::Visibility;
use ticketing::{CreateQuota, CreateTicketType, TicketTypeQuery};

use super::{abilities, local_instant, member, minor_units, principal};
use crate::Web;
use crate::form::CsrfForm;
use crate::pages::{Page, error_page, form_failed, see_other};
use crate::session::Visitor;

#[derive(Debug, Deserialize)]
pub struct NewEventForm {
    name: String,
    starts_at: String,
    ends_at: String,
    time_zone: String,
}

/// `POST /manage/orgs/{org}/events`: a draft, then on to its editor.
pub async fn create_event(
    State(web): State<Arc<Web>>,
    visitor: Visitor,
    Path(org): Path<OrgId>,
    CsrfForm(f): CsrfForm<NewEventForm>,
) -> Response {
    let (p, _) = match member(&web, &visitor, org, Role::Staff).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    let back = format!("/manage/orgs/{org}");
    let times = local_instant("starts_at", &f.starts_at, &f.time_zone)
        .and_then(|s| Ok((s, local_instant("ends_at", &f.ends_at, &f.time_zone)?)));
    let (starts_at, ends_at) = match times {
        Ok(t) => t,
        Err(e) => return form_failed(&web, &visitor, "manage-failed", e, &back),
    };
    let req = CreateEvent {
        org_id: org,
        venue_id: None,
        name: f.name,
        description: None,
        category: None,
        tags: Vec::new(),
        performers: Vec::new(),
        image_url: None,
        status: None,
        starts_at,
        ends_at,
        time_zone: Some(f.time_zone),
    };
    match web.events.create_event(&p, req).await {
        Ok(e) => see_other(&format!("/manage/events/{}", e.id)),
        Err(e) => form_failed(&web, &visitor, "manage-failed", e, &back),
    }
}

/// `GET /manage/events/{id}`.
pub async fn event_editor(State(web): State<Arc<Web>>, visitor: Visitor, Path(id): Path<EventId>) -> Response {
    let p = match principal(&visitor) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let event = match web.events.event(Some(&p), id).await {
        Ok(e) => e,
        Err(e) => return error_page(&web, &visitor, e),
    };
    let (_, role) = match member(&web, &visitor, event.org_id, Role::Viewer).await {
        Ok(m) => m,
        // The event is public, but its editor is for members only.
        Err(r) => return r,
    };
    let catalog = web.ticketing.catalog();
    let types = match catalog.ticket_types(Some(&p), id, TicketTypeQuery::default()).await {
        Ok(t) => t,
        Err(e) => return error_page(&web, &visitor, e),
    };
    let quotas = match catalog.quotas(&p, id).await {
        Ok(q) => q,
        Err(e) => return error_page(&web, &visitor, e),
    };
    let venues =
        match web.events.venues(&p, event.org_id, kernel::pagination::PageParams { cursor: None, limit: Some(100) }).await {
            Ok(v) => v.items,
            Err(e) => return error_page(&web, &visitor, e),
        };
    let settings = match catalog.settings(&p, id).await {
        Ok(s) => s,
        Err(e) => return error_page(&web, &visitor, e),
    };
    let vouchers = match catalog.vouchers(&p, id, kernel::pagination::PageParams { cursor: None, limit: Some(100) }).await {
        Ok(v) => v.items,
        Err(e) => return error_page(&web, &visitor, e),
    };
    let locale = visitor.locale;
    let voucher_rows: Vec<Value> = vouchers
        .iter()
        .map(|v| {
            let off = match (v.percent_off, v.amount_off, v.currency.as_deref()) {
                (Some(pct), _, _) => format!("{pct} %"),
                (_, Some(a), Some(c)) => web.i18n.money(locale, a, c),
                _ => String::new(),
            };
            let unlocks: Vec<&str> =
                types.iter().filter(|t| v.unlock_ticket_type_ids.contains(&t.id)).map(|t| t.name.as_str()).collect();
            json!({ "code": v.code, "off": off, "uses": v.uses, "max_uses": v.max_uses, "unlocks": unlocks })
        })
        .collect();
    let type_rows: Vec<Value> = types
        .iter()
        .map(|t| {
            let pools: Vec<&str> = quotas.iter().filter(|q| t.quota_ids.contains(&q.id)).map(|q| q.name.as_str()).collect();
            json!({ "id": t.id, "name": t.name, "price": web.i18n.money(locale, t.price, &t.currency),
                    "visibility": t.visibility.as_str(), "available": t.available, "on_sale": t.on_sale, "quotas": pools })
        })
        .collect();
    let quota_rows: Vec<Value> = quotas
        .iter()
        .map(|q| {
            let names: Vec<&str> = types.iter().filter(|t| q.ticket_type_ids.contains(&t.id)).map(|t| t.name.as_str()).collect();
            json!({ "name": q.name, "capacity": q.capacity, "taken": q.taken, "available": q.available,
                    "types": names, "shared": names.len() > 1 })
        })
        .collect();
    // `datetime-local` values in the event's zone.
    let local = |s: &str| s.get(..16).unwrap_or(s).to_string();
    Page::new(&web, &visitor)
        .set("event", &event)
        .set("starts_local", local(&event.local_starts_at))
        .set("ends_local", local(&event.local_ends_at))
        .set("can", abilities(role))
        .set("types", type_rows)
        .set("all_types", types.iter().map(|t| json!({ "id": t.id, "name": t.name })).collect::<Vec<_>>())
        .set("quotas", quota_rows)
        .set("settings", &settings)
        .set("venues", venues.iter().map(|v| json!({ "id": v.id, "name": v.name, "city": v.city })).collect::<Vec<_>>())
        .set("vouchers", voucher_rows)
        .set(
            "hidden_types",
            types
                .iter()
                .filter(|t| t.visibility == Visibility::Hidden)
                .map(|t| json!({ "id": t.id, "name": t.name }))
                .collect::<Vec<_>>(),
        )
        .set("currencies", ["EUR", "USD", "GBP", "CHF", "JPY", "SEK", "DKK", "NOK", "PLN", "CZK", "AUD", "CAD"])
        .ok("manage/event.html")
}

#[derive(Debug, Deserialize)]
pub struct EventForm {
    name: String,
    /// A venue of the organization; blank: none (an online event).
    venue_id: Option<String>,
    description: Option<String>,
    category: Option<String>,
    performers: Option<String>,
    starts_at: String,
    ends_at: String,
    time_zone: String,
}

/// `POST /manage/events/{id}`: the details form.
pub async fn update_event(
    State(web): State<Arc<Web>>,
    visitor: Visitor,
    Path(id): Path<EventId>,
    CsrfForm(f): CsrfForm<EventForm>,
) -> Response {
    let p = match principal(&visitor) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let back = format!("/manage/events/{id}");
    let times = local_instant("starts_at", &f.starts_at, &f.time_zone)
        .and_then(|s| Ok((s, local_instant("ends_at", &f.ends_at, &f.time_zone)?)));
    let (starts_at, ends_at) = match times {
        Ok(t) => t,
        Err(e) => return form_failed(&web, &visitor, "manage-failed", e, &back),
    };
    let blank_none = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let performers =
        f.performers.unwrap_or_default().split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
    let venue_id = match f.venue_id.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => match v.parse() {
            Ok(id) => Some(id),
            Err(_) => {
                return form_failed(&web, &visitor, "manage-failed", AppError::validation("venue_id", "is not a venue"), &back);
            }
        },
    };
    let req = UpdateEvent {
        venue_id: Some(venue_id),
        name: Some(f.name),
        description: Some(f.description.unwrap_or_default()),
        category: Some(blank_none(f.category)),
        performers: Some(performers),
        starts_at: Some(starts_at),
        ends_at: Some(ends_at),
        time_zone: Some(f.time_zone),
        ..UpdateEvent::default()
    };
    let result = web.events.update_event(&p, id, req).await;
    crate::pages::after(&web, &visitor, "manage-failed", result, &back)
}

#[derive(Debug, Deserialize)]
pub struct StatusForm {
    status: EventStatus,
    /// Cancelling needs this box ticked: it cannot be undone and tells every buyer.
    confirm: Option<String>,
}

/// `POST /manage/events/{id}/status`: publish, back to draft, or cancel.
pub async fn change_status(
    State(web): State<Arc<Web>>,
    visitor: Visitor,
    Path(id): Path<EventId>,
    CsrfForm(f): CsrfForm<StatusForm>,
) -> Response {
    let p = match principal(&visitor) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let back = format!("/manage/events/{id}");
    if f.status == EventStatus::Cancelled && f.confirm.as_deref() != Some("yes") {
        let e = AppError::bad_request("confirm_needed", "tick the box to confirm the cancellation");
        return form_failed(&web, &visitor, "manage-failed", e, &back);
    }
    let result = web.events.update_event(&p, id, UpdateEvent { status: Some(f.status), ..UpdateEvent::default() }).await;
    crate::pages::after(&web, &visitor, "manage-failed", result, &back)
}

#[derive(Debug, Deserialize)]
pub struct TicketTypeForm {
    name: String,
    price: String,
    currency: String,
    /// Its own pool of this many seats; blank: put it in a shared quota below.
    capacity: Option<String>,
    max_per_order: Option<String>,
    hidden: Option<String>,
}

pub async fn create_ticket_type(
    State(web): State<Arc<Web>>,
    visitor: Visitor,
    Path(id): Path<EventId>,
    CsrfForm(f): CsrfForm<TicketTypeForm>,
) -> Response {
    let p = match principal(&visitor) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let back = format!("/manage/events/{id}#tickets");
    let number = |field: &str, v: Option<String>| -> Result<Option<i64>, AppError> {
        match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) => s.parse().map(Some).map_err(|_| AppError::validation(field, "must be a whole number")),
        }
    };
    let parsed = minor_units("price", &f.price, &f.currency)
        .and_then(|price| Ok((price, number("capacity", f.capacity)?, number("max_per_order", f.max_per_order)?)));
    let (price, capacity, max_per_order) = match parsed {
        Ok(v) => v,
        Err(e) => return form_failed(&web, &visitor, "manage-failed", e, &back),
    };
    let req = CreateTicketType {
        name: f.name,
        description: None,
        price,
        currency: f.currency.trim().to_ascii_uppercase(),
        session_id: None,
        sales_start: None,
        sales_end: None,
        min_per_order: None,
        max_per_order,
        visibility: Some(if f.hidden.is_some() { Visibility::Hidden } else { Visibility::Public }),
        sort_order: None,
        capacity,
    };
    let result = web.ticketing.catalog().create_ticket_type(&p, id, req).await;
    crate::pages::after(&web, &visitor, "manage-failed", result, &back)
}

/// `POST /manage/events/{id}/quotas`: a pool of seats (`name`, `capacity`) shared by the
/// ticket types ticked (`type.<id>`).
pub async fn create_quota(
    State(web): State<Arc<Web>>,
    visitor: Visitor,
    Path(id): Path<EventId>,
    CsrfForm(f): CsrfForm<HashMap<String, String>>,
) -> Response {
    let p = match principal(&visitor) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let back = format!("/manage/events/{id}#quotas");
    let capacity = match f.get("capacity").map(|c| c.trim().parse::<i64>()) {
        Some(Ok(c)) => c,
        _ => {
            return form_failed(
                &web,
                &visitor,
                "manage-failed",
                AppError::validation("capacity", "must be a whole number"),
                &back,
            );
        }
    };
    let mut ticket_type_ids = Vec::new();
    for key in f.keys() {
        if let Some(raw) = key.strip_prefix("type.") {
            match raw.parse() {
                Ok(t) => ticket_type_ids.push(t),
                Err(_) => {
                    return form_failed(
                        &web,
                        &visitor,
                        "manage-failed",
                        AppError::validation("ticket_type_ids", "is not a ticket type"),
                        &back,
                    );
                }
            }
        }
    }
    let req = CreateQuota { name: f.get("name").cloned().unwrap_or_default(), capacity, ticket_type_ids };
    let result = web.ticketing.catalog().create_quota(&p, id, req).await;
    crate::pages::after(&web, &visitor, "manage-failed", result, &back)
}

#[derive(Debug, Deserialize)]
pub struct VenueForm {
    name: String,
    address: Option<String>,
    city: String,
    country: String,
    capacity: Option<String>,
    time_zone: String,
}

/// `POST /manage/events/{id}/venue`: a new venue of the event's organization, chosen for the
/// event at once.
pub async fn create_venue(
    State(web): State<Arc<Web>>,
    visitor: Visitor,
    Path(id): Path<EventId>,
    CsrfForm(f): CsrfForm<VenueForm>,
) -> Response {
    let p = match principal(&visitor) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let back = format!("/manage/events/{id}");
    let event = match web.events.event(Some(&p), id).await {
        Ok(e) => e,
        Err(e) => return error_page(&web, &visitor, e),
    };
    let capacity = match f.capacity.as_deref().map(str::trim).filter(|c| !c.is_empty()).map(str::parse::<i64>) {
        None => None,
        Some(Ok(c)) => Some(c),
        Some(Err(_)) => {
            return form_failed(
                &web,
                &visitor,
                "manage-failed",
                AppError::validation("capacity", "must be a whole number"),
                &back,
            );
        }
    };
    let req = CreateVenue {
        name: f.name,
        address: f.address.map(|a| a.trim().to_string()).filter(|a| !a.is_empty()),
        city: f.city,
        country: f.country.trim().to_ascii_uppercase(),
        capacity,
        time_zone: f.time_zone,
    };
    let venue = match web.events.create_venue(&p, event.org_id, req).await {
        Ok(v) => v,
        Err(e) => return form_failed(&web, &visitor, "manage-failed", e, &back),
    };
    let result = web.events.update_event(&p, id, UpdateEvent { venue_id: Some(Some(venue.id)), ..UpdateEvent::default() }).await;
    crate::pages::after(&web, &visitor, "manage-failed", result, &back)
}
