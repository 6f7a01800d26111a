//! The domain events the events context publishes: their payload and their topics.
//!
//! Every `event.*` topic carries the same [`EventChanged`] payload; the topic says what
//! happened. Venues and sessions publish nothing (their changes reach only the audit trail).
//! The module is not called `events` so that paths read `events::topics::EVENT_CREATED`.

use chrono::{DateTime, Utc};
use kernel::id::OrgId;
use kernel::jobs::{Topic, TopicInfo};
use serde::{Deserialize, Serialize};

use crate::domain::EventId;

/// What an `event.*` event says about the event, as it is after the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventChanged {
    /// The event that changed.
    pub event_id: EventId,
    /// The organization the event belongs to.
    pub org_id: OrgId,
    /// The event's name.
    pub name: String,
    /// When the event starts (UTC).
    pub starts_at: DateTime<Utc>,
}

/// A new event, in any status (a published one also gets [`EVENT_PUBLISHED`]).
pub const EVENT_CREATED: Topic<EventChanged> = Topic::new("event.created", 1);
/// A draft became public.
pub const EVENT_PUBLISHED: Topic<EventChanged> = Topic::new("event.published", 1);
/// A published event went back to draft.
pub const EVENT_UNPUBLISHED: Topic<EventChanged> = Topic::new("event.unpublished", 1);
/// Fields other than the status changed.
pub const EVENT_UPDATED: Topic<EventChanged> = Topic::new("event.updated", 1);
/// The event was called off (final).
pub const EVENT_CANCELLED: Topic<EventChanged> = Topic::new("event.cancelled", 1);
/// The event was soft-deleted.
pub const EVENT_DELETED: Topic<EventChanged> = Topic::new("event.deleted", 1);
/// A soft-deleted event was brought back.
pub const EVENT_RESTORED: Topic<EventChanged> = Topic::new("event.restored", 1);

/// Every topic this context publishes, for the event catalogue.
pub fn topics() -> Vec<TopicInfo> {
    [EVENT_CREATED, EVENT_PUBLISHED, EVENT_UNPUBLISHED, EVENT_UPDATED, EVENT_CANCELLED, EVENT_DELETED, EVENT_RESTORED]
        .iter()
        .map(Topic::info)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The payload is what the outbox held before it was typed: these four keys, the id
    /// as a UUID string and the start as RFC 3339 UTC.
    #[test]
    fn payload_keeps_its_json_shape() {
        let payload = EventChanged {
            event_id: EventId::new(),
            org_id: OrgId::new(),
            name: "Nordlicht".into(),
            starts_at: "2030-01-10T19:00:00Z".parse().unwrap(),
        };
        let before = serde_json::json!({
            "event_id": payload.event_id, "org_id": payload.org_id, "name": payload.name, "starts_at": payload.starts_at
        });
        let typed = serde_json::to_value(&payload).unwrap();
        assert_eq!(typed, before);
        assert_eq!(serde_json::to_string(&typed).unwrap(), serde_json::to_string(&before).unwrap());
        assert_eq!(serde_json::from_value::<EventChanged>(before).unwrap(), payload);
    }

    #[test]
    fn the_catalogue_lists_every_topic_once() {
        let all = topics();
        let mut names: Vec<&str> = all.iter().map(|t| t.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 7);
        assert!(all.iter().all(|t| t.version == 1 && t.payload == "EventChanged"));
    }
}
