//! Demo data (`backline demo`): an organization with two members, two venues and six
//! published events across three time zones, each with an agenda and tickets — and some
//! sales, so the shop and the dashboard have something to show: paid orders, a type nearly
//! sold out, one sold out with people on its waitlist, free livestream tickets, and
//! check-ins at the door. Loading twice is a no-op.
//! Also the platform-administrator creation behind `backline admin create-user`.

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use events::{CreateEvent, CreateSession, CreateVenue, EventId, EventQuery, EventStatus};
use identity::domain::{Email, check_password, required_text};
use identity::model::{CreateOrg, User};
use kernel::auth::{Principal, Role};
use kernel::id::SessionId;
use ticketing::{
    Attendee, CheckinRequest, CreateBooking, CreateQuota, CreateTicketType, JoinWaitlist, MarkPaid, PositionRequest,
};

use backline::App;

pub const OWNER_EMAIL: &str = "ava@backline.demo";
pub const STAFF_EMAIL: &str = "sam@backline.demo";
pub const DEMO_PASSWORD: &str = "backline-demo-2026";

/// A platform administrator.
pub async fn create_admin(app: &App, email: &str, name: &str, password: String) -> anyhow::Result<User> {
    let email = Email::parse("email", email)?;
    let name = required_text("name", name, 100)?;
    check_password("password", &password)?;
    let hash = app.identity.password_hasher().hash(password).await?;
    Ok(app.identity.insert_user(&email, &hash, &name, true).await?)
}

async fn create_user(app: &App, email: &str, name: &str) -> anyhow::Result<User> {
    let hash = app.identity.password_hasher().hash(DEMO_PASSWORD.to_string()).await?;
    Ok(app.identity.insert_user(&Email::parse("email", email)?, &hash, name, false).await?)
}

/// `date` days from today at `hh:mm` local time in `tz`, as a UTC instant.
fn local(tz: Tz, days: i64, hh: u32, mm: u32) -> DateTime<Utc> {
    let date = (Utc::now().with_timezone(&tz) + Duration::days(days)).date_naive();
    let naive = date.and_time(NaiveTime::from_hms_opt(hh, mm, 0).unwrap_or_default());
    tz.from_local_datetime(&naive).earliest().unwrap_or_else(|| tz.from_utc_datetime(&naive)).with_timezone(&Utc)
}

struct DemoEvent {
    name: &'static str,
    description: &'static str,
    category: &'static str,
    tags: &'static [&'static str],
    performers: &'static [&'static str],
    venue: usize,
    zone: Tz,
    days: i64,
    start: (u32, u32),
    hours: i64,
    agenda: &'static [(&'static str, i64, i64, &'static str, &'static [&'static str])],
}

