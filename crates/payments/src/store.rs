//! SQL for the payments context's own tables: `payment_settings`, `payments`, `refunds`,
//! `webhook_events`, `ledger_transactions`, `ledger_lines`, `subscriptions`. One SQL text
//! serves both backends. State changes are conditional updates (`… WHERE status IN …`), so a
//! webhook, the synchronous answer and the reconciliation sweep can race and only one wins.

use chrono::{DateTime, Utc};
use kernel::id::{OrgId, UserId};
use kernel::{Db, Tx, read, tx};
use sqlx::types::Json;
use uuid::Uuid;

use crate::domain::{LedgerTransactionId, PaymentId, PaymentStatus, ProviderKind, RefundId, RefundStatus, SubscriptionId};

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct PaymentRecord {
    pub id: PaymentId,
    pub org_id: OrgId,
    pub reference: String,
    pub event_id: Option<Uuid>,
    #[sqlx(try_from = "String")]
    pub provider: ProviderKind,
    pub flow: String,
    #[sqlx(try_from = "String")]
    pub status: PaymentStatus,
    pub amount: i64,
    pub currency: String,
    pub refunded_amount: i64,
    pub fee: i64,
    pub test_mode: bool,
    pub description: String,
    pub buyer_email: String,
    pub payer: String,
    pub payer_user_id: Option<UserId>,
    pub provider_payment_id: Option<String>,
    pub checkout_url: Option<String>,
    pub next_action: Option<Json<serde_json::Value>>,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    pub offline_reference: Option<String>,
    /// The Stripe connected account the payment was made on (`None`: the server's own).
    pub provider_account: Option<String>,
    /// Money taken for a reference another payment had paid (refunded by its owner).
    pub duplicate: bool,
    pub succeeded_at: Option<DateTime<Utc>>,
    pub failed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl PaymentRecord {
    /// A payment about to be attempted: `processing`, nothing refunded, no fee, no provider
    /// data yet. Callers set what else they know with struct update syntax.
    pub(crate) fn processing(
        org_id: OrgId,
        reference: String,
        provider: ProviderKind,
        flow: &str,
        amount: i64,
        currency: String,
        at: DateTime<Utc>,
    ) -> PaymentRecord {
        PaymentRecord {
            id: PaymentId::new(),
            org_id,
            reference,
            event_id: None,
            provider,
            flow: flow.to_string(),
            status: PaymentStatus::Processing,
            amount,
            currency,
            refunded_amount: 0,
            fee: 0,
            test_mode: false,
            description: String::new(),
            buyer_email: String::new(),
            payer: "system".into(),
            payer_user_id: None,
            provider_payment_id: None,
            checkout_url: None,
            next_action: None,
            failure_code: None,
            failure_message: None,
            offline_reference: None,
            provider_account: None,
            duplicate: false,
            succeeded_at: None,
            failed_at: None,
            created_at: at,
            updated_at: at,
        }
    }
}

macro_rules! payment_columns {
    () => {
        "id, org_id, reference, event_id, provider, flow, status, amount, currency, refunded_amount, fee, test_mode, \
         description, buyer_email, payer, payer_user_id, provider_payment_id, checkout_url, next_action, failure_code, \
         failure_message, offline_reference, provider_account, duplicate, succeeded_at, failed_at, created_at, updated_at"
    };
}

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

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct SubscriptionRecord {
    pub id: SubscriptionId,
    pub org_id: OrgId,
    #[sqlx(try_from = "String")]
    pub provider: ProviderKind,
    pub provider_subscription_id: Option<String>,
    pub provider_customer_id: Option<String>,
    pub customer_email: String,
    pub name: String,
    pub amount: i64,
    pub currency: String,
    pub billing_interval: String,
    pub status: String,
    pub reference: Option<String>,
    pub test_mode: bool,
    pub provider_account: Option<String>,
    pub canceled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

macro_rules! subscription_columns {
    () => {
        "id, org_id, provider, provider_subscription_id, provider_customer_id, customer_email, name, amount, currency, \
         billing_interval, status, reference, test_mode, provider_account, canceled_at, created_at, updated_at"
    };
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct SettingsRecord {
    pub provider: String,
    pub offline_enabled: bool,
    pub stripe_account: Option<String>,
    pub updated_at: DateTime<Utc>,
}

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

// ---- settings ---------------------------------------------------------------------------------

pub(crate) async fn settings(db: &Db, org: OrgId) -> Result<Option<SettingsRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(
        "SELECT provider, offline_enabled, stripe_account, updated_at FROM payment_settings WHERE org_id = $1"
    )
    .bind(org)
    .fetch_optional(c)
    .await)
}

pub(crate) async fn save_settings(
    tx: &mut Tx<'_>,
    org: OrgId,
    provider: ProviderKind,
    offline: bool,
    stripe_account: Option<&str>,
    at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query(
        "INSERT INTO payment_settings (org_id, provider, offline_enabled, stripe_account, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) \
         ON CONFLICT (org_id) DO UPDATE SET provider = $2, offline_enabled = $3, stripe_account = $4, updated_at = $5"
    )
    .bind(org)
    .bind(provider.as_str())
    .bind(offline)
    .bind(stripe_account)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}

// ---- payments ---------------------------------------------------------------------------------

pub(crate) async fn insert_payment(tx: &mut Tx<'_>, p: &PaymentRecord) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| {
        sqlx::query(concat!(
        "INSERT INTO payments (",
        payment_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28)"
    ))
    .bind(p.id)
    .bind(p.org_id)
    .bind(&p.reference)
    .bind(p.event_id)
    .bind(p.provider.as_str())
    .bind(&p.flow)
    .bind(p.status.as_str())
    .bind(p.amount)
    .bind(&p.currency)
    .bind(p.refunded_amount)
    .bind(p.fee)
    .bind(p.test_mode)
    .bind(&p.description)
    .bind(&p.buyer_email)
    .bind(&p.payer)
    .bind(p.payer_user_id)
    .bind(&p.provider_payment_id)
    .bind(&p.checkout_url)
    .bind(&p.next_action)
    .bind(&p.failure_code)
    .bind(&p.failure_message)
    .bind(&p.offline_reference)
    .bind(&p.provider_account)
    .bind(p.duplicate)
    .bind(p.succeeded_at)
    .bind(p.failed_at)
    .bind(p.created_at)
    .bind(p.updated_at)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })
}

