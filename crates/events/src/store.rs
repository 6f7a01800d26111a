//! SQL for the events context's own tables: `events`, `venues`, `event_sessions` (and, on
//! SQLite, the full-text tables `events_fts`/`event_search` that triggers keep in step).
//!
//! One SQL text serves both backends. The only backend-specific SQL is full-text search, in
//! [`search_sql`]. Store functions take the caller's [`OrgScope`] and filter by it; the
//! exceptions say why under `Unscoped:` — public reads of published events (listing, search,
//! the iCal feed, an event's agenda), and [`resolve_event`]/[`resolve_venue`], which look an
//! id up to learn which organization it belongs to before access is checked.

use chrono::{DateTime, Utc};
use kernel::auth::OrgScope;
use kernel::db::Backend;
use kernel::id::OrgId;
use kernel::validate::{local_rfc3339, zone_of};
use kernel::{Db, Tx, read, tx};
use serde::Serialize;
use sqlx::types::Json;

use crate::domain::{EventId, EventSessionId, EventStatus, SearchQuery, VenueId};
use crate::model::{EventSession, EventSummary, Venue, VenueSummary};

/// An `events` row.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub(crate) struct EventRecord {
    pub id: EventId,
    pub org_id: OrgId,
    pub venue_id: Option<VenueId>,
    pub name: String,
    pub description: String,
    pub category: Option<String>,
    pub tags: Json<Vec<String>>,
    pub performers: Json<Vec<String>>,
    pub image_url: Option<String>,
    #[sqlx(try_from = "String")]
    pub status: EventStatus,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub time_zone: String,
    pub published_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Venue columns of a `LEFT JOIN venues v`, all null for an event without a venue.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct JoinedVenue {
    v_id: Option<VenueId>,
    v_org_id: Option<OrgId>,
    v_name: Option<String>,
    v_address: Option<String>,
    v_city: Option<String>,
    v_country: Option<String>,
    v_capacity: Option<i64>,
    v_time_zone: Option<String>,
    v_created_at: Option<DateTime<Utc>>,
    v_updated_at: Option<DateTime<Utc>>,
}

impl JoinedVenue {
    pub fn into_venue(self) -> Option<Venue> {
        Some(Venue {
            id: self.v_id?,
            org_id: self.v_org_id?,
            name: self.v_name?,
            address: self.v_address,
            city: self.v_city?,
            country: self.v_country?,
            capacity: self.v_capacity,
            time_zone: self.v_time_zone?,
            created_at: self.v_created_at?,
            updated_at: self.v_updated_at?,
        })
    }
}

/// An event with its venue (one query for the detail page).
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct EventWithVenue {
    #[sqlx(flatten)]
    pub event: EventRecord,
    #[sqlx(flatten)]
    pub venue: JoinedVenue,
}

/// A listing row: the event without its description, and a venue summary.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct SummaryRow {
    id: EventId,
    org_id: OrgId,
    name: String,
    category: Option<String>,
    tags: Json<Vec<String>>,
    performers: Json<Vec<String>>,
    image_url: Option<String>,
    #[sqlx(try_from = "String")]
    status: EventStatus,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    time_zone: String,
    published_at: Option<DateTime<Utc>>,
    cancelled_at: Option<DateTime<Utc>>,
    v_id: Option<VenueId>,
    v_name: Option<String>,
    v_city: Option<String>,
    v_country: Option<String>,
}

impl SummaryRow {
    /// The listing's sort key, which the page cursor carries.
    pub fn cursor(&self) -> (DateTime<Utc>, EventId) {
        (self.starts_at, self.id)
    }

    pub fn into_summary(self) -> EventSummary {
        let tz = zone_of(&self.time_zone);
        let venue = match (self.v_id, self.v_name, self.v_city, self.v_country) {
            (Some(id), Some(name), Some(city), Some(country)) => Some(VenueSummary { id, name, city, country }),
            _ => None,
        };
        EventSummary {
            id: self.id,
            org_id: self.org_id,
            name: self.name,
            category: self.category,
            tags: self.tags.0,
            performers: self.performers.0,
            image_url: self.image_url,
            status: self.status,
            local_starts_at: local_rfc3339(self.starts_at, tz),
            local_ends_at: local_rfc3339(self.ends_at, tz),
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            time_zone: self.time_zone,
            venue,
            published_at: self.published_at,
            cancelled_at: self.cancelled_at,
        }
    }
}

