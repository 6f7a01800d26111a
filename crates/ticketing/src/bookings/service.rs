//! The use cases of bookings: creating one (through the group-commit writer), reading it,
//! changing its buyer and attendees, cancelling it, marking it paid, confirming it from any
//! path (offline payment, payment providers, waitlist offers) and expiring its hold.

use std::sync::{Arc, Weak};

use chrono::TimeDelta;
use kernel::audit::{self, AuditEntry, AuditRow};
use kernel::auth::{OrgScope, Principal, Role};
use kernel::context::RequestContext;
use kernel::jobs::{JobKind, Topic};
use kernel::time::{Timestamp, now};
use kernel::{AppError, AppResult, Kernel, Tx};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::types::Json;

use super::store::{self, BookingRecord, TicketRecord};
use crate::catalog::settings::settings_for;
use crate::catalog::store::{self as catalog_store, VoucherRecord};
use crate::domain::{self, BookingId, BookingStatus, Chosen, TicketId, TicketStatus};
use crate::events::{BOOKING_CANCELLED, BOOKING_CONFIRMED, BOOKING_CREATED, BOOKING_EXPIRED, BookedPosition, BookingSnapshot};
use crate::inventory::{self, Shortfall};
use crate::model::*;
use crate::shared::state::{Shared, feature_service};
use crate::writer;

/// Expires one booking's hold when it runs out; queued with every pending booking, due at
/// its `hold_expires_at`.
pub const EXPIRE_HOLD_JOB: JobKind<ExpireHoldJob> = JobKind::new("ticketing.expire_hold");

/// The payload of an [`EXPIRE_HOLD_JOB`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExpireHoldJob {
    /// The pending booking; the job does nothing once it is paid, cancelled or expired.
    pub booking_id: BookingId,
}

/// Pending bookings the hold sweep reads per round trip.
const SWEEP_BATCH: i64 = 500;

/// Attempts at writing a booking when a random code collides with an existing one.
const CODE_ATTEMPTS: usize = 3;

/// How the caller reaches a booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// The signed-in user who made it, or the holder of its token.
    Buyer,
    /// A member of the event's organization, with their role.
    Member(Role),
}

pub(crate) fn summary(b: &BookingRecord) -> BookingSummary {
    BookingSummary {
        id: b.id,
        code: b.code.clone(),
        org_id: b.org_id,
        event_id: b.event_id,
        status: b.status,
        buyer_email: b.buyer_email.clone(),
        buyer_name: b.buyer_name.clone(),
        user_id: b.user_id,
        quantity: b.quantity,
        currency: b.currency.clone(),
        subtotal: b.subtotal,
        discount: b.discount,
        total: b.total,
        voucher_code: b.voucher_code.clone(),
        hold_expires_at: b.hold_expires_at,
        confirmed_at: b.confirmed_at,
        cancelled_at: b.cancelled_at,
        expired_at: b.expired_at,
        paid_reference: b.paid_reference.clone(),
        created_at: b.created_at,
        updated_at: b.updated_at,
    }
}

pub(crate) fn ticket_view(t: TicketRecord, qr: Option<String>) -> Ticket {
    Ticket {
        id: t.id,
        booking_id: t.booking_id,
        event_id: t.event_id,
        ticket_type_id: t.ticket_type_id,
        seq: t.seq,
        attendee_name: t.attendee_name,
        attendee_email: t.attendee_email,
        code: t.code,
        status: t.status,
        checked_in_at: t.checked_in_at,
        created_at: t.created_at,
        qr,
    }
}

/// One ticket per admission, in position order, named after the booking's attendees.
fn issue_tickets(b: &BookingRecord, positions: &[Position], at: Timestamp) -> Vec<TicketRecord> {
    let mut tickets = Vec::with_capacity(b.quantity as usize);
    for p in positions {
        for _ in 0..p.quantity {
            let seq = tickets.len();
            let attendee = b.attendees.0.get(seq);
            tickets.push(TicketRecord {
                id: TicketId::new(),
                org_id: b.org_id,
                event_id: b.event_id,
                booking_id: b.id,
                ticket_type_id: p.ticket_type_id,
                seq: seq as i64,
                attendee_name: attendee.map(|a| a.name.clone()),
                attendee_email: attendee.and_then(|a| a.email.clone()),
                code: domain::ticket_code(),
                status: TicketStatus::Valid,
                checked_in_at: None,
                cancelled_at: None,
                created_at: at,
                updated_at: at,
            });
        }
    }
    tickets
}

