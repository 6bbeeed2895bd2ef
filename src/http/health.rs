//! `GET /health`: whether this instance can serve, for load balancers and supervisors.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::http::AppState;

/// Longest the database gets to answer a health check.
const TIMEOUT: Duration = Duration::from_secs(2);

/// 200 when the database answers (and, with several instances, this one is up to date with
/// the shared event log); 503 otherwise. No authentication: it tells nothing but that.
#[utoipa::path(get, path = "/health", operation_id = "health", tag = "operations", security(()),
    responses(
        (status = 200, body = Object, example = json!({"status": "ok", "database": "reachable"})),
        (status = 503, body = Object, example = json!({"status": "unavailable", "database": "unreachable"}))))]
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let check = async {
        state.store.ping().await.map_err(|_| ())?;
        state.presence.sync().await.map_err(|_| ())
    };
    match tokio::time::timeout(TIMEOUT, check).await {
        Ok(Ok(())) => (StatusCode::OK, Json(json!({"status": "ok", "database": "reachable"}))),
        _ => (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "unavailable", "database": "unreachable"}))),
    }
}
