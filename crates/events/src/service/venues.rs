//! An organization's venues: listed and read by its members, changed by its staff. A venue
//! gives new events their time zone and cannot be deleted while an event uses it.

use kernel::audit::{changed_fields, changes_of};
use kernel::auth::{OrgScope, Principal, Role};
use kernel::id::OrgId;
use kernel::pagination::{Page, PageParams};
use kernel::time::now;
use kernel::validate::{country, optional_long_text, required_text, time_zone};
use kernel::{AppError, AppResult, Tx};
use serde_json::json;

use super::{EventsService, Target, strip_bookkeeping};
use crate::domain::{self, VenueId};
use crate::model::*;
use crate::store;

impl EventsService {
    /// An organization's venues by name (members).
    pub async fn venues(&self, p: &Principal, org: OrgId, page: PageParams) -> AppResult<Page<Venue>> {
        let scope = self.access.require(p, org, Role::Viewer).await?;
        let limit = page.limit()?;
        let after: Option<(String, VenueId)> = page.decode()?;
        let rows = store::venues(self.db(), &scope, after, limit + 1).await?;
        Ok(Page::from_rows(rows, limit, |v| (v.name.clone(), v.id)))
    }

    /// One venue (members of its organization).
    pub async fn venue(&self, p: &Principal, id: VenueId) -> AppResult<Venue> {
        Ok(self.venue_for(p, id, Role::Viewer).await?.1)
    }

    /// A venue the caller holds `min` for, with the caller's scope; outsiders get `404`.
    async fn venue_for(&self, p: &Principal, id: VenueId, min: Role) -> AppResult<(OrgScope, Venue)> {
        let Some(venue) = store::resolve_venue(self.db(), id).await? else { return Err(AppError::not_found("venue")) };
        let scope = self.access.require_for(p, venue.org_id, min, "venue").await?;
        Ok((scope, venue))
    }

    /// The zone of a venue of the scope's organization; `422 venue_id` if it has no such venue.
    pub(super) async fn venue_zone(&self, tx: &mut Tx<'_>, scope: &OrgScope, venue: VenueId) -> AppResult<String> {
        match store::venue(tx, scope, venue).await? {
            Some(v) => Ok(v.time_zone),
            None => Err(AppError::validation("venue_id", "no such venue in this organization")),
        }
    }

    /// Creates a venue (staff and above).
    pub async fn create_venue(&self, p: &Principal, org: OrgId, req: CreateVenue) -> AppResult<Venue> {
        let scope = self.access.require(p, org, Role::Staff).await?;
        let at = now();
        let venue = Venue {
            id: VenueId::new(),
            org_id: scope.org(),
            name: required_text("name", &req.name, domain::NAME_MAX)?,
            address: optional_long_text("address", req.address.as_deref(), domain::ADDRESS_MAX)?,
            city: required_text("city", &req.city, domain::CITY_MAX)?,
            country: country("country", &req.country)?,
            capacity: domain::capacity("capacity", req.capacity)?,
            time_zone: time_zone("time_zone", &req.time_zone)?.name().to_string(),
            created_at: at,
            updated_at: at,
        };
        let mut tx = self.db().begin().await?;
        store::insert_venue(&mut tx, &scope, &venue).await?;
        let mut changes = changes_of(&venue);
        strip_bookkeeping(&mut changes);
        self.audit(&mut tx, p, &scope, "venue.created", Target::Venue(venue.id), changes).await?;
        self.kernel.commit(tx).await?;
        Ok(venue)
    }

    /// Changes a venue (staff and above). Events keep their own time zone.
    pub async fn update_venue(&self, p: &Principal, id: VenueId, req: UpdateVenue) -> AppResult<Venue> {
        let (scope, _) = self.venue_for(p, id, Role::Staff).await?;
        let name = req.name.as_deref().map(|n| required_text("name", n, domain::NAME_MAX)).transpose()?;
        let address = match &req.address {
            Some(a) => Some(optional_long_text("address", a.as_deref(), domain::ADDRESS_MAX)?),
            None => None,
        };
        let city = req.city.as_deref().map(|c| required_text("city", c, domain::CITY_MAX)).transpose()?;
        let country = req.country.as_deref().map(|c| country("country", c)).transpose()?;
        let capacity = match req.capacity {
            Some(c) => Some(domain::capacity("capacity", c)?),
            None => None,
        };
        let zone = req.time_zone.as_deref().map(|z| time_zone("time_zone", z)).transpose()?;
        let at = now();
        let mut tx = self.db().begin().await?;
        let Some(old) = store::venue(&mut tx, &scope, id).await? else { return Err(AppError::not_found("venue")) };
        let mut new = old.clone();
        if let Some(n) = name {
            new.name = n;
        }
        if let Some(a) = address {
            new.address = a;
        }
        if let Some(c) = city {
            new.city = c;
        }
        if let Some(c) = country {
            new.country = c;
        }
        if let Some(c) = capacity {
            new.capacity = c;
        }
        if let Some(z) = zone {
            new.time_zone = z.name().to_string();
        }
        let changes = changed_fields(&serde_json::to_value(&old)?, &serde_json::to_value(&new)?);
        if changes.as_object().is_some_and(|c| !c.is_empty()) {
            new.updated_at = at;
            store::save_venue(&mut tx, &scope, &new).await?;
            self.audit(&mut tx, p, &scope, "venue.updated", Target::Venue(id), changes).await?;
            self.kernel.commit(tx).await?;
            self.forget(None);
        }
        Ok(new)
    }

    /// Deletes a venue no event uses (staff and above); `409 venue_in_use` otherwise.
    pub async fn delete_venue(&self, p: &Principal, id: VenueId) -> AppResult<()> {
        let (scope, _) = self.venue_for(p, id, Role::Staff).await?;
        let in_use = || AppError::conflict("venue_in_use", "events use this venue; move or delete them first");
        let mut tx = self.db().begin().await?;
        let Some(old) = store::venue(&mut tx, &scope, id).await? else { return Err(AppError::not_found("venue")) };
        if store::venue_in_use(&mut tx, &scope, id).await? {
            return Err(in_use());
        }
        // A concurrent insert referencing the venue surfaces as a foreign-key violation.
        store::delete_venue(&mut tx, &scope, id).await.map_err(|e| match AppError::from(e) {
            AppError::Validation { .. } => in_use(),
            other => other,
        })?;
        self.audit(&mut tx, p, &scope, "venue.deleted", Target::Venue(id), json!({ "name": old.name })).await?;
        self.kernel.commit(tx).await?;
        self.forget(None);
        Ok(())
    }
}
