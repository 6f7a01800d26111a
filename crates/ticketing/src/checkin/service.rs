//! The use cases of check-in: lists (which tickets a door admits, and when) and scans.
//!
//! A scan is answered from what the database says at that moment and recorded under its scan
//! id, whatever the answer. Admission is the insert of a `valid` scan, which the partial
//! unique index `checkins_admitted` lets happen once per list and ticket: two doors scanning
//! the same ticket at the same instant, on one node or several, get one `valid` and one
//! `already_checked_in`. A scan id seen before returns the first answer (`replayed: true`)
//! and changes nothing, so an offline scanner can upload its batch as often as it needs to.
//!
//! QR payloads are verified against the organization's published keys before their ticket
//! is looked up; a forged or damaged one is `invalid`. Codes typed in by hand are looked up
//! directly (they are unguessable, and every scan is logged with its actor).
//!
//! Staff (and above) of the event's organization scan and undo; members read lists and their
//! progress. Scans are high-volume, so the `checkins` table is their log (actor, gate, time);
//! undoing an admission is audited.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::TimeDelta;
use events::EventId;
use kernel::audit::changed_fields;
use kernel::auth::{OrgScope, Principal, Role};
use kernel::pagination::{Page, PageParams};
use kernel::time::{Timestamp, now};
use kernel::{AppError, AppResult};
use serde_json::json;
use sqlx::types::Json;

use super::signing::{self, VerifyError};
use super::store::{self as cstore, CheckinRecord, ListRecord};
use crate::bookings::actor_of;
use crate::bookings::store::TicketRecord;
use crate::domain::{self, CheckinId, CheckinListId, CheckinResult, TicketId, TicketStatus, TicketTypeId};
use crate::events::{CheckinSnapshot, TICKET_CHECKED_IN, TICKET_CHECKIN_UNDONE};
use crate::model::*;
use crate::shared::state::{Shared, feature_service};

/// How far in the future a scanner's clock may be.
const CLOCK_SKEW: TimeDelta = TimeDelta::minutes(5);
/// Name of the list `event_id` check-ins use.
const DEFAULT_LIST_NAME: &str = "All tickets";

/// A scan after validation.
struct Scan {
    scan_id: String,
    /// The QR text or the normalized typed code.
    text: String,
    gate: Option<String>,
    scanned_at: Timestamp,
}

/// What a scan found before it is recorded.
struct Finding {
    result: CheckinResult,
    ticket: Option<(TicketRecord, String)>,
}

/// Check-in at the doors — lists and scans — and the tickets people carry there: their
/// signed QR codes, the organization's signing keys and the ticket PDF. A handle on the
/// shared state; cheap to clone.
#[derive(Clone)]
pub struct CheckIn(Arc<Shared>);

feature_service!(CheckIn);

impl CheckIn {
    // ---- lists ------------------------------------------------------------------------------

    /// The event's check-in lists (members).
    pub async fn checkin_lists(&self, p: &Principal, event: EventId) -> AppResult<Vec<CheckinList>> {
        let (e, scope) = self.managed_event(p, event, Role::Viewer, "event").await?;
        Ok(cstore::lists_of_event(self.db(), &scope, e.id).await?.into_iter().map(list_view).collect())
    }

    /// Creates a check-in list (staff and above).
    pub async fn create_checkin_list(&self, p: &Principal, event: EventId, req: CreateCheckinList) -> AppResult<CheckinList> {
        let (e, scope) = self.managed_event(p, event, Role::Staff, "event").await?;
        let at = now();
        let mut l = ListRecord {
            id: CheckinListId::new(),
            org_id: e.org_id,
            event_id: e.id,
            session_id: None,
            name: domain::required_text("name", &req.name, domain::NAME_MAX)?,
            ticket_type_ids: Json(Vec::new()),
            opens_at: req.opens_at,
            closes_at: req.closes_at,
            created_at: at,
            updated_at: at,
        };
        self.set_list_rules(&mut l, req.session_id, req.ticket_type_ids).await?;
        let mut tx = self.db().begin().await?;
        cstore::insert_list(&mut tx, &scope, &l, false).await?;
        let view = list_view(l);
        self.audit(&mut tx, e.org_id, "checkin_list.created", "checkin_list", view.id.to_string(), serde_json::to_value(&view)?)
            .await?;
        self.kernel.commit(tx).await?;
        Ok(view)
    }

