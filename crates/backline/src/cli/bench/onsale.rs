//! `backline bench onsale`: an on-sale rush. Buyers, their connections already open, book one
//! ticket at a time until sold out; the same number of raw conditional updates on a scratch
//! quota is the baseline; the paid variant pays every hold through the `test` provider.
//! Consistency checks (nothing oversold, counters agree) are part of the report.

use std::time::{Duration, Instant};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::{load_client, on_load_runtime, peak_rss_mib, percentile, round};

/// Options of `backline bench onsale`.
#[derive(Debug, Clone)]
pub struct OnsaleOptions {
    /// Capacity of the single quota (free tickets).
    pub tickets: i64,
    /// Concurrent buyers; each books one ticket at a time until sold out.
    pub buyers: usize,
    /// Drive a running server instead of an in-process one.
    pub url: Option<String>,
    /// In-process: a PostgreSQL server to run on (a fresh database is created there and
    /// dropped afterwards) instead of a fresh SQLite file. With `url`: the database that
    /// server uses, for the raw baseline.
    pub database_url: Option<String>,
    /// Run the paid variant after the free rush.
    pub paid: bool,
}

#[derive(Debug, Serialize)]
pub struct OnsaleFigures {
    /// Bookings answered `201` (confirmed, one ticket each).
    pub confirmed: u64,
    /// `409 sold_out` answers (each buyer gets one when the quota is exhausted).
    pub sold_out_answers: u64,
    /// Anything else (must be 0).
    pub errors: u64,
    pub seconds: f64,
    pub confirmed_orders_per_s: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// p99 without each buyer's first booking: the rush once under way, without the
    /// opening wave in which every buyer arrives at the same instant.
    pub p99_under_way_ms: f64,
}

#[derive(Debug, Serialize)]
pub struct RawFigures {
    /// `BEGIN; UPDATE quotas SET taken = taken + 1 … WHERE … taken + 1 <= capacity; COMMIT`
    /// transactions that took a seat, on a scratch quota of the same capacity.
    pub transactions: u64,
    pub seconds: f64,
    pub tx_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

#[derive(Debug, Serialize)]
pub struct OnsaleReport {
    pub target: String,
    pub database: String,
    pub tickets: i64,
    pub buyers: usize,
    pub onsale: OnsaleFigures,
    /// Tickets sold according to the server's statistics, and seats taken in the quota.
    pub sold: i64,
    pub quota_taken: i64,
    /// `sold > tickets` or `quota_taken > tickets` (must be false).
    pub oversold: bool,
    /// Every confirmed order got its ticket and every seat taken is a ticket sold.
    pub consistent: bool,
    /// The same database's rate of bare conditional-update transactions, measured in the
    /// same run with the same concurrency; absent with `--url` and no `--database-url`.
    pub raw_conditional_update: Option<RawFigures>,
    /// confirmed orders/s ÷ raw transactions/s.
    pub ratio: Option<f64>,
    /// The paid variant in the same run: hold → pay (test provider) → confirmed; absent
    /// with `--no-paid`.
    pub paid: Option<PaidFigures>,
    /// paid confirmed orders/s ÷ free confirmed orders/s.
    pub paid_to_free_ratio: Option<f64>,
    /// Peak resident memory of this process (VmHWM), MiB; with `--url`, the load generator's.
    pub peak_rss_mib: f64,
}

/// The paid variant: each buyer books one priced ticket (a hold), pays it through the
/// `test` provider (`POST /api/payments/process`, card 4242…), and the booking is confirmed
/// by ticketing's `payment.succeeded` listener. Timed until the last confirmation.
#[derive(Debug, Serialize)]
pub struct PaidFigures {
    /// Payments answered `succeeded`.
    pub paid: u64,
    /// Tickets of the paid type in confirmed bookings at the end (must equal `paid`).
    pub confirmed: i64,
    pub sold_out_answers: u64,
    /// Anything else (must be 0).
    pub errors: u64,
    /// From the first hold to the last confirmation.
    pub seconds: f64,
    pub confirmed_orders_per_s: f64,
    /// Latency of hold + pay per order (the confirmation itself is asynchronous).
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// Seats taken in the paid type's quota (must equal `confirmed`).
    pub quota_taken: i64,
    /// Every paid order got its ticket, every seat taken is a ticket sold.
    pub consistent: bool,
}

/// A fresh PostgreSQL database on the server `admin_url` points at, dropped by
/// [`drop_pg_database`].
async fn create_pg_database(admin_url: &str) -> anyhow::Result<(String, String)> {
    use sqlx::Connection;
    let name = format!("backline_bench_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(admin_url).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\""))).execute(&mut conn).await?;
    let mut url = url::Url::parse(admin_url)?;
    url.set_path(&name);
    Ok((url.to_string(), name))
}