pub(crate) async fn payment(db: &Db, id: PaymentId) -> Result<Option<PaymentRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(concat!("SELECT ", payment_columns!(), " FROM payments WHERE id = $1"))
        .bind(id)
        .fetch_optional(c)
        .await)
}

/// Reads a payment for a change, taking its row lock on PostgreSQL (a no-op update).
pub(crate) async fn lock_payment(tx: &mut Tx<'_>, id: PaymentId) -> Result<Option<PaymentRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!(
        "UPDATE payments SET updated_at = updated_at WHERE id = $1 RETURNING ",
        payment_columns!()
    ))
    .bind(id)
    .fetch_optional(c)
    .await)
}

pub(crate) async fn payment_id_by_provider_id(tx: &mut Tx<'_>, provider_id: &str) -> Result<Option<PaymentId>, sqlx::Error> {
    let row: Option<(PaymentId,)> =
        tx!(tx, |c| sqlx::query_as("SELECT id FROM payments WHERE provider = 'stripe' AND provider_payment_id = $1")
            .bind(provider_id)
            .fetch_optional(c)
            .await)?;
    Ok(row.map(|r| r.0))
}

/// The payment of a reference that is in flight or holds money, if any.
macro_rules! live_payment_sql {
    () => {
        concat!(
            "SELECT ",
            payment_columns!(),
            " FROM payments WHERE reference = $1 AND status IN ('processing', 'requires_action', 'succeeded', 'partially_refunded') \
              AND flow <> 'subscription' AND NOT duplicate ORDER BY id DESC LIMIT 1"
        )
    };
}

