//! Tickets as people carry them: the organization's Ed25519 signing keys (created on first
//! use, rotatable, published as a JWK set), the signed QR text of every valid ticket, and the
//! booking's ticket PDF, rendered by a job into the kernel's object store and handed out as
//! an expiring signed link.
//!
//! Signing is deterministic (Ed25519), so the QR text is computed when a ticket is shown
//! rather than stored: the same ticket always shows the same code until its organization
//! rotates keys, after which old codes still verify (retired keys stay published).

use std::sync::{Arc, Weak};
use std::time::Duration;

use chrono::TimeDelta;
use events::{EventFacts, EventId};
use kernel::auth::{OrgScope, Principal, Role};
use kernel::id::OrgId;
use kernel::jobs::JobKind;
use kernel::time::now;
use kernel::{AppError, AppResult, Kernel};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::CheckIn;
use super::pdf::{self, TicketPdf};
use super::signing::{OrgSigningKey, PublicJwk, TicketClaims, VerifyingKey};
use super::store::{self as cstore, DocumentRecord, KeyRecord};
use crate::bookings::store::{self, BookingRecord, TicketRecord};
use crate::bookings::{Access, ticket_view};
use crate::domain::{BookingId, BookingStatus, DocumentStatus, SigningKeyId, TicketStatus};
use crate::model::{Ticket, TicketDocument, TicketKeys};
use crate::shared::state::Shared;

/// Renders a booking's valid tickets into one PDF in the object store; queued when the PDF is
/// asked for.
pub const RENDER_TICKETS_JOB: JobKind<RenderTicketsJob> = JobKind::new("ticketing.render_tickets");

/// The payload of a [`RENDER_TICKETS_JOB`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RenderTicketsJob {
    /// The confirmed booking whose `ticket_documents` row asked for the rendering.
    pub booking_id: BookingId,
}
/// How long a ticket PDF download link works.
const LINK_TTL: Duration = Duration::from_secs(15 * 60);
/// How long a node keeps an organization's keys before reading them again (a rotation on
/// another node is picked up within this; a scan signed with a key this node has not seen
/// yet makes it read them at once).
pub(crate) const KEYS_TTL: Duration = Duration::from_secs(60);

/// An organization's keys as this node uses them.
pub(crate) struct OrgKeys {
    /// Signs new tickets.
    pub signing: OrgSigningKey,
    /// Every published key (active first): what a scan is verified against.
    pub verifying: Vec<VerifyingKey>,
    pub jwks: Vec<PublicJwk>,
}

impl CheckIn {
    /// The organization's keys, creating its first signing key if it has none. `fresh` skips
    /// this node's cache.
    pub(crate) async fn org_keys(&self, org: OrgId, fresh: bool) -> AppResult<Arc<OrgKeys>> {
        if fresh {
            self.keys.invalidate(&org);
        }
        let cell = self.keys.get_with(org, || Arc::new(tokio::sync::OnceCell::new()));
        cell.get_or_try_init(|| self.load_org_keys(org)).await.cloned()
    }

    /// Reads an organization's keys, creating its first one if it has none.
    async fn load_org_keys(&self, org: OrgId) -> AppResult<Arc<OrgKeys>> {
        let mut rows = cstore::keys(self.db(), org).await?;
        if rows.first().is_none_or(|k| k.status != "active") {
            let rec = new_key(org, now());
            let mut tx = self.db().begin().await?;
            // Another request (or node) may create one at the same time: the partial unique
            // index keeps one active key, and both then read the same one.
            cstore::insert_key(&mut tx, &rec).await?;
            self.kernel.commit(tx).await?;
            rows = cstore::keys(self.db(), org).await?;
        }
        Ok(Arc::new(org_keys_of(&rows)?))
    }

    /// The QR text of a valid ticket (`None` for cancelled ones).
    pub(crate) fn qr_of(&self, keys: &OrgKeys, t: &TicketRecord) -> Option<String> {
        if t.status != TicketStatus::Valid {
            return None;
        }
        let claims = TicketClaims {
            ticket_id: t.id.0,
            event_id: t.event_id.0,
            org_id: t.org_id.0,
            code: t.code.clone(),
            valid_from: None,
        };
        match keys.signing.sign(&claims) {
            Ok(qr) => Some(qr),
            Err(e) => {
                tracing::error!(ticket = %t.id, error = %e, "ticket cannot be signed");
                None
            }
        }
    }

