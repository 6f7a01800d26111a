//! Waitlist: people wait for a ticket type (or any public type of a session) that has no
//! tickets left; when seats free up, the next in line gets an **offer** — seats held in
//! their name until the offer expires.
//!
//! An offer *is* a booking: written through the booking write path
//! ([`TicketingService::insert_booking_rows`], [`TicketingService::take_inventory`]), status
//! `pending_payment`, `hold_expires_at` = the offer's expiry, its seats taken by the same
//! conditional `UPDATE quotas SET taken = taken + n … WHERE taken + n <= capacity`. In the
//! same transaction the entry goes `waiting → offered` by a conditional update
//! (`… WHERE id = $1 AND status = 'waiting'`). So an entry is offered at most once whatever
//! number of jobs, nodes and requests race for it, and an offer can never oversell: if either
//! guard fails, nothing of the offer commits. No in-process lock is involved.
//!
//! Lock order (PostgreSQL): a transaction that changes an entry locks the entry's row before
//! the booking's and before any inventory row (buyer counter, quota), matching the booking
//! paths' own order (booking, counters, vouchers, quotas), so nothing waits in a cycle.
//!
//! Advancing: a job (`ticketing.waitlist`) subscribed to `booking.cancelled`,
//! `booking.expired`, `booking.tickets_refunded` and `quota.capacity_raised` first closes the entry whose offer that
//! booking was (expired → `expired`; cancelled while offered → `declined`), then walks the
//! event's waiting entries in tier order (the index in the event's `waitlist_tiers`, unknown
//! tiers last), then join order, making offers; an offer that fails for lack of seats stops
//! the walk for that ticket type or session (strict order: a later, smaller request does not
//! jump the queue) while entries for other types and sessions go on. A decline (and leaving
//! with an open offer) advances at once too. Every node's periodic sweep is the safety net:
//! offered entries whose booking moved on (paid before accepting, or a lost job) follow it.
//!
//! Access follows bookings: an entry is reachable by its person (the signed-in user who
//! joined, or whoever holds its `waitlist_token` or the offer's token) and by members of the
//! organization; anything else is a `404`. Staff and above may remove entries, change
//! tiers and decline offers on someone's behalf; only the person accepts.
//!
//! Decisions beyond the issue, recorded here:
//! * Joining a session waits for any *public* ticket type of that session; the offer books
//!   the first of them (by sort order) with room.
//! * "No availability" means no room for the requested quantity: someone wanting 2 may join
//!   while 1 is left.
//! * Staff who set `tier` when joining act on behalf of `email`: the entry is not tied to
//!   their own account and answers with a `waitlist_token` to pass on.
//! * Accepting a priced offer leaves the booking pending until the offer expiry; if it is not
//!   paid by then, the booking expires and so does the entry (`accepted → expired`).
//! * An entry whose person already holds the per-buyer maximum is skipped (stays waiting).
//! * Offer tokens: the offer mail carries a fresh token that is the offer booking's
//!   `booking_token` (only its hash is stored); it also opens the entry.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Weak};

use chrono::TimeDelta;
use events::{EventId, EventSessionId, EventStatus};
use kernel::audit::{self, AuditEntry};
use kernel::auth::{Principal, Role};
use kernel::jobs::{Envelope, JobHandler, publish};
use kernel::mail::OutgoingMail;
use kernel::pagination::{Page, PageParams};
use kernel::time::{Timestamp, now};
use kernel::{AppError, AppResult, Kernel, Tx};
use serde_json::json;
use sqlx::types::Json;

use super::bookings::{NewBooking, Shortfall, actor_of, audit_booking, booking_event};
use super::{Catalog, TicketingService};
use crate::domain::{
    self, BookingId, BookingStatus, PositionId, QuotaId, TicketTypeId, Visibility, WaitlistEntryId, WaitlistStatus,
};
use crate::model::*;
use crate::store::waitlist::{self as wstore, EntryRecord};
use crate::store::{self, Allocation, BookingRecord, TicketTypeRecord};

/// Job kind that reacts to freed inventory (see the module docs).
pub const WAITLIST_JOB: &str = "ticketing.waitlist";
/// The events that can free seats.
const TOPICS: [&str; 4] = ["booking.cancelled", "booking.expired", "booking.tickets_refunded", "quota.capacity_raised"];
/// Waiting entries read per round trip while advancing.
const WALK_PAGE: i64 = 200;
/// Attempts at writing an offer when a random booking code collides.
const CODE_ATTEMPTS: usize = 3;

use WaitlistStatus::{Accepted, Declined, Expired, Left, Offered, Waiting};

/// Registers the waitlist job and subscribes it to the events that free seats.
pub(super) fn register(kernel: &Kernel, svc: Weak<TicketingService>) {
    kernel.jobs.register(WAITLIST_JOB, Arc::new(WaitlistJob(svc)));
    for topic in TOPICS {
        kernel.jobs.subscribe(topic, WAITLIST_JOB);
    }
}

/// What an entry waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Target {
    Type(TicketTypeId),
    Session(EventSessionId),
}