/// The payload of every `booking.*` event.
pub(crate) fn booking_event(b: &BookingRecord, positions: &[Position]) -> BookingSnapshot {
    BookingSnapshot {
        booking_id: b.id,
        org_id: b.org_id,
        event_id: b.event_id,
        code: b.code.clone(),
        status: b.status,
        buyer_email: b.buyer_email.clone(),
        buyer_name: b.buyer_name.clone(),
        user_id: b.user_id,
        currency: b.currency.clone(),
        total: b.total,
        quantity: b.quantity,
        positions: positions.iter().map(|p| BookedPosition { ticket_type_id: p.ticket_type_id, quantity: p.quantity }).collect(),
    }
}

/// Runs [`EXPIRE_HOLD_JOB`]s. A run that comes early (clock skew between nodes) fails, so
/// the job system retries it later.
pub(crate) fn handle_jobs(kernel: &Kernel, shared: Weak<Shared>) {
    kernel.jobs.handle(&EXPIRE_HOLD_JOB, move |job: ExpireHoldJob| {
        let shared = shared.clone();
        async move {
            let Some(shared) = shared.upgrade() else { return Ok(()) };
            let svc = shared.bookings();
            let id = job.booking_id;
            if svc.expire_hold(id).await.map_err(|e| anyhow::anyhow!("{e}"))? {
                return Ok(());
            }
            match store::booking(svc.db(), id).await? {
                Some(b) if b.status == BookingStatus::PendingPayment && b.hold_expires_at.is_some_and(|t| t > now()) => {
                    anyhow::bail!("hold of booking {id} is not due yet")
                }
                _ => Ok(()),
            }
        }
    });
}

/// Who an audit record names: the principal, an anonymous buyer (a request without one), or
/// `system` (a job).
pub(crate) fn actor_of(p: Option<&Principal>) -> String {
    match p {
        Some(p) => p.actor(),
        None if RequestContext::current().is_some() => "anonymous".to_string(),
        None => "system".to_string(),
    }
}

/// Records a booking change for the acting principal, or for an anonymous buyer.
pub(crate) async fn audit_booking(
    tx: &mut Tx<'_>,
    p: Option<&Principal>,
    b: &BookingRecord,
    action: &str,
    changes: serde_json::Value,
) -> AppResult<()> {
    let entry = AuditEntry { org_id: Some(b.org_id), action, resource_type: "booking", resource_id: b.id.to_string(), changes };
    audit::record_as(tx, &actor_of(p), entry).await
}

/// A booking ready to be written: its rows, and what its audit record needs from the
/// request (which the group-commit writer runs outside of).
#[derive(Clone)]
pub(crate) struct NewBooking {
    pub booking: BookingRecord,
    pub positions: Vec<Position>,
    pub tickets: Vec<TicketRecord>,
    pub max_per_buyer: Option<i64>,
    pub actor: String,
    pub context: Option<RequestContext>,
}

/// Bookings: holds, confirmation (free, or paid offline), cancellation and expiry, each
/// moving the booking's inventory in the transaction that changes its status. A handle on
/// the shared state; cheap to clone.
#[derive(Clone)]
pub struct Bookings(Arc<Shared>);

feature_service!(Bookings);

impl Bookings {
    // ---- creating -------------------------------------------------------------------

