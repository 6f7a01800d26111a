//! Reading many events: the listing, full-text search and the iCal documents (one event, or
//! an organization's feed).

use chrono::{DateTime, Utc};
use kernel::auth::{Principal, Role};
use kernel::id::OrgId;
use kernel::pagination::{Page, PageParams};
use kernel::time::now;
use kernel::validate::{parse_instant, zone_of};
use kernel::{AppError, AppResult};

use super::EventsService;
use crate::domain::{EventId, EventStatus, SearchQuery};
use crate::ical::{self, CalendarEvent};
use crate::model::*;
use crate::store::{self, EventWithVenue, Listing};

/// Most events in an organization's iCal feed.
const FEED_MAX: i64 = 500;

impl EventsService {
    /// The listing: published events for everyone; members of `org_id` also see drafts and
    /// cancelled events of that organization (and may filter by `status`).
    pub async fn list_events(&self, p: Option<&Principal>, q: EventQuery) -> AppResult<Page<EventSummary>> {
        let search = SearchQuery::parse("q", q.q.as_deref())?;
        self.listing(p, q, search).await
    }

    /// Full-text search with the listing's filters; `q` is required.
    pub async fn search_events(&self, p: Option<&Principal>, q: EventQuery) -> AppResult<Page<EventSummary>> {
        let search =
            SearchQuery::parse("q", q.q.as_deref())?.ok_or_else(|| AppError::validation("q", "a search query is required"))?;
        self.listing(p, q, Some(search)).await
    }

    async fn listing(&self, p: Option<&Principal>, q: EventQuery, search: Option<SearchQuery>) -> AppResult<Page<EventSummary>> {
        let page = PageParams { cursor: q.cursor.clone(), limit: q.limit };
        let limit = page.limit()?;
        let after: Option<(DateTime<Utc>, EventId)> = page.decode()?;
        let from = parse_instant("from", q.from.as_deref())?;
        let to = parse_instant("to", q.to.as_deref())?;
        let city = q.city.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let category = q.category.as_deref().map(str::trim).filter(|s| !s.is_empty());
        // Stored cities and categories hold no control characters, so such a filter matches
        // nothing; PostgreSQL would refuse a NUL in a text parameter (a 500) instead.
        if [city, category].into_iter().flatten().any(|s| s.contains(char::is_control)) {
            return Ok(Page { items: Vec::new(), next_cursor: None });
        }
        let member = match q.org_id {
            Some(org) => self.access.role_of(p, org).await?.is_some_and(|r| r >= Role::Viewer),
            None => false,
        };
        // Only members of the organization filtered by get anything but published events.
        let statuses = match (member, q.status) {
            (true, Some(s)) => [s; 3],
            (true, None) => [EventStatus::Draft, EventStatus::Published, EventStatus::Cancelled],
            (false, _) => [EventStatus::Published; 3],
        };
        let listing =
            Listing { statuses, org_id: q.org_id, from, to, city, category, after, fetch: limit + 1, search: search.as_ref() };
        let rows = store::list_events(self.db(), &listing).await?;
        Ok(Page::from_rows(rows, limit, |r| r.cursor()).map(store::SummaryRow::into_summary))
    }

    /// One event as an iCalendar document; visible to whoever may see the event.
    pub async fn event_ical(&self, p: Option<&Principal>, id: EventId) -> AppResult<String> {
        let row = self.visible_event(p, id).await?;
        Ok(self.calendar(&[row], false))
    }

    /// An organization's published events that have not ended yet (public).
    pub async fn org_feed(&self, org: OrgId) -> AppResult<String> {
        let rows = store::feed_events(self.db(), org, now(), FEED_MAX).await?;
        Ok(self.calendar(&rows, true))
    }

    fn calendar(&self, rows: &[EventWithVenue], feed: bool) -> String {
        let base = self.kernel.config.server.public_url.trim_end_matches('/');
        let events: Vec<CalendarEvent<'_>> = rows
            .iter()
            .map(|row| {
                let e = &row.event;
                let location = row.venue.clone().into_venue().map(|v| {
                    [Some(v.name), v.address, Some(v.city), Some(v.country)].into_iter().flatten().collect::<Vec<_>>().join(", ")
                });
                CalendarEvent {
                    id: e.id,
                    name: &e.name,
                    description: &e.description,
                    category: e.category.as_deref(),
                    location,
                    url: format!("{base}/events/{}", e.id),
                    status: e.status,
                    starts_at: e.starts_at,
                    ends_at: e.ends_at,
                    time_zone: zone_of(&e.time_zone),
                    created_at: e.created_at,
                    updated_at: e.updated_at,
                }
            })
            .collect();
        ical::calendar(&events, now(), feed)
    }
}
