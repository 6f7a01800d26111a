//! SQL for the ticketing context's own tables: `ticketing_settings`, `ticket_types`,
//! `quotas`, `quota_ticket_types`, `vouchers`, `bookings`, `booking_positions`, `tickets`,
//! `buyer_counters` (and in [`checkin`]: signing keys, ticket documents, check-in lists and
//! scans). One SQL text serves both backends.
//!
//! The inventory statements are the heart of the context: [`take_seats`], [`use_voucher`]
//! and [`count_buyer`] are conditional updates whose `rows_affected` says whether there was
//! room; their mirrors release exactly what was taken. Callers run them inside the
//! transaction that writes (or changes the state of) the booking.
//!
//! Functions that look a row up by id alone (`ticket_type`, `quota`, `voucher`, `booking`)
//! exist to learn its organization; callers check access before showing anything.

use chrono::{DateTime, Utc};
use events::{EventId, EventSessionId};
use futures::TryStreamExt;
use kernel::id::{OrgId, UserId};
use kernel::{Db, Tx, read, tx};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;

use crate::domain::{BookingId, BookingStatus, PositionId, QuotaId, TicketId, TicketStatus, TicketTypeId, Visibility, VoucherId};
use crate::model::{Attendee, Position};

pub(crate) mod checkin;

// ---- records ------------------------------------------------------------------------------

/// A `ticketing_settings` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct SettingsRecord {
    pub event_id: EventId,
    pub org_id: OrgId,
    pub hold_seconds: i64,
    pub max_tickets_per_buyer: Option<i64>,
    pub waitlist_offer_hours: i64,
    pub waitlist_tiers: Json<Vec<String>>,
    pub waitlist_offer_seconds: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A `ticket_types` row.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub(crate) struct TicketTypeRecord {
    pub id: TicketTypeId,
    pub org_id: OrgId,
    pub event_id: EventId,
    pub session_id: Option<EventSessionId>,
    pub name: String,
    pub description: Option<String>,
    pub price: i64,
    pub currency: String,
    pub sales_start: Option<DateTime<Utc>>,
    pub sales_end: Option<DateTime<Utc>>,
    pub min_per_order: i64,
    pub max_per_order: Option<i64>,
    #[sqlx(try_from = "String")]
    pub visibility: Visibility,
    pub sort_order: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A ticket type with one of its quotas (a `LEFT JOIN` row: `quota_id` is null for a type
/// in no quota).
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct TypeQuotaRow {
    #[sqlx(flatten)]
    pub ticket_type: TicketTypeRecord,
    pub quota_id: Option<QuotaId>,
}

/// A `quotas` row.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub(crate) struct QuotaRecord {
    pub id: QuotaId,
    pub org_id: OrgId,
    pub event_id: EventId,
    pub name: String,
    pub capacity: i64,
    pub taken: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A `vouchers` row.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub(crate) struct VoucherRecord {
    pub id: VoucherId,
    pub org_id: OrgId,
    pub event_id: EventId,
    pub code: String,
    pub code_norm: String,
    pub amount_off: Option<i64>,
    pub percent_off: Option<i64>,
    pub currency: Option<String>,
    pub max_uses: Option<i64>,
    pub uses: i64,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub ticket_type_ids: Json<Vec<TicketTypeId>>,
    pub unlock_ticket_type_ids: Json<Vec<TicketTypeId>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

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

macro_rules! type_columns {
    () => {
        "id, org_id, event_id, session_id, name, description, price, currency, sales_start, sales_end, min_per_order, \
         max_per_order, visibility, sort_order, created_at, updated_at"
    };
}

macro_rules! type_columns_t {
    () => {
        "t.id, t.org_id, t.event_id, t.session_id, t.name, t.description, t.price, t.currency, t.sales_start, t.sales_end, \
         t.min_per_order, t.max_per_order, t.visibility, t.sort_order, t.created_at, t.updated_at"
    };
}

macro_rules! quota_columns {
    () => {
        "id, org_id, event_id, name, capacity, taken, created_at, updated_at"
    };
}

macro_rules! voucher_columns {
    () => {
        "id, org_id, event_id, code, code_norm, amount_off, percent_off, currency, max_uses, uses, valid_from, valid_until, \
         ticket_type_ids, unlock_ticket_type_ids, created_at, updated_at"
    };
}

macro_rules! booking_columns {
    () => {
        "id, org_id, event_id, code, status, buyer_email, buyer_name, user_id, voucher_id, voucher_code, currency, subtotal, \
         discount, total, quantity, attendees, allocations, token_hash, hold_expires_at, confirmed_at, cancelled_at, \
         expired_at, paid_reference, created_at, updated_at"
    };
}

macro_rules! ticket_columns {
    () => {
        "id, org_id, event_id, booking_id, ticket_type_id, seq, attendee_name, attendee_email, code, status, checked_in_at, \
         cancelled_at, created_at, updated_at"
    };
}

// ---- settings -----------------------------------------------------------------------------

pub(crate) async fn settings(db: &Db, event: EventId) -> Result<Option<SettingsRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(
        "SELECT event_id, org_id, hold_seconds, max_tickets_per_buyer, waitlist_offer_hours, waitlist_tiers, \
         waitlist_offer_seconds, created_at, updated_at FROM ticketing_settings WHERE event_id = $1"
    )
    .bind(event)
    .fetch_optional(c)
    .await)
}

pub(crate) async fn save_settings(tx: &mut Tx<'_>, s: &SettingsRecord) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query(
        "INSERT INTO ticketing_settings (event_id, org_id, hold_seconds, max_tickets_per_buyer, waitlist_offer_hours, \
         waitlist_tiers, created_at, updated_at, waitlist_offer_seconds) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (event_id) DO UPDATE SET hold_seconds = excluded.hold_seconds, \
         max_tickets_per_buyer = excluded.max_tickets_per_buyer, waitlist_offer_hours = excluded.waitlist_offer_hours, \
         waitlist_tiers = excluded.waitlist_tiers, waitlist_offer_seconds = excluded.waitlist_offer_seconds, \
         updated_at = excluded.updated_at"
    )
    .bind(s.event_id)
    .bind(s.org_id)
    .bind(s.hold_seconds)
    .bind(s.max_tickets_per_buyer)
    .bind(s.waitlist_offer_hours)
    .bind(&s.waitlist_tiers)
    .bind(s.created_at)
    .bind(s.updated_at)
    .bind(s.waitlist_offer_seconds)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}

