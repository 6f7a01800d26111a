//! REST handlers for ticket types, quotas, vouchers, ticketing settings, bookings, ticket PDFs
//! and signing keys, and check-in. Thin:
//! extract, call the service (which checks who may do what), respond.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use events::EventId;
use kernel::AppResult;
use kernel::auth::{Auth, MaybeAuth};
use kernel::error::{AppError, Problem};
use kernel::extract::{Json, Path, Query};
use kernel::id::{OrgId, UserId};
use kernel::pagination::{Page, PageParams};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::{BookingId, CheckinId, CheckinListId, QuotaId, TicketTypeId, VoucherId};
use crate::model::*;
use crate::service::TicketingService;

mod waitlist;

type Svc = State<Arc<TicketingService>>;

// ---- ticket types ---------------------------------------------------------------------------

/// An event's ticket types by sort order, with availability. Everyone sees the public types
/// of a published event (and hidden types a `voucher` unlocks); members see all.
#[utoipa::path(get, path = "/api/events/{id}/ticket-types", tag = "ticketing",
    params(("id" = String, Path, description = "Event id"), TicketTypeQuery), responses(
    (status = 200, body = Vec<TicketType>), (status = 404, body = Problem), (status = 422, description = "Unknown voucher", body = Problem)),
    security((), ("bearer" = [])))]
async fn list_ticket_types(
    State(svc): Svc,
    auth: MaybeAuth,
    Path(id): Path<EventId>,
    Query(q): Query<TicketTypeQuery>,
) -> AppResult<Json<Vec<TicketType>>> {
    Ok(Json(svc.ticket_types(auth.0.as_ref(), id, q).await?))
}

/// Create a ticket type (staff and above). With `capacity`, a quota holding just this type
/// is created too; otherwise add the type to a quota before it can be booked.
#[utoipa::path(post, path = "/api/events/{id}/ticket-types", tag = "ticketing", params(("id" = String, Path, description = "Event id")),
    request_body = CreateTicketType, responses(
    (status = 201, body = TicketType), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 409, description = "Too many ticket types", body = Problem), (status = 422, description = "Invalid field", body = Problem)),
    security(("bearer" = [])))]
async fn create_ticket_type(
    State(svc): Svc,
    auth: Auth,
    Path(id): Path<EventId>,
    Json(req): Json<CreateTicketType>,
) -> AppResult<(StatusCode, Json<TicketType>)> {
    Ok((StatusCode::CREATED, Json(svc.create_ticket_type(&auth.0, id, req).await?)))
}

/// Change a ticket type (staff and above): only the fields present.
#[utoipa::path(put, path = "/api/ticket-types/{id}", tag = "ticketing", params(("id" = String, Path, description = "Ticket type id")),
    request_body = UpdateTicketType, responses(
    (status = 200, body = TicketType), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 422, description = "Invalid field", body = Problem)), security(("bearer" = [])))]
async fn update_ticket_type(
    State(svc): Svc,
    auth: Auth,
    Path(id): Path<TicketTypeId>,
    Json(req): Json<UpdateTicketType>,
) -> AppResult<Json<TicketType>> {
    Ok(Json(svc.update_ticket_type(&auth.0, id, req).await?))
}

/// Delete a ticket type that was never booked (staff and above).
#[utoipa::path(delete, path = "/api/ticket-types/{id}", tag = "ticketing", params(("id" = String, Path, description = "Ticket type id")),
    responses((status = 204, description = "Deleted"), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 409, description = "The type has bookings", body = Problem)), security(("bearer" = [])))]
