//! Checkout: the event page's form starts a booking (a hold on the seats, or at once a
//! confirmed free order); the booking's page shows the hold's countdown, takes the attendees'
//! names and the payment (the test provider's card form, Stripe's hosted checkout, or bank
//! transfer instructions), and once confirmed shows the tickets with their QR codes.
//!
//! Buyers need no account: the booking page is reached by its token, as the API's
//! `?token=` is. Every form that could act twice carries an idempotency key, so a double
//! submit books (or charges) once.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use events::EventId;
use kernel::AppError;
use payments::ProviderKind;
use payments::model::ProcessPayment;
use payments::provider::Flow;
use serde::Deserialize;
use serde_json::{Value, json};
use ticketing::domain::TicketStatus;
use ticketing::{Attendee, BookingId, BookingStatus, CreateBooking, PositionRequest, UpdateBooking};

use super::{Page, error_page, form_failed, see_other, text};
use crate::Web;
use crate::form::CsrfForm;
use crate::qr;
use crate::session::Visitor;

/// How a page says where the buyer's booking is: its id and (for buyers without an
/// account) its token.
fn booking_url(id: BookingId, token: Option<&str>) -> String {
    match token {
        Some(t) => format!("/bookings/{id}?token={}", url::form_urlencoded::byte_serialize(t.as_bytes()).collect::<String>()),
        None => format!("/bookings/{id}"),
    }
}