// ---- ticket types -------------------------------------------------------------------------

/// An event's ticket types, each joined with its quota memberships (one row per
/// membership; types in no quota come once with a null `quota_id`).
pub(crate) async fn types_with_quotas(db: &Db, event: EventId) -> Result<Vec<TypeQuotaRow>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(concat!(
        "SELECT ",
        type_columns_t!(),
        ", qt.quota_id FROM ticket_types t LEFT JOIN quota_ticket_types qt ON qt.ticket_type_id = t.id \
         WHERE t.event_id = $1 ORDER BY t.sort_order, t.id, qt.quota_id LIMIT 10000"
    ))
    .bind(event)
    .fetch_all(c)
    .await)
}

/// Finds a ticket type by id alone, to learn its event and organization.
pub(crate) async fn ticket_type(db: &Db, id: TicketTypeId) -> Result<Option<TicketTypeRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(concat!("SELECT ", type_columns!(), " FROM ticket_types WHERE id = $1"))
        .bind(id)
        .fetch_optional(c)
        .await)
}

pub(crate) async fn count_types(tx: &mut Tx<'_>, event: EventId) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) =
        tx!(tx, |c| sqlx::query_as("SELECT COUNT(*) FROM ticket_types WHERE event_id = $1").bind(event).fetch_one(c).await)?;
    Ok(n)
}

/// Which of `ids` are ticket types of `event` (for validating id lists).
pub(crate) async fn type_ids_of_event(tx: &mut Tx<'_>, event: EventId) -> Result<Vec<TicketTypeId>, sqlx::Error> {
    let rows: Vec<(TicketTypeId,)> = tx!(tx, |c| sqlx::query_as("SELECT id FROM ticket_types WHERE event_id = $1 LIMIT 10000")
        .bind(event)
        .fetch_all(c)
        .await)?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

pub(crate) async fn insert_ticket_type(tx: &mut Tx<'_>, t: &TicketTypeRecord) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query(concat!(
        "INSERT INTO ticket_types (",
        type_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
    ))
    .bind(t.id)
    .bind(t.org_id)
    .bind(t.event_id)
    .bind(t.session_id)
    .bind(&t.name)
    .bind(&t.description)
    .bind(t.price)
    .bind(&t.currency)
    .bind(t.sales_start)
    .bind(t.sales_end)
    .bind(t.min_per_order)
    .bind(t.max_per_order)
    .bind(t.visibility.as_str())
    .bind(t.sort_order)
    .bind(t.created_at)
    .bind(t.updated_at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}

pub(crate) async fn save_ticket_type(tx: &mut Tx<'_>, t: &TicketTypeRecord) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query(
        "UPDATE ticket_types SET session_id = $3, name = $4, description = $5, price = $6, currency = $7, sales_start = $8, \
         sales_end = $9, min_per_order = $10, max_per_order = $11, visibility = $12, sort_order = $13, updated_at = $14 \
         WHERE org_id = $1 AND id = $2"
    )
    .bind(t.org_id)
    .bind(t.id)
    .bind(t.session_id)
    .bind(&t.name)
    .bind(&t.description)
    .bind(t.price)
    .bind(&t.currency)
    .bind(t.sales_start)
    .bind(t.sales_end)
    .bind(t.min_per_order)
    .bind(t.max_per_order)
    .bind(t.visibility.as_str())
    .bind(t.sort_order)
    .bind(t.updated_at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}

