//! `/manage`: the user's organizations (and creating one); `/manage/orgs/{org}`: the
//! dashboard — upcoming events with their sales and stock, sales per day as a server-drawn
//! SVG chart, revenue per currency from the ledger, and today's check-in progress.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use events::EventQuery;
use identity::model::CreateOrg;
use kernel::AppError;
use kernel::auth::Role;
use kernel::id::OrgId;
use payments::model::SettlementQuery;
use serde::Deserialize;
use serde_json::{Value, json};
use ticketing::CheckinListId;

use super::{abilities, member, principal};
use crate::Web;
use crate::form::CsrfForm;
use crate::pages::{Page, error_page, problem, see_other, text};
use crate::session::Visitor;

/// Events whose numbers the dashboard shows.
const DASHBOARD_EVENTS: i64 = 8;
/// Days of the sales chart, ending today.
const CHART_DAYS: i64 = 14;
/// A ticket type with at most this share of its capacity left (or five seats) is low.
const LOW_STOCK_SHARE: f64 = 0.1;

pub async fn home(State(web): State<Arc<Web>>, visitor: Visitor) -> Response {
    let p = match principal(&visitor) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Some(user) = p.user_id() else { return error_page(&web, &visitor, AppError::forbidden("users only")) };
    match web.identity.my_orgs(user).await {
        Ok(orgs) => Page::new(&web, &visitor).set("orgs", orgs).ok("manage/home.html"),
        Err(e) => error_page(&web, &visitor, e),
    }
}

#[derive(Debug, Deserialize)]
pub struct OrgForm {
    name: String,
}

pub async fn create_org(State(web): State<Arc<Web>>, visitor: Visitor, CsrfForm(f): CsrfForm<OrgForm>) -> Response {
    let p = match principal(&visitor) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Some(user) = p.user_id() else { return error_page(&web, &visitor, AppError::forbidden("users only")) };
    match web.identity.create_org(user, CreateOrg { name: f.name, slug: None, description: None, website: None }).await {
        Ok(org) => see_other(&format!("/manage/orgs/{}", org.id)),
        Err(e) => {
            let orgs = web.identity.my_orgs(user).await.unwrap_or_default();
            Page::new(&web, &visitor)
                .set("orgs", orgs)
                .set("problem", problem(&web, &visitor, &e))
                .render(e.status(), "manage/home.html")
        }
    }
}

