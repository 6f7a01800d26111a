//! Messaging: what Backline tells people because something happened to them. This first
//! part sends the buyer of a confirmed booking their confirmation — a plain-text and an HTML
//! part, the tickets as a PDF (a page per ticket, with its signed QR code) and the event as
//! an `.ics` calendar entry — from the `booking.confirmed` event, after the booking's commit.
//!
//! Each message is sent once per (kind, subject, recipient): the claim on `sent_messages` and
//! the mail job are written in one transaction, so a second delivery of the same domain
//! event (the outbox delivers at least once) finds the claim and sends nothing, and a
//! failure before the commit leaves nothing claimed, to be retried.

mod store;

use std::sync::Arc;

use events::EventsService;
use kernel::Kernel;
use kernel::jobs::Event;
use kernel::mail::{MailAttachment, OutgoingMail};
use ticketing::TicketingService;
use ticketing::events::{BOOKING_CONFIRMED, BookingSnapshot};

/// Job kind that sends the confirmation of a `booking.confirmed` event.
pub const BOOKING_CONFIRMED_MAIL_JOB: &str = "messaging.booking_confirmed";

const TEMPLATES: [(&str, &str); 2] = [
    ("booking_confirmed.txt", include_str!("../templates/booking_confirmed.txt")),
    ("booking_confirmed.html", include_str!("../templates/booking_confirmed.html")),
];

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
        let weak = Arc::downgrade(&svc);
        svc.kernel.jobs.listen(&BOOKING_CONFIRMED, BOOKING_CONFIRMED_MAIL_JOB, move |event: Event<BookingSnapshot>| {
            let weak = weak.clone();
            async move {
                match weak.upgrade() {
                    Some(svc) => svc.booking_confirmed(event.data).await,
                    None => Ok(()),
                }
            }
        });
        Ok(svc)
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
        let mut tx = self.kernel.db.begin().await?;
        let scope = kernel::auth::OrgScope::platform(pack.org_id);
        if store::claim(&mut tx, &scope, BOOKING_CONFIRMED_MAIL_JOB, &subject, &pack.buyer_email).await? {
            self.kernel.queue_mail(&mut tx, &mail).await?;
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
