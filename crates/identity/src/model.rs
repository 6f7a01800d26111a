//! Request and response shapes of the identity API.
//!
//! Request fields state the server's input rules (`domain`) as schema keywords, so a value the
//! schema admits passes validation. Trimmed texts are patterns that spell out what `str::trim`
//! removes (Unicode `White_Space`: `\t-\r`, space, U+0085, U+00A0, U+1680, U+2000–200A,
//! U+2028/9, U+202F, U+205F, U+3000) instead of `\s`, which ECMA-262 and Python's `re` read
//! differently; the tests below rebuild every pattern from `domain`'s limits.

use chrono::{DateTime, Utc};
use kernel::auth::Role;
use kernel::id::{ApiKeyId, OrgId, SessionId, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// `local@domain`: one `@`, a local part of 1–64 characters, a domain with an inner dot, no
    /// whitespace or control characters, at most 254 characters. Compared case-insensitively.
    #[schema(
        max_length = 254,
        pattern = r"^[^@\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]{1,64}@[^@.\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^@\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*\.[^@\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^@.\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$"
    )]
    pub email: String,
    /// 10–128 characters, not all the same character.
    #[schema(min_length = 10, max_length = 128)]
    pub password: String,
    /// 1–100 characters after trimming surrounding whitespace.
    #[schema(
        pattern = r"^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[\s\S]{0,98}[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
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
    /// `local@domain`: one `@`, a local part of 1–64 characters, a domain with an inner dot, no
    /// whitespace or control characters, at most 254 characters. Compared case-insensitively.
    #[schema(
        max_length = 254,
        pattern = r"^[^@\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]{1,64}@[^@.\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^@\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*\.[^@\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^@.\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$"
    )]
    pub email: String,
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordResetConfirm {
    /// The token from the reset email.
    pub token: String,
    /// 10–128 characters, not all the same character.
    #[schema(min_length = 10, max_length = 128)]
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
    /// 1–100 characters after trimming surrounding whitespace.
    #[schema(
        pattern = r"^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[\s\S]{0,98}[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub name: Option<String>,
    /// An `http://` or `https://` URL without whitespace, at most 2048 characters after trimming;
    /// blank removes the avatar.
    #[schema(
        pattern = r"^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*(?:https://[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]{1,2040}|http://[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]{1,2041})?[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub avatar_url: Option<String>,
    /// At most 2000 characters after trimming; blank removes the bio.
    #[schema(
        pattern = r"^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*(?:[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[\s\S]{0,1998}[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*)?$"
    )]
    pub bio: Option<String>,
    /// BCP 47 tag, e.g. `en`, `de-AT`: 2–35 ASCII letters, digits and dashes.
    #[schema(
        pattern = r"^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[A-Za-z0-9-]{2,35}[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
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
    /// 1–120 characters after trimming surrounding whitespace.
    #[schema(
        pattern = r"^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[\s\S]{0,118}[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub name: String,
    /// Derived from the name when absent. 2–64 lower-case letters, digits and single inner dashes.
    #[schema(min_length = 2, max_length = 64, pattern = r"^[a-z0-9](?:-?[a-z0-9])+$")]
    pub slug: Option<String>,
    /// At most 5000 characters after trimming; blank removes it.
    #[schema(
        pattern = r"^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*(?:[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[\s\S]{0,4998}[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*)?$"
    )]
    pub description: Option<String>,
    /// An `http://` or `https://` URL without whitespace, at most 2048 characters after trimming;
    /// blank removes it.
    #[schema(
        pattern = r"^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*(?:https://[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]{1,2040}|http://[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]{1,2041})?[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub website: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UpdateOrg {
    /// 1–120 characters after trimming surrounding whitespace.
    #[schema(
        pattern = r"^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[\s\S]{0,118}[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub name: Option<String>,
    /// 2–64 lower-case letters, digits and single inner dashes.
    #[schema(min_length = 2, max_length = 64, pattern = r"^[a-z0-9](?:-?[a-z0-9])+$")]
    pub slug: Option<String>,
    /// At most 5000 characters after trimming; blank removes it.
    #[schema(
        pattern = r"^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*(?:[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[\s\S]{0,4998}[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*)?$"
    )]
    pub description: Option<String>,
    /// An `http://` or `https://` URL without whitespace, at most 2048 characters after trimming;
    /// blank removes it.
    #[schema(
        pattern = r"^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*(?:https://[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]{1,2040}|http://[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]{1,2041})?[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
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
    /// `local@domain`: one `@`, a local part of 1–64 characters, a domain with an inner dot, no
    /// whitespace or control characters, at most 254 characters. Compared case-insensitively.
    #[schema(
        max_length = 254,
        pattern = r"^[^@\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]{1,64}@[^@.\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^@\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*\.[^@\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^@.\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$"
    )]
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
    /// 1–100 characters after trimming surrounding whitespace.
    #[schema(
        pattern = r"^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[\s\S]{0,98}[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub name: String,
    /// The role the key acts with: `viewer`, `staff` or `admin` (never above the creator's).
    #[schema(value_type = ApiKeyRole)]
    pub role: Role,
    /// Must be in the future. (The pattern is RFC 3339 `date-time` spelled out, valid calendar
    /// dates included, so that the shape is checked even where `format` is only an annotation.)
    #[schema(
        pattern = r"^(?:[0-9]{4}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)|(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29)[Tt](?:[01][0-9]|2[0-3]):[0-5][0-9]:(?:[0-5][0-9]|60)(?:\.[0-9]+)?(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$"
    )]
    pub expires_at: Option<DateTime<Utc>>,
}