fn target(e: &EntryRecord) -> Option<Target> {
    match (e.ticket_type_id, e.session_id) {
        (Some(t), None) => Some(Target::Type(t)),
        (None, Some(s)) => Some(Target::Session(s)),
        _ => None,
    }
}

/// How the caller reaches an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// The person waiting: the user who joined, or a holder of its token or its offer's.
    Person,
    /// A member of the event's organization.
    Member(Role),
}

/// The result of one offer attempt with one ticket type.
enum Attempt {
    Offered,
    /// A quota of the type had no room.
    NoRoom,
    /// The entry is no longer waiting, or its person holds the per-buyer maximum.
    Skip,
}

/// The result of trying to serve one entry.
enum Outcome {
    Offered,
    /// No room for it in any quota: later entries for the same target wait too.
    NoSeats,
    /// Not servable now (taken by another job, left, buyer cap, off sale): go on.
    Skipped,
}

fn fits(t: &TicketTypeRecord, quantity: i64) -> bool {
    quantity >= t.min_per_order && t.max_per_order.is_none_or(|m| quantity <= m)
}

/// The public types of a session on sale now that fit `quantity`, in listing order.
fn session_types(c: &Catalog, s: EventSessionId, quantity: i64, at: Timestamp) -> Vec<(&TicketTypeRecord, &[QuotaId])> {
    let mut out: Vec<(&TicketTypeRecord, &[QuotaId])> = c
        .types
        .values()
        .filter(|(t, q)| {
            t.session_id == Some(s)
                && t.visibility == Visibility::Public
                && !q.is_empty()
                && domain::sales_open(at, t.sales_start, t.sales_end, c.facts.ends_at).is_ok()
                && fits(t, quantity)
        })
        .map(|(t, q)| (t, q.as_slice()))
        .collect();
    out.sort_by_key(|(t, _)| (t.sort_order, t.id));
    out
}

/// What an offer for `entry` may book now, in order of preference.
fn offer_candidates<'c>(c: &'c Catalog, entry: &EntryRecord, at: Timestamp) -> Vec<(&'c TicketTypeRecord, &'c [QuotaId])> {
    match target(entry) {
        Some(Target::Type(t)) => c
            .types
            .get(&t)
            .filter(|(t, q)| {
                !q.is_empty()
                    && domain::sales_open(at, t.sales_start, t.sales_end, c.facts.ends_at).is_ok()
                    && fits(t, entry.quantity)
            })
            .map(|(t, q)| vec![(t, q.as_slice())])
            .unwrap_or_default(),
        Some(Target::Session(s)) => session_types(c, s, entry.quantity, at),
        None => Vec::new(),
    }
}

fn entry_view(e: EntryRecord, position: Option<i64>) -> WaitlistEntry {
    WaitlistEntry {
        id: e.id,
        event_id: e.event_id,
        ticket_type_id: e.ticket_type_id,
        session_id: e.session_id,
        tier: e.tier,
        email: e.email,
        name: e.name,
        user_id: e.user_id,
        quantity: e.quantity,
        status: e.status,
        position: if e.status == Waiting { position } else { None },
        booking_id: e.booking_id,
        offered_at: e.offered_at,
        offer_expires_at: e.offer_expires_at,
        created_at: e.created_at,
        updated_at: e.updated_at,
    }
}

/// The payload of every `waitlist.*` event (never the token).
fn entry_event(e: &EntryRecord) -> serde_json::Value {
    json!({
        "entry_id": e.id, "org_id": e.org_id, "event_id": e.event_id, "ticket_type_id": e.ticket_type_id,
        "session_id": e.session_id, "tier": e.tier, "email": e.email, "name": e.name, "user_id": e.user_id,
        "quantity": e.quantity, "status": e.status, "booking_id": e.booking_id, "offer_expires_at": e.offer_expires_at,
    })
}

async fn audit_entry(tx: &mut Tx<'_>, actor: &str, e: &EntryRecord, action: &str, changes: serde_json::Value) -> AppResult<()> {
    let entry =
        AuditEntry { org_id: Some(e.org_id), action, resource_type: "waitlist_entry", resource_id: e.id.to_string(), changes };
    audit::record_as(tx, actor, entry).await
}

/// Minor units as an amount in the currency's usual decimals (`5000 EUR` → `50.00 EUR`).
fn money(minor: i64, currency: &str) -> String {
    const NO_DECIMALS: &[&str] =
        &["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"];
    const THREE_DECIMALS: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];
    let decimals = if NO_DECIMALS.contains(&currency) {
        0
    } else if THREE_DECIMALS.contains(&currency) {
        3
    } else {
        2
    };
    if decimals == 0 {
        return format!("{minor} {currency}");
    }
    let unit = 10i64.pow(decimals);
    format!("{}.{:0width$} {currency}", minor / unit, minor % unit, width = decimals as usize)
}

impl TicketingService {
    // ---- joining and reading ------------------------------------------------------

