//! A user's scheduled statuses (the status lifecycle, SPEC §5).

use crate::domain::schedule::{self, ScheduleInput, ScheduledStatus};
use crate::domain::validation::ValidationError;
use crate::presence::Presence;
use crate::store::{Conflict, Store, StoreError};

use super::users::user_not_found;
use super::{AppError, AppResult};

pub fn schedule_not_found(id: i64) -> AppError {
    AppError::NotFound(format!("Scheduled status with id={id} does not exist"))
}

/// A user's schedules by start, done ones included.
pub async fn list(store: &dyn Store, user_id: i64) -> AppResult<Vec<ScheduledStatus>> {
    super::users::get(store, user_id).await?;
    Ok(store.list_schedules(user_id, false).await?)
}

pub async fn get(store: &dyn Store, user_id: i64, id: i64) -> AppResult<ScheduledStatus> {
    super::users::get(store, user_id).await?;
    store.get_schedule(user_id, id).await.map_err(|e| match e {
        StoreError::NotFound => schedule_not_found(id),
        other => other.into(),
    })
}

pub async fn create(store: &dyn Store, user_id: i64, input: ScheduleInput) -> AppResult<ScheduledStatus> {
    super::users::get(store, user_id).await?;
    let catalog = store.list_status_messages().await?;
    let fields = schedule::validate(user_id, input, &catalog, super::now())?;
    store.create_schedule(&fields).await.map_err(|e| match e {
        StoreError::NotFound => user_not_found(user_id),
        StoreError::Conflict(Conflict::ScheduleOverlaps(other)) => {
            ValidationError::invalid(format!("schedule overlaps schedule {other}")).into()
        }
        StoreError::Conflict(Conflict::TooManySchedules) => ValidationError::invalid(format!(
            "a user has at most {} pending or active scheduled statuses",
            schedule::MAX_PENDING_PER_USER
        ))
        .into(),
        other => other.into(),
    })
}

/// Deletes a schedule; an active one first ends as if its end were now (through the engine,
/// which orders it with the user's other changes).
pub async fn delete(presence: &Presence, store: &dyn Store, user_id: i64, id: i64) -> AppResult<()> {
    super::users::get(store, user_id).await?;
    match presence.delete_schedule(user_id, id).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(schedule_not_found(id)),
        Err(err) => {
            tracing::error!(error = %err, "deleting a scheduled status failed");
            Err(AppError::Unavailable)
        }
    }
}
