//! WAL checkpoints for SQLite, off the writer's path.
//!
//! SQLite's default is that the connection whose commit brings the write-ahead log past 1,000
//! pages copies the log into the database file and syncs it, inside that commit. Backline
//! has one writer connection, so in an on-sale rush every few booking batches stalled for a
//! checkpoint and its two `fsync`s, which more than doubled the commit time of the booking
//! writer during a rush (figures in `docs/benchmarks.md`, "SQLite checkpoints off the
//! writer's path").
//!
//! So the writer never checkpoints (`wal_autocheckpoint=0`), and this task does, on a
//! connection of its own, every [`INTERVAL`]:
//!
//! * after commits, a `PASSIVE` checkpoint copies what it can without waiting for anyone;
//!   readers and the writer carry on;
//! * once a whole interval went by without a commit, a `TRUNCATE` checkpoint on the writer
//!   connection empties the log file, so the next commit starts it again from the beginning.
//!   A log that is written to continuously is never reset by passive checkpoints (each
//!   commit appends while the last one is being copied), and a reset blocks writers while it
//!   syncs (tens of milliseconds in a rush), so it waits for a quiet moment — unless the log
//!   passes [`LOG_CAP_PAGES`], when it is reset anyway. The reset takes the writer from the
//!   pool like any write, so it queues in-process instead of in SQLite's busy loop.
//!
//! The task ends when the last handle of the database is dropped or closed.

use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, SqlitePool};
use tokio_util::sync::{CancellationToken, DropGuard};

/// How often the log is looked at.
const INTERVAL: Duration = Duration::from_millis(100);
/// A log longer than this (1 GiB of 4 KiB pages) is reset even while writes go on.
const LOG_CAP_PAGES: i64 = 262_144;
/// What every connection waits for a lock (`Db::connect` sets the same).
const BUSY_TIMEOUT: &str = "PRAGMA busy_timeout = 10000";
/// Size the log file is trimmed to when a writer starts it again (after a reset at the cap).
pub(super) const JOURNAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

/// Stops the checkpoint task when the last clone of the database handle goes.
pub struct Checkpoints {
    stop: CancellationToken,
    _guard: DropGuard,
}

impl std::fmt::Debug for Checkpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Checkpoints")
    }
}

impl Checkpoints {
    pub(super) fn stop(&self) {
        self.stop.cancel();
    }
}

/// Starts checkpointing the database `opts` points at, whose writer pool is `writer`.
pub(super) async fn start(opts: &SqliteConnectOptions, writer: SqlitePool) -> anyhow::Result<Arc<Checkpoints>> {
    let conn = opts.connect().await?;
    let stop = CancellationToken::new();
    tokio::spawn(run(conn, writer, stop.clone()));
    Ok(Arc::new(Checkpoints { _guard: stop.clone().drop_guard(), stop }))
}

async fn run(mut conn: SqliteConnection, writer: SqlitePool, stop: CancellationToken) {
    let mut log = Log::default();
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(INTERVAL) => {}
        }
        if let Err(e) = log.round(&mut conn, &writer).await {
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
    }
    let _ = sqlx::Connection::close(conn).await;
}

/// What the task knows of the log.
#[derive(Default)]
struct Log {
    /// `data_version` at the last round: it changes with every commit of another connection.
    version: Option<i64>,
    /// Pages in the log after the last checkpoint (0: emptied).
    pages: i64,
}

impl Log {
    async fn round(&mut self, conn: &mut SqliteConnection, writer: &SqlitePool) -> sqlx::Result<()> {
        let (version,): (i64,) = sqlx::query_as("PRAGMA data_version").fetch_one(&mut *conn).await?;
        if self.version == Some(version) {
            if self.pages > 0 && reset(writer).await? {
                self.pages = 0;
            }
            return Ok(());
        }
        self.version = Some(version);
        let (_busy, pages, _copied): (i64, i64, i64) =
            sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(&mut *conn).await?;
        self.pages = pages;
        if pages > LOG_CAP_PAGES && reset(writer).await? {
            self.pages = 0;
        }
        Ok(())
    }
}

/// A `TRUNCATE` checkpoint on the writer connection; false when a reader still on an old
/// snapshot (a long export) kept it from finishing. Writers wait behind it, so it gives such
/// a reader a few milliseconds only, and is tried again next round.
async fn reset(writer: &SqlitePool) -> sqlx::Result<bool> {
    let mut w = writer.acquire().await?;
    sqlx::query("PRAGMA busy_timeout = 20").execute(&mut *w).await?;
    let done: sqlx::Result<(i64, i64, i64)> = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(&mut *w).await;
    sqlx::query(BUSY_TIMEOUT).execute(&mut *w).await?;
    Ok(done?.0 == 0)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use crate::db::Db;
    use crate::tx;

    /// Runs one statement in the test's transaction.
    async fn execute(t: &mut crate::db::Tx<'_>, sql: &'static str) {
        tx!(t, |c| sqlx::query(sql).execute(c).await.map(|r| r.rows_affected())).unwrap();
    }

    /// Frames in the log, as a passive checkpoint from a connection of the test sees them.
    async fn log_pages(conn: &mut sqlx::SqliteConnection) -> i64 {
        let (_busy, log, _copied): (i64, i64, i64) =
            sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(&mut *conn).await.unwrap();
        log
    }

    #[tokio::test]
    async fn the_log_is_copied_into_the_database_and_emptied_without_the_writer() {
        let dir = std::env::temp_dir().join(format!("backline-checkpoint-{}", uuid::Uuid::new_v4().simple()));
        let path = dir.join("test.db");
        let url = format!("sqlite://{}", path.display());
        let db = Db::connect(&url, 2).await.unwrap();
        let mut t = db.begin().await.unwrap();
        execute(&mut t, "CREATE TABLE blobs (id INTEGER PRIMARY KEY, body BLOB NOT NULL)").await;
        t.commit().await.unwrap();
        let before = std::fs::metadata(&path).unwrap().len();
        // About 3,000 pages in 30 commits: three times the 1,000 pages at which SQLite's own
        // automatic checkpoint (turned off on the writer) would have run.
        for _ in 0..30 {
            let mut t = db.begin().await.unwrap();
            for _ in 0..100 {
                execute(&mut t, "INSERT INTO blobs (body) VALUES (zeroblob(4000))").await;
            }
            t.commit().await.unwrap();
        }
        // Copied into the database file by the checkpoint task, then, once nothing was
        // committed for an interval, the log file is emptied.
        let mut probe = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let grown = std::fs::metadata(&path).unwrap().len() > before + 10_000_000;
            let wal = std::fs::metadata(dir.join("test.db-wal")).map(|m| m.len()).unwrap_or(0);
            if grown && wal == 0 && log_pages(&mut probe).await == 0 {
                break;
            }
            assert!(Instant::now() < deadline, "the log was not checkpointed and emptied");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (rows,): (i64,) = crate::read!(&db, |c| sqlx::query_as("SELECT COUNT(*) FROM blobs").fetch_one(c).await).unwrap();
        assert_eq!(rows, 3000);
        sqlx::Connection::close(probe).await.unwrap();
        db.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
