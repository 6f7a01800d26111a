//! Orders and attendees: an event's bookings (search by name, email or code; filter by
//! status), the CSV export, a booking's detail with its tickets, and staff actions — mark a
//! transfer paid, cancel (which refunds what was paid).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use events::EventId;
use kernel::AppError;
use kernel::auth::Role;
use serde::Deserialize;
use serde_json::{Value, json};
use ticketing::{BookingId, BookingQuery, BookingStatus, MarkPaid};

use super::{abilities, member, principal};
use crate::Web;
use crate::form::CsrfForm;
use crate::pages::{Page, error_page, form_failed};
use crate::session::Visitor;

/// Bookings per page of the orders list.
const ORDERS_PAGE: i64 = 50;

#[derive(Debug, Default, Deserialize)]
pub struct OrdersQuery {
    q: Option<String>,
    status: Option<String>,
    cursor: Option<String>,
}

fn status_filter(raw: Option<&str>) -> Result<Option<BookingStatus>, AppError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => serde_json::from_value(Value::String(s.into()))
            .map(Some)
            .map_err(|_| AppError::validation("status", "is not a booking status")),
    }
}

/// `GET /manage/events/{id}/orders`.
pub async fn orders(
    State(web): State<Arc<Web>>,
    visitor: Visitor,
    Path(id): Path<EventId>,
    Query(q): Query<OrdersQuery>,
) -> Response {
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
        Err(r) => return r,
    };
    let status = match status_filter(q.status.as_deref()) {
        Ok(s) => s,
        Err(e) => return error_page(&web, &visitor, e),
    };
    let term = q.q.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    let query = BookingQuery { status, q: term.clone(), format: None, cursor: q.cursor.clone(), limit: Some(ORDERS_PAGE) };
    let page = match web.ticketing.reports().event_bookings(&p, id, query).await {
        Ok(page) => page,
        Err(e) => return error_page(&web, &visitor, e),
    };
    let locale = visitor.locale;
    let zone = kernel::validate::zone_of(&event.time_zone);
    let rows: Vec<Value> = page
        .items
        .iter()
        .map(|b| {
            json!({ "id": b.id, "code": b.code, "buyer_name": b.buyer_name, "buyer_email": b.buyer_email,
                    "status": b.status, "quantity": b.quantity, "total": web.i18n.money(locale, b.total, &b.currency),
                    "created": web.i18n.datetime(locale, b.created_at.with_timezone(&zone).fixed_offset()) })
        })
        .collect();
    let filters = |cursor: Option<&str>| {
        let mut url = url::form_urlencoded::Serializer::new(String::new());
        if let Some(t) = &term {
            url.append_pair("q", t);
        }
        if let Some(s) = q.status.as_deref().filter(|s| !s.is_empty()) {
            url.append_pair("status", s);
        }
        if let Some(c) = cursor {
            url.append_pair("cursor", c);
        }
        url.finish()
    };
    let next = page.next_cursor.as_deref().map(|c| format!("/manage/events/{id}/orders?{}", filters(Some(c))));
    let csv = format!("/manage/events/{id}/orders.csv?{}", filters(None));
    Page::new(&web, &visitor)
        .set("event", json!({ "id": event.id, "name": event.name, "org_id": event.org_id }))
        .set("can", abilities(role))
        .set("bookings", rows)
        .set("query", json!({ "q": term, "status": q.status }))
        .set("statuses", ["pending_payment", "confirmed", "cancelled", "refunded", "expired"])
        .set("next_url", next)
        .set("csv_url", csv)
        .ok("manage/orders.html")
}

/// `GET /manage/events/{id}/orders.csv`: every matching booking position, streamed.
pub async fn export_csv(
    State(web): State<Arc<Web>>,
    visitor: Visitor,
    Path(id): Path<EventId>,
    Query(q): Query<OrdersQuery>,
) -> Response {
    let p = match principal(&visitor) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let status = match status_filter(q.status.as_deref()) {
        Ok(s) => s,
        Err(e) => return error_page(&web, &visitor, e),
    };
    let query =
        BookingQuery { status, q: q.q.filter(|s| !s.trim().is_empty()), format: Some("csv".into()), cursor: None, limit: None };
    match ticketing::csv_download(&web.ticketing, &p, id, query).await {
        Ok(r) => r,
        Err(e) => error_page(&web, &visitor, e),
    }
}

