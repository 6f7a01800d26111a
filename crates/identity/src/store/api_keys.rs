//! SQL for `api_keys`.

use kernel::auth::{OrgScope, Role};
use kernel::id::{ApiKeyId, OrgId, UserId};
use kernel::time::Timestamp;
use kernel::{AppResult, Db, Tx, read, tx};

use crate::model::ApiKey;

/// An `api_keys` row to insert.
pub(crate) struct NewApiKey<'a> {
    pub id: ApiKeyId,
    pub name: &'a str,
    pub prefix: &'a str,
    pub key_hash: &'a str,
    pub role: Role,
    pub created_by: UserId,
    pub expires: Option<Timestamp>,
    pub at: Timestamp,
}

pub(crate) async fn insert_api_key(tx: &mut Tx<'_>, scope: &OrgScope, k: &NewApiKey<'_>) -> AppResult<()> {
    tx!(tx, |c| sqlx::query(
        "INSERT INTO api_keys (id, org_id, name, prefix, key_hash, role, created_by, expires_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)"
    )
    .bind(k.id)
    .bind(scope.org())
    .bind(k.name)
    .bind(k.prefix)
    .bind(k.key_hash)
    .bind(k.role.as_str())
    .bind(k.created_by)
    .bind(k.expires)
    .bind(k.at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

pub(crate) async fn api_key(db: &Db, scope: &OrgScope, id: ApiKeyId) -> AppResult<Option<ApiKey>> {
    Ok(read!(db, |c| {
        sqlx::query_as(
        "SELECT id, org_id, name, prefix, role, last_used_at, expires_at, revoked_at, created_at FROM api_keys WHERE org_id = $1 AND id = $2"
    )
    .bind(scope.org())
    .bind(id)
    .fetch_optional(c)
    .await
    })?)
}

/// Every key, newest first (revoked ones too).
pub(crate) async fn api_keys(db: &Db, scope: &OrgScope) -> AppResult<Vec<ApiKey>> {
    Ok(read!(db, |c| sqlx::query_as(
        "SELECT id, org_id, name, prefix, role, last_used_at, expires_at, revoked_at, created_at FROM api_keys \
         WHERE org_id = $1 ORDER BY id DESC"
    )
    .bind(scope.org())
    .fetch_all(c)
    .await)?)
}

/// Revokes a key; `false` if there is no unrevoked key with this id.
pub(crate) async fn revoke_api_key(tx: &mut Tx<'_>, scope: &OrgScope, id: ApiKeyId, at: Timestamp) -> AppResult<bool> {
    let n = tx!(tx, |c| sqlx::query(
        "UPDATE api_keys SET revoked_at = $1, updated_at = $1 WHERE org_id = $2 AND id = $3 AND revoked_at IS NULL"
    )
    .bind(at)
    .bind(scope.org())
    .bind(id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// A key as authentication checks it.
#[derive(sqlx::FromRow)]
pub(crate) struct KeyRow {
    pub id: ApiKeyId,
    pub org_id: OrgId,
    pub role: String,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
}

/// Unscoped: authenticates a presented key, which is what tells which organization the
/// caller acts in.
pub(crate) async fn key_by_hash(db: &Db, key_hash: &str) -> AppResult<Option<KeyRow>> {
    Ok(read!(db, |c| sqlx::query_as(
        "SELECT id, org_id, role, expires_at, revoked_at, last_used_at FROM api_keys WHERE key_hash = $1"
    )
    .bind(key_hash)
    .fetch_optional(c)
    .await)?)
}

/// Unscoped: records the use of the key just authenticated (by its primary key), before the
/// request has any scope.
pub(crate) async fn touch_api_key(tx: &mut Tx<'_>, id: ApiKeyId, at: Timestamp) -> AppResult<()> {
    tx!(tx, |c| sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
        .bind(at)
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}
