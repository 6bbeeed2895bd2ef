//! ctid benchmarks: every scenario of the performance issue against ctid, each throughput
//! figure next to a bare axum baseline measured by the same load generator in the same run.
//!
//! `ctid-bench --ctid PATH [--smoke]` (see `bench/run`); `ctid-bench baseline --listen ADDR`
//! is the baseline server, started by the harness itself.

mod baseline;
mod client;
mod fanout;
mod load;
mod process;
mod report;

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use hyper::Method;

use crate::client::Session;
use crate::load::{MakeRequest, Stats};

const ADMIN_PASSWORD: &str = "bench-admin-password";
const CONNECTIONS: usize = 64;

/// Sizes of a run.
#[derive(Clone)]
struct Sizes {
    users: usize,
    /// Users with a password (the ones that log in).
    login_users: usize,
    sessions: usize,
    fanout_users: usize,
    fanout_rate: u32,
    fanout_duration: Duration,
    logins: usize,
    duration: Duration,
}

const FULL: Sizes = Sizes {
    users: 100_000,
    login_users: 100,
    sessions: 10_000,
    fanout_users: 100,
    fanout_rate: 200,
    fanout_duration: Duration::from_secs(30),
    logins: 2_000,
    duration: Duration::from_secs(10),
};

const SMOKE: Sizes = Sizes {
    users: 500,
    login_users: 20,
    sessions: 40,
    fanout_users: 10,
    fanout_rate: 20,
    fanout_duration: Duration::from_secs(2),
    logins: 20,
    duration: Duration::from_secs(1),
};

/// One line of the table.
struct Row {
    figure: String,
    value: f64,
    unit: &'static str,
    baseline: Option<f64>,
}

fn row(figure: &str, value: f64, unit: &'static str, baseline: Option<f64>) -> Row {
    Row { figure: figure.to_string(), value, unit, baseline }
}

fn print_table(rows: &[Row]) {
    println!("{:<58} {:>12} {:<10} {:>12} {:>7}", "figure", "value", "unit", "baseline", "ratio");
    for r in rows {
        let (baseline, ratio) = match r.baseline {
            Some(b) => (format!("{b:.2}"), format!("{:.2}", r.value / b)),
            None => ("-".to_string(), "-".to_string()),
        };
        println!("{:<58} {:>12.2} {:<10} {:>12} {:>7}", r.figure, r.value, r.unit, baseline, ratio);
    }
}

/// Writes `text` (a users CSV) to `csv` and imports it with `ctid user import`.
fn import_users(ctid: &str, csv: &std::path::Path, text: &str, database: &str) -> Result<(), String> {
    std::fs::write(csv, text).map_err(|e| e.to_string())?;
    let status = std::process::Command::new(ctid)
        .args(["user", "import"])
        .arg(csv)
        .args(["--database", database])
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|e| e.to_string())?;
    if status.success() { Ok(()) } else { Err("user import failed".into()) }
}

fn basic() -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("admin:{ADMIN_PASSWORD}")))
}

fn user_name(i: usize) -> String {
    format!("user{i}")
}

fn password(i: usize) -> String {
    format!("pass-{i}")
}

/// Scenario A: the association GET of a user among all, with authentication.
fn association_requests(addr: &str, users: usize) -> MakeRequest {
    let (addr, auth) = (addr.to_string(), basic());
    Arc::new(move |conn, n| {
        let id = load::pseudo_random((conn as u64) << 32 | n) % users as u64 + 1;
        client::request(
            &addr,
            Method::GET,
            &format!("/1.1/users/{id}/cti_profile"),
            &[("Authorization", auth.clone())],
            String::new(),
        )
    })
}

/// Scenario B: a user's status through one of `sessions`.
fn status_get_requests(addr: &str, sessions: Arc<Vec<Session>>, users: usize) -> MakeRequest {
    let addr = addr.to_string();
    Arc::new(move |conn, n| {
        let session = &sessions[conn % sessions.len()];
        let user = user_name((load::pseudo_random((conn as u64) << 32 | n) % users as u64) as usize);
        let path = format!("/icws/{}/status/user-statuses/{user}", session.id);
        client::request(&addr, Method::GET, &path, &session.headers(), String::new())
    })
}

