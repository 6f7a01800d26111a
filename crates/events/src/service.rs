//! Events use cases. Every method takes the acting principal (or `None` for an anonymous
//! reader) and checks what it may do; every mutation runs in one transaction with its audit
//! record and domain events, then commits through [`Kernel::commit`].
//!
//! Visibility: published events are public; drafts and cancelled events are visible to
//! members of their organization (viewer and above); soft-deleted events to nobody. Anything
//! a caller may not see is a `404`, never a `403`, so ids of other tenants leak nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Bytes;

use chrono::{DateTime, Utc};
use kernel::audit::{self, AuditEntry, changes_of};
use kernel::auth::{OrgAccess, Principal, Role};
use kernel::id::OrgId;
use kernel::jobs::publish;
use kernel::pagination::{Page, PageParams};
use kernel::time::now;
use kernel::{AppError, AppResult, Db, Kernel, Tx};
use serde_json::json;
use sqlx::types::Json;

use crate::domain::{self, EventId, EventSessionId, EventStatus, SearchQuery, Transition, VenueId};
use crate::ical::{self, CalendarEvent};
use crate::model::*;
use crate::store::{self, EventRecord, EventWithVenue, Listing, SessionRecord};

/// Most events in an organization's iCal feed.
const FEED_MAX: i64 = 500;

pub struct EventsService {
    kernel: Arc<Kernel>,
    access: Arc<dyn OrgAccess>,
    /// Rendered JSON of published events (the hottest read: event pages during an on-sale).
    /// Only published, live events enter it, so a hit is visible to every caller.
    published: Option<moka::sync::Cache<EventId, Bytes>>,
    /// Bumped by every invalidation; a reader that started before a change does not put its
    /// (possibly stale) result into the cache.
    generation: AtomicU64,
}

