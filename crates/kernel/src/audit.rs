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
pub async fn record(tx: &mut Tx<'_>, entry: AuditEntry<'_>) -> AppResult<()> {
    let ctx = RequestContext::current();
    let actor = ctx.as_ref().and_then(|c| c.principal.as_ref()).map(|p| p.actor()).unwrap_or_else(|| "system".into());
    record_as(tx, &actor, entry).await
}

/// Records `entry` for an explicit actor (used where the actor is not the request principal,
/// e.g. a user who just registered or signed in).
pub async fn record_as(tx: &mut Tx<'_>, actor: &str, entry: AuditEntry<'_>) -> AppResult<()> {
    let ctx = RequestContext::current();
    record_many(tx, &[AuditRow { actor, context: ctx.as_ref(), entry }]).await
}

/// One record of a [`record_many`] batch: its actor and the request it came from.
pub struct AuditRow<'a> {
    pub actor: &'a str,
    pub context: Option<&'a RequestContext>,
    pub entry: AuditEntry<'a>,
}

/// Records several entries with one multi-row insert (a booking writer records every booking
/// of a batch this way), each with its own actor and request.
pub async fn record_many(tx: &mut Tx<'_>, rows: &[AuditRow<'_>]) -> AppResult<()> {
    let at = now();
    let ids: Vec<Uuid> = rows.iter().map(|_| Uuid::now_v7()).collect();
    let rows: Vec<(&Uuid, &AuditRow<'_>)> = ids.iter().zip(rows).collect();
    crate::insert_rows!(tx, "audit_logs", &rows, |r| {
        "id": "uuid" = r.0,
        "org_id": "uuid" = r.1.entry.org_id,
        "actor": "text" = r.1.actor,
        "action": "text" = r.1.entry.action,
        "resource_type": "text" = r.1.entry.resource_type,
        "resource_id": "text" = r.1.entry.resource_id.as_str(),
        "request_id": "text" = r.1.context.map(|c| c.request_id.as_str()),
        "ip": "text" = r.1.context.and_then(|c| c.ip).map(|ip| ip.to_string()),
        "changes": "jsonb" = Json(&r.1.entry.changes),
        "created_at": "timestamptz" = at,
        "updated_at": "timestamptz" = at,
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

/// The fields of `new` whose values differ from `old` (both JSON objects), with their new
/// values, leaving out bookkeeping timestamps. A cleared field shows as `null`.
pub fn changed_fields(old: &serde_json::Value, new: &serde_json::Value) -> serde_json::Value {
    let (Some(old), Some(new)) = (old.as_object(), new.as_object()) else { return new.clone() };
    let changed = new
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "created_at" | "updated_at"))
        .filter(|(k, v)| old.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    serde_json::Value::Object(changed)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn change_summaries() {
        let old = json!({ "name": "A", "category": "rock", "tags": ["x"], "updated_at": "t1" });
        let new = json!({ "name": "B", "category": null, "tags": ["x"], "updated_at": "t2" });
        assert_eq!(super::changed_fields(&old, &new), json!({ "name": "B", "category": null }));
    }
}
