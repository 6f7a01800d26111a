//! Request and response shapes of the events API.
//!
//! Instants are UTC (`starts_at`, `ends_at`); every event also carries its IANA `time_zone`
//! and the same instants rendered as wall-clock time in that zone (`local_starts_at`), so
//! clients never have to guess. In partial updates an absent field is left as it is; for a
//! field that can be empty, `null` clears it.

use chrono::{DateTime, Utc};
use kernel::id::OrgId;
use kernel::validate;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AnyOfBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use crate::domain::{self, EventId, EventSessionId, EventStatus, VenueId};

/// Reads a present field (even `null`) as `Some`, so `Option<Option<T>>` tells an absent
/// field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

// ---- input schemas ----------------------------------------------------------------------
//
// Schema-only types (`#[schema(value_type = …)]`) that state in the OpenAPI description what
// the validators in `domain` and `kernel::validate` accept, built from the same constants. Texts are trimmed by the
// server, so their patterns allow surrounding whitespace; lengths count characters.

/// A schema-only string type: `pattern` and `max_length` of one validated field.
macro_rules! text_schema {
    ($(#[$doc:meta])* $name:ident, $pattern:expr, $max:expr) => {
        $(#[$doc])*
        #[allow(dead_code)]
        struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new().schema_type(Type::String).max_length(Some($max)).pattern(Some($pattern)).into()
            }
        }

        impl ToSchema for $name {}
    };
}

text_schema!(
    /// A venue or event name, a session title ([`validate::required_text`]).
    Name, validate::LINE_PATTERN, domain::NAME_MAX
);
text_schema!(City, validate::LINE_PATTERN, domain::CITY_MAX);
text_schema!(Tag, validate::LINE_PATTERN, domain::TAG_MAX);
text_schema!(Performer, validate::LINE_PATTERN, domain::PERFORMER_MAX);
text_schema!(
    /// [`validate::optional_text`]: blank means none.
    Category, validate::OPTIONAL_LINE_PATTERN, domain::CATEGORY_MAX
);
text_schema!(Room, validate::OPTIONAL_LINE_PATTERN, domain::ROOM_MAX);
text_schema!(
    /// [`validate::optional_long_text`]: may span lines; blank means none.
    Address, validate::MULTILINE_PATTERN, domain::ADDRESS_MAX
);
text_schema!(Description, validate::MULTILINE_PATTERN, domain::DESCRIPTION_MAX);
text_schema!(SessionDescription, validate::MULTILINE_PATTERN, domain::SESSION_DESCRIPTION_MAX);
text_schema!(
    /// [`validate::optional_url`], narrowed to URLs the parser surely accepts.
    ImageUrl, validate::URL_PATTERN, validate::URL_MAX
);
text_schema!(
    /// `q` of the listing ([`domain::SearchQuery::parse`]): blank, or with a letter or digit.
    OptionalSearchText, domain::OPTIONAL_QUERY_PATTERN, domain::QUERY_MAX
);

/// `q` of the search: required, with a letter or digit.
#[allow(dead_code)]
struct SearchText;

impl PartialSchema for SearchText {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(domain::QUERY_MAX))
            .pattern(Some(domain::QUERY_PATTERN))
            .into()
    }
}

impl ToSchema for SearchText {}

/// An instant of an event or session window ([`domain::time_window`]: years 1900–9999 in UTC).
#[allow(dead_code)]
struct Instant;

impl PartialSchema for Instant {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .pattern(Some(domain::INSTANT_PATTERN))
            .into()
    }
}

impl ToSchema for Instant {}

/// `from`/`to` of the listing ([`validate::parse_instant`]): RFC 3339, or blank for no bound.
#[allow(dead_code)]
struct InstantParam;

impl PartialSchema for InstantParam {
    fn schema() -> RefOr<Schema> {
        AnyOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))))
            .item(ObjectBuilder::new().schema_type(Type::String).pattern(Some(validate::BLANK_PATTERN)))
            .into()
    }
}

