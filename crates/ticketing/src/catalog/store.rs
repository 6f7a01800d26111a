//! SQL for the catalog's tables: `ticketing_settings`, `ticket_types`, `quotas`,
//! `quota_ticket_types` and `vouchers`. One SQL text serves both backends.
//!
//! What is taken from a quota (`taken`) and a voucher (`uses`) changes only through
//! [`crate::inventory`]; the catalog reads those counters, and guards its own changes with
//! them (a capacity cannot drop below `taken`, a quota or voucher in use is not deleted).
//!
//! Changes and members' reads take the caller's [`OrgScope`] and filter by it. Unscoped
//! are the lookups of a row by id alone (`ticket_type`, `quota`, `voucher`), which learn its
//! organization before access is checked, and the reads that make up the public view of an
//! event's catalog — its settings, its ticket types with their quotas, the room left in
//! them, a voucher by the code a buyer gives — which buyers and the public read for
//! published events (callers check that the event is published, or the caller a member,
//! before showing anything), and which the booking path caches.

use chrono::{DateTime, Utc};
use events::{EventId, EventSessionId};
use kernel::auth::OrgScope;
use kernel::id::OrgId;
use kernel::{Db, Tx, read, tx};
use serde::Serialize;
use sqlx::types::Json;

use crate::domain::{QuotaId, TicketTypeId, Visibility, VoucherId};

// ---- records ------------------------------------------------------------------------------

/// A `ticketing_settings` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct SettingsRecord {
    pub event_id: EventId,
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

// ---- settings -----------------------------------------------------------------------------

/// Unscoped: the event's booking rules (hold time, per-buyer cap, waitlist tiers), part of
/// the booking view every buyer's booking and waitlist entry reads.
pub(crate) async fn settings(db: &Db, event: EventId) -> Result<Option<SettingsRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(
        "SELECT event_id, hold_seconds, max_tickets_per_buyer, waitlist_offer_hours, waitlist_tiers, \
         waitlist_offer_seconds, created_at, updated_at FROM ticketing_settings WHERE event_id = $1"
    )
    .bind(event)
    .fetch_optional(c)
    .await)
}

/// Saves an event's settings in the scope's organization (an event of another organization
/// keeps its own: nothing is written).
pub(crate) async fn save_settings(tx: &mut Tx<'_>, scope: &OrgScope, s: &SettingsRecord) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query(
        "INSERT INTO ticketing_settings (event_id, org_id, hold_seconds, max_tickets_per_buyer, waitlist_offer_hours, \
         waitlist_tiers, created_at, updated_at, waitlist_offer_seconds) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (event_id) DO UPDATE SET hold_seconds = excluded.hold_seconds, \
         max_tickets_per_buyer = excluded.max_tickets_per_buyer, waitlist_offer_hours = excluded.waitlist_offer_hours, \
         waitlist_tiers = excluded.waitlist_tiers, waitlist_offer_seconds = excluded.waitlist_offer_seconds, \
         updated_at = excluded.updated_at WHERE ticketing_settings.org_id = excluded.org_id"
    )
    .bind(s.event_id)
    .bind(scope.org())
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
/// Unscoped: the public read of an event's ticket types, and the booking view of its
/// catalog (see the module docs).
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
/// Unscoped: resolves which organization owns an id before access is checked.
pub(crate) async fn ticket_type(db: &Db, id: TicketTypeId) -> Result<Option<TicketTypeRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(concat!("SELECT ", type_columns!(), " FROM ticket_types WHERE id = $1"))
        .bind(id)
        .fetch_optional(c)
        .await)
}

pub(crate) async fn count_types(tx: &mut Tx<'_>, scope: &OrgScope, event: EventId) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = tx!(tx, |c| sqlx::query_as("SELECT COUNT(*) FROM ticket_types WHERE event_id = $1 AND org_id = $2")
        .bind(event)
        .bind(scope.org())
        .fetch_one(c)
        .await)?;
    Ok(n)
}

/// The ids of the event's ticket types (for validating id lists).
pub(crate) async fn type_ids_of_event(
    tx: &mut Tx<'_>,
    scope: &OrgScope,
    event: EventId,
) -> Result<Vec<TicketTypeId>, sqlx::Error> {
    let rows: Vec<(TicketTypeId,)> =
        tx!(tx, |c| sqlx::query_as("SELECT id FROM ticket_types WHERE event_id = $1 AND org_id = $2 LIMIT 10000")
            .bind(event)
            .bind(scope.org())
            .fetch_all(c)
            .await)?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Inserts `t` into the scope's organization (`t.org_id` is not trusted for that).
pub(crate) async fn insert_ticket_type(tx: &mut Tx<'_>, scope: &OrgScope, t: &TicketTypeRecord) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query(concat!(
        "INSERT INTO ticket_types (",
        type_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
    ))
    .bind(t.id)
    .bind(scope.org())
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