async fn delete_ticket_type(State(svc): Svc, auth: Auth, Path(id): Path<TicketTypeId>) -> AppResult<StatusCode> {
    svc.delete_ticket_type(&auth.0, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- quotas ---------------------------------------------------------------------------------

/// An event's quotas (capacity pools) with what is taken (members).
#[utoipa::path(get, path = "/api/events/{id}/quotas", tag = "ticketing", params(("id" = String, Path, description = "Event id")),
    responses((status = 200, body = Vec<Quota>), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn list_quotas(State(svc): Svc, auth: Auth, Path(id): Path<EventId>) -> AppResult<Json<Vec<Quota>>> {
    Ok(Json(svc.quotas(&auth.0, id).await?))
}

/// Create a quota shared by some of the event's ticket types (staff and above).
#[utoipa::path(post, path = "/api/events/{id}/quotas", tag = "ticketing", params(("id" = String, Path, description = "Event id")),
    request_body = CreateQuota, responses(
    (status = 201, body = Quota), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 422, description = "Invalid field", body = Problem)), security(("bearer" = [])))]
async fn create_quota(
    State(svc): Svc,
    auth: Auth,
    Path(id): Path<EventId>,
    Json(req): Json<CreateQuota>,
) -> AppResult<(StatusCode, Json<Quota>)> {
    Ok((StatusCode::CREATED, Json(svc.create_quota(&auth.0, id, req).await?)))
}

/// Change a quota (staff and above). Capacity cannot go below what is taken; raising it
/// publishes `quota.capacity_raised`.
#[utoipa::path(put, path = "/api/quotas/{id}", tag = "ticketing", params(("id" = String, Path, description = "Quota id")),
    request_body = UpdateQuota, responses(
    (status = 200, body = Quota), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 409, description = "Capacity below taken", body = Problem), (status = 422, description = "Invalid field", body = Problem)),
    security(("bearer" = [])))]
async fn update_quota(
    State(svc): Svc,
    auth: Auth,
    Path(id): Path<QuotaId>,
    Json(req): Json<UpdateQuota>,
) -> AppResult<Json<Quota>> {
    Ok(Json(svc.update_quota(&auth.0, id, req).await?))
}

/// Delete a quota from which no seat is held or sold (staff and above).
#[utoipa::path(delete, path = "/api/quotas/{id}", tag = "ticketing", params(("id" = String, Path, description = "Quota id")),
    responses((status = 204, description = "Deleted"), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 409, description = "Seats are taken", body = Problem)), security(("bearer" = [])))]
async fn delete_quota(State(svc): Svc, auth: Auth, Path(id): Path<QuotaId>) -> AppResult<StatusCode> {
    svc.delete_quota(&auth.0, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- vouchers -------------------------------------------------------------------------------

/// An event's vouchers by code (members).
#[utoipa::path(get, path = "/api/events/{id}/vouchers", tag = "ticketing", params(("id" = String, Path, description = "Event id"), PageParams),
    responses((status = 200, body = Page<Voucher>), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn list_vouchers(
    State(svc): Svc,
    auth: Auth,
    Path(id): Path<EventId>,
    Query(page): Query<PageParams>,
) -> AppResult<Json<Page<Voucher>>> {
    Ok(Json(svc.vouchers(&auth.0, id, page).await?))
}

/// Create a voucher (staff and above).
#[utoipa::path(post, path = "/api/events/{id}/vouchers", tag = "ticketing", params(("id" = String, Path, description = "Event id")),
    request_body = CreateVoucher, responses(
    (status = 201, body = Voucher), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 409, description = "Code taken", body = Problem), (status = 422, description = "Invalid field", body = Problem)),
    security(("bearer" = [])))]
async fn create_voucher(
    State(svc): Svc,
    auth: Auth,
    Path(id): Path<EventId>,
    Json(req): Json<CreateVoucher>,
) -> AppResult<(StatusCode, Json<Voucher>)> {
    Ok((StatusCode::CREATED, Json(svc.create_voucher(&auth.0, id, req).await?)))
}

/// Change a voucher (staff and above): only the fields present.
#[utoipa::path(put, path = "/api/vouchers/{id}", tag = "ticketing", params(("id" = String, Path, description = "Voucher id")),
    request_body = UpdateVoucher, responses(
    (status = 200, body = Voucher), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 409, description = "Code taken, or max_uses below uses", body = Problem), (status = 422, description = "Invalid field", body = Problem)),
    security(("bearer" = [])))]
