//! Ticketing ↔ payments. Ticketing owns `booking:<id>` references: it tells the payments
//! context what a booking owes ([`Payables`]) and listens for what happens to the money
//! (outbox subscriptions, at-least-once, so every listener is idempotent):
//!
//! * `payment.succeeded` → a pending booking is confirmed and its tickets issued. A booking
//!   whose hold expired meanwhile gets its seats (voucher use, buyer count) re-taken and is
//!   confirmed; if they are gone, the payment is refunded in full and the buyer told. A
//!   booking that is cancelled, or already paid by another payment, gets the money back.
//!   Never a paid order without tickets, never tickets without inventory.
//! * `payment.refunded` in full → a live booking becomes `refunded`: tickets void, seats,
//!   voucher use and buyer count released, `booking.cancelled` published (status
//!   `refunded`) so the waitlist runs.
//! * `payment.refunded` naming tickets (a partial refund with `items`, priced by
//!   [`Payables::price_items`]) → those tickets are cancelled, their seats and buyer count
//!   released, the booking shrinks to what is left (positions, totals, allocations) and
//!   `booking.tickets_refunded` is published so the waitlist runs. Giving back the last
//!   ticket refunds the booking as above. A partial refund naming no tickets is money only
//!   (goodwill, a price change): the tickets stay valid.
//! * `booking.cancelled` with status `cancelled` → whatever is left of the booking's
//!   payments is refunded (staff cancelling a paid booking). A booking `refunded` by its
//!   payment is not refunded again (a fee kept back stays kept).
//!
//! Payments asks and tells about a booking by its id alone; ticketing acts in the
//! organization the booking row names, or the payment's (a booking's payments are made in
//! its organization) where the row is locked first anyway (`OrgScope::platform`): in
//! another one, nothing would be found and nothing done.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};

use kernel::auth::OrgScope;
use kernel::jobs::Event;
use kernel::mail::OutgoingMail;
use kernel::money::Money;
use kernel::time::now;
use kernel::{AppError, AppResult};
use payments::events::{PAYMENT_REFUNDED, PAYMENT_SUCCEEDED, PaymentRefunded, PaymentSnapshot};
use payments::{Caller, Payable, PayableState, Payables, PaymentId, PaymentsService};
use serde_json::json;

use super::store::{self, Allocation, BookingRecord};
use super::{Bookings, audit_booking, booking_event};
use crate::catalog::settings::settings_for;
use crate::catalog::store as catalog_store;
use crate::domain::{self, BookingId, BookingStatus, TicketId, TicketStatus, TicketTypeId};
use crate::events::{BOOKING_CANCELLED, BOOKING_TICKETS_REFUNDED, BookingSnapshot, TicketsRefunded};
use crate::inventory::{self, Holding, Shortfall};
use crate::shared::state::Shared;

/// Listens to `payment.succeeded`: confirms the booking, or refunds the money.
pub const PAYMENT_SUCCEEDED_JOB: &str = "ticketing.payment_succeeded";
/// Listens to `payment.refunded`: refunds the booking, or gives back the tickets named.
pub const PAYMENT_REFUNDED_JOB: &str = "ticketing.payment_refunded";
/// Listens to `booking.cancelled`: refunds what is left of a cancelled booking's payments.
pub const BOOKING_CANCELLED_JOB: &str = "ticketing.refund_cancelled_booking";

const PREFIX: &str = "booking";

struct BookingPayables(Weak<Shared>);

/// What a booking owes, as the payments context sees it.
pub(super) fn payable_of(b: &BookingRecord) -> Payable {
    Payable {
        org_id: b.org_id,
        amount: b.total,
        currency: b.currency.clone(),
        state: match b.status {
            BookingStatus::PendingPayment => PayableState::Open,
            BookingStatus::Confirmed => PayableState::Settled,
            _ => PayableState::Closed,
        },
        description: format!("Booking {} ({} tickets)", b.code, b.quantity),
        buyer_email: b.buyer_email.clone(),
        event_id: Some(b.event_id.0),
    }
}

/// The payments reference of a booking.
pub(super) fn reference_of(id: BookingId) -> String {
    format!("{PREFIX}:{id}")
}

