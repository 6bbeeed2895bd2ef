//! One webhook's delivery: the events after its position, in order, one at a time; a failed
//! event is tried again (see [`RetryPolicy`]) before any later one.

use std::error::Error as _;
use std::sync::Arc;
use std::time::Duration;

use super::{Context, payload, signature};
use crate::domain::clock::{now, now_ms};
use crate::domain::webhook::{Delivery, Outcome, RESPONSE_KEPT, Webhook, truncated};
use crate::store::{StoreError, StoreResult};

/// Events read from the log at a time.
const BATCH: i64 = 100;
/// Longest wait without a look at the webhook and the log.
const IDLE: Duration = Duration::from_secs(1);

/// What a webhook's task does next.
enum Next {
    /// Reads the webhook and the log again at once.
    Now,
    /// Waits for new events (or a while).
    Idle,
    /// Waits until this time (Unix ms) to try again.
    At(i64),
    /// The webhook is gone or disabled: the task ends.
    Stop,
}

/// Delivers webhook `id`'s events for as long as it is enabled.
pub(super) async fn run(ctx: Arc<Context>, id: i64) {
    let mut applied = ctx.applied.clone();
    loop {
        let (wait, on_events) = match step(&ctx, id).await {
            Ok(Next::Now) => continue,
            Ok(Next::Stop) => return,
            Ok(Next::Idle) => (IDLE, true),
            // A failed event waits for its time, whatever is appended meanwhile.
            Ok(Next::At(at)) => (Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0)).min(IDLE), false),
            Err(err) => {
                tracing::warn!(webhook = id, error = %err, "webhook delivery cannot read the store; retrying");
                (IDLE, false)
            }
        };
        if !on_events || matches!(tokio::time::timeout(wait, applied.changed()).await, Ok(Err(_))) {
            tokio::time::sleep(wait).await;
        }
    }
}

async fn step(ctx: &Context, id: i64) -> StoreResult<Next> {
    let mut webhook = match ctx.store.get_webhook(id).await {
        Ok(webhook) if webhook.fields.enabled => webhook,
        Ok(_) | Err(StoreError::NotFound) => return Ok(Next::Stop),
        Err(err) => return Err(err),
    };
    if let Some(at) = webhook.state.next_attempt_at.filter(|at| *at > now_ms()) {
        return Ok(Next::At(at));
    }
    let mut position = webhook.state.delivered_seq;
    let events = ctx.log.after(position, BATCH).await?;
    if events.is_empty() {
        return Ok(Next::Idle);
    }
    let mut skipped = None;
    for logged in &events {
        let kind = logged.event.as_ref().and_then(payload::classify).filter(|kind| webhook.selects(*kind));
        let body = match (kind, &logged.event) {
            (Some(kind), Some(event)) => payload::body(ctx.store.as_ref(), logged.seq, event, kind).await?,
            _ => None,
        };
        let Some(body) = body else {
            skipped = Some(logged.seq);
            continue;
        };
        // Skipped events before this one are passed first: the position only moves forward.
        if let Some(to) = skipped.take()
            && !ctx.store.skip_webhook_events(id, position, to).await?
        {
            return Ok(Next::Now);
        }
        let attempt = post(ctx, &webhook, logged.seq, body).await;
        let outcome = if attempt.error.is_none() {
            Outcome::Delivered
        } else {
            let since = webhook.state.failing_since.unwrap_or(attempt.at);
            let why = attempt.error.as_deref().unwrap_or_default();
            ctx.policy.after_failure(webhook.state.attempts + 1, since, attempt.at, why)
        };
        ctx.store.record_webhook_attempt(id, &attempt, &outcome).await?;
        match outcome {
            Outcome::Delivered => {
                position = logged.seq;
                webhook.state.failing_since = None;
                webhook.state.attempts = 0;
            }
            Outcome::Retry { .. } => return Ok(Next::Now),
            Outcome::Disable { reason } => {
                tracing::warn!(webhook = id, reason, "webhook disabled");
                return Ok(Next::Stop);
            }
        }
    }
    if let Some(to) = skipped {
        ctx.store.skip_webhook_events(id, position, to).await?;
    }
    Ok(Next::Now)
}

/// Posts `body` as event `seq`; the attempt, with what the receiver answered.
async fn post(ctx: &Context, webhook: &Webhook, seq: i64, body: Vec<u8>) -> Delivery {
    let at = now_ms();
    let id = seq.to_string();
    let timestamp = now();
    let signature = signature::sign(&webhook.fields.secret, &id, timestamp, &body);
    let sent = ctx
        .client
        .post(&webhook.fields.url)
        .header("content-type", "application/json")
        .header("webhook-id", &id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await;
    let mut response = match sent {
        Ok(response) => response,
        Err(err) => return Delivery { event_id: seq, at, status_code: None, error: Some(describe(&err)) },
    };
    let status = response.status();
    // At most the first KiB of the answer is read.
    let mut answer = Vec::new();
    while answer.len() < RESPONSE_KEPT {
        match response.chunk().await {
            Ok(Some(chunk)) => answer.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    let error = (!status.is_success()).then(|| {
        let text = String::from_utf8_lossy(&answer[..answer.len().min(RESPONSE_KEPT)]).into_owned();
        truncated(format!("HTTP {}: {}", status.as_u16(), text).trim_end())
    });
    Delivery { event_id: seq, at, status_code: Some(status.as_u16()), error }
}

/// A transport error in words, without its URL (which may hold credentials).
fn describe(err: &reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let mut text = kind.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    truncated(&text)
}