async fn update_voucher(
    State(svc): Svc,
    auth: Auth,
    Path(id): Path<VoucherId>,
    Json(req): Json<UpdateVoucher>,
) -> AppResult<Json<Voucher>> {
    Ok(Json(svc.update_voucher(&auth.0, id, req).await?))
}

/// Delete a voucher no live booking uses (staff and above).
#[utoipa::path(delete, path = "/api/vouchers/{id}", tag = "ticketing", params(("id" = String, Path, description = "Voucher id")),
    responses((status = 204, description = "Deleted"), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 409, description = "In use", body = Problem)), security(("bearer" = [])))]
async fn delete_voucher(State(svc): Svc, auth: Auth, Path(id): Path<VoucherId>) -> AppResult<StatusCode> {
    svc.delete_voucher(&auth.0, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- settings -------------------------------------------------------------------------------

/// The event's ticketing settings (members).
#[utoipa::path(get, path = "/api/events/{id}/ticketing-settings", tag = "ticketing", params(("id" = String, Path, description = "Event id")),
    responses((status = 200, body = TicketingSettings), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn get_settings(State(svc): Svc, auth: Auth, Path(id): Path<EventId>) -> AppResult<Json<TicketingSettings>> {
    Ok(Json(svc.settings(&auth.0, id).await?))
}

/// Change the event's ticketing settings (staff and above): only the fields present.
#[utoipa::path(put, path = "/api/events/{id}/ticketing-settings", tag = "ticketing", params(("id" = String, Path, description = "Event id")),
    request_body = UpdateTicketingSettings, responses(
    (status = 200, body = TicketingSettings), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 422, description = "Invalid field", body = Problem)), security(("bearer" = [])))]
async fn update_settings(
    State(svc): Svc,
    auth: Auth,
    Path(id): Path<EventId>,
    Json(req): Json<UpdateTicketingSettings>,
) -> AppResult<Json<TicketingSettings>> {
    Ok(Json(svc.update_settings(&auth.0, id, req).await?))
}

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
    Ok((StatusCode::CREATED, Json(svc.create_booking(auth.0.as_ref(), req).await?)))
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
    Ok(Json(svc.booking(auth.0.as_ref(), t.token.as_deref(), id).await?))
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
    Ok(Json(svc.update_booking(auth.0.as_ref(), t.token.as_deref(), id, req).await?))
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
    Ok(Json(svc.cancel_booking(auth.0.as_ref(), t.token.as_deref(), id).await?))
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
    Ok(Json(svc.mark_paid(&auth.0, id, req).await?))
}

/// A user's bookings, newest first: your own, or — for members of organizations — the
/// user's bookings with those organizations.
#[utoipa::path(get, path = "/api/bookings/user/{uid}", tag = "bookings", params(("uid" = String, Path, description = "User id"), PageParams),
    responses((status = 200, body = Page<BookingSummary>), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn user_bookings(
    State(svc): Svc,
    auth: Auth,
    Path(uid): Path<UserId>,
    Query(page): Query<PageParams>,
) -> AppResult<Json<Page<BookingSummary>>> {
    Ok(Json(svc.user_bookings(&auth.0, uid, page).await?))
}

/// Sales statistics of an event (members): sold/held/capacity per ticket type and quota,
/// gross per currency, sales per day in the event's zone.
#[utoipa::path(get, path = "/api/bookings/stats", tag = "bookings", params(StatsQuery),
    responses((status = 200, body = BookingStats), (status = 404, body = Problem), (status = 422, description = "Missing event_id", body = Problem)),
    security(("bearer" = [])))]
async fn booking_stats(State(svc): Svc, auth: Auth, Query(q): Query<StatsQuery>) -> AppResult<Json<BookingStats>> {
    Ok(Json(svc.stats(&auth.0, q.event_id).await?))
}

/// An event's bookings, newest first (members): filter by `status`, search by buyer name,
/// email, booking or ticket code. `?format=csv` streams every matching position as CSV.
#[utoipa::path(get, path = "/api/events/{id}/bookings", tag = "bookings", params(("id" = String, Path, description = "Event id"), BookingQuery),
    responses(
    (status = 200, description = "A page of bookings, or CSV with `format=csv`", content(
        (Page<BookingSummary> = "application/json"), (String = "text/csv"))),
    (status = 404, body = Problem), (status = 422, description = "Invalid filter", body = Problem)),
    security(("bearer" = [])))]