    /// Checks a list's session, ticket types and opening window against its event.
    async fn set_list_rules(
        &self,
        l: &mut ListRecord,
        session: Option<events::EventSessionId>,
        types: Vec<TicketTypeId>,
    ) -> AppResult<()> {
        if let Some(s) = session {
            let sessions = self.events.session_facts(l.org_id, l.event_id).await?;
            if !sessions.iter().any(|f| f.id == s) {
                return Err(AppError::validation("session_id", "no such session in this event"));
            }
        }
        l.session_id = session;
        let Some(catalog) = self.event_catalog(l.event_id).await? else { return Err(AppError::not_found("event")) };
        let mut ids = Vec::with_capacity(types.len());
        for (i, t) in types.into_iter().enumerate() {
            if !catalog.types.contains_key(&t) {
                return Err(AppError::validation(format!("ticket_type_ids[{i}]"), "no such ticket type in this event"));
            }
            if !ids.contains(&t) {
                ids.push(t);
            }
        }
        l.ticket_type_ids = Json(ids);
        if let (Some(o), Some(c)) = (l.opens_at, l.closes_at)
            && c <= o
        {
            return Err(AppError::validation("closes_at", "must be after opens_at"));
        }
        Ok(())
    }

    /// A list of an organization the caller holds `min` in, and the caller's scope there;
    /// `404` otherwise.
    async fn managed_list(&self, p: &Principal, id: CheckinListId, min: Role) -> AppResult<(ListRecord, OrgScope)> {
        let Some(l) = cstore::list(self.db(), id).await? else { return Err(AppError::not_found("checkin list")) };
        let scope = self.access.require_for(p, l.org_id, min, "checkin list").await?;
        Ok((l, scope))
    }

    pub async fn checkin_list(&self, p: &Principal, id: CheckinListId) -> AppResult<CheckinList> {
        Ok(list_view(self.managed_list(p, id, Role::Viewer).await?.0))
    }

    /// Changes a list (staff and above): only the fields present.
    pub async fn update_checkin_list(&self, p: &Principal, id: CheckinListId, req: UpdateCheckinList) -> AppResult<CheckinList> {
        let (mut l, scope) = self.managed_list(p, id, Role::Staff).await?;
        let old = list_view(l.clone());
        if let Some(name) = &req.name {
            l.name = domain::required_text("name", name, domain::NAME_MAX)?;
        }
        if let Some(o) = req.opens_at {
            l.opens_at = o;
        }
        if let Some(c) = req.closes_at {
            l.closes_at = c;
        }
        let session = req.session_id.unwrap_or(l.session_id);
        let types = req.ticket_type_ids.unwrap_or_else(|| l.ticket_type_ids.0.clone());
        self.set_list_rules(&mut l, session, types).await?;
        l.updated_at = now();
        let new = list_view(l.clone());
        let changes = changed_fields(&serde_json::to_value(&old)?, &serde_json::to_value(&new)?);
        let mut tx = self.db().begin().await?;
        cstore::save_list(&mut tx, &scope, &l).await?;
        self.audit(&mut tx, l.org_id, "checkin_list.updated", "checkin_list", l.id.to_string(), changes).await?;
        self.kernel.commit(tx).await?;
        Ok(new)
    }

    /// Deletes a list with its scan log (staff and above). Tickets keep their first
    /// admission time.
    pub async fn delete_checkin_list(&self, p: &Principal, id: CheckinListId) -> AppResult<()> {
        let (l, scope) = self.managed_list(p, id, Role::Staff).await?;
        let mut tx = self.db().begin().await?;
        cstore::delete_list(&mut tx, &scope, l.id).await?;
        self.audit(&mut tx, l.org_id, "checkin_list.deleted", "checkin_list", l.id.to_string(), json!({ "name": l.name }))
            .await?;
        self.kernel.commit(tx).await?;
        Ok(())
    }

