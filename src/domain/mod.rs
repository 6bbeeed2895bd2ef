//! The domain: users, CTI profiles, the status catalog and permissions.
//! Nothing here knows about HTTP or SQL.

pub mod cti_profile;
pub mod listing;
pub mod permissions;
pub mod presence;
pub mod status;
pub mod user;
pub mod validation;
pub mod webservice_user;
