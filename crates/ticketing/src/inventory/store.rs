//! The inventory statements: conditional updates of `quotas.taken`, `vouchers.uses` and
//! `buyer_counters.tickets` whose `rows_affected` says whether there was room, and their
//! mirrors, which give back exactly what was taken. One SQL text serves both backends.
//!
//! Unscoped, all of them: they are the booking write path's (the group-commit writer takes
//! the inventory of a batch of bookings of many organizations in one transaction, a
//! statement per row taken, and adds nothing to that), and every other change of inventory
//! goes through the same statements. The rows are named by what a booking row holds — its
//! allocations, its voucher, its buyer key — or by the catalog it was priced against, never
//! by request input alone.

use chrono::{DateTime, Utc};
use events::EventId;
use kernel::id::OrgId;
use kernel::{Db, Tx, read, tx};

use crate::domain::{QuotaId, VoucherId};

/// Takes `n` seats from a quota if it has room: the conditional update that makes
/// overselling impossible. On PostgreSQL the row stays locked until the transaction ends, and
/// a concurrent taker re-checks the condition against the committed row; on SQLite the single
/// writer serializes transactions. Returns rows affected (0: no room).
/// Unscoped: the booking write path's inventory (see the module docs).
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
/// Unscoped: the booking write path's inventory (see the module docs).
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
/// Unscoped: tells a buyer how many seats are left of a quota their booking asked for.
pub(crate) async fn quota_room(db: &Db, quota: QuotaId) -> Result<Option<i64>, sqlx::Error> {
    let row: Option<(i64,)> =
        read!(db, |c| sqlx::query_as("SELECT capacity - taken FROM quotas WHERE id = $1").bind(quota).fetch_optional(c).await)?;
    Ok(row.map(|r| r.0))
}

/// Counts one use of a voucher if it has uses left (0 rows: used up).
/// Unscoped: the booking write path's inventory (see the module docs).
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

/// Gives back one use of a voucher (the mirror of [`use_voucher`]).
/// Unscoped: the booking write path's inventory (see the module docs).
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
/// Unscoped: the booking write path's inventory (see the module docs).
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
/// Unscoped: the booking write path's inventory (see the module docs).
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

/// Takes `n` tickets off the buyer's count (the mirror of [`count_buyer`]).
/// Unscoped: the booking write path's inventory (see the module docs).
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
