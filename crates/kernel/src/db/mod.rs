//! The database: SQLite (embedded default) or PostgreSQL, chosen by the URL scheme.
//!
//! Conventions: every query is written once, with `$1…` placeholders that both backends
//! accept, and run through [`read!`](crate::read) (a pool) or [`tx!`](crate::tx) (a
//! transaction). The macros expand the same body once per backend, so the row types decode
//! natively on each side. Backend-specific SQL (full-text search, `FOR UPDATE SKIP LOCKED`) is
//! rare and kept in clearly marked `match db.backend()` blocks.
//!
//! SQLite runs in WAL mode with one writer connection and a pool of readers, so writers
//! queue in-process instead of failing with `SQLITE_BUSY`.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Postgres, Sqlite, SqlitePool, Transaction};

mod checkpoint;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A handle to the database; cheap to clone.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite { writer: SqlitePool, reader: SqlitePool, checkpoints: Arc<checkpoint::Checkpoints> },
    Postgres(PgPool),
}

/// An open transaction on either backend. Dropped without [`Tx::commit`] it rolls back.
/// `'c` is `'static` for a transaction on a pooled connection ([`Db::begin`]) and the
/// borrow of the connection for one on a [`Held`] connection.
pub enum Tx<'c> {
    Sqlite(Transaction<'c, Sqlite>),
    Postgres(Transaction<'c, Postgres>),
}

/// A connection taken out of the pool and kept across transactions (the booking writer's).
///
/// A transaction on a pooled connection hands the connection back when it ends, and the pool
/// then pings it from a task of its own before anyone can take it again: a spawned task and a
/// round trip between every two transactions of a writer that does nothing else (a large
/// share of every PostgreSQL batch of an on-sale rush: `docs/benchmarks.md`). Transactions on a held
/// connection only pay their `BEGIN` and `COMMIT`. On SQLite the held connection is the one
/// writer: hold it only while there is work, and give it back regularly.
pub enum Held {
    Sqlite(sqlx::pool::PoolConnection<Sqlite>),
    Postgres(sqlx::pool::PoolConnection<Postgres>),
}

impl Held {
    /// Begins a transaction on the held connection (SQLite: `BEGIN IMMEDIATE`, as
    /// [`Db::begin`]).
    pub async fn begin(&mut self) -> Result<Tx<'_>, sqlx::Error> {
        use sqlx::Connection;
        Ok(match self {
            Held::Sqlite(c) => Tx::Sqlite(c.begin_with("BEGIN IMMEDIATE").await?),
            Held::Postgres(c) => Tx::Postgres(c.begin().await?),
        })
    }

    /// Round-trips to the database, which also sends what a transaction dropped without
    /// commit left queued: PostgreSQL's rollback goes out with the connection's next command,
    /// and on a held connection that can be long after, with the transaction's locks held
    /// meanwhile. Call it after dropping a transaction unless another one begins at once.
    pub async fn settle(&mut self) -> Result<(), sqlx::Error> {
        use sqlx::Connection;
        match self {
            Held::Sqlite(c) => c.ping().await,
            Held::Postgres(c) => c.ping().await,
        }
    }
}

/// Runs `$body` against a pool (reads): `read!(db, |c| query.fetch_one(c).await)`.
#[macro_export]
macro_rules! read {
    ($db:expr, |$c:ident| $body:expr) => {{
        $crate::context::note_query();
        match $db {
            $crate::db::Db::Sqlite { reader: $c, .. } => $body,
            $crate::db::Db::Postgres($c) => $body,
        }
    }};
}

/// Runs `$body` inside a transaction: `tx!(tx, |c| query.execute(c).await.map(|r| r.rows_affected()))`.
#[macro_export]
macro_rules! tx {
    ($tx:expr, |$c:ident| $body:expr) => {{
        $crate::context::note_query();
        match $tx {
            $crate::db::Tx::Sqlite(t) => {
                let $c = &mut **t;
                $body
            }
            $crate::db::Tx::Postgres(t) => {
                let $c = &mut **t;
                $body
            }
        }
    }};
}

