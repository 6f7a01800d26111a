//! The use cases that read many bookings: an event's booking list (filtered, paged, or
//! streamed as CSV of any size), a user's bookings, and the sales statistics of an event.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use axum::body::Bytes;
use events::EventId;
use futures::{Stream, StreamExt};
use kernel::auth::{OrgScope, Principal, Role};
use kernel::id::{OrgId, UserId};
use kernel::money::Money;
use kernel::pagination::{Page, PageParams};
use kernel::time::now;
use kernel::validate::zone_of;
use kernel::{AppError, AppResult, Db};

use super::store::{self, BookingFilter, ExportRow};
use crate::bookings::summary;
use crate::catalog::store as catalog_store;
use crate::catalog::type_views;
use crate::domain::{self, BookingId, BookingStatus, PositionId, QuotaId};
use crate::model::*;
use crate::shared::state::{Shared, feature_service};

/// Rows per database round trip of the CSV export.
const EXPORT_CHUNK: i64 = 1000;
const SEARCH_MAX: usize = 200;

const CSV_HEADER: &str = "booking_code,status,buyer_name,buyer_email,ticket_type,quantity,unit_price_minor,discount_minor,\
currency,booking_total_minor,voucher_code,created_at,confirmed_at,paid_reference\r\n";

fn csv_line(out: &mut String, r: &ExportRow) {
    let fields: [&str; 14] = [
        &r.code,
        r.status.as_str(),
        &r.buyer_name,
        &r.buyer_email,
        &r.ticket_type_name,
        &r.quantity.to_string(),
        &r.unit_price.to_string(),
        &r.discount.to_string(),
        &r.currency,
        &r.booking_total.to_string(),
        r.voucher_code.as_deref().unwrap_or(""),
        &r.created_at.to_rfc3339(),
        &r.confirmed_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
        r.paid_reference.as_deref().unwrap_or(""),
    ];
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        domain::csv_field(out, f);
    }
    out.push_str("\r\n");
}

/// The CSV export's cursor loop: one chunk per database round trip, so memory stays flat
/// whatever the size of the event.
struct Export {
    db: Db,
    scope: OrgScope,
    filter: BookingFilter,
    after: Option<(BookingId, PositionId)>,
    header: bool,
    done: bool,
}

fn export_stream(export: Export) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    // Fused: a bare `unfold` panics when polled after its end, which the gzip encoder does.
    futures::stream::unfold(export, |mut st| async move {
        if st.done {
            return None;
        }
        let mut out = String::new();
        if !st.header {
            out.push_str(CSV_HEADER);
            st.header = true;
        }
        match store::export_rows(&st.db, &st.scope, &st.filter, st.after, EXPORT_CHUNK).await {
            Ok(rows) => {
                st.done = (rows.len() as i64) < EXPORT_CHUNK;
                if let Some(last) = rows.last() {
                    st.after = Some((last.booking_id, last.position_id));
                }
                for r in &rows {
                    csv_line(&mut out, r);
                }
                Some((Ok(Bytes::from(out)), st))
            }
            Err(e) => {
                tracing::error!(error = %e, "booking export failed mid-stream");
                st.done = true;
                Some((Err(std::io::Error::other(e)), st))
            }
        }
    })
    .fuse()
}

/// Booking lists, exports and sales statistics (members of the event's organization; a
/// user's own bookings for the user). A handle on the shared state; cheap to clone.
#[derive(Clone)]
pub struct Reports(Arc<Shared>);

feature_service!(Reports);

impl Reports {
    fn booking_filter(event: EventId, q: &BookingQuery) -> AppResult<BookingFilter> {
        let term = q.q.as_deref().map(str::trim).filter(|s| !s.is_empty());
        if let Some(t) = term
            && t.chars().count() > SEARCH_MAX
        {
            return Err(AppError::validation("q", format!("must be at most {SEARCH_MAX} characters")));
        }
        // PostgreSQL text cannot hold NUL; no booking can match one.
        if term.is_some_and(|t| t.contains('\0')) {
            return Err(AppError::validation("q", "must not contain NUL characters"));
        }
        let like = term.map(|t| {
            let escaped = t.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            format!("%{escaped}%")
        });
        Ok(BookingFilter { event, status: q.status, like, exact: term.map(|t| t.to_ascii_uppercase()) })
    }

    /// An event's bookings, newest first, filtered by status and a search term (members).
    pub async fn event_bookings(&self, p: &Principal, event: EventId, q: BookingQuery) -> AppResult<Page<BookingSummary>> {
        let (e, scope) = self.managed_event(p, event, Role::Viewer, "event").await?;
        let page = PageParams { cursor: q.cursor.clone(), limit: q.limit };
        let limit = page.limit()?;
        let before: Option<BookingId> = page.decode()?;
        let filter = Self::booking_filter(e.id, &q)?;
        let rows = store::event_bookings(self.db(), &scope, &filter, before, limit + 1).await?;
        Ok(Page::from_rows(rows, limit, |b| b.id).map(|b| summary(&b)))
    }

    /// Every matching booking position of the event as CSV, streamed (members). Access is
    /// checked before the first byte.
    pub async fn export_csv(
        &self,
        p: &Principal,
        event: EventId,
        q: BookingQuery,
    ) -> AppResult<impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static> {
        let (e, scope) = self.managed_event(p, event, Role::Viewer, "event").await?;
        let filter = Self::booking_filter(e.id, &q)?;
        Ok(export_stream(Export { db: self.db().clone(), scope, filter, after: None, header: false, done: false }))
    }