async fn event_bookings(
    State(svc): Svc,
    auth: Auth,
    Path(id): Path<EventId>,
    Query(q): Query<BookingQuery>,
) -> AppResult<Response> {
    match q.format.as_deref() {
        None | Some("json") => Ok(Json(svc.event_bookings(&auth.0, id, q).await?).into_response()),
        Some("csv") => {
            let stream = svc.export_csv(&auth.0, id, q).await?;
            let mut response = Body::from_stream(stream).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
            if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"bookings-{id}.csv\"")) {
                headers.insert(header::CONTENT_DISPOSITION, v);
            }
            Ok(response)
        }
        Some(_) => Err(AppError::validation("format", "must be json or csv")),
    }
}

// ---- tickets: PDFs and signing keys -------------------------------------------------------------

/// Render the booking's tickets as one PDF (its buyer, or staff): a job renders every valid
/// ticket, a page each (QR, event, time in the event's zone, venue, attendee), into the file
/// store. Poll `GET` on the same path for the download link.
#[utoipa::path(post, path = "/api/bookings/{id}/ticket", tag = "tickets", params(("id" = String, Path, description = "Booking id"), TokenQuery),
    responses((status = 202, description = "Rendering", body = TicketDocument), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 409, description = "The booking is not confirmed", body = Problem)), security((), ("bearer" = [])))]
async fn request_ticket_pdf(
    State(svc): Svc,
    auth: MaybeAuth,
    Path(id): Path<BookingId>,
    Query(t): Query<TokenQuery>,
) -> AppResult<(StatusCode, Json<TicketDocument>)> {
    Ok((StatusCode::ACCEPTED, Json(svc.request_ticket_document(auth.0.as_ref(), t.token.as_deref(), id).await?)))
}

/// The booking's ticket PDF: `pending`, `failed`, or `ready` with a download link valid for
/// 15 minutes.
#[utoipa::path(get, path = "/api/bookings/{id}/ticket", tag = "tickets", params(("id" = String, Path, description = "Booking id"), TokenQuery),
    responses((status = 200, body = TicketDocument), (status = 404, description = "No such booking, or no PDF asked for", body = Problem)),
    security((), ("bearer" = [])))]
async fn get_ticket_pdf(
    State(svc): Svc,
    auth: MaybeAuth,
    Path(id): Path<BookingId>,
    Query(t): Query<TokenQuery>,
) -> AppResult<Json<TicketDocument>> {
    Ok(Json(svc.ticket_document(auth.0.as_ref(), t.token.as_deref(), id).await?))
}

/// The organization's ticket-signing public keys as a JWK set (public): scanners verify QR
/// payloads offline with them. The first key signs new tickets.
#[utoipa::path(get, path = "/api/orgs/{id}/ticket-keys", tag = "tickets", params(("id" = String, Path, description = "Organization id")),
    responses((status = 200, body = TicketKeys), (status = 404, body = Problem)), security(()))]
async fn ticket_keys(State(svc): Svc, Path(id): Path<OrgId>) -> AppResult<Json<TicketKeys>> {
    Ok(Json(svc.ticket_keys(id).await?))
}

