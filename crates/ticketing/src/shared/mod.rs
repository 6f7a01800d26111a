//! What the features share: typed ids ([`ids`]), rules every feature uses ([`domain`]), the
//! hand-built request schemas ([`schema`]) and the state every feature service works on
//! ([`state`]: kernel, access checks, events, the booking writer, the caches, payments).
//!
//! Each feature folder (`catalog`, `bookings`, `checkin`, `waitlist`, `reports`) owns its
//! HTTP handlers, use cases, SQL, shapes and rules; what sits here is what no one feature
//! owns. The crate's [`crate::domain`] and [`crate::model`] gather every feature's rules and
//! shapes under one name.

use serde::{Deserialize, Deserializer};

pub(crate) mod domain;
pub(crate) mod ids;
pub(crate) mod schema;
pub(crate) mod state;

/// Reads a present field (even `null`) as `Some`, so `Option<Option<T>>` tells an absent
/// field (`None`) from an explicit `null` (`Some(None)`).
pub(crate) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use utoipa::{IntoParams, PartialSchema};

    use super::schema;
    use crate::domain;
    use crate::model::*;

    fn schema_of<T: PartialSchema>() -> Value {
        serde_json::to_value(T::schema()).unwrap()
    }

    fn params_of<T: IntoParams>() -> Value {
        let params = T::into_params(|| None);
        Value::Object(params.into_iter().map(|p| (p.name.clone(), serde_json::to_value(p.schema).unwrap())).collect())
    }

    /// Every request schema and query, by name.
    fn request_schemas() -> Value {
        json!({
            "CreateTicketType": schema_of::<CreateTicketType>(),
            "UpdateTicketType": schema_of::<UpdateTicketType>(),
            "TicketTypeQuery": params_of::<TicketTypeQuery>(),
            "CreateQuota": schema_of::<CreateQuota>(),
            "UpdateQuota": schema_of::<UpdateQuota>(),
            "CreateVoucher": schema_of::<CreateVoucher>(),
            "UpdateVoucher": schema_of::<UpdateVoucher>(),
            "UpdateTicketingSettings": schema_of::<UpdateTicketingSettings>(),
            "PositionRequest": schema_of::<PositionRequest>(),
            "Attendee": schema_of::<Attendee>(),
            "CreateBooking": schema_of::<CreateBooking>(),
            "UpdateBooking": schema_of::<UpdateBooking>(),
            "MarkPaid": schema_of::<MarkPaid>(),
            "BookingQuery": params_of::<BookingQuery>(),
            "CreateCheckinList": schema_of::<CreateCheckinList>(),
            "UpdateCheckinList": schema_of::<UpdateCheckinList>(),
            "CheckinRequest": schema_of::<CheckinRequest>(),
            "CheckinBatch": schema_of::<CheckinBatch>(),
            "JoinWaitlist": schema_of::<JoinWaitlist>(),
            "UpdateWaitlistEntry": schema_of::<UpdateWaitlistEntry>(),
            "WaitlistQuery": params_of::<WaitlistQuery>(),
        })
    }

    /// The value at `path` (`/`-separated) in the request schemas.
    fn at(schemas: &Value, path: &str) -> Value {
        let pointer = format!("/{path}").replace("/~", "/properties/");
        schemas.pointer(&pointer).cloned().unwrap_or_else(|| panic!("no {pointer}"))
    }

    #[test]
    fn schema_limits_follow_the_domain() {
        let s = request_schemas();
        let n = |v: i64| json!(v);
        let u = |v: usize| json!(v);
        for (path, expected) in [
            ("CreateTicketType/~name/maxLength", u(domain::NAME_MAX)),
            ("CreateTicketType/~description/maxLength", u(domain::DESCRIPTION_MAX)),
            ("CreateTicketType/~price/maximum", n(domain::PRICE_MAX)),
            ("CreateTicketType/~min_per_order/maximum", n(domain::BOOKING_TICKETS_MAX)),
            ("CreateTicketType/~max_per_order/maximum", n(domain::BOOKING_TICKETS_MAX)),
            ("CreateTicketType/~sort_order/minimum", n(-domain::SORT_ORDER_MAX)),
            ("CreateTicketType/~sort_order/maximum", n(domain::SORT_ORDER_MAX)),
            ("CreateTicketType/~capacity/maximum", n(domain::CAPACITY_MAX)),
            ("UpdateTicketType/~name/maxLength", u(domain::NAME_MAX)),
            ("UpdateTicketType/~description/maxLength", u(domain::DESCRIPTION_MAX)),
            ("UpdateTicketType/~price/maximum", n(domain::PRICE_MAX)),
            ("UpdateTicketType/~min_per_order/maximum", n(domain::BOOKING_TICKETS_MAX)),
            ("UpdateTicketType/~max_per_order/maximum", n(domain::BOOKING_TICKETS_MAX)),
            ("UpdateTicketType/~sort_order/maximum", n(domain::SORT_ORDER_MAX)),
            ("TicketTypeQuery/voucher/maxLength", u(domain::VOUCHER_CODE_MAX)),
            ("CreateQuota/~name/maxLength", u(domain::NAME_MAX)),
            ("CreateQuota/~capacity/maximum", n(domain::CAPACITY_MAX)),
            ("CreateQuota/~ticket_type_ids/maxItems", n(domain::TYPES_PER_EVENT_MAX)),
            ("UpdateQuota/~capacity/maximum", n(domain::CAPACITY_MAX)),
            ("UpdateQuota/~ticket_type_ids/maxItems", n(domain::TYPES_PER_EVENT_MAX)),
            ("CreateVoucher/~code/maxLength", u(domain::VOUCHER_CODE_MAX)),
            ("CreateVoucher/~amount_off/maximum", n(domain::PRICE_MAX)),
            ("CreateVoucher/~max_uses/maximum", n(domain::CAPACITY_MAX)),
            ("CreateVoucher/~ticket_type_ids/maxItems", u(domain::VOUCHER_TYPES_MAX)),
            ("CreateVoucher/~unlock_ticket_type_ids/maxItems", u(domain::VOUCHER_TYPES_MAX)),
            ("UpdateVoucher/~code/maxLength", u(domain::VOUCHER_CODE_MAX)),
            ("UpdateVoucher/~amount_off/maximum", n(domain::PRICE_MAX)),
            ("UpdateVoucher/~max_uses/maximum", n(domain::CAPACITY_MAX)),
            ("UpdateVoucher/~ticket_type_ids/maxItems", u(domain::VOUCHER_TYPES_MAX)),
            ("UpdateVoucher/~unlock_ticket_type_ids/maxItems", u(domain::VOUCHER_TYPES_MAX)),
            ("UpdateTicketingSettings/~hold_minutes/maximum", n(domain::HOLD_SECONDS_MAX / 60)),
            ("UpdateTicketingSettings/~hold_seconds/maximum", n(domain::HOLD_SECONDS_MAX)),
            ("UpdateTicketingSettings/~waitlist_offer_hours/maximum", n(domain::WAITLIST_OFFER_HOURS_MAX)),
            ("UpdateTicketingSettings/~waitlist_offer_seconds/maximum", n(domain::WAITLIST_OFFER_SECONDS_MAX)),
            ("PositionRequest/~quantity/maximum", n(domain::BOOKING_TICKETS_MAX)),
            ("Attendee/~name/maxLength", u(domain::NAME_MAX)),
            ("Attendee/~email/maxLength", u(domain::EMAIL_MAX)),
            ("CreateBooking/~positions/maxItems", u(domain::POSITIONS_MAX)),
            ("CreateBooking/~buyer_email/maxLength", u(domain::EMAIL_MAX)),
            ("CreateBooking/~buyer_name/maxLength", u(domain::NAME_MAX)),
            ("CreateBooking/~voucher_code/maxLength", u(domain::VOUCHER_CODE_MAX)),
            ("CreateBooking/~attendees/maxItems", n(domain::BOOKING_TICKETS_MAX)),
            ("UpdateBooking/~buyer_name/maxLength", u(domain::NAME_MAX)),
            ("UpdateBooking/~attendees/maxItems", n(domain::BOOKING_TICKETS_MAX)),
            ("MarkPaid/~reference/maxLength", u(domain::REFERENCE_MAX)),
            ("BookingQuery/limit/maximum", n(kernel::pagination::MAX_LIMIT)),
            ("CreateCheckinList/~name/maxLength", u(domain::NAME_MAX)),
            ("UpdateCheckinList/~name/maxLength", u(domain::NAME_MAX)),
            ("CheckinRequest/~code/maxLength", u(domain::SCAN_TEXT_MAX)),
            ("CheckinRequest/~scan_id/maxLength", u(domain::SCAN_ID_MAX)),
            ("CheckinRequest/~gate/maxLength", u(domain::GATE_MAX)),
            ("CheckinBatch/~scans/items/required/1", json!("scan_id")),
            ("CheckinBatch/~scans/items/~scan_id/type", json!("string")),
            ("JoinWaitlist/~name/maxLength", u(domain::NAME_MAX)),
            ("JoinWaitlist/~quantity/maximum", n(domain::WAITLIST_QUANTITY_MAX)),
            ("WaitlistQuery/limit/maximum", n(kernel::pagination::MAX_LIMIT)),
        ] {
            let got = at(&s, path);
            match (got.as_f64(), expected.as_f64()) {
                (Some(g), Some(e)) => assert_eq!(g, e, "{path}"),
                _ => assert_eq!(got, expected, "{path}"),
            }
        }

        // Texts: the patterns spell out `str::trim` and `char::is_control`.
        let (c, w) = (schema::CONTROL, schema::SPACE_OR_CONTROL);
        let required = format!("^[^{c}]*[^{w}][^{c}]*$");
        for path in [
            "CreateTicketType/~name",
            "UpdateTicketType/~name",
            "CreateQuota/~name",
            "UpdateQuota/~name",
            "Attendee/~name",
            "CreateBooking/~buyer_name",
            "UpdateBooking/~buyer_name",
            "CreateCheckinList/~name",
            "UpdateCheckinList/~name",
            "JoinWaitlist/~name",
        ] {
            assert_eq!(at(&s, &format!("{path}/pattern")), json!(required), "{path}");
        }
        for path in ["MarkPaid/~reference", "CheckinRequest/~gate"] {
            assert_eq!(at(&s, &format!("{path}/pattern")), json!(format!("^[^{c}]*$")), "{path}");
        }
        assert_eq!(at(&s, "CheckinRequest/~code/pattern"), json!(format!("^(BL1\\.[^{c}]*|[ -]*[A-Za-z0-9][A-Za-z0-9 -]*)$")));
        for path in ["CreateBooking/~buyer_email", "UpdateBooking/~buyer_email", "Attendee/~email", "JoinWaitlist/~email"] {
            assert_eq!(at(&s, &format!("{path}/pattern")), json!(schema::email_pattern()), "{path}");
        }
    }

    #[test]
    fn currencies_are_the_ones_the_domain_accepts() {
        let s = request_schemas();
        for path in
            ["CreateTicketType/~currency", "UpdateTicketType/~currency", "CreateVoucher/~currency", "UpdateVoucher/~currency"]
        {
            for code in at(&s, &format!("{path}/enum")).as_array().unwrap() {
                if let Some(code) = code.as_str() {
                    assert_eq!(domain::currency("currency", code).unwrap(), code, "{path}");
                }
            }
        }
        assert!(at(&s, "CreateTicketType/~currency/enum").as_array().unwrap().iter().all(Value::is_string));
        assert!(at(&s, "UpdateVoucher/~currency/enum").as_array().unwrap().contains(&Value::Null));
    }
}
