//! The use cases of the waitlist: joining, reading an entry or an event's queue, moving an
//! entry to another tier, leaving, accepting and declining offers.

use std::collections::HashMap;
use std::sync::Arc;

use events::{EventId, EventSessionId, EventStatus};
use kernel::audit::{self, AuditEntry};
use kernel::auth::{OrgScope, Principal, Role};
use kernel::pagination::{Page, PageParams};
use kernel::time::now;
use kernel::{AppError, AppResult, Tx};
use serde_json::json;

use super::offers::session_types;
use super::store::{self as wstore, EntryRecord};
use crate::bookings::store as bstore;
use crate::bookings::{actor_of, audit_booking, booking_event};
use crate::catalog::settings::settings_for;
use crate::catalog::store::{self as catalog_store, TicketTypeRecord};
use crate::domain::{
    self, BookingId, BookingStatus, QuotaId, Target, TicketTypeId, Visibility, WaitlistEntryId, WaitlistStatus, fits,
};
use crate::events::{BOOKING_CANCELLED, EntrySnapshot, WAITLIST_ACCEPTED, WAITLIST_DECLINED, WAITLIST_JOINED, WAITLIST_LEFT};
use crate::inventory;
use crate::model::*;
use crate::shared::state::{Shared, feature_service};

use WaitlistStatus::{Accepted, Declined, Expired, Left, Offered, Waiting};

/// How the caller reaches an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// The person waiting: the user who joined, or a holder of its token or its offer's.
    Person,
    /// A member of the event's organization.
    Member(Role),
}

