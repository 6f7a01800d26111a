//! Waitlist: people wait for a ticket type (or any public type of a session) that has no
//! tickets left; when seats free up, the next in line gets an **offer** — seats held in
//! their name until the offer expires.
//!
//! An offer *is* a booking: written through the booking write path
//! ([`crate::bookings::Bookings::insert_booking_rows`], [`crate::inventory::take_one`]),
//! status `pending_payment`, `hold_expires_at` = the offer's expiry, its seats taken by the
//! same conditional `UPDATE quotas SET taken = taken + n … WHERE taken + n <= capacity`. In
//! the same transaction the entry goes `waiting → offered` by a conditional update
//! (`… WHERE id = $1 AND status = 'waiting'`). So an entry is offered at most once whatever
//! number of jobs, nodes and requests race for it, and an offer can never oversell: if either
//! guard fails, nothing of the offer commits. No in-process lock is involved.
//!
//! Lock order (PostgreSQL): a transaction that changes an entry locks the entry's row before
//! the booking's and before any inventory row (buyer counter, quota), matching the booking
//! paths' own order (booking, counters, vouchers, quotas), so nothing waits in a cycle.
//!
//! Advancing: a job (`ticketing.waitlist`) listening to `booking.cancelled`,
//! `booking.expired`, `booking.tickets_refunded` and `quota.capacity_raised` first closes the
//! entry whose offer that booking was (expired → `expired`; cancelled while offered → `declined`), then walks the
//! event's waiting entries in tier order (the index in the event's `waitlist_tiers`, unknown
//! tiers last), then join order, making offers; an offer that fails for lack of seats stops
//! the walk for that ticket type or session (strict order: a later, smaller request does not
//! jump the queue) while entries for other types and sessions go on. A decline (and leaving
//! with an open offer) advances at once too. Every node's periodic sweep is the safety net:
//! offered entries whose booking moved on (paid before accepting, or a lost job) follow it.
//!
//! Access follows bookings: an entry is reachable by its person (the signed-in user who
//! joined, or whoever holds its `waitlist_token` or the offer's token) and by members of the
//! organization; anything else is a `404`. Staff and above may remove entries, change
//! tiers and decline offers on someone's behalf; only the person accepts.
//!
//! Decisions beyond the issue, recorded here:
//! * Joining a session waits for any *public* ticket type of that session; the offer books
//!   the first of them (by sort order) with room.
//! * "No availability" means no room for the requested quantity: someone wanting 2 may join
//!   while 1 is left.
//! * Staff who set `tier` when joining act on behalf of `email`: the entry is not tied to
//!   their own account and answers with a `waitlist_token` to pass on.
//! * Accepting a priced offer leaves the booking pending until the offer expiry; if it is not
//!   paid by then, the booking expires and so does the entry (`accepted → expired`).
//! * An entry whose person already holds the per-buyer maximum is skipped (stays waiting).
//! * Offer tokens: the offer mail carries a fresh token that is the offer booking's
//!   `booking_token` (only its hash is stored); it also opens the entry.
//!
//! Owns the `waitlist_entries` table ([`store`]), the entry's shapes ([`model`]) and rules
//! ([`domain`]), the use cases of joining, reading and changing entries ([`Waitlist`], in
//! `service`) and of making offers ([`offers`]), and the REST routes ([`http`]).

pub(crate) mod domain;
pub(crate) mod http;
pub(crate) mod model;
pub(crate) mod offers;
mod service;
pub(crate) mod store;

pub use offers::WAITLIST_JOB;
pub use service::Waitlist;
// The payload tests of `crate::events` build payloads the way the service does.
#[cfg(test)]
pub(crate) use service::entry_event;
