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
//!   `refunded`) so the waitlist runs. Partial refunds leave the tickets valid.
//! * `booking.cancelled` → whatever is left of the booking's payments is refunded (staff
//!   cancelling a paid booking).

use std::sync::{Arc, Weak};

use kernel::jobs::{Envelope, JobHandler, publish};
use kernel::mail::OutgoingMail;
use kernel::time::now;
use kernel::{AppError, AppResult};
use payments::{Caller, Payable, PayableState, Payables, PaymentId, PaymentsService};
use serde_json::json;

use super::TicketingService;
use super::bookings::{Shortfall, audit_booking, booking_event};
use crate::domain::{BookingId, BookingStatus};
use crate::store;

pub const PAYMENT_SUCCEEDED_JOB: &str = "ticketing.payment_succeeded";
pub const PAYMENT_REFUNDED_JOB: &str = "ticketing.payment_refunded";
pub const BOOKING_CANCELLED_JOB: &str = "ticketing.refund_cancelled_booking";

const PREFIX: &str = "booking";

struct BookingPayables(Weak<TicketingService>);

#[async_trait::async_trait]
impl Payables for BookingPayables {
    async fn resolve(&self, caller: Caller<'_>, id: &str) -> AppResult<Option<Payable>> {
        let Ok(id) = id.parse::<BookingId>() else { return Ok(None) };
        let Some(svc) = self.0.upgrade() else { return Err(AppError::internal("ticketing stopped")) };
        let booking = match caller {
            Caller::System => store::booking(svc.db(), id).await?,
            Caller::Request { principal, token } => match svc.booking_for(principal, token, id).await {
                Ok((b, _)) => Some(b),
                Err(AppError::NotFound { .. }) => None,
                Err(e) => return Err(e),
            },
        };
        Ok(booking.map(|b| Payable {
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
        }))
    }
}

#[derive(Clone, Copy)]
enum Listen {
    Succeeded,
    Refunded,
    Cancelled,
}

struct Listener {
    ticketing: Weak<TicketingService>,
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
        let data = &envelope.data;
        let result = match self.what {
            Listen::Cancelled => match data["booking_id"].as_str().and_then(|s| s.parse::<BookingId>().ok()) {
                Some(b) => p.refund_reference(&format!("{PREFIX}:{b}"), "booking cancelled").await.map(|_| ()),
                None => Ok(()),
            },
            Listen::Succeeded | Listen::Refunded => {
                let booking = data["reference"].as_str().and_then(|r| r.strip_prefix("booking:")).and_then(|s| s.parse().ok());
                let payment = data["payment_id"].as_str().and_then(|s| s.parse().ok()).map(PaymentId);
                match (booking, payment, self.what) {
                    (Some(b), Some(pay), Listen::Succeeded) => t.on_payment_succeeded(&p, b, pay, data).await,
                    (Some(b), Some(_), _) if data["fully_refunded"].as_bool() == Some(true) => t.on_full_refund(b).await,
                    _ => Ok(()),
                }
            }
        };
        result.map_err(|e| anyhow::anyhow!("{e}"))
    }
}

impl TicketingService {
    /// Makes ticketing the owner of `booking:<id>` references and subscribes it to the
    /// payments context's events.
    pub fn connect_payments(self: &Arc<Self>, payments: &Arc<PaymentsService>) {
        payments.register_payables(PREFIX, Arc::new(BookingPayables(Arc::downgrade(self))));
        let jobs = &self.kernel.jobs;
        for (kind, topic, what) in [
            (PAYMENT_SUCCEEDED_JOB, payments::topics::SUCCEEDED, Listen::Succeeded),
            (PAYMENT_REFUNDED_JOB, payments::topics::REFUNDED, Listen::Refunded),
            (BOOKING_CANCELLED_JOB, "booking.cancelled", Listen::Cancelled),
        ] {
            let listener = Listener { ticketing: Arc::downgrade(self), payments: Arc::downgrade(payments), what };
            jobs.register(kind, Arc::new(listener));
            jobs.subscribe(topic, kind);
        }
    }

    /// A payment for a booking went through: confirm it (re-taking its seats if its hold
    /// expired), or refund the money when the booking cannot have its tickets.
    async fn on_payment_succeeded(
        &self,
        payments: &PaymentsService,
        id: BookingId,
        payment: PaymentId,
        data: &serde_json::Value,
    ) -> AppResult<()> {
        let Some(b) = store::booking(self.db(), id).await? else { return Ok(()) };
        let paid_tag = format!("payment:{payment}");
        let max = self.settings_for(b.event_id, b.org_id).await?.max_tickets_per_buyer;
        let at = now();
        let mut tx = self.db().begin().await?;
        let Some(cur) = store::lock_booking(&mut tx, id).await? else { return Ok(()) };
        let matches = data["amount"].as_i64() == Some(cur.total) && data["currency"].as_str() == Some(cur.currency.as_str());
        let refund_why = match cur.status {
            BookingStatus::Confirmed if cur.paid_reference.as_deref() == Some(paid_tag.as_str()) => return Ok(()),
            _ if !matches => Some("the payment does not match the booking's total"),
            BookingStatus::PendingPayment => None,
            BookingStatus::Expired => match self.take_inventory(&mut tx, &cur, max).await? {
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
        self.release_inventory(&mut tx, &refunded).await?;
        if cur.status == BookingStatus::Confirmed {
            store::cancel_tickets(&mut tx, id, at).await?;
        }
        let positions = store::positions_tx(&mut tx, id).await?;
        audit_booking(&mut tx, None, &refunded, "booking.refunded", json!({ "status": "refunded", "from": cur.status })).await?;
        publish(&mut tx, "booking.cancelled", &booking_event(&refunded, &positions)).await?;
        self.kernel.commit(tx).await?;
        Ok(())
    }
}
