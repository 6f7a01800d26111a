//! The use cases of an event's ticketing settings: hold time, per-buyer cap, waitlist offer
//! time and tiers. An event without saved settings has the defaults.

use events::{EventFacts, EventId};
use kernel::audit::changed_fields;
use kernel::auth::{Principal, Role};
use kernel::time::now;
use kernel::{AppResult, Db};
use sqlx::types::Json;

use super::Catalog;
use super::store::{self, SettingsRecord};
use crate::domain;
use crate::model::{TicketingSettings, UpdateTicketingSettings};

/// The event's settings, or the defaults when none were saved.
pub(crate) async fn settings_for(db: &Db, event: EventId) -> AppResult<SettingsRecord> {
    Ok(match store::settings(db, event).await? {
        Some(s) => s,
        None => default_settings(event),
    })
}

impl Catalog {
    /// The event's settings, or the defaults when none were saved.
    pub(crate) async fn settings_record(&self, e: &EventFacts) -> AppResult<SettingsRecord> {
        settings_for(self.db(), e.id).await
    }

    /// The event's ticketing settings (members).
    pub async fn settings(&self, p: &Principal, event: EventId) -> AppResult<TicketingSettings> {
        let (e, _) = self.managed_event(p, event, Role::Viewer, "event").await?;
        Ok(settings_view(&self.settings_record(&e).await?))
    }

    /// Changes the event's ticketing settings (staff and above): only the fields present.
    pub async fn update_settings(
        &self,
        p: &Principal,
        event: EventId,
        req: UpdateTicketingSettings,
    ) -> AppResult<TicketingSettings> {
        let (e, scope) = self.managed_event(p, event, Role::Staff, "event").await?;
        let mut s = self.settings_record(&e).await?;
        let old = settings_view(&s);
        domain::apply_settings(&mut s, &req)?;
        let new = settings_view(&s);
        let changes = changed_fields(&serde_json::to_value(&old)?, &serde_json::to_value(&new)?);
        if changes.as_object().is_some_and(|c| !c.is_empty()) {
            s.updated_at = now();
            let mut tx = self.db().begin().await?;
            store::save_settings(&mut tx, &scope, &s).await?;
            self.audit(&mut tx, e.org_id, "ticketing_settings.updated", "event", e.id.to_string(), changes).await?;
            self.kernel.commit(tx).await?;
            self.forget(e.id);
        }
        Ok(new)
    }
}

fn default_settings(event_id: EventId) -> SettingsRecord {
    let at = now();
    SettingsRecord {
        event_id,
        hold_seconds: domain::HOLD_SECONDS_DEFAULT,
        max_tickets_per_buyer: None,
        waitlist_offer_hours: domain::WAITLIST_OFFER_HOURS_DEFAULT,
        waitlist_tiers: Json(vec!["vip".to_string(), "standard".to_string()]),
        waitlist_offer_seconds: domain::WAITLIST_OFFER_HOURS_DEFAULT * 3600,
        created_at: at,
        updated_at: at,
    }
}

fn settings_view(s: &SettingsRecord) -> TicketingSettings {
    TicketingSettings {
        event_id: s.event_id,
        hold_seconds: s.hold_seconds,
        hold_minutes: s.hold_seconds / 60,
        max_tickets_per_buyer: s.max_tickets_per_buyer,
        waitlist_offer_hours: s.waitlist_offer_hours,
        waitlist_offer_seconds: s.waitlist_offer_seconds,
        waitlist_tiers: s.waitlist_tiers.0.clone(),
    }
}
