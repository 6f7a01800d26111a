//! Reports: what organizers (and buyers, for their own) read across many bookings — an
//! event's booking list, filtered and paged or streamed as CSV of any size, a user's
//! bookings, and an event's sales statistics. Read-only.
//!
//! Owns the listing and statistics SQL over the bookings' tables ([`store`]), their query
//! and answer shapes ([`model`]), the use cases ([`Reports`]) and their routes ([`http`]).

pub(crate) mod http;
pub(crate) mod model;
mod service;
pub(crate) mod store;

pub use http::csv_download;
pub use service::Reports;