/// An `event_sessions` row.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub(crate) struct SessionRecord {
    pub id: EventSessionId,
    pub org_id: OrgId,
    pub event_id: EventId,
    pub title: String,
    pub description: Option<String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub room: Option<String>,
    pub performers: Json<Vec<String>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl SessionRecord {
    /// The API shape, with local times in the event's zone.
    pub fn into_session(self, time_zone: &str) -> EventSession {
        let tz = zone_of(time_zone);
        EventSession {
            id: self.id,
            event_id: self.event_id,
            title: self.title,
            description: self.description,
            local_starts_at: local_rfc3339(self.starts_at, tz),
            local_ends_at: local_rfc3339(self.ends_at, tz),
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            room: self.room,
            performers: self.performers.0,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

// SQL fragments, shared through `concat!` so every query stays a `&'static str`.

macro_rules! event_columns {
    () => {
        "e.id, e.org_id, e.venue_id, e.name, e.description, e.category, e.tags, e.performers, e.image_url, e.status, \
         e.starts_at, e.ends_at, e.time_zone, e.published_at, e.cancelled_at, e.deleted_at, e.created_at, e.updated_at"
    };
}

macro_rules! event_columns_bare {
    () => {
        "id, org_id, venue_id, name, description, category, tags, performers, image_url, status, \
         starts_at, ends_at, time_zone, published_at, cancelled_at, deleted_at, created_at, updated_at"
    };
}

macro_rules! venue_columns_joined {
    () => {
        "v.id AS v_id, v.org_id AS v_org_id, v.name AS v_name, v.address AS v_address, v.city AS v_city, \
         v.country AS v_country, v.capacity AS v_capacity, v.time_zone AS v_time_zone, \
         v.created_at AS v_created_at, v.updated_at AS v_updated_at"
    };
}

/// The venue must belong to the event's organization; the join says so too.
macro_rules! venue_join {
    () => {
        " FROM events e LEFT JOIN venues v ON v.id = e.venue_id AND v.org_id = e.org_id "
    };
}

macro_rules! summary_select {
    () => {
        concat!(
            "SELECT e.id, e.org_id, e.name, e.category, e.tags, e.performers, e.image_url, e.status, e.starts_at, e.ends_at, \
             e.time_zone, e.published_at, e.cancelled_at, v.id AS v_id, v.name AS v_name, v.city AS v_city, v.country AS v_country",
            venue_join!()
        )
    };
}

/// Listing filters. `$1…$3` are the visible statuses (always bound, so the status index
/// applies), `$9/$10` the cursor, `$11` the page size, `$12` the full-text query.
macro_rules! listing_filters {
    () => {
        "WHERE e.deleted_at IS NULL AND e.status IN ($1, $2, $3) \
         AND ($4 IS NULL OR e.org_id = $4) \
         AND ($5 IS NULL OR e.starts_at >= $5) \
         AND ($6 IS NULL OR e.starts_at <= $6) \
         AND ($7 IS NULL OR lower(v.city) = lower($7)) \
         AND ($8 IS NULL OR lower(e.category) = lower($8)) \
         AND ($9 IS NULL OR e.starts_at > $9 OR (e.starts_at = $9 AND e.id > $10)) "
    };
}

macro_rules! listing_order {
    () => {
        " ORDER BY e.starts_at, e.id LIMIT $11"
    };
}

const LIST_EVENTS: &str = concat!(summary_select!(), listing_filters!(), listing_order!());

const SEARCH_EVENTS_SQLITE: &str = concat!(
    summary_select!(),
    listing_filters!(),
    "AND e.id IN (SELECT s.event_id FROM events_fts JOIN event_search s ON s.rowid = events_fts.rowid \
     WHERE events_fts MATCH $12)",
    listing_order!()
);

const SEARCH_EVENTS_POSTGRES: &str =
    concat!(summary_select!(), listing_filters!(), "AND e.search_vector @@ to_tsquery('simple', $12)", listing_order!());

/// The one place with backend-specific SQL: full-text search (FTS5 on SQLite, a `tsvector`
/// with a GIN index on PostgreSQL), and the query text each engine expects.
fn search_sql(backend: Backend, q: &SearchQuery) -> (&'static str, String) {
    match backend {
        Backend::Sqlite => (SEARCH_EVENTS_SQLITE, q.fts5()),
        Backend::Postgres => (SEARCH_EVENTS_POSTGRES, q.tsquery()),
    }
}

/// What a listing asks for.
pub(crate) struct Listing<'a> {
    /// The statuses the caller may see (repeat one to ask for fewer).
    pub statuses: [EventStatus; 3],
    pub org_id: Option<OrgId>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub city: Option<&'a str>,
    pub category: Option<&'a str>,
    /// Start strictly after this `(starts_at, id)`.
    pub after: Option<(DateTime<Utc>, EventId)>,
    /// Rows to fetch (page size + 1).
    pub fetch: i64,
    pub search: Option<&'a SearchQuery>,
}

/// Unscoped: the public listing and search. Statuses other than `published` are asked for
/// only with the `org_id` of an organization the service found the caller to be a member of.
pub(crate) async fn list_events(db: &Db, l: &Listing<'_>) -> Result<Vec<SummaryRow>, sqlx::Error> {
    let (sql, term) = match l.search {
        Some(q) => {
            let (sql, term) = search_sql(db.backend(), q);
            (sql, Some(term))
        }
        None => (LIST_EVENTS, None),
    };
    let [s1, s2, s3] = l.statuses.map(EventStatus::as_str);
    read!(db, |c| {
        let mut query = sqlx::query_as::<_, SummaryRow>(sql)
            .bind(s1)
            .bind(s2)
            .bind(s3)
            .bind(l.org_id)
            .bind(l.from)
            .bind(l.to)
            .bind(l.city)
            .bind(l.category)
            .bind(l.after.map(|a| a.0))
            .bind(l.after.map(|a| a.1))
            .bind(l.fetch);
        if let Some(term) = &term {
            query = query.bind(term.as_str());
        }
        query.fetch_all(c).await
    })
}

/// Finds an event by id alone (deleted or not).
/// Unscoped: resolves which organization owns an id before access is checked; the service
/// decides whether the caller may see it (published events are public, and the facts other
/// contexts read with `event_facts` need no caller at all).
pub(crate) async fn resolve_event(db: &Db, id: EventId) -> Result<Option<EventWithVenue>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(concat!(
        "SELECT ",
        event_columns!(),
        ", ",
        venue_columns_joined!(),
        venue_join!(),
        "WHERE e.id = $1"
    ))
    .bind(id)
    .fetch_optional(c)
    .await)
}

