//! Credentials: password hashing, HTTP Digest and Basic for the configuration API.

pub mod digest;
pub mod password;
pub mod random;
pub mod webservice;
