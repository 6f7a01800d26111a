//! Identity use cases. Each mutation runs in one transaction with its audit record and
//! domain events. (Deviation from design.md §2: the SQL lives beside the use cases here
//! rather than in a separate `store.rs`; each query is used by one use case only.)

use std::net::IpAddr;
use std::sync::Arc;

use chrono::TimeDelta;
use kernel::audit::{self, AuditEntry, changes_of};
use kernel::auth::{Principal, Role};
use kernel::id::{ApiKeyId, OrgId, SessionId, UserId};
use kernel::jobs::{Envelope, JobHandler, publish};
use kernel::mail::OutgoingMail;
use kernel::time::{Timestamp, now};
use kernel::{AppError, AppResult, Kernel, Tx, read, tx};
use serde_json::json;
use uuid::Uuid;

use crate::config::AuthConfig;
use crate::domain::{self, Email};
use crate::model::*;
use crate::tokens::{PasswordHasherCfg, TokenKeys};

/// Job kind that sends the welcome mail for a `user.registered` event.
pub const WELCOME_MAIL_JOB: &str = "identity.welcome_mail";

struct WelcomeMail {
    kernel: Arc<Kernel>,
}

#[async_trait::async_trait]
impl JobHandler for WelcomeMail {
    async fn run(&self, payload: serde_json::Value) -> anyhow::Result<()> {
        let event: Envelope = serde_json::from_value(payload)?;
        let to = event.data["email"].as_str().ok_or_else(|| anyhow::anyhow!("user.registered without email"))?;
        let name = event.data["name"].as_str().unwrap_or("there");
        self.kernel
            .mailer
            .send(&OutgoingMail {
                to: to.to_string(),
                subject: "Welcome to Backline".into(),
                text: format!(
                    "Hi {name},\n\nyour Backline account is ready. Sign in at {}.\n\nSee you at the show!\n",
                    self.kernel.config.server.public_url
                ),
            })
            .await
    }
}

pub struct IdentityService {
    pub(crate) kernel: Arc<Kernel>,
    pub(crate) keys: TokenKeys,
    pub(crate) hasher: PasswordHasherCfg,
    pub(crate) config: AuthConfig,
}

#[derive(sqlx::FromRow)]
struct Credentials {
    id: UserId,
    password_hash: String,
}

#[derive(sqlx::FromRow)]
struct RefreshRow {
    token_id: Uuid,
    session_id: SessionId,
    used_at: Option<Timestamp>,
    expires_at: Timestamp,
    revoked_at: Option<Timestamp>,
    user_id: UserId,
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    id: ApiKeyId,
    org_id: OrgId,
    role: String,
    expires_at: Option<Timestamp>,
    revoked_at: Option<Timestamp>,
    last_used_at: Option<Timestamp>,
}

#[derive(sqlx::FromRow)]
struct InvitationRow {
    id: Uuid,
    org_id: OrgId,
    email: String,
    role: String,
    expires_at: Timestamp,
    accepted_at: Option<Timestamp>,
    revoked_at: Option<Timestamp>,
}

/// Client details recorded on a session.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

impl IdentityService {
    pub fn new(kernel: Arc<Kernel>) -> anyhow::Result<Arc<IdentityService>> {
        let config: AuthConfig = kernel.config.section()?;
        let keys = TokenKeys::load(&config, &kernel.config.data_dir)?;
        let hasher = PasswordHasherCfg::new(config.argon2_memory_kib);
        // The welcome mail follows from the `user.registered` event, through the outbox.
        kernel.jobs.register(WELCOME_MAIL_JOB, Arc::new(WelcomeMail { kernel: kernel.clone() }));
        kernel.jobs.subscribe("user.registered", WELCOME_MAIL_JOB);
        Ok(Arc::new(IdentityService { kernel, keys, hasher, config }))
    }

    /// The configured password hasher (the demo loader and `admin create-user` hash with it).
    pub fn password_hasher(&self) -> &PasswordHasherCfg {
        &self.hasher
    }

    fn db(&self) -> &kernel::Db {
        &self.kernel.db
    }

    // ---- accounts -------------------------------------------------------------------

    /// Creates the account and its first session in one transaction.
    pub async fn register(&self, req: RegisterRequest, client: ClientInfo) -> AppResult<TokenPair> {
        let email = Email::parse("email", &req.email)?;
        domain::check_password("password", &req.password)?;
        let name = domain::required_text("name", &req.name, domain::USER_NAME_MAX)?;
        let hash = self.hasher.hash(req.password).await?;
        let mut tx = self.db().begin().await?;
        let id = self.write_user(&mut tx, &email, &hash, &name, false).await?;
        let (session, refresh) = self.write_session(&mut tx, id, client).await?;
        self.kernel.commit(tx).await?;
        let user = self.user(id).await?;
        self.token_pair(user, session, refresh)
    }

    /// Creates a user (also used by `backline admin create-user` and the demo loader).
    pub async fn insert_user(&self, email: &Email, password_hash: &str, name: &str, platform_admin: bool) -> AppResult<User> {
        let mut tx = self.db().begin().await?;
        let id = self.write_user(&mut tx, email, password_hash, name, platform_admin).await?;
        self.kernel.commit(tx).await?;
        self.user(id).await
    }

