//! SQL for sign-in sessions: `sessions` and their `refresh_tokens`. A session belongs to a
//! user, not to an organization.

use kernel::id::{SessionId, UserId};
use kernel::time::Timestamp;
use kernel::{AppResult, Db, Tx, read, tx};
use uuid::Uuid;

use crate::model::Session;

/// A `sessions` row to insert.
pub(crate) struct NewSession<'a> {
    pub id: SessionId,
    pub user: UserId,
    pub user_agent: Option<&'a str>,
    pub ip: Option<String>,
    pub at: Timestamp,
    pub expires: Timestamp,
}

pub(crate) async fn insert_session(tx: &mut Tx<'_>, s: &NewSession<'_>) -> AppResult<()> {
    tx!(tx, |c| sqlx::query(
        "INSERT INTO sessions (id, user_id, user_agent, ip, last_used_at, expires_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $5, $5)"
    )
    .bind(s.id)
    .bind(s.user)
    .bind(s.user_agent)
    .bind(s.ip.as_deref())
    .bind(s.at)
    .bind(s.expires)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

pub(crate) async fn insert_refresh_token(
    tx: &mut Tx<'_>,
    session: SessionId,
    token_hash: &str,
    expires: Timestamp,
    at: Timestamp,
) -> AppResult<()> {
    tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO refresh_tokens (id, session_id, token_hash, expires_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)"
    )
    .bind(Uuid::now_v7())
    .bind(session)
    .bind(token_hash)
    .bind(expires)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// A refresh token with the state of its session.
#[derive(sqlx::FromRow)]
pub(crate) struct RefreshRow {
    pub token_id: Uuid,
    pub session_id: SessionId,
    pub used_at: Option<Timestamp>,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    pub user_id: UserId,
}

pub(crate) async fn refresh_token(tx: &mut Tx<'_>, token_hash: &str) -> AppResult<Option<RefreshRow>> {
    Ok(tx!(tx, |c| sqlx::query_as(
        "SELECT r.id AS token_id, r.session_id, r.used_at, r.expires_at, s.revoked_at, s.user_id \
         FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id WHERE r.token_hash = $1"
    )
    .bind(token_hash)
    .fetch_optional(c)
    .await)?)
}

/// Marks a refresh token used; `false` if it already was.
pub(crate) async fn claim_refresh_token(tx: &mut Tx<'_>, token: Uuid, at: Timestamp) -> AppResult<bool> {
    let claimed =
        tx!(tx, |c| sqlx::query("UPDATE refresh_tokens SET used_at = $1, updated_at = $1 WHERE id = $2 AND used_at IS NULL")
            .bind(at)
            .bind(token)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
    Ok(claimed > 0)
}

pub(crate) async fn touch_session(tx: &mut Tx<'_>, session: SessionId, at: Timestamp) -> AppResult<()> {
    tx!(tx, |c| sqlx::query("UPDATE sessions SET last_used_at = $1, updated_at = $1 WHERE id = $2")
        .bind(at)
        .bind(session)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Revokes a session unless it already was; `false` if so.
pub(crate) async fn revoke_session(tx: &mut Tx<'_>, session: SessionId, reason: &str, at: Timestamp) -> AppResult<bool> {
    let n = tx!(tx, |c| sqlx::query(
        "UPDATE sessions SET revoked_at = $1, revoked_reason = $2, updated_at = $1 WHERE id = $3 AND revoked_at IS NULL"
    )
    .bind(at)
    .bind(reason)
    .bind(session)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Revokes every open session of a user.
pub(crate) async fn revoke_sessions_of(tx: &mut Tx<'_>, user: UserId, reason: &str, at: Timestamp) -> AppResult<()> {
    tx!(tx, |c| sqlx::query(
        "UPDATE sessions SET revoked_at = $1, revoked_reason = $2, updated_at = $1 WHERE user_id = $3 AND revoked_at IS NULL"
    )
    .bind(at)
    .bind(reason)
    .bind(user)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// `(revoked_at, expires_at)` of the user's session, if it exists.
pub(crate) async fn session_state(
    db: &Db,
    session: SessionId,
    user: UserId,
) -> AppResult<Option<(Option<Timestamp>, Timestamp)>> {
    Ok(read!(db, |c| sqlx::query_as("SELECT revoked_at, expires_at FROM sessions WHERE id = $1 AND user_id = $2")
        .bind(session)
        .bind(user)
        .fetch_optional(c)
        .await)?)
}

/// A user's sessions that are neither revoked nor expired at `at`, most recently used first.
pub(crate) async fn active_sessions(db: &Db, user: UserId, at: Timestamp) -> AppResult<Vec<Session>> {
    Ok(read!(db, |c| sqlx::query_as(
        "SELECT id, user_agent, ip, created_at, last_used_at, expires_at FROM sessions \
         WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY last_used_at DESC"
    )
    .bind(user)
    .bind(at)
    .fetch_all(c)
    .await)?)
}

pub(crate) async fn session_owner(db: &Db, session: SessionId) -> AppResult<Option<UserId>> {
    let owner: Option<(UserId,)> =
        read!(db, |c| sqlx::query_as("SELECT user_id FROM sessions WHERE id = $1").bind(session).fetch_optional(c).await)?;
    Ok(owner.map(|(u,)| u))
}

/// Binds a browser cookie (its hash) to a session.
pub(crate) async fn set_cookie_hash(tx: &mut Tx<'_>, session: SessionId, cookie_hash: &str) -> AppResult<()> {
    tx!(tx, |c| sqlx::query("UPDATE sessions SET cookie_hash = $1 WHERE id = $2")
        .bind(cookie_hash)
        .bind(session)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// A browser session found by its cookie's hash.
#[derive(sqlx::FromRow)]
pub(crate) struct CookieSession {
    pub id: SessionId,
    pub user_id: UserId,
    pub platform_admin: bool,
    pub revoked_at: Option<Timestamp>,
    pub expires_at: Timestamp,
    pub last_used_at: Timestamp,
}

pub(crate) async fn session_by_cookie(db: &Db, cookie_hash: &str) -> AppResult<Option<CookieSession>> {
    Ok(read!(db, |c| sqlx::query_as(
        "SELECT s.id, s.user_id, u.platform_admin, s.revoked_at, s.expires_at, s.last_used_at \
         FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.cookie_hash = $1"
    )
    .bind(cookie_hash)
    .fetch_optional(c)
    .await)?)
}
