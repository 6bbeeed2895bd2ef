//! CTI profiles and the status catalog, from memory once read.

use std::sync::Arc;

use async_trait::async_trait;

use super::CachedStore;
use crate::domain::cti_profile::{CtiProfile, CtiProfileFields};
use crate::domain::status::StatusMessage;
use crate::store::{Catalog, Profiles, StoreResult};

#[async_trait]
impl Profiles for CachedStore {
    async fn list_cti_profiles(&self) -> StoreResult<Vec<CtiProfile>> {
        self.inner.list_cti_profiles().await
    }

    async fn get_cti_profile(&self, id: i64) -> StoreResult<CtiProfile> {
        if let Some(profile) = self.read().profiles.get(&id) {
            return Ok(profile.clone());
        }
        let epoch = self.epoch();
        let profile = self.inner.get_cti_profile(id).await?;
        self.fill(epoch, |e| {
            e.profiles.insert(id, profile.clone());
        });
        Ok(profile)
    }

    async fn create_cti_profile(&self, fields: &CtiProfileFields) -> StoreResult<CtiProfile> {
        let result = self.inner.create_cti_profile(fields).await;
        self.after_write(|e| e.profiles.clear());
        result
    }

    async fn update_cti_profile(&self, id: i64, fields: &CtiProfileFields) -> StoreResult<()> {
        let result = self.inner.update_cti_profile(id, fields).await;
        self.after_write(|e| {
            e.profiles.remove(&id);
        });
        result
    }

    async fn delete_cti_profile(&self, id: i64) -> StoreResult<()> {
        let result = self.inner.delete_cti_profile(id).await;
        self.after_write(|e| {
            e.profiles.remove(&id);
        });
        result
    }
}

#[async_trait]
impl Catalog for CachedStore {
    async fn list_status_messages(&self) -> StoreResult<Vec<StatusMessage>> {
        if let Some(catalog) = self.read().catalog.clone() {
            return Ok(catalog.as_ref().clone());
        }
        let epoch = self.epoch();
        let catalog = self.inner.list_status_messages().await?;
        let shared = Arc::new(catalog.clone());
        self.fill(epoch, |e| e.catalog = Some(shared));
        Ok(catalog)
    }

    async fn create_status_message(&self, status: &StatusMessage) -> StoreResult<()> {
        let result = self.inner.create_status_message(status).await;
        self.after_write(|e| e.catalog = None);
        result
    }

    async fn update_status_message(&self, status: &StatusMessage) -> StoreResult<()> {
        let result = self.inner.update_status_message(status).await;
        self.after_write(|e| e.catalog = None);
        result
    }

    async fn delete_status_message(&self, status_id: &str) -> StoreResult<()> {
        let result = self.inner.delete_status_message(status_id).await;
        // Profiles may name the status among their allowed ones.
        self.after_write(|e| {
            e.catalog = None;
            e.profiles.clear();
        });
        result
    }
}
