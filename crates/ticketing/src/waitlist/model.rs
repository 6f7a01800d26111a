//! Request and response shapes of the waitlist API (conventions: [`crate::model`]).

use chrono::{DateTime, Utc};
use events::{EventId, EventSessionId};
use kernel::id::UserId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::{BookingId, TicketTypeId, WaitlistEntryId, WaitlistStatus};
use crate::model::Booking;
use crate::shared::schema;

/// One person waiting for a ticket type or a session of an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WaitlistEntry {
    pub id: WaitlistEntryId,
    pub event_id: EventId,
    /// Set when waiting for one ticket type (exactly one of this and `session_id`).
    pub ticket_type_id: Option<TicketTypeId>,
    /// Set when waiting for any public ticket type of one session.
    pub session_id: Option<EventSessionId>,
    /// Priority tier (one of the event's `waitlist_tiers`); earlier tiers are served first,
    /// then join order.
    pub tier: String,
    /// Lower-cased.
    pub email: String,
    pub name: String,
    pub user_id: Option<UserId>,
    pub quantity: i64,
    pub status: WaitlistStatus,
    /// 1-based place among the entries waiting for the same ticket type or session (only
    /// while `waiting`).
    pub position: Option<i64>,
    /// The offer: a booking holding the seats in the entry's name.
    pub booking_id: Option<BookingId>,
    pub offered_at: Option<DateTime<Utc>>,
    /// Until when the offer holds its seats.
    pub offer_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct JoinWaitlist {
    /// Wait for this ticket type (give this or `session_id`).
    pub ticket_type_id: Option<TicketTypeId>,
    /// Wait for any public ticket type of this session of the event.
    pub session_id: Option<EventSessionId>,
    #[schema(schema_with = schema::waitlist_email)]
    pub email: String,
    /// 1–200 characters, no line breaks.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
    /// 1–10 (default 1), within the ticket type's per-booking limits.
    #[schema(minimum = 1, maximum = 10)]
    pub quantity: Option<i64>,
    /// Staff and above only: one of the event's `waitlist_tiers`, ignoring case (the entry is
    /// then made on behalf of `email`, and answered with a `waitlist_token`). Everyone else
    /// joins the last tier (and may name only that one).
    #[schema(min_length = 1, max_length = 32, pattern = r"^[A-Za-z0-9_-]+$")]
    pub tier: Option<String>,
}

/// The answer to joining.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WaitlistJoined {
    #[serde(flatten)]
    pub entry: WaitlistEntry,
    /// For entries not tied to a signed-in user: pass as `?token=` to read, leave, accept or
    /// decline. Shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waitlist_token: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct UpdateWaitlistEntry {
    /// One of the event's `waitlist_tiers`, ignoring case.
    #[schema(min_length = 1, max_length = 32, pattern = r"^[A-Za-z0-9_-]+$")]
    pub tier: Option<String>,
}

/// The answer to accepting an offer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WaitlistAccepted {
    pub entry: WaitlistEntry,
    /// Confirmed with its tickets when free; otherwise `pending_payment` until the offer
    /// expiry, paid like any booking.
    pub booking: Booking,
    /// For entries not tied to a signed-in user: the booking's token (`?token=` on the
    /// booking routes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub booking_token: Option<String>,
}

/// `?token=` for people on the waitlist who are not signed in.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WaitlistTokenQuery {
    /// The `waitlist_token` from joining, or the `offer-token` from the offer email.
    pub token: Option<String>,
}

/// Filters of an event's waitlist.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WaitlistQuery {
    /// Only entries in this state (default: `waiting` and `offered`).
    #[param(inline)]
    pub status: Option<WaitlistStatus>,
    /// Opaque cursor from a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}
