//! Request and response shapes of the events API.
//!
//! Instants are UTC (`starts_at`, `ends_at`); every event also carries its IANA `time_zone`
//! and the same instants rendered as wall-clock time in that zone (`local_starts_at`), so
//! clients never have to guess. In partial updates an absent field is left as it is; for a
//! field that can be empty, `null` clears it.

use chrono::{DateTime, Utc};
use kernel::id::OrgId;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::{EventId, EventSessionId, EventStatus, VenueId};

/// Reads a present field (even `null`) as `Some`, so `Option<Option<T>>` tells an absent
/// field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

// ---- venues -----------------------------------------------------------------------------

/// A place where events happen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Venue {
    pub id: VenueId,
    pub org_id: OrgId,
    pub name: String,
    pub address: Option<String>,
    pub city: String,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: String,
    pub capacity: Option<i64>,
    /// IANA zone; the default zone of events held here.
    pub time_zone: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct CreateVenue {
    /// 1–200 characters.
    pub name: String,
    pub address: Option<String>,
    pub city: String,
    /// ISO 3166-1 alpha-2 (`DE`); lower case is accepted.
    pub country: String,
    /// 0 or more.
    pub capacity: Option<i64>,
    /// IANA zone, e.g. `Europe/Berlin`.
    pub time_zone: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct UpdateVenue {
    pub name: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, nullable)]
    pub address: Option<Option<String>>,
    pub city: Option<String>,
    pub country: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<i64>, nullable)]
    pub capacity: Option<Option<i64>>,
    pub time_zone: Option<String>,
}

/// What an event listing shows of its venue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VenueSummary {
    pub id: VenueId,
    pub name: String,
    pub city: String,
    pub country: String,
}

// ---- events -----------------------------------------------------------------------------

/// An event as listed (no description, no agenda).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EventSummary {
    pub id: EventId,
    pub org_id: OrgId,
    pub name: String,
    pub category: Option<String>,
    pub tags: Vec<String>,
    pub performers: Vec<String>,
    pub image_url: Option<String>,
    pub status: EventStatus,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// IANA zone the event takes place in.
    pub time_zone: String,
    /// `starts_at` as wall-clock time in `time_zone`, RFC 3339 with offset.
    #[schema(example = "2025-01-10T20:00:00+01:00")]
    pub local_starts_at: String,
    #[schema(example = "2025-01-10T23:00:00+01:00")]
    pub local_ends_at: String,
    pub venue: Option<VenueSummary>,
    pub published_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
}

/// An event with its venue and agenda.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EventDetail {
    pub id: EventId,
    pub org_id: OrgId,
    pub venue_id: Option<VenueId>,
    pub name: String,
    pub description: String,
    pub category: Option<String>,
    pub tags: Vec<String>,
    pub performers: Vec<String>,
    pub image_url: Option<String>,
    pub status: EventStatus,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// IANA zone the event takes place in.
    pub time_zone: String,
    /// `starts_at` as wall-clock time in `time_zone`, RFC 3339 with offset.
    #[schema(example = "2025-01-10T20:00:00+01:00")]
    pub local_starts_at: String,
    #[schema(example = "2025-01-10T23:00:00+01:00")]
    pub local_ends_at: String,
    pub published_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub venue: Option<Venue>,
    /// The agenda, by start time.
    pub sessions: Vec<EventSession>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct CreateEvent {
    pub org_id: OrgId,
    /// A venue of the same organization.
    pub venue_id: Option<VenueId>,
    /// 1–200 characters.
    pub name: String,
    /// Up to 20,000 characters.
    pub description: Option<String>,
    /// Up to 60 characters.
    pub category: Option<String>,
    /// Up to 20 tags of up to 40 characters.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Up to 50 names of up to 120 characters.
    #[serde(default)]
    pub performers: Vec<String>,
    /// An http(s) URL.
    pub image_url: Option<String>,
    /// `draft` (default) or `published`.
    pub status: Option<EventStatus>,
    pub starts_at: DateTime<Utc>,
    /// After `starts_at`.
    pub ends_at: DateTime<Utc>,
    /// IANA zone; defaults to the venue's zone, and is required without a venue.
    pub time_zone: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct UpdateEvent {
    /// `null` removes the venue. Without `time_zone`, the event takes the new venue's zone.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = Uuid, nullable)]
    pub venue_id: Option<Option<VenueId>>,
    pub name: Option<String>,
    pub description: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, nullable)]
    pub category: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    pub performers: Option<Vec<String>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, nullable)]
    pub image_url: Option<Option<String>>,
    /// draft ↔ published, draft/published → cancelled; cancelled is final (`409 invalid_transition`).
    pub status: Option<EventStatus>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub time_zone: Option<String>,
}