    /// Joins the waitlist of a ticket type or session that has no room for `quantity`
    /// (anyone; a signed-in user is recorded as the person waiting).
    pub async fn join_waitlist(&self, p: Option<&Principal>, event: EventId, req: JoinWaitlist) -> AppResult<WaitlistJoined> {
        let (e, member) = self.visible_event(p, event).await?;
        let target = match (req.ticket_type_id, req.session_id) {
            (Some(_), Some(_)) => return Err(AppError::validation("session_id", "give ticket_type_id or session_id, not both")),
            (None, None) => {
                return Err(AppError::validation("ticket_type_id", "give the ticket type (or session_id) to wait for"));
            }
            (Some(t), None) => Target::Type(t),
            (None, Some(s)) => Target::Session(s),
        };
        let email = domain::buyer_key(&domain::email("email", &req.email)?);
        let name = domain::required_text("name", &req.name, domain::NAME_MAX)?;
        let quantity = domain::within("quantity", req.quantity.unwrap_or(1), 1..=domain::WAITLIST_QUANTITY_MAX)?;
        let Some(catalog) = self.catalog(event).await? else { return Err(AppError::not_found("event")) };
        let tiers = &catalog.settings.waitlist_tiers.0;
        let last = tiers.last().cloned().unwrap_or_else(|| "standard".to_string());
        let staff = self.role(p, e.org_id).await?.is_some_and(|r| r >= Role::Staff);
        let (tier, on_behalf) = match req.tier.as_deref().map(|t| t.trim().to_ascii_lowercase()) {
            None => (last, false),
            Some(t) if staff => {
                if !tiers.contains(&t) {
                    return Err(AppError::validation("tier", format!("must be one of the event's tiers: {}", tiers.join(", "))));
                }
                (t, true)
            }
            Some(t) if t == last => (last, false),
            Some(_) => {
                return Err(AppError::validation(
                    "tier",
                    format!("only the organizer places people in a tier; everyone joins {last}"),
                ));
            }
        };
        if e.status != EventStatus::Published {
            return Err(AppError::conflict("not_on_sale", "the event is not on sale"));
        }

        let at = now();
        let candidates: Vec<(&TicketTypeRecord, &[QuotaId])> = match target {
            Target::Type(t) => {
                let Some((tt, quotas)) = catalog.types.get(&t).filter(|(tt, _)| tt.visibility == Visibility::Public || member)
                else {
                    return Err(AppError::validation("ticket_type_id", "no such ticket type in this event"));
                };
                if quotas.is_empty() {
                    return Err(AppError::validation(
                        "ticket_type_id",
                        format!("{} is not on sale yet (it is in no quota)", tt.name),
                    ));
                }
                if let Err(why) = domain::sales_open(at, tt.sales_start, tt.sales_end, e.ends_at) {
                    return Err(AppError::conflict("sales_closed", format!("{}: {why}", tt.name)));
                }
                if !fits(tt, quantity) {
                    let max = tt.max_per_order.unwrap_or(domain::BOOKING_TICKETS_MAX);
                    return Err(AppError::validation(
                        "quantity",
                        format!("{} is sold {}–{max} per booking", tt.name, tt.min_per_order),
                    ));
                }
                vec![(tt, quotas.as_slice())]
            }
            Target::Session(s) => {
                if !self.events.session_facts(e.org_id, e.id).await?.iter().any(|f| f.id == s) {
                    return Err(AppError::validation("session_id", "no such session in this event"));
                }
                let c = session_types(&catalog, s, quantity, at);
                if c.is_empty() {
                    return Err(AppError::validation("session_id", "no tickets of this session are on sale for this quantity"));
                }
                c
            }
        };
        // Only for what is sold out (for this quantity): otherwise book it.
        let room: HashMap<QuotaId, i64> =
            store::quotas(self.db(), event).await?.into_iter().map(|q| (q.id, q.capacity - q.taken)).collect();
        for (t, quotas) in &candidates {
            let available = quotas.iter().filter_map(|q| room.get(q).copied()).min().unwrap_or(0);
            if available >= quantity {
                return Err(AppError::conflict(
                    "tickets_available",
                    format!("{} has {available} tickets available: book them instead", t.name),
                ));
            }
        }

        let user_id = if on_behalf { None } else { p.and_then(Principal::user_id) };
        let token = user_id.is_none().then(domain::booking_token);
        let (ticket_type_id, session_id) = match target {
            Target::Type(t) => (Some(t), None),
            Target::Session(s) => (None, Some(s)),
        };
        let entry = EntryRecord {
            id: WaitlistEntryId::new(),
            org_id: e.org_id,
            event_id: e.id,
            ticket_type_id,
            session_id,
            tier,
            email,
            name,
            user_id,
            quantity,
            status: Waiting,
            token_hash: token.as_deref().map(domain::hash_token),
            booking_id: None,
            offered_at: None,
            offer_expires_at: None,
            closed_at: None,
            created_at: at,
            updated_at: at,
        };
        let mut tx = self.db().begin().await?;
        // The partial unique index on live entries refuses a second one for the same person
        // and target, even from concurrent requests.
        wstore::insert_entry(&mut tx, &entry).await.map_err(|err| match AppError::from(err) {
            AppError::Conflict { code: "already_exists", .. } => {
                AppError::conflict("already_waiting", format!("{} is already on this waitlist", entry.email))
            }
            other => other,
        })?;
        let changes = json!({
            "event_id": e.id, "ticket_type_id": ticket_type_id, "session_id": session_id, "tier": entry.tier,
            "quantity": quantity, "email": entry.email,
        });
        audit_entry(&mut tx, &actor_of(p), &entry, "waitlist_entry.joined", changes).await?;
        publish(&mut tx, "waitlist.joined", &entry_event(&entry)).await?;
        self.kernel.commit(tx).await?;
        let view = self.entry_view_with_position(entry).await?;
        Ok(WaitlistJoined { entry: view, waitlist_token: token })
    }

