//! Webhooks, their positions in the log and their last attempts; and the leases of work one
//! instance does at a time.

use async_trait::async_trait;

use super::{Backend, Columns, Conn, SqlStore, Value, found};
use crate::domain::webhook::{DELIVERIES_KEPT, DeliveryState, MAX_WEBHOOKS, Outcome, Webhook, WebhookEvent};
use crate::domain::webhook::{Delivery, WebhookFields};
use crate::store::{Conflict, StoreError, StoreResult, Webhooks};

const COLUMNS: &str = "id, url, events, secret, enabled, disabled_reason, delivered_seq, failing_since, attempts, \
                       next_attempt_at";

fn webhook_from_row(row: &impl Columns) -> StoreResult<Webhook> {
    Ok(Webhook {
        id: row.int("id")?,
        fields: WebhookFields {
            url: row.text("url")?,
            events: WebhookEvent::split(&row.text("events")?),
            secret: row.text("secret")?,
            enabled: row.flag("enabled")?,
        },
        state: DeliveryState {
            delivered_seq: row.int("delivered_seq")?,
            disabled_reason: row.opt_text("disabled_reason")?,
            failing_since: row.opt_int("failing_since")?,
            attempts: row.int("attempts")?,
            next_attempt_at: row.opt_int("next_attempt_at")?,
        },
    })
}

fn delivery_from_row(row: &impl Columns) -> StoreResult<Delivery> {
    Ok(Delivery {
        event_id: row.int("event_id")?,
        at: row.int("at")?,
        status_code: row.opt_int("status_code")?.and_then(|code| u16::try_from(code).ok()),
        error: row.opt_text("error")?,
    })
}

#[async_trait]
impl<B: Backend> Webhooks for SqlStore<B> {
    async fn list_webhooks(&self) -> StoreResult<Vec<Webhook>> {
        let rows =
            self.backend.writer().await?.rows(&format!("SELECT {COLUMNS} FROM webhooks ORDER BY id"), &[]).await?;
        rows.iter().map(webhook_from_row).collect()
    }

    async fn get_webhook(&self, id: i64) -> StoreResult<Webhook> {
        let sql = format!("SELECT {COLUMNS} FROM webhooks WHERE id = ?");
        let row = self.backend.writer().await?.row(&sql, &[id.into()]).await?;
        webhook_from_row(&row.ok_or(StoreError::NotFound)?)
    }

    async fn create_webhook(&self, fields: &WebhookFields, now_ms: i64) -> StoreResult<Webhook> {
        let sql = format!(
            "INSERT INTO webhooks (url, events, secret, enabled, delivered_seq, created_at) \
             SELECT ?, ?, ?, ?, (SELECT coalesce(max(seq), 0) FROM events), ? \
             WHERE (SELECT count(*) FROM webhooks) < ? RETURNING {COLUMNS}"
        );
        let args = [
            Value::from(&fields.url),
            WebhookEvent::join(&fields.events).into(),
            (&fields.secret).into(),
            fields.enabled.into(),
            now_ms.into(),
            MAX_WEBHOOKS.into(),
        ];
        let mut tx = self.backend.begin().await?;
        let row = tx.row(&sql, &args).await?.ok_or(StoreError::Conflict(Conflict::TooManyWebhooks))?;
        let webhook = webhook_from_row(&row)?;
        self.backend.commit(tx).await?;
        Ok(webhook)
    }

    async fn update_webhook(&self, id: i64, fields: &WebhookFields, clear_failure: bool) -> StoreResult<()> {
        let clear = if clear_failure {
            ", disabled_reason = NULL, failing_since = NULL, attempts = 0, next_attempt_at = NULL"
        } else {
            ""
        };
        let sql = format!("UPDATE webhooks SET url = ?, events = ?, secret = ?, enabled = ?{clear} WHERE id = ?");
        let args = [
            Value::from(&fields.url),
            WebhookEvent::join(&fields.events).into(),
            (&fields.secret).into(),
            fields.enabled.into(),
            id.into(),
        ];
        found(self.backend.writer().await?.run(&sql, &args).await?)
    }

