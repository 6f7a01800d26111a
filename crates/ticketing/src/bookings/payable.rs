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

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};

use kernel::jobs::{Envelope, JobHandler, publish};
use kernel::mail::OutgoingMail;
use kernel::time::now;
use kernel::{AppError, AppResult};
use payments::{Caller, Payable, PayableState, Payables, PaymentId, PaymentsService};
use serde_json::json;

use super::store::{self, Allocation, BookingRecord};
use super::{Bookings, audit_booking, booking_event};
use crate::catalog::settings::settings_for;
use crate::catalog::store as catalog_store;
use crate::domain::{self, BookingId, BookingStatus, TicketId, TicketStatus, TicketTypeId};
use crate::inventory::{self, Holding, Shortfall};
use crate::shared::state::Shared;

pub const PAYMENT_SUCCEEDED_JOB: &str = "ticketing.payment_succeeded";
pub const PAYMENT_REFUNDED_JOB: &str = "ticketing.payment_refunded";
pub const BOOKING_CANCELLED_JOB: &str = "ticketing.refund_cancelled_booking";

const PREFIX: &str = "booking";

/// Published when a partial refund gave back some of a booking's tickets (seats freed).
pub const TICKETS_REFUNDED_TOPIC: &str = "booking.tickets_refunded";

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

