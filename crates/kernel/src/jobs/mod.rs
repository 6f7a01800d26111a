//! Transactional outbox and durable jobs.
//!
//! * [`Jobs::publish`] writes a domain event (a typed [`Topic`], see [`typed`]) into `outbox`
//!   inside the caller's transaction: if the change commits, the event exists; if the process
//!   dies right after, nothing is lost.
//! * The dispatcher turns each outbox event into one job per listener ([`Jobs::listen`]) and
//!   marks it dispatched, in one transaction. An event on a topic that nothing in the program
//!   listens to is written already dispatched: it stays in the outbox as a
//!   record (pruned with the rest), but the dispatcher never reads, locks or rewrites it. In
//!   an on-sale rush that is two events per booking (`booking.created`, `booking.confirmed`)
//!   which otherwise cost the database about as much as writing the bookings.
//! * Workers claim due jobs (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so several nodes can
//!   work the same table; SQLite has one writer, which serializes claims), run the handler
//!   registered for the job's kind, and on failure retry with exponential backoff and jitter
//!   until `max_attempts`, then park the job as `dead` for an operator to inspect and retry.
//! * A job whose worker died is reclaimed when its lock expires.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::TimeDelta;
use rand::Rng;
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::config::JobsConfig;
use crate::db::{Backend, Db, Tx};
use crate::error::{AppError, AppResult};
use crate::id::JobId;
use crate::pagination::{Page, PageParams};
use crate::time::{Timestamp, now};
use crate::{read, tx};

pub mod typed;

pub use typed::{Event, JobKind, Topic, TopicInfo};

/// How long a claimed job stays locked before another worker may take it over.
const LOCK_SECS: i64 = 300;
/// Whether any outbox event waits for the dispatcher. `ORDER BY id` makes it a walk of the
/// partial index `outbox_pending`: without it PostgreSQL chose to scan the whole table
/// (every row dispatched, so to the end) on each commit of an on-sale rush.
const PENDING_EVENT: &str = "SELECT id FROM outbox WHERE dispatched_at IS NULL ORDER BY id LIMIT 1";
/// Is any job due (or abandoned by a dead worker)?
const DUE_JOB: &str =
    "SELECT id FROM jobs WHERE (status = 'queued' AND run_at <= $1) OR (status = 'running' AND locked_until < $1) LIMIT 1";
/// Outbox rows and finished jobs older than this are pruned.
const RETENTION_DAYS: i64 = 7;

/// Runs jobs of one kind. Handlers must tolerate running twice (at-least-once delivery).
#[async_trait::async_trait]
pub trait JobHandler: Send + Sync {
    async fn run(&self, payload: serde_json::Value) -> anyhow::Result<()>;
}

/// A domain event as delivered to subscribers.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Envelope {
    pub id: Uuid,
    /// Dotted, past tense: `user.registered`, `event.published`.
    pub topic: String,
    /// The payload's schema version ([`Topic::version`]); jobs queued before versions were
    /// recorded carry none, and were all version 1.
    #[serde(default = "first_version")]
    pub version: u32,
    pub occurred_at: chrono::DateTime<chrono::Utc>,
    pub data: serde_json::Value,
}

fn first_version() -> u32 {
    1
}

/// Inserts outbox rows: (topic, version, payload, whether anything listens).
async fn write_outbox(tx: &mut Tx<'_>, events: &[(&str, u32, serde_json::Value, bool)]) -> AppResult<Vec<Uuid>> {
    let at = now();
    let rows: Vec<(Uuid, &str, i64, &serde_json::Value, Option<Timestamp>)> = events
        .iter()
        .map(|(topic, version, data, listened)| (Uuid::now_v7(), *topic, i64::from(*version), data, (!listened).then_some(at)))
        .collect();
    crate::insert_rows!(tx, "outbox", &rows, |r| {
        "id": "uuid" = r.0,
        "topic": "text" = r.1,
        "version": "bigint" = r.2,
        "payload": "jsonb" = Json(r.3),
        "created_at": "timestamptz" = at,
        "updated_at": "timestamptz" = at,
        "dispatched_at": "timestamptz" = r.4,
    })?;
    Ok(rows.iter().map(|r| r.0).collect())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Queued,
    Running,
    Done,
    Dead,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Done => "done",
            JobStatus::Dead => "dead",
        }
    }
}

