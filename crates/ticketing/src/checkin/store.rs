//! SQL for tickets at the door: `ticket_signing_keys`, `ticket_documents`, `checkin_lists`
//! and `checkins`.
//!
//! Admission is an insert guarded by the partial unique index `checkins_admitted` (one live
//! `valid` scan per list and ticket) and the unique scan id: `ON CONFLICT DO NOTHING` turns a
//! second admission or a repeated upload into "no row written", which the caller then
//! explains, without ever aborting the transaction (PostgreSQL) or racing (several nodes).
//!
//! Functions take the caller's [`OrgScope`] and filter by it — a member's, or the platform's
//! in the organization a booking row names (its buyer, the ticket-rendering job). Unscoped
//! are the lookups of a list or a scan by id, which learn its organization before access is
//! checked, and the organization's signing keys, which every reader of its tickets needs
//! (see [`keys`]).

use chrono::{DateTime, Utc};
use events::{EventId, EventSessionId};
use kernel::auth::OrgScope;
use kernel::id::OrgId;
use kernel::{Db, Tx, read, tx};
use sqlx::types::Json;

use crate::bookings::store::TicketRecord;
use crate::domain::{BookingId, CheckinId, CheckinListId, CheckinResult, DocumentStatus, SigningKeyId, TicketId, TicketTypeId};

// ---- records ------------------------------------------------------------------------------

/// A `ticket_signing_keys` row. `secret_key` is the Ed25519 seed.
#[derive(Clone, sqlx::FromRow)]
pub(crate) struct KeyRecord {
    pub id: SigningKeyId,
    pub org_id: OrgId,
    pub kid: String,
    pub public_key: String,
    pub secret_key: Vec<u8>,
    pub status: String,
    pub retired_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl std::fmt::Debug for KeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRecord").field("org_id", &self.org_id).field("kid", &self.kid).field("status", &self.status).finish()
    }
}

/// A `ticket_documents` row (what the API shows of it).
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct DocumentRecord {
    pub booking_id: BookingId,
    #[sqlx(try_from = "String")]
    pub status: DocumentStatus,
    pub storage_key: Option<String>,
    pub pages: i64,
    pub bytes: i64,
    pub requested_at: DateTime<Utc>,
    pub rendered_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
}

/// A `checkin_lists` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct ListRecord {
    pub id: CheckinListId,
    pub org_id: OrgId,
    pub event_id: EventId,
    pub session_id: Option<EventSessionId>,
    pub name: String,
    pub ticket_type_ids: Json<Vec<TicketTypeId>>,
    pub opens_at: Option<DateTime<Utc>>,
    pub closes_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A `checkins` row: one scan.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct CheckinRecord {
    pub id: CheckinId,
    pub org_id: OrgId,
    pub event_id: EventId,
    pub list_id: CheckinListId,
    pub ticket_id: Option<TicketId>,
    pub scan_id: String,
    #[sqlx(try_from = "String")]
    pub result: CheckinResult,
    pub code: String,
    pub gate: Option<String>,
    pub scanned_at: DateTime<Utc>,
    pub actor: String,
    pub undone_at: Option<DateTime<Utc>>,
    pub undone_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

macro_rules! key_columns {
    () => {
        "id, org_id, kid, public_key, secret_key, status, retired_at, created_at, updated_at"
    };
}

macro_rules! document_columns {
    () => {
        "booking_id, status, storage_key, pages, bytes, requested_at, rendered_at, error"
    };
}

macro_rules! list_columns {
    () => {
        "id, org_id, event_id, session_id, name, ticket_type_ids, opens_at, closes_at, created_at, updated_at"
    };
}

macro_rules! checkin_columns {
    () => {
        "id, org_id, event_id, list_id, ticket_id, scan_id, result, code, gate, scanned_at, actor, undone_at, undone_by, \
         created_at, updated_at"
    };
}

// ---- signing keys ---------------------------------------------------------------------------

/// The organization's keys, the active one first, then retired ones newest first.
/// Unscoped: loaded once into this node's key cache for every reader of the organization's
/// tickets — buyers shown their QR codes, scanners verifying them, the jobs rendering them,
/// and anyone fetching its public key set, which names the organization in the path.
pub(crate) async fn keys(db: &Db, org: OrgId) -> Result<Vec<KeyRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(concat!(
        "SELECT ",
        key_columns!(),
        " FROM ticket_signing_keys WHERE org_id = $1 \
         ORDER BY CASE WHEN status = 'active' THEN 0 ELSE 1 END, created_at DESC, id DESC LIMIT 100"
    ))
    .bind(org)
    .fetch_all(c)
    .await)
}

