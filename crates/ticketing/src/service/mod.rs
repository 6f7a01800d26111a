//! Ticketing use cases. Every method takes the acting principal (or `None` for an anonymous
//! buyer) and checks what it may do; every mutation runs in one transaction with its audit
//! record and domain events, then commits through [`Kernel::commit`].
//!
//! Access: the catalog (ticket types, quotas, vouchers, settings) is managed by staff and
//! above of the event's organization and read by its members (viewer and above); the public
//! sees the public ticket types of published events. A booking is reachable by its buyer
//! (the signed-in user who made it, or whoever holds its `booking_token`) and by members of
//! the organization. Anything a caller may not see is a `404`, never a `403`.
//!
//! Events are known through [`EventsService::event_facts`]; this context never reads the
//! events context's tables.

mod bookings;
mod catalog;
mod checkin;
mod payable;
mod reports;
mod tickets;
mod waitlist;
mod writer;

pub use tickets::RENDER_TICKETS_JOB;

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use events::{EventFacts, EventId, EventStatus, EventsService};
use kernel::audit::{self, AuditEntry};
use kernel::auth::{OrgAccess, Principal, Role};
use kernel::id::OrgId;
use kernel::jobs::JobHandler;
use kernel::time::now;
use kernel::{AppError, AppResult, Db, Kernel, Tx};
use sqlx::types::Json;
use tokio_util::sync::CancellationToken;

use crate::domain::{self, BookingId, QuotaId, TicketTypeId};
use crate::model::{TicketingSettings, UpdateTicketingSettings};
use crate::store::{self, SettingsRecord, TicketTypeRecord};

pub use waitlist::WAITLIST_JOB;

/// Job kind that expires one booking's hold when it runs out.
pub const EXPIRE_HOLD_JOB: &str = "ticketing.expire_hold";
/// How often each node sweeps for holds whose job has not run (a node died, a job was lost).
const SWEEP_INTERVAL: Duration = Duration::from_secs(30);
const SWEEP_BATCH: i64 = 500;
/// Upper bound of the catalog cache's TTL (`cache.ttl_secs` applies below it; 0 disables).
const CATALOG_TTL_MAX_SECS: u64 = 2;

pub struct TicketingService {
    kernel: Arc<Kernel>,
    access: Arc<dyn OrgAccess>,
    events: Arc<EventsService>,
    /// Group commit of new bookings (see [`writer`]).
    writer: Option<writer::Writer>,
    /// What booking needs to know of an event (facts, settings, ticket types and their
    /// quotas), read once per event per TTL rather than on every booking of a rush. Changes
    /// through this node invalidate at once; the TTL (at most 2 s) bounds staleness across
    /// nodes and after event status changes. Inventory is never cached.
    /// Each entry is a cell that the first reader after a miss fills while every other
    /// reader of the same event waits for it, so the opening instant of an on-sale (every
    /// buyer at once, nothing cached) reads the catalog once, not once per buyer. An
    /// invalidation drops the cell; a load already under way fills the dropped cell, seen
    /// only by the readers that were waiting on it.
    catalogs: Option<moka::sync::Cache<EventId, Arc<tokio::sync::OnceCell<Arc<Catalog>>>>>,
    /// Organizations' ticket-signing keys (see [`tickets`]), read again after a minute; like
    /// `catalogs`, one load per organization at a time (the first tickets of a rush would
    /// otherwise all read, and try to create, the key at once).
    keys: moka::sync::Cache<OrgId, Arc<tokio::sync::OnceCell<Arc<tickets::OrgKeys>>>>,
    /// The payments context, once wired ([`TicketingService::connect_payments`]): "mark
    /// paid" records its money there.
    payments: std::sync::OnceLock<std::sync::Weak<payments::PaymentsService>>,
}

/// An event's catalog as booking uses it.
pub(crate) struct Catalog {
    pub facts: EventFacts,
    pub settings: SettingsRecord,
    /// Every ticket type of the event with the quotas it draws from.
    pub types: HashMap<TicketTypeId, (TicketTypeRecord, Vec<QuotaId>)>,
}