pub(crate) async fn live_payment(db: &Db, reference: &str) -> Result<Option<PaymentRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(live_payment_sql!()).bind(reference).fetch_optional(c).await)
}

/// [`live_payment`] inside a transaction.
pub(crate) async fn live_payment_tx(tx: &mut Tx<'_>, reference: &str) -> Result<Option<PaymentRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(live_payment_sql!()).bind(reference).fetch_optional(c).await)
}

/// Payments of a reference holding money (captured, not fully refunded).
pub(crate) async fn captured_payments(tx: &mut Tx<'_>, reference: &str) -> Result<Vec<PaymentRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!(
        "SELECT ",
        payment_columns!(),
        " FROM payments WHERE reference = $1 AND status IN ('succeeded', 'partially_refunded') ORDER BY id"
    ))
    .bind(reference)
    .fetch_all(c)
    .await)
}

pub(crate) async fn mark_succeeded(
    tx: &mut Tx<'_>,
    id: PaymentId,
    provider_id: Option<&str>,
    fee: i64,
    at: DateTime<Utc>,
) -> Result<Option<PaymentRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!(
        "UPDATE payments SET status = 'succeeded', provider_payment_id = COALESCE($2, provider_payment_id), fee = $3, \
         next_action = NULL, failure_code = NULL, failure_message = NULL, succeeded_at = $4, updated_at = $4 \
         WHERE id = $1 AND status IN ('processing', 'requires_action', 'failed') RETURNING ",
        payment_columns!()
    ))
    .bind(id)
    .bind(provider_id)
    .bind(fee)
    .bind(at)
    .fetch_optional(c)
    .await)
}

/// Whether another payment holds money for `reference` (one that is not a duplicate itself).
pub(crate) async fn other_captured(tx: &mut Tx<'_>, reference: &str, id: PaymentId) -> Result<bool, sqlx::Error> {
    let row: Option<(PaymentId,)> = tx!(tx, |c| sqlx::query_as(
        "SELECT id FROM payments WHERE reference = $1 AND id <> $2 AND status IN ('succeeded', 'partially_refunded') \
         AND flow <> 'subscription' AND NOT duplicate LIMIT 1"
    )
    .bind(reference)
    .bind(id)
    .fetch_optional(c)
    .await)?;
    Ok(row.is_some())
}

/// Marks a payment a duplicate: money taken for a reference another payment has paid.
pub(crate) async fn mark_duplicate(tx: &mut Tx<'_>, id: PaymentId) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query("UPDATE payments SET duplicate = TRUE WHERE id = $1")
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
}

pub(crate) async fn mark_failed(
    tx: &mut Tx<'_>,
    id: PaymentId,
    provider_id: Option<&str>,
    code: &str,
    message: &str,
    at: DateTime<Utc>,
) -> Result<Option<PaymentRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!(
        "UPDATE payments SET status = 'failed', provider_payment_id = COALESCE($2, provider_payment_id), failure_code = $3, \
         failure_message = $4, next_action = NULL, failed_at = $5, updated_at = $5 \
         WHERE id = $1 AND status IN ('processing', 'requires_action') RETURNING ",
        payment_columns!()
    ))
    .bind(id)
    .bind(provider_id)
    .bind(code)
    .bind(message)
    .bind(at)
    .fetch_optional(c)
    .await)
}

pub(crate) async fn mark_pending(
    tx: &mut Tx<'_>,
    id: PaymentId,
    status: PaymentStatus,
    provider_id: Option<&str>,
    next_action: Option<&Json<serde_json::Value>>,
    checkout_url: Option<&str>,
    at: DateTime<Utc>,
) -> Result<Option<PaymentRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!(
        "UPDATE payments SET status = $2, provider_payment_id = COALESCE($3, provider_payment_id), next_action = $4, \
         checkout_url = COALESCE($5, checkout_url), updated_at = $6 \
         WHERE id = $1 AND status IN ('processing', 'requires_action') RETURNING ",
        payment_columns!()
    ))
    .bind(id)
    .bind(status.as_str())
    .bind(provider_id)
    .bind(next_action)
    .bind(checkout_url)
    .bind(at)
    .fetch_optional(c)
    .await)
}