/// Deletes a ticket type that was never booked (positions reference booked types, so the
/// foreign key refuses the rest).
pub(crate) async fn delete_ticket_type(tx: &mut Tx<'_>, org: OrgId, id: TicketTypeId) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query("DELETE FROM ticket_types WHERE org_id = $1 AND id = $2")
        .bind(org)
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
}

pub(crate) async fn type_was_booked(tx: &mut Tx<'_>, id: TicketTypeId) -> Result<bool, sqlx::Error> {
    let row: Option<(TicketTypeId,)> =
        tx!(tx, |c| sqlx::query_as("SELECT ticket_type_id FROM booking_positions WHERE ticket_type_id = $1 LIMIT 1")
            .bind(id)
            .fetch_optional(c)
            .await)?;
    Ok(row.is_some())
}

// ---- quotas -------------------------------------------------------------------------------

pub(crate) async fn quotas(db: &Db, event: EventId) -> Result<Vec<QuotaRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(concat!("SELECT ", quota_columns!(), " FROM quotas WHERE event_id = $1 ORDER BY id LIMIT 1000"))
        .bind(event)
        .fetch_all(c)
        .await)
}

/// (quota, ticket type) pairs of an event.
pub(crate) async fn memberships(db: &Db, event: EventId) -> Result<Vec<(QuotaId, TicketTypeId)>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(
        "SELECT qt.quota_id, qt.ticket_type_id FROM quota_ticket_types qt JOIN quotas q ON q.id = qt.quota_id \
         WHERE q.event_id = $1 ORDER BY qt.quota_id, qt.ticket_type_id LIMIT 100000"
    )
    .bind(event)
    .fetch_all(c)
    .await)
}

/// Finds a quota by id alone, to learn its event and organization.
pub(crate) async fn quota(db: &Db, id: QuotaId) -> Result<Option<QuotaRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(concat!("SELECT ", quota_columns!(), " FROM quotas WHERE id = $1"))
        .bind(id)
        .fetch_optional(c)
        .await)
}

pub(crate) async fn quota_tx(tx: &mut Tx<'_>, org: OrgId, id: QuotaId) -> Result<Option<QuotaRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!("SELECT ", quota_columns!(), " FROM quotas WHERE org_id = $1 AND id = $2"))
        .bind(org)
        .bind(id)
        .fetch_optional(c)
        .await)
}

pub(crate) async fn count_quotas(tx: &mut Tx<'_>, event: EventId) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) =
        tx!(tx, |c| sqlx::query_as("SELECT COUNT(*) FROM quotas WHERE event_id = $1").bind(event).fetch_one(c).await)?;
    Ok(n)
}

pub(crate) async fn insert_quota(tx: &mut Tx<'_>, q: &QuotaRecord) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query(concat!("INSERT INTO quotas (", quota_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
        .bind(q.id)
        .bind(q.org_id)
        .bind(q.event_id)
        .bind(&q.name)
        .bind(q.capacity)
        .bind(q.taken)
        .bind(q.created_at)
        .bind(q.updated_at)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
}

pub(crate) async fn rename_quota(
    tx: &mut Tx<'_>,
    org: OrgId,
    id: QuotaId,
    name: &str,
    at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query("UPDATE quotas SET name = $3, updated_at = $4 WHERE org_id = $1 AND id = $2")
        .bind(org)
        .bind(id)
        .bind(name)
        .bind(at)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
}

/// Sets a quota's capacity unless that would put it below what is taken. Returns the quota
/// as changed, or `None` when seats taken exceed the new capacity.
pub(crate) async fn set_capacity(
    tx: &mut Tx<'_>,
    org: OrgId,
    id: QuotaId,
    capacity: i64,
    at: DateTime<Utc>,
) -> Result<Option<QuotaRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!(
        "UPDATE quotas SET capacity = $3, updated_at = $4 WHERE org_id = $1 AND id = $2 AND taken <= $3 RETURNING ",
        quota_columns!()
    ))
    .bind(org)
    .bind(id)
    .bind(capacity)
    .bind(at)
    .fetch_optional(c)
    .await)
}