pub(crate) async fn save_ticket_type(tx: &mut Tx<'_>, scope: &OrgScope, t: &TicketTypeRecord) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query(
        "UPDATE ticket_types SET session_id = $3, name = $4, description = $5, price = $6, currency = $7, sales_start = $8, \
         sales_end = $9, min_per_order = $10, max_per_order = $11, visibility = $12, sort_order = $13, updated_at = $14 \
         WHERE org_id = $1 AND id = $2"
    )
    .bind(scope.org())
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
pub(crate) async fn delete_ticket_type(tx: &mut Tx<'_>, scope: &OrgScope, id: TicketTypeId) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query("DELETE FROM ticket_types WHERE org_id = $1 AND id = $2")
        .bind(scope.org())
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
}

pub(crate) async fn type_was_booked(tx: &mut Tx<'_>, scope: &OrgScope, id: TicketTypeId) -> Result<bool, sqlx::Error> {
    let row: Option<(TicketTypeId,)> = tx!(tx, |c| sqlx::query_as(
        "SELECT ticket_type_id FROM booking_positions WHERE ticket_type_id = $1 AND org_id = $2 LIMIT 1"
    )
    .bind(id)
    .bind(scope.org())
    .fetch_optional(c)
    .await)?;
    Ok(row.is_some())
}

// ---- quotas -------------------------------------------------------------------------------

/// An event's quotas with what is taken of them.
/// Unscoped: the room left in an event's quotas is part of the public view of its catalog
/// (ticket types show what is available; joining a waitlist needs a sold-out type).
pub(crate) async fn quotas(db: &Db, event: EventId) -> Result<Vec<QuotaRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(concat!("SELECT ", quota_columns!(), " FROM quotas WHERE event_id = $1 ORDER BY id LIMIT 1000"))
        .bind(event)
        .fetch_all(c)
        .await)
}

/// (quota, ticket type) pairs of an event.
pub(crate) async fn memberships(db: &Db, scope: &OrgScope, event: EventId) -> Result<Vec<(QuotaId, TicketTypeId)>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(
        "SELECT qt.quota_id, qt.ticket_type_id FROM quota_ticket_types qt JOIN quotas q ON q.id = qt.quota_id \
         WHERE q.event_id = $1 AND q.org_id = $2 ORDER BY qt.quota_id, qt.ticket_type_id LIMIT 100000"
    )
    .bind(event)
    .bind(scope.org())
    .fetch_all(c)
    .await)
}

/// Finds a quota by id alone, to learn its event and organization.
/// Unscoped: resolves which organization owns an id before access is checked.
pub(crate) async fn quota(db: &Db, id: QuotaId) -> Result<Option<QuotaRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(concat!("SELECT ", quota_columns!(), " FROM quotas WHERE id = $1"))
        .bind(id)
        .fetch_optional(c)
        .await)
}

pub(crate) async fn quota_tx(tx: &mut Tx<'_>, scope: &OrgScope, id: QuotaId) -> Result<Option<QuotaRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!("SELECT ", quota_columns!(), " FROM quotas WHERE org_id = $1 AND id = $2"))
        .bind(scope.org())
        .bind(id)
        .fetch_optional(c)
        .await)
}

pub(crate) async fn count_quotas(tx: &mut Tx<'_>, scope: &OrgScope, event: EventId) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = tx!(tx, |c| sqlx::query_as("SELECT COUNT(*) FROM quotas WHERE event_id = $1 AND org_id = $2")
        .bind(event)
        .bind(scope.org())
        .fetch_one(c)
        .await)?;
    Ok(n)
}

/// Inserts `q` into the scope's organization.
pub(crate) async fn insert_quota(tx: &mut Tx<'_>, scope: &OrgScope, q: &QuotaRecord) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query(concat!("INSERT INTO quotas (", quota_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
        .bind(q.id)
        .bind(scope.org())
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
    scope: &OrgScope,
    id: QuotaId,
    name: &str,
    at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query("UPDATE quotas SET name = $3, updated_at = $4 WHERE org_id = $1 AND id = $2")
        .bind(scope.org())
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
    scope: &OrgScope,
    id: QuotaId,
    capacity: i64,
    at: DateTime<Utc>,
) -> Result<Option<QuotaRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!(
        "UPDATE quotas SET capacity = $3, updated_at = $4 WHERE org_id = $1 AND id = $2 AND taken <= $3 RETURNING ",
        quota_columns!()
    ))
    .bind(scope.org())
    .bind(id)
    .bind(capacity)
    .bind(at)
    .fetch_optional(c)
    .await)
}

