//! Scenario D: many event streams subscribed to the same users while status changes arrive at
//! a fixed rate. Measures delivery latency from the moment a change is sent to its receipt,
//! and checks that every stream ends with every user's last state.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use hyper::Method;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::client::{self, Session};

/// A latency histogram shared by many tasks: 10 µs steps to 1 ms, 100 µs to 100 ms, 10 ms to 10 s.
pub struct Histogram {
    buckets: Vec<AtomicU64>,
    max_us: AtomicU64,
}

impl Histogram {
    pub fn new() -> Self {
        Self { buckets: (0..2081).map(|_| AtomicU64::new(0)).collect(), max_us: AtomicU64::new(0) }
    }

    fn index(us: u64) -> usize {
        let i = if us < 1_000 {
            us / 10
        } else if us < 100_000 {
            100 + (us - 1_000) / 100
        } else {
            1_090 + (us - 100_000) / 10_000
        };
        usize::try_from(i).unwrap_or(usize::MAX).min(2_080)
    }

    fn upper(i: usize) -> u64 {
        let i = i as u64;
        if i < 100 {
            (i + 1) * 10
        } else if i < 1_090 {
            1_000 + (i - 99) * 100
        } else {
            100_000 + (i - 1_089) * 10_000
        }
    }

    pub fn record(&self, us: u64) {
        self.buckets[Self::index(us)].fetch_add(1, Ordering::Relaxed);
        self.max_us.fetch_max(us, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum()
    }

    /// The `q` quantile in milliseconds (upper bound of its bucket).
    pub fn quantile_ms(&self, q: f64) -> f64 {
        let total = self.count();
        if total == 0 {
            return f64::NAN;
        }
        let target = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, bucket) in self.buckets.iter().enumerate() {
            seen += bucket.load(Ordering::Relaxed);
            if seen >= target {
                return Self::upper(i) as f64 / 1000.0;
            }
        }
        self.max_ms()
    }

    pub fn max_ms(&self) -> f64 {
        self.max_us.load(Ordering::Relaxed) as f64 / 1000.0
    }
}

pub struct FanoutResult {
    pub changes: u64,
    pub deliveries: u64,
    pub expected_deliveries: u64,
    /// Streams that did not end with every user's last state: a lost change.
    pub stale_streams: usize,
    pub latency: Arc<Histogram>,
    pub server_cpu_percent: f64,
    /// The harness's own CPU meanwhile: it shares the machine with the server.
    pub harness_cpu_percent: f64,
}

struct Shared {
    epoch: Instant,
    /// Send time of change n, in µs since `epoch`.
    sent_at: Vec<AtomicU64>,
    latency: Arc<Histogram>,
    deliveries: AtomicU64,
    stop: AtomicBool,
}

/// Follows one event stream; returns the last notes seen for each user.
async fn follow(addr: String, session: Session, shared: Arc<Shared>) -> HashMap<String, String> {
    let mut last = HashMap::new();
    let Ok(stream) = TcpStream::connect(&addr).await else {
        return last;
    };
    let Ok((mut sender, driver)) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await else {
        return last;
    };
    tokio::spawn(driver);
    let path = format!("/icws/{}/messaging/messages", session.id);
    let request = client::request(
        &addr,
        Method::GET,
        &path,
        &[("Cookie", session.cookie.clone()), ("Accept", "text/event-stream".into())],
        String::new(),
    );
    let Ok(response) = sender.send_request(request).await else {
        return last;
    };
    let mut body = response.into_body();
    let mut buffer: Vec<u8> = Vec::new();
    while !shared.stop.load(Ordering::Relaxed) {
        let frame = match tokio::time::timeout(Duration::from_millis(500), body.frame()).await {
            Ok(Some(Ok(frame))) => frame,
            Ok(_) => break,
            Err(_) => continue,
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        buffer.extend_from_slice(&data);
        // Every complete event in the buffer, then one shift of what is left.
        let mut start = 0;
        while let Some(end) = buffer[start..].windows(2).position(|w| w == b"\n\n") {
            let event = String::from_utf8_lossy(&buffer[start..start + end]);
            for line in event.lines() {
                if let Some(json) = line.strip_prefix("data:") {
                    receive(json.trim_start(), &shared, &mut last);
                }
            }
            start += end + 2;
        }
        buffer.drain(..start);
    }
    last
}

/// The members of a user-status message the fan-out measures.
#[derive(serde::Deserialize)]
struct StatusMessage<'a> {
    #[serde(rename = "isDelta", default)]
    is_delta: bool,
    #[serde(rename = "userStatusList", borrow, default)]
    statuses: Vec<StatusEntry<'a>>,
}

#[derive(serde::Deserialize)]
struct StatusEntry<'a> {
    #[serde(rename = "userId", borrow)]
    user: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    notes: Option<std::borrow::Cow<'a, str>>,
}

fn receive(json: &str, shared: &Shared, last: &mut HashMap<String, String>) {
    let Ok(message) = serde_json::from_str::<StatusMessage<'_>>(json) else {
        return;
    };
    let now = u64::try_from(shared.epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
    for status in message.statuses {
        let Some(notes) = status.notes else {
            continue;
        };
        last.insert(status.user.into_owned(), notes.to_string());
        if message.is_delta
            && let Some(n) = notes.strip_prefix('n').and_then(|n| n.parse::<usize>().ok())
        {
            shared.deliveries.fetch_add(1, Ordering::Relaxed);
            if let Some(sent) = shared.sent_at.get(n).map(|s| s.load(Ordering::Relaxed)) {
                shared.latency.record(now.saturating_sub(sent));
            }
        }
    }
}

