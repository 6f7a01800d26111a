//! SQL for accounts: `users` and the `password_resets` tokens. Neither belongs to an
//! organization.

use kernel::id::UserId;
use kernel::time::Timestamp;
use kernel::{AppResult, Db, Tx, read, tx};
use uuid::Uuid;

use crate::model::User;

/// A `users` row to insert.
pub(crate) struct NewUser<'a> {
    pub id: UserId,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub name: &'a str,
    pub platform_admin: bool,
    pub at: Timestamp,
}

/// Inserts the user unless the email is taken; `false` when it is.
pub(crate) async fn insert_user(tx: &mut Tx<'_>, u: &NewUser<'_>) -> AppResult<bool> {
    let inserted = tx!(tx, |c| sqlx::query(
        "INSERT INTO users (id, email, password_hash, name, locale, time_zone, platform_admin, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'en', 'UTC', $5, $6, $6) ON CONFLICT (email) DO NOTHING"
    )
    .bind(u.id)
    .bind(u.email)
    .bind(u.password_hash)
    .bind(u.name)
    .bind(u.platform_admin)
    .bind(u.at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(inserted > 0)
}

pub(crate) async fn user(db: &Db, id: UserId) -> AppResult<Option<User>> {
    Ok(read!(db, |c| {
        sqlx::query_as::<_, User>(
        "SELECT id, email, name, avatar_url, bio, locale, time_zone, platform_admin, created_at, updated_at FROM users WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(c)
    .await
    })?)
}

/// What sign-in checks a password against.
#[derive(sqlx::FromRow)]
pub(crate) struct Credentials {
    pub id: UserId,
    pub password_hash: String,
}

/// `email` is normalized (trimmed, lower-case).
pub(crate) async fn credentials(db: &Db, email: &str) -> AppResult<Option<Credentials>> {
    Ok(read!(db, |c| sqlx::query_as("SELECT id, password_hash FROM users WHERE email = $1").bind(email).fetch_optional(c).await)?)
}

/// The id and name of the account with this (normalized) email.
pub(crate) async fn user_by_email(db: &Db, email: &str) -> AppResult<Option<(UserId, String)>> {
    Ok(read!(db, |c| sqlx::query_as("SELECT id, name FROM users WHERE email = $1").bind(email).fetch_optional(c).await)?)
}

/// The editable profile fields, validated.
pub(crate) struct Profile<'a> {
    pub name: &'a str,
    pub avatar_url: Option<&'a str>,
    pub bio: Option<&'a str>,
    pub locale: &'a str,
    pub time_zone: &'a str,
}

pub(crate) async fn update_profile(tx: &mut Tx<'_>, user: UserId, p: &Profile<'_>, at: Timestamp) -> AppResult<()> {
    tx!(tx, |c| sqlx::query(
        "UPDATE users SET name = $1, avatar_url = $2, bio = $3, locale = $4, time_zone = $5, updated_at = $6 WHERE id = $7"
    )
    .bind(p.name)
    .bind(p.avatar_url)
    .bind(p.bio)
    .bind(p.locale)
    .bind(p.time_zone)
    .bind(at)
    .bind(user)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

pub(crate) async fn set_password_hash(tx: &mut Tx<'_>, user: UserId, hash: &str, at: Timestamp) -> AppResult<()> {
    tx!(tx, |c| sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(hash)
        .bind(at)
        .bind(user)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

// ---- password resets --------------------------------------------------------------------

pub(crate) async fn insert_password_reset(
    tx: &mut Tx<'_>,
    user: UserId,
    token_hash: &str,
    expires: Timestamp,
    at: Timestamp,
) -> AppResult<()> {
    tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO password_resets (id, user_id, token_hash, expires_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)"
    )
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(token_hash)
    .bind(expires)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// `(used_at, expires_at)` of the reset token with this hash, if one was issued.
pub(crate) async fn password_reset_state(db: &Db, token_hash: &str) -> AppResult<Option<(Option<Timestamp>, Timestamp)>> {
    Ok(read!(db, |c| sqlx::query_as("SELECT used_at, expires_at FROM password_resets WHERE token_hash = $1")
        .bind(token_hash)
        .fetch_optional(c)
        .await)?)
}

/// Marks an unused, unexpired reset token used; returns its user, or `None` if the token
/// was not usable (any more).
pub(crate) async fn claim_password_reset(tx: &mut Tx<'_>, token_hash: &str, at: Timestamp) -> AppResult<Option<UserId>> {
    let user: Option<(UserId,)> = tx!(tx, |c| {
        sqlx::query_as(
        "UPDATE password_resets SET used_at = $1, updated_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 \
         RETURNING user_id"
    )
    .bind(at)
    .bind(token_hash)
    .fetch_optional(c)
    .await
    })?;
    Ok(user.map(|(u,)| u))
}