/// Loads the demo; returns a summary for the terminal.
pub async fn load(app: &App) -> anyhow::Result<String> {
    let owner = match create_user(app, OWNER_EMAIL, "Ava Promoter").await {
        Ok(u) => u,
        Err(e) if matches!(e.downcast_ref::<kernel::AppError>(), Some(kernel::AppError::Conflict { .. })) => {
            return Ok(format!("demo data already loaded (sign in as {OWNER_EMAIL} / {DEMO_PASSWORD})"));
        }
        Err(e) => return Err(e),
    };
    let staff = create_user(app, STAFF_EMAIL, "Sam Stagehand").await?;
    let org = app
        .identity
        .create_org(
            owner.id,
            CreateOrg {
                name: "Nightshift Promotions".into(),
                slug: Some("nightshift".into()),
                description: Some("Club nights, concerts and festivals in Berlin, New York and Tokyo.".into()),
                website: Some("https://nightshift.example".into()),
            },
        )
        .await?;
    app.identity.add_member(org.id, staff.id, Role::Staff).await?;
    let p = Principal::User { user_id: owner.id, session_id: SessionId::new(), platform_admin: false };

    let berlin: Tz = "Europe/Berlin".parse().map_err(|e| anyhow::anyhow!("{e}"))?;
    let new_york: Tz = "America/New_York".parse().map_err(|e| anyhow::anyhow!("{e}"))?;
    let tokyo: Tz = "Asia/Tokyo".parse().map_err(|e| anyhow::anyhow!("{e}"))?;
    let venues = [
        app.events
            .create_venue(
                &p,
                org.id,
                CreateVenue {
                    name: "Kesselhaus".into(),
                    address: Some("Schönhauser Allee 36".into()),
                    city: "Berlin".into(),
                    country: "DE".into(),
                    capacity: Some(900),
                    time_zone: "Europe/Berlin".into(),
                },
            )
            .await?,
        app.events
            .create_venue(
                &p,
                org.id,
                CreateVenue {
                    name: "Warehouse 9".into(),
                    address: Some("319 Frost St, Brooklyn".into()),
                    city: "New York".into(),
                    country: "US".into(),
                    capacity: Some(1800),
                    time_zone: "America/New_York".into(),
                },
            )
            .await?,
    ];

    let demo = [
        DemoEvent {
            name: "Midnight Brass",
            description: "A twelve-piece brass band plays until the small hours.",
            category: "jazz",
            tags: &["brass", "live", "late-night"],
            performers: &["Midnight Brass Collective", "DJ Ferro"],
            venue: 0,
            zone: berlin,
            days: 12,
            start: (20, 0),
            hours: 5,
            agenda: &[
                ("Doors", 0, 60, "Main hall", &[]),
                ("DJ Ferro", 60, 60, "Main hall", &["DJ Ferro"]),
                ("Midnight Brass Collective", 120, 150, "Main hall", &["Midnight Brass Collective"]),
            ],
        },
        DemoEvent {
            name: "Kesselhaus Techno Marathon",
            description: "Twelve hours of techno across two floors.",
            category: "electronic",
            tags: &["techno", "club"],
            performers: &["Nachtschicht", "Ursula Kern", "Pulse Theory"],
            venue: 0,
            zone: berlin,
            days: 26,
            start: (22, 0),
            hours: 12,
            agenda: &[
                ("Nachtschicht", 0, 240, "Floor 1", &["Nachtschicht"]),
                ("Ursula Kern", 240, 240, "Floor 1", &["Ursula Kern"]),
                ("Pulse Theory", 60, 300, "Floor 2", &["Pulse Theory"]),
            ],
        },
        DemoEvent {
            name: "Sunday Jazz Brunch",
            description: "Quartet standards with coffee and pastries.",
            category: "jazz",
            tags: &["jazz", "family"],
            performers: &["The Spree Quartet"],
            venue: 0,
            zone: berlin,
            days: 40,
            start: (11, 30),
            hours: 3,
            agenda: &[
                ("First set", 0, 75, "Garden", &["The Spree Quartet"]),
                ("Second set", 90, 75, "Garden", &["The Spree Quartet"]),
            ],
        },
        DemoEvent {
            name: "Brooklyn Indie Night",
            description: "Three rising indie bands, one stage.",
            category: "indie",
            tags: &["indie", "rock"],
            performers: &["Paper Lanterns", "The Quiet Hours", "Gowanus"],
            venue: 1,
            zone: new_york,
            days: 9,
            start: (19, 30),
            hours: 4,
            agenda: &[
                ("Gowanus", 30, 40, "Stage", &["Gowanus"]),
                ("The Quiet Hours", 90, 50, "Stage", &["The Quiet Hours"]),
                ("Paper Lanterns", 160, 70, "Stage", &["Paper Lanterns"]),
            ],
        },
        DemoEvent {
            name: "Hip-Hop Showcase",
            description: "Open-mic cyphers followed by headline sets.",
            category: "hip-hop",
            tags: &["hip-hop", "open-mic"],
            performers: &["MC Lumen", "Kay Verse"],
            venue: 1,
            zone: new_york,
            days: 33,
            start: (20, 0),
            hours: 4,
            agenda: &[
                ("Open cypher", 0, 60, "Stage", &[]),
                ("Kay Verse", 75, 45, "Stage", &["Kay Verse"]),
                ("MC Lumen", 135, 60, "Stage", &["MC Lumen"]),
            ],
        },
        DemoEvent {
            name: "Tokyo Ambient Sessions",
            description: "A livestreamed evening of ambient and drone from Shibuya.",
            category: "ambient",
            tags: &["ambient", "livestream"],
            performers: &["Aoi Mori", "Field Recordings Club"],
            venue: usize::MAX,
            zone: tokyo,
            days: 18,
            start: (19, 0),
            hours: 3,
            agenda: &[
                ("Aoi Mori", 0, 80, "Studio A", &["Aoi Mori"]),
                ("Field Recordings Club", 90, 80, "Studio A", &["Field Recordings Club"]),
            ],
        },
    ];

    let mut lines = Vec::new();
    for (i, d) in demo.iter().enumerate() {
        let starts = local(d.zone, d.days, d.start.0, d.start.1);
        let event = app
            .events
            .create_event(
                &p,
                CreateEvent {
                    org_id: org.id,
                    venue_id: venues.get(d.venue).map(|v| v.id),
                    name: d.name.into(),
                    description: Some(d.description.into()),
                    category: Some(d.category.into()),
                    tags: d.tags.iter().map(|t| t.to_string()).collect(),
                    performers: d.performers.iter().map(|t| t.to_string()).collect(),
                    image_url: None,
                    status: Some(EventStatus::Published),
                    starts_at: starts,
                    ends_at: starts + Duration::hours(d.hours),
                    time_zone: Some(d.zone.name().to_string()),
                },
            )
            .await?;
        for (title, offset, minutes, room, performers) in d.agenda {
            let s = starts + Duration::minutes(*offset);
            app.events
                .create_session(
                    &p,
                    event.id,
                    CreateSession {
                        title: (*title).into(),
                        description: None,
                        starts_at: s,
                        ends_at: s + Duration::minutes(*minutes),
                        room: Some((*room).into()),
                        performers: performers.iter().map(|t| t.to_string()).collect(),
                    },
                )
                .await?;
        }
        let currency = match d.zone.name() {
            "America/New_York" => "USD",
            "Asia/Tokyo" => "JPY",
            _ => "EUR",
        };
        let mut sold = Vec::new();
        for (pool, capacity, types) in tickets(i, currency) {
            let mut ids = Vec::new();
            for (name, price) in types.iter() {
                let req = CreateTicketType {
                    name: name.to_string(),
                    price: *price,
                    currency: currency.into(),
                    max_per_order: Some(10),
                    ..CreateTicketType::default()
                };
                ids.push(app.ticketing.catalog().create_ticket_type(&p, event.id, req).await?.id);
            }
            sold.extend(ids.iter().copied());
            let quota = CreateQuota { name: pool.to_string(), capacity: *capacity, ticket_type_ids: ids };
            app.ticketing.catalog().create_quota(&p, event.id, quota).await?;
        }
        sell(app, &p, event.id, i, &sold).await?;
        lines.push(format!("  {} — {} ({})", event.name, event.local_starts_at, event.time_zone));
    }
    Ok(format!(
        "demo data loaded: organization \"{}\" ({}), 2 venues, {} events:\n{}\nsign in as {OWNER_EMAIL} (owner) or {STAFF_EMAIL} (staff), password {DEMO_PASSWORD}",
        org.name,
        org.id,
        demo.len(),
        lines.join("\n")
    ))
}

