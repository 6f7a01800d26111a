//! Sign-in and sessions: login, refresh-token rotation with reuse detection, logout, and a
//! user's view of their own sessions.

use chrono::TimeDelta;
use kernel::audit::{self, AuditEntry};
use kernel::auth::Principal;
use kernel::id::{SessionId, UserId};
use kernel::time::now;
use kernel::{AppError, AppResult, Tx};
use serde_json::json;

use super::{ClientInfo, IdentityService};
use crate::domain;
use crate::model::{LoginRequest, RefreshRequest, Session, TokenPair, User};
use crate::store::{accounts, sessions as store};

/// Longest user agent kept on a session, in characters.
const USER_AGENT_MAX: usize = 300;

impl IdentityService {
    pub async fn login(&self, req: LoginRequest, client: ClientInfo) -> AppResult<TokenPair> {
        self.kernel.limits.check_login(req.email.trim(), client.ip)?;
        let email = req.email.trim().to_lowercase();
        let creds = accounts::credentials(self.db(), &email).await?;
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
    pub(super) async fn write_session(
        &self,
        tx: &mut Tx<'_>,
        user: UserId,
        client: ClientInfo,
    ) -> AppResult<(SessionId, String)> {
        let session = SessionId::new();
        let at = now();
        let expires = at + TimeDelta::days(self.config.refresh_ttl_days);
        let refresh = domain::new_secret("rt");
        let ua = client.user_agent.map(|ua| ua.chars().take(USER_AGENT_MAX).collect::<String>());
        let row = store::NewSession {
            id: session,
            user,
            user_agent: ua.as_deref(),
            ip: client.ip.map(|ip| ip.to_string()),
            at,
            expires,
        };
        store::insert_session(tx, &row).await?;
        store::insert_refresh_token(tx, session, &domain::hash_secret(&refresh), expires, at).await?;
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

    pub(super) fn token_pair(&self, user: User, session: SessionId, refresh: String) -> AppResult<TokenPair> {
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
        let row = store::refresh_token(&mut tx, &hash).await?.ok_or_else(invalid)?;
        if row.revoked_at.is_some() || row.expires_at <= at {
            return Err(invalid());
        }
        // Claim the token; a concurrent or later second use finds it already used.
        let claimed = store::claim_refresh_token(&mut tx, row.token_id, at).await?;
        if row.used_at.is_some() || !claimed {
            drop(tx);
            self.revoke_session_row(row.session_id, "refresh_token_reuse", &format!("user:{}", row.user_id)).await?;
            tracing::warn!(session = %row.session_id, "refresh token reuse detected; session revoked");
            return Err(AppError::unauthorized(
                "refresh_token_reused",
                "this refresh token was already used; the session has been revoked",
            ));
        }
        let refresh = domain::new_secret("rt");
        store::insert_refresh_token(&mut tx, row.session_id, &domain::hash_secret(&refresh), row.expires_at, at).await?;
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
        store::touch_session(&mut tx, row.session_id, at).await?;
        self.kernel.commit(tx).await?;
        let user = self.user(row.user_id).await?;
        self.token_pair(user, row.session_id, refresh)
    }

    async fn revoke_session_row(&self, session: SessionId, reason: &str, actor: &str) -> AppResult<bool> {
        let mut tx = self.db().begin().await?;
        let revoked = store::revoke_session(&mut tx, session, reason, now()).await?;
        if revoked {
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
        Ok(revoked)
    }

    pub async fn logout(&self, principal: &Principal) -> AppResult<()> {
        let Principal::User { session_id, user_id, .. } = principal else {
            return Err(AppError::forbidden("API keys have no session to end; revoke the key instead"));
        };
        self.revoke_session_row(*session_id, "logout", &format!("user:{user_id}")).await?;
        Ok(())
    }

    pub async fn sessions(&self, user: UserId, current: Option<SessionId>) -> AppResult<Vec<Session>> {
        let mut rows = store::active_sessions(self.db(), user, now()).await?;
        for s in &mut rows {
            s.current = Some(s.id) == current;
        }
        Ok(rows)
    }

    pub async fn revoke_own_session(&self, user: UserId, session: SessionId) -> AppResult<()> {
        match store::session_owner(self.db(), session).await? {
            Some(owner) if owner == user => {
                self.revoke_session_row(session, "revoked_by_user", &format!("user:{user}")).await?;
                Ok(())
            }
            _ => Err(AppError::not_found("session")),
        }
    }
}

/// Browser sessions: the same `sessions` rows, reached by an HttpOnly cookie's secret instead
/// of a bearer JWT, so revoking a session (or "sign out everywhere") ends the cookie too.
impl IdentityService {
    /// Signs in and returns the user with the secret to put in the session cookie.
    pub async fn login_browser(&self, req: LoginRequest, client: ClientInfo) -> AppResult<(User, String)> {
        let pair = self.login(req, client).await?;
        let secret = self.bind_cookie(pair.session_id).await?;
        Ok((pair.user, secret))
    }

    /// Creates the account, signed in, with the secret for its session cookie.
    pub async fn register_browser(&self, req: crate::model::RegisterRequest, client: ClientInfo) -> AppResult<(User, String)> {
        let pair = self.register(req, client).await?;
        let secret = self.bind_cookie(pair.session_id).await?;
        Ok((pair.user, secret))
    }

    async fn bind_cookie(&self, session: SessionId) -> AppResult<String> {
        let secret = domain::new_secret("ws");
        let mut tx = self.db().begin().await?;
        store::set_cookie_hash(&mut tx, session, &domain::hash_secret(&secret)).await?;
        self.kernel.commit(tx).await?;
        Ok(secret)
    }

    /// Who a session cookie belongs to; `None` when it is unknown, revoked or expired (the
    /// browser is then simply anonymous).
    pub(crate) async fn principal_for_cookie(&self, secret: &str) -> AppResult<Option<Principal>> {
        let Some(row) = store::session_by_cookie(self.db(), &domain::hash_secret(secret)).await? else { return Ok(None) };
        let at = now();
        if row.revoked_at.is_some() || row.expires_at <= at {
            return Ok(None);
        }
        // "Last used" at minute granularity: one write per session per minute, not per page.
        if at - row.last_used_at > TimeDelta::minutes(1) {
            let mut tx = self.db().begin().await?;
            store::touch_session(&mut tx, row.id, at).await?;
            tx.commit().await?;
        }
        Ok(Some(Principal::User { user_id: row.user_id, session_id: row.id, platform_admin: row.platform_admin }))
    }
}
