//! Events: events, venues, sessions (the agenda), performers, categories, full-text search
//! and iCal.
//!
//! Public API: [`EventsService`] (use cases, each taking the acting principal), [`router`]
//! (the REST routes) and [`topics`] (the domain events written to the outbox, each carrying
//! [`topics::EventChanged`]: `event.created`, `event.updated`, `event.published`,
//! `event.unpublished`, `event.cancelled`, `event.deleted`, `event.restored`).
//!
//! Conventions: instants are stored and exchanged in UTC; each event keeps its IANA zone
//! beside them and responses add the wall-clock times in that zone. Events are soft-deleted
//! (an admin can restore them); venues and sessions are deleted for real.

pub mod domain;
pub mod http;
pub mod ical;
pub mod model;
pub mod service;
mod store;
pub mod topics;

pub use domain::{EventId, EventSessionId, EventStatus, VenueId};
pub use http::router;
pub use model::*;
pub use service::EventsService;
