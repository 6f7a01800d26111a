//! `webhook_events`: every provider event, recorded once and marked with what it did.

use chrono::{DateTime, Utc};
use kernel::id::OrgId;
use kernel::{Tx, tx};
use sqlx::types::Json;
use uuid::Uuid;

use crate::domain::PaymentId;

/// Records a provider event; `0` when it was recorded before (a replay or a concurrent
/// duplicate: on PostgreSQL the second insert waits for the first transaction, then skips).
/// Unscoped: an event is recorded as it arrives, before anything says which organization it
/// is about.
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

/// Marks what an event did, and the organization and payment it turned out to be about.
/// Unscoped: attributes the event, by the event id it was recorded under; `org` was found
/// from the objects the event names (`None` when it names nothing of ours, or was rejected).
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
