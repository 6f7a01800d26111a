//! Offers: when seats free up, the next in line gets them held in their name (a pending
//! booking written through the booking write path), by a job reacting to the events that
//! free seats, and by every node's periodic sweep as the safety net.

use std::collections::HashSet;
use std::sync::Weak;

use chrono::TimeDelta;
use events::{EventId, EventSessionId, EventStatus};
use kernel::auth::OrgScope;
use kernel::jobs::{Event, Topic};
use kernel::mail::OutgoingMail;
use kernel::money::Money;
use kernel::time::{Timestamp, now};
use kernel::{AppError, AppResult, Kernel};
use serde_json::json;
use sqlx::types::Json;

use super::Waitlist;
use super::service::{audit_entry, entry_event};
use super::store::{self as wstore, EntryRecord};
use crate::bookings::NewBooking;
use crate::bookings::store::{Allocation, BookingRecord};
use crate::catalog::cache::EventCatalog;
use crate::catalog::store::TicketTypeRecord;
use crate::domain::{
    self, BookingId, BookingStatus, PositionId, QuotaId, Target, Visibility, WaitlistEntryId, WaitlistStatus, fits, money,
};
use crate::events::{
    BOOKING_CANCELLED, BOOKING_EXPIRED, BOOKING_TICKETS_REFUNDED, BookingSnapshot, CapacityRaised, EntrySnapshot,
    QUOTA_CAPACITY_RAISED, TicketsRefunded, WAITLIST_ACCEPTED, WAITLIST_DECLINED, WAITLIST_EXPIRED, WAITLIST_OFFERED,
    WaitlistOffer,
};
use crate::inventory::{self, Shortfall};
use crate::model::*;
use crate::shared::state::Shared;

use WaitlistStatus::{Accepted, Declined, Expired, Offered, Waiting};

/// Job kind that reacts to freed inventory (see the module docs): it listens to
/// `booking.cancelled`, `booking.expired`, `booking.tickets_refunded` and
/// `quota.capacity_raised`.
pub const WAITLIST_JOB: &str = "ticketing.waitlist";
/// Waiting entries read per round trip while advancing.
const WALK_PAGE: i64 = 200;
/// Attempts at writing an offer when a random booking code collides.
const CODE_ATTEMPTS: usize = 3;

/// Has the waitlist job listen to the events that free seats. Each run is safe twice and
/// concurrently (every step is a conditional update). A booking that ended first closes the
/// entry it was offered to (if any); then the event's waitlist advances. The events name the
/// organization of the stored booking or quota, which the job acts in.
pub(crate) fn listen(kernel: &Kernel, shared: Weak<Shared>) {
    fn on_booking(kernel: &Kernel, shared: &Weak<Shared>, topic: &Topic<BookingSnapshot>, expired: bool) {
        let shared = shared.clone();
        kernel.jobs.listen(topic, WAITLIST_JOB, move |event: Event<BookingSnapshot>| {
            let shared = shared.clone();
            async move {
                let Some(shared) = shared.upgrade() else { return Ok(()) };
                let (svc, b) = (shared.waitlist(), event.data);
                let scope = OrgScope::platform(b.org_id);
                svc.booking_closed(&scope, b.booking_id, expired).await.map_err(failed)?;
                svc.advance(b.event_id).await.map(|_| ()).map_err(failed)
            }
        });
    }
    on_booking(kernel, &shared, &BOOKING_CANCELLED, false);
    on_booking(kernel, &shared, &BOOKING_EXPIRED, true);

    let refunded = shared.clone();
    kernel.jobs.listen(&BOOKING_TICKETS_REFUNDED, WAITLIST_JOB, move |event: Event<TicketsRefunded>| {
        let shared = refunded.clone();
        async move {
            let Some(shared) = shared.upgrade() else { return Ok(()) };
            shared.waitlist().advance(event.data.booking.event_id).await.map(|_| ()).map_err(failed)
        }
    });

    kernel.jobs.listen(&QUOTA_CAPACITY_RAISED, WAITLIST_JOB, move |event: Event<CapacityRaised>| {
        let shared = shared.clone();
        async move {
            let Some(shared) = shared.upgrade() else { return Ok(()) };
            shared.waitlist().advance(event.data.event_id).await.map(|_| ()).map_err(failed)
        }
    });
}

