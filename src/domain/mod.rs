//! The domain: users, CTI profiles, the status catalog, permissions, station logins, the
//! presence directory and telephony.
//! Nothing here knows about HTTP or SQL.

pub mod auth_token;
pub mod clock;
pub mod cti_profile;
pub mod directory;
pub mod history;
pub mod listing;
pub mod permissions;
pub mod presence;
pub mod report;
pub mod schedule;
pub mod schema;
pub mod session;
pub mod station;
pub mod status;
pub mod telephony;
pub mod user;
pub mod validation;
pub mod webhook;
pub mod webservice_user;
