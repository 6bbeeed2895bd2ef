//! The status catalog.

use crate::domain::status::{self, StatusMessage, StatusMessageChanges};
use crate::domain::validation::ValidationError;
use crate::store::{Conflict, Store, StoreError};

use super::{AppError, AppResult};

fn not_found(id: &str) -> AppError {
    AppError::NotFound(format!("Status message with id={id} does not exist"))
}

pub async fn list(store: &dyn Store) -> AppResult<Vec<StatusMessage>> {
    Ok(store.list_status_messages().await?)
}

/// The status with this id, matched case-insensitively.
pub async fn get(store: &dyn Store, id: &str) -> AppResult<StatusMessage> {
    list(store)
        .await?
        .into_iter()
        .find(|s| s.status_id.to_lowercase() == id.to_lowercase())
        .ok_or_else(|| not_found(id))
}

pub async fn create(store: &dyn Store, changes: StatusMessageChanges) -> AppResult<StatusMessage> {
    let mut status = status::validate_new(changes)?;
    status::check_return(&mut status, &list(store).await?)?;
    store.create_status_message(&status).await.map_err(|e| match e {
        StoreError::Conflict(Conflict::StatusIdTaken) => {
            AppError::from(ValidationError::invalid(format!("status_id {} already exists", status.status_id)))
        }
        other => other.into(),
    })?;
    Ok(status)
}

pub async fn update(store: &dyn Store, id: &str, mut changes: StatusMessageChanges) -> AppResult<StatusMessage> {
    let catalog = list(store).await?;
    let existing = catalog
        .iter()
        .find(|s| s.status_id.to_lowercase() == id.to_lowercase())
        .cloned()
        .ok_or_else(|| not_found(id))?;
    if let Some(Some(sent)) = &changes.status_id
        && sent.to_lowercase() == existing.status_id.to_lowercase()
    {
        changes.status_id = None;
    }
    let mut status = status::validate_edit(&existing, changes)?;
    status::check_return(&mut status, &catalog)?;
    store.update_status_message(&status).await.map_err(|e| match e {
        StoreError::NotFound => not_found(id),
        other => other.into(),
    })?;
    Ok(status)
}

/// Removes a status that is not built in, with the schedules naming it; statuses returning to
/// it no longer return.
pub async fn delete(store: &dyn Store, id: &str) -> AppResult<()> {
    let existing = get(store, id).await?;
    if existing.built_in {
        return Err(ValidationError::invalid(format!(
            "status {} is built in and cannot be deleted",
            existing.status_id
        ))
        .into());
    }
    store.delete_status_message(&existing.status_id).await.map_err(|e| match e {
        StoreError::NotFound => not_found(id),
        other => other.into(),
    })
}