/// Adds a key as the organization's active one unless it already has one (`0`).
/// Unscoped: an organization's first key is made on first use by any of the readers of
/// [`keys`] (a rotation makes the next one in the admin's scope, after [`retire_active_key`]);
/// the row references the organization, so an unknown one is refused.
pub(crate) async fn insert_key(tx: &mut Tx<'_>, k: &KeyRecord) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query(concat!(
        "INSERT INTO ticket_signing_keys (",
        key_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING"
    ))
    .bind(k.id)
    .bind(k.org_id)
    .bind(&k.kid)
    .bind(&k.public_key)
    .bind(&k.secret_key)
    .bind(&k.status)
    .bind(k.retired_at)
    .bind(k.created_at)
    .bind(k.updated_at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}

/// Retires the organization's active key (it stays published for verification).
pub(crate) async fn retire_active_key(tx: &mut Tx<'_>, scope: &OrgScope, at: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| {
        sqlx::query(
        "UPDATE ticket_signing_keys SET status = 'retired', retired_at = $2, updated_at = $2 WHERE org_id = $1 AND status = 'active'"
    )
    .bind(scope.org())
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })
}

// ---- ticket documents -------------------------------------------------------------------------

pub(crate) async fn document(db: &Db, scope: &OrgScope, booking: BookingId) -> Result<Option<DocumentRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(concat!(
        "SELECT ",
        document_columns!(),
        " FROM ticket_documents WHERE booking_id = $1 AND org_id = $2"
    ))
    .bind(booking)
    .bind(scope.org())
    .fetch_optional(c)
    .await)
}

/// Marks the booking's document as asked for (creating its row), keeping what was rendered
/// before until the new rendering replaces it.
pub(crate) async fn request_document(
    tx: &mut Tx<'_>,
    scope: &OrgScope,
    booking: BookingId,
    event: EventId,
    at: DateTime<Utc>,
) -> Result<Option<DocumentRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!(
        "INSERT INTO ticket_documents (booking_id, org_id, event_id, status, pages, bytes, requested_at, created_at, updated_at) \
         VALUES ($1, $2, $3, 'pending', 0, 0, $4, $4, $4) \
         ON CONFLICT (booking_id) DO UPDATE SET status = 'pending', requested_at = excluded.requested_at, error = NULL, \
         updated_at = excluded.updated_at WHERE ticket_documents.org_id = excluded.org_id RETURNING ",
        document_columns!()
    ))
    .bind(booking)
    .bind(scope.org())
    .bind(event)
    .bind(at)
    .fetch_optional(c)
    .await)
}

/// Records a finished rendering, unless a newer request came in after `requested` (its job
/// renders again).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn document_ready(
    tx: &mut Tx<'_>,
    scope: &OrgScope,
    booking: BookingId,
    requested: DateTime<Utc>,
    key: &str,
    pages: i64,
    bytes: i64,
    at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query(
        "UPDATE ticket_documents SET status = 'ready', storage_key = $3, pages = $4, bytes = $5, rendered_at = $6, error = NULL, \
         updated_at = $6 WHERE booking_id = $1 AND requested_at = $2 AND org_id = $7"
    )
    .bind(booking)
    .bind(requested)
    .bind(key)
    .bind(pages)
    .bind(bytes)
    .bind(at)
    .bind(scope.org())
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}

