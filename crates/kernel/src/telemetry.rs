//! Logs and metrics. Logs are JSON lines (or pretty for a terminal) through `tracing`, each
//! inside a span carrying the request id. Metrics are Prometheus text at `/metrics`: request
//! count and latency by route template and status, database pool, job queue depth.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::config::{LogConfig, LogFormat};

/// Installs the global tracing subscriber (once per process; later calls are no-ops).
pub fn init_logging(config: &LogConfig) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.level).unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match config.format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).with_span_list(false).try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
    install_panic_hook();
}

/// Panics become one error log line (with the current span, so a request's panic carries its
/// request id) instead of the default hook's bare text on stderr.
fn install_panic_hook() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let message = crate::http::panic_message(info.payload());
            let location = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
            tracing::error!(panic = %message, location = %location, "panicked");
        }));
    });
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

/// Where a panic was caught: `handler` (while the response was made) or `body` (while it
/// streamed).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PanicLabels {
    pub site: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    pub status: String,
}

/// The metrics of one app instance (not global, so tests can run several apps).
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteLabels, Histogram>,
    pub db_connections: Gauge,
    pub db_idle: Gauge,
    pub jobs: Family<StatusLabels, Gauge>,
    pub panics: Family<PanicLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("backline");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0])
        });
        let db_connections = Gauge::default();
        let db_idle = Gauge::default();
        let jobs = Family::<StatusLabels, Gauge>::default();
        let panics = Family::<PanicLabels, Counter>::default();
        // Both sites are listed from the start, so an alert on the rate sees a zero first.
        let _ = panics.get_or_create(&PanicLabels { site: "handler".into() });
        let _ = panics.get_or_create(&PanicLabels { site: "body".into() });
        registry.register("http_requests", "HTTP requests served", requests.clone());
        registry.register("http_request_duration_seconds", "HTTP request latency", latency.clone());
        registry.register("db_pool_connections", "Open database connections", db_connections.clone());
        registry.register("db_pool_idle", "Idle database connections", db_idle.clone());
        registry.register("jobs", "Jobs by status", jobs.clone());
        registry.register("panics", "Panics caught while serving a request", panics.clone());
        Metrics { registry, requests, latency, db_connections, db_idle, jobs, panics }
    }
}

impl Metrics {
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
