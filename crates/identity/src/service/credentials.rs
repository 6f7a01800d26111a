//! The credentials checked on every request: who a bearer token (access JWT or API key)
//! belongs to, and which role a caller has in an organization. Both run before any scope
//! exists (they are what scopes are made from), so their lookups are unscoped.

use chrono::TimeDelta;
use kernel::auth::{Principal, Role};
use kernel::id::OrgId;
use kernel::time::now;
use kernel::{AppError, AppResult};

use super::IdentityService;
use crate::domain;
use crate::store::{api_keys, orgs, sessions};

impl IdentityService {
    pub(crate) async fn principal_for_token(&self, token: &str) -> AppResult<Principal> {
        if token.starts_with("bk_") {
            return self.principal_for_api_key(token).await;
        }
        let claims = self.keys.verify(token)?;
        match sessions::session_state(self.db(), claims.sid, claims.sub).await? {
            Some((None, expires)) if expires > now() => {
                Ok(Principal::User { user_id: claims.sub, session_id: claims.sid, platform_admin: claims.adm })
            }
            _ => Err(AppError::unauthorized("session_revoked", "this session has ended; sign in again")),
        }
    }

    async fn principal_for_api_key(&self, key: &str) -> AppResult<Principal> {
        let row = api_keys::key_by_hash(self.db(), &domain::hash_secret(key)).await?;
        let at = now();
        let Some(api_keys::KeyRow { id, org_id, role, expires_at, revoked_at, last_used_at }) = row else {
            return Err(AppError::unauthorized("invalid_api_key", "the API key is invalid"));
        };
        if revoked_at.is_some() || expires_at.is_some_and(|e| e <= at) {
            return Err(AppError::unauthorized("invalid_api_key", "the API key is revoked or expired"));
        }
        // Track use at minute granularity: one write per key per minute, not per request.
        if last_used_at.is_none_or(|t| at - t > TimeDelta::minutes(1)) {
            let mut tx = self.db().begin().await?;
            api_keys::touch_api_key(&mut tx, id, at).await?;
            tx.commit().await?;
        }
        Ok(Principal::ApiKey { key_id: id, org_id, role: Role::parse(&role).unwrap_or(Role::Viewer) })
    }

    /// The role behind [`kernel::auth::OrgAccess::role_in`].
    pub(crate) async fn role_of(&self, principal: &Principal, org: OrgId) -> AppResult<Option<Role>> {
        match principal {
            Principal::ApiKey { org_id, role, .. } => Ok((*org_id == org).then_some(*role)),
            Principal::User { user_id, platform_admin, .. } => {
                let role = orgs::member_role(self.db(), org, *user_id).await?;
                if role.is_none() && *platform_admin {
                    // Platform operators can administer any organization that exists.
                    return Ok(orgs::org_exists(self.db(), org).await?.then_some(Role::Admin));
                }
                Ok(role)
            }
        }
    }
}
