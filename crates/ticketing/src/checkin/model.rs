//! Request and response shapes of check-in: lists (doors), scans one at a time or in
//! offline batches, a door's live status — and the tickets people carry to it: their PDF
//! and the keys that sign their QR codes (conventions: [`crate::model`]).

use chrono::{DateTime, Utc};
use events::{EventId, EventSessionId};
use kernel::id::OrgId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::checkin::signing::PublicJwk;
use crate::domain::{BookingId, CheckinId, CheckinListId, CheckinResult, DocumentStatus, TicketId, TicketStatus, TicketTypeId};
use crate::shared::{present, schema};

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
    /// 1–200 characters, no line breaks, e.g. `Main entrance` or `VIP lounge`.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
    /// An agenda item of the event this door is for (informational).
    #[schema(value_type = Option<String>, format = Uuid)]
    pub session_id: Option<EventSessionId>,
    /// Ticket types admitted; absent or empty: all.
    #[serde(default)]
    pub ticket_type_ids: Vec<TicketTypeId>,
    pub opens_at: Option<DateTime<Utc>>,
    /// After `opens_at`.
    pub closes_at: Option<DateTime<Utc>>,
}

/// Partial update: absent fields stay; `null` clears an optional one.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCheckinList {
    /// 1–200 characters, no line breaks.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub session_id: Option<Option<EventSessionId>>,
    pub ticket_type_ids: Option<Vec<TicketTypeId>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub opens_at: Option<Option<DateTime<Utc>>>,
    /// After `opens_at`.
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
    /// What was scanned (up to 1,024 characters): the QR text (`BL1.…`, verified against the
    /// organization's keys; no control characters) or the ticket code typed in (letters and
    /// digits; case, spaces and dashes do not matter).
    #[schema(min_length = 1, max_length = 1024, pattern = r"^(BL1\.[^\x00-\x1f\x7f-\x9f]*|[ -]*[A-Za-z0-9][A-Za-z0-9 -]*)$")]
    pub code: String,
    /// The scanner's id for this scan (1–100 printable ASCII). The same id sent again returns
    /// the first answer with `replayed: true` and changes nothing, so an offline scanner can
    /// upload a batch as often as it needs to. Absent: a fresh id (no replay protection).
    #[schema(min_length = 1, max_length = 100, pattern = r"^[!-~]+$")]
    pub scan_id: Option<String>,
    /// When the scan happened (offline scanners), not in the future; default: now. Opening
    /// hours are checked against it.
    pub scanned_at: Option<DateTime<Utc>>,
    /// Where: the door, gate or device (up to 100 characters, no line breaks), reported back
    /// to later scans.
    #[schema(max_length = 100, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub gate: Option<String>,
}

/// Scans recorded offline, uploaded together (1–500, each with a `scan_id`).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckinBatch {
    #[schema(schema_with = schema::checkin_batch_scans)]
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
