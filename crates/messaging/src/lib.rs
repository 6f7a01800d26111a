//! Messaging: what Backline tells people because something happened to them, from the
//! domain events after their commit. A booking's buyer gets its confirmation
//! (`booking.confirmed`: a plain-text and an HTML part, the tickets as a PDF — a page per
//! ticket with its signed QR code — and the event as an `.ics`), a notice when it is
//! cancelled (`booking.cancelled`), one per refund with its amount (`payment.refunded`), and
//! reminders 24 and 2 hours before the event ([`reminders`]).
//!
//! Each message is sent once per (kind, subject, recipient): the claim on `sent_messages` and
//! the mail job are written in one transaction, so a second delivery of the same domain
//! event (the outbox delivers at least once) finds the claim and sends nothing, and a
//! failure before the commit leaves nothing claimed, to be retried.

mod reminders;
mod store;

pub use reminders::{REMINDER_HOURS, REMINDER_JOB, ReminderJob};

use std::sync::Arc;

use events::EventsService;
use kernel::Kernel;
use kernel::jobs::{Event, Topic};
use kernel::mail::{MailAttachment, OutgoingMail};
use payments::events::{PAYMENT_REFUNDED, PaymentRefunded};
use ticketing::TicketingService;
use ticketing::events::{BOOKING_CANCELLED, BOOKING_CONFIRMED, BookingSnapshot};

/// Job kind that sends the confirmation of a `booking.confirmed` event.
pub const BOOKING_CONFIRMED_MAIL_JOB: &str = "messaging.booking_confirmed";

/// Job kind that tells the buyer of a `booking.cancelled` booking.
pub const BOOKING_CANCELLED_MAIL_JOB: &str = "messaging.booking_cancelled";
/// Job kind that tells the buyer of a booking about a `payment.refunded`.
pub const PAYMENT_REFUNDED_MAIL_JOB: &str = "messaging.payment_refunded";

const TEMPLATES: [(&str, &str); 4] = [
    ("booking_confirmed.txt", include_str!("../templates/booking_confirmed.txt")),
    ("booking_confirmed.html", include_str!("../templates/booking_confirmed.html")),
    ("notice.txt", include_str!("../templates/notice.txt")),
    ("notice.html", include_str!("../templates/notice.html")),
];

/// A short notice about an order: a greeting, paragraphs, and the order it is about.
struct Notice {
    kind: &'static str,
    /// What the notice is about (a booking, a refund): one notice per subject and recipient.
    subject_id: String,
    org_id: kernel::id::OrgId,
    to: String,
    name: String,
    subject: String,
    code: String,
    event: String,
    paragraphs: Vec<String>,
}

fn money(minor: i64, currency: &str) -> String {
    kernel::money::Money::from_row(minor, currency).map(|m| m.to_string()).unwrap_or_else(|_| format!("{minor} {currency}"))
}

/// Runs `act` for every `topic` event as job `kind`, while the service lives (the listener
/// holds it weakly: the app owns it).
fn subscribe<T, F, Fut>(svc: &Arc<MessagingService>, topic: &Topic<T>, kind: &str, act: F)
where
    T: serde::de::DeserializeOwned + Send + 'static,
    F: Fn(Arc<MessagingService>, T) -> Fut + Send + Sync + Copy + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let weak = Arc::downgrade(svc);
    svc.kernel.jobs.listen(topic, kind, move |event: Event<T>| {
        let weak = weak.clone();
        async move {
            match weak.upgrade() {
                Some(svc) => act(svc, event.data).await,
                None => Ok(()),
            }
        }
    });
}

pub struct MessagingService {
    kernel: Arc<Kernel>,
    events: Arc<EventsService>,
    ticketing: Arc<TicketingService>,
    templates: minijinja::Environment<'static>,
}