/// `GET /manage/bookings/{id}`.
pub async fn booking(State(web): State<Arc<Web>>, visitor: Visitor, Path(id): Path<BookingId>) -> Response {
    let p = match principal(&visitor) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let b = match web.ticketing.bookings().booking(Some(&p), None, id).await {
        Ok(b) => b,
        Err(e) => return error_page(&web, &visitor, e),
    };
    let (_, role) = match member(&web, &visitor, b.summary.org_id, Role::Viewer).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    let event = match web.events.event(Some(&p), b.summary.event_id).await {
        Ok(e) => e,
        Err(e) => return error_page(&web, &visitor, e),
    };
    let locale = visitor.locale;
    let zone = kernel::validate::zone_of(&event.time_zone);
    let s = &b.summary;
    let tickets: Vec<Value> = b
        .tickets
        .iter()
        .map(|t| {
            let type_name = b.positions.iter().find(|p| p.ticket_type_id == t.ticket_type_id).map(|p| p.ticket_type_name.clone());
            json!({ "id": t.id, "code": t.code, "attendee": t.attendee_name, "type_name": type_name, "status": t.status,
                    "valid": t.status == ticketing::domain::TicketStatus::Valid,
                    "checked_in": t.checked_in_at.map(|at| web.i18n.datetime(locale, at.with_timezone(&zone).fixed_offset())) })
        })
        .collect();
    let positions: Vec<Value> = b
        .positions
        .iter()
        .map(|p| json!({ "name": p.ticket_type_name, "quantity": p.quantity, "price": web.i18n.money(locale, p.unit_price, &p.currency) }))
        .collect();
    // The payment a refund goes back through (a card or a recorded transfer).
    let history = payments::model::HistoryQuery {
        org_id: Some(s.org_id),
        reference: Some(format!("booking:{}", s.id)),
        ..payments::model::HistoryQuery::default()
    };
    let payment = match web.payments.history(&p, history).await {
        Ok(page) => page
            .items
            .into_iter()
            .find(|pay| matches!(pay.status, payments::PaymentStatus::Succeeded | payments::PaymentStatus::PartiallyRefunded)),
        Err(e) => return error_page(&web, &visitor, e),
    };
    let refundable = payment.as_ref().map(|pay| {
        json!({ "id": pay.id, "left": web.i18n.money(locale, pay.amount - pay.refunded_amount, &pay.currency), "test": pay.test_mode })
    });
    Page::new(&web, &visitor)
        .set("booking", s)
        .set("payment", refundable)
        .set("total", web.i18n.money(locale, s.total, &s.currency))
        .set("event", json!({ "id": event.id, "name": event.name }))
        .set("can", abilities(role))
        .set("positions", positions)
        .set("tickets", tickets)
        .set("pending", s.status == BookingStatus::PendingPayment)
        .set("live", matches!(s.status, BookingStatus::PendingPayment | BookingStatus::Confirmed))
        .ok("manage/booking.html")
}

#[derive(Debug, Deserialize)]
pub struct MarkPaidForm {
    reference: Option<String>,
}

pub async fn mark_paid(
    State(web): State<Arc<Web>>,
    visitor: Visitor,
    Path(id): Path<BookingId>,
    CsrfForm(f): CsrfForm<MarkPaidForm>,
) -> Response {
    let p = match principal(&visitor) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let back = format!("/manage/bookings/{id}");
    let req = MarkPaid { reference: f.reference.filter(|r| !r.trim().is_empty()) };
    let result = web.ticketing.bookings().mark_paid(&p, id, req).await;
    crate::pages::after(&web, &visitor, "manage-failed", result, &back)
}

#[derive(Debug, Deserialize)]
pub struct CancelForm {
    confirm: Option<String>,
}

pub async fn cancel_booking(
    State(web): State<Arc<Web>>,
    visitor: Visitor,
    Path(id): Path<BookingId>,
    CsrfForm(f): CsrfForm<CancelForm>,
) -> Response {
    let p = match principal(&visitor) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let back = format!("/manage/bookings/{id}");
    if f.confirm.as_deref() != Some("yes") {
        return form_failed(
            &web,
            &visitor,
            "manage-failed",
            AppError::bad_request("confirm_needed", "tick the box to confirm the cancellation"),
            &back,
        );
    }
    let result = web.ticketing.bookings().cancel_booking(Some(&p), None, id).await;
    crate::pages::after(&web, &visitor, "manage-failed", result, &back)
}

/// `POST /manage/bookings/{id}/refund`: the tickets ticked (`ticket.<id>`) — refunded at
/// what was paid for them, cancelled, their seats freed — or, with none ticked, the whole
/// booking (staff and above, as the API).
pub async fn refund(
    State(web): State<Arc<Web>>,
    visitor: Visitor,
    Path(id): Path<BookingId>,
    CsrfForm(f): CsrfForm<std::collections::HashMap<String, String>>,
) -> Response {
    let p = match principal(&visitor) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let back = format!("/manage/bookings/{id}");
    let Some(payment) = f.get("payment_id").and_then(|v| v.parse::<payments::PaymentId>().ok()) else {
        return form_failed(&web, &visitor, "manage-failed", AppError::validation("payment_id", "is not a payment"), &back);
    };
    let items: Vec<String> = f.keys().filter_map(|k| k.strip_prefix("ticket.")).map(str::to_string).collect();
    let req = payments::model::CreateRefund {
        amount: None,
        reason: f.get("reason").map(|r| r.trim().to_string()).filter(|r| !r.is_empty()),
        items: (!items.is_empty()).then_some(items),
    };
    let result = web.payments.refund(&p, payment, req).await;
    crate::pages::after(&web, &visitor, "manage-failed", result, &back)
}
