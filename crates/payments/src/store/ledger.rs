//! `ledger_transactions` and `ledger_lines`: the double-entry money ledger and its sums.

use chrono::{DateTime, Utc};
use kernel::auth::OrgScope;
use kernel::id::OrgId;
use kernel::{Db, Tx, read, tx};
use uuid::Uuid;

use crate::domain::{LedgerTransactionId, PaymentId, RefundId};

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct LedgerTxRecord {
    pub id: LedgerTransactionId,
    pub org_id: OrgId,
    pub kind: String,
    pub currency: String,
    pub payment_id: Option<PaymentId>,
    pub refund_id: Option<RefundId>,
    pub event_id: Option<Uuid>,
    pub test_mode: bool,
    pub memo: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct LedgerLineRecord {
    pub transaction_id: LedgerTransactionId,
    pub account: String,
    pub amount: i64,
    pub currency: String,
}

/// One account's balance: (currency, test_mode, account, sum of its lines).
pub(crate) type AccountSum = (String, bool, String, i64);

/// Writes a ledger transaction header once per (kind, source), in the scope's organization
/// (the record's `org_id`); `false` if it exists.
pub(crate) async fn insert_ledger_tx(
    tx: &mut Tx<'_>,
    scope: &OrgScope,
    t: &LedgerTxRecord,
    source: &str,
) -> Result<bool, sqlx::Error> {
    debug_assert_eq!(t.org_id, scope.org());
    let n = tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO ledger_transactions (id, org_id, kind, source, currency, payment_id, refund_id, event_id, test_mode, memo, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) ON CONFLICT (kind, source) DO NOTHING"
    )
    .bind(t.id)
    .bind(scope.org())
    .bind(&t.kind)
    .bind(source)
    .bind(&t.currency)
    .bind(t.payment_id)
    .bind(t.refund_id)
    .bind(t.event_id)
    .bind(t.test_mode)
    .bind(&t.memo)
    .bind(t.created_at)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

pub(crate) async fn insert_ledger_line(
    tx: &mut Tx<'_>,
    scope: &OrgScope,
    transaction: LedgerTransactionId,
    account: &str,
    amount: i64,
    currency: &str,
    at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query(
        "INSERT INTO ledger_lines (id, org_id, transaction_id, account, amount, currency, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)"
    )
    .bind(Uuid::now_v7())
    .bind(scope.org())
    .bind(transaction)
    .bind(account)
    .bind(amount)
    .bind(currency)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}

pub(crate) async fn ledger(
    db: &Db,
    scope: &OrgScope,
    currency: Option<&str>,
    event: Option<Uuid>,
    before: Option<LedgerTransactionId>,
    limit: i64,
) -> Result<Vec<LedgerTxRecord>, sqlx::Error> {
    read!(db, |c| {
        sqlx::query_as(
        "SELECT id, org_id, kind, currency, payment_id, refund_id, event_id, test_mode, memo, created_at FROM ledger_transactions \
         WHERE org_id = $1 AND ($2 IS NULL OR currency = $2) AND ($3 IS NULL OR event_id = $3) AND ($4 IS NULL OR id < $4) \
         ORDER BY id DESC LIMIT $5"
    )
    .bind(scope.org())
    .bind(currency)
    .bind(event)
    .bind(before)
    .bind(limit + 1)
    .fetch_all(c)
    .await
    })
}

pub(crate) async fn ledger_lines(
    db: &Db,
    scope: &OrgScope,
    ids: &[LedgerTransactionId],
) -> Result<Vec<LedgerLineRecord>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let (first, last) = (ids.iter().min().copied(), ids.iter().max().copied());
    read!(db, |c| sqlx::query_as(
        "SELECT transaction_id, account, amount, currency FROM ledger_lines WHERE org_id = $1 AND transaction_id >= $2 \
         AND transaction_id <= $3 ORDER BY id"
    )
    .bind(scope.org())
    .bind(first)
    .bind(last)
    .fetch_all(c)
    .await)
}

/// The balance of every account of an organization (or one event).
pub(crate) async fn account_sums(db: &Db, scope: &OrgScope, event: Option<Uuid>) -> Result<Vec<AccountSum>, sqlx::Error> {
    let rows: Vec<(String, bool, String, Option<i64>)> = read!(db, |c| sqlx::query_as(
        "SELECT l.currency, t.test_mode, l.account, CAST(SUM(l.amount) AS BIGINT) FROM ledger_lines l \
         JOIN ledger_transactions t ON t.id = l.transaction_id \
         WHERE t.org_id = $1 AND ($2 IS NULL OR t.event_id = $2) GROUP BY l.currency, t.test_mode, l.account"
    )
    .bind(scope.org())
    .bind(event)
    .fetch_all(c)
    .await)?;
    Ok(rows.into_iter().map(|(c, t, a, s)| (c, t, a, s.unwrap_or(0))).collect())
}

/// (currency, test_mode, number of charges) of an organization (or one event).
pub(crate) async fn charge_counts(
    db: &Db,
    scope: &OrgScope,
    event: Option<Uuid>,
) -> Result<Vec<(String, bool, i64)>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(
        "SELECT currency, test_mode, COUNT(*) FROM ledger_transactions WHERE org_id = $1 AND ($2 IS NULL OR event_id = $2) \
         AND kind = 'charge' GROUP BY currency, test_mode"
    )
    .bind(scope.org())
    .bind(event)
    .fetch_all(c)
    .await)
}