    /// Tickets as their holders see them: valid ones with their signed QR text.
    pub(crate) async fn ticket_views(&self, org: OrgId, tickets: Vec<TicketRecord>) -> AppResult<Vec<Ticket>> {
        let keys = match tickets.iter().any(|t| t.status == TicketStatus::Valid) {
            true => Some(self.org_keys(org, false).await?),
            false => None,
        };
        Ok(tickets
            .into_iter()
            .map(|t| {
                let qr = keys.as_ref().and_then(|k| self.qr_of(k, &t));
                ticket_view(t, qr)
            })
            .collect())
    }

    /// The organization's public ticket keys (anyone: scanners fetch them before the doors
    /// open). An organization that never sold a ticket gets its first key now.
    pub async fn ticket_keys(&self, org: OrgId) -> AppResult<TicketKeys> {
        match self.org_keys(org, true).await {
            Ok(keys) => Ok(TicketKeys { keys: keys.jwks.clone() }),
            // The key row references the organization: no such organization.
            Err(AppError::Validation { .. }) => Err(AppError::not_found("organization")),
            Err(e) => Err(e),
        }
    }

    /// Retires the organization's signing key and starts a new one (owners and admins). The
    /// old key stays published, so tickets already handed out keep verifying; tickets shown
    /// from now on carry the new signature.
    pub async fn rotate_ticket_key(&self, p: &Principal, org: OrgId) -> AppResult<TicketKeys> {
        let scope = self.access.require_for(p, org, Role::Admin, "organization").await?;
        let at = now();
        let rec = new_key(org, at);
        let mut tx = self.db().begin().await?;
        cstore::retire_active_key(&mut tx, &scope, at).await?;
        cstore::insert_key(&mut tx, &rec).await?;
        self.audit(&mut tx, org, "ticket_key.rotated", "organization", org.to_string(), json!({ "kid": rec.kid })).await?;
        self.kernel.commit(tx).await?;
        self.keys.invalidate(&org);
        self.ticket_keys(org).await
    }

    // ---- PDFs -----------------------------------------------------------------------------

    /// Asks for the booking's ticket PDF (its buyer, or staff): a job renders every valid
    /// ticket, a page each, and stores it; poll [`Self::ticket_document`] for the link.
    pub async fn request_ticket_document(
        &self,
        p: Option<&Principal>,
        token: Option<&str>,
        id: BookingId,
    ) -> AppResult<TicketDocument> {
        let (b, access, scope) = self.bookings().booking_for(p, token, id).await?;
        if let Access::Member(r) = access
            && r < Role::Staff
        {
            return Err(AppError::forbidden("requires the staff role"));
        }
        if b.status != BookingStatus::Confirmed {
            return Err(AppError::conflict(
                "not_confirmed",
                format!("the booking is {}; tickets exist once it is confirmed", b.status.as_str()),
            ));
        }
        let mut tx = self.db().begin().await?;
        let Some(doc) = cstore::request_document(&mut tx, &scope, b.id, b.event_id, now()).await? else {
            return Err(AppError::Internal(anyhow::anyhow!("ticket document row not written")));
        };
        self.kernel.jobs.enqueue(&mut tx, &RENDER_TICKETS_JOB, &RenderTicketsJob { booking_id: b.id }).await?;
        self.kernel.commit(tx).await?;
        self.kernel.jobs.kick();
        self.document_view(doc).await
    }

    /// Where the booking's ticket PDF is (its buyer, or members): `404` if it was never asked
    /// for.
    pub async fn ticket_document(&self, p: Option<&Principal>, token: Option<&str>, id: BookingId) -> AppResult<TicketDocument> {
        let (b, _, scope) = self.bookings().booking_for(p, token, id).await?;
        match cstore::document(self.db(), &scope, b.id).await? {
            Some(doc) => self.document_view(doc).await,
            None => Err(AppError::not_found("ticket document")),
        }
    }

