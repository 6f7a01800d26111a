//! SQL for `organizations` and their `memberships`.

use kernel::auth::{OrgScope, Role};
use kernel::id::{OrgId, UserId};
use kernel::time::Timestamp;
use kernel::{AppError, AppResult, Backend, Db, Tx, read, tx};

use crate::model::{Member, Organization};

/// An `organizations` row to insert.
pub(crate) struct NewOrg<'a> {
    pub id: OrgId,
    pub name: &'a str,
    pub slug: &'a str,
    pub description: Option<&'a str>,
    pub website: Option<&'a str>,
    pub created_by: UserId,
    pub at: Timestamp,
}

/// Inserts the organization with its creator as owner, unless the slug is taken (`false`).
///
/// Unscoped: creates the organization; no scope of it can exist before it does.
pub(crate) async fn insert_org_with_owner(tx: &mut Tx<'_>, o: &NewOrg<'_>) -> AppResult<bool> {
    let inserted = tx!(tx, |c| sqlx::query(
        "INSERT INTO organizations (id, name, slug, description, website, plan, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'free', $6, $7, $7) ON CONFLICT (slug) DO NOTHING"
    )
    .bind(o.id)
    .bind(o.name)
    .bind(o.slug)
    .bind(o.description)
    .bind(o.website)
    .bind(o.created_by)
    .bind(o.at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    if inserted == 0 {
        return Ok(false);
    }
    tx!(tx, |c| sqlx::query(
        "INSERT INTO memberships (org_id, user_id, role, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)"
    )
    .bind(o.id)
    .bind(o.created_by)
    .bind(Role::Owner.as_str())
    .bind(o.at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(true)
}

/// The organization of the scope (`my_role` unset).
pub(crate) async fn org(db: &Db, scope: &OrgScope) -> AppResult<Option<Organization>> {
    Ok(read!(db, |c| sqlx::query_as(
        "SELECT id, name, slug, description, website, plan, created_at, updated_at FROM organizations WHERE id = $1"
    )
    .bind(scope.org())
    .fetch_optional(c)
    .await)?)
}

#[derive(sqlx::FromRow)]
struct MyOrgRow {
    #[sqlx(flatten)]
    org: Organization,
    role: String,
}

/// The organizations a user belongs to, in the order they joined, each with the user's role.
///
/// Unscoped: lists one user's own memberships across organizations; the user is the filter.
pub(crate) async fn orgs_of_user(db: &Db, user: UserId) -> AppResult<Vec<Organization>> {
    let rows: Vec<MyOrgRow> = read!(db, |c| sqlx::query_as(
        "SELECT o.id, o.name, o.slug, o.description, o.website, o.plan, o.created_at, o.updated_at, m.role \
         FROM memberships m JOIN organizations o ON o.id = m.org_id WHERE m.user_id = $1 ORDER BY m.created_at"
    )
    .bind(user)
    .fetch_all(c)
    .await)?;
    Ok(rows.into_iter().map(|r| Organization { my_role: Role::parse(&r.role), ..r.org }).collect())
}

/// The editable fields of an organization, validated.
pub(crate) struct OrgFields<'a> {
    pub name: &'a str,
    pub slug: &'a str,
    pub description: Option<&'a str>,
    pub website: Option<&'a str>,
}

/// A taken slug is a conflict (`AppError::Conflict`).
pub(crate) async fn update_org(tx: &mut Tx<'_>, scope: &OrgScope, f: &OrgFields<'_>, at: Timestamp) -> AppResult<()> {
    tx!(tx, |c| sqlx::query(
        "UPDATE organizations SET name = $1, slug = $2, description = $3, website = $4, updated_at = $5 WHERE id = $6"
    )
    .bind(f.name)
    .bind(f.slug)
    .bind(f.description)
    .bind(f.website)
    .bind(at)
    .bind(scope.org())
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Whether the organization exists, for a platform administrator's access.
///
/// Unscoped: part of the access check that scopes are made from.
pub(crate) async fn org_exists(db: &Db, org: OrgId) -> AppResult<bool> {
    let found: Option<(OrgId,)> =
        read!(db, |c| sqlx::query_as("SELECT id FROM organizations WHERE id = $1").bind(org).fetch_optional(c).await)?;
    Ok(found.is_some())
}

// ---- memberships -------------------------------------------------------------------------

/// A user's role in an organization, if they are a member.
///
/// Unscoped: the role lookup behind `OrgAccess::role_in`, which scopes are made from.
pub(crate) async fn member_role(db: &Db, org: OrgId, user: UserId) -> AppResult<Option<Role>> {
    let row: Option<(String,)> =
        read!(db, |c| sqlx::query_as("SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2")
            .bind(org)
            .bind(user)
            .fetch_optional(c)
            .await)?;
    Ok(row.and_then(|(r,)| Role::parse(&r)))
}

pub(crate) async fn members(db: &Db, scope: &OrgScope) -> AppResult<Vec<Member>> {
    Ok(read!(db, |c| sqlx::query_as(
        "SELECT m.user_id, u.name, u.email, m.role, m.created_at FROM memberships m JOIN users u ON u.id = m.user_id \
         WHERE m.org_id = $1 ORDER BY m.created_at"
    )
    .bind(scope.org())
    .fetch_all(c)
    .await)?)
}

/// Whether someone with this (normalized) email is a member.
pub(crate) async fn is_member_email(db: &Db, scope: &OrgScope, email: &str) -> AppResult<bool> {
    let found: Option<(UserId,)> = read!(db, |c| sqlx::query_as(
        "SELECT m.user_id FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 AND u.email = $2"
    )
    .bind(scope.org())
    .bind(email)
    .fetch_optional(c)
    .await)?;
    Ok(found.is_some())
}

/// Reads a member's role inside `tx`, first locking the organization row on PostgreSQL so
/// concurrent role changes and removals in one organization serialize (SQLite's single writer
/// already does). Without this, two owners demoting each other could both see "one owner
/// left" and commit an organization with none.
pub(crate) async fn lock_membership(tx: &mut Tx<'_>, scope: &OrgScope, user: UserId) -> AppResult<Role> {
    if tx.backend() == Backend::Postgres {
        tx!(tx, |c| sqlx::query("SELECT id FROM organizations WHERE id = $1 FOR UPDATE")
            .bind(scope.org())
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
    }
    let row: Option<(String,)> = tx!(tx, |c| sqlx::query_as("SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2")
        .bind(scope.org())
        .bind(user)
        .fetch_optional(c)
        .await)?;
    row.and_then(|(r,)| Role::parse(&r)).ok_or(AppError::not_found("member"))
}

/// A membership that already exists is a conflict (`AppError::Conflict`).
pub(crate) async fn insert_membership(
    tx: &mut Tx<'_>,
    scope: &OrgScope,
    user: UserId,
    role: Role,
    at: Timestamp,
) -> AppResult<()> {
    tx!(tx, |c| sqlx::query(
        "INSERT INTO memberships (org_id, user_id, role, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)"
    )
    .bind(scope.org())
    .bind(user)
    .bind(role.as_str())
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

pub(crate) async fn set_member_role(tx: &mut Tx<'_>, scope: &OrgScope, user: UserId, role: Role, at: Timestamp) -> AppResult<()> {
    tx!(tx, |c| sqlx::query("UPDATE memberships SET role = $1, updated_at = $2 WHERE org_id = $3 AND user_id = $4")
        .bind(role.as_str())
        .bind(at)
        .bind(scope.org())
        .bind(user)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

pub(crate) async fn delete_membership(tx: &mut Tx<'_>, scope: &OrgScope, user: UserId) -> AppResult<()> {
    tx!(tx, |c| sqlx::query("DELETE FROM memberships WHERE org_id = $1 AND user_id = $2")
        .bind(scope.org())
        .bind(user)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

pub(crate) async fn owner_count(tx: &mut Tx<'_>, scope: &OrgScope) -> AppResult<i64> {
    let (n,): (i64,) = tx!(tx, |c| sqlx::query_as("SELECT COUNT(*) FROM memberships WHERE org_id = $1 AND role = 'owner'")
        .bind(scope.org())
        .fetch_one(c)
        .await)?;
    Ok(n)
}
