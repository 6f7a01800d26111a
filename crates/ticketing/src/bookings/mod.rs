//! Bookings: holds, confirmation (free, or paid offline or through a payment provider),
//! cancellation, expiry and refunds — and the inventory each of them moves.
//!
//! Owns the `bookings`, `booking_positions` and `tickets` tables ([`store`]), the booking
//! and ticket shapes ([`model`]), the rules a booking request passes and its pricing
//! ([`domain`]), the use cases ([`Bookings`]), the REST routes under `/api/bookings`
//! ([`http`]) and the link to the payments context ([`payable`]).
//!
//! Taking seats: for every quota of every requested type, in quota-id order, one conditional
//! `UPDATE quotas SET taken = taken + n … WHERE taken + n <= capacity` inside the transaction
//! that writes the booking; the voucher use and the buyer's ticket count are taken the same
//! way, just before (see [`crate::inventory`]). Any of them affecting no row rolls
//! everything back: `409 sold_out`, `voucher_used_up` or `buyer_limit`. Releasing is the
//! mirrored decrement, in the same transaction as a conditional state change
//! (`… WHERE id = $1 AND status = $2`), so it happens once however many cancels, expiry jobs
//! and sweeps race for it. New bookings are written through the group-commit writer
//! ([`crate::writer`]).

pub(crate) mod domain;
pub(crate) mod http;
pub(crate) mod model;
pub(crate) mod payable;
mod service;
pub(crate) mod store;

pub(crate) use service::{Access, NewBooking, actor_of, audit_booking, booking_event, handle_jobs, summary, ticket_view};
pub use service::{Bookings, EXPIRE_HOLD_JOB, ExpireHoldJob};