/// An event of the scope's organization with its venue (deleted or not), to answer a change.
pub(crate) async fn event(db: &Db, scope: &OrgScope, id: EventId) -> Result<Option<EventWithVenue>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(concat!(
        "SELECT ",
        event_columns!(),
        ", ",
        venue_columns_joined!(),
        venue_join!(),
        "WHERE e.org_id = $1 AND e.id = $2"
    ))
    .bind(scope.org())
    .bind(id)
    .fetch_optional(c)
    .await)
}

/// The org's published events that have not ended by `after`, by start.
/// Unscoped: public read of published events (the organization's iCal feed).
pub(crate) async fn feed_events(
    db: &Db,
    org: OrgId,
    after: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<EventWithVenue>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(concat!(
        "SELECT ",
        event_columns!(),
        ", ",
        venue_columns_joined!(),
        venue_join!(),
        "WHERE e.org_id = $1 AND e.status = 'published' AND e.deleted_at IS NULL AND e.ends_at > $2 \
         ORDER BY e.starts_at, e.id LIMIT $3"
    ))
    .bind(org)
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await)
}

/// Reads an event for a change, taking its row lock on PostgreSQL (a no-op update, so the
/// same text serves SQLite, where the single writer already serializes changes).
pub(crate) async fn lock_event(tx: &mut Tx<'_>, scope: &OrgScope, id: EventId) -> Result<Option<EventRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!(
        "UPDATE events SET updated_at = updated_at WHERE org_id = $1 AND id = $2 RETURNING ",
        event_columns_bare!()
    ))
    .bind(scope.org())
    .bind(id)
    .fetch_optional(c)
    .await)
}

