//! A read-through cache in front of a store: the reads every request makes (users, their
//! login, CTI profiles, the status catalog, user statuses) come from memory once warm.
//!
//! Every write goes through to the store first, then drops (or, for statuses, replaces) what
//! it touched. A read that missed fills the cache only if no write happened meanwhile (an
//! epoch counter), so a slow read can never put back a value a write has just replaced.

use std::collections::HashMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;

use super::{ActiveCall, Forget, ImportedUser, Store, StoreResult, StoredUser};
use crate::domain::auth_token::AuthToken;
use crate::domain::cti_profile::{CtiProfile, CtiProfileFields};
use crate::domain::listing::UserListQuery;
use crate::domain::presence::UserStatus;
use crate::domain::session::Cause;
use crate::domain::status::StatusMessage;
use crate::domain::telephony::{CallEvent, Line, LineFields};
use crate::domain::user::{User, UserFields, username_key};
use crate::domain::webservice_user::WebserviceUser;

/// A user as stored, with its password hash once a login read has fetched it.
struct CachedUser {
    user: User,
    /// `None` until a login read: a plain user read does not fetch the hash.
    hash: Option<Option<String>>,
}

#[derive(Default)]
struct Entries {
    /// Bumped by every write; a fill that started under another epoch is dropped.
    epoch: u64,
    users: HashMap<i64, Arc<CachedUser>>,
    /// `username_key` → id, only for users present in `users`.
    ids_by_key: HashMap<String, i64>,
    statuses: HashMap<i64, UserStatus>,
    profiles: HashMap<i64, CtiProfile>,
    catalog: Option<Arc<Vec<StatusMessage>>>,
}

impl Entries {
    fn forget_user(&mut self, id: i64) {
        if let Some(entry) = self.users.remove(&id)
            && let Some(key) = entry.user.fields.username_key()
            && self.ids_by_key.get(&key) == Some(&id)
        {
            self.ids_by_key.remove(&key);
        }
    }

    fn remember_user(&mut self, entry: Arc<CachedUser>) {
        let id = entry.user.id;
        self.forget_user(id);
        if let Some(key) = entry.user.fields.username_key() {
            self.ids_by_key.insert(key, id);
        }
        self.users.insert(id, entry);
    }
}

pub struct CachedStore {
    inner: Arc<dyn Store>,
    entries: RwLock<Entries>,
}

impl CachedStore {
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self { inner, entries: RwLock::default() }
    }

    fn read(&self) -> RwLockReadGuard<'_, Entries> {
        self.entries.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Entries> {
        self.entries.write().unwrap_or_else(|e| e.into_inner())
    }

    fn epoch(&self) -> u64 {
        self.read().epoch
    }

    /// Applies `change` to the cache after a write, whatever its outcome.
    fn after_write(&self, change: impl FnOnce(&mut Entries)) {
        let mut entries = self.write();
        entries.epoch = entries.epoch.wrapping_add(1);
        change(&mut entries);
    }

    /// Reads every user, with its login hash and status, into the cache, a page at a time,
    /// so that the first request about each user does not wait for the store. Runs beside
    /// the server: a page that a write overtook is read again (a few times at most, then
    /// left to be read on demand); an entry a request filled meanwhile is kept.
    /// Returns how many users were cached.
    pub async fn warm(&self) -> StoreResult<usize> {
        const PAGE: u32 = 2_000;
        const TRIES: usize = 3;
        let (mut after, mut cached) = (0, 0);
        loop {
            let mut page = Vec::new();
            for _ in 0..TRIES {
                let epoch = self.epoch();
                page = self.inner.load_users(after, PAGE).await?;
                let mut entries = self.write();
                if entries.epoch != epoch {
                    continue;
                }
                for stored in &page {
                    let id = stored.user.id;
                    if !entries.users.contains_key(&id) {
                        let hash = Some(stored.password_hash.clone());
                        entries.remember_user(Arc::new(CachedUser { user: stored.user.clone(), hash }));
                    }
                    if let Some(status) = &stored.status {
                        entries.statuses.entry(id).or_insert_with(|| status.clone());
                    }
                }
                cached += page.len();
                break;
            }
            match page.last() {
                Some(last) if page.len() == PAGE as usize => after = last.user.id,
                _ => return Ok(cached),
            }
        }
    }

    /// Stores what a read found, unless a write came in between.
    fn fill(&self, epoch: u64, change: impl FnOnce(&mut Entries)) {
        let mut entries = self.write();
        if entries.epoch == epoch {
            change(&mut entries);
        }
    }
}