pub(crate) async fn set_provider_id(
    tx: &mut Tx<'_>,
    id: PaymentId,
    provider_id: &str,
    at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query("UPDATE payments SET provider_payment_id = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(provider_id)
        .bind(at)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
}

/// Adds a refund to a captured payment; `None` when it would exceed what was paid.
pub(crate) async fn add_refunded(
    tx: &mut Tx<'_>,
    id: PaymentId,
    amount: i64,
    at: DateTime<Utc>,
) -> Result<Option<PaymentRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!(
        "UPDATE payments SET refunded_amount = refunded_amount + $2, \
         status = CASE WHEN refunded_amount + $2 >= amount THEN 'refunded' ELSE 'partially_refunded' END, updated_at = $3 \
         WHERE id = $1 AND status IN ('succeeded', 'partially_refunded') AND refunded_amount + $2 <= amount RETURNING ",
        payment_columns!()
    ))
    .bind(id)
    .bind(amount)
    .bind(at)
    .fetch_optional(c)
    .await)
}

/// Filters of the payment history.
pub(crate) struct HistoryFilter {
    pub org: Option<OrgId>,
    pub payer: Option<UserId>,
    pub status: Option<String>,
    pub reference: Option<String>,
    pub provider: Option<String>,
    pub test_mode: Option<bool>,
    pub before: Option<PaymentId>,
    pub limit: i64,
}

pub(crate) async fn history(db: &Db, f: &HistoryFilter) -> Result<Vec<PaymentRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(concat!(
        "SELECT ",
        payment_columns!(),
        " FROM payments WHERE ($1 IS NULL OR org_id = $1) AND ($2 IS NULL OR payer_user_id = $2) \
          AND ($3 IS NULL OR status = $3) AND ($4 IS NULL OR reference = $4) AND ($5 IS NULL OR provider = $5) \
          AND ($6 IS NULL OR test_mode = $6) AND ($7 IS NULL OR id < $7) ORDER BY id DESC LIMIT $8"
    ))
    .bind(f.org)
    .bind(f.payer)
    .bind(&f.status)
    .bind(&f.reference)
    .bind(&f.provider)
    .bind(f.test_mode)
    .bind(f.before)
    .bind(f.limit + 1)
    .fetch_all(c)
    .await)
}

/// Payments in flight since before `before` (reconciliation).
pub(crate) async fn stale_in_flight(
    db: &Db,
    org: Option<OrgId>,
    before: DateTime<Utc>,
) -> Result<Vec<PaymentRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(concat!(
        "SELECT ",
        payment_columns!(),
        " FROM payments WHERE status IN ('processing', 'requires_action') AND updated_at < $1 AND ($2 IS NULL OR org_id = $2) \
          ORDER BY updated_at LIMIT 500"
    ))
    .bind(before)
    .bind(org)
    .fetch_all(c)
    .await)
}

/// Captured payments not fully refunded, changed since `since` (reconciliation).
pub(crate) async fn recent_captured(
    db: &Db,
    org: Option<OrgId>,
    since: DateTime<Utc>,
) -> Result<Vec<PaymentRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(concat!(
        "SELECT ",
        payment_columns!(),
        " FROM payments WHERE status IN ('succeeded', 'partially_refunded') AND updated_at >= $1 AND ($2 IS NULL OR org_id = $2) \
          ORDER BY updated_at LIMIT 2000"
    ))
    .bind(since)
    .bind(org)
    .fetch_all(c)
    .await)
}

// ---- refunds ----------------------------------------------------------------------------------

pub(crate) async fn insert_refund(tx: &mut Tx<'_>, r: &RefundRecord) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query(concat!(
        "INSERT INTO refunds (",
        refund_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
    ))
    .bind(r.id)
    .bind(r.org_id)
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

