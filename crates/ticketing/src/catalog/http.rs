//! REST handlers of the catalog: ticket types, quotas, vouchers and ticketing settings.
//! Thin: extract, call the service (which checks who may do what), respond.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use events::EventId;
use kernel::AppResult;
use kernel::auth::{Auth, MaybeAuth};
use kernel::error::Problem;
use kernel::extract::{Json, Path, Query};
use kernel::pagination::{Page, PageParams};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::TicketingService;
use crate::domain::{QuotaId, TicketTypeId, VoucherId};
use crate::model::*;

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
    Ok(Json(svc.catalog().ticket_types(auth.0.as_ref(), id, q).await?))
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
    Ok((StatusCode::CREATED, Json(svc.catalog().create_ticket_type(&auth.0, id, req).await?)))
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
    Ok(Json(svc.catalog().update_ticket_type(&auth.0, id, req).await?))
}

/// Delete a ticket type that was never booked (staff and above).
#[utoipa::path(delete, path = "/api/ticket-types/{id}", tag = "ticketing", params(("id" = String, Path, description = "Ticket type id")),
    responses((status = 204, description = "Deleted"), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 409, description = "The type has bookings", body = Problem)), security(("bearer" = [])))]
async fn delete_ticket_type(State(svc): Svc, auth: Auth, Path(id): Path<TicketTypeId>) -> AppResult<StatusCode> {
    svc.catalog().delete_ticket_type(&auth.0, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- quotas ---------------------------------------------------------------------------------

/// An event's quotas (capacity pools) with what is taken (members).
#[utoipa::path(get, path = "/api/events/{id}/quotas", tag = "ticketing", params(("id" = String, Path, description = "Event id")),
    responses((status = 200, body = Vec<Quota>), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn list_quotas(State(svc): Svc, auth: Auth, Path(id): Path<EventId>) -> AppResult<Json<Vec<Quota>>> {
    Ok(Json(svc.catalog().quotas(&auth.0, id).await?))
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
    Ok((StatusCode::CREATED, Json(svc.catalog().create_quota(&auth.0, id, req).await?)))
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
    Ok(Json(svc.catalog().update_quota(&auth.0, id, req).await?))
}

/// Delete a quota from which no seat is held or sold (staff and above).
#[utoipa::path(delete, path = "/api/quotas/{id}", tag = "ticketing", params(("id" = String, Path, description = "Quota id")),
    responses((status = 204, description = "Deleted"), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 409, description = "Seats are taken", body = Problem)), security(("bearer" = [])))]
async fn delete_quota(State(svc): Svc, auth: Auth, Path(id): Path<QuotaId>) -> AppResult<StatusCode> {
    svc.catalog().delete_quota(&auth.0, id).await?;
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
    Ok(Json(svc.catalog().vouchers(&auth.0, id, page).await?))
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
    Ok((StatusCode::CREATED, Json(svc.catalog().create_voucher(&auth.0, id, req).await?)))
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
    Ok(Json(svc.catalog().update_voucher(&auth.0, id, req).await?))
}

/// Delete a voucher no live booking uses (staff and above).
#[utoipa::path(delete, path = "/api/vouchers/{id}", tag = "ticketing", params(("id" = String, Path, description = "Voucher id")),
    responses((status = 204, description = "Deleted"), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 409, description = "In use", body = Problem)), security(("bearer" = [])))]
async fn delete_voucher(State(svc): Svc, auth: Auth, Path(id): Path<VoucherId>) -> AppResult<StatusCode> {
    svc.catalog().delete_voucher(&auth.0, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- settings -------------------------------------------------------------------------------

/// The event's ticketing settings (members).
#[utoipa::path(get, path = "/api/events/{id}/ticketing-settings", tag = "ticketing", params(("id" = String, Path, description = "Event id")),
    responses((status = 200, body = TicketingSettings), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn get_settings(State(svc): Svc, auth: Auth, Path(id): Path<EventId>) -> AppResult<Json<TicketingSettings>> {
    Ok(Json(svc.catalog().settings(&auth.0, id).await?))
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
    Ok(Json(svc.catalog().update_settings(&auth.0, id, req).await?))
}

pub(crate) fn router() -> OpenApiRouter<Arc<TicketingService>> {
    OpenApiRouter::new()
        .routes(routes!(list_ticket_types, create_ticket_type))
        .routes(routes!(update_ticket_type, delete_ticket_type))
        .routes(routes!(list_quotas, create_quota))
        .routes(routes!(update_quota, delete_quota))
        .routes(routes!(list_vouchers, create_voucher))
        .routes(routes!(update_voucher, delete_voucher))
        .routes(routes!(get_settings, update_settings))
}
