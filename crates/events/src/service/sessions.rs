//! The agenda of an event: its sessions (sets, talks, slots), read with the event's
//! visibility and changed by its staff.

use kernel::audit::changed_fields;
use kernel::auth::{Principal, Role};
use kernel::time::now;
use kernel::validate::{name_list, optional_long_text, optional_text, required_text};
use kernel::{AppError, AppResult};
use serde_json::json;
use sqlx::types::Json;

use super::{EventsService, Target, strip_bookkeeping};
use crate::domain::{self, EventId, EventSessionId};
use crate::model::*;
use crate::store::{self, SessionRecord};

impl EventsService {
    /// The agenda, by start; visible to whoever may see the event.
    pub async fn sessions(&self, p: Option<&Principal>, event: EventId) -> AppResult<Vec<EventSession>> {
        let row = self.visible_event(p, event).await?;
        let sessions = store::sessions(self.db(), row.event.org_id, event).await?;
        Ok(sessions.into_iter().map(|s| s.into_session(&row.event.time_zone)).collect())
    }

    /// Adds an agenda item (staff and above).
    pub async fn create_session(&self, p: &Principal, event: EventId, req: CreateSession) -> AppResult<EventSession> {
        let (scope, _) = self.writable_event(p, event, Role::Staff).await?;
        let title = required_text("title", &req.title, domain::NAME_MAX)?;
        let description = optional_long_text("description", req.description.as_deref(), domain::SESSION_DESCRIPTION_MAX)?;
        let room = optional_text("room", req.room.as_deref(), domain::ROOM_MAX)?;
        let performers = name_list("performers", &req.performers, domain::PERFORMERS_MAX, domain::PERFORMER_MAX)?;
        let (starts_at, ends_at) =
            domain::time_window(("starts_at", req.starts_at), ("ends_at", req.ends_at), domain::SESSION_MAX_DAYS)?;
        let at = now();
        let mut tx = self.db().begin().await?;
        let e = match store::lock_event(&mut tx, &scope, event).await? {
            Some(e) if e.deleted_at.is_none() => e,
            _ => return Err(AppError::not_found("event")),
        };
        if store::count_sessions(&mut tx, &scope, event).await? >= domain::SESSIONS_MAX {
            return Err(AppError::conflict(
                "too_many_sessions",
                format!("an event has at most {} sessions", domain::SESSIONS_MAX),
            ));
        }
        let session = SessionRecord {
            id: EventSessionId::new(),
            org_id: scope.org(),
            event_id: event,
            title,
            description,
            starts_at,
            ends_at,
            room,
            performers: Json(performers),
            created_at: at,
            updated_at: at,
        };
        store::insert_session(&mut tx, &scope, &session).await?;
        let mut changes = serde_json::to_value(&session)?;
        strip_bookkeeping(&mut changes);
        self.audit(&mut tx, p, &scope, "session.created", Target::Session(session.id), changes).await?;
        self.kernel.commit(tx).await?;
        self.forget(Some(event));
        Ok(session.into_session(&e.time_zone))
    }

    /// Changes an agenda item (staff and above).
    pub async fn update_session(
        &self,
        p: &Principal,
        event: EventId,
        id: EventSessionId,
        req: UpdateSession,
    ) -> AppResult<EventSession> {
        let (scope, e) = self.writable_event(p, event, Role::Staff).await?;
        let title = req.title.as_deref().map(|t| required_text("title", t, domain::NAME_MAX)).transpose()?;
        let description = match &req.description {
            Some(d) => Some(optional_long_text("description", d.as_deref(), domain::SESSION_DESCRIPTION_MAX)?),
            None => None,
        };
        let room = match &req.room {
            Some(r) => Some(optional_text("room", r.as_deref(), domain::ROOM_MAX)?),
            None => None,
        };
        let performers = req
            .performers
            .as_deref()
            .map(|t| name_list("performers", t, domain::PERFORMERS_MAX, domain::PERFORMER_MAX))
            .transpose()?;
        let at = now();
        let mut tx = self.db().begin().await?;
        let Some(old) = store::session(&mut tx, &scope, event, id).await? else { return Err(AppError::not_found("session")) };
        let mut new = old.clone();
        if let Some(t) = title {
            new.title = t;
        }
        if let Some(d) = description {
            new.description = d;
        }
        if let Some(r) = room {
            new.room = r;
        }
        if let Some(perf) = performers {
            new.performers = Json(perf);
        }
        if req.starts_at.is_some() || req.ends_at.is_some() {
            let (s, end) = domain::time_window(
                ("starts_at", req.starts_at.unwrap_or(old.starts_at)),
                ("ends_at", req.ends_at.unwrap_or(old.ends_at)),
                domain::SESSION_MAX_DAYS,
            )?;
            new.starts_at = s;
            new.ends_at = end;
        }
        let changes = changed_fields(&serde_json::to_value(&old)?, &serde_json::to_value(&new)?);
        if changes.as_object().is_some_and(|c| !c.is_empty()) {
            new.updated_at = at;
            store::save_session(&mut tx, &scope, &new).await?;
            self.audit(&mut tx, p, &scope, "session.updated", Target::Session(id), changes).await?;
            self.kernel.commit(tx).await?;
            self.forget(Some(event));
        }
        Ok(new.into_session(&e.time_zone))
    }

    /// Removes an agenda item (staff and above).
    pub async fn delete_session(&self, p: &Principal, event: EventId, id: EventSessionId) -> AppResult<()> {
        let (scope, _) = self.writable_event(p, event, Role::Staff).await?;
        let mut tx = self.db().begin().await?;
        let Some(old) = store::session(&mut tx, &scope, event, id).await? else { return Err(AppError::not_found("session")) };
        store::delete_session(&mut tx, &scope, event, id).await?;
        self.audit(&mut tx, p, &scope, "session.deleted", Target::Session(id), json!({ "title": old.title })).await?;
        self.kernel.commit(tx).await?;
        self.forget(Some(event));
        Ok(())
    }
}
