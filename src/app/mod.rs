//! Configuration use cases: the domain rules applied to the store. Shared by every API surface
//! and the CLI.
//!
//! A use case writes the store and returns; it never tells the presence engine what changed:
//! the store logs every change in the transaction that makes it, and the engine applies the
//! log (see [`crate::presence::apply`]). The one entry into the engine from here is
//! [`crate::presence::Presence::refresh_on_phone`], through which the telephony use cases
//! change a user's status when their calls change it.

pub mod cti_profiles;
pub mod history;
pub mod import;
pub mod reports;
pub mod scheduled_statuses;
pub mod status_messages;
pub mod telephony;
pub mod users;
pub mod webhooks;
pub mod webservice_users;

use crate::domain::validation::ValidationError;
use crate::store::StoreError;

/// Why a use case did not complete.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    /// The full message, e.g. `User with id=3 does not exist`.
    #[error("{0}")]
    NotFound(String),
    /// The store failed; the detail is logged, never shown to clients.
    #[error("the data store is unavailable")]
    Unavailable,
}

impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        tracing::error!(error = %err, "store operation failed");
        Self::Unavailable
    }
}

pub type AppResult<T> = Result<T, AppError>;

pub use crate::domain::clock::{now, now_ms};
