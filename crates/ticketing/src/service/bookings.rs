//! Bookings: holds, confirmation (free, or paid offline), cancellation and expiry — and the
//! inventory each of them moves.
//!
//! Taking seats: for every quota of every requested type, in quota-id order, one conditional
//! `UPDATE quotas SET taken = taken + n … WHERE taken + n <= capacity` inside the transaction
//! that writes the booking; the voucher use and the buyer's ticket count are taken the same
//! way, just before. Any of them affecting no row rolls everything back: `409 sold_out`,
//! `voucher_used_up` or `buyer_limit`. Releasing is the mirrored decrement, in the same
//! transaction as a conditional state change (`… WHERE id = $1 AND status = $2`), so it
//! happens once however many cancels, expiry jobs and sweeps race for it.

use chrono::TimeDelta;
use events::EventStatus;
use kernel::audit::{self, AuditEntry, AuditRow};
use kernel::auth::{Principal, Role};
use kernel::context::RequestContext;
use kernel::jobs::{publish, publish_many};
use kernel::time::{Timestamp, now};
use kernel::{AppError, AppResult, Tx};
use serde_json::json;
use sqlx::types::Json;

use super::{EXPIRE_HOLD_JOB, TicketingService};
use crate::domain::{
    self, BookingId, BookingStatus, Discount, Line, PositionId, QuotaId, TicketId, TicketStatus, TicketTypeId, Visibility,
};
use crate::model::*;
use crate::store::{self, Allocation, BookingRecord, TicketRecord, TicketTypeRecord, VoucherRecord};

/// Attempts at writing a booking when a random code collides with an existing one.
const CODE_ATTEMPTS: usize = 3;

/// How the caller reaches a booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Access {
    /// The signed-in user who made it, or the holder of its token.
    Buyer,
    /// A member of the event's organization, with their role.
    Member(Role),
}

/// Why the inventory could not be taken.
#[derive(Debug, Clone, Copy)]
pub(super) enum Shortfall {
    Quota(QuotaId),
    Voucher,
    Buyer,
}