/// The roles an API key can act with: every role but `owner`.
// Documentation only: `CreateApiKey::role` is a `Role`, and the service refuses `owner` (422).
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum ApiKeyRole {
    Viewer,
    Staff,
    Admin,
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

#[cfg(test)]
mod tests {
    //! The schema attributes above are literals (utoipa takes no constants there); these tests
    //! rebuild every pattern and bound from the limits in `domain` that the server enforces.

    use super::*;
    use crate::domain::*;
    use serde_json::Value;
    use utoipa::PartialSchema;

    /// What `str::trim` removes (Unicode `White_Space`), as a class body.
    const WS: &str = r"\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

    /// Trimmed, 1..=max characters (`required_text`).
    fn required(max: usize) -> String {
        format!(r"^[{WS}]*[^{WS}](?:[\s\S]{{0,{}}}[^{WS}])?[{WS}]*$", max - 2)
    }

    /// Trimmed, blank or 1..=max characters (`optional_text`).
    fn optional(max: usize) -> String {
        format!(r"^[{WS}]*(?:[^{WS}](?:[\s\S]{{0,{}}}[^{WS}])?[{WS}]*)?$", max - 2)
    }

    fn url() -> String {
        let https = URL_MAX - "https://".len();
        let http = URL_MAX - "http://".len();
        format!(r"^[{WS}]*(?:https://[^{WS}]{{1,{https}}}|http://[^{WS}]{{1,{http}}})?[{WS}]*$")
    }

    fn email() -> String {
        // Neither whitespace nor a control character (`char::is_control`: U+0000–001F, U+007F–009F).
        let bad = r"\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
        let (c, d) = (format!("[^@{bad}]"), format!("[^@.{bad}]"));
        format!(r"^{c}{{1,{EMAIL_LOCAL_MAX}}}@{d}{c}*\.{c}*{d}$")
    }

    fn schema_of<T: PartialSchema>() -> Value {
        serde_json::to_value(T::schema()).unwrap()
    }

    fn pattern(schema: &Value, field: &str) -> String {
        schema["properties"][field]["pattern"].as_str().unwrap_or_else(|| panic!("{field} has no pattern")).to_string()
    }

    #[test]
    fn text_patterns_follow_the_server_limits() {
        let register = schema_of::<RegisterRequest>();
        assert_eq!(pattern(&register, "name"), required(USER_NAME_MAX));
        let profile = schema_of::<UpdateProfile>();
        assert_eq!(pattern(&profile, "name"), required(USER_NAME_MAX));
        assert_eq!(pattern(&profile, "bio"), optional(BIO_MAX));
        assert_eq!(pattern(&profile, "avatar_url"), url());
        assert_eq!(pattern(&profile, "locale"), format!(r"^[{WS}]*[A-Za-z0-9-]{{{LOCALE_MIN},{LOCALE_MAX}}}[{WS}]*$"));
        for org in [schema_of::<CreateOrg>(), schema_of::<UpdateOrg>()] {
            assert_eq!(pattern(&org, "name"), required(ORG_NAME_MAX));
            assert_eq!(pattern(&org, "description"), optional(DESCRIPTION_MAX));
            assert_eq!(pattern(&org, "website"), url());
            assert_eq!(pattern(&org, "slug"), "^[a-z0-9](?:-?[a-z0-9])+$");
            assert_eq!(org["properties"]["slug"]["minLength"], SLUG_MIN);
            assert_eq!(org["properties"]["slug"]["maxLength"], SLUG_MAX);
        }
        assert_eq!(pattern(&schema_of::<CreateApiKey>(), "name"), required(API_KEY_NAME_MAX));
    }

    #[test]
    fn emails_and_passwords_follow_the_server_limits() {
        for (schema, field) in [
            (schema_of::<RegisterRequest>(), "email"),
            (schema_of::<PasswordResetRequest>(), "email"),
            (schema_of::<CreateInvitation>(), "email"),
        ] {
            assert_eq!(pattern(&schema, field), email());
            assert_eq!(schema["properties"][field]["maxLength"], EMAIL_MAX);
        }
        for (schema, field) in
            [(schema_of::<RegisterRequest>(), "password"), (schema_of::<PasswordResetConfirm>(), "new_password")]
        {
            assert_eq!(schema["properties"][field]["minLength"], PASSWORD_MIN);
            assert_eq!(schema["properties"][field]["maxLength"], PASSWORD_MAX);
        }
    }

    #[test]
    fn api_key_expiry_is_an_rfc3339_date_time() {
        let key = schema_of::<CreateApiKey>();
        assert_eq!(key["properties"]["expires_at"]["format"], "date-time");
        assert_eq!(pattern(&key, "expires_at"), DATE_TIME);
    }

    /// RFC 3339 `date-time` with valid calendar dates (what chrono's `DateTime` parsing accepts,
    /// less its leniencies: a space for `T`, missing padding, `UTC`).
    const DATE_TIME: &str = r"^(?:[0-9]{4}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)|(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29)[Tt](?:[01][0-9]|2[0-3]):[0-5][0-9]:(?:[0-5][0-9]|60)(?:\.[0-9]+)?(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$";

    #[test]
    fn api_key_roles_are_every_role_but_owner() {
        let roles = schema_of::<ApiKeyRole>();
        let names: Vec<&str> = roles["enum"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert_eq!(names, ["viewer", "staff", "admin"]);
        assert!(names.iter().all(|n| Role::parse(n).is_some_and(|r| r != Role::Owner)));
    }

    #[test]
    fn patterns_agree_with_the_server_on_samples() {
        // A few spot checks of the rules themselves; `domain` tests the functions in depth.
        assert!(Email::parse("e", "ann@example.org").is_ok());
        assert!(optional_url("u", Some("http://x")).unwrap().is_some());
        assert!(optional_url("u", Some("https://")).is_err());
        assert!(optional_url("u", Some("  ")).unwrap().is_none());
        assert!(required_text("n", &"é".repeat(USER_NAME_MAX), USER_NAME_MAX).is_ok());
    }
}