    async fn document_view(&self, d: DocumentRecord) -> AppResult<TicketDocument> {
        let (url, url_expires_at) = match (&d.storage_key, d.status) {
            (Some(key), DocumentStatus::Ready) => {
                let url = self.kernel.storage.signed_url(key, LINK_TTL).await?;
                (Some(url), Some(now() + TimeDelta::from_std(LINK_TTL).unwrap_or_default()))
            }
            _ => (None, None),
        };
        Ok(TicketDocument {
            booking_id: d.booking_id,
            status: d.status,
            url,
            url_expires_at,
            pages: d.pages,
            bytes: d.bytes,
            requested_at: d.requested_at,
            rendered_at: d.rendered_at,
            error: d.error,
        })
    }

    /// Renders and stores the booking's ticket PDF (the job's work, in the organization of
    /// the booking it names).
    /// A confirmed booking's valid tickets as PDF pages, with its event; `Err` says why there
    /// are none (the booking is not confirmed, the event is gone, every ticket is cancelled).
    async fn ticket_pages(
        &self,
        b: &BookingRecord,
        scope: &OrgScope,
    ) -> anyhow::Result<Result<(EventFacts, Vec<TicketPdf>), String>> {
        if b.status != BookingStatus::Confirmed {
            return Ok(Err(format!("the booking is {}", b.status.as_str())));
        }
        let Some(event) = self.events.event_facts(b.event_id).await? else {
            return Ok(Err("the event no longer exists".into()));
        };
        let tickets: Vec<TicketRecord> =
            store::tickets(self.db(), scope, b.id).await?.into_iter().filter(|t| t.status == TicketStatus::Valid).collect();
        if tickets.is_empty() {
            return Ok(Err("the booking has no valid tickets".into()));
        }
        let positions = store::positions(self.db(), scope, b.id).await?;
        let keys = self.org_keys(b.org_id, false).await?;
        let starts = local_time(&event);
        let pages: Vec<TicketPdf> = tickets
            .iter()
            .map(|t| TicketPdf {
                event_name: event.name.clone(),
                venue_name: event.venue_name.clone().unwrap_or_else(|| "Venue to be announced".into()),
                venue_address: event.venue_address.clone().unwrap_or_default(),
                city: [event.venue_city.clone(), event.venue_country.clone()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(", "),
                starts_at_local: starts.clone(),
                attendee_name: t.attendee_name.clone().unwrap_or_else(|| b.buyer_name.clone()),
                ticket_type: positions
                    .iter()
                    .find(|p| p.ticket_type_id == t.ticket_type_id)
                    .map(|p| p.ticket_type_name.clone())
                    .unwrap_or_default(),
                order_code: b.code.clone(),
                ticket_code: t.code.clone(),
                qr_payload: self.qr_of(&keys, t).unwrap_or_default(),
            })
            .collect();
        Ok(Ok((event, pages)))
    }

    /// What a confirmation message carries for a confirmed booking: its buyer, its event, and
    /// its valid tickets as one PDF. For messaging, acting on a `booking.confirmed` event:
    /// the booking is read in its own organization. `None` when the booking is gone or has
    /// no valid tickets (any more).
    pub async fn confirmation_pack(&self, id: BookingId) -> anyhow::Result<Option<ConfirmationPack>> {
        let Some(b) = store::booking(self.db(), id).await? else { return Ok(None) };
        let scope = OrgScope::platform(b.org_id);
        let (event, pages) = match self.ticket_pages(&b, &scope).await? {
            Ok(found) => found,
            Err(_) => return Ok(None),
        };
        let tickets = pages.len() as i64;
        let starts_at_local = local_time(&event);
        let pdf = tokio::task::spawn_blocking(move || pdf::render_tickets_pdf(&pages)).await??;
        Ok(Some(ConfirmationPack {
            booking_id: b.id,
            org_id: b.org_id,
            event_id: b.event_id,
            code: b.code.clone(),
            buyer_name: b.buyer_name.clone(),
            buyer_email: b.buyer_email.clone(),
            event_name: event.name.clone(),
            starts_at_local,
            venue: [event.venue_name.clone(), event.venue_city.clone()].into_iter().flatten().collect::<Vec<_>>().join(", "),
            tickets,
            total: b.total,
            currency: b.currency.clone(),
            pdf,
        }))
    }

    async fn render_tickets(&self, id: BookingId) -> anyhow::Result<()> {
        let Some(b) = store::booking(self.db(), id).await? else { return Ok(()) };
        let scope = OrgScope::platform(b.org_id);
        let Some(doc) = cstore::document(self.db(), &scope, id).await? else { return Ok(()) };
        if doc.status != DocumentStatus::Pending {
            return Ok(());
        }
        let requested = doc.requested_at;
        let fail = |why: String| async move {
            let mut tx = self.db().begin().await?;
            cstore::document_failed(&mut tx, &scope, id, requested, &why, now()).await?;
            self.kernel.commit(tx).await?;
            anyhow::Ok(())
        };
        let pages = match self.ticket_pages(&b, &scope).await? {
            Ok((_, pages)) => pages,
            Err(why) => return fail(why).await,
        };
        let count = pages.len() as i64;
        let bytes = match tokio::task::spawn_blocking(move || pdf::render_tickets_pdf(&pages)).await? {
            Ok(bytes) => bytes,
            Err(e) => return fail(e.to_string()).await,
        };
        let key = format!("tickets/{}/{}.pdf", b.org_id, b.id);
        let size = bytes.len() as i64;
        self.kernel.storage.put(&key, bytes, "application/pdf").await?;
        let mut tx = self.db().begin().await?;
        cstore::document_ready(&mut tx, &scope, id, requested, &key, count, size, now()).await?;
        self.kernel.commit(tx).await?;
        tracing::info!(booking = %id, pages = count, bytes = size, "ticket PDF rendered");
        Ok(())
    }
}

/// A fresh active signing key for `org`.
fn new_key(org: OrgId, at: kernel::time::Timestamp) -> KeyRecord {
    let key = OrgSigningKey::generate();
    KeyRecord {
        id: SigningKeyId::new(),
        org_id: org,
        kid: key.key_id(),
        public_key: key.public_key_b64(),
        secret_key: key.to_bytes().to_vec(),
        status: "active".into(),
        retired_at: None,
        created_at: at,
        updated_at: at,
    }
}

fn org_keys_of(rows: &[KeyRecord]) -> AppResult<OrgKeys> {
    let Some(active) = rows.first().filter(|k| k.status == "active") else {
        return Err(AppError::Internal(anyhow::anyhow!("organization has no active ticket key")));
    };
    let signing = OrgSigningKey::from_slice(&active.secret_key)
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("ticket key {} is not a 32-byte seed", active.kid)))?;
    let mut verifying = Vec::with_capacity(rows.len());
    for r in rows {
        match OrgSigningKey::from_slice(&r.secret_key) {
            Some(k) => verifying.push(k.verifying_key()),
            None => tracing::error!(kid = %r.kid, "stored ticket key is not a 32-byte seed; skipped"),
        }
    }
    let jwks = verifying.iter().map(PublicJwk::from_key).collect();
    Ok(OrgKeys { signing, verifying, jwks })
}

