//! The page handlers: each reads the request, calls the contexts' services as the visitor
//! (anonymous or signed in), and renders a template. Errors become friendly pages in the
//! visitor's language, with the status the API would have answered.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use events::{EventId, EventQuery};
use kernel::AppError;
use kernel::auth::MaybeAuth;
use kernel::context::RequestContext;
use serde::Deserialize;
use serde_json::{Value, json};
use ticketing::TicketTypeQuery;

use crate::Web;
use crate::i18n::Locale;
use crate::render::html;

/// Events per page of the listing.
const PAGE_SIZE: i64 = 12;
/// At or below this many seats left, a ticket type says how many.
const FEW_LEFT: i64 = 20;
/// The language cookie lives a year.
const LANG_COOKIE_SECS: u32 = 31_536_000;

/// The visitor's language: the `lang` cookie, else `Accept-Language`.
fn locale(web: &Web, headers: &HeaderMap) -> Locale {
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|cookies| cookies.split(';').find_map(|c| c.trim().strip_prefix("lang=").map(str::to_string)));
    let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    web.i18n.negotiate(cookie.as_deref(), accept)
}

/// What every page's layout reads.
fn base(web: &Web, locale: Locale, uri: &Uri) -> serde_json::Map<String, Value> {
    let mut ctx = serde_json::Map::new();
    ctx.insert("locale".into(), locale.code().into());
    ctx.insert("path".into(), uri.path_and_query().map(|p| p.as_str()).unwrap_or("/").into());
    ctx.insert("languages".into(), json!([{ "code": "en", "name": "English" }, { "code": "de", "name": "Deutsch" }]));
    ctx.insert("canonical".into(), Value::Null);
    let _ = web;
    ctx
}

fn render(web: &Web, status: StatusCode, template: &str, ctx: serde_json::Map<String, Value>) -> Response {
    html(&web.templates, status, template, minijinja::Value::from_serialize(Value::Object(ctx)))
}

