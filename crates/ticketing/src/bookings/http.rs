//! REST handlers of bookings: booking, reading, changing, cancelling, marking paid. Thin:
//! extract, call the service (which checks who may do what), respond.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use kernel::AppResult;
use kernel::auth::{Auth, MaybeAuth};
use kernel::error::Problem;
use kernel::extract::{Json, Path, Query};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::TicketingService;
use crate::domain::BookingId;
use crate::model::*;

type Svc = State<Arc<TicketingService>>;

// ---- bookings -------------------------------------------------------------------------------

/// Book tickets (anyone; honours `Idempotency-Key`). Free bookings are confirmed at once
/// with their tickets; priced ones hold their seats as `pending_payment` until marked paid
/// or the hold expires. The answer carries a `booking_token` for buyers who are not signed in.
#[utoipa::path(post, path = "/api/bookings", tag = "bookings", request_body = CreateBooking, responses(
    (status = 201, body = BookingCreated),
    (status = 409, description = "`sold_out`, `sales_closed`, `voucher_used_up` or `buyer_limit`", body = Problem),
    (status = 422, description = "Invalid field (unknown event or ticket type, bad quantity, voucher …)", body = Problem)),
    security((), ("bearer" = [])))]
async fn create_booking(
    State(svc): Svc,
    auth: MaybeAuth,
    Json(req): Json<CreateBooking>,
) -> AppResult<(StatusCode, Json<BookingCreated>)> {
    Ok((StatusCode::CREATED, Json(svc.bookings().create_booking(auth.0.as_ref(), req).await?)))
}

/// A booking with its positions and tickets (its buyer — signed in, or with `?token=` — or
/// members of the organization).
#[utoipa::path(get, path = "/api/bookings/{id}", tag = "bookings", params(("id" = String, Path, description = "Booking id"), TokenQuery),
    responses((status = 200, body = Booking), (status = 404, body = Problem)), security((), ("bearer" = [])))]
async fn get_booking(
    State(svc): Svc,
    auth: MaybeAuth,
    Path(id): Path<BookingId>,
    Query(t): Query<TokenQuery>,
) -> AppResult<Json<Booking>> {
    Ok(Json(svc.bookings().booking(auth.0.as_ref(), t.token.as_deref(), id).await?))
}

/// Change the buyer's details or the attendees of a live booking (its buyer, or staff).
#[utoipa::path(put, path = "/api/bookings/{id}", tag = "bookings", params(("id" = String, Path, description = "Booking id"), TokenQuery),
    request_body = UpdateBooking, responses(
    (status = 200, body = Booking), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 409, description = "Not live, or buyer limit", body = Problem), (status = 422, description = "Invalid field", body = Problem)),
    security((), ("bearer" = [])))]
async fn update_booking(
    State(svc): Svc,
    auth: MaybeAuth,
    Path(id): Path<BookingId>,
    Query(t): Query<TokenQuery>,
    Json(req): Json<UpdateBooking>,
) -> AppResult<Json<Booking>> {
    Ok(Json(svc.bookings().update_booking(auth.0.as_ref(), t.token.as_deref(), id, req).await?))
}

/// Cancel a booking: its seats are released, its tickets voided, `booking.cancelled`
/// published. Buyers cancel pending or free bookings; staff cancel any live booking.
#[utoipa::path(delete, path = "/api/bookings/{id}", tag = "bookings", params(("id" = String, Path, description = "Booking id"), TokenQuery),
    responses((status = 200, body = Booking), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 409, description = "Not live", body = Problem)), security((), ("bearer" = [])))]
async fn cancel_booking(
    State(svc): Svc,
    auth: MaybeAuth,
    Path(id): Path<BookingId>,
    Query(t): Query<TokenQuery>,
) -> AppResult<Json<Booking>> {
    Ok(Json(svc.bookings().cancel_booking(auth.0.as_ref(), t.token.as_deref(), id).await?))
}

/// Mark a pending (or expired, if its seats are still free) booking paid offline (staff and
/// above): confirmed, tickets issued, the money recorded as an `offline` payment (ledger:
/// `cash`).
#[utoipa::path(post, path = "/api/bookings/{id}/mark-paid", tag = "bookings", params(("id" = String, Path, description = "Booking id")),
    request_body = MarkPaid, responses(
    (status = 200, body = Booking), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 409, description = "Already confirmed, cancelled, sold out since expiry, offline payments turned off, or another payment in progress", body = Problem)),
    security(("bearer" = [])))]
async fn mark_paid(
    State(svc): Svc,
    auth: Auth,
    Path(id): Path<BookingId>,
    Json(req): Json<MarkPaid>,
) -> AppResult<Json<Booking>> {
    Ok(Json(svc.bookings().mark_paid(&auth.0, id, req).await?))
}
pub(crate) fn router() -> OpenApiRouter<Arc<TicketingService>> {
    OpenApiRouter::new()
        .routes(routes!(create_booking))
        .routes(routes!(get_booking, update_booking, cancel_booking))
        .routes(routes!(mark_paid))
}
