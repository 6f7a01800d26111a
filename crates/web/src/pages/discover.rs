//! Discovery: the listing of upcoming events with search, and the event page (details in
//! the event's own time zone, tickets with live availability, the form that starts a checkout).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use events::{EventId, EventQuery};
use kernel::AppError;
use serde::Deserialize;
use serde_json::{Value, json};
use ticketing::TicketTypeQuery;

use super::{Page, error_page, local_path, text};
use crate::Web;
use crate::session::Visitor;

/// Events per page of the listing.
const PAGE_SIZE: i64 = 12;
/// At or below this many seats left, a ticket type says how many.
const FEW_LEFT: i64 = 20;
/// The language cookie lives a year.
const LANG_COOKIE_SECS: u32 = 31_536_000;

/// Filters of the listing, as the search form sends them (dates as `YYYY-MM-DD`).
#[derive(Debug, Default, Deserialize)]
pub struct HomeQuery {
    q: Option<String>,
    city: Option<String>,
    category: Option<String>,
    from: Option<String>,
    to: Option<String>,
    cursor: Option<String>,
}

/// A form date as an instant: the start of `from`'s day, the end of `to`'s (UTC).
fn day_bound(raw: Option<&str>, end: bool) -> Result<Option<String>, ()> {
    let Some(day) = raw.map(str::trim).filter(|d| !d.is_empty()) else { return Ok(None) };
    let date = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").map_err(|_| ())?;
    let time = if end { "23:59:59" } else { "00:00:00" };
    Ok(Some(format!("{date}T{time}Z")))
}

/// `GET /`: upcoming published events, filtered by the search form; the filters and the
/// cursor live in the URL, so a reload or a shared link shows the same page.
pub async fn home(State(web): State<Arc<Web>>, visitor: Visitor, Query(query): Query<HomeQuery>) -> Response {
    let blank = |s: &Option<String>| s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    let page = Page::new(&web, &visitor)
        .set(
            "query",
            json!({ "q": blank(&query.q), "city": blank(&query.city), "category": blank(&query.category),
                    "from": blank(&query.from), "to": blank(&query.to) }),
        )
        .set("canonical", format!("{}/", web.public_url));
    let (from, to) = match (day_bound(query.from.as_deref(), false), day_bound(query.to.as_deref(), true)) {
        (Ok(f), Ok(t)) => (f, t),
        _ => {
            let problem = text(&web, &visitor, "error-bad-request", &[("detail", "YYYY-MM-DD".into())]);
            return page
                .set("problem", problem)
                .set("events", json!([]))
                .set("next_url", Value::Null)
                .render(StatusCode::UNPROCESSABLE_ENTITY, "home.html");
        }
    };
    let principal = visitor.principal.clone();
    // Without a lower bound the listing shows what is still to come.
    let from = from.or_else(|| Some(kernel::time::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()));
    let q = EventQuery {
        q: blank(&query.q),
        from,
        to,
        city: blank(&query.city),
        category: blank(&query.category),
        cursor: blank(&query.cursor),
        limit: Some(PAGE_SIZE),
        ..EventQuery::default()
    };
    let listing = match web.events.list_events(principal.as_ref(), q).await {
        Ok(listing) => listing,
        Err(AppError::Validation { message, field }) => {
            return page
                .set("problem", format!("{field}: {message}"))
                .set("events", json!([]))
                .set("next_url", Value::Null)
                .render(StatusCode::UNPROCESSABLE_ENTITY, "home.html");
        }
        Err(e) => return error_page(&web, &visitor, e),
    };
    let next_url = listing.next_cursor.as_ref().map(|cursor| {
        let mut url = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in
            [("q", &query.q), ("city", &query.city), ("category", &query.category), ("from", &query.from), ("to", &query.to)]
        {
            if let Some(v) = blank(value) {
                url.append_pair(key, &v);
            }
        }
        url.append_pair("cursor", cursor);
        format!("/?{}", url.finish())
    });
    let events = &listing.items;
    page.set("events", events).set("next_url", next_url).ok("home.html")
}

#[derive(Debug, Default, Deserialize)]
pub struct EventPageQuery {
    voucher: Option<String>,
    /// Why a checkout sent the buyer back (`sold_out`, `hold_expired`, …).
    problem: Option<String>,
}