pub(crate) async fn refunds_of(db: &Db, payment: PaymentId) -> Result<Vec<RefundRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(concat!("SELECT ", refund_columns!(), " FROM refunds WHERE payment_id = $1 ORDER BY id"))
        .bind(payment)
        .fetch_all(c)
        .await)
}

pub(crate) async fn refund_tx(tx: &mut Tx<'_>, id: RefundId) -> Result<Option<RefundRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!("SELECT ", refund_columns!(), " FROM refunds WHERE id = $1"))
        .bind(id)
        .fetch_optional(c)
        .await)
}

pub(crate) async fn refund_by_provider_id(tx: &mut Tx<'_>, provider_id: &str) -> Result<Option<RefundRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!("SELECT ", refund_columns!(), " FROM refunds WHERE provider_refund_id = $1"))
        .bind(provider_id)
        .fetch_optional(c)
        .await)
}

/// Refunds of a payment not yet succeeded nor failed (their amounts are spoken for).
pub(crate) async fn pending_refunds(tx: &mut Tx<'_>, payment: PaymentId) -> Result<i64, sqlx::Error> {
    let (n,): (Option<i64>,) = tx!(tx, |c| sqlx::query_as(
        "SELECT CAST(SUM(amount) AS BIGINT) FROM refunds WHERE payment_id = $1 AND status = 'pending'"
    )
    .bind(payment)
    .fetch_one(c)
    .await)?;
    Ok(n.unwrap_or(0))
}

/// Items already given back, or being given back, by a payment's refunds (other than
/// `except`).
pub(crate) async fn refunded_items(
    tx: &mut Tx<'_>,
    payment: PaymentId,
    except: Option<RefundId>,
) -> Result<std::collections::HashSet<String>, sqlx::Error> {
    let rows: Vec<(RefundId, Json<Vec<String>>)> = tx!(tx, |c| sqlx::query_as(
        "SELECT id, items FROM refunds WHERE payment_id = $1 AND status IN ('pending', 'succeeded')"
    )
    .bind(payment)
    .fetch_all(c)
    .await)?;
    Ok(rows.into_iter().filter(|(id, _)| Some(*id) != except).flat_map(|(_, Json(items))| items).collect())
}

/// One more attempt at a refund; a failed refund being retried is pending again.
pub(crate) async fn begin_refund_attempt(
    tx: &mut Tx<'_>,
    id: RefundId,
    at: DateTime<Utc>,
) -> Result<Option<RefundRecord>, sqlx::Error> {
    tx!(tx, |c| {
        sqlx::query_as(concat!(
        "UPDATE refunds SET attempts = attempts + 1, status = 'pending', updated_at = $2 WHERE id = $1 AND status <> 'succeeded' RETURNING ",
        refund_columns!()
    ))
    .bind(id)
    .bind(at)
    .fetch_optional(c)
    .await
    })
}

pub(crate) async fn refund_failed_attempt(
    tx: &mut Tx<'_>,
    id: RefundId,
    error: &str,
    give_up: bool,
    at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query(
        "UPDATE refunds SET last_error = $2, status = CASE WHEN $3 THEN 'failed' ELSE status END, updated_at = $4 \
         WHERE id = $1 AND status = 'pending'"
    )
    .bind(id)
    .bind(error)
    .bind(give_up)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}

pub(crate) async fn mark_refund_succeeded(
    tx: &mut Tx<'_>,
    id: RefundId,
    provider_id: &str,
    at: DateTime<Utc>,
) -> Result<Option<RefundRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!(
        "UPDATE refunds SET status = 'succeeded', provider_refund_id = $2, last_error = NULL, succeeded_at = $3, updated_at = $3 \
         WHERE id = $1 AND status <> 'succeeded' RETURNING ",
        refund_columns!()
    ))
    .bind(id)
    .bind(provider_id)
    .bind(at)
    .fetch_optional(c)
    .await)
}

// ---- webhooks ---------------------------------------------------------------------------------

