//! SQL for the bookings' tables: `bookings`, `booking_positions` and `tickets`. One SQL
//! text serves both backends.
//!
//! Every change of a booking's status is a conditional update on the status it is expected
//! to be in (`… WHERE id = $1 AND status = $2`), so it happens once however many requests,
//! jobs and nodes race for it; what the booking holds of the inventory moves in the same
//! transaction, through [`crate::inventory`].
//!
//! Functions over a booking the caller has reached take its [`OrgScope`] and filter by it:
//! a member's, or for a buyer (who is no member) and for the jobs and payment listeners the
//! platform's in the organization the booking row names. Unscoped are the lookup that finds
//! that row ([`booking`]), the inserts of the booking write path (the group-commit writer's
//! batches hold bookings of many organizations; every row carries its booking's org), the
//! conditional expiry a job runs by booking id, and the platform-wide hold sweep.

use chrono::{DateTime, Utc};
use events::EventId;
use kernel::auth::OrgScope;
use kernel::id::{OrgId, UserId};
use kernel::{Db, Tx, read, tx};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;

use crate::domain::{BookingId, BookingStatus, PositionId, QuotaId, TicketId, TicketStatus, TicketTypeId, VoucherId};
use crate::model::{Attendee, Position};

// ---- records ------------------------------------------------------------------------------

/// Seats a booking took from one quota; stored on the booking so a release gives back
/// exactly what was taken, whatever happened to the quota's ticket types since.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Allocation {
    pub quota_id: QuotaId,
    pub quantity: i64,
}

/// A `bookings` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct BookingRecord {
    pub id: BookingId,
    pub org_id: OrgId,
    pub event_id: EventId,
    pub code: String,
    #[sqlx(try_from = "String")]
    pub status: BookingStatus,
    pub buyer_email: String,
    pub buyer_name: String,
    pub user_id: Option<UserId>,
    pub voucher_id: Option<VoucherId>,
    pub voucher_code: Option<String>,
    pub currency: String,
    pub subtotal: i64,
    pub discount: i64,
    pub total: i64,
    pub quantity: i64,
    pub attendees: Json<Vec<Attendee>>,
    pub allocations: Json<Vec<Allocation>>,
    pub token_hash: String,
    pub hold_expires_at: Option<DateTime<Utc>>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub expired_at: Option<DateTime<Utc>>,
    pub paid_reference: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A `booking_positions` row to insert.
#[derive(Debug, Clone)]
pub(crate) struct NewPosition<'a> {
    pub position: &'a Position,
    pub org_id: OrgId,
    pub event_id: EventId,
    pub booking_id: BookingId,
    pub at: DateTime<Utc>,
}

/// A `tickets` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct TicketRecord {
    pub id: TicketId,
    pub org_id: OrgId,
    pub event_id: EventId,
    pub booking_id: BookingId,
    pub ticket_type_id: TicketTypeId,
    pub seq: i64,
    pub attendee_name: Option<String>,
    pub attendee_email: Option<String>,
    pub code: String,
    #[sqlx(try_from = "String")]
    pub status: TicketStatus,
    pub checked_in_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

// SQL fragments, shared through `concat!` so every query stays a `&'static str`.

macro_rules! booking_columns {
    () => {
        "id, org_id, event_id, code, status, buyer_email, buyer_name, user_id, voucher_id, voucher_code, currency, subtotal, \
         discount, total, quantity, attendees, allocations, token_hash, hold_expires_at, confirmed_at, cancelled_at, \
         expired_at, paid_reference, created_at, updated_at"
    };
}
pub(crate) use booking_columns;

macro_rules! ticket_columns {
    () => {
        "id, org_id, event_id, booking_id, ticket_type_id, seq, attendee_name, attendee_email, code, status, checked_in_at, \
         cancelled_at, created_at, updated_at"
    };
}

// ---- bookings -----------------------------------------------------------------------------

