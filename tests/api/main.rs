//! Black-box tests: each starts the real `ctid` binary on port 0 with a fresh database
//! and speaks HTTP to it.

mod auth;
mod cli;
mod cluster;
mod crash;
mod cti_profiles;
mod event_log;
mod helpers;
mod icws_auth_token;
mod icws_connection;
mod icws_directory;
mod icws_message_shapes;
mod icws_messaging;
mod icws_previous_info;
mod icws_robustness;
mod icws_station;
mod icws_status;
mod keep_alive;
mod lifecycle;
mod limits;
mod lines;
mod messaging_stress;
mod openapi;
mod pbx;
mod permissions;
mod postgres_tls;
mod reports;
mod request_id;
mod robustness;
mod secrets;
mod status_messages;
mod telephony;
mod user_cti_profile;
mod users;
