//! Group commit of new bookings.
//!
//! During a rush every booking of an event takes seats from the same quota row. On SQLite
//! the single writer serializes all transactions; on PostgreSQL the quota's row lock does,
//! from a transaction's update of it until its commit (including the WAL flush). Either way
//! a transaction's fixed costs — `BEGIN`, `COMMIT` and its flush, a round trip per
//! statement — cap the rush. The writer task takes every booking that queued up while it
//! was writing and writes them in one transaction, then answers each buyer after the one
//! commit.
//!
//! Correctness is the same as one transaction per booking: every seat is still taken by a
//! conditional update that sees all earlier ones — for each quota, first one update for
//! everything the batch wants from it (`taken + total <= capacity`), and only if that does
//! not fit, one per booking; a booking that finds no room gives back, in the same
//! transaction, what it took before, and gets no rows; a booking's rows and its inventory
//! commit together. The rows themselves are written kind by kind with multi-row inserts
//! (bookings, positions, tickets, audit records, outbox events), so a batch costs a handful
//! of statements rather than a handful per booking. Inventory is taken in stages by
//! [`crate::inventory`] — buyer counters, then vouchers, then quotas, each in key order —
//! which is the lock order of every other transaction that changes inventory (cancel,
//! expiry, late payment), so batches of several nodes and concurrent cancellations wait for
//! each other but never deadlock. If anything unexpected
//! fails, the batch is rolled back and each booking is written again in a transaction of
//! its own, so one bad booking cannot fail the others.

use std::sync::Weak;
use std::time::{Duration, Instant};

use kernel::time::now;
use kernel::{AppError, AppResult, Backend, Db, Held, Kernel};
use secrecy::ExposeSecret;
use tokio::sync::{mpsc, oneshot};

use crate::bookings::{Bookings, NewBooking};
use crate::inventory::{self, Claim, OnShortfall, Shortfall};
use crate::shared::state::Shared;

/// Connections of the writer's own PostgreSQL pool.
const WRITER_CONNECTIONS: u32 = 2;
/// Most bookings in one transaction. Larger batches cost less per booking, but all of a
/// batch's answers go out at once, and while the request workers serve that wave (and the
/// buyers' next requests come back) the writer has little to do: a rush alternates runs of
/// full batches with runs of tiny ones. A smaller cap keeps the waves short, so buyers' slowest
/// answers come sooner, without costing throughput; why this value, and the runs that chose
/// it, are in `docs/benchmarks.md`.
const MAX_BATCH: usize = 96;
/// Bookings waiting for the writer before callers wait to enqueue.
const QUEUE: usize = 4096;
/// Longest the writer keeps SQLite's one writer connection from every other write.
const SQLITE_HOLD: Duration = Duration::from_millis(50);

pub(crate) struct Job {
    new: NewBooking,
    reply: oneshot::Sender<AppResult<Option<Shortfall>>>,
}

/// The queue into the writer.
pub(crate) struct Writer(mpsc::Sender<Job>);

impl Writer {
    /// Starts the writer; it ends when the service is dropped.
    ///
    /// It runs on a thread of its own, so the replies to its statements are not read by a
    /// reactor busy with every request of the rush: on a loaded node that delay, not the
    /// database, set the pace — on PostgreSQL, and more so on SQLite, where each statement is
    /// a hand-off to the connection's own thread and back (measurements in
    /// `docs/benchmarks.md`). On PostgreSQL it also has connections of its own; on SQLite it
    /// shares the one writer connection with every other write.
    pub(crate) fn start(service: Weak<Shared>, kernel: &Kernel) -> anyhow::Result<Writer> {
        let (tx, rx) = mpsc::channel::<Job>(QUEUE);
        let shared = kernel.db.clone();
        let own_url = (shared.backend() == Backend::Postgres).then(|| kernel.config.database.url.expose_secret().to_string());
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        std::thread::Builder::new().name("booking-writer".into()).spawn(move || {
            runtime.block_on(async move {
                let own = match own_url {
                    Some(url) => match Db::connect(&url, WRITER_CONNECTIONS).await {
                        Ok(db) => Some(db),
                        Err(e) => {
                            tracing::error!(error = %e, "booking writer cannot connect; sharing the main pool");
                            None
                        }
                    },
                    None => None,
                };
                run(service, rx, own.clone().unwrap_or(shared)).await;
                if let Some(db) = own {
                    db.close().await;
                }
            })
        })?;
        Ok(Writer(tx))
    }
}