/// A job as shown to operators.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct JobView {
    pub id: JobId,
    pub kind: String,
    pub status: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_at: chrono::DateTime<chrono::Utc>,
    pub last_error: Option<String>,
    #[schema(value_type = Object)]
    pub payload: Json<serde_json::Value>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// Mail bodies can hold single-use secrets (password-reset and invitation links); operators
/// see who a mail was for and its subject, never its text.
fn redact(mut job: JobView) -> JobView {
    if job.kind == crate::mail::SEND_MAIL.name() {
        let p = &job.payload.0;
        job.payload = Json(serde_json::json!({ "to": p["to"], "subject": p["subject"], "text": "[redacted]" }));
    }
    job
}

#[derive(sqlx::FromRow)]
struct Claimed {
    id: JobId,
    kind: String,
    payload: Json<serde_json::Value>,
    attempts: i64,
    max_attempts: i64,
}

#[derive(sqlx::FromRow)]
struct OutboxRow {
    id: Uuid,
    topic: String,
    version: i64,
    payload: Json<serde_json::Value>,
    created_at: chrono::DateTime<chrono::Utc>,
}

/// The job system of one process.
pub struct Jobs {
    db: Db,
    config: JobsConfig,
    handlers: RwLock<HashMap<String, Arc<dyn JobHandler>>>,
    subscriptions: RwLock<HashMap<String, Vec<String>>>,
    listeners: Arc<typed::Listeners>,
    wake: Notify,
    node: String,
}

impl Jobs {
    pub fn new(db: Db, config: JobsConfig) -> Arc<Jobs> {
        Arc::new(Jobs {
            db,
            config,
            handlers: RwLock::default(),
            subscriptions: RwLock::default(),
            listeners: Arc::default(),
            wake: Notify::new(),
            node: format!("node-{}", Uuid::new_v4().simple()),
        })
    }

    /// Registers the handler for jobs of `kind` ([`Jobs::handle`] and [`Jobs::listen`] build them).
    fn register(&self, kind: &str, handler: Arc<dyn JobHandler>) {
        self.handlers.write().expect("handlers lock").insert(kind.to_string(), handler);
    }

    /// Every outbox event on `topic` becomes a job of `kind` (payload: the [`Envelope`]).
    /// Subscribe while the app is built, before anything publishes on `topic`: an event
    /// published while nothing subscribes to its topic is recorded as already dispatched.
    fn subscribe(&self, topic: &str, kind: &str) {
        self.subscriptions.write().expect("subscriptions lock").entry(topic.to_string()).or_default().push(kind.to_string());
    }

