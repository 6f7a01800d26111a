//! One event: reading it (with the published-detail cache), creating, changing, deleting and
//! restoring it, and the facts other contexts read about it.

use std::sync::atomic::Ordering;

use axum::body::Bytes;
use kernel::auth::{Principal, Role};
use kernel::id::OrgId;
use kernel::time::now;
use kernel::validate::{long_text, name_list, optional_text, optional_url, required_text, time_zone};
use kernel::{AppError, AppResult};
use serde_json::json;
use sqlx::types::Json;

use super::{EventsService, Target, event_payload, strip_bookkeeping};
use crate::domain::{self, EventId, EventStatus, Transition};
use crate::model::*;
use crate::store::{self, EventRecord, EventWithVenue};
use crate::topics;

impl EventsService {
    // ---- reading --------------------------------------------------------------------

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

    /// [`Self::event`], from the published-event cache when it holds the event (the pages
    /// read it this way: decoding the cached JSON costs less than the two queries).
    pub async fn event_cached(&self, p: Option<&Principal>, id: EventId) -> AppResult<EventDetail> {
        let json = self.event_json(p, id).await?;
        serde_json::from_slice(&json).map_err(|e| AppError::Internal(e.into()))
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

    // ---- writing --------------------------------------------------------------------

    /// Creates an event (staff and above in `req.org_id`).
    pub async fn create_event(&self, p: &Principal, req: CreateEvent) -> AppResult<EventDetail> {
        let scope = self.access.require(p, req.org_id, Role::Staff).await?;
        let name = required_text("name", &req.name, domain::NAME_MAX)?;
        let description = long_text("description", req.description.as_deref(), domain::DESCRIPTION_MAX)?;
        let category = optional_text("category", req.category.as_deref(), domain::CATEGORY_MAX)?;
        let tags = name_list("tags", &req.tags, domain::TAGS_MAX, domain::TAG_MAX)?;
        let performers = name_list("performers", &req.performers, domain::PERFORMERS_MAX, domain::PERFORMER_MAX)?;
        let image_url = optional_url("image_url", req.image_url.as_deref())?;
        let status = req.status.unwrap_or(EventStatus::Draft);
        if status == EventStatus::Cancelled {
            return Err(AppError::validation("status", "a new event is draft or published"));
        }
        let (starts_at, ends_at) =
            domain::time_window(("starts_at", req.starts_at), ("ends_at", req.ends_at), domain::EVENT_MAX_DAYS)?;
        let zone = req.time_zone.as_deref().map(|z| time_zone("time_zone", z)).transpose()?;

        let at = now();
        let mut tx = self.db().begin().await?;
        let venue_zone = match req.venue_id {
            Some(v) => Some(self.venue_zone(&mut tx, &scope, v).await?),
            None => None,
        };
        let time_zone = match (zone, venue_zone) {
            (Some(z), _) => z.name().to_string(),
            (None, Some(z)) => z,
            (None, None) => return Err(AppError::validation("time_zone", "required for an event without a venue")),
        };
        let event = EventRecord {
            id: EventId::new(),
            org_id: scope.org(),
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
        store::insert_event(&mut tx, &scope, &event).await?;
        let mut changes = serde_json::to_value(&event)?;
        strip_bookkeeping(&mut changes);
        self.audit(&mut tx, p, &scope, "event.created", Target::Event(event.id), changes).await?;
        self.publish(&mut tx, &topics::EVENT_CREATED, &event_payload(&event)).await?;
        if status == EventStatus::Published {
            self.publish(&mut tx, &topics::EVENT_PUBLISHED, &event_payload(&event)).await?;
        }
        self.kernel.commit(tx).await?;
        self.reload(&scope, event.id).await
    }

    /// Changes an event (staff and above): only the fields present; status changes follow
    /// [`Transition::between`].
    pub async fn update_event(&self, p: &Principal, id: EventId, req: UpdateEvent) -> AppResult<EventDetail> {
        let (scope, _) = self.writable_event(p, id, Role::Staff).await?;
        // Validate what needs no database before taking the write lock.
        let name = req.name.as_deref().map(|n| required_text("name", n, domain::NAME_MAX)).transpose()?;
        let description = match &req.description {
            Some(d) => Some(long_text("description", Some(d), domain::DESCRIPTION_MAX)?),
            None => None,
        };
        let category = match &req.category {
            Some(c) => Some(optional_text("category", c.as_deref(), domain::CATEGORY_MAX)?),
            None => None,
        };
        let tags = req.tags.as_deref().map(|t| name_list("tags", t, domain::TAGS_MAX, domain::TAG_MAX)).transpose()?;
        let performers = req
            .performers
            .as_deref()
            .map(|t| name_list("performers", t, domain::PERFORMERS_MAX, domain::PERFORMER_MAX))
            .transpose()?;
        let image_url = match &req.image_url {
            Some(u) => Some(optional_url("image_url", u.as_deref())?),
            None => None,
        };
        let zone = req.time_zone.as_deref().map(|z| time_zone("time_zone", z)).transpose()?;

        let at = now();
        let mut tx = self.db().begin().await?;
        let old = match store::lock_event(&mut tx, &scope, id).await? {
            Some(e) if e.deleted_at.is_none() => e,
            _ => return Err(AppError::not_found("event")),
        };
        let mut new = old.clone();
        if let Some(venue) = req.venue_id {
            if let Some(v) = venue {
                let venue_zone = self.venue_zone(&mut tx, &scope, v).await?;
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

        let mut changes = kernel::audit::changed_fields(&serde_json::to_value(&old)?, &serde_json::to_value(&new)?);
        let Some(fields) = changes.as_object_mut() else { return Err(AppError::internal("change summary is not an object")) };
        if fields.is_empty() {
            // Nothing to change: no write, no audit record, no event.
            drop(tx);
            return self.reload(&scope, id).await;
        }
        let status_only = fields.keys().all(|k| matches!(k.as_str(), "status" | "published_at" | "cancelled_at"));
        new.updated_at = at;
        store::save_event(&mut tx, &scope, &new).await?;
        let action = transition.topic().unwrap_or(topics::EVENT_UPDATED).name();
        self.audit(&mut tx, p, &scope, action, Target::Event(id), changes).await?;
        if !status_only {
            self.publish(&mut tx, &topics::EVENT_UPDATED, &event_payload(&new)).await?;
        }
        if let Some(topic) = transition.topic() {
            self.publish(&mut tx, &topic, &event_payload(&new)).await?;
        }
        self.kernel.commit(tx).await?;
        self.forget(Some(id));
        self.reload(&scope, id).await
    }

    /// Soft-deletes an event (admins and above); it can be restored.
    pub async fn delete_event(&self, p: &Principal, id: EventId) -> AppResult<()> {
        let (scope, _) = self.writable_event(p, id, Role::Admin).await?;
        let at = now();
        let mut tx = self.db().begin().await?;
        let mut event = match store::lock_event(&mut tx, &scope, id).await? {
            Some(e) if e.deleted_at.is_none() => e,
            _ => return Err(AppError::not_found("event")),
        };
        event.deleted_at = Some(at);
        event.updated_at = at;
        store::save_event(&mut tx, &scope, &event).await?;
        self.audit(&mut tx, p, &scope, "event.deleted", Target::Event(id), json!({ "name": event.name })).await?;
        self.publish(&mut tx, &topics::EVENT_DELETED, &event_payload(&event)).await?;
        self.kernel.commit(tx).await?;
        self.forget(Some(id));
        Ok(())
    }

    /// Brings back a soft-deleted event (admins and above), in the status it had.
    pub async fn restore_event(&self, p: &Principal, id: EventId) -> AppResult<EventDetail> {
        let Some(row) = store::resolve_event(self.db(), id).await? else { return Err(AppError::not_found("event")) };
        let scope = self.access.require_for(p, row.event.org_id, Role::Admin, "event").await?;
        let at = now();
        let mut tx = self.db().begin().await?;
        let Some(mut event) = store::lock_event(&mut tx, &scope, id).await? else { return Err(AppError::not_found("event")) };
        if event.deleted_at.is_none() {
            return Err(AppError::conflict("not_deleted", "the event is not deleted"));
        }
        event.deleted_at = None;
        event.updated_at = at;
        store::save_event(&mut tx, &scope, &event).await?;
        self.audit(&mut tx, p, &scope, "event.restored", Target::Event(id), json!({ "name": event.name })).await?;
        self.publish(&mut tx, &topics::EVENT_RESTORED, &event_payload(&event)).await?;
        self.kernel.commit(tx).await?;
        self.forget(Some(id));
        self.reload(&scope, id).await
    }
}