impl MessagingService {
    /// Builds the service and subscribes it to the domain events it answers.
    pub fn new(
        kernel: Arc<Kernel>,
        events: Arc<EventsService>,
        ticketing: Arc<TicketingService>,
    ) -> anyhow::Result<Arc<MessagingService>> {
        let mut templates = minijinja::Environment::new();
        templates.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        // `.html` templates escape what they print; the plain-text ones print it as it is.
        templates.set_auto_escape_callback(|name| {
            if name.ends_with(".html") { minijinja::AutoEscape::Html } else { minijinja::AutoEscape::None }
        });
        for (name, source) in TEMPLATES {
            templates.add_template(name, source)?;
        }
        let svc = Arc::new(MessagingService { kernel, events, ticketing, templates });
        subscribe(&svc, &BOOKING_CONFIRMED, BOOKING_CONFIRMED_MAIL_JOB, |svc, b| async move { svc.booking_confirmed(b).await });
        subscribe(&svc, &BOOKING_CANCELLED, BOOKING_CANCELLED_MAIL_JOB, |svc, b| async move { svc.booking_cancelled(b).await });
        subscribe(&svc, &PAYMENT_REFUNDED, PAYMENT_REFUNDED_MAIL_JOB, |svc, r| async move { svc.payment_refunded(r).await });
        let weak = Arc::downgrade(&svc);
        svc.kernel.jobs.handle(&REMINDER_JOB, move |job: ReminderJob| {
            let weak = weak.clone();
            async move {
                match weak.upgrade() {
                    Some(svc) => svc.remind(job).await,
                    None => Ok(()),
                }
            }
        });
        Ok(svc)
    }

    async fn event_name(&self, id: events::EventId) -> anyhow::Result<String> {
        Ok(self.events.event_facts(id).await?.map(|e| e.name).unwrap_or_else(|| "an event".into()))
    }

    /// The booking's seats went back: it was cancelled (by its buyer or the organizer) or
    /// refunded in full.
    async fn booking_cancelled(&self, b: BookingSnapshot) -> anyhow::Result<()> {
        let event = self.event_name(b.event_id).await?;
        let mut paragraphs =
            vec![format!("your order {} for {event} has been cancelled; its tickets are no longer valid.", b.code)];
        paragraphs.push(if b.total == 0 {
            "It was free, so there is nothing to refund.".to_string()
        } else if b.status == ticketing::BookingStatus::Refunded {
            format!("The whole amount, {}, is refunded the way you paid.", money(b.total, &b.currency))
        } else {
            "Whatever you paid for it is refunded the way you paid; you will get a note when the refund has gone through."
                .to_string()
        });
        self.send_notice(Notice {
            kind: BOOKING_CANCELLED_MAIL_JOB,
            subject_id: b.booking_id.to_string(),
            org_id: b.org_id,
            to: b.buyer_email,
            name: b.buyer_name,
            subject: format!("Your order {} for {event} was cancelled", b.code),
            code: b.code,
            event,
            paragraphs,
        })
        .await
    }

    /// Money went back to a booking's buyer (a whole order, some tickets, or a goodwill sum).
    async fn payment_refunded(&self, r: PaymentRefunded) -> anyhow::Result<()> {
        let Some(booking) = r.payment.reference.strip_prefix("booking:").and_then(|id| id.parse().ok()) else { return Ok(()) };
        let Some(b) = self.ticketing.bookings().summary_for_listener(booking).await? else { return Ok(()) };
        let event = self.event_name(b.event_id).await?;
        let amount = money(r.refund_amount, &r.payment.currency);
        let mut paragraphs = vec![format!("we have refunded {amount} for your order {} for {event}.", b.code)];
        if !r.items.is_empty() {
            let n = r.items.len();
            paragraphs.push(if n == 1 {
                "It is the price of one ticket, which is now cancelled; your other tickets stay valid.".to_string()
            } else {
                format!("It is the price of {n} tickets, which are now cancelled; any others stay valid.")
            });
        }
        if r.payment.test_mode {
            paragraphs.push("(A test-mode payment: no real money moved.)".to_string());
        }
        paragraphs.push("It can take a few days to show on your statement.".to_string());
        self.send_notice(Notice {
            kind: PAYMENT_REFUNDED_MAIL_JOB,
            subject_id: r.refund_id.to_string(),
            org_id: b.org_id,
            to: r.payment.buyer_email,
            name: b.buyer_name,
            subject: format!("{amount} refunded for order {}", b.code),
            code: b.code,
            event,
            paragraphs,
        })
        .await
    }