/// Replaces the ticket types of a quota.
pub(crate) async fn set_quota_types(
    tx: &mut Tx<'_>,
    scope: &OrgScope,
    quota: QuotaId,
    types: &[TicketTypeId],
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    tx!(tx, |c| sqlx::query("DELETE FROM quota_ticket_types WHERE quota_id = $1 AND org_id = $2")
        .bind(quota)
        .bind(scope.org())
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
        .bind(scope.org())
        .bind(at)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

pub(crate) async fn quota_types(tx: &mut Tx<'_>, scope: &OrgScope, quota: QuotaId) -> Result<Vec<TicketTypeId>, sqlx::Error> {
    let rows: Vec<(TicketTypeId,)> = tx!(tx, |c| {
        sqlx::query_as(
        "SELECT ticket_type_id FROM quota_ticket_types WHERE quota_id = $1 AND org_id = $2 ORDER BY ticket_type_id LIMIT 10000"
    )
    .bind(quota)
    .bind(scope.org())
    .fetch_all(c)
    .await
    })?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Deletes a quota from which no seat is held or sold.
pub(crate) async fn delete_quota(tx: &mut Tx<'_>, scope: &OrgScope, id: QuotaId) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query("DELETE FROM quotas WHERE org_id = $1 AND id = $2 AND taken = 0")
        .bind(scope.org())
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
}

// ---- vouchers -----------------------------------------------------------------------------

/// An event's vouchers by code, starting strictly after `(code_norm, id)`.
pub(crate) async fn vouchers(
    db: &Db,
    scope: &OrgScope,
    event: EventId,
    after: Option<(String, VoucherId)>,
    fetch: i64,
) -> Result<Vec<VoucherRecord>, sqlx::Error> {
    let (code, id) = after.unzip();
    read!(db, |c| sqlx::query_as(concat!(
        "SELECT ",
        voucher_columns!(),
        " FROM vouchers WHERE event_id = $1 AND org_id = $5 \
         AND ($2 IS NULL OR code_norm > $2 OR (code_norm = $2 AND id > $3)) ORDER BY code_norm, id LIMIT $4"
    ))
    .bind(event)
    .bind(&code)
    .bind(id)
    .bind(fetch)
    .bind(scope.org())
    .fetch_all(c)
    .await)
}

/// Finds a voucher by id alone, to learn its event and organization.
/// Unscoped: resolves which organization owns an id before access is checked.
pub(crate) async fn voucher(db: &Db, id: VoucherId) -> Result<Option<VoucherRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(concat!("SELECT ", voucher_columns!(), " FROM vouchers WHERE id = $1"))
        .bind(id)
        .fetch_optional(c)
        .await)
}

/// The event's voucher with this code (in its case-insensitive form).
/// Unscoped: a buyer gives a code for an event (booking, listing the types it unlocks);
/// the event names the organization.
pub(crate) async fn voucher_by_code(db: &Db, event: EventId, code_norm: &str) -> Result<Option<VoucherRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(concat!("SELECT ", voucher_columns!(), " FROM vouchers WHERE event_id = $1 AND code_norm = $2"))
        .bind(event)
        .bind(code_norm)
        .fetch_optional(c)
        .await)
}

/// Inserts `v` into the scope's organization.
pub(crate) async fn insert_voucher(tx: &mut Tx<'_>, scope: &OrgScope, v: &VoucherRecord) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query(concat!(
        "INSERT INTO vouchers (",
        voucher_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
    ))
    .bind(v.id)
    .bind(scope.org())
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
pub(crate) async fn save_voucher(
    tx: &mut Tx<'_>,
    scope: &OrgScope,
    v: &VoucherRecord,
) -> Result<Option<VoucherRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!(
        "UPDATE vouchers SET code = $3, code_norm = $4, amount_off = $5, percent_off = $6, currency = $7, max_uses = $8, \
         valid_from = $9, valid_until = $10, ticket_type_ids = $11, unlock_ticket_type_ids = $12, updated_at = $13 \
         WHERE org_id = $1 AND id = $2 AND ($8 IS NULL OR uses <= $8) RETURNING ",
        voucher_columns!()
    ))
    .bind(scope.org())
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
pub(crate) async fn delete_voucher(tx: &mut Tx<'_>, scope: &OrgScope, id: VoucherId) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query("DELETE FROM vouchers WHERE org_id = $1 AND id = $2 AND uses = 0")
        .bind(scope.org())
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
}
