//! `backline demo`, run as an operator runs it: it loads an organization whose events can be
//! shown and sold (every event has ticket types in a pool, one type is nearly sold out), and
//! loading it again changes nothing.

#[tokio::test]
async fn the_demo_loads_sellable_events_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/demo.db", dir.path().display());
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_backline"))
            .arg("demo")
            .current_dir(dir.path())
            .env("BACKLINE_DATA_DIR", dir.path())
            .env("DATABASE_URL", &url)
            .env("BACKLINE_AUTH__ARGON2_MEMORY_KIB", "1024")
            .env("BACKLINE_LOG__LEVEL", "warn")
            .output()
            .expect("the binary starts")
    };
    let first = run();
    let out = String::from_utf8_lossy(&first.stdout);
    assert!(first.status.success(), "{out}{}", String::from_utf8_lossy(&first.stderr));
    assert!(out.contains("demo data loaded") && out.contains("6 events"), "{out}");
    let again = run();
    assert!(String::from_utf8_lossy(&again.stdout).contains("already loaded"));

    let db = kernel::Db::connect(&url, 1).await.unwrap();
    let (events, without_tickets, types, pools, nearly_gone): (i64, i64, i64, i64, i64) = kernel::read!(&db, |c| sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM events), \
                (SELECT COUNT(*) FROM events e WHERE NOT EXISTS (SELECT 1 FROM ticket_types t WHERE t.event_id = e.id)), \
                (SELECT COUNT(*) FROM ticket_types), \
                (SELECT COUNT(*) FROM quotas), \
                (SELECT COUNT(*) FROM quotas WHERE capacity <= 10)"
    )
    .fetch_one(c)
    .await)
    .unwrap();
    assert_eq!((events, without_tickets), (6, 0), "every demo event sells something");
    assert!(types > pools && pools >= 6 && nearly_gone >= 1, "types {types}, pools {pools}, small {nearly_gone}");
}