pub(super) fn summary(b: &BookingRecord) -> BookingSummary {
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

pub(super) fn ticket_view(t: TicketRecord, qr: Option<String>) -> Ticket {
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
pub(super) fn issue_tickets(b: &BookingRecord, positions: &[Position], at: Timestamp) -> Vec<TicketRecord> {
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
pub(super) fn booking_event(b: &BookingRecord, positions: &[Position]) -> serde_json::Value {
    json!({
        "booking_id": b.id, "org_id": b.org_id, "event_id": b.event_id, "code": b.code, "status": b.status,
        "buyer_email": b.buyer_email, "buyer_name": b.buyer_name, "user_id": b.user_id,
        "currency": b.currency, "total": b.total, "quantity": b.quantity,
        "positions": positions.iter().map(|p| json!({ "ticket_type_id": p.ticket_type_id, "quantity": p.quantity })).collect::<Vec<_>>(),
    })
}

fn validate_attendees(field: &str, raw: &[Attendee], quantity: i64) -> AppResult<Vec<Attendee>> {
    if raw.len() as i64 > quantity {
        return Err(AppError::validation(field, format!("at most one attendee per ticket ({quantity})")));
    }
    raw.iter()
        .enumerate()
        .map(|(i, a)| {
            Ok(Attendee {
                name: domain::required_text(&format!("{field}[{i}].name"), &a.name, domain::NAME_MAX)?,
                email: a.email.as_deref().map(|e| domain::email(&format!("{field}[{i}].email"), e)).transpose()?,
            })
        })
        .collect()
}

/// Who an audit record names: the principal, an anonymous buyer (a request without one), or
/// `system` (a job).
pub(super) fn actor_of(p: Option<&Principal>) -> String {
    match p {
        Some(p) => p.actor(),
        None if RequestContext::current().is_some() => "anonymous".to_string(),
        None => "system".to_string(),
    }
}

/// Records a booking change for the acting principal, or for an anonymous buyer.
pub(super) async fn audit_booking(
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
pub(super) struct NewBooking {
    pub booking: BookingRecord,
    pub positions: Vec<Position>,
    pub tickets: Vec<TicketRecord>,
    pub max_per_buyer: Option<i64>,
    pub actor: String,
    pub context: Option<RequestContext>,
}

impl TicketingService {
    // ---- creating -------------------------------------------------------------------

    /// Books tickets (anyone; a signed-in user is recorded as the buyer). A free booking
    /// (total 0 after the voucher) is confirmed at once with its tickets; a priced one waits
    /// for payment holding its seats for the event's hold time.
    pub async fn create_booking(&self, p: Option<&Principal>, req: CreateBooking) -> AppResult<BookingCreated> {
        let at = now();
        // The request's shape, before any I/O.
        if req.positions.is_empty() {
            return Err(AppError::validation("positions", "book at least one ticket type"));
        }
        if req.positions.len() > domain::POSITIONS_MAX {
            return Err(AppError::validation("positions", format!("at most {} positions", domain::POSITIONS_MAX)));
        }
        let mut quantity = 0i64;
        for (i, pos) in req.positions.iter().enumerate() {
            if !(1..=domain::BOOKING_TICKETS_MAX).contains(&pos.quantity) {
                return Err(AppError::validation(
                    format!("positions[{i}].quantity"),
                    format!("must be between 1 and {}", domain::BOOKING_TICKETS_MAX),
                ));
            }
            if req.positions[..i].iter().any(|o| o.ticket_type_id == pos.ticket_type_id) {
                return Err(AppError::validation(
                    format!("positions[{i}].ticket_type_id"),
                    "listed twice; book it once with the total quantity",
                ));
            }
            quantity += pos.quantity;
        }
        if quantity > domain::BOOKING_TICKETS_MAX {
            return Err(AppError::validation(
                "positions",
                format!("at most {} tickets per booking", domain::BOOKING_TICKETS_MAX),
            ));
        }
        let buyer_email = domain::email("buyer_email", &req.buyer_email)?;
        let buyer_name = domain::required_text("buyer_name", &req.buyer_name, domain::NAME_MAX)?;
        let attendees = validate_attendees("attendees", &req.attendees, quantity)?;
        let code = match req.voucher_code.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
            Some(c) => Some(domain::voucher_code("voucher_code", c)?),
            None => None,
        };

        // The event and its catalog (reads on the pool, outside the write transaction).
        let not_on_sale = || AppError::validation("event_id", "no such event on sale");
        let catalog = match self.catalog(req.event_id).await? {
            Some(c) if !c.facts.deleted && c.facts.status == EventStatus::Published => c,
            _ => return Err(not_on_sale()),
        };
        let (e, settings, types) = (&catalog.facts, &catalog.settings, &catalog.types);
        let voucher = match &code {
            None => None,
            Some(c) => Some(self.usable_voucher(e.id, c, at).await?),
        };

        // Positions against the catalog.
        let mut lines = Vec::with_capacity(req.positions.len());
        let mut chosen: Vec<(&TicketTypeRecord, &[QuotaId], i64)> = Vec::with_capacity(req.positions.len());
        let mut currency: Option<&str> = None;
        for (i, pos) in req.positions.iter().enumerate() {
            let field = format!("positions[{i}].ticket_type_id");
            let unlocked = |id: TicketTypeId| voucher.as_ref().is_some_and(|v| v.unlock_ticket_type_ids.0.contains(&id));
            let (t, quotas) = match types.get(&pos.ticket_type_id) {
                Some((t, q)) if t.visibility == Visibility::Public || unlocked(t.id) => (t, q),
                _ => return Err(AppError::validation(field, "no such ticket type in this event")),
            };
            if quotas.is_empty() {
                return Err(AppError::validation(field, format!("{} is not on sale yet (it is in no quota)", t.name)));
            }
            if let Err(why) = domain::sales_open(at, t.sales_start, t.sales_end, e.ends_at) {
                return Err(AppError::conflict("sales_closed", format!("{}: {why}", t.name)));
            }
            if pos.quantity < t.min_per_order {
                return Err(AppError::validation(
                    format!("positions[{i}].quantity"),
                    format!("at least {} of {} per booking", t.min_per_order, t.name),
                ));
            }
            if let Some(max) = t.max_per_order
                && pos.quantity > max
            {
                return Err(AppError::validation(
                    format!("positions[{i}].quantity"),
                    format!("at most {max} of {} per booking", t.name),
                ));
            }
            match currency {
                None => currency = Some(&t.currency),
                Some(c) if c != t.currency => {
                    return Err(AppError::validation(
                        field,
                        format!("one booking is paid in one currency; {} is in {}", t.name, t.currency),
                    ));
                }
                Some(_) => {}
            }
            let applies = voucher.as_ref().is_some_and(|v| v.ticket_type_ids.0.is_empty() || v.ticket_type_ids.0.contains(&t.id));
            lines.push(Line { unit_price: t.price, quantity: pos.quantity, discountable: applies });
            chosen.push((t, quotas, pos.quantity));
        }
        let currency = currency.unwrap_or_default().to_string();
        let discount = match &voucher {
            None => Discount::None,
            Some(v) => {
                let discount = match (v.amount_off, v.percent_off) {
                    (Some(a), _) => Discount::Fixed(a),
                    (None, Some(p)) => Discount::Percent(p),
                    (None, None) => Discount::None,
                };
                if matches!(discount, Discount::Fixed(_)) && v.currency.as_deref() != Some(currency.as_str()) {
                    return Err(AppError::validation(
                        "voucher_code",
                        format!("this voucher is for bookings in {}", v.currency.as_deref().unwrap_or("another currency")),
                    ));
                }
                let unlocks = chosen.iter().any(|(t, _, _)| v.unlock_ticket_type_ids.0.contains(&t.id));
                if !unlocks && (discount == Discount::None || !lines.iter().any(|l| l.discountable)) {
                    return Err(AppError::validation("voucher_code", "the voucher does not apply to these tickets"));
                }
                discount
            }
        };
        let priced = domain::price_booking(&lines, discount);
        let positions: Vec<Position> = chosen
            .iter()
            .zip(&priced.line_discounts)
            .map(|((t, _, qty), off)| Position {
                id: PositionId::new(),
                ticket_type_id: t.id,
                ticket_type_name: t.name.clone(),
                quantity: *qty,
                unit_price: t.price,
                discount: *off,
                currency: currency.clone(),
            })
            .collect();
        let seats = domain::allocations(chosen.iter().map(|(_, q, n)| (*q, *n)));
        if let Some(max) = settings.max_tickets_per_buyer
            && quantity > max
        {
            return Err(AppError::conflict("buyer_limit", format!("at most {max} tickets per buyer for this event")));
        }

        let free = priced.total == 0;
        let token = domain::booking_token();
        let booking = BookingRecord {
            id: BookingId::new(),
            org_id: e.org_id,
            event_id: e.id,
            code: String::new(),
            status: if free { BookingStatus::Confirmed } else { BookingStatus::PendingPayment },
            buyer_email,
            buyer_name,
            user_id: p.and_then(Principal::user_id),
            voucher_id: voucher.as_ref().map(|v| v.id),
            voucher_code: voucher.as_ref().map(|v| v.code.clone()),
            currency,
            subtotal: priced.subtotal,
            discount: priced.discount,
            total: priced.total,
            quantity,
            attendees: Json(attendees),
            allocations: Json(seats.iter().map(|&(quota_id, quantity)| Allocation { quota_id, quantity }).collect()),
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
            positions,
            tickets: Vec::new(),
            max_per_buyer: settings.max_tickets_per_buyer,
            actor: actor_of(p),
            context: RequestContext::current(),
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            new.booking.code = domain::booking_code();
            new.tickets = if free { issue_tickets(&new.booking, &new.positions, at) } else { Vec::new() };
            match self.commit_booking(&new).await {
                Ok(None) => break,
                Ok(Some(short)) => return Err(self.shortfall(short, &new.booking, &chosen, new.max_per_buyer).await),
                // Only random values (ids, codes) can collide in these inserts: try again.
                Err(AppError::Conflict { code: "already_exists", .. }) if attempt < CODE_ATTEMPTS => continue,
                Err(e) => return Err(e),
            }
        }
        let NewBooking { booking, positions, tickets, .. } = new;
        let tickets = self.ticket_views(booking.org_id, tickets).await?;
        Ok(BookingCreated {
            booking: Booking { summary: summary(&booking), attendees: booking.attendees.0.clone(), positions, tickets },
            booking_token: token,
        })
    }

    /// A voucher of the event usable now, `422 voucher_code` otherwise.
    async fn usable_voucher(&self, event: events::EventId, code: &str, at: Timestamp) -> AppResult<VoucherRecord> {
        let Some(v) = store::voucher_by_code(self.db(), event, &domain::code_norm(code)).await? else {
            return Err(AppError::validation("voucher_code", "unknown voucher code"));
        };
        if v.valid_from.is_some_and(|f| at < f) {
            return Err(AppError::validation("voucher_code", "the voucher is not valid yet"));
        }
        if v.valid_until.is_some_and(|u| at >= u) {
            return Err(AppError::validation("voucher_code", "the voucher has expired"));
        }
        Ok(v)
    }

    /// Writes a booking in its own transaction: its rows, audit record and events first,
    /// the conditional inventory updates last (so PostgreSQL holds the quota row locks for
    /// as short a time as possible), then commits. `Some(shortfall)`: nothing was written.
    pub(super) async fn write_booking(&self, db: &kernel::Db, new: &NewBooking) -> AppResult<Option<Shortfall>> {
        self.write_booking_in(db.begin().await?, new).await
    }

    /// [`Self::write_booking`] in a transaction the caller began.
    pub(super) async fn write_booking_in(&self, mut tx: Tx<'_>, new: &NewBooking) -> AppResult<Option<Shortfall>> {
        self.insert_booking_rows(&mut tx, new).await?;
        if let Some(short) = self.take_inventory(&mut tx, &new.booking, new.max_per_buyer).await? {
            return Ok(Some(short));
        }
        self.kernel.commit(tx).await?;
        Ok(None)
    }

    /// The rows of a new booking: the booking, its positions and tickets, its hold-expiry
    /// job, its audit record and its `booking.created` (and `booking.confirmed`) events.
    pub(super) async fn insert_booking_rows(&self, tx: &mut Tx<'_>, new: &NewBooking) -> AppResult<()> {
        self.insert_bookings_rows(tx, &[new]).await
    }

    /// The rows of several new bookings, each kind with one statement for all of them (the
    /// group-commit writer's batches): bookings, positions, tickets, audit records, events.
    pub(super) async fn insert_bookings_rows(&self, tx: &mut Tx<'_>, news: &[&NewBooking]) -> AppResult<()> {
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
                self.kernel.jobs.enqueue_at(tx, EXPIRE_HOLD_JOB, &json!({ "booking_id": b.id }), expiry).await?;
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
        let mut events = Vec::with_capacity(news.len() * 2);
        for n in news {
            let payload = booking_event(&n.booking, &n.positions);
            if n.booking.status == BookingStatus::Confirmed {
                events.push(("booking.created", payload.clone()));
                events.push(("booking.confirmed", payload));
            } else {
                events.push(("booking.created", payload));
            }
        }
        publish_many(tx, &events).await?;
        Ok(())
    }

    /// Takes a booking's buyer count, its voucher use and its seats (quota-id order), in
    /// that order — the lock order of every transaction that changes inventory, hottest rows
    /// last so PostgreSQL holds a quota's row lock only from its update to the commit.
    /// `Some(shortfall)` when one had no room; the caller drops the transaction.
    pub(super) async fn take_inventory(
        &self,
        tx: &mut Tx<'_>,
        b: &BookingRecord,
        max_per_buyer: Option<i64>,
    ) -> AppResult<Option<Shortfall>> {
        let at = now();
        let max = max_per_buyer.unwrap_or(i64::MAX);
        if store::count_buyer(tx, b.org_id, b.event_id, &domain::buyer_key(&b.buyer_email), b.quantity, max, at).await? == 0 {
            return Ok(Some(Shortfall::Buyer));
        }
        if let Some(v) = b.voucher_id
            && store::use_voucher(tx, v, at).await? == 0
        {
            return Ok(Some(Shortfall::Voucher));
        }
        let mut seats = b.allocations.0.clone();
        seats.sort_by_key(|a| a.quota_id);
        for a in &seats {
            if store::take_seats(tx, a.quota_id, a.quantity, at).await? == 0 {
                return Ok(Some(Shortfall::Quota(a.quota_id)));
            }
        }
        Ok(None)
    }

    /// Gives back what [`Self::take_inventory`] took, in the same lock order. Runs only
    /// after a conditional state change from a live status affected the booking's row, so
    /// once per booking.
    pub(super) async fn release_inventory(&self, tx: &mut Tx<'_>, b: &BookingRecord) -> AppResult<()> {
        let at = now();
        store::uncount_buyer(tx, b.event_id, &domain::buyer_key(&b.buyer_email), b.quantity, at).await?;
        if let Some(v) = b.voucher_id {
            store::release_voucher(tx, v, at).await?;
        }
        let mut seats = b.allocations.0.clone();
        seats.sort_by_key(|a| a.quota_id);
        for a in &seats {
            if store::release_seats(tx, a.quota_id, a.quantity, at).await? == 0 {
                tracing::warn!(booking = %b.id, quota = %a.quota_id, "released seats of a quota that no longer has them");
            }
        }
        Ok(())
    }

    /// The problem for a shortfall, naming what ran out.
    pub(super) async fn shortfall(
        &self,
        short: Shortfall,
        b: &BookingRecord,
        chosen: &[(&TicketTypeRecord, &[QuotaId], i64)],
        max_per_buyer: Option<i64>,
    ) -> AppError {
        match short {
            Shortfall::Quota(q) => {
                let names: Vec<&str> =
                    chosen.iter().filter(|(_, qs, _)| qs.contains(&q)).map(|(t, _, _)| t.name.as_str()).collect();
                let left = store::quota_room(self.db(), q).await.ok().flatten().unwrap_or(0).max(0);
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
    /// of the organization. `404` for everyone else.
    pub(super) async fn booking_for(
        &self,
        p: Option<&Principal>,
        token: Option<&str>,
        id: BookingId,
    ) -> AppResult<(BookingRecord, Access)> {
        let Some(b) = store::booking(self.db(), id).await? else { return Err(AppError::not_found("booking")) };
        if let (Some(user), Some(owner)) = (p.and_then(Principal::user_id), b.user_id)
            && user == owner
        {
            return Ok((b, Access::Buyer));
        }
        if let Some(t) = token
            && domain::same_hash(&domain::hash_token(t), &b.token_hash)
        {
            return Ok((b, Access::Buyer));
        }
        match self.role(p, b.org_id).await? {
            Some(role) if role >= Role::Viewer => Ok((b, Access::Member(role))),
            _ => Err(AppError::not_found("booking")),
        }
    }

    pub(super) async fn view(&self, b: BookingRecord) -> AppResult<Booking> {
        let positions = store::positions(self.db(), b.id).await?;
        let tickets = store::tickets(self.db(), b.id).await?;
        let tickets = self.ticket_views(b.org_id, tickets).await?;
        Ok(Booking { summary: summary(&b), attendees: b.attendees.0, positions, tickets })
    }

    /// A booking with its positions and tickets (its buyer, or members).
    pub async fn booking(&self, p: Option<&Principal>, token: Option<&str>, id: BookingId) -> AppResult<Booking> {
        let (b, _) = self.booking_for(p, token, id).await?;
        self.view(b).await
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
        let (b, access) = self.booking_for(p, token, id).await?;
        if let Access::Member(r) = access
            && r < Role::Staff
        {
            return Err(AppError::forbidden("requires the staff role"));
        }
        let email = req.buyer_email.as_deref().map(|e| domain::email("buyer_email", e)).transpose()?;
        let name = req.buyer_name.as_deref().map(|n| domain::required_text("buyer_name", n, domain::NAME_MAX)).transpose()?;
        let attendees = req.attendees.as_deref().map(|a| validate_attendees("attendees", a, b.quantity)).transpose()?;
        let at = now();
        let mut tx = self.db().begin().await?;
        let Some(cur) = store::lock_booking(&mut tx, id).await? else { return Err(AppError::not_found("booking")) };
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
            let max = self.settings_for(cur.event_id, cur.org_id).await?.max_tickets_per_buyer;
            let over = || {
                AppError::conflict("buyer_limit", format!("at most {} tickets per buyer for this event", max.unwrap_or_default()))
            };
            let cap = max.unwrap_or(i64::MAX);
            if old_key < new_key {
                store::uncount_buyer(&mut tx, cur.event_id, &old_key, cur.quantity, at).await?;
                if store::count_buyer(&mut tx, cur.org_id, cur.event_id, &new_key, cur.quantity, cap, at).await? == 0 {
                    return Err(over());
                }
            } else {
                if store::count_buyer(&mut tx, cur.org_id, cur.event_id, &new_key, cur.quantity, cap, at).await? == 0 {
                    return Err(over());
                }
                store::uncount_buyer(&mut tx, cur.event_id, &old_key, cur.quantity, at).await?;
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
            return self.view(cur).await;
        }
        let Some(updated) = store::update_buyer(&mut tx, id, &new_email, &new_name, &Json(new_attendees.clone()), at).await?
        else {
            return Err(AppError::not_found("booking"));
        };
        if attendees_changed && cur.status == BookingStatus::Confirmed {
            // Attendee i names the i-th valid ticket (tickets given back are skipped).
            for (i, (_, seq)) in store::valid_ticket_seqs(&mut tx, id).await?.into_iter().enumerate() {
                let a = new_attendees.get(i);
                store::name_ticket(&mut tx, id, seq, a.map(|a| a.name.as_str()), a.and_then(|a| a.email.as_deref()), at).await?;
            }
        }
        audit_booking(&mut tx, p, &updated, "booking.updated", serde_json::Value::Object(changes)).await?;
        self.kernel.commit(tx).await?;
        self.view(updated).await
    }

    /// Cancels a live booking: seats, voucher use and buyer count go back, tickets become
    /// void, `booking.cancelled` is published. Buyers may cancel pending bookings and free
    /// confirmed ones; paid confirmed bookings are cancelled (and refunded) by staff.
    pub async fn cancel_booking(&self, p: Option<&Principal>, token: Option<&str>, id: BookingId) -> AppResult<Booking> {
        let (b, access) = self.booking_for(p, token, id).await?;
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
        let Some(cancelled) = store::cancel(&mut tx, id, b.status, at).await? else {
            return Err(AppError::conflict("invalid_transition", "the booking changed meanwhile; read it again"));
        };
        self.release_inventory(&mut tx, &cancelled).await?;
        if b.status == BookingStatus::Confirmed {
            store::cancel_tickets(&mut tx, id, at).await?;
        }
        let positions = store::positions_tx(&mut tx, id).await?;
        audit_booking(&mut tx, p, &cancelled, "booking.cancelled", json!({ "status": "cancelled", "from": b.status })).await?;
        publish(&mut tx, "booking.cancelled", &booking_event(&cancelled, &positions)).await?;
        self.kernel.commit(tx).await?;
        self.view(cancelled).await
    }

    /// Marks a pending booking paid (staff and above): confirmed, tickets issued,
    /// `booking.confirmed` published, and, in the same transaction, the money recorded as
    /// an `offline` payment in the payments context (ledger: `cash`). An expired booking can
    /// still be marked paid (a late bank transfer) if its seats, voucher use and buyer count
    /// can be taken again.
    pub async fn mark_paid(&self, p: &Principal, id: BookingId, req: MarkPaid) -> AppResult<Booking> {
        let Some(b) = store::booking(self.db(), id).await? else { return Err(AppError::not_found("booking")) };
        self.require(p, b.org_id, Role::Staff, "booking").await?;
        let reference = domain::optional_text("reference", req.reference.as_deref(), domain::REFERENCE_MAX)?;
        let max = self.settings_for(b.event_id, b.org_id).await?.max_tickets_per_buyer;
        let payments = self.payments();
        if let Some(payments) = &payments {
            payments.check_offline(p, b.org_id).await?;
        }
        let at = now();
        let mut tx = self.db().begin().await?;
        let Some(cur) = store::lock_booking(&mut tx, id).await? else { return Err(AppError::not_found("booking")) };
        match cur.status {
            BookingStatus::PendingPayment => {}
            BookingStatus::Expired => {
                if let Some(short) = self.take_inventory(&mut tx, &cur, max).await? {
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
        let Some(confirmed) = self.confirm_in(&mut tx, Some(p), id, cur.status, reference.as_deref(), changes, at).await? else {
            return Err(AppError::conflict("invalid_transition", "the booking changed meanwhile; read it again"));
        };
        if let Some(payments) = &payments {
            let payable = super::payable::payable_of(&confirmed);
            payments.record_offline_in(&mut tx, p, &super::payable::reference_of(id), &payable, reference.as_deref()).await?;
        }
        self.kernel.commit(tx).await?;
        self.view(confirmed).await
    }

    /// Confirms a booking inside `tx` if it is still `from`: its tickets are issued, the
    /// change (`changes`) audited and `booking.confirmed` published. `None` if it changed
    /// meanwhile. Every path to `confirmed` after creation goes through here (offline
    /// payment, payment providers, waitlist offers).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn confirm_in(
        &self,
        tx: &mut Tx<'_>,
        p: Option<&Principal>,
        id: BookingId,
        from: BookingStatus,
        reference: Option<&str>,
        changes: serde_json::Value,
        at: Timestamp,
    ) -> AppResult<Option<BookingRecord>> {
        let Some(confirmed) = store::confirm(tx, id, from, reference, at).await? else { return Ok(None) };
        let positions = store::positions_tx(tx, id).await?;
        let tickets = issue_tickets(&confirmed, &positions, at);
        store::insert_tickets(tx, &tickets.iter().collect::<Vec<_>>()).await?;
        audit_booking(tx, p, &confirmed, "booking.confirmed", changes).await?;
        publish(tx, "booking.confirmed", &booking_event(&confirmed, &positions)).await?;
        Ok(Some(confirmed))
    }

    /// Expires a pending booking whose hold has run out, releasing what it held. `false`
    /// when there was nothing to do (paid, cancelled, expired already, or not due).
    pub async fn expire_hold(&self, id: BookingId) -> AppResult<bool> {
        let mut tx = self.db().begin().await?;
        let Some(expired) = store::expire(&mut tx, id, now()).await? else { return Ok(false) };
        self.release_inventory(&mut tx, &expired).await?;
        let positions = store::positions_tx(&mut tx, id).await?;
        audit_booking(&mut tx, None, &expired, "booking.expired", json!({ "status": "expired" })).await?;
        publish(&mut tx, "booking.expired", &booking_event(&expired, &positions)).await?;
        self.kernel.commit(tx).await?;
        Ok(true)
    }
}
