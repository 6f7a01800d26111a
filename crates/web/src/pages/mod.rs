//! The page handlers, by audience: [`discover`] (listing, event page), [`account`],
//! [`checkout`] and [`tickets`] for fans, [`manage`] for organizers, [`scanner`] for the door.
//! Each reads the request, calls the contexts' services as the visitor and renders a
//! template; errors become friendly pages or messages on the form, in the visitor's
//! language, with the status the API would have answered.

// A page helper's error is the page to answer instead (a redirect to sign in, a 404): it is
// returned once per request, straight to the client, so boxing it buys nothing.
#![allow(clippy::result_large_err)]

pub mod account;
pub mod checkout;
pub mod discover;
pub mod manage;
pub mod scanner;
pub mod tickets;

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use fluent_bundle::FluentValue;
use kernel::AppError;
use kernel::context::RequestContext;
use serde::Serialize;
use serde_json::{Value, json};

use crate::Web;
use crate::render::html;
use crate::session::Visitor;

/// A page being put together: the layout's values, then the page's own.
pub struct Page<'a> {
    web: &'a Web,
    ctx: serde_json::Map<String, Value>,
}

impl<'a> Page<'a> {
    pub fn new(web: &'a Web, visitor: &Visitor) -> Page<'a> {
        let mut ctx = serde_json::Map::new();
        ctx.insert("locale".into(), visitor.locale.code().into());
        ctx.insert("path".into(), visitor.path.clone().into());
        let languages: Vec<Value> =
            web.i18n.languages().into_iter().map(|(code, name)| json!({ "code": code, "name": name })).collect();
        ctx.insert("languages".into(), languages.into());
        ctx.insert("canonical".into(), Value::Null);
        ctx.insert("csrf".into(), visitor.csrf.clone().into());
        ctx.insert(
            "user".into(),
            visitor.user.as_ref().map(|u| json!({ "name": u.name, "email": u.email })).unwrap_or(Value::Null),
        );
        Page { web, ctx }
    }

    pub fn set(mut self, key: &str, value: impl Serialize) -> Self {
        self.ctx.insert(key.into(), serde_json::to_value(value).unwrap_or(Value::Null));
        self
    }

    pub fn render(self, status: StatusCode, template: &str) -> Response {
        html(&self.web.templates, status, template, minijinja::Value::from_serialize(Value::Object(self.ctx)))
    }

    pub fn ok(self, template: &str) -> Response {
        self.render(StatusCode::OK, template)
    }
}

/// A message in the visitor's language.
pub fn text(web: &Web, visitor: &Visitor, key: &str, args: &[(&str, FluentValue)]) -> String {
    web.i18n.text(visitor.locale, key, args)
}

/// What went wrong, for a message on the form that caused it: the translation of the
/// error's code where we have one (`problem-sold_out`), else the service's own words.
pub fn problem(web: &Web, visitor: &Visitor, error: &AppError) -> String {
    let code = match error {
        AppError::Conflict { code, .. } | AppError::BadRequest { code, .. } | AppError::Unauthorized { code, .. } => Some(*code),
        AppError::TooManyRequests { .. } => Some("too_many_requests"),
        _ => None,
    };
    if let Some(code) = code
        && let Some(message) = web.i18n.lookup(visitor.locale, &format!("problem-{code}"))
    {
        return message;
    }
    match error {
        AppError::Validation { field, message } => {
            text(web, visitor, "problem-field", &[("field", field.clone().into()), ("message", message.clone().into())])
        }
        AppError::Internal(cause) => {
            tracing::error!(error = ?cause, "internal error while serving a page");
            let id = RequestContext::current().map(|c| c.request_id).unwrap_or_default();
            text(web, visitor, "error-internal", &[("request_id", id.into())])
        }
        other => other.to_string(),
    }
}

/// A friendly page for an error a service answered.
pub fn error_page(web: &Web, visitor: &Visitor, error: AppError) -> Response {
    let status = error.status();
    let request_id = RequestContext::current().map(|c| c.request_id);
    let t = |key: &str| text(web, visitor, key, &[]);
    let (heading, message) = match &error {
        AppError::NotFound { .. } => (t("error-not-found-title"), t("error-not-found")),
        AppError::Forbidden { message } if message == "csrf" => (t("error-forbidden-title"), t("error-csrf")),
        AppError::Forbidden { .. } => (t("error-forbidden-title"), t("error-forbidden")),
        AppError::Unauthorized { .. } => (t("error-forbidden-title"), t("error-sign-in")),
        AppError::Internal(_) => (t("error-title"), problem(web, visitor, &error)),
        other => (t("error-title"), problem(web, visitor, other)),
    };
    Page::new(web, visitor)
        .set("heading", heading)
        .set("message", message)
        .set("request_id", request_id)
        .render(status, "error.html")
}

/// The page for a form that failed: `heading` (a message key), the service's reason in the
/// visitor's words, and a way back to the form. Not-found, forbidden and internal errors get
/// the plain error page instead.
pub fn form_failed(web: &Web, visitor: &Visitor, heading: &str, error: AppError, back: &str) -> Response {
    if matches!(error, AppError::NotFound { .. } | AppError::Forbidden { .. } | AppError::Internal(_)) {
        return error_page(web, visitor, error);
    }
    Page::new(web, visitor)
        .set("heading", text(web, visitor, heading, &[]))
        .set("message", problem(web, visitor, &error))
        .set("back", back)
        .set("request_id", Value::Null)
        .render(error.status(), "error.html")
}

/// An event of an organization the signed-in user has at least `min` in, with their role.
pub async fn manage_access(
    web: &Arc<Web>,
    visitor: &Visitor,
    id: events::EventId,
    min: kernel::auth::Role,
) -> Result<(events::EventDetail, kernel::auth::Role), Response> {
    require_user(visitor)?;
    let p = visitor.principal.clone();
    let event = web.events.event(p.as_ref(), id).await.map_err(|e| error_page(web, visitor, e))?;
    let Some(p) = p else { return Err(see_other("/sign-in")) };
    match kernel::auth::OrgAccess::require_for(&*web.identity, &p, event.org_id, min, "event").await {
        Ok(scope) => Ok((event, scope.role())),
        Err(e) => Err(error_page(web, visitor, e)),
    }
}

/// Where a form goes once its action ran: on to `back` (`303`), or the page that says why
/// the action failed, under `heading`, with a way back.
pub fn after<T>(web: &Web, visitor: &Visitor, heading: &str, result: kernel::AppResult<T>, back: &str) -> Response {
    match result {
        Ok(_) => see_other(back),
        Err(e) => form_failed(web, visitor, heading, e, back),
    }
}

/// The signed-in user, or a redirect to sign in and come back.
pub fn require_user(visitor: &Visitor) -> Result<kernel::id::UserId, Response> {
    visitor.user_id().ok_or_else(|| {
        let next: String = url::form_urlencoded::byte_serialize(visitor.path.as_bytes()).collect();
        Redirect::to(&format!("/sign-in?next={next}")).into_response()
    })
}

/// `303 See Other` after a form: the browser loads the next page with a GET, so a reload
/// does not submit again.
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// A path of this site to go on to after a form (no open redirect).
pub fn local_path(next: Option<&str>) -> String {
    next.filter(|b| b.starts_with('/') && !b.starts_with("//") && !b.contains('\\')).unwrap_or("/").to_string()
}

/// A fresh idempotency key for a form that must act once however often it is submitted.
pub fn form_key() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Unknown addresses: the API's problem document under `/api` (and for clients that do not
/// ask for HTML), a friendly page for browsers everywhere else.
pub async fn not_found(State(web): State<Arc<Web>>, visitor: Visitor, headers: HeaderMap, uri: Uri) -> Response {
    let wants_html = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    if uri.path().starts_with("/api/") || uri.path() == "/api" || !wants_html {
        return AppError::NotFound { resource: "route" }.into_response();
    }
    error_page(&web, &visitor, AppError::not_found("page"))
}
