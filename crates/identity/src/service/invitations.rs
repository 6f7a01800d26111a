//! Invitations: an admin invites an email address with a role; the token goes only to that
//! mailbox, and whoever signs in with that address accepts it.

use chrono::TimeDelta;
use kernel::audit::{self, AuditEntry};
use kernel::auth::{OrgScope, Role};
use kernel::id::UserId;
use kernel::mail::OutgoingMail;
use kernel::time::now;
use kernel::{AppError, AppResult};
use serde_json::json;
use uuid::Uuid;

use super::IdentityService;
use crate::domain::{self, Email};
use crate::events::{MEMBER_JOINED, MemberJoined};
use crate::model::{CreateInvitation, Invitation, Organization};
use crate::store::{invitations as store, orgs};

impl IdentityService {
    pub async fn invite(&self, scope: &OrgScope, inviter: UserId, req: CreateInvitation) -> AppResult<Invitation> {
        let email = Email::parse("email", &req.email)?;
        if req.role == Role::Owner && scope.role() != Role::Owner {
            return Err(AppError::forbidden("only owners can invite owners"));
        }
        if orgs::is_member_email(self.db(), scope, email.as_str()).await? {
            return Err(AppError::conflict("already_member", "this person is already a member"));
        }
        let token = domain::new_secret("inv");
        let id = Uuid::now_v7();
        let at = now();
        let ttl = self.config.invitation_ttl_hours;
        let org = self.org(scope).await?;
        let row = store::NewInvitation {
            id,
            email: email.as_str(),
            role: req.role,
            token_hash: &domain::hash_secret(&token),
            invited_by: inviter,
            expires: at + TimeDelta::hours(ttl),
            at,
        };
        let mut tx = self.db().begin().await?;
        store::insert_invitation(&mut tx, scope, &row).await?;
        audit::record(
            &mut tx,
            AuditEntry {
                org_id: Some(scope.org()),
                action: "invitation.created",
                resource_type: "invitation",
                resource_id: id.to_string(),
                changes: json!({ "email": email.as_str(), "role": req.role.as_str() }),
            },
        )
        .await?;
        let base = self.kernel.config.server.public_url.trim_end_matches('/');
        self.kernel
            .queue_mail(
                &mut tx,
                &OutgoingMail {
                    to: email.as_str().to_string(),
                    subject: format!("You are invited to join {} on Backline", org.name),
                    text: format!(
                        "Hello,\n\nyou have been invited to join {} on Backline as {}.\n\
                     Accept within {ttl} hours: {base}/invitations/accept?token={token}\n\n\
                     Or send this token to POST /api/invitations/accept while signed in:\n\ninvitation-token: {token}\n",
                        org.name,
                        req.role.as_str()
                    ),
                    ..OutgoingMail::default()
                },
            )
            .await?;
        self.kernel.commit(tx).await?;
        self.invitation(scope, id).await
    }

    async fn invitation(&self, scope: &OrgScope, id: Uuid) -> AppResult<Invitation> {
        store::invitation(self.db(), scope, id).await?.ok_or(AppError::not_found("invitation"))
    }

    pub async fn invitations(&self, scope: &OrgScope) -> AppResult<Vec<Invitation>> {
        store::invitations(self.db(), scope).await
    }

    pub async fn revoke_invitation(&self, scope: &OrgScope, id: Uuid) -> AppResult<()> {
        let mut tx = self.db().begin().await?;
        if !store::revoke_invitation(&mut tx, scope, id, now()).await? {
            self.invitation(scope, id).await?;
            return Err(AppError::conflict("invitation_closed", "the invitation was already accepted or revoked"));
        }
        audit::record(
            &mut tx,
            AuditEntry {
                org_id: Some(scope.org()),
                action: "invitation.revoked",
                resource_type: "invitation",
                resource_id: id.to_string(),
                changes: json!({}),
            },
        )
        .await?;
        self.kernel.commit(tx).await
    }

    /// Accepts an invitation addressed to the signed-in user's email. The token is the
    /// authority: the invitee is no member yet, so there is no role to check, and the
    /// organization is the one the invitation row names.
    pub async fn accept_invitation(&self, user: UserId, token: &str) -> AppResult<Organization> {
        let me = self.user(user).await?;
        let at = now();
        let mut tx = self.db().begin().await?;
        let inv = store::invitation_by_token(&mut tx, &domain::hash_secret(token.trim())).await?;
        // No such token: 404. A real token that is used up: 409 (or 400 once expired).
        let Some(store::InvitationRow { id, org_id, email, role, expires_at, accepted_at, revoked_at }) = inv else {
            return Err(AppError::not_found("invitation"));
        };
        if accepted_at.is_some() || revoked_at.is_some() {
            return Err(AppError::conflict("invitation_closed", "the invitation was already accepted or revoked"));
        }
        if expires_at <= at {
            return Err(AppError::bad_request("invitation_expired", "the invitation has expired; ask for a new one"));
        }
        if email != me.email {
            return Err(AppError::forbidden("this invitation was sent to another email address"));
        }
        // The organization comes from the stored invitation, not from the request.
        let scope = OrgScope::platform(org_id);
        let role = Role::parse(&role).unwrap_or(Role::Viewer);
        orgs::insert_membership(&mut tx, &scope, user, role, at).await.map_err(|e| match e {
            AppError::Conflict { .. } => AppError::conflict("already_member", "you are already a member"),
            other => other,
        })?;
        store::mark_accepted(&mut tx, &scope, id, at).await?;
        audit::record(
            &mut tx,
            AuditEntry {
                org_id: Some(org_id),
                action: "invitation.accepted",
                resource_type: "member",
                resource_id: user.to_string(),
                changes: json!({ "role": role.as_str(), "invitation_id": id }),
            },
        )
        .await?;
        self.publish(&mut tx, &MEMBER_JOINED, &MemberJoined { org_id, user_id: user, role }).await?;
        self.kernel.commit(tx).await?;
        self.org_as(&scope, Some(role)).await
    }
}
