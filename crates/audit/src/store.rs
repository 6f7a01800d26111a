//! SQL over `audit_logs`. Reads of one organization's trail take its [`OrgScope`]; the
//! cross-organization read takes the [`PlatformAdmin`] proof instead.

use chrono::{DateTime, Utc};
use kernel::auth::OrgScope;
use kernel::id::OrgId;
use kernel::{Db, read};
use uuid::Uuid;

use crate::{AuditRecord, PlatformAdmin};

/// Filters of a trail query, all optional but the page size.
pub(crate) struct Filter<'a> {
    pub actor: Option<&'a str>,
    pub action: Option<&'a str>,
    pub resource_type: Option<&'a str>,
    pub resource_id: Option<&'a str>,
    /// Inclusive lower bound.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive upper bound.
    pub to: Option<DateTime<Utc>>,
    /// Records strictly older than this one (the page cursor).
    pub before: Option<Uuid>,
    /// Rows to fetch (page size + 1).
    pub fetch: i64,
}

/// The scope's organization's records, newest first.
pub(crate) async fn org_records(db: &Db, scope: &OrgScope, f: &Filter<'_>) -> Result<Vec<AuditRecord>, sqlx::Error> {
    records(db, Some(scope.org()), f).await
}

/// Every organization's records and those of no organization, newest first.
/// Unscoped: platform administrators read across organizations (the proof says so).
pub(crate) async fn all_records(db: &Db, _: PlatformAdmin, f: &Filter<'_>) -> Result<Vec<AuditRecord>, sqlx::Error> {
    records(db, None, f).await
}

/// Unscoped: the query behind [`org_records`] (which passes its scope's organization) and
/// [`all_records`] (which passes none); reached only through them.
async fn records(db: &Db, org: Option<OrgId>, f: &Filter<'_>) -> Result<Vec<AuditRecord>, sqlx::Error> {
    read!(db, |c| {
        sqlx::query_as(
            "SELECT id, org_id, actor, action, resource_type, resource_id, request_id, ip, changes, created_at FROM audit_logs \
             WHERE ($1 IS NULL OR org_id = $1) AND ($2 IS NULL OR actor = $2) AND ($3 IS NULL OR action = $3) \
               AND ($4 IS NULL OR resource_type = $4) AND ($5 IS NULL OR resource_id = $5) \
               AND ($6 IS NULL OR created_at >= $6) AND ($7 IS NULL OR created_at < $7) AND ($8 IS NULL OR id < $8) \
             ORDER BY id DESC LIMIT $9",
        )
        .bind(org)
        .bind(f.actor)
        .bind(f.action)
        .bind(f.resource_type)
        .bind(f.resource_id)
        .bind(f.from)
        .bind(f.to)
        .bind(f.before)
        .bind(f.fetch)
        .fetch_all(c)
        .await
    })
}

/// The organization of a resource's latest record: `None` if it has no records,
/// `Some(None)` if they belong to no organization.
/// Unscoped: resolves which organization owns a resource before access is checked.
pub(crate) async fn resource_org(db: &Db, kind: Option<&str>, id: &str) -> Result<Option<Option<OrgId>>, sqlx::Error> {
    let row: Option<(Option<OrgId>,)> = read!(db, |c| sqlx::query_as(
        "SELECT org_id FROM audit_logs WHERE resource_id = $1 AND ($2 IS NULL OR resource_type = $2) ORDER BY id DESC LIMIT 1"
    )
    .bind(id)
    .bind(kind)
    .fetch_optional(c)
    .await)?;
    Ok(row.map(|(org,)| org))
}
