//! Presence runtime state held in memory: open sessions, their mailboxes and the ICWS representations pushed to clients.

pub mod dates;
pub mod mailbox;
pub mod sessions;
pub mod wire;