    /// How far a list has got: valid tickets it admits, and how many of them came in.
    pub async fn checkin_list_status(&self, p: &Principal, id: CheckinListId) -> AppResult<CheckinListStatus> {
        let (l, scope) = self.managed_list(p, id, Role::Viewer).await?;
        let Some(catalog) = self.event_catalog(l.event_id).await? else { return Err(AppError::not_found("checkin list")) };
        let admitted: HashMap<TicketTypeId, i64> = cstore::admitted_by_type(self.db(), &scope, l.id).await?.into_iter().collect();
        let mut by_type: Vec<CheckinTypeStatus> = cstore::valid_tickets_by_type(self.db(), &scope, l.event_id)
            .await?
            .into_iter()
            .filter(|(t, _)| admits(&l, *t))
            .map(|(t, expected)| CheckinTypeStatus {
                ticket_type_id: t,
                name: catalog.types.get(&t).map(|(r, _)| r.name.clone()).unwrap_or_default(),
                expected,
                checked_in: admitted.get(&t).copied().unwrap_or(0),
            })
            .collect();
        by_type.sort_by(|a, b| {
            let order = |t: &TicketTypeId| catalog.types.get(t).map(|(r, _)| r.sort_order).unwrap_or(i64::MAX);
            order(&a.ticket_type_id).cmp(&order(&b.ticket_type_id)).then(a.ticket_type_id.cmp(&b.ticket_type_id))
        });
        Ok(CheckinListStatus {
            list_id: l.id,
            expected: by_type.iter().map(|t| t.expected).sum(),
            checked_in: by_type.iter().map(|t| t.checked_in).sum(),
            by_type,
        })
    }

    /// The event's tickets as an offline scanner keeps them (staff and above): code, type,
    /// attendee, status and admission on this list, in pages.
    pub async fn checkin_list_tickets(&self, p: &Principal, id: CheckinListId, page: PageParams) -> AppResult<Page<ListTicket>> {
        let (l, scope) = self.managed_list(p, id, Role::Staff).await?;
        let limit = page.limit()?;
        let after: Option<TicketId> = page.decode()?;
        let rows = cstore::list_tickets(self.db(), &scope, l.event_id, l.id, after, limit + 1).await?;
        let items = rows
            .into_iter()
            .map(|r| ListTicket {
                id: r.ticket.id,
                code: r.ticket.code,
                ticket_type_id: r.ticket.ticket_type_id,
                attendee_name: r.ticket.attendee_name,
                status: r.ticket.status,
                checked_in_at: r.admitted_at,
            })
            .collect();
        Ok(Page::from_rows(items, limit, |t: &ListTicket| t.id))
    }

    // ---- scans ------------------------------------------------------------------------------

    /// Answers one scan (staff and above of the event's organization) and records it.
    pub async fn check_in(&self, p: &Principal, req: CheckinRequest) -> AppResult<Checkin> {
        let (list, scope) = self.scan_list(p, req.list_id, req.event_id, "").await?;
        let scan = scan_of(&req, "", true)?;
        self.scan(p, &scope, &list, scan).await
    }

    /// Answers a batch of scans recorded offline, in order; each needs its `scan_id`.
    pub async fn check_in_batch(&self, p: &Principal, req: CheckinBatch) -> AppResult<CheckinBatchResult> {
        if req.scans.is_empty() || req.scans.len() > domain::CHECKIN_BATCH_MAX {
            return Err(AppError::validation("scans", format!("give 1 to {} scans", domain::CHECKIN_BATCH_MAX)));
        }
        // Validate everything before recording anything.
        let mut lists: HashMap<(Option<CheckinListId>, Option<EventId>), (ListRecord, OrgScope)> = HashMap::new();
        let mut scans = Vec::with_capacity(req.scans.len());
        for (i, s) in req.scans.iter().enumerate() {
            let prefix = format!("scans[{i}].");
            let key = (s.list_id, s.event_id);
            if let std::collections::hash_map::Entry::Vacant(slot) = lists.entry(key) {
                slot.insert(self.scan_list(p, s.list_id, s.event_id, &prefix).await?);
            }
            scans.push((key, scan_of(s, &prefix, false)?));
        }
        let mut results = Vec::with_capacity(scans.len());
        for (key, scan) in scans {
            let (list, scope) = &lists[&key];
            results.push(self.scan(p, scope, list, scan).await?);
        }
        Ok(CheckinBatchResult { results })
    }

    /// A scan as recorded (members).
    pub async fn checkin_record(&self, p: &Principal, id: CheckinId) -> AppResult<Checkin> {
        let Some(k) = cstore::checkin(self.db(), id).await? else { return Err(AppError::not_found("checkin")) };
        let scope = self.access.require_for(p, k.org_id, Role::Viewer, "checkin").await?;
        self.checkin_view(&scope, k, false, None).await
    }

