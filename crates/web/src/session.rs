//! Who is visiting: the signed-in principal (from identity's session cookie, checked by the
//! kernel's edge like a bearer token), their language and the CSRF token their forms carry.
//!
//! The CSRF cookie is set on the first page a browser sees and is HttpOnly; forms carry
//! [`kernel::auth::csrf_token`] of it, which another site can neither read nor compute.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use identity::model::User;
use kernel::auth::{CSRF_COOKIE, Principal, SESSION_COOKIE, cookie, csrf_token};
use rand::RngCore;

use crate::Web;
use crate::i18n::Locale;

/// The browser session lives as long as identity's refresh sessions (30 days by default).
const SESSION_COOKIE_SECS: i64 = 30 * 24 * 3600;

/// The visitor of a page.
#[derive(Clone)]
pub struct Visitor {
    pub principal: Option<Principal>,
    /// The signed-in user, for the header and forms that greet them.
    pub user: Option<User>,
    pub locale: Locale,
    /// What this visitor's forms must send back as `csrf`.
    pub csrf: String,
    /// Path and query of the page, for "come back here" links.
    pub path: String,
}

impl Visitor {
    pub fn user_id(&self) -> Option<kernel::id::UserId> {
        self.principal.as_ref().and_then(Principal::user_id)
    }
}

impl FromRequestParts<Arc<Web>> for Visitor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, web: &Arc<Web>) -> Result<Self, Self::Rejection> {
        // An API key or bearer token is not a browser session: pages only honour cookies
        // (and whatever the edge found for them).
        let principal = parts.extensions.get::<Principal>().cloned().filter(|p| matches!(p, Principal::User { .. }));
        let user = match principal.as_ref().and_then(Principal::user_id) {
            Some(id) => web.identity.user(id).await.ok(),
            None => None,
        };
        // The language picked on this browser (the switch, or saving the profile, sets it),
        // else the browser's.
        let lang = cookie(&parts.headers, "lang");
        let accept = parts.headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
        let locale = web.i18n.negotiate(lang, accept);
        let csrf = cookie(&parts.headers, CSRF_COOKIE).map(csrf_token).unwrap_or_default();
        let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/").to_string();
        Ok(Visitor { principal, user, locale, csrf, path })
    }
}

/// Gives a browser without one its CSRF cookie — on the response, and on this very request so
/// the page it renders already carries the matching token.
pub async fn ensure_csrf_cookie(State(web): State<Arc<Web>>, mut req: Request, next: Next) -> Response {
    if cookie(req.headers(), CSRF_COOKIE).is_some() {
        return next.run(req).await;
    }
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    let value = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let pair = format!("{CSRF_COOKIE}={value}");
    let merged = match req.headers().get(header::COOKIE).and_then(|v| v.to_str().ok()) {
        Some(existing) => format!("{existing}; {pair}"),
        None => pair,
    };
    if let Ok(v) = HeaderValue::from_str(&merged) {
        req.headers_mut().insert(header::COOKIE, v);
    }
    let mut response = next.run(req).await;
    let set = format!("{CSRF_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax{}", secure(&web));
    if let Ok(v) = HeaderValue::from_str(&set) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

fn secure(web: &Web) -> &'static str {
    if web.secure_cookies { "; Secure" } else { "" }
}

/// `Set-Cookie` for a new browser session.
pub fn session_cookie(web: &Web, secret: &str) -> String {
    format!("{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Lax; Max-Age={SESSION_COOKIE_SECS}{}", secure(web))
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_session_cookie(web: &Web) -> String {
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}", secure(web))
}
