//! The users and their statuses, from memory once read.

use std::sync::Arc;

use async_trait::async_trait;

use super::{CachedStore, CachedUser};
use crate::domain::listing::UserListQuery;
use crate::domain::presence::{PreviousInfo, UserStatus};
use crate::domain::session::Cause;
use crate::domain::user::{User, UserFields, username_key};
use crate::store::{ImportedUser, Statuses, StoreResult, StoredUser, Users};

#[async_trait]
impl Users for CachedStore {
    async fn list_users(&self, query: &UserListQuery) -> StoreResult<(u64, Vec<User>)> {
        self.inner.list_users(query).await
    }

    async fn get_user(&self, id: i64) -> StoreResult<User> {
        if let Some(entry) = self.read().users.get(&id) {
            return Ok(entry.user.clone());
        }
        let epoch = self.epoch();
        let user = self.inner.get_user(id).await?;
        let entry = Arc::new(CachedUser { user: user.clone(), hash: None });
        self.fill(epoch, |e| {
            // Keep an entry that already knows the hash.
            if !e.users.contains_key(&id) {
                e.remember_user(entry);
            }
        });
        Ok(user)
    }

    async fn user_cti_profile(&self, id: i64) -> StoreResult<Option<i64>> {
        if let Some(entry) = self.read().users.get(&id) {
            return Ok(entry.user.cti_profile_id);
        }
        Ok(self.get_user(id).await?.cti_profile_id)
    }

    async fn find_user_login(&self, username: &str) -> StoreResult<(User, Option<String>)> {
        let key = username_key(username);
        {
            let entries = self.read();
            if let Some(entry) = entries.ids_by_key.get(&key).and_then(|id| entries.users.get(id))
                && let Some(hash) = &entry.hash
            {
                return Ok((entry.user.clone(), hash.clone()));
            }
        }
        let epoch = self.epoch();
        let (user, hash) = self.inner.find_user_login(username).await?;
        let entry = Arc::new(CachedUser { user: user.clone(), hash: Some(hash.clone()) });
        self.fill(epoch, |e| e.remember_user(entry));
        Ok((user, hash))
    }

    async fn load_users(&self, after_id: i64, limit: u32) -> StoreResult<Vec<StoredUser>> {
        self.inner.load_users(after_id, limit).await
    }

    async fn create_user(&self, fields: &UserFields, password_hash: Option<&str>, now: i64) -> StoreResult<User> {
        let result = self.inner.create_user(fields, password_hash, now).await;
        self.after_write(|_| {});
        result
    }

    async fn import_users(&self, rows: &[ImportedUser], now: i64) -> StoreResult<usize> {
        let result = self.inner.import_users(rows, now).await;
        self.after_write(|_| {});
        result
    }

    async fn update_user(
        &self,
        id: i64,
        expected: &UserFields,
        fields: &UserFields,
        password_hash: Option<&str>,
    ) -> StoreResult<()> {
        let result = self.inner.update_user(id, expected, fields, password_hash).await;
        self.after_write(|e| e.forget_user(id));
        result
    }

    async fn delete_user(&self, id: i64) -> StoreResult<()> {
        let result = self.inner.delete_user(id).await;
        self.after_write(|e| {
            e.forget_user(id);
            e.statuses.remove(&id);
        });
        result
    }

    async fn set_user_cti_profile(&self, user_id: i64, profile: Option<i64>, expect_none: bool) -> StoreResult<()> {
        let result = self.inner.set_user_cti_profile(user_id, profile, expect_none).await;
        self.after_write(|e| e.forget_user(user_id));
        result
    }
}

#[async_trait]
impl Statuses for CachedStore {
    async fn get_user_status(&self, user_id: i64) -> StoreResult<UserStatus> {
        if let Some(status) = self.read().statuses.get(&user_id) {
            return Ok(status.clone());
        }
        let epoch = self.epoch();
        let status = self.inner.get_user_status(user_id).await?;
        self.fill(epoch, |e| {
            e.statuses.insert(user_id, status.clone());
        });
        Ok(status)
    }

    async fn save_user_status(&self, status: &UserStatus, cause: Option<&Cause>) -> StoreResult<i64> {
        let result = self.inner.save_user_status(status, cause).await;
        self.after_write(|e| match &result {
            Ok(_) => {
                e.statuses.insert(status.user_id, status.clone());
            }
            Err(_) => {
                e.statuses.remove(&status.user_id);
            }
        });
        result
    }

    /// Not cached: read when a client asks or subscribes, never per status change.
    async fn previous_info(&self, user_id: i64) -> StoreResult<Vec<PreviousInfo>> {
        self.inner.previous_info(user_id).await
    }
}
