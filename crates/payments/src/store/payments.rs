//! `payments`: attempts, their outcomes, refunded amounts, history and reconciliation reads.

use chrono::{DateTime, Utc};
use kernel::auth::OrgScope;
use kernel::id::{OrgId, UserId};
use kernel::{Db, Tx, read, tx};
use sqlx::types::Json;
use uuid::Uuid;

use crate::domain::{PaymentId, PaymentStatus, ProviderKind};

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

/// The payment of a reference that is in flight or holds money, if any.
macro_rules! live_payment_sql {
    () => {
        concat!(
            "SELECT ",
            payment_columns!(),
            " FROM payments WHERE reference = $1 AND org_id = $2 \
              AND status IN ('processing', 'requires_action', 'succeeded', 'partially_refunded') \
              AND flow <> 'subscription' AND NOT duplicate ORDER BY id DESC LIMIT 1"
        )
    };
}

/// Payments of the history, newest first (`$1`: the owner column's value).
macro_rules! history_sql {
    ($owner:literal) => {
        concat!(
            "SELECT ",
            payment_columns!(),
            " FROM payments WHERE ",
            $owner,
            " = $1 AND ($2 IS NULL OR status = $2) AND ($3 IS NULL OR reference = $3) AND ($4 IS NULL OR provider = $4) \
              AND ($5 IS NULL OR test_mode = $5) AND ($6 IS NULL OR id < $6) ORDER BY id DESC LIMIT $7"
        )
    };
}

/// Payments reconciliation looks at (`$1`: a time bound, `$2`: an organization or `NULL`).
macro_rules! sweep_sql {
    ($condition:literal, $limit:literal) => {
        concat!(
            "SELECT ",
            payment_columns!(),
            " FROM payments WHERE ",
            $condition,
            " AND ($2 IS NULL OR org_id = $2) ORDER BY updated_at LIMIT ",
            $limit
        )
    };
}

/// Writes a new payment in the scope's organization (the record's `org_id`).
pub(crate) async fn insert_payment(tx: &mut Tx<'_>, scope: &OrgScope, p: &PaymentRecord) -> Result<u64, sqlx::Error> {
    debug_assert_eq!(p.org_id, scope.org());
    tx!(tx, |c| {
        sqlx::query(concat!(
        "INSERT INTO payments (",
        payment_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28)"
    ))
    .bind(p.id)
    .bind(scope.org())
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

/// A payment by id, whichever organization holds it.
/// Unscoped: resolves which organization owns a payment, and reads the row, before access is
/// checked (the caller may be a member, its payer, or a buyer with the booking token) or
/// before the system refunds it for the reference's owner.
pub(crate) async fn find_payment(db: &Db, id: PaymentId) -> Result<Option<PaymentRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(concat!("SELECT ", payment_columns!(), " FROM payments WHERE id = $1"))
        .bind(id)
        .fetch_optional(c)
        .await)
}

pub(crate) async fn payment(db: &Db, scope: &OrgScope, id: PaymentId) -> Result<Option<PaymentRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(concat!("SELECT ", payment_columns!(), " FROM payments WHERE id = $1 AND org_id = $2"))
        .bind(id)
        .bind(scope.org())
        .fetch_optional(c)
        .await)
}

/// [`lock_payment`] for a payment a provider's event names by our id (its metadata).
/// Unscoped: a webhook names the payment before its organization is known; what it does
/// next is scoped to the organization of the row found.
pub(crate) async fn locate_payment(tx: &mut Tx<'_>, id: PaymentId) -> Result<Option<PaymentRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!(
        "UPDATE payments SET updated_at = updated_at WHERE id = $1 RETURNING ",
        payment_columns!()
    ))
    .bind(id)
    .fetch_optional(c)
    .await)
}

/// Reads a payment for a change, taking its row lock on PostgreSQL (a no-op update).
pub(crate) async fn lock_payment(tx: &mut Tx<'_>, scope: &OrgScope, id: PaymentId) -> Result<Option<PaymentRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!(
        "UPDATE payments SET updated_at = updated_at WHERE id = $1 AND org_id = $2 RETURNING ",
        payment_columns!()
    ))
    .bind(id)
    .bind(scope.org())
    .fetch_optional(c)
    .await)
}

