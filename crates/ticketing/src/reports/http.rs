//! REST handlers of the booking lists (paged, or streamed as CSV) and sales statistics.
//! Thin: extract, call the service (which checks who may do what), respond.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use events::EventId;
use kernel::AppResult;
use kernel::auth::{Auth, Principal};
use kernel::error::{AppError, Problem};
use kernel::extract::{Json, Path, Query};
use kernel::id::UserId;
use kernel::pagination::{Page, PageParams};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::TicketingService;
use crate::model::*;

type Svc = State<Arc<TicketingService>>;

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
    Ok(Json(svc.reports().user_bookings(&auth.0, uid, page).await?))
}

/// Sales statistics of an event (members): sold/held/capacity per ticket type and quota,
/// gross per currency, sales per day in the event's zone.
#[utoipa::path(get, path = "/api/bookings/stats", tag = "bookings", params(StatsQuery),
    responses((status = 200, body = BookingStats), (status = 404, body = Problem), (status = 422, description = "Missing event_id", body = Problem)),
    security(("bearer" = [])))]
async fn booking_stats(State(svc): Svc, auth: Auth, Query(q): Query<StatsQuery>) -> AppResult<Json<BookingStats>> {
    Ok(Json(svc.reports().stats(&auth.0, q.event_id).await?))
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
        None | Some("json") => Ok(Json(svc.reports().event_bookings(&auth.0, id, q).await?).into_response()),
        Some("csv") => csv_download(&svc, &auth.0, id, q).await,
        Some(_) => Err(AppError::validation("format", "must be json or csv")),
    }
}
/// The event's bookings as a CSV download, streamed (the API's `?format=csv`, and the
/// organizer pages' export link).
pub async fn csv_download(svc: &TicketingService, p: &Principal, id: EventId, q: BookingQuery) -> AppResult<Response> {
    let stream = svc.reports().export_csv(p, id, q).await?;
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"bookings-{id}.csv\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

pub(crate) fn router() -> OpenApiRouter<Arc<TicketingService>> {
    OpenApiRouter::new().routes(routes!(booking_stats)).routes(routes!(user_bookings)).routes(routes!(event_bookings))
}
