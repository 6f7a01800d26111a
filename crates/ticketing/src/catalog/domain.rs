//! Catalog rules without I/O: who sees a ticket type, the fields of types, quotas and
//! vouchers (currencies, prices, capacities, codes, windows), sales windows, and the
//! ticketing settings with their bounds.

use chrono::{DateTime, Datelike, Utc};
use kernel::AppError;
use kernel::money::Currency;
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use utoipa::ToSchema;

use super::store::{SettingsRecord, VoucherRecord};
use crate::domain::{self, TicketTypeId};
use crate::model::UpdateTicketingSettings;

/// 1 000 000 000.00 in a currency with two decimals: far above any ticket, far below overflow.
pub const PRICE_MAX: i64 = 100_000_000_000;
pub const CAPACITY_MAX: i64 = 10_000_000;
pub const TYPES_PER_EVENT_MAX: i64 = 200;
pub const QUOTAS_PER_EVENT_MAX: i64 = 200;
pub const VOUCHER_CODE_MAX: usize = 64;
pub const VOUCHER_TYPES_MAX: usize = 200;
pub const HOLD_SECONDS_DEFAULT: i64 = 600;
pub const HOLD_SECONDS_MAX: i64 = 86_400;
pub const WAITLIST_OFFER_HOURS_DEFAULT: i64 = 24;
pub const WAITLIST_OFFER_HOURS_MAX: i64 = 24 * 14;
pub const WAITLIST_TIERS_MAX: usize = 10;
pub const SORT_ORDER_MAX: i64 = 1_000_000;

/// Who may see and book a ticket type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Listed and bookable by everyone during its sales window.
    Public,
    /// Listed and bookable only with a voucher that unlocks it (members always see it).
    Hidden,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Hidden => "hidden",
        }
    }
}

impl TryFrom<String> for Visibility {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        match s.as_str() {
            "public" => Ok(Visibility::Public),
            "hidden" => Ok(Visibility::Hidden),
            _ => Err(format!("unknown visibility {s}")),
        }
    }
}

// ---- fields -----------------------------------------------------------------------------

/// An ISO 4217 currency code from [`kernel::money::CURRENCIES`], normalized to upper case
/// (`eur` → `EUR`); rows and API bodies keep it as text.
pub fn currency(field: &str, raw: &str) -> Result<String, AppError> {
    Currency::parse(field, raw).map(|c| c.as_str().to_string())
}

/// A price in minor units (cents): 0..=PRICE_MAX.
pub fn price(field: &str, raw: i64) -> Result<i64, AppError> {
    if (0..=PRICE_MAX).contains(&raw) {
        Ok(raw)
    } else {
        Err(AppError::validation(field, format!("must be between 0 and {PRICE_MAX} (minor units, e.g. cents)")))
    }
}

/// A capacity: 0..=CAPACITY_MAX.
pub fn capacity(field: &str, raw: i64) -> Result<i64, AppError> {
    if (0..=CAPACITY_MAX).contains(&raw) {
        Ok(raw)
    } else {
        Err(AppError::validation(field, format!("must be between 0 and {CAPACITY_MAX}")))
    }
}

/// A voucher code: 1–64 letters, digits, `-` or `_`; compared case-insensitively.
pub fn voucher_code(field: &str, raw: &str) -> Result<String, AppError> {
    let s = raw.trim();
    if s.is_empty() || s.len() > VOUCHER_CODE_MAX || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(AppError::validation(field, "must be 1–64 letters, digits, '-' or '_'"));
    }
    Ok(s.to_string())
}

/// The case-insensitive form a voucher code is looked up by.
pub fn code_norm(code: &str) -> String {
    code.trim().to_ascii_uppercase()
}

/// An optional `[from, until)` window.
pub type Window = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// Checks an optional `[from, until)` window: years 1900–9999, `until` after `from`.
pub fn window(
    (from_field, from): (&str, Option<DateTime<Utc>>),
    (until_field, until): (&str, Option<DateTime<Utc>>),
) -> Result<Window, AppError> {
    for (field, t) in [(from_field, from), (until_field, until)] {
        if let Some(t) = t
            && !(1900..=9999).contains(&t.year())
        {
            return Err(AppError::validation(field, "must be between the years 1900 and 9999"));
        }
    }
    if let (Some(f), Some(u)) = (from, until)
        && u <= f
    {
        return Err(AppError::validation(until_field, format!("must be after {from_field}")));
    }
    Ok((from.map(kernel::time::truncate), until.map(kernel::time::truncate)))
}

