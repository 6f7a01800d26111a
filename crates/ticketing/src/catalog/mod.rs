//! The catalog: what an event sells — ticket types, quotas (capacity pools shared by ticket
//! types), vouchers (discounts, and unlocks of hidden types) — and its ticketing settings.
//!
//! Owns the `ticketing_settings`, `ticket_types`, `quotas`, `quota_ticket_types` and
//! `vouchers` tables ([`store`]; seats taken and voucher uses change only through
//! [`crate::inventory`]), their shapes ([`model`]) and rules ([`domain`]), the use cases
//! ([`Catalog`], with the settings in [`settings`]), the REST routes ([`http`]), and the
//! booking view of an event's catalog that every booking reads ([`cache`]).

pub(crate) mod cache;
pub(crate) mod domain;
pub(crate) mod http;
pub(crate) mod model;
mod service;
pub(crate) mod settings;
pub(crate) mod store;

pub use service::Catalog;
pub(crate) use service::type_views;