    /// An entry the caller may reach, and how. `404` for everyone else.
    async fn entry_for(
        &self,
        p: Option<&Principal>,
        token: Option<&str>,
        id: WaitlistEntryId,
    ) -> AppResult<(EntryRecord, Access)> {
        let Some(e) = wstore::entry(self.db(), id).await? else { return Err(AppError::not_found("waitlist entry")) };
        if let (Some(user), Some(owner)) = (p.and_then(Principal::user_id), e.user_id)
            && user == owner
        {
            return Ok((e, Access::Person));
        }
        if let Some(t) = token {
            let hash = domain::hash_token(t);
            if e.token_hash.as_deref().is_some_and(|h| domain::same_hash(&hash, h)) {
                return Ok((e, Access::Person));
            }
            if let Some(b) = e.booking_id
                && let Some(offer) = store::booking(self.db(), b).await?
                && domain::same_hash(&hash, &offer.token_hash)
            {
                return Ok((e, Access::Person));
            }
        }
        match self.role(p, e.org_id).await? {
            Some(role) if role >= Role::Viewer => Ok((e, Access::Member(role))),
            _ => Err(AppError::not_found("waitlist entry")),
        }
    }

    /// 1-based places of the event's waiting entries among those for the same target.
    async fn positions(&self, event: EventId, tiers: &[String]) -> AppResult<HashMap<WaitlistEntryId, i64>> {
        let rows = wstore::waiting_targets(self.db(), event, &wstore::tier_slots(tiers)).await?;
        let mut per_target: HashMap<(Option<TicketTypeId>, Option<EventSessionId>), i64> = HashMap::new();
        let mut out = HashMap::with_capacity(rows.len());
        for (id, t, s) in rows {
            let n = per_target.entry((t, s)).or_default();
            *n += 1;
            out.insert(id, *n);
        }
        Ok(out)
    }

    async fn entry_view_with_position(&self, e: EntryRecord) -> AppResult<WaitlistEntry> {
        let position = if e.status == Waiting {
            let tiers = self.settings_for(e.event_id, e.org_id).await?.waitlist_tiers.0;
            self.positions(e.event_id, &tiers).await?.get(&e.id).copied()
        } else {
            None
        };
        Ok(entry_view(e, position))
    }

    /// An entry with its place in line (its person, or members).
    pub async fn waitlist_entry(
        &self,
        p: Option<&Principal>,
        token: Option<&str>,
        id: WaitlistEntryId,
    ) -> AppResult<WaitlistEntry> {
        let (e, _) = self.entry_for(p, token, id).await?;
        self.entry_view_with_position(e).await
    }

    /// An event's waitlist in queue order (members): live entries, or those in `status`.
    pub async fn event_waitlist(&self, p: &Principal, event: EventId, q: WaitlistQuery) -> AppResult<Page<WaitlistEntry>> {
        let e = self.managed_event(p, event, Role::Viewer, "event").await?;
        let page = PageParams { cursor: q.cursor, limit: q.limit };
        let limit = page.limit()?;
        let after: Option<(i64, WaitlistEntryId)> = page.decode()?;
        let statuses = q.status.map(|s| [s, s]).unwrap_or([Waiting, Offered]);
        let tiers = self.settings_record(&e).await?.waitlist_tiers.0;
        let slots = wstore::tier_slots(&tiers);
        let rows = wstore::queue(self.db(), e.id, &slots, statuses, after, limit + 1).await?;
        let positions = self.positions(e.id, &tiers).await?;
        let page = Page::from_rows(rows, limit, |r| (domain::tier_rank(&r.tier, &tiers), r.id));
        Ok(page.map(|r| {
            let position = positions.get(&r.id).copied();
            entry_view(r, position)
        }))
    }

    // ---- changing -----------------------------------------------------------------

    /// Moves an entry to another of the event's tiers (staff and above).
    pub async fn update_waitlist_entry(
        &self,
        p: &Principal,
        id: WaitlistEntryId,
        req: UpdateWaitlistEntry,
    ) -> AppResult<WaitlistEntry> {
        let Some(e) = wstore::entry(self.db(), id).await? else { return Err(AppError::not_found("waitlist entry")) };
        self.require(p, e.org_id, Role::Staff, "waitlist entry").await?;
        let Some(raw) = req.tier.as_deref() else { return self.entry_view_with_position(e).await };
        let tiers = self.settings_for(e.event_id, e.org_id).await?.waitlist_tiers.0;
        let tier = raw.trim().to_ascii_lowercase();
        if !tiers.contains(&tier) {
            return Err(AppError::validation("tier", format!("must be one of the event's tiers: {}", tiers.join(", "))));
        }
        if tier == e.tier {
            return self.entry_view_with_position(e).await;
        }
        let mut tx = self.db().begin().await?;
        let Some(changed) = wstore::set_tier(&mut tx, e.org_id, id, &tier, now()).await? else {
            return Err(AppError::conflict("entry_closed", format!("the entry is {}", e.status.as_str())));
        };
        audit_entry(&mut tx, &p.actor(), &changed, "waitlist_entry.updated", json!({ "tier": tier, "from": e.tier })).await?;
        self.kernel.commit(tx).await?;
        self.entry_view_with_position(changed).await
    }

