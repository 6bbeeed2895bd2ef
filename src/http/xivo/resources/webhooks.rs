//! `/1.1/webhooks`: HTTP receivers of the changes ctid records (ctid extension).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::{ListOf, parse_id};
use crate::app::webhooks as app;
use crate::domain::clock::format_rfc3339_ms;
use crate::domain::webhook::{Delivery, Webhook, WebhookInput};
use crate::http::AppState;
use crate::http::base_url::BaseUrl;
use crate::http::xivo::body::{self, JsonObject};
use crate::http::xivo::error::XivoError;
use crate::http::xivo::links::Link;

/// Members a client that PUTs what it got may send back: ignored.
const READ_ONLY: [&str; 5] = ["id", "links", "disabled_reason", "failing_since", "next_attempt_at"];

/// A webhook as the configuration API shows it; the secret is never shown.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookBody {
    pub id: i64,
    pub url: String,
    /// Among `status`, `phone`, `station`, `session`, `user`, `cti_profile`.
    pub events: Vec<&'static str>,
    pub enabled: bool,
    /// Why ctid disabled the webhook (deliveries failed for 24 h); `null` otherwise.
    #[schema(required = true)]
    pub disabled_reason: Option<String>,
    /// Since when (RFC 3339) the next event fails to be delivered; `null` when it does not fail.
    #[schema(required = true)]
    pub failing_since: Option<String>,
    /// When (RFC 3339) that event is tried again.
    #[schema(required = true)]
    pub next_attempt_at: Option<String>,
    pub links: Vec<Link>,
}

/// One attempt to deliver an event.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeliveryBody {
    /// The event's number in the log (the `webhook-id` header).
    pub event_id: i64,
    /// RFC 3339, UTC, milliseconds.
    pub at: String,
    /// The receiver's HTTP status; `null` when it did not answer.
    #[schema(required = true)]
    pub status_code: Option<u16>,
    /// Why the attempt failed (the start of the answer of a non-2xx status, or the transport
    /// error); `null` on success.
    #[schema(required = true)]
    pub error: Option<String>,
}

fn representation(base: &BaseUrl, webhook: Webhook) -> WebhookBody {
    WebhookBody {
        id: webhook.id,
        url: webhook.fields.url,
        events: webhook.fields.events.iter().map(|e| e.as_str()).collect(),
        enabled: webhook.fields.enabled,
        disabled_reason: webhook.state.disabled_reason,
        failing_since: webhook.state.failing_since.map(format_rfc3339_ms),
        next_attempt_at: webhook.state.next_attempt_at.filter(|_| webhook.fields.enabled).map(format_rfc3339_ms),
        links: vec![Link::webhook(base, webhook.id)],
    }
}

fn delivery(d: Delivery) -> DeliveryBody {
    DeliveryBody { event_id: d.event_id, at: format_rfc3339_ms(d.at), status_code: d.status_code, error: d.error }
}

fn webhook_id(raw: &str) -> Result<i64, XivoError> {
    parse_id(raw).ok_or_else(|| XivoError::not_found(format!("Webhook with id={raw} does not exist")))
}

/// List the webhooks.
#[utoipa::path(get, path = "/1.1/webhooks", operation_id = "list_webhooks", tag = "webhooks",
    responses((status = 200, body = ListOf<WebhookBody>)))]
pub async fn list(State(state): State<AppState>, base: BaseUrl) -> Result<Json<ListOf<WebhookBody>>, XivoError> {
    let items: Vec<_> = app::list(state.store.as_ref()).await?.into_iter().map(|w| representation(&base, w)).collect();
    Ok(Json(ListOf { total: items.len() as u64, items }))
}

/// Get one webhook.
#[utoipa::path(get, path = "/1.1/webhooks/{id}", operation_id = "get_webhook", tag = "webhooks",
    params(("id" = i64, Path)),
    responses((status = 200, body = WebhookBody), (status = 404, body = Vec<String>)))]
pub async fn get(
    State(state): State<AppState>,
    base: BaseUrl,
    Path(raw): Path<String>,
) -> Result<Json<WebhookBody>, XivoError> {
    Ok(Json(representation(&base, app::get(state.store.as_ref(), webhook_id(&raw)?).await?)))
}

/// Add a webhook: it receives the changes committed from now on.
#[utoipa::path(post, path = "/1.1/webhooks", operation_id = "create_webhook", tag = "webhooks",
    request_body = WebhookInput,
    responses((status = 201, body = WebhookBody, headers(("Location" = String))), (status = 400, body = Vec<String>)))]
pub async fn create(State(state): State<AppState>, base: BaseUrl, body: JsonObject) -> Result<Response, XivoError> {
    let input: WebhookInput = body::read(body.0, &READ_ONLY)?;
    let created = app::create(state.store.as_ref(), input).await?;
    let location = format!("/1.1/webhooks/{}", created.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(representation(&base, created))).into_response())
}

/// Edit a webhook: absent members keep their value; `"enabled": true` clears a failure.
#[utoipa::path(put, path = "/1.1/webhooks/{id}", operation_id = "update_webhook", tag = "webhooks",
    request_body = WebhookInput, params(("id" = i64, Path)),
    responses((status = 204), (status = 400, body = Vec<String>), (status = 404, body = Vec<String>)))]
pub async fn update(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    body: JsonObject,
) -> Result<StatusCode, XivoError> {
    let input: WebhookInput = body::read(body.0, &READ_ONLY)?;
    app::update(state.store.as_ref(), webhook_id(&raw)?, input).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Delete a webhook.
#[utoipa::path(delete, path = "/1.1/webhooks/{id}", operation_id = "delete_webhook", tag = "webhooks",
    params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = Vec<String>)))]
pub async fn delete(State(state): State<AppState>, Path(raw): Path<String>) -> Result<StatusCode, XivoError> {
    app::delete(state.store.as_ref(), webhook_id(&raw)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A webhook's last delivery attempts, newest first.
#[utoipa::path(get, path = "/1.1/webhooks/{id}/deliveries", operation_id = "list_webhook_deliveries",
    tag = "webhooks", params(("id" = i64, Path)),
    responses((status = 200, body = ListOf<DeliveryBody>), (status = 404, body = Vec<String>)))]
pub async fn deliveries(
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Json<ListOf<DeliveryBody>>, XivoError> {
    let items: Vec<_> =
        app::deliveries(state.store.as_ref(), webhook_id(&raw)?).await?.into_iter().map(delivery).collect();
    Ok(Json(ListOf { total: items.len() as u64, items }))
}