/// `POST /events/{id}/checkout`: quantities (`qty.<ticket type id>`), the buyer's name and
/// email, and the voucher the page was showing.
pub async fn start(
    State(web): State<Arc<Web>>,
    visitor: Visitor,
    Path(id): Path<EventId>,
    CsrfForm(form): CsrfForm<HashMap<String, String>>,
) -> Response {
    let back = format!("/events/{id}#tickets");
    let mut positions = Vec::new();
    for (key, value) in &form {
        let Some(raw_type) = key.strip_prefix("qty.") else { continue };
        let quantity: i64 = match value.trim() {
            "" => 0,
            v => match v.parse() {
                Ok(q) => q,
                Err(_) => {
                    return form_failed(
                        &web,
                        &visitor,
                        "checkout-failed",
                        AppError::validation("quantity", "must be a whole number"),
                        &back,
                    );
                }
            },
        };
        if quantity == 0 {
            continue;
        }
        let Ok(ticket_type_id) = raw_type.parse() else {
            return form_failed(
                &web,
                &visitor,
                "checkout-failed",
                AppError::validation("ticket_type_id", "is not a ticket type"),
                &back,
            );
        };
        positions.push(PositionRequest { ticket_type_id, quantity });
    }
    if positions.is_empty() {
        return form_failed(
            &web,
            &visitor,
            "checkout-failed",
            AppError::bad_request("none_chosen", "choose at least one ticket"),
            &back,
        );
    }
    let field = |k: &str| form.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let req = CreateBooking {
        event_id: id,
        positions,
        buyer_email: field("buyer_email"),
        buyer_name: field("buyer_name"),
        voucher_code: Some(field("voucher")).filter(|v| !v.is_empty()),
        attendees: Vec::new(),
    };
    match web.ticketing.bookings().create_booking(visitor.principal.as_ref(), req).await {
        Ok(created) => see_other(&booking_url(created.booking.summary.id, Some(&created.booking_token))),
        Err(e) => form_failed(&web, &visitor, "checkout-failed", e, &back),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct BookingQuery {
    token: Option<String>,
    /// Why the last step sent the buyer back here (`card_declined`, …).
    problem: Option<String>,
    /// Set after a payment went through: the confirmation is on its way.
    paid: Option<String>,
}

/// `GET /bookings/{id}`: the booking in whatever state it is.
pub async fn booking(
    State(web): State<Arc<Web>>,
    visitor: Visitor,
    Path(id): Path<BookingId>,
    Query(q): Query<BookingQuery>,
) -> Response {
    let token = q.token.as_deref().filter(|t| !t.is_empty());
    let booking = match web.ticketing.bookings().booking(visitor.principal.as_ref(), token, id).await {
        Ok(b) => b,
        Err(e) => return error_page(&web, &visitor, e),
    };
    let event = match web.events.event(visitor.principal.as_ref(), booking.summary.event_id).await {
        Ok(e) => e,
        Err(e) => return error_page(&web, &visitor, e),
    };
    let s = &booking.summary;
    let locale = visitor.locale;
    let zone = kernel::validate::zone_of(&event.time_zone);
    let total = web.i18n.money(locale, s.total, &s.currency);
    let (provider, offline) = match web.payments.checkout_options(s.org_id).await {
        Ok(o) => o,
        Err(e) => return error_page(&web, &visitor, e),
    };
    let tickets: Vec<Value> = booking
        .tickets
        .iter()
        .map(|t| {
            let type_name = booking.positions.iter().find(|p| p.ticket_type_id == t.ticket_type_id).map(|p| p.ticket_type_name.clone());
            json!({
                "code": t.code, "attendee": t.attendee_name, "type_name": type_name,
                "status": t.status, "valid": t.status == TicketStatus::Valid,
                "qr_svg": t.qr.as_deref().map(|q| qr::svg(q, &text(&web, &visitor, "ticket-qr-label", &[("code", t.code.clone().into())]))),
                "checked_in": t.checked_in_at.map(|at| web.i18n.datetime(locale, at.with_timezone(&zone).fixed_offset())),
            })
        })
        .collect();
    let positions: Vec<Value> = booking
        .positions
        .iter()
        .map(|p| json!({ "name": p.ticket_type_name, "quantity": p.quantity, "price": web.i18n.money(locale, p.unit_price, &p.currency) }))
        .collect();
    // One name field per admission, filled with what is known.
    let attendees: Vec<Value> = (0..s.quantity as usize)
        .map(|i| json!({ "index": i, "name": booking.attendees.get(i).map(|a| a.name.clone()) }))
        .collect();
    let hold = s
        .hold_expires_at
        .map(|at| json!({ "iso": at.to_rfc3339(), "text": web.i18n.datetime(locale, at.with_timezone(&zone).fixed_offset()) }));
    let pending = s.status == BookingStatus::PendingPayment;
    let problem = q.problem.as_deref().map(|code| {
        web.i18n.lookup(locale, &format!("problem-{code}")).unwrap_or_else(|| text(&web, &visitor, "problem-payment-failed", &[]))
    });
    Page::new(&web, &visitor)
        .set("booking", s)
        .set(
            "event",
            json!({ "id": event.id, "name": event.name, "starts": event.local_starts_at,
                                "venue": event.venue.as_ref().map(|v| format!("{}, {}", v.name, v.city)) }),
        )
        .set("token", token)
        .set("total", total)
        .set("positions", positions)
        .set("tickets", tickets)
        .set("attendees", attendees)
        .set("hold", hold)
        .set("pending", pending)
        .set("confirming", pending && q.problem.is_none() && q.paid.is_some())
        .set(
            "provider",
            match provider {
                ProviderKind::Stripe => "stripe",
                _ => "test",
            },
        )
        .set("offline", offline)
        .set("problem", problem)
        .set("pay_key", super::form_key())
        .set("cancellable", pending || (s.status == BookingStatus::Confirmed && s.total == 0))
        .ok("booking.html")
}

#[derive(Debug, Deserialize)]
pub struct TokenForm {
    token: Option<String>,
}

/// `POST /bookings/{id}/details`: the attendees' names (`attendee.<n>`).
pub async fn details(
    State(web): State<Arc<Web>>,
    visitor: Visitor,
    Path(id): Path<BookingId>,
    CsrfForm(form): CsrfForm<HashMap<String, String>>,
) -> Response {
    let token = form.get("token").map(String::as_str).filter(|t| !t.is_empty());
    let back = booking_url(id, token);
    let mut named: Vec<(usize, String)> =
        form.iter().filter_map(|(k, v)| Some((k.strip_prefix("attendee.")?.parse().ok()?, v.trim().to_string()))).collect();
    named.sort();
    let attendees: Vec<Attendee> =
        named.into_iter().filter(|(_, n)| !n.is_empty()).map(|(_, name)| Attendee { name, email: None }).collect();
    let req = UpdateBooking { attendees: Some(attendees), ..UpdateBooking::default() };
    let result = web.ticketing.bookings().update_booking(visitor.principal.as_ref(), token, id, req).await;
    super::after(&web, &visitor, "checkout-failed", result, &back)
}

#[derive(Debug, Deserialize)]
pub struct PayForm {
    token: Option<String>,
    /// The test provider's card number (spaces allowed).
    card: Option<String>,
    /// `card` (the test provider), `stripe` (hosted checkout) or `authenticate` (finishing a
    /// test card's 3-D Secure step: `outcome` is `succeeded` or `failed`).
    method: String,
    outcome: Option<String>,
}

/// `POST /bookings/{id}/pay`.
pub async fn pay(
    State(web): State<Arc<Web>>,
    visitor: Visitor,
    Path(id): Path<BookingId>,
    CsrfForm(form): CsrfForm<PayForm>,
) -> Response {
    let token = form.token.filter(|t| !t.is_empty());
    let back = booking_url(id, token.as_deref());
    let mut req = ProcessPayment { reference: format!("booking:{id}"), token: token.clone(), ..ProcessPayment::default() };
    match form.method.as_str() {
        "card" => req.payment_method = Some(form.card.unwrap_or_default().chars().filter(|c| !c.is_whitespace()).collect()),
        "stripe" => {
            req.flow = Some(Flow::Checkout);
            req.success_url = Some(format!("{}{back}", web.public_url));
            req.cancel_url = Some(format!("{}{back}", web.public_url));
        }
        "authenticate" => req.authentication = form.outcome,
        _ => {
            return form_failed(
                &web,
                &visitor,
                "checkout-failed",
                AppError::validation("method", "must be card, stripe or authenticate"),
                &back,
            );
        }
    }
    match web.payments.process(visitor.principal.as_ref(), req).await {
        Ok(payment) => {
            if let Some(url) = payment.checkout_url.filter(|_| form.method == "stripe") {
                return see_other(&url);
            }
            match payment.status {
                payments::PaymentStatus::Failed => {
                    let code = payment.failure_code.unwrap_or_else(|| "payment_failed".into());
                    see_other(&format!("{back}{}problem={code}", if back.contains('?') { '&' } else { '?' }))
                }
                payments::PaymentStatus::RequiresAction => Page::new(&web, &visitor)
                    .set("booking_id", id)
                    .set("token", token)
                    .set("pay_key", super::form_key())
                    .set("back", back)
                    .ok("authenticate.html"),
                _ => see_other(&format!("{back}{}paid=1", if back.contains('?') { '&' } else { '?' })),
            }
        }
        Err(e) => form_failed(&web, &visitor, "checkout-failed", e, &back),
    }
}

/// `POST /bookings/{id}/cancel`: the buyer gives up a pending hold or a free booking.
pub async fn cancel(
    State(web): State<Arc<Web>>,
    visitor: Visitor,
    Path(id): Path<BookingId>,
    CsrfForm(form): CsrfForm<TokenForm>,
) -> Response {
    let token = form.token.filter(|t| !t.is_empty());
    let back = booking_url(id, token.as_deref());
    let result = web.ticketing.bookings().cancel_booking(visitor.principal.as_ref(), token.as_deref(), id).await;
    super::after(&web, &visitor, "checkout-failed", result, &back)
}

/// `POST /bookings/{id}/pdf`: the printable tickets — straight to the file once it is
/// rendered, else a page that looks again in a moment.
pub async fn pdf(
    State(web): State<Arc<Web>>,
    visitor: Visitor,
    Path(id): Path<BookingId>,
    CsrfForm(form): CsrfForm<TokenForm>,
) -> Response {
    let token = form.token.filter(|t| !t.is_empty());
    let back = booking_url(id, token.as_deref());
    let p = visitor.principal.as_ref();
    let doc = match web.ticketing.check_in().ticket_document(p, token.as_deref(), id).await {
        Ok(doc) => Ok(doc),
        Err(AppError::NotFound { .. }) => web.ticketing.check_in().request_ticket_document(p, token.as_deref(), id).await,
        Err(e) => Err(e),
    };
    match doc {
        Ok(doc) => match doc.url {
            Some(url) => see_other(&url),
            None => Page::new(&web, &visitor)
                .set("booking_id", id)
                .set("token", token)
                .set("back", back)
                .render(StatusCode::ACCEPTED, "pdf_pending.html"),
        },
        Err(e) => form_failed(&web, &visitor, "checkout-failed", e, &back),
    }
}

/// `GET /bookings/{id}/qr/{code}?token=…`: one ticket's QR code as an SVG file, to keep in a
/// phone's photos or a wallet app that takes images.
pub async fn qr_image(
    State(web): State<Arc<Web>>,
    visitor: Visitor,
    Path((id, code)): Path<(BookingId, String)>,
    Query(q): Query<BookingQuery>,
) -> Response {
    let token = q.token.as_deref().filter(|t| !t.is_empty());
    let booking = match web.ticketing.bookings().booking(visitor.principal.as_ref(), token, id).await {
        Ok(b) => b,
        Err(e) => return error_page(&web, &visitor, e),
    };
    let Some((ticket, qr)) = booking.tickets.iter().find(|t| t.code == code).and_then(|t| Some((t, t.qr.as_deref()?))) else {
        return error_page(&web, &visitor, AppError::not_found("ticket"));
    };
    let svg = qr::svg(qr, &text(&web, &visitor, "ticket-qr-label", &[("code", ticket.code.clone().into())]));
    let disposition = format!("attachment; filename=\"ticket-{}.svg\"", ticket.code);
    let headers = [
        (axum::http::header::CONTENT_TYPE, "image/svg+xml".to_string()),
        (axum::http::header::CONTENT_DISPOSITION, disposition),
        (axum::http::header::CACHE_CONTROL, "private, no-store".to_string()),
    ];
    axum::response::IntoResponse::into_response((headers, svg))
}
