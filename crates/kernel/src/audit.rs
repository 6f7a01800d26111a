//! Writing the audit trail. Every mutation calls [`record`] inside its own transaction, so a
//! change and its audit record commit (or roll back) together. The actor, request id and IP
//! come from the request context. `changes` summarizes what changed — field names and new
//! values of non-secret fields; callers never pass passwords, tokens or key material.

use serde::Serialize;
use sqlx::types::Json;
use uuid::Uuid;

use crate::context::RequestContext;
use crate::db::Tx;
use crate::error::AppResult;
use crate::id::OrgId;
use crate::time::now;
use crate::tx;

/// One audited action.
pub struct AuditEntry<'a> {
    pub org_id: Option<OrgId>,
    /// Dotted verb: `event.created`, `member.removed`.
    pub action: &'a str,
    pub resource_type: &'a str,
    pub resource_id: String,
    pub changes: serde_json::Value,
}

/// Records `entry` in `tx`, attributed to the current request's principal (or `system`).
pub async fn record(tx: &mut Tx, entry: AuditEntry<'_>) -> AppResult<()> {
    let ctx = RequestContext::current();
    let actor = ctx.as_ref().and_then(|c| c.principal.as_ref()).map(|p| p.actor()).unwrap_or_else(|| "system".into());
    record_as(tx, &actor, entry).await
}

/// Records `entry` for an explicit actor (used where the actor is not the request principal,
/// e.g. a user who just registered or signed in).
pub async fn record_as(tx: &mut Tx, actor: &str, entry: AuditEntry<'_>) -> AppResult<()> {
    let ctx = RequestContext::current();
    let request_id = ctx.as_ref().map(|c| c.request_id.clone());
    let ip = ctx.as_ref().and_then(|c| c.ip).map(|ip| ip.to_string());
    let at = now();
    tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO audit_logs (id, org_id, actor, action, resource_type, resource_id, request_id, ip, changes, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)"
    )
    .bind(Uuid::now_v7())
    .bind(entry.org_id)
    .bind(actor)
    .bind(entry.action)
    .bind(entry.resource_type)
    .bind(&entry.resource_id)
    .bind(request_id)
    .bind(ip)
    .bind(Json(&entry.changes))
    .bind(at)
    .execute(c)
    .await.map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Serializes a request body to a change summary, dropping absent (`null`) fields.
pub fn changes_of(value: &impl Serialize) -> serde_json::Value {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::Object(map)) => serde_json::Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).collect()),
        Ok(other) => other,
        Err(_) => serde_json::Value::Null,
    }
}
