//! Scenario R: the time-in-status report over a month of history. Users are imported with
//! `ctid user import`; their history (about 30 status changes and 4 phone changes per user and
//! day) is written straight into the `history` table by one SQL statement per kind, numbered
//! far above the log's head, before ctid starts; `ctid roll-up` then rolls up the days ended
//! (what the compactor of `ctid serve` does every minute), and the report is timed over HTTP
//! against `GET /1.1/status_messages` and the same report over one day, in the same run.

use std::time::{Duration, Instant};

use hyper::Method;
use sqlx::Connection as _;

use crate::{ADMIN_PASSWORD, Row, basic, client, process, row};

const DAY: i64 = 86_400_000;

/// Sizes of scenario R.
pub struct Sizes {
    pub users: usize,
    pub days: i64,
    pub changes_per_day: i64,
    pub rounds: usize,
}

pub const FULL: Sizes = Sizes { users: 10_000, days: 30, changes_per_day: 30, rounds: 5 };
pub const SMOKE: Sizes = Sizes { users: 50, days: 3, changes_per_day: 10, rounds: 2 };

/// Statuses the seeded users go through.
const STATUSES: [&str; 6] =
    ["Available", "Away from desk", "At Lunch", "Available, No ACD", "Follow Up", "In a meeting"];

/// The statements that write `sizes` of history for every user, the first day starting at
/// `first_day` (Unix ms), nothing at or after `until`.
fn seed_sql(postgres: bool, sizes: &Sizes, first_day: i64, until: i64) -> Vec<String> {
    let gap = DAY / sizes.changes_per_day;
    let status = STATUSES.iter().enumerate().map(|(i, s)| format!("WHEN {i} THEN '{s}'")).collect::<Vec<_>>().join(" ");
    let n = STATUSES.len();
    // Each user's changes are spread over the day, shifted by a per-user offset.
    let at = format!("{first_day} + d.day * {DAY} + c.k * {gap} + (u.id * 7919) % {gap}");
    let series = |name: &str, column: &str, last: i64| {
        if postgres {
            format!("generate_series(CAST(0 AS BIGINT), {last}) {name}({column})")
        } else {
            format!(
                "(WITH RECURSIVE s(v) AS (SELECT 0 UNION ALL SELECT v + 1 FROM s WHERE v < {last}) SELECT v AS {column} FROM s) {name}"
            )
        }
    };
    let days = series("d", "day", sizes.days);
    let changes = series("c", "k", sizes.changes_per_day - 1);
    let phones = series("c", "k", 3);
    // Numbered in time order, as ctid writes them (a span of time is then a span of rows).
    let number =
        |offset: i64, per_day: i64| format!("{offset} + (d.day * {per_day} + c.k) * {} + u.id", sizes.users + 1);
    vec![
        format!(
            "INSERT INTO history (id, at, user_id, username, kind, status_id, actor_type) \
             SELECT {}, {at}, u.id, u.username, 'status', CASE (u.id + d.day * 7 + c.k) % {n} {status} END, 'user' \
             FROM {days}, {changes}, users u WHERE {at} < {until}",
            number(1_000_000_000_000, sizes.changes_per_day)
        ),
        // On the phone twice a day, for about a fortieth of a day each time.
        format!(
            "INSERT INTO history (id, at, user_id, username, kind, on_phone, actor_type) \
             SELECT {}, {first_day} + d.day * {DAY} + (c.k / 2) * {half} + (c.k % 2) * {call} + (u.id * 13) % {call}, \
             u.id, u.username, 'phone', 1 - c.k % 2, 'pbx' \
             FROM {days}, {phones}, users u WHERE {first_day} + d.day * {DAY} + (c.k / 2) * {half} + (c.k % 2) * {call} \
             + (u.id * 13) % {call} < {until}",
            number(2_000_000_000_000, 4),
            half = DAY / 2,
            call = DAY / 40,
        ),
    ]
}

