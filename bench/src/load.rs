//! A closed-loop HTTP/1.1 load generator: N connections, each sending its next request as
//! soon as the previous answer is read, for a fixed time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Builds request `n` of connection `conn`.
pub type MakeRequest = Arc<dyn Fn(usize, u64) -> Request<Full<Bytes>> + Send + Sync>;

/// What one run measured.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub requests: u64,
    pub errors: u64,
    pub elapsed: Duration,
    /// Sorted latencies in microseconds.
    pub latencies_us: Vec<u32>,
}

impl Stats {
    pub fn throughput(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The `q` quantile (0..=1) in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let index = ((self.latencies_us.len() - 1) as f64 * q).round() as usize;
        f64::from(self.latencies_us[index]) / 1000.0
    }
}

/// Runs `connections` connections against `addr` for `duration`.
pub async fn run(addr: &str, connections: usize, duration: Duration, make: MakeRequest) -> Stats {
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(connections);
    for conn in 0..connections {
        let (addr, make) = (addr.to_string(), make.clone());
        tasks.push(tokio::spawn(async move { connection(&addr, conn, deadline, make).await }));
    }
    let mut stats = Stats::default();
    for task in tasks {
        if let Ok((requests, errors, latencies)) = task.await {
            stats.requests += requests;
            stats.errors += errors;
            stats.latencies_us.extend(latencies);
        }
    }
    stats.elapsed = started.elapsed();
    stats.latencies_us.sort_unstable();
    stats
}

async fn connection(addr: &str, conn: usize, deadline: Instant, make: MakeRequest) -> (u64, u64, Vec<u32>) {
    let mut latencies = Vec::new();
    let (mut requests, mut errors) = (0u64, 0u64);
    'reconnect: while Instant::now() < deadline {
        let Ok(stream) = TcpStream::connect(addr).await else {
            errors += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let Ok((mut sender, driver)) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await else {
            errors += 1;
            continue;
        };
        tokio::spawn(driver);
        while Instant::now() < deadline {
            let request = make(conn, requests + errors);
            let start = Instant::now();
            let ok = match sender.send_request(request).await {
                Ok(response) => {
                    let success = response.status().is_success();
                    success && response.into_body().collect().await.is_ok()
                }
                Err(_) => {
                    errors += 1;
                    continue 'reconnect;
                }
            };
            let micros = u32::try_from(start.elapsed().as_micros()).unwrap_or(u32::MAX);
            if ok {
                requests += 1;
                latencies.push(micros);
            } else {
                errors += 1;
            }
        }
    }
    (requests, errors, latencies)
}

/// A small xorshift generator: reproducible ids without a dependency.
pub fn pseudo_random(seed: u64) -> u64 {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}