pub(super) fn entry_view(e: EntryRecord, position: Option<i64>) -> WaitlistEntry {
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
pub(crate) fn entry_event(e: &EntryRecord) -> EntrySnapshot {
    EntrySnapshot {
        entry_id: e.id,
        org_id: e.org_id,
        event_id: e.event_id,
        ticket_type_id: e.ticket_type_id,
        session_id: e.session_id,
        tier: e.tier.clone(),
        email: e.email.clone(),
        name: e.name.clone(),
        user_id: e.user_id,
        quantity: e.quantity,
        status: e.status,
        booking_id: e.booking_id,
        offer_expires_at: e.offer_expires_at,
    }
}

pub(super) async fn audit_entry(
    tx: &mut Tx<'_>,
    actor: &str,
    e: &EntryRecord,
    action: &str,
    changes: serde_json::Value,
) -> AppResult<()> {
    let entry =
        AuditEntry { org_id: Some(e.org_id), action, resource_type: "waitlist_entry", resource_id: e.id.to_string(), changes };
    audit::record_as(tx, actor, entry).await
}

/// The waitlist: people waiting for sold-out tickets, and the offers that hold freed seats
/// for them. A handle on the shared state; cheap to clone.
#[derive(Clone)]
pub struct Waitlist(Arc<Shared>);

feature_service!(Waitlist);

impl Waitlist {
    // ---- joining and reading ------------------------------------------------------

    /// Joins the waitlist of a ticket type or session that has no room for `quantity`
    /// (anyone; a signed-in user is recorded as the person waiting).
    pub async fn join_waitlist(&self, p: Option<&Principal>, event: EventId, req: JoinWaitlist) -> AppResult<WaitlistJoined> {
        let (e, member) = self.visible_event(p, event).await?;
        let target = Target::requested(req.ticket_type_id, req.session_id)?;
        let email = domain::buyer_key(&domain::email("email", &req.email)?);
        let name = domain::required_text("name", &req.name, domain::NAME_MAX)?;
        let quantity = domain::within("quantity", req.quantity.unwrap_or(1), 1..=domain::WAITLIST_QUANTITY_MAX)?;
        let Some(catalog) = self.event_catalog(event).await? else { return Err(AppError::not_found("event")) };
        let staff = member.is_some_and(|scope| scope.role() >= Role::Staff);
        let (tier, on_behalf) = domain::join_tier(req.tier.as_deref(), &catalog.settings.waitlist_tiers.0, staff)?;
        if e.status != EventStatus::Published {
            return Err(AppError::conflict("not_on_sale", "the event is not on sale"));
        }

        let at = now();
        let candidates: Vec<(&TicketTypeRecord, &[QuotaId])> = match target {
            Target::Type(t) => {
                let Some((tt, quotas)) =
                    catalog.types.get(&t).filter(|(tt, _)| tt.visibility == Visibility::Public || member.is_some())
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
            catalog_store::quotas(self.db(), event).await?.into_iter().map(|q| (q.id, q.capacity - q.taken)).collect();
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
        let (ticket_type_id, session_id) = target.columns();
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
        self.kernel.jobs.publish(&mut tx, &WAITLIST_JOINED, &entry_event(&entry)).await?;
        self.kernel.commit(tx).await?;
        // The person is usually no member: from here on, the entry just written names the
        // organization.
        let view = self.entry_view_with_position(&OrgScope::platform(entry.org_id), entry).await?;
        Ok(WaitlistJoined { entry: view, waitlist_token: token })
    }

    /// An entry the caller may reach, how, and the scope the caller's work on it runs in: a
    /// member's own; for the person waiting, who is no member, the platform's in the
    /// organization the entry's row names ([`Access::Person`] bounds what they may do).
    /// `404` for everyone else.
    async fn entry_for(
        &self,
        p: Option<&Principal>,
        token: Option<&str>,
        id: WaitlistEntryId,
    ) -> AppResult<(EntryRecord, Access, OrgScope)> {
        let Some(e) = wstore::entry(self.db(), id).await? else { return Err(AppError::not_found("waitlist entry")) };
        if self.is_person(p, token, &e).await? {
            let scope = OrgScope::platform(e.org_id);
            return Ok((e, Access::Person, scope));
        }
        match self.member_scope(p, e.org_id).await? {
            Some(scope) => Ok((e, Access::Member(scope.role()), scope)),
            None => Err(AppError::not_found("waitlist entry")),
        }
    }

    /// Whether the caller is the person waiting: the user who joined, or a holder of the
    /// entry's token or of its offer booking's.
    async fn is_person(&self, p: Option<&Principal>, token: Option<&str>, e: &EntryRecord) -> AppResult<bool> {
        if let (Some(user), Some(owner)) = (p.and_then(Principal::user_id), e.user_id)
            && user == owner
        {
            return Ok(true);
        }
        let Some(t) = token else { return Ok(false) };
        let hash = domain::hash_token(t);
        if e.token_hash.as_deref().is_some_and(|h| domain::same_hash(&hash, h)) {
            return Ok(true);
        }
        Ok(match e.booking_id {
            Some(b) => bstore::booking(self.db(), b).await?.is_some_and(|offer| domain::same_hash(&hash, &offer.token_hash)),
            None => false,
        })
    }

    /// 1-based places of the event's waiting entries among those for the same target.
    async fn positions(&self, scope: &OrgScope, event: EventId, tiers: &[String]) -> AppResult<HashMap<WaitlistEntryId, i64>> {
        let rows = wstore::waiting_targets(self.db(), scope, event, &wstore::tier_slots(tiers)).await?;
        let mut per_target: HashMap<(Option<TicketTypeId>, Option<EventSessionId>), i64> = HashMap::new();
        let mut out = HashMap::with_capacity(rows.len());
        for (id, t, s) in rows {
            let n = per_target.entry((t, s)).or_default();
            *n += 1;
            out.insert(id, *n);
        }
        Ok(out)
    }

    async fn entry_view_with_position(&self, scope: &OrgScope, e: EntryRecord) -> AppResult<WaitlistEntry> {
        let position = if e.status == Waiting {
            let tiers = settings_for(self.db(), e.event_id).await?.waitlist_tiers.0;
            self.positions(scope, e.event_id, &tiers).await?.get(&e.id).copied()
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
        let (e, _, scope) = self.entry_for(p, token, id).await?;
        self.entry_view_with_position(&scope, e).await
    }

    /// An event's waitlist in queue order (members): live entries, or those in `status`.
    pub async fn event_waitlist(&self, p: &Principal, event: EventId, q: WaitlistQuery) -> AppResult<Page<WaitlistEntry>> {
        let (e, scope) = self.managed_event(p, event, Role::Viewer, "event").await?;
        let page = PageParams { cursor: q.cursor, limit: q.limit };
        let limit = page.limit()?;
        let after: Option<(i64, WaitlistEntryId)> = page.decode()?;
        let statuses = q.status.map(|s| [s, s]).unwrap_or([Waiting, Offered]);
        let tiers = settings_for(self.db(), e.id).await?.waitlist_tiers.0;
        let slots = wstore::tier_slots(&tiers);
        let rows = wstore::queue(self.db(), &scope, e.id, &slots, statuses, after, limit + 1).await?;
        let positions = self.positions(&scope, e.id, &tiers).await?;
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
        let scope = self.access.require_for(p, e.org_id, Role::Staff, "waitlist entry").await?;
        let Some(raw) = req.tier.as_deref() else { return self.entry_view_with_position(&scope, e).await };
        let tiers = settings_for(self.db(), e.event_id).await?.waitlist_tiers.0;
        let tier = raw.trim().to_ascii_lowercase();
        if !tiers.contains(&tier) {
            return Err(AppError::validation("tier", format!("must be one of the event's tiers: {}", tiers.join(", "))));
        }
        if tier == e.tier {
            return self.entry_view_with_position(&scope, e).await;
        }
        let mut tx = self.db().begin().await?;
        let Some(changed) = wstore::set_tier(&mut tx, &scope, id, &tier, now()).await? else {
            return Err(AppError::conflict("entry_closed", format!("the entry is {}", e.status.as_str())));
        };
        audit_entry(&mut tx, &p.actor(), &changed, "waitlist_entry.updated", json!({ "tier": tier, "from": e.tier })).await?;
        self.kernel.commit(tx).await?;
        self.entry_view_with_position(&scope, changed).await
    }

    /// Leaves the waitlist (its person), or removes someone from it (staff and above). An
    /// open offer is cancelled with it and its seats go to the next in line.
    pub async fn leave_waitlist(
        &self,
        p: Option<&Principal>,
        token: Option<&str>,
        id: WaitlistEntryId,
    ) -> AppResult<WaitlistEntry> {
        let (e, access, scope) = self.entry_for(p, token, id).await?;
        if let Access::Member(r) = access
            && r < Role::Staff
        {
            return Err(AppError::forbidden("requires the staff role"));
        }
        if !e.status.is_live() {
            return Err(AppError::conflict("invalid_transition", format!("the entry is already {}", e.status.as_str())));
        }
        // Only an offered entry has a booking; an accepted one is no longer live.
        let (left, _) = self.close_entry(&scope, p, id, [Waiting, Offered], Left, json!({ "from": e.status })).await?;
        Ok(entry_view(left, None))
    }

    /// Moves a live entry from one of `from` to `to` (`left` or `declined`), cancelling its
    /// offer booking if it has one, with the audit record and the `waitlist.<to>` event;
    /// when the offer's seats came free, the next in line gets them. Returns the entry and
    /// whether an offer was cancelled.
    async fn close_entry(
        &self,
        scope: &OrgScope,
        p: Option<&Principal>,
        id: WaitlistEntryId,
        from: [WaitlistStatus; 2],
        to: WaitlistStatus,
        mut changes: serde_json::Value,
    ) -> AppResult<(EntryRecord, bool)> {
        let topic = match to {
            Left => &WAITLIST_LEFT,
            Declined => &WAITLIST_DECLINED,
            other => return Err(AppError::internal(format!("an entry is not closed as {}", other.as_str()))),
        };
        let mut tx = self.db().begin().await?;
        let Some(closed) = wstore::transition(&mut tx, scope, id, from, to, now()).await? else {
            return Err(AppError::conflict("invalid_transition", "the entry changed meanwhile; read it again"));
        };
        let released = match closed.booking_id {
            Some(b) => self.cancel_offer(&mut tx, scope, p, b).await?,
            None => false,
        };
        changes["status"] = json!(to.as_str());
        changes["offer_cancelled"] = json!(released);
        audit_entry(&mut tx, &actor_of(p), &closed, &format!("waitlist_entry.{}", to.as_str()), changes).await?;
        self.kernel.jobs.publish(&mut tx, topic, &entry_event(&closed)).await?;
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
        let (e, access, scope) = self.entry_for(p, token, id).await?;
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
        let Some(accepted) = wstore::transition(&mut tx, &scope, id, [Offered, Offered], Accepted, at).await? else {
            return Err(AppError::conflict("invalid_transition", "the entry changed meanwhile; read it again"));
        };
        let Some(cur) = bstore::lock_booking(&mut tx, &scope, booking_id).await? else {
            return Err(AppError::not_found("booking"));
        };
        let pending = cur.status == BookingStatus::PendingPayment && cur.hold_expires_at.is_none_or(|t| t > at);
        // Paid already (the offer booking went through the payment path before the person
        // accepted): accepting just records it.
        if !pending && cur.status != BookingStatus::Confirmed {
            return Err(AppError::conflict("offer_expired", "the offer is no longer open (expired or cancelled)"));
        }
        let booking = if cur.total == 0 && pending {
            let changes = json!({ "status": "confirmed", "from": cur.status, "waitlist_entry_id": id });
            let confirmed = self
                .bookings()
                .confirm_in(&mut tx, &scope, p, booking_id, BookingStatus::PendingPayment, None, changes, at)
                .await?;
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
                bstore::set_booking_token(&mut tx, &scope, booking_id, &domain::hash_token(&fresh), at).await?;
                Some(fresh)
            }
        };
        let changes = json!({ "status": "accepted", "booking_id": booking_id, "booking_status": booking.status });
        audit_entry(&mut tx, &actor_of(p), &accepted, "waitlist_entry.accepted", changes).await?;
        self.kernel.jobs.publish(&mut tx, &WAITLIST_ACCEPTED, &entry_event(&accepted)).await?;
        self.kernel.commit(tx).await?;
        let booking = self.bookings().view(&scope, booking).await?;
        Ok(WaitlistAccepted { entry: entry_view(accepted, None), booking, booking_token })
    }

    /// Declines an offer (its person, or staff and above): the offer booking is cancelled,
    /// its seats released, and the next in line gets an offer.
    pub async fn decline_offer(
        &self,
        p: Option<&Principal>,
        token: Option<&str>,
        id: WaitlistEntryId,
    ) -> AppResult<WaitlistEntry> {
        let (e, access, scope) = self.entry_for(p, token, id).await?;
        if let Access::Member(r) = access
            && r < Role::Staff
        {
            return Err(AppError::forbidden("requires the staff role"));
        }
        if e.status != Offered {
            return Err(AppError::conflict("no_offer", format!("the entry is {}, not offered", e.status.as_str())));
        }
        let changes = json!({ "booking_id": e.booking_id });
        let (declined, _) = self.close_entry(&scope, p, id, [Offered, Offered], Declined, changes).await?;
        Ok(entry_view(declined, None))
    }

    /// Cancels a pending offer booking in `tx`, releasing its seats (`false`: it was no
    /// longer pending — expired or cancelled meanwhile). An offer that has been paid is not
    /// given up this way: `409 already_paid` (its booking is cancelled like any other).
    async fn cancel_offer(
        &self,
        tx: &mut Tx<'_>,
        scope: &OrgScope,
        p: Option<&Principal>,
        booking: BookingId,
    ) -> AppResult<bool> {
        let Some(cancelled) = bstore::cancel(tx, scope, booking, BookingStatus::PendingPayment, now()).await? else {
            if bstore::lock_booking(tx, scope, booking).await?.is_some_and(|b| b.status == BookingStatus::Confirmed) {
                return Err(AppError::conflict("already_paid", "the offer has been paid; cancel its booking instead"));
            }
            return Ok(false);
        };
        inventory::release_one(tx, &cancelled).await?;
        let positions = bstore::positions_tx(tx, scope, booking).await?;
        let changes = json!({ "status": "cancelled", "from": "pending_payment", "reason": "waitlist offer declined" });
        audit_booking(tx, p, &cancelled, "booking.cancelled", changes).await?;
        self.kernel.jobs.publish(tx, &BOOKING_CANCELLED, &booking_event(&cancelled, &positions)).await?;
        Ok(true)
    }

    /// Advances right after a change that freed seats; a failure is logged, not returned
    /// (the change itself committed, and the `booking.cancelled` job advances again).
    async fn advance_after(&self, event: EventId) {
        if let Err(e) = self.advance(event).await {
            tracing::warn!(event = %event, error = %e, "advancing the waitlist failed; the job will retry");
        }
    }
}
