//! `refunds`: requested, attempted by the refund job, and succeeded or failed.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use kernel::auth::OrgScope;
use kernel::id::OrgId;
use kernel::{Db, Tx, read, tx};
use sqlx::types::Json;

use crate::domain::{PaymentId, RefundId, RefundStatus};

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct RefundRecord {
    pub id: RefundId,
    pub org_id: OrgId,
    pub payment_id: PaymentId,
    pub amount: i64,
    pub currency: String,
    #[sqlx(try_from = "String")]
    pub status: RefundStatus,
    pub reason: Option<String>,
    pub items: Json<Vec<String>>,
    pub requested_by: String,
    pub provider_refund_id: Option<String>,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub succeeded_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

macro_rules! refund_columns {
    () => {
        "id, org_id, payment_id, amount, currency, status, reason, items, requested_by, provider_refund_id, attempts, \
         last_error, succeeded_at, created_at, updated_at"
    };
}

/// Writes a new refund in the scope's organization (the record's `org_id`).
pub(crate) async fn insert_refund(tx: &mut Tx<'_>, scope: &OrgScope, r: &RefundRecord) -> Result<u64, sqlx::Error> {
    debug_assert_eq!(r.org_id, scope.org());
    tx!(tx, |c| sqlx::query(concat!(
        "INSERT INTO refunds (",
        refund_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
    ))
    .bind(r.id)
    .bind(scope.org())
    .bind(r.payment_id)
    .bind(r.amount)
    .bind(&r.currency)
    .bind(r.status.as_str())
    .bind(&r.reason)
    .bind(&r.items)
    .bind(&r.requested_by)
    .bind(&r.provider_refund_id)
    .bind(r.attempts)
    .bind(&r.last_error)
    .bind(r.succeeded_at)
    .bind(r.created_at)
    .bind(r.updated_at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}

pub(crate) async fn refunds_of(db: &Db, scope: &OrgScope, payment: PaymentId) -> Result<Vec<RefundRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(concat!(
        "SELECT ",
        refund_columns!(),
        " FROM refunds WHERE payment_id = $1 AND org_id = $2 ORDER BY id"
    ))
    .bind(payment)
    .bind(scope.org())
    .fetch_all(c)
    .await)
}

/// A refund by id, whichever organization holds it.
/// Unscoped: the refund job's payload names only the refund; its organization is read from
/// this row, and the job acts in it (`OrgScope::platform`).
pub(crate) async fn find_refund(tx: &mut Tx<'_>, id: RefundId) -> Result<Option<RefundRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!("SELECT ", refund_columns!(), " FROM refunds WHERE id = $1"))
        .bind(id)
        .fetch_optional(c)
        .await)
}

pub(crate) async fn refund_tx(tx: &mut Tx<'_>, scope: &OrgScope, id: RefundId) -> Result<Option<RefundRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!("SELECT ", refund_columns!(), " FROM refunds WHERE id = $1 AND org_id = $2"))
        .bind(id)
        .bind(scope.org())
        .fetch_optional(c)
        .await)
}

pub(crate) async fn refund_by_provider_id(
    tx: &mut Tx<'_>,
    scope: &OrgScope,
    provider_id: &str,
) -> Result<Option<RefundRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!(
        "SELECT ",
        refund_columns!(),
        " FROM refunds WHERE provider_refund_id = $1 AND org_id = $2"
    ))
    .bind(provider_id)
    .bind(scope.org())
    .fetch_optional(c)
    .await)
}

/// Refunds of a payment not yet succeeded nor failed (their amounts are spoken for).
pub(crate) async fn pending_refunds(tx: &mut Tx<'_>, scope: &OrgScope, payment: PaymentId) -> Result<i64, sqlx::Error> {
    let (n,): (Option<i64>,) = tx!(tx, |c| sqlx::query_as(
        "SELECT CAST(SUM(amount) AS BIGINT) FROM refunds WHERE payment_id = $1 AND org_id = $2 AND status = 'pending'"
    )
    .bind(payment)
    .bind(scope.org())
    .fetch_one(c)
    .await)?;
    Ok(n.unwrap_or(0))
}

/// Items already given back, or being given back, by a payment's refunds (other than
/// `except`).
pub(crate) async fn refunded_items(
    tx: &mut Tx<'_>,
    scope: &OrgScope,
    payment: PaymentId,
    except: Option<RefundId>,
) -> Result<HashSet<String>, sqlx::Error> {
    let rows: Vec<(RefundId, Json<Vec<String>>)> = tx!(tx, |c| sqlx::query_as(
        "SELECT id, items FROM refunds WHERE payment_id = $1 AND org_id = $2 AND status IN ('pending', 'succeeded')"
    )
    .bind(payment)
    .bind(scope.org())
    .fetch_all(c)
    .await)?;
    Ok(rows.into_iter().filter(|(id, _)| Some(*id) != except).flat_map(|(_, Json(items))| items).collect())
}

/// One more attempt at a refund; a failed refund being retried is pending again.
pub(crate) async fn begin_refund_attempt(
    tx: &mut Tx<'_>,
    scope: &OrgScope,
    id: RefundId,
    at: DateTime<Utc>,
) -> Result<Option<RefundRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!(
        "UPDATE refunds SET attempts = attempts + 1, status = 'pending', updated_at = $2 \
         WHERE id = $1 AND org_id = $3 AND status <> 'succeeded' RETURNING ",
        refund_columns!()
    ))
    .bind(id)
    .bind(at)
    .bind(scope.org())
    .fetch_optional(c)
    .await)
}

pub(crate) async fn refund_failed_attempt(
    tx: &mut Tx<'_>,
    scope: &OrgScope,
    id: RefundId,
    error: &str,
    give_up: bool,
    at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query(
        "UPDATE refunds SET last_error = $2, status = CASE WHEN $3 THEN 'failed' ELSE status END, updated_at = $4 \
         WHERE id = $1 AND org_id = $5 AND status = 'pending'"
    )
    .bind(id)
    .bind(error)
    .bind(give_up)
    .bind(at)
    .bind(scope.org())
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}

pub(crate) async fn mark_refund_succeeded(
    tx: &mut Tx<'_>,
    scope: &OrgScope,
    id: RefundId,
    provider_id: &str,
    at: DateTime<Utc>,
) -> Result<Option<RefundRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!(
        "UPDATE refunds SET status = 'succeeded', provider_refund_id = $2, last_error = NULL, succeeded_at = $3, updated_at = $3 \
         WHERE id = $1 AND org_id = $4 AND status <> 'succeeded' RETURNING ",
        refund_columns!()
    ))
    .bind(id)
    .bind(provider_id)
    .bind(at)
    .bind(scope.org())
    .fetch_optional(c)
    .await)
}