    /// Books tickets (anyone; a signed-in user is recorded as the buyer). A free booking
    /// (total 0 after the voucher) is confirmed at once with its tickets; a priced one waits
    /// for payment holding its seats for the event's hold time.
    pub async fn create_booking(&self, p: Option<&Principal>, req: CreateBooking) -> AppResult<BookingCreated> {
        let at = now();
        // The request's shape, before any I/O.
        let request = domain::booking_request(&req)?;

        // The event and its catalog (reads on the pool, outside the write transaction).
        let catalog = match self.event_catalog(req.event_id).await? {
            Some(c) if domain::bookable_event(&c.facts) => c,
            _ => return Err(AppError::validation("event_id", "no such event on sale")),
        };
        let (e, settings) = (&catalog.facts, &catalog.settings);
        let voucher = match &request.voucher_code {
            None => None,
            Some(c) => Some(self.usable_voucher(e.id, c, at).await?),
        };
        let max_per_buyer = settings.max_tickets_per_buyer;
        let quote =
            domain::quote(&req.positions, request.quantity, &catalog.types, voucher.as_ref(), e.ends_at, max_per_buyer, at)?;

        let free = quote.priced.total == 0;
        let token = domain::booking_token();
        let booking = BookingRecord {
            id: BookingId::new(),
            org_id: e.org_id,
            event_id: e.id,
            code: String::new(),
            status: if free { BookingStatus::Confirmed } else { BookingStatus::PendingPayment },
            buyer_email: request.buyer_email,
            buyer_name: request.buyer_name,
            user_id: p.and_then(Principal::user_id),
            voucher_id: voucher.as_ref().map(|v| v.id),
            voucher_code: voucher.as_ref().map(|v| v.code.clone()),
            currency: quote.currency,
            subtotal: quote.priced.subtotal,
            discount: quote.priced.discount,
            total: quote.priced.total,
            quantity: request.quantity,
            attendees: Json(request.attendees),
            allocations: Json(quote.seats.iter().map(|&(quota_id, quantity)| store::Allocation { quota_id, quantity }).collect()),
            token_hash: domain::hash_token(&token),
            hold_expires_at: (!free).then(|| at + TimeDelta::seconds(settings.hold_seconds)),
            confirmed_at: free.then_some(at),
            cancelled_at: None,
            expired_at: None,
            paid_reference: None,
            created_at: at,
            updated_at: at,
        };

        let mut new = NewBooking {
            booking,
            positions: quote.positions,
            tickets: Vec::new(),
            max_per_buyer,
            actor: actor_of(p),
            context: RequestContext::current(),
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            new.booking.code = domain::booking_code();
            new.tickets = if free { issue_tickets(&new.booking, &new.positions, at) } else { Vec::new() };
            match writer::commit(self, &new).await {
                Ok(None) => break,
                Ok(Some(short)) => return Err(self.shortfall(short, &new.booking, &quote.chosen, new.max_per_buyer).await),
                // Only random values (ids, codes) can collide in these inserts: try again.
                Err(AppError::Conflict { code: "already_exists", .. }) if attempt < CODE_ATTEMPTS => continue,
                Err(e) => return Err(e),
            }
        }
        let NewBooking { booking, positions, tickets, .. } = new;
        let tickets = self.check_in().ticket_views(booking.org_id, tickets).await?;
        Ok(BookingCreated {
            booking: Booking { summary: summary(&booking), attendees: booking.attendees.0.clone(), positions, tickets },
            booking_token: token,
        })
    }

    /// A voucher of the event usable now, `422 voucher_code` otherwise.
    async fn usable_voucher(&self, event: events::EventId, code: &str, at: Timestamp) -> AppResult<VoucherRecord> {
        let Some(v) = catalog_store::voucher_by_code(self.db(), event, &domain::code_norm(code)).await? else {
            return Err(AppError::validation("voucher_code", "unknown voucher code"));
        };
        domain::voucher_usable(&v, at)?;
        Ok(v)
    }

    /// Writes a booking in its own transaction: its rows, audit record and events first,
    /// the conditional inventory updates last (so PostgreSQL holds the quota row locks for
    /// as short a time as possible), then commits. `Some(shortfall)`: nothing was written.
    pub(crate) async fn write_booking(&self, db: &kernel::Db, new: &NewBooking) -> AppResult<Option<Shortfall>> {
        self.write_booking_in(db.begin().await?, new).await
    }

    /// [`Self::write_booking`] in a transaction the caller began.
    pub(crate) async fn write_booking_in(&self, mut tx: Tx<'_>, new: &NewBooking) -> AppResult<Option<Shortfall>> {
        self.insert_booking_rows(&mut tx, new).await?;
        if let Some(short) = inventory::take_one(&mut tx, &new.booking, new.max_per_buyer).await? {
            return Ok(Some(short));
        }
        self.kernel.commit(tx).await?;
        Ok(None)
    }

    /// The rows of a new booking: the booking, its positions and tickets, its hold-expiry
    /// job, its audit record and its `booking.created` (and `booking.confirmed`) events.
    pub(crate) async fn insert_booking_rows(&self, tx: &mut Tx<'_>, new: &NewBooking) -> AppResult<()> {
        self.insert_bookings_rows(tx, &[new]).await
    }