async fn drop_pg_database(admin_url: &str, name: &str) -> anyhow::Result<()> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(admin_url).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))).execute(&mut conn).await?;
    Ok(())
}

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: serde_json::Value,
) -> anyhow::Result<serde_json::Value> {
    let mut req = client.request(method, &url).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await?;
    let status = resp.status();
    let value: serde_json::Value = resp.json().await.unwrap_or_default();
    if !status.is_success() {
        anyhow::bail!("{url}: {status} {value}");
    }
    Ok(value)
}

/// The organizer side: an account, an organization, a published event, a free ticket type
/// with a quota of `tickets`, and a scratch quota of the same capacity for the baseline.
/// Returns (token, event id, ticket type id, main quota id, scratch quota id).
async fn onsale_setup(
    client: &reqwest::Client,
    base: &str,
    tickets: i64,
) -> anyhow::Result<(String, String, String, String, String)> {
    use reqwest::Method;
    let email = format!("bench-{}@bench.invalid", uuid::Uuid::new_v4().simple());
    let reg = call(
        client,
        Method::POST,
        format!("{base}/api/auth/register"),
        None,
        serde_json::json!({"email": email, "password": "bench password 123", "name": "Bench"}),
    )
    .await?;
    let token = reg["access_token"].as_str().unwrap_or_default().to_string();
    let t = Some(token.as_str());
    let org = call(
        client,
        Method::POST,
        format!("{base}/api/orgs"),
        t,
        serde_json::json!({"name": format!("Bench {}", &email[6..14])}),
    )
    .await?;
    let event = call(
        client,
        Method::POST,
        format!("{base}/api/events"),
        t,
        serde_json::json!({"org_id": org["id"], "name": "On-sale bench", "status": "published", "time_zone": "UTC",
                           "starts_at": "2099-01-01T20:00:00Z", "ends_at": "2099-01-01T23:00:00Z"}),
    )
    .await?;
    let event_id = event["id"].as_str().unwrap_or_default().to_string();
    let ty = call(
        client,
        Method::POST,
        format!("{base}/api/events/{event_id}/ticket-types"),
        t,
        serde_json::json!({"name": "GA", "price": 0, "currency": "EUR", "capacity": tickets}),
    )
    .await?;
    let scratch = call(
        client,
        Method::POST,
        format!("{base}/api/events/{event_id}/quotas"),
        t,
        serde_json::json!({"name": "bench scratch (baseline)", "capacity": tickets}),
    )
    .await?;
    let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    Ok((token, event_id, s(&ty["id"]), s(&ty["quota_ids"][0]), s(&scratch["id"])))
}

/// The barrier at which the buyers, their connections open, start together with the caller.
fn start_line(buyers: usize) -> std::sync::Arc<tokio::sync::Barrier> {
    std::sync::Arc::new(tokio::sync::Barrier::new(buyers + 1))
}

/// One buyer's keep-alive connection, opened before the sale (as buyers waiting on the event
/// page already have theirs), so the clock measures bookings and not TCP handshakes.
///
/// Against `http://` (the in-process server, or `--url` without TLS) it is a bare HTTP/1.1
/// connection of hyper's, and the request bodies are written as JSON text: the load
/// generator shares the machine's cores with the server and its database, and reqwest's
/// pooled client (request builder, header map, pool checkout, a JSON value per request) cost
/// a noticeable share of the machine's CPU during a rush (`docs/benchmarks.md`). `https://`
/// targets go through reqwest.
struct Buyer {
    client: reqwest::Client,
    base: String,
    conn: Conn,
}