/// A friendly page for an error a service answered.
fn error_page(web: &Web, locale: Locale, uri: &Uri, error: AppError) -> Response {
    let status = error.status();
    let t = |key: &str, args: &[(&str, fluent_bundle::FluentValue)]| web.i18n.text(locale, key, args);
    let request_id = RequestContext::current().map(|c| c.request_id);
    let (heading, message) = match &error {
        AppError::NotFound { .. } => (t("error-not-found-title", &[]), t("error-not-found", &[])),
        AppError::Forbidden { .. } => (t("error-forbidden-title", &[]), t("error-forbidden", &[])),
        AppError::Internal(cause) => {
            tracing::error!(error = ?cause, "internal error while serving a page");
            (t("error-title", &[]), t("error-internal", &[("request_id", request_id.clone().unwrap_or_default().into())]))
        }
        other => (t("error-title", &[]), t("error-bad-request", &[("detail", other.to_string().into())])),
    };
    let mut ctx = base(web, locale, uri);
    ctx.insert("heading".into(), heading.into());
    ctx.insert("message".into(), message.into());
    ctx.insert("request_id".into(), request_id.into());
    render(web, status, "error.html", ctx)
}

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
pub async fn home(
    State(web): State<Arc<Web>>,
    MaybeAuth(principal): MaybeAuth,
    headers: HeaderMap,
    uri: Uri,
    Query(query): Query<HomeQuery>,
) -> Response {
    let locale = locale(&web, &headers);
    let blank = |s: &Option<String>| s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    let mut ctx = base(&web, locale, &uri);
    ctx.insert(
        "query".into(),
        json!({ "q": blank(&query.q), "city": blank(&query.city), "category": blank(&query.category),
                "from": blank(&query.from), "to": blank(&query.to) }),
    );
    ctx.insert("canonical".into(), format!("{}/", web.public_url).into());
    let (from, to) = match (day_bound(query.from.as_deref(), false), day_bound(query.to.as_deref(), true)) {
        (Ok(f), Ok(t)) => (f, t),
        _ => {
            ctx.insert("problem".into(), web.i18n.text(locale, "error-bad-request", &[("detail", "YYYY-MM-DD".into())]).into());
            ctx.insert("events".into(), json!([]));
            ctx.insert("next_url".into(), Value::Null);
            return render(&web, StatusCode::UNPROCESSABLE_ENTITY, "home.html", ctx);
        }
    };
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
    let page = match web.events.list_events(principal.as_ref(), q).await {
        Ok(page) => page,
        Err(AppError::Validation { message, field }) => {
            ctx.insert("problem".into(), format!("{field}: {message}").into());
            ctx.insert("events".into(), json!([]));
            ctx.insert("next_url".into(), Value::Null);
            return render(&web, StatusCode::UNPROCESSABLE_ENTITY, "home.html", ctx);
        }
        Err(e) => return error_page(&web, locale, &uri, e),
    };
    let next_url = page.next_cursor.as_ref().map(|cursor| {
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
    ctx.insert("events".into(), serde_json::to_value(&page.items).unwrap_or_default());
    ctx.insert("next_url".into(), next_url.into());
    render(&web, StatusCode::OK, "home.html", ctx)
}

#[derive(Debug, Default, Deserialize)]
pub struct EventPageQuery {
    voucher: Option<String>,
}

/// `GET /events/{id}`: the event in its own time zone, its agenda and its tickets with live
/// availability; a voucher code in the URL shows the hidden types it unlocks.
pub async fn event(
    State(web): State<Arc<Web>>,
    MaybeAuth(principal): MaybeAuth,
    headers: HeaderMap,
    uri: Uri,
    Path(raw_id): Path<String>,
    Query(query): Query<EventPageQuery>,
) -> Response {
    let locale = locale(&web, &headers);
    let Ok(id) = raw_id.parse::<EventId>() else { return error_page(&web, locale, &uri, AppError::not_found("event")) };
    let event = match web.events.event(principal.as_ref(), id).await {
        Ok(e) => e,
        Err(e) => return error_page(&web, locale, &uri, e),
    };
    let voucher = query.voucher.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let catalog = web.ticketing.catalog();
    let (types, voucher_applied, voucher_invalid) =
        match catalog.ticket_types(principal.as_ref(), id, TicketTypeQuery { voucher: voucher.clone() }).await {
            Ok(types) => (types, voucher.clone(), false),
            Err(AppError::Validation { .. }) if voucher.is_some() => {
                match catalog.ticket_types(principal.as_ref(), id, TicketTypeQuery { voucher: None }).await {
                    Ok(types) => (types, None, true),
                    Err(e) => return error_page(&web, locale, &uri, e),
                }
            }
            Err(e) => return error_page(&web, locale, &uri, e),
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
            json!({ "name": tt.name, "description": tt.description, "price_text": web.i18n.money(locale, tt.price, &tt.currency),
                    "availability": availability, "availability_class": class })
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
    let mut ctx = base(&web, locale, &uri);
    ctx.insert("canonical".into(), canonical.clone().into());
    ctx.insert("summary".into(), summary.into());
    ctx.insert("json_ld".into(), json_ld(&event, &types, &canonical).into());
    ctx.insert("event".into(), serde_json::to_value(&event).unwrap_or_default());
    ctx.insert("tickets".into(), tickets.into());
    ctx.insert("voucher".into(), voucher.into());
    ctx.insert("voucher_applied".into(), voucher_applied.into());
    ctx.insert("voucher_invalid".into(), voucher_invalid.into());
    render(&web, StatusCode::OK, "event.html", ctx)
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
    let back = q.back.filter(|b| b.starts_with('/') && !b.starts_with("//") && !b.contains('\\')).unwrap_or_else(|| "/".into());
    let Some(locale) = web.i18n.locale(&q.lang) else { return Redirect::to(&back).into_response() };
    let cookie = format!("lang={}; Path=/; Max-Age={LANG_COOKIE_SECS}; SameSite=Lax", locale.code());
    ([(header::SET_COOKIE, cookie)], Redirect::to(&back)).into_response()
}

/// Unknown addresses: the API's problem document under `/api` (and for clients that do not
/// ask for HTML), a friendly page for browsers everywhere else.
pub async fn not_found(State(web): State<Arc<Web>>, headers: HeaderMap, uri: Uri) -> Response {
    let wants_html = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    if uri.path().starts_with("/api/") || uri.path() == "/api" || !wants_html {
        return AppError::NotFound { resource: "route" }.into_response();
    }
    error_page(&web, locale(&web, &headers), &uri, AppError::not_found("page"))
}
