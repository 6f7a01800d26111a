//! Who is calling, and what they may do in an organization.
//!
//! The kernel knows only the shapes: a [`Principal`] (a signed-in user or an org API key) and
//! a [`Role`] ladder. The identity context implements [`Authenticator`] (verifies bearer
//! tokens and API keys) and [`OrgAccess`] (looks up roles); the HTTP layer installs the
//! principal in the request extensions, and handlers take it with [`Auth`] or [`MaybeAuth`].

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{AppError, AppResult};
use crate::id::{ApiKeyId, OrgId, SessionId, UserId};

/// A member's role in an organization, weakest first: each role can do what the ones below can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything of the organization, changes nothing.
    Viewer,
    /// Runs events: creates and edits events, venues, sessions.
    Staff,
    /// Manages members, invitations, API keys, and reads the audit trail.
    Admin,
    /// Everything, including the organization itself.
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Staff => "staff",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "viewer" => Role::Viewer,
            "staff" => Role::Staff,
            "admin" => Role::Admin,
            "owner" => Role::Owner,
            _ => return None,
        })
    }
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    User {
        user_id: UserId,
        session_id: SessionId,
        platform_admin: bool,
    },
    /// An organization API key acts with the role its scope grants, in that organization only.
    ApiKey {
        key_id: ApiKeyId,
        org_id: OrgId,
        role: Role,
    },
}

impl Principal {
    pub fn user_id(&self) -> Option<UserId> {
        match self {
            Principal::User { user_id, .. } => Some(*user_id),
            Principal::ApiKey { .. } => None,
        }
    }

    pub fn is_platform_admin(&self) -> bool {
        matches!(self, Principal::User { platform_admin: true, .. })
    }

    /// A stable string naming the actor, for audit records, rate limits and idempotency scopes.
    pub fn actor(&self) -> String {
        match self {
            Principal::User { user_id, .. } => format!("user:{user_id}"),
            Principal::ApiKey { key_id, .. } => format!("api_key:{key_id}"),
        }
    }
}

/// Verifies credentials presented with a request.
#[async_trait::async_trait]
pub trait Authenticator: Send + Sync {
    /// `Authorization: Bearer <token>`: an access JWT or an API key (`bk_…`).
    async fn authenticate(&self, token: &str) -> AppResult<Principal>;

    /// The browser session cookie ([`SESSION_COOKIE`]): `None` when it names no live session,
    /// so a stale cookie leaves the browser anonymous rather than locked out.
    async fn authenticate_cookie(&self, _secret: &str) -> AppResult<Option<Principal>> {
        Ok(None)
    }
}

/// The browser's session cookie (HttpOnly, `SameSite=Lax`; `Secure` behind TLS).
pub const SESSION_COOKIE: &str = "bl_session";
/// The browser's CSRF cookie: a random value the pages' forms (and the scanner's API calls)
/// must echo as [`csrf_token`]. A site that cannot read our cookies cannot forge it.
pub const CSRF_COOKIE: &str = "bl_csrf";
/// The header a browser script sends its CSRF token in when it calls the API with the
/// session cookie instead of a bearer token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The token a form must carry for the CSRF cookie `cookie`.
pub fn csrf_token(cookie: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(format!("backline-csrf:{cookie}").as_bytes()))
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get_all(axum::http::header::COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|all| {
        all.split(';').find_map(|c| {
            let (k, v) = c.trim().split_once('=')?;
            (k == name).then_some(v)
        })
    })
}

/// Proof that a caller holds at least some role in one organization, or that the platform
/// itself acts there. Store functions over tenant rows take `&OrgScope` and filter by
/// [`OrgScope::org`] in SQL, so a query cannot reach another organization's rows by an id
/// taken from the request. Only the kernel makes one: [`OrgAccess::require`] after checking
/// the caller's role, or [`OrgScope::platform`] for background work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrgScope {
    org: OrgId,
    role: Role,
}

