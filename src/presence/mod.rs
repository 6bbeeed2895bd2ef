//! The presence engine: open sessions, their mailboxes and subscriptions, the fan-out of
//! changes to subscribers, and the application of the event log that drives all of it, on
//! either store; plus the ICWS rendering of what is pushed.
//!
//! Every change the engine reacts to is an event of the store's log (see
//! [`crate::store::events`]): a status change, a configuration change made through `/1.1`, a
//! session opened, changed or ended by any instance. Requests write the store; the engine
//! learns of the change by applying the log ([`apply`]), the same way on SQLite (woken
//! in-process) and on PostgreSQL (woken by `NOTIFY`, several instances).

pub mod apply;
pub mod dates;
mod directory;
mod endings;
mod engine;
mod fanout;
mod history;
mod index;
mod lifecycle;
mod login;
pub mod mailbox;
mod previous_info;
pub mod render;
mod reports;
pub mod sessions;
mod status;
mod subscriptions;

pub use directory::DirectoryPage;
pub use engine::{Presence, PresenceError, PresenceResult, PresenceSettings};
pub use history::{USER_HISTORY_CAP, UserHistory};
pub use login::TokenLogin;
pub use subscriptions::MAX_SUBSCRIBED_USERS;