/// Writes queued bookings, a batch at a time, until the queue closes. The writer keeps its
/// connection between batches ([`Held`]): for good on PostgreSQL (a pool of its own), and on
/// SQLite, where it is the one writer every other write needs too, only while bookings keep
/// coming and for at most [`SQLITE_HOLD`] at a time.
async fn run(service: Weak<Shared>, mut rx: mpsc::Receiver<Job>, db: Db) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut held: Option<(Held, Instant)> = None;
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let Some(shared) = service.upgrade() else { break };
        let svc = shared.bookings();
        if db.backend() == Backend::Sqlite && held.as_ref().is_some_and(|(_, since)| since.elapsed() > SQLITE_HOLD) {
            held = None;
        }
        if held.is_none() {
            match db.hold().await {
                Ok(conn) => held = Some((conn, Instant::now())),
                Err(e) => {
                    for job in batch.drain(..) {
                        let _ = job.reply.send(Err(AppError::internal(format!("the booking writer has no connection: {e}"))));
                    }
                    continue;
                }
            }
        }
        let Some((conn, _)) = held.as_mut() else { continue };
        if !write_batch(&svc, conn, &mut batch).await {
            // The connection failed: take a fresh one for the next batch.
            held = None;
        }
        if db.backend() == Backend::Sqlite && rx.is_empty() {
            held = None;
        }
    }
}

/// Writes a new booking through the group-commit writer (in a transaction of its own if
/// the writer is not running). `Some(shortfall)`: nothing was written.
pub(crate) async fn commit(svc: &Bookings, new: &NewBooking) -> AppResult<Option<Shortfall>> {
    let Some(Writer(queue)) = &svc.writer else { return svc.write_booking(svc.db(), new).await };
    let (reply, answer) = oneshot::channel();
    let job = Job { new: new.clone(), reply };
    if queue.send(job).await.is_err() {
        return svc.write_booking(svc.db(), new).await;
    }
    answer.await.map_err(|_| AppError::internal("the booking writer stopped"))?
}

/// Writes a batch in one transaction, or each booking in one of its own if that fails.
/// False when the connection could not even begin a transaction.
async fn write_batch(svc: &Bookings, conn: &mut Held, jobs: &mut Vec<Job>) -> bool {
    if jobs.len() > 1 {
        match try_batch(svc, conn, jobs).await {
            Ok(results) => {
                for (job, result) in jobs.drain(..).zip(results) {
                    let _ = job.reply.send(Ok(result));
                }
                return true;
            }
            Err(e) => tracing::debug!(error = %e, bookings = jobs.len(), "booking batch failed; writing one by one"),
        }
    }
    let (mut usable, mut dropped) = (true, false);
    for job in jobs.drain(..) {
        let result = match conn.begin().await {
            Ok(tx) => svc.write_booking_in(tx, &job.new).await,
            Err(e) => {
                usable = false;
                Err(e.into())
            }
        };
        dropped |= !matches!(result, Ok(None));
        let _ = job.reply.send(result);
    }
    // A booking without room (or one that failed) dropped its transaction; its rollback
    // must not wait for the next batch.
    if usable && dropped && conn.settle().await.is_err() {
        usable = false;
    }
    usable
}

/// One transaction for the whole batch: every booking's inventory (see
/// [`inventory::take`]: stage by stage in the lock order of every other inventory
/// transaction, so batches on several nodes and concurrent cancellations cannot deadlock),
/// then the rows of the bookings that got theirs.
async fn try_batch(svc: &Bookings, conn: &mut Held, jobs: &[Job]) -> AppResult<Vec<Option<Shortfall>>> {
    let at = now();
    let mut tx = conn.begin().await?;
    let claims: Vec<Claim> = jobs.iter().map(|j| Claim::of(&j.new.booking, j.new.max_per_buyer)).collect();
    let short = inventory::take(&mut tx, &claims, OnShortfall::GiveBack, at).await?;
    let written: Vec<&NewBooking> = jobs.iter().zip(&short).filter(|(_, s)| s.is_none()).map(|(j, _)| &j.new).collect();
    if !written.is_empty() {
        svc.insert_bookings_rows(&mut tx, &written).await?;
    }
    svc.kernel.commit(tx).await?;
    Ok(short)
}
