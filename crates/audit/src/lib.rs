//! The audit trail, read side. Records are written by every context through
//! `kernel::audit::record` inside the mutating transaction; this crate lets organization
//! owners and admins (and platform administrators) query them. A query's [`Reach`] is an
//! [`OrgScope`] or, for reading across organizations, a [`PlatformAdmin`] proof; the SQL
//! is in `store`.

mod store;

use std::sync::Arc;

use axum::extract::State;
use chrono::{DateTime, Utc};
use kernel::auth::{Auth, DynOrgAccess, OrgScope, Role};
use kernel::extract::{Json, Path, Query};
use kernel::id::OrgId;
use kernel::pagination::{Page, PageParams};
use kernel::{AppError, AppResult, Kernel};
use serde::{Deserialize, Serialize};
use sqlx::types::Json as SqlJson;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// One audited action.
#[derive(Debug, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct AuditRecord {
    pub id: Uuid,
    pub org_id: Option<OrgId>,
    /// `user:<id>`, `api_key:<id>` or `system`.
    pub actor: String,
    pub action: String,
    pub resource_type: String,
    pub resource_id: String,
    pub request_id: Option<String>,
    pub ip: Option<String>,
    /// Summary of the changed fields (never secrets).
    #[schema(value_type = Object)]
    pub changes: SqlJson<serde_json::Value>,
    pub created_at: DateTime<Utc>,
}

/// Filters of `GET /api/audit/logs`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Organization whose trail to read. Required; only platform administrators may leave it
    /// out, to read the records of every organization and of no organization.
    #[param(required = true)]
    pub org_id: Option<OrgId>,
    /// `user:<id>` or `api_key:<id>`.
    pub actor: Option<String>,
    /// e.g. `event.published`.
    pub action: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    /// Inclusive lower bound (RFC 3339).
    #[param(
        pattern = r"^(?:[0-9]{4}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)|(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29)[Tt](?:[01][0-9]|2[0-3]):[0-5][0-9]:(?:[0-5][0-9]|60)(?:\.[0-9]+)?(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$"
    )]
    pub from: Option<DateTime<Utc>>,
    /// Exclusive upper bound (RFC 3339); must be after `from`.
    #[param(
        pattern = r"^(?:[0-9]{4}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)|(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29)[Tt](?:[01][0-9]|2[0-3]):[0-5][0-9]:(?:[0-5][0-9]|60)(?:\.[0-9]+)?(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$"
    )]
    pub to: Option<DateTime<Utc>>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

/// Filters of `GET /api/audit/logs/{resource}` (the path names the resource and, through its
/// records, the organization).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TrailQuery {
    /// `user:<id>` or `api_key:<id>`.
    pub actor: Option<String>,
    /// e.g. `event.updated`.
    pub action: Option<String>,
    /// Inclusive lower bound (RFC 3339).
    #[param(
        pattern = r"^(?:[0-9]{4}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)|(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29)[Tt](?:[01][0-9]|2[0-3]):[0-5][0-9]:(?:[0-5][0-9]|60)(?:\.[0-9]+)?(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$"
    )]
    pub from: Option<DateTime<Utc>>,
    /// Exclusive upper bound (RFC 3339); must be after `from`.
    #[param(
        pattern = r"^(?:[0-9]{4}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)|(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29)[Tt](?:[01][0-9]|2[0-3]):[0-5][0-9]:(?:[0-5][0-9]|60)(?:\.[0-9]+)?(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$"
    )]
    pub to: Option<DateTime<Utc>>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

/// Longest resource id `GET /api/audit/logs/{resource}` accepts, in characters.
pub const RESOURCE_ID_MAX: usize = 100;

/// Whose records a query reads.
#[derive(Debug, Clone, Copy)]
pub enum Reach {
    /// One organization's records: its owners and admins.
    Org(OrgScope),
    /// Every organization's records and those of none: platform administrators only.
    Platform(PlatformAdmin),
}

/// Proof that the caller is a platform administrator, which only
/// [`PlatformAdmin::require`] gives out.
#[derive(Debug, Clone, Copy)]
pub struct PlatformAdmin(());

impl PlatformAdmin {
    /// `403` unless the caller is a platform administrator.
    pub fn require(auth: &Auth) -> AppResult<PlatformAdmin> {
        auth.require_platform_admin().map(|()| PlatformAdmin(()))
    }
}

pub struct AuditService {
    kernel: Arc<Kernel>,
    access: DynOrgAccess,
}

impl AuditService {
    pub fn new(kernel: Arc<Kernel>, access: DynOrgAccess) -> Arc<AuditService> {
        Arc::new(AuditService { kernel, access })
    }