    /// Leaves the waitlist (its person), or removes someone from it (staff and above). An
    /// open offer is cancelled with it and its seats go to the next in line.
    pub async fn leave_waitlist(
        &self,
        p: Option<&Principal>,
        token: Option<&str>,
        id: WaitlistEntryId,
    ) -> AppResult<WaitlistEntry> {
        let (e, access) = self.entry_for(p, token, id).await?;
        if let Access::Member(r) = access
            && r < Role::Staff
        {
            return Err(AppError::forbidden("requires the staff role"));
        }
        if !e.status.is_live() {
            return Err(AppError::conflict("invalid_transition", format!("the entry is already {}", e.status.as_str())));
        }
        // Only an offered entry has a booking; an accepted one is no longer live.
        let (left, _) = self.close_entry(p, id, [Waiting, Offered], Left, json!({ "from": e.status })).await?;
        Ok(entry_view(left, None))
    }

    /// Moves a live entry from one of `from` to `to` (`left` or `declined`), cancelling its
    /// offer booking if it has one, with the audit record and the `waitlist.<to>` event;
    /// when the offer's seats came free, the next in line gets them. Returns the entry and
    /// whether an offer was cancelled.
    async fn close_entry(
        &self,
        p: Option<&Principal>,
        id: WaitlistEntryId,
        from: [WaitlistStatus; 2],
        to: WaitlistStatus,
        mut changes: serde_json::Value,
    ) -> AppResult<(EntryRecord, bool)> {
        let mut tx = self.db().begin().await?;
        let Some(closed) = wstore::transition(&mut tx, id, from, to, now()).await? else {
            return Err(AppError::conflict("invalid_transition", "the entry changed meanwhile; read it again"));
        };
        let released = match closed.booking_id {
            Some(b) => self.cancel_offer(&mut tx, p, b).await?,
            None => false,
        };
        changes["status"] = json!(to.as_str());
        changes["offer_cancelled"] = json!(released);
        audit_entry(&mut tx, &actor_of(p), &closed, &format!("waitlist_entry.{}", to.as_str()), changes).await?;
        publish(&mut tx, &format!("waitlist.{}", to.as_str()), &entry_event(&closed)).await?;
        self.kernel.commit(tx).await?;
        if released || to == Declined {
            self.advance_after(closed.event_id).await;
        }
        Ok((closed, released))
    }

    /// Accepts an offer (its person only). A free offer is confirmed at once with its
    /// tickets; a priced one stays `pending_payment` until the offer expiry, to be paid like
    /// any booking.
    pub async fn accept_offer(
        &self,
        p: Option<&Principal>,
        token: Option<&str>,
        id: WaitlistEntryId,
    ) -> AppResult<WaitlistAccepted> {
        let (e, access) = self.entry_for(p, token, id).await?;
        if access != Access::Person {
            return Err(AppError::forbidden("only the person on the waitlist accepts an offer"));
        }
        match e.status {
            Offered => {}
            Waiting => return Err(AppError::conflict("no_offer", "there is no offer for this entry yet")),
            Accepted => return Err(AppError::conflict("already_accepted", "the offer is already accepted")),
            Expired => return Err(AppError::conflict("offer_expired", "the offer has expired")),
            s => return Err(AppError::conflict("invalid_transition", format!("the entry is {}", s.as_str()))),
        }
        let Some(booking_id) = e.booking_id else { return Err(AppError::conflict("no_offer", "the entry has no offer")) };
        let at = now();
        let mut tx = self.db().begin().await?;
        // Entry first, then the booking: the waitlist's lock order.
        let Some(accepted) = wstore::transition(&mut tx, id, [Offered, Offered], Accepted, at).await? else {
            return Err(AppError::conflict("invalid_transition", "the entry changed meanwhile; read it again"));
        };
        let Some(cur) = store::lock_booking(&mut tx, booking_id).await? else { return Err(AppError::not_found("booking")) };
        let pending = cur.status == BookingStatus::PendingPayment && cur.hold_expires_at.is_none_or(|t| t > at);
        // Paid already (the offer booking went through the payment path before the person
        // accepted): accepting just records it.
        if !pending && cur.status != BookingStatus::Confirmed {
            return Err(AppError::conflict("offer_expired", "the offer is no longer open (expired or cancelled)"));
        }
        let booking = if cur.total == 0 && pending {
            let changes = json!({ "status": "confirmed", "from": cur.status, "waitlist_entry_id": id });
            let confirmed = self.confirm_in(&mut tx, p, booking_id, BookingStatus::PendingPayment, None, changes, at).await?;
            let Some(confirmed) = confirmed else {
                return Err(AppError::conflict("offer_expired", "the offer has expired"));
            };
            confirmed
        } else {
            cur
        };
        // The person gets the booking's token to manage (and pay) it without signing in: the
        // offer token they hold, or — if they came with the entry's own token — a new one.
        let signed_in = p.and_then(Principal::user_id).is_some_and(|u| Some(u) == e.user_id);
        let booking_token = match token {
            _ if signed_in => None,
            Some(t) if domain::same_hash(&domain::hash_token(t), &booking.token_hash) => Some(t.to_string()),
            _ => {
                let fresh = domain::booking_token();
                wstore::set_booking_token(&mut tx, booking_id, &domain::hash_token(&fresh), at).await?;
                Some(fresh)
            }
        };
        let changes = json!({ "status": "accepted", "booking_id": booking_id, "booking_status": booking.status });
        audit_entry(&mut tx, &actor_of(p), &accepted, "waitlist_entry.accepted", changes).await?;
        publish(&mut tx, "waitlist.accepted", &entry_event(&accepted)).await?;
        self.kernel.commit(tx).await?;
        Ok(WaitlistAccepted { entry: entry_view(accepted, None), booking: self.view(booking).await?, booking_token })
    }

