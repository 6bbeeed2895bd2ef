//! Webhook delivery (SPEC §6): one instance of a cluster holds the `webhooks` lease and runs
//! one task per enabled webhook, each following the event log from the webhook's own position
//! (see [`delivery`]). Deliveries read the log and the store after the changes committed:
//! nothing a change commits waits for them, and one receiver never holds up another.
//!
//! The instance that holds the lease renews it every second while there is an enabled webhook;
//! when it stops (crash, lost database), another takes the lease once it has expired and resumes each webhook from its
//! stored position: an event whose delivery was not recorded is delivered again (at least
//! once).

mod delivery;
pub mod payload;
pub mod signature;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::domain::clock::now_ms;
use crate::domain::webhook::RetryPolicy;
use crate::store::{EventLog, Store};

/// The lease's name in table `leases`.
const LEASE: &str = "webhooks";
/// How often the holder renews it (at most), and looks for webhooks added, enabled or removed.
const TICK: Duration = Duration::from_secs(1);
/// Longest wait for a receiver's answer (connection, request and the answer's start).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What the webhook tasks share.
struct Context {
    store: Arc<dyn Store>,
    log: Arc<dyn EventLog>,
    /// The last event the presence engine applied here: moves when the log grows.
    applied: watch::Receiver<i64>,
    client: reqwest::Client,
    policy: RetryPolicy,
}

/// The deliverer of one instance.
pub struct Deliverer {
    ctx: Arc<Context>,
    /// This instance's name in the lease.
    holder: String,
    lease_ttl: Duration,
}

impl Deliverer {
    pub fn new(
        store: Arc<dyn Store>,
        log: Arc<dyn EventLog>,
        applied: watch::Receiver<i64>,
        policy: RetryPolicy,
        lease_ttl: Duration,
    ) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("ctid/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the webhook HTTP client: {e}"))?;
        let ctx = Arc::new(Context { store, log, applied, client, policy });
        Ok(Self { ctx, holder: crate::auth::random::hex_token(12), lease_ttl })
    }

    /// Holds the lease when it can and delivers while it holds it, for as long as the server
    /// runs.
    pub async fn run(self: Arc<Self>) {
        let mut tasks: HashMap<i64, JoinHandle<()>> = HashMap::new();
        let mut tick = tokio::time::interval(TICK.min(self.lease_ttl / 3));
        let mut held = false;
        loop {
            tick.tick().await;
            // Without an enabled webhook nobody holds the lease: an idle server writes nothing.
            let enabled = match self.ctx.store.list_webhooks().await {
                Ok(webhooks) => webhooks.iter().filter(|w| w.fields.enabled).map(|w| w.id).collect(),
                Err(err) => {
                    tracing::warn!(error = %err, "cannot list the webhooks");
                    Vec::new()
                }
            };
            let holds = !enabled.is_empty() && self.take_lease().await;
            if holds != held {
                let what = if holds { "took over" } else { "stopped" };
                tracing::info!(holder = %self.holder, "{what} webhook deliveries");
                held = holds;
            }
            if !holds {
                tasks.drain().for_each(|(_, task)| task.abort());
                continue;
            }
            tasks.retain(|id, task| {
                let keep = enabled.contains(id) && !task.is_finished();
                if !keep {
                    task.abort();
                }
                keep
            });
            for id in enabled {
                tasks.entry(id).or_insert_with(|| tokio::spawn(delivery::run(self.ctx.clone(), id)));
            }
        }
    }

    /// Takes or renews the lease; false when another instance holds it, or on failure.
    async fn take_lease(&self) -> bool {
        let ttl = i64::try_from(self.lease_ttl.as_millis()).unwrap_or(i64::MAX);
        match self.ctx.store.take_lease(LEASE, &self.holder, now_ms(), ttl).await {
            Ok(holds) => holds,
            Err(err) => {
                tracing::warn!(error = %err, "cannot renew the webhook lease");
                false
            }
        }
    }

    /// Gives the lease up (at shutdown), so that another instance takes over at once.
    pub async fn release(&self) {
        if let Err(err) = self.ctx.store.release_lease(LEASE, &self.holder).await {
            tracing::debug!(error = %err, "cannot release the webhook lease");
        }
    }
}