    /// Undoes an admission (staff and above), e.g. a ticket scanned at the wrong door: the
    /// ticket can be admitted again. Audited; publishes `ticket.checkin_undone`.
    pub async fn undo_checkin(&self, p: &Principal, id: CheckinId) -> AppResult<Checkin> {
        let Some(k) = cstore::checkin(self.db(), id).await? else { return Err(AppError::not_found("checkin")) };
        let scope = self.access.require_for(p, k.org_id, Role::Staff, "checkin").await?;
        let at = now();
        let mut tx = self.db().begin().await?;
        let Some(undone) = cstore::undo_checkin(&mut tx, &scope, id, &p.actor(), at).await? else {
            let why = match (k.result, k.undone_at) {
                (CheckinResult::Valid, Some(_)) => "this admission was undone already".to_string(),
                (r, _) => format!("only an admission can be undone; this scan was {}", r.as_str()),
            };
            return Err(AppError::conflict("not_undoable", why));
        };
        if let Some(t) = undone.ticket_id {
            cstore::refresh_checked_in(&mut tx, &scope, t, at).await?;
        }
        let changes = json!({ "ticket_id": undone.ticket_id, "list_id": undone.list_id, "scanned_at": undone.scanned_at });
        self.audit(&mut tx, k.org_id, "checkin.undone", "checkin", id.to_string(), changes).await?;
        self.kernel.jobs.publish(&mut tx, &TICKET_CHECKIN_UNDONE, &checkin_event(&undone)).await?;
        self.kernel.commit(tx).await?;
        self.checkin_view(&scope, undone, false, None).await
    }

    /// The list a scan is for: `list_id`, or `event_id`'s default list (created on first
    /// use with the event's id as its id, so every node finds the same one).
    async fn scan_list(
        &self,
        p: &Principal,
        list: Option<CheckinListId>,
        event: Option<EventId>,
        prefix: &str,
    ) -> AppResult<(ListRecord, OrgScope)> {
        match (list, event) {
            (Some(id), None) => self.managed_list(p, id, Role::Staff).await,
            (None, Some(ev)) => {
                let (e, scope) = self.managed_event(p, ev, Role::Staff, "event").await?;
                let id = CheckinListId(e.id.0);
                if let Some(l) = cstore::list(self.db(), id).await? {
                    return Ok((l, scope));
                }
                let at = now();
                let l = ListRecord {
                    id,
                    org_id: e.org_id,
                    event_id: e.id,
                    session_id: None,
                    name: DEFAULT_LIST_NAME.into(),
                    ticket_type_ids: Json(Vec::new()),
                    opens_at: None,
                    closes_at: None,
                    created_at: at,
                    updated_at: at,
                };
                let mut tx = self.db().begin().await?;
                cstore::insert_list(&mut tx, &scope, &l, true).await?;
                self.kernel.commit(tx).await?;
                let l = cstore::list(self.db(), id).await?.ok_or(AppError::not_found("checkin list"))?;
                Ok((l, scope))
            }
            (Some(_), Some(_)) => Err(AppError::validation(format!("{prefix}event_id"), "give list_id or event_id, not both")),
            (None, None) => Err(AppError::validation(format!("{prefix}list_id"), "required (or event_id for the default list)")),
        }
    }

    /// Answers one scan on `list` in the scanning staff member's scope, and records it.
    async fn scan(&self, p: &Principal, scope: &OrgScope, list: &ListRecord, scan: Scan) -> AppResult<Checkin> {
        if let Some(seen) = cstore::checkin_by_scan(self.db(), scope, &scan.scan_id).await? {
            return self.replay(scope, seen, &scan).await;
        }
        let found = self.find(scope, list, &scan).await?;
        let at = now();
        let mut rec = CheckinRecord {
            id: CheckinId::new(),
            org_id: list.org_id,
            event_id: list.event_id,
            list_id: list.id,
            ticket_id: found.ticket.as_ref().map(|(t, _)| t.id),
            scan_id: scan.scan_id.clone(),
            result: found.result,
            code: scan.text.clone(),
            gate: scan.gate.clone(),
            scanned_at: scan.scanned_at,
            actor: actor_of(Some(p)),
            undone_at: None,
            undone_by: None,
            created_at: at,
            updated_at: at,
        };
        let mut tx = self.db().begin().await?;
        if cstore::insert_checkin(&mut tx, scope, &rec).await? == 1 {
            if rec.result == CheckinResult::Valid
                && let Some(t) = rec.ticket_id
            {
                cstore::refresh_checked_in(&mut tx, scope, t, at).await?;
                self.kernel.jobs.publish(&mut tx, &TICKET_CHECKED_IN, &checkin_event(&rec)).await?;
            }
            self.kernel.commit(tx).await?;
            return self.checkin_view(scope, rec, false, found.ticket).await;
        }
        drop(tx);
        // Nothing written: the scan id arrived meanwhile (a concurrent upload of the same
        // batch), or the ticket was admitted on this list already.
        if let Some(seen) = cstore::checkin_by_scan(self.db(), scope, &scan.scan_id).await? {
            return self.replay(scope, seen, &scan).await;
        }
        rec.result = CheckinResult::AlreadyCheckedIn;
        let mut tx = self.db().begin().await?;
        let written = cstore::insert_checkin(&mut tx, scope, &rec).await?;
        self.kernel.commit(tx).await?;
        if written == 0
            && let Some(seen) = cstore::checkin_by_scan(self.db(), scope, &scan.scan_id).await?
        {
            return self.replay(scope, seen, &scan).await;
        }
        self.checkin_view(scope, rec, false, found.ticket).await
    }

