//! Request and response shapes of the ticketing API.
//!
//! Money is an integer in minor units (cents) beside its ISO 4217 `currency`. Instants are
//! UTC. In partial updates an absent field is left as it is; for a field that can be empty,
//! `null` clears it.
//!
//! Request fields carry the server's rules as schema constraints (lengths in characters,
//! ranges, patterns), so every value the schema allows passes the field checks; what is
//! left are rules between fields or against stored data. Patterns are written in the
//! syntax ECMA-262 and Python share: texts may not contain control characters (`Cc`, plus
//! line breaks in single-line texts), and required texts need one character that is not
//! white space. Instants the server checks against the years 1900–9999 are limited to the
//! years 1901–9998 as written (so no UTC offset moves them out). The limits mirror
//! [`crate::domain`]; `schema_limits_follow_the_domain` below keeps them in step.

use chrono::{DateTime, Utc};
use events::{EventId, EventSessionId};
use kernel::id::{OrgId, UserId};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::{
    BookingId, BookingStatus, DocumentStatus, PositionId, QuotaId, TicketId, TicketStatus, TicketTypeId, Visibility, VoucherId,
};
use crate::signing::PublicJwk;

mod checkin;
mod schema;
mod waitlist;
pub use checkin::*;
pub use waitlist::*;

/// Reads a present field (even `null`) as `Some`, so `Option<Option<T>>` tells an absent
/// field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

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

// ---- bookings -----------------------------------------------------------------------------

/// A ticket type and how many of it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PositionRequest {
    pub ticket_type_id: TicketTypeId,
    /// 1–100, within the type's `min_per_order`…`max_per_order`.
    #[schema(minimum = 1, maximum = 100)]
    pub quantity: i64,
}

/// Who a ticket admits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Attendee {
    /// 1–200 characters, no line breaks.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
    #[schema(schema_with = schema::attendee_email)]
    pub email: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateBooking {
    pub event_id: EventId,
    /// 1–50 positions, each ticket type at most once, 100 tickets at most.
    #[schema(min_items = 1, max_items = 50)]
    pub positions: Vec<PositionRequest>,
    #[schema(schema_with = schema::buyer_email)]
    pub buyer_email: String,
    /// 1–200 characters, no line breaks.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub buyer_name: String,
    /// A voucher of the event (up to 64 letters, digits, `-`, `_`; empty: none).
    #[schema(max_length = 64, pattern = r"^[A-Za-z0-9_-]*$")]
    pub voucher_code: Option<String>,
    /// Attendee per admission, in the order of the positions (then of quantity); at most
    /// one per ticket.
    #[serde(default)]
    #[schema(max_items = 100)]
    pub attendees: Vec<Attendee>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct UpdateBooking {
    #[schema(schema_with = schema::buyer_email_update)]
    pub buyer_email: Option<String>,
    /// 1–200 characters, no line breaks.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub buyer_name: Option<String>,
    /// Replaces the attendee list (per admission, in ticket order; at most one per ticket);
    /// confirmed bookings' tickets follow.
    #[schema(max_items = 100)]
    pub attendees: Option<Vec<Attendee>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct MarkPaid {
    /// The payment's reference (bank transfer id, receipt number), up to 200 characters, no
    /// line breaks.
    #[schema(max_length = 200, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub reference: Option<String>,
}

/// One line of a booking, with the price it was sold at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Position {
    pub id: PositionId,
    pub ticket_type_id: TicketTypeId,
    /// The type's name when booked.
    pub ticket_type_name: String,
    pub quantity: i64,
    /// Minor units per ticket when booked.
    pub unit_price: i64,
    /// Minor units off this position.
    pub discount: i64,
    pub currency: String,
}

/// One admission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Ticket {
    pub id: TicketId,
    pub booking_id: BookingId,
    pub event_id: EventId,
    pub ticket_type_id: TicketTypeId,
    /// 0-based admission number within the booking.
    pub seq: i64,
    pub attendee_name: Option<String>,
    pub attendee_email: Option<String>,
    /// Unguessable (80 random bits), Crockford base32; what a door types in when a QR code
    /// will not scan.
    pub code: String,
    pub status: TicketStatus,
    /// First admission on any check-in list (cleared when that check-in is undone).
    pub checked_in_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The QR code's text while the ticket is valid: `BL1.<payload>.<signature>`, signed with
    /// the organization's Ed25519 key (see `GET /api/orgs/{id}/ticket-keys`).
    pub qr: Option<String>,
}

// ---- ticket documents, signing keys -------------------------------------------------------

