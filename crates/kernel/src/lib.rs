//! Backline's kernel: the infrastructure every bounded context shares, and no business rules.
//!
//! Conventions for contexts built on it:
//! * queries go through [`Db`] with one SQL text for both backends ([`read!`], [`tx!`]);
//! * every mutation opens a transaction, writes its rows, its audit record
//!   ([`audit::record`]) and its domain events ([`jobs::Jobs::publish`], typed topics), then
//!   [`Kernel::commit`]s;
//! * handlers return [`AppResult`] and take input through [`extract`]'s extractors, so bad
//!   input always becomes a problem+json 4xx;
//! * tenant rows carry `org_id` and store functions take the caller's [`auth::OrgScope`].

pub mod admin;
pub mod audit;
pub mod auth;
pub mod config;
pub mod context;
pub mod db;
pub mod error;
pub mod extract;
pub mod http;
pub mod id;
pub mod idempotency;
pub mod jobs;
pub mod mail;
pub mod money;
pub mod pagination;
pub mod ratelimit;
pub mod storage;
pub mod telemetry;
pub mod time;
pub mod validate;

use std::sync::Arc;

use secrecy::ExposeSecret;

pub use config::Config;
pub use db::{Backend, Db, Held, Tx};
pub use error::{AppError, AppResult};

/// The shared infrastructure of one running app.
pub struct Kernel {
    pub config: Arc<Config>,
    pub db: Db,
    pub jobs: Arc<jobs::Jobs>,
    pub mailer: Arc<dyn mail::Mailer>,
    pub storage: Arc<dyn storage::ObjectStore>,
    pub limits: Arc<ratelimit::RateLimits>,
    pub metrics: Arc<telemetry::Metrics>,
    /// Routes `Idempotency-Key` does not apply to; contexts add their own.
    pub idempotency_exempt: Arc<idempotency::Exemptions>,
}

impl Kernel {
    /// Connects to the database, applies migrations and wires the infrastructure.
    pub async fn start(config: Config) -> anyhow::Result<Arc<Kernel>> {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| anyhow::anyhow!("data_dir {}: {e}", config.data_dir.display()))?;
        let db = Db::connect(config.database.url.expose_secret(), config.database.max_connections).await?;
        db.migrate().await?;
        let mailer: Arc<dyn mail::Mailer> = match &config.mail.smtp_url {
            Some(url) => Arc::new(mail::SmtpMailer::new(url.expose_secret(), &config.mail.from)?),
            None => Arc::new(mail::FileMailer::new(config.data_dir.join("mail"), &config.mail.from)),
        };
        let storage = storage::open(&config)?;
        let jobs = jobs::Jobs::new(db.clone(), config.jobs.clone());
        let sender = mailer.clone();
        jobs.handle(&mail::SEND_MAIL, move |mail| {
            let sender = sender.clone();
            async move { sender.send(&mail).await }
        });
        Ok(Arc::new(Kernel {
            limits: Arc::new(ratelimit::RateLimits::new(&config.rate_limit)),
            idempotency_exempt: Arc::default(),
            config: Arc::new(config),
            db,
            jobs,
            mailer,
            storage,
            metrics: Arc::new(telemetry::Metrics::default()),
        }))
    }

    /// Commits `tx` and wakes the outbox dispatcher.
    pub async fn commit(&self, tx: Tx<'_>) -> AppResult<()> {
        tx.commit().await?;
        self.jobs.kick();
        Ok(())
    }

    /// Queues an email in `tx` (sent by the `mail.send` job after commit).
    pub async fn queue_mail(&self, tx: &mut Tx<'_>, mail: &mail::OutgoingMail) -> AppResult<()> {
        self.jobs.enqueue(tx, &mail::SEND_MAIL, mail).await.map(|_| ())
    }

    /// Periodic housekeeping: expired idempotency keys, idle rate-limit keys.
    pub fn start_maintenance(self: &Arc<Self>, shutdown: tokio_util::sync::CancellationToken) {
        let kernel = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(300));
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tick.tick() => {
                        kernel.limits.shrink();
                        if let Err(e) = idempotency::prune(&kernel.db).await {
                            tracing::warn!(error = %e, "pruning idempotency keys failed");
                        }
                    }
                }
            }
        });
    }
}
