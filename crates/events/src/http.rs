//! REST handlers for events, their agenda, venues and iCal. Thin: extract, call the service
//! (which checks who may do what), respond.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kernel::AppResult;
use kernel::auth::{Auth, MaybeAuth};
use kernel::error::Problem;
use kernel::extract::{Json, Path, Query};
use kernel::id::OrgId;
use kernel::pagination::{Page, PageParams};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::{EventId, EventSessionId, VenueId};
use crate::model::*;
use crate::service::EventsService;

type Svc = State<Arc<EventsService>>;

fn calendar_response(body: String, filename: &str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/calendar; charset=utf-8"));
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

// ---- events -------------------------------------------------------------------------------

/// List events by start time. Anonymous callers and non-members see published events only;
/// members of `org_id` also see its drafts and cancelled events and may filter by `status`.
#[utoipa::path(get, path = "/api/events", tag = "events", params(EventQuery), responses(
    (status = 200, body = Page<EventSummary>), (status = 422, description = "Invalid filter", body = Problem)),
    security((), ("bearer" = [])))]
async fn list_events(State(svc): Svc, auth: MaybeAuth, Query(q): Query<EventQuery>) -> AppResult<Json<Page<EventSummary>>> {
    Ok(Json(svc.list_events(auth.0.as_ref(), q).await?))
}

/// Full-text search over name, performers and description, with the listing's filters and
/// order. Every word is a prefix match; all must match.
#[utoipa::path(get, path = "/api/events/search", tag = "events", params(EventSearchQuery), responses(
    (status = 200, body = Page<EventSummary>), (status = 422, description = "Missing or invalid `q`", body = Problem)),
    security((), ("bearer" = [])))]
async fn search_events(
    State(svc): Svc,
    auth: MaybeAuth,
    Query(q): Query<EventSearchQuery>,
) -> AppResult<Json<Page<EventSummary>>> {
    Ok(Json(svc.search_events(auth.0.as_ref(), q.into()).await?))
}

/// Create an event (staff and above in `org_id`).
#[utoipa::path(post, path = "/api/events", tag = "events", request_body = CreateEvent, responses(
    (status = 201, body = EventDetail), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 422, description = "Invalid field", body = Problem)), security(("bearer" = [])))]
async fn create_event(State(svc): Svc, auth: Auth, Json(req): Json<CreateEvent>) -> AppResult<(StatusCode, Json<EventDetail>)> {
    Ok((StatusCode::CREATED, Json(svc.create_event(&auth.0, req).await?)))
}

/// An event with its venue and agenda. Published events are public; drafts and cancelled
/// events are visible to members of the organization.
#[utoipa::path(get, path = "/api/events/{id}", tag = "events", params(("id" = String, Path, description = "Event id")), responses(
    (status = 200, body = EventDetail), (status = 404, body = Problem)), security((), ("bearer" = [])))]
async fn get_event(State(svc): Svc, auth: MaybeAuth, Path(id): Path<EventId>) -> AppResult<Response> {
    let json = svc.event_json(auth.0.as_ref(), id).await?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], json).into_response())
}

/// Change an event (staff and above): only the fields present. Status: draft ↔ published,
/// draft/published → cancelled; cancelled is final.
#[utoipa::path(put, path = "/api/events/{id}", tag = "events", params(("id" = String, Path, description = "Event id")),
    request_body = UpdateEvent, responses(
    (status = 200, body = EventDetail), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 409, description = "Invalid status transition", body = Problem), (status = 422, description = "Invalid field", body = Problem)),
    security(("bearer" = [])))]
async fn update_event(
    State(svc): Svc,
    auth: Auth,
    Path(id): Path<EventId>,
    Json(req): Json<UpdateEvent>,
) -> AppResult<Json<EventDetail>> {
    Ok(Json(svc.update_event(&auth.0, id, req).await?))
}

