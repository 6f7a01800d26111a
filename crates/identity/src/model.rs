//! Request and response shapes of the identity API.

use chrono::{DateTime, Utc};
use kernel::auth::Role;
use kernel::id::{ApiKeyId, OrgId, SessionId, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    pub email: String,
    /// 10–128 characters.
    pub password: String,
    pub name: String,
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordResetRequest {
    pub email: String,
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordResetConfirm {
    /// The token from the reset email.
    pub token: String,
    pub new_password: String,
}

/// Issued at registration, login and refresh.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Single-use: each refresh returns a new one, and reusing an old one ends the session.
    pub refresh_token: String,
    pub session_id: SessionId,
    pub user: User,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub avatar_url: Option<String>,
    pub bio: Option<String>,
    pub locale: String,
    pub time_zone: String,
    pub platform_admin: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What other users see of a user.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PublicUser {
    pub id: UserId,
    pub name: String,
    pub avatar_url: Option<String>,
    pub bio: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UpdateProfile {
    pub name: Option<String>,
    pub avatar_url: Option<String>,
    pub bio: Option<String>,
    /// BCP 47 tag, e.g. `en`, `de-AT`.
    pub locale: Option<String>,
    /// IANA zone, e.g. `Europe/Berlin`.
    pub time_zone: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VerifyResponse {
    pub valid: bool,
    /// `user` or `api_key`.
    pub kind: String,
    pub user_id: Option<UserId>,
    pub session_id: Option<SessionId>,
    pub org_id: Option<OrgId>,
    pub role: Option<Role>,
    pub platform_admin: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Session {
    pub id: SessionId,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The session this request was made with.
    #[sqlx(default)]
    pub current: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreateOrg {
    pub name: String,
    /// Derived from the name when absent.
    pub slug: Option<String>,
    pub description: Option<String>,
    pub website: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UpdateOrg {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub description: Option<String>,
    pub website: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Organization {
    pub id: OrgId,
    pub name: String,
    pub slug: String,
    pub description: Option<String>,
    pub website: Option<String>,
    pub plan: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The caller's role in this organization.
    #[sqlx(skip)]
    pub my_role: Option<Role>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Member {
    pub user_id: UserId,
    pub name: String,
    pub email: String,
    #[sqlx(try_from = "String")]
    pub role: RoleText,
    pub created_at: DateTime<Utc>,
}

/// A role read from the database.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct RoleText(pub Role);

impl TryFrom<String> for RoleText {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Role::parse(&s).map(RoleText).ok_or_else(|| format!("unknown role {s}"))
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChangeRole {
    pub role: Role,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreateInvitation {
    pub email: String,
    pub role: Role,
}

#[derive(Debug, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Invitation {
    pub id: Uuid,
    pub org_id: OrgId,
    pub email: String,
    #[sqlx(try_from = "String")]
    pub role: RoleText,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct AcceptInvitation {
    pub token: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreateApiKey {
    pub name: String,
    /// The role the key acts with: `viewer`, `staff` or `admin` (never above the creator's).
    pub role: Role,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub org_id: OrgId,
    pub name: String,
    /// First characters of the key, to recognise it.
    pub prefix: String,
    #[sqlx(try_from = "String")]
    pub role: RoleText,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// Returned once, at creation: the only time the secret is shown.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct CreatedApiKey {
    pub key: String,
    pub api_key: ApiKey,
}

/// Debug output for types that carry passwords, tokens or key secrets: the secret fields are
/// never printed.
macro_rules! redacted_debug {
    ($ty:ident { $($shown:ident),* }) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))$(.field(stringify!($shown), &self.$shown))*.finish_non_exhaustive()
            }
        }
    };
}

redacted_debug!(RegisterRequest { email, name });
redacted_debug!(LoginRequest { email });
redacted_debug!(RefreshRequest {});
redacted_debug!(PasswordResetConfirm {});
redacted_debug!(TokenPair { session_id, user });
redacted_debug!(AcceptInvitation {});
redacted_debug!(CreatedApiKey { api_key });
