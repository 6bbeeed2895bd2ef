//! CTI profiles and their presence policy.

use crate::domain::cti_profile::{self, CtiProfile, CtiProfileChanges};
use crate::domain::validation::ValidationError;
use crate::store::{Conflict, Store, StoreError};

use super::{AppError, AppResult};

fn not_found(id: i64) -> AppError {
    AppError::NotFound(format!("CTI profile with id={id} does not exist"))
}

fn map_error(err: StoreError, id: i64, name: &str) -> AppError {
    match err {
        StoreError::NotFound => not_found(id),
        StoreError::Conflict(Conflict::ProfileNameTaken) => {
            ValidationError::invalid(format!("name {name} already exists")).into()
        }
        StoreError::Conflict(Conflict::ProfileInUse) => {
            ValidationError::invalid(format!("CTI profile with id={id} is still associated with users")).into()
        }
        other => other.into(),
    }
}

pub async fn list(store: &dyn Store) -> AppResult<Vec<CtiProfile>> {
    Ok(store.list_cti_profiles().await?)
}

pub async fn get(store: &dyn Store, id: i64) -> AppResult<CtiProfile> {
    store.get_cti_profile(id).await.map_err(|e| map_error(e, id, ""))
}

pub async fn create(store: &dyn Store, changes: CtiProfileChanges) -> AppResult<CtiProfile> {
    let catalog = store.list_status_messages().await?;
    let fields = cti_profile::validate_new(changes, &catalog)?;
    store.create_cti_profile(&fields).await.map_err(|e| map_error(e, 0, &fields.name))
}

pub async fn update(store: &dyn Store, id: i64, changes: CtiProfileChanges) -> AppResult<()> {
    let existing = get(store, id).await?;
    let catalog = store.list_status_messages().await?;
    let fields = cti_profile::validate_edit(&existing.fields, changes, &catalog)?;
    store.update_cti_profile(id, &fields).await.map_err(|e| map_error(e, id, &fields.name))
}

pub async fn delete(store: &dyn Store, id: i64) -> AppResult<()> {
    store.delete_cti_profile(id).await.map_err(|e| map_error(e, id, ""))
}