    /// Declines an offer (its person, or staff and above): the offer booking is cancelled,
    /// its seats released, and the next in line gets an offer.
    pub async fn decline_offer(
        &self,
        p: Option<&Principal>,
        token: Option<&str>,
        id: WaitlistEntryId,
    ) -> AppResult<WaitlistEntry> {
        let (e, access) = self.entry_for(p, token, id).await?;
        if let Access::Member(r) = access
            && r < Role::Staff
        {
            return Err(AppError::forbidden("requires the staff role"));
        }
        if e.status != Offered {
            return Err(AppError::conflict("no_offer", format!("the entry is {}, not offered", e.status.as_str())));
        }
        let (declined, _) = self.close_entry(p, id, [Offered, Offered], Declined, json!({ "booking_id": e.booking_id })).await?;
        Ok(entry_view(declined, None))
    }

    /// Cancels a pending offer booking in `tx`, releasing its seats (`false`: it was no
    /// longer pending — expired or cancelled meanwhile). An offer that has been paid is not
    /// given up this way: `409 already_paid` (its booking is cancelled like any other).
    async fn cancel_offer(&self, tx: &mut Tx<'_>, p: Option<&Principal>, booking: BookingId) -> AppResult<bool> {
        let Some(cancelled) = store::cancel(tx, booking, BookingStatus::PendingPayment, now()).await? else {
            if store::lock_booking(tx, booking).await?.is_some_and(|b| b.status == BookingStatus::Confirmed) {
                return Err(AppError::conflict("already_paid", "the offer has been paid; cancel its booking instead"));
            }
            return Ok(false);
        };
        self.release_inventory(tx, &cancelled).await?;
        let positions = store::positions_tx(tx, booking).await?;
        let changes = json!({ "status": "cancelled", "from": "pending_payment", "reason": "waitlist offer declined" });
        audit_booking(tx, p, &cancelled, "booking.cancelled", changes).await?;
        publish(tx, "booking.cancelled", &booking_event(&cancelled, &positions)).await?;
        Ok(true)
    }

    /// Advances right after a change that freed seats; a failure is logged, not returned
    /// (the change itself committed, and the `booking.cancelled` job advances again).
    async fn advance_after(&self, event: EventId) {
        if let Err(e) = self.advance_waitlist(event).await {
            tracing::warn!(event = %event, error = %e, "advancing the waitlist failed; the job will retry");
        }
    }

    // ---- offers -------------------------------------------------------------------

    /// Offers freed seats to the event's waiting entries in queue order; returns how many
    /// offers it made. Safe to run concurrently on any number of nodes.
    pub async fn advance_waitlist(&self, event: EventId) -> AppResult<usize> {
        let Some(c) = self.catalog(event).await? else { return Ok(0) };
        if c.facts.deleted || c.facts.status != EventStatus::Published {
            return Ok(0);
        }
        let tiers = c.settings.waitlist_tiers.0.clone();
        let slots = wstore::tier_slots(&tiers);
        let mut blocked: HashSet<Target> = HashSet::new();
        let mut after: Option<(i64, WaitlistEntryId)> = None;
        let mut offered = 0;
        loop {
            let page = wstore::queue(self.db(), event, &slots, [Waiting, Waiting], after, WALK_PAGE).await?;
            for entry in &page {
                let Some(t) = target(entry) else { continue };
                if blocked.contains(&t) {
                    continue;
                }
                match self.offer_entry(&c, entry).await? {
                    Outcome::Offered => offered += 1,
                    Outcome::NoSeats => {
                        blocked.insert(t);
                    }
                    Outcome::Skipped => {}
                }
            }
            if (page.len() as i64) < WALK_PAGE {
                return Ok(offered);
            }
            after = page.last().map(|e| (domain::tier_rank(&e.tier, &tiers), e.id));
        }
    }

