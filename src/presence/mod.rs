//! Presence runtime state held in memory: open sessions, their mailboxes, login throttling,
//! and the ICWS representations pushed to clients.

pub mod dates;
pub mod mailbox;
pub mod sessions;
pub mod throttle;
pub mod wire;
