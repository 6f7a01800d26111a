//! The state every feature service works on, and the access checks they share.
//!
//! Access: the catalog (ticket types, quotas, vouchers, settings) is managed by staff and
//! above of the event's organization and read by its members (viewer and above); the public
//! sees the public ticket types of published events. A booking is reachable by its buyer
//! (the signed-in user who made it, or whoever holds its `booking_token`) and by members of
//! the organization. Anything a caller may not see is a `404`, never a `403`.
//!
//! Roles come from [`OrgAccess`] (`require_for`, `role_of`); a check that passes yields the
//! [`OrgScope`] the use case hands to the store functions, which filter by it.
//!
//! Events are known through [`EventsService::event_facts`]; this context never reads the
//! events context's tables.

use std::sync::{Arc, OnceLock, Weak};

use events::{EventFacts, EventId, EventStatus, EventsService};
use kernel::audit::{self, AuditEntry};
use kernel::auth::{OrgAccess, OrgScope, Principal, Role};
use kernel::id::OrgId;
use kernel::{AppError, AppResult, Db, Kernel, Tx};
use payments::PaymentsService;

use crate::bookings::Bookings;
use crate::catalog::Catalog;
use crate::catalog::cache::{CatalogCache, EventCatalog};
use crate::checkin::CheckIn;
use crate::checkin::tickets::OrgKeys;
use crate::reports::Reports;
use crate::waitlist::Waitlist;
use crate::writer::Writer;

/// What the feature services share: one of these per [`crate::TicketingService`], behind
/// an `Arc` each service holds.
pub struct Shared {
    pub(crate) kernel: Arc<Kernel>,
    pub(crate) access: Arc<dyn OrgAccess>,
    pub(crate) events: Arc<EventsService>,
    /// Group commit of new bookings (see [`crate::writer`]).
    pub(crate) writer: Option<Writer>,
    /// The booking view of each event's catalog (see [`CatalogCache`]).
    pub(crate) catalogs: CatalogCache,
    /// Organizations' ticket-signing keys (see [`crate::checkin::tickets`]), read again after
    /// a minute; like `catalogs`, one load per organization at a time (the first tickets of a
    /// rush would otherwise all read, and try to create, the key at once).
    pub(crate) keys: moka::sync::Cache<OrgId, Arc<tokio::sync::OnceCell<Arc<OrgKeys>>>>,
    /// The payments context, once wired ([`crate::TicketingService::connect_payments`]):
    /// "mark paid" records its money there.
    pub(crate) payments: OnceLock<Weak<PaymentsService>>,
}

impl Shared {
    pub(crate) fn db(&self) -> &Db {
        &self.kernel.db
    }

    /// The payments context, if wired.
    pub(crate) fn payments(&self) -> Option<Arc<PaymentsService>> {
        self.payments.get().and_then(Weak::upgrade)
    }

    // Feature services over the same state, for use cases that cross features (a waitlist
    // offer is a booking; a booking shows its tickets' QR codes).

    pub(crate) fn catalog(self: &Arc<Self>) -> Catalog {
        Catalog::new(self.clone())
    }

    pub(crate) fn bookings(self: &Arc<Self>) -> Bookings {
        Bookings::new(self.clone())
    }

    pub(crate) fn check_in(self: &Arc<Self>) -> CheckIn {
        CheckIn::new(self.clone())
    }

    pub(crate) fn waitlist(self: &Arc<Self>) -> Waitlist {
        Waitlist::new(self.clone())
    }

    pub(crate) fn reports(self: &Arc<Self>) -> Reports {
        Reports::new(self.clone())
    }

    // ---- the catalog cache ----------------------------------------------------------------

    /// The booking view of an event's catalog (`None`: no such event), cached briefly.
    pub(crate) async fn event_catalog(&self, event: EventId) -> AppResult<Option<Arc<EventCatalog>>> {
        self.catalogs.get(&self.events, self.db(), event).await
    }

    /// Drops the cached catalog of an event after a change to it.
    pub(crate) fn forget(&self, event: EventId) {
        self.catalogs.forget(event);
    }

    // ---- access ---------------------------------------------------------------------------

    /// The caller's scope in `org` if they are a member (any role); `None` for outsiders and
    /// anonymous callers, who may still reach some things (a published event, their booking).
    pub(crate) async fn member_scope(&self, p: Option<&Principal>, org: OrgId) -> AppResult<Option<OrgScope>> {
        let Some(p) = p else { return Ok(None) };
        match self.access.require_for(p, org, Role::Viewer, "organization").await {
            Ok(scope) => Ok(Some(scope)),
            Err(AppError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The facts of a live (not deleted) event, `404 resource` otherwise.
    pub(crate) async fn live_event(&self, id: EventId, resource: &'static str) -> AppResult<EventFacts> {
        match self.events.event_facts(id).await? {
            Some(e) if !e.deleted => Ok(e),
            _ => Err(AppError::not_found(resource)),
        }
    }

    /// A live event whose organization the caller holds `min` in, and the caller's scope
    /// there; `404 resource` for outsiders (even when the event is published).
    pub(crate) async fn managed_event(
        &self,
        p: &Principal,
        id: EventId,
        min: Role,
        resource: &'static str,
    ) -> AppResult<(EventFacts, OrgScope)> {
        let e = self.live_event(id, resource).await?;
        let scope = self.access.require_for(p, e.org_id, min, resource).await?;
        Ok((e, scope))
    }

    /// A live event the caller may see: published ones for everyone, the rest for members.
    /// Returns the facts and, for a member, the caller's scope.
    pub(crate) async fn visible_event(&self, p: Option<&Principal>, id: EventId) -> AppResult<(EventFacts, Option<OrgScope>)> {
        let e = self.live_event(id, "event").await?;
        let member = self.member_scope(p, e.org_id).await?;
        if e.status != EventStatus::Published && member.is_none() {
            return Err(AppError::not_found("event"));
        }
        Ok((e, member))
    }

    /// Records a catalog change, attributed to the request's principal.
    pub(crate) async fn audit(
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
}

/// Gives a feature service (a handle on [`Shared`]) the shared state's fields and helpers
/// as its own, so a use case reads `self.db()`, `self.kernel`, `self.managed_event(…)`.
macro_rules! feature_service {
    ($name:ident) => {
        impl $name {
            pub(crate) fn new(shared: std::sync::Arc<$crate::shared::state::Shared>) -> $name {
                $name(shared)
            }
        }

        impl std::ops::Deref for $name {
            type Target = std::sync::Arc<$crate::shared::state::Shared>;
            fn deref(&self) -> &Self::Target {
                &self.0
            }
        }
    };
}
pub(crate) use feature_service;
