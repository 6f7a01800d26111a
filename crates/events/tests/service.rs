//! The events service against a real database: a fresh SQLite file, or PostgreSQL when
//! `TEST_DATABASE_URL` is set (a database is created for the run and dropped afterwards).
//! Roles come from a fixed table instead of the identity context.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use events::*;
use kernel::auth::{OrgAccess, Principal, Role};
use kernel::id::{OrgId, SessionId, UserId};
use kernel::pagination::PageParams;
use kernel::{AppError, AppResult, Kernel, read, tx};

struct Roles(HashMap<(UserId, OrgId), Role>);

#[async_trait::async_trait]
impl OrgAccess for Roles {
    async fn role_in(&self, principal: &Principal, org: OrgId) -> AppResult<Option<Role>> {
        Ok(principal.user_id().and_then(|u| self.0.get(&(u, org)).copied()))
    }
}

fn user() -> (UserId, Principal) {
    let id = UserId::new();
    (id, Principal::User { user_id: id, session_id: SessionId::new(), platform_admin: false })
}

fn code(e: AppError) -> String {
    match e {
        AppError::Validation { field, .. } => format!("422 {field}"),
        other => format!("{} {}", other.status().as_u16(), other.code()),
    }
}

async fn kernel() -> (Arc<Kernel>, std::path::PathBuf, Option<(String, String)>) {
    let dir = std::env::temp_dir().join(format!("backline-events-{}", uuid::Uuid::new_v4().simple()));
    let (url, pg) = match std::env::var("TEST_DATABASE_URL") {
        Ok(admin) if !admin.is_empty() => {
            use sqlx::Connection;
            let name = format!("backline_events_{}", uuid::Uuid::new_v4().simple());
            let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\""))).execute(&mut conn).await.unwrap();
            let mut url = url::Url::parse(&admin).unwrap();
            url.set_path(&name);
            (url.to_string(), Some((admin, name)))
        }
        _ => (format!("sqlite://{}/test.db", dir.display()), None),
    };
    let config = kernel::Config::from_overrides(serde_json::json!({
        "data_dir": dir,
        "database": { "url": url, "max_connections": 4 },
        "auth": { "jwt_keys": [{ "kid": "t", "secret": "test-secret-that-is-long-enough-0123456789" }] },
        "server": { "public_url": "https://backline.example" },
    }))
    .unwrap();
    (Kernel::start(config).await.unwrap(), dir, pg)
}

