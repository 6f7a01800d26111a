//! The team: members and their roles, open invitations (admins invite; the invitee gets an
//! email with a link to `/invitations/accept`), and API keys (admins; a new key's secret is
//! shown once, on the page that created it).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use identity::model::{CreateApiKey, CreateInvitation};
use kernel::auth::{OrgAccess, Role};
use kernel::id::OrgId;
use serde::Deserialize;

use super::{abilities, member};
use crate::Web;
use crate::form::CsrfForm;
use crate::pages::{Page, error_page, form_failed};
use crate::session::Visitor;

/// What the team page shows; `created_key` is the secret of a key made just now.
async fn team_page(
    web: &Arc<Web>,
    visitor: &Visitor,
    org: OrgId,
    created_key: Option<String>,
    notice: Option<String>,
) -> Response {
    let (p, role) = match member(web, visitor, org, Role::Viewer).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    let scope = match OrgAccess::require(&*web.identity, &p, org, Role::Viewer).await {
        Ok(s) => s,
        Err(e) => return error_page(web, visitor, e),
    };
    let members = match web.identity.members(&scope).await {
        Ok(m) => m,
        Err(e) => return error_page(web, visitor, e),
    };
    // Invitations and keys are the admins' business.
    let (invitations, keys) = if role >= Role::Admin {
        match (web.identity.invitations(&scope).await, web.identity.api_keys(&scope).await) {
            (Ok(i), Ok(k)) => (i, k),
            (Err(e), _) | (_, Err(e)) => return error_page(web, visitor, e),
        }
    } else {
        (Vec::new(), Vec::new())
    };
    let open: Vec<_> = invitations.into_iter().filter(|i| i.accepted_at.is_none() && i.revoked_at.is_none()).collect();
    let keys: Vec<_> = keys.into_iter().filter(|k| k.revoked_at.is_none()).collect();
    Page::new(web, visitor)
        .set("org_id", org)
        .set("can", abilities(role))
        .set("members", members)
        .set("invitations", open)
        .set("api_keys", keys)
        .set("created_key", created_key)
        .set("notice", notice)
        .set("roles", ["viewer", "staff", "admin"])
        .set("all_roles", ["viewer", "staff", "admin", "owner"])
        .ok("manage/team.html")
}

/// The signed-in admin of `org` with their scope, or the page that says why not.
async fn admin(
    web: &Arc<Web>,
    visitor: &Visitor,
    org: OrgId,
) -> Result<(kernel::auth::Principal, kernel::auth::OrgScope), Response> {
    let (p, _) = member(web, visitor, org, Role::Admin).await?;
    match OrgAccess::require(&*web.identity, &p, org, Role::Admin).await {
        Ok(scope) => Ok((p, scope)),
        Err(e) => Err(error_page(web, visitor, e)),
    }
}

pub async fn team(State(web): State<Arc<Web>>, visitor: Visitor, Path(org): Path<OrgId>) -> Response {
    team_page(&web, &visitor, org, None, None).await
}

#[derive(Debug, Deserialize)]
pub struct InviteForm {
    email: String,
    role: Role,
}

pub async fn invite(
    State(web): State<Arc<Web>>,
    visitor: Visitor,
    Path(org): Path<OrgId>,
    CsrfForm(f): CsrfForm<InviteForm>,
) -> Response {
    let (p, scope) = match admin(&web, &visitor, org).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let back = format!("/manage/orgs/{org}/team");
    let Some(user) = p.user_id() else { return error_page(&web, &visitor, kernel::AppError::forbidden("users only")) };
    match web.identity.invite(&scope, user, CreateInvitation { email: f.email.clone(), role: f.role }).await {
        Ok(_) => {
            let notice = crate::pages::text(&web, &visitor, "team-invited", &[("email", f.email.into())]);
            team_page(&web, &visitor, org, None, Some(notice)).await
        }
        Err(e) => form_failed(&web, &visitor, "manage-failed", e, &back),
    }
}

#[derive(Debug, Deserialize)]
pub struct ApiKeyForm {
    name: String,
    role: Role,
}

pub async fn create_api_key(
    State(web): State<Arc<Web>>,
    visitor: Visitor,
    Path(org): Path<OrgId>,
    CsrfForm(f): CsrfForm<ApiKeyForm>,
) -> Response {
    let (p, scope) = match admin(&web, &visitor, org).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let back = format!("/manage/orgs/{org}/team");
    let Some(user) = p.user_id() else { return error_page(&web, &visitor, kernel::AppError::forbidden("users only")) };
    match web.identity.create_api_key(&scope, user, CreateApiKey { name: f.name, role: f.role, expires_at: None }).await {
        Ok(created) => team_page(&web, &visitor, org, Some(created.key), None::<String>).await,
        Err(e) => form_failed(&web, &visitor, "manage-failed", e, &back),
    }
}

#[derive(Debug, Deserialize)]
pub struct RoleForm {
    role: Role,
}

/// `POST /manage/orgs/{org}/team/{user}/role`: admins change a member's role (the rules —
/// only owners grant or take ownership, the last owner stays — are identity's).
pub async fn change_role(
    State(web): State<Arc<Web>>,
    visitor: Visitor,
    Path((org, user)): Path<(OrgId, kernel::id::UserId)>,
    CsrfForm(f): CsrfForm<RoleForm>,
) -> Response {
    let (_, scope) = match admin(&web, &visitor, org).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let back = format!("/manage/orgs/{org}/team");
    let result = web.identity.change_role(&scope, user, f.role).await;
    crate::pages::after(&web, &visitor, "manage-failed", result, &back)
}

#[derive(Debug, Deserialize)]
pub struct Empty {}

/// `POST /manage/orgs/{org}/team/{user}/remove`.
pub async fn remove_member(
    State(web): State<Arc<Web>>,
    visitor: Visitor,
    Path((org, user)): Path<(OrgId, kernel::id::UserId)>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Response {
    let (p, scope) = match admin(&web, &visitor, org).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let back = format!("/manage/orgs/{org}/team");
    let result = web.identity.remove_member(&scope, &p, user).await;
    crate::pages::after(&web, &visitor, "manage-failed", result, &back)
}