/// Replaces the ticket types of a quota.
pub(crate) async fn set_quota_types(
    tx: &mut Tx<'_>,
    org: OrgId,
    quota: QuotaId,
    types: &[TicketTypeId],
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    tx!(tx, |c| sqlx::query("DELETE FROM quota_ticket_types WHERE quota_id = $1")
        .bind(quota)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    for t in types {
        tx!(tx, |c| {
            sqlx::query(
            "INSERT INTO quota_ticket_types (quota_id, ticket_type_id, org_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)"
        )
        .bind(quota)
        .bind(t)
        .bind(org)
        .bind(at)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

pub(crate) async fn quota_types(tx: &mut Tx<'_>, quota: QuotaId) -> Result<Vec<TicketTypeId>, sqlx::Error> {
    let rows: Vec<(TicketTypeId,)> = tx!(tx, |c| sqlx::query_as(
        "SELECT ticket_type_id FROM quota_ticket_types WHERE quota_id = $1 ORDER BY ticket_type_id LIMIT 10000"
    )
    .bind(quota)
    .fetch_all(c)
    .await)?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Deletes a quota from which no seat is held or sold.
pub(crate) async fn delete_quota(tx: &mut Tx<'_>, org: OrgId, id: QuotaId) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query("DELETE FROM quotas WHERE org_id = $1 AND id = $2 AND taken = 0")
        .bind(org)
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
}

/// Takes `n` seats from a quota if it has room: the conditional update that makes
/// overselling impossible. On PostgreSQL the row stays locked until the transaction ends, and
/// a concurrent taker re-checks the condition against the committed row; on SQLite the single
/// writer serializes transactions. Returns rows affected (0: no room).
pub(crate) async fn take_seats(tx: &mut Tx<'_>, quota: QuotaId, n: i64, at: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query("UPDATE quotas SET taken = taken + $2, updated_at = $3 WHERE id = $1 AND taken + $2 <= capacity")
        .bind(quota)
        .bind(n)
        .bind(at)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
}

/// Gives back `n` seats (the mirror of [`take_seats`]). A quota deleted meanwhile has none
/// taken, so 0 rows is harmless there.
pub(crate) async fn release_seats(tx: &mut Tx<'_>, quota: QuotaId, n: i64, at: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query("UPDATE quotas SET taken = taken - $2, updated_at = $3 WHERE id = $1 AND taken >= $2")
        .bind(quota)
        .bind(n)
        .bind(at)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
}

/// Room left in a quota (for the detail of a sold-out answer).
pub(crate) async fn quota_room(db: &Db, quota: QuotaId) -> Result<Option<i64>, sqlx::Error> {
    let row: Option<(i64,)> =
        read!(db, |c| sqlx::query_as("SELECT capacity - taken FROM quotas WHERE id = $1").bind(quota).fetch_optional(c).await)?;
    Ok(row.map(|r| r.0))
}

// ---- vouchers -----------------------------------------------------------------------------

/// An event's vouchers by code, starting strictly after `(code_norm, id)`.
pub(crate) async fn vouchers(
    db: &Db,
    event: EventId,
    after: Option<(String, VoucherId)>,
    fetch: i64,
) -> Result<Vec<VoucherRecord>, sqlx::Error> {
    let (code, id) = after.unzip();
    read!(db, |c| sqlx::query_as(concat!(
        "SELECT ",
        voucher_columns!(),
        " FROM vouchers WHERE event_id = $1 AND ($2 IS NULL OR code_norm > $2 OR (code_norm = $2 AND id > $3)) \
         ORDER BY code_norm, id LIMIT $4"
    ))
    .bind(event)
    .bind(&code)
    .bind(id)
    .bind(fetch)
    .fetch_all(c)
    .await)
}

/// Finds a voucher by id alone, to learn its event and organization.
pub(crate) async fn voucher(db: &Db, id: VoucherId) -> Result<Option<VoucherRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(concat!("SELECT ", voucher_columns!(), " FROM vouchers WHERE id = $1"))
        .bind(id)
        .fetch_optional(c)
        .await)
}

pub(crate) async fn voucher_by_code(db: &Db, event: EventId, code_norm: &str) -> Result<Option<VoucherRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(concat!("SELECT ", voucher_columns!(), " FROM vouchers WHERE event_id = $1 AND code_norm = $2"))
        .bind(event)
        .bind(code_norm)
        .fetch_optional(c)
        .await)
}

pub(crate) async fn insert_voucher(tx: &mut Tx<'_>, v: &VoucherRecord) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query(concat!(
        "INSERT INTO vouchers (",
        voucher_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
    ))
    .bind(v.id)
    .bind(v.org_id)
    .bind(v.event_id)
    .bind(&v.code)
    .bind(&v.code_norm)
    .bind(v.amount_off)
    .bind(v.percent_off)
    .bind(&v.currency)
    .bind(v.max_uses)
    .bind(v.uses)
    .bind(v.valid_from)
    .bind(v.valid_until)
    .bind(&v.ticket_type_ids)
    .bind(&v.unlock_ticket_type_ids)
    .bind(v.created_at)
    .bind(v.updated_at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}

/// Writes a voucher's changeable fields, unless `max_uses` would fall below the uses it
/// already has (concurrent bookings included). Returns the voucher as saved.
pub(crate) async fn save_voucher(tx: &mut Tx<'_>, v: &VoucherRecord) -> Result<Option<VoucherRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!(
        "UPDATE vouchers SET code = $3, code_norm = $4, amount_off = $5, percent_off = $6, currency = $7, max_uses = $8, \
         valid_from = $9, valid_until = $10, ticket_type_ids = $11, unlock_ticket_type_ids = $12, updated_at = $13 \
         WHERE org_id = $1 AND id = $2 AND ($8 IS NULL OR uses <= $8) RETURNING ",
        voucher_columns!()
    ))
    .bind(v.org_id)
    .bind(v.id)
    .bind(&v.code)
    .bind(&v.code_norm)
    .bind(v.amount_off)
    .bind(v.percent_off)
    .bind(&v.currency)
    .bind(v.max_uses)
    .bind(v.valid_from)
    .bind(v.valid_until)
    .bind(&v.ticket_type_ids)
    .bind(&v.unlock_ticket_type_ids)
    .bind(v.updated_at)
    .fetch_optional(c)
    .await)
}