    /// The first answer to a scan id, unless the id now comes with another code.
    async fn replay(&self, scope: &OrgScope, seen: CheckinRecord, scan: &Scan) -> AppResult<Checkin> {
        if seen.code != scan.text {
            return Err(AppError::conflict("scan_id_reused", format!("scan id {} was used for another code", scan.scan_id)));
        }
        self.checkin_view(scope, seen, true, None).await
    }

    /// What the database says of a scan on `list` now.
    async fn find(&self, scope: &OrgScope, list: &ListRecord, scan: &Scan) -> AppResult<Finding> {
        let none = |result| Ok(Finding { result, ticket: None });
        let (code, valid_from) = if scan.text.starts_with("BL1.") {
            let Ok((claims, _)) = signing::read_unverified(&scan.text) else { return none(CheckinResult::Invalid) };
            if claims.org_id != list.org_id.0 {
                return none(CheckinResult::WrongEvent);
            }
            let mut verified = signing::verify(&scan.text, &self.org_keys(list.org_id, false).await?.verifying);
            if matches!(verified, Err(VerifyError::UnknownKey(_))) {
                // Perhaps rotated on another node since this one read the keys.
                verified = signing::verify(&scan.text, &self.org_keys(list.org_id, true).await?.verifying);
            }
            match verified {
                Ok(claims) => (claims.code, claims.valid_from),
                Err(_) => return none(CheckinResult::Invalid),
            }
        } else {
            (scan.text.clone(), None)
        };
        let Some((t, type_name)) = cstore::ticket_by_code(self.db(), scope, &code).await? else {
            return none(CheckinResult::Unknown);
        };
        let result = if t.event_id != list.event_id {
            CheckinResult::WrongEvent
        } else if !admits(list, t.ticket_type_id) {
            CheckinResult::WrongTicketType
        } else if t.status == TicketStatus::Cancelled {
            CheckinResult::Cancelled
        } else if list.opens_at.is_some_and(|o| scan.scanned_at < o)
            || valid_from.is_some_and(|v| scan.scanned_at.timestamp() < v)
        {
            CheckinResult::NotYetValid
        } else if list.closes_at.is_some_and(|c| scan.scanned_at > c) {
            CheckinResult::Closed
        } else {
            CheckinResult::Valid
        };
        Ok(Finding { result, ticket: Some((t, type_name)) })
    }

    /// A scan as answered. `known`: its ticket as the scan just found it (saves reading it
    /// again); otherwise it is read.
    async fn checkin_view(
        &self,
        scope: &OrgScope,
        k: CheckinRecord,
        replayed: bool,
        known: Option<(TicketRecord, String)>,
    ) -> AppResult<Checkin> {
        let ticket = match (known, k.ticket_id) {
            (Some(found), _) => Some(found),
            (None, Some(id)) => cstore::ticket_by_id(self.db(), scope, id).await?,
            (None, None) => None,
        };
        let previous = match (k.result, &ticket) {
            (CheckinResult::AlreadyCheckedIn, Some((t, _))) => cstore::admission(self.db(), scope, k.list_id, t.id)
                .await?
                .map(|a| PreviousCheckin { checkin_id: a.id, checked_in_at: a.scanned_at, gate: a.gate, list_id: a.list_id }),
            _ => None,
        };
        let message = message(k.result, ticket.as_ref(), previous.as_ref());
        Ok(Checkin {
            id: k.id,
            scan_id: k.scan_id,
            list_id: k.list_id,
            result: k.result,
            admitted: k.result == CheckinResult::Valid && k.undone_at.is_none(),
            message,
            ticket: ticket.map(|(t, name)| ScannedTicket {
                id: t.id,
                code: t.code,
                event_id: t.event_id,
                booking_id: t.booking_id,
                ticket_type_id: t.ticket_type_id,
                ticket_type_name: name,
                attendee_name: t.attendee_name,
                status: t.status,
            }),
            previous,
            gate: k.gate,
            scanned_at: k.scanned_at,
            replayed,
            undone_at: k.undone_at,
        })
    }
}