#[async_trait]
impl Store for CachedStore {
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

    async fn save_user_status(&self, status: &UserStatus, cause: Option<&Cause>) -> StoreResult<()> {
        let result = self.inner.save_user_status(status, cause).await;
        self.after_write(|e| match &result {
            Ok(()) => {
                e.statuses.insert(status.user_id, status.clone());
            }
            Err(_) => {
                e.statuses.remove(&status.user_id);
            }
        });
        result
    }

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

    async fn list_webservice_users(&self) -> StoreResult<Vec<WebserviceUser>> {
        self.inner.list_webservice_users().await
    }

    async fn get_webservice_user(&self, username: &str) -> StoreResult<WebserviceUser> {
        self.inner.get_webservice_user(username).await
    }

    async fn add_webservice_user(&self, user: &WebserviceUser) -> StoreResult<()> {
        self.inner.add_webservice_user(user).await
    }

    async fn remove_webservice_user(&self, username: &str) -> StoreResult<()> {
        self.inner.remove_webservice_user(username).await
    }

    async fn list_lines(&self, limit: Option<u32>, skip: u64) -> StoreResult<(u64, Vec<Line>)> {
        self.inner.list_lines(limit, skip).await
    }

    async fn get_line(&self, id: i64) -> StoreResult<Line> {
        self.inner.get_line(id).await
    }

    async fn find_line(&self, name: &str) -> StoreResult<Line> {
        self.inner.find_line(name).await
    }

    async fn create_line(&self, fields: &LineFields) -> StoreResult<Line> {
        self.inner.create_line(fields).await
    }

    async fn update_line(&self, id: i64, fields: &LineFields) -> StoreResult<()> {
        self.inner.update_line(id, fields).await
    }

    async fn delete_line(&self, id: i64) -> StoreResult<()> {
        self.inner.delete_line(id).await
    }

    async fn user_lines(&self, user_id: i64) -> StoreResult<Vec<Line>> {
        self.inner.user_lines(user_id).await
    }

    async fn set_line_user(&self, line_id: i64, user: Option<i64>) -> StoreResult<()> {
        self.inner.set_line_user(line_id, user).await
    }

    async fn record_calls(&self, events: &[(i64, CallEvent)], received_us: i64) -> StoreResult<()> {
        self.inner.record_calls(events, received_us).await
    }

    async fn active_calls(&self) -> StoreResult<Vec<ActiveCall>> {
        self.inner.active_calls().await
    }

    async fn user_on_phone(&self, user_id: i64) -> StoreResult<bool> {
        self.inner.user_on_phone(user_id).await
    }

    async fn add_auth_token(&self, token: &AuthToken, now_ms: i64) -> StoreResult<()> {
        self.inner.add_auth_token(token, now_ms).await
    }

    async fn take_auth_token(&self, token_hash: &str) -> StoreResult<Option<AuthToken>> {
        self.inner.take_auth_token(token_hash).await
    }

    async fn purge_ended_calls(&self, before_us: i64) -> StoreResult<()> {
        self.inner.purge_ended_calls(before_us).await
    }

    fn forget(&self, what: Forget) {
        self.after_write(|e| match what {
            Forget::User(id) => e.forget_user(id),
            Forget::Status(id) => {
                e.statuses.remove(&id);
            }
            Forget::Profiles => e.profiles.clear(),
            Forget::Catalog => e.catalog = None,
            Forget::Everything => {
                let epoch = e.epoch;
                *e = Entries { epoch, ..Entries::default() };
            }
        });
    }

    fn remember_status(&self, status: &UserStatus) {
        self.after_write(|e| {
            e.statuses.insert(status.user_id, status.clone());
        });
    }

    async fn ping(&self) -> StoreResult<()> {
        self.inner.ping().await
    }

    async fn close(&self) {
        self.inner.close().await;
    }
}