    async fn send_notice(&self, n: Notice) -> anyhow::Result<()> {
        let ctx = minijinja::context! { name => n.name, paragraphs => n.paragraphs, code => n.code, event => n.event };
        let mail = OutgoingMail {
            to: n.to.clone(),
            subject: n.subject,
            text: self.templates.get_template("notice.txt")?.render(&ctx)?,
            html: Some(self.templates.get_template("notice.html")?.render(&ctx)?),
            attachments: Vec::new(),
        };
        let mut tx = self.kernel.db.begin().await?;
        if store::claim(&mut tx, &kernel::auth::OrgScope::platform(n.org_id), n.kind, &n.subject_id, &n.to).await? {
            self.kernel.queue_mail(&mut tx, &mail).await?;
            self.kernel.commit(tx).await?;
        }
        Ok(())
    }

    async fn booking_confirmed(&self, b: BookingSnapshot) -> anyhow::Result<()> {
        let subject = b.booking_id.to_string();
        if store::already_sent(self.kernel.db.clone(), BOOKING_CONFIRMED_MAIL_JOB, &subject, &b.buyer_email).await? {
            return Ok(());
        }
        // Cancelled again before this ran, or every ticket refunded: nothing to confirm.
        let Some(pack) = self.ticketing.check_in().confirmation_pack(b.booking_id).await? else { return Ok(()) };
        let total = match kernel::money::Money::from_row(pack.total, &pack.currency) {
            Ok(m) if pack.total > 0 => m.to_string(),
            _ => "free".to_string(),
        };
        let ctx = minijinja::context! {
            name => pack.buyer_name, code => pack.code, event => pack.event_name,
            starts => pack.starts_at_local, venue => pack.venue, tickets => pack.tickets, total => total,
        };
        let text = self.templates.get_template("booking_confirmed.txt")?.render(&ctx)?;
        let html = self.templates.get_template("booking_confirmed.html")?.render(&ctx)?;
        let mut attachments = vec![MailAttachment::new(&format!("tickets-{}.pdf", pack.code), "application/pdf", &pack.pdf)];
        // The calendar entry of a published event (a draft's has no public page to link).
        match self.events.event_ical(None, pack.event_id).await {
            Ok(ics) => attachments.push(MailAttachment::new("event.ics", "text/calendar; charset=utf-8", ics.as_bytes())),
            Err(e) => tracing::info!(booking = %pack.booking_id, error = %e, "confirmation sent without a calendar entry"),
        }
        let mail = OutgoingMail {
            to: pack.buyer_email.clone(),
            subject: format!("Your tickets for {} (order {})", pack.event_name, pack.code),
            text,
            html: Some(html),
            attachments,
        };
        // Read before the transaction: a job holding a write connection while it waits for
        // another one would starve the pool when a rush confirms many bookings at once.
        let starts_at = self.events.event_facts(pack.event_id).await?.map(|e| e.starts_at);
        let mut tx = self.kernel.db.begin().await?;
        let scope = kernel::auth::OrgScope::platform(pack.org_id);
        if store::claim(&mut tx, &scope, BOOKING_CONFIRMED_MAIL_JOB, &subject, &pack.buyer_email).await? {
            self.kernel.queue_mail(&mut tx, &mail).await?;
            // Reminders are scheduled once, with the confirmation.
            if let Some(starts_at) = starts_at {
                self.schedule_reminders(&mut tx, pack.booking_id, starts_at).await?;
            }
            self.kernel.commit(tx).await?;
            tracing::info!(booking = %pack.booking_id, "booking confirmation queued");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_confirmation_renders_in_both_parts_and_escapes_html() {
        let mut env = minijinja::Environment::new();
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") { minijinja::AutoEscape::Html } else { minijinja::AutoEscape::None }
        });
        for (name, source) in TEMPLATES {
            env.add_template(name, source).unwrap();
        }
        let ctx = minijinja::context! { name => "Robin <R>", code => "ABC", event => "Jazz & Co", starts => "2030-06-01 20:00 (Europe/Berlin)",
        venue => "Lido, Berlin", tickets => 2, total => "25.00 EUR" };
        let text = env.get_template("booking_confirmed.txt").unwrap().render(&ctx).unwrap();
        assert!(text.contains("Hi Robin <R>,") && text.contains("Jazz & Co") && text.contains("Total:   25.00 EUR"), "{text}");
        let html = env.get_template("booking_confirmed.html").unwrap().render(&ctx).unwrap();
        assert!(html.contains("Robin &lt;R&gt;") && html.contains("Jazz &amp; Co"), "{html}");
    }
}
