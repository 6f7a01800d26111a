//! Request and response shapes of the ticketing API.
//!
//! Money is an integer in minor units (cents) beside its ISO 4217 `currency`. Instants are
//! UTC. In partial updates an absent field is left as it is; for a field that can be empty,
//! `null` clears it.

use chrono::{DateTime, Utc};
use events::{EventId, EventSessionId};
use kernel::id::{OrgId, UserId};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::{
    BookingId, BookingStatus, CheckinId, CheckinListId, CheckinResult, DocumentStatus, PositionId, QuotaId, TicketId,
    TicketStatus, TicketTypeId, Visibility, VoucherId,
};
use crate::signing::PublicJwk;

mod waitlist;
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
    /// 1–200 characters.
    pub name: String,
    /// Up to 5,000 characters.
    pub description: Option<String>,
    /// Minor units (cents), 0 for free tickets.
    pub price: i64,
    /// ISO 4217, e.g. `EUR`.
    pub currency: String,
    /// A session of the same event, for a session-only ticket.
    pub session_id: Option<EventSessionId>,
    pub sales_start: Option<DateTime<Utc>>,
    pub sales_end: Option<DateTime<Utc>>,
    /// 1–100 (default 1).
    pub min_per_order: Option<i64>,
    /// 1–100, at least `min_per_order`.
    pub max_per_order: Option<i64>,
    /// `public` (default) or `hidden` (bookable only with a voucher that unlocks it).
    pub visibility: Option<Visibility>,
    /// Listing order (ascending), default 0.
    pub sort_order: Option<i64>,
    /// Convenience: also create a quota of this capacity holding just this type.
    pub capacity: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct UpdateTicketType {
    pub name: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, nullable)]
    pub description: Option<Option<String>>,
    /// Changes the price of future bookings; existing bookings keep theirs.
    pub price: Option<i64>,
    pub currency: Option<String>,
    /// `null` makes the type admit to the whole event.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = Uuid, nullable)]
    pub session_id: Option<Option<EventSessionId>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<DateTime<Utc>>, nullable)]
    pub sales_start: Option<Option<DateTime<Utc>>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<DateTime<Utc>>, nullable)]
    pub sales_end: Option<Option<DateTime<Utc>>>,
    pub min_per_order: Option<i64>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<i64>, nullable)]
    pub max_per_order: Option<Option<i64>>,
    pub visibility: Option<Visibility>,
    pub sort_order: Option<i64>,
}

/// Options of the ticket-type listing.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TicketTypeQuery {
    /// A voucher code: hidden types it unlocks are listed too.
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
    /// 1–200 characters.
    pub name: String,
    /// 0–10,000,000.
    pub capacity: i64,
    /// Ticket types of the same event drawing from this pool.
    #[serde(default)]
    pub ticket_type_ids: Vec<TicketTypeId>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct UpdateQuota {
    pub name: Option<String>,
    /// Lowering it below `taken` is a `409 capacity_below_taken`; raising it publishes
    /// `quota.capacity_raised`.
    pub capacity: Option<i64>,
    /// Replaces the set of ticket types.
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
    pub code: String,
    /// Minor units off the booking (needs `currency`); not with `percent_off`.
    pub amount_off: Option<i64>,
    /// 0–100; not with `amount_off`. Neither: the code only unlocks hidden types.
    pub percent_off: Option<i64>,
    /// ISO 4217; required with `amount_off`.
    pub currency: Option<String>,
    /// 1 or more; absent: unlimited.
    pub max_uses: Option<i64>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    #[serde(default)]
    pub ticket_type_ids: Vec<TicketTypeId>,
    #[serde(default)]
    pub unlock_ticket_type_ids: Vec<TicketTypeId>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct UpdateVoucher {
    pub code: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<i64>, nullable)]
    pub amount_off: Option<Option<i64>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<i64>, nullable)]
    pub percent_off: Option<Option<i64>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, nullable)]
    pub currency: Option<Option<String>>,
    /// `null`: unlimited. Below the current `uses`: `409 voucher_in_use`.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<i64>, nullable)]
    pub max_uses: Option<Option<i64>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<DateTime<Utc>>, nullable)]
    pub valid_from: Option<Option<DateTime<Utc>>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<DateTime<Utc>>, nullable)]
    pub valid_until: Option<Option<DateTime<Utc>>>,
    pub ticket_type_ids: Option<Vec<TicketTypeId>>,
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
    pub hold_minutes: Option<i64>,
    /// 1–86400, for holds shorter than a minute; not with `hold_minutes`.
    pub hold_seconds: Option<i64>,
    /// 1–10,000; `null` removes the cap.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<i64>, nullable)]
    pub max_tickets_per_buyer: Option<Option<i64>>,
    /// 1–336; not with `waitlist_offer_seconds`.
    pub waitlist_offer_hours: Option<i64>,
    /// 1–1209600, for offers shorter than an hour; not with `waitlist_offer_hours`.
    pub waitlist_offer_seconds: Option<i64>,
    pub waitlist_tiers: Option<Vec<String>>,
}

// ---- bookings -----------------------------------------------------------------------------

/// A ticket type and how many of it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PositionRequest {
    pub ticket_type_id: TicketTypeId,
    /// 1–100, within the type's `min_per_order`…`max_per_order`.
    pub quantity: i64,
}

