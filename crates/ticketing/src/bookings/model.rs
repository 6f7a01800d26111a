//! Request and response shapes of bookings: positions, attendees, tickets, the booking and
//! its summary (conventions: [`crate::model`]).

use chrono::{DateTime, Utc};
use events::EventId;
use kernel::id::{OrgId, UserId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::{BookingId, BookingStatus, PositionId, TicketId, TicketStatus, TicketTypeId};
use crate::shared::schema;

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