enum Conn {
    Plain { send: hyper::client::conn::http1::SendRequest<http_body_util::Full<hyper::body::Bytes>>, host: String },
    Pooled,
}

impl Buyer {
    async fn connect(client: &reqwest::Client, base: &str) -> anyhow::Result<Buyer> {
        let conn = Self::open(client, base).await?;
        Ok(Buyer { client: client.clone(), base: base.to_string(), conn })
    }

    async fn open(client: &reqwest::Client, base: &str) -> anyhow::Result<Conn> {
        let url = url::Url::parse(base)?;
        if url.scheme() != "http" {
            // A first request opens the pooled connection.
            client.get(format!("{base}/healthz")).send().await?.bytes().await?;
            return Ok(Conn::Pooled);
        }
        let host = url.host_str().ok_or_else(|| anyhow::anyhow!("{base}: no host"))?;
        let host = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        let stream = tokio::net::TcpStream::connect(&host).await?;
        stream.set_nodelay(true)?;
        let (send, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        Ok(Conn::Plain { send, host })
    }

    /// POSTs `body` (JSON) to `path`, with one more header if given: the status and body.
    /// A connection that failed is replaced for the next request.
    async fn post(
        &mut self,
        path: &str,
        header: Option<(&str, &str)>,
        body: String,
    ) -> anyhow::Result<(u16, hyper::body::Bytes)> {
        let answer = self.send(path, header, body).await;
        if answer.is_err()
            && let Ok(fresh) = Self::open(&self.client, &self.base).await
        {
            self.conn = fresh;
        }
        answer
    }

    async fn send(
        &mut self,
        path: &str,
        header: Option<(&str, &str)>,
        body: String,
    ) -> anyhow::Result<(u16, hyper::body::Bytes)> {
        match &mut self.conn {
            Conn::Plain { send, host } => {
                use http_body_util::BodyExt;
                send.ready().await?;
                let mut req = hyper::Request::post(path)
                    .header(hyper::header::HOST, host.as_str())
                    .header(hyper::header::CONTENT_TYPE, "application/json");
                if let Some((name, value)) = header {
                    req = req.header(name, value);
                }
                let resp = send.send_request(req.body(http_body_util::Full::new(body.into()))?).await?;
                let status = resp.status().as_u16();
                Ok((status, resp.into_body().collect().await?.to_bytes()))
            }
            Conn::Pooled => {
                let mut req =
                    self.client.post(format!("{}{path}", self.base)).header(hyper::header::CONTENT_TYPE, "application/json");
                if let Some((name, value)) = header {
                    req = req.header(name, value);
                }
                let resp = req.body(body).send().await?;
                let status = resp.status().as_u16();
                Ok((status, resp.bytes().await?))
            }
        }
    }
}

/// The body of a one-ticket booking. Every value is a UUID or ASCII made here: no escaping.
fn booking_body(event: &str, ticket_type: &str, buyer_email: &str, buyer_name: &str) -> String {
    format!(
        r#"{{"event_id":"{event}","positions":[{{"ticket_type_id":"{ticket_type}","quantity":1}}],"buyer_email":"{buyer_email}","buyer_name":"{buyer_name}"}}"#
    )
}

/// Whether a `409` body says `sold_out`.
fn is_sold_out(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body).is_ok_and(|v| v["code"] == "sold_out")
}