    /// The rows of several new bookings, each kind with one statement for all of them (the
    /// group-commit writer's batches): bookings, positions, tickets, audit records, events.
    pub(crate) async fn insert_bookings_rows(&self, tx: &mut Tx<'_>, news: &[&NewBooking]) -> AppResult<()> {
        let bookings: Vec<&BookingRecord> = news.iter().map(|n| &n.booking).collect();
        store::insert_bookings(tx, &bookings).await?;
        let positions: Vec<store::NewPosition> = news
            .iter()
            .flat_map(|n| {
                let b = &n.booking;
                n.positions.iter().map(|position| store::NewPosition {
                    position,
                    org_id: b.org_id,
                    event_id: b.event_id,
                    booking_id: b.id,
                    at: b.created_at,
                })
            })
            .collect();
        store::insert_positions(tx, &positions).await?;
        let tickets: Vec<&TicketRecord> = news.iter().flat_map(|n| &n.tickets).collect();
        if !tickets.is_empty() {
            store::insert_tickets(tx, &tickets).await?;
        }
        for b in &bookings {
            if let Some(expiry) = b.hold_expires_at {
                self.kernel.jobs.enqueue_at(tx, &EXPIRE_HOLD_JOB, &ExpireHoldJob { booking_id: b.id }, expiry).await?;
            }
        }
        // The request's id and IP go into each record even when a writer task runs this.
        let audits: Vec<AuditRow> = news
            .iter()
            .map(|n| {
                let b = &n.booking;
                let changes = json!({
                    "event_id": b.event_id, "code": b.code, "status": b.status, "quantity": b.quantity, "total": b.total,
                    "currency": b.currency, "voucher_code": b.voucher_code,
                });
                AuditRow {
                    actor: &n.actor,
                    context: n.context.as_ref(),
                    entry: AuditEntry {
                        org_id: Some(b.org_id),
                        action: "booking.created",
                        resource_type: "booking",
                        resource_id: b.id.to_string(),
                        changes,
                    },
                }
            })
            .collect();
        audit::record_many(tx, &audits).await?;
        let payloads: Vec<BookingSnapshot> = news.iter().map(|n| booking_event(&n.booking, &n.positions)).collect();
        let mut events: Vec<(&Topic<BookingSnapshot>, &BookingSnapshot)> = Vec::with_capacity(news.len() * 2);
        for payload in &payloads {
            events.push((&BOOKING_CREATED, payload));
            if payload.status == BookingStatus::Confirmed {
                events.push((&BOOKING_CONFIRMED, payload));
            }
        }
        self.kernel.jobs.publish_many(tx, &events).await?;
        Ok(())
    }

