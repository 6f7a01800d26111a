//! Organizer pages: the organizations a user belongs to, each one's dashboard, its events
//! (editor, ticket types and shared quotas, status), orders and attendees, and its team.
//!
//! Every page asks the same services the API does, as the signed-in user, so the role rules
//! are the API's (viewers read, staff edit, admins manage the team): a page a role may not
//! use answers as the API would (`403`, or `404` for outsiders).

mod dashboard;
mod events;
mod extras;
mod orders;
mod payments;
mod team;

use std::sync::Arc;

use axum::response::Response;
use kernel::AppError;
use kernel::auth::{OrgAccess, Principal, Role};
use kernel::id::OrgId;

pub use dashboard::{create_org, dashboard, home};
pub use events::{change_status, create_event, create_quota, create_ticket_type, create_venue, event_editor, update_event};
pub use extras::{create_session, create_voucher, update_settings};
pub use orders::{booking, cancel_booking, export_csv, mark_paid, orders, refund};
pub use payments::{payment_settings, update_payment_settings};
pub use team::{change_role, create_api_key, invite, remove_member, team};

use super::{error_page, require_user};
use crate::Web;
use crate::session::Visitor;

/// The signed-in member and their role in `org`, or the page that says why not.
async fn member(web: &Arc<Web>, visitor: &Visitor, org: OrgId, min: Role) -> Result<(Principal, Role), Response> {
    require_user(visitor)?;
    let Some(p) = visitor.principal.clone() else { return Err(error_page(web, visitor, AppError::not_found("organization"))) };
    match OrgAccess::require(&*web.identity, &p, org, min).await {
        Ok(scope) => Ok((p, scope.role())),
        Err(e) => Err(error_page(web, visitor, e)),
    }
}

/// The signed-in principal, or the sign-in redirect.
fn principal(visitor: &Visitor) -> Result<Principal, Response> {
    require_user(visitor)?;
    visitor.principal.clone().ok_or_else(|| super::see_other("/sign-in"))
}

/// What a role may do, for templates that show or hide controls. The services decide; this
/// only keeps buttons that would answer `403` off the page.
fn abilities(role: Role) -> serde_json::Value {
    serde_json::json!({ "role": role.as_str(), "edit": role >= Role::Staff, "admin": role >= Role::Admin })
}

/// Minor units from a form's decimal amount in `currency` (`12,50` or `12.50` EUR → 1250).
fn minor_units(field: &str, raw: &str, currency: &str) -> Result<i64, AppError> {
    let exponent = kernel::money::Currency::from_code(&currency.trim().to_ascii_uppercase())
        .map(|c| c.exponent())
        .ok_or_else(|| AppError::validation("currency", "is not an ISO 4217 currency"))? as usize;
    let raw = raw.trim().replace(',', ".");
    let bad = || AppError::validation(field, "must be an amount like 12.50");
    let (whole, frac) = raw.split_once('.').unwrap_or((&raw, ""));
    if whole.is_empty() && frac.is_empty()
        || frac.len() > exponent
        || !whole.chars().chain(frac.chars()).all(|c| c.is_ascii_digit())
    {
        return Err(bad());
    }
    let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| bad())? };
    let frac: i64 = if frac.is_empty() { 0 } else { format!("{frac:0<exponent$}").parse().map_err(|_| bad())? };
    whole.checked_mul(10i64.pow(exponent as u32)).and_then(|w| w.checked_add(frac)).ok_or_else(bad)
}

/// An instant from a `datetime-local` field read in `zone`.
fn local_instant(field: &str, raw: &str, zone: &str) -> Result<chrono::DateTime<chrono::Utc>, AppError> {
    let tz: chrono_tz::Tz = zone.parse().map_err(|_| AppError::validation("time_zone", "is not an IANA time zone"))?;
    let naive = chrono::NaiveDateTime::parse_from_str(raw.trim(), "%Y-%m-%dT%H:%M")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(raw.trim(), "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| AppError::validation(field, "must be a date and time (YYYY-MM-DDTHH:MM)"))?;
    use chrono::TimeZone;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&chrono::Utc))
        .ok_or_else(|| AppError::validation(field, "does not exist in that time zone (a clock change)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_read_in_the_currency_minor_units() {
        assert_eq!(minor_units("price", "12.50", "EUR").unwrap(), 1250);
        assert_eq!(minor_units("price", "12,5", "eur").unwrap(), 1250);
        assert_eq!(minor_units("price", "0", "EUR").unwrap(), 0);
        assert_eq!(minor_units("price", "3000", "JPY").unwrap(), 3000);
        assert!(minor_units("price", "1.5", "JPY").is_err());
        assert!(minor_units("price", "1.234", "EUR").is_err());
        assert!(minor_units("price", "-1", "EUR").is_err());
        assert!(minor_units("price", "", "EUR").is_err());
        assert!(minor_units("price", "99999999999999999999", "EUR").is_err());
        assert!(minor_units("price", "1", "XXZ").is_err());
    }

    #[test]
    fn local_times_are_read_in_the_event_zone() {
        let t = local_instant("starts_at", "2026-07-01T20:00", "Europe/Berlin").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-07-01T18:00:00+00:00");
        assert!(local_instant("starts_at", "2026-03-29T02:30", "Europe/Berlin").is_err(), "skipped by the clock change");
        assert!(local_instant("starts_at", "tomorrow", "Europe/Berlin").is_err());
        assert!(local_instant("starts_at", "2026-07-01T20:00", "Mars/Olympus").is_err());
    }
}