/// The event's start in its own zone, e.g. `Sat 12 Dec 2026, 20:00 (Europe/Berlin)`.
pub(crate) fn local_time(e: &EventFacts) -> String {
    match e.time_zone.parse::<chrono_tz::Tz>() {
        Ok(tz) => format!("{} ({})", e.starts_at.with_timezone(&tz).format("%a %-d %b %Y, %H:%M"), e.time_zone),
        Err(_) => format!("{} (UTC)", e.starts_at.format("%a %-d %b %Y, %H:%M")),
    }
}

/// Runs [`RENDER_TICKETS_JOB`]s.
pub(crate) fn handle_jobs(kernel: &Kernel, shared: Weak<Shared>) {
    kernel.jobs.handle(&RENDER_TICKETS_JOB, move |job: RenderTicketsJob| {
        let shared = shared.clone();
        async move {
            let Some(shared) = shared.upgrade() else { return Ok(()) };
            shared.check_in().render_tickets(job.booking_id).await
        }
    });
}

/// A confirmed booking, ready to be told to its buyer ([`CheckIn::confirmation_pack`]).
#[derive(Debug, Clone)]
pub struct ConfirmationPack {
    pub booking_id: BookingId,
    pub org_id: OrgId,
    pub event_id: EventId,
    /// The order code.
    pub code: String,
    pub buyer_name: String,
    pub buyer_email: String,
    pub event_name: String,
    /// The start in the event's own zone, as the PDF prints it.
    pub starts_at_local: String,
    pub venue: String,
    pub tickets: i64,
    pub total: i64,
    pub currency: String,
    /// Every valid ticket, a page each.
    pub pdf: Vec<u8>,
}
