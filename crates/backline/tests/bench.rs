//! `backline bench onsale` on a small sale, so the benchmark's own machinery (its load
//! generator's connections, the sold-out detection, the paid variant and the consistency
//! checks) is exercised by the suite and not only when someone measures. On PostgreSQL when
//! `TEST_DATABASE_URL` is set (the bench creates and drops a database of its own there).
//! It runs the real binary, as an operator would, and reads the report it prints.

#[test]
fn a_small_onsale_bench_sells_out_exactly_free_and_paid() {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_backline"));
    cmd.args(["bench", "onsale", "--tickets", "60", "--buyers", "8"]).env("BACKLINE_LOG__LEVEL", "warn");
    if let Some(url) = std::env::var("TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) {
        cmd.args(["--database-url", &url]);
    }
    // No configuration file: the bench configures its own app.
    let dir = tempfile::tempdir().unwrap();
    let out = cmd.current_dir(dir.path()).output().expect("the binary starts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "bench failed: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("the bench prints its report as JSON");

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

#[test]
fn the_web_bench_measures_each_page_beside_its_json_twin() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_backline"))
        .args(["bench", "web", "--duration", "1", "--connections", "4"])
        .env("BACKLINE_LOG__LEVEL", "warn")
        .current_dir(dir.path())
        .output()
        .expect("the binary starts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "bench failed: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("the bench prints its report as JSON");
    for page in ["event_page", "home_page"] {
        for side in ["html", "json"] {
            let f = &report[page][side];
            assert!(f["requests"].as_u64().unwrap() > 0, "{report}");
            assert_eq!(f["errors"], 0, "{report}");
        }
        assert!(report[page]["ratio"].as_f64().unwrap() > 0.0, "{report}");
    }
}
