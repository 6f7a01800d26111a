//! Forms: a state-changing request from a page is accepted only with the visitor's CSRF
//! token in its `csrf` field and, when the browser says where it comes from, from this site.

use std::sync::Arc;

use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use axum::response::Response;
use kernel::AppError;
use kernel::auth::{CSRF_COOKIE, cookie, csrf_token};
use serde::de::DeserializeOwned;

use crate::Web;
use crate::pages::error_page;
use crate::session::Visitor;

/// A form body of `T`, CSRF-checked.
pub struct CsrfForm<T>(pub T);

#[derive(serde::Deserialize)]
struct Token {
    #[serde(default)]
    csrf: String,
}

/// Compares without an early exit, so timing tells nothing about the token.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl<T: DeserializeOwned + Send> FromRequest<Arc<Web>> for CsrfForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, web: &Arc<Web>) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let visitor = <Visitor as axum::extract::FromRequestParts<Arc<Web>>>::from_request_parts(&mut parts, web).await?;
        let refuse = |visitor: &Visitor| {
            let mut page = error_page(web, visitor, AppError::forbidden("csrf"));
            *page.status_mut() = StatusCode::FORBIDDEN;
            page
        };
        let host = parts.headers.get(header::HOST).and_then(|v| v.to_str().ok());
        let origin = parts.headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
        if let (Some(origin), Some(host)) = (origin, host) {
            let origin_host = origin.split_once("://").map(|(_, rest)| rest).unwrap_or(origin);
            if origin != "null" && origin_host != host {
                return Err(refuse(&visitor));
            }
        }
        let bytes =
            axum::body::to_bytes(body, usize::MAX).await.map_err(|_| error_page(web, &visitor, AppError::PayloadTooLarge))?;
        let token: Token = serde_urlencoded::from_bytes(&bytes).unwrap_or(Token { csrf: String::new() });
        let expected = cookie(&parts.headers, CSRF_COOKIE).map(csrf_token);
        if !expected.is_some_and(|e| same(&e, &token.csrf)) {
            return Err(refuse(&visitor));
        }
        match serde_urlencoded::from_bytes::<T>(&bytes) {
            Ok(value) => Ok(CsrfForm(value)),
            Err(e) => Err(error_page(web, &visitor, AppError::validation("form", e.to_string()))),
        }
    }
}
