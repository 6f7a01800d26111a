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
//! of statements rather than a handful per booking. Inventory is taken in stages — buyer counters, then vouchers,
//! then quotas, each in key order — which is the lock order of every other transaction that
//! changes inventory (cancel, expiry, late payment), so batches of several nodes and
//! concurrent cancellations wait for each other but never deadlock. If anything unexpected
//! fails, the batch is rolled back and each booking is written again in a transaction of
//! its own, so one bad booking cannot fail the others.

use std::sync::Weak;
use std::time::{Duration, Instant};

use kernel::time::{Timestamp, now};
use kernel::{AppError, AppResult, Backend, Db, Held, Kernel, Tx};
use secrecy::ExposeSecret;
use tokio::sync::{mpsc, oneshot};

use super::TicketingService;
use super::bookings::{NewBooking, Shortfall};
use events::EventId;
use kernel::id::OrgId;

use crate::domain::{self, QuotaId, VoucherId};
use crate::store::{self, BookingRecord};

/// Connections of the writer's own PostgreSQL pool.
const WRITER_CONNECTIONS: u32 = 2;
/// Most bookings in one transaction. Larger batches cost less per booking, but all of a
/// batch's answers go out at once, and while the request workers serve that wave (and the
/// buyers' next requests come back) the writer has little to do: timing every batch of a
/// PostgreSQL rush showed runs of full batches followed by runs of 1–20 bookings. 96 (about
/// 13 ms of writer time on PostgreSQL here) measured the narrowest tail in alternating runs
/// against 32–256, at the same throughput (docs/benchmarks.md).
const MAX_BATCH: usize = 96;
/// Bookings waiting for the writer before callers wait to enqueue.
const QUEUE: usize = 4096;
/// Longest the writer keeps SQLite's one writer connection from every other write.
const SQLITE_HOLD: Duration = Duration::from_millis(50);

pub(super) struct Job {
    new: NewBooking,
    reply: oneshot::Sender<AppResult<Option<Shortfall>>>,
}

/// The queue into the writer.
pub(super) struct Writer(mpsc::Sender<Job>);

impl Writer {
    /// Starts the writer; it ends when the service is dropped.
    ///
    /// It runs on a thread of its own, so the replies to its statements are not read by a
    /// reactor busy with every request of the rush: on a loaded node that delay, not the
    /// database, set the pace (PostgreSQL: 1.3 ms per booking instead of 0.7; SQLite, where
    /// each statement is a hand-off to the connection's own thread and back, 3,850 → 4,350
    /// orders/s in alternating runs). On PostgreSQL it also has connections of its own; on
    /// SQLite it shares the one writer connection with every other write.
    pub(super) fn start(service: Weak<TicketingService>, kernel: &Kernel) -> anyhow::Result<Writer> {
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
async fn run(service: Weak<TicketingService>, mut rx: mpsc::Receiver<Job>, db: Db) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut held: Option<(Held, Instant)> = None;
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let Some(svc) = service.upgrade() else { break };
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
        if !svc.write_batch(conn, &mut batch).await {
            // The connection failed: take a fresh one for the next batch.
            held = None;
        }
        if db.backend() == Backend::Sqlite && rx.is_empty() {
            held = None;
        }
    }
}

impl TicketingService {
    /// Writes a new booking through the group-commit writer (in a transaction of its own if
    /// the writer is not running). `Some(shortfall)`: nothing was written.
    pub(super) async fn commit_booking(&self, new: &NewBooking) -> AppResult<Option<Shortfall>> {
        let Some(Writer(queue)) = &self.writer else { return self.write_booking(self.db(), new).await };
        let (reply, answer) = oneshot::channel();
        let job = Job { new: new.clone(), reply };
        if queue.send(job).await.is_err() {
            return self.write_booking(self.db(), new).await;
        }
        answer.await.map_err(|_| AppError::internal("the booking writer stopped"))?
    }