    /// Tries the entry's candidate ticket types in order.
    async fn offer_entry(&self, c: &Catalog, entry: &EntryRecord) -> AppResult<Outcome> {
        let mut short = false;
        for (t, quotas) in offer_candidates(c, entry, now()) {
            match self.try_offer(c, entry, t, quotas).await? {
                Attempt::NoRoom => short = true,
                Attempt::Skip => return Ok(Outcome::Skipped),
                Attempt::Offered => return Ok(Outcome::Offered),
            }
        }
        Ok(if short { Outcome::NoSeats } else { Outcome::Skipped })
    }

    /// One offer in one transaction: the booking's rows, the entry's `waiting → offered`,
    /// the booking's inventory, the `waitlist.offered` event and the offer mail — all or
    /// nothing.
    async fn try_offer(&self, c: &Catalog, entry: &EntryRecord, t: &TicketTypeRecord, quotas: &[QuotaId]) -> AppResult<Attempt> {
        let at = now();
        let expires = at + TimeDelta::seconds(c.settings.waitlist_offer_seconds);
        let token = domain::booking_token();
        let total = t.price * entry.quantity;
        let seats = domain::allocations([(quotas, entry.quantity)]);
        let mut new = NewBooking {
            booking: BookingRecord {
                id: BookingId::new(),
                org_id: entry.org_id,
                event_id: entry.event_id,
                code: String::new(),
                status: BookingStatus::PendingPayment,
                buyer_email: entry.email.clone(),
                buyer_name: entry.name.clone(),
                user_id: entry.user_id,
                voucher_id: None,
                voucher_code: None,
                currency: t.currency.clone(),
                subtotal: total,
                discount: 0,
                total,
                quantity: entry.quantity,
                attendees: Json(Vec::new()),
                allocations: Json(seats.iter().map(|&(quota_id, quantity)| Allocation { quota_id, quantity }).collect()),
                token_hash: domain::hash_token(&token),
                hold_expires_at: Some(expires),
                confirmed_at: None,
                cancelled_at: None,
                expired_at: None,
                paid_reference: None,
                created_at: at,
                updated_at: at,
            },
            positions: vec![Position {
                id: PositionId::new(),
                ticket_type_id: t.id,
                ticket_type_name: t.name.clone(),
                quantity: entry.quantity,
                unit_price: t.price,
                discount: 0,
                currency: t.currency.clone(),
            }],
            tickets: Vec::new(),
            max_per_buyer: c.settings.max_tickets_per_buyer,
            actor: "system".to_string(),
            context: None,
        };
        let mut attempt = 0;
        let mut tx = loop {
            attempt += 1;
            new.booking.code = domain::booking_code();
            let mut tx = self.db().begin().await?;
            // The booking row first (the entry refers to it), then the entry's guard, then
            // the inventory — entry before inventory rows, the waitlist's lock order.
            match self.insert_booking_rows(&mut tx, &new).await {
                Ok(()) => {}
                // Only random values (ids, codes) can collide in these inserts: try again.
                Err(AppError::Conflict { code: "already_exists", .. }) if attempt < CODE_ATTEMPTS => continue,
                Err(e) => return Err(e),
            }
            if wstore::mark_offered(&mut tx, entry.id, new.booking.id, at, expires).await? == 0 {
                return Ok(Attempt::Skip);
            }
            match self.take_inventory(&mut tx, &new.booking, new.max_per_buyer).await? {
                None => {}
                Some(Shortfall::Quota(_)) => return Ok(Attempt::NoRoom),
                Some(_) => return Ok(Attempt::Skip),
            }
            break tx;
        };
        let mut offered = entry.clone();
        offered.status = Offered;
        offered.booking_id = Some(new.booking.id);
        offered.offered_at = Some(at);
        offered.offer_expires_at = Some(expires);
        offered.updated_at = at;
        let changes =
            json!({ "status": "offered", "booking_id": new.booking.id, "ticket_type_id": t.id, "offer_expires_at": expires });
        audit_entry(&mut tx, "system", &offered, "waitlist_entry.offered", changes).await?;
        let mut payload = entry_event(&offered);
        payload["ticket_type_id"] = json!(t.id);
        payload["total"] = json!(total);
        payload["currency"] = json!(t.currency);
        publish(&mut tx, "waitlist.offered", &payload).await?;
        let mail = self.offer_mail(c, &offered, t, total, expires, offered.user_id.is_none().then_some(token.as_str()));
        self.kernel.queue_mail(&mut tx, &mail).await?;
        self.kernel.commit(tx).await?;
        Ok(Attempt::Offered)
    }

