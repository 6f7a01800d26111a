//! Request and response shapes of the booking lists and sales statistics (conventions:
//! [`crate::model`]).

use events::EventId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::{BookingStatus, QuotaId, TicketTypeId};
use crate::shared::schema;

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