/// Whether the list admits a ticket type.
fn admits(l: &ListRecord, t: TicketTypeId) -> bool {
    l.ticket_type_ids.0.is_empty() || l.ticket_type_ids.0.contains(&t)
}

/// A request's scan, validated; fields are reported under `prefix` (`scans[3].`).
fn scan_of(req: &CheckinRequest, prefix: &str, scan_id_optional: bool) -> AppResult<Scan> {
    let text = domain::scanned_text(&format!("{prefix}code"), &req.code)?;
    let scan_id = match (&req.scan_id, scan_id_optional) {
        (Some(s), _) => domain::scan_id(&format!("{prefix}scan_id"), s)?,
        (None, true) => CheckinId::new().to_string(),
        (None, false) => return Err(AppError::validation(format!("{prefix}scan_id"), "required in a batch")),
    };
    let gate = domain::optional_text(&format!("{prefix}gate"), req.gate.as_deref(), domain::GATE_MAX)?;
    let at = now();
    let scanned_at = req.scanned_at.unwrap_or(at);
    if scanned_at > at + CLOCK_SKEW {
        return Err(AppError::validation(format!("{prefix}scanned_at"), "is in the future; check the scanner's clock"));
    }
    Ok(Scan { scan_id, text, gate, scanned_at })
}

fn message(r: CheckinResult, ticket: Option<&(TicketRecord, String)>, previous: Option<&PreviousCheckin>) -> String {
    let who = ticket.map(|(t, name)| match &t.attendee_name {
        Some(a) => format!("{name}, {a}"),
        None => name.clone(),
    });
    match r {
        CheckinResult::Valid => format!("Admit: {}", who.unwrap_or_default()),
        CheckinResult::AlreadyCheckedIn => match previous {
            Some(p) => format!(
                "Already checked in at {}{}",
                p.checked_in_at.format("%Y-%m-%d %H:%M:%S UTC"),
                p.gate.as_deref().map(|g| format!(" ({g})")).unwrap_or_default()
            ),
            None => "Already checked in".into(),
        },
        CheckinResult::WrongEvent => "Do not admit: the ticket is for another event".into(),
        CheckinResult::WrongTicketType => {
            format!("Do not admit here: {} is not admitted at this door", ticket.map(|(_, n)| n.as_str()).unwrap_or("this type"))
        }
        CheckinResult::Cancelled => "Do not admit: the ticket was cancelled".into(),
        CheckinResult::NotYetValid => "Not yet: this ticket is not valid yet".into(),
        CheckinResult::Closed => "Do not admit: this door has closed".into(),
        CheckinResult::Unknown => "Do not admit: no ticket has this code".into(),
        CheckinResult::Invalid => "Do not admit: the QR code is forged or damaged".into(),
    }
}

fn list_view(l: ListRecord) -> CheckinList {
    CheckinList {
        id: l.id,
        org_id: l.org_id,
        event_id: l.event_id,
        session_id: l.session_id,
        name: l.name,
        ticket_type_ids: l.ticket_type_ids.0,
        opens_at: l.opens_at,
        closes_at: l.closes_at,
        created_at: l.created_at,
        updated_at: l.updated_at,
    }
}

/// The payload of `ticket.checked_in` and `ticket.checkin_undone`.
pub(crate) fn checkin_event(k: &CheckinRecord) -> CheckinSnapshot {
    CheckinSnapshot {
        checkin_id: k.id,
        ticket_id: k.ticket_id,
        org_id: k.org_id,
        event_id: k.event_id,
        list_id: k.list_id,
        gate: k.gate.clone(),
        scanned_at: k.scanned_at,
        undone_at: k.undone_at,
    }
}