/// Our payment of a Stripe object (PaymentIntent, Checkout Session, invoice).
/// Unscoped: webhooks find the payment by the provider's id before the organization is
/// known; a provider id is unique across organizations, which also makes it the key that
/// books a subscription invoice once.
pub(crate) async fn payment_id_by_provider_id(tx: &mut Tx<'_>, provider_id: &str) -> Result<Option<PaymentId>, sqlx::Error> {
    let row: Option<(PaymentId,)> =
        tx!(tx, |c| sqlx::query_as("SELECT id FROM payments WHERE provider = 'stripe' AND provider_payment_id = $1")
            .bind(provider_id)
            .fetch_optional(c)
            .await)?;
    Ok(row.map(|r| r.0))
}

pub(crate) async fn live_payment(db: &Db, scope: &OrgScope, reference: &str) -> Result<Option<PaymentRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(live_payment_sql!()).bind(reference).bind(scope.org()).fetch_optional(c).await)
}

/// [`live_payment`] inside a transaction.
pub(crate) async fn live_payment_tx(
    tx: &mut Tx<'_>,
    scope: &OrgScope,
    reference: &str,
) -> Result<Option<PaymentRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(live_payment_sql!()).bind(reference).bind(scope.org()).fetch_optional(c).await)
}

/// Payments of a reference holding money (captured, not fully refunded).
/// Unscoped: the reference's owner (ticketing, cancelling a booking) has the system refund
/// a reference it owns, and names the reference, not its organization.
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
    scope: &OrgScope,
    id: PaymentId,
    provider_id: Option<&str>,
    fee: i64,
    at: DateTime<Utc>,
) -> Result<Option<PaymentRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!(
        "UPDATE payments SET status = 'succeeded', provider_payment_id = COALESCE($2, provider_payment_id), fee = $3, \
         next_action = NULL, failure_code = NULL, failure_message = NULL, succeeded_at = $4, updated_at = $4 \
         WHERE id = $1 AND org_id = $5 AND status IN ('processing', 'requires_action', 'failed') RETURNING ",
        payment_columns!()
    ))
    .bind(id)
    .bind(provider_id)
    .bind(fee)
    .bind(at)
    .bind(scope.org())
    .fetch_optional(c)
    .await)
}

/// Whether another payment holds money for `reference` (one that is not a duplicate itself).
pub(crate) async fn other_captured(
    tx: &mut Tx<'_>,
    scope: &OrgScope,
    reference: &str,
    id: PaymentId,
) -> Result<bool, sqlx::Error> {
    let row: Option<(PaymentId,)> = tx!(tx, |c| sqlx::query_as(
        "SELECT id FROM payments WHERE reference = $1 AND org_id = $3 AND id <> $2 \
         AND status IN ('succeeded', 'partially_refunded') AND flow <> 'subscription' AND NOT duplicate LIMIT 1"
    )
    .bind(reference)
    .bind(id)
    .bind(scope.org())
    .fetch_optional(c)
    .await)?;
    Ok(row.is_some())
}

/// Marks a payment a duplicate: money taken for a reference another payment has paid.
pub(crate) async fn mark_duplicate(tx: &mut Tx<'_>, scope: &OrgScope, id: PaymentId) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query("UPDATE payments SET duplicate = TRUE WHERE id = $1 AND org_id = $2")
        .bind(id)
        .bind(scope.org())
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
}

pub(crate) async fn mark_failed(
    tx: &mut Tx<'_>,
    scope: &OrgScope,
    id: PaymentId,
    provider_id: Option<&str>,
    code: &str,
    message: &str,
    at: DateTime<Utc>,
) -> Result<Option<PaymentRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!(
        "UPDATE payments SET status = 'failed', provider_payment_id = COALESCE($2, provider_payment_id), failure_code = $3, \
         failure_message = $4, next_action = NULL, failed_at = $5, updated_at = $5 \
         WHERE id = $1 AND org_id = $6 AND status IN ('processing', 'requires_action') RETURNING ",
        payment_columns!()
    ))
    .bind(id)
    .bind(provider_id)
    .bind(code)
    .bind(message)
    .bind(at)
    .bind(scope.org())
    .fetch_optional(c)
    .await)
}

/// What a payment in flight waits for: the provider (`processing`) or the buyer.
pub(crate) struct Pending<'a> {
    pub status: PaymentStatus,
    pub provider_id: Option<&'a str>,
    pub next_action: Option<&'a Json<serde_json::Value>>,
    pub checkout_url: Option<&'a str>,
}

