//! `backline bench web`: the pages against the JSON API for the same data, in the same run
//! and at the same concurrency — the event page (`/events/{id}`) against what a client of the
//! API fetches for the same content (`/api/events/{id}` then `/api/events/{id}/ticket-types`,
//! timed together as one), and the home page (`/`) against `/api/events?limit=12`, the
//! listing it shows — with throughput and latency of each and the HTML/JSON ratio (target
//! ≥ 0.5, p99 < 20 ms on two cores). The event detail alone is measured too: it is served
//! from the published-event cache, the fastest route there is.

use serde::Serialize;

use super::http::{BenchApp, RouteFigures, measure};
use super::{load_client, on_load_runtime};

#[derive(Debug, Serialize)]
pub struct PagePair {
    pub html: RouteFigures,
    pub json: RouteFigures,
    /// HTML throughput ÷ JSON throughput.
    pub ratio: f64,
}

#[derive(Debug, Serialize)]
pub struct WebReport {
    pub connections: usize,
    pub seconds_per_route: u64,
    pub event_page: PagePair,
    pub home_page: PagePair,
    /// `/api/events/{id}` alone (cached bytes), for scale.
    pub event_detail_json: RouteFigures,
}

fn pair(html: RouteFigures, json: RouteFigures, html_route: &str, json_route: &str) -> PagePair {
    let ratio = if json.req_per_s > 0.0 { html.req_per_s / json.req_per_s } else { 0.0 };
    PagePair {
        html: RouteFigures { route: html_route.into(), ..html },
        json: RouteFigures { route: json_route.into(), ..json },
        ratio: (ratio * 1000.0).round() / 1000.0,
    }
}

pub async fn web(seconds: u64, connections: usize) -> anyhow::Result<WebReport> {
    let app = BenchApp::start(true).await?;
    let (base, event_id) = (app.base.clone(), app.event_id);
    let figures = on_load_runtime(async move {
        let client = load_client(connections)?;
        // Each page right after its JSON twin, so both see the same machine.
        let detail = format!("{base}/api/events/{event_id}");
        let event_json = measure(&client, &[detail.clone(), format!("{detail}/ticket-types")], connections, seconds).await;
        let event_html = measure(&client, &[format!("{base}/events/{event_id}")], connections, seconds).await;
        let home_json = measure(&client, &[format!("{base}/api/events?limit=12")], connections, seconds).await;
        let home_html = measure(&client, &[format!("{base}/")], connections, seconds).await;
        let detail_only = measure(&client, &[detail], connections, seconds).await;
        Ok((event_html, event_json, home_html, home_json, detail_only))
    })
    .await?;
    app.stop().await;
    let (event_html, event_json, home_html, home_json, detail_only) = figures;
    Ok(WebReport {
        connections,
        seconds_per_route: seconds,
        event_page: pair(event_html, event_json, "GET /events/{id}", "GET /api/events/{id} + GET /api/events/{id}/ticket-types"),
        home_page: pair(home_html, home_json, "GET /", "GET /api/events?limit=12"),
        event_detail_json: RouteFigures { route: "GET /api/events/{id}".into(), ..detail_only },
    })
}
