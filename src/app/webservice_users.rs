//! Web-service accounts of the configuration API, managed from the command line.

use crate::auth::{random, webservice};
use crate::domain::webservice_user::{self, WebserviceUser};
use crate::store::{Conflict, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("invalid web-service username {0:?}: printable ASCII, no ':' or '\"', at most 64 characters")]
    InvalidName(String),
    #[error("the password must have at least 4 characters")]
    ShortPassword,
    #[error("web-service user {0} already exists")]
    Exists(String),
    #[error("web-service user {0} does not exist")]
    Missing(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Adds an account; returns it.
pub async fn add(store: &dyn Store, username: &str, password: &str) -> Result<WebserviceUser, AccountError> {
    if !webservice_user::valid_username(username) {
        return Err(AccountError::InvalidName(username.to_string()));
    }
    if password.chars().count() < 4 {
        return Err(AccountError::ShortPassword);
    }
    let (name, pass) = (username.to_string(), password.to_string());
    let account = tokio::task::spawn_blocking(move || webservice::new_account(&name, &pass))
        .await
        .map_err(|_| AccountError::ShortPassword)?;
    store.add_webservice_user(&account).await.map_err(|e| match e {
        StoreError::Conflict(Conflict::WebserviceUserTaken) => AccountError::Exists(username.to_string()),
        other => other.into(),
    })?;
    Ok(account)
}

pub async fn remove(store: &dyn Store, username: &str) -> Result<(), AccountError> {
    store.remove_webservice_user(username).await.map_err(|e| match e {
        StoreError::NotFound => AccountError::Missing(username.to_string()),
        other => other.into(),
    })
}

pub async fn list(store: &dyn Store) -> Result<Vec<String>, AccountError> {
    Ok(store.list_webservice_users().await?.into_iter().map(|u| u.username).collect())
}

/// On a store without any account, creates `admin` with `password` or a generated one.
/// Returns the generated password, if one was generated, so it can be shown once.
pub async fn bootstrap_admin(store: &dyn Store, password: Option<&str>) -> Result<Option<String>, AccountError> {
    if !store.list_webservice_users().await?.is_empty() {
        return Ok(None);
    }
    let generated = password.is_none().then(random::password);
    let chosen = password.or(generated.as_deref()).unwrap_or_default();
    match add(store, "admin", chosen).await {
        Ok(_) => Ok(generated),
        // Another instance starting on the same database created it first.
        Err(AccountError::Exists(_)) => Ok(None),
        Err(other) => Err(other),
    }
}
