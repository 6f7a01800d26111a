//! SQL that reads many bookings at once: an event's booking list and its CSV export, a
//! user's bookings, and the sales statistics of an event. Read-only; one SQL text serves
//! both backends.
//!
//! An event's lists and statistics take the member's [`OrgScope`] and filter by it. A
//! user's bookings are unscoped: they span every organization the user booked with, and
//! the service keeps only those the caller may see.

use chrono::{DateTime, Utc};
use events::EventId;
use futures::TryStreamExt;
use kernel::Db;
use kernel::auth::OrgScope;
use kernel::id::{OrgId, UserId};
use kernel::read;

use crate::bookings::store::{BookingRecord, booking_columns};
use crate::domain::{BookingId, BookingStatus, TicketTypeId};

// ---- listings -----------------------------------------------------------------------------

/// Filters of an event's booking list. `like` is a lower-case `%…%` pattern, `exact` the
/// raw term matched against booking and ticket codes.
#[derive(Debug, Clone)]
pub(crate) struct BookingFilter {
    pub event: EventId,
    pub status: Option<BookingStatus>,
    pub like: Option<String>,
    pub exact: Option<String>,
}

macro_rules! booking_filters {
    ($p:literal) => {
        concat!(
            $p,
            "event_id = $1 AND ($2 IS NULL OR ",
            $p,
            "status = $2) AND ($3 IS NULL OR lower(",
            $p,
            "buyer_name) LIKE $3 ESCAPE '\\' OR lower(",
            $p,
            "buyer_email) LIKE $3 ESCAPE '\\' OR ",
            $p,
            "code = upper($4) OR ",
            $p,
            "id IN (SELECT booking_id FROM tickets WHERE code = upper($4))) "
        )
    };
}

/// One page of an event's bookings, newest first, strictly before `before`.
pub(crate) async fn event_bookings(
    db: &Db,
    scope: &OrgScope,
    f: &BookingFilter,
    before: Option<BookingId>,
    fetch: i64,
) -> Result<Vec<BookingRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(concat!(
        "SELECT ",
        booking_columns!(),
        " FROM bookings WHERE ",
        booking_filters!(""),
        "AND org_id = $7 AND ($5 IS NULL OR id < $5) ORDER BY id DESC LIMIT $6"
    ))
    .bind(f.event)
    .bind(f.status.map(BookingStatus::as_str))
    .bind(&f.like)
    .bind(&f.exact)
    .bind(before)
    .bind(fetch)
    .bind(scope.org())
    .fetch_all(c)
    .await)
}

/// One row of the CSV export: a booking position with its booking.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct ExportRow {
    pub booking_id: BookingId,
    pub code: String,
    #[sqlx(try_from = "String")]
    pub status: BookingStatus,
    pub buyer_name: String,
    pub buyer_email: String,
    pub booking_total: i64,
    pub voucher_code: Option<String>,
    pub created_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub paid_reference: Option<String>,
    pub position_id: crate::domain::PositionId,
    pub ticket_type_name: String,
    pub quantity: i64,
    pub unit_price: i64,
    pub discount: i64,
    pub currency: String,
}

/// One chunk of the export, ordered by booking (newest first) then position, strictly after
/// the `(booking, position)` cursor.
pub(crate) async fn export_rows(
    db: &Db,
    scope: &OrgScope,
    f: &BookingFilter,
    after: Option<(BookingId, crate::domain::PositionId)>,
    fetch: i64,
) -> Result<Vec<ExportRow>, sqlx::Error> {
    let (b, p) = after.unzip();
    read!(db, |c| sqlx::query_as(concat!(
        "SELECT b.id AS booking_id, b.code, b.status, b.buyer_name, b.buyer_email, b.total AS booking_total, b.voucher_code, \
         b.created_at, b.confirmed_at, b.paid_reference, p.id AS position_id, p.ticket_type_name, p.quantity, p.unit_price, \
         p.discount, p.currency FROM bookings b JOIN booking_positions p ON p.booking_id = b.id WHERE ",
        booking_filters!("b."),
        "AND b.org_id = $8 AND ($5 IS NULL OR b.id < $5 OR (b.id = $5 AND p.id > $6)) ORDER BY b.id DESC, p.id LIMIT $7"
    ))
    .bind(f.event)
    .bind(f.status.map(BookingStatus::as_str))
    .bind(&f.like)
    .bind(&f.exact)
    .bind(b)
    .bind(p)
    .bind(fetch)
    .bind(scope.org())
    .fetch_all(c)
    .await)
}