async fn seed(database: &str, sizes: &Sizes, first_day: i64, until: i64) -> Result<(), String> {
    let postgres = database.starts_with("postgres");
    let statements = seed_sql(postgres, sizes, first_day, until);
    if postgres {
        let mut conn = sqlx::PgConnection::connect(database).await.map_err(|e| e.to_string())?;
        for sql in statements {
            sqlx::raw_sql(&sql).execute(&mut conn).await.map_err(|e| format!("seeding: {e}"))?;
        }
        sqlx::raw_sql("ANALYZE").execute(&mut conn).await.map_err(|e| e.to_string())?;
    } else {
        let mut conn = sqlx::SqliteConnection::connect(database).await.map_err(|e| e.to_string())?;
        for sql in statements {
            sqlx::raw_sql(&sql).execute(&mut conn).await.map_err(|e| format!("seeding: {e}"))?;
        }
        sqlx::raw_sql("ANALYZE").execute(&mut conn).await.map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// RFC 3339 of Unix milliseconds (UTC).
fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms.rem_euclid(1000)
    )
}

/// The median time of `rounds` GETs of `path`, in seconds; each must answer 200.
async fn timed(addr: &str, path: &str, rounds: usize) -> Result<f64, String> {
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        let request = client::request(addr, Method::GET, path, &[("Authorization", basic())], String::new());
        let reply = client::send(addr, request).await?;
        if reply.status != 200 {
            return Err(format!("GET {path}: {} {}", reply.status, String::from_utf8_lossy(&reply.body)));
        }
        times.push(started.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

fn report_path(from: i64, to: i64) -> String {
    format!("/1.1/status_reports/time_in_status?from={}&to={}", rfc3339(from), rfc3339(to))
}

pub async fn run(ctid: &str, sizes: &Sizes, database: Option<String>) -> Result<Vec<Row>, String> {
    let dir = std::env::temp_dir().join(format!("ctid-bench-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let database = database.unwrap_or_else(|| format!("sqlite://{}", dir.join("report.db").display()));
    let csv = dir.join("users.csv");
    let mut text = String::from("firstname,lastname,username\n");
    for i in 0..sizes.users {
        text.push_str(&format!("First{i},Last{i},agent{i}\n"));
    }
    super::import_users(ctid, &csv, &text, &database)?;
    let now = i64::try_from(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis(),
    )
    .unwrap_or(i64::MAX);
    let today = now.div_euclid(DAY) * DAY;
    let first_day = today - sizes.days * DAY;
    let seeded = Instant::now();
    seed(&database, sizes, first_day, now - 60_000).await?;
    let seed_time = seeded.elapsed().as_secs_f64();
    eprintln!("scenario R: history seeded in {seed_time:.1} s");
    let rolled = Instant::now();
    let out = std::process::Command::new(ctid)
        .args(["roll-up", "--database", &database])
        .env("CTID_LOG", "warn")
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("roll-up failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let roll_time = rolled.elapsed().as_secs_f64();
    eprintln!("scenario R: {} in {roll_time:.1} s", String::from_utf8_lossy(&out.stdout).trim());

    let server = process::spawn(
        ctid,
        &["serve", "--listen", "127.0.0.1:0", "--database", &database],
        &[("CTID_ADMIN_PASSWORD", ADMIN_PASSWORD), ("CTID_LOG", "warn")],
    )
    .await?;
    let addr = server.addr.clone();
    // Let the cache warm-up of the users settle.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rounds = sizes.rounds;
    let bare = timed(&addr, "/1.1/status_messages", rounds).await?;
    let one_day = timed(&addr, &report_path(today - DAY, today), rounds).await?;
    let aligned = timed(&addr, &report_path(first_day, today), rounds).await?;
    let unaligned_from = first_day + 7 * 3_600_000 + 13 * 60_000 + 5_123;
    let unaligned = timed(&addr, &report_path(unaligned_from, now), rounds).await?;
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    let store = if database.starts_with("postgres") { "PostgreSQL" } else { "SQLite" };
    let records = sizes.users as i64 * sizes.days * (sizes.changes_per_day + 4);
    Ok(vec![
        row(&format!("R seed {records} history records ({store})"), seed_time, "s", None),
        row(&format!("R ctid roll-up of {} days", sizes.days), roll_time, "s", None),
        row(&format!("R report, {} users, {} whole days", sizes.users, sizes.days), aligned, "s", Some(bare)),
        row(&format!("R report, {} users, from 07:13 to now", sizes.users), unaligned, "s", Some(bare)),
        row(&format!("R report, {} whole days / one day", sizes.days), aligned, "s", Some(one_day)),
        row("R report, one whole day", one_day, "s", Some(bare)),
    ])
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_of_unix_ms() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(super::rfc3339(1_800_000_000_123), "2027-01-15T08:00:00.123Z");
    }
}
