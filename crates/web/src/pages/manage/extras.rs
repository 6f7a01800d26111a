//! The event editor's further sections: ticketing settings (hold time, tickets per buyer,
//! waitlist offer time and tiers), vouchers (percent or amount off, use limit, hidden types
//! they unlock) and the programme (sessions, typed in the event's zone).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use events::{CreateSession, EventId};
use kernel::AppError;
use serde::Deserialize;
use ticketing::{CreateVoucher, UpdateTicketingSettings};

use super::{local_instant, minor_units, principal};
use crate::Web;
use crate::form::CsrfForm;
use crate::pages::form_failed;
use crate::session::Visitor;

fn whole(field: &str, raw: Option<&str>) -> Result<Option<i64>, AppError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|_| AppError::validation(field, "must be a whole number")),
    }
}

#[derive(Debug, Deserialize)]
pub struct SettingsForm {
    hold_minutes: String,
    /// Blank: no limit.
    max_tickets_per_buyer: Option<String>,
    waitlist_offer_hours: String,
    /// Comma-separated, earliest served first.
    waitlist_tiers: String,
}

/// `POST /manage/events/{id}/settings`.
pub async fn update_settings(
    State(web): State<Arc<Web>>,
    visitor: Visitor,
    Path(id): Path<EventId>,
    CsrfForm(f): CsrfForm<SettingsForm>,
) -> Response {
    let p = match principal(&visitor) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let back = format!("/manage/events/{id}#settings");
    let parsed = (|| -> Result<UpdateTicketingSettings, AppError> {
        Ok(UpdateTicketingSettings {
            hold_minutes: whole("hold_minutes", Some(&f.hold_minutes))?,
            hold_seconds: None,
            max_tickets_per_buyer: Some(whole("max_tickets_per_buyer", f.max_tickets_per_buyer.as_deref())?),
            waitlist_offer_hours: whole("waitlist_offer_hours", Some(&f.waitlist_offer_hours))?,
            waitlist_offer_seconds: None,
            waitlist_tiers: Some(f.waitlist_tiers.split(',').map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect()),
        })
    })();
    let req = match parsed {
        Ok(r) => r,
        Err(e) => return form_failed(&web, &visitor, "manage-failed", e, &back),
    };
    let result = web.ticketing.catalog().update_settings(&p, id, req).await;
    crate::pages::after(&web, &visitor, "manage-failed", result, &back)
}

/// `POST /manage/events/{id}/vouchers`: `code`, `percent_off` or `amount_off` (in the
/// event's `currency`), `max_uses`, and the hidden types it unlocks (`unlock.<id>`).
pub async fn create_voucher(
    State(web): State<Arc<Web>>,
    visitor: Visitor,
    Path(id): Path<EventId>,
    CsrfForm(f): CsrfForm<HashMap<String, String>>,
) -> Response {
    let p = match principal(&visitor) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let back = format!("/manage/events/{id}#vouchers");
    let get = |k: &str| f.get(k).map(String::as_str);
    let parsed = (|| -> Result<CreateVoucher, AppError> {
        let currency = get("currency").unwrap_or("EUR").trim().to_ascii_uppercase();
        let amount_off = match get("amount_off").map(str::trim).filter(|s| !s.is_empty()) {
            Some(a) => Some(minor_units("amount_off", a, &currency)?),
            None => None,
        };
        let mut unlock = Vec::new();
        for key in f.keys() {
            if let Some(raw) = key.strip_prefix("unlock.") {
                unlock.push(raw.parse().map_err(|_| AppError::validation("unlock_ticket_type_ids", "is not a ticket type"))?);
            }
        }
        Ok(CreateVoucher {
            code: get("code").unwrap_or_default().trim().to_string(),
            percent_off: whole("percent_off", get("percent_off"))?,
            currency: amount_off.map(|_| currency),
            amount_off,
            max_uses: whole("max_uses", get("max_uses"))?,
            valid_from: None,
            valid_until: None,
            ticket_type_ids: Vec::new(),
            unlock_ticket_type_ids: unlock,
        })
    })();
    let req = match parsed {
        Ok(r) => r,
        Err(e) => return form_failed(&web, &visitor, "manage-failed", e, &back),
    };
    let result = web.ticketing.catalog().create_voucher(&p, id, req).await;
    crate::pages::after(&web, &visitor, "manage-failed", result, &back)
}

#[derive(Debug, Deserialize)]
pub struct SessionForm {
    title: String,
    starts_at: String,
    ends_at: String,
    room: Option<String>,
    performers: Option<String>,
    /// The event's zone, which the times are read in.
    time_zone: String,
}

/// `POST /manage/events/{id}/sessions`: a slot of the programme.
pub async fn create_session(
    State(web): State<Arc<Web>>,
    visitor: Visitor,
    Path(id): Path<EventId>,
    CsrfForm(f): CsrfForm<SessionForm>,
) -> Response {
    let p = match principal(&visitor) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let back = format!("/manage/events/{id}#sessions");
    let times = local_instant("starts_at", &f.starts_at, &f.time_zone)
        .and_then(|s| Ok((s, local_instant("ends_at", &f.ends_at, &f.time_zone)?)));
    let (starts_at, ends_at) = match times {
        Ok(t) => t,
        Err(e) => return form_failed(&web, &visitor, "manage-failed", e, &back),
    };
    let req = CreateSession {
        title: f.title,
        description: None,
        starts_at,
        ends_at,
        room: f.room.map(|r| r.trim().to_string()).filter(|r| !r.is_empty()),
        performers: f.performers.unwrap_or_default().split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
    };
    let result = web.events.create_session(&p, id, req).await;
    crate::pages::after(&web, &visitor, "manage-failed", result, &back)
}
