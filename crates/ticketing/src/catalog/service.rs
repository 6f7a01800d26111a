//! The use cases of the catalog: an event's ticket types, quotas (capacity pools) and
//! vouchers (the settings are in [`super::settings`]).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use events::{EventFacts, EventId, EventStatus};
use kernel::audit::changed_fields;
use kernel::auth::{OrgScope, Principal, Role};
use kernel::pagination::{Page, PageParams};
use kernel::time::now;
use kernel::{AppError, AppResult};
use serde_json::json;
use sqlx::types::Json;

use super::store::{self, QuotaRecord, TicketTypeRecord, VoucherRecord};
use crate::domain::{self, QuotaId, TicketTypeId, Visibility, VoucherId, known_types, validate_voucher};
use crate::events::{CapacityRaised, QUOTA_CAPACITY_RAISED};
use crate::model::*;
use crate::shared::state::{Shared, feature_service};

/// Builds the API view of an event's ticket types from its rows and quotas.
pub(crate) fn type_views(
    rows: Vec<store::TypeQuotaRow>,
    quotas: &[QuotaRecord],
    event: &EventFacts,
    at: DateTime<Utc>,
) -> Vec<TicketType> {
    let room: HashMap<QuotaId, i64> = quotas.iter().map(|q| (q.id, q.capacity - q.taken)).collect();
    let mut out: Vec<TicketType> = Vec::new();
    for row in rows {
        if let Some(last) = out.last_mut()
            && last.id == row.ticket_type.id
        {
            if let Some(q) = row.quota_id {
                last.quota_ids.push(q);
            }
            continue;
        }
        let t = row.ticket_type;
        out.push(TicketType {
            id: t.id,
            event_id: t.event_id,
            session_id: t.session_id,
            name: t.name,
            description: t.description,
            price: t.price,
            currency: t.currency,
            sales_start: t.sales_start,
            sales_end: t.sales_end,
            min_per_order: t.min_per_order,
            max_per_order: t.max_per_order,
            visibility: t.visibility,
            sort_order: t.sort_order,
            quota_ids: row.quota_id.into_iter().collect(),
            available: None,
            on_sale: false,
            created_at: t.created_at,
            updated_at: t.updated_at,
        });
    }
    for t in &mut out {
        t.available = t.quota_ids.iter().filter_map(|q| room.get(q).copied()).min().map(|n| n.max(0));
        t.on_sale = event.status == EventStatus::Published
            && domain::sales_open(at, t.sales_start, t.sales_end, event.ends_at).is_ok()
            && t.available.is_some_and(|n| n >= t.min_per_order);
    }
    out
}

fn quota_view(q: QuotaRecord, types: Vec<TicketTypeId>) -> Quota {
    Quota {
        id: q.id,
        event_id: q.event_id,
        name: q.name,
        capacity: q.capacity,
        taken: q.taken,
        available: (q.capacity - q.taken).max(0),
        ticket_type_ids: types,
        created_at: q.created_at,
        updated_at: q.updated_at,
    }
}

fn voucher_view(v: VoucherRecord) -> Voucher {
    Voucher {
        id: v.id,
        event_id: v.event_id,
        code: v.code,
        amount_off: v.amount_off,
        percent_off: v.percent_off,
        currency: v.currency,
        max_uses: v.max_uses,
        uses: v.uses,
        valid_from: v.valid_from,
        valid_until: v.valid_until,
        ticket_type_ids: v.ticket_type_ids.0,
        unlock_ticket_type_ids: v.unlock_ticket_type_ids.0,
        created_at: v.created_at,
        updated_at: v.updated_at,
    }
}

/// A failed delete/update because rows still refer to the resource.
fn in_use<'a>(code: &'static str, message: &'a str) -> impl Fn(AppError) -> AppError + 'a {
    move |e| match e {
        AppError::Validation { field, .. } if field == "reference" => AppError::conflict(code, message),
        other => other,
    }
}

/// The catalog of events: ticket types, quotas, vouchers and ticketing settings (staff
/// manage them, members read them, the public sees what is on sale). A handle on the shared
/// state; cheap to clone.
#[derive(Clone)]
pub struct Catalog(Arc<Shared>);

feature_service!(Catalog);

impl Catalog {
    // ---- ticket types ---------------------------------------------------------------