pub(crate) async fn mark_pending(
    tx: &mut Tx<'_>,
    scope: &OrgScope,
    id: PaymentId,
    pending: Pending<'_>,
    at: DateTime<Utc>,
) -> Result<Option<PaymentRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!(
        "UPDATE payments SET status = $2, provider_payment_id = COALESCE($3, provider_payment_id), next_action = $4, \
         checkout_url = COALESCE($5, checkout_url), updated_at = $6 \
         WHERE id = $1 AND org_id = $7 AND status IN ('processing', 'requires_action') RETURNING ",
        payment_columns!()
    ))
    .bind(id)
    .bind(pending.status.as_str())
    .bind(pending.provider_id)
    .bind(pending.next_action)
    .bind(pending.checkout_url)
    .bind(at)
    .bind(scope.org())
    .fetch_optional(c)
    .await)
}

pub(crate) async fn set_provider_id(
    tx: &mut Tx<'_>,
    scope: &OrgScope,
    id: PaymentId,
    provider_id: &str,
    at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query("UPDATE payments SET provider_payment_id = $2, updated_at = $3 WHERE id = $1 AND org_id = $4")
        .bind(id)
        .bind(provider_id)
        .bind(at)
        .bind(scope.org())
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
}

/// Adds a refund to a captured payment; `None` when it would exceed what was paid.
pub(crate) async fn add_refunded(
    tx: &mut Tx<'_>,
    scope: &OrgScope,
    id: PaymentId,
    amount: i64,
    at: DateTime<Utc>,
) -> Result<Option<PaymentRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!(
        "UPDATE payments SET refunded_amount = refunded_amount + $2, \
         status = CASE WHEN refunded_amount + $2 >= amount THEN 'refunded' ELSE 'partially_refunded' END, updated_at = $3 \
         WHERE id = $1 AND org_id = $4 AND status IN ('succeeded', 'partially_refunded') AND refunded_amount + $2 <= amount \
         RETURNING ",
        payment_columns!()
    ))
    .bind(id)
    .bind(amount)
    .bind(at)
    .bind(scope.org())
    .fetch_optional(c)
    .await)
}

/// Filters of the payment history.
pub(crate) struct HistoryFilter {
    pub status: Option<String>,
    pub reference: Option<String>,
    pub provider: Option<String>,
    pub test_mode: Option<bool>,
    pub before: Option<PaymentId>,
    pub limit: i64,
}

/// An organization's payments, newest first.
pub(crate) async fn org_history(db: &Db, scope: &OrgScope, f: &HistoryFilter) -> Result<Vec<PaymentRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(history_sql!("org_id"))
        .bind(scope.org())
        .bind(&f.status)
        .bind(&f.reference)
        .bind(&f.provider)
        .bind(f.test_mode)
        .bind(f.before)
        .bind(f.limit + 1)
        .fetch_all(c)
        .await)
}

/// A payer's own payments, newest first.
/// Unscoped: the caller's own payments, in every organization they paid (payers are not
/// members of the organizations they pay).
pub(crate) async fn payer_history(db: &Db, payer: UserId, f: &HistoryFilter) -> Result<Vec<PaymentRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(history_sql!("payer_user_id"))
        .bind(payer)
        .bind(&f.status)
        .bind(&f.reference)
        .bind(&f.provider)
        .bind(f.test_mode)
        .bind(f.before)
        .bind(f.limit + 1)
        .fetch_all(c)
        .await)
}

/// Payments in flight since before `before` (reconciliation), of one organization or all.
/// Unscoped: without a scope, the platform-wide reconciliation sweep.
pub(crate) async fn stale_in_flight(
    db: &Db,
    scope: Option<&OrgScope>,
    before: DateTime<Utc>,
) -> Result<Vec<PaymentRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(sweep_sql!("status IN ('processing', 'requires_action') AND updated_at < $1", "500"))
        .bind(before)
        .bind(scope.map(OrgScope::org))
        .fetch_all(c)
        .await)
}

/// Captured payments not fully refunded, changed since `since` (reconciliation), of one
/// organization or all.
/// Unscoped: without a scope, the platform-wide reconciliation sweep.
pub(crate) async fn recent_captured(
    db: &Db,
    scope: Option<&OrgScope>,
    since: DateTime<Utc>,
) -> Result<Vec<PaymentRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(sweep_sql!("status IN ('succeeded', 'partially_refunded') AND updated_at >= $1", "2000"))
        .bind(since)
        .bind(scope.map(OrgScope::org))
        .fetch_all(c)
        .await)
}