/// The `VALUES` list of a multi-row insert: `rows` tuples of `columns` placeholders —
/// placeholders only, never data, so the text is safe to build. PostgreSQL gets numbered
/// ones (`($1, $2), ($3, $4)`); SQLite gets anonymous `?` (bound in order), because looking a
/// numbered parameter up by name is linear in SQLite, which makes binding a statement with
/// thousands of them quadratic. Keep `columns × rows` under SQLite's 32,766 parameters.
pub fn values_list(backend: Backend, columns: usize, rows: usize) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(rows * columns * 5);
    for r in 0..rows {
        out.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..columns {
            out.push_str(if c == 0 { "" } else { ", " });
            match backend {
                Backend::Postgres => {
                    let _ = write!(out, "${}", r * columns + c + 1);
                }
                Backend::Sqlite => out.push('?'),
            }
        }
        out.push(')');
    }
    out
}

/// Row counts of the statements [`insert_chunks`] cuts a multi-row insert into.
pub const CHUNK_SIZES: [usize; 9] = [256, 128, 64, 32, 16, 8, 4, 2, 1];

/// Splits rows for multi-row inserts into chunks of 256 rows, then at most one each of 128,
/// 64, …, 1 (the binary digits of the rest), so a batch of up to 256 rows is at most eight
/// statements and each kind of insert has at most nine statement texts, which stay prepared
/// in the connection's statement cache whatever the batch sizes.
pub fn insert_chunks<T>(rows: &[T]) -> Vec<&[T]> {
    let mut out = Vec::new();
    let mut rest = rows;
    for size in CHUNK_SIZES {
        while rest.len() >= size {
            let (chunk, tail) = rest.split_at(size);
            out.push(chunk);
            rest = tail;
        }
    }
    out
}

/// The SQL texts of one multi-row insert site ([`insert_rows!`](crate::insert_rows)), built on
/// first use and kept for the life of the process.
///
/// PostgreSQL gets one statement for any number of rows, taking one array per column:
/// `INSERT INTO t (a, b) SELECT * FROM UNNEST($1::uuid[], $2::text[])`. Its text never
/// changes, so it is prepared once per connection, and the server compiles two expressions,
/// where a `VALUES` list of 64 rows of 25 columns is 1,600 parameters and expressions that
/// each execution binds and initializes again. SQLite has no arrays: it gets a `VALUES` list
/// per chunk size (see [`insert_chunks`]).
pub struct RowInsert {
    into: &'static str,
    columns: &'static [&'static str],
    pg_types: &'static [&'static str],
    suffix: &'static str,
    postgres: std::sync::OnceLock<String>,
    sqlite: [std::sync::OnceLock<String>; CHUNK_SIZES.len()],
}