/// Demo fans, who buy and queue.
const FANS: [(&str, &str); 6] = [
    ("Mia Wagner", "mia@fans.demo"),
    ("Jonas Becker", "jonas@fans.demo"),
    ("Lena Hoffmann", "lena@fans.demo"),
    ("Noah Fischer", "noah@fans.demo"),
    ("Emma Schulz", "emma@fans.demo"),
    ("Ben Richter", "ben@fans.demo"),
];

/// Sales of the `i`-th demo event (`types` in the order [`tickets`] lists them): orders paid
/// by bank transfer, and for the first event check-ins; where a pool is small, it is (nearly)
/// sold out, and a sold-out one gets a waitlist.
async fn sell(app: &App, p: &Principal, event: EventId, i: usize, types: &[ticketing::TicketTypeId]) -> anyhow::Result<()> {
    // (type index, fan, quantity)
    let orders: &[(usize, usize, i64)] = match i {
        // Midnight Brass: standing sells, the 8-seat balcony is nearly gone.
        0 => &[(0, 0, 2), (0, 1, 4), (1, 2, 3), (1, 3, 3), (0, 4, 1)],
        // Kesselhaus: early birds, and the 4 backstage passes sold out.
        1 => &[(0, 0, 2), (0, 5, 2), (2, 1, 2), (2, 2, 2)],
        // Brooklyn: a few general admissions.
        3 => &[(0, 3, 2), (0, 4, 2)],
        // Tokyo: free livestream tickets.
        5 => &[(0, 0, 1), (0, 1, 1), (0, 2, 1)],
        _ => &[],
    };
    let mut tickets = Vec::new();
    for (n, (t, fan, quantity)) in orders.iter().enumerate() {
        let Some(ticket_type_id) = types.get(*t).copied() else { continue };
        let (name, email) = FANS[*fan];
        let req = CreateBooking {
            event_id: event,
            positions: vec![PositionRequest { ticket_type_id, quantity: *quantity }],
            buyer_email: email.into(),
            buyer_name: name.into(),
            voucher_code: None,
            attendees: vec![Attendee { name: name.into(), email: None }],
        };
        let created = app.ticketing.bookings().create_booking(None, req).await?;
        let booking = if created.booking.summary.total > 0 {
            let reference = Some(format!("SEPA DEMO-{i}{n}"));
            app.ticketing.bookings().mark_paid(p, created.booking.summary.id, MarkPaid { reference }).await?
        } else {
            created.booking
        };
        tickets.extend(booking.tickets.into_iter().filter_map(|t| t.qr));
    }
    if i == 0 {
        for (n, qr) in tickets.iter().take(3).enumerate() {
            let scan = CheckinRequest {
                list_id: None,
                event_id: Some(event),
                code: qr.clone(),
                scan_id: Some(format!("demo-door-{n}")),
                scanned_at: None,
                gate: Some("Main door".into()),
            };
            app.ticketing.check_in().check_in(p, scan).await?;
        }
    }
    if i == 1
        && let Some(backstage) = types.get(2).copied()
    {
        for fan in [3, 4] {
            let (name, email) = FANS[fan];
            let join = JoinWaitlist {
                ticket_type_id: Some(backstage),
                session_id: None,
                email: email.into(),
                name: name.into(),
                quantity: Some(1),
                tier: None,
            };
            app.ticketing.waitlist().join_waitlist(None, event, join).await?;
        }
    }
    Ok(())
}