    /// Records newest first, filtered; `reach` says whose (`q.org_id` is not read here).
    pub async fn query(&self, reach: Reach, q: &AuditQuery) -> AppResult<Page<AuditRecord>> {
        let page = PageParams { cursor: q.cursor.clone(), limit: q.limit };
        let limit = page.limit()?;
        let before: Option<Uuid> = page.decode()?;
        if let (Some(from), Some(to)) = (q.from, q.to)
            && from >= to
        {
            return Err(AppError::validation("to", "must be after from"));
        }
        let filter = store::Filter {
            actor: q.actor.as_deref(),
            action: q.action.as_deref(),
            resource_type: q.resource_type.as_deref(),
            resource_id: q.resource_id.as_deref(),
            from: q.from.map(kernel::time::truncate),
            to: q.to.map(kernel::time::truncate),
            before,
            fetch: limit + 1,
        };
        let db = &self.kernel.db;
        let rows = match reach {
            Reach::Org(scope) => store::org_records(db, &scope, &filter).await?,
            Reach::Platform(admin) => store::all_records(db, admin, &filter).await?,
        };
        Ok(Page::from_rows(rows, limit, |r| r.id))
    }
}

/// Query the audit trail of an organization (owners and admins).
#[utoipa::path(get, path = "/api/audit/logs", tag = "audit", params(AuditQuery), responses(
    (status = 200, body = Page<AuditRecord>), (status = 403, body = kernel::error::Problem),
    (status = 404, description = "No such organization, or the caller is not a member", body = kernel::error::Problem),
    (status = 422, description = "org_id missing or a filter is invalid", body = kernel::error::Problem)),
    security(("bearer" = [])))]
async fn logs(
    State(svc): State<Arc<AuditService>>,
    auth: Auth,
    Query(q): Query<AuditQuery>,
) -> AppResult<Json<Page<AuditRecord>>> {
    let reach = match q.org_id {
        Some(org) => Reach::Org(svc.access.require(&auth.0, org, Role::Admin).await?),
        None if auth.0.is_platform_admin() => Reach::Platform(PlatformAdmin::require(&auth)?),
        None => return Err(AppError::validation("org_id", "required")),
    };
    Ok(Json(svc.query(reach, &q).await?))
}

/// The history of one resource (`event:<id>` or a bare id), newest first.
#[utoipa::path(get, path = "/api/audit/logs/{resource}", tag = "audit",
    params(("resource" = String, Path, pattern = r"^(?:[^:]{1,100}|[^:]*:[\s\S]{1,100})$",
        description = "`<type>:<id>` or `<id>`: the id (after the first `:`) has 1–100 characters"), TrailQuery),
    responses((status = 200, body = Page<AuditRecord>), (status = 404, body = kernel::error::Problem)), security(("bearer" = [])))]
async fn resource_trail(
    State(svc): State<Arc<AuditService>>,
    auth: Auth,
    Path(resource): Path<String>,
    Query(t): Query<TrailQuery>,
) -> AppResult<Json<Page<AuditRecord>>> {
    let (kind, id) = match resource.split_once(':') {
        Some((k, id)) => (Some(k.to_string()), id.to_string()),
        None => (None, resource),
    };
    if id.is_empty() || id.chars().count() > RESOURCE_ID_MAX {
        return Err(AppError::validation("resource", "expected <type>:<id> or <id>"));
    }
    // The records say which organization the resource belongs to; only its admins may read them.
    let (org, reach) = match store::resource_org(&svc.kernel.db, kind.as_deref(), &id).await? {
        Some(Some(org)) => (Some(org), Reach::Org(svc.access.require(&auth.0, org, Role::Admin).await?)),
        Some(None) if auth.0.is_platform_admin() => (None, Reach::Platform(PlatformAdmin::require(&auth)?)),
        _ => return Err(AppError::not_found("resource")),
    };
    let q = AuditQuery {
        org_id: org,
        actor: t.actor,
        action: t.action,
        resource_type: kind,
        resource_id: Some(id),
        from: t.from,
        to: t.to,
        cursor: t.cursor,
        limit: t.limit,
    };
    Ok(Json(svc.query(reach, &q).await?))
}

pub fn router(svc: Arc<AuditService>) -> OpenApiRouter {
    OpenApiRouter::new().routes(routes!(logs)).routes(routes!(resource_trail)).with_state(svc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn param(operation: utoipa::openapi::path::Operation, name: &str) -> Value {
        let op = serde_json::to_value(operation).unwrap();
        op["parameters"].as_array().unwrap().iter().find(|p| p["name"] == name).cloned().unwrap()
    }

    /// RFC 3339 `date-time` with valid calendar dates (a subset of what chrono parses).
    const DATE_TIME: &str = r"^(?:[0-9]{4}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)|(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29)[Tt](?:[01][0-9]|2[0-3]):[0-5][0-9]:(?:[0-5][0-9]|60)(?:\.[0-9]+)?(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$";

    #[test]
    fn the_schema_states_the_parameter_rules() {
        let logs = <__path_logs as utoipa::Path>::operation();
        assert_eq!(param(logs, "org_id")["required"], true);
        let trail = <__path_resource_trail as utoipa::Path>::operation();
        let resource = param(trail, "resource");
        for op in [<__path_logs as utoipa::Path>::operation(), <__path_resource_trail as utoipa::Path>::operation()] {
            for name in ["from", "to"] {
                let p = param(op.clone(), name);
                assert_eq!(p["schema"]["format"], "date-time");
                assert_eq!(p["schema"]["pattern"], DATE_TIME, "{name}");
            }
        }
        let m = RESOURCE_ID_MAX;
        assert_eq!(resource["schema"]["pattern"], format!(r"^(?:[^:]{{1,{m}}}|[^:]*:[\s\S]{{1,{m}}})$"));
    }
}