impl TicketingService {
    /// Builds the service, registers its job handlers (`ticketing.expire_hold`,
    /// `ticketing.render_tickets`, and `ticketing.waitlist` with its subscriptions) and starts
    /// its booking writer.
    pub fn new(
        kernel: Arc<Kernel>,
        access: Arc<dyn OrgAccess>,
        events: Arc<EventsService>,
    ) -> anyhow::Result<Arc<TicketingService>> {
        let ttl = kernel.config.cache.ttl_secs.min(CATALOG_TTL_MAX_SECS);
        let catalogs =
            (ttl > 0).then(|| moka::sync::Cache::builder().max_capacity(10_000).time_to_live(Duration::from_secs(ttl)).build());
        let mut started = Ok(());
        let svc = Arc::new_cyclic(|me: &Weak<TicketingService>| {
            kernel.jobs.register(EXPIRE_HOLD_JOB, Arc::new(ExpireHoldJob(me.clone())));
            kernel.jobs.register(RENDER_TICKETS_JOB, Arc::new(tickets::RenderTicketsJob(me.clone())));
            waitlist::register(&kernel, me.clone());
            let writer = writer::Writer::start(me.clone(), &kernel).map_err(|e| started = Err(e)).ok();
            let keys = moka::sync::Cache::builder().max_capacity(10_000).time_to_live(tickets::KEYS_TTL).build();
            TicketingService { kernel, access, events, writer, catalogs, keys, payments: Default::default() }
        });
        started.map(|()| svc)
    }

