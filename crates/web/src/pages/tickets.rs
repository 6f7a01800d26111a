//! A fan's tickets: every booking of the signed-in user (each links to its page with the QR
//! codes), joining a sold-out event's waitlist, and answering a waitlist offer from the
//! emailed link.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use events::EventId;
use kernel::pagination::PageParams;
use serde::Deserialize;
use serde_json::{Value, json};
use ticketing::{JoinWaitlist, WaitlistEntryId, WaitlistStatus};

use super::{Page, error_page, form_failed, require_user, see_other, text};
use crate::Web;
use crate::form::CsrfForm;
use crate::session::Visitor;

/// `GET /tickets`: the signed-in user's bookings, newest first.
pub async fn mine(State(web): State<Arc<Web>>, visitor: Visitor, Query(page): Query<PageParams>) -> Response {
    let user = match require_user(&visitor) {
        Ok(u) => u,
        Err(to_sign_in) => return to_sign_in,
    };
    let Some(p) = visitor.principal.as_ref() else { return see_other("/sign-in") };
    let list = match web.ticketing.reports().user_bookings(p, user, page).await {
        Ok(list) => list,
        Err(e) => return error_page(&web, &visitor, e),
    };
    // One lookup per distinct event of the page (a page holds at most a few events).
    let mut names: Vec<(EventId, Value)> = Vec::new();
    for b in &list.items {
        if names.iter().any(|(id, _)| *id == b.event_id) {
            continue;
        }
        let event = match web.events.event(Some(p), b.event_id).await {
            Ok(e) => json!({ "name": e.name, "starts": e.local_starts_at }),
            Err(_) => json!({ "name": text(&web, &visitor, "tickets-unknown-event", &[]), "starts": Value::Null }),
        };
        names.push((b.event_id, event));
    }
    let rows: Vec<Value> = list
        .items
        .iter()
        .map(|b| {
            let event = names.iter().find(|(id, _)| *id == b.event_id).map(|(_, e)| e.clone()).unwrap_or(Value::Null);
            json!({ "id": b.id, "code": b.code, "status": b.status, "quantity": b.quantity,
                    "total": web.i18n.money(visitor.locale, b.total, &b.currency), "event": event })
        })
        .collect();
    let next = list
        .next_cursor
        .map(|c| format!("/tickets?cursor={}", url::form_urlencoded::byte_serialize(c.as_bytes()).collect::<String>()));
    Page::new(&web, &visitor).set("bookings", rows).set("next_url", next).ok("tickets.html")
}

#[derive(Debug, Deserialize)]
pub struct JoinForm {
    name: String,
    email: String,
    ticket_type_id: Option<ticketing::TicketTypeId>,
}

/// `POST /events/{id}/waitlist`: the event page's "tell me when tickets free up".
pub async fn join_waitlist(
    State(web): State<Arc<Web>>,
    visitor: Visitor,
    Path(id): Path<EventId>,
    CsrfForm(f): CsrfForm<JoinForm>,
) -> Response {
    let req = JoinWaitlist {
        ticket_type_id: f.ticket_type_id,
        session_id: None,
        email: f.email,
        name: f.name,
        quantity: Some(1),
        tier: None,
    };
    match web.ticketing.waitlist().join_waitlist(visitor.principal.as_ref(), id, req).await {
        Ok(joined) => {
            let token = joined.waitlist_token.map(|t| format!("?token={t}")).unwrap_or_default();
            see_other(&format!("/waitlist/{}{token}", joined.entry.id))
        }
        Err(e) => form_failed(&web, &visitor, "waitlist-failed", e, &format!("/events/{id}#tickets")),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

/// `GET /waitlist/{id}`: the person's place in line, or the offer with accept/decline.
pub async fn waitlist_offer(
    State(web): State<Arc<Web>>,
    visitor: Visitor,
    Path(id): Path<WaitlistEntryId>,
    Query(q): Query<TokenQuery>,
) -> Response {
    let token = q.token.filter(|t| !t.is_empty());
    let entry = match web.ticketing.waitlist().waitlist_entry(visitor.principal.as_ref(), token.as_deref(), id).await {
        Ok(e) => e,
        Err(e) => return error_page(&web, &visitor, e),
    };
    let event = web.events.event(visitor.principal.as_ref(), entry.event_id).await.ok();
    let zone = event.as_ref().map(|e| kernel::validate::zone_of(&e.time_zone)).unwrap_or(chrono_tz::UTC);
    let expires = entry.offer_expires_at.map(|at| web.i18n.datetime(visitor.locale, at.with_timezone(&zone).fixed_offset()));
    Page::new(&web, &visitor)
        .set("entry", &entry)
        .set("event_name", event.map(|e| e.name))
        .set("offered", entry.status == WaitlistStatus::Offered)
        .set("expires", expires)
        .set("token", token)
        .ok("waitlist.html")
}

#[derive(Debug, Deserialize)]
pub struct OfferForm {
    token: Option<String>,
}

pub async fn accept_offer(
    State(web): State<Arc<Web>>,
    visitor: Visitor,
    Path(id): Path<WaitlistEntryId>,
    CsrfForm(f): CsrfForm<OfferForm>,
) -> Response {
    let token = f.token.filter(|t| !t.is_empty());
    match web.ticketing.waitlist().accept_offer(visitor.principal.as_ref(), token.as_deref(), id).await {
        Ok(accepted) => {
            let b = &accepted.booking.summary;
            let token = accepted.booking_token.map(|t| format!("?token={t}")).unwrap_or_default();
            see_other(&format!("/bookings/{}{token}", b.id))
        }
        Err(e) => offer_failed(&web, &visitor, id, token.as_deref(), e),
    }
}

pub async fn decline_offer(
    State(web): State<Arc<Web>>,
    visitor: Visitor,
    Path(id): Path<WaitlistEntryId>,
    CsrfForm(f): CsrfForm<OfferForm>,
) -> Response {
    let token = f.token.filter(|t| !t.is_empty());
    match web.ticketing.waitlist().decline_offer(visitor.principal.as_ref(), token.as_deref(), id).await {
        Ok(_) => see_other(&format!("/waitlist/{id}{}", token.map(|t| format!("?token={t}")).unwrap_or_default())),
        Err(e) => offer_failed(&web, &visitor, id, token.as_deref(), e),
    }
}

fn offer_failed(web: &Web, visitor: &Visitor, id: WaitlistEntryId, token: Option<&str>, e: kernel::AppError) -> Response {
    let back = format!("/waitlist/{id}{}", token.map(|t| format!("?token={t}")).unwrap_or_default());
    form_failed(web, visitor, "waitlist-failed", e, &back)
}