/// Deletes a voucher no live booking uses.
pub(crate) async fn delete_voucher(tx: &mut Tx<'_>, org: OrgId, id: VoucherId) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query("DELETE FROM vouchers WHERE org_id = $1 AND id = $2 AND uses = 0")
        .bind(org)
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
}

/// Counts one use of a voucher if it has uses left (0 rows: used up).
pub(crate) async fn use_voucher(tx: &mut Tx<'_>, id: VoucherId, at: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query(
        "UPDATE vouchers SET uses = uses + 1, updated_at = $2 WHERE id = $1 AND (max_uses IS NULL OR uses < max_uses)"
    )
    .bind(id)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}

pub(crate) async fn release_voucher(tx: &mut Tx<'_>, id: VoucherId, at: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query("UPDATE vouchers SET uses = uses - 1, updated_at = $2 WHERE id = $1 AND uses > 0")
        .bind(id)
        .bind(at)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
}

// ---- buyer counters -----------------------------------------------------------------------

/// Adds `n` tickets to the buyer's count for the event if that stays within `max` (0 rows:
/// over the cap). One upsert: the first booking of a buyer inserts the row (the caller has
/// checked `n <= max`), later ones add to it under the row lock.
pub(crate) async fn count_buyer(
    tx: &mut Tx<'_>,
    org: OrgId,
    event: EventId,
    buyer: &str,
    n: i64,
    max: i64,
    at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO buyer_counters (event_id, buyer_email, org_id, tickets, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) \
         ON CONFLICT (event_id, buyer_email) DO UPDATE SET tickets = buyer_counters.tickets + excluded.tickets, \
         updated_at = excluded.updated_at WHERE buyer_counters.tickets + excluded.tickets <= $6"
    )
    .bind(event)
    .bind(buyer)
    .bind(org)
    .bind(n)
    .bind(at)
    .bind(max)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })
}

/// Adds tickets to buyers' counts without a cap (the event sets none), with one multi-row
/// upsert. Each `(event, buyer)` must appear once; pass them in key order (lock order).
pub(crate) async fn count_buyers_uncapped(
    tx: &mut Tx<'_>,
    counts: &[(OrgId, EventId, &str, i64)],
    at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    kernel::insert_rows!(tx, "buyer_counters", counts, |c| {
        "event_id": "uuid" = c.1,
        "buyer_email": "text" = c.2,
        "org_id": "uuid" = c.0,
        "tickets": "int8" = c.3,
        "created_at": "timestamptz" = at,
        "updated_at": "timestamptz" = at,
    }, "ON CONFLICT (event_id, buyer_email) DO UPDATE SET tickets = buyer_counters.tickets + excluded.tickets, \
        updated_at = excluded.updated_at")
}

pub(crate) async fn uncount_buyer(
    tx: &mut Tx<'_>,
    event: EventId,
    buyer: &str,
    n: i64,
    at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| {
        sqlx::query(
        "UPDATE buyer_counters SET tickets = tickets - $3, updated_at = $4 WHERE event_id = $1 AND buyer_email = $2 AND tickets >= $3"
    )
    .bind(event)
    .bind(buyer)
    .bind(n)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })
}

// ---- bookings -----------------------------------------------------------------------------

/// Inserts bookings with one multi-row insert (the group-commit writer's batches).
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
pub(crate) async fn booking(db: &Db, id: BookingId) -> Result<Option<BookingRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(concat!("SELECT ", booking_columns!(), " FROM bookings WHERE id = $1"))
        .bind(id)
        .fetch_optional(c)
        .await)
}

pub(crate) async fn positions(db: &Db, booking: BookingId) -> Result<Vec<Position>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(
        "SELECT id, ticket_type_id, ticket_type_name, quantity, unit_price, discount, currency FROM booking_positions \
         WHERE booking_id = $1 ORDER BY id"
    )
    .bind(booking)
    .fetch_all(c)
    .await)
}

pub(crate) async fn positions_tx(tx: &mut Tx<'_>, booking: BookingId) -> Result<Vec<Position>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(
        "SELECT id, ticket_type_id, ticket_type_name, quantity, unit_price, discount, currency FROM booking_positions \
         WHERE booking_id = $1 ORDER BY id"
    )
    .bind(booking)
    .fetch_all(c)
    .await)
}

