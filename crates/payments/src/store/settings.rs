//! `payment_settings`: an organization's provider, offline payments, Stripe connected account.

use chrono::{DateTime, Utc};
use kernel::auth::OrgScope;
use kernel::id::OrgId;
use kernel::{Db, Tx, read, tx};

use crate::domain::ProviderKind;

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct SettingsRecord {
    pub provider: String,
    pub offline_enabled: bool,
    pub stripe_account: Option<String>,
    pub updated_at: DateTime<Utc>,
}

pub(crate) async fn settings(db: &Db, scope: &OrgScope) -> Result<Option<SettingsRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(
        "SELECT provider, offline_enabled, stripe_account, updated_at FROM payment_settings WHERE org_id = $1"
    )
    .bind(scope.org())
    .fetch_optional(c)
    .await)
}

pub(crate) async fn save_settings(
    tx: &mut Tx<'_>,
    scope: &OrgScope,
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
    .bind(scope.org())
    .bind(provider.as_str())
    .bind(offline)
    .bind(stripe_account)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}

/// Up to `limit` organizations taking payments through Stripe on the server's own account
/// (no connected account of their own).
/// Unscoped: attributes a payout on the server's own Stripe account, which names no
/// organization, to the one organization taking payments there.
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
/// Unscoped: resolves which organization a webhook of a connected account is about.
pub(crate) async fn org_of_stripe_account(tx: &mut Tx<'_>, account: &str) -> Result<Option<OrgId>, sqlx::Error> {
    let row: Option<(OrgId,)> = tx!(tx, |c| sqlx::query_as("SELECT org_id FROM payment_settings WHERE stripe_account = $1")
        .bind(account)
        .fetch_optional(c)
        .await)?;
    Ok(row.map(|r| r.0))
}
