//! Payment settings (admins): which provider the organization's checkout uses (the test
//! provider, or Stripe when this server has Stripe keys) and whether buyers may pay by bank
//! transfer. Stripe Connect accounts are a platform administrator's business (the API).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use kernel::auth::Role;
use kernel::id::OrgId;
use payments::ProviderKind;
use payments::model::UpdatePaymentSettings;
use serde::Deserialize;

use super::member;
use crate::Web;
use crate::form::CsrfForm;
use crate::pages::{Page, error_page};
use crate::session::Visitor;

pub async fn payment_settings(State(web): State<Arc<Web>>, visitor: Visitor, Path(org): Path<OrgId>) -> Response {
    let (p, _) = match member(&web, &visitor, org, Role::Admin).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    match web.payments.settings(&p, org).await {
        Ok(settings) => Page::new(&web, &visitor).set("org_id", org).set("settings", settings).ok("manage/payments.html"),
        Err(e) => error_page(&web, &visitor, e),
    }
}

#[derive(Debug, Deserialize)]
pub struct PaymentForm {
    provider: ProviderKind,
    /// A ticked box sends `yes`; an unticked one sends nothing.
    offline_enabled: Option<String>,
}

pub async fn update_payment_settings(
    State(web): State<Arc<Web>>,
    visitor: Visitor,
    Path(org): Path<OrgId>,
    CsrfForm(f): CsrfForm<PaymentForm>,
) -> Response {
    let (p, _) = match member(&web, &visitor, org, Role::Admin).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    let back = format!("/manage/orgs/{org}/payments");
    let req = UpdatePaymentSettings {
        provider: Some(f.provider),
        offline_enabled: Some(f.offline_enabled.is_some()),
        stripe_account: None,
    };
    let result = web.payments.update_settings(&p, org, req).await;
    crate::pages::after(&web, &visitor, "manage-failed", result, &back)
}
