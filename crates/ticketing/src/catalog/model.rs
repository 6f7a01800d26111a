//! Request and response shapes of the catalog: ticket types, quotas, vouchers and the
//! event's ticketing settings (conventions: [`crate::model`]).

use chrono::{DateTime, Utc};
use events::{EventId, EventSessionId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::{QuotaId, TicketTypeId, Visibility, VoucherId};
use crate::shared::{present, schema};

// ---- ticket types -------------------------------------------------------------------------

/// A kind of admission sold for an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TicketType {
    pub id: TicketTypeId,
    pub event_id: EventId,
    /// Set when the type admits to one session of the event only.
    pub session_id: Option<EventSessionId>,
    pub name: String,
    pub description: Option<String>,
    /// Minor units (cents).
    pub price: i64,
    /// ISO 4217.
    pub currency: String,
    /// On sale from this instant (absent: now).
    pub sales_start: Option<DateTime<Utc>>,
    /// On sale until this instant (absent: until the event ends).
    pub sales_end: Option<DateTime<Utc>>,
    pub min_per_order: i64,
    /// Absent: up to 100 per booking.
    pub max_per_order: Option<i64>,
    pub visibility: Visibility,
    pub sort_order: i64,
    /// The quotas (capacity pools) the type draws from; a sale needs room in all of them.
    pub quota_ids: Vec<QuotaId>,
    /// Seats left: the least room among its quotas (`null` when the type is in no quota,
    /// and so not on sale).
    pub available: Option<i64>,
    /// Inside its sales window and in at least one quota with room.
    pub on_sale: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct CreateTicketType {
    /// 1–200 characters, no line breaks.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
    /// Up to 5,000 characters (line breaks and tabs allowed); blank means none.
    #[schema(max_length = 5000, pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$")]
    pub description: Option<String>,
    /// Minor units (cents), 0 for free tickets.
    #[schema(minimum = 0, maximum = 100_000_000_000_i64)]
    pub price: i64,
    #[schema(schema_with = schema::ticket_currency)]
    pub currency: String,
    /// A session of the same event, for a session-only ticket.
    pub session_id: Option<EventSessionId>,
    /// On sale from this instant (absent: now).
    #[schema(value_type = Option<String>, format = DateTime, pattern = r"^(19[0-9][1-9]|19[1-9]0|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-")]
    pub sales_start: Option<DateTime<Utc>>,
    /// On sale until this instant, after `sales_start` (absent: until the event ends).
    #[schema(value_type = Option<String>, format = DateTime, pattern = r"^(19[0-9][1-9]|19[1-9]0|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-")]
    pub sales_end: Option<DateTime<Utc>>,
    /// 1–100 (default 1).
    #[schema(minimum = 1, maximum = 100)]
    pub min_per_order: Option<i64>,
    /// 1–100, at least `min_per_order`.
    #[schema(minimum = 1, maximum = 100)]
    pub max_per_order: Option<i64>,
    /// `public` (default) or `hidden` (bookable only with a voucher that unlocks it).
    pub visibility: Option<Visibility>,
    /// Listing order (ascending), −1,000,000–1,000,000, default 0.
    #[schema(minimum = -1_000_000, maximum = 1_000_000)]
    pub sort_order: Option<i64>,
    /// Convenience: also create a quota of this capacity (0–10,000,000) holding just this type.
    #[schema(minimum = 0, maximum = 10_000_000)]
    pub capacity: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct UpdateTicketType {
    /// 1–200 characters, no line breaks.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: Option<String>,
    /// Up to 5,000 characters; `null` (or blank) clears it.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, nullable, max_length = 5000, pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$")]
    pub description: Option<Option<String>>,
    /// Minor units (cents). Changes the price of future bookings; existing bookings keep theirs.
    #[schema(minimum = 0, maximum = 100_000_000_000_i64)]
    pub price: Option<i64>,
    #[schema(schema_with = schema::ticket_currency_update)]
    pub currency: Option<String>,
    /// `null` makes the type admit to the whole event.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = Uuid, nullable)]
    pub session_id: Option<Option<EventSessionId>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime, nullable, pattern = r"^(19[0-9][1-9]|19[1-9]0|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-")]
    pub sales_start: Option<Option<DateTime<Utc>>>,
    /// After `sales_start`; `null` clears it.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime, nullable, pattern = r"^(19[0-9][1-9]|19[1-9]0|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-")]
    pub sales_end: Option<Option<DateTime<Utc>>>,
    /// 1–100, at most `max_per_order`.
    #[schema(minimum = 1, maximum = 100)]
    pub min_per_order: Option<i64>,
    /// 1–100, at least `min_per_order`; `null` clears it.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<i64>, nullable, minimum = 1, maximum = 100)]
    pub max_per_order: Option<Option<i64>>,
    pub visibility: Option<Visibility>,
    /// −1,000,000–1,000,000.
    #[schema(minimum = -1_000_000, maximum = 1_000_000)]
    pub sort_order: Option<i64>,
}