/// `buyers` clients each book one ticket at a time until the answer is `409 sold_out`.
async fn onsale_rush(client: &reqwest::Client, base: &str, event: &str, ticket_type: &str, buyers: usize) -> OnsaleFigures {
    let start = start_line(buyers);
    let mut tasks = Vec::with_capacity(buyers);
    for b in 0..buyers {
        let client = client.clone();
        let (base, start) = (base.to_string(), start.clone());
        let (event, ticket_type) = (event.to_string(), ticket_type.to_string());
        tasks.push(tokio::spawn(async move {
            let buyer = Buyer::connect(&client, &base).await;
            start.wait().await;
            let (mut latencies, mut sold_out, mut errors) = (Vec::new(), 0u64, 0u64);
            let Ok(mut buyer) = buyer else { return (latencies, sold_out, 1) };
            for n in 0u64.. {
                let body = booking_body(&event, &ticket_type, &format!("buyer{b}-{n}@bench.invalid"), "Bench Buyer");
                let t = Instant::now();
                match buyer.post("/api/bookings", None, body).await {
                    Ok((201, _)) => latencies.push(t.elapsed().as_micros() as u64),
                    Ok((409, body)) if is_sold_out(&body) => {
                        sold_out += 1;
                        break;
                    }
                    _ => errors += 1,
                }
                if errors > 100 {
                    break;
                }
            }
            (latencies, sold_out, errors)
        }));
    }
    start.wait().await;
    let started = Instant::now();
    let (mut all, mut under_way, mut sold_out, mut errors) = (Vec::new(), Vec::new(), 0, 0);
    for t in tasks {
        if let Ok((l, s, e)) = t.await {
            under_way.extend(l.iter().skip(1));
            all.extend(l);
            sold_out += s;
            errors += e;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    all.sort_unstable();
    under_way.sort_unstable();
    OnsaleFigures {
        confirmed: all.len() as u64,
        sold_out_answers: sold_out,
        errors,
        seconds: round(seconds, 3),
        confirmed_orders_per_s: (all.len() as f64 / seconds).round(),
        p50_ms: percentile(&all, 0.50),
        p95_ms: percentile(&all, 0.95),
        p99_ms: percentile(&all, 0.99),
        p99_under_way_ms: percentile(&under_way, 0.99),
    }
}

/// Tickets sold of `ticket_type` and seats taken in `quota`, from the event's statistics.
async fn sold_and_taken(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    event: &str,
    ticket_type: &str,
    quota: &str,
) -> anyhow::Result<(i64, i64)> {
    let stats = call(
        client,
        reqwest::Method::GET,
        format!("{base}/api/bookings/stats?event_id={event}"),
        Some(token),
        serde_json::Value::Null,
    )
    .await?;
    let sold = stats["ticket_types"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["ticket_type_id"] == ticket_type))
        .and_then(|t| t["sold"].as_i64())
        .unwrap_or(0);
    let taken = stats["quotas"]
        .as_array()
        .and_then(|qs| qs.iter().find(|q| q["quota_id"] == quota))
        .and_then(|q| q["taken"].as_i64())
        .unwrap_or(-1);
    Ok((sold, taken))
}

/// The paid variant: a priced ticket type with its own quota of `tickets`; `buyers`
/// clients each hold one ticket and pay it until sold out, then wait for the last
/// confirmation.
async fn paid_rush(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    event: &str,
    tickets: i64,
    buyers: usize,
) -> anyhow::Result<PaidFigures> {
    let ty = call(
        client,
        reqwest::Method::POST,
        format!("{base}/api/events/{event}/ticket-types"),
        Some(token),
        serde_json::json!({"name": "Paid GA", "price": 2500, "currency": "EUR", "capacity": tickets}),
    )
    .await?;
    let ticket_type = ty["id"].as_str().unwrap_or_default().to_string();
    let quota = ty["quota_ids"][0].as_str().unwrap_or_default().to_string();
    let start = start_line(buyers);
    let mut tasks = Vec::with_capacity(buyers);
    for b in 0..buyers {
        let client = client.clone();
        let (base, event, ticket_type, start) = (base.to_string(), event.to_string(), ticket_type.clone(), start.clone());
        tasks.push(tokio::spawn(async move {
            let buyer = Buyer::connect(&client, &base).await;
            start.wait().await;
            let (mut latencies, mut sold_out, mut errors) = (Vec::new(), 0u64, 0u64);
            let Ok(mut buyer) = buyer else { return (latencies, sold_out, 1) };
            for n in 0u64.. {
                if errors > 100 {
                    break;
                }
                let t = Instant::now();
                let body = booking_body(&event, &ticket_type, &format!("payer{b}-{n}@bench.invalid"), "Bench Payer");
                let hold: serde_json::Value = match buyer.post("/api/bookings", None, body).await {
                    Ok((201, body)) => serde_json::from_slice(&body).unwrap_or_default(),
                    Ok((409, body)) if is_sold_out(&body) => {
                        sold_out += 1;
                        break;
                    }
                    _ => {
                        errors += 1;
                        continue;
                    }
                };
                let pay = serde_json::json!({
                    "reference": format!("booking:{}", hold["id"].as_str().unwrap_or_default()),
                    "token": hold["booking_token"], "payment_method": "4242424242424242",
                });
                let key = format!("bench-{b}-{n}");
                let answer = buyer.post("/api/payments/process", Some(("idempotency-key", &key)), pay.to_string()).await;
                match answer {
                    Ok((201, body))
                        if serde_json::from_slice::<serde_json::Value>(&body).is_ok_and(|p| p["status"] == "succeeded") =>
                    {
                        latencies.push(t.elapsed().as_micros() as u64)
                    }
                    _ => errors += 1,
                }
            }
            (latencies, sold_out, errors)
        }));
    }
    start.wait().await;
    let started = Instant::now();
    let (mut all, mut sold_out, mut errors) = (Vec::new(), 0, 0);
    for t in tasks {
        if let Ok((l, s, e)) = t.await {
            all.extend(l);
            sold_out += s;
            errors += e;
        }
    }
    let paid = all.len() as i64;
    // Confirmation is asynchronous (outbox → ticketing's listener): wait for the last one.
    let deadline = Instant::now() + Duration::from_secs(120);
    let (mut confirmed, mut taken) = sold_and_taken(client, base, token, event, &ticket_type, &quota).await?;
    while confirmed < paid && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        (confirmed, taken) = sold_and_taken(client, base, token, event, &ticket_type, &quota).await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    all.sort_unstable();
    Ok(PaidFigures {
        paid: paid as u64,
        confirmed,
        sold_out_answers: sold_out,
        errors,
        seconds: round(seconds, 3),
        confirmed_orders_per_s: (confirmed as f64 / seconds).round(),
        p50_ms: percentile(&all, 0.50),
        p95_ms: percentile(&all, 0.95),
        p99_ms: percentile(&all, 0.99),
        quota_taken: taken,
        consistent: confirmed == paid && taken == confirmed,
    })
}

/// The baseline: `buyers` tasks run bare conditional-update transactions on the scratch
/// quota until it is full.
async fn raw_conditional_updates(db: &kernel::Db, quota: uuid::Uuid, buyers: usize) -> anyhow::Result<RawFigures> {
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(buyers);
    for _ in 0..buyers {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let t = Instant::now();
                let mut tx = db.begin().await?;
                let at = kernel::time::now();
                let n = kernel::tx!(&mut tx, |c| sqlx::query(
                    "UPDATE quotas SET taken = taken + 1, updated_at = $2 WHERE id = $1 AND taken + 1 <= capacity"
                )
                .bind(quota)
                .bind(at)
                .execute(c)
                .await
                .map(|r| r.rows_affected()))?;
                tx.commit().await?;
                if n == 0 {
                    break;
                }
                latencies.push(t.elapsed().as_micros() as u64);
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let seconds = started.elapsed().as_secs_f64();
    all.sort_unstable();
    Ok(RawFigures {
        transactions: all.len() as u64,
        seconds: round(seconds, 3),
        tx_per_s: (all.len() as f64 / seconds).round(),
        p50_ms: percentile(&all, 0.50),
        p99_ms: percentile(&all, 0.99),
    })
}

/// `backline bench onsale`: an on-sale rush against a fresh in-process server (SQLite, or a
/// fresh PostgreSQL database with `--database-url`) or a running one (`--url`), then the raw
/// conditional-update rate of the same database with the same concurrency.
pub async fn onsale(opts: OnsaleOptions) -> anyhow::Result<OnsaleReport> {
    anyhow::ensure!(opts.tickets >= 1 && opts.tickets <= 10_000_000, "--tickets must be between 1 and 10000000");
    anyhow::ensure!(opts.buyers >= 1 && opts.buyers <= 10_000, "--buyers must be between 1 and 10000");
    let client = load_client(4)?;
    let dir = std::env::temp_dir().join(format!("backline-bench-{}", uuid::Uuid::new_v4().simple()));
    let mut pg_database: Option<(String, String)> = None;
    let mut server = None;
    let shutdown = CancellationToken::new();
    let (base, db, database) = match &opts.url {
        Some(url) => {
            let db = match &opts.database_url {
                Some(u) => Some(kernel::Db::connect(u, 16).await?),
                None => None,
            };
            let kind = db.as_ref().map(|d| format!("{:?}", d.backend()).to_lowercase()).unwrap_or_else(|| "unknown".into());
            (url.trim_end_matches('/').to_string(), db, kind)
        }
        None => {
            let database_url = match &opts.database_url {
                Some(admin) => {
                    let (url, name) = create_pg_database(admin).await?;
                    pg_database = Some((admin.clone(), name));
                    url
                }
                None => format!("sqlite://{}/bench.db", dir.display()),
            };
            let config = kernel::Config::from_overrides(serde_json::json!({
                "data_dir": dir,
                "database": { "url": database_url },
                "rate_limit": { "per_ip_per_min": 1_000_000_000u64, "per_user_per_min": 1_000_000_000u64 },
                "auth": { "argon2_memory_kib": 1024 },
                "log": { "level": "warn" },
            }))?;
            let app = backline::build(config).await?;
            let db = app.kernel.db.clone();
            let kind = format!("{:?}", db.backend()).to_lowercase();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            server = Some(tokio::spawn(backline::serve(app, listener, shutdown.clone())));
            (format!("http://{addr}"), Some(db), kind)
        }
    };

    let result = async {
        let (token, event, ticket_type, main_quota, scratch) = onsale_setup(&client, &base, opts.tickets).await?;
        let buyers = opts.buyers;
        let onsale = on_load_runtime({
            let (base, event, ticket_type) = (base.clone(), event.clone(), ticket_type.clone());
            async move { Ok(onsale_rush(&load_client(buyers)?, &base, &event, &ticket_type, buyers).await) }
        })
        .await?;
        let stats = call(
            &client,
            reqwest::Method::GET,
            format!("{base}/api/bookings/stats?event_id={event}"),
            Some(&token),
            serde_json::Value::Null,
        )
        .await?;
        let sold: i64 = stats["ticket_types"]
            .as_array()
            .and_then(|ts| ts.iter().find(|t| t["ticket_type_id"] == ticket_type.as_str()))
            .and_then(|t| t["sold"].as_i64())
            .unwrap_or(0);
        let quota_taken = stats["quotas"]
            .as_array()
            .and_then(|qs| qs.iter().find(|q| q["quota_id"] == main_quota.as_str()))
            .and_then(|q| q["taken"].as_i64())
            .unwrap_or(-1);
        let raw = match &db {
            Some(db) => Some(raw_conditional_updates(db, scratch.parse()?, opts.buyers).await?),
            None => None,
        };
        let ratio = raw.as_ref().filter(|r| r.tx_per_s > 0.0).map(|r| round(onsale.confirmed_orders_per_s / r.tx_per_s, 3));
        let tickets = opts.tickets;
        let paid = match opts.paid {
            true => Some(
                on_load_runtime({
                    let (base, token, event) = (base.clone(), token.clone(), event.clone());
                    async move { paid_rush(&load_client(buyers)?, &base, &token, &event, tickets, buyers).await }
                })
                .await?,
            ),
            false => None,
        };
        let paid_to_free_ratio = paid
            .as_ref()
            .filter(|_| onsale.confirmed_orders_per_s > 0.0)
            .map(|p| round(p.confirmed_orders_per_s / onsale.confirmed_orders_per_s, 3));
        let paid_oversold = paid.as_ref().is_some_and(|p| p.confirmed > opts.tickets || p.quota_taken > opts.tickets);
        Ok::<_, anyhow::Error>(OnsaleReport {
            target: opts.url.clone().unwrap_or_else(|| "in-process".into()),
            database,
            tickets: opts.tickets,
            buyers: opts.buyers,
            oversold: sold > opts.tickets || quota_taken > opts.tickets || paid_oversold,
            consistent: sold == onsale.confirmed as i64 && quota_taken == sold,
            sold,
            quota_taken,
            onsale,
            raw_conditional_update: raw,
            ratio,
            paid,
            paid_to_free_ratio,
            peak_rss_mib: round(peak_rss_mib(), 1),
        })
    }
    .await;

    shutdown.cancel();
    if let Some(server) = server {
        let _ = server.await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    if let Some((admin, name)) = pg_database {
        drop_pg_database(&admin, &name).await?;
    }
    result
}