/// Inserts `e` into the scope's organization (`e.org_id` is not trusted for that).
pub(crate) async fn insert_event(tx: &mut Tx<'_>, scope: &OrgScope, e: &EventRecord) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query(concat!(
        "INSERT INTO events (",
        event_columns_bare!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
    ))
    .bind(e.id)
    .bind(scope.org())
    .bind(e.venue_id)
    .bind(&e.name)
    .bind(&e.description)
    .bind(&e.category)
    .bind(&e.tags)
    .bind(&e.performers)
    .bind(&e.image_url)
    .bind(e.status.as_str())
    .bind(e.starts_at)
    .bind(e.ends_at)
    .bind(&e.time_zone)
    .bind(e.published_at)
    .bind(e.cancelled_at)
    .bind(e.deleted_at)
    .bind(e.created_at)
    .bind(e.updated_at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}

/// Writes every changeable column of `e`, an event of the scope's organization.
pub(crate) async fn save_event(tx: &mut Tx<'_>, scope: &OrgScope, e: &EventRecord) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query(
        "UPDATE events SET venue_id = $3, name = $4, description = $5, category = $6, tags = $7, performers = $8, \
         image_url = $9, status = $10, starts_at = $11, ends_at = $12, time_zone = $13, published_at = $14, \
         cancelled_at = $15, deleted_at = $16, updated_at = $17 WHERE org_id = $1 AND id = $2"
    )
    .bind(scope.org())
    .bind(e.id)
    .bind(e.venue_id)
    .bind(&e.name)
    .bind(&e.description)
    .bind(&e.category)
    .bind(&e.tags)
    .bind(&e.performers)
    .bind(&e.image_url)
    .bind(e.status.as_str())
    .bind(e.starts_at)
    .bind(e.ends_at)
    .bind(&e.time_zone)
    .bind(e.published_at)
    .bind(e.cancelled_at)
    .bind(e.deleted_at)
    .bind(e.updated_at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}

// ---- sessions ---------------------------------------------------------------------------

macro_rules! session_select {
    () => {
        "SELECT id, org_id, event_id, title, description, starts_at, ends_at, room, performers, created_at, updated_at \
         FROM event_sessions "
    };
}

/// The agenda of an event, by start.
/// Unscoped: public read of the agenda of an event the caller may see (published events are
/// public) or that another context asks about; `org` is the event row's own, for the index.
pub(crate) async fn sessions(db: &Db, org: OrgId, event: EventId) -> Result<Vec<SessionRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(concat!(
        session_select!(),
        "WHERE org_id = $1 AND event_id = $2 ORDER BY starts_at, id LIMIT 1000"
    ))
    .bind(org)
    .bind(event)
    .fetch_all(c)
    .await)
}

pub(crate) async fn session(
    tx: &mut Tx<'_>,
    scope: &OrgScope,
    event: EventId,
    id: EventSessionId,
) -> Result<Option<SessionRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!(session_select!(), "WHERE org_id = $1 AND event_id = $2 AND id = $3"))
        .bind(scope.org())
        .bind(event)
        .bind(id)
        .fetch_optional(c)
        .await)
}

pub(crate) async fn count_sessions(tx: &mut Tx<'_>, scope: &OrgScope, event: EventId) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = tx!(tx, |c| sqlx::query_as("SELECT COUNT(*) FROM event_sessions WHERE org_id = $1 AND event_id = $2")
        .bind(scope.org())
        .bind(event)
        .fetch_one(c)
        .await)?;
    Ok(n)
}

/// Inserts `s` into the scope's organization.
pub(crate) async fn insert_session(tx: &mut Tx<'_>, scope: &OrgScope, s: &SessionRecord) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO event_sessions (id, org_id, event_id, title, description, starts_at, ends_at, room, performers, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    )
    .bind(s.id)
    .bind(scope.org())
    .bind(s.event_id)
    .bind(&s.title)
    .bind(&s.description)
    .bind(s.starts_at)
    .bind(s.ends_at)
    .bind(&s.room)
    .bind(&s.performers)
    .bind(s.created_at)
    .bind(s.updated_at)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })
}

