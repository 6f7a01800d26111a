//! SQL for the record of sent messages.

use kernel::auth::OrgScope;
use kernel::time::now;
use kernel::{AppResult, Db, Tx, read, tx};
use uuid::Uuid;

/// Claims the message `(kind, subject, recipient)` in the caller's transaction; `false` if
/// it was claimed before (the message went out already).
pub(crate) async fn claim(tx: &mut Tx<'_>, scope: &OrgScope, kind: &str, subject: &str, recipient: &str) -> AppResult<bool> {
    let n = tx!(tx, |c| sqlx::query(
        "INSERT INTO sent_messages (id, org_id, kind, subject_id, recipient, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (kind, subject_id, recipient) DO NOTHING"
    )
    .bind(Uuid::now_v7())
    .bind(scope.org())
    .bind(kind)
    .bind(subject)
    .bind(recipient.to_lowercase())
    .bind(now())
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Unscoped: asked before any work by a job that holds only the event's ids; the subject
/// (a booking id) names one organization's row already.
pub(crate) async fn already_sent(db: Db, kind: &str, subject: &str, recipient: &str) -> AppResult<bool> {
    let found: Option<(Uuid,)> =
        read!(&db, |c| sqlx::query_as("SELECT id FROM sent_messages WHERE kind = $1 AND subject_id = $2 AND recipient = $3")
            .bind(kind)
            .bind(subject)
            .bind(recipient.to_lowercase())
            .fetch_optional(c)
            .await)?;
    Ok(found.is_some())
}