impl RowInsert {
    /// `into`: the table; `columns` and their PostgreSQL types (without `[]`); `suffix`: SQL
    /// after the rows (`ON CONFLICT …`), or empty.
    pub const fn new(
        into: &'static str,
        columns: &'static [&'static str],
        pg_types: &'static [&'static str],
        suffix: &'static str,
    ) -> RowInsert {
        assert!(columns.len() == pg_types.len(), "one PostgreSQL type per column");
        RowInsert {
            into,
            columns,
            pg_types,
            suffix,
            postgres: std::sync::OnceLock::new(),
            sqlite: [const { std::sync::OnceLock::new() }; CHUNK_SIZES.len()],
        }
    }

    /// The PostgreSQL statement: one array parameter per column.
    pub fn postgres(&'static self) -> &'static str {
        self.postgres.get_or_init(|| {
            let arrays: Vec<String> = self.pg_types.iter().enumerate().map(|(i, ty)| format!("${}::{ty}[]", i + 1)).collect();
            format!(
                "INSERT INTO {} ({}) SELECT * FROM UNNEST({}){}{}",
                self.into,
                self.columns.join(", "),
                arrays.join(", "),
                if self.suffix.is_empty() { "" } else { " " },
                self.suffix
            )
        })
    }

    /// The SQLite statement for a chunk of `rows` rows (one of [`CHUNK_SIZES`]).
    pub fn sqlite(&'static self, rows: usize) -> &'static str {
        let slot = CHUNK_SIZES.iter().position(|&n| n == rows).expect("a chunk size of insert_chunks");
        self.sqlite[slot].get_or_init(|| {
            format!(
                "INSERT INTO {} ({}) VALUES {}{}{}",
                self.into,
                self.columns.join(", "),
                values_list(Backend::Sqlite, self.columns.len(), rows),
                if self.suffix.is_empty() { "" } else { " " },
                self.suffix
            )
        })
    }
}

/// Inserts many rows in a transaction, each column named once with its PostgreSQL type and
/// its value per row; evaluates to `Result<u64, sqlx::Error>` (rows affected):
///
/// ```ignore
/// insert_rows!(tx, "tickets", tickets, |t| {
///     "id": "uuid" = t.id,
///     "code": "text" = t.code.as_str(),
/// })
/// ```
///
/// On PostgreSQL it is one `UNNEST` statement for all rows; on SQLite a `VALUES` statement
/// per chunk (see [`RowInsert`]). A suffix (`ON CONFLICT …`) may follow the columns.
#[macro_export]
macro_rules! insert_rows {
    ($tx:expr, $into:literal, $rows:expr, |$r:ident| { $($col:literal : $ty:literal = $val:expr),+ $(,)? } $(, $suffix:literal)?) => {{
        static INSERT: $crate::db::RowInsert =
            $crate::db::RowInsert::new($into, &[$($col),+], &[$($ty),+], $crate::insert_rows!(@suffix $($suffix)?));
        let rows = $rows;
        async {
            match $tx {
                $crate::db::Tx::Postgres(t) => {
                    if rows.is_empty() {
                        return Ok(0);
                    }
                    sqlx::query(INSERT.postgres())
                        $(.bind(rows.iter().map(|$r| { let _ = $r; $val }).collect::<Vec<_>>()))+
                        .execute(&mut **t)
                        .await
                        .map(|r| r.rows_affected())
                }
                $crate::db::Tx::Sqlite(t) => {
                    let mut written = 0;
                    for chunk in $crate::db::insert_chunks(rows) {
                        let mut q = sqlx::query(INSERT.sqlite(chunk.len()));
                        for $r in chunk {
                            q = q$(.bind($val))+;
                        }
                        written += q.execute(&mut **t).await?.rows_affected();
                    }
                    Ok::<u64, sqlx::Error>(written)
                }
            }
        }
        .await
    }};
    (@suffix) => { "" };
    (@suffix $suffix:literal) => { $suffix };
}

impl Db {
    /// Connects to `url` (`sqlite://…` or `postgres://…`); creates the SQLite file if missing.
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Db> {
        if url.starts_with("sqlite:") {
            let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
            let path = path.split('?').next().unwrap_or(path);
            if let Some(parent) = std::path::Path::new(path).parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent)?;
            }
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                .pragma("temp_store", "memory")
                .pragma("journal_size_limit", checkpoint::JOURNAL_SIZE_LIMIT.to_string());
            // Page caches are per connection: the one writer gets 16 MiB (every write goes
            // through it), each reader 2 MiB (point lookups; the file itself is in the
            // operating system's cache), so a large database and a full reader pool stay
            // within ~50 MiB of cache (16 readers at 4 MiB took the on-sale bench, paid
            // phase included, past 200 MiB). The writer never checkpoints the log itself
            // (see `checkpoint`). Connections are not pinged when taken from a pool: they are
            // in-process and do not go stale.
            let writer = SqlitePoolOptions::new()
                .max_connections(1)
                .test_before_acquire(false)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(opts.clone().pragma("cache_size", "-16384").pragma("wal_autocheckpoint", "0"))
                .await?;
            let reader = SqlitePoolOptions::new()
                .max_connections(max_connections.clamp(2, 16))
                .test_before_acquire(false)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(opts.clone().read_only(true).pragma("cache_size", "-2048"))
                .await?;
            let checkpoints = checkpoint::start(&opts.pragma("cache_size", "-1024"), writer.clone()).await?;
            Ok(Db::Sqlite { writer, reader, checkpoints })
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let opts = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(opts)
                .await?;
            Ok(Db::Postgres(pool))
        } else {
            anyhow::bail!("database.url: unknown scheme (expected sqlite:// or postgres://)")
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite { .. } => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies the embedded migrations of this backend.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self {
            Db::Sqlite { writer, .. } => SQLITE_MIGRATIONS.run(writer).await?,
            Db::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// Takes a connection for writes out of the pool until the [`Held`] is dropped (SQLite:
    /// the writer; every other write waits meanwhile).
    pub async fn hold(&self) -> Result<Held, sqlx::Error> {
        Ok(match self {
            Db::Sqlite { writer, .. } => Held::Sqlite(writer.acquire().await?),
            Db::Postgres(pool) => Held::Postgres(pool.acquire().await?),
        })
    }

    pub async fn begin(&self) -> Result<Tx<'static>, sqlx::Error> {
        Ok(match self {
            // IMMEDIATE takes the write lock at `BEGIN`, waiting for it under `busy_timeout`.
            // A deferred transaction that reads first and writes later fails at once with
            // `database is locked` when another process (say `backline admin` beside a running
            // server) committed in between, since SQLite cannot upgrade its stale snapshot.
            Db::Sqlite { writer, .. } => Tx::Sqlite(writer.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// Round-trips a trivial query (readiness).
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        read!(self, |c| sqlx::query("SELECT 1").execute(c).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// (connections, idle) of the main pool, for metrics.
    pub fn pool_stats(&self) -> (u32, u32) {
        match self {
            Db::Sqlite { writer, reader, .. } => (writer.size() + reader.size(), (writer.num_idle() + reader.num_idle()) as u32),
            Db::Postgres(pool) => (pool.size(), pool.num_idle() as u32),
        }
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite { writer, reader, checkpoints } => {
                checkpoints.stop();
                reader.close().await;
                writer.close().await;
            }
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

impl Tx<'_> {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(t) => t.commit().await,
            Tx::Postgres(t) => t.commit().await,
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Tx::Sqlite(_) => Backend::Sqlite,
            Tx::Postgres(_) => Backend::Postgres,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Backend, RowInsert, insert_chunks, values_list};

    #[test]
    fn insert_chunks_follow_the_binary_digits_after_full_chunks() {
        let rows: Vec<u32> = (0..87).collect();
        let sizes: Vec<usize> = insert_chunks(&rows).iter().map(|c| c.len()).collect();
        assert_eq!(sizes, [64, 16, 4, 2, 1]);
        assert_eq!(insert_chunks(&rows).concat(), rows);
        let many: Vec<u32> = (0..600).collect();
        let sizes: Vec<usize> = insert_chunks(&many).iter().map(|c| c.len()).collect();
        assert_eq!(sizes, [256, 256, 64, 16, 8]);
        assert_eq!(insert_chunks(&many).concat(), many);
        assert!(insert_chunks::<u32>(&[]).is_empty());
    }

    static SAMPLE: RowInsert = RowInsert::new("t", &["a", "b"], &["uuid", "text"], "ON CONFLICT (a) DO NOTHING");

    #[test]
    fn row_inserts_take_arrays_on_postgres_and_values_on_sqlite() {
        assert_eq!(
            SAMPLE.postgres(),
            "INSERT INTO t (a, b) SELECT * FROM UNNEST($1::uuid[], $2::text[]) ON CONFLICT (a) DO NOTHING"
        );
        assert_eq!(SAMPLE.sqlite(2), "INSERT INTO t (a, b) VALUES (?, ?), (?, ?) ON CONFLICT (a) DO NOTHING");
        assert_eq!(SAMPLE.sqlite(1), "INSERT INTO t (a, b) VALUES (?, ?) ON CONFLICT (a) DO NOTHING");
    }

    #[test]
    fn values_lists_number_placeholders_row_by_row() {
        assert_eq!(values_list(Backend::Postgres, 3, 1), "($1, $2, $3)");
        assert_eq!(values_list(Backend::Postgres, 2, 3), "($1, $2), ($3, $4), ($5, $6)");
        assert_eq!(values_list(Backend::Sqlite, 2, 2), "(?, ?), (?, ?)");
        assert_eq!(values_list(Backend::Postgres, 1, 0), "");
    }
}