pub(crate) async fn tickets(db: &Db, booking: BookingId) -> Result<Vec<TicketRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(concat!("SELECT ", ticket_columns!(), " FROM tickets WHERE booking_id = $1 ORDER BY seq"))
        .bind(booking)
        .fetch_all(c)
        .await)
}

/// Reads a booking for a change, taking its row lock on PostgreSQL (a no-op update, so the
/// same text serves SQLite, where the single writer already serializes changes). Every
/// change of a booking locks its row first, then the buyer counter(s), the voucher, and the
/// quotas in id order: one order, so concurrent transactions never deadlock.
pub(crate) async fn lock_booking(tx: &mut Tx<'_>, id: BookingId) -> Result<Option<BookingRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!(
        "UPDATE bookings SET updated_at = updated_at WHERE id = $1 RETURNING ",
        booking_columns!()
    ))
    .bind(id)
    .fetch_optional(c)
    .await)
}

/// Confirms a booking that is in `from` (pending, or expired and re-taken): the guard that
/// makes "mark paid" happen once. `None`: the booking is no longer in `from`.
pub(crate) async fn confirm(
    tx: &mut Tx<'_>,
    id: BookingId,
    from: BookingStatus,
    reference: Option<&str>,
    at: DateTime<Utc>,
) -> Result<Option<BookingRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!(
        "UPDATE bookings SET status = 'confirmed', confirmed_at = $3, paid_reference = $4, hold_expires_at = NULL, \
         updated_at = $3 WHERE id = $1 AND status = $2 RETURNING ",
        booking_columns!()
    ))
    .bind(id)
    .bind(from.as_str())
    .bind(at)
    .bind(reference)
    .fetch_optional(c)
    .await)
}

/// Cancels a booking that is still in `from`. `None`: someone else changed it first.
pub(crate) async fn cancel(
    tx: &mut Tx<'_>,
    id: BookingId,
    from: BookingStatus,
    at: DateTime<Utc>,
) -> Result<Option<BookingRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!(
        "UPDATE bookings SET status = 'cancelled', cancelled_at = $3, updated_at = $3 WHERE id = $1 AND status = $2 RETURNING ",
        booking_columns!()
    ))
    .bind(id)
    .bind(from.as_str())
    .bind(at)
    .fetch_optional(c)
    .await)
}

/// Expires a pending booking whose hold has run out. `None`: paid, cancelled or expired
/// already, or not due yet.
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
    id: BookingId,
    email: &str,
    name: &str,
    attendees: &Json<Vec<Attendee>>,
    at: DateTime<Utc>,
) -> Result<Option<BookingRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!(
        "UPDATE bookings SET buyer_email = $2, buyer_name = $3, attendees = $4, updated_at = $5 WHERE id = $1 RETURNING ",
        booking_columns!()
    ))
    .bind(id)
    .bind(email)
    .bind(name)
    .bind(attendees)
    .bind(at)
    .fetch_optional(c)
    .await)
}

pub(crate) async fn name_ticket(
    tx: &mut Tx<'_>,
    booking: BookingId,
    seq: i64,
    name: Option<&str>,
    email: Option<&str>,
    at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query(
        "UPDATE tickets SET attendee_name = $3, attendee_email = $4, updated_at = $5 WHERE booking_id = $1 AND seq = $2"
    )
    .bind(booking)
    .bind(seq)
    .bind(name)
    .bind(email)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}

pub(crate) async fn cancel_tickets(tx: &mut Tx<'_>, booking: BookingId, at: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query(
        "UPDATE tickets SET status = 'cancelled', cancelled_at = $2, updated_at = $2 WHERE booking_id = $1 AND status = 'valid'"
    )
    .bind(booking)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}

/// Cancels the named tickets of a booking that are still valid; their ids and types.
pub(crate) async fn cancel_ticket_ids(
    tx: &mut Tx<'_>,
    booking: BookingId,
    ids: &[TicketId],
    at: DateTime<Utc>,
) -> Result<Vec<(TicketId, TicketTypeId)>, sqlx::Error> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let row: Option<(TicketId, TicketTypeId)> = tx!(tx, |c| sqlx::query_as(
            "UPDATE tickets SET status = 'cancelled', cancelled_at = $3, updated_at = $3 \
             WHERE id = $1 AND booking_id = $2 AND status = 'valid' RETURNING id, ticket_type_id"
        )
        .bind(id)
        .bind(booking)
        .bind(at)
        .fetch_optional(c)
        .await)?;
        out.extend(row);
    }
    Ok(out)
}

/// A booking's valid tickets, in seq order (the order attendees are given in).
pub(crate) async fn valid_ticket_seqs(tx: &mut Tx<'_>, booking: BookingId) -> Result<Vec<(TicketId, i64)>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as("SELECT id, seq FROM tickets WHERE booking_id = $1 AND status = 'valid' ORDER BY seq")
        .bind(booking)
        .fetch_all(c)
        .await)
}