/// Inserts bookings with one multi-row insert (the group-commit writer's batches).
/// Unscoped: the booking write path, for buyers of any organization at once; each row
/// carries the organization of its event.
pub(crate) async fn insert_bookings(tx: &mut Tx<'_>, bookings: &[&BookingRecord]) -> Result<u64, sqlx::Error> {
    kernel::insert_rows!(tx, "bookings", bookings, |b| {
        "id": "uuid" = b.id,
        "org_id": "uuid" = b.org_id,
        "event_id": "uuid" = b.event_id,
        "code": "text" = b.code.as_str(),
        "status": "text" = b.status.as_str(),
        "buyer_email": "text" = b.buyer_email.as_str(),
        "buyer_name": "text" = b.buyer_name.as_str(),
        "user_id": "uuid" = b.user_id,
        "voucher_id": "uuid" = b.voucher_id,
        "voucher_code": "text" = b.voucher_code.as_deref(),
        "currency": "text" = b.currency.as_str(),
        "subtotal": "int8" = b.subtotal,
        "discount": "int8" = b.discount,
        "total": "int8" = b.total,
        "quantity": "int8" = b.quantity,
        "attendees": "jsonb" = &b.attendees,
        "allocations": "jsonb" = &b.allocations,
        "token_hash": "text" = b.token_hash.as_str(),
        "hold_expires_at": "timestamptz" = b.hold_expires_at,
        "confirmed_at": "timestamptz" = b.confirmed_at,
        "cancelled_at": "timestamptz" = b.cancelled_at,
        "expired_at": "timestamptz" = b.expired_at,
        "paid_reference": "text" = b.paid_reference.as_deref(),
        "created_at": "timestamptz" = b.created_at,
        "updated_at": "timestamptz" = b.updated_at,
    })
}

/// Inserts positions with one multi-row insert.
/// Unscoped: the booking write path (see [`insert_bookings`]); each row carries its
/// booking's organization.
pub(crate) async fn insert_positions(tx: &mut Tx<'_>, positions: &[NewPosition<'_>]) -> Result<u64, sqlx::Error> {
    kernel::insert_rows!(tx, "booking_positions", positions, |p| {
        "id": "uuid" = p.position.id,
        "org_id": "uuid" = p.org_id,
        "event_id": "uuid" = p.event_id,
        "booking_id": "uuid" = p.booking_id,
        "ticket_type_id": "uuid" = p.position.ticket_type_id,
        "ticket_type_name": "text" = p.position.ticket_type_name.as_str(),
        "quantity": "int8" = p.position.quantity,
        "unit_price": "int8" = p.position.unit_price,
        "discount": "int8" = p.position.discount,
        "currency": "text" = p.position.currency.as_str(),
        "created_at": "timestamptz" = p.at,
        "updated_at": "timestamptz" = p.at,
    })
}

/// Inserts tickets with one multi-row insert.
/// Unscoped: the booking write path (see [`insert_bookings`]) and confirmations; each row
/// carries its booking's organization.
pub(crate) async fn insert_tickets(tx: &mut Tx<'_>, tickets: &[&TicketRecord]) -> Result<u64, sqlx::Error> {
    kernel::insert_rows!(tx, "tickets", tickets, |t| {
        "id": "uuid" = t.id,
        "org_id": "uuid" = t.org_id,
        "event_id": "uuid" = t.event_id,
        "booking_id": "uuid" = t.booking_id,
        "ticket_type_id": "uuid" = t.ticket_type_id,
        "seq": "int8" = t.seq,
        "attendee_name": "text" = t.attendee_name.as_deref(),
        "attendee_email": "text" = t.attendee_email.as_deref(),
        "code": "text" = t.code.as_str(),
        "status": "text" = t.status.as_str(),
        "checked_in_at": "timestamptz" = t.checked_in_at,
        "cancelled_at": "timestamptz" = t.cancelled_at,
        "created_at": "timestamptz" = t.created_at,
        "updated_at": "timestamptz" = t.updated_at,
    })
}