impl EventsService {
    pub fn new(kernel: Arc<Kernel>, access: Arc<dyn OrgAccess>) -> Arc<EventsService> {
        let cfg = &kernel.config.cache;
        let published = (cfg.ttl_secs > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(cfg.max_entries)
                .time_to_live(std::time::Duration::from_secs(cfg.ttl_secs))
                .build()
        });
        Arc::new(EventsService { kernel, access, published, generation: AtomicU64::new(0) })
    }

    fn db(&self) -> &Db {
        &self.kernel.db
    }

    /// Requires `min` in `org`; outsiders learn only that `resource` does not exist.
    async fn require(&self, p: &Principal, org: OrgId, min: Role, resource: &'static str) -> AppResult<Role> {
        self.access.require_role(p, org, min).await.map_err(|e| match e {
            AppError::NotFound { .. } => AppError::not_found(resource),
            other => other,
        })
    }

    /// Whether the caller is a member (viewer or above) of `org`.
    async fn is_member(&self, p: Option<&Principal>, org: OrgId) -> AppResult<bool> {
        match p {
            None => Ok(false),
            Some(p) => Ok(self.access.role_in(p, org).await?.is_some_and(|r| r >= Role::Viewer)),
        }
    }

    /// Whether the caller may see `e`. Published events need no lookup of the caller at all.
    async fn can_see(&self, p: Option<&Principal>, e: &EventRecord) -> AppResult<bool> {
        if e.deleted_at.is_some() {
            return Ok(false);
        }
        if e.status == EventStatus::Published {
            return Ok(true);
        }
        self.is_member(p, e.org_id).await
    }

    /// The event, if the caller may see it; `404` otherwise.
    async fn visible_event(&self, p: Option<&Principal>, id: EventId) -> AppResult<EventWithVenue> {
        match store::resolve_event(self.db(), id).await? {
            Some(row) if self.can_see(p, &row.event).await? => Ok(row),
            _ => Err(AppError::not_found("event")),
        }
    }

    /// A live (not deleted) event the caller holds `min` for. Outsiders get `404` even for
    /// published events.
    async fn writable_event(&self, p: &Principal, id: EventId, min: Role) -> AppResult<EventRecord> {
        let Some(row) = store::resolve_event(self.db(), id).await? else { return Err(AppError::not_found("event")) };
        self.require(p, row.event.org_id, min, "event").await?;
        if row.event.deleted_at.is_some() {
            return Err(AppError::not_found("event"));
        }
        Ok(row.event)
    }

    // ---- reading events -------------------------------------------------------------

    /// The listing: published events for everyone; members of `org_id` also see drafts and
    /// cancelled events of that organization (and may filter by `status`).
    pub async fn list_events(&self, p: Option<&Principal>, q: EventQuery) -> AppResult<Page<EventSummary>> {
        let search = SearchQuery::parse("q", q.q.as_deref())?;
        self.listing(p, q, search).await
    }

    /// Full-text search with the listing's filters; `q` is required.
    pub async fn search_events(&self, p: Option<&Principal>, q: EventQuery) -> AppResult<Page<EventSummary>> {
        let search =
            SearchQuery::parse("q", q.q.as_deref())?.ok_or_else(|| AppError::validation("q", "a search query is required"))?;
        self.listing(p, q, Some(search)).await
    }

    async fn listing(&self, p: Option<&Principal>, q: EventQuery, search: Option<SearchQuery>) -> AppResult<Page<EventSummary>> {
        let page = PageParams { cursor: q.cursor.clone(), limit: q.limit };
        let limit = page.limit()?;
        let after: Option<(DateTime<Utc>, EventId)> = page.decode()?;
        let from = domain::parse_instant("from", q.from.as_deref())?;
        let to = domain::parse_instant("to", q.to.as_deref())?;
        let city = q.city.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let category = q.category.as_deref().map(str::trim).filter(|s| !s.is_empty());
        // Stored cities and categories hold no control characters, so such a filter matches
        // nothing; PostgreSQL would refuse a NUL in a text parameter (a 500) instead.
        if [city, category].into_iter().flatten().any(|s| s.contains(char::is_control)) {
            return Ok(Page { items: Vec::new(), next_cursor: None });
        }
        let member = match q.org_id {
            Some(org) => self.is_member(p, org).await?,
            None => false,
        };
        let statuses = match (member, q.status) {
            (true, Some(s)) => [s; 3],
            (true, None) => [EventStatus::Draft, EventStatus::Published, EventStatus::Cancelled],
            (false, _) => [EventStatus::Published; 3],
        };
        let listing =
            Listing { statuses, org_id: q.org_id, from, to, city, category, after, fetch: limit + 1, search: search.as_ref() };
        let rows = store::list_events(self.db(), &listing).await?;
        Ok(Page::from_rows(rows, limit, |r| r.cursor()).map(store::SummaryRow::into_summary))
    }

    /// One event with its venue and agenda. Published events cost two indexed queries and
    /// no lookup of the caller.
    pub async fn event(&self, p: Option<&Principal>, id: EventId) -> AppResult<EventDetail> {
        let row = self.visible_event(p, id).await?;
        self.detail(row).await
    }

    /// The event detail as JSON, served from the cache for published events.
    pub async fn event_json(&self, p: Option<&Principal>, id: EventId) -> AppResult<Bytes> {
        if let Some(hit) = self.published.as_ref().and_then(|c| c.get(&id)) {
            return Ok(hit);
        }
        let generation = self.generation.load(Ordering::Acquire);
        let detail = self.event(p, id).await?;
        let json = Bytes::from(serde_json::to_vec(&detail).map_err(AppError::from)?);
        if let Some(cache) = &self.published
            && detail.status == EventStatus::Published
            && self.generation.load(Ordering::Acquire) == generation
        {
            cache.insert(id, json.clone());
        }
        Ok(json)
    }

    /// Drops cached details after a change: one event, or all (a venue changed).
    fn forget(&self, event: Option<EventId>) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Some(cache) = &self.published {
            match event {
                Some(id) => cache.invalidate(&id),
                None => cache.invalidate_all(),
            }
        }
    }

    async fn detail(&self, row: EventWithVenue) -> AppResult<EventDetail> {
        let sessions = store::sessions(self.db(), row.event.org_id, row.event.id).await?;
        Ok(detail_of(row, sessions))
    }

    /// Re-reads an event of `org` after a change.
    async fn reload(&self, org: OrgId, id: EventId) -> AppResult<EventDetail> {
        match store::resolve_event(self.db(), id).await? {
            Some(row) if row.event.org_id == org => self.detail(row).await,
            _ => Err(AppError::not_found("event")),
        }
    }

    // ---- facts for other contexts ---------------------------------------------------

    /// The facts of an event for other contexts (ticketing), deleted or not, with no
    /// visibility check: one indexed query.
    pub async fn event_facts(&self, id: EventId) -> AppResult<Option<EventFacts>> {
        let Some(EventWithVenue { event: e, venue }) = store::resolve_event(self.db(), id).await? else { return Ok(None) };
        let venue = venue.into_venue();
        Ok(Some(EventFacts {
            id: e.id,
            org_id: e.org_id,
            status: e.status,
            deleted: e.deleted_at.is_some(),
            name: e.name,
            starts_at: e.starts_at,
            ends_at: e.ends_at,
            time_zone: e.time_zone,
            venue_name: venue.as_ref().map(|v| v.name.clone()),
            venue_city: venue.as_ref().map(|v| v.city.clone()),
            venue_address: venue.as_ref().and_then(|v| v.address.clone()),
            venue_country: venue.map(|v| v.country),
        }))
    }

    /// The agenda of an event of `org`, for other contexts (no visibility check).
    pub async fn session_facts(&self, org: OrgId, event: EventId) -> AppResult<Vec<SessionFacts>> {
        let sessions = store::sessions(self.db(), org, event).await?;
        Ok(sessions
            .into_iter()
            .map(|s| SessionFacts { id: s.id, title: s.title, starts_at: s.starts_at, ends_at: s.ends_at })
            .collect())
    }

    // ---- writing events -------------------------------------------------------------

    /// Creates an event (staff and above in `req.org_id`).
    pub async fn create_event(&self, p: &Principal, req: CreateEvent) -> AppResult<EventDetail> {
        let org = req.org_id;
        self.require(p, org, Role::Staff, "organization").await?;
        let name = domain::required_text("name", &req.name, domain::NAME_MAX)?;
        let description = domain::long_text("description", req.description.as_deref(), domain::DESCRIPTION_MAX)?;
        let category = domain::optional_text("category", req.category.as_deref(), domain::CATEGORY_MAX)?;
        let tags = domain::name_list("tags", &req.tags, domain::TAGS_MAX, domain::TAG_MAX)?;
        let performers = domain::name_list("performers", &req.performers, domain::PERFORMERS_MAX, domain::PERFORMER_MAX)?;
        let image_url = domain::optional_url("image_url", req.image_url.as_deref())?;
        let status = req.status.unwrap_or(EventStatus::Draft);
        if status == EventStatus::Cancelled {
            return Err(AppError::validation("status", "a new event is draft or published"));
        }
        let (starts_at, ends_at) =
            domain::time_window(("starts_at", req.starts_at), ("ends_at", req.ends_at), domain::EVENT_MAX_DAYS)?;
        let zone = req.time_zone.as_deref().map(|z| domain::time_zone("time_zone", z)).transpose()?;

        let at = now();
        let mut tx = self.db().begin().await?;
        let venue_zone = match req.venue_id {
            Some(v) => Some(self.venue_zone(&mut tx, org, v).await?),
            None => None,
        };
        let time_zone = match (zone, venue_zone) {
            (Some(z), _) => z.name().to_string(),
            (None, Some(z)) => z,
            (None, None) => return Err(AppError::validation("time_zone", "required for an event without a venue")),
        };
        let event = EventRecord {
            id: EventId::new(),
            org_id: org,
            venue_id: req.venue_id,
            name,
            description,
            category,
            tags: Json(tags),
            performers: Json(performers),
            image_url,
            status,
            starts_at,
            ends_at,
            time_zone,
            published_at: (status == EventStatus::Published).then_some(at),
            cancelled_at: None,
            deleted_at: None,
            created_at: at,
            updated_at: at,
        };
        store::insert_event(&mut tx, &event).await?;
        let mut changes = serde_json::to_value(&event)?;
        strip_bookkeeping(&mut changes);
        self.audit(&mut tx, p, org, "event.created", Target::Event(event.id), changes).await?;
        publish(&mut tx, "event.created", &event_payload(&event)).await?;
        if status == EventStatus::Published {
            publish(&mut tx, "event.published", &event_payload(&event)).await?;
        }
        self.kernel.commit(tx).await?;
        self.reload(org, event.id).await
    }

    /// Changes an event (staff and above): only the fields present; status changes follow
    /// [`Transition::between`].
    pub async fn update_event(&self, p: &Principal, id: EventId, req: UpdateEvent) -> AppResult<EventDetail> {
        let org = self.writable_event(p, id, Role::Staff).await?.org_id;
        // Validate what needs no database before taking the write lock.
        let name = req.name.as_deref().map(|n| domain::required_text("name", n, domain::NAME_MAX)).transpose()?;
        let description = match &req.description {
            Some(d) => Some(domain::long_text("description", Some(d), domain::DESCRIPTION_MAX)?),
            None => None,
        };
        let category = match &req.category {
            Some(c) => Some(domain::optional_text("category", c.as_deref(), domain::CATEGORY_MAX)?),
            None => None,
        };
        let tags = req.tags.as_deref().map(|t| domain::name_list("tags", t, domain::TAGS_MAX, domain::TAG_MAX)).transpose()?;
        let performers = req
            .performers
            .as_deref()
            .map(|t| domain::name_list("performers", t, domain::PERFORMERS_MAX, domain::PERFORMER_MAX))
            .transpose()?;
        let image_url = match &req.image_url {
            Some(u) => Some(domain::optional_url("image_url", u.as_deref())?),
            None => None,
        };
        let zone = req.time_zone.as_deref().map(|z| domain::time_zone("time_zone", z)).transpose()?;

        let at = now();
        let mut tx = self.db().begin().await?;
        let old = match store::lock_event(&mut tx, org, id).await? {
            Some(e) if e.deleted_at.is_none() => e,
            _ => return Err(AppError::not_found("event")),
        };
        let mut new = old.clone();
        if let Some(venue) = req.venue_id {
            if let Some(v) = venue {
                let venue_zone = self.venue_zone(&mut tx, org, v).await?;
                // Moving to another venue moves the event into its zone, unless one is given.
                if zone.is_none() && old.venue_id != Some(v) {
                    new.time_zone = venue_zone;
                }
            }
            new.venue_id = venue;
        }
        if let Some(z) = zone {
            new.time_zone = z.name().to_string();
        }
        if let Some(n) = name {
            new.name = n;
        }
        if let Some(d) = description {
            new.description = d;
        }
        if let Some(c) = category {
            new.category = c;
        }
        if let Some(t) = tags {
            new.tags = Json(t);
        }
        if let Some(t) = performers {
            new.performers = Json(t);
        }
        if let Some(u) = image_url {
            new.image_url = u;
        }
        if req.starts_at.is_some() || req.ends_at.is_some() {
            let (s, e) = domain::time_window(
                ("starts_at", req.starts_at.unwrap_or(old.starts_at)),
                ("ends_at", req.ends_at.unwrap_or(old.ends_at)),
                domain::EVENT_MAX_DAYS,
            )?;
            new.starts_at = s;
            new.ends_at = e;
        }
        let transition = Transition::between(old.status, req.status.unwrap_or(old.status))?;
        new.status = req.status.unwrap_or(old.status);
        match transition {
            Transition::Publish => new.published_at = Some(at),
            Transition::Unpublish => new.published_at = None,
            Transition::Cancel => new.cancelled_at = Some(at),
            Transition::Unchanged => {}
        }

        let mut changes = domain::changed_fields(&serde_json::to_value(&old)?, &serde_json::to_value(&new)?);
        let Some(fields) = changes.as_object_mut() else { return Err(AppError::internal("change summary is not an object")) };
        if fields.is_empty() {
            // Nothing to change: no write, no audit record, no event.
            drop(tx);
            return self.reload(org, id).await;
        }
        let status_only = fields.keys().all(|k| matches!(k.as_str(), "status" | "published_at" | "cancelled_at"));
        new.updated_at = at;
        store::save_event(&mut tx, &new).await?;
        let action = transition.topic().unwrap_or("event.updated");
        self.audit(&mut tx, p, org, action, Target::Event(id), changes).await?;
        if !status_only {
            publish(&mut tx, "event.updated", &event_payload(&new)).await?;
        }
        if let Some(topic) = transition.topic() {
            publish(&mut tx, topic, &event_payload(&new)).await?;
        }
        self.kernel.commit(tx).await?;
        self.forget(Some(id));
        self.reload(org, id).await
    }

    /// Soft-deletes an event (admins and above); it can be restored.
    pub async fn delete_event(&self, p: &Principal, id: EventId) -> AppResult<()> {
        let org = self.writable_event(p, id, Role::Admin).await?.org_id;
        let at = now();
        let mut tx = self.db().begin().await?;
        let mut event = match store::lock_event(&mut tx, org, id).await? {
            Some(e) if e.deleted_at.is_none() => e,
            _ => return Err(AppError::not_found("event")),
        };
        event.deleted_at = Some(at);
        event.updated_at = at;
        store::save_event(&mut tx, &event).await?;
        self.audit(&mut tx, p, org, "event.deleted", Target::Event(id), json!({ "name": event.name })).await?;
        publish(&mut tx, "event.deleted", &event_payload(&event)).await?;
        self.kernel.commit(tx).await?;
        self.forget(Some(id));
        Ok(())
    }

    /// Brings back a soft-deleted event (admins and above), in the status it had.
    pub async fn restore_event(&self, p: &Principal, id: EventId) -> AppResult<EventDetail> {
        let Some(row) = store::resolve_event(self.db(), id).await? else { return Err(AppError::not_found("event")) };
        let org = row.event.org_id;
        self.require(p, org, Role::Admin, "event").await?;
        let at = now();
        let mut tx = self.db().begin().await?;
        let Some(mut event) = store::lock_event(&mut tx, org, id).await? else { return Err(AppError::not_found("event")) };
        if event.deleted_at.is_none() {
            return Err(AppError::conflict("not_deleted", "the event is not deleted"));
        }
        event.deleted_at = None;
        event.updated_at = at;
        store::save_event(&mut tx, &event).await?;
        self.audit(&mut tx, p, org, "event.restored", Target::Event(id), json!({ "name": event.name })).await?;
        publish(&mut tx, "event.restored", &event_payload(&event)).await?;
        self.kernel.commit(tx).await?;
        self.forget(Some(id));
        self.reload(org, id).await
    }

    /// The zone of a venue of `org`; `422 venue_id` if the org has no such venue.
    async fn venue_zone(&self, tx: &mut Tx<'_>, org: OrgId, venue: VenueId) -> AppResult<String> {
        match store::venue(tx, org, venue).await? {
            Some(v) => Ok(v.time_zone),
            None => Err(AppError::validation("venue_id", "no such venue in this organization")),
        }
    }

    async fn audit(
        &self,
        tx: &mut Tx<'_>,
        p: &Principal,
        org: OrgId,
        action: &str,
        target: Target,
        changes: serde_json::Value,
    ) -> AppResult<()> {
        let (resource_type, resource_id) = match target {
            Target::Event(id) => ("event", id.to_string()),
            Target::Session(id) => ("event_session", id.to_string()),
            Target::Venue(id) => ("venue", id.to_string()),
        };
        audit::record_as(tx, &p.actor(), AuditEntry { org_id: Some(org), action, resource_type, resource_id, changes }).await
    }

    // ---- sessions (agenda) ----------------------------------------------------------

    /// The agenda, by start; visible to whoever may see the event.
    pub async fn sessions(&self, p: Option<&Principal>, event: EventId) -> AppResult<Vec<EventSession>> {
        let row = self.visible_event(p, event).await?;
        let sessions = store::sessions(self.db(), row.event.org_id, event).await?;
        Ok(sessions.into_iter().map(|s| s.into_session(&row.event.time_zone)).collect())
    }

    /// Adds an agenda item (staff and above).
    pub async fn create_session(&self, p: &Principal, event: EventId, req: CreateSession) -> AppResult<EventSession> {
        let e = self.writable_event(p, event, Role::Staff).await?;
        let title = domain::required_text("title", &req.title, domain::NAME_MAX)?;
        let description = domain::optional_long_text("description", req.description.as_deref(), domain::SESSION_DESCRIPTION_MAX)?;
        let room = domain::optional_text("room", req.room.as_deref(), domain::ROOM_MAX)?;
        let performers = domain::name_list("performers", &req.performers, domain::PERFORMERS_MAX, domain::PERFORMER_MAX)?;
        let (starts_at, ends_at) =
            domain::time_window(("starts_at", req.starts_at), ("ends_at", req.ends_at), domain::SESSION_MAX_DAYS)?;
        let at = now();
        let mut tx = self.db().begin().await?;
        let e = match store::lock_event(&mut tx, e.org_id, event).await? {
            Some(e) if e.deleted_at.is_none() => e,
            _ => return Err(AppError::not_found("event")),
        };
        if store::count_sessions(&mut tx, e.org_id, event).await? >= domain::SESSIONS_MAX {
            return Err(AppError::conflict(
                "too_many_sessions",
                format!("an event has at most {} sessions", domain::SESSIONS_MAX),
            ));
        }
        let session = SessionRecord {
            id: EventSessionId::new(),
            org_id: e.org_id,
            event_id: event,
            title,
            description,
            starts_at,
            ends_at,
            room,
            performers: Json(performers),
            created_at: at,
            updated_at: at,
        };
        store::insert_session(&mut tx, &session).await?;
        let mut changes = serde_json::to_value(&session)?;
        strip_bookkeeping(&mut changes);
        self.audit(&mut tx, p, e.org_id, "session.created", Target::Session(session.id), changes).await?;
        self.kernel.commit(tx).await?;
        self.forget(Some(event));
        Ok(session.into_session(&e.time_zone))
    }

    /// Changes an agenda item (staff and above).
    pub async fn update_session(
        &self,
        p: &Principal,
        event: EventId,
        id: EventSessionId,
        req: UpdateSession,
    ) -> AppResult<EventSession> {
        let e = self.writable_event(p, event, Role::Staff).await?;
        let title = req.title.as_deref().map(|t| domain::required_text("title", t, domain::NAME_MAX)).transpose()?;
        let description = match &req.description {
            Some(d) => Some(domain::optional_long_text("description", d.as_deref(), domain::SESSION_DESCRIPTION_MAX)?),
            None => None,
        };
        let room = match &req.room {
            Some(r) => Some(domain::optional_text("room", r.as_deref(), domain::ROOM_MAX)?),
            None => None,
        };
        let performers = req
            .performers
            .as_deref()
            .map(|t| domain::name_list("performers", t, domain::PERFORMERS_MAX, domain::PERFORMER_MAX))
            .transpose()?;
        let at = now();
        let mut tx = self.db().begin().await?;
        let Some(old) = store::session(&mut tx, e.org_id, event, id).await? else { return Err(AppError::not_found("session")) };
        let mut new = old.clone();
        if let Some(t) = title {
            new.title = t;
        }
        if let Some(d) = description {
            new.description = d;
        }
        if let Some(r) = room {
            new.room = r;
        }
        if let Some(perf) = performers {
            new.performers = Json(perf);
        }
        if req.starts_at.is_some() || req.ends_at.is_some() {
            let (s, end) = domain::time_window(
                ("starts_at", req.starts_at.unwrap_or(old.starts_at)),
                ("ends_at", req.ends_at.unwrap_or(old.ends_at)),
                domain::SESSION_MAX_DAYS,
            )?;
            new.starts_at = s;
            new.ends_at = end;
        }
        let changes = domain::changed_fields(&serde_json::to_value(&old)?, &serde_json::to_value(&new)?);
        if changes.as_object().is_some_and(|c| !c.is_empty()) {
            new.updated_at = at;
            store::save_session(&mut tx, &new).await?;
            self.audit(&mut tx, p, e.org_id, "session.updated", Target::Session(id), changes).await?;
            self.kernel.commit(tx).await?;
            self.forget(Some(event));
        }
        Ok(new.into_session(&e.time_zone))
    }

    /// Removes an agenda item (staff and above).
    pub async fn delete_session(&self, p: &Principal, event: EventId, id: EventSessionId) -> AppResult<()> {
        let e = self.writable_event(p, event, Role::Staff).await?;
        let mut tx = self.db().begin().await?;
        let Some(old) = store::session(&mut tx, e.org_id, event, id).await? else { return Err(AppError::not_found("session")) };
        store::delete_session(&mut tx, e.org_id, event, id).await?;
        self.audit(&mut tx, p, e.org_id, "session.deleted", Target::Session(id), json!({ "title": old.title })).await?;
        self.kernel.commit(tx).await?;
        self.forget(Some(event));
        Ok(())
    }

    // ---- iCal ---------------------------------------------------------------------------

    /// One event as an iCalendar document; visible to whoever may see the event.
    pub async fn event_ical(&self, p: Option<&Principal>, id: EventId) -> AppResult<String> {
        let row = self.visible_event(p, id).await?;
        Ok(self.calendar(&[row], false))
    }

    /// An organization's published events that have not ended yet (public).
    pub async fn org_feed(&self, org: OrgId) -> AppResult<String> {
        let rows = store::feed_events(self.db(), org, now(), FEED_MAX).await?;
        Ok(self.calendar(&rows, true))
    }

    fn calendar(&self, rows: &[EventWithVenue], feed: bool) -> String {
        let base = self.kernel.config.server.public_url.trim_end_matches('/');
        let events: Vec<CalendarEvent<'_>> = rows
            .iter()
            .map(|row| {
                let e = &row.event;
                let location = row.venue.clone().into_venue().map(|v| {
                    [Some(v.name), v.address, Some(v.city), Some(v.country)].into_iter().flatten().collect::<Vec<_>>().join(", ")
                });
                CalendarEvent {
                    id: e.id,
                    name: &e.name,
                    description: &e.description,
                    category: e.category.as_deref(),
                    location,
                    url: format!("{base}/events/{}", e.id),
                    status: e.status,
                    starts_at: e.starts_at,
                    ends_at: e.ends_at,
                    time_zone: domain::zone_of(&e.time_zone),
                    created_at: e.created_at,
                    updated_at: e.updated_at,
                }
            })
            .collect();
        ical::calendar(&events, now(), feed)
    }

    // ---- venues ---------------------------------------------------------------------

    /// An organization's venues by name (members).
    pub async fn venues(&self, p: &Principal, org: OrgId, page: PageParams) -> AppResult<Page<Venue>> {
        self.require(p, org, Role::Viewer, "organization").await?;
        let limit = page.limit()?;
        let after: Option<(String, VenueId)> = page.decode()?;
        let rows = store::venues(self.db(), org, after, limit + 1).await?;
        Ok(Page::from_rows(rows, limit, |v| (v.name.clone(), v.id)))
    }

    /// One venue (members of its organization).
    pub async fn venue(&self, p: &Principal, id: VenueId) -> AppResult<Venue> {
        self.venue_for(p, id, Role::Viewer).await
    }

    /// A venue the caller holds `min` for; outsiders get `404`.
    async fn venue_for(&self, p: &Principal, id: VenueId, min: Role) -> AppResult<Venue> {
        let Some(venue) = store::resolve_venue(self.db(), id).await? else { return Err(AppError::not_found("venue")) };
        self.require(p, venue.org_id, min, "venue").await?;
        Ok(venue)
    }

    /// Creates a venue (staff and above).
    pub async fn create_venue(&self, p: &Principal, org: OrgId, req: CreateVenue) -> AppResult<Venue> {
        self.require(p, org, Role::Staff, "organization").await?;
        let at = now();
        let venue = Venue {
            id: VenueId::new(),
            org_id: org,
            name: domain::required_text("name", &req.name, domain::NAME_MAX)?,
            address: domain::optional_long_text("address", req.address.as_deref(), domain::ADDRESS_MAX)?,
            city: domain::required_text("city", &req.city, domain::CITY_MAX)?,
            country: domain::country("country", &req.country)?,
            capacity: domain::capacity("capacity", req.capacity)?,
            time_zone: domain::time_zone("time_zone", &req.time_zone)?.name().to_string(),
            created_at: at,
            updated_at: at,
        };
        let mut tx = self.db().begin().await?;
        store::insert_venue(&mut tx, &venue).await?;
        let mut changes = changes_of(&venue);
        strip_bookkeeping(&mut changes);
        self.audit(&mut tx, p, org, "venue.created", Target::Venue(venue.id), changes).await?;
        self.kernel.commit(tx).await?;
        Ok(venue)
    }

    /// Changes a venue (staff and above). Events keep their own time zone.
    pub async fn update_venue(&self, p: &Principal, id: VenueId, req: UpdateVenue) -> AppResult<Venue> {
        let org = self.venue_for(p, id, Role::Staff).await?.org_id;
        let name = req.name.as_deref().map(|n| domain::required_text("name", n, domain::NAME_MAX)).transpose()?;
        let address = match &req.address {
            Some(a) => Some(domain::optional_long_text("address", a.as_deref(), domain::ADDRESS_MAX)?),
            None => None,
        };
        let city = req.city.as_deref().map(|c| domain::required_text("city", c, domain::CITY_MAX)).transpose()?;
        let country = req.country.as_deref().map(|c| domain::country("country", c)).transpose()?;
        let capacity = match req.capacity {
            Some(c) => Some(domain::capacity("capacity", c)?),
            None => None,
        };
        let zone = req.time_zone.as_deref().map(|z| domain::time_zone("time_zone", z)).transpose()?;
        let at = now();
        let mut tx = self.db().begin().await?;
        let Some(old) = store::venue(&mut tx, org, id).await? else { return Err(AppError::not_found("venue")) };
        let mut new = old.clone();
        if let Some(n) = name {
            new.name = n;
        }
        if let Some(a) = address {
            new.address = a;
        }
        if let Some(c) = city {
            new.city = c;
        }
        if let Some(c) = country {
            new.country = c;
        }
        if let Some(c) = capacity {
            new.capacity = c;
        }
        if let Some(z) = zone {
            new.time_zone = z.name().to_string();
        }
        let changes = domain::changed_fields(&serde_json::to_value(&old)?, &serde_json::to_value(&new)?);
        if changes.as_object().is_some_and(|c| !c.is_empty()) {
            new.updated_at = at;
            store::save_venue(&mut tx, &new).await?;
            self.audit(&mut tx, p, org, "venue.updated", Target::Venue(id), changes).await?;
            self.kernel.commit(tx).await?;
            self.forget(None);
        }
        Ok(new)
    }

    /// Deletes a venue no event uses (staff and above); `409 venue_in_use` otherwise.
    pub async fn delete_venue(&self, p: &Principal, id: VenueId) -> AppResult<()> {
        let org = self.venue_for(p, id, Role::Staff).await?.org_id;
        let in_use = || AppError::conflict("venue_in_use", "events use this venue; move or delete them first");
        let mut tx = self.db().begin().await?;
        let Some(old) = store::venue(&mut tx, org, id).await? else { return Err(AppError::not_found("venue")) };
        if store::venue_in_use(&mut tx, org, id).await? {
            return Err(in_use());
        }
        // A concurrent insert referencing the venue surfaces as a foreign-key violation.
        store::delete_venue(&mut tx, org, id).await.map_err(|e| match AppError::from(e) {
            AppError::Validation { .. } => in_use(),
            other => other,
        })?;
        self.audit(&mut tx, p, org, "venue.deleted", Target::Venue(id), json!({ "name": old.name })).await?;
        self.kernel.commit(tx).await?;
        self.forget(None);
        Ok(())
    }
}

