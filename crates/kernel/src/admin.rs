//! Operator endpoints for the job queue (platform administrators only).

use std::sync::Arc;

use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::Kernel;
use crate::auth::Auth;
use crate::error::AppResult;
use crate::extract::{Json, Path, Query};
use crate::id::JobId;
use crate::jobs::{JobStatus, JobView};
use crate::pagination::{Page, PageParams};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobQuery {
    /// Only jobs in this state (`queued`, `running`, `done`, `dead`).
    pub status: Option<JobStatus>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

/// List jobs, newest first (e.g. `?status=dead` for the dead-letter queue).
#[utoipa::path(get, path = "/api/admin/jobs", tag = "admin", params(JobQuery),
    responses((status = 200, description = "Jobs", body = Page<JobView>)), security(("bearer" = [])))]
async fn list_jobs(State(kernel): State<Arc<Kernel>>, auth: Auth, Query(q): Query<JobQuery>) -> AppResult<Json<Page<JobView>>> {
    auth.require_platform_admin()?;
    let page = PageParams { cursor: q.cursor, limit: q.limit };
    Ok(Json(kernel.jobs.list(q.status, &page).await?))
}

/// Re-queue a dead job with a fresh attempt budget.
#[utoipa::path(post, path = "/api/admin/jobs/{id}/retry", tag = "admin", params(("id" = String, Path, description = "Job id")),
    responses((status = 200, description = "Re-queued", body = JobView), (status = 409, description = "Job is not dead")),
    security(("bearer" = [])))]
async fn retry_job(State(kernel): State<Arc<Kernel>>, auth: Auth, Path(id): Path<JobId>) -> AppResult<Json<JobView>> {
    auth.require_platform_admin()?;
    let job = kernel.jobs.retry(id).await?;
    tracing::info!(job = %id, "dead job re-queued by an operator");
    Ok(Json(job))
}

pub fn router(kernel: Arc<Kernel>) -> OpenApiRouter {
    OpenApiRouter::new().routes(routes!(list_jobs)).routes(routes!(retry_job)).with_state(kernel)
}