/// Finds a booking by id alone, to learn its event, organization and buyer.
/// Unscoped: resolves which organization owns a booking before access is checked (its
/// buyer's token or account, a member's role), or before a job or payment listener acts on
/// it in that organization.
pub(crate) async fn booking(db: &Db, id: BookingId) -> Result<Option<BookingRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(concat!("SELECT ", booking_columns!(), " FROM bookings WHERE id = $1"))
        .bind(id)
        .fetch_optional(c)
        .await)
}

const POSITIONS: &str = "SELECT id, ticket_type_id, ticket_type_name, quantity, unit_price, discount, currency \
    FROM booking_positions WHERE booking_id = $1 AND org_id = $2 ORDER BY id";

pub(crate) async fn positions(db: &Db, scope: &OrgScope, booking: BookingId) -> Result<Vec<Position>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(POSITIONS).bind(booking).bind(scope.org()).fetch_all(c).await)
}

pub(crate) async fn positions_tx(tx: &mut Tx<'_>, scope: &OrgScope, booking: BookingId) -> Result<Vec<Position>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(POSITIONS).bind(booking).bind(scope.org()).fetch_all(c).await)
}

pub(crate) async fn tickets(db: &Db, scope: &OrgScope, booking: BookingId) -> Result<Vec<TicketRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(concat!(
        "SELECT ",
        ticket_columns!(),
        " FROM tickets WHERE booking_id = $1 AND org_id = $2 ORDER BY seq"
    ))
    .bind(booking)
    .bind(scope.org())
    .fetch_all(c)
    .await)
}

/// Reads a booking for a change, taking its row lock on PostgreSQL (a no-op update, so the
/// same text serves SQLite, where the single writer already serializes changes). Every
/// change of a booking locks its row first, then the buyer counter(s), the voucher, and the
/// quotas in id order: one order, so concurrent transactions never deadlock.
pub(crate) async fn lock_booking(tx: &mut Tx<'_>, scope: &OrgScope, id: BookingId) -> Result<Option<BookingRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!(
        "UPDATE bookings SET updated_at = updated_at WHERE id = $1 AND org_id = $2 RETURNING ",
        booking_columns!()
    ))
    .bind(id)
    .bind(scope.org())
    .fetch_optional(c)
    .await)
}

/// Confirms a booking that is in `from` (pending, or expired and re-taken): the guard that
/// makes "mark paid" happen once. `None`: the booking is no longer in `from`.
pub(crate) async fn confirm(
    tx: &mut Tx<'_>,
    scope: &OrgScope,
    id: BookingId,
    from: BookingStatus,
    reference: Option<&str>,
    at: DateTime<Utc>,
) -> Result<Option<BookingRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!(
        "UPDATE bookings SET status = 'confirmed', confirmed_at = $3, paid_reference = $4, hold_expires_at = NULL, \
         updated_at = $3 WHERE id = $1 AND status = $2 AND org_id = $5 RETURNING ",
        booking_columns!()
    ))
    .bind(id)
    .bind(from.as_str())
    .bind(at)
    .bind(reference)
    .bind(scope.org())
    .fetch_optional(c)
    .await)
}

/// Cancels a booking that is still in `from`. `None`: someone else changed it first.
pub(crate) async fn cancel(
    tx: &mut Tx<'_>,
    scope: &OrgScope,
    id: BookingId,
    from: BookingStatus,
    at: DateTime<Utc>,
) -> Result<Option<BookingRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!(
        "UPDATE bookings SET status = 'cancelled', cancelled_at = $3, updated_at = $3 \
         WHERE id = $1 AND status = $2 AND org_id = $4 RETURNING ",
        booking_columns!()
    ))
    .bind(id)
    .bind(from.as_str())
    .bind(at)
    .bind(scope.org())
    .fetch_optional(c)
    .await)
}

