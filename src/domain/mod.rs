//! The domain: users, CTI profiles, the status catalog, permissions, the presence directory and
//! telephony.
//! Nothing here knows about HTTP or SQL.

pub mod cti_profile;
pub mod directory;
pub mod listing;
pub mod permissions;
pub mod presence;
pub mod status;
pub mod telephony;
pub mod user;
pub mod validation;
pub mod webservice_user;