/// Delete an event (admins and above). It can be restored.
#[utoipa::path(delete, path = "/api/events/{id}", tag = "events", params(("id" = String, Path, description = "Event id")), responses(
    (status = 204, description = "Deleted"), (status = 403, body = Problem), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn delete_event(State(svc): Svc, auth: Auth, Path(id): Path<EventId>) -> AppResult<StatusCode> {
    svc.delete_event(&auth.0, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Restore a deleted event (admins and above).
#[utoipa::path(post, path = "/api/events/{id}/restore", tag = "events", params(("id" = String, Path, description = "Event id")), responses(
    (status = 200, body = EventDetail), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 409, description = "Not deleted", body = Problem)), security(("bearer" = [])))]
async fn restore_event(State(svc): Svc, auth: Auth, Path(id): Path<EventId>) -> AppResult<Json<EventDetail>> {
    Ok(Json(svc.restore_event(&auth.0, id).await?))
}

/// The event as an iCalendar file (times in the event's zone, with its VTIMEZONE).
#[utoipa::path(get, path = "/api/events/{id}/ical", tag = "events", params(("id" = String, Path, description = "Event id")), responses(
    (status = 200, description = "iCalendar", content_type = "text/calendar", body = String), (status = 404, body = Problem)),
    security((), ("bearer" = [])))]
async fn event_ical(State(svc): Svc, auth: MaybeAuth, Path(id): Path<EventId>) -> AppResult<Response> {
    let body = svc.event_ical(auth.0.as_ref(), id).await?;
    Ok(calendar_response(body, &format!("{id}.ics")))
}

/// An organization's upcoming published events as an iCalendar feed (public; subscribe to it).
#[utoipa::path(get, path = "/api/orgs/{org_id}/events.ics", tag = "events", params(("org_id" = String, Path, description = "Organization id")),
    responses((status = 200, description = "iCalendar feed", content_type = "text/calendar", body = String)))]
async fn org_feed(State(svc): Svc, Path(org_id): Path<OrgId>) -> AppResult<Response> {
    let body = svc.org_feed(org_id).await?;
    Ok(calendar_response(body, "events.ics"))
}

// ---- sessions -------------------------------------------------------------------------------

/// The event's agenda, by start time (visible to whoever may see the event).
#[utoipa::path(get, path = "/api/events/{id}/sessions", tag = "events", params(("id" = String, Path, description = "Event id")), responses(
    (status = 200, body = Vec<EventSession>), (status = 404, body = Problem)), security((), ("bearer" = [])))]
async fn list_sessions(State(svc): Svc, auth: MaybeAuth, Path(id): Path<EventId>) -> AppResult<Json<Vec<EventSession>>> {
    Ok(Json(svc.sessions(auth.0.as_ref(), id).await?))
}

/// Add an agenda item (staff and above).
#[utoipa::path(post, path = "/api/events/{id}/sessions", tag = "events", params(("id" = String, Path, description = "Event id")),
    request_body = CreateSession, responses(
    (status = 201, body = EventSession), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 422, description = "Invalid field", body = Problem)), security(("bearer" = [])))]
async fn create_session(
    State(svc): Svc,
    auth: Auth,
    Path(id): Path<EventId>,
    Json(req): Json<CreateSession>,
) -> AppResult<(StatusCode, Json<EventSession>)> {
    Ok((StatusCode::CREATED, Json(svc.create_session(&auth.0, id, req).await?)))
}

/// Change an agenda item (staff and above).
#[utoipa::path(put, path = "/api/events/{id}/sessions/{session_id}", tag = "events",
    params(("id" = String, Path, description = "Event id"), ("session_id" = String, Path, description = "Session id")),
    request_body = UpdateSession, responses(
    (status = 200, body = EventSession), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 422, description = "Invalid field", body = Problem)), security(("bearer" = [])))]
async fn update_session(
    State(svc): Svc,
    auth: Auth,
    Path((id, session_id)): Path<(EventId, EventSessionId)>,
    Json(req): Json<UpdateSession>,
) -> AppResult<Json<EventSession>> {
    Ok(Json(svc.update_session(&auth.0, id, session_id, req).await?))
}

