//! The web pages over HTTP, as a browser asks for them: the listing and the event page in
//! the visitor's language and the event's time zone, social cards and schema.org data,
//! hashed static files, the language switch, friendly error pages beside the API's problem
//! documents, and the security headers pages are served with.

mod common;

use common::TestApp;
use common::sales::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// GETs `path` as a browser would; (status, headers, body).
async fn page(app: &TestApp, path: &str, language: &str) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let resp = app
        .client
        .get(app.url(path))
        .header("accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8")
        .header("accept-language", language)
        .send()
        .await
        .unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    (status, headers, resp.text().await.unwrap())
}

/// The content of the first `<meta property|name="key" content="…">`.
fn meta<'a>(html: &'a str, key: &str) -> Option<&'a str> {
    html.split("<meta ").skip(1).find_map(|tag| {
        let tag = &tag[..tag.find('>')?];
        (tag.contains(&format!("property=\"{key}\"")) || tag.contains(&format!("name=\"{key}\""))).then(|| {
            let content = tag.split("content=\"").nth(1)?;
            Some(&content[..content.find('"')?])
        })?
    })
}

/// Attribute text as a browser reads it (minijinja escapes `/` too).
fn unescape(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// An organization with a published event at a venue in Berlin, two ticket types (one
/// nearly sold out) and a draft event: (owner token, published id, draft id).
async fn shop(app: &TestApp) -> (String, String, String) {
    let (owner, org) = app.owner_with_org("owner@web.example", "Web Org").await;
    let (s, venue) = app
        .post(
            &format!("/api/orgs/{org}/venues"),
            Some(&owner),
            json!({"name": "Lido", "address": "Cuvrystraße 7", "city": "Berlin", "country": "DE", "time_zone": "Europe/Berlin"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{venue}");
    let (s, event) = app
        .post(
            "/api/events",
            Some(&owner),
            json!({"org_id": org, "venue_id": venue["id"], "name": "Night <Owls> & Friends", "status": "published",
                   "description": "Indie night.", "performers": ["The Owls"], "time_zone": "Europe/Berlin",
                   "starts_at": "2030-06-01T18:00:00Z", "ends_at": "2030-06-01T22:00:00Z"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{event}");
    let event = id(&event);
    let floor = ticket_type(app, &owner, &event, json!({"name": "Floor", "price": 1250, "currency": "EUR"})).await;
    quota(app, &owner, &event, json!({"name": "Floor", "capacity": 3, "ticket_type_ids": [id(&floor)]})).await;
    let balcony = ticket_type(app, &owner, &event, json!({"name": "Balcony", "price": 0, "currency": "EUR"})).await;
    quota(app, &owner, &event, json!({"name": "Balcony", "capacity": 500, "ticket_type_ids": [id(&balcony)]})).await;
    let draft = new_event(app, &owner, &org, "draft").await;
    (owner, event, draft)
}

#[tokio::test]
async fn the_listing_shows_upcoming_published_events_in_the_visitors_language() {
    let app = TestApp::spawn().await;
    let (_, event, draft) = shop(&app).await;

    let (s, headers, html) = page(&app, "/", "en-GB,en;q=0.9").await;
    assert_eq!(s, StatusCode::OK, "{html}");
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(html.contains("<html lang=\"en\">") && html.contains("Upcoming events"), "{html}");
    assert!(html.contains(&format!("href=\"/events/{event}\"")), "{html}");
    assert!(html.contains("Night &lt;Owls&gt; &amp; Friends"), "names are escaped: {html}");
    // 18:00 UTC is 20:00 in Berlin in June.
    assert!(html.contains("Sat, 1 Jun 2030, 20:00") && html.contains("at Lido, Berlin"), "{html}");
    assert!(!html.contains(&format!("/events/{draft}")), "drafts are not listed");

    let (_, _, german) = page(&app, "/", "de-DE,de;q=0.9,en;q=0.5").await;
    assert!(german.contains("<html lang=\"de\">") && german.contains("Kommende Veranstaltungen"), "{german}");
    assert!(german.contains("Sa., 1. Juni 2030, 20:00") && german.contains("im Lido, Berlin"), "{german}");

    // Filters live in the URL.
    let (_, _, hit) = page(&app, "/?q=owls&city=berlin", "en").await;
    assert!(hit.contains(&format!("/events/{event}")) && hit.contains("value=\"owls\""), "{hit}");
    let (_, _, miss) = page(&app, "/?q=jazz", "en").await;
    assert!(!miss.contains(&format!("/events/{event}")) && miss.contains("No upcoming events match"), "{miss}");
    let (_, _, later) = page(&app, "/?from=2030-06-02", "en").await;
    assert!(!later.contains(&format!("/events/{event}")), "{later}");
    let (s, _, bad) = page(&app, "/?from=yesterday", "en").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    assert!(bad.contains("role=\"alert\""), "a bad filter is said on the page: {bad}");
}

#[tokio::test]
async fn the_event_page_shows_local_times_tickets_and_machine_readable_data() {
    let app = TestApp::spawn().await;
    let (_, event, draft) = shop(&app).await;

    let (s, _, html) = page(&app, &format!("/events/{event}"), "en").await;
    assert_eq!(s, StatusCode::OK, "{html}");
    // Texts are HTML-escaped, `/` included.
    assert!(html.contains("Sat, 1 Jun 2030, 20:00") && html.contains("Europe&#x2f;Berlin"), "{html}");
    assert!(html.contains("Cuvrystraße 7") && html.contains("The Owls"), "{html}");
    assert!(html.contains("12.50 EUR") && html.contains("3 left"), "{html}");
    assert!(html.contains("Free") && html.contains("Available"), "{html}");
    assert!(html.contains(&format!("/api/events/{event}/ical")), "add to calendar: {html}");

    // Canonical links use `server.public_url`, not the address the test happened to use.
    let canonical = format!("http://127.0.0.1:8080/events/{event}");
    assert!(unescape(&html).contains(&format!("<link rel=\"canonical\" href=\"{canonical}\">")), "{html}");
    assert_eq!(meta(&html, "og:title"), Some("Night &lt;Owls&gt; &amp; Friends"));
    assert_eq!(meta(&html, "og:url").map(unescape), Some(canonical.clone()));
    assert_eq!(meta(&html, "twitter:card"), Some("summary"));

    let script = html.split("<script type=\"application/ld+json\">").nth(1).unwrap();
    let ld: Value = serde_json::from_str(&script[..script.find("</script>").unwrap()]).expect("JSON-LD parses");
    assert_eq!((ld["@context"].as_str(), ld["@type"].as_str()), (Some("https://schema.org"), Some("Event")));
    assert_eq!(ld["name"], "Night <Owls> & Friends");
    assert_eq!(ld["startDate"], "2030-06-01T20:00:00+02:00");
    assert_eq!(ld["location"]["address"]["addressLocality"], "Berlin");
    let offers = ld["offers"].as_array().unwrap();
    assert_eq!(offers.len(), 2, "{ld}");
    assert!(offers.iter().any(|o| o["price"] == "12.50" && o["priceCurrency"] == "EUR"), "{ld}");

    let (_, _, german) = page(&app, &format!("/events/{event}"), "de").await;
    assert!(german.contains("12,50 EUR") && german.contains("Kostenlos") && german.contains("Noch 3 verfügbar"), "{german}");

    let (s, _, invalid) = page(&app, &format!("/events/{event}?voucher=NOPE"), "en").await;
    assert_eq!(s, StatusCode::OK);
    assert!(invalid.contains("That voucher code is not valid") && invalid.contains("12.50 EUR"), "{invalid}");

    // Drafts and malformed ids are pages that do not exist, said kindly.
    for path in [format!("/events/{draft}"), "/events/not-an-id".to_string(), "/no/such/page".to_string()] {
        let (s, _, html) = page(&app, &path, "en").await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
        assert!(html.contains("Page not found") && html.contains("href=\"/\""), "{path}: {html}");
    }
    let (s, _, german) = page(&app, "/no/such/page", "de").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(german.contains("Seite nicht gefunden"), "{german}");
    // The API keeps its problem documents.
    let resp = app.client.get(app.url("/api/no-such-route")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let (s, body) = app.get("/nope", None).await;
    assert_eq!((s, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{body}");
}

#[tokio::test]
async fn static_files_are_hashed_and_cached_and_pages_carry_a_strict_policy() {
    let app = TestApp::spawn().await;
    let (s, headers, html) = page(&app, "/", "en").await;
    assert_eq!(s, StatusCode::OK);
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
    assert!(!html.contains("<script>") && !html.contains("style=\""), "no inline script or style");
    for (ext, kind) in [("css", "text/css"), ("js", "text/javascript")] {
        let at = html.find(&format!(".{ext}\"")).unwrap_or_else(|| panic!("no {ext} link in {html}"));
        let start = html[..at].rfind("/assets/").unwrap_or_else(|| panic!("{ext} is not under /assets/: {html}"));
        let url = &html[start..at + ext.len() + 1];
        let resp = app.client.get(app.url(url)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{url}");
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with(kind), "{url}");
        assert_eq!(resp.headers()["cache-control"], "public, max-age=31536000, immutable");
        assert!(!resp.text().await.unwrap().is_empty());
    }
    let resp = app.client.get(app.url("/assets/app.0000000000.css")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_language_switch_remembers_the_choice_and_only_goes_back_home() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let resp = client.get(app.url("/language?lang=de&back=/events/x")).send().await.unwrap();
    assert!(resp.status().is_redirection());
    assert_eq!(resp.headers()["location"], "/events/x");
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("lang=de;") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"), "{cookie}");
    let html = client
        .get(app.url("/"))
        .header("cookie", "lang=de")
        .header("accept-language", "en")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("<html lang=\"de\">"), "the choice wins over the browser's languages");
    for evil in ["//evil.example/", "https://evil.example/", "/\\evil.example"] {
        let resp = client.get(app.url(&format!("/language?lang=en&back={}", urlencode(evil)))).send().await.unwrap();
        assert_eq!(resp.headers()["location"], "/", "{evil}");
    }
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}