    /// The problem for a shortfall, naming what ran out.
    pub(crate) async fn shortfall(
        &self,
        short: Shortfall,
        b: &BookingRecord,
        chosen: &[Chosen<'_>],
        max_per_buyer: Option<i64>,
    ) -> AppError {
        match short {
            Shortfall::Quota(q) => {
                let names: Vec<&str> =
                    chosen.iter().filter(|(_, qs, _)| qs.contains(&q)).map(|(t, _, _)| t.name.as_str()).collect();
                let left = inventory::quota_room(self.db(), q).await.ok().flatten().unwrap_or(0).max(0);
                let detail = if left > 0 {
                    format!("sold out: not enough tickets left for {} (only {left} left)", names.join(", "))
                } else {
                    format!("sold out: no tickets left for {}", names.join(", "))
                };
                AppError::conflict("sold_out", detail)
            }
            Shortfall::Voucher => AppError::conflict(
                "voucher_used_up",
                format!("the voucher {} has been used up", b.voucher_code.as_deref().unwrap_or_default()),
            ),
            Shortfall::Buyer => AppError::conflict(
                "buyer_limit",
                format!("at most {} tickets per buyer for this event", max_per_buyer.unwrap_or(domain::BOOKING_TICKETS_MAX)),
            ),
        }
    }

    // ---- reading --------------------------------------------------------------------

    /// A booking the caller may reach: its buyer (signed-in user, or `token`) or a member
    /// of the organization. `404` for everyone else. With it, the scope the caller's work on
    /// the booking runs in: a member's own; for a buyer, who is no member, the platform's in
    /// the organization the booking row names — [`Access::Buyer`] bounds what they may do.
    pub(crate) async fn booking_for(
        &self,
        p: Option<&Principal>,
        token: Option<&str>,
        id: BookingId,
    ) -> AppResult<(BookingRecord, Access, OrgScope)> {
        let Some(b) = store::booking(self.db(), id).await? else { return Err(AppError::not_found("booking")) };
        let buyer = match (p.and_then(Principal::user_id), b.user_id) {
            (Some(user), Some(owner)) if user == owner => true,
            _ => token.is_some_and(|t| domain::same_hash(&domain::hash_token(t), &b.token_hash)),
        };
        if buyer {
            let scope = OrgScope::platform(b.org_id);
            return Ok((b, Access::Buyer, scope));
        }
        match self.member_scope(p, b.org_id).await? {
            Some(scope) => Ok((b, Access::Member(scope.role()), scope)),
            None => Err(AppError::not_found("booking")),
        }
    }

    pub(crate) async fn view(&self, scope: &OrgScope, b: BookingRecord) -> AppResult<Booking> {
        let positions = store::positions(self.db(), scope, b.id).await?;
        let tickets = store::tickets(self.db(), scope, b.id).await?;
        let tickets = self.check_in().ticket_views(b.org_id, tickets).await?;
        Ok(Booking { summary: summary(&b), attendees: b.attendees.0, positions, tickets })
    }

    /// A booking as listed, for a listener acting on a domain event that names it (messaging
    /// telling its buyer): no caller to check, the id comes from a stored event.
    pub async fn summary_for_listener(&self, id: BookingId) -> AppResult<Option<BookingSummary>> {
        Ok(store::booking(self.db(), id).await?.map(|b| summary(&b)))
    }

    /// A booking with its positions and tickets (its buyer, or members).
    pub async fn booking(&self, p: Option<&Principal>, token: Option<&str>, id: BookingId) -> AppResult<Booking> {
        let (b, _, scope) = self.booking_for(p, token, id).await?;
        self.view(&scope, b).await
    }

    // ---- changing -------------------------------------------------------------------

    /// Changes the buyer's details or the attendees of a live booking (its buyer, or staff
    /// and above). Confirmed bookings' tickets take the new attendee names.
    pub async fn update_booking(
        &self,
        p: Option<&Principal>,
        token: Option<&str>,
        id: BookingId,
        req: UpdateBooking,
    ) -> AppResult<Booking> {
        let (b, access, scope) = self.booking_for(p, token, id).await?;
        if let Access::Member(r) = access
            && r < Role::Staff
        {
            return Err(AppError::forbidden("requires the staff role"));
        }
        let email = req.buyer_email.as_deref().map(|e| domain::email("buyer_email", e)).transpose()?;
        let name = req.buyer_name.as_deref().map(|n| domain::required_text("buyer_name", n, domain::NAME_MAX)).transpose()?;
        let attendees = req.attendees.as_deref().map(|a| domain::validate_attendees("attendees", a, b.quantity)).transpose()?;
        let at = now();
        let mut tx = self.db().begin().await?;
        let Some(cur) = store::lock_booking(&mut tx, &scope, id).await? else { return Err(AppError::not_found("booking")) };
        if !cur.status.is_live() {
            return Err(AppError::conflict("booking_closed", format!("the booking is {}", cur.status.as_str())));
        }
        let new_email = email.unwrap_or_else(|| cur.buyer_email.clone());
        let new_name = name.unwrap_or_else(|| cur.buyer_name.clone());
        let new_attendees = attendees.unwrap_or_else(|| cur.attendees.0.clone());
        let mut changes = serde_json::Map::new();
        let (old_key, new_key) = (domain::buyer_key(&cur.buyer_email), domain::buyer_key(&new_email));
        if old_key != new_key {
            // The buyer's ticket count moves with the booking to the new address.
            // Counter rows are locked in key order, so two bookings swapping addresses cannot
            // deadlock.
            let max = settings_for(self.db(), cur.event_id).await?.max_tickets_per_buyer;
            let over = || {
                AppError::conflict("buyer_limit", format!("at most {} tickets per buyer for this event", max.unwrap_or_default()))
            };
            if !inventory::move_buyer(&mut tx, &cur, &new_key, max, at).await? {
                return Err(over());
            }
        }
        if new_email != cur.buyer_email {
            changes.insert("buyer_email".into(), json!(new_email));
        }
        if new_name != cur.buyer_name {
            changes.insert("buyer_name".into(), json!(new_name));
        }
        let attendees_changed = new_attendees != cur.attendees.0;
        if attendees_changed {
            changes.insert("attendees".into(), json!(new_attendees.len()));
        }
        if changes.is_empty() {
            return self.view(&scope, cur).await;
        }
        let attendees = Json(new_attendees.clone());
        let Some(updated) = store::update_buyer(&mut tx, &scope, id, &new_email, &new_name, &attendees, at).await? else {
            return Err(AppError::not_found("booking"));
        };
        if attendees_changed && cur.status == BookingStatus::Confirmed {
            // Attendee i names the i-th valid ticket (tickets given back are skipped).
            for (i, (_, seq)) in store::valid_ticket_seqs(&mut tx, &scope, id).await?.into_iter().enumerate() {
                let a = new_attendees.get(i);
                let (name, email) = (a.map(|a| a.name.as_str()), a.and_then(|a| a.email.as_deref()));
                store::name_ticket(&mut tx, &scope, id, seq, name, email, at).await?;
            }
        }
        audit_booking(&mut tx, p, &updated, "booking.updated", serde_json::Value::Object(changes)).await?;
        self.kernel.commit(tx).await?;
        self.view(&scope, updated).await
    }

    /// Cancels a live booking: seats, voucher use and buyer count go back, tickets become
    /// void, `booking.cancelled` is published. Buyers may cancel pending bookings and free
    /// confirmed ones; paid confirmed bookings are cancelled (and refunded) by staff.
    pub async fn cancel_booking(&self, p: Option<&Principal>, token: Option<&str>, id: BookingId) -> AppResult<Booking> {
        let (b, access, scope) = self.booking_for(p, token, id).await?;
        match access {
            Access::Member(r) if r < Role::Staff => return Err(AppError::forbidden("requires the staff role")),
            Access::Buyer if b.status == BookingStatus::Confirmed && b.total > 0 => {
                return Err(AppError::forbidden("a paid booking is cancelled (and refunded) by the organizer; contact them"));
            }
            _ => {}
        }
        if !b.status.is_live() {
            return Err(AppError::conflict("invalid_transition", format!("the booking is already {}", b.status.as_str())));
        }
        let at = now();
        let mut tx = self.db().begin().await?;
        let Some(cancelled) = store::cancel(&mut tx, &scope, id, b.status, at).await? else {
            return Err(AppError::conflict("invalid_transition", "the booking changed meanwhile; read it again"));
        };
        inventory::release_one(&mut tx, &cancelled).await?;
        if b.status == BookingStatus::Confirmed {
            store::cancel_tickets(&mut tx, &scope, id, at).await?;
        }
        let positions = store::positions_tx(&mut tx, &scope, id).await?;
        audit_booking(&mut tx, p, &cancelled, "booking.cancelled", json!({ "status": "cancelled", "from": b.status })).await?;
        self.kernel.jobs.publish(&mut tx, &BOOKING_CANCELLED, &booking_event(&cancelled, &positions)).await?;
        self.kernel.commit(tx).await?;
        self.view(&scope, cancelled).await
    }

    /// Marks a pending booking paid (staff and above): confirmed, tickets issued,
    /// `booking.confirmed` published, and, in the same transaction, the money recorded as
    /// an `offline` payment in the payments context (ledger: `cash`). An expired booking can
    /// still be marked paid (a late bank transfer) if its seats, voucher use and buyer count
    /// can be taken again.
    pub async fn mark_paid(&self, p: &Principal, id: BookingId, req: MarkPaid) -> AppResult<Booking> {
        let Some(b) = store::booking(self.db(), id).await? else { return Err(AppError::not_found("booking")) };
        let scope = self.access.require_for(p, b.org_id, Role::Staff, "booking").await?;
        let reference = domain::optional_text("reference", req.reference.as_deref(), domain::REFERENCE_MAX)?;
        let max = settings_for(self.db(), b.event_id).await?.max_tickets_per_buyer;
        let payments = self.payments();
        if let Some(payments) = &payments {
            payments.check_offline(p, b.org_id).await?;
        }
        let at = now();
        let mut tx = self.db().begin().await?;
        let Some(cur) = store::lock_booking(&mut tx, &scope, id).await? else { return Err(AppError::not_found("booking")) };
        match cur.status {
            BookingStatus::PendingPayment => {}
            BookingStatus::Expired => {
                if let Some(short) = inventory::take_one(&mut tx, &cur, max).await? {
                    let err = match short {
                        Shortfall::Quota(_) => {
                            AppError::conflict("sold_out", "the booking expired and its seats have been sold since")
                        }
                        other => self.shortfall(other, &cur, &[], max).await,
                    };
                    return Err(err);
                }
            }
            BookingStatus::Confirmed => return Err(AppError::conflict("already_confirmed", "the booking is already confirmed")),
            s => return Err(AppError::conflict("invalid_transition", format!("the booking is {}", s.as_str()))),
        }
        let changes = json!({ "status": "confirmed", "from": cur.status, "paid_reference": reference });
        let confirmed = self.confirm_in(&mut tx, &scope, Some(p), id, cur.status, reference.as_deref(), changes, at).await?;
        let Some(confirmed) = confirmed else {
            return Err(AppError::conflict("invalid_transition", "the booking changed meanwhile; read it again"));
        };
        if let Some(payments) = &payments {
            let payable = super::payable::payable_of(&confirmed);
            payments.record_offline_in(&mut tx, p, &super::payable::reference_of(id), &payable, reference.as_deref()).await?;
        }
        self.kernel.commit(tx).await?;
        self.view(&scope, confirmed).await
    }

    /// Confirms a booking inside `tx` if it is still `from`: its tickets are issued, the
    /// change (`changes`) audited and `booking.confirmed` published. `None` if it changed
    /// meanwhile. Every path to `confirmed` after creation goes through here (offline
    /// payment, payment providers, waitlist offers).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn confirm_in(
        &self,
        tx: &mut Tx<'_>,
        scope: &OrgScope,
        p: Option<&Principal>,
        id: BookingId,
        from: BookingStatus,
        reference: Option<&str>,
        changes: serde_json::Value,
        at: Timestamp,
    ) -> AppResult<Option<BookingRecord>> {
        let Some(confirmed) = store::confirm(tx, scope, id, from, reference, at).await? else { return Ok(None) };
        let positions = store::positions_tx(tx, scope, id).await?;
        let tickets = issue_tickets(&confirmed, &positions, at);
        store::insert_tickets(tx, &tickets.iter().collect::<Vec<_>>()).await?;
        audit_booking(tx, p, &confirmed, "booking.confirmed", changes).await?;
        self.kernel.jobs.publish(tx, &BOOKING_CONFIRMED, &booking_event(&confirmed, &positions)).await?;
        Ok(Some(confirmed))
    }

