//! Password resets: a single-use, expiring token mailed to the account's address.

use chrono::TimeDelta;
use kernel::AppError;
use kernel::AppResult;
use kernel::audit::{self, AuditEntry};
use kernel::mail::OutgoingMail;
use kernel::time::now;
use serde_json::json;

use super::IdentityService;
use crate::domain::{self, Email};
use crate::model::{PasswordResetConfirm, PasswordResetRequest};
use crate::store::{accounts as store, sessions};

impl IdentityService {
    /// Starts a password reset. Always succeeds, so callers cannot probe which emails exist.
    pub async fn request_password_reset(&self, req: PasswordResetRequest) -> AppResult<()> {
        let email = Email::parse("email", &req.email)?;
        let Some((user_id, name)) = store::user_by_email(self.db(), email.as_str()).await? else {
            tracing::info!("password reset requested for an unknown email");
            return Ok(());
        };
        let token = domain::new_secret("pr");
        let at = now();
        let ttl = self.config.reset_ttl_mins;
        let mut tx = self.db().begin().await?;
        store::insert_password_reset(&mut tx, user_id, &domain::hash_secret(&token), at + TimeDelta::minutes(ttl), at).await?;
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
                    ..OutgoingMail::default()
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
        let token_hash = domain::hash_secret(req.token.trim());
        // Cheap check first, so invalid tokens cost no password hashing. A token that was never
        // issued is `404`; one that was, but is used or expired, `400`.
        match store::password_reset_state(self.db(), &token_hash).await? {
            None => return Err(AppError::not_found("reset token")),
            Some((used, expires)) if used.is_some() || expires <= now() => return Err(invalid()),
            Some(_) => {}
        }
        let hash = self.hasher.hash(req.new_password).await?;
        let at = now();
        let mut tx = self.db().begin().await?;
        let Some(user_id) = store::claim_password_reset(&mut tx, &token_hash, at).await? else {
            return Err(invalid());
        };
        store::set_password_hash(&mut tx, user_id, &hash, at).await?;
        sessions::revoke_sessions_of(&mut tx, user_id, "password_reset", at).await?;
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
}
