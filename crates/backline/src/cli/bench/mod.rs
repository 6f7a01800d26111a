//! `backline bench …`: load generators that measure the app the way its users load it, each
//! against a baseline measured in the same run (machines here are noisy; the ratio is the
//! figure that means something). Figures and how to read them: `docs/benchmarks.md`.
//!
//! Both benchmarks run their simulated clients on a runtime of their own (two worker threads,
//! see [`on_load_runtime`]), as an external load generator would: sharing the server's
//! scheduler, a wave of clients opening their connections at once queued behind the requests
//! the server was already working on, and the measured latency then blamed the server for it.

mod http;
mod onsale;
mod web;

use std::future::Future;

pub use http::http;
pub use onsale::{OnsaleOptions, onsale};
pub use web::web;

/// Resident set size of this process, from /proc (Linux); 0 elsewhere.
pub fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// Peak resident set size of this process (VmHWM), from /proc (Linux); 0 elsewhere.
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// Runs `work` (the simulated clients) on a runtime of its own with two worker threads, so
/// the load generator and the server do not share one task scheduler; the operating system
/// shares the cores between them, as between a server and the clients of another process.
pub(crate) async fn on_load_runtime<T, F>(work: F) -> anyhow::Result<T>
where
    T: Send + 'static,
    F: Future<Output = anyhow::Result<T>> + Send + 'static,
{
    tokio::task::spawn_blocking(move || {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).thread_name("bench-clients").enable_all().build()?;
        runtime.block_on(work)
    })
    .await?
}

/// An HTTP client keeping up to `connections` idle connections to the server.
pub(crate) fn load_client(connections: usize) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder().pool_max_idle_per_host(connections).build()?)
}

pub(crate) fn percentile(sorted_us: &[u64], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let i = ((sorted_us.len() as f64 * p).ceil() as usize).clamp(1, sorted_us.len()) - 1;
    (sorted_us[i] as f64 / 10.0).round() / 100.0
}

pub(crate) fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}