impl ToSchema for InstantParam {}

/// A venue's capacity ([`domain::capacity`]).
#[allow(dead_code)]
struct Capacity;

impl PartialSchema for Capacity {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(0))
            .maximum(Some(domain::CAPACITY_MAX))
            .into()
    }
}

impl ToSchema for Capacity {}

/// Items per page ([`kernel::pagination::PageParams::limit`]).
#[allow(dead_code)]
struct Limit;

impl PartialSchema for Limit {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(1))
            .maximum(Some(kernel::pagination::MAX_LIMIT))
            .into()
    }
}

impl ToSchema for Limit {}

/// A cursor ([`kernel::pagination::PageParams::decode`]): base64url without padding.
#[allow(dead_code)]
struct Cursor;

impl PartialSchema for Cursor {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::String).pattern(Some("^[A-Za-z0-9_-]+$")).into()
    }
}

impl ToSchema for Cursor {}

/// ISO 3166-1 alpha-2 country code, either case ([`validate::country`]).
#[allow(dead_code)]
struct CountryCode;

impl PartialSchema for CountryCode {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("ISO 3166-1 alpha-2 country code (`DE`); lower case is accepted."))
            .pattern(Some(validate::country_pattern()))
            .examples([serde_json::json!("DE")])
            .into()
    }
}

impl ToSchema for CountryCode {}

/// An IANA time zone name ([`validate::time_zone`]).
#[allow(dead_code)]
struct TimeZone;

impl PartialSchema for TimeZone {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("IANA time zone name, e.g. `Europe/Berlin`."))
            .enum_values(Some(validate::time_zone_names()))
            .into()
    }
}

impl ToSchema for TimeZone {}

/// The statuses a new event may start in.
#[allow(dead_code)]
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
enum NewEventStatus {
    Draft,
    Published,
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
    #[schema(value_type = Name, inline)]
    pub name: String,
    /// Up to 500 characters; may span lines.
    #[schema(value_type = Option<Address>, inline)]
    pub address: Option<String>,
    /// 1–120 characters.
    #[schema(value_type = City, inline)]
    pub city: String,
    /// ISO 3166-1 alpha-2 (`DE`); lower case is accepted.
    #[schema(value_type = CountryCode)]
    pub country: String,
    /// 0 to 10,000,000.
    #[schema(value_type = Option<Capacity>, inline)]
    pub capacity: Option<i64>,
    /// IANA zone, e.g. `Europe/Berlin`.
    #[schema(value_type = TimeZone)]
    pub time_zone: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct UpdateVenue {
    #[schema(value_type = Option<Name>, inline)]
    pub name: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Address>, inline, nullable)]
    pub address: Option<Option<String>>,
    #[schema(value_type = Option<City>, inline)]
    pub city: Option<String>,
    #[schema(value_type = Option<CountryCode>)]
    pub country: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Capacity>, inline, nullable)]
    pub capacity: Option<Option<i64>>,
    #[schema(value_type = Option<TimeZone>)]
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
    #[schema(value_type = Name, inline)]
    pub name: String,
    /// Up to 20,000 characters.
    #[schema(value_type = Option<Description>, inline)]
    pub description: Option<String>,
    /// Up to 60 characters.
    #[schema(value_type = Option<Category>, inline)]
    pub category: Option<String>,
    /// Up to 20 tags of up to 40 characters.
    #[serde(default)]
    #[schema(value_type = Vec<Tag>, inline, max_items = 20)]
    pub tags: Vec<String>,
    /// Up to 50 names of up to 120 characters.
    #[serde(default)]
    #[schema(value_type = Vec<Performer>, inline, max_items = 50)]
    pub performers: Vec<String>,
    /// An http(s) URL.
    #[schema(value_type = Option<ImageUrl>, inline)]
    pub image_url: Option<String>,
    /// `draft` (default) or `published`.
    #[schema(value_type = Option<NewEventStatus>, inline)]
    pub status: Option<EventStatus>,
    /// Years 1900–9999.
    #[schema(value_type = Instant, inline)]
    pub starts_at: DateTime<Utc>,
    /// After `starts_at`, at most 366 days later.
    #[schema(value_type = Instant, inline)]
    pub ends_at: DateTime<Utc>,
    /// IANA zone; defaults to the venue's zone, and is required without a venue.
    #[schema(value_type = Option<TimeZone>)]
    pub time_zone: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct UpdateEvent {
    /// `null` removes the venue. Without `time_zone`, the event takes the new venue's zone.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = Uuid, nullable)]
    pub venue_id: Option<Option<VenueId>>,
    #[schema(value_type = Option<Name>, inline)]
    pub name: Option<String>,
    #[schema(value_type = Option<Description>, inline)]
    pub description: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Category>, inline, nullable)]
    pub category: Option<Option<String>>,
    #[schema(value_type = Option<Vec<Tag>>, inline, max_items = 20)]
    pub tags: Option<Vec<String>>,
    #[schema(value_type = Option<Vec<Performer>>, inline, max_items = 50)]
    pub performers: Option<Vec<String>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<ImageUrl>, inline, nullable)]
    pub image_url: Option<Option<String>>,
    /// draft ↔ published, draft/published → cancelled; cancelled is final (`409 invalid_transition`).
    pub status: Option<EventStatus>,
    #[schema(value_type = Option<Instant>, inline)]
    pub starts_at: Option<DateTime<Utc>>,
    #[schema(value_type = Option<Instant>, inline)]
    pub ends_at: Option<DateTime<Utc>>,
    #[schema(value_type = Option<TimeZone>)]
    pub time_zone: Option<String>,
}