/// What an audit record is about.
enum Target {
    Event(EventId),
    Session(EventSessionId),
    Venue(VenueId),
}

/// The outbox payload of every `event.*` topic.
fn event_payload(e: &EventRecord) -> serde_json::Value {
    json!({ "event_id": e.id, "org_id": e.org_id, "name": e.name, "starts_at": e.starts_at })
}

/// Drops ids and bookkeeping timestamps from a creation's change summary (the audit record
/// carries the resource id and its own time).
fn strip_bookkeeping(changes: &mut serde_json::Value) {
    if let Some(map) = changes.as_object_mut() {
        for key in ["id", "org_id", "created_at", "updated_at", "deleted_at"] {
            map.remove(key);
        }
        map.retain(|_, v| !v.is_null());
    }
}

fn detail_of(row: EventWithVenue, sessions: Vec<SessionRecord>) -> EventDetail {
    let EventWithVenue { event: e, venue } = row;
    let tz = domain::zone_of(&e.time_zone);
    EventDetail {
        id: e.id,
        org_id: e.org_id,
        venue_id: e.venue_id,
        name: e.name,
        description: e.description,
        category: e.category,
        tags: e.tags.0,
        performers: e.performers.0,
        image_url: e.image_url,
        status: e.status,
        local_starts_at: domain::local_rfc3339(e.starts_at, tz),
        local_ends_at: domain::local_rfc3339(e.ends_at, tz),
        starts_at: e.starts_at,
        ends_at: e.ends_at,
        sessions: sessions.into_iter().map(|s| s.into_session(&e.time_zone)).collect(),
        time_zone: e.time_zone,
        published_at: e.published_at,
        cancelled_at: e.cancelled_at,
        created_at: e.created_at,
        updated_at: e.updated_at,
        venue: venue.into_venue(),
    }
}