    /// A user's bookings, newest first: all of them for the user themselves; for anyone
    /// else, those with organizations they are a member of (`404` when there are none).
    pub async fn user_bookings(&self, p: &Principal, user: UserId, page: PageParams) -> AppResult<Page<BookingSummary>> {
        let limit = page.limit()?;
        let mut before: Option<BookingId> = page.decode()?;
        let allowed: Option<HashSet<OrgId>> = if p.user_id() == Some(user) {
            None
        } else {
            let mut orgs = HashSet::new();
            for org in store::user_booking_orgs(self.db(), user).await? {
                if self.access.role_of(Some(p), org).await?.is_some_and(|r| r >= Role::Viewer) {
                    orgs.insert(org);
                }
            }
            if orgs.is_empty() {
                return Err(AppError::not_found("user"));
            }
            Some(orgs)
        };
        // Scan newest first, keeping what the caller may see, until the page is full.
        let mut kept = Vec::new();
        loop {
            let rows = store::user_bookings(self.db(), user, before, limit + 1).await?;
            let exhausted = (rows.len() as i64) <= limit;
            before = rows.last().map(|b| b.id);
            kept.extend(rows.into_iter().filter(|b| allowed.as_ref().is_none_or(|a| a.contains(&b.org_id))));
            if exhausted || kept.len() as i64 > limit {
                break;
            }
        }
        kept.truncate(limit as usize + 1);
        Ok(Page::from_rows(kept, limit, |b| b.id).map(|b| summary(&b)))
    }

    /// Sales of an event (members): per ticket type and quota, gross per currency, sales per
    /// day in the event's time zone, bookings per status.
    pub async fn stats(&self, p: &Principal, event: EventId) -> AppResult<BookingStats> {
        let (e, scope) = self.managed_event(p, event, Role::Viewer, "event").await?;
        let quotas = catalog_store::quotas(self.db(), e.id).await?;
        let types = type_views(catalog_store::types_with_quotas(self.db(), e.id).await?, &quotas, &e, now());
        let capacity: HashMap<QuotaId, i64> = quotas.iter().map(|q| (q.id, q.capacity)).collect();
        let mut sales: HashMap<(domain::TicketTypeId, String), (i64, i64)> = HashMap::new();
        for (t, status, qty, gross) in store::type_sales(self.db(), &scope, e.id).await? {
            sales.insert((t, status), (qty, gross));
        }
        let ticket_types = types
            .into_iter()
            .map(|t| {
                let sold = sales.get(&(t.id, "confirmed".to_string())).copied().unwrap_or_default();
                let held = sales.get(&(t.id, "pending_payment".to_string())).copied().unwrap_or_default();
                TypeStats {
                    ticket_type_id: t.id,
                    capacity: t.quota_ids.iter().filter_map(|q| capacity.get(q).copied()).min(),
                    available: t.available,
                    name: t.name,
                    price: t.price,
                    currency: t.currency,
                    sold: sold.0,
                    held: held.0,
                    gross: sold.1,
                }
            })
            .collect();
        let quotas = quotas
            .into_iter()
            .map(|q| QuotaStats {
                quota_id: q.id,
                name: q.name,
                capacity: q.capacity,
                taken: q.taken,
                available: (q.capacity - q.taken).max(0),
            })
            .collect();
        let gross = store::currency_sales(self.db(), &scope, e.id)
            .await?
            .into_iter()
            .map(|(currency, bookings, tickets, gross)| CurrencyStats { currency, bookings, tickets, gross })
            .collect();
        let tz = zone_of(&e.time_zone);
        // Each day's gross is a sum of money in one currency: one that does not add up (an
        // overflow) fails the report rather than showing a wrong figure.
        let mut days: BTreeMap<(String, String), (i64, i64, Money)> = BTreeMap::new();
        let mut refused: Option<AppError> = None;
        store::fold_confirmed(self.db(), &scope, e.id, |at, currency, tickets, total| {
            if refused.is_some() {
                return;
            }
            let day = at.with_timezone(&tz).date_naive().to_string();
            let add = || -> AppResult<()> {
                let total = Money::from_row(total, &currency)?;
                let entry = days.entry((day, currency)).or_insert((0, 0, Money::zero(total.currency)));
                entry.0 += 1;
                entry.1 += tickets;
                entry.2 = entry.2.checked_add(total)?;
                Ok(())
            };
            refused = add().err();
        })
        .await?;
        if let Some(e) = refused {
            return Err(e);
        }
        let sales_per_day = days
            .into_iter()
            .map(|((date, currency), (bookings, tickets, gross))| DayStats {
                date,
                currency,
                bookings,
                tickets,
                gross: gross.amount,
            })
            .collect();
        let bookings_by_status = store::status_counts(self.db(), &scope, e.id)
            .await?
            .into_iter()
            .filter_map(|(s, n)| BookingStatus::parse(&s).map(|status| StatusCount { status, bookings: n }))
            .collect();
        Ok(BookingStats {
            event_id: e.id,
            time_zone: e.time_zone,
            ticket_types,
            quotas,
            gross,
            sales_per_day,
            bookings_by_status,
        })
    }
}