/// Expires a pending booking whose hold has run out. `None`: paid, cancelled or expired
/// already, or not due yet.
/// Unscoped: the hold-expiry job and the sweep name the booking by id alone; this
/// conditional update is also the read, and what follows is done in the organization of
/// the row it returns.
pub(crate) async fn expire(tx: &mut Tx<'_>, id: BookingId, at: DateTime<Utc>) -> Result<Option<BookingRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!(
        "UPDATE bookings SET status = 'expired', expired_at = $2, updated_at = $2 \
         WHERE id = $1 AND status = 'pending_payment' AND hold_expires_at <= $2 RETURNING ",
        booking_columns!()
    ))
    .bind(id)
    .bind(at)
    .fetch_optional(c)
    .await)
}

pub(crate) async fn update_buyer(
    tx: &mut Tx<'_>,
    scope: &OrgScope,
    id: BookingId,
    email: &str,
    name: &str,
    attendees: &Json<Vec<Attendee>>,
    at: DateTime<Utc>,
) -> Result<Option<BookingRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!(
        "UPDATE bookings SET buyer_email = $2, buyer_name = $3, attendees = $4, updated_at = $5 \
         WHERE id = $1 AND org_id = $6 RETURNING ",
        booking_columns!()
    ))
    .bind(id)
    .bind(email)
    .bind(name)
    .bind(attendees)
    .bind(at)
    .bind(scope.org())
    .fetch_optional(c)
    .await)
}

pub(crate) async fn name_ticket(
    tx: &mut Tx<'_>,
    scope: &OrgScope,
    booking: BookingId,
    seq: i64,
    name: Option<&str>,
    email: Option<&str>,
    at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query(
        "UPDATE tickets SET attendee_name = $3, attendee_email = $4, updated_at = $5 \
         WHERE booking_id = $1 AND seq = $2 AND org_id = $6"
    )
    .bind(booking)
    .bind(seq)
    .bind(name)
    .bind(email)
    .bind(at)
    .bind(scope.org())
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}

pub(crate) async fn cancel_tickets(
    tx: &mut Tx<'_>,
    scope: &OrgScope,
    booking: BookingId,
    at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query(
        "UPDATE tickets SET status = 'cancelled', cancelled_at = $2, updated_at = $2 \
         WHERE booking_id = $1 AND status = 'valid' AND org_id = $3"
    )
    .bind(booking)
    .bind(at)
    .bind(scope.org())
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}

/// Cancels the named tickets of a booking that are still valid; their ids and types.
pub(crate) async fn cancel_ticket_ids(
    tx: &mut Tx<'_>,
    scope: &OrgScope,
    booking: BookingId,
    ids: &[TicketId],
    at: DateTime<Utc>,
) -> Result<Vec<(TicketId, TicketTypeId)>, sqlx::Error> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let row: Option<(TicketId, TicketTypeId)> = tx!(tx, |c| sqlx::query_as(
            "UPDATE tickets SET status = 'cancelled', cancelled_at = $3, updated_at = $3 \
             WHERE id = $1 AND booking_id = $2 AND status = 'valid' AND org_id = $4 RETURNING id, ticket_type_id"
        )
        .bind(id)
        .bind(booking)
        .bind(at)
        .bind(scope.org())
        .fetch_optional(c)
        .await)?;
        out.extend(row);
    }
    Ok(out)
}

/// A booking's valid tickets, in seq order (the order attendees are given in).
pub(crate) async fn valid_ticket_seqs(
    tx: &mut Tx<'_>,
    scope: &OrgScope,
    booking: BookingId,
) -> Result<Vec<(TicketId, i64)>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(
        "SELECT id, seq FROM tickets WHERE booking_id = $1 AND status = 'valid' AND org_id = $2 ORDER BY seq"
    )
    .bind(booking)
    .bind(scope.org())
    .fetch_all(c)
    .await)
}

