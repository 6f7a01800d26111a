//! Events use cases. Every method takes the acting principal (or `None` for an anonymous
//! reader) and checks what it may do; every mutation runs in one transaction with its audit
//! record and domain events, then commits through [`Kernel::commit`].
//!
//! Visibility: published events are public; drafts and cancelled events are visible to
//! members of their organization (viewer and above); soft-deleted events to nobody. Anything
//! a caller may not see is a `404`, never a `403`, so ids of other tenants leak nothing.
//!
//! The use cases are split by what they work on: `events` (one event, its changes and the
//! facts other contexts read), `feeds` (listing, search, iCal), `sessions` (the agenda)
//! and `venues`. This module holds what they share: access checks, the detail cache and
//! the audit record.

mod events;
mod feeds;
mod sessions;
mod venues;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Bytes;
use kernel::audit::{self, AuditEntry};
use kernel::auth::{OrgAccess, OrgScope, Principal, Role};
use kernel::jobs::Topic;
use kernel::validate::{local_rfc3339, zone_of};
use kernel::{AppError, AppResult, Db, Kernel, Tx};

use crate::domain::{EventId, EventSessionId, EventStatus, VenueId};
use crate::model::*;
use crate::store::{self, EventRecord, EventWithVenue, SessionRecord};
use crate::topics::EventChanged;

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

    /// Whether the caller may see `e`. Published events need no lookup of the caller at all.
    async fn can_see(&self, p: Option<&Principal>, e: &EventRecord) -> AppResult<bool> {
        if e.deleted_at.is_some() {
            return Ok(false);
        }
        if e.status == EventStatus::Published {
            return Ok(true);
        }
        Ok(self.access.role_of(p, e.org_id).await?.is_some_and(|r| r >= Role::Viewer))
    }

    /// The event, if the caller may see it; `404` otherwise.
    async fn visible_event(&self, p: Option<&Principal>, id: EventId) -> AppResult<EventWithVenue> {
        match store::resolve_event(self.db(), id).await? {
            Some(row) if self.can_see(p, &row.event).await? => Ok(row),
            _ => Err(AppError::not_found("event")),
        }
    }

    /// A live (not deleted) event the caller holds `min` for, with the caller's scope in its
    /// organization. Outsiders get `404` even for published events.
    async fn writable_event(&self, p: &Principal, id: EventId, min: Role) -> AppResult<(OrgScope, EventRecord)> {
        let Some(row) = store::resolve_event(self.db(), id).await? else { return Err(AppError::not_found("event")) };
        let scope = self.access.require_for(p, row.event.org_id, min, "event").await?;
        if row.event.deleted_at.is_some() {
            return Err(AppError::not_found("event"));
        }
        Ok((scope, row.event))
    }

    async fn detail(&self, row: EventWithVenue) -> AppResult<EventDetail> {
        let sessions = store::sessions(self.db(), row.event.org_id, row.event.id).await?;
        Ok(detail_of(row, sessions))
    }

    /// Re-reads an event of the scope's organization after a change.
    async fn reload(&self, scope: &OrgScope, id: EventId) -> AppResult<EventDetail> {
        match store::event(self.db(), scope, id).await? {
            Some(row) => self.detail(row).await,
            None => Err(AppError::not_found("event")),
        }
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

    /// Writes an `event.*` domain event in `tx`.
    async fn publish(&self, tx: &mut Tx<'_>, topic: &Topic<EventChanged>, data: &EventChanged) -> AppResult<()> {
        self.kernel.jobs.publish(tx, topic, data).await.map(|_| ())
    }

    async fn audit(
        &self,
        tx: &mut Tx<'_>,
        p: &Principal,
        scope: &OrgScope,
        action: &str,
        target: Target,
        changes: serde_json::Value,
    ) -> AppResult<()> {
        let (resource_type, resource_id) = match target {
            Target::Event(id) => ("event", id.to_string()),
            Target::Session(id) => ("event_session", id.to_string()),
            Target::Venue(id) => ("venue", id.to_string()),
        };
        let entry = AuditEntry { org_id: Some(scope.org()), action, resource_type, resource_id, changes };
        audit::record_as(tx, &p.actor(), entry).await
    }
}

/// What an audit record is about.
enum Target {
    Event(EventId),
    Session(EventSessionId),
    Venue(VenueId),
}

/// The outbox payload of every `event.*` topic.
fn event_payload(e: &EventRecord) -> EventChanged {
    EventChanged { event_id: e.id, org_id: e.org_id, name: e.name.clone(), starts_at: e.starts_at }
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
    let tz = zone_of(&e.time_zone);
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
        local_starts_at: local_rfc3339(e.starts_at, tz),
        local_ends_at: local_rfc3339(e.ends_at, tz),
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