impl OrgScope {
    pub fn org(&self) -> OrgId {
        self.org
    }

    /// The caller's role (at least the one required); `Owner` for [`OrgScope::platform`].
    pub fn role(&self) -> Role {
        self.role
    }

    /// The platform acting in `org` on its own behalf: a job, a webhook or an expiry working
    /// on rows it already holds, where `org` was read from a stored row and never taken from
    /// request input. Grep for this constructor to audit every such place.
    pub fn platform(org: OrgId) -> OrgScope {
        OrgScope { org, role: Role::Owner }
    }
}

/// Answers "what role does this caller have in that organization?".
#[async_trait::async_trait]
pub trait OrgAccess: Send + Sync {
    async fn role_in(&self, principal: &Principal, org: OrgId) -> AppResult<Option<Role>>;

    /// The caller's role in `org`: `None` for anonymous callers and for outsiders.
    async fn role_of(&self, principal: Option<&Principal>, org: OrgId) -> AppResult<Option<Role>> {
        match principal {
            Some(p) => self.role_in(p, org).await,
            None => Ok(None),
        }
    }

    /// Requires at least `min` in `org`. A caller with no role at all gets `404` (the
    /// organization's things do not exist for outsiders); a member below `min` gets `403`.
    async fn require(&self, principal: &Principal, org: OrgId, min: Role) -> AppResult<OrgScope> {
        self.require_for(principal, org, min, "organization").await
    }

    /// [`OrgAccess::require`] for a thing of the organization: outsiders learn only that
    /// `resource` does not exist, not that the organization does.
    async fn require_for(&self, principal: &Principal, org: OrgId, min: Role, resource: &'static str) -> AppResult<OrgScope> {
        match self.role_in(principal, org).await? {
            Some(role) if role >= min => Ok(OrgScope { org, role }),
            Some(_) => Err(AppError::forbidden(format!("requires the {} role", min.as_str()))),
            None => Err(AppError::not_found(resource)),
        }
    }
}

pub type DynOrgAccess = Arc<dyn OrgAccess>;

/// An authenticated caller; `401` if the request carries no valid credentials.
#[derive(Debug, Clone)]
pub struct Auth(pub Principal);

/// The caller if authenticated; anonymous requests pass as `None`.
#[derive(Debug, Clone)]
pub struct MaybeAuth(pub Option<Principal>);

impl<S: Send + Sync> FromRequestParts<S> for Auth {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        if let Some(err) = parts.extensions.get::<AuthFailure>() {
            return Err(err.0.clone().into_error());
        }
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Auth)
            .ok_or_else(|| AppError::unauthorized("unauthenticated", "sign in or pass a bearer token"))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for MaybeAuth {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        if let Some(err) = parts.extensions.get::<AuthFailure>() {
            return Err(err.0.clone().into_error());
        }
        Ok(MaybeAuth(parts.extensions.get::<Principal>().cloned()))
    }
}

impl Auth {
    /// The signed-in user, refusing API keys for user-only operations.
    pub fn user(&self) -> AppResult<UserId> {
        self.0.user_id().ok_or_else(|| AppError::forbidden("this operation needs a user, not an API key"))
    }

    pub fn require_platform_admin(&self) -> AppResult<()> {
        if self.0.is_platform_admin() { Ok(()) } else { Err(AppError::forbidden("platform administrators only")) }
    }
}

/// A credential was presented but is invalid: remembered so that even routes open to
/// anonymous callers answer `401` rather than silently treating the caller as anonymous.
#[derive(Debug, Clone)]
pub struct AuthFailure(pub AuthErrorKind);

#[derive(Debug, Clone)]
pub struct AuthErrorKind {
    pub code: &'static str,
    pub message: String,
}

impl AuthErrorKind {
    pub fn into_error(self) -> AppError {
        AppError::unauthorized(self.code, self.message)
    }
}