    /// Writes a batch in one transaction, or each booking in one of its own if that fails.
    /// False when the connection could not even begin a transaction.
    async fn write_batch(&self, conn: &mut Held, jobs: &mut Vec<Job>) -> bool {
        if jobs.len() > 1 {
            match self.try_batch(conn, jobs).await {
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
                Ok(tx) => self.write_booking_in(tx, &job.new).await,
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

    /// One transaction for the whole batch: every booking's inventory in stages (buyer
    /// counters, vouchers, quotas — each stage in key order, the same lock order as every
    /// other inventory transaction, so batches on several nodes and concurrent
    /// cancellations cannot deadlock), then the rows of the bookings that got theirs.
    async fn try_batch(&self, conn: &mut Held, jobs: &[Job]) -> AppResult<Vec<Option<Shortfall>>> {
        let at = now();
        let mut tx = conn.begin().await?;
        let n = jobs.len();
        let bookings: Vec<&BookingRecord> = jobs.iter().map(|j| &j.new.booking).collect();
        let buyers: Vec<String> = bookings.iter().map(|b| domain::buyer_key(&b.buyer_email)).collect();
        let mut short: Vec<Option<Shortfall>> = vec![None; n];
        let mut seats: Vec<Vec<(QuotaId, i64)>> = vec![Vec::new(); n];

        // Gives back what booking `i` took so far (rows this transaction has locked already).
        async fn undo(
            tx: &mut Tx<'_>,
            b: &BookingRecord,
            buyer: &str,
            voucher: bool,
            seats: &[(QuotaId, i64)],
            at: Timestamp,
        ) -> AppResult<()> {
            for (q, n) in seats {
                store::release_seats(tx, *q, *n, at).await?;
            }
            if voucher && let Some(v) = b.voucher_id {
                store::release_voucher(tx, v, at).await?;
            }
            store::uncount_buyer(tx, b.event_id, buyer, b.quantity, at).await?;
            Ok(())
        }

        // Buyer counts: without a cap (the usual case) one statement adds every buyer's
        // tickets; with one, each booking is a conditional upsert of its own.
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| (bookings[a].event_id, &buyers[a]).cmp(&(bookings[b].event_id, &buyers[b])));
        if jobs.iter().all(|j| j.new.max_per_buyer.is_none()) {
            let mut counts: Vec<(OrgId, EventId, &str, i64)> = Vec::with_capacity(n);
            for &i in &order {
                let b = bookings[i];
                match counts.last_mut() {
                    Some(last) if last.1 == b.event_id && last.2 == buyers[i] => last.3 += b.quantity,
                    _ => counts.push((b.org_id, b.event_id, buyers[i].as_str(), b.quantity)),
                }
            }
            store::count_buyers_uncapped(&mut tx, &counts, at).await?;
        } else {
            for &i in &order {
                let (b, max) = (bookings[i], jobs[i].new.max_per_buyer.unwrap_or(i64::MAX));
                if store::count_buyer(&mut tx, b.org_id, b.event_id, &buyers[i], b.quantity, max, at).await? == 0 {
                    short[i] = Some(Shortfall::Buyer);
                }
            }
        }
        let mut with_voucher: Vec<(VoucherId, usize)> =
            (0..n).filter(|&i| short[i].is_none()).filter_map(|i| bookings[i].voucher_id.map(|v| (v, i))).collect();
        with_voucher.sort();
        for (v, i) in with_voucher {
            if store::use_voucher(&mut tx, v, at).await? == 0 {
                short[i] = Some(Shortfall::Voucher);
                undo(&mut tx, bookings[i], &buyers[i], false, &[], at).await?;
            }
        }
        // Seats, quota by quota in id order: first everything the batch wants from the quota
        // in one conditional update; if that does not fit, booking by booking, so the
        // remaining seats go to the earliest bookings that fit.
        let mut takes: Vec<(QuotaId, usize, i64)> = (0..n)
            .filter(|&i| short[i].is_none())
            .flat_map(|i| bookings[i].allocations.0.iter().map(move |a| (a.quota_id, i, a.quantity)))
            .collect();
        takes.sort();
        for group in takes.chunk_by(|a, b| a.0 == b.0) {
            let q = group[0].0;
            let wanted: Vec<(usize, i64)> =
                group.iter().filter(|(_, i, _)| short[*i].is_none()).map(|&(_, i, qty)| (i, qty)).collect();
            let total: i64 = wanted.iter().map(|(_, qty)| qty).sum();
            if wanted.len() > 1 && store::take_seats(&mut tx, q, total, at).await? == 1 {
                for (i, qty) in wanted {
                    seats[i].push((q, qty));
                }
                continue;
            }
            for (i, qty) in wanted {
                if store::take_seats(&mut tx, q, qty, at).await? == 0 {
                    short[i] = Some(Shortfall::Quota(q));
                    undo(&mut tx, bookings[i], &buyers[i], true, &seats[i], at).await?;
                } else {
                    seats[i].push((q, qty));
                }
            }
        }

        let written: Vec<&NewBooking> = jobs.iter().zip(&short).filter(|(_, s)| s.is_none()).map(|(j, _)| &j.new).collect();
        if !written.is_empty() {
            self.insert_bookings_rows(&mut tx, &written).await?;
        }
        self.kernel.commit(tx).await?;
        Ok(short)
    }
}