/// Sets what is left of a position after some of its tickets were given back; a position
/// with none left is removed.
pub(crate) async fn shrink_position(
    tx: &mut Tx<'_>,
    id: PositionId,
    quantity: i64,
    discount: i64,
    at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    if quantity <= 0 {
        return tx!(tx, |c| sqlx::query("DELETE FROM booking_positions WHERE id = $1")
            .bind(id)
            .execute(c)
            .await
            .map(|r| r.rows_affected()));
    }
    tx!(tx, |c| sqlx::query("UPDATE booking_positions SET quantity = $2, discount = $3, updated_at = $4 WHERE id = $1")
        .bind(id)
        .bind(quantity)
        .bind(discount)
        .bind(at)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
}

/// What a confirmed booking holds after some of its tickets were given back.
pub(crate) struct Shrunk<'a> {
    pub quantity: i64,
    pub subtotal: i64,
    pub discount: i64,
    pub allocations: &'a Json<Vec<Allocation>>,
    pub attendees: &'a Json<Vec<Attendee>>,
}

pub(crate) async fn shrink_booking(
    tx: &mut Tx<'_>,
    id: BookingId,
    s: Shrunk<'_>,
    at: DateTime<Utc>,
) -> Result<Option<BookingRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!(
        "UPDATE bookings SET quantity = $2, subtotal = $3, discount = $4, total = $5, allocations = $6, attendees = $7, \
         updated_at = $8 WHERE id = $1 AND status = 'confirmed' RETURNING ",
        booking_columns!()
    ))
    .bind(id)
    .bind(s.quantity)
    .bind(s.subtotal)
    .bind(s.discount)
    .bind(s.subtotal - s.discount)
    .bind(s.allocations)
    .bind(s.attendees)
    .bind(at)
    .fetch_optional(c)
    .await)
}

/// Marks a booking refunded (its payment was refunded in full) from `from`. `None`: it is
/// no longer in `from`.
pub(crate) async fn refund_booking(
    tx: &mut Tx<'_>,
    id: BookingId,
    from: BookingStatus,
    at: DateTime<Utc>,
) -> Result<Option<BookingRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!(
        "UPDATE bookings SET status = 'refunded', cancelled_at = $3, hold_expires_at = NULL, updated_at = $3 \
         WHERE id = $1 AND status = $2 RETURNING ",
        booking_columns!()
    ))
    .bind(id)
    .bind(from.as_str())
    .bind(at)
    .fetch_optional(c)
    .await)
}

/// Pending bookings whose hold ran out by `at` (the safety sweep; the per-booking job
/// normally gets there first).
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

// ---- listings -----------------------------------------------------------------------------

/// Filters of an event's booking list. `like` is a lower-case `%…%` pattern, `exact` the
/// raw term matched against booking and ticket codes.
#[derive(Debug, Clone)]
pub(crate) struct BookingFilter {
    pub event: EventId,
    pub status: Option<BookingStatus>,
    pub like: Option<String>,
    pub exact: Option<String>,
}

macro_rules! booking_filters {
    ($p:literal) => {
        concat!(
            $p,
            "event_id = $1 AND ($2 IS NULL OR ",
            $p,
            "status = $2) AND ($3 IS NULL OR lower(",
            $p,
            "buyer_name) LIKE $3 ESCAPE '\\' OR lower(",
            $p,
            "buyer_email) LIKE $3 ESCAPE '\\' OR ",
            $p,
            "code = upper($4) OR ",
            $p,
            "id IN (SELECT booking_id FROM tickets WHERE code = upper($4))) "
        )
    };
}

/// One page of an event's bookings, newest first, strictly before `before`.
pub(crate) async fn event_bookings(
    db: &Db,
    f: &BookingFilter,
    before: Option<BookingId>,
    fetch: i64,
) -> Result<Vec<BookingRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(concat!(
        "SELECT ",
        booking_columns!(),
        " FROM bookings WHERE ",
        booking_filters!(""),
        "AND ($5 IS NULL OR id < $5) ORDER BY id DESC LIMIT $6"
    ))
    .bind(f.event)
    .bind(f.status.map(BookingStatus::as_str))
    .bind(&f.like)
    .bind(&f.exact)
    .bind(before)
    .bind(fetch)
    .fetch_all(c)
    .await)
}

/// One row of the CSV export: a booking position with its booking.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct ExportRow {
    pub booking_id: BookingId,
    pub code: String,
    #[sqlx(try_from = "String")]
    pub status: BookingStatus,
    pub buyer_name: String,
    pub buyer_email: String,
    pub booking_total: i64,
    pub voucher_code: Option<String>,
    pub created_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub paid_reference: Option<String>,
    pub position_id: crate::domain::PositionId,
    pub ticket_type_name: String,
    pub quantity: i64,
    pub unit_price: i64,
    pub discount: i64,
    pub currency: String,
}