/// Waitlist tiers: 1–10 distinct slugs (`a-z`, `0-9`, `-`, `_`, up to 32 characters), in
/// priority order.
pub fn tiers(field: &str, raw: &[String]) -> Result<Vec<String>, AppError> {
    if raw.is_empty() || raw.len() > WAITLIST_TIERS_MAX {
        return Err(AppError::validation(field, format!("must list 1–{WAITLIST_TIERS_MAX} tiers")));
    }
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for (i, t) in raw.iter().enumerate() {
        let t = t.trim().to_ascii_lowercase();
        if t.is_empty()
            || t.len() > 32
            || !t.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            return Err(AppError::validation(format!("{field}[{i}]"), "must be 1–32 of a-z, 0-9, '-' or '_'"));
        }
        if out.contains(&t) {
            return Err(AppError::validation(format!("{field}[{i}]"), "listed twice"));
        }
        out.push(t);
    }
    Ok(out)
}

// ---- sales windows ------------------------------------------------------------------------

/// Whether a ticket type is on sale at `at`: after `sales_start` (if any) and before
/// `sales_end`, which defaults to the end of the event. `Err` says why not.
pub fn sales_open(
    at: DateTime<Utc>,
    sales_start: Option<DateTime<Utc>>,
    sales_end: Option<DateTime<Utc>>,
    event_ends_at: DateTime<Utc>,
) -> Result<(), String> {
    if let Some(start) = sales_start
        && at < start
    {
        return Err(format!("sales start at {}", start.to_rfc3339()));
    }
    let end = sales_end.unwrap_or(event_ends_at);
    if at >= end {
        return Err(if sales_end.is_some() { "sales have ended".to_string() } else { "the event is over".to_string() });
    }
    Ok(())
}

/// Checks that every id in `ids` is a ticket type of the event (`known`), reporting the
/// first stranger as `field[i]`, and drops duplicates.
pub fn known_types(field: &str, ids: &[TicketTypeId], known: &[TicketTypeId], max: usize) -> Result<Vec<TicketTypeId>, AppError> {
    if ids.len() > max {
        return Err(AppError::validation(field, format!("at most {max} ticket types")));
    }
    let mut out: Vec<TicketTypeId> = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        if !known.contains(id) {
            return Err(AppError::validation(format!("{field}[{i}]"), "no such ticket type in this event"));
        }
        if !out.contains(id) {
            out.push(*id);
        }
    }
    Ok(out)
}

/// Validates and normalizes a voucher's fields against the event's ticket types.
pub(crate) fn validate_voucher(v: &mut VoucherRecord, known: &[TicketTypeId]) -> Result<(), AppError> {
    match (v.amount_off, v.percent_off) {
        (Some(_), Some(_)) => return Err(AppError::validation("percent_off", "give amount_off or percent_off, not both")),
        (Some(a), None) => {
            if !(1..=domain::PRICE_MAX).contains(&a) {
                return Err(AppError::validation("amount_off", format!("must be between 1 and {}", domain::PRICE_MAX)));
            }
            let Some(c) = v.currency.as_deref() else {
                return Err(AppError::validation("currency", "required with amount_off"));
            };
            v.currency = Some(domain::currency("currency", c)?);
        }
        (None, Some(pct)) => {
            domain::within("percent_off", pct, 0..=100)?;
            v.currency = v.currency.as_deref().map(|c| domain::currency("currency", c)).transpose()?;
        }
        (None, None) => {
            v.currency = v.currency.as_deref().map(|c| domain::currency("currency", c)).transpose()?;
        }
    }
    if let Some(m) = v.max_uses {
        domain::within("max_uses", m, 1..=domain::CAPACITY_MAX)?;
    }
    let (from, until) = domain::window(("valid_from", v.valid_from), ("valid_until", v.valid_until))?;
    v.valid_from = from;
    v.valid_until = until;
    v.ticket_type_ids = Json(known_types("ticket_type_ids", &v.ticket_type_ids.0, known, domain::VOUCHER_TYPES_MAX)?);
    v.unlock_ticket_type_ids =
        Json(known_types("unlock_ticket_type_ids", &v.unlock_ticket_type_ids.0, known, domain::VOUCHER_TYPES_MAX)?);
    Ok(())
}

