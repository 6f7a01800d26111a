//! One error type for every handler, rendered as RFC 9457 `application/problem+json`.
//!
//! Every problem carries a stable machine-readable `code`; validation failures name the
//! `field`. Database unique violations become `409`, foreign-key violations `422`, in
//! [`From<sqlx::Error>`] and nowhere else. A 500 answers with a generic body; its cause is
//! logged once with the request id.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::context::RequestContext;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 422: a field failed validation.
    #[error("{field}: {message}")]
    Validation { field: String, message: String },
    /// 400: the request as a whole is malformed.
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    #[error("forbidden")]
    Forbidden { message: String },
    #[error("{resource} not found")]
    NotFound { resource: &'static str },
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("this route does not accept that method")]
    MethodNotAllowed,
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("the request took too long")]
    Timeout,
    #[error("service unavailable")]
    Unavailable { message: String },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Validation { field: field.into(), message: message.into() }
    }
    pub fn not_found(resource: &'static str) -> Self {
        AppError::NotFound { resource }
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        AppError::Conflict { code, message: message.into() }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        AppError::BadRequest { code, message: message.into() }
    }
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        AppError::Unauthorized { code, message: message.into() }
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        AppError::Forbidden { message: message.into() }
    }
    pub fn internal(message: impl std::fmt::Display) -> Self {
        AppError::Internal(anyhow::anyhow!("{message}"))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            AppError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            AppError::Forbidden { .. } => StatusCode::FORBIDDEN,
            AppError::NotFound { .. } => StatusCode::NOT_FOUND,
            AppError::Conflict { .. } => StatusCode::CONFLICT,
            AppError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Timeout => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code clients switch on.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Validation { .. } => "validation_failed",
            AppError::BadRequest { code, .. } => code,
            AppError::Unauthorized { code, .. } => code,
            AppError::Forbidden { .. } => "forbidden",
            AppError::NotFound { .. } => "not_found",
            AppError::Conflict { code, .. } => code,
            AppError::MethodNotAllowed => "method_not_allowed",
            AppError::PayloadTooLarge => "payload_too_large",
            AppError::UnsupportedMediaType => "unsupported_media_type",
            AppError::TooManyRequests { .. } => "rate_limited",
            AppError::Timeout => "timeout",
            AppError::Unavailable { .. } => "unavailable",
            AppError::Internal(_) => "internal",
        }
    }
}

/// The problem document (RFC 9457) every error response carries.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct Problem {
    /// A URI reference naming the problem type.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable code, e.g. `validation_failed`, `sold_out`.
    pub code: String,
    /// The offending field for `422` responses, as a JSON path (`venue.city`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let request_id = RequestContext::current().map(|c| c.request_id);
        let detail = match &self {
            AppError::Internal(cause) => {
                tracing::error!(error = ?cause, "internal error");
                "an internal error occurred; quote the request id when reporting it".to_string()
            }
            other => other.to_string(),
        };
        let field = match &self {
            AppError::Validation { field, .. } => Some(field.clone()),
            _ => None,
        };
        let code = self.code();
        let problem = Problem {
            kind: format!("https://backline.dev/problems/{code}"),
            title: status.canonical_reason().unwrap_or("error").to_string(),
            status: status.as_u16(),
            detail,
            code: code.to_string(),
            field,
            request_id,
        };
        let mut response = (status, axum::Json(problem)).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let AppError::TooManyRequests { retry_after_secs } = self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs.max(1)));
        }
        response
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => AppError::not_found("resource"),
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                AppError::conflict("already_exists", "a resource with these unique values already exists")
            }
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                AppError::validation("reference", "refers to a resource that does not exist")
            }
            sqlx::Error::PoolTimedOut => AppError::Unavailable { message: "database busy".into() },
            _ => AppError::Internal(e.into()),
        }
    }
}

impl From<serde_json::Error> for AppError {
    fn from(e: serde_json::Error) -> Self {
        AppError::Internal(e.into())
    }
}
