//! Events, venues, sessions, search, iCal over HTTP, with visibility, roles, tenancy, bad
//! input and the audit trail they leave.

mod common;

use common::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn venue(app: &TestApp, token: &str, org: &str, city: &str, tz: &str) -> String {
    let (s, v) = app
        .post(
            &format!("/api/orgs/{org}/venues"),
            Some(token),
            json!({"name": format!("Hall {city}"), "city": city, "country": "DE", "capacity": 500, "time_zone": tz}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["id"].as_str().unwrap().to_string()
}

async fn event(app: &TestApp, token: &str, body: Value) -> Value {
    let (s, e) = app.post("/api/events", Some(token), body).await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    e
}

#[tokio::test]
async fn event_lifecycle_visibility_and_time_zones() {
    let app = TestApp::spawn().await;
    let (owner, org) = app.owner_with_org("o@ev.org", "Ev Org").await;
    let berlin = venue(&app, &owner, &org, "Berlin", "Europe/Berlin").await;
    let e = event(
        &app,
        &owner,
        json!({
            "org_id": org, "venue_id": berlin, "name": "Winter Gala", "description": "Brass and strings",
            "performers": ["Spree Strings"], "category": "classical",
            "starts_at": "2026-12-12T19:00:00Z", "ends_at": "2026-12-12T22:00:00Z"
        }),
    )
    .await;
    let id = e["id"].as_str().unwrap().to_string();
    assert_eq!(e["status"], "draft");
    assert_eq!(e["time_zone"], "Europe/Berlin", "defaults to the venue's zone");
    assert_eq!(e["local_starts_at"], "2026-12-12T20:00:00+01:00");

    // Drafts are invisible to the public and to other users.
    assert_eq!(app.get(&format!("/api/events/{id}"), None).await.0, StatusCode::NOT_FOUND);
    let (stranger, _) = app.register("x@ev.org").await;
    assert_eq!(app.get(&format!("/api/events/{id}"), Some(&stranger)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&format!("/api/events/{id}"), Some(&owner)).await.0, StatusCode::OK);
    let (_, list) = app.get("/api/events", None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0);

    // Publish → public.
    let (s, e) = app.put(&format!("/api/events/{id}"), Some(&owner), json!({"status": "published"})).await;
    assert_eq!(s, StatusCode::OK, "{e}");
    assert!(e["published_at"].is_string());
    let (s, public) = app.get(&format!("/api/events/{id}"), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(public["venue"]["city"], "Berlin");
    // A summer date in the same zone uses summer time.
    let (_, e) = app
        .put(
            &format!("/api/events/{id}"),
            Some(&owner),
            json!({"starts_at": "2027-07-10T18:00:00Z", "ends_at": "2027-07-10T21:00:00Z"}),
        )
        .await;
    assert_eq!(e["local_starts_at"], "2027-07-10T20:00:00+02:00");

    // Cancel is final.
    let (s, e) = app.put(&format!("/api/events/{id}"), Some(&owner), json!({"status": "cancelled"})).await;
    assert_eq!(s, StatusCode::OK, "{e}");
    let (s, p) = app.put(&format!("/api/events/{id}"), Some(&owner), json!({"status": "published"})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(p["code"], "invalid_transition");

    // Soft delete, restore.
    assert_eq!(app.delete(&format!("/api/events/{id}"), Some(&owner)).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&format!("/api/events/{id}"), Some(&owner)).await.0, StatusCode::NOT_FOUND);
    let (s, e) = app.post(&format!("/api/events/{id}/restore"), Some(&owner), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{e}");
    assert_eq!(app.get(&format!("/api/events/{id}"), Some(&owner)).await.0, StatusCode::OK);

    // The audit trail has the whole story, with the actor and request id.
    let (s, trail) = app.get(&format!("/api/audit/logs/event:{id}"), Some(&owner)).await;
    assert_eq!(s, StatusCode::OK, "{trail}");
    let actions: Vec<&str> = trail["items"].as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap()).collect();
    for a in ["event.created", "event.published", "event.cancelled", "event.deleted", "event.restored"] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    let first = &trail["items"][0];
    assert!(first["actor"].as_str().unwrap().starts_with("user:"));
    assert!(first["request_id"].is_string());
    assert!(first["ip"].is_string());
}

#[tokio::test]
async fn roles_decide_who_may_change_events() {
    let app = TestApp::spawn().await;
    let (owner, org) = app.owner_with_org("o@roles.org", "Roles Org").await;
    let staff = app.member(&owner, &org, "staff@roles.org", "staff").await;
    let viewer = app.member(&owner, &org, "viewer@roles.org", "viewer").await;
    let body = json!({"org_id": org, "name": "Staff Show", "time_zone": "Europe/Paris", "starts_at": "2026-12-01T19:00:00Z", "ends_at": "2026-12-01T21:00:00Z"});
    let (s, _) = app.post("/api/events", Some(&viewer), body.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "viewers cannot create");
    let e = event(&app, &staff, body).await;
    let id = e["id"].as_str().unwrap();
    assert_eq!(app.get(&format!("/api/events/{id}"), Some(&viewer)).await.0, StatusCode::OK, "viewers read drafts");
    assert_eq!(app.put(&format!("/api/events/{id}"), Some(&viewer), json!({"name": "X"})).await.0, StatusCode::FORBIDDEN);
    assert_eq!(app.put(&format!("/api/events/{id}"), Some(&staff), json!({"name": "Renamed"})).await.0, StatusCode::OK);
    assert_eq!(app.delete(&format!("/api/events/{id}"), Some(&staff)).await.0, StatusCode::FORBIDDEN, "deleting needs admin");
    // Staff cannot read the audit trail; the owner can.
    assert_eq!(app.get(&format!("/api/audit/logs?org_id={org}"), Some(&staff)).await.0, StatusCode::FORBIDDEN);
    let (s, logs) = app.get(&format!("/api/audit/logs?org_id={org}&action=event.updated"), Some(&owner)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(logs["items"].as_array().unwrap().len(), 1);
    assert_eq!(logs["items"][0]["changes"]["name"], "Renamed");
}

#[tokio::test]
async fn bad_event_input_names_the_field() {
    let app = TestApp::spawn().await;
    let (owner, org) = app.owner_with_org("o@bad.org", "Bad Org").await;
    let (other_owner, other_org) = app.owner_with_org("o2@bad.org", "Other Org").await;
    let foreign_venue = venue(&app, &other_owner, &other_org, "Paris", "Europe/Paris").await;
    let base = json!({"org_id": org, "name": "N", "time_zone": "Europe/Berlin", "starts_at": "2026-12-01T19:00:00Z", "ends_at": "2026-12-01T21:00:00Z"});
    let cases = [
        (json!({"name": ""}), "name"),
        (json!({"name": "x".repeat(300)}), "name"),
        (json!({"time_zone": "Europe/Atlantis"}), "time_zone"),
        (json!({"ends_at": "2026-12-01T18:00:00Z"}), "ends_at"),
        (json!({"starts_at": "yesterday"}), "starts_at"),
        (json!({"image_url": "ftp://x"}), "image_url"),
        (json!({"venue_id": foreign_venue}), "venue_id"),
        (json!({"tags": (0..30).map(|i| format!("t{i}")).collect::<Vec<_>>()}), "tags"),
        (json!({"org_id": "nope"}), "org_id"),
    ];
    for (patch, field) in cases {
        let mut body = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (s, p) = app.post("/api/events", Some(&owner), body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {p}");
        assert_eq!(p["field"], field, "{p}");
    }
    let (s, p) = app
        .post(
            &format!("/api/orgs/{org}/venues"),
            Some(&owner),
            json!({"name": "V", "city": "X", "country": "Germany", "time_zone": "Europe/Berlin"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(p["field"], "country");
    let (s, p) = app.get("/api/events/search", None).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(p["field"], "q");
    let (s, p) = app.get("/api/events?from=not-a-date", None).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(p["field"], "from");
}

#[tokio::test]
async fn search_filters_and_cursor_pagination() {
    let app = TestApp::spawn().await;
    let (owner, org) = app.owner_with_org("o@search.org", "Search Org").await;
    let berlin = venue(&app, &owner, &org, "Berlin", "Europe/Berlin").await;
    let hamburg = venue(&app, &owner, &org, "Hamburg", "Europe/Berlin").await;
    for i in 0..7 {
        let (venue, name, performer, category) = if i % 2 == 0 {
            (&berlin, format!("Brass Night {i}"), "Midnight Brass Collective", "jazz")
        } else {
            (&hamburg, format!("Techno Floor {i}"), "Pulse Theory", "electronic")
        };
        event(&app, &owner, json!({
            "org_id": org, "venue_id": venue, "name": name, "performers": [performer], "category": category,
            "description": if i == 3 { "with a surprise tuba solo" } else { "a night out" },
            "status": "published", "starts_at": format!("2026-12-{:02}T19:00:00Z", i + 1), "ends_at": format!("2026-12-{:02}T22:00:00Z", i + 1)
        }))
        .await;
    }
    // A draft never shows up publicly.
    event(&app, &owner, json!({"org_id": org, "name": "Secret Brass", "time_zone": "UTC", "starts_at": "2026-12-20T19:00:00Z", "ends_at": "2026-12-20T22:00:00Z"})).await;

    let names =
        |v: &Value| v["items"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    let (_, r) = app.get("/api/events/search?q=brass", None).await;
    assert_eq!(names(&r), ["Brass Night 0", "Brass Night 2", "Brass Night 4", "Brass Night 6"]);
    let (_, r) = app.get("/api/events/search?q=pulse", None).await;
    assert_eq!(r["items"].as_array().unwrap().len(), 3, "performers are searched");
    let (_, r) = app.get("/api/events/search?q=tub", None).await;
    assert_eq!(names(&r), ["Techno Floor 3"], "prefix match in the description");
    let (s, r) = app.get("/api/events/search?q=%22%29%20OR%20*%20--", None).await;
    assert_eq!(s, StatusCode::OK, "search syntax in input is inert: {r}");
    let (_, r) = app.get("/api/events?city=hamburg", None).await;
    assert_eq!(r["items"].as_array().unwrap().len(), 3);
    let (_, r) = app.get("/api/events?category=jazz&from=2026-12-02T00:00:00Z&to=2026-12-06T00:00:00Z", None).await;
    assert_eq!(names(&r), ["Brass Night 2", "Brass Night 4"]);
    let (_, r) = app.get(&format!("/api/events?org_id={org}&status=draft"), Some(&owner)).await;
    assert_eq!(names(&r), ["Secret Brass"], "members see their drafts");
    let (_, r) = app.get(&format!("/api/events?org_id={org}&status=draft"), None).await;
    assert!(!names(&r).contains(&"Secret Brass".to_string()), "the public does not");

    // Cursor pagination walks everything once, in start order.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/events?limit=3&cursor={c}"),
            None => "/api/events?limit=3".to_string(),
        };
        let (s, page) = app.get(&path, None).await;
        assert_eq!(s, StatusCode::OK);
        seen.extend(names(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 7);
    assert_eq!(seen[0], "Brass Night 0");
    assert_eq!(seen[6], "Brass Night 6");
}

#[tokio::test]
async fn sessions_venues_and_ical() {
    let app = TestApp::spawn().await;
    let (owner, org) = app.owner_with_org("o@ical.org", "Ical Org").await;
    let v = venue(&app, &owner, &org, "Berlin", "Europe/Berlin").await;
    let e = event(
        &app,
        &owner,
        json!({"org_id": org, "venue_id": v, "name": "Gala; with, commas", "status": "published",
        "starts_at": "2026-12-12T19:00:00Z", "ends_at": "2026-12-12T23:00:00Z"}),
    )
    .await;
    let id = e["id"].as_str().unwrap();
    let (s, sess) = app.post(&format!("/api/events/{id}/sessions"), Some(&owner), json!({"title": "Opening", "starts_at": "2026-12-12T19:00:00Z", "ends_at": "2026-12-12T19:30:00Z", "room": "Main", "performers": ["A"]})).await;
    assert_eq!(s, StatusCode::CREATED, "{sess}");
    let sid = sess["id"].as_str().unwrap();
    let (s, p) = app
        .post(
            &format!("/api/events/{id}/sessions"),
            Some(&owner),
            json!({"title": "Bad", "starts_at": "2026-12-12T19:00:00Z", "ends_at": "2026-12-12T18:00:00Z"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(p["field"], "ends_at");
    let (s, upd) = app.put(&format!("/api/events/{id}/sessions/{sid}"), Some(&owner), json!({"title": "Opening act"})).await;
    assert_eq!(s, StatusCode::OK, "{upd}");
    let (_, detail) = app.get(&format!("/api/events/{id}"), None).await;
    assert_eq!(detail["sessions"][0]["title"], "Opening act");
    let (s, list) = app.get(&format!("/api/events/{id}/sessions"), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);

    // iCal: local time with its zone, escaped text, CRLF lines.
    let r = app.client.get(app.url(&format!("/api/events/{id}/ical"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/calendar"));
    let ics = r.text().await.unwrap();
    assert!(ics.starts_with("BEGIN:VCALENDAR\r\n"));
    assert!(ics.contains("DTSTART;TZID=Europe/Berlin:20261212T200000"), "{ics}");
    assert!(ics.contains("BEGIN:VTIMEZONE"));
    assert!(ics.contains("SUMMARY:Gala\\; with\\, commas"), "{ics}");
    let r = app.client.get(app.url(&format!("/api/orgs/{org}/events.ics"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("BEGIN:VEVENT"));

    // A venue in use cannot be deleted; an unused one can.
    let (s, p) = app.delete(&format!("/api/venues/{v}"), Some(&owner)).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(p["code"], "venue_in_use");
    let spare = venue(&app, &owner, &org, "Hamburg", "Europe/Berlin").await;
    let (s, upd) = app.put(&format!("/api/venues/{spare}"), Some(&owner), json!({"capacity": 1200})).await;
    assert_eq!(s, StatusCode::OK, "{upd}");
    assert_eq!(upd["capacity"], 1200);
    assert_eq!(app.delete(&format!("/api/venues/{spare}"), Some(&owner)).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.delete(&format!("/api/events/{id}/sessions/{sid}"), Some(&owner)).await.0, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn tenancy_matrix_event_routes() {
    let app = TestApp::spawn().await;
    let (a, _) = app.owner_with_org("a@t.org", "Tenant A").await;
    let (b, org_b) = app.owner_with_org("b@t.org", "Tenant B").await;
    let v = venue(&app, &b, &org_b, "Berlin", "Europe/Berlin").await;
    let draft = event(&app, &b, json!({"org_id": org_b, "venue_id": v, "name": "B draft", "starts_at": "2026-12-01T19:00:00Z", "ends_at": "2026-12-01T21:00:00Z"})).await;
    let public = event(&app, &b, json!({"org_id": org_b, "venue_id": v, "name": "B public", "status": "published", "starts_at": "2026-12-02T19:00:00Z", "ends_at": "2026-12-02T21:00:00Z"})).await;
    let d = draft["id"].as_str().unwrap();
    let p = public["id"].as_str().unwrap();
    let (_, s) = app
        .post(
            &format!("/api/events/{p}/sessions"),
            Some(&b),
            json!({"title": "S", "starts_at": "2026-12-02T19:00:00Z", "ends_at": "2026-12-02T20:00:00Z"}),
        )
        .await;
    let sid = s["id"].as_str().unwrap();
    let window = json!({"starts_at": "2026-12-02T19:00:00Z", "ends_at": "2026-12-02T20:00:00Z", "title": "T"});
    let cases = [
        ("GET", format!("/api/events/{d}"), None),
        ("GET", format!("/api/events/{d}/sessions"), None),
        ("GET", format!("/api/events/{d}/ical"), None),
        ("PUT", format!("/api/events/{d}"), Some(json!({"name": "mine"}))),
        ("PUT", format!("/api/events/{p}"), Some(json!({"name": "mine"}))),
        ("DELETE", format!("/api/events/{p}"), None),
        ("POST", format!("/api/events/{p}/restore"), Some(json!({}))),
        ("POST", format!("/api/events/{p}/sessions"), Some(window.clone())),
        ("PUT", format!("/api/events/{p}/sessions/{sid}"), Some(json!({"title": "x"}))),
        ("DELETE", format!("/api/events/{p}/sessions/{sid}"), None),
        ("GET", format!("/api/orgs/{org_b}/venues"), None),
        (
            "POST",
            format!("/api/orgs/{org_b}/venues"),
            Some(json!({"name": "V", "city": "X", "country": "DE", "time_zone": "UTC"})),
        ),
        ("GET", format!("/api/venues/{v}"), None),
        ("PUT", format!("/api/venues/{v}"), Some(json!({"name": "x"}))),
        ("DELETE", format!("/api/venues/{v}"), None),
        (
            "POST",
            "/api/events".to_string(),
            Some(
                json!({"org_id": org_b, "name": "x", "time_zone": "UTC", "starts_at": "2026-12-02T19:00:00Z", "ends_at": "2026-12-02T20:00:00Z"}),
            ),
        ),
        ("GET", format!("/api/audit/logs/event:{p}"), None),
    ];
    for (method, path, body) in cases {
        let (s, problem) = app.request(method.parse().unwrap(), &path, Some(&a), body).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{method} {path}: {problem}");
    }
    // What is public stays public.
    assert_eq!(app.get(&format!("/api/events/{p}"), Some(&a)).await.0, StatusCode::OK);
}

#[tokio::test]
async fn cached_event_details_follow_every_change() {
    let app = TestApp::spawn().await;
    let (owner, org) = app.owner_with_org("o@cache.org", "Cache Org").await;
    let v = venue(&app, &owner, &org, "Berlin", "Europe/Berlin").await;
    let e = event(
        &app,
        &owner,
        json!({"org_id": org, "venue_id": v, "name": "Before", "status": "published",
        "starts_at": "2026-12-12T19:00:00Z", "ends_at": "2026-12-12T23:00:00Z"}),
    )
    .await;
    let id = e["id"].as_str().unwrap();
    let path = format!("/api/events/{id}");
    assert_eq!(app.get(&path, None).await.1["name"], "Before"); // now cached
    app.put(&path, Some(&owner), json!({"name": "After"})).await;
    assert_eq!(app.get(&path, None).await.1["name"], "After", "event change");
    app.put(&format!("/api/venues/{v}"), Some(&owner), json!({"name": "Renamed Hall"})).await;
    assert_eq!(app.get(&path, None).await.1["venue"]["name"], "Renamed Hall", "venue change");
    app.post(
        &format!("{path}/sessions"),
        Some(&owner),
        json!({"title": "Encore", "starts_at": "2026-12-12T22:00:00Z", "ends_at": "2026-12-12T22:30:00Z"}),
    )
    .await;
    assert_eq!(app.get(&path, None).await.1["sessions"][0]["title"], "Encore", "session change");
    app.put(&path, Some(&owner), json!({"status": "draft"})).await;
    assert_eq!(app.get(&path, None).await.0, StatusCode::NOT_FOUND, "unpublished at once");
    app.put(&path, Some(&owner), json!({"status": "published"})).await;
    assert_eq!(app.get(&path, None).await.0, StatusCode::OK);
    app.delete(&path, Some(&owner)).await;
    assert_eq!(app.get(&path, None).await.0, StatusCode::NOT_FOUND, "deleted at once");
}