    /// The offer email: what is held, until when, how to accept or decline. Anonymous
    /// entries get the offer token here and nowhere else (mail job payloads are redacted in
    /// the admin API; the token is never logged nor put in an event).
    fn offer_mail(
        &self,
        c: &Catalog,
        e: &EntryRecord,
        t: &TicketTypeRecord,
        total: i64,
        expires: Timestamp,
        token: Option<&str>,
    ) -> OutgoingMail {
        let base = self.kernel.config.server.public_url.trim_end_matches('/');
        let local = c
            .facts
            .time_zone
            .parse::<chrono_tz::Tz>()
            .map(|tz| format!(" ({} {})", expires.with_timezone(&tz).format("%Y-%m-%d %H:%M"), c.facts.time_zone))
            .unwrap_or_default();
        let price = if total == 0 { "free".to_string() } else { money(total, &t.currency) };
        let query = token.map(|t| format!("?token={t}")).unwrap_or_default();
        let mut text = format!(
            "Hi {name},\n\ntickets have become available for {event}, and they are held for you:\n\n  \
             {quantity} × {ticket} — {price}\n\nThe offer is yours until {until} UTC{local}. After that it goes to the next \
             person on the waitlist.\n\nTo accept: POST {base}/api/waitlist/{id}/accept{query}\n\
             To decline: POST {base}/api/waitlist/{id}/decline{query}\n\n",
            name = e.name,
            event = c.facts.name,
            quantity = e.quantity,
            ticket = t.name,
            until = expires.format("%Y-%m-%d %H:%M:%S"),
            id = e.id,
        );
        if total > 0 {
            text.push_str("Accepting keeps the booking for you until the same time; pay it by then to get your tickets.\n\n");
        }
        text.push_str(&format!("waitlist-entry: {}\n", e.id));
        if let Some(token) = token {
            text.push_str(&format!(
                "offer-token: {token}\n\nKeep this token to yourself: it accepts the offer and manages the booking.\n"
            ));
        }
        OutgoingMail { to: e.email.clone(), subject: format!("Tickets for {} are waiting for you", c.facts.name), text }
    }

    /// A booking that held seats closed: the entry it was offered to (if any) is closed
    /// accordingly. Then the event's waitlist advances.
    async fn booking_closed(&self, booking: BookingId, expired: bool) -> AppResult<()> {
        let Some(entry) = wstore::entry_by_booking(self.db(), booking).await? else { return Ok(()) };
        let status = if expired { BookingStatus::Expired } else { BookingStatus::Cancelled };
        self.follow_booking(&entry, status).await.map(|_| ())
    }

    /// Brings an entry in line with its offer booking's status: confirmed → `accepted`,
    /// expired → `expired`, cancelled or refunded while offered → `declined`. `true` when
    /// the entry changed.
    async fn follow_booking(&self, entry: &EntryRecord, booking: BookingStatus) -> AppResult<bool> {
        let (from, to, topic, action) = match booking {
            BookingStatus::PendingPayment => return Ok(false),
            BookingStatus::Confirmed => ([Offered, Offered], Accepted, "waitlist.accepted", "waitlist_entry.accepted"),
            BookingStatus::Expired => ([Offered, Accepted], Expired, "waitlist.expired", "waitlist_entry.expired"),
            BookingStatus::Cancelled | BookingStatus::Refunded => {
                ([Offered, Offered], Declined, "waitlist.declined", "waitlist_entry.declined")
            }
        };
        let mut tx = self.db().begin().await?;
        let Some(closed) = wstore::transition(&mut tx, entry.id, from, to, now()).await? else { return Ok(false) };
        let changes = json!({ "status": to, "from": entry.status, "booking_id": entry.booking_id, "booking_status": booking });
        audit_entry(&mut tx, "system", &closed, action, changes).await?;
        publish(&mut tx, topic, &entry_event(&closed)).await?;
        self.kernel.commit(tx).await?;
        Ok(true)
    }

    /// The safety net behind the job (run by every node's periodic sweep): offered entries
    /// whose booking is no longer pending — paid before the person accepted, or closed while
    /// a job was lost — follow their booking, and their events advance. Returns how many
    /// entries changed.
    pub async fn sweep_waitlist(&self) -> AppResult<usize> {
        let mut changed = 0;
        let mut events = HashSet::new();
        for (id, status) in wstore::stale_offers(self.db(), 500).await? {
            let Some(entry) = wstore::entry(self.db(), id).await? else { continue };
            if self.follow_booking(&entry, status).await? {
                changed += 1;
            }
            if status != BookingStatus::Confirmed {
                events.insert(entry.event_id);
            }
        }
        for event in events {
            self.advance_waitlist(event).await?;
        }
        Ok(changed)
    }
}

/// Reacts to `booking.cancelled`, `booking.expired` and `quota.capacity_raised`. Safe to run
/// twice and concurrently (every step is a conditional update).
struct WaitlistJob(Weak<TicketingService>);

#[async_trait::async_trait]
impl JobHandler for WaitlistJob {
    async fn run(&self, payload: serde_json::Value) -> anyhow::Result<()> {
        let envelope: Envelope = serde_json::from_value(payload)?;
        let Some(svc) = self.0.upgrade() else { return Ok(()) };
        let event: EventId = serde_json::from_value(envelope.data["event_id"].clone())?;
        let fail = |e: AppError| anyhow::anyhow!("{e}");
        if let topic @ ("booking.cancelled" | "booking.expired") = envelope.topic.as_str() {
            let booking: BookingId = serde_json::from_value(envelope.data["booking_id"].clone())?;
            svc.booking_closed(booking, topic == "booking.expired").await.map_err(fail)?;
        }
        svc.advance_waitlist(event).await.map_err(fail)?;
        Ok(())
    }
}
