//! Webhooks (SPEC §6): their configuration; delivery is [`crate::webhooks`]'s.

use crate::domain::validation::ValidationError;
use crate::domain::webhook::{self, Delivery, MAX_WEBHOOKS, Webhook, WebhookInput};
use crate::store::{Conflict, Store, StoreError};

use super::{AppError, AppResult};

fn not_found(id: i64) -> AppError {
    AppError::NotFound(format!("Webhook with id={id} does not exist"))
}

fn map_error(err: StoreError, id: i64) -> AppError {
    match err {
        StoreError::NotFound => not_found(id),
        StoreError::Conflict(Conflict::TooManyWebhooks) => {
            ValidationError::invalid(format!("there are at most {MAX_WEBHOOKS} webhooks")).into()
        }
        other => other.into(),
    }
}

pub async fn list(store: &dyn Store) -> AppResult<Vec<Webhook>> {
    Ok(store.list_webhooks().await?)
}

pub async fn get(store: &dyn Store, id: i64) -> AppResult<Webhook> {
    store.get_webhook(id).await.map_err(|e| map_error(e, id))
}

/// Adds a webhook: it receives the changes committed from now on.
pub async fn create(store: &dyn Store, input: WebhookInput) -> AppResult<Webhook> {
    let fields = webhook::validate_new(&input)?;
    store.create_webhook(&fields, super::now_ms()).await.map_err(|e| map_error(e, 0))
}

/// Edits a webhook; enabling it (even if it was enabled) clears its failure, and it goes on
/// from the first event it has not delivered.
pub async fn update(store: &dyn Store, id: i64, input: WebhookInput) -> AppResult<()> {
    let existing = get(store, id).await?;
    let enabling = input.enabled == Some(true);
    let fields = webhook::apply_changes(&existing.fields, &input)?;
    store.update_webhook(id, &fields, enabling).await.map_err(|e| map_error(e, id))
}

pub async fn delete(store: &dyn Store, id: i64) -> AppResult<()> {
    store.delete_webhook(id).await.map_err(|e| map_error(e, id))
}

/// A webhook's last attempts, newest first.
pub async fn deliveries(store: &dyn Store, id: i64) -> AppResult<Vec<Delivery>> {
    get(store, id).await?;
    Ok(store.webhook_deliveries(id).await?)
}
