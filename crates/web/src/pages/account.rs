//! Accounts in the browser: register, sign in and out (identity's session cookie), reset a
//! forgotten password from the emailed link, the profile, the list of sessions (sign out
//! the others), and accepting an invitation to an organization from its emailed link.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use identity::model::{LoginRequest, PasswordResetConfirm, PasswordResetRequest, RegisterRequest, UpdateProfile};
use identity::service::ClientInfo;
use kernel::AppError;
use kernel::context::RequestContext;
use kernel::id::SessionId;
use serde::Deserialize;
use serde_json::json;

use super::{Page, error_page, local_path, problem, require_user, see_other, text};
use crate::Web;
use crate::form::CsrfForm;
use crate::session::{Visitor, clear_session_cookie, session_cookie};

fn client(headers: &HeaderMap) -> ClientInfo {
    ClientInfo {
        ip: RequestContext::current().and_then(|c| c.ip),
        user_agent: headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_string),
    }
}

/// Signed in: set the cookie and go on.
fn signed_in(web: &Web, secret: &str, next: &str) -> Response {
    ([(header::SET_COOKIE, session_cookie(web, secret))], see_other(next)).into_response()
}

#[derive(Debug, Default, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

pub async fn register_form(State(web): State<Arc<Web>>, visitor: Visitor, Query(q): Query<NextQuery>) -> Response {
    Page::new(&web, &visitor).set("next", local_path(q.next.as_deref())).set("form", json!({})).ok("register.html")
}

#[derive(Debug, Deserialize)]
pub struct RegisterForm {
    name: String,
    email: String,
    password: String,
    next: Option<String>,
}

pub async fn register(
    State(web): State<Arc<Web>>,
    visitor: Visitor,
    headers: HeaderMap,
    CsrfForm(f): CsrfForm<RegisterForm>,
) -> Response {
    let next = local_path(f.next.as_deref());
    let req = RegisterRequest { email: f.email.clone(), password: f.password, name: f.name.clone() };
    match web.identity.register_browser(req, client(&headers)).await {
        Ok((_, secret)) => signed_in(&web, &secret, &next),
        Err(e) => Page::new(&web, &visitor)
            .set("next", next)
            .set("form", json!({ "name": f.name, "email": f.email }))
            .set("problem", problem(&web, &visitor, &e))
            .render(e.status(), "register.html"),
    }
}

pub async fn sign_in_form(State(web): State<Arc<Web>>, visitor: Visitor, Query(q): Query<NextQuery>) -> Response {
    Page::new(&web, &visitor).set("next", local_path(q.next.as_deref())).set("email", "").ok("sign_in.html")
}

#[derive(Debug, Deserialize)]
pub struct SignInForm {
    email: String,
    password: String,
    next: Option<String>,
}

pub async fn sign_in(
    State(web): State<Arc<Web>>,
    visitor: Visitor,
    headers: HeaderMap,
    CsrfForm(f): CsrfForm<SignInForm>,
) -> Response {
    let next = local_path(f.next.as_deref());
    match web.identity.login_browser(LoginRequest { email: f.email.clone(), password: f.password }, client(&headers)).await {
        Ok((_, secret)) => signed_in(&web, &secret, &next),
        Err(e) => Page::new(&web, &visitor)
            .set("next", next)
            .set("email", f.email)
            .set("problem", problem(&web, &visitor, &e))
            .render(e.status(), "sign_in.html"),
    }
}

#[derive(Debug, Deserialize)]
pub struct Empty {}

/// `POST /sign-out`: ends this browser's session (the row is revoked, not just the cookie
/// dropped).
pub async fn sign_out(State(web): State<Arc<Web>>, visitor: Visitor, CsrfForm(_): CsrfForm<Empty>) -> Response {
    if let Some(p) = &visitor.principal
        && let Err(e) = web.identity.logout(p).await
    {
        return error_page(&web, &visitor, e);
    }
    ([(header::SET_COOKIE, clear_session_cookie(&web))], see_other("/")).into_response()
}

pub async fn forgot_form(State(web): State<Arc<Web>>, visitor: Visitor) -> Response {
    Page::new(&web, &visitor).set("sent", false).ok("forgot.html")
}

#[derive(Debug, Deserialize)]
pub struct ForgotForm {
    email: String,
}