/// A booking's ticket PDF (one page per valid ticket).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TicketDocument {
    pub booking_id: BookingId,
    pub status: DocumentStatus,
    /// When `ready`: a download link that works without credentials until `url_expires_at`.
    pub url: Option<String>,
    pub url_expires_at: Option<DateTime<Utc>>,
    pub pages: i64,
    pub bytes: i64,
    pub requested_at: DateTime<Utc>,
    pub rendered_at: Option<DateTime<Utc>>,
    /// When `failed`: why.
    pub error: Option<String>,
}

/// An organization's ticket-signing public keys as a JWK set (RFC 7517/8037), for scanners
/// that verify tickets offline. The first key signs new tickets; the others signed tickets
/// before a rotation and still verify.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TicketKeys {
    pub keys: Vec<PublicJwk>,
}

/// A booking as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BookingSummary {
    pub id: BookingId,
    /// Order code, 10 characters.
    pub code: String,
    pub org_id: OrgId,
    pub event_id: EventId,
    pub status: BookingStatus,
    pub buyer_email: String,
    pub buyer_name: String,
    pub user_id: Option<UserId>,
    pub quantity: i64,
    pub currency: String,
    pub subtotal: i64,
    pub discount: i64,
    pub total: i64,
    pub voucher_code: Option<String>,
    /// While `pending_payment`: when the seats are released.
    pub hold_expires_at: Option<DateTime<Utc>>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub expired_at: Option<DateTime<Utc>>,
    pub paid_reference: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A booking with its positions, attendees and tickets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Booking {
    #[serde(flatten)]
    pub summary: BookingSummary,
    pub positions: Vec<Position>,
    pub attendees: Vec<Attendee>,
    /// Issued on confirmation.
    pub tickets: Vec<Ticket>,
}

/// The answer to `POST /api/bookings`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BookingCreated {
    #[serde(flatten)]
    pub booking: Booking,
    /// Pass as `?token=` to read, change or cancel the booking without signing in. Shown
    /// once (and to a retry with the same `Idempotency-Key`).
    pub booking_token: String,
}

/// `?token=` for buyers who are not signed in.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenQuery {
    /// The `booking_token` from the booking's creation.
    pub token: Option<String>,
}

/// Filters of an event's booking list.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BookingQuery {
    #[param(inline)]
    pub status: Option<BookingStatus>,
    /// Part of the buyer's name or email (case-insensitive), or an exact booking or ticket
    /// code; up to 200 characters.
    #[param(max_length = 200, pattern = r"^[^\x00]*$")]
    pub q: Option<String>,
    #[param(schema_with = schema::booking_list_format)]
    pub format: Option<String>,
    /// Opaque cursor from a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

/// `?event_id=` of the statistics.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    #[param(value_type = String, format = Uuid)]
    pub event_id: EventId,
}

// ---- statistics ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TypeStats {
    pub ticket_type_id: TicketTypeId,
    pub name: String,
    pub price: i64,
    pub currency: String,
    /// Tickets in confirmed bookings.
    pub sold: i64,
    /// Tickets held by pending bookings.
    pub held: i64,
    /// The smallest capacity among its quotas (`null`: in no quota).
    pub capacity: Option<i64>,
    /// The least room among its quotas.
    pub available: Option<i64>,
    /// Confirmed revenue in minor units, after discounts.
    pub gross: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct QuotaStats {
    pub quota_id: QuotaId,
    pub name: String,
    pub capacity: i64,
    /// Held + sold.
    pub taken: i64,
    pub available: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CurrencyStats {
    pub currency: String,
    /// Confirmed bookings.
    pub bookings: i64,
    pub tickets: i64,
    /// Minor units, after discounts.
    pub gross: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DayStats {
    /// Calendar day in the event's time zone (`YYYY-MM-DD`) on which bookings were confirmed.
    pub date: String,
    pub currency: String,
    pub bookings: i64,
    pub tickets: i64,
    pub gross: i64,
}

/// Sales of one event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BookingStats {
    pub event_id: EventId,
    /// The zone `sales_per_day` is counted in.
    pub time_zone: String,
    pub ticket_types: Vec<TypeStats>,
    pub quotas: Vec<QuotaStats>,
    pub gross: Vec<CurrencyStats>,
    pub sales_per_day: Vec<DayStats>,
    /// Bookings per status.
    pub bookings_by_status: Vec<StatusCount>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StatusCount {
    pub status: BookingStatus,
    pub bookings: i64,
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use utoipa::{IntoParams, PartialSchema};

    use super::*;
    use crate::domain;

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
