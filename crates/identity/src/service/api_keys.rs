//! API keys: an organization's machine credentials, each acting with a role no higher than
//! its creator's (and never `owner`). The secret is shown once; only its hash is stored.

use kernel::audit::{self, AuditEntry};
use kernel::auth::{OrgScope, Role};
use kernel::id::{ApiKeyId, UserId};
use kernel::time::now;
use kernel::{AppError, AppResult};
use serde_json::json;

use super::IdentityService;
use crate::domain;
use crate::model::{ApiKey, CreateApiKey, CreatedApiKey};
use crate::store::api_keys as store;

/// How many characters of a key are kept in the clear, to recognise it in lists.
const PREFIX_LEN: usize = 10;

impl IdentityService {
    pub async fn create_api_key(&self, scope: &OrgScope, creator: UserId, req: CreateApiKey) -> AppResult<CreatedApiKey> {
        let name = domain::required_text("name", &req.name, domain::API_KEY_NAME_MAX)?;
        if req.role == Role::Owner {
            return Err(AppError::validation("role", "API keys can be viewer, staff or admin"));
        }
        if req.role > scope.role() {
            return Err(AppError::forbidden("an API key cannot have more rights than its creator"));
        }
        if req.expires_at.is_some_and(|t| t <= now()) {
            return Err(AppError::validation("expires_at", "must be in the future"));
        }
        let secret = domain::new_secret("bk");
        let prefix: String = secret.chars().take(PREFIX_LEN).collect();
        let id = ApiKeyId::new();
        let row = store::NewApiKey {
            id,
            name: &name,
            prefix: &prefix,
            key_hash: &domain::hash_secret(&secret),
            role: req.role,
            created_by: creator,
            expires: req.expires_at.map(kernel::time::truncate),
            at: now(),
        };
        let mut tx = self.db().begin().await?;
        store::insert_api_key(&mut tx, scope, &row).await?;
        audit::record(
            &mut tx,
            AuditEntry {
                org_id: Some(scope.org()),
                action: "api_key.created",
                resource_type: "api_key",
                resource_id: id.to_string(),
                changes: json!({ "name": name, "role": req.role.as_str(), "prefix": prefix }),
            },
        )
        .await?;
        self.kernel.commit(tx).await?;
        let api_key = self.api_key(scope, id).await?;
        Ok(CreatedApiKey { key: secret, api_key })
    }

    async fn api_key(&self, scope: &OrgScope, id: ApiKeyId) -> AppResult<ApiKey> {
        store::api_key(self.db(), scope, id).await?.ok_or(AppError::not_found("api key"))
    }

    pub async fn api_keys(&self, scope: &OrgScope) -> AppResult<Vec<ApiKey>> {
        store::api_keys(self.db(), scope).await
    }

    pub async fn revoke_api_key(&self, scope: &OrgScope, id: ApiKeyId) -> AppResult<()> {
        let mut tx = self.db().begin().await?;
        if !store::revoke_api_key(&mut tx, scope, id, now()).await? {
            self.api_key(scope, id).await?;
            return Err(AppError::conflict("api_key_revoked", "the key is already revoked"));
        }
        audit::record(
            &mut tx,
            AuditEntry {
                org_id: Some(scope.org()),
                action: "api_key.revoked",
                resource_type: "api_key",
                resource_id: id.to_string(),
                changes: json!({}),
            },
        )
        .await?;
        self.kernel.commit(tx).await
    }
}