/// Always says "sent", so the page cannot be used to learn which addresses have accounts.
pub async fn forgot(State(web): State<Arc<Web>>, visitor: Visitor, CsrfForm(f): CsrfForm<ForgotForm>) -> Response {
    match web.identity.request_password_reset(PasswordResetRequest { email: f.email }).await {
        Ok(()) => Page::new(&web, &visitor).set("sent", true).ok("forgot.html"),
        Err(e) => Page::new(&web, &visitor)
            .set("sent", false)
            .set("problem", problem(&web, &visitor, &e))
            .render(e.status(), "forgot.html"),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

/// `GET /reset-password?token=…`: the link in the reset email.
pub async fn reset_form(State(web): State<Arc<Web>>, visitor: Visitor, Query(q): Query<TokenQuery>) -> Response {
    Page::new(&web, &visitor).set("token", q.token.unwrap_or_default()).set("done", false).ok("reset.html")
}

#[derive(Debug, Deserialize)]
pub struct ResetForm {
    token: String,
    password: String,
}

pub async fn reset(State(web): State<Arc<Web>>, visitor: Visitor, CsrfForm(f): CsrfForm<ResetForm>) -> Response {
    match web.identity.confirm_password_reset(PasswordResetConfirm { token: f.token.clone(), new_password: f.password }).await {
        Ok(()) => Page::new(&web, &visitor).set("token", "").set("done", true).ok("reset.html"),
        Err(e) => Page::new(&web, &visitor)
            .set("token", f.token)
            .set("done", false)
            .set("problem", problem(&web, &visitor, &e))
            .render(e.status(), "reset.html"),
    }
}

pub async fn profile(State(web): State<Arc<Web>>, visitor: Visitor) -> Response {
    if let Err(to_sign_in) = require_user(&visitor) {
        return to_sign_in;
    }
    Page::new(&web, &visitor).set("profile", &visitor.user).set("saved", false).ok("account.html")
}

#[derive(Debug, Deserialize)]
pub struct ProfileForm {
    name: String,
    locale: String,
    time_zone: String,
}

pub async fn update_profile(State(web): State<Arc<Web>>, visitor: Visitor, CsrfForm(f): CsrfForm<ProfileForm>) -> Response {
    let user = match require_user(&visitor) {
        Ok(u) => u,
        Err(to_sign_in) => return to_sign_in,
    };
    let req =
        UpdateProfile { name: Some(f.name), avatar_url: None, bio: None, locale: Some(f.locale), time_zone: Some(f.time_zone) };
    match web.identity.update_profile(user, req).await {
        Ok(updated) => {
            // The account's language becomes this browser's too.
            let lang = format!("lang={}; Path=/; Max-Age=31536000; SameSite=Lax", updated.locale);
            let page = Page::new(&web, &visitor).set("profile", &updated).set("saved", true).ok("account.html");
            ([(header::SET_COOKIE, lang)], page).into_response()
        }
        Err(e) => Page::new(&web, &visitor)
            .set("profile", &visitor.user)
            .set("saved", false)
            .set("problem", problem(&web, &visitor, &e))
            .render(e.status(), "account.html"),
    }
}

pub async fn sessions(State(web): State<Arc<Web>>, visitor: Visitor) -> Response {
    let user = match require_user(&visitor) {
        Ok(u) => u,
        Err(to_sign_in) => return to_sign_in,
    };
    let current = match &visitor.principal {
        Some(kernel::auth::Principal::User { session_id, .. }) => Some(*session_id),
        _ => None,
    };
    match web.identity.sessions(user, current).await {
        Ok(list) => {
            let rows: Vec<_> = list
                .iter()
                .map(|s| {
                    json!({ "id": s.id, "current": s.current, "user_agent": s.user_agent, "ip": s.ip,
                            "last_used": web.i18n.datetime(visitor.locale, s.last_used_at.fixed_offset()) })
                })
                .collect();
            Page::new(&web, &visitor).set("sessions", rows).ok("sessions.html")
        }
        Err(e) => error_page(&web, &visitor, e),
    }
}

pub async fn revoke_session(
    State(web): State<Arc<Web>>,
    visitor: Visitor,
    Path(id): Path<SessionId>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Response {
    let user = match require_user(&visitor) {
        Ok(u) => u,
        Err(to_sign_in) => return to_sign_in,
    };
    match web.identity.revoke_own_session(user, id).await {
        Ok(()) => see_other("/account/sessions"),
        Err(e) => error_page(&web, &visitor, e),
    }
}

/// "Sign out everywhere else": every session of the user but this browser's.
pub async fn revoke_other_sessions(State(web): State<Arc<Web>>, visitor: Visitor, CsrfForm(_): CsrfForm<Empty>) -> Response {
    let user = match require_user(&visitor) {
        Ok(u) => u,
        Err(to_sign_in) => return to_sign_in,
    };
    let current = match &visitor.principal {
        Some(kernel::auth::Principal::User { session_id, .. }) => Some(*session_id),
        _ => None,
    };
    let list = match web.identity.sessions(user, current).await {
        Ok(list) => list,
        Err(e) => return error_page(&web, &visitor, e),
    };
    for s in list.iter().filter(|s| !s.current) {
        if let Err(e) = web.identity.revoke_own_session(user, s.id).await {
            return error_page(&web, &visitor, e);
        }
    }
    see_other("/account/sessions")
}

/// `GET /invitations/accept?token=…`: the link in the invitation email. Signed out, it asks
/// to sign in or register first and comes back here.
pub async fn invitation(State(web): State<Arc<Web>>, visitor: Visitor, Query(q): Query<TokenQuery>) -> Response {
    let token = q.token.unwrap_or_default();
    if token.trim().is_empty() {
        return error_page(&web, &visitor, AppError::not_found("invitation"));
    }
    Page::new(&web, &visitor).set("token", token).ok("invitation.html")
}

#[derive(Debug, Deserialize)]
pub struct InvitationForm {
    token: String,
}

pub async fn accept_invitation(State(web): State<Arc<Web>>, visitor: Visitor, CsrfForm(f): CsrfForm<InvitationForm>) -> Response {
    let user = match require_user(&visitor) {
        Ok(u) => u,
        Err(to_sign_in) => return to_sign_in,
    };
    match web.identity.accept_invitation(user, &f.token).await {
        Ok(org) => see_other(&format!("/manage/orgs/{}", org.id)),
        Err(e @ (AppError::Conflict { .. } | AppError::BadRequest { .. } | AppError::Forbidden { .. })) => {
            Page::new(&web, &visitor)
                .set("heading", text(&web, &visitor, "invitation-failed", &[]))
                .set(
                    "message",
                    match &e {
                        AppError::Forbidden { .. } => text(&web, &visitor, "invitation-other-email", &[]),
                        other => problem(&web, &visitor, other),
                    },
                )
                .set("back", "/manage")
                .set("request_id", serde_json::Value::Null)
                .render(if matches!(e, AppError::Forbidden { .. }) { StatusCode::FORBIDDEN } else { e.status() }, "error.html")
        }
        Err(e) => error_page(&web, &visitor, e),
    }
}