    /// Expires a pending booking whose hold has run out, releasing what it held. `false`
    /// when there was nothing to do (paid, cancelled, expired already, or not due).
    pub async fn expire_hold(&self, id: BookingId) -> AppResult<bool> {
        let mut tx = self.db().begin().await?;
        let Some(expired) = store::expire(&mut tx, id, now()).await? else { return Ok(false) };
        // The job acts in the organization of the booking it just expired.
        let scope = OrgScope::platform(expired.org_id);
        inventory::release_one(&mut tx, &expired).await?;
        let positions = store::positions_tx(&mut tx, &scope, id).await?;
        audit_booking(&mut tx, None, &expired, "booking.expired", json!({ "status": "expired" })).await?;
        self.kernel.jobs.publish(&mut tx, &BOOKING_EXPIRED, &booking_event(&expired, &positions)).await?;
        self.kernel.commit(tx).await?;
        Ok(true)
    }

    /// Expires every pending booking whose hold has run out; returns how many it expired.
    pub async fn sweep_holds(&self) -> AppResult<usize> {
        let mut expired = 0;
        loop {
            let due = store::due_holds(self.db(), now(), SWEEP_BATCH).await?;
            let n = due.len();
            for id in due {
                if self.expire_hold(id).await? {
                    expired += 1;
                }
            }
            if (n as i64) < SWEEP_BATCH {
                return Ok(expired);
            }
        }
    }
}
