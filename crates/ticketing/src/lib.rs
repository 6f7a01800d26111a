//! Ticketing: ticket types, quotas, holds, bookings, tickets, check-in, waitlist, vouchers.
//!
//! Public API: [`TicketingService`] (built by the binary; it hands out the feature services
//! [`Catalog`], [`Bookings`], [`CheckIn`], [`Waitlist`] and [`Reports`], whose use cases each
//! take the acting principal), [`router`] (the REST routes), and [`events`]: the topics and
//! payloads of the domain events it writes to the outbox — `booking.created`,
//! `booking.confirmed`, `booking.cancelled`, `booking.expired`, `booking.tickets_refunded`,
//! `quota.capacity_raised`; check-in's `ticket.checked_in` and `ticket.checkin_undone`; the
//! waitlist's `waitlist.joined`, `waitlist.offered`, `waitlist.accepted`,
//! `waitlist.declined`, `waitlist.expired` and `waitlist.left`. See `docs/ticketing.md` for
//! the inventory model and how waitlist offers use it.
//!
//! Layout, by feature — each folder holds its own `http.rs`, `service.rs`, `store.rs`,
//! `model.rs` and `domain.rs`:
//!
//! * `catalog` — ticket types, quotas, vouchers, settings, and the cached booking view of
//!   an event's catalog;
//! * `bookings` — bookings and their tickets, and the link to payments;
//! * `checkin` — check-in lists and scans, ticket signing keys and QR codes, ticket PDFs;
//! * `waitlist` — waiting entries and offers;
//! * `reports` — booking lists, CSV export, sales statistics;
//!
//! and what they share: `inventory` (every change of seats, voucher uses and buyer counts),
//! `writer` (group commit of new bookings), `shared` (ids, common rules, schemas, the
//! shared state) and the composition root in `service`.

mod bookings;
mod catalog;
mod checkin;
pub mod events;
mod inventory;
mod reports;
mod service;
mod shared;
mod waitlist;
mod writer;

// Pure building blocks (no I/O): QR payload signing and ticket PDF rendering.
pub use checkin::{pdf, signing};

pub use bookings::{Bookings, EXPIRE_HOLD_JOB, ExpireHoldJob};
pub use catalog::Catalog;
pub use checkin::CheckIn;
pub use checkin::tickets::{ConfirmationPack, RENDER_TICKETS_JOB, RenderTicketsJob};
pub use domain::{
    BookingId, BookingStatus, CheckinId, CheckinListId, CheckinResult, QuotaId, TicketId, TicketTypeId, VoucherId,
    WaitlistEntryId, WaitlistStatus,
};
pub use model::*;
pub use reports::{Reports, csv_download};
pub use service::TicketingService;
pub use waitlist::{WAITLIST_JOB, Waitlist};

/// Ticketing rules without I/O, every feature's under one name: typed ids, the booking,
/// ticket, check-in and waitlist state machines, field validation (currencies, prices,
/// emails, voucher codes, sales windows), the checks a booking request passes, pricing with
/// vouchers, seat allocations per quota, and the random codes and tokens bookings and
/// tickets carry.
///
/// Validation functions take the field name they report in a `422` (a JSON path such as
/// `positions[1].quantity`) and return the normalized value.
pub mod domain {
    pub use crate::bookings::domain::*;
    pub use crate::catalog::domain::*;
    pub use crate::checkin::domain::*;
    pub use crate::shared::domain::*;
    pub use crate::shared::ids::*;
    pub use crate::waitlist::domain::*;
}

/// Request and response shapes of the ticketing API, every feature's under one name.
///
/// Money is an integer in minor units (cents) beside its ISO 4217 `currency`. Instants are
/// UTC. In partial updates an absent field is left as it is; for a field that can be empty,
/// `null` clears it.
///
/// Request fields carry the server's rules as schema constraints (lengths in characters,
/// ranges, patterns), so every value the schema allows passes the field checks; what is
/// left are rules between fields or against stored data. Patterns are written in the
/// syntax ECMA-262 and Python share: texts may not contain control characters (`Cc`, plus
/// line breaks in single-line texts), and required texts need one character that is not
/// white space. Instants the server checks against the years 1900–9999 are limited to the
/// years 1901–9998 as written (so no UTC offset moves them out). The limits mirror
/// [`crate::domain`]; the test `schema_limits_follow_the_domain` (in `shared`) keeps them in
/// step.
pub mod model {
    pub use crate::bookings::model::*;
    pub use crate::catalog::model::*;
    pub use crate::checkin::model::*;
    pub use crate::reports::model::*;
    pub use crate::waitlist::model::*;
}

/// The REST routes of every feature.
pub fn router(svc: std::sync::Arc<TicketingService>) -> utoipa_axum::router::OpenApiRouter {
    utoipa_axum::router::OpenApiRouter::new()
        .merge(catalog::http::router())
        .merge(bookings::http::router())
        .merge(reports::http::router())
        .merge(checkin::http::router())
        .merge(waitlist::http::router())
        .with_state(svc)
}