pub async fn dashboard(State(web): State<Arc<Web>>, visitor: Visitor, Path(org): Path<OrgId>) -> Response {
    let (p, role) = match member(&web, &visitor, org, Role::Viewer).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    let locale = visitor.locale;
    let scope_org = match web.identity.my_orgs(p.user_id().unwrap_or_default()).await {
        Ok(orgs) => orgs.into_iter().find(|o| o.id == org),
        Err(e) => return error_page(&web, &visitor, e),
    };
    // Platform administrators see organizations they are no member of: name them by id.
    let org_name = scope_org.map(|o| o.name).unwrap_or_else(|| org.to_string());
    let since = (kernel::time::now() - chrono::TimeDelta::days(1)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let q = EventQuery { org_id: Some(org), from: Some(since), limit: Some(50), ..EventQuery::default() };
    let listing = match web.events.list_events(Some(&p), q).await {
        Ok(l) => l,
        Err(e) => return error_page(&web, &visitor, e),
    };
    let today = kernel::time::now().date_naive();
    // Tickets sold, by days before today (0 = today).
    let mut per_day: BTreeMap<i64, i64> = BTreeMap::new();
    let mut low_stock = Vec::new();
    let mut rows = Vec::new();
    let mut checkins = Vec::new();
    for e in listing.items.iter().take(DASHBOARD_EVENTS as usize) {
        let stats = match web.ticketing.reports().stats(&p, e.id).await {
            Ok(s) => s,
            Err(err) => return error_page(&web, &visitor, err),
        };
        let sold: i64 = stats.ticket_types.iter().map(|t| t.sold).sum();
        let capacity: i64 = stats.quotas.iter().map(|q| q.capacity).sum();
        // Each event counts its days in its own zone: line them up by how many days ago
        // they were there, so "today" is today wherever the event is.
        let local_today = kernel::time::now().with_timezone(&kernel::validate::zone_of(&stats.time_zone)).date_naive();
        for d in &stats.sales_per_day {
            if let Ok(day) = chrono::NaiveDate::parse_from_str(&d.date, "%Y-%m-%d") {
                *per_day.entry((local_today - day).num_days()).or_default() += d.tickets;
            }
        }
        for t in &stats.ticket_types {
            if let (Some(cap), Some(left)) = (t.capacity, t.available)
                && cap > 0
                && (left as f64) <= (cap as f64 * LOW_STOCK_SHARE).max(5.0)
            {
                low_stock.push(json!({ "event": e.name, "event_id": e.id, "type": t.name, "left": left }));
            }
        }
        let gross: Vec<String> = stats.gross.iter().map(|g| web.i18n.money(locale, g.gross, &g.currency)).collect();
        let starts_today = e.starts_at.date_naive() <= today && e.ends_at.date_naive() >= today;
        if starts_today {
            let (expected, checked_in) = match web.ticketing.check_in().checkin_list_status(&p, CheckinListId(e.id.0)).await {
                Ok(s) => (s.expected, s.checked_in),
                // The default list is made on the first scan: nobody is in yet.
                Err(AppError::NotFound { .. }) => (sold, 0),
                Err(err) => return error_page(&web, &visitor, err),
            };
            checkins.push(json!({ "event": e.name, "event_id": e.id, "expected": expected, "checked_in": checked_in,
                                  "percent": if expected > 0 { checked_in * 100 / expected } else { 0 } }));
        }
        rows.push(json!({ "id": e.id, "name": e.name, "status": e.status, "starts": e.local_starts_at,
                          "sold": sold, "capacity": capacity, "gross": gross }));
    }
    let settlement = match web.payments.settlement(&p, SettlementQuery { org_id: Some(org), event_id: None }).await {
        Ok(s) => s,
        Err(err) => return error_page(&web, &visitor, err),
    };
    let money = |lines: &[payments::model::SettlementLine]| -> Vec<Value> {
        lines
            .iter()
            .map(|l| {
                json!({ "currency": l.currency, "gross": web.i18n.money(locale, l.gross, &l.currency),
                        "refunds": web.i18n.money(locale, l.refunds, &l.currency), "fees": web.i18n.money(locale, l.fees, &l.currency),
                        "net": web.i18n.money(locale, l.net, &l.currency) })
            })
            .collect()
    };
    let days: Vec<(String, i64)> = (0..CHART_DAYS)
        .rev()
        .map(|back| {
            let day = (today - chrono::TimeDelta::days(back)).to_string();
            (day, per_day.get(&back).copied().unwrap_or(0))
        })
        .collect();
    let today_sales = days.last().map(|(_, n)| *n).unwrap_or(0);
    let chart = chart_svg(&days, &text(&web, &visitor, "dashboard-chart-label", &[]));
    Page::new(&web, &visitor)
        .set("org", json!({ "id": org, "name": org_name }))
        .set("can", abilities(role))
        .set("events", rows)
        .set("low_stock", low_stock)
        .set("checkins", checkins)
        .set("revenue", money(&settlement.revenue))
        .set("test_revenue", money(&settlement.test_mode))
        .set("chart", chart)
        .set("days", days.iter().map(|(d, n)| json!({ "date": d, "tickets": n })).collect::<Vec<_>>())
        .set("today_sales", today_sales)
        .set("zones", ZONES)
        .ok("manage/dashboard.html")
}

/// Zones offered by the new-event form (any IANA zone can be typed).
const ZONES: [&str; 12] = [
    "Europe/Berlin",
    "Europe/London",
    "Europe/Paris",
    "Europe/Vienna",
    "Europe/Zurich",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Australia/Sydney",
    "UTC",
    "Africa/Lagos",
];

/// Tickets sold per day as bars: an inline SVG (no chart library, nothing to load), with a
/// `<title>` per bar for pointer and screen-reader users; the page also has the numbers as a
/// table.
fn chart_svg(days: &[(String, i64)], label: &str) -> String {
    const W: i64 = 28;
    const H: i64 = 120;
    let max = days.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let mut bars = String::new();
    for (i, (day, n)) in days.iter().enumerate() {
        let h = n * (H - 20) / max;
        let x = i as i64 * W + 4;
        let y = H - 16 - h;
        bars.push_str(&format!(
            "<g><title>{day}: {n}</title><rect x=\"{x}\" y=\"{y}\" width=\"{}\" height=\"{h}\" rx=\"2\" class=\"bar\"/>\
             <text x=\"{}\" y=\"{}\" class=\"day\">{}</text></g>",
            W - 8,
            x + (W - 8) / 2,
            H - 4,
            &day[8..]
        ));
    }
    let width = days.len() as i64 * W + 8;
    let label = label.replace('&', "&amp;").replace('<', "&lt;").replace('"', "&quot;");
    format!(
        "<svg class=\"chart\" viewBox=\"0 0 {width} {H}\" role=\"img\" aria-label=\"{label}\" xmlns=\"http://www.w3.org/2000/svg\">{bars}</svg>"
    )
}