/// Options of the ticket-type listing.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TicketTypeQuery {
    /// A voucher code: hidden types it unlocks are listed too (an unknown code is a `422`).
    #[param(max_length = 64, pattern = r"^[A-Za-z0-9_-]*$")]
    pub voucher: Option<String>,
}

// ---- quotas -------------------------------------------------------------------------------

/// A capacity pool shared by one or more ticket types.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Quota {
    pub id: QuotaId,
    pub event_id: EventId,
    pub name: String,
    pub capacity: i64,
    /// Seats held by pending bookings plus seats sold.
    pub taken: i64,
    /// `capacity - taken`.
    pub available: i64,
    pub ticket_type_ids: Vec<TicketTypeId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct CreateQuota {
    /// 1–200 characters, no line breaks.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
    /// 0–10,000,000.
    #[schema(minimum = 0, maximum = 10_000_000)]
    pub capacity: i64,
    /// Ticket types of the same event drawing from this pool (up to 200).
    #[serde(default)]
    #[schema(max_items = 200)]
    pub ticket_type_ids: Vec<TicketTypeId>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct UpdateQuota {
    /// 1–200 characters, no line breaks.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: Option<String>,
    /// 0–10,000,000. Lowering it below `taken` is a `409 capacity_below_taken`; raising it
    /// publishes `quota.capacity_raised`.
    #[schema(minimum = 0, maximum = 10_000_000)]
    pub capacity: Option<i64>,
    /// Replaces the set of ticket types (up to 200).
    #[schema(max_items = 200)]
    pub ticket_type_ids: Option<Vec<TicketTypeId>>,
}

// ---- vouchers -----------------------------------------------------------------------------

/// A code that discounts tickets and/or unlocks hidden ticket types.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Voucher {
    pub id: VoucherId,
    pub event_id: EventId,
    /// Matched case-insensitively.
    pub code: String,
    /// Minor units off the booking, once (in `currency`).
    pub amount_off: Option<i64>,
    /// Percent (0–100) off each ticket it applies to.
    pub percent_off: Option<i64>,
    pub currency: Option<String>,
    /// Absent: unlimited.
    pub max_uses: Option<i64>,
    /// Live bookings using it (a cancelled or expired booking gives its use back).
    pub uses: i64,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    /// Ticket types the discount applies to; empty: all.
    pub ticket_type_ids: Vec<TicketTypeId>,
    /// Hidden ticket types the code makes visible and bookable.
    pub unlock_ticket_type_ids: Vec<TicketTypeId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct CreateVoucher {
    /// 1–64 letters, digits, `-`, `_`; unique per event ignoring case.
    #[schema(min_length = 1, max_length = 64, pattern = r"^[A-Za-z0-9_-]+$")]
    pub code: String,
    /// Minor units off the booking, 1–100,000,000,000 (needs `currency`); not with
    /// `percent_off`.
    #[schema(minimum = 1, maximum = 100_000_000_000_i64)]
    pub amount_off: Option<i64>,
    /// 0–100; not with `amount_off`. Neither: the code only unlocks hidden types.
    #[schema(minimum = 0, maximum = 100)]
    pub percent_off: Option<i64>,
    #[schema(schema_with = schema::voucher_currency)]
    pub currency: Option<String>,
    /// 1–10,000,000; absent: unlimited.
    #[schema(minimum = 1, maximum = 10_000_000)]
    pub max_uses: Option<i64>,
    #[schema(value_type = Option<String>, format = DateTime, pattern = r"^(19[0-9][1-9]|19[1-9]0|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-")]
    pub valid_from: Option<DateTime<Utc>>,
    /// After `valid_from`.
    #[schema(value_type = Option<String>, format = DateTime, pattern = r"^(19[0-9][1-9]|19[1-9]0|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-")]
    pub valid_until: Option<DateTime<Utc>>,
    /// Ticket types of the event the discount applies to (up to 200); empty: all.
    #[serde(default)]
    #[schema(max_items = 200)]
    pub ticket_type_ids: Vec<TicketTypeId>,
    /// Hidden ticket types of the event the code unlocks (up to 200).
    #[serde(default)]
    #[schema(max_items = 200)]
    pub unlock_ticket_type_ids: Vec<TicketTypeId>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct UpdateVoucher {
    /// 1–64 letters, digits, `-`, `_`; unique per event ignoring case.
    #[schema(min_length = 1, max_length = 64, pattern = r"^[A-Za-z0-9_-]+$")]
    pub code: Option<String>,
    /// 1–100,000,000,000 (needs `currency`, not with `percent_off`); `null` clears it.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<i64>, nullable, minimum = 1, maximum = 100_000_000_000_i64)]
    pub amount_off: Option<Option<i64>>,
    /// 0–100 (not with `amount_off`); `null` clears it.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<i64>, nullable, minimum = 0, maximum = 100)]
    pub percent_off: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = schema::voucher_currency_update)]
    pub currency: Option<Option<String>>,
    /// 1–10,000,000; `null`: unlimited. Below the current `uses`: `409 voucher_in_use`.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<i64>, nullable, minimum = 1, maximum = 10_000_000)]
    pub max_uses: Option<Option<i64>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime, nullable, pattern = r"^(19[0-9][1-9]|19[1-9]0|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-")]
    pub valid_from: Option<Option<DateTime<Utc>>>,
    /// After `valid_from`; `null` clears it.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime, nullable, pattern = r"^(19[0-9][1-9]|19[1-9]0|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-")]
    pub valid_until: Option<Option<DateTime<Utc>>>,
    /// Replaces them (up to 200).
    #[schema(max_items = 200)]
    pub ticket_type_ids: Option<Vec<TicketTypeId>>,
    /// Replaces them (up to 200).
    #[schema(max_items = 200)]
    pub unlock_ticket_type_ids: Option<Vec<TicketTypeId>>,
}