/// One chunk of the export, ordered by booking (newest first) then position, strictly after
/// the `(booking, position)` cursor.
pub(crate) async fn export_rows(
    db: &Db,
    f: &BookingFilter,
    after: Option<(BookingId, crate::domain::PositionId)>,
    fetch: i64,
) -> Result<Vec<ExportRow>, sqlx::Error> {
    let (b, p) = after.unzip();
    read!(db, |c| sqlx::query_as(concat!(
        "SELECT b.id AS booking_id, b.code, b.status, b.buyer_name, b.buyer_email, b.total AS booking_total, b.voucher_code, \
         b.created_at, b.confirmed_at, b.paid_reference, p.id AS position_id, p.ticket_type_name, p.quantity, p.unit_price, \
         p.discount, p.currency FROM bookings b JOIN booking_positions p ON p.booking_id = b.id WHERE ",
        booking_filters!("b."),
        "AND ($5 IS NULL OR b.id < $5 OR (b.id = $5 AND p.id > $6)) ORDER BY b.id DESC, p.id LIMIT $7"
    ))
    .bind(f.event)
    .bind(f.status.map(BookingStatus::as_str))
    .bind(&f.like)
    .bind(&f.exact)
    .bind(b)
    .bind(p)
    .bind(fetch)
    .fetch_all(c)
    .await)
}

/// A user's bookings, newest first, strictly before `before`.
pub(crate) async fn user_bookings(
    db: &Db,
    user: UserId,
    before: Option<BookingId>,
    fetch: i64,
) -> Result<Vec<BookingRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(concat!(
        "SELECT ",
        booking_columns!(),
        " FROM bookings WHERE user_id = $1 AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3"
    ))
    .bind(user)
    .bind(before)
    .bind(fetch)
    .fetch_all(c)
    .await)
}

/// The organizations a user has bookings with.
pub(crate) async fn user_booking_orgs(db: &Db, user: UserId) -> Result<Vec<OrgId>, sqlx::Error> {
    let rows: Vec<(OrgId,)> =
        read!(db, |c| sqlx::query_as("SELECT DISTINCT org_id FROM bookings WHERE user_id = $1 LIMIT 1000")
            .bind(user)
            .fetch_all(c)
            .await)?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

// ---- statistics ---------------------------------------------------------------------------

/// Tickets and revenue per (ticket type, status) of live bookings.
pub(crate) async fn type_sales(db: &Db, event: EventId) -> Result<Vec<(TicketTypeId, String, i64, i64)>, sqlx::Error> {
    read!(db, |c| {
        sqlx::query_as(
        "SELECT p.ticket_type_id, b.status, CAST(SUM(p.quantity) AS BIGINT), CAST(SUM(p.unit_price * p.quantity - p.discount) AS BIGINT) \
         FROM booking_positions p JOIN bookings b ON b.id = p.booking_id \
         WHERE p.event_id = $1 AND b.status IN ('pending_payment', 'confirmed') GROUP BY p.ticket_type_id, b.status"
    )
    .bind(event)
    .fetch_all(c)
    .await
    })
}

/// Confirmed bookings, tickets and revenue per currency.
pub(crate) async fn currency_sales(db: &Db, event: EventId) -> Result<Vec<(String, i64, i64, i64)>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(
        "SELECT currency, COUNT(*), CAST(SUM(quantity) AS BIGINT), CAST(SUM(total) AS BIGINT) FROM bookings \
         WHERE event_id = $1 AND status = 'confirmed' GROUP BY currency ORDER BY currency"
    )
    .bind(event)
    .fetch_all(c)
    .await)
}

pub(crate) async fn status_counts(db: &Db, event: EventId) -> Result<Vec<(String, i64)>, sqlx::Error> {
    read!(db, |c| sqlx::query_as("SELECT status, COUNT(*) FROM bookings WHERE event_id = $1 GROUP BY status ORDER BY status")
        .bind(event)
        .fetch_all(c)
        .await)
}

/// Folds every confirmed booking of the event (confirmation time, currency, tickets,
/// total) through `f`, streaming rows rather than loading them all.
pub(crate) async fn fold_confirmed<F>(db: &Db, event: EventId, mut f: F) -> Result<(), sqlx::Error>
where
    F: FnMut(DateTime<Utc>, String, i64, i64),
{
    read!(db, |c| {
        let mut rows = sqlx::query_as::<_, (Option<DateTime<Utc>>, String, i64, i64)>(
            "SELECT confirmed_at, currency, quantity, total FROM bookings WHERE event_id = $1 AND status = 'confirmed'",
        )
        .bind(event)
        .fetch(c);
        while let Some((at, currency, quantity, total)) = rows.try_next().await? {
            if let Some(at) = at {
                f(at, currency, quantity, total);
            }
        }
        Ok::<(), sqlx::Error>(())
    })
}

// Waitlist tables (in a file of their own; it uses the column macros above).
pub(crate) mod waitlist;
