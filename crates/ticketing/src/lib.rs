//! Ticketing: ticket types, quotas, holds, bookings, tickets, check-in, waitlist, vouchers.

// Pure building blocks (no I/O): QR payload signing and ticket PDF rendering.
pub mod pdf;
pub mod signing;

// Modules with I/O and the public API follow.
//
// Public API: [`TicketingService`] (use cases, each taking the acting principal) and
// [`router`] (the REST routes). Domain events written to the outbox: `booking.created`,
// `booking.confirmed`, `booking.cancelled`, `booking.expired` (each with the booking id,
// org, event, code, status, buyer, currency, total, quantity and positions) and
// `quota.capacity_raised`; check-in adds `ticket.checked_in` and `ticket.checkin_undone`
// (check-in id, ticket, org, event, list, gate, scan time); the waitlist adds
// `waitlist.joined`, `waitlist.offered`, `waitlist.accepted`, `waitlist.declined`,
// `waitlist.expired` and `waitlist.left` (entry id, org, event, ticket type or session, email,
// booking id, offer expiry). See `docs/ticketing.md` for the inventory model and how
// waitlist offers use it.
pub mod domain;
pub mod http;
pub mod model;
pub mod service;
mod store;

pub use domain::{
    BookingId, BookingStatus, CheckinId, CheckinListId, CheckinResult, QuotaId, TicketId, TicketTypeId, VoucherId,
    WaitlistEntryId, WaitlistStatus,
};
pub use http::router;
pub use model::*;
pub use service::{EXPIRE_HOLD_JOB, RENDER_TICKETS_JOB, TicketingService, WAITLIST_JOB};
