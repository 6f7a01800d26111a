//! SQL for `waitlist_entries`. Every change of an entry's status is a conditional update on
//! the status it is expected to be in, so concurrent jobs, nodes and requests agree on one
//! outcome: [`mark_offered`] succeeds once per entry, ever.
//!
//! Queue order is (tier rank, id): the rank is computed in SQL from the event's tiers, bound
//! as `$1…$10` (at most [`WAITLIST_TIERS_MAX`](crate::domain::WAITLIST_TIERS_MAX) tiers;
//! unused slots are NULL and match nothing), so a change of the event's tiers re-orders the
//! queue at once and unknown tiers rank last.
//!
//! Functions take the [`OrgScope`] they act in and filter by it: a member's, or the
//! platform's in the organization the entry's (or the event's) row names — for the person
//! waiting, who is no member, and for the jobs that make and close offers. Unscoped are the
//! lookup that finds an entry's row by id, joining (anyone may join a published event's
//! waitlist), and the platform-wide sweep.

use chrono::{DateTime, Utc};
use events::{EventId, EventSessionId};
use kernel::auth::OrgScope;
use kernel::id::{OrgId, UserId};
use kernel::{Db, Tx, read, tx};

use crate::domain::{BookingId, BookingStatus, TicketTypeId, WAITLIST_TIERS_MAX, WaitlistEntryId, WaitlistStatus};

/// A `waitlist_entries` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct EntryRecord {
    pub id: WaitlistEntryId,
    pub org_id: OrgId,
    pub event_id: EventId,
    pub ticket_type_id: Option<TicketTypeId>,
    pub session_id: Option<EventSessionId>,
    pub tier: String,
    pub email: String,
    pub name: String,
    pub user_id: Option<UserId>,
    pub quantity: i64,
    #[sqlx(try_from = "String")]
    pub status: WaitlistStatus,
    pub token_hash: Option<String>,
    pub booking_id: Option<BookingId>,
    pub offered_at: Option<DateTime<Utc>>,
    pub offer_expires_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The event's tiers as the ten rank parameters of the queue queries.
pub(crate) type TierSlots<'a> = [Option<&'a str>; WAITLIST_TIERS_MAX];

pub(crate) fn tier_slots(tiers: &[String]) -> TierSlots<'_> {
    let mut slots: TierSlots<'_> = [None; WAITLIST_TIERS_MAX];
    for (slot, t) in slots.iter_mut().zip(tiers) {
        *slot = Some(t.as_str());
    }
    slots
}

macro_rules! entry_columns {
    () => {
        "id, org_id, event_id, ticket_type_id, session_id, tier, email, name, user_id, quantity, status, token_hash, \
         booking_id, offered_at, offer_expires_at, closed_at, created_at, updated_at"
    };
}

/// The tier rank of a row from the bound tiers `$1…$10`.
macro_rules! rank {
    () => {
        "(CASE tier WHEN $1 THEN 0 WHEN $2 THEN 1 WHEN $3 THEN 2 WHEN $4 THEN 3 WHEN $5 THEN 4 WHEN $6 THEN 5 \
         WHEN $7 THEN 6 WHEN $8 THEN 7 WHEN $9 THEN 8 WHEN $10 THEN 9 ELSE 10 END)"
    };
}

/// Unscoped: anyone joins the waitlist of a published event (members of its organization,
/// too, any event); the entry carries the event's organization.
pub(crate) async fn insert_entry(tx: &mut Tx<'_>, e: &EntryRecord) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query(concat!(
        "INSERT INTO waitlist_entries (",
        entry_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
    ))
    .bind(e.id)
    .bind(e.org_id)
    .bind(e.event_id)
    .bind(e.ticket_type_id)
    .bind(e.session_id)
    .bind(&e.tier)
    .bind(&e.email)
    .bind(&e.name)
    .bind(e.user_id)
    .bind(e.quantity)
    .bind(e.status.as_str())
    .bind(&e.token_hash)
    .bind(e.booking_id)
    .bind(e.offered_at)
    .bind(e.offer_expires_at)
    .bind(e.closed_at)
    .bind(e.created_at)
    .bind(e.updated_at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}

/// Finds an entry by id alone, to learn its event, organization and owner.
/// Unscoped: resolves which organization owns an entry before access is checked (its
/// person's token or account, the offer's token, a member's role).
pub(crate) async fn entry(db: &Db, id: WaitlistEntryId) -> Result<Option<EntryRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(concat!("SELECT ", entry_columns!(), " FROM waitlist_entries WHERE id = $1"))
        .bind(id)
        .fetch_optional(c)
        .await)
}

/// The entry whose offer is `booking`, if the booking is a waitlist offer.
pub(crate) async fn entry_by_booking(db: &Db, scope: &OrgScope, booking: BookingId) -> Result<Option<EntryRecord>, sqlx::Error> {
    read!(db, |c| sqlx::query_as(concat!(
        "SELECT ",
        entry_columns!(),
        " FROM waitlist_entries WHERE booking_id = $1 AND org_id = $2"
    ))
    .bind(booking)
    .bind(scope.org())
    .fetch_optional(c)
    .await)
}

