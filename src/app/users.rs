//! Users and their CTI profile association.

use crate::auth::password;
use crate::domain::listing::UserListQuery;
use crate::domain::user::{self, User, UserChanges};
use crate::domain::validation::ValidationError;
use crate::store::{Conflict, Store, StoreError};

use super::{AppError, AppResult};

pub fn user_not_found(id: i64) -> AppError {
    AppError::NotFound(format!("User with id={id} does not exist"))
}

fn no_profile(id: i64) -> AppError {
    AppError::NotFound(format!("User with id={id} does not have a CTI profile"))
}

fn username_taken(username: Option<&str>) -> AppError {
    ValidationError::invalid(format!("username {} already exists", username.unwrap_or_default())).into()
}

pub async fn list(store: &dyn Store, query: &UserListQuery) -> AppResult<(u64, Vec<User>)> {
    Ok(store.list_users(query).await?)
}

pub async fn get(store: &dyn Store, id: i64) -> AppResult<User> {
    store.get_user(id).await.map_err(about_user(id))
}

/// A store error about user `id`, with the configuration API's 404 when it does not exist.
fn about_user(id: i64) -> impl FnOnce(StoreError) -> AppError {
    move |e| match e {
        StoreError::NotFound => user_not_found(id),
        other => other.into(),
    }
}

pub async fn create(store: &dyn Store, changes: UserChanges) -> AppResult<User> {
    let valid = user::validate_new(changes)?;
    let hash = match valid.password {
        Some(plain) => Some(password::hash_blocking(plain).await),
        None => None,
    };
    store.create_user(&valid.fields, hash.as_deref(), super::now()).await.map_err(|e| match e {
        StoreError::Conflict(Conflict::UsernameTaken) => username_taken(valid.fields.username.as_deref()),
        other => other.into(),
    })
}

/// Applies a partial edit to the user as stored now: when another edit lands between the read
/// and the write, the edit is merged again over it rather than overwriting it.
pub async fn update(store: &dyn Store, id: i64, changes: UserChanges) -> AppResult<()> {
    // Edits of one user through this process take turns; the conditional write covers the
    // rest (another process on the same database).
    let _turn = edit_lock(id).lock().await;
    let mut hash: Option<String> = None;
    for _ in 0..UPDATE_ATTEMPTS {
        let existing = get(store, id).await?;
        let valid = user::validate_edit(&existing.fields, changes.clone())?;
        if let (Some(plain), None) = (valid.password, &hash) {
            hash = Some(password::hash_blocking(plain).await);
        }
        match store.update_user(id, &existing.fields, &valid.fields, hash.as_deref()).await {
            Ok(()) => return Ok(()),
            Err(StoreError::Conflict(Conflict::StateChanged)) => {}
            Err(StoreError::NotFound) => return Err(user_not_found(id)),
            Err(StoreError::Conflict(Conflict::UsernameTaken)) => {
                return Err(username_taken(valid.fields.username.as_deref()));
            }
            Err(other) => return Err(other.into()),
        }
    }
    tracing::warn!(user_id = id, "a user edit gave up: the user kept changing under it");
    Err(AppError::Unavailable)
}

/// Reads and merges before giving up on a user edited concurrently.
const UPDATE_ATTEMPTS: usize = 16;
const EDIT_STRIPES: usize = 64;

fn edit_lock(id: i64) -> &'static tokio::sync::Mutex<()> {
    static STRIPES: std::sync::LazyLock<Vec<tokio::sync::Mutex<()>>> =
        std::sync::LazyLock::new(|| (0..EDIT_STRIPES).map(|_| tokio::sync::Mutex::new(())).collect());
    &STRIPES[usize::try_from(id.unsigned_abs()).unwrap_or(0) % EDIT_STRIPES]
}

pub async fn delete(store: &dyn Store, id: i64) -> AppResult<()> {
    store.delete_user(id).await.map_err(|e| match e {
        StoreError::NotFound => user_not_found(id),
        other => other.into(),
    })
}

/// The user's CTI profile id.
pub async fn cti_profile(store: &dyn Store, user_id: i64) -> AppResult<i64> {
    store.user_cti_profile(user_id).await.map_err(about_user(user_id))?.ok_or_else(|| no_profile(user_id))
}

/// How an association request treats an existing association.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Association {
    /// POST: the user must not have a profile yet.
    Create,
    /// PUT: the user must already have one.
    Replace,
}

/// Associates `profile_id` with the user, in the order of checks of the configuration API.
pub async fn associate(store: &dyn Store, user_id: i64, profile_id: i64, mode: Association) -> AppResult<()> {
    let user = get(store, user_id).await?;
    if mode == Association::Replace && user.cti_profile_id.is_none() {
        return Err(no_profile(user_id));
    }
    let nonexistent = || ValidationError::Nonexistent("cti_profile_id".into(), profile_id.to_string());
    match store.get_cti_profile(profile_id).await {
        Ok(_) => {}
        Err(StoreError::NotFound) => return Err(nonexistent().into()),
        Err(other) => return Err(other.into()),
    }
    let already = || ValidationError::invalid(format!("user with id {user_id} already has a CTI profile"));
    if mode == Association::Create && user.cti_profile_id.is_some() {
        return Err(already().into());
    }
    store.set_user_cti_profile(user_id, Some(profile_id), mode == Association::Create).await.map_err(|e| match e {
        StoreError::Conflict(Conflict::ProfileMissing) => nonexistent().into(),
        StoreError::Conflict(Conflict::StateChanged) if mode == Association::Create => already().into(),
        StoreError::Conflict(Conflict::StateChanged) => user_not_found(user_id),
        other => other.into(),
    })
}

/// Removes the user's CTI profile.
pub async fn dissociate(store: &dyn Store, user_id: i64) -> AppResult<()> {
    cti_profile(store, user_id).await?;
    store.set_user_cti_profile(user_id, None, false).await.map_err(|e| match e {
        StoreError::Conflict(Conflict::StateChanged) => user_not_found(user_id),
        other => other.into(),
    })
}