/// Sets what is left of a position after some of its tickets were given back; a position
/// with none left is removed.
pub(crate) async fn shrink_position(
    tx: &mut Tx<'_>,
    scope: &OrgScope,
    id: PositionId,
    quantity: i64,
    discount: i64,
    at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    if quantity <= 0 {
        return tx!(tx, |c| sqlx::query("DELETE FROM booking_positions WHERE id = $1 AND org_id = $2")
            .bind(id)
            .bind(scope.org())
            .execute(c)
            .await
            .map(|r| r.rows_affected()));
    }
    tx!(tx, |c| sqlx::query(
        "UPDATE booking_positions SET quantity = $2, discount = $3, updated_at = $4 WHERE id = $1 AND org_id = $5"
    )
    .bind(id)
    .bind(quantity)
    .bind(discount)
    .bind(at)
    .bind(scope.org())
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}

/// What a confirmed booking holds after some of its tickets were given back.
pub(crate) struct Shrunk<'a> {
    pub quantity: i64,
    pub subtotal: i64,
    pub discount: i64,
    pub total: i64,
    pub allocations: &'a Json<Vec<Allocation>>,
    pub attendees: &'a Json<Vec<Attendee>>,
}

pub(crate) async fn shrink_booking(
    tx: &mut Tx<'_>,
    scope: &OrgScope,
    id: BookingId,
    s: Shrunk<'_>,
    at: DateTime<Utc>,
) -> Result<Option<BookingRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!(
        "UPDATE bookings SET quantity = $2, subtotal = $3, discount = $4, total = $5, allocations = $6, attendees = $7, \
         updated_at = $8 WHERE id = $1 AND status = 'confirmed' AND org_id = $9 RETURNING ",
        booking_columns!()
    ))
    .bind(id)
    .bind(s.quantity)
    .bind(s.subtotal)
    .bind(s.discount)
    .bind(s.total)
    .bind(s.allocations)
    .bind(s.attendees)
    .bind(at)
    .bind(scope.org())
    .fetch_optional(c)
    .await)
}

/// Marks a booking refunded (its payment was refunded in full) from `from`. `None`: it is
/// no longer in `from`.
pub(crate) async fn refund_booking(
    tx: &mut Tx<'_>,
    scope: &OrgScope,
    id: BookingId,
    from: BookingStatus,
    at: DateTime<Utc>,
) -> Result<Option<BookingRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!(
        "UPDATE bookings SET status = 'refunded', cancelled_at = $3, hold_expires_at = NULL, updated_at = $3 \
         WHERE id = $1 AND status = $2 AND org_id = $4 RETURNING ",
        booking_columns!()
    ))
    .bind(id)
    .bind(from.as_str())
    .bind(at)
    .bind(scope.org())
    .fetch_optional(c)
    .await)
}

/// Replaces the token of a waitlist offer's booking (accepting with the entry's own token
/// hands the person a fresh booking token; only its hash is stored).
pub(crate) async fn set_booking_token(
    tx: &mut Tx<'_>,
    scope: &OrgScope,
    booking: BookingId,
    hash: &str,
    at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query("UPDATE bookings SET token_hash = $2, updated_at = $3 WHERE id = $1 AND org_id = $4")
        .bind(booking)
        .bind(hash)
        .bind(at)
        .bind(scope.org())
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
}

/// Pending bookings whose hold ran out by `at` (the safety sweep; the per-booking job
/// normally gets there first).
/// Unscoped: the platform-wide sweep every node runs.
pub(crate) async fn due_holds(db: &Db, at: DateTime<Utc>, limit: i64) -> Result<Vec<BookingId>, sqlx::Error> {
    let rows: Vec<(BookingId,)> = read!(db, |c| sqlx::query_as(
        "SELECT id FROM bookings WHERE status = 'pending_payment' AND hold_expires_at <= $1 ORDER BY hold_expires_at LIMIT $2"
    )
    .bind(at)
    .bind(limit)
    .fetch_all(c)
    .await)?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}