/// `waiting → offered` with its offer booking: the guard that makes an entry get at most
/// one offer, ever (0 rows: it is no longer waiting — offered by another job, or left).
pub(crate) async fn mark_offered(
    tx: &mut Tx<'_>,
    scope: &OrgScope,
    id: WaitlistEntryId,
    booking: BookingId,
    at: DateTime<Utc>,
    expires: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    tx!(tx, |c| sqlx::query(
        "UPDATE waitlist_entries SET status = 'offered', booking_id = $2, offered_at = $3, offer_expires_at = $4, \
         updated_at = $3 WHERE id = $1 AND status = 'waiting' AND org_id = $5"
    )
    .bind(id)
    .bind(booking)
    .bind(at)
    .bind(expires)
    .bind(scope.org())
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}

/// Moves an entry that is in one of `from` to `to`. `None`: it was in neither (someone else
/// changed it first).
pub(crate) async fn transition(
    tx: &mut Tx<'_>,
    scope: &OrgScope,
    id: WaitlistEntryId,
    from: [WaitlistStatus; 2],
    to: WaitlistStatus,
    at: DateTime<Utc>,
) -> Result<Option<EntryRecord>, sqlx::Error> {
    let closed = (!to.is_live()).then_some(at);
    tx!(tx, |c| sqlx::query_as(concat!(
        "UPDATE waitlist_entries SET status = $4, closed_at = $5, updated_at = $6 \
         WHERE id = $1 AND status IN ($2, $3) AND org_id = $7 RETURNING ",
        entry_columns!()
    ))
    .bind(id)
    .bind(from[0].as_str())
    .bind(from[1].as_str())
    .bind(to.as_str())
    .bind(closed)
    .bind(at)
    .bind(scope.org())
    .fetch_optional(c)
    .await)
}

/// Changes the tier of a live entry. `None`: no such live entry in the scope's organization.
pub(crate) async fn set_tier(
    tx: &mut Tx<'_>,
    scope: &OrgScope,
    id: WaitlistEntryId,
    tier: &str,
    at: DateTime<Utc>,
) -> Result<Option<EntryRecord>, sqlx::Error> {
    tx!(tx, |c| sqlx::query_as(concat!(
        "UPDATE waitlist_entries SET tier = $3, updated_at = $4 WHERE org_id = $1 AND id = $2 \
         AND status IN ('waiting', 'offered') RETURNING ",
        entry_columns!()
    ))
    .bind(scope.org())
    .bind(id)
    .bind(tier)
    .bind(at)
    .fetch_optional(c)
    .await)
}

/// One page of an event's entries in one of `statuses`, in queue order (tier rank, id),
/// strictly after the `(rank, id)` cursor.
pub(crate) async fn queue(
    db: &Db,
    scope: &OrgScope,
    event: EventId,
    tiers: &TierSlots<'_>,
    statuses: [WaitlistStatus; 2],
    after: Option<(i64, WaitlistEntryId)>,
    fetch: i64,
) -> Result<Vec<EntryRecord>, sqlx::Error> {
    let (rank, id) = after.unzip();
    read!(db, |c| {
        let mut q = sqlx::query_as(concat!(
            "SELECT ",
            entry_columns!(),
            " FROM waitlist_entries WHERE event_id = $11 AND org_id = $17 AND status IN ($12, $13) AND ($15 IS NULL OR ",
            rank!(),
            " > $14 OR (",
            rank!(),
            " = $14 AND id > $15)) ORDER BY ",
            rank!(),
            ", id LIMIT $16"
        ));
        for t in tiers {
            q = q.bind(*t);
        }
        q.bind(event)
            .bind(statuses[0].as_str())
            .bind(statuses[1].as_str())
            .bind(rank)
            .bind(id)
            .bind(fetch)
            .bind(scope.org())
            .fetch_all(c)
            .await
    })
}

/// Every waiting entry of an event in queue order, as (id, ticket type, session): what
/// queue positions are counted from.
pub(crate) async fn waiting_targets(
    db: &Db,
    scope: &OrgScope,
    event: EventId,
    tiers: &TierSlots<'_>,
) -> Result<Vec<(WaitlistEntryId, Option<TicketTypeId>, Option<EventSessionId>)>, sqlx::Error> {
    read!(db, |c| {
        let mut q = sqlx::query_as(concat!(
            "SELECT id, ticket_type_id, session_id FROM waitlist_entries WHERE event_id = $11 AND org_id = $12 \
             AND status = 'waiting' \
             ORDER BY ",
            rank!(),
            ", id LIMIT 100000"
        ));
        for t in tiers {
            q = q.bind(*t);
        }
        q.bind(event).bind(scope.org()).fetch_all(c).await
    })
}

/// Offered entries whose offer booking is no longer pending (see the waitlist sweep), with
/// that booking's status.
/// Unscoped: the platform-wide sweep every node runs.
pub(crate) async fn stale_offers(db: &Db, limit: i64) -> Result<Vec<(WaitlistEntryId, BookingStatus)>, sqlx::Error> {
    let rows: Vec<(WaitlistEntryId, String)> = read!(db, |c| sqlx::query_as(
        "SELECT e.id, b.status FROM waitlist_entries e JOIN bookings b ON b.id = e.booking_id \
         WHERE e.status = 'offered' AND b.status <> 'pending_payment' ORDER BY e.id LIMIT $1"
    )
    .bind(limit)
    .fetch_all(c)
    .await)?;
    Ok(rows.into_iter().filter_map(|(id, s)| BookingStatus::parse(&s).map(|s| (id, s))).collect())
}