/// Subscribes `sessions` to `users`, opens their streams, sends `rate` changes per second for
/// `duration` through `writer`, then waits for the streams to catch up.
pub async fn run(
    addr: &str,
    pid: u32,
    sessions: &[Session],
    users: &[String],
    writer: &Session,
    rate: u32,
    duration: Duration,
) -> Result<FanoutResult, String> {
    let subscription = serde_json::json!({"userIds": users, "userStatusProperties": ["statusId", "notes"]}).to_string();
    for chunk in sessions.chunks(64) {
        let replies = chunk.iter().map(|s| {
            let path = format!("/icws/{}/messaging/subscriptions/status/user-statuses", s.id);
            let request = client::request(addr, Method::PUT, &path, &s.headers(), subscription.clone());
            let addr = addr.to_string();
            async move { client::send(&addr, request).await }
        });
        for reply in futures_join(replies).await {
            let reply = reply?;
            if reply.status != 200 {
                return Err(format!("subscription refused: {}", reply.status));
            }
        }
    }
    let total = (u64::from(rate) * duration.as_secs()).max(1);
    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        sent_at: (0..=total).map(|_| AtomicU64::new(u64::MAX)).collect(),
        latency: Arc::new(Histogram::new()),
        deliveries: AtomicU64::new(0),
        stop: AtomicBool::new(false),
    });
    let followers: Vec<_> =
        sessions.iter().map(|s| tokio::spawn(follow(addr.to_string(), s.clone(), shared.clone()))).collect();
    tokio::time::sleep(Duration::from_secs(2)).await;

    let cpu_before = crate::process::cpu_seconds(pid);
    let harness_before = crate::process::cpu_seconds(std::process::id());
    let started = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let mut writers = Vec::new();
    for n in 1..=total {
        let due = started + interval.mul_f64(n as f64);
        tokio::time::sleep_until(due.into()).await;
        let user = users[usize::try_from(n).unwrap_or(0) % users.len()].clone();
        let notes = format!("n{n}");
        let body = serde_json::json!({"statusId": if n % 2 == 0 { "Available" } else { "At Lunch" }, "notes": notes})
            .to_string();
        let path = format!("/icws/{}/status/user-statuses/{user}", writer.id);
        let request = client::request(addr, Method::PUT, &path, &writer.headers(), body);
        let (addr, shared) = (addr.to_string(), shared.clone());
        let index = usize::try_from(n).unwrap_or(0);
        writers.push(tokio::spawn(async move {
            let now = u64::try_from(shared.epoch.elapsed().as_micros()).unwrap_or(0);
            shared.sent_at[index].store(now, Ordering::Relaxed);
            client::send(&addr, request).await.map(|r| r.status)
        }));
    }
    let mut refused = 0;
    for writer in writers {
        if !matches!(writer.await, Ok(Ok(202))) {
            refused += 1;
        }
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = crate::process::cpu_seconds(pid) - cpu_before;
    let harness_cpu = crate::process::cpu_seconds(std::process::id()) - harness_before;
    if refused > 0 {
        eprintln!("fan-out: {refused} status changes were refused");
    }
    // Changes of one user sent close together may commit in another order than they were
    // sent (the sender does not wait for acknowledgements): what every stream must end with
    // is what the server committed last.
    let mut last_notes: HashMap<String, String> = HashMap::new();
    for user in users {
        let path = format!("/icws/{}/status/user-statuses/{user}", writer.id);
        let reply =
            client::send(addr, client::request(addr, Method::GET, &path, &writer.headers(), String::new())).await?;
        let status: serde_json::Value = serde_json::from_slice(&reply.body).map_err(|e| e.to_string())?;
        let notes = status["notes"].as_str().ok_or_else(|| format!("no notes for {user}: {status}"))?;
        last_notes.insert(user.clone(), notes.to_string());
    }
    // Let the streams catch up, then stop them.
    let expected = total * sessions.len() as u64;
    let catch_up = Instant::now();
    while shared.deliveries.load(Ordering::Relaxed) < expected && catch_up.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shared.stop.store(true, Ordering::Relaxed);
    let mut stale = 0;
    for follower in followers {
        let seen = follower.await.unwrap_or_default();
        if last_notes.iter().any(|(user, notes)| seen.get(user) != Some(notes)) {
            stale += 1;
        }
    }
    Ok(FanoutResult {
        changes: total,
        deliveries: shared.deliveries.load(Ordering::Relaxed),
        expected_deliveries: expected,
        stale_streams: stale,
        latency: shared.latency.clone(),
        server_cpu_percent: 100.0 * cpu / wall.max(1e-9),
        harness_cpu_percent: 100.0 * harness_cpu / wall.max(1e-9),
    })
}

/// Awaits futures concurrently, in order.
async fn futures_join<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        if let Ok(value) = handle.await {
            out.push(value);
        }
    }
    out
}
