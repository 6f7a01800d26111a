//! `backline bench http`: serves the app in-process on a fresh SQLite database with the demo
//! data, then drives a static route (`/healthz`, the baseline) and the event-detail route with
//! the same number of concurrent connections for the same time, and reports throughput and
//! latency of each and the ratio between them.

use std::time::{Duration, Instant};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::{load_client, on_load_runtime, rss_mib};

#[derive(Debug, Serialize)]
pub struct RouteFigures {
    pub route: String,
    pub requests: u64,
    pub errors: u64,
    pub req_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

#[derive(Debug, Serialize)]
pub struct HttpReport {
    pub connections: usize,
    /// Whether the published-event cache was on (`--no-cache` measures the database path).
    pub event_cache: bool,
    pub seconds_per_route: u64,
    pub baseline: RouteFigures,
    pub event_detail: RouteFigures,
    /// event-detail throughput ÷ baseline throughput (target ≥ 0.5).
    pub ratio: f64,
    /// Resident memory of this process after start-up and demo load, before any load (MiB).
    pub idle_rss_mib: f64,
}

/// The app served in-process on a fresh SQLite database with the demo data.
pub(super) struct BenchApp {
    pub base: String,
    pub event_id: events::EventId,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
    dir: std::path::PathBuf,
}

impl BenchApp {
    pub async fn start(cache: bool) -> anyhow::Result<BenchApp> {
        let dir = std::env::temp_dir().join(format!("backline-bench-{}", uuid::Uuid::new_v4().simple()));
        let config = kernel::Config::from_overrides(serde_json::json!({
            "data_dir": dir,
            "database": { "url": format!("sqlite://{}/bench.db", dir.display()) },
            "rate_limit": { "per_ip_per_min": 100_000_000u64, "per_user_per_min": 100_000_000u64 },
            "auth": { "argon2_memory_kib": 1024 },
            "cache": { "ttl_secs": if cache { 5 } else { 0 } },
        }))?;
        let app = backline::build(config).await?;
        crate::cli::demo::load(&app).await?;
        let event_id = crate::cli::demo::first_published_event(&app).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(backline::serve(app, listener, shutdown.clone()));
        Ok(BenchApp { base: format!("http://{addr}"), event_id, shutdown, server, dir })
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.server.await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Warms `urls` up for half a second, then measures them for `seconds`: each iteration
/// GETs every one of `urls` in turn and counts as one request (a page's worth of data).
pub(super) async fn measure(client: &reqwest::Client, urls: &[String], connections: usize, seconds: u64) -> RouteFigures {
    drive(client, urls, connections, Duration::from_millis(500)).await;
    drive(client, urls, connections, Duration::from_secs(seconds)).await
}

pub async fn http(seconds: u64, connections: usize, cache: bool) -> anyhow::Result<HttpReport> {
    let app = BenchApp::start(cache).await?;
    let idle_rss_mib = rss_mib();
    let (base, event_id) = (app.base.clone(), app.event_id);
    let (baseline, event_detail) = on_load_runtime(async move {
        let client = load_client(connections)?;
        let baseline = measure(&client, &[format!("{base}/healthz")], connections, seconds).await;
        let event_detail = measure(&client, &[format!("{base}/api/events/{event_id}")], connections, seconds).await;
        Ok((baseline, event_detail))
    })
    .await?;
    app.stop().await;
    let ratio = if baseline.req_per_s > 0.0 { event_detail.req_per_s / baseline.req_per_s } else { 0.0 };
    Ok(HttpReport {
        connections,
        event_cache: cache,
        seconds_per_route: seconds,
        baseline: RouteFigures { route: "GET /healthz".into(), ..baseline },
        event_detail: RouteFigures { route: "GET /api/events/{id}".into(), ..event_detail },
        ratio: (ratio * 1000.0).round() / 1000.0,
        idle_rss_mib: (idle_rss_mib * 10.0).round() / 10.0,
    })
}

/// `connections` workers loop on GET `urls` (one after another, timed together) until
/// `duration` has passed.
async fn drive(client: &reqwest::Client, urls: &[String], connections: usize, duration: Duration) -> RouteFigures {
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(connections);
    for _ in 0..connections {
        let client = client.clone();
        let urls = urls.to_vec();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(16_384);
            let mut errors = 0u64;
            while Instant::now() < deadline {
                let t = Instant::now();
                let mut ok = true;
                for url in &urls {
                    match client.get(url).send().await {
                        Ok(resp) if resp.status().is_success() => {
                            let _ = resp.bytes().await;
                        }
                        _ => ok = false,
                    }
                }
                if ok {
                    latencies.push(t.elapsed().as_micros() as u64);
                } else {
                    errors += 1;
                }
            }
            (latencies, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        if let Ok((l, e)) = t.await {
            all.extend(l);
            errors += e;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| -> f64 {
        if all.is_empty() {
            return 0.0;
        }
        let i = ((all.len() as f64 * p).ceil() as usize).clamp(1, all.len()) - 1;
        (all[i] as f64 / 10.0).round() / 100.0
    };
    RouteFigures {
        route: urls.join(" + "),
        requests: all.len() as u64,
        errors,
        req_per_s: (all.len() as f64 / elapsed).round(),
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    }
}