/// Scenario C: each connection changes its own user's status.
fn status_put_requests(addr: &str, sessions: Arc<Vec<Session>>) -> MakeRequest {
    let addr = addr.to_string();
    Arc::new(move |conn, n| {
        let session = &sessions[conn % sessions.len()];
        let user = user_name(conn % sessions.len());
        let status = if n % 2 == 0 { "At Lunch" } else { "Available" };
        let body = serde_json::json!({"statusId": status, "notes": format!("change {n}")}).to_string();
        let path = format!("/icws/{}/status/user-statuses/{user}", session.id);
        client::request(&addr, Method::PUT, &path, &session.headers(), body)
    })
}

/// The rows of scenarios A, B and C.
fn abc_rows(
    a: &Stats,
    b: &Stats,
    c: &Stats,
    base_a: &Stats,
    base_b: &Stats,
    base_c: &Stats,
    database: &str,
) -> Vec<Row> {
    let ms = |s: &Stats, q: f64| s.quantile_ms(q);
    let store = if database.starts_with("postgres") { "PostgreSQL" } else { "SQLite" };
    vec![
        row("A GET /1.1/users/{id}/cti_profile throughput", a.throughput(), "req/s", Some(base_a.throughput())),
        row("A p50", ms(a, 0.5), "ms", Some(ms(base_a, 0.5))),
        row("A p99", ms(a, 0.99), "ms", Some(ms(base_a, 0.99))),
        row(
            "B GET /icws/{sid}/status/user-statuses/{u} throughput",
            b.throughput(),
            "req/s",
            Some(base_b.throughput()),
        ),
        row("B p99", ms(b, 0.99), "ms", Some(ms(base_b, 0.99))),
        row(
            &format!("C PUT user-statuses, committed ({store}) throughput"),
            c.throughput(),
            "changes/s",
            Some(base_c.throughput()),
        ),
        row("C p99", ms(c, 0.99), "ms", Some(ms(base_c, 0.99))),
    ]
}

/// The server's RSS once it stopped growing (its cache warm-up done), at most 20 s after start.
async fn settled_rss(pid: u32) -> u64 {
    let mut last = process::rss(pid);
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = process::rss(pid);
        if now <= last + last / 200 {
            return now;
        }
        last = now;
    }
    last
}

async fn logins(addr: &str, count: usize, users: usize, concurrency: usize) -> Result<Vec<Session>, String> {
    let mut sessions = Vec::with_capacity(count);
    let mut next = 0;
    while next < count {
        let batch: Vec<_> = (next..count.min(next + concurrency))
            .map(|i| {
                let addr = addr.to_string();
                tokio::spawn(async move { client::login(&addr, &user_name(i % users), &password(i % users)).await })
            })
            .collect();
        next += batch.len();
        for task in batch {
            sessions.push(task.await.map_err(|e| e.to_string())??);
        }
    }
    Ok(sessions)
}

