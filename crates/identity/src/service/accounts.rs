//! Accounts: registration, the profile, and the welcome mail that follows a registration.

use std::sync::Arc;

use kernel::audit::{self, AuditEntry, changes_of};
use kernel::id::UserId;
use kernel::jobs::Event;
use kernel::mail::OutgoingMail;
use kernel::time::now;
use kernel::{AppError, AppResult, Kernel, Tx};
use serde_json::json;

use super::{ClientInfo, IdentityService};
use crate::domain::{self, Email};
use crate::events::{USER_REGISTERED, UserRegistered};
use crate::model::{RegisterRequest, TokenPair, UpdateProfile, User};
use crate::store::accounts as store;

/// Job kind that sends the welcome mail for a `user.registered` event.
pub const WELCOME_MAIL_JOB: &str = "identity.welcome_mail";

/// The welcome mail follows from the `user.registered` event, through the outbox, so it is
/// sent only once the account is committed, and retried if the mail server is down.
pub(super) fn listen_for_welcome_mail(kernel: &Kernel) {
    let mailer = kernel.mailer.clone();
    let public_url: Arc<str> = kernel.config.server.public_url.as_str().into();
    kernel.jobs.listen(&USER_REGISTERED, WELCOME_MAIL_JOB, move |event: Event<UserRegistered>| {
        let (mailer, public_url) = (mailer.clone(), public_url.clone());
        async move {
            let UserRegistered { email, name, .. } = event.data;
            mailer
                .send(&OutgoingMail {
                    to: email,
                    subject: "Welcome to Backline".into(),
                    text: format!(
                        "Hi {name},\n\nyour Backline account is ready. Sign in at {public_url}.\n\nSee you at the show!\n"
                    ),
                    ..OutgoingMail::default()
                })
                .await
        }
    });
}

impl IdentityService {
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
        let new = store::NewUser { id, email: email.as_str(), password_hash, name, platform_admin, at: now() };
        if !store::insert_user(tx, &new).await? {
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
        let event = UserRegistered { user_id: id, email: email.as_str().to_string(), name: name.to_string() };
        self.publish(tx, &USER_REGISTERED, &event).await?;
        Ok(id)
    }

    pub async fn user(&self, id: UserId) -> AppResult<User> {
        store::user(self.db(), id).await?.ok_or(AppError::not_found("user"))
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
        let time_zone = match &req.time_zone {
            Some(t) => domain::time_zone("time_zone", t)?,
            None => current.time_zone,
        };
        let profile = store::Profile {
            name: &name,
            avatar_url: avatar.as_deref(),
            bio: bio.as_deref(),
            locale: &locale,
            time_zone: &time_zone,
        };
        let mut tx = self.db().begin().await?;
        store::update_profile(&mut tx, user_id, &profile, now()).await?;
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
}