pub(crate) async fn document_failed(
    tx: &mut Tx<'_>,
    scope: &OrgScope,
    booking: BookingId,
    requested: DateTime<Utc>,
    error: &str,
    at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query(
        "UPDATE ticket_documents SET status = 'failed', error = $3, updated_at = $4 \
         WHERE booking_id = $1 AND requested_at = $2 AND org_id = $5"
    )
    .bind(booking)
    .bind(requested)
    .bind(error)
    .bind(at)
    .bind(scope.org())
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}

// ---- check-in lists ---------------------------------------------------------------------------

/// Finds a list by id alone, to learn its event and organization.
/// Unscoped: resolves which organization owns an id before access is checked (an event's
/// default list has the event's id, found after the caller's role in the event's
/// organization was).
pub(crate) async fn list(db: &Db, id: CheckinListId) -> Result<Option<ListRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(concat!("SELECT ", list_columns!(), " FROM checkin_lists WHERE id = $1"))
        .bind(id)
        .fetch_optional(c)
        .await)
}

pub(crate) async fn lists_of_event(db: &Db, scope: &OrgScope, event: EventId) -> Result<Vec<ListRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(concat!(
        "SELECT ",
        list_columns!(),
        " FROM checkin_lists WHERE event_id = $1 AND org_id = $2 ORDER BY id LIMIT 1000"
    ))
    .bind(event)
    .bind(scope.org())
    .fetch_all(c)
    .await)
}

/// Inserts a list into the scope's organization; with `if_absent`, an existing list of the
/// same id is kept (`0`).
pub(crate) async fn insert_list(tx: &mut Tx<'_>, scope: &OrgScope, l: &ListRecord, if_absent: bool) -> Result<u64, sqlx::Error> {
    const INSERT: &str =
        concat!("INSERT INTO checkin_lists (", list_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)");
    const INSERT_IF_ABSENT: &str = concat!(
        "INSERT INTO checkin_lists (",
        list_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING"
    );
    let sql = if if_absent { INSERT_IF_ABSENT } else { INSERT };
    tx!(tx, |c| sqlx::query(sql)
        .bind(l.id)
        .bind(scope.org())
        .bind(l.event_id)
        .bind(l.session_id)
        .bind(&l.name)
        .bind(&l.ticket_type_ids)
        .bind(l.opens_at)
        .bind(l.closes_at)
        .bind(l.created_at)
        .bind(l.updated_at)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
}

pub(crate) async fn save_list(tx: &mut Tx<'_>, scope: &OrgScope, l: &ListRecord) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query(
        "UPDATE checkin_lists SET session_id = $3, name = $4, ticket_type_ids = $5, opens_at = $6, closes_at = $7, \
         updated_at = $8 WHERE org_id = $1 AND id = $2"
    )
    .bind(scope.org())
    .bind(l.id)
    .bind(l.session_id)
    .bind(&l.name)
    .bind(&l.ticket_type_ids)
    .bind(l.opens_at)
    .bind(l.closes_at)
    .bind(l.updated_at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}

/// Deletes a list and its scan log.
pub(crate) async fn delete_list(tx: &mut Tx<'_>, scope: &OrgScope, id: CheckinListId) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query("DELETE FROM checkin_lists WHERE org_id = $1 AND id = $2")
        .bind(scope.org())
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
}

/// Valid tickets of the event per ticket type.
pub(crate) async fn valid_tickets_by_type(
    db: &Db,
    scope: &OrgScope,
    event: EventId,
) -> Result<Vec<(TicketTypeId, i64)>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(
        "SELECT ticket_type_id, COUNT(*) FROM tickets WHERE event_id = $1 AND org_id = $2 AND status = 'valid' \
         GROUP BY ticket_type_id"
    )
    .bind(event)
    .bind(scope.org())
    .fetch_all(c)
    .await)
}