/// The booking a payments reference names, if it names one.
fn booking_of(reference: &str) -> Option<BookingId> {
    reference.strip_prefix(PREFIX)?.strip_prefix(':')?.parse().ok()
}

#[async_trait::async_trait]
impl Payables for BookingPayables {
    async fn resolve(&self, caller: Caller<'_>, id: &str) -> AppResult<Option<Payable>> {
        let Ok(id) = id.parse::<BookingId>() else { return Ok(None) };
        let Some(shared) = self.0.upgrade() else { return Err(AppError::internal("ticketing stopped")) };
        let svc = shared.bookings();
        let booking = match caller {
            Caller::System => store::booking(svc.db(), id).await?,
            Caller::Request { principal, token } => match svc.booking_for(principal, token, id).await {
                Ok((b, _, _)) => Some(b),
                Err(AppError::NotFound { .. }) => None,
                Err(e) => return Err(e),
            },
        };
        Ok(booking.as_ref().map(payable_of))
    }

    async fn price_items(&self, id: &str, items: &[String]) -> AppResult<(i64, Vec<String>)> {
        let Ok(id) = id.parse::<BookingId>() else { return Err(AppError::validation("items", "not a booking reference")) };
        let Some(shared) = self.0.upgrade() else { return Err(AppError::internal("ticketing stopped")) };
        shared.bookings().price_tickets(id, items).await
    }
}

/// Makes ticketing the owner of `booking:<id>` references and has it listen to the payments
/// context's events (and to its own `booking.cancelled`, to refund what was paid).
pub(crate) fn connect(shared: &Arc<Shared>, payments: &Arc<PaymentsService>) {
    payments.register_payables(PREFIX, Arc::new(BookingPayables(Arc::downgrade(shared))));
    // A second wiring keeps the first (one payments context per process), and its listeners.
    if shared.payments.set(Arc::downgrade(payments)).is_err() {
        return;
    }
    let jobs = &shared.kernel.jobs;
    let services = (Arc::downgrade(shared), Arc::downgrade(payments));

    let both = services.clone();
    jobs.listen(&PAYMENT_SUCCEEDED, PAYMENT_SUCCEEDED_JOB, move |event: Event<PaymentSnapshot>| {
        let both = both.clone();
        async move {
            let (t, p) = upgrade(&both)?;
            let paid = event.data;
            let Some(booking) = booking_of(&paid.reference) else { return Ok(()) };
            t.bookings().on_payment_succeeded(&p, booking, &paid).await.map_err(failed)
        }
    });

    let both = services.clone();
    jobs.listen(&PAYMENT_REFUNDED, PAYMENT_REFUNDED_JOB, move |event: Event<PaymentRefunded>| {
        let both = both.clone();
        async move {
            let (t, _) = upgrade(&both)?;
            let refund = event.data;
            // Money taken twice and given back: the booking was paid by another payment.
            if refund.payment.duplicate {
                return Ok(());
            }
            let Some(booking) = booking_of(&refund.payment.reference) else { return Ok(()) };
            let t = t.bookings();
            if refund.fully_refunded {
                // The payment was made for this booking, in the booking's organization.
                return t.on_full_refund(&OrgScope::platform(refund.payment.org_id), booking).await.map_err(failed);
            }
            let tickets: Vec<TicketId> = refund.items.iter().filter_map(|item| item.trim().parse().ok()).collect();
            if tickets.is_empty() { Ok(()) } else { t.on_ticket_refund(booking, &tickets).await.map_err(failed) }
        }
    });

    let both = services;
    jobs.listen(&BOOKING_CANCELLED, BOOKING_CANCELLED_JOB, move |event: Event<BookingSnapshot>| {
        let both = both.clone();
        async move {
            let (_, p) = upgrade(&both)?;
            let cancelled = event.data;
            if cancelled.status != BookingStatus::Cancelled {
                return Ok(());
            }
            p.refund_reference(&reference_of(cancelled.booking_id), "booking cancelled").await.map(|_| ()).map_err(failed)
        }
    });
}

