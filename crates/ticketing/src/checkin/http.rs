//! REST handlers of check-in — lists, scans one at a time or in offline batches, undoing
//! an admission — and of the tickets people carry: their PDF and the organization's signing
//! keys. Thin: extract, call the service (which checks who may do what), respond.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use events::EventId;
use kernel::AppResult;
use kernel::auth::{Auth, MaybeAuth};
use kernel::error::Problem;
use kernel::extract::{Json, Path, Query};
use kernel::id::OrgId;
use kernel::pagination::{Page, PageParams};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::TicketingService;
use crate::domain::{BookingId, CheckinId, CheckinListId};
use crate::model::*;

type Svc = State<Arc<TicketingService>>;

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
    Ok((StatusCode::ACCEPTED, Json(svc.check_in().request_ticket_document(auth.0.as_ref(), t.token.as_deref(), id).await?)))
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
    Ok(Json(svc.check_in().ticket_document(auth.0.as_ref(), t.token.as_deref(), id).await?))
}

/// The organization's ticket-signing public keys as a JWK set (public): scanners verify QR
/// payloads offline with them. The first key signs new tickets.
#[utoipa::path(get, path = "/api/orgs/{id}/ticket-keys", tag = "tickets", params(("id" = String, Path, description = "Organization id")),
    responses((status = 200, body = TicketKeys), (status = 404, body = Problem)), security(()))]
async fn ticket_keys(State(svc): Svc, Path(id): Path<OrgId>) -> AppResult<Json<TicketKeys>> {
    Ok(Json(svc.check_in().ticket_keys(id).await?))
}

/// Rotate the organization's signing key (owners and admins): the old key stays published,
/// so tickets handed out before keep verifying.
#[utoipa::path(post, path = "/api/orgs/{id}/ticket-keys/rotate", tag = "tickets", params(("id" = String, Path, description = "Organization id")),
    responses((status = 200, body = TicketKeys), (status = 403, body = Problem), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn rotate_ticket_key(State(svc): Svc, auth: Auth, Path(id): Path<OrgId>) -> AppResult<Json<TicketKeys>> {
    Ok(Json(svc.check_in().rotate_ticket_key(&auth.0, id).await?))
}

// ---- check-in -------------------------------------------------------------------------------------

/// An event's check-in lists (members).
#[utoipa::path(get, path = "/api/events/{id}/checkin-lists", tag = "check-in", params(("id" = String, Path, description = "Event id")),
    responses((status = 200, body = Vec<CheckinList>), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn list_checkin_lists(State(svc): Svc, auth: Auth, Path(id): Path<EventId>) -> AppResult<Json<Vec<CheckinList>>> {
    Ok(Json(svc.check_in().checkin_lists(&auth.0, id).await?))
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
    Ok((StatusCode::CREATED, Json(svc.check_in().create_checkin_list(&auth.0, id, req).await?)))
}

#[utoipa::path(get, path = "/api/checkin-lists/{id}", tag = "check-in", params(("id" = String, Path, description = "Check-in list id")),
    responses((status = 200, body = CheckinList), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn get_checkin_list(State(svc): Svc, auth: Auth, Path(id): Path<CheckinListId>) -> AppResult<Json<CheckinList>> {
    Ok(Json(svc.check_in().checkin_list(&auth.0, id).await?))
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
    Ok(Json(svc.check_in().update_checkin_list(&auth.0, id, req).await?))
}

/// Delete a check-in list and its scan log (staff and above).
#[utoipa::path(delete, path = "/api/checkin-lists/{id}", tag = "check-in", params(("id" = String, Path, description = "Check-in list id")),
    responses((status = 204, description = "Deleted"), (status = 403, body = Problem), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn delete_checkin_list(State(svc): Svc, auth: Auth, Path(id): Path<CheckinListId>) -> AppResult<StatusCode> {
    svc.check_in().delete_checkin_list(&auth.0, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A check-in list's progress (members): tickets it admits and how many came in, per type.
#[utoipa::path(get, path = "/api/checkin-lists/{id}/status", tag = "check-in", params(("id" = String, Path, description = "Check-in list id")),
    responses((status = 200, body = CheckinListStatus), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn checkin_list_status(State(svc): Svc, auth: Auth, Path(id): Path<CheckinListId>) -> AppResult<Json<CheckinListStatus>> {
    Ok(Json(svc.check_in().checkin_list_status(&auth.0, id).await?))
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
    Ok(Json(svc.check_in().checkin_list_tickets(&auth.0, id, page).await?))
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
    Ok(Json(svc.check_in().check_in(&auth.0, req).await?))
}

/// Upload scans recorded offline (staff and above): 1–500, each with its `scan_id`; answered
/// in order. Safe to repeat: scans already recorded return their first answer.
#[utoipa::path(post, path = "/api/checkins/batch", tag = "check-in", request_body = CheckinBatch,
    responses((status = 200, body = CheckinBatchResult), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 409, description = "A scan id was used for another code", body = Problem),
    (status = 422, description = "Invalid field", body = Problem)), security(("bearer" = [])))]
async fn check_in_batch(State(svc): Svc, auth: Auth, Json(req): Json<CheckinBatch>) -> AppResult<Json<CheckinBatchResult>> {
    Ok(Json(svc.check_in().check_in_batch(&auth.0, req).await?))
}

/// One recorded scan (members).
#[utoipa::path(get, path = "/api/checkins/{id}", tag = "check-in", params(("id" = String, Path, description = "Check-in id")),
    responses((status = 200, body = Checkin), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn get_checkin(State(svc): Svc, auth: Auth, Path(id): Path<CheckinId>) -> AppResult<Json<Checkin>> {
    Ok(Json(svc.check_in().checkin_record(&auth.0, id).await?))
}

/// Undo an admission (staff and above), e.g. scanned at the wrong door: the ticket can be
/// checked in again.
#[utoipa::path(post, path = "/api/checkins/{id}/undo", tag = "check-in", params(("id" = String, Path, description = "Check-in id")),
    responses((status = 200, body = Checkin), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 409, description = "Not an admission, or undone already", body = Problem)), security(("bearer" = [])))]
async fn undo_checkin(State(svc): Svc, auth: Auth, Path(id): Path<CheckinId>) -> AppResult<Json<Checkin>> {
    Ok(Json(svc.check_in().undo_checkin(&auth.0, id).await?))
}

pub(crate) fn router() -> OpenApiRouter<Arc<TicketingService>> {
    OpenApiRouter::new()
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
}
