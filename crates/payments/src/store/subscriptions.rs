//! `subscriptions`: recurring payments and the state their provider reports.

use chrono::{DateTime, Utc};
use kernel::auth::OrgScope;
use kernel::id::OrgId;
use kernel::{Db, Tx, read, tx};

use crate::domain::{ProviderKind, SubscriptionId};

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

/// Writes a new subscription in the scope's organization (the record's `org_id`).
pub(crate) async fn insert_subscription(tx: &mut Tx<'_>, scope: &OrgScope, s: &SubscriptionRecord) -> Result<u64, sqlx::Error> {
    debug_assert_eq!(s.org_id, scope.org());
    tx!(tx, |c| sqlx::query(concat!(
        "INSERT INTO subscriptions (",
        subscription_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
    ))
    .bind(s.id)
    .bind(scope.org())
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

/// A subscription by id, whichever organization holds it.
/// Unscoped: resolves which organization owns a subscription before access is checked, and
/// reads the subscription a `subscription:<id>` reference names (which carries no organization).
pub(crate) async fn find_subscription(db: &Db, id: SubscriptionId) -> Result<Option<SubscriptionRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(concat!("SELECT ", subscription_columns!(), " FROM subscriptions WHERE id = $1"))
        .bind(id)
        .fetch_optional(c)
        .await)
}

/// [`find_subscription`] inside a transaction.
/// Unscoped: a provider's invoice names our subscription id (its metadata) before the
/// organization is known.
pub(crate) async fn locate_subscription(tx: &mut Tx<'_>, id: SubscriptionId) -> Result<Option<SubscriptionRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!("SELECT ", subscription_columns!(), " FROM subscriptions WHERE id = $1"))
        .bind(id)
        .fetch_optional(c)
        .await)
}

/// Our subscription of a Stripe subscription id.
/// Unscoped: webhooks find the subscription by the provider's id before the organization
/// is known (provider ids are unique across organizations).
pub(crate) async fn subscription_by_provider_id(
    tx: &mut Tx<'_>,
    provider_id: &str,
) -> Result<Option<SubscriptionRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!(
        "SELECT ",
        subscription_columns!(),
        " FROM subscriptions WHERE provider = 'stripe' AND provider_subscription_id = $1"
    ))
    .bind(provider_id)
    .fetch_optional(c)
    .await)
}

pub(crate) async fn set_subscription_state(
    tx: &mut Tx<'_>,
    scope: &OrgScope,
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
         WHERE id = $1 AND org_id = $6 RETURNING ",
        subscription_columns!()
    ))
    .bind(id)
    .bind(provider_id)
    .bind(customer_id)
    .bind(status)
    .bind(at)
    .bind(scope.org())
    .fetch_optional(c)
    .await)
}
