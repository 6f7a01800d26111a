//! The composition root: [`TicketingService`] builds the state the features share, registers
//! their jobs, starts the booking writer and the periodic sweeps, wires the payments
//! context, and hands out the feature services. Every use case lives in a feature service;
//! each takes the acting principal (or `None` for an anonymous buyer) and checks what it may
//! do, and every mutation runs in one transaction with its audit record and domain events,
//! then commits through [`Kernel::commit`].

use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use events::EventsService;
use kernel::Kernel;
use kernel::auth::OrgAccess;
use payments::PaymentsService;
use tokio_util::sync::CancellationToken;

use crate::bookings::{self, Bookings, payable};
use crate::catalog::Catalog;
use crate::catalog::cache::CatalogCache;
use crate::checkin::CheckIn;
use crate::checkin::tickets::{self, KEYS_TTL};
use crate::reports::Reports;
use crate::shared::state::Shared;
use crate::waitlist::{Waitlist, offers};
use crate::writer::Writer;

/// How often each node sweeps for holds whose job has not run (a node died, a job was lost).
const SWEEP_INTERVAL: Duration = Duration::from_secs(30);

/// Ticketing: the context's feature services over one shared state. The binary builds one
/// ([`TicketingService::new`]), wires payments, mounts [`crate::router`] and starts it.
pub struct TicketingService {
    shared: Arc<Shared>,
    catalog: Catalog,
    bookings: Bookings,
    check_in: CheckIn,
    waitlist: Waitlist,
    reports: Reports,
}

impl TicketingService {
    /// Builds the service, registers its job handlers (`ticketing.expire_hold`,
    /// `ticketing.render_tickets`, and `ticketing.waitlist` with the events it listens to)
    /// and starts its booking writer.
    pub fn new(
        kernel: Arc<Kernel>,
        access: Arc<dyn OrgAccess>,
        events: Arc<EventsService>,
    ) -> anyhow::Result<Arc<TicketingService>> {
        let catalogs = CatalogCache::new(kernel.config.cache.ttl_secs);
        let mut started = Ok(());
        let shared = Arc::new_cyclic(|me: &Weak<Shared>| {
            bookings::handle_jobs(&kernel, me.clone());
            tickets::handle_jobs(&kernel, me.clone());
            offers::listen(&kernel, me.clone());
            let writer = Writer::start(me.clone(), &kernel).map_err(|e| started = Err(e)).ok();
            let keys = moka::sync::Cache::builder().max_capacity(10_000).time_to_live(KEYS_TTL).build();
            Shared { kernel, access, events, writer, catalogs, keys, payments: OnceLock::new() }
        });
        started?;
        Ok(Arc::new(TicketingService {
            catalog: shared.catalog(),
            bookings: shared.bookings(),
            check_in: shared.check_in(),
            waitlist: shared.waitlist(),
            reports: shared.reports(),
            shared,
        }))
    }

    /// Makes ticketing the owner of `booking:<id>` references and has it listen to the
    /// payments context's events.
    pub fn connect_payments(self: &Arc<Self>, payments: &Arc<PaymentsService>) {
        payable::connect(&self.shared, payments);
    }

    /// Starts the periodic sweep for holds past their expiry (a safety net behind the
    /// per-booking job), and for waitlist offers whose booking moved on; it stops when
    /// `shutdown` is cancelled.
    pub fn start(self: &Arc<Self>, shutdown: CancellationToken) {
        let me = Arc::downgrade(&self.shared);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SWEEP_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tick.tick() => {
                        let Some(shared) = me.upgrade() else { break };
                        match shared.bookings().sweep_holds().await {
                            Ok(0) => {}
                            Ok(n) => tracing::info!(expired = n, "hold sweep expired bookings"),
                            Err(e) => tracing::warn!(error = %e, "hold sweep failed"),
                        }
                        match shared.waitlist().sweep().await {
                            Ok(0) => {}
                            Ok(n) => tracing::info!(entries = n, "waitlist sweep closed offers"),
                            Err(e) => tracing::warn!(error = %e, "waitlist sweep failed"),
                        }
                    }
                }
            }
        });
    }

    /// Ticket types, quotas, vouchers and ticketing settings.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Booking, reading, changing, cancelling, marking paid, expiring holds.
    pub fn bookings(&self) -> &Bookings {
        &self.bookings
    }

    /// Check-in lists and scans, ticket PDFs and signing keys.
    pub fn check_in(&self) -> &CheckIn {
        &self.check_in
    }

    /// Waitlist entries and offers.
    pub fn waitlist(&self) -> &Waitlist {
        &self.waitlist
    }

    /// Booking lists, exports and sales statistics.
    pub fn reports(&self) -> &Reports {
        &self.reports
    }
}