/// A user's bookings, newest first, strictly before `before`.
/// Unscoped: a buyer's bookings span organizations they are no member of; for another
/// caller the service keeps those of the organizations the caller is a member of.
pub(crate) async fn user_bookings(
    db: &Db,
    user: UserId,
    before: Option<BookingId>,
    fetch: i64,
) -> Result<Vec<BookingRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(concat!(
        "SELECT ",
        booking_columns!(),
        " FROM bookings WHERE user_id = $1 AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3"
    ))
    .bind(user)
    .bind(before)
    .bind(fetch)
    .fetch_all(c)
    .await)
}

/// The organizations a user has bookings with.
/// Unscoped: tells in which organizations the caller's role is to be checked.
pub(crate) async fn user_booking_orgs(db: &Db, user: UserId) -> Result<Vec<OrgId>, sqlx::Error> {
    let rows: Vec<(OrgId,)> =
        read!(db, |c| sqlx::query_as("SELECT DISTINCT org_id FROM bookings WHERE user_id = $1 LIMIT 1000")
            .bind(user)
            .fetch_all(c)
            .await)?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

// ---- statistics ---------------------------------------------------------------------------

/// Tickets and revenue per (ticket type, status) of live bookings.
pub(crate) async fn type_sales(
    db: &Db,
    scope: &OrgScope,
    event: EventId,
) -> Result<Vec<(TicketTypeId, String, i64, i64)>, sqlx::Error> {
    read!(db, |c| {
        sqlx::query_as(
        "SELECT p.ticket_type_id, b.status, CAST(SUM(p.quantity) AS BIGINT), CAST(SUM(p.unit_price * p.quantity - p.discount) AS BIGINT) \
         FROM booking_positions p JOIN bookings b ON b.id = p.booking_id \
         WHERE p.event_id = $1 AND p.org_id = $2 AND b.status IN ('pending_payment', 'confirmed') \
         GROUP BY p.ticket_type_id, b.status"
    )
    .bind(event)
    .bind(scope.org())
    .fetch_all(c)
    .await
    })
}

/// Confirmed bookings, tickets and revenue per currency.
pub(crate) async fn currency_sales(
    db: &Db,
    scope: &OrgScope,
    event: EventId,
) -> Result<Vec<(String, i64, i64, i64)>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(
        "SELECT currency, COUNT(*), CAST(SUM(quantity) AS BIGINT), CAST(SUM(total) AS BIGINT) FROM bookings \
         WHERE event_id = $1 AND org_id = $2 AND status = 'confirmed' GROUP BY currency ORDER BY currency"
    )
    .bind(event)
    .bind(scope.org())
    .fetch_all(c)
    .await)
}

pub(crate) async fn status_counts(db: &Db, scope: &OrgScope, event: EventId) -> Result<Vec<(String, i64)>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(
        "SELECT status, COUNT(*) FROM bookings WHERE event_id = $1 AND org_id = $2 GROUP BY status ORDER BY status"
    )
    .bind(event)
    .bind(scope.org())
    .fetch_all(c)
    .await)
}

/// Folds every confirmed booking of the event (confirmation time, currency, tickets,
/// total) through `f`, streaming rows rather than loading them all.
pub(crate) async fn fold_confirmed<F>(db: &Db, scope: &OrgScope, event: EventId, mut f: F) -> Result<(), sqlx::Error>
where
    F: FnMut(DateTime<Utc>, String, i64, i64),
{
    read!(db, |c| {
        let mut rows = sqlx::query_as::<_, (Option<DateTime<Utc>>, String, i64, i64)>(
            "SELECT confirmed_at, currency, quantity, total FROM bookings \
             WHERE event_id = $1 AND org_id = $2 AND status = 'confirmed'",
        )
        .bind(event)
        .bind(scope.org())
        .fetch(c);
        while let Some((at, currency, quantity, total)) = rows.try_next().await? {
            if let Some(at) = at {
                f(at, currency, quantity, total);
            }
        }
        Ok::<(), sqlx::Error>(())
    })
}