async fn run(ctid: &str, sizes: &Sizes, database: Option<String>, only: &str) -> Result<Vec<Row>, String> {
    let wanted = |scenario: char| only.is_empty() || only.contains(scenario);
    let mut rows = Vec::new();
    let dir = std::env::temp_dir().join(format!("ctid-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    // A fresh SQLite file, or the (empty) database given with --database.
    let database = database.unwrap_or_else(|| format!("sqlite://{}", dir.join("bench.db").display()));
    let csv = dir.join("users.csv");
    let mut text = String::from("firstname,lastname,username,password,cti_profile_id\n");
    for i in 0..sizes.users {
        let (pass, profile) =
            if i < sizes.login_users { (password(i), if i == 0 { 1 } else { 2 }) } else { (String::new(), 2) };
        text.push_str(&format!("First{i},Last{i},{},{pass},{profile}\n", user_name(i)));
    }
    let imported = Instant::now();
    import_users(ctid, &csv, &text, &database)?;
    eprintln!("imported {} users in {:.1} s", sizes.users, imported.elapsed().as_secs_f64());

    // Baseline first, measured by the same load generator.
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let base = process::spawn(&me.to_string_lossy(), &["baseline", "--listen", "127.0.0.1:0"], &[]).await?;
    let base_sessions =
        Arc::new(vec![Session { id: "1".into(), token: "t".into(), cookie: "c=1".into() }; CONNECTIONS]);
    let base_a =
        load::run(&base.addr, CONNECTIONS, sizes.duration, association_requests(&base.addr, sizes.users)).await;
    let base_b = load::run(
        &base.addr,
        CONNECTIONS,
        sizes.duration,
        status_get_requests(&base.addr, base_sessions.clone(), sizes.users),
    )
    .await;
    let base_c =
        load::run(&base.addr, CONNECTIONS, sizes.duration, status_put_requests(&base.addr, base_sessions)).await;
    drop(base);

    // G: cold start to the first answered request.
    let started = Instant::now();
    let server = process::spawn(
        ctid,
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            &database,
            "--server-name",
            "bench",
            "--session-idle-timeout",
            "3600",
            // The scenarios open thousands of sessions over a hundred users.
            "--max-sessions-per-user",
            "1000000",
        ],
        &[("CTID_ADMIN_PASSWORD", ADMIN_PASSWORD), ("CTID_LOG", "warn")],
    )
    .await?;
    let addr = server.addr.clone();
    let pid = server.child.id().unwrap_or(0);
    loop {
        let reply =
            client::send(&addr, client::request(&addr, Method::GET, "/icws/connection/version", &[], String::new()))
                .await;
        if reply.is_ok_and(|r| r.status == 200) {
            break;
        }
        if started.elapsed() > Duration::from_secs(60) {
            return Err("ctid never answered".into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let cold = started.elapsed();

    // E: memory of a fresh server once its cache is warm, then with many sessions logged in
    // (measured first, so memory freed by earlier scenarios cannot hide what sessions take).
    let idle_rss = settled_rss(pid).await;
    let many = if wanted('E') || wanted('D') {
        eprintln!("scenario E");
        logins(&addr, sizes.sessions, sizes.login_users, 64).await?
    } else {
        Vec::new()
    };
    let with_sessions = process::rss(pid);

    // A.
    let a = if wanted('A') {
        eprintln!("scenario A");
        load::run(&addr, CONNECTIONS, sizes.duration, association_requests(&addr, sizes.users)).await
    } else {
        Stats::default()
    };

    // B and C, one session per connection.
    let sessions = Arc::new(logins(&addr, CONNECTIONS, sizes.login_users, 8).await?);
    let b = if wanted('B') {
        eprintln!("scenario B");
        load::run(&addr, CONNECTIONS, sizes.duration, status_get_requests(&addr, sessions.clone(), sizes.users)).await
    } else {
        Stats::default()
    };
    let c = if wanted('C') {
        eprintln!("scenario C");
        let requests = status_put_requests(&addr, sessions.clone());
        load::run(&addr, CONNECTIONS.min(sizes.login_users), sizes.duration, requests).await
    } else {
        Stats::default()
    };

    // F: a login storm while GETs go on.
    let (storm_rate, during) = if wanted('F') {
        eprintln!("scenario F");
        let storm_started = Instant::now();
        let storm = {
            let addr = addr.clone();
            let (count, users) = (sizes.logins, sizes.login_users);
            tokio::spawn(async move { logins(&addr, count, users, 64).await })
        };
        let during = load::run(
            &addr,
            8,
            sizes.duration.min(Duration::from_secs(5)),
            status_get_requests(&addr, sessions.clone(), sizes.users),
        )
        .await;
        let stormed = storm.await.map_err(|e| e.to_string())??;
        (stormed.len() as f64 / storm_started.elapsed().as_secs_f64(), during)
    } else {
        (0.0, Stats::default())
    };

    // D: the fan-out to the event streams of the sessions E opened.
    let d = if wanted('D') {
        eprintln!("scenario D");
        let fan_users: Vec<String> = (0..sizes.fanout_users).map(user_name).collect();
        let supervisor = client::login(&addr, &user_name(0), &password(0)).await?;
        Some(fanout::run(&addr, pid, &many, &fan_users, &supervisor, sizes.fanout_rate, sizes.fanout_duration).await?)
    } else {
        None
    };
    let with_streams = process::rss(pid);

    let ms = |s: &Stats, q: f64| s.quantile_ms(q);
    let abc = abc_rows(&a, &b, &c, &base_a, &base_b, &base_c, &database);
    rows.extend(abc.into_iter().filter(|r| r.figure.chars().next().is_some_and(wanted)));
    if let Some(d) = &d {
        rows.push(row(
            &format!("D fan-out to {} streams: p50 send→receipt", many.len()),
            d.latency.quantile_ms(0.5),
            "ms",
            None,
        ));
        rows.push(row("D p99", d.latency.quantile_ms(0.99), "ms", None));
        rows.push(row("D max", d.latency.max_ms(), "ms", None));
        rows.push(row(
            &format!("D deltas delivered of {} expected", d.expected_deliveries),
            d.deliveries as f64,
            "messages",
            None,
        ));
        rows.push(row("D streams missing a last state (lost)", d.stale_streams as f64, "streams", None));
        rows.push(row(&format!("D server CPU ({} changes)", d.changes), d.server_cpu_percent, "% of 1 core", None));
        rows.push(row("D harness CPU meanwhile (same machine)", d.harness_cpu_percent, "% of 1 core", None));
    }
    rows.push(row(&format!("E RSS idle, {} users", sizes.users), idle_rss as f64 / 1_048_576.0, "MiB", None));
    if !many.is_empty() {
        let per_session = with_sessions.saturating_sub(idle_rss) as f64 / many.len() as f64;
        rows.push(row(&format!("E per session ({} logged in)", many.len()), per_session / 1024.0, "KiB", None));
    }
    if d.is_some() {
        let per_stream = with_streams.saturating_sub(idle_rss) as f64 / many.len().max(1) as f64;
        rows.push(row("E per session after D (stream open, backlog drained)", per_stream / 1024.0, "KiB", None));
    }
    if wanted('F') {
        rows.push(row(&format!("F login storm ({} logins)", sizes.logins), storm_rate, "logins/s", None));
        rows.push(row("F concurrent GET p99 during the storm", ms(&during, 0.99), "ms", Some(ms(&base_b, 0.99))));
    }
    rows.push(row(&format!("G cold start, {} users", sizes.users), cold.as_secs_f64() * 1000.0, "ms", None));
    rows.push(row("errors (A+B+C)", (a.errors + b.errors + c.errors) as f64, "requests", None));
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(rows)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("baseline") {
        let listen = args.iter().position(|a| a == "--listen").and_then(|i| args.get(i + 1)).cloned();
        return match baseline::serve(&listen.unwrap_or_else(|| "127.0.0.1:0".into())).await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("baseline: {err}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let ctid = args.iter().position(|a| a == "--ctid").and_then(|i| args.get(i + 1)).cloned();
    let Some(ctid) = ctid else {
        eprintln!(
            "usage: ctid-bench --ctid PATH [--smoke] [--database URL] [--sessions N] [--fanout-rate N] [--fanout-seconds N] [--only ABCR]\n       ctid-bench baseline --listen ADDR"
        );
        return std::process::ExitCode::FAILURE;
    };
    let mut sizes = if args.iter().any(|a| a == "--smoke") { SMOKE } else { FULL };
    let number = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)?.parse::<u64>().ok());
    if let Some(n) = number("--sessions") {
        sizes.sessions = usize::try_from(n).unwrap_or(sizes.sessions);
    }
    if let Some(n) = number("--fanout-rate") {
        sizes.fanout_rate = u32::try_from(n).unwrap_or(sizes.fanout_rate);
    }
    if let Some(n) = number("--fanout-seconds") {
        sizes.fanout_duration = Duration::from_secs(n);
    }
    let database = args.iter().position(|a| a == "--database").and_then(|i| args.get(i + 1)).cloned();
    let only = args.iter().position(|a| a == "--only").and_then(|i| args.get(i + 1)).cloned().unwrap_or_default();
    let only = only.to_uppercase();
    let smoke = args.iter().any(|a| a == "--smoke");
    let mut rows = Vec::new();
    // R seeds a database of its own: a fresh SQLite file, or the empty database given when R
    // runs alone.
    let report_database = match &database {
        Some(url) if only == "R" => Some(Some(url.clone())),
        Some(_) => None,
        None => Some(None),
    };
    if only.is_empty() || only.contains('R') {
        match report_database {
            Some(url) => {
                let sizes = if smoke { &report::SMOKE } else { &report::FULL };
                match report::run(&ctid, sizes, url).await {
                    Ok(report) => rows.extend(report),
                    Err(err) => {
                        eprintln!("ctid-bench: {err}");
                        return std::process::ExitCode::FAILURE;
                    }
                }
            }
            None => eprintln!("scenario R needs a database of its own: run it alone (--only R) on --database"),
        }
    }
    if only.is_empty() || only.chars().any(|c| c != 'R') {
        match run(&ctid, &sizes, database, &only).await {
            Ok(more) => rows.extend(more),
            Err(err) => {
                eprintln!("ctid-bench: {err}");
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    print_table(&rows);
    std::process::ExitCode::SUCCESS
}
