//! Reminders before an event: 24 and 2 hours before it starts, to every confirmed booking's
//! buyer. They are scheduled with the confirmation (as jobs due at those times); when one
//! comes due it looks again — a cancelled booking or event gets none, and if the event was
//! moved the reminder moves with it (rescheduled for the new start, or dropped if that
//! moment has passed). One reminder per booking, offset and start time.

use chrono::{DateTime, TimeDelta, Utc};
use kernel::jobs::JobKind;
use kernel::time::now;
use kernel::{AppResult, Tx};
use serde::{Deserialize, Serialize};
use ticketing::{BookingId, BookingStatus};

use crate::{MessagingService, Notice};

/// Hours before the start at which a ticket holder is reminded.
pub const REMINDER_HOURS: [i64; 2] = [24, 2];

pub const REMINDER_JOB: JobKind<ReminderJob> = JobKind::new("messaging.reminder");

/// A reminder due `hours_before` the event's start, as the start was when it was scheduled.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReminderJob {
    pub booking_id: BookingId,
    pub hours_before: i64,
    pub starts_at: DateTime<Utc>,
}

impl MessagingService {
    /// Schedules the reminders still ahead of `starts_at`, in the caller's transaction.
    pub(crate) async fn schedule_reminders(
        &self,
        tx: &mut Tx<'_>,
        booking_id: BookingId,
        starts_at: DateTime<Utc>,
    ) -> AppResult<()> {
        for hours_before in REMINDER_HOURS {
            let due = starts_at - TimeDelta::hours(hours_before);
            if due > now() {
                self.kernel.jobs.enqueue_at(tx, &REMINDER_JOB, &ReminderJob { booking_id, hours_before, starts_at }, due).await?;
            }
        }
        Ok(())
    }

    pub(crate) async fn remind(&self, job: ReminderJob) -> anyhow::Result<()> {
        let Some(b) = self.ticketing.bookings().summary_for_listener(job.booking_id).await? else { return Ok(()) };
        if b.status != BookingStatus::Confirmed {
            return Ok(());
        }
        let Some(event) = self.events.event_facts(b.event_id).await? else { return Ok(()) };
        if event.deleted || event.status != events::EventStatus::Published {
            return Ok(());
        }
        if event.starts_at != job.starts_at {
            // The event moved: remind relative to the new start, if that is still ahead.
            let due = event.starts_at - TimeDelta::hours(job.hours_before);
            if due > now() {
                let mut tx = self.kernel.db.begin().await?;
                let moved = ReminderJob { starts_at: event.starts_at, ..job };
                self.kernel.jobs.enqueue_at(&mut tx, &REMINDER_JOB, &moved, due).await?;
                self.kernel.commit(tx).await?;
            }
            return Ok(());
        }
        let zone = kernel::validate::zone_of(&event.time_zone);
        let local = event.starts_at.with_timezone(&zone).format("%a %-d %b %Y, %H:%M");
        let when = if job.hours_before >= 24 { "tomorrow".to_string() } else { format!("in {} hours", job.hours_before) };
        let mut paragraphs = vec![format!("a reminder: {} starts {when}, on {local} ({}).", event.name, event.time_zone)];
        if let Some(venue) = [event.venue_name.clone(), event.venue_address.clone(), event.venue_city.clone()]
            .into_iter()
            .flatten()
            .reduce(|a, b| format!("{a}, {b}"))
        {
            paragraphs.push(format!("Where: {venue}."));
        }
        paragraphs.push("Your tickets are in the confirmation mail (the PDF): show the QR code at the door.".into());
        self.send_notice(Notice {
            kind: REMINDER_JOB.name(),
            subject_id: format!("{}:{}h:{}", b.id, job.hours_before, job.starts_at.timestamp()),
            org_id: b.org_id,
            to: b.buyer_email,
            name: b.buyer_name,
            subject: format!("{} starts {when}", event.name),
            code: b.code,
            event: event.name,
            paragraphs,
        })
        .await
    }
}