    /// The event's ticket types by sort order. Everyone sees the public types of a published
    /// event, plus the hidden types a valid `voucher` unlocks; members see all types of any
    /// live event.
    pub async fn ticket_types(&self, p: Option<&Principal>, event: EventId, q: TicketTypeQuery) -> AppResult<Vec<TicketType>> {
        let (e, member) = self.visible_event(p, event).await?;
        let unlocked: Vec<TicketTypeId> = match q.voucher.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
            None => Vec::new(),
            Some(code) if code.contains('\0') => return Err(AppError::validation("voucher", "unknown voucher code")),
            Some(code) => {
                let v = store::voucher_by_code(self.db(), event, &domain::code_norm(code)).await?;
                match v {
                    Some(v) => v.unlock_ticket_type_ids.0,
                    None => return Err(AppError::validation("voucher", "unknown voucher code")),
                }
            }
        };
        let rows = store::types_with_quotas(self.db(), event).await?;
        let quotas = store::quotas(self.db(), event).await?;
        let mut views = type_views(rows, &quotas, &e, now());
        if member.is_none() {
            views.retain(|t| t.visibility == Visibility::Public || unlocked.contains(&t.id));
        }
        Ok(views)
    }

    async fn type_view(&self, e: &EventFacts, id: TicketTypeId) -> AppResult<TicketType> {
        let rows = store::types_with_quotas(self.db(), e.id).await?;
        let quotas = store::quotas(self.db(), e.id).await?;
        type_views(rows, &quotas, e, now()).into_iter().find(|t| t.id == id).ok_or_else(|| AppError::not_found("ticket type"))
    }

    /// A ticket type of a live event whose organization the caller holds `min` in.
    async fn managed_type(
        &self,
        p: &Principal,
        id: TicketTypeId,
        min: Role,
    ) -> AppResult<(TicketTypeRecord, EventFacts, OrgScope)> {
        let Some(t) = store::ticket_type(self.db(), id).await? else { return Err(AppError::not_found("ticket type")) };
        let (e, scope) = self.managed_event(p, t.event_id, min, "ticket type").await?;
        Ok((t, e, scope))
    }

    async fn check_session(&self, e: &EventFacts, session: Option<events::EventSessionId>) -> AppResult<()> {
        if let Some(s) = session
            && !self.events.session_facts(e.org_id, e.id).await?.iter().any(|f| f.id == s)
        {
            return Err(AppError::validation("session_id", "no such session in this event"));
        }
        Ok(())
    }

    /// Creates a ticket type (staff and above); with `capacity`, also a quota holding just
    /// this type.
    pub async fn create_ticket_type(&self, p: &Principal, event: EventId, req: CreateTicketType) -> AppResult<TicketType> {
        let (e, scope) = self.managed_event(p, event, Role::Staff, "event").await?;
        let at = now();
        let min = domain::within("min_per_order", req.min_per_order.unwrap_or(1), 1..=domain::BOOKING_TICKETS_MAX)?;
        let max = req.max_per_order.map(|m| domain::within("max_per_order", m, min..=domain::BOOKING_TICKETS_MAX)).transpose()?;
        let (sales_start, sales_end) = domain::window(("sales_start", req.sales_start), ("sales_end", req.sales_end))?;
        let record = TicketTypeRecord {
            id: TicketTypeId::new(),
            org_id: e.org_id,
            event_id: e.id,
            session_id: req.session_id,
            name: domain::required_text("name", &req.name, domain::NAME_MAX)?,
            description: domain::optional_long_text("description", req.description.as_deref(), domain::DESCRIPTION_MAX)?,
            price: domain::price("price", req.price)?,
            currency: domain::currency("currency", &req.currency)?,
            sales_start,
            sales_end,
            min_per_order: min,
            max_per_order: max,
            visibility: req.visibility.unwrap_or(Visibility::Public),
            sort_order: domain::within(
                "sort_order",
                req.sort_order.unwrap_or(0),
                -domain::SORT_ORDER_MAX..=domain::SORT_ORDER_MAX,
            )?,
            created_at: at,
            updated_at: at,
        };
        let capacity = req.capacity.map(|c| domain::capacity("capacity", c)).transpose()?;
        self.check_session(&e, record.session_id).await?;

        let mut tx = self.db().begin().await?;
        if store::count_types(&mut tx, &scope, e.id).await? >= domain::TYPES_PER_EVENT_MAX {
            return Err(AppError::conflict(
                "too_many_ticket_types",
                format!("an event has at most {} ticket types", domain::TYPES_PER_EVENT_MAX),
            ));
        }
        store::insert_ticket_type(&mut tx, &scope, &record).await?;
        let mut changes = serde_json::to_value(&record)?;
        strip_bookkeeping(&mut changes);
        if let Some(capacity) = capacity {
            let quota = QuotaRecord {
                id: QuotaId::new(),
                org_id: e.org_id,
                event_id: e.id,
                name: record.name.clone(),
                capacity,
                taken: 0,
                created_at: at,
                updated_at: at,
            };
            store::insert_quota(&mut tx, &scope, &quota).await?;
            store::set_quota_types(&mut tx, &scope, quota.id, &[record.id], at).await?;
            changes["capacity"] = json!(capacity);
            changes["quota_id"] = json!(quota.id);
        }
        self.audit(&mut tx, e.org_id, "ticket_type.created", "ticket_type", record.id.to_string(), changes).await?;
        self.kernel.commit(tx).await?;
        self.forget(e.id);
        self.type_view(&e, record.id).await
    }

    /// Changes a ticket type (staff and above): only the fields present. Bookings made
    /// before keep the price they were sold at.
    pub async fn update_ticket_type(&self, p: &Principal, id: TicketTypeId, req: UpdateTicketType) -> AppResult<TicketType> {
        let (old, e, scope) = self.managed_type(p, id, Role::Staff).await?;
        let mut new = old.clone();
        if let Some(n) = &req.name {
            new.name = domain::required_text("name", n, domain::NAME_MAX)?;
        }
        if let Some(d) = &req.description {
            new.description = domain::optional_long_text("description", d.as_deref(), domain::DESCRIPTION_MAX)?;
        }
        if let Some(price) = req.price {
            new.price = domain::price("price", price)?;
        }
        if let Some(c) = &req.currency {
            new.currency = domain::currency("currency", c)?;
        }
        if let Some(s) = req.session_id {
            self.check_session(&e, s).await?;
            new.session_id = s;
        }
        if req.sales_start.is_some() || req.sales_end.is_some() {
            let (s, end) = domain::window(
                ("sales_start", req.sales_start.unwrap_or(old.sales_start)),
                ("sales_end", req.sales_end.unwrap_or(old.sales_end)),
            )?;
            new.sales_start = s;
            new.sales_end = end;
        }
        if let Some(m) = req.min_per_order {
            new.min_per_order = domain::within("min_per_order", m, 1..=domain::BOOKING_TICKETS_MAX)?;
        }
        if let Some(m) = req.max_per_order {
            new.max_per_order = m;
        }
        if let Some(m) = new.max_per_order {
            new.max_per_order = Some(domain::within("max_per_order", m, new.min_per_order..=domain::BOOKING_TICKETS_MAX)?);
        }
        if let Some(v) = req.visibility {
            new.visibility = v;
        }
        if let Some(s) = req.sort_order {
            new.sort_order = domain::within("sort_order", s, -domain::SORT_ORDER_MAX..=domain::SORT_ORDER_MAX)?;
        }
        let changes = changed_fields(&serde_json::to_value(&old)?, &serde_json::to_value(&new)?);
        if changes.as_object().is_some_and(|c| !c.is_empty()) {
            new.updated_at = now();
            let mut tx = self.db().begin().await?;
            if store::save_ticket_type(&mut tx, &scope, &new).await? == 0 {
                return Err(AppError::not_found("ticket type"));
            }
            self.audit(&mut tx, e.org_id, "ticket_type.updated", "ticket_type", id.to_string(), changes).await?;
            self.kernel.commit(tx).await?;
            self.forget(e.id);
        }
        self.type_view(&e, id).await
    }

    /// Deletes a ticket type that was never booked (staff and above); `409
    /// ticket_type_in_use` otherwise (end its sales window instead).
    pub async fn delete_ticket_type(&self, p: &Principal, id: TicketTypeId) -> AppResult<()> {
        let (old, e, scope) = self.managed_type(p, id, Role::Staff).await?;
        const IN_USE: &str = "the ticket type has bookings; end its sales (sales_end) instead of deleting it";
        let mut tx = self.db().begin().await?;
        if store::type_was_booked(&mut tx, &scope, id).await? {
            return Err(AppError::conflict("ticket_type_in_use", IN_USE));
        }
        // A booking racing this delete surfaces as a foreign-key violation.
        let n = store::delete_ticket_type(&mut tx, &scope, id)
            .await
            .map_err(AppError::from)
            .map_err(in_use("ticket_type_in_use", IN_USE))?;
        if n == 0 {
            return Err(AppError::not_found("ticket type"));
        }
        self.audit(&mut tx, e.org_id, "ticket_type.deleted", "ticket_type", id.to_string(), json!({ "name": old.name })).await?;
        self.kernel.commit(tx).await?;
        self.forget(e.id);
        Ok(())
    }

    // ---- quotas ---------------------------------------------------------------------

    /// The event's quotas with their ticket types (members).
    pub async fn quotas(&self, p: &Principal, event: EventId) -> AppResult<Vec<Quota>> {
        let (e, scope) = self.managed_event(p, event, Role::Viewer, "event").await?;
        let quotas = store::quotas(self.db(), e.id).await?;
        let mut members: HashMap<QuotaId, Vec<TicketTypeId>> = HashMap::new();
        for (q, t) in store::memberships(self.db(), &scope, e.id).await? {
            members.entry(q).or_default().push(t);
        }
        Ok(quotas.into_iter().map(|q| quota_view(q.clone(), members.remove(&q.id).unwrap_or_default())).collect())
    }

    /// Creates a quota (staff and above).
    pub async fn create_quota(&self, p: &Principal, event: EventId, req: CreateQuota) -> AppResult<Quota> {
        let (e, scope) = self.managed_event(p, event, Role::Staff, "event").await?;
        let at = now();
        let quota = QuotaRecord {
            id: QuotaId::new(),
            org_id: e.org_id,
            event_id: e.id,
            name: domain::required_text("name", &req.name, domain::NAME_MAX)?,
            capacity: domain::capacity("capacity", req.capacity)?,
            taken: 0,
            created_at: at,
            updated_at: at,
        };
        let mut tx = self.db().begin().await?;
        let known = store::type_ids_of_event(&mut tx, &scope, e.id).await?;
        let types = known_types("ticket_type_ids", &req.ticket_type_ids, &known, domain::TYPES_PER_EVENT_MAX as usize)?;
        if store::count_quotas(&mut tx, &scope, e.id).await? >= domain::QUOTAS_PER_EVENT_MAX {
            return Err(AppError::conflict(
                "too_many_quotas",
                format!("an event has at most {} quotas", domain::QUOTAS_PER_EVENT_MAX),
            ));
        }
        store::insert_quota(&mut tx, &scope, &quota).await?;
        store::set_quota_types(&mut tx, &scope, quota.id, &types, at).await?;
        let changes = json!({ "name": quota.name, "capacity": quota.capacity, "ticket_type_ids": types, "event_id": e.id });
        self.audit(&mut tx, e.org_id, "quota.created", "quota", quota.id.to_string(), changes).await?;
        self.kernel.commit(tx).await?;
        self.forget(e.id);
        Ok(quota_view(quota, types))
    }

    async fn managed_quota(&self, p: &Principal, id: QuotaId) -> AppResult<(QuotaRecord, EventFacts, OrgScope)> {
        let Some(q) = store::quota(self.db(), id).await? else { return Err(AppError::not_found("quota")) };
        let (e, scope) = self.managed_event(p, q.event_id, Role::Staff, "quota").await?;
        Ok((q, e, scope))
    }

    /// Changes a quota (staff and above). Capacity can drop to what is taken (held + sold)
    /// and no lower (`409 capacity_below_taken`); raising it publishes
    /// `quota.capacity_raised`, which the waitlist reacts to.
    pub async fn update_quota(&self, p: &Principal, id: QuotaId, req: UpdateQuota) -> AppResult<Quota> {
        let (_, e, scope) = self.managed_quota(p, id).await?;
        let name = req.name.as_deref().map(|n| domain::required_text("name", n, domain::NAME_MAX)).transpose()?;
        let capacity = req.capacity.map(|c| domain::capacity("capacity", c)).transpose()?;
        let at = now();
        let mut tx = self.db().begin().await?;
        let Some(mut quota) = store::quota_tx(&mut tx, &scope, id).await? else { return Err(AppError::not_found("quota")) };
        let mut types = store::quota_types(&mut tx, &scope, id).await?;
        let mut changes = serde_json::Map::new();
        if let Some(n) = name
            && n != quota.name
        {
            store::rename_quota(&mut tx, &scope, id, &n, at).await?;
            changes.insert("name".into(), json!(n));
            quota.name = n;
        }
        if let Some(c) = capacity
            && c != quota.capacity
        {
            let before = quota.capacity;
            // Conditional: concurrent bookings may have taken more since the read above.
            let Some(changed) = store::set_capacity(&mut tx, &scope, id, c, at).await? else {
                let taken = store::quota_tx(&mut tx, &scope, id).await?.map(|q| q.taken).unwrap_or(quota.taken);
                return Err(AppError::conflict(
                    "capacity_below_taken",
                    format!("{taken} seats of this quota are held or sold; capacity cannot go below that"),
                ));
            };
            quota = changed;
            changes.insert("capacity".into(), json!(c));
            if c > before {
                let payload = CapacityRaised {
                    quota_id: id,
                    event_id: e.id,
                    org_id: e.org_id,
                    capacity: c,
                    previous_capacity: before,
                    available: quota.capacity - quota.taken,
                    ticket_type_ids: types.clone(),
                };
                self.kernel.jobs.publish(&mut tx, &QUOTA_CAPACITY_RAISED, &payload).await?;
            }
        }
        if let Some(ids) = &req.ticket_type_ids {
            let known = store::type_ids_of_event(&mut tx, &scope, e.id).await?;
            let new_types = known_types("ticket_type_ids", ids, &known, domain::TYPES_PER_EVENT_MAX as usize)?;
            let (mut a, mut b) = (types.clone(), new_types.clone());
            a.sort();
            b.sort();
            if a != b {
                store::set_quota_types(&mut tx, &scope, id, &new_types, at).await?;
                changes.insert("ticket_type_ids".into(), json!(new_types));
                types = new_types;
            }
        }
        if !changes.is_empty() {
            self.audit(&mut tx, e.org_id, "quota.updated", "quota", id.to_string(), serde_json::Value::Object(changes)).await?;
            self.kernel.commit(tx).await?;
            self.forget(e.id);
        }
        Ok(quota_view(quota, types))
    }

    /// Deletes a quota no seat is held or sold from (staff and above).
    pub async fn delete_quota(&self, p: &Principal, id: QuotaId) -> AppResult<()> {
        let (q, e, scope) = self.managed_quota(p, id).await?;
        let mut tx = self.db().begin().await?;
        if store::delete_quota(&mut tx, &scope, id).await? == 0 {
            return Err(match store::quota_tx(&mut tx, &scope, id).await? {
                Some(q) => AppError::conflict(
                    "quota_in_use",
                    format!("{} seats of this quota are held or sold; cancel those bookings first", q.taken),
                ),
                None => AppError::not_found("quota"),
            });
        }
        self.audit(&mut tx, e.org_id, "quota.deleted", "quota", id.to_string(), json!({ "name": q.name })).await?;
        self.kernel.commit(tx).await?;
        self.forget(e.id);
        Ok(())
    }

    // ---- vouchers -------------------------------------------------------------------

    /// The event's vouchers by code (members).
    pub async fn vouchers(&self, p: &Principal, event: EventId, page: PageParams) -> AppResult<Page<Voucher>> {
        let (e, scope) = self.managed_event(p, event, Role::Viewer, "event").await?;
        let limit = page.limit()?;
        let after: Option<(String, VoucherId)> = page.decode()?;
        let rows = store::vouchers(self.db(), &scope, e.id, after, limit + 1).await?;
        Ok(Page::from_rows(rows, limit, |v| (v.code_norm.clone(), v.id)).map(voucher_view))
    }

    /// Creates a voucher (staff and above).
    pub async fn create_voucher(&self, p: &Principal, event: EventId, req: CreateVoucher) -> AppResult<Voucher> {
        let (e, scope) = self.managed_event(p, event, Role::Staff, "event").await?;
        let at = now();
        let code = domain::voucher_code("code", &req.code)?;
        let mut v = VoucherRecord {
            id: VoucherId::new(),
            org_id: e.org_id,
            event_id: e.id,
            code_norm: domain::code_norm(&code),
            code,
            amount_off: req.amount_off,
            percent_off: req.percent_off,
            currency: req.currency.clone(),
            max_uses: req.max_uses,
            uses: 0,
            valid_from: req.valid_from,
            valid_until: req.valid_until,
            ticket_type_ids: Json(req.ticket_type_ids.clone()),
            unlock_ticket_type_ids: Json(req.unlock_ticket_type_ids.clone()),
            created_at: at,
            updated_at: at,
        };
        let mut tx = self.db().begin().await?;
        let known = store::type_ids_of_event(&mut tx, &scope, e.id).await?;
        validate_voucher(&mut v, &known)?;
        store::insert_voucher(&mut tx, &scope, &v).await.map_err(AppError::from).map_err(code_taken)?;
        let mut changes = serde_json::to_value(&v)?;
        strip_bookkeeping(&mut changes);
        self.audit(&mut tx, e.org_id, "voucher.created", "voucher", v.id.to_string(), changes).await?;
        self.kernel.commit(tx).await?;
        Ok(voucher_view(v))
    }

    async fn managed_voucher(&self, p: &Principal, id: VoucherId) -> AppResult<(VoucherRecord, EventFacts, OrgScope)> {
        let Some(v) = store::voucher(self.db(), id).await? else { return Err(AppError::not_found("voucher")) };
        let (e, scope) = self.managed_event(p, v.event_id, Role::Staff, "voucher").await?;
        Ok((v, e, scope))
    }

    /// Changes a voucher (staff and above): only the fields present. `max_uses` cannot drop
    /// below the uses it has (`409 voucher_in_use`).
    pub async fn update_voucher(&self, p: &Principal, id: VoucherId, req: UpdateVoucher) -> AppResult<Voucher> {
        let (old, e, scope) = self.managed_voucher(p, id).await?;
        let mut v = old.clone();
        if let Some(c) = &req.code {
            v.code = domain::voucher_code("code", c)?;
            v.code_norm = domain::code_norm(&v.code);
        }
        if let Some(a) = req.amount_off {
            v.amount_off = a;
        }
        if let Some(pct) = req.percent_off {
            v.percent_off = pct;
        }
        if let Some(c) = &req.currency {
            v.currency = c.clone();
        }
        if let Some(m) = req.max_uses {
            v.max_uses = m;
        }
        if let Some(f) = req.valid_from {
            v.valid_from = f;
        }
        if let Some(u) = req.valid_until {
            v.valid_until = u;
        }
        if let Some(t) = &req.ticket_type_ids {
            v.ticket_type_ids = Json(t.clone());
        }
        if let Some(t) = &req.unlock_ticket_type_ids {
            v.unlock_ticket_type_ids = Json(t.clone());
        }
        let mut tx = self.db().begin().await?;
        let known = store::type_ids_of_event(&mut tx, &scope, e.id).await?;
        validate_voucher(&mut v, &known)?;
        let mut changes = changed_fields(&serde_json::to_value(&old)?, &serde_json::to_value(&v)?);
        if let Some(map) = changes.as_object_mut() {
            map.remove("uses");
            map.remove("code_norm");
        }
        if changes.as_object().is_none_or(|c| c.is_empty()) {
            return Ok(voucher_view(old));
        }
        v.updated_at = now();
        let Some(saved) = store::save_voucher(&mut tx, &scope, &v).await.map_err(AppError::from).map_err(code_taken)? else {
            return Err(AppError::conflict(
                "voucher_in_use",
                "max_uses cannot go below the number of live bookings using the voucher",
            ));
        };
        self.audit(&mut tx, e.org_id, "voucher.updated", "voucher", id.to_string(), changes).await?;
        self.kernel.commit(tx).await?;
        Ok(voucher_view(saved))
    }

    /// Deletes a voucher no live booking uses (staff and above).
    pub async fn delete_voucher(&self, p: &Principal, id: VoucherId) -> AppResult<()> {
        let (v, e, scope) = self.managed_voucher(p, id).await?;
        let mut tx = self.db().begin().await?;
        if store::delete_voucher(&mut tx, &scope, id).await? == 0 {
            return Err(AppError::conflict(
                "voucher_in_use",
                "live bookings use this voucher; end its validity (valid_until) instead of deleting it",
            ));
        }
        self.audit(&mut tx, e.org_id, "voucher.deleted", "voucher", id.to_string(), json!({ "code": v.code })).await?;
        self.kernel.commit(tx).await
    }
}

/// The one unique constraint a voucher write can hit: its code in the event.
fn code_taken(e: AppError) -> AppError {
    match e {
        AppError::Conflict { code: "already_exists", .. } => {
            AppError::conflict("voucher_code_taken", "the event already has a voucher with this code (codes ignore case)")
        }
        other => other,
    }
}

/// Drops ids and bookkeeping timestamps from a creation's change summary.
fn strip_bookkeeping(changes: &mut serde_json::Value) {
    if let Some(map) = changes.as_object_mut() {
        for key in ["id", "org_id", "created_at", "updated_at", "code_norm", "uses"] {
            map.remove(key);
        }
        map.retain(|_, v| !v.is_null());
    }
}
