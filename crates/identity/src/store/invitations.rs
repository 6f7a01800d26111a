//! SQL for `invitations`.

use kernel::auth::{OrgScope, Role};
use kernel::id::{OrgId, UserId};
use kernel::time::Timestamp;
use kernel::{AppResult, Db, Tx, read, tx};
use uuid::Uuid;

use crate::model::Invitation;

/// An `invitations` row to insert.
pub(crate) struct NewInvitation<'a> {
    pub id: Uuid,
    pub email: &'a str,
    pub role: Role,
    pub token_hash: &'a str,
    pub invited_by: UserId,
    pub expires: Timestamp,
    pub at: Timestamp,
}

pub(crate) async fn insert_invitation(tx: &mut Tx<'_>, scope: &OrgScope, i: &NewInvitation<'_>) -> AppResult<()> {
    tx!(tx, |c| sqlx::query(
        "INSERT INTO invitations (id, org_id, email, role, token_hash, invited_by, expires_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)"
    )
    .bind(i.id)
    .bind(scope.org())
    .bind(i.email)
    .bind(i.role.as_str())
    .bind(i.token_hash)
    .bind(i.invited_by)
    .bind(i.expires)
    .bind(i.at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

pub(crate) async fn invitation(db: &Db, scope: &OrgScope, id: Uuid) -> AppResult<Option<Invitation>> {
    Ok(read!(db, |c| {
        sqlx::query_as(
        "SELECT id, org_id, email, role, expires_at, accepted_at, revoked_at, created_at FROM invitations WHERE org_id = $1 AND id = $2"
    )
    .bind(scope.org())
    .bind(id)
    .fetch_optional(c)
    .await
    })?)
}

/// The newest 500 invitations, newest first.
pub(crate) async fn invitations(db: &Db, scope: &OrgScope) -> AppResult<Vec<Invitation>> {
    Ok(read!(db, |c| sqlx::query_as(
        "SELECT id, org_id, email, role, expires_at, accepted_at, revoked_at, created_at FROM invitations \
         WHERE org_id = $1 ORDER BY id DESC LIMIT 500"
    )
    .bind(scope.org())
    .fetch_all(c)
    .await)?)
}

/// Revokes a pending invitation; `false` if there is none with this id that is still open.
pub(crate) async fn revoke_invitation(tx: &mut Tx<'_>, scope: &OrgScope, id: Uuid, at: Timestamp) -> AppResult<bool> {
    let n = tx!(tx, |c| {
        sqlx::query(
        "UPDATE invitations SET revoked_at = $1, updated_at = $1 WHERE org_id = $2 AND id = $3 AND accepted_at IS NULL AND revoked_at IS NULL"
    )
    .bind(at)
    .bind(scope.org())
    .bind(id)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(n > 0)
}

/// An invitation as its acceptance checks it.
#[derive(sqlx::FromRow)]
pub(crate) struct InvitationRow {
    pub id: Uuid,
    pub org_id: OrgId,
    pub email: String,
    pub role: String,
    pub expires_at: Timestamp,
    pub accepted_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

/// Unscoped: an invitation token is its own authority; it is what tells which organization
/// the invitee joins.
pub(crate) async fn invitation_by_token(tx: &mut Tx<'_>, token_hash: &str) -> AppResult<Option<InvitationRow>> {
    Ok(tx!(tx, |c| sqlx::query_as(
        "SELECT id, org_id, email, role, expires_at, accepted_at, revoked_at FROM invitations WHERE token_hash = $1"
    )
    .bind(token_hash)
    .fetch_optional(c)
    .await)?)
}

pub(crate) async fn mark_accepted(tx: &mut Tx<'_>, scope: &OrgScope, id: Uuid, at: Timestamp) -> AppResult<()> {
    tx!(tx, |c| sqlx::query("UPDATE invitations SET accepted_at = $1, updated_at = $1 WHERE org_id = $2 AND id = $3")
        .bind(at)
        .bind(scope.org())
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}