/// Records a provider event; `0` when it was recorded before (a replay or a concurrent
/// duplicate: on PostgreSQL the second insert waits for the first transaction, then skips).
pub(crate) async fn insert_webhook_event(
    tx: &mut Tx<'_>,
    provider: &str,
    event_id: &str,
    event_type: &str,
    payload: &Json<serde_json::Value>,
    at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO webhook_events (id, org_id, provider, event_id, event_type, outcome, payment_id, payload, created_at, updated_at) \
         VALUES ($1, NULL, $2, $3, $4, 'received', NULL, $5, $6, $6) ON CONFLICT (provider, event_id) DO NOTHING"
    )
    .bind(Uuid::now_v7())
    .bind(provider)
    .bind(event_id)
    .bind(event_type)
    .bind(payload)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })
}

pub(crate) async fn finish_webhook_event(
    tx: &mut Tx<'_>,
    provider: &str,
    event_id: &str,
    org: Option<OrgId>,
    payment: Option<PaymentId>,
    outcome: &str,
    at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| {
        sqlx::query(
        "UPDATE webhook_events SET org_id = $3, payment_id = $4, outcome = $5, updated_at = $6 WHERE provider = $1 AND event_id = $2"
    )
    .bind(provider)
    .bind(event_id)
    .bind(org)
    .bind(payment)
    .bind(outcome)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })
}

// ---- ledger -----------------------------------------------------------------------------------

/// Writes a ledger transaction header once per (kind, source); `false` if it exists.
pub(crate) async fn insert_ledger_tx(tx: &mut Tx<'_>, t: &LedgerTxRecord, source: &str) -> Result<bool, sqlx::Error> {
    let n = tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO ledger_transactions (id, org_id, kind, source, currency, payment_id, refund_id, event_id, test_mode, memo, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) ON CONFLICT (kind, source) DO NOTHING"
    )
    .bind(t.id)
    .bind(t.org_id)
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
    org: OrgId,
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
    .bind(org)
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
    org: OrgId,
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
    .bind(org)
    .bind(currency)
    .bind(event)
    .bind(before)
    .bind(limit + 1)
    .fetch_all(c)
    .await
    })
}

pub(crate) async fn ledger_lines(db: &Db, org: OrgId, ids: &[LedgerTransactionId]) -> Result<Vec<LedgerLineRecord>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let (first, last) = (ids.iter().min().copied(), ids.iter().max().copied());
    read!(db, |c| sqlx::query_as(
        "SELECT transaction_id, account, amount, currency FROM ledger_lines WHERE org_id = $1 AND transaction_id >= $2 \
         AND transaction_id <= $3 ORDER BY id"
    )
    .bind(org)
    .bind(first)
    .bind(last)
    .fetch_all(c)
    .await)
}

/// (currency, test_mode, account, sum) of an organization (or one event).
pub(crate) async fn account_sums(
    db: &Db,
    org: OrgId,
    event: Option<Uuid>,
) -> Result<Vec<(String, bool, String, i64)>, sqlx::Error> {
    let rows: Vec<(String, bool, String, Option<i64>)> = read!(db, |c| sqlx::query_as(
        "SELECT l.currency, t.test_mode, l.account, CAST(SUM(l.amount) AS BIGINT) FROM ledger_lines l \
         JOIN ledger_transactions t ON t.id = l.transaction_id \
         WHERE t.org_id = $1 AND ($2 IS NULL OR t.event_id = $2) GROUP BY l.currency, t.test_mode, l.account"
    )
    .bind(org)
    .bind(event)
    .fetch_all(c)
    .await)?;
    Ok(rows.into_iter().map(|(c, t, a, s)| (c, t, a, s.unwrap_or(0))).collect())
}

/// (currency, test_mode, number of charges) of an organization (or one event).
pub(crate) async fn charge_counts(db: &Db, org: OrgId, event: Option<Uuid>) -> Result<Vec<(String, bool, i64)>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(
        "SELECT currency, test_mode, COUNT(*) FROM ledger_transactions WHERE org_id = $1 AND ($2 IS NULL OR event_id = $2) \
         AND kind = 'charge' GROUP BY currency, test_mode"
    )
    .bind(org)
    .bind(event)
    .fetch_all(c)
    .await)
}