async fn insert_org(kernel: &Kernel, owner: UserId, slug: &str) -> OrgId {
    let org = OrgId::new();
    let at = kernel::time::now();
    let mut t = kernel.db.begin().await.unwrap();
    tx!(&mut t, |c| sqlx::query(
        "INSERT INTO users (id, email, password_hash, name, locale, time_zone, platform_admin, created_at, updated_at) \
         VALUES ($1, $2, 'x', 'Owner', 'en', 'UTC', $3, $4, $4) ON CONFLICT (email) DO NOTHING"
    )
    .bind(owner)
    .bind(format!("{owner}@example.org"))
    .bind(false)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
    .unwrap();
    tx!(&mut t, |c| sqlx::query(
        "INSERT INTO organizations (id, name, slug, plan, created_by, created_at, updated_at) VALUES ($1, $2, $2, 'free', $3, $4, $4)"
    )
    .bind(org)
    .bind(slug)
    .bind(owner)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
    .unwrap();
    t.commit().await.unwrap();
    org
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn query() -> EventQuery {
    EventQuery::default()
}

#[tokio::test]
async fn events_venues_sessions_search_and_ical() {
    let (kernel, dir, pg) = kernel().await;
    let (owner_id, _) = user();
    let (staff_id, staff) = user();
    let (admin_id, admin) = user();
    let (viewer_id, viewer) = user();
    let (outsider_id, outsider) = user();
    let org = insert_org(&kernel, owner_id, "club-nord").await;
    let other = insert_org(&kernel, owner_id, "elsewhere").await;
    let roles = Roles(HashMap::from([
        ((staff_id, org), Role::Staff),
        ((admin_id, org), Role::Admin),
        ((viewer_id, org), Role::Viewer),
        ((outsider_id, other), Role::Owner),
    ]));
    let svc = EventsService::new(kernel.clone(), Arc::new(roles));

    // ---- venues
    let venue = svc
        .create_venue(
            &staff,
            org,
            CreateVenue {
                name: "Club Nord".into(),
                address: Some("Hauptstraße 1".into()),
                city: "Berlin".into(),
                country: "de".into(),
                capacity: Some(400),
                time_zone: "Europe/Berlin".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(venue.country, "DE");
    let bad =
        CreateVenue { name: "X".into(), city: "Y".into(), country: "ZZ".into(), time_zone: "UTC".into(), ..Default::default() };
    assert_eq!(code(svc.create_venue(&staff, org, bad).await.unwrap_err()), "422 country");
    let bad = CreateVenue {
        name: "X".into(),
        city: "Y".into(),
        country: "DE".into(),
        time_zone: "Mars/Base".into(),
        ..Default::default()
    };
    assert_eq!(code(svc.create_venue(&staff, org, bad).await.unwrap_err()), "422 time_zone");
    let ok =
        CreateVenue { name: "X".into(), city: "Y".into(), country: "DE".into(), time_zone: "UTC".into(), ..Default::default() };
    assert_eq!(code(svc.create_venue(&viewer, org, ok.clone()).await.unwrap_err()), "403 forbidden");
    assert_eq!(code(svc.create_venue(&outsider, org, ok.clone()).await.unwrap_err()), "404 not_found");
    let foreign_venue = svc.create_venue(&outsider, other, ok.clone()).await.unwrap();
    let spare = svc.create_venue(&staff, org, ok).await.unwrap();
    let page = svc.venues(&viewer, org, PageParams { cursor: None, limit: Some(1) }).await.unwrap();
    assert_eq!(page.items[0].name, "Club Nord");
    let page = svc.venues(&viewer, org, PageParams { cursor: page.next_cursor, limit: Some(1) }).await.unwrap();
    assert_eq!(page.items[0].id, spare.id);
    assert!(page.next_cursor.is_none());
    assert_eq!(code(svc.venue(&outsider, venue.id).await.unwrap_err()), "404 not_found");
    let updated = svc
        .update_venue(&staff, venue.id, UpdateVenue { capacity: Some(None), city: Some("Berlin".into()), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(updated.capacity, None);

    // ---- events
    let winter = CreateEvent {
        org_id: org,
        venue_id: Some(venue.id),
        name: "Winter Show".into(),
        description: Some("Loud guitars, warm drinks.".into()),
        category: Some("Concert".into()),
        tags: vec!["rock".into(), "Rock".into(), "indie".into()],
        performers: vec!["The Openers".into(), "Björk Tribute".into()],
        image_url: Some("https://img.example/winter.jpg".into()),
        status: Some(EventStatus::Published),
        starts_at: at("2030-01-10T19:00:00Z"),
        ends_at: at("2030-01-10T22:00:00Z"),
        time_zone: None,
    };
    let show = svc.create_event(&staff, winter.clone()).await.unwrap();
    assert_eq!(show.time_zone, "Europe/Berlin");
    assert_eq!(show.local_starts_at, "2030-01-10T20:00:00+01:00");
    assert_eq!(show.tags, vec!["rock", "indie"]);
    assert_eq!(show.venue.as_ref().map(|v| v.id), Some(venue.id));
    assert!(show.published_at.is_some());

    let draft = svc
        .create_event(
            &staff,
            CreateEvent {
                venue_id: None,
                name: "Secret Gig".into(),
                status: None,
                category: Some("club".into()),
                time_zone: Some("America/New_York".into()),
                starts_at: at("2030-02-01T01:00:00Z"),
                ends_at: at("2030-02-01T04:00:00Z"),
                performers: vec![],
                tags: vec![],
                ..winter.clone()
            },
        )
        .await
        .unwrap();
    assert_eq!(draft.status, EventStatus::Draft);
    assert_eq!(draft.local_starts_at, "2030-01-31T20:00:00-05:00");

    let no_zone = CreateEvent { venue_id: None, time_zone: None, ..winter.clone() };
    assert_eq!(code(svc.create_event(&staff, no_zone).await.unwrap_err()), "422 time_zone");
    let foreign = CreateEvent { venue_id: Some(foreign_venue.id), ..winter.clone() };
    assert_eq!(code(svc.create_event(&staff, foreign).await.unwrap_err()), "422 venue_id");
    let backwards = CreateEvent { ends_at: winter.starts_at, ..winter.clone() };
    assert_eq!(code(svc.create_event(&staff, backwards).await.unwrap_err()), "422 ends_at");
    let long_name = CreateEvent { name: "x".repeat(201), ..winter.clone() };
    assert_eq!(code(svc.create_event(&staff, long_name).await.unwrap_err()), "422 name");
    let bad_url = CreateEvent { image_url: Some("ftp://x".into()), ..winter.clone() };
    assert_eq!(code(svc.create_event(&staff, bad_url).await.unwrap_err()), "422 image_url");
    let cancelled = CreateEvent { status: Some(EventStatus::Cancelled), ..winter.clone() };
    assert_eq!(code(svc.create_event(&staff, cancelled).await.unwrap_err()), "422 status");
    assert_eq!(code(svc.create_event(&outsider, winter.clone()).await.unwrap_err()), "404 not_found");
    assert_eq!(code(svc.create_event(&viewer, winter.clone()).await.unwrap_err()), "403 forbidden");

    // ---- visibility
    assert_eq!(svc.event(None, show.id).await.unwrap().name, "Winter Show");
    assert_eq!(code(svc.event(None, draft.id).await.unwrap_err()), "404 not_found");
    assert_eq!(code(svc.event(Some(&outsider), draft.id).await.unwrap_err()), "404 not_found");
    assert_eq!(svc.event(Some(&viewer), draft.id).await.unwrap().id, draft.id);

    let public = svc.list_events(None, query()).await.unwrap();
    assert_eq!(public.items.iter().map(|e| e.id).collect::<Vec<_>>(), vec![show.id]);
    let sneaky = EventQuery { org_id: Some(org), status: Some(EventStatus::Draft), ..query() };
    assert_eq!(svc.list_events(Some(&outsider), sneaky.clone()).await.unwrap().items.len(), 1, "status ignored for outsiders");
    let mine = svc.list_events(Some(&viewer), sneaky).await.unwrap();
    assert_eq!(mine.items.iter().map(|e| e.id).collect::<Vec<_>>(), vec![draft.id]);
    let all = svc.list_events(Some(&viewer), EventQuery { org_id: Some(org), ..query() }).await.unwrap();
    assert_eq!(all.items.len(), 2);
    let berlin = svc
        .list_events(None, EventQuery { city: Some("BERLIN".into()), category: Some("concert".into()), ..query() })
        .await
        .unwrap();
    assert_eq!(berlin.items.len(), 1);
    assert_eq!(berlin.items[0].venue.as_ref().map(|v| v.city.as_str()), Some("Berlin"));
    let later = svc.list_events(None, EventQuery { from: Some("2030-01-11T00:00:00Z".into()), ..query() }).await.unwrap();
    assert!(later.items.is_empty());
    let window =
        EventQuery { from: Some("2030-01-10T20:00:00 01:00".into()), to: Some("2030-01-10T19:00:00Z".into()), ..query() };
    assert_eq!(svc.list_events(None, window).await.unwrap().items.len(), 1);
    assert_eq!(code(svc.list_events(None, EventQuery { from: Some("soon".into()), ..query() }).await.unwrap_err()), "422 from");
    assert_eq!(code(svc.list_events(None, EventQuery { limit: Some(0), ..query() }).await.unwrap_err()), "422 limit");
    assert_eq!(code(svc.list_events(None, EventQuery { cursor: Some("!!".into()), ..query() }).await.unwrap_err()), "422 cursor");

    // ---- search
    for q in ["winter", "WIN", "björk", "guitars", "openers show", "bjork"] {
        if q == "bjork" && pg.is_some() {
            continue; // the 'simple' configuration keeps diacritics; FTS5 folds them
        }
        let hits = svc.search_events(None, EventQuery { q: Some(q.into()), ..query() }).await.unwrap();
        assert_eq!(hits.items.len(), 1, "{q}");
    }
    for q in ["nothing", "winter nothing", "secret"] {
        let hits = svc.search_events(None, EventQuery { q: Some(q.into()), ..query() }).await.unwrap();
        assert!(hits.items.is_empty(), "{q}");
    }
    let hits =
        svc.search_events(Some(&viewer), EventQuery { q: Some("secret".into()), org_id: Some(org), ..query() }).await.unwrap();
    assert_eq!(hits.items.len(), 1);
    for q in ["\" OR 1=1 --", "*", "a & b | !c", "NEAR(a b)", "col:winter"] {
        let r = svc.search_events(None, EventQuery { q: Some(q.into()), ..query() }).await;
        assert!(r.is_ok() || code(r.unwrap_err()) == "422 q", "{q}");
    }
    assert_eq!(code(svc.search_events(None, query()).await.unwrap_err()), "422 q");
    assert_eq!(code(svc.search_events(None, EventQuery { q: Some(" ".into()), ..query() }).await.unwrap_err()), "422 q");
    let filtered =
        svc.list_events(None, EventQuery { q: Some("winter".into()), city: Some("Hamburg".into()), ..query() }).await.unwrap();
    assert!(filtered.items.is_empty());

    // ---- pagination over equal start times
    let mut ids = vec![show.id];
    for i in 0..4 {
        let e = svc.create_event(&staff, CreateEvent { name: format!("Night {i}"), ..winter.clone() }).await.unwrap();
        ids.push(e.id);
    }
    ids.sort();
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = svc.list_events(None, EventQuery { limit: Some(2), cursor: cursor.clone(), ..query() }).await.unwrap();
        seen.extend(page.items.iter().map(|e| e.id));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen, ids);
    let searched = svc.search_events(None, EventQuery { q: Some("night".into()), limit: Some(3), ..query() }).await.unwrap();
    assert_eq!(searched.items.len(), 3);
    let rest =
        svc.search_events(None, EventQuery { q: Some("night".into()), cursor: searched.next_cursor, ..query() }).await.unwrap();
    assert_eq!(rest.items.len(), 1);

    // ---- updates and transitions
    let rename = UpdateEvent { name: Some("Winter Show II".into()), ..Default::default() };
    assert_eq!(code(svc.update_event(&outsider, show.id, rename.clone()).await.unwrap_err()), "404 not_found");
    assert_eq!(code(svc.update_event(&viewer, show.id, rename.clone()).await.unwrap_err()), "403 forbidden");
    let renamed = svc.update_event(&staff, show.id, rename).await.unwrap();
    assert_eq!(renamed.name, "Winter Show II");
    let hits = svc.search_events(None, EventQuery { q: Some("II".into()), ..query() }).await.unwrap();
    assert_eq!(hits.items.len(), 1, "search index follows updates");
    let moved = svc
        .update_event(
            &staff,
            draft.id,
            UpdateEvent { venue_id: Some(Some(venue.id)), category: Some(None), ..Default::default() },
        )
        .await
        .unwrap();
    assert_eq!(moved.time_zone, "Europe/Berlin", "a new venue brings its zone");
    assert_eq!(moved.category, None);
    let backwards = UpdateEvent { ends_at: Some(at("2000-01-01T00:00:00Z")), ..Default::default() };
    assert_eq!(code(svc.update_event(&staff, show.id, backwards).await.unwrap_err()), "422 ends_at");
    let published = svc
        .update_event(&staff, draft.id, UpdateEvent { status: Some(EventStatus::Published), ..Default::default() })
        .await
        .unwrap();
    assert!(published.published_at.is_some());
    assert_eq!(svc.event(None, draft.id).await.unwrap().status, EventStatus::Published);
    let cancel = UpdateEvent { status: Some(EventStatus::Cancelled), ..Default::default() };
    let gone = svc.update_event(&staff, draft.id, cancel).await.unwrap();
    assert!(gone.cancelled_at.is_some());
    let again = UpdateEvent { status: Some(EventStatus::Published), ..Default::default() };
    assert_eq!(code(svc.update_event(&staff, draft.id, again).await.unwrap_err()), "409 invalid_transition");
    assert_eq!(code(svc.event(None, draft.id).await.unwrap_err()), "404 not_found", "cancelled is members-only");

    // ---- sessions
    let set = CreateSession {
        title: "Opening set".into(),
        starts_at: at("2030-01-10T19:30:00Z"),
        ends_at: at("2030-01-10T20:15:00Z"),
        room: Some("Main stage".into()),
        performers: vec!["The Openers".into()],
        ..Default::default()
    };
    let s1 = svc.create_session(&staff, show.id, set.clone()).await.unwrap();
    assert_eq!(s1.local_starts_at, "2030-01-10T20:30:00+01:00");
    let s0 = svc
        .create_session(
            &staff,
            show.id,
            CreateSession {
                title: "Doors".into(),
                starts_at: at("2030-01-10T19:00:00Z"),
                ends_at: at("2030-01-10T19:30:00Z"),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(code(svc.create_session(&viewer, show.id, set.clone()).await.unwrap_err()), "403 forbidden");
    assert_eq!(code(svc.create_session(&outsider, show.id, set.clone()).await.unwrap_err()), "404 not_found");
    let bad = CreateSession { ends_at: set.starts_at, ..set.clone() };
    assert_eq!(code(svc.create_session(&staff, show.id, bad).await.unwrap_err()), "422 ends_at");
    let agenda = svc.sessions(None, show.id).await.unwrap();
    assert_eq!(agenda.iter().map(|s| s.id).collect::<Vec<_>>(), vec![s0.id, s1.id]);
    let s1b = svc.update_session(&staff, show.id, s1.id, UpdateSession { room: Some(None), ..Default::default() }).await.unwrap();
    assert_eq!(s1b.room, None);
    assert_eq!(code(svc.update_session(&staff, draft.id, s1.id, UpdateSession::default()).await.unwrap_err()), "404 not_found");
    svc.delete_session(&staff, show.id, s0.id).await.unwrap();
    assert_eq!(svc.event(None, show.id).await.unwrap().sessions.len(), 1);

    // ---- iCal
    let ics = svc.event_ical(None, show.id).await.unwrap();
    let ics = ics.replace("\r\n ", "");
    assert!(ics.contains("DTSTART;TZID=Europe/Berlin:20300110T200000\r\n"), "{ics}");
    assert!(ics.contains("LOCATION:Club Nord\\, Hauptstraße 1\\, Berlin\\, DE\r\n"), "{ics}");
    assert!(ics.contains(&format!("URL:https://backline.example/events/{}\r\n", show.id)));
    assert!(ics.contains("TZOFFSETTO:+0200"));
    let feed = svc.org_feed(org).await.unwrap();
    assert_eq!(feed.matches("BEGIN:VEVENT").count(), 5, "published, upcoming, not cancelled");
    assert_eq!(feed.matches("BEGIN:VTIMEZONE").count(), 1);
    assert_eq!(svc.org_feed(OrgId::new()).await.unwrap().matches("BEGIN:VEVENT").count(), 0);

    // ---- delete and restore
    assert_eq!(code(svc.delete_event(&staff, show.id).await.unwrap_err()), "403 forbidden");
    assert_eq!(code(svc.delete_event(&outsider, show.id).await.unwrap_err()), "404 not_found");
    assert_eq!(code(svc.restore_event(&admin, show.id).await.unwrap_err()), "409 not_deleted");
    svc.delete_event(&admin, show.id).await.unwrap();
    assert_eq!(code(svc.event(Some(&admin), show.id).await.unwrap_err()), "404 not_found");
    assert_eq!(code(svc.update_event(&admin, show.id, UpdateEvent::default()).await.unwrap_err()), "404 not_found");
    assert_eq!(code(svc.delete_event(&admin, show.id).await.unwrap_err()), "404 not_found");
    assert!(!svc.list_events(None, query()).await.unwrap().items.iter().any(|e| e.id == show.id));
    let back = svc.restore_event(&admin, show.id).await.unwrap();
    assert_eq!(back.status, EventStatus::Published);
    assert_eq!(svc.event(None, show.id).await.unwrap().sessions.len(), 1);

    // ---- venues in use
    assert_eq!(code(svc.delete_venue(&staff, venue.id).await.unwrap_err()), "409 venue_in_use");
    assert_eq!(code(svc.delete_venue(&outsider, spare.id).await.unwrap_err()), "404 not_found");
    svc.delete_venue(&staff, spare.id).await.unwrap();
    assert_eq!(code(svc.venue(&staff, spare.id).await.unwrap_err()), "404 not_found");

    // ---- audit trail and outbox
    let (audited,): (i64,) =
        read!(&kernel.db, |c| sqlx::query_as("SELECT COUNT(*) FROM audit_logs WHERE org_id = $1 AND action LIKE 'event.%'")
            .bind(org)
            .fetch_one(c)
            .await)
        .unwrap();
    assert!(audited >= 10, "{audited}");
    let topics: Vec<(String,)> =
        read!(&kernel.db, |c| sqlx::query_as("SELECT topic FROM outbox ORDER BY id").fetch_all(c).await).unwrap();
    let topics: Vec<&str> = topics.iter().map(|t| t.0.as_str()).collect();
    for t in ["event.created", "event.published", "event.updated", "event.cancelled", "event.deleted", "event.restored"] {
        assert!(topics.contains(&t), "{t} in {topics:?}");
    }

    kernel.db.close().await;
    let _ = std::fs::remove_dir_all(dir);
    if let Some((admin, name)) = pg {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
        let _ =
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))).execute(&mut conn).await;
    }
}

/// Every route is described, and every schema the description refers to is defined.
#[tokio::test]
async fn openapi_describes_every_route_with_resolvable_schemas() {
    let (kernel, dir, pg) = kernel().await;
    let svc = EventsService::new(kernel.clone(), Arc::new(Roles(HashMap::new())));
    let (_, api) = events::router(svc).split_for_parts();
    let doc = serde_json::to_value(&api).unwrap();
    let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    for p in [
        "/api/events",
        "/api/events/search",
        "/api/events/{id}",
        "/api/events/{id}/restore",
        "/api/events/{id}/ical",
        "/api/events/{id}/sessions",
        "/api/events/{id}/sessions/{session_id}",
        "/api/orgs/{org_id}/events.ics",
        "/api/orgs/{org_id}/venues",
        "/api/venues/{id}",
    ] {
        assert!(paths.contains(&&p.to_string()), "{p} missing from {paths:?}");
    }
    fn refs(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    if k == "$ref" {
                        out.push(v.as_str().unwrap().to_string());
                    }
                    refs(v, out);
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    let schemas = doc["components"]["schemas"].as_object().cloned().unwrap_or_default();
    for r in all {
        let name = r.trim_start_matches("#/components/schemas/");
        assert!(schemas.contains_key(name), "unresolved {r}");
    }
    kernel.db.close().await;
    let _ = std::fs::remove_dir_all(dir);
    if let Some((admin, name)) = pg {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
        let _ =
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))).execute(&mut conn).await;
    }
}