/// Who a ticket admits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Attendee {
    /// Up to 200 characters.
    pub name: String,
    pub email: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateBooking {
    pub event_id: EventId,
    /// 1–50 positions, each ticket type at most once, 100 tickets at most.
    pub positions: Vec<PositionRequest>,
    pub buyer_email: String,
    /// 1–200 characters.
    pub buyer_name: String,
    pub voucher_code: Option<String>,
    /// Attendee per admission, in the order of the positions (then of quantity); at most
    /// one per ticket.
    #[serde(default)]
    pub attendees: Vec<Attendee>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct UpdateBooking {
    pub buyer_email: Option<String>,
    pub buyer_name: Option<String>,
    /// Replaces the attendee list (per admission, in ticket order); confirmed bookings'
    /// tickets follow.
    pub attendees: Option<Vec<Attendee>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct MarkPaid {
    /// The payment's reference (bank transfer id, receipt number), up to 200 characters.
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
    /// code.
    pub q: Option<String>,
    /// `csv` streams every matching position as CSV (no paging).
    pub format: Option<String>,
    pub cursor: Option<String>,
    /// 1–100 (default 20).
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

// ---- check-in -------------------------------------------------------------------------------

/// A door's list: which of an event's tickets it admits, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CheckinList {
    pub id: CheckinListId,
    pub org_id: OrgId,
    pub event_id: EventId,
    pub session_id: Option<EventSessionId>,
    pub name: String,
    /// Ticket types admitted; empty: all of the event's.
    pub ticket_type_ids: Vec<TicketTypeId>,
    /// Scans before this instant answer `not_yet_valid`.
    pub opens_at: Option<DateTime<Utc>>,
    /// Scans after this instant answer `closed`.
    pub closes_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCheckinList {
    /// 1–200 characters, e.g. `Main entrance` or `VIP lounge`.
    pub name: String,
    /// An agenda item of the event this door is for (informational).
    #[schema(value_type = Option<String>, format = Uuid)]
    pub session_id: Option<EventSessionId>,
    /// Ticket types admitted; absent or empty: all.
    #[serde(default)]
    pub ticket_type_ids: Vec<TicketTypeId>,
    pub opens_at: Option<DateTime<Utc>>,
    pub closes_at: Option<DateTime<Utc>>,
}

/// Partial update: absent fields stay; `null` clears an optional one.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCheckinList {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub session_id: Option<Option<EventSessionId>>,
    pub ticket_type_ids: Option<Vec<TicketTypeId>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub opens_at: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub closes_at: Option<Option<DateTime<Utc>>>,
}

/// One scan. Give `list_id`, or `event_id` for the event's default list (every ticket type,
/// always open; created on first use, its id is the event's id).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckinRequest {
    #[schema(value_type = Option<String>, format = Uuid)]
    pub list_id: Option<CheckinListId>,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub event_id: Option<EventId>,
    /// What was scanned: the QR text (`BL1.…`, verified against the organization's keys) or
    /// the ticket code typed in (case, spaces and dashes do not matter).
    pub code: String,
    /// The scanner's id for this scan (1–100 printable ASCII). The same id sent again returns
    /// the first answer with `replayed: true` and changes nothing, so an offline scanner can
    /// upload a batch as often as it needs to. Absent: a fresh id (no replay protection).
    pub scan_id: Option<String>,
    /// When the scan happened (offline scanners); default: now. Opening hours are checked
    /// against it.
    pub scanned_at: Option<DateTime<Utc>>,
    /// Where: the door, gate or device (up to 100 characters), reported back to later scans.
    pub gate: Option<String>,
}

/// Scans recorded offline, uploaded together (1–500, each with a `scan_id`).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckinBatch {
    pub scans: Vec<CheckinRequest>,
}

/// The ticket a scan found (only for tickets of the list's organization).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ScannedTicket {
    pub id: TicketId,
    pub code: String,
    pub event_id: EventId,
    pub booking_id: BookingId,
    pub ticket_type_id: TicketTypeId,
    pub ticket_type_name: String,
    pub attendee_name: Option<String>,
    pub status: TicketStatus,
}

/// The admission an `already_checked_in` scan ran into.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PreviousCheckin {
    pub checkin_id: CheckinId,
    pub checked_in_at: DateTime<Utc>,
    pub gate: Option<String>,
    pub list_id: CheckinListId,
}

/// What a scan found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Checkin {
    pub id: CheckinId,
    pub scan_id: String,
    pub list_id: CheckinListId,
    pub result: CheckinResult,
    /// `valid` and not undone: let them in.
    pub admitted: bool,
    /// For people at the door: what to do.
    pub message: String,
    pub ticket: Option<ScannedTicket>,
    pub previous: Option<PreviousCheckin>,
    pub gate: Option<String>,
    pub scanned_at: DateTime<Utc>,
    /// The scan id was seen before: this is the first answer, nothing changed.
    pub replayed: bool,
    /// Set when staff undid this admission.
    pub undone_at: Option<DateTime<Utc>>,
}

/// The answers to a batch, in the order of its scans.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CheckinBatchResult {
    pub results: Vec<Checkin>,
}

/// A check-in list's progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CheckinListStatus {
    pub list_id: CheckinListId,
    /// Valid tickets this list admits.
    pub expected: i64,
    /// Of those, admitted (and not undone).
    pub checked_in: i64,
    pub by_type: Vec<CheckinTypeStatus>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CheckinTypeStatus {
    pub ticket_type_id: TicketTypeId,
    pub name: String,
    pub expected: i64,
    pub checked_in: i64,
}

/// A ticket as an offline scanner keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ListTicket {
    pub id: TicketId,
    pub code: String,
    pub ticket_type_id: TicketTypeId,
    pub attendee_name: Option<String>,
    pub status: TicketStatus,
    /// Admitted on this list (and not undone): when.
    pub checked_in_at: Option<DateTime<Utc>>,
}