pub(crate) async fn save_session(tx: &mut Tx<'_>, scope: &OrgScope, s: &SessionRecord) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query(
        "UPDATE event_sessions SET title = $4, description = $5, starts_at = $6, ends_at = $7, room = $8, performers = $9, \
         updated_at = $10 WHERE org_id = $1 AND event_id = $2 AND id = $3"
    )
    .bind(scope.org())
    .bind(s.event_id)
    .bind(s.id)
    .bind(&s.title)
    .bind(&s.description)
    .bind(s.starts_at)
    .bind(s.ends_at)
    .bind(&s.room)
    .bind(&s.performers)
    .bind(s.updated_at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}

pub(crate) async fn delete_session(
    tx: &mut Tx<'_>,
    scope: &OrgScope,
    event: EventId,
    id: EventSessionId,
) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query("DELETE FROM event_sessions WHERE org_id = $1 AND event_id = $2 AND id = $3")
        .bind(scope.org())
        .bind(event)
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
}

// ---- venues -----------------------------------------------------------------------------

/// Finds a venue by id alone.
/// Unscoped: resolves which organization owns an id before access is checked.
pub(crate) async fn resolve_venue(db: &Db, id: VenueId) -> Result<Option<Venue>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(
        "SELECT id, org_id, name, address, city, country, capacity, time_zone, created_at, updated_at FROM venues WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(c)
    .await)
}

/// The org's venues by name, starting strictly after `(name, id)`.
pub(crate) async fn venues(
    db: &Db,
    scope: &OrgScope,
    after: Option<(String, VenueId)>,
    fetch: i64,
) -> Result<Vec<Venue>, sqlx::Error> {
    let (name, id) = after.unzip();
    read!(db, |c| sqlx::query_as(
        "SELECT id, org_id, name, address, city, country, capacity, time_zone, created_at, updated_at FROM venues \
         WHERE org_id = $1 AND ($2 IS NULL OR name > $2 OR (name = $2 AND id > $3)) ORDER BY name, id LIMIT $4"
    )
    .bind(scope.org())
    .bind(&name)
    .bind(id)
    .bind(fetch)
    .fetch_all(c)
    .await)
}

pub(crate) async fn venue(tx: &mut Tx<'_>, scope: &OrgScope, id: VenueId) -> Result<Option<Venue>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(
        "SELECT id, org_id, name, address, city, country, capacity, time_zone, created_at, updated_at FROM venues \
         WHERE org_id = $1 AND id = $2"
    )
    .bind(scope.org())
    .bind(id)
    .fetch_optional(c)
    .await)
}

/// Inserts `v` into the scope's organization.
pub(crate) async fn insert_venue(tx: &mut Tx<'_>, scope: &OrgScope, v: &Venue) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query(
        "INSERT INTO venues (id, org_id, name, address, city, country, capacity, time_zone, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    )
    .bind(v.id)
    .bind(scope.org())
    .bind(&v.name)
    .bind(&v.address)
    .bind(&v.city)
    .bind(&v.country)
    .bind(v.capacity)
    .bind(&v.time_zone)
    .bind(v.created_at)
    .bind(v.updated_at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}

pub(crate) async fn save_venue(tx: &mut Tx<'_>, scope: &OrgScope, v: &Venue) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query(
        "UPDATE venues SET name = $3, address = $4, city = $5, country = $6, capacity = $7, time_zone = $8, updated_at = $9 \
         WHERE org_id = $1 AND id = $2"
    )
    .bind(scope.org())
    .bind(v.id)
    .bind(&v.name)
    .bind(&v.address)
    .bind(&v.city)
    .bind(&v.country)
    .bind(v.capacity)
    .bind(&v.time_zone)
    .bind(v.updated_at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}

/// Whether any event (soft-deleted ones included: they can be restored) uses the venue.
pub(crate) async fn venue_in_use(tx: &mut Tx<'_>, scope: &OrgScope, id: VenueId) -> Result<bool, sqlx::Error> {
    let row: Option<(EventId,)> =
        tx!(tx, |c| sqlx::query_as("SELECT id FROM events WHERE org_id = $1 AND venue_id = $2 LIMIT 1")
            .bind(scope.org())
            .bind(id)
            .fetch_optional(c)
            .await)?;
    Ok(row.is_some())
}

pub(crate) async fn delete_venue(tx: &mut Tx<'_>, scope: &OrgScope, id: VenueId) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query("DELETE FROM venues WHERE org_id = $1 AND id = $2")
        .bind(scope.org())
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
}