fn failed(e: AppError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
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

/// The public types of a session on sale now that fit `quantity`, in listing order.
pub(super) fn session_types(
    c: &EventCatalog,
    s: EventSessionId,
    quantity: i64,
    at: Timestamp,
) -> Vec<(&TicketTypeRecord, &[QuotaId])> {
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
fn offer_candidates<'c>(c: &'c EventCatalog, entry: &EntryRecord, at: Timestamp) -> Vec<(&'c TicketTypeRecord, &'c [QuotaId])> {
    match Target::of(entry.ticket_type_id, entry.session_id) {
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

impl Waitlist {
    /// Offers freed seats to the event's waiting entries in queue order; returns how many
    /// offers it made. Safe to run concurrently on any number of nodes.
    pub async fn advance(&self, event: EventId) -> AppResult<usize> {
        let Some(c) = self.event_catalog(event).await? else { return Ok(0) };
        if c.facts.deleted || c.facts.status != EventStatus::Published {
            return Ok(0);
        }
        // Jobs, sweeps and the requests that free seats advance the waitlist in the
        // organization the events context stores for the event.
        let scope = OrgScope::platform(c.facts.org_id);
        let tiers = c.settings.waitlist_tiers.0.clone();
        let slots = wstore::tier_slots(&tiers);
        let mut blocked: HashSet<Target> = HashSet::new();
        let mut after: Option<(i64, WaitlistEntryId)> = None;
        let mut offered = 0;
        loop {
            let page = wstore::queue(self.db(), &scope, event, &slots, [Waiting, Waiting], after, WALK_PAGE).await?;
            for entry in &page {
                let Some(t) = Target::of(entry.ticket_type_id, entry.session_id) else { continue };
                if blocked.contains(&t) {
                    continue;
                }
                match self.offer_entry(&scope, &c, entry).await? {
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
    async fn offer_entry(&self, scope: &OrgScope, c: &EventCatalog, entry: &EntryRecord) -> AppResult<Outcome> {
        let mut short = false;
        for (t, quotas) in offer_candidates(c, entry, now()) {
            match self.try_offer(scope, c, entry, t, quotas).await? {
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
    async fn try_offer(
        &self,
        scope: &OrgScope,
        c: &EventCatalog,
        entry: &EntryRecord,
        t: &TicketTypeRecord,
        quotas: &[QuotaId],
    ) -> AppResult<Attempt> {
        let at = now();
        let expires = at + TimeDelta::seconds(c.settings.waitlist_offer_seconds);
        let token = domain::booking_token();
        let total = Money::from_row(t.price, &t.currency)?.times(entry.quantity)?.amount;
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
            match self.bookings().insert_booking_rows(&mut tx, &new).await {
                Ok(()) => {}
                // Only random values (ids, codes) can collide in these inserts: try again.
                Err(AppError::Conflict { code: "already_exists", .. }) if attempt < CODE_ATTEMPTS => continue,
                Err(e) => return Err(e),
            }
            if wstore::mark_offered(&mut tx, scope, entry.id, new.booking.id, at, expires).await? == 0 {
                return Ok(Attempt::Skip);
            }
            match inventory::take_one(&mut tx, &new.booking, new.max_per_buyer).await? {
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
        // The offer names the type it books (an entry for a session has none of its own).
        let entry_now = EntrySnapshot { ticket_type_id: Some(t.id), ..entry_event(&offered) };
        let payload = WaitlistOffer { entry: entry_now, total, currency: t.currency.clone() };
        self.kernel.jobs.publish(&mut tx, &WAITLIST_OFFERED, &payload).await?;
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
        c: &EventCatalog,
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
             person on the waitlist.\n\nAccept or decline here: {base}/waitlist/{id}{query}\n\n\
             (API clients: POST {base}/api/waitlist/{id}/accept{query} or …/decline{query})\n\n",
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
        OutgoingMail {
            to: e.email.clone(),
            subject: format!("Tickets for {} are waiting for you", c.facts.name),
            text,
            ..OutgoingMail::default()
        }
    }

    /// A booking that held seats closed: the entry it was offered to (if any) is closed
    /// accordingly. Then the event's waitlist advances.
    async fn booking_closed(&self, scope: &OrgScope, booking: BookingId, expired: bool) -> AppResult<()> {
        let Some(entry) = wstore::entry_by_booking(self.db(), scope, booking).await? else { return Ok(()) };
        let status = if expired { BookingStatus::Expired } else { BookingStatus::Cancelled };
        self.follow_booking(scope, &entry, status).await.map(|_| ())
    }

    /// Brings an entry in line with its offer booking's status: confirmed → `accepted`,
    /// expired → `expired`, cancelled or refunded while offered → `declined`. `true` when
    /// the entry changed.
    async fn follow_booking(&self, scope: &OrgScope, entry: &EntryRecord, booking: BookingStatus) -> AppResult<bool> {
        let (from, to, topic, action) = match booking {
            BookingStatus::PendingPayment => return Ok(false),
            BookingStatus::Confirmed => ([Offered, Offered], Accepted, &WAITLIST_ACCEPTED, "waitlist_entry.accepted"),
            BookingStatus::Expired => ([Offered, Accepted], Expired, &WAITLIST_EXPIRED, "waitlist_entry.expired"),
            BookingStatus::Cancelled | BookingStatus::Refunded => {
                ([Offered, Offered], Declined, &WAITLIST_DECLINED, "waitlist_entry.declined")
            }
        };
        let mut tx = self.db().begin().await?;
        let Some(closed) = wstore::transition(&mut tx, scope, entry.id, from, to, now()).await? else { return Ok(false) };
        let changes = json!({ "status": to, "from": entry.status, "booking_id": entry.booking_id, "booking_status": booking });
        audit_entry(&mut tx, "system", &closed, action, changes).await?;
        self.kernel.jobs.publish(&mut tx, topic, &entry_event(&closed)).await?;
        self.kernel.commit(tx).await?;
        Ok(true)
    }

    /// The safety net behind the job (run by every node's periodic sweep): offered entries
    /// whose booking is no longer pending — paid before the person accepted, or closed while
    /// a job was lost — follow their booking, and their events advance. Returns how many
    /// entries changed.
    pub async fn sweep(&self) -> AppResult<usize> {
        let mut changed = 0;
        let mut events = HashSet::new();
        for (id, status) in wstore::stale_offers(self.db(), 500).await? {
            let Some(entry) = wstore::entry(self.db(), id).await? else { continue };
            if self.follow_booking(&OrgScope::platform(entry.org_id), &entry, status).await? {
                changed += 1;
            }
            if status != BookingStatus::Confirmed {
                events.insert(entry.event_id);
            }
        }
        for event in events {
            self.advance(event).await?;
        }
        Ok(changed)
    }
}