/// Filters of the event listing.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Full-text query over name, performers and description; every word is a prefix match.
    /// Blank means no search; otherwise it must contain a letter or digit.
    #[param(value_type = Option<OptionalSearchText>, inline)]
    pub q: Option<String>,
    /// Events starting at or after this instant (RFC 3339); blank means no bound.
    #[param(value_type = Option<InstantParam>, inline)]
    pub from: Option<String>,
    /// Events starting at or before this instant (RFC 3339); blank means no bound.
    #[param(value_type = Option<InstantParam>, inline)]
    pub to: Option<String>,
    /// The venue's city, case-insensitive; blank means any.
    pub city: Option<String>,
    /// Case-insensitive; blank means any.
    pub category: Option<String>,
    /// Only events of this organization.
    #[param(value_type = Option<String>, format = Uuid)]
    pub org_id: Option<OrgId>,
    /// Members of `org_id` (viewer or above) may list drafts and cancelled events; for
    /// everyone else the listing holds published events only and this is ignored.
    #[param(inline)]
    pub status: Option<EventStatus>,
    /// Opaque cursor from a previous page's `next_cursor`.
    #[param(value_type = Option<Cursor>, inline)]
    pub cursor: Option<String>,
    /// Items per page, 1–100 (default 20).
    #[param(value_type = Option<Limit>, inline)]
    pub limit: Option<i64>,
}

/// Filters of the event search: the listing's, with `q` required.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventSearchQuery {
    /// Full-text query over name, performers and description; every word is a prefix match.
    /// It must contain a letter or digit.
    #[param(value_type = SearchText, inline)]
    pub q: Option<String>,
    /// Events starting at or after this instant (RFC 3339); blank means no bound.
    #[param(value_type = Option<InstantParam>, inline)]
    pub from: Option<String>,
    /// Events starting at or before this instant (RFC 3339); blank means no bound.
    #[param(value_type = Option<InstantParam>, inline)]
    pub to: Option<String>,
    /// The venue's city, case-insensitive; blank means any.
    pub city: Option<String>,
    /// Case-insensitive; blank means any.
    pub category: Option<String>,
    /// Only events of this organization.
    #[param(value_type = Option<String>, format = Uuid)]
    pub org_id: Option<OrgId>,
    /// Members of `org_id` (viewer or above) may search drafts and cancelled events; for
    /// everyone else the search covers published events only and this is ignored.
    #[param(inline)]
    pub status: Option<EventStatus>,
    /// Opaque cursor from a previous page's `next_cursor`.
    #[param(value_type = Option<Cursor>, inline)]
    pub cursor: Option<String>,
    /// Items per page, 1–100 (default 20).
    #[param(value_type = Option<Limit>, inline)]
    pub limit: Option<i64>,
}

