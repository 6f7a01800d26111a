//! Per-request context (request id, client IP, acting principal) carried in a task-local so
//! error rendering and audit records can read it without threading it through every call.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::auth::Principal;

#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub request_id: String,
    pub ip: Option<IpAddr>,
    pub principal: Option<Principal>,
    /// Database statements run for this request so far (every `read!` and `tx!`).
    pub queries: Arc<AtomicU32>,
}

/// Counts one database statement against the request being served, if any.
pub fn note_query() {
    let _ = CONTEXT.try_with(|c| c.queries.fetch_add(1, Ordering::Relaxed));
}

tokio::task_local! {
    static CONTEXT: RequestContext;
}

impl RequestContext {
    /// The context of the request being served, if any.
    pub fn current() -> Option<RequestContext> {
        CONTEXT.try_with(Clone::clone).ok()
    }

    /// Runs `fut` with this context installed.
    pub async fn scope<F: std::future::Future>(self, fut: F) -> F::Output {
        CONTEXT.scope(self, fut).await
    }
}