/// Both services, or an error while the process shuts down (the job is retried).
fn upgrade((t, p): &(Weak<Shared>, Weak<PaymentsService>)) -> anyhow::Result<(Arc<Shared>, Arc<PaymentsService>)> {
    match (t.upgrade(), p.upgrade()) {
        (Some(t), Some(p)) => Ok((t, p)),
        _ => anyhow::bail!("services stopped"),
    }
}

fn failed(e: AppError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

impl Bookings {
    /// A payment for a booking went through: confirm it (re-taking its seats if its hold
    /// expired), or refund the money when the booking cannot have its tickets.
    async fn on_payment_succeeded(&self, payments: &PaymentsService, id: BookingId, paid: &PaymentSnapshot) -> AppResult<()> {
        if paid.owner_settled {
            // Recorded by "mark paid" in the transaction that confirmed the booking.
            return Ok(());
        }
        let payment: PaymentId = paid.payment_id;
        let Some(b) = store::booking(self.db(), id).await? else { return Ok(()) };
        let scope = OrgScope::platform(b.org_id);
        let paid_tag = format!("payment:{payment}");
        let max = settings_for(self.db(), b.event_id).await?.max_tickets_per_buyer;
        let at = now();
        let mut tx = self.db().begin().await?;
        let Some(cur) = store::lock_booking(&mut tx, &scope, id).await? else { return Ok(()) };
        let matches = paid.amount == cur.total && paid.currency == cur.currency;
        let refund_why = match cur.status {
            BookingStatus::Confirmed if cur.paid_reference.as_deref() == Some(paid_tag.as_str()) => return Ok(()),
            _ if !matches => Some("the payment does not match the booking's total"),
            BookingStatus::PendingPayment => None,
            BookingStatus::Expired => match inventory::take_one(&mut tx, &cur, max).await? {
                None => None,
                Some(Shortfall::Quota(_)) => Some("the payment arrived after the hold expired and the seats were sold meanwhile"),
                Some(_) => Some("the payment arrived after the hold expired and the booking could not be restored"),
            },
            BookingStatus::Confirmed => Some("the booking was already paid"),
            _ => Some("the booking was cancelled before the payment arrived"),
        };
        if let Some(why) = refund_why {
            drop(tx);
            tracing::warn!(booking = %id, payment = %payment, why, "refunding a payment that cannot confirm its booking");
            if payments.refund_for_system(payment, None, why).await?.is_some() {
                let mut tx = self.db().begin().await?;
                let mail = OutgoingMail {
                    to: cur.buyer_email.clone(),
                    subject: format!("Your payment for booking {} is being refunded", cur.code),
                    text: format!(
                        "Hello {},\n\nyour payment for booking {} could not be used: {why}.\n\
                         The full amount is being refunded to you; no tickets were issued.\n",
                        cur.buyer_name, cur.code
                    ),
                    ..OutgoingMail::default()
                };
                self.kernel.queue_mail(&mut tx, &mail).await?;
                self.kernel.commit(tx).await?;
            }
            return Ok(());
        }
        let changes = json!({ "status": "confirmed", "from": cur.status, "paid_reference": paid_tag });
        if self.confirm_in(&mut tx, &scope, None, id, cur.status, Some(&paid_tag), changes, at).await?.is_none() {
            return Err(AppError::conflict("invalid_transition", "the booking changed meanwhile"));
        }
        self.kernel.commit(tx).await?;
        Ok(())
    }

    /// A booking's payment was refunded in full: the booking is refunded, its tickets void
    /// and its seats free again.
    async fn on_full_refund(&self, scope: &OrgScope, id: BookingId) -> AppResult<()> {
        let at = now();
        let mut tx = self.db().begin().await?;
        let Some(cur) = store::lock_booking(&mut tx, scope, id).await? else { return Ok(()) };
        if !cur.status.is_live() {
            return Ok(());
        }
        let Some(refunded) = store::refund_booking(&mut tx, scope, id, cur.status, at).await? else { return Ok(()) };
        inventory::release_one(&mut tx, &refunded).await?;
        if cur.status == BookingStatus::Confirmed {
            store::cancel_tickets(&mut tx, scope, id, at).await?;
        }
        let positions = store::positions_tx(&mut tx, scope, id).await?;
        audit_booking(&mut tx, None, &refunded, "booking.refunded", json!({ "status": "refunded", "from": cur.status })).await?;
        self.kernel.jobs.publish(&mut tx, &BOOKING_CANCELLED, &booking_event(&refunded, &positions)).await?;
        self.kernel.commit(tx).await?;
        Ok(())
    }

    /// What giving back `items` (ticket ids of a confirmed booking) is worth, with the ids
    /// in canonical form; each must be a valid ticket of the booking (`422` naming
    /// `items[i]` otherwise).
    async fn price_tickets(&self, id: BookingId, items: &[String]) -> AppResult<(i64, Vec<String>)> {
        let Some(b) = store::booking(self.db(), id).await? else { return Err(AppError::validation("items", "no such booking")) };
        // Payments asks for a refund its caller may make (staff of the payment's
        // organization, which the booking's is).
        let scope = OrgScope::platform(b.org_id);
        if b.status != BookingStatus::Confirmed {
            return Err(AppError::validation(
                "items",
                format!("the booking is {}: only a confirmed booking's tickets can be given back", b.status.as_str()),
            ));
        }
        let tickets = store::tickets(self.db(), &scope, id).await?;
        let mut per_type: BTreeMap<TicketTypeId, i64> = BTreeMap::new();
        let mut canonical = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let field = format!("items[{i}]");
            let ticket = item
                .trim()
                .parse::<TicketId>()
                .ok()
                .and_then(|t| tickets.iter().find(|x| x.id == t))
                .ok_or_else(|| AppError::validation(&field, format!("not a ticket of booking {}", b.code)))?;
            if ticket.status != TicketStatus::Valid {
                return Err(AppError::validation(&field, "the ticket is cancelled already"));
            }
            if canonical.contains(&ticket.id.to_string()) {
                return Err(AppError::validation("items", format!("{} is named twice", ticket.id)));
            }
            canonical.push(ticket.id.to_string());
            *per_type.entry(ticket.ticket_type_id).or_default() += 1;
        }
        let positions = store::positions(self.db(), &scope, id).await?;
        let mut price = Money::from_row(0, &b.currency)?;
        for (ty, n) in per_type {
            let Some(p) = positions.iter().find(|p| p.ticket_type_id == ty) else {
                return Err(AppError::internal(format!("booking {id} has tickets of a type it has no position for")));
            };
            let worth = domain::give_back(p.unit_price, p.quantity, p.discount, n).0;
            price = price.checked_add(Money::from_row(worth, &p.currency)?)?;
        }
        Ok((price.amount, canonical))
    }

    /// A partial refund gave back some tickets of a booking: they are cancelled, their seats
    /// and buyer count released, and the booking keeps what is left. Giving back the last
    /// valid ticket refunds the whole booking.
    async fn on_ticket_refund(&self, id: BookingId, tickets: &[TicketId]) -> AppResult<()> {
        let Some(b) = store::booking(self.db(), id).await? else { return Ok(()) };
        let scope = OrgScope::platform(b.org_id);
        let memberships = catalog_store::memberships(self.db(), &scope, b.event_id).await?;
        let at = now();
        let mut tx = self.db().begin().await?;
        let Some(cur) = store::lock_booking(&mut tx, &scope, id).await? else { return Ok(()) };
        if cur.status != BookingStatus::Confirmed {
            return Ok(());
        }
        // Attendees are given in the order of the valid tickets: note where the cancelled ones stood.
        let valid_before = store::valid_ticket_seqs(&mut tx, &scope, id).await?;
        let cancelled = store::cancel_ticket_ids(&mut tx, &scope, id, tickets, at).await?;
        if cancelled.is_empty() {
            return Ok(());
        }
        let given_back = cancelled.len() as i64;
        if given_back >= cur.quantity {
            drop(tx);
            return self.on_full_refund(&scope, id).await;
        }
        let mut per_type: BTreeMap<TicketTypeId, i64> = BTreeMap::new();
        for (_, ty) in &cancelled {
            *per_type.entry(*ty).or_default() += 1;
        }
        let positions = store::positions_tx(&mut tx, &scope, id).await?;
        // Bookings keep seats per quota, not per type: a quota's seats are given back by type
        // only while today's memberships still explain what the booking holds of it (each
        // position's quantity from every quota its type is in). Where they do not (a quota's
        // types changed since the sale), its seats stay held until the booking ends, which
        // releases its allocations exactly: never more than the booking took.
        let explained = |quota: crate::domain::QuotaId, held: i64| {
            let expected: i64 = positions
                .iter()
                .filter(|p| memberships.iter().any(|(q, t)| *q == quota && *t == p.ticket_type_id))
                .map(|p| p.quantity)
                .sum();
            expected == held
        };
        let consistent: Vec<crate::domain::QuotaId> =
            cur.allocations.0.iter().filter(|a| explained(a.quota_id, a.quantity)).map(|a| a.quota_id).collect();
        let (mut subtotal, mut discount) =
            (Money::from_row(cur.subtotal, &cur.currency)?, Money::from_row(cur.discount, &cur.currency)?);
        let mut allocations = cur.allocations.0.clone();
        let mut release: BTreeMap<crate::domain::QuotaId, i64> = BTreeMap::new();
        for (&ty, &n) in &per_type {
            if let Some(p) = positions.iter().find(|p| p.ticket_type_id == ty) {
                let n = n.min(p.quantity);
                let (_, discount_after) = domain::give_back(p.unit_price, p.quantity, p.discount, n);
                store::shrink_position(&mut tx, &scope, p.id, p.quantity - n, discount_after, at).await?;
                subtotal = subtotal.checked_sub(Money::from_row(p.unit_price, &p.currency)?.times(n)?)?;
                let discount_given_back = Money::from_row(p.discount - discount_after, &p.currency)?;
                discount = discount.checked_sub(discount_given_back)?;
            }
            // The seats go back to the quotas the type draws from that this booking holds.
            for (quota, _) in memberships.iter().filter(|(q, t)| *t == ty && consistent.contains(q)) {
                if let Some(a) = allocations.iter_mut().find(|a| a.quota_id == *quota) {
                    let k = n.min(a.quantity);
                    a.quantity -= k;
                    *release.entry(*quota).or_default() += k;
                }
            }
        }
        allocations.retain(|a| a.quantity > 0);
        let allocations = sqlx::types::Json(allocations);
        let gone: Vec<usize> = valid_before
            .iter()
            .enumerate()
            .filter(|(_, (t, _))| cancelled.iter().any(|(c, _)| c == t))
            .map(|(rank, _)| rank)
            .collect();
        let attendees = sqlx::types::Json(
            cur.attendees.0.iter().enumerate().filter(|(i, _)| !gone.contains(i)).map(|(_, a)| a.clone()).collect::<Vec<_>>(),
        );
        let seats: Vec<Allocation> =
            release.into_iter().filter(|&(_, n)| n > 0).map(|(quota_id, quantity)| Allocation { quota_id, quantity }).collect();
        let returned = Holding { tickets: given_back, voucher: None, seats: &seats, ..Holding::of(&cur) };
        inventory::release(&mut tx, &[returned], at).await?;
        let shrunk = store::Shrunk {
            quantity: cur.quantity - given_back,
            subtotal: subtotal.amount,
            discount: discount.amount,
            total: subtotal.checked_sub(discount)?.amount,
            allocations: &allocations,
            attendees: &attendees,
        };
        let Some(after) = store::shrink_booking(&mut tx, &scope, id, shrunk, at).await? else {
            return Err(AppError::conflict("invalid_transition", "the booking changed meanwhile"));
        };
        let ids: Vec<TicketId> = cancelled.iter().map(|(t, _)| *t).collect();
        let changes = json!({ "tickets": ids, "quantity": after.quantity, "total": after.total, "from_total": cur.total });
        audit_booking(&mut tx, None, &after, "booking.tickets_refunded", changes).await?;
        let positions = store::positions_tx(&mut tx, &scope, id).await?;
        let event = TicketsRefunded { booking: booking_event(&after, &positions), tickets: ids, refunded_quantity: given_back };
        self.kernel.jobs.publish(&mut tx, &BOOKING_TICKETS_REFUNDED, &event).await?;
        self.kernel.commit(tx).await?;
        Ok(())
    }
}