impl From<EventSearchQuery> for EventQuery {
    fn from(q: EventSearchQuery) -> EventQuery {
        let EventSearchQuery { q, from, to, city, category, org_id, status, cursor, limit } = q;
        EventQuery { q, from, to, city, category, org_id, status, cursor, limit }
    }
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
    #[schema(value_type = Name, inline)]
    pub title: String,
    /// Up to 5,000 characters.
    #[schema(value_type = Option<SessionDescription>, inline)]
    pub description: Option<String>,
    /// Years 1900–9999.
    #[schema(value_type = Instant, inline)]
    pub starts_at: DateTime<Utc>,
    /// After `starts_at`, at most 7 days later.
    #[schema(value_type = Instant, inline)]
    pub ends_at: DateTime<Utc>,
    /// Stage or room, up to 120 characters.
    #[schema(value_type = Option<Room>, inline)]
    pub room: Option<String>,
    /// Up to 50 names of up to 120 characters.
    #[serde(default)]
    #[schema(value_type = Vec<Performer>, inline, max_items = 50)]
    pub performers: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct UpdateSession {
    #[schema(value_type = Option<Name>, inline)]
    pub title: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<SessionDescription>, inline, nullable)]
    pub description: Option<Option<String>>,
    #[schema(value_type = Option<Instant>, inline)]
    pub starts_at: Option<DateTime<Utc>>,
    #[schema(value_type = Option<Instant>, inline)]
    pub ends_at: Option<DateTime<Utc>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Room>, inline, nullable)]
    pub room: Option<Option<String>>,
    #[schema(value_type = Option<Vec<Performer>>, inline, max_items = 50)]
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
        let u: UpdateVenue = serde_json::from_str(r#"{"capacity": null}"#).unwrap();
        assert_eq!(u.capacity, Some(None));
        assert_eq!(serde_json::from_str::<UpdateVenue>("{}").unwrap().capacity, None);
    }

    fn property<T: ToSchema>(field: &str) -> serde_json::Value {
        let schema = serde_json::to_value(T::schema()).unwrap();
        schema["properties"][field].clone()
    }

    /// `max_items` takes literals only; they must be the validators' limits.
    #[test]
    fn list_limits_are_the_validators() {
        use crate::domain::{PERFORMERS_MAX, TAGS_MAX};
        for (tags, performers) in [
            (Some(property::<CreateEvent>("tags")), property::<CreateEvent>("performers")),
            (Some(property::<UpdateEvent>("tags")), property::<UpdateEvent>("performers")),
            (None, property::<CreateSession>("performers")),
            (None, property::<UpdateSession>("performers")),
        ] {
            if let Some(tags) = tags {
                assert_eq!(tags["maxItems"], TAGS_MAX, "{tags}");
                assert_eq!(tags["items"]["maxLength"], domain::TAG_MAX, "{tags}");
            }
            assert_eq!(performers["maxItems"], PERFORMERS_MAX, "{performers}");
            assert_eq!(performers["items"]["pattern"], validate::LINE_PATTERN, "{performers}");
        }
        let name = property::<CreateVenue>("name");
        assert_eq!(name["oneOf"][0]["maxLength"], domain::NAME_MAX, "{name}");
        let status = property::<CreateEvent>("status");
        assert_eq!(status["oneOf"][1]["enum"], serde_json::json!(["draft", "published"]), "{status}");
    }
}