/// Applies a settings change to the event's settings: only the fields present, each within
/// its bounds; a duration given in two units at once is a `422`.
pub(crate) fn apply_settings(s: &mut SettingsRecord, req: &UpdateTicketingSettings) -> Result<(), AppError> {
    match (req.hold_minutes, req.hold_seconds) {
        (Some(_), Some(_)) => {
            return Err(AppError::validation("hold_seconds", "give hold_minutes or hold_seconds, not both"));
        }
        (Some(m), None) => s.hold_seconds = domain::within("hold_minutes", m, 1..=domain::HOLD_SECONDS_MAX / 60)? * 60,
        (None, Some(secs)) => s.hold_seconds = domain::within("hold_seconds", secs, 1..=domain::HOLD_SECONDS_MAX)?,
        (None, None) => {}
    }
    if let Some(max) = req.max_tickets_per_buyer {
        s.max_tickets_per_buyer = max.map(|m| domain::within("max_tickets_per_buyer", m, 1..=10_000)).transpose()?;
    }
    match (req.waitlist_offer_hours, req.waitlist_offer_seconds) {
        (Some(_), Some(_)) => {
            return Err(AppError::validation(
                "waitlist_offer_seconds",
                "give waitlist_offer_hours or waitlist_offer_seconds, not both",
            ));
        }
        (Some(h), None) => {
            s.waitlist_offer_hours = domain::within("waitlist_offer_hours", h, 1..=domain::WAITLIST_OFFER_HOURS_MAX)?;
            s.waitlist_offer_seconds = s.waitlist_offer_hours * 3600;
        }
        (None, Some(secs)) => {
            s.waitlist_offer_seconds = domain::within("waitlist_offer_seconds", secs, 1..=domain::WAITLIST_OFFER_SECONDS_MAX)?;
            s.waitlist_offer_hours = s.waitlist_offer_seconds / 3600;
        }
        (None, None) => {}
    }
    if let Some(t) = &req.waitlist_tiers {
        s.waitlist_tiers = Json(domain::tiers("waitlist_tiers", t)?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{EMAIL_MAX, buyer_key, email};

    fn field(e: AppError) -> String {
        match e {
            AppError::Validation { field, .. } => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn currencies_prices_emails_codes() {
        assert_eq!(currency("currency", "eur").unwrap(), "EUR");
        for bad in ["", "EU", "EURO", "XYZ", "€", "e1r"] {
            assert_eq!(field(currency("currency", bad).unwrap_err()), "currency", "{bad}");
        }
        assert!(price("price", -1).is_err());
        assert_eq!(price("price", 0).unwrap(), 0);
        assert!(price("price", PRICE_MAX + 1).is_err());
        assert_eq!(email("buyer_email", " Ann@Example.org ").unwrap(), "Ann@Example.org");
        for bad in ["", "ann", "ann@", "@x.org", "a b@x.org", "a@b", "a@b@c.org", "a@.org", "a@x.org."] {
            assert!(email("buyer_email", bad).is_err(), "{bad}");
        }
        assert!(email("buyer_email", &format!("{}@x.org", "é".repeat(EMAIL_MAX - 6))).is_ok(), "characters, not bytes");
        assert!(email("buyer_email", &format!("{}@x.org", "é".repeat(EMAIL_MAX - 5))).is_err());
        assert_eq!(buyer_key(" Ann@Example.ORG"), "ann@example.org");
        assert_eq!(voucher_code("code", " Early-Bird_1 ").unwrap(), "Early-Bird_1");
        assert!(voucher_code("code", "no spaces").is_err());
        assert!(voucher_code("code", &"x".repeat(65)).is_err());
        assert_eq!(code_norm("early-bird"), "EARLY-BIRD");
        assert_eq!(tiers("waitlist_tiers", &["VIP".into(), "standard".into()]).unwrap(), vec!["vip", "standard"]);
        assert_eq!(field(tiers("waitlist_tiers", &["vip".into(), "vip".into()]).unwrap_err()), "waitlist_tiers[1]");
        assert!(tiers("waitlist_tiers", &[]).is_err());
    }

    #[test]
    fn sales_windows() {
        let t: DateTime<Utc> = "2026-05-01T12:00:00Z".parse().unwrap();
        let end: DateTime<Utc> = "2026-06-01T00:00:00Z".parse().unwrap();
        assert!(sales_open(t, None, None, end).is_ok());
        assert!(sales_open(t, Some(t), None, end).is_ok());
        assert!(sales_open(t, Some(t + chrono::TimeDelta::seconds(1)), None, end).is_err());
        assert!(sales_open(t, None, Some(t), end).is_err());
        assert!(sales_open(end, None, None, end).is_err());
        let (from, until) = window(("valid_from", Some(t)), ("valid_until", Some(end))).unwrap();
        assert_eq!((from, until), (Some(t), Some(end)));
        assert_eq!(field(window(("valid_from", Some(end)), ("valid_until", Some(t))).unwrap_err()), "valid_until");
    }

    fn settings() -> SettingsRecord {
        let at: DateTime<Utc> = "2026-05-01T12:00:00Z".parse().unwrap();
        SettingsRecord {
            event_id: events::EventId::new(),
            hold_seconds: HOLD_SECONDS_DEFAULT,
            max_tickets_per_buyer: None,
            waitlist_offer_hours: WAITLIST_OFFER_HOURS_DEFAULT,
            waitlist_tiers: Json(vec!["vip".into(), "standard".into()]),
            waitlist_offer_seconds: WAITLIST_OFFER_HOURS_DEFAULT * 3600,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn settings_change_only_what_is_given_and_keep_units_in_step() {
        let mut s = settings();
        let req = UpdateTicketingSettings { hold_minutes: Some(5), waitlist_offer_seconds: Some(7200), ..Default::default() };
        apply_settings(&mut s, &req).unwrap();
        assert_eq!((s.hold_seconds, s.waitlist_offer_seconds, s.waitlist_offer_hours), (300, 7200, 2));
        assert_eq!(s.max_tickets_per_buyer, None, "absent: unchanged");

        let req = UpdateTicketingSettings { max_tickets_per_buyer: Some(Some(4)), ..Default::default() };
        apply_settings(&mut s, &req).unwrap();
        assert_eq!(s.max_tickets_per_buyer, Some(4));
        let req = UpdateTicketingSettings { max_tickets_per_buyer: Some(None), ..Default::default() };
        apply_settings(&mut s, &req).unwrap();
        assert_eq!(s.max_tickets_per_buyer, None, "null removes the cap");

        let both = UpdateTicketingSettings { hold_minutes: Some(1), hold_seconds: Some(60), ..Default::default() };
        assert_eq!(field(apply_settings(&mut settings(), &both).unwrap_err()), "hold_seconds");
        let too_long = UpdateTicketingSettings { hold_seconds: Some(HOLD_SECONDS_MAX + 1), ..Default::default() };
        assert_eq!(field(apply_settings(&mut settings(), &too_long).unwrap_err()), "hold_seconds");
        let tiers = UpdateTicketingSettings { waitlist_tiers: Some(vec!["a".into(), "A".into()]), ..Default::default() };
        assert_eq!(field(apply_settings(&mut settings(), &tiers).unwrap_err()), "waitlist_tiers[1]");
    }

    #[test]
    fn vouchers_are_checked_against_the_event() {
        let (known, stranger) = (TicketTypeId::new(), TicketTypeId::new());
        assert_eq!(known_types("ids", &[known, known], &[known], 10).unwrap(), vec![known], "duplicates dropped");
        assert_eq!(field(known_types("ids", &[known, stranger], &[known], 10).unwrap_err()), "ids[1]");
        assert_eq!(field(known_types("ids", &[known, known], &[known], 1).unwrap_err()), "ids");

        let at: DateTime<Utc> = "2026-05-01T12:00:00Z".parse().unwrap();
        let voucher = |amount_off, percent_off, currency: Option<&str>| VoucherRecord {
            id: crate::domain::VoucherId::new(),
            org_id: kernel::id::OrgId::new(),
            event_id: events::EventId::new(),
            code: "X".into(),
            code_norm: "X".into(),
            amount_off,
            percent_off,
            currency: currency.map(str::to_string),
            max_uses: None,
            uses: 0,
            valid_from: None,
            valid_until: None,
            ticket_type_ids: Json(vec![known]),
            unlock_ticket_type_ids: Json(Vec::new()),
            created_at: at,
            updated_at: at,
        };
        let mut v = voucher(Some(500), None, Some("eur"));
        validate_voucher(&mut v, &[known]).unwrap();
        assert_eq!(v.currency.as_deref(), Some("EUR"));
        assert_eq!(field(validate_voucher(&mut voucher(Some(500), None, None), &[known]).unwrap_err()), "currency");
        assert_eq!(field(validate_voucher(&mut voucher(Some(5), Some(5), None), &[known]).unwrap_err()), "percent_off");
        assert_eq!(field(validate_voucher(&mut voucher(None, Some(101), None), &[known]).unwrap_err()), "percent_off");
        assert_eq!(field(validate_voucher(&mut voucher(None, Some(10), None), &[]).unwrap_err()), "ticket_type_ids[0]");
    }
}
