//! Identity use cases, one module per group: accounts, sessions, password resets,
//! organizations, members, invitations, API keys, and the credentials checked on every
//! request. Each mutation runs in one transaction with its audit record and domain events;
//! the SQL is in [`crate::store`].

mod accounts;
mod api_keys;
mod credentials;
mod invitations;
mod members;
mod orgs;
mod password_reset;
mod sessions;

use std::net::IpAddr;
use std::sync::Arc;

use kernel::jobs::Topic;
use kernel::{AppResult, Kernel, Tx};
use serde::Serialize;

use crate::config::AuthConfig;
use crate::tokens::{PasswordHasherCfg, TokenKeys};

pub use accounts::WELCOME_MAIL_JOB;

pub struct IdentityService {
    pub(crate) kernel: Arc<Kernel>,
    pub(crate) keys: TokenKeys,
    pub(crate) hasher: PasswordHasherCfg,
    pub(crate) config: AuthConfig,
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
        accounts::listen_for_welcome_mail(&kernel);
        Ok(Arc::new(IdentityService { kernel, keys, hasher, config }))
    }

    /// The configured password hasher (the demo loader and `admin create-user` hash with it).
    pub fn password_hasher(&self) -> &PasswordHasherCfg {
        &self.hasher
    }

    fn db(&self) -> &kernel::Db {
        &self.kernel.db
    }

    /// Writes a domain event in `tx`.
    async fn publish<T: Serialize + Sync>(&self, tx: &mut Tx<'_>, topic: &Topic<T>, data: &T) -> AppResult<()> {
        self.kernel.jobs.publish(tx, topic, data).await.map(|_| ())
    }
}