// ---- subscriptions ----------------------------------------------------------------------------

pub(crate) async fn insert_subscription(tx: &mut Tx<'_>, s: &SubscriptionRecord) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query(concat!(
        "INSERT INTO subscriptions (",
        subscription_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
    ))
    .bind(s.id)
    .bind(s.org_id)
    .bind(s.provider.as_str())
    .bind(&s.provider_subscription_id)
    .bind(&s.provider_customer_id)
    .bind(&s.customer_email)
    .bind(&s.name)
    .bind(s.amount)
    .bind(&s.currency)
    .bind(&s.billing_interval)
    .bind(&s.status)
    .bind(&s.reference)
    .bind(s.test_mode)
    .bind(&s.provider_account)
    .bind(s.canceled_at)
    .bind(s.created_at)
    .bind(s.updated_at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}

pub(crate) async fn subscription(db: &Db, id: SubscriptionId) -> Result<Option<SubscriptionRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(concat!("SELECT ", subscription_columns!(), " FROM subscriptions WHERE id = $1"))
        .bind(id)
        .fetch_optional(c)
        .await)
}

pub(crate) async fn subscription_tx(tx: &mut Tx<'_>, id: SubscriptionId) -> Result<Option<SubscriptionRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!("SELECT ", subscription_columns!(), " FROM subscriptions WHERE id = $1"))
        .bind(id)
        .fetch_optional(c)
        .await)
}

/// Up to `limit` organizations taking payments through Stripe on the server's own account
/// (no connected account of their own).
pub(crate) async fn orgs_on_platform_stripe(tx: &mut Tx<'_>, limit: i64) -> Result<Vec<OrgId>, sqlx::Error> {
    let rows: Vec<(OrgId,)> = tx!(tx, |c| sqlx::query_as(
        "SELECT org_id FROM payment_settings WHERE provider = 'stripe' AND stripe_account IS NULL ORDER BY org_id LIMIT $1"
    )
    .bind(limit)
    .fetch_all(c)
    .await)?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// The organization whose Stripe connected account is `account`.
pub(crate) async fn org_of_stripe_account(tx: &mut Tx<'_>, account: &str) -> Result<Option<OrgId>, sqlx::Error> {
    let row: Option<(OrgId,)> = tx!(tx, |c| sqlx::query_as("SELECT org_id FROM payment_settings WHERE stripe_account = $1")
        .bind(account)
        .fetch_optional(c)
        .await)?;
    Ok(row.map(|r| r.0))
}

pub(crate) async fn set_subscription_state(
    tx: &mut Tx<'_>,
    id: SubscriptionId,
    provider_id: Option<&str>,
    customer_id: Option<&str>,
    status: &str,
    at: DateTime<Utc>,
) -> Result<Option<SubscriptionRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!(
        "UPDATE subscriptions SET provider_subscription_id = COALESCE($2, provider_subscription_id), \
         provider_customer_id = COALESCE($3, provider_customer_id), status = $4, \
         canceled_at = CASE WHEN $4 = 'canceled' THEN COALESCE(canceled_at, $5) ELSE canceled_at END, updated_at = $5 \
         WHERE id = $1 RETURNING ",
        subscription_columns!()
    ))
    .bind(id)
    .bind(provider_id)
    .bind(customer_id)
    .bind(status)
    .bind(at)
    .fetch_optional(c)
    .await)
}

pub(crate) async fn subscription_by_provider_id(
    tx: &mut Tx<'_>,
    provider_id: &str,
) -> Result<Option<SubscriptionId>, sqlx::Error> {
    let row: Option<(SubscriptionId,)> =
        tx!(tx, |c| sqlx::query_as("SELECT id FROM subscriptions WHERE provider = 'stripe' AND provider_subscription_id = $1")
            .bind(provider_id)
            .fetch_optional(c)
            .await)?;
    Ok(row.map(|r| r.0))
}