/// Rotate the organization's signing key (owners and admins): the old key stays published,
/// so tickets handed out before keep verifying.
#[utoipa::path(post, path = "/api/orgs/{id}/ticket-keys/rotate", tag = "tickets", params(("id" = String, Path, description = "Organization id")),
    responses((status = 200, body = TicketKeys), (status = 403, body = Problem), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn rotate_ticket_key(State(svc): Svc, auth: Auth, Path(id): Path<OrgId>) -> AppResult<Json<TicketKeys>> {
    Ok(Json(svc.rotate_ticket_key(&auth.0, id).await?))
}

// ---- check-in -------------------------------------------------------------------------------------

/// An event's check-in lists (members).
#[utoipa::path(get, path = "/api/events/{id}/checkin-lists", tag = "check-in", params(("id" = String, Path, description = "Event id")),
    responses((status = 200, body = Vec<CheckinList>), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn list_checkin_lists(State(svc): Svc, auth: Auth, Path(id): Path<EventId>) -> AppResult<Json<Vec<CheckinList>>> {
    Ok(Json(svc.checkin_lists(&auth.0, id).await?))
}

/// Create a check-in list (staff and above): which ticket types a door admits, and when.
#[utoipa::path(post, path = "/api/events/{id}/checkin-lists", tag = "check-in", params(("id" = String, Path, description = "Event id")),
    request_body = CreateCheckinList, responses((status = 201, body = CheckinList), (status = 403, body = Problem),
    (status = 404, body = Problem), (status = 422, description = "Invalid field", body = Problem)), security(("bearer" = [])))]
async fn create_checkin_list(
    State(svc): Svc,
    auth: Auth,
    Path(id): Path<EventId>,
    Json(req): Json<CreateCheckinList>,
) -> AppResult<(StatusCode, Json<CheckinList>)> {
    Ok((StatusCode::CREATED, Json(svc.create_checkin_list(&auth.0, id, req).await?)))
}

#[utoipa::path(get, path = "/api/checkin-lists/{id}", tag = "check-in", params(("id" = String, Path, description = "Check-in list id")),
    responses((status = 200, body = CheckinList), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn get_checkin_list(State(svc): Svc, auth: Auth, Path(id): Path<CheckinListId>) -> AppResult<Json<CheckinList>> {
    Ok(Json(svc.checkin_list(&auth.0, id).await?))
}

/// Change a check-in list (staff and above): only the fields present.
#[utoipa::path(put, path = "/api/checkin-lists/{id}", tag = "check-in", params(("id" = String, Path, description = "Check-in list id")),
    request_body = UpdateCheckinList, responses((status = 200, body = CheckinList), (status = 403, body = Problem),
    (status = 404, body = Problem), (status = 422, description = "Invalid field", body = Problem)), security(("bearer" = [])))]
async fn update_checkin_list(
    State(svc): Svc,
    auth: Auth,
    Path(id): Path<CheckinListId>,
    Json(req): Json<UpdateCheckinList>,
) -> AppResult<Json<CheckinList>> {
    Ok(Json(svc.update_checkin_list(&auth.0, id, req).await?))
}

/// Delete a check-in list and its scan log (staff and above).
#[utoipa::path(delete, path = "/api/checkin-lists/{id}", tag = "check-in", params(("id" = String, Path, description = "Check-in list id")),
    responses((status = 204, description = "Deleted"), (status = 403, body = Problem), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn delete_checkin_list(State(svc): Svc, auth: Auth, Path(id): Path<CheckinListId>) -> AppResult<StatusCode> {
    svc.delete_checkin_list(&auth.0, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A check-in list's progress (members): tickets it admits and how many came in, per type.
#[utoipa::path(get, path = "/api/checkin-lists/{id}/status", tag = "check-in", params(("id" = String, Path, description = "Check-in list id")),
    responses((status = 200, body = CheckinListStatus), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn checkin_list_status(State(svc): Svc, auth: Auth, Path(id): Path<CheckinListId>) -> AppResult<Json<CheckinListStatus>> {
    Ok(Json(svc.checkin_list_status(&auth.0, id).await?))
}

/// The event's tickets for an offline scanner (staff and above): code, type, attendee,
/// status and admission on this list, in id order.
#[utoipa::path(get, path = "/api/checkin-lists/{id}/tickets", tag = "check-in",
    params(("id" = String, Path, description = "Check-in list id"), PageParams),
    responses((status = 200, body = Page<ListTicket>), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn checkin_list_tickets(
    State(svc): Svc,
    auth: Auth,
    Path(id): Path<CheckinListId>,
    Query(page): Query<PageParams>,
) -> AppResult<Json<Page<ListTicket>>> {
    Ok(Json(svc.checkin_list_tickets(&auth.0, id, page).await?))
}

/// Check a ticket in (staff and above): the scanned QR text or the typed code. The answer is
/// `200` whatever the scan found — `valid`, `already_checked_in` (with when and where),
/// `wrong_event`, `wrong_ticket_type`, `cancelled`, `not_yet_valid`, `closed`, `unknown`,
/// `invalid` (forged or damaged QR) — and every scan is recorded; only `valid` admits.
/// Sending a `scan_id` again returns the first answer (`replayed: true`).
#[utoipa::path(post, path = "/api/checkins", tag = "check-in", request_body = CheckinRequest,
    responses((status = 200, body = Checkin), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 409, description = "The scan id was used for another code", body = Problem),
    (status = 422, description = "Invalid field", body = Problem)), security(("bearer" = [])))]
async fn check_in(State(svc): Svc, auth: Auth, Json(req): Json<CheckinRequest>) -> AppResult<Json<Checkin>> {
    Ok(Json(svc.check_in(&auth.0, req).await?))
}

/// Upload scans recorded offline (staff and above): 1–500, each with its `scan_id`; answered
/// in order. Safe to repeat: scans already recorded return their first answer.
#[utoipa::path(post, path = "/api/checkins/batch", tag = "check-in", request_body = CheckinBatch,
    responses((status = 200, body = CheckinBatchResult), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 409, description = "A scan id was used for another code", body = Problem),
    (status = 422, description = "Invalid field", body = Problem)), security(("bearer" = [])))]
