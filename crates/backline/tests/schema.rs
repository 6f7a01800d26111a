//! The SQLite and PostgreSQL migration trees must define the same tables and columns, apart
//! from each backend's full-text search objects (SQLite: `events_fts*`, `event_search`;
//! PostgreSQL: `events.search_vector`). Runs when `TEST_DATABASE_URL` points at PostgreSQL.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::Connection;

type Schema = BTreeMap<String, BTreeSet<String>>;

fn backend_specific(table: &str, column: Option<&str>) -> bool {
    table.starts_with("events_fts") || table == "event_search" || table.starts_with("_sqlx") || column == Some("search_vector")
}

#[tokio::test]
async fn both_migration_trees_define_the_same_tables_and_columns() {
    let Some(pg_url) = std::env::var("TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) else {
        eprintln!("TEST_DATABASE_URL not set: schema comparison runs in the PostgreSQL pass");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sqlite_url = format!("sqlite://{}/schema.db", dir.path().display());
    let db = kernel::Db::connect(&sqlite_url, 2).await.unwrap();
    db.migrate().await.unwrap();
    let mut sqlite = Schema::new();
    let kernel::Db::Sqlite { reader, .. } = &db else { unreachable!() };
    let tables: Vec<(String,)> =
        sqlx::query_as("SELECT name FROM sqlite_master WHERE type = 'table'").fetch_all(reader).await.unwrap();
    for (table,) in tables {
        if backend_specific(&table, None) {
            continue;
        }
        let cols: Vec<(String,)> =
            sqlx::query_as("SELECT name FROM pragma_table_info($1)").bind(&table).fetch_all(reader).await.unwrap();
        sqlite.insert(table, cols.into_iter().map(|c| c.0).collect());
    }

    let name = format!("backline_schema_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&pg_url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\""))).execute(&mut admin).await.unwrap();
    let mut url = url::Url::parse(&pg_url).unwrap();
    url.set_path(&name);
    let pg = kernel::Db::connect(url.as_str(), 2).await.unwrap();
    pg.migrate().await.unwrap();
    let kernel::Db::Postgres(pool) = &pg else { unreachable!() };
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns WHERE table_schema = 'public'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut postgres = Schema::new();
    for (table, column) in rows {
        if backend_specific(&table, Some(&column)) {
            continue;
        }
        postgres.entry(table).or_default().insert(column);
    }
    pg.close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE \"{name}\" WITH (FORCE)"))).execute(&mut admin).await.unwrap();
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, postgres);
}
