//! Hand-built schemas of request fields whose rules the derive attributes cannot state
//! (an enumeration taken from the domain, unique items, a nested field made required), or
//! state only with a regex too long to repeat on every field. The limits come from
//! [`crate::domain`], so the schema follows the server's rules.
//!
//! Regexes use the syntax ECMA-262 and Python's `re` share (no `\s`: the two disagree on
//! it, and Rust's `trim` and `char::is_control` are spelled out instead).

use utoipa::PartialSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{Array, ArrayBuilder, Object, ObjectBuilder, Schema, SchemaType, Type};

use crate::domain;
use crate::model::CheckinRequest;

/// Characters `char::is_control` is true for (Unicode `Cc`). The derive attributes of the
/// text fields spell it out (they take literals only); a test holds them to it.
#[cfg(test)]
pub(crate) const CONTROL: &str = r"\x00-\x1f\x7f-\x9f";
/// `CONTROL` plus the characters `str::trim` removes (Unicode `White_Space`).
pub(crate) const SPACE_OR_CONTROL: &str = r"\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

fn string_type(nullable: bool) -> SchemaType {
    if nullable { SchemaType::from_iter([Type::String, Type::Null]) } else { SchemaType::new(Type::String) }
}

/// What `domain::email` accepts: one `@`, something before it, a domain with a dot that
/// neither starts nor ends it; no spaces or control characters.
pub(crate) fn email_pattern() -> String {
    let w = SPACE_OR_CONTROL;
    format!("^[^@{w}]+@[^@.{w}][^@{w}]*\\.[^@{w}]*[^@.{w}]$")
}

fn email(nullable: bool, description: &str) -> Object {
    ObjectBuilder::new()
        .schema_type(string_type(nullable))
        .description(Some(description))
        .max_length(Some(domain::EMAIL_MAX))
        .pattern(Some(email_pattern()))
        .examples(["ann@example.org"])
        .build()
}

pub(crate) fn buyer_email() -> Object {
    email(false, "The buyer's email address (at most 254 characters); tickets and receipts go there.")
}

pub(crate) fn buyer_email_update() -> Object {
    email(true, "The buyer's email address (at most 254 characters); `null` leaves it as it is.")
}

pub(crate) fn attendee_email() -> Object {
    email(true, "The attendee's email address (at most 254 characters).")
}

pub(crate) fn waitlist_email() -> Object {
    email(false, "Where the offer goes (at most 254 characters); stored in lower case.")
}

fn currency(nullable: bool, description: &str) -> Object {
    let codes = kernel::money::CURRENCIES.split(' ').map(serde_json::Value::from);
    let values: Vec<serde_json::Value> =
        if nullable { codes.chain([serde_json::Value::Null]).collect() } else { codes.collect() };
    ObjectBuilder::new()
        .schema_type(string_type(nullable))
        .description(Some(description))
        .enum_values(Some(values))
        .examples(["EUR"])
        .build()
}

pub(crate) fn ticket_currency() -> Object {
    currency(false, "ISO 4217 code in upper case, e.g. `EUR`.")
}

pub(crate) fn ticket_currency_update() -> Object {
    currency(true, "ISO 4217 code in upper case, e.g. `EUR`; `null` leaves it as it is.")
}

pub(crate) fn voucher_currency() -> Object {
    currency(true, "ISO 4217 code in upper case, e.g. `EUR`; required with `amount_off`.")
}

pub(crate) fn voucher_currency_update() -> Object {
    currency(true, "ISO 4217 code in upper case; `null` clears it (not while `amount_off` is set).")
}

/// `domain::tiers`: 1–10 distinct slugs, in priority order. Listed here in the lower case
/// they are stored in, so distinct items are distinct tiers.
pub(crate) fn waitlist_tiers() -> Array {
    let tier = ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(32))
        .pattern(Some("^[a-z0-9_-]{1,32}$"))
        .build();
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .description(Some(format!(
            "Waitlist tiers in priority order: 1–{} distinct slugs of `a-z`, `0-9`, `-`, `_` (up to 32 \
             characters). Replaces the list.",
            domain::WAITLIST_TIERS_MAX
        )))
        .items(tier)
        .min_items(Some(1))
        .max_items(Some(domain::WAITLIST_TIERS_MAX))
        .unique_items(true)
        .examples([serde_json::json!(["vip", "standard"])])
        .build()
}

/// `?format=` of the booking list.
pub(crate) fn booking_list_format() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some("`json` (default) or `csv`, which streams every matching position as CSV (no paging)."))
        .enum_values(Some(["json", "csv"]))
        .build()
}

/// A batch's scans: [`CheckinRequest`]s in which `scan_id` is required (and not `null`).
pub(crate) fn checkin_batch_scans() -> Array {
    let mut item = match CheckinRequest::schema() {
        RefOr::T(Schema::Object(o)) => o,
        _ => unreachable!("CheckinRequest derives an object schema"),
    };
    if let Some(RefOr::T(Schema::Object(scan_id))) = item.properties.get_mut("scan_id") {
        scan_id.schema_type = SchemaType::new(Type::String);
    }
    if !item.required.iter().any(|r| r == "scan_id") {
        item.required.push("scan_id".into());
    }
    ArrayBuilder::new()
        .description(Some(format!("1–{} scans in the order they happened, each with its `scan_id`.", domain::CHECKIN_BATCH_MAX)))
        .items(item)
        .min_items(Some(1))
        .max_items(Some(domain::CHECKIN_BATCH_MAX))
        .build()
}
