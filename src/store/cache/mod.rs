//! A read-through cache in front of a store: the reads every request makes (users, their
//! login, CTI profiles, the status catalog, user statuses) come from memory once warm.
//!
//! Every write goes through to the store first, then drops (or, for statuses, replaces) what
//! it touched. A read that missed fills the cache only if no write happened meanwhile (an
//! epoch counter), so a slow read can never put back a value a write has just replaced.

use std::collections::HashMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;

use super::{Handle, Store, StoreResult};
use crate::domain::cti_profile::CtiProfile;
use crate::domain::presence::UserStatus;
use crate::domain::status::StatusMessage;
use crate::domain::user::User;

mod config;
mod passthrough;
mod users;

/// What a cache in front of the store must drop because another instance changed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forget {
    User(i64),
    Status(i64),
    Profiles,
    Catalog,
    Everything,
}

/// How whoever applies the event log keeps a cache in front of the store in step with what
/// was committed, here or on another instance.
pub trait CacheSync: Send + Sync {
    /// Drops what the cache holds of `what`.
    fn forget(&self, what: Forget);
    /// Puts a status as it was committed into the cache.
    fn remember_status(&self, status: &UserStatus);
}

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
impl Handle for CachedStore {
    async fn ping(&self) -> StoreResult<()> {
        self.inner.ping().await
    }

    async fn close(&self) {
        self.inner.close().await;
    }

    fn cache(&self) -> Option<&dyn CacheSync> {
        Some(self)
    }
}

impl CacheSync for CachedStore {
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
        // Already there when this instance made the change: no write, no race with a fill.
        if self.read().statuses.get(&status.user_id) == Some(status) {
            return;
        }
        self.after_write(|e| {
            e.statuses.insert(status.user_id, status.clone());
        });
    }
}