/// A ticket pool: its name, its capacity, and the ticket types (name, price in minor units)
/// that share it.
type Pool = (&'static str, i64, &'static [(&'static str, i64)]);

/// What the `i`-th demo event sells: something for the shop to show — a shared pool, a type
/// nearly sold out, a free event.
fn tickets(i: usize, currency: &str) -> &'static [Pool] {
    const EUR: [&[Pool]; 3] = [
        &[("Standing", 300, &[("Standing", 2500)]), ("Balcony", 8, &[("Balcony", 3900)])],
        &[("Floor", 500, &[("Early bird", 1800), ("Regular", 2400)]), ("Backstage", 4, &[("Backstage pass", 6500)])],
        &[("Hall", 400, &[("Admission", 1500), ("Reduced", 900)])],
    ];
    const USD: [&[Pool]; 2] =
        [&[("General admission", 1200, &[("General admission", 3500)])], &[("Floor", 900, &[("Floor", 4500), ("VIP", 12000)])]];
    const JPY: [&[Pool]; 1] = [&[("Stream", 5000, &[("Livestream", 0)])]];
    match currency {
        "USD" => USD[i % USD.len()],
        "JPY" => JPY[i % JPY.len()],
        _ => EUR[i % EUR.len()],
    }
}

/// The id of the first upcoming published event (benchmarks).
pub async fn first_published_event(app: &App) -> anyhow::Result<EventId> {
    let page = app.events.list_events(None, EventQuery::default()).await?;
    page.items.first().map(|e| e.id).ok_or_else(|| anyhow::anyhow!("no published event; load the demo first"))
}