    /// Runs jobs of `kind` with `run`, which receives the decoded payload. A payload that
    /// does not decode fails the job (and, after its attempts, dead-letters it).
    pub fn handle<T, F, Fut>(&self, kind: &JobKind<T>, run: F)
    where
        T: serde::de::DeserializeOwned + Send + 'static,
        F: Fn(T) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.register(kind.name(), Arc::new(typed::TypedJob { kind: kind.name(), run, payload: std::marker::PhantomData }));
    }

    /// Every event on `topic` becomes a job of `kind`, which runs `on` with the decoded
    /// event. One kind may listen to several topics; each (kind, topic) pair once. Listen
    /// while the app is built, before anything publishes on `topic`: an event published while
    /// nothing listens to its topic is recorded as already dispatched.
    pub fn listen<T, F, Fut>(&self, topic: &Topic<T>, kind: &str, on: F)
    where
        T: serde::de::DeserializeOwned + Send + 'static,
        F: Fn(Event<T>) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.listeners.add(topic, kind, on);
        let router = typed::Router { kind: kind.to_string(), listeners: self.listeners.clone() };
        self.register(kind, Arc::new(router));
        self.subscribe(topic.name(), kind);
    }

    /// Writes a domain event in the caller's transaction; it is delivered to listeners after
    /// the transaction commits. An event nobody listens to is written already dispatched.
    pub async fn publish<T: Serialize>(&self, tx: &mut Tx<'_>, topic: &Topic<T>, data: &T) -> AppResult<Uuid> {
        Ok(self.publish_many(tx, &[(topic, data)]).await?[0])
    }

    /// Writes several events, in this order, with one multi-row insert (the booking writer
    /// publishes every booking of a batch this way).
    pub async fn publish_many<T: Serialize>(&self, tx: &mut Tx<'_>, events: &[(&Topic<T>, &T)]) -> AppResult<Vec<Uuid>> {
        // The lock guard must be gone before the await (the future has to be `Send`).
        let rows = {
            let subscribed = self.subscriptions.read().expect("subscriptions lock");
            let mut rows = Vec::with_capacity(events.len());
            for (topic, data) in events {
                let listened = subscribed.contains_key(topic.name());
                rows.push((topic.name(), topic.version(), serde_json::to_value(data)?, listened));
            }
            rows
        };
        write_outbox(tx, &rows).await
    }

    /// Enqueues a job in the caller's transaction, due now.
    pub async fn enqueue<T: Serialize>(&self, tx: &mut Tx<'_>, kind: &JobKind<T>, payload: &T) -> AppResult<JobId> {
        self.enqueue_at(tx, kind, payload, now()).await
    }

    pub async fn enqueue_at<T: Serialize>(
        &self,
        tx: &mut Tx<'_>,
        kind: &JobKind<T>,
        payload: &T,
        run_at: Timestamp,
    ) -> AppResult<JobId> {
        self.enqueue_with(tx, kind, payload, run_at, self.config.max_attempts).await
    }

    /// Enqueues a job with its own attempt budget (instead of `jobs.max_attempts`).
    pub async fn enqueue_with<T: Serialize>(
        &self,
        tx: &mut Tx<'_>,
        kind: &JobKind<T>,
        payload: &T,
        run_at: Timestamp,
        max_attempts: i64,
    ) -> AppResult<JobId> {
        self.insert_job(tx, kind.name(), &serde_json::to_value(payload)?, run_at, max_attempts).await
    }

    async fn insert_job(
        &self,
        tx: &mut Tx<'_>,
        kind: &str,
        payload: &serde_json::Value,
        run_at: Timestamp,
        max_attempts: i64,
    ) -> AppResult<JobId> {
        let id = JobId::new();
        let payload = Json(payload);
        let at = now();
        tx!(tx, |c| sqlx::query(
            "INSERT INTO jobs (id, kind, payload, status, attempts, max_attempts, run_at, created_at, updated_at) \
             VALUES ($1, $2, $3, 'queued', 0, $4, $5, $6, $6)"
        )
        .bind(id)
        .bind(kind)
        .bind(payload)
        .bind(max_attempts.max(1))
        .bind(run_at)
        .bind(at)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(id)
    }

    /// Wakes the dispatcher and workers (call after committing outbox rows or jobs).
    pub fn kick(&self) {
        self.wake.notify_waiters();
    }

    /// Starts the dispatcher and workers; they stop when `shutdown` is cancelled, letting
    /// running jobs finish.
    pub fn start(self: &Arc<Self>, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
        let jobs = self.clone();
        tokio::spawn(async move {
            let mut last_prune = std::time::Instant::now();
            loop {
                let dispatched = match jobs.dispatch_once().await {
                    Ok(n) => n,
                    Err(e) => {
                        tracing::warn!(error = %e, "outbox dispatch failed");
                        0
                    }
                };
                let ran = match jobs.work_once().await {
                    Ok(n) => n,
                    Err(e) => {
                        tracing::warn!(error = %e, "job claim failed");
                        0
                    }
                };
                if last_prune.elapsed() > Duration::from_secs(600) {
                    last_prune = std::time::Instant::now();
                    if let Err(e) = jobs.prune().await {
                        tracing::warn!(error = %e, "pruning finished jobs failed");
                    }
                }
                if dispatched > 0 || ran > 0 {
                    if shutdown.is_cancelled() {
                        break;
                    }
                    continue;
                }
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = jobs.wake.notified() => {}
                    _ = tokio::time::sleep(Duration::from_millis(jobs.config.poll_interval_ms)) => {}
                }
            }
            tracing::info!("job workers stopped");
        })
    }

    /// Moves pending outbox events into subscriber jobs. Returns how many events it handled.
    pub async fn dispatch_once(&self) -> anyhow::Result<usize> {
        // Look before locking, as `work_once` does: every commit wakes the dispatcher, and
        // opening a write transaction only to find nothing pending took SQLite's one writer
        // between every two booking batches of a rush.
        let pending: Option<(Uuid,)> = read!(&self.db, |c| sqlx::query_as(PENDING_EVENT).fetch_optional(c).await)?;
        if pending.is_none() {
            return Ok(0);
        }
        let mut tx = self.db.begin().await?;
        let rows: Vec<OutboxRow> = match tx.backend() {
            Backend::Postgres => tx!(&mut tx, |c| sqlx::query_as(
                "SELECT id, topic, version, payload, created_at FROM outbox WHERE dispatched_at IS NULL \
                 ORDER BY id LIMIT 100 FOR UPDATE SKIP LOCKED"
            )
            .fetch_all(c)
            .await)?,
            Backend::Sqlite => tx!(&mut tx, |c| sqlx::query_as(
                "SELECT id, topic, version, payload, created_at FROM outbox WHERE dispatched_at IS NULL ORDER BY id LIMIT 100"
            )
            .fetch_all(c)
            .await)?,
        };
        if rows.is_empty() {
            return Ok(0);
        }
        let at = now();
        for row in &rows {
            let kinds = self.subscriptions.read().expect("subscriptions lock").get(&row.topic).cloned().unwrap_or_default();
            let envelope = Envelope {
                id: row.id,
                topic: row.topic.clone(),
                version: u32::try_from(row.version).unwrap_or(1),
                occurred_at: row.created_at,
                data: row.payload.0.clone(),
            };
            for kind in kinds {
                let payload = serde_json::to_value(&envelope)?;
                self.insert_job(&mut tx, &kind, &payload, at, self.config.max_attempts)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            }
        }
        // Mark the whole batch in one statement (during a rush this runs once per hundred
        // events instead of once per event, on the writer every booking needs).
        match &mut tx {
            // Exactly the rows locked above (others may be locked by other nodes).
            Tx::Postgres(t) => {
                let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
                sqlx::query("UPDATE outbox SET dispatched_at = $1, updated_at = $1 WHERE id = ANY($2)")
                    .bind(at)
                    .bind(ids)
                    .execute(&mut **t)
                    .await?;
            }
            // The transaction holds the only writer connection: nothing was added since the
            // select, so the same query names the same rows.
            Tx::Sqlite(t) => {
                sqlx::query(
                    "UPDATE outbox SET dispatched_at = $1, updated_at = $1 WHERE id IN \
                     (SELECT id FROM outbox WHERE dispatched_at IS NULL ORDER BY id LIMIT $2)",
                )
                .bind(at)
                .bind(rows.len() as i64)
                .execute(&mut **t)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(rows.len())
    }

    /// Claims due jobs (up to the worker count), runs them concurrently, records outcomes.
    pub async fn work_once(&self) -> anyhow::Result<usize> {
        let at = now();
        let until = at + TimeDelta::seconds(LOCK_SECS);
        let limit = self.config.workers as i64;
        // Look before claiming: the claim is a write, and an idle node must not take the
        // (SQLite: database-wide) write lock every poll interval.
        let due: Option<(JobId,)> = read!(&self.db, |c| sqlx::query_as(DUE_JOB).bind(at).fetch_optional(c).await)?;
        if due.is_none() {
            return Ok(0);
        }
        let claimed: Vec<Claimed> = match self.db.backend() {
            Backend::Postgres => {
                let Db::Postgres(pool) = &self.db else { unreachable!() };
                sqlx::query_as(
                    "UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_by = $1, locked_until = $2, updated_at = $3 \
                     WHERE id IN (SELECT id FROM jobs WHERE (status = 'queued' AND run_at <= $3) \
                       OR (status = 'running' AND locked_until < $3) ORDER BY run_at LIMIT $4 FOR UPDATE SKIP LOCKED) \
                     RETURNING id, kind, payload, attempts, max_attempts",
                )
                .bind(&self.node)
                .bind(until)
                .bind(at)
                .bind(limit)
                .fetch_all(pool)
                .await?
            }
            Backend::Sqlite => {
                let Db::Sqlite { writer, .. } = &self.db else { unreachable!() };
                sqlx::query_as(
                    "UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_by = $1, locked_until = $2, updated_at = $3 \
                     WHERE id IN (SELECT id FROM jobs WHERE (status = 'queued' AND run_at <= $3) \
                       OR (status = 'running' AND locked_until < $3) ORDER BY run_at LIMIT $4) \
                     RETURNING id, kind, payload, attempts, max_attempts",
                )
                .bind(&self.node)
                .bind(until)
                .bind(at)
                .bind(limit)
                .fetch_all(writer)
                .await?
            }
        };
        let n = claimed.len();
        let mut set = tokio::task::JoinSet::new();
        for job in claimed {
            let handler = self.handlers.read().expect("handlers lock").get(&job.kind).cloned();
            set.spawn(async move {
                let outcome = match handler {
                    Some(h) => {
                        match tokio::time::timeout(Duration::from_secs(LOCK_SECS as u64 - 60), h.run(job.payload.0.clone())).await
                        {
                            Ok(r) => r,
                            Err(_) => Err(anyhow::anyhow!("timed out")),
                        }
                    }
                    None => Err(anyhow::anyhow!("no handler registered for job kind `{}`", job.kind)),
                };
                (job, outcome)
            });
        }
        let (mut done, mut failed) = (Vec::with_capacity(n), Vec::new());
        while let Some(joined) = set.join_next().await {
            let (job, outcome) = match joined {
                Ok(v) => v,
                Err(e) => {
                    tracing::error!(error = %e, "job task panicked");
                    continue;
                }
            };
            match outcome {
                Ok(()) => {
                    tracing::debug!(job = %job.id, kind = %job.kind, "job done");
                    done.push(job.id);
                }
                Err(e) => failed.push((job, e)),
            }
        }
        // Successes first, so a failure to record a failure cannot make them run again.
        let marked = self.finish_done(&done).await;
        for (job, e) in failed {
            self.finish(&job, Err(e)).await?;
        }
        marked?;
        Ok(n)
    }

    /// Marks jobs that succeeded done, all in one statement (one commit per round of
    /// workers, not one per job).
    async fn finish_done(&self, ids: &[JobId]) -> anyhow::Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let at = now();
        let mut tx = self.db.begin().await?;
        match &mut tx {
            Tx::Postgres(t) => {
                let ids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
                sqlx::query(
                    "UPDATE jobs SET status = 'done', locked_by = NULL, locked_until = NULL, updated_at = $1 WHERE id = ANY($2)",
                )
                .bind(at)
                .bind(ids)
                .execute(&mut **t)
                .await?;
            }
            Tx::Sqlite(t) => {
                let marks = vec!["?"; ids.len()].join(", ");
                let sql = format!(
                    "UPDATE jobs SET status = 'done', locked_by = NULL, locked_until = NULL, updated_at = ? WHERE id IN ({marks})"
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(at);
                for id in ids {
                    q = q.bind(*id);
                }
                q.execute(&mut **t).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records one job's outcome (failures: retry with backoff, or dead-letter).
    async fn finish(&self, job: &Claimed, outcome: anyhow::Result<()>) -> anyhow::Result<()> {
        let at = now();
        let mut tx = self.db.begin().await?;
        match outcome {
            Ok(()) => {
                tracing::debug!(job = %job.id, kind = %job.kind, "job done");
                tx!(&mut tx, |c| sqlx::query(
                    "UPDATE jobs SET status = 'done', locked_by = NULL, locked_until = NULL, updated_at = $1 WHERE id = $2"
                )
                .bind(at)
                .bind(job.id)
                .execute(c)
                .await
                .map(|r| r.rows_affected()))?;
            }
            Err(e) => {
                let error = format!("{e:#}");
                let (status, run_at) = if job.attempts >= job.max_attempts {
                    tracing::error!(job = %job.id, kind = %job.kind, attempts = job.attempts, error = %error, "job dead-lettered");
                    ("dead", at)
                } else {
                    let delay = self.backoff(job.attempts);
                    tracing::warn!(job = %job.id, kind = %job.kind, attempts = job.attempts, retry_in_ms = delay.num_milliseconds(), error = %error, "job failed; will retry");
                    ("queued", at + delay)
                };
                tx!(&mut tx, |c| {
                    sqlx::query(
                    "UPDATE jobs SET status = $1, run_at = $2, last_error = $3, locked_by = NULL, locked_until = NULL, updated_at = $4 WHERE id = $5"
                )
                .bind(status)
                .bind(run_at)
                .bind(&error)
                .bind(at)
                .bind(job.id)
                .execute(c)
                .await.map(|r| r.rows_affected())
                })?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// base · 2^(attempt−1), capped, with ±20 % jitter so failed jobs do not retry in lockstep.
    pub fn backoff(&self, attempt: i64) -> TimeDelta {
        let exp = (attempt - 1).clamp(0, 30) as u32;
        let raw = self.config.backoff_base_ms.saturating_mul(2u64.saturating_pow(exp)).min(self.config.backoff_max_ms);
        let jitter = rand::thread_rng().gen_range(0.8..=1.2);
        TimeDelta::milliseconds((raw as f64 * jitter) as i64)
    }

    async fn prune(&self) -> anyhow::Result<()> {
        let cutoff = now() - TimeDelta::days(RETENTION_DAYS);
        let mut tx = self.db.begin().await?;
        tx!(&mut tx, |c| sqlx::query("DELETE FROM jobs WHERE status = 'done' AND updated_at < $1")
            .bind(cutoff)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        tx!(&mut tx, |c| sqlx::query("DELETE FROM outbox WHERE dispatched_at IS NOT NULL AND dispatched_at < $1")
            .bind(cutoff)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        tx.commit().await?;
        Ok(())
    }

    /// Jobs, newest first, optionally of one status (admin API).
    pub async fn list(&self, status: Option<JobStatus>, page: &PageParams) -> AppResult<Page<JobView>> {
        let limit = page.limit()?;
        let before: Option<JobId> = page.decode()?;
        let status = status.map(JobStatus::as_str);
        let rows: Vec<JobView> = read!(&self.db, |c| sqlx::query_as(
            "SELECT id, kind, status, attempts, max_attempts, run_at, last_error, payload, created_at, updated_at FROM jobs \
             WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3"
        )
        .bind(status)
        .bind(before)
        .bind(limit + 1)
        .fetch_all(c)
        .await)?;
        Ok(Page::from_rows(rows.into_iter().map(redact).collect(), limit, |j| j.id))
    }

    /// Puts a dead job back in the queue with a fresh attempt budget.
    pub async fn retry(&self, id: JobId) -> AppResult<JobView> {
        let at = now();
        let mut tx = self.db.begin().await?;
        let row: Option<JobView> = tx!(&mut tx, |c| sqlx::query_as(
            "UPDATE jobs SET status = 'queued', attempts = 0, run_at = $1, updated_at = $1 WHERE id = $2 AND status = 'dead' \
             RETURNING id, kind, status, attempts, max_attempts, run_at, last_error, payload, created_at, updated_at"
        )
        .bind(at)
        .bind(id)
        .fetch_optional(c)
        .await)?;
        let Some(row) = row else {
            let exists: Option<(JobId,)> =
                tx!(&mut tx, |c| sqlx::query_as("SELECT id FROM jobs WHERE id = $1").bind(id).fetch_optional(c).await)?;
            return Err(match exists {
                Some(_) => AppError::conflict("job_not_dead", "only dead jobs can be retried"),
                None => AppError::not_found("job"),
            });
        };
        tx.commit().await?;
        self.kick();
        Ok(redact(row))
    }

    /// Number of jobs per status, for metrics.
    pub async fn depth(&self) -> AppResult<Vec<(String, i64)>> {
        Ok(read!(&self.db, |c| sqlx::query_as("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetch_all(c).await)?)
    }
}