/// Remove an agenda item (staff and above).
#[utoipa::path(delete, path = "/api/events/{id}/sessions/{session_id}", tag = "events",
    params(("id" = String, Path, description = "Event id"), ("session_id" = String, Path, description = "Session id")),
    responses((status = 204, description = "Removed"), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn delete_session(
    State(svc): Svc,
    auth: Auth,
    Path((id, session_id)): Path<(EventId, EventSessionId)>,
) -> AppResult<StatusCode> {
    svc.delete_session(&auth.0, id, session_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- venues ---------------------------------------------------------------------------------

/// An organization's venues by name (members).
#[utoipa::path(get, path = "/api/orgs/{org_id}/venues", tag = "venues", params(("org_id" = String, Path, description = "Organization id"), PageParams),
    responses((status = 200, body = Page<Venue>), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn list_venues(
    State(svc): Svc,
    auth: Auth,
    Path(org_id): Path<OrgId>,
    Query(page): Query<PageParams>,
) -> AppResult<Json<Page<Venue>>> {
    Ok(Json(svc.venues(&auth.0, org_id, page).await?))
}

/// Create a venue (staff and above).
#[utoipa::path(post, path = "/api/orgs/{org_id}/venues", tag = "venues", params(("org_id" = String, Path, description = "Organization id")),
    request_body = CreateVenue, responses(
    (status = 201, body = Venue), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 422, description = "Invalid field", body = Problem)), security(("bearer" = [])))]
async fn create_venue(
    State(svc): Svc,
    auth: Auth,
    Path(org_id): Path<OrgId>,
    Json(req): Json<CreateVenue>,
) -> AppResult<(StatusCode, Json<Venue>)> {
    Ok((StatusCode::CREATED, Json(svc.create_venue(&auth.0, org_id, req).await?)))
}

/// A venue (members of its organization).
#[utoipa::path(get, path = "/api/venues/{id}", tag = "venues", params(("id" = String, Path, description = "Venue id")), responses(
    (status = 200, body = Venue), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn get_venue(State(svc): Svc, auth: Auth, Path(id): Path<VenueId>) -> AppResult<Json<Venue>> {
    Ok(Json(svc.venue(&auth.0, id).await?))
}

/// Change a venue (staff and above): only the fields present.
#[utoipa::path(put, path = "/api/venues/{id}", tag = "venues", params(("id" = String, Path, description = "Venue id")),
    request_body = UpdateVenue, responses(
    (status = 200, body = Venue), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 422, description = "Invalid field", body = Problem)), security(("bearer" = [])))]
async fn update_venue(
    State(svc): Svc,
    auth: Auth,
    Path(id): Path<VenueId>,
    Json(req): Json<UpdateVenue>,
) -> AppResult<Json<Venue>> {
    Ok(Json(svc.update_venue(&auth.0, id, req).await?))
}

/// Delete a venue no event uses (staff and above).
#[utoipa::path(delete, path = "/api/venues/{id}", tag = "venues", params(("id" = String, Path, description = "Venue id")), responses(
    (status = 204, description = "Deleted"), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 409, description = "Events use the venue", body = Problem)), security(("bearer" = [])))]
async fn delete_venue(State(svc): Svc, auth: Auth, Path(id): Path<VenueId>) -> AppResult<StatusCode> {
    svc.delete_venue(&auth.0, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router(svc: Arc<EventsService>) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(list_events, create_event))
        .routes(routes!(search_events))
        .routes(routes!(get_event, update_event, delete_event))
        .routes(routes!(restore_event))
        .routes(routes!(event_ical))
        .routes(routes!(list_sessions, create_session))
        .routes(routes!(update_session, delete_session))
        .routes(routes!(org_feed))
        .routes(routes!(list_venues, create_venue))
        .routes(routes!(get_venue, update_venue, delete_venue))
        .with_state(svc)
}