/// Filters of the event listing and search.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Full-text query over name, performers and description; every word is a prefix match.
    pub q: Option<String>,
    /// Events starting at or after this instant (RFC 3339).
    pub from: Option<String>,
    /// Events starting at or before this instant (RFC 3339).
    pub to: Option<String>,
    /// The venue's city, case-insensitive.
    pub city: Option<String>,
    /// Case-insensitive.
    pub category: Option<String>,
    /// Only events of this organization.
    #[param(value_type = Option<String>, format = Uuid)]
    pub org_id: Option<OrgId>,
    /// Members of `org_id` (viewer or above) may list drafts and cancelled events; for
    /// everyone else the listing holds published events only and this is ignored.
    #[param(inline)]
    pub status: Option<EventStatus>,
    /// Opaque cursor from a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Items per page, 1–100 (default 20).
    pub limit: Option<i64>,
}

// ---- facts for other contexts -------------------------------------------------------------

/// What other contexts (ticketing) need to know about an event, without any visibility check:
/// the caller decides what to do with a draft, cancelled or deleted event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventFacts {
    pub id: EventId,
    pub org_id: OrgId,
    pub status: EventStatus,
    /// Soft-deleted (restorable by an admin).
    pub deleted: bool,
    pub name: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// IANA zone the event takes place in.
    pub time_zone: String,
    pub venue_name: Option<String>,
    pub venue_city: Option<String>,
    pub venue_address: Option<String>,
    pub venue_country: Option<String>,
}

/// One agenda item as other contexts see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionFacts {
    pub id: EventSessionId,
    pub title: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

// ---- sessions ---------------------------------------------------------------------------

/// One item of an event's agenda.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EventSession {
    pub id: EventSessionId,
    pub event_id: EventId,
    pub title: String,
    pub description: Option<String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// `starts_at` in the event's zone, RFC 3339 with offset.
    pub local_starts_at: String,
    pub local_ends_at: String,
    pub room: Option<String>,
    pub performers: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct CreateSession {
    /// 1–200 characters.
    pub title: String,
    /// Up to 5,000 characters.
    pub description: Option<String>,
    pub starts_at: DateTime<Utc>,
    /// After `starts_at`, at most 7 days later.
    pub ends_at: DateTime<Utc>,
    /// Stage or room, up to 120 characters.
    pub room: Option<String>,
    #[serde(default)]
    pub performers: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct UpdateSession {
    pub title: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, nullable)]
    pub description: Option<Option<String>>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, nullable)]
    pub room: Option<Option<String>>,
    pub performers: Option<Vec<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_updates_tell_null_from_absent() {
        let u: UpdateEvent = serde_json::from_str(r#"{"category": null, "name": "X"}"#).unwrap();
        assert_eq!(u.category, Some(None));
        assert_eq!(u.image_url, None);
        assert_eq!(u.name.as_deref(), Some("X"));
        let u: UpdateVenue = serde_json::from_str(r#"{"capacity": 10}"#).unwrap();
        assert_eq!(u.capacity, Some(Some(10)));
        assert_eq!(u.address, None);
    }
}