// ---- settings -----------------------------------------------------------------------------

/// Per-event ticketing settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TicketingSettings {
    pub event_id: EventId,
    /// How long a priced booking holds its seats waiting for payment (default 600).
    pub hold_seconds: i64,
    /// `hold_seconds` in whole minutes (default 10).
    pub hold_minutes: i64,
    /// Most tickets one buyer (by email) may hold in live bookings of the event; absent:
    /// no cap beyond 100 per booking.
    pub max_tickets_per_buyer: Option<i64>,
    /// How long a waitlist offer stays open (default 24), in whole hours.
    pub waitlist_offer_hours: i64,
    /// How long a waitlist offer stays open, in seconds (default 86400).
    pub waitlist_offer_seconds: i64,
    /// Waitlist tiers in priority order (default `["vip", "standard"]`).
    pub waitlist_tiers: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct UpdateTicketingSettings {
    /// 1–1440; not with `hold_seconds`.
    #[schema(minimum = 1, maximum = 1440)]
    pub hold_minutes: Option<i64>,
    /// 1–86400, for holds shorter than a minute; not with `hold_minutes`.
    #[schema(minimum = 1, maximum = 86400)]
    pub hold_seconds: Option<i64>,
    /// 1–10,000; `null` removes the cap.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<i64>, nullable, minimum = 1, maximum = 10000)]
    pub max_tickets_per_buyer: Option<Option<i64>>,
    /// 1–336; not with `waitlist_offer_seconds`.
    #[schema(minimum = 1, maximum = 336)]
    pub waitlist_offer_hours: Option<i64>,
    /// 1–1209600, for offers shorter than an hour; not with `waitlist_offer_hours`.
    #[schema(minimum = 1, maximum = 1209600)]
    pub waitlist_offer_seconds: Option<i64>,
    #[schema(schema_with = schema::waitlist_tiers)]
    pub waitlist_tiers: Option<Vec<String>>,
}