async fn check_in_batch(State(svc): Svc, auth: Auth, Json(req): Json<CheckinBatch>) -> AppResult<Json<CheckinBatchResult>> {
    Ok(Json(svc.check_in_batch(&auth.0, req).await?))
}

/// One recorded scan (members).
#[utoipa::path(get, path = "/api/checkins/{id}", tag = "check-in", params(("id" = String, Path, description = "Check-in id")),
    responses((status = 200, body = Checkin), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn get_checkin(State(svc): Svc, auth: Auth, Path(id): Path<CheckinId>) -> AppResult<Json<Checkin>> {
    Ok(Json(svc.checkin_record(&auth.0, id).await?))
}

/// Undo an admission (staff and above), e.g. scanned at the wrong door: the ticket can be
/// checked in again.
#[utoipa::path(post, path = "/api/checkins/{id}/undo", tag = "check-in", params(("id" = String, Path, description = "Check-in id")),
    responses((status = 200, body = Checkin), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 409, description = "Not an admission, or undone already", body = Problem)), security(("bearer" = [])))]
async fn undo_checkin(State(svc): Svc, auth: Auth, Path(id): Path<CheckinId>) -> AppResult<Json<Checkin>> {
    Ok(Json(svc.undo_checkin(&auth.0, id).await?))
}

pub fn router(svc: Arc<TicketingService>) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(list_ticket_types, create_ticket_type))
        .routes(routes!(update_ticket_type, delete_ticket_type))
        .routes(routes!(list_quotas, create_quota))
        .routes(routes!(update_quota, delete_quota))
        .routes(routes!(list_vouchers, create_voucher))
        .routes(routes!(update_voucher, delete_voucher))
        .routes(routes!(get_settings, update_settings))
        .routes(routes!(create_booking))
        .routes(routes!(booking_stats))
        .routes(routes!(user_bookings))
        .routes(routes!(get_booking, update_booking, cancel_booking))
        .routes(routes!(mark_paid))
        .routes(routes!(event_bookings))
        .routes(routes!(request_ticket_pdf, get_ticket_pdf))
        .routes(routes!(ticket_keys))
        .routes(routes!(rotate_ticket_key))
        .routes(routes!(list_checkin_lists, create_checkin_list))
        .routes(routes!(get_checkin_list, update_checkin_list, delete_checkin_list))
        .routes(routes!(checkin_list_status))
        .routes(routes!(checkin_list_tickets))
        .routes(routes!(check_in))
        .routes(routes!(check_in_batch))
        .routes(routes!(get_checkin))
        .routes(routes!(undo_checkin))
        .merge(waitlist::router())
        .with_state(svc)
}