    async fn write_user(
        &self,
        tx: &mut Tx<'_>,
        email: &Email,
        password_hash: &str,
        name: &str,
        platform_admin: bool,
    ) -> AppResult<UserId> {
        let id = UserId::new();
        let at = now();
        let inserted = tx!(tx, |c| sqlx::query(
            "INSERT INTO users (id, email, password_hash, name, locale, time_zone, platform_admin, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'en', 'UTC', $5, $6, $6) ON CONFLICT (email) DO NOTHING"
        )
        .bind(id)
        .bind(email.as_str())
        .bind(password_hash)
        .bind(name)
        .bind(platform_admin)
        .bind(at)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        if inserted == 0 {
            return Err(AppError::conflict("email_taken", "an account with this email already exists"));
        }
        audit::record_as(
            tx,
            &format!("user:{id}"),
            AuditEntry {
                org_id: None,
                action: "user.registered",
                resource_type: "user",
                resource_id: id.to_string(),
                changes: json!({ "email": email.as_str(), "name": name, "platform_admin": platform_admin }),
            },
        )
        .await?;
        publish(tx, "user.registered", &json!({ "user_id": id, "email": email.as_str(), "name": name })).await?;
        Ok(id)
    }

    pub async fn user(&self, id: UserId) -> AppResult<User> {
        read!(self.db(), |c| sqlx::query_as::<_, User>(
            "SELECT id, email, name, avatar_url, bio, locale, time_zone, platform_admin, created_at, updated_at FROM users WHERE id = $1"
        )
        .bind(id)
        .fetch_optional(c)
        .await)?
        .ok_or(AppError::not_found("user"))
    }

    pub async fn login(&self, req: LoginRequest, client: ClientInfo) -> AppResult<TokenPair> {
        self.kernel.limits.check_login(req.email.trim(), client.ip)?;
        let email = req.email.trim().to_lowercase();
        let creds: Option<Credentials> =
            read!(self.db(), |c| sqlx::query_as("SELECT id, password_hash FROM users WHERE email = $1")
                .bind(&email)
                .fetch_optional(c)
                .await)?;
        let ok = self.hasher.verify(req.password, creds.as_ref().map(|c| c.password_hash.clone())).await?;
        let Some(creds) = creds.filter(|_| ok) else {
            tracing::info!(email = %email, "failed login");
            return Err(AppError::unauthorized("invalid_credentials", "wrong email or password"));
        };
        let user = self.user(creds.id).await?;
        self.open_session(&user, client).await
    }

    async fn open_session(&self, user: &User, client: ClientInfo) -> AppResult<TokenPair> {
        let mut tx = self.db().begin().await?;
        let (session, refresh) = self.write_session(&mut tx, user.id, client).await?;
        self.kernel.commit(tx).await?;
        self.token_pair(user.clone(), session, refresh)
    }

    /// A new session (refresh-token family) with its first refresh token.
    async fn write_session(&self, tx: &mut Tx<'_>, user: UserId, client: ClientInfo) -> AppResult<(SessionId, String)> {
        let session = SessionId::new();
        let at = now();
        let expires = at + TimeDelta::days(self.config.refresh_ttl_days);
        let refresh = domain::new_secret("rt");
        let ua = client.user_agent.map(|ua| ua.chars().take(300).collect::<String>());
        tx!(tx, |c| sqlx::query(
            "INSERT INTO sessions (id, user_id, user_agent, ip, last_used_at, expires_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $5, $5)"
        )
        .bind(session)
        .bind(user)
        .bind(&ua)
        .bind(client.ip.map(|ip| ip.to_string()))
        .bind(at)
        .bind(expires)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        insert_refresh(tx, session, &refresh, expires).await?;
        audit::record_as(
            tx,
            &format!("user:{user}"),
            AuditEntry {
                org_id: None,
                action: "session.created",
                resource_type: "session",
                resource_id: session.to_string(),
                changes: json!({ "user_agent": ua }),
            },
        )
        .await?;
        Ok((session, refresh))
    }

    fn token_pair(&self, user: User, session: SessionId, refresh: String) -> AppResult<TokenPair> {
        Ok(TokenPair {
            access_token: self.keys.issue(user.id, session, user.platform_admin)?,
            token_type: "Bearer".into(),
            expires_in: self.keys.access_ttl_secs,
            refresh_token: refresh,
            session_id: session,
            user,
        })
    }

    /// Rotates a refresh token. Presenting one that was already used means it leaked: the
    /// whole session (every token descended from the same login) is revoked.
    pub async fn refresh(&self, req: RefreshRequest) -> AppResult<TokenPair> {
        let invalid = || AppError::unauthorized("invalid_refresh_token", "the refresh token is invalid or expired");
        let hash = domain::hash_secret(req.refresh_token.trim());
        let at = now();
        let mut tx = self.db().begin().await?;
        let row: Option<RefreshRow> = tx!(&mut tx, |c| sqlx::query_as(
            "SELECT r.id AS token_id, r.session_id, r.used_at, r.expires_at, s.revoked_at, s.user_id \
             FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id \
             WHERE r.token_hash = $1"
        )
        .bind(&hash)
        .fetch_optional(c)
        .await)?;
        let row = row.ok_or_else(invalid)?;
        if row.revoked_at.is_some() || row.expires_at <= at {
            return Err(invalid());
        }
        // Claim the token; a concurrent or later second use finds it already used.
        let claimed = tx!(&mut tx, |c| sqlx::query(
            "UPDATE refresh_tokens SET used_at = $1, updated_at = $1 WHERE id = $2 AND used_at IS NULL"
        )
        .bind(at)
        .bind(row.token_id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        if row.used_at.is_some() || claimed == 0 {
            drop(tx);
            self.revoke_session_row(row.session_id, "refresh_token_reuse", &format!("user:{}", row.user_id)).await?;
            tracing::warn!(session = %row.session_id, "refresh token reuse detected; session revoked");
            return Err(AppError::unauthorized(
                "refresh_token_reused",
                "this refresh token was already used; the session has been revoked",
            ));
        }
        let refresh = domain::new_secret("rt");
        insert_refresh(&mut tx, row.session_id, &refresh, row.expires_at).await?;
        audit::record_as(
            &mut tx,
            &format!("user:{}", row.user_id),
            AuditEntry {
                org_id: None,
                action: "session.refreshed",
                resource_type: "session",
                resource_id: row.session_id.to_string(),
                changes: json!({}),
            },
        )
        .await?;
        tx!(&mut tx, |c| sqlx::query("UPDATE sessions SET last_used_at = $1, updated_at = $1 WHERE id = $2")
            .bind(at)
            .bind(row.session_id)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        self.kernel.commit(tx).await?;
        let user = self.user(row.user_id).await?;
        self.token_pair(user, row.session_id, refresh)
    }

    async fn revoke_session_row(&self, session: SessionId, reason: &str, actor: &str) -> AppResult<bool> {
        let at = now();
        let mut tx = self.db().begin().await?;
        let n = tx!(&mut tx, |c| sqlx::query(
            "UPDATE sessions SET revoked_at = $1, revoked_reason = $2, updated_at = $1 WHERE id = $3 AND revoked_at IS NULL"
        )
        .bind(at)
        .bind(reason)
        .bind(session)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        if n > 0 {
            audit::record_as(
                &mut tx,
                actor,
                AuditEntry {
                    org_id: None,
                    action: "session.revoked",
                    resource_type: "session",
                    resource_id: session.to_string(),
                    changes: json!({ "reason": reason }),
                },
            )
            .await?;
        }
        self.kernel.commit(tx).await?;
        Ok(n > 0)
    }

    pub async fn logout(&self, principal: &Principal) -> AppResult<()> {
        let Principal::User { session_id, user_id, .. } = principal else {
            return Err(AppError::forbidden("API keys have no session to end; revoke the key instead"));
        };
        self.revoke_session_row(*session_id, "logout", &format!("user:{user_id}")).await?;
        Ok(())
    }

    pub async fn sessions(&self, user: UserId, current: Option<SessionId>) -> AppResult<Vec<Session>> {
        let at = now();
        let mut rows: Vec<Session> = read!(self.db(), |c| sqlx::query_as(
            "SELECT id, user_agent, ip, created_at, last_used_at, expires_at FROM sessions \
             WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY last_used_at DESC"
        )
        .bind(user)
        .bind(at)
        .fetch_all(c)
        .await)?;
        for s in &mut rows {
            s.current = Some(s.id) == current;
        }
        Ok(rows)
    }

    pub async fn revoke_own_session(&self, user: UserId, session: SessionId) -> AppResult<()> {
        let owner: Option<(UserId,)> = read!(self.db(), |c| sqlx::query_as("SELECT user_id FROM sessions WHERE id = $1")
            .bind(session)
            .fetch_optional(c)
            .await)?;
        match owner {
            Some((u,)) if u == user => {
                self.revoke_session_row(session, "revoked_by_user", &format!("user:{user}")).await?;
                Ok(())
            }
            _ => Err(AppError::not_found("session")),
        }
    }

    /// Starts a password reset. Always succeeds, so callers cannot probe which emails exist.
    pub async fn request_password_reset(&self, req: PasswordResetRequest) -> AppResult<()> {
        let email = Email::parse("email", &req.email)?;
        let user: Option<(UserId, String)> = read!(self.db(), |c| sqlx::query_as("SELECT id, name FROM users WHERE email = $1")
            .bind(email.as_str())
            .fetch_optional(c)
            .await)?;
        let Some((user_id, name)) = user else {
            tracing::info!("password reset requested for an unknown email");
            return Ok(());
        };
        let token = domain::new_secret("pr");
        let at = now();
        let ttl = self.config.reset_ttl_mins;
        let mut tx = self.db().begin().await?;
        tx!(&mut tx, |c| {
            sqlx::query(
            "INSERT INTO password_resets (id, user_id, token_hash, expires_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)"
        )
        .bind(Uuid::now_v7())
        .bind(user_id)
        .bind(domain::hash_secret(&token))
        .bind(at + TimeDelta::minutes(ttl))
        .bind(at)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
        })?;
        audit::record_as(
            &mut tx,
            &format!("user:{user_id}"),
            AuditEntry {
                org_id: None,
                action: "password_reset.requested",
                resource_type: "user",
                resource_id: user_id.to_string(),
                changes: json!({}),
            },
        )
        .await?;
        let base = self.kernel.config.server.public_url.trim_end_matches('/');
        self.kernel
            .queue_mail(
                &mut tx,
                &OutgoingMail {
                    to: email.as_str().to_string(),
                    subject: "Reset your Backline password".into(),
                    text: format!(
                        "Hi {name},\n\nsomeone asked to reset the password of your Backline account.\n\
                     If it was you, open this link within {ttl} minutes:\n\n{base}/reset-password?token={token}\n\n\
                     Or send this token to POST /api/auth/password-reset/confirm:\n\nreset-token: {token}\n\n\
                     If it was not you, ignore this message; your password stays as it is.\n"
                    ),
                },
            )
            .await?;
        self.kernel.commit(tx).await?;
        Ok(())
    }

    /// Sets a new password with a single-use, expiring token and ends every session.
    pub async fn confirm_password_reset(&self, req: PasswordResetConfirm) -> AppResult<()> {
        domain::check_password("new_password", &req.new_password)?;
        let invalid = || AppError::bad_request("invalid_reset_token", "the reset token is invalid, expired or already used");
        // Cheap check first, so invalid tokens cost no password hashing. A token that was never
        // issued is `404`; one that was, but is used or expired, `400`.
        let found: Option<(Option<Timestamp>, Timestamp)> =
            read!(self.db(), |c| sqlx::query_as("SELECT used_at, expires_at FROM password_resets WHERE token_hash = $1")
                .bind(domain::hash_secret(req.token.trim()))
                .fetch_optional(c)
                .await)?;
        match found {
            None => return Err(AppError::not_found("reset token")),
            Some((used, expires)) if used.is_some() || expires <= now() => return Err(invalid()),
            Some(_) => {}
        }
        let hash = self.hasher.hash(req.new_password).await?;
        let at = now();
        let mut tx = self.db().begin().await?;
        let user: Option<(UserId,)> = tx!(&mut tx, |c| {
            sqlx::query_as(
            "UPDATE password_resets SET used_at = $1, updated_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 \
             RETURNING user_id"
        )
        .bind(at)
        .bind(domain::hash_secret(req.token.trim()))
        .fetch_optional(c)
        .await
        })?;
        let Some((user_id,)) = user else {
            return Err(invalid());
        };
        tx!(&mut tx, |c| sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
            .bind(&hash)
            .bind(at)
            .bind(user_id)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        tx!(&mut tx, |c| {
            sqlx::query(
            "UPDATE sessions SET revoked_at = $1, revoked_reason = 'password_reset', updated_at = $1 WHERE user_id = $2 AND revoked_at IS NULL"
        )
        .bind(at)
        .bind(user_id)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
        })?;
        audit::record_as(
            &mut tx,
            &format!("user:{user_id}"),
            AuditEntry {
                org_id: None,
                action: "password_reset.completed",
                resource_type: "user",
                resource_id: user_id.to_string(),
                changes: json!({ "password": "changed" }),
            },
        )
        .await?;
        self.kernel.commit(tx).await
    }

    pub async fn update_profile(&self, user_id: UserId, req: UpdateProfile) -> AppResult<User> {
        let current = self.user(user_id).await?;
        let name = match &req.name {
            Some(n) => domain::required_text("name", n, domain::USER_NAME_MAX)?,
            None => current.name,
        };
        let avatar = if req.avatar_url.is_some() {
            domain::optional_url("avatar_url", req.avatar_url.as_deref())?
        } else {
            current.avatar_url
        };
        let bio =
            if req.bio.is_some() { domain::optional_text("bio", req.bio.as_deref(), domain::BIO_MAX)? } else { current.bio };
        let locale = match &req.locale {
            Some(l) => domain::locale("locale", l)?,
            None => current.locale,
        };
        let tz = match &req.time_zone {
            Some(t) => domain::time_zone("time_zone", t)?,
            None => current.time_zone,
        };
        let at = now();
        let mut tx = self.db().begin().await?;
        tx!(&mut tx, |c| sqlx::query(
            "UPDATE users SET name = $1, avatar_url = $2, bio = $3, locale = $4, time_zone = $5, updated_at = $6 WHERE id = $7"
        )
        .bind(&name)
        .bind(&avatar)
        .bind(&bio)
        .bind(&locale)
        .bind(&tz)
        .bind(at)
        .bind(user_id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        audit::record(
            &mut tx,
            AuditEntry {
                org_id: None,
                action: "user.updated",
                resource_type: "user",
                resource_id: user_id.to_string(),
                changes: changes_of(&req),
            },
        )
        .await?;
        self.kernel.commit(tx).await?;
        self.user(user_id).await
    }

    // ---- organizations -------------------------------------------------------------

    pub async fn create_org(&self, user: UserId, req: CreateOrg) -> AppResult<Organization> {
        let name = domain::required_text("name", &req.name, domain::ORG_NAME_MAX)?;
        let slug = match &req.slug {
            Some(s) => domain::slug("slug", s)?,
            None => domain::slugify(&name),
        };
        let description = domain::optional_text("description", req.description.as_deref(), domain::DESCRIPTION_MAX)?;
        let website = domain::optional_url("website", req.website.as_deref())?;
        let id = OrgId::new();
        let at = now();
        let mut tx = self.db().begin().await?;
        let inserted = tx!(&mut tx, |c| sqlx::query(
            "INSERT INTO organizations (id, name, slug, description, website, plan, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 'free', $6, $7, $7) ON CONFLICT (slug) DO NOTHING"
        )
        .bind(id)
        .bind(&name)
        .bind(&slug)
        .bind(&description)
        .bind(&website)
        .bind(user)
        .bind(at)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        if inserted == 0 {
            return Err(AppError::conflict("slug_taken", format!("the slug `{slug}` is taken; choose another")));
        }
        insert_membership(&mut tx, id, user, Role::Owner).await?;
        audit::record(
            &mut tx,
            AuditEntry {
                org_id: Some(id),
                action: "org.created",
                resource_type: "organization",
                resource_id: id.to_string(),
                changes: json!({ "name": name, "slug": slug }),
            },
        )
        .await?;
        publish(&mut tx, "org.created", &json!({ "org_id": id, "name": name, "created_by": user })).await?;
        self.kernel.commit(tx).await?;
        self.org(id, Some(Role::Owner)).await
    }

    pub async fn org(&self, id: OrgId, my_role: Option<Role>) -> AppResult<Organization> {
        let mut org: Organization = read!(self.db(), |c| sqlx::query_as(
            "SELECT id, name, slug, description, website, plan, created_at, updated_at FROM organizations WHERE id = $1"
        )
        .bind(id)
        .fetch_optional(c)
        .await)?
        .ok_or(AppError::not_found("organization"))?;
        org.my_role = my_role;
        Ok(org)
    }

    pub async fn my_orgs(&self, user: UserId) -> AppResult<Vec<Organization>> {
        let rows: Vec<(OrgId, String)> =
            read!(self.db(), |c| sqlx::query_as("SELECT org_id, role FROM memberships WHERE user_id = $1 ORDER BY created_at")
                .bind(user)
                .fetch_all(c)
                .await)?;
        let mut out = Vec::with_capacity(rows.len());
        for (org, role) in rows {
            out.push(self.org(org, Role::parse(&role)).await?);
        }
        Ok(out)
    }

    pub async fn update_org(&self, id: OrgId, role: Role, req: UpdateOrg) -> AppResult<Organization> {
        let cur = self.org(id, Some(role)).await?;
        let name = match &req.name {
            Some(n) => domain::required_text("name", n, domain::ORG_NAME_MAX)?,
            None => cur.name,
        };
        let slug = match &req.slug {
            Some(s) => domain::slug("slug", s)?,
            None => cur.slug,
        };
        let description = if req.description.is_some() {
            domain::optional_text("description", req.description.as_deref(), domain::DESCRIPTION_MAX)?
        } else {
            cur.description
        };
        let website = if req.website.is_some() { domain::optional_url("website", req.website.as_deref())? } else { cur.website };
        let mut tx = self.db().begin().await?;
        tx!(&mut tx, |c| sqlx::query(
            "UPDATE organizations SET name = $1, slug = $2, description = $3, website = $4, updated_at = $5 WHERE id = $6"
        )
        .bind(&name)
        .bind(&slug)
        .bind(&description)
        .bind(&website)
        .bind(now())
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
        .map_err(|e| match AppError::from(e) {
            AppError::Conflict { .. } => AppError::conflict("slug_taken", "that slug is taken"),
            other => other,
        })?;
        audit::record(
            &mut tx,
            AuditEntry {
                org_id: Some(id),
                action: "org.updated",
                resource_type: "organization",
                resource_id: id.to_string(),
                changes: changes_of(&req),
            },
        )
        .await?;
        self.kernel.commit(tx).await?;
        self.org(id, Some(role)).await
    }

    pub async fn members(&self, org: OrgId) -> AppResult<Vec<Member>> {
        Ok(read!(self.db(), |c| sqlx::query_as(
            "SELECT m.user_id, u.name, u.email, m.role, m.created_at FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.org_id = $1 ORDER BY m.created_at"
        )
        .bind(org)
        .fetch_all(c)
        .await)?)
    }

    async fn member_role(&self, org: OrgId, user: UserId) -> AppResult<Option<Role>> {
        let row: Option<(String,)> =
            read!(self.db(), |c| sqlx::query_as("SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2")
                .bind(org)
                .bind(user)
                .fetch_optional(c)
                .await)?;
        Ok(row.and_then(|(r,)| Role::parse(&r)))
    }

    async fn owner_count(tx: &mut Tx<'_>, org: OrgId) -> AppResult<i64> {
        let (n,): (i64,) = tx!(tx, |c| sqlx::query_as("SELECT COUNT(*) FROM memberships WHERE org_id = $1 AND role = 'owner'")
            .bind(org)
            .fetch_one(c)
            .await)?;
        Ok(n)
    }

    /// Changes a member's role. Only owners grant or take away ownership; the last owner stays.
    pub async fn change_role(&self, org: OrgId, actor_role: Role, target: UserId, new_role: Role) -> AppResult<()> {
        let mut tx = self.db().begin().await?;
        let current = lock_membership(&mut tx, org, target).await?;
        if (current == Role::Owner || new_role == Role::Owner) && actor_role != Role::Owner {
            return Err(AppError::forbidden("only owners can grant or remove the owner role"));
        }
        tx!(&mut tx, |c| sqlx::query("UPDATE memberships SET role = $1, updated_at = $2 WHERE org_id = $3 AND user_id = $4")
            .bind(new_role.as_str())
            .bind(now())
            .bind(org)
            .bind(target)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        if Self::owner_count(&mut tx, org).await? == 0 {
            return Err(AppError::conflict("last_owner", "an organization needs at least one owner"));
        }
        audit::record(
            &mut tx,
            AuditEntry {
                org_id: Some(org),
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
    pub async fn remove_member(&self, org: OrgId, principal: &Principal, actor_role: Role, target: UserId) -> AppResult<()> {
        let leaving = principal.user_id() == Some(target);
        if !leaving && actor_role < Role::Admin {
            return Err(AppError::forbidden("requires the admin role"));
        }
        let mut tx = self.db().begin().await?;
        let current = lock_membership(&mut tx, org, target).await?;
        if current == Role::Owner && actor_role != Role::Owner {
            return Err(AppError::forbidden("only owners can remove an owner"));
        }
        tx!(&mut tx, |c| sqlx::query("DELETE FROM memberships WHERE org_id = $1 AND user_id = $2")
            .bind(org)
            .bind(target)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        if Self::owner_count(&mut tx, org).await? == 0 {
            return Err(AppError::conflict("last_owner", "an organization needs at least one owner"));
        }
        audit::record(
            &mut tx,
            AuditEntry {
                org_id: Some(org),
                action: if leaving { "member.left" } else { "member.removed" },
                resource_type: "member",
                resource_id: target.to_string(),
                changes: json!({ "role": current.as_str() }),
            },
        )
        .await?;
        publish(&mut tx, "member.removed", &json!({ "org_id": org, "user_id": target })).await?;
        self.kernel.commit(tx).await
    }

    /// Adds an existing user directly (operator tooling and demo data; people use invitations).
    pub async fn add_member(&self, org: OrgId, user: UserId, role: Role) -> AppResult<()> {
        let mut tx = self.db().begin().await?;
        insert_membership(&mut tx, org, user, role).await?;
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
        publish(&mut tx, "member.joined", &json!({ "org_id": org, "user_id": user, "role": role.as_str() })).await?;
        self.kernel.commit(tx).await
    }

    pub async fn invite(&self, org: OrgId, inviter: UserId, inviter_role: Role, req: CreateInvitation) -> AppResult<Invitation> {
        let email = Email::parse("email", &req.email)?;
        if req.role == Role::Owner && inviter_role != Role::Owner {
            return Err(AppError::forbidden("only owners can invite owners"));
        }
        let existing: Option<(UserId,)> = read!(self.db(), |c| sqlx::query_as(
            "SELECT m.user_id FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 AND u.email = $2"
        )
        .bind(org)
        .bind(email.as_str())
        .fetch_optional(c)
        .await)?;
        if existing.is_some() {
            return Err(AppError::conflict("already_member", "this person is already a member"));
        }
        let token = domain::new_secret("inv");
        let id = Uuid::now_v7();
        let at = now();
        let ttl = self.config.invitation_ttl_hours;
        let org_row = self.org(org, None).await?;
        let mut tx = self.db().begin().await?;
        tx!(&mut tx, |c| sqlx::query(
            "INSERT INTO invitations (id, org_id, email, role, token_hash, invited_by, expires_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)"
        )
        .bind(id)
        .bind(org)
        .bind(email.as_str())
        .bind(req.role.as_str())
        .bind(domain::hash_secret(&token))
        .bind(inviter)
        .bind(at + TimeDelta::hours(ttl))
        .bind(at)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        audit::record(
            &mut tx,
            AuditEntry {
                org_id: Some(org),
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
                    subject: format!("You are invited to join {} on Backline", org_row.name),
                    text: format!(
                        "Hello,\n\nyou have been invited to join {} on Backline as {}.\n\
                     Accept within {ttl} hours: {base}/invitations/accept?token={token}\n\n\
                     Or send this token to POST /api/invitations/accept while signed in:\n\ninvitation-token: {token}\n",
                        org_row.name,
                        req.role.as_str()
                    ),
                },
            )
            .await?;
        self.kernel.commit(tx).await?;
        self.invitation(org, id).await
    }

    async fn invitation(&self, org: OrgId, id: Uuid) -> AppResult<Invitation> {
        read!(self.db(), |c| sqlx::query_as(
            "SELECT id, org_id, email, role, expires_at, accepted_at, revoked_at, created_at FROM invitations WHERE org_id = $1 AND id = $2"
        )
        .bind(org)
        .bind(id)
        .fetch_optional(c)
        .await)?
        .ok_or(AppError::not_found("invitation"))
    }

    pub async fn invitations(&self, org: OrgId) -> AppResult<Vec<Invitation>> {
        Ok(read!(self.db(), |c| sqlx::query_as(
            "SELECT id, org_id, email, role, expires_at, accepted_at, revoked_at, created_at FROM invitations \
             WHERE org_id = $1 ORDER BY id DESC LIMIT 500"
        )
        .bind(org)
        .fetch_all(c)
        .await)?)
    }

    pub async fn revoke_invitation(&self, org: OrgId, id: Uuid) -> AppResult<()> {
        let at = now();
        let mut tx = self.db().begin().await?;
        let n = tx!(&mut tx, |c| {
            sqlx::query(
            "UPDATE invitations SET revoked_at = $1, updated_at = $1 WHERE org_id = $2 AND id = $3 AND accepted_at IS NULL AND revoked_at IS NULL"
        )
        .bind(at)
        .bind(org)
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
        })?;
        if n == 0 {
            self.invitation(org, id).await?;
            return Err(AppError::conflict("invitation_closed", "the invitation was already accepted or revoked"));
        }
        audit::record(
            &mut tx,
            AuditEntry {
                org_id: Some(org),
                action: "invitation.revoked",
                resource_type: "invitation",
                resource_id: id.to_string(),
                changes: json!({}),
            },
        )
        .await?;
        self.kernel.commit(tx).await
    }

    /// Accepts an invitation addressed to the signed-in user's email.
    pub async fn accept_invitation(&self, user: UserId, token: &str) -> AppResult<Organization> {
        let me = self.user(user).await?;
        let at = now();
        let mut tx = self.db().begin().await?;
        let inv: Option<InvitationRow> = tx!(&mut tx, |c| sqlx::query_as(
            "SELECT id, org_id, email, role, expires_at, accepted_at, revoked_at FROM invitations WHERE token_hash = $1"
        )
        .bind(domain::hash_secret(token.trim()))
        .fetch_optional(c)
        .await)?;
        // No such token: 404. A real token that is used up: 409 (or 400 once expired).
        let Some(InvitationRow { id, org_id: org, email, role, expires_at: expires, accepted_at, revoked_at }) = inv else {
            return Err(AppError::not_found("invitation"));
        };
        if accepted_at.is_some() || revoked_at.is_some() {
            return Err(AppError::conflict("invitation_closed", "the invitation was already accepted or revoked"));
        }
        if expires <= at {
            return Err(AppError::bad_request("invitation_expired", "the invitation has expired; ask for a new one"));
        }
        if email != me.email {
            return Err(AppError::forbidden("this invitation was sent to another email address"));
        }
        let role = Role::parse(&role).unwrap_or(Role::Viewer);
        insert_membership(&mut tx, org, user, role).await.map_err(|e| match e {
            AppError::Conflict { .. } => AppError::conflict("already_member", "you are already a member"),
            other => other,
        })?;
        tx!(&mut tx, |c| sqlx::query("UPDATE invitations SET accepted_at = $1, updated_at = $1 WHERE id = $2")
            .bind(at)
            .bind(id)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        audit::record(
            &mut tx,
            AuditEntry {
                org_id: Some(org),
                action: "invitation.accepted",
                resource_type: "member",
                resource_id: user.to_string(),
                changes: json!({ "role": role.as_str(), "invitation_id": id }),
            },
        )
        .await?;
        publish(&mut tx, "member.joined", &json!({ "org_id": org, "user_id": user, "role": role.as_str() })).await?;
        self.kernel.commit(tx).await?;
        self.org(org, Some(role)).await
    }

    // ---- API keys -----------------------------------------------------------------------

    pub async fn create_api_key(
        &self,
        org: OrgId,
        creator: UserId,
        creator_role: Role,
        req: CreateApiKey,
    ) -> AppResult<CreatedApiKey> {
        let name = domain::required_text("name", &req.name, domain::API_KEY_NAME_MAX)?;
        if req.role == Role::Owner {
            return Err(AppError::validation("role", "API keys can be viewer, staff or admin"));
        }
        if req.role > creator_role {
            return Err(AppError::forbidden("an API key cannot have more rights than its creator"));
        }
        if req.expires_at.is_some_and(|t| t <= now()) {
            return Err(AppError::validation("expires_at", "must be in the future"));
        }
        let secret = domain::new_secret("bk");
        let prefix: String = secret.chars().take(10).collect();
        let id = ApiKeyId::new();
        let at = now();
        let mut tx = self.db().begin().await?;
        tx!(&mut tx, |c| sqlx::query(
            "INSERT INTO api_keys (id, org_id, name, prefix, key_hash, role, created_by, expires_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)"
        )
        .bind(id)
        .bind(org)
        .bind(&name)
        .bind(&prefix)
        .bind(domain::hash_secret(&secret))
        .bind(req.role.as_str())
        .bind(creator)
        .bind(req.expires_at.map(kernel::time::truncate))
        .bind(at)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        audit::record(
            &mut tx,
            AuditEntry {
                org_id: Some(org),
                action: "api_key.created",
                resource_type: "api_key",
                resource_id: id.to_string(),
                changes: json!({ "name": name, "role": req.role.as_str(), "prefix": prefix }),
            },
        )
        .await?;
        self.kernel.commit(tx).await?;
        let api_key = self.api_key(org, id).await?;
        Ok(CreatedApiKey { key: secret, api_key })
    }

    async fn api_key(&self, org: OrgId, id: ApiKeyId) -> AppResult<ApiKey> {
        read!(self.db(), |c| sqlx::query_as(
            "SELECT id, org_id, name, prefix, role, last_used_at, expires_at, revoked_at, created_at FROM api_keys WHERE org_id = $1 AND id = $2"
        )
        .bind(org)
        .bind(id)
        .fetch_optional(c)
        .await)?
        .ok_or(AppError::not_found("api key"))
    }

    pub async fn api_keys(&self, org: OrgId) -> AppResult<Vec<ApiKey>> {
        Ok(read!(self.db(), |c| sqlx::query_as(
            "SELECT id, org_id, name, prefix, role, last_used_at, expires_at, revoked_at, created_at FROM api_keys \
             WHERE org_id = $1 ORDER BY id DESC"
        )
        .bind(org)
        .fetch_all(c)
        .await)?)
    }

    pub async fn revoke_api_key(&self, org: OrgId, id: ApiKeyId) -> AppResult<()> {
        let at = now();
        let mut tx = self.db().begin().await?;
        let n = tx!(&mut tx, |c| sqlx::query(
            "UPDATE api_keys SET revoked_at = $1, updated_at = $1 WHERE org_id = $2 AND id = $3 AND revoked_at IS NULL"
        )
        .bind(at)
        .bind(org)
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        if n == 0 {
            self.api_key(org, id).await?;
            return Err(AppError::conflict("api_key_revoked", "the key is already revoked"));
        }
        audit::record(
            &mut tx,
            AuditEntry {
                org_id: Some(org),
                action: "api_key.revoked",
                resource_type: "api_key",
                resource_id: id.to_string(),
                changes: json!({}),
            },
        )
        .await?;
        self.kernel.commit(tx).await
    }

    // ---- credentials on requests -------------------------------------------------------

    pub(crate) async fn principal_for_token(&self, token: &str) -> AppResult<Principal> {
        if token.starts_with("bk_") {
            return self.principal_for_api_key(token).await;
        }
        let claims = self.keys.verify(token)?;
        let session: Option<(Option<Timestamp>, Timestamp)> =
            read!(self.db(), |c| sqlx::query_as("SELECT revoked_at, expires_at FROM sessions WHERE id = $1 AND user_id = $2")
                .bind(claims.sid)
                .bind(claims.sub)
                .fetch_optional(c)
                .await)?;
        match session {
            Some((None, expires)) if expires > now() => {
                Ok(Principal::User { user_id: claims.sub, session_id: claims.sid, platform_admin: claims.adm })
            }
            _ => Err(AppError::unauthorized("session_revoked", "this session has ended; sign in again")),
        }
    }

    async fn principal_for_api_key(&self, key: &str) -> AppResult<Principal> {
        let row: Option<KeyRow> = read!(self.db(), |c| sqlx::query_as(
            "SELECT id, org_id, role, expires_at, revoked_at, last_used_at FROM api_keys WHERE key_hash = $1"
        )
        .bind(domain::hash_secret(key))
        .fetch_optional(c)
        .await)?;
        let at = now();
        let Some(KeyRow { id, org_id: org, role, expires_at: expires, revoked_at: revoked, last_used_at: last_used }) = row
        else {
            return Err(AppError::unauthorized("invalid_api_key", "the API key is invalid"));
        };
        if revoked.is_some() || expires.is_some_and(|e| e <= at) {
            return Err(AppError::unauthorized("invalid_api_key", "the API key is revoked or expired"));
        }
        // Track use at minute granularity: one write per key per minute, not per request.
        if last_used.is_none_or(|t| at - t > TimeDelta::minutes(1)) {
            let mut tx = self.db().begin().await?;
            tx!(&mut tx, |c| sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
                .bind(at)
                .bind(id)
                .execute(c)
                .await
                .map(|r| r.rows_affected()))?;
            tx.commit().await?;
        }
        Ok(Principal::ApiKey { key_id: id, org_id: org, role: Role::parse(&role).unwrap_or(Role::Viewer) })
    }

    pub(crate) async fn role_of(&self, principal: &Principal, org: OrgId) -> AppResult<Option<Role>> {
        match principal {
            Principal::ApiKey { org_id, role, .. } => Ok((*org_id == org).then_some(*role)),
            Principal::User { user_id, platform_admin, .. } => {
                let role = self.member_role(org, *user_id).await?;
                if role.is_none() && *platform_admin {
                    // Platform operators can administer any organization that exists.
                    let exists: Option<(OrgId,)> =
                        read!(self.db(), |c| sqlx::query_as("SELECT id FROM organizations WHERE id = $1")
                            .bind(org)
                            .fetch_optional(c)
                            .await)?;
                    return Ok(exists.map(|_| Role::Admin));
                }
                Ok(role)
            }
        }
    }
}

async fn insert_refresh(tx: &mut Tx<'_>, session: SessionId, token: &str, expires: Timestamp) -> AppResult<()> {
    let at = now();
    tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO refresh_tokens (id, session_id, token_hash, expires_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)"
    )
    .bind(Uuid::now_v7())
    .bind(session)
    .bind(domain::hash_secret(token))
    .bind(expires)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Reads a member's role inside `tx`, first locking the organization row on PostgreSQL so
/// concurrent role changes and removals in one organization serialize (SQLite's single writer
/// already does). Without this, two owners demoting each other could both see "one owner
/// left" and commit an organization with none.
async fn lock_membership(tx: &mut Tx<'_>, org: OrgId, user: UserId) -> AppResult<Role> {
    if tx.backend() == kernel::Backend::Postgres {
        tx!(tx, |c| sqlx::query("SELECT id FROM organizations WHERE id = $1 FOR UPDATE")
            .bind(org)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
    }
    let row: Option<(String,)> = tx!(tx, |c| sqlx::query_as("SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2")
        .bind(org)
        .bind(user)
        .fetch_optional(c)
        .await)?;
    row.and_then(|(r,)| Role::parse(&r)).ok_or(AppError::not_found("member"))
}

async fn insert_membership(tx: &mut Tx<'_>, org: OrgId, user: UserId, role: Role) -> AppResult<()> {
    let at = now();
    tx!(tx, |c| sqlx::query(
        "INSERT INTO memberships (org_id, user_id, role, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)"
    )
    .bind(org)
    .bind(user)
    .bind(role.as_str())
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}
