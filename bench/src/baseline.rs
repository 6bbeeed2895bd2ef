//! The baseline: a bare axum server answering the same paths with the same JSON bytes as
//! ctid, without authentication or store.

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

const ICWS: &str = "application/vnd.inin.icws+JSON; charset=utf-8";

async fn association(Path(id): Path<u64>) -> impl IntoResponse {
    let body = format!(
        r#"{{"user_id":{id},"cti_profile_id":2,"links":[{{"rel":"users","href":"http://127.0.0.1/1.1/users/{id}"}},{{"rel":"cti_profiles","href":"http://127.0.0.1/1.1/cti_profiles/2"}}]}}"#
    );
    ([(header::CONTENT_TYPE, "application/json")], body)
}

async fn user_status(Path((_, user)): Path<(String, String)>) -> impl IntoResponse {
    let body = format!(
        r#"{{"userId":"{user}","statusId":"Available","hasDate":false,"hasTime":false,"onPhone":false,"onPhoneChanged":"20261123T120000Z","statusChanged":"20261123T120000Z","stations":[],"icServers":[],"presenceServer":"bench","loggedIn":false}}"#
    );
    ([(header::CONTENT_TYPE, ICWS)], body)
}

async fn accepted() -> impl IntoResponse {
    (StatusCode::ACCEPTED, [(header::CONTENT_TYPE, ICWS)], r#"{"requestId":"1"}"#)
}

/// Serves the baseline on `listen` until killed; prints `listening on ADDR`.
pub async fn serve(listen: &str) -> std::io::Result<()> {
    let app = Router::new()
        .route("/1.1/users/{id}/cti_profile", get(association))
        .route("/icws/{sid}/status/user-statuses/{user}", get(user_status).put(accepted));
    let listener = tokio::net::TcpListener::bind(listen).await?;
    eprintln!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await
}
