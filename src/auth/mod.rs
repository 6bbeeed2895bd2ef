//! Credentials: password hashing, HTTP Digest and Basic for the configuration API, and the
//! throttling of failed authentications.

pub mod digest;
pub mod password;
pub mod random;
pub mod throttle;
pub mod webservice;