    async fn delete_webhook(&self, id: i64) -> StoreResult<()> {
        let mut tx = self.backend.begin().await?;
        tx.run("DELETE FROM webhook_deliveries WHERE webhook_id = ?", &[id.into()]).await?;
        let deleted = tx.run("DELETE FROM webhooks WHERE id = ?", &[id.into()]).await?;
        self.backend.commit(tx).await?;
        found(deleted)
    }

    async fn webhook_deliveries(&self, id: i64) -> StoreResult<Vec<Delivery>> {
        let sql = "SELECT event_id, at, status_code, error FROM webhook_deliveries WHERE webhook_id = ? \
                   ORDER BY id DESC LIMIT ?";
        let rows = self.backend.writer().await?.rows(sql, &[id.into(), DELIVERIES_KEPT.into()]).await?;
        rows.iter().map(delivery_from_row).collect()
    }

    async fn skip_webhook_events(&self, id: i64, from: i64, to: i64) -> StoreResult<bool> {
        let sql = "UPDATE webhooks SET delivered_seq = ? WHERE id = ? AND delivered_seq = ?";
        Ok(self.backend.writer().await?.run(sql, &[to.into(), id.into(), from.into()]).await? == 1)
    }

    async fn record_webhook_attempt(&self, id: i64, attempt: &Delivery, outcome: &Outcome) -> StoreResult<()> {
        let mut tx = self.backend.begin().await?;
        let recorded = "INSERT INTO webhook_deliveries (webhook_id, event_id, at, status_code, error) \
                        SELECT id, ?, ?, ?, ? FROM webhooks WHERE id = ?";
        let args = [
            Value::from(attempt.event_id),
            attempt.at.into(),
            attempt.status_code.map(i64::from).into(),
            attempt.error.as_deref().into(),
            id.into(),
        ];
        tx.run(recorded, &args).await?;
        // The newest attempts only.
        let pruned = "DELETE FROM webhook_deliveries WHERE webhook_id = ? AND id <= \
                      (SELECT id FROM webhook_deliveries WHERE webhook_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)";
        tx.run(pruned, &[id.into(), id.into(), DELIVERIES_KEPT.into()]).await?;
        let (sql, args): (&str, Vec<Value<'_>>) = match outcome {
            Outcome::Delivered => (
                "UPDATE webhooks SET delivered_seq = ?, failing_since = NULL, attempts = 0, next_attempt_at = NULL \
                 WHERE id = ? AND delivered_seq < ?",
                vec![attempt.event_id.into(), id.into(), attempt.event_id.into()],
            ),
            Outcome::Retry { at } => (
                "UPDATE webhooks SET failing_since = coalesce(failing_since, ?), attempts = attempts + 1, \
                 next_attempt_at = ? WHERE id = ?",
                vec![attempt.at.into(), (*at).into(), id.into()],
            ),
            Outcome::Disable { reason } => (
                "UPDATE webhooks SET enabled = ?, disabled_reason = ?, failing_since = coalesce(failing_since, ?), \
                 attempts = attempts + 1, next_attempt_at = NULL WHERE id = ?",
                vec![false.into(), reason.as_str().into(), attempt.at.into(), id.into()],
            ),
        };
        tx.run(sql, &args).await?;
        self.backend.commit(tx).await
    }

    async fn take_lease(&self, name: &str, holder: &str, now_ms: i64, ttl_ms: i64) -> StoreResult<bool> {
        let sql = "UPDATE leases SET holder = ?, expires_at = ? WHERE name = ? AND (holder = ? OR expires_at < ?)";
        let args = [Value::from(holder), (now_ms + ttl_ms).into(), name.into(), holder.into(), now_ms.into()];
        Ok(self.backend.writer().await?.run(sql, &args).await? == 1)
    }

    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()> {
        let sql = "UPDATE leases SET expires_at = 0 WHERE name = ? AND holder = ?";
        self.backend.writer().await?.run(sql, &[name.into(), holder.into()]).await?;
        Ok(())
    }
}
