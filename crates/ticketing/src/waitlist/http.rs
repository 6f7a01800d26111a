//! REST handlers of the waitlist. Thin: extract, call the service, respond.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use events::EventId;
use kernel::AppResult;
use kernel::auth::{Auth, MaybeAuth};
use kernel::error::Problem;
use kernel::extract::{Json, Path, Query};
use kernel::pagination::Page;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::TicketingService;
use crate::domain::WaitlistEntryId;
use crate::model::*;

type Svc = State<Arc<TicketingService>>;

/// Join the waitlist of a sold-out ticket type or session (anyone). Only when it has no room
/// for `quantity` (`409 tickets_available` otherwise). The public joins the last tier; staff
/// may place someone in any of the event's tiers. Anonymous joiners get a `waitlist_token`.
#[utoipa::path(post, path = "/api/events/{id}/waitlist", tag = "waitlist", params(("id" = String, Path, description = "Event id")),
    request_body = JoinWaitlist, responses(
    (status = 201, body = WaitlistJoined), (status = 404, body = Problem),
    (status = 409, description = "`tickets_available`, `already_waiting`, `sales_closed` or `not_on_sale`", body = Problem),
    (status = 422, description = "Invalid field", body = Problem)),
    security((), ("bearer" = [])))]
async fn join_waitlist(
    State(svc): Svc,
    auth: MaybeAuth,
    Path(id): Path<EventId>,
    Json(req): Json<JoinWaitlist>,
) -> AppResult<(StatusCode, Json<WaitlistJoined>)> {
    Ok((StatusCode::CREATED, Json(svc.waitlist().join_waitlist(auth.0.as_ref(), id, req).await?)))
}

/// An event's waitlist in queue order — tier, then join order — with each waiting entry's
/// place in line (members).
#[utoipa::path(get, path = "/api/events/{id}/waitlist", tag = "waitlist", params(("id" = String, Path, description = "Event id"), WaitlistQuery),
    responses((status = 200, body = Page<WaitlistEntry>), (status = 404, body = Problem), (status = 422, description = "Invalid filter", body = Problem)),
    security(("bearer" = [])))]
async fn list_waitlist(
    State(svc): Svc,
    auth: Auth,
    Path(id): Path<EventId>,
    Query(q): Query<WaitlistQuery>,
) -> AppResult<Json<Page<WaitlistEntry>>> {
    Ok(Json(svc.waitlist().event_waitlist(&auth.0, id, q).await?))
}

/// A waitlist entry: status, tier, place in line, offer and its expiry (its person — signed
/// in, or with `?token=` — or members of the organization).
#[utoipa::path(get, path = "/api/waitlist/{id}", tag = "waitlist", params(("id" = String, Path, description = "Waitlist entry id"), WaitlistTokenQuery),
    responses((status = 200, body = WaitlistEntry), (status = 404, body = Problem)), security((), ("bearer" = [])))]
async fn get_entry(
    State(svc): Svc,
    auth: MaybeAuth,
    Path(id): Path<WaitlistEntryId>,
    Query(t): Query<WaitlistTokenQuery>,
) -> AppResult<Json<WaitlistEntry>> {
    Ok(Json(svc.waitlist().waitlist_entry(auth.0.as_ref(), t.token.as_deref(), id).await?))
}

/// Move an entry to another of the event's tiers (staff and above).
#[utoipa::path(put, path = "/api/waitlist/{id}", tag = "waitlist", params(("id" = String, Path, description = "Waitlist entry id")),
    request_body = UpdateWaitlistEntry, responses(
    (status = 200, body = WaitlistEntry), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 409, description = "The entry is closed", body = Problem), (status = 422, description = "Unknown tier", body = Problem)),
    security(("bearer" = [])))]
async fn update_entry(
    State(svc): Svc,
    auth: Auth,
    Path(id): Path<WaitlistEntryId>,
    Json(req): Json<UpdateWaitlistEntry>,
) -> AppResult<Json<WaitlistEntry>> {
    Ok(Json(svc.waitlist().update_waitlist_entry(&auth.0, id, req).await?))
}

/// Leave the waitlist (its person), or remove someone from it (staff and above). An open
/// offer is cancelled and goes to the next in line.
#[utoipa::path(delete, path = "/api/waitlist/{id}", tag = "waitlist", params(("id" = String, Path, description = "Waitlist entry id"), WaitlistTokenQuery),
    responses((status = 200, body = WaitlistEntry), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 409, description = "Already closed, or its offer was paid (`already_paid`)", body = Problem)), security((), ("bearer" = [])))]
async fn leave(
    State(svc): Svc,
    auth: MaybeAuth,
    Path(id): Path<WaitlistEntryId>,
    Query(t): Query<WaitlistTokenQuery>,
) -> AppResult<Json<WaitlistEntry>> {
    Ok(Json(svc.waitlist().leave_waitlist(auth.0.as_ref(), t.token.as_deref(), id).await?))
}

/// Accept an offer (its person). A free offer is confirmed at once with its tickets; a priced
/// one stays `pending_payment` until the offer expiry and is paid like any booking. The
/// answer carries the booking, and its `booking_token` for people who are not signed in.
#[utoipa::path(post, path = "/api/waitlist/{id}/accept", tag = "waitlist", params(("id" = String, Path, description = "Waitlist entry id"), WaitlistTokenQuery),
    responses((status = 200, body = WaitlistAccepted), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 409, description = "`no_offer`, `already_accepted` or `offer_expired`", body = Problem)),
    security((), ("bearer" = [])))]
async fn accept(
    State(svc): Svc,
    auth: MaybeAuth,
    Path(id): Path<WaitlistEntryId>,
    Query(t): Query<WaitlistTokenQuery>,
) -> AppResult<Json<WaitlistAccepted>> {
    Ok(Json(svc.waitlist().accept_offer(auth.0.as_ref(), t.token.as_deref(), id).await?))
}

/// Decline an offer (its person, or staff and above): its seats are released and offered to
/// the next in line.
#[utoipa::path(post, path = "/api/waitlist/{id}/decline", tag = "waitlist", params(("id" = String, Path, description = "Waitlist entry id"), WaitlistTokenQuery),
    responses((status = 200, body = WaitlistEntry), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 409, description = "No open offer (`no_offer`), or it was paid (`already_paid`)", body = Problem)), security((), ("bearer" = [])))]
async fn decline(
    State(svc): Svc,
    auth: MaybeAuth,
    Path(id): Path<WaitlistEntryId>,
    Query(t): Query<WaitlistTokenQuery>,
) -> AppResult<Json<WaitlistEntry>> {
    Ok(Json(svc.waitlist().decline_offer(auth.0.as_ref(), t.token.as_deref(), id).await?))
}

pub(crate) fn router() -> OpenApiRouter<Arc<TicketingService>> {
    OpenApiRouter::new()
        .routes(routes!(list_waitlist, join_waitlist))
        .routes(routes!(get_entry, update_entry, leave))
        .routes(routes!(accept))
        .routes(routes!(decline))
}
