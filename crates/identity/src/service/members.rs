//! Members and their roles: listing, role changes, removal (or leaving), and direct adds by
//! operator tooling. An organization always keeps at least one owner.

use kernel::audit::{self, AuditEntry};
use kernel::auth::{OrgScope, Principal, Role};
use kernel::id::{OrgId, UserId};
use kernel::time::now;
use kernel::{AppError, AppResult, Tx};
use serde_json::json;

use super::IdentityService;
use crate::events::{MEMBER_JOINED, MEMBER_REMOVED, MemberJoined, MemberRemoved};
use crate::model::Member;
use crate::store::orgs as store;

impl IdentityService {
    pub async fn members(&self, scope: &OrgScope) -> AppResult<Vec<Member>> {
        store::members(self.db(), scope).await
    }

    /// Changes a member's role. Only owners grant or take away ownership; the last owner stays.
    pub async fn change_role(&self, scope: &OrgScope, target: UserId, new_role: Role) -> AppResult<()> {
        let mut tx = self.db().begin().await?;
        let current = store::lock_membership(&mut tx, scope, target).await?;
        if (current == Role::Owner || new_role == Role::Owner) && scope.role() != Role::Owner {
            return Err(AppError::forbidden("only owners can grant or remove the owner role"));
        }
        store::set_member_role(&mut tx, scope, target, new_role, now()).await?;
        ensure_an_owner(&mut tx, scope).await?;
        audit::record(
            &mut tx,
            AuditEntry {
                org_id: Some(scope.org()),
                action: "member.role_changed",
                resource_type: "member",
                resource_id: target.to_string(),
                changes: json!({ "from": current.as_str(), "to": new_role.as_str() }),
            },
        )
        .await?;
        self.kernel.commit(tx).await
    }

    /// Removes a member (admins remove others; anyone may leave).
    pub async fn remove_member(&self, scope: &OrgScope, principal: &Principal, target: UserId) -> AppResult<()> {
        let leaving = principal.user_id() == Some(target);
        if !leaving && scope.role() < Role::Admin {
            return Err(AppError::forbidden("requires the admin role"));
        }
        let mut tx = self.db().begin().await?;
        let current = store::lock_membership(&mut tx, scope, target).await?;
        if current == Role::Owner && scope.role() != Role::Owner {
            return Err(AppError::forbidden("only owners can remove an owner"));
        }
        store::delete_membership(&mut tx, scope, target).await?;
        ensure_an_owner(&mut tx, scope).await?;
        audit::record(
            &mut tx,
            AuditEntry {
                org_id: Some(scope.org()),
                action: if leaving { "member.left" } else { "member.removed" },
                resource_type: "member",
                resource_id: target.to_string(),
                changes: json!({ "role": current.as_str() }),
            },
        )
        .await?;
        let event = MemberRemoved { org_id: scope.org(), user_id: target };
        self.publish(&mut tx, &MEMBER_REMOVED, &event).await?;
        self.kernel.commit(tx).await
    }

    /// Adds an existing user directly (operator tooling and demo data; people use invitations).
    pub async fn add_member(&self, org: OrgId, user: UserId, role: Role) -> AppResult<()> {
        // Not reachable over HTTP: the operator's tooling is the authority here.
        let scope = OrgScope::platform(org);
        let mut tx = self.db().begin().await?;
        store::insert_membership(&mut tx, &scope, user, role, now()).await?;
        audit::record(
            &mut tx,
            AuditEntry {
                org_id: Some(org),
                action: "member.added",
                resource_type: "member",
                resource_id: user.to_string(),
                changes: json!({ "role": role.as_str() }),
            },
        )
        .await?;
        self.publish(&mut tx, &MEMBER_JOINED, &MemberJoined { org_id: org, user_id: user, role }).await?;
        self.kernel.commit(tx).await
    }
}

/// Fails the transaction's change if it left the organization without an owner.
async fn ensure_an_owner(tx: &mut Tx<'_>, scope: &OrgScope) -> AppResult<()> {
    if store::owner_count(tx, scope).await? == 0 {
        return Err(AppError::conflict("last_owner", "an organization needs at least one owner"));
    }
    Ok(())
}
