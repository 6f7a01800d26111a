//! Check-in, and the tickets people carry to the door.
//!
//! Owns the `ticket_signing_keys`, `ticket_documents`, `checkin_lists` and `checkins`
//! tables ([`store`]), their shapes ([`model`]) and rules ([`domain`]); the use cases of
//! lists and scans ([`CheckIn`], in `service`) and of tickets — the organization's Ed25519
//! keys, each valid ticket's signed QR text, the ticket PDF and the job that renders it
//! ([`tickets`]); the QR payload format ([`signing`]) and the PDF writer ([`pdf`]), both
//! without I/O; and the REST routes ([`http`]).

pub(crate) mod domain;
pub(crate) mod http;
pub(crate) mod model;
pub mod pdf;
mod service;
pub mod signing;
pub(crate) mod store;
pub(crate) mod tickets;

pub use service::CheckIn;
// The payload tests of `crate::events` build payloads the way the service does.
#[cfg(test)]
pub(crate) use service::checkin_event;
