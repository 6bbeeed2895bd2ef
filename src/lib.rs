//! ctid: a CTI server with a XiVO-compatible configuration API and an ICWS-compatible
//! presence API.

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod domain;
pub mod http;
pub mod presence;
pub mod store;
pub mod webhooks;