    /// Starts the periodic sweep for holds past their expiry (a safety net behind the
    /// per-booking job), and for waitlist offers whose booking moved on; it stops when
    /// `shutdown` is cancelled.
    pub fn start(self: &Arc<Self>, shutdown: CancellationToken) {
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SWEEP_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tick.tick() => {
                        let Some(svc) = me.upgrade() else { break };
                        match svc.sweep_holds().await {
                            Ok(0) => {}
                            Ok(n) => tracing::info!(expired = n, "hold sweep expired bookings"),
                            Err(e) => tracing::warn!(error = %e, "hold sweep failed"),
                        }
                        match svc.sweep_waitlist().await {
                            Ok(0) => {}
                            Ok(n) => tracing::info!(entries = n, "waitlist sweep closed offers"),
                            Err(e) => tracing::warn!(error = %e, "waitlist sweep failed"),
                        }
                    }
                }
            }
        });
    }

    /// Expires every pending booking whose hold has run out; returns how many it expired.
    pub async fn sweep_holds(&self) -> AppResult<usize> {
        let mut expired = 0;
        loop {
            let due = store::due_holds(self.db(), now(), SWEEP_BATCH).await?;
            let n = due.len();
            for id in due {
                if self.expire_hold(id).await? {
                    expired += 1;
                }
            }
            if (n as i64) < SWEEP_BATCH {
                return Ok(expired);
            }
        }
    }

    fn db(&self) -> &Db {
        &self.kernel.db
    }

    /// The booking view of an event's catalog (`None`: no such event), cached briefly; one
    /// load per event at a time.
    async fn catalog(&self, event: EventId) -> AppResult<Option<Arc<Catalog>>> {
        let Some(cache) = &self.catalogs else { return self.load_catalog(event).await };
        let cell = cache.get_with(event, || Arc::new(tokio::sync::OnceCell::new()));
        let loaded = cell
            .get_or_try_init(|| async {
                match self.load_catalog(event).await {
                    Ok(Some(c)) => Ok(c),
                    Ok(None) => Err(None),
                    Err(e) => Err(Some(e)),
                }
            })
            .await;
        match loaded {
            Ok(c) => Ok(Some(c.clone())),
            Err(None) => {
                // Not cached: the event may exist a moment from now.
                cache.invalidate(&event);
                Ok(None)
            }
            Err(Some(e)) => Err(e),
        }
    }

    async fn load_catalog(&self, event: EventId) -> AppResult<Option<Arc<Catalog>>> {
        let Some(facts) = self.events.event_facts(event).await? else { return Ok(None) };
        let settings = self.settings_record(&facts).await?;
        let mut types: HashMap<TicketTypeId, (TicketTypeRecord, Vec<QuotaId>)> = HashMap::new();
        for row in store::types_with_quotas(self.db(), event).await? {
            let entry = types.entry(row.ticket_type.id).or_insert_with(|| (row.ticket_type, Vec::new()));
            if let Some(q) = row.quota_id {
                entry.1.push(q);
            }
        }
        Ok(Some(Arc::new(Catalog { facts, settings, types })))
    }

    /// Drops the cached catalog of an event after a change to it.
    fn forget(&self, event: EventId) {
        if let Some(cache) = &self.catalogs {
            cache.invalidate(&event);
        }
    }

    /// The caller's role in `org`, if any.
    async fn role(&self, p: Option<&Principal>, org: OrgId) -> AppResult<Option<Role>> {
        match p {
            None => Ok(None),
            Some(p) => self.access.role_in(p, org).await,
        }
    }

    /// Requires `min` in `org`; outsiders learn only that `resource` does not exist.
    async fn require(&self, p: &Principal, org: OrgId, min: Role, resource: &'static str) -> AppResult<Role> {
        self.access.require_role(p, org, min).await.map_err(|e| match e {
            AppError::NotFound { .. } => AppError::not_found(resource),
            other => other,
        })
    }

    /// The facts of a live (not deleted) event, `404 resource` otherwise.
    async fn live_event(&self, id: EventId, resource: &'static str) -> AppResult<EventFacts> {
        match self.events.event_facts(id).await? {
            Some(e) if !e.deleted => Ok(e),
            _ => Err(AppError::not_found(resource)),
        }
    }

    /// A live event whose organization the caller holds `min` in; `404 resource` for
    /// outsiders (even when the event is published).
    async fn managed_event(&self, p: &Principal, id: EventId, min: Role, resource: &'static str) -> AppResult<EventFacts> {
        let e = self.live_event(id, resource).await?;
        self.require(p, e.org_id, min, resource).await?;
        Ok(e)
    }

    /// A live event the caller may see: published ones for everyone, the rest for members.
    /// Returns the facts and whether the caller is a member.
    async fn visible_event(&self, p: Option<&Principal>, id: EventId) -> AppResult<(EventFacts, bool)> {
        let e = self.live_event(id, "event").await?;
        let member = self.role(p, e.org_id).await?.is_some_and(|r| r >= Role::Viewer);
        if e.status != EventStatus::Published && !member {
            return Err(AppError::not_found("event"));
        }
        Ok((e, member))
    }

    /// Records a catalog change, attributed to the request's principal.
    async fn audit(
        &self,
        tx: &mut Tx<'_>,
        org: OrgId,
        action: &str,
        resource_type: &str,
        resource_id: String,
        changes: serde_json::Value,
    ) -> AppResult<()> {
        audit::record(tx, AuditEntry { org_id: Some(org), action, resource_type, resource_id, changes }).await
    }

    // ---- settings -------------------------------------------------------------------

    /// The event's settings, or the defaults when none were saved.
    async fn settings_record(&self, e: &EventFacts) -> AppResult<SettingsRecord> {
        self.settings_for(e.id, e.org_id).await
    }

    async fn settings_for(&self, event: EventId, org: OrgId) -> AppResult<SettingsRecord> {
        Ok(match store::settings(self.db(), event).await? {
            Some(s) => s,
            None => default_settings(event, org),
        })
    }

    /// The event's ticketing settings (members).
    pub async fn settings(&self, p: &Principal, event: EventId) -> AppResult<TicketingSettings> {
        let e = self.managed_event(p, event, Role::Viewer, "event").await?;
        Ok(settings_view(&self.settings_record(&e).await?))
    }

    /// Changes the event's ticketing settings (staff and above): only the fields present.
    pub async fn update_settings(
        &self,
        p: &Principal,
        event: EventId,
        req: UpdateTicketingSettings,
    ) -> AppResult<TicketingSettings> {
        let e = self.managed_event(p, event, Role::Staff, "event").await?;
        let mut s = self.settings_record(&e).await?;
        let old = settings_view(&s);
        match (req.hold_minutes, req.hold_seconds) {
            (Some(_), Some(_)) => {
                return Err(AppError::validation("hold_seconds", "give hold_minutes or hold_seconds, not both"));
            }
            (Some(m), None) => s.hold_seconds = domain::within("hold_minutes", m, 1..=domain::HOLD_SECONDS_MAX / 60)? * 60,
            (None, Some(secs)) => s.hold_seconds = domain::within("hold_seconds", secs, 1..=domain::HOLD_SECONDS_MAX)?,
            (None, None) => {}
        }
        if let Some(max) = req.max_tickets_per_buyer {
            s.max_tickets_per_buyer = max.map(|m| domain::within("max_tickets_per_buyer", m, 1..=10_000)).transpose()?;
        }
        match (req.waitlist_offer_hours, req.waitlist_offer_seconds) {
            (Some(_), Some(_)) => {
                return Err(AppError::validation(
                    "waitlist_offer_seconds",
                    "give waitlist_offer_hours or waitlist_offer_seconds, not both",
                ));
            }
            (Some(h), None) => {
                s.waitlist_offer_hours = domain::within("waitlist_offer_hours", h, 1..=domain::WAITLIST_OFFER_HOURS_MAX)?;
                s.waitlist_offer_seconds = s.waitlist_offer_hours * 3600;
            }
            (None, Some(secs)) => {
                s.waitlist_offer_seconds =
                    domain::within("waitlist_offer_seconds", secs, 1..=domain::WAITLIST_OFFER_SECONDS_MAX)?;
                s.waitlist_offer_hours = s.waitlist_offer_seconds / 3600;
            }
            (None, None) => {}
        }
        if let Some(t) = &req.waitlist_tiers {
            s.waitlist_tiers = Json(domain::tiers("waitlist_tiers", t)?);
        }
        let new = settings_view(&s);
        let changes = events::domain::changed_fields(&serde_json::to_value(&old)?, &serde_json::to_value(&new)?);
        if changes.as_object().is_some_and(|c| !c.is_empty()) {
            s.updated_at = now();
            let mut tx = self.db().begin().await?;
            store::save_settings(&mut tx, &s).await?;
            self.audit(&mut tx, e.org_id, "ticketing_settings.updated", "event", e.id.to_string(), changes).await?;
            self.kernel.commit(tx).await?;
            self.forget(e.id);
        }
        Ok(new)
    }
}

fn default_settings(event_id: EventId, org_id: OrgId) -> SettingsRecord {
    let at = now();
    SettingsRecord {
        event_id,
        org_id,
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

/// Expires one booking's hold. Runs at the hold's expiry; a run that comes early (clock
/// skew between nodes) fails so the job system retries it later.
struct ExpireHoldJob(Weak<TicketingService>);

#[async_trait::async_trait]
impl JobHandler for ExpireHoldJob {
    async fn run(&self, payload: serde_json::Value) -> anyhow::Result<()> {
        let id: BookingId = serde_json::from_value(payload["booking_id"].clone())?;
        let Some(svc) = self.0.upgrade() else { return Ok(()) };
        if svc.expire_hold(id).await.map_err(|e| anyhow::anyhow!("{e}"))? {
            return Ok(());
        }
        match store::booking(svc.db(), id).await? {
            Some(b) if b.status == domain::BookingStatus::PendingPayment && b.hold_expires_at.is_some_and(|t| t > now()) => {
                anyhow::bail!("hold of booking {id} is not due yet")
            }
            _ => Ok(()),
        }
    }
}