/// `GET /events/{id}`: the event in its own time zone, its agenda and its tickets with live
/// availability; a voucher code in the URL shows the hidden types it unlocks.
pub async fn event(
    State(web): State<Arc<Web>>,
    visitor: Visitor,
    Path(raw_id): Path<String>,
    Query(query): Query<EventPageQuery>,
) -> Response {
    let locale = visitor.locale;
    let principal = visitor.principal.clone();
    let Ok(id) = raw_id.parse::<EventId>() else { return error_page(&web, &visitor, AppError::not_found("event")) };
    let event = match web.events.event_cached(principal.as_ref(), id).await {
        Ok(e) => e,
        Err(e) => return error_page(&web, &visitor, e),
    };
    let voucher = query.voucher.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let catalog = web.ticketing.catalog();
    let (types, voucher_applied, voucher_invalid) =
        match catalog.ticket_types(principal.as_ref(), id, TicketTypeQuery { voucher: voucher.clone() }).await {
            Ok(types) => (types, voucher.clone(), false),
            Err(AppError::Validation { .. }) if voucher.is_some() => {
                match catalog.ticket_types(principal.as_ref(), id, TicketTypeQuery { voucher: None }).await {
                    Ok(types) => (types, None, true),
                    Err(e) => return error_page(&web, &visitor, e),
                }
            }
            Err(e) => return error_page(&web, &visitor, e),
        };
    let t = |key: &str, args: &[(&str, fluent_bundle::FluentValue)]| web.i18n.text(locale, key, args);
    let tickets: Vec<Value> = types
        .iter()
        .map(|tt| {
            let (availability, class) = match tt.available {
                Some(0) => (t("ticket-sold-out-waitlist", &[]), "bad"),
                _ if !tt.on_sale => match tt.sales_start.filter(|s| *s > kernel::time::now()) {
                    Some(start) => {
                        let local = start.with_timezone(&kernel::validate::zone_of(&event.time_zone)).fixed_offset();
                        (t("ticket-sales-start", &[("when", web.i18n.datetime(locale, local).into())]), "warn")
                    }
                    None => (t("ticket-not-on-sale", &[]), "warn"),
                },
                Some(n) if n <= FEW_LEFT => (t("ticket-left", &[("count", n.into())]), "warn"),
                _ => (t("ticket-available", &[]), "ok"),
            };
            // The number field offers at most ten at a time; larger orders are for the API.
            let max = [tt.available, tt.max_per_order, Some(10)].into_iter().flatten().min().unwrap_or(10);
            json!({ "id": tt.id, "name": tt.name, "description": tt.description, "price_text": web.i18n.money(locale, tt.price, &tt.currency),
                    "availability": availability, "availability_class": class,
                    "buyable": tt.on_sale && tt.available != Some(0), "min": tt.min_per_order, "max": max,
                    "sold_out": tt.available == Some(0) })
        })
        .collect();
    let canonical = format!("{}/events/{}", web.public_url, event.id);
    let summary: String = {
        let mut s = web.i18n.datetime(locale, parse_local(&event.local_starts_at));
        if let Some(v) = &event.venue {
            s.push_str(&format!(" · {}, {}", v.name, v.city));
        }
        s
    };
    let buyable = tickets.iter().any(|t| t["buyable"] == json!(true));
    let sold_out: Vec<Value> =
        types.iter().filter(|t| t.available == Some(0)).map(|t| json!({ "id": t.id, "name": t.name })).collect();
    Page::new(&web, &visitor)
        .set("canonical", canonical.clone())
        .set("summary", summary)
        .set("json_ld", json_ld(&event, &types, &canonical))
        .set("event", &event)
        .set("tickets", tickets)
        .set("buyable", buyable && event.status == events::EventStatus::Published)
        .set("sold_out_types", sold_out)
        .set("problem", query.problem.as_deref().and_then(|code| web.i18n.lookup(locale, &format!("problem-{code}"))))
        .set("voucher", voucher)
        .set("voucher_applied", voucher_applied)
        .set("voucher_invalid", voucher_invalid)
        .set("checkout_key", super::form_key())
        .ok("event.html")
}

fn parse_local(local: &str) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(local).unwrap_or_else(|_| chrono::DateTime::UNIX_EPOCH.fixed_offset())
}

/// The event as schema.org `Event` JSON-LD, safe to put inside a `<script>` element.
fn json_ld(event: &events::EventDetail, types: &[ticketing::TicketType], canonical: &str) -> String {
    let status = match event.status {
        events::EventStatus::Cancelled => "https://schema.org/EventCancelled",
        _ => "https://schema.org/EventScheduled",
    };
    let offers: Vec<Value> = types
        .iter()
        .map(|tt| {
            let exponent = kernel::money::Currency::from_code(&tt.currency).map(|c| c.exponent()).unwrap_or(2);
            let price = tt.price as f64 / 10f64.powi(exponent as i32);
            json!({
                "@type": "Offer", "name": tt.name, "url": canonical,
                "price": format!("{price:.prec$}", prec = exponent as usize), "priceCurrency": tt.currency,
                "availability": if tt.available == Some(0) { "https://schema.org/SoldOut" } else { "https://schema.org/InStock" },
            })
        })
        .collect();
    let mut doc = json!({
        "@context": "https://schema.org",
        "@type": "Event",
        "name": event.name,
        "url": canonical,
        "startDate": event.local_starts_at,
        "endDate": event.local_ends_at,
        "eventStatus": status,
        "eventAttendanceMode": "https://schema.org/OfflineEventAttendanceMode",
        "offers": offers,
    });
    if !event.description.is_empty() {
        doc["description"] = event.description.clone().into();
    }
    if let Some(image) = &event.image_url {
        doc["image"] = json!([image]);
    }
    if let Some(v) = &event.venue {
        doc["location"] = json!({
            "@type": "Place", "name": v.name,
            "address": { "@type": "PostalAddress", "streetAddress": v.address, "addressLocality": v.city, "addressCountry": v.country },
        });
    }
    if !event.performers.is_empty() {
        doc["performer"] = event.performers.iter().map(|p| json!({ "@type": "PerformingGroup", "name": p })).collect();
    }
    // `</script>` inside a string must not end the element: JSON allows `<` escaped.
    doc.to_string().replace('<', "\\u003c")
}

#[derive(Debug, Deserialize)]
pub struct LanguageQuery {
    lang: String,
    back: Option<String>,
}

/// `GET /language?lang=de&back=/events/…`: remembers the choice in a cookie and goes back.
/// Only paths of this site are followed back (no open redirect).
pub async fn language(State(web): State<Arc<Web>>, Query(q): Query<LanguageQuery>) -> Response {
    let back = local_path(q.back.as_deref());
    let Some(locale) = web.i18n.locale(&q.lang) else { return Redirect::to(&back).into_response() };
    let cookie = format!("lang={}; Path=/; Max-Age={LANG_COOKIE_SECS}; SameSite=Lax", locale.code());
    ([(header::SET_COOKIE, cookie)], Redirect::to(&back)).into_response()
}
