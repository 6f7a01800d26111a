//! Identity: accounts, sessions and tokens, organizations (tenants), members and roles,
//! invitations and API keys. Implements the kernel's [`Authenticator`] and [`OrgAccess`], so
//! other contexts learn who is calling and what they may do without reading these tables.

pub mod config;
pub mod domain;
pub mod events;
pub mod http;
pub mod model;
pub mod service;
mod store;
pub mod tokens;

use kernel::AppResult;
use kernel::auth::{Authenticator, OrgAccess, Principal, Role};
use kernel::id::OrgId;

pub use config::AuthConfig;
pub use http::router;
pub use service::IdentityService;

#[async_trait::async_trait]
impl Authenticator for IdentityService {
    async fn authenticate(&self, token: &str) -> AppResult<Principal> {
        self.principal_for_token(token).await
    }

    async fn authenticate_cookie(&self, secret: &str) -> AppResult<Option<Principal>> {
        self.principal_for_cookie(secret).await
    }
}

#[async_trait::async_trait]
impl OrgAccess for IdentityService {
    async fn role_in(&self, principal: &Principal, org: OrgId) -> AppResult<Option<Role>> {
        self.role_of(principal, org).await
    }
}