/// Valid tickets admitted on the list (live admissions), per ticket type.
pub(crate) async fn admitted_by_type(
    db: &Db,
    scope: &OrgScope,
    list: CheckinListId,
) -> Result<Vec<(TicketTypeId, i64)>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(
        "SELECT t.ticket_type_id, COUNT(*) FROM checkins k JOIN tickets t ON t.id = k.ticket_id \
         WHERE k.list_id = $1 AND k.org_id = $2 AND k.result = 'valid' AND k.undone_at IS NULL AND t.status = 'valid' \
         GROUP BY t.ticket_type_id"
    )
    .bind(list)
    .bind(scope.org())
    .fetch_all(c)
    .await)
}

/// A ticket of the event with its admission on the list, for offline scanners.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct ListTicketRow {
    #[sqlx(flatten)]
    pub ticket: TicketRecord,
    pub admitted_at: Option<DateTime<Utc>>,
}

/// The event's tickets (valid and cancelled) in id order after `after`, each with its live
/// admission on `list`.
pub(crate) async fn list_tickets(
    db: &Db,
    scope: &OrgScope,
    event: EventId,
    list: CheckinListId,
    after: Option<TicketId>,
    limit: i64,
) -> Result<Vec<ListTicketRow>, sqlx::Error> {
    read!(db, |c| {
        sqlx::query_as(
        "SELECT t.id, t.org_id, t.event_id, t.booking_id, t.ticket_type_id, t.seq, t.attendee_name, t.attendee_email, t.code, \
         t.status, t.checked_in_at, t.cancelled_at, t.created_at, t.updated_at, k.scanned_at AS admitted_at \
         FROM tickets t LEFT JOIN checkins k ON k.ticket_id = t.id AND k.list_id = $2 AND k.result = 'valid' AND k.undone_at IS NULL \
         WHERE t.event_id = $1 AND t.org_id = $5 AND ($3 IS NULL OR t.id > $3) ORDER BY t.id LIMIT $4"
    )
    .bind(event)
    .bind(list)
    .bind(after)
    .bind(limit)
    .bind(scope.org())
    .fetch_all(c)
    .await
    })
}

// ---- tickets and scans ------------------------------------------------------------------------

/// The organization's ticket with this code, with its type's name.
pub(crate) async fn ticket_by_code(db: &Db, scope: &OrgScope, code: &str) -> Result<Option<(TicketRecord, String)>, sqlx::Error> {
    let row: Option<TicketWithType> = read!(db, |c| {
        sqlx::query_as(
        "SELECT t.id, t.org_id, t.event_id, t.booking_id, t.ticket_type_id, t.seq, t.attendee_name, t.attendee_email, t.code, \
         t.status, t.checked_in_at, t.cancelled_at, t.created_at, t.updated_at, y.name AS type_name \
         FROM tickets t JOIN ticket_types y ON y.id = t.ticket_type_id WHERE t.code = $1 AND t.org_id = $2"
    )
    .bind(code)
    .bind(scope.org())
    .fetch_optional(c)
    .await
    })?;
    Ok(row.map(|r| (r.ticket, r.type_name)))
}

/// A ticket of the organization with its type's name, by id.
pub(crate) async fn ticket_by_id(db: &Db, scope: &OrgScope, id: TicketId) -> Result<Option<(TicketRecord, String)>, sqlx::Error> {
    let row: Option<TicketWithType> = read!(db, |c| {
        sqlx::query_as(
        "SELECT t.id, t.org_id, t.event_id, t.booking_id, t.ticket_type_id, t.seq, t.attendee_name, t.attendee_email, t.code, \
         t.status, t.checked_in_at, t.cancelled_at, t.created_at, t.updated_at, y.name AS type_name \
         FROM tickets t JOIN ticket_types y ON y.id = t.ticket_type_id WHERE t.id = $1 AND t.org_id = $2"
    )
    .bind(id)
    .bind(scope.org())
    .fetch_optional(c)
    .await
    })?;
    Ok(row.map(|r| (r.ticket, r.type_name)))
}

