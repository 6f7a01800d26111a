//! `backline bench onsale` on a small sale, so the benchmark's own machinery (its load
//! generator's connections, the sold-out detection, the paid variant and the consistency
//! checks) is exercised by the suite and not only when someone measures. On PostgreSQL when
//! `TEST_DATABASE_URL` is set (the bench creates and drops a database of its own there).

use backline::bench::{OnsaleOptions, onsale};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_onsale_bench_sells_out_exactly_free_and_paid() {
    let database_url = std::env::var("TEST_DATABASE_URL").ok().filter(|u| !u.is_empty());
    let opts = OnsaleOptions { tickets: 60, buyers: 8, url: None, database_url, paid: true };
    let report = serde_json::to_value(onsale(opts).await.expect("the bench runs")).unwrap();

    assert_eq!(report["oversold"], false, "{report}");
    assert_eq!(report["consistent"], true, "{report}");
    assert_eq!(report["sold"], 60, "{report}");
    assert_eq!(report["quota_taken"], 60, "{report}");
    let free = &report["onsale"];
    assert_eq!(free["confirmed"], 60, "{report}");
    assert_eq!(free["errors"], 0, "{report}");
    // Every buyer stops at its own sold-out answer.
    assert_eq!(free["sold_out_answers"], 8, "{report}");
    assert!(free["p99_ms"].as_f64().unwrap() > 0.0, "{report}");
    assert!(report["raw_conditional_update"]["tx_per_s"].as_f64().unwrap() > 0.0, "{report}");

    let paid = &report["paid"];
    assert_eq!(paid["paid"], 60, "{report}");
    assert_eq!(paid["confirmed"], 60, "{report}");
    assert_eq!(paid["quota_taken"], 60, "{report}");
    assert_eq!(paid["consistent"], true, "{report}");
    assert_eq!(paid["errors"], 0, "{report}");
}