#[async_trait::async_trait]
impl Payables for BookingPayables {
    async fn resolve(&self, caller: Caller<'_>, id: &str) -> AppResult<Option<Payable>> {
        let Ok(id) = id.parse::<BookingId>() else { return Ok(None) };
        let Some(shared) = self.0.upgrade() else { return Err(AppError::internal("ticketing stopped")) };
        let svc = shared.bookings();
        let booking = match caller {
            Caller::System => store::booking(svc.db(), id).await?,
            Caller::Request { principal, token } => match svc.booking_for(principal, token, id).await {
                Ok((b, _)) => Some(b),
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

#[derive(Clone, Copy)]
enum Listen {
    Succeeded,
    Refunded,
    Cancelled,
}

struct Listener {
    ticketing: Weak<Shared>,
    payments: Weak<PaymentsService>,
    what: Listen,
}

#[async_trait::async_trait]
impl JobHandler for Listener {
    async fn run(&self, payload: serde_json::Value) -> anyhow::Result<()> {
        let envelope: Envelope = serde_json::from_value(payload)?;
        let (Some(t), Some(p)) = (self.ticketing.upgrade(), self.payments.upgrade()) else {
            anyhow::bail!("services stopped");
        };
        let t = t.bookings();
        let data = &envelope.data;
        let result = match self.what {
            Listen::Cancelled => match data["booking_id"].as_str().and_then(|s| s.parse::<BookingId>().ok()) {
                Some(b) if data["status"].as_str() == Some(BookingStatus::Cancelled.as_str()) => {
                    p.refund_reference(&reference_of(b), "booking cancelled").await.map(|_| ())
                }
                _ => Ok(()),
            },
            // Money taken twice and given back: the booking was paid by another payment.
            Listen::Refunded if data["duplicate"].as_bool() == Some(true) => Ok(()),
            Listen::Succeeded | Listen::Refunded => {
                let booking = data["reference"].as_str().and_then(|r| r.strip_prefix("booking:")).and_then(|s| s.parse().ok());
                let payment = data["payment_id"].as_str().and_then(|s| s.parse().ok()).map(PaymentId);
                match (booking, payment, self.what) {
                    (Some(b), Some(pay), Listen::Succeeded) => t.on_payment_succeeded(&p, b, pay, data).await,
                    (Some(b), Some(_), _) if data["fully_refunded"].as_bool() == Some(true) => t.on_full_refund(b).await,
                    (Some(b), Some(_), _) => {
                        let tickets: Vec<TicketId> = data["items"]
                            .as_array()
                            .map(|a| a.iter().filter_map(|v| v.as_str()?.trim().parse().ok()).collect())
                            .unwrap_or_default();
                        if tickets.is_empty() { Ok(()) } else { t.on_ticket_refund(b, &tickets).await }
                    }
                    _ => Ok(()),
                }
            }
        };
        result.map_err(|e| anyhow::anyhow!("{e}"))
    }
}

/// Makes ticketing the owner of `booking:<id>` references and subscribes it to the payments
/// context's events.
pub(crate) fn connect(shared: &Arc<Shared>, payments: &Arc<PaymentsService>) {
    payments.register_payables(PREFIX, Arc::new(BookingPayables(Arc::downgrade(shared))));
    // A second wiring keeps the first (one payments context per process).
    let _ = shared.payments.set(Arc::downgrade(payments));
    let jobs = &shared.kernel.jobs;
    for (kind, topic, what) in [
        (PAYMENT_SUCCEEDED_JOB, payments::topics::SUCCEEDED, Listen::Succeeded),
        (PAYMENT_REFUNDED_JOB, payments::topics::REFUNDED, Listen::Refunded),
        (BOOKING_CANCELLED_JOB, "booking.cancelled", Listen::Cancelled),
    ] {
        let listener = Listener { ticketing: Arc::downgrade(shared), payments: Arc::downgrade(payments), what };
        jobs.register(kind, Arc::new(listener));
        jobs.subscribe(topic, kind);
    }
}

impl Bookings {
    /// A payment for a booking went through: confirm it (re-taking its seats if its hold
    /// expired), or refund the money when the booking cannot have its tickets.
    async fn on_payment_succeeded(
        &self,
        payments: &PaymentsService,
        id: BookingId,
        payment: PaymentId,
        data: &serde_json::Value,
    ) -> AppResult<()> {
        if data["owner_settled"].as_bool() == Some(true) {
            // Recorded by "mark paid" in the transaction that confirmed the booking.
            return Ok(());
        }
        let Some(b) = store::booking(self.db(), id).await? else { return Ok(()) };
        let paid_tag = format!("payment:{payment}");
        let max = settings_for(self.db(), b.event_id, b.org_id).await?.max_tickets_per_buyer;
        let at = now();
        let mut tx = self.db().begin().await?;
        let Some(cur) = store::lock_booking(&mut tx, id).await? else { return Ok(()) };
        let matches = data["amount"].as_i64() == Some(cur.total) && data["currency"].as_str() == Some(cur.currency.as_str());
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
                };
                self.kernel.queue_mail(&mut tx, &mail).await?;
                self.kernel.commit(tx).await?;
            }
            return Ok(());
        }
        let changes = json!({ "status": "confirmed", "from": cur.status, "paid_reference": paid_tag });
        if self.confirm_in(&mut tx, None, id, cur.status, Some(&paid_tag), changes, at).await?.is_none() {
            return Err(AppError::conflict("invalid_transition", "the booking changed meanwhile"));
        }
        self.kernel.commit(tx).await?;
        Ok(())
    }

    /// A booking's payment was refunded in full: the booking is refunded, its tickets void
    /// and its seats free again.
    async fn on_full_refund(&self, id: BookingId) -> AppResult<()> {
        let at = now();
        let mut tx = self.db().begin().await?;
        let Some(cur) = store::lock_booking(&mut tx, id).await? else { return Ok(()) };
        if !cur.status.is_live() {
            return Ok(());
        }
        let Some(refunded) = store::refund_booking(&mut tx, id, cur.status, at).await? else { return Ok(()) };
        inventory::release_one(&mut tx, &refunded).await?;
        if cur.status == BookingStatus::Confirmed {
            store::cancel_tickets(&mut tx, id, at).await?;
        }
        let positions = store::positions_tx(&mut tx, id).await?;
        audit_booking(&mut tx, None, &refunded, "booking.refunded", json!({ "status": "refunded", "from": cur.status })).await?;
        publish(&mut tx, "booking.cancelled", &booking_event(&refunded, &positions)).await?;
        self.kernel.commit(tx).await?;
        Ok(())
    }

    /// What giving back `items` (ticket ids of a confirmed booking) is worth, with the ids
    /// in canonical form; each must be a valid ticket of the booking (`422` naming
    /// `items[i]` otherwise).
    async fn price_tickets(&self, id: BookingId, items: &[String]) -> AppResult<(i64, Vec<String>)> {
        let Some(b) = store::booking(self.db(), id).await? else { return Err(AppError::validation("items", "no such booking")) };
        if b.status != BookingStatus::Confirmed {
            return Err(AppError::validation(
                "items",
                format!("the booking is {}: only a confirmed booking's tickets can be given back", b.status.as_str()),
            ));
        }
        let tickets = store::tickets(self.db(), id).await?;
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
        let positions = store::positions(self.db(), id).await?;
        let mut price = 0;
        for (ty, n) in per_type {
            let Some(p) = positions.iter().find(|p| p.ticket_type_id == ty) else {
                return Err(AppError::internal(format!("booking {id} has tickets of a type it has no position for")));
            };
            price += domain::give_back(p.unit_price, p.quantity, p.discount, n).0;
        }
        Ok((price, canonical))
    }

    /// A partial refund gave back some tickets of a booking: they are cancelled, their seats
    /// and buyer count released, and the booking keeps what is left. Giving back the last
    /// valid ticket refunds the whole booking.
    async fn on_ticket_refund(&self, id: BookingId, tickets: &[TicketId]) -> AppResult<()> {
        let Some(b) = store::booking(self.db(), id).await? else { return Ok(()) };
        let memberships = catalog_store::memberships(self.db(), b.event_id).await?;
        let at = now();
        let mut tx = self.db().begin().await?;
        let Some(cur) = store::lock_booking(&mut tx, id).await? else { return Ok(()) };
        if cur.status != BookingStatus::Confirmed {
            return Ok(());
        }
        // Attendees are given in the order of the valid tickets: note where the cancelled ones stood.
        let valid_before = store::valid_ticket_seqs(&mut tx, id).await?;
        let cancelled = store::cancel_ticket_ids(&mut tx, id, tickets, at).await?;
        if cancelled.is_empty() {
            return Ok(());
        }
        let given_back = cancelled.len() as i64;
        if given_back >= cur.quantity {
            drop(tx);
            return self.on_full_refund(id).await;
        }
        let mut per_type: BTreeMap<TicketTypeId, i64> = BTreeMap::new();
        for (_, ty) in &cancelled {
            *per_type.entry(*ty).or_default() += 1;
        }
        let positions = store::positions_tx(&mut tx, id).await?;
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
        let (mut subtotal, mut discount) = (cur.subtotal, cur.discount);
        let mut allocations = cur.allocations.0.clone();
        let mut release: BTreeMap<crate::domain::QuotaId, i64> = BTreeMap::new();
        for (&ty, &n) in &per_type {
            if let Some(p) = positions.iter().find(|p| p.ticket_type_id == ty) {
                let n = n.min(p.quantity);
                let (_, discount_after) = domain::give_back(p.unit_price, p.quantity, p.discount, n);
                store::shrink_position(&mut tx, p.id, p.quantity - n, discount_after, at).await?;
                subtotal -= p.unit_price * n;
                discount -= p.discount - discount_after;
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
            subtotal,
            discount,
            allocations: &allocations,
            attendees: &attendees,
        };
        let Some(after) = store::shrink_booking(&mut tx, id, shrunk, at).await? else {
            return Err(AppError::conflict("invalid_transition", "the booking changed meanwhile"));
        };
        let ids: Vec<TicketId> = cancelled.iter().map(|(t, _)| *t).collect();
        let changes = json!({ "tickets": ids, "quantity": after.quantity, "total": after.total, "from_total": cur.total });
        audit_booking(&mut tx, None, &after, "booking.tickets_refunded", changes).await?;
        let positions = store::positions_tx(&mut tx, id).await?;
        let mut event = booking_event(&after, &positions);
        event["tickets"] = json!(ids);
        event["refunded_quantity"] = json!(given_back);
        publish(&mut tx, TICKETS_REFUNDED_TOPIC, &event).await?;
        self.kernel.commit(tx).await?;
        Ok(())
    }
}