#[derive(sqlx::FromRow)]
struct TicketWithType {
    #[sqlx(flatten)]
    ticket: TicketRecord,
    type_name: String,
}

/// Finds a scan by id alone, to learn its organization.
/// Unscoped: resolves which organization owns an id before access is checked.
pub(crate) async fn checkin(db: &Db, id: CheckinId) -> Result<Option<CheckinRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(concat!("SELECT ", checkin_columns!(), " FROM checkins WHERE id = $1"))
        .bind(id)
        .fetch_optional(c)
        .await)
}

pub(crate) async fn checkin_by_scan(db: &Db, scope: &OrgScope, scan_id: &str) -> Result<Option<CheckinRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(concat!("SELECT ", checkin_columns!(), " FROM checkins WHERE org_id = $1 AND scan_id = $2"))
        .bind(scope.org())
        .bind(scan_id)
        .fetch_optional(c)
        .await)
}

/// The live admission of a ticket on a list.
pub(crate) async fn admission(
    db: &Db,
    scope: &OrgScope,
    list: CheckinListId,
    ticket: TicketId,
) -> Result<Option<CheckinRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(concat!(
        "SELECT ",
        checkin_columns!(),
        " FROM checkins WHERE list_id = $1 AND ticket_id = $2 AND org_id = $3 AND result = 'valid' AND undone_at IS NULL"
    ))
    .bind(list)
    .bind(ticket)
    .bind(scope.org())
    .fetch_optional(c)
    .await)
}

/// Records a scan in the scope's organization; `0` when its scan id was recorded before or,
/// for a `valid` scan, when the ticket was already admitted on the list.
pub(crate) async fn insert_checkin(tx: &mut Tx<'_>, scope: &OrgScope, k: &CheckinRecord) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query(concat!(
        "INSERT INTO checkins (",
        checkin_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) ON CONFLICT DO NOTHING"
    ))
    .bind(k.id)
    .bind(scope.org())
    .bind(k.event_id)
    .bind(k.list_id)
    .bind(k.ticket_id)
    .bind(&k.scan_id)
    .bind(k.result.as_str())
    .bind(&k.code)
    .bind(&k.gate)
    .bind(k.scanned_at)
    .bind(&k.actor)
    .bind(k.undone_at)
    .bind(&k.undone_by)
    .bind(k.created_at)
    .bind(k.updated_at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}

/// Undoes a live admission of the organization; `None` if there is none with this id.
pub(crate) async fn undo_checkin(
    tx: &mut Tx<'_>,
    scope: &OrgScope,
    id: CheckinId,
    by: &str,
    at: DateTime<Utc>,
) -> Result<Option<CheckinRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!(
        "UPDATE checkins SET undone_at = $3, undone_by = $4, updated_at = $3 \
         WHERE org_id = $1 AND id = $2 AND result = 'valid' AND undone_at IS NULL RETURNING ",
        checkin_columns!()
    ))
    .bind(scope.org())
    .bind(id)
    .bind(at)
    .bind(by)
    .fetch_optional(c)
    .await)
}

/// Sets the ticket's `checked_in_at` to its earliest live admission on any list (or clears it).
pub(crate) async fn refresh_checked_in(
    tx: &mut Tx<'_>,
    scope: &OrgScope,
    ticket: TicketId,
    at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query(
        "UPDATE tickets SET checked_in_at = (SELECT MIN(scanned_at) FROM checkins \
         WHERE ticket_id = $1 AND org_id = $3 AND result = 'valid' AND undone_at IS NULL), updated_at = $2 \
         WHERE id = $1 AND org_id = $3"
    )
    .bind(ticket)
    .bind(at)
    .bind(scope.org())
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}
