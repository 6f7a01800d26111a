//! The booking view of an event's catalog — facts, settings, ticket types and their quotas —
//! cached briefly, because every booking of a rush needs it and none may wait for it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use events::{EventFacts, EventId, EventsService};
use kernel::{AppResult, Db};

use super::settings::settings_for;
use super::store::{self, SettingsRecord};
use crate::domain::CatalogTypes;

/// Upper bound of the catalog cache's TTL (`cache.ttl_secs` applies below it; 0 disables).
const CATALOG_TTL_MAX_SECS: u64 = 2;

/// An event's catalog as booking uses it.
pub(crate) struct EventCatalog {
    pub facts: EventFacts,
    pub settings: SettingsRecord,
    /// Every ticket type of the event with the quotas it draws from.
    pub types: CatalogTypes,
}

/// What booking needs to know of an event, read once per event per TTL rather than on every
/// booking of a rush. Changes through this node invalidate at once ([`Self::forget`]); the
/// TTL (at most 2 s) bounds staleness across nodes and after event status changes.
/// Inventory is never cached.
///
/// Each entry is a cell that the first reader after a miss fills while every other reader of
/// the same event waits for it, so the opening instant of an on-sale (every buyer at once,
/// nothing cached) reads the catalog once, not once per buyer. An invalidation drops the
/// cell; a load already under way fills the dropped cell, seen only by the readers that were
/// waiting on it.
pub(crate) struct CatalogCache(Option<moka::sync::Cache<EventId, Arc<tokio::sync::OnceCell<Arc<EventCatalog>>>>>);

impl CatalogCache {
    /// A cache whose entries live `ttl_secs` (capped at 2 s); none at all for 0.
    pub fn new(ttl_secs: u64) -> CatalogCache {
        let ttl = ttl_secs.min(CATALOG_TTL_MAX_SECS);
        CatalogCache(
            (ttl > 0).then(|| moka::sync::Cache::builder().max_capacity(10_000).time_to_live(Duration::from_secs(ttl)).build()),
        )
    }

    /// The booking view of an event's catalog (`None`: no such event), cached briefly; one
    /// load per event at a time.
    pub async fn get(&self, events: &EventsService, db: &Db, event: EventId) -> AppResult<Option<Arc<EventCatalog>>> {
        let Some(cache) = &self.0 else { return load(events, db, event).await };
        let cell = cache.get_with(event, || Arc::new(tokio::sync::OnceCell::new()));
        let loaded = cell
            .get_or_try_init(|| async {
                match load(events, db, event).await {
                    Ok(Some(c)) => Ok(c),
                    Ok(None) => Err(None),
                    Err(e) => Err(Some(e)),
                }
            })
            .await;
        match loaded {
            Ok(c) => Ok(Some(c.clone())),
            Err(None) => {
                // Not cached: the event may exist a moment from now.
                cache.invalidate(&event);
                Ok(None)
            }
            Err(Some(e)) => Err(e),
        }
    }

    /// Drops the cached catalog of an event after a change to it.
    pub fn forget(&self, event: EventId) {
        if let Some(cache) = &self.0 {
            cache.invalidate(&event);
        }
    }
}

async fn load(events: &EventsService, db: &Db, event: EventId) -> AppResult<Option<Arc<EventCatalog>>> {
    let Some(facts) = events.event_facts(event).await? else { return Ok(None) };
    let settings = settings_for(db, facts.id).await?;
    let mut types: CatalogTypes = HashMap::new();
    for row in store::types_with_quotas(db, event).await? {
        let entry = types.entry(row.ticket_type.id).or_insert_with(|| (row.ticket_type, Vec::new()));
        if let Some(q) = row.quota_id {
            entry.1.push(q);
        }
    }
    Ok(Some(Arc::new(EventCatalog { facts, settings, types })))
}
