//! `/icws/{sessionId}/messaging/...`: subscriptions, short poll, server-sent events, heartbeat.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use serde_json::Value;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

use super::body::IcwsObject;
use super::error::{CONTENT_TYPE, IcwsError};
use super::session::IcwsSession;
use crate::http::AppState;
use crate::presence::MAX_SUBSCRIBED_USERS;
use crate::presence::Presence;
use crate::presence::render::USER_STATUS_PROPERTIES;
use crate::presence::sessions::{Session, StreamGuard};

/// How often an idle event stream sends a `:` comment.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The body of a user status subscription; other members are ignored.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserStatusesSubscription {
    /// At most 10000 user ids.
    #[schema(max_items = 10000)]
    pub user_ids: Vec<String>,
    /// The members each `userStatusMessage` item carries besides `userId`; default all of them.
    /// More than 10000 are refused (a list of known members that long does not fit in a body).
    pub user_status_properties: Option<Vec<UserStatusProperty>>,
}

/// Refuses more than [`MAX_SUBSCRIBED_USERS`] user status properties. The document states no
/// such bound: a list of known properties that long is already over the body size limit.
fn check_property_count(body: &IcwsObject) -> Result<(), IcwsError> {
    let name = "userStatusProperties";
    match body.0.get(name) {
        Some(Value::Array(items)) if items.len() > MAX_SUBSCRIBED_USERS => {
            Err(IcwsError::invalid(name, format!("The property {name} has more than {MAX_SUBSCRIBED_USERS} items.")))
        }
        _ => Ok(()),
    }
}

/// A member of a user status that a subscription may ask for: one of
/// [`USER_STATUS_PROPERTIES`], which the handler checks (the document lists them).
#[derive(Debug, serde::Deserialize)]
#[serde(transparent)]
pub struct UserStatusProperty(pub String);

impl utoipa::PartialSchema for UserStatusProperty {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("A member of a user status that a subscription may ask for."))
            .enum_values(Some(USER_STATUS_PROPERTIES.iter().copied()))
            .into()
    }
}

impl utoipa::ToSchema for UserStatusProperty {}

/// The body of a subscription to users' allowed statuses; other members are ignored.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserAccessSubscription {
    /// At most 10000 user ids.
    #[schema(max_items = 10000)]
    pub user_ids: Vec<String>,
}

/// Subscribe to user statuses: replaces the session's set; a full `userStatusMessage` follows.
#[utoipa::path(put, path = "/icws/{sessionId}/messaging/subscriptions/status/user-statuses",
    operation_id = "icws_subscribe_user_statuses", tag = "icws messaging",
    security(("icws_session" = [])), params(("sessionId" = String, Path)),
    request_body(content = UserStatusesSubscription, example = json!({"userIds": ["agent1", "agent2"], "userStatusProperties": ["statusId", "notes"]})),
    responses((status = 200), (status = 400, body = super::error::IcwsErrorBody), (status = 401, body = super::error::IcwsErrorBody),
        (status = 403, body = super::error::IcwsErrorBody), (status = 404, body = super::error::IcwsErrorBody)))]
pub async fn subscribe_statuses(
    State(state): State<AppState>,
    IcwsSession(session): IcwsSession,
    body: IcwsObject,
) -> Result<StatusCode, IcwsError> {
    // In the order they were always checked: `userIds`, then the number of properties, then
    // their type, then their names.
    body.read::<UserAccessSubscription>()?;
    check_property_count(&body)?;
    let input: UserStatusesSubscription = body.read()?;
    let properties: Option<Vec<String>> =
        input.user_status_properties.map(|properties| properties.into_iter().map(|p| p.0).collect());
    if let Some(unknown) = properties.iter().flatten().find(|p| !USER_STATUS_PROPERTIES.contains(&p.as_str())) {
        return Err(IcwsError::invalid("userStatusProperties", format!("Unknown user status property {unknown}.")));
    }
    state.presence.subscribe_statuses(&session, &input.user_ids, properties).await?;
    Ok(StatusCode::OK)
}

/// Unsubscribe from user statuses.
#[utoipa::path(delete, path = "/icws/{sessionId}/messaging/subscriptions/status/user-statuses",
    operation_id = "icws_unsubscribe_user_statuses", tag = "icws messaging",
    security(("icws_session" = [])), params(("sessionId" = String, Path)),
    responses((status = 204), (status = 401, body = super::error::IcwsErrorBody)))]
pub async fn unsubscribe_statuses(
    State(state): State<AppState>,
    IcwsSession(session): IcwsSession,
) -> Result<StatusCode, IcwsError> {
    state.presence.unsubscribe_statuses(&session).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Subscribe to the status catalog; the whole catalog follows.
#[utoipa::path(put, path = "/icws/{sessionId}/messaging/subscriptions/status/status-messages",
    operation_id = "icws_subscribe_status_messages", tag = "icws messaging",
    security(("icws_session" = [])), params(("sessionId" = String, Path)),
    responses((status = 200), (status = 401, body = super::error::IcwsErrorBody)))]
pub async fn subscribe_catalog(
    State(state): State<AppState>,
    IcwsSession(session): IcwsSession,
) -> Result<StatusCode, IcwsError> {
    state.presence.subscribe_catalog(&session).await?;
    Ok(StatusCode::OK)
}

/// Unsubscribe from the status catalog.
#[utoipa::path(delete, path = "/icws/{sessionId}/messaging/subscriptions/status/status-messages",
    operation_id = "icws_unsubscribe_status_messages", tag = "icws messaging",
    security(("icws_session" = [])), params(("sessionId" = String, Path)),
    responses((status = 204), (status = 401, body = super::error::IcwsErrorBody)))]
pub async fn unsubscribe_catalog(
    State(state): State<AppState>,
    IcwsSession(session): IcwsSession,
) -> Result<StatusCode, IcwsError> {
    state.presence.unsubscribe_catalog(&session).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Subscribe to users' allowed statuses; their current lists follow.
#[utoipa::path(put, path = "/icws/{sessionId}/messaging/subscriptions/status/status-messages-user-access",
    operation_id = "icws_subscribe_status_messages_user_access",
    tag = "icws messaging", security(("icws_session" = [])), params(("sessionId" = String, Path)),
    request_body(content = UserAccessSubscription, example = json!({"userIds": ["agent1"]})),
    responses((status = 200), (status = 400, body = super::error::IcwsErrorBody), (status = 401, body = super::error::IcwsErrorBody),
        (status = 403, body = super::error::IcwsErrorBody), (status = 404, body = super::error::IcwsErrorBody)))]
pub async fn subscribe_access(
    State(state): State<AppState>,
    IcwsSession(session): IcwsSession,
    body: IcwsObject,
) -> Result<StatusCode, IcwsError> {
    let input: UserAccessSubscription = body.read()?;
    state.presence.subscribe_access(&session, &input.user_ids).await?;
    Ok(StatusCode::OK)
}

/// Unsubscribe from allowed statuses.
#[utoipa::path(delete, path = "/icws/{sessionId}/messaging/subscriptions/status/status-messages-user-access",
    operation_id = "icws_unsubscribe_status_messages_user_access",
    tag = "icws messaging", security(("icws_session" = [])), params(("sessionId" = String, Path)),
    responses((status = 204), (status = 401, body = super::error::IcwsErrorBody)))]
pub async fn unsubscribe_access(
    State(state): State<AppState>,
    IcwsSession(session): IcwsSession,
) -> Result<StatusCode, IcwsError> {
    state.presence.unsubscribe_access(&session).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Subscribe to the session user's own previous info: the whole list follows, then the entry a
/// status change alters.
#[utoipa::path(put, path = "/icws/{sessionId}/messaging/subscriptions/status/user-status-previous-info",
    operation_id = "icws_subscribe_user_status_previous_info", tag = "icws messaging",
    security(("icws_session" = [])), params(("sessionId" = String, Path)),
    responses((status = 200), (status = 401, body = super::error::IcwsErrorBody)))]
pub async fn subscribe_previous_info(
    State(state): State<AppState>,
    IcwsSession(session): IcwsSession,
) -> Result<StatusCode, IcwsError> {
    state.presence.subscribe_previous_info(&session, true).await?;
    Ok(StatusCode::OK)
}

/// Unsubscribe from the session user's previous info.
#[utoipa::path(delete, path = "/icws/{sessionId}/messaging/subscriptions/status/user-status-previous-info",
    operation_id = "icws_unsubscribe_user_status_previous_info", tag = "icws messaging",
    security(("icws_session" = [])), params(("sessionId" = String, Path)),
    responses((status = 204), (status = 401, body = super::error::IcwsErrorBody)))]
pub async fn unsubscribe_previous_info(
    State(state): State<AppState>,
    IcwsSession(session): IcwsSession,
) -> Result<StatusCode, IcwsError> {
    state.presence.subscribe_previous_info(&session, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Keeps the session alive.
#[utoipa::path(post, path = "/icws/{sessionId}/messaging/heartbeat",
    operation_id = "icws_heartbeat", tag = "icws messaging",
    security(("icws_session" = [])), params(("sessionId" = String, Path)),
    responses((status = 200), (status = 401, body = super::error::IcwsErrorBody)))]
pub async fn heartbeat(_session: IcwsSession) -> StatusCode {
    StatusCode::OK
}

/// How a batch handed out is recorded where other instances read the same session's messages.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Record {
    /// A poll: before answering, as its client may poll another instance next.
    Now,
    /// An event stream: soon, with other streams' positions (its client resumes with
    /// `Last-Event-ID`).
    Soon,
}

/// Takes the session's ready messages, building a due snapshot first, and records the last
/// one handed out.
async fn take(
    presence: &Presence,
    session: &Session,
    resume_after: Option<u64>,
    record: Record,
) -> (Vec<(u64, Arc<str>)>, bool) {
    let mut messages = Vec::new();
    let mut resume = resume_after;
    let closed = loop {
        let batch = session.mailbox.take(resume.take());
        messages.extend(batch.messages);
        match batch.snapshot_slot {
            Some(slot) => {
                let snapshot = presence.snapshot(session).await;
                session.mailbox.fill(slot, snapshot.map(Into::into));
            }
            None => break batch.closed,
        }
    };
    if let Some(&(last, _)) = messages.last() {
        if record == Record::Soon {
            presence.record_streamed(session, last);
        } else if let Err(err) = presence.record_drained(session, last).await {
            // Handed out anyway: another instance may hand some of them out again, none is lost.
            tracing::warn!(error = ?err, "cannot record the messages handed out");
        }
    }
    (messages, closed)
}

/// Pending messages: a JSON array (drained, `[]` when empty), or with
/// `Accept: text/event-stream` a stream of server-sent events. Only the cookie is needed.
#[utoipa::path(get, path = "/icws/{sessionId}/messaging/messages",
    operation_id = "icws_get_messages", tag = "icws messaging",
    security(("icws_session" = []), ()),
    params(("sessionId" = String, Path), ("Last-Event-ID" = Option<String>, Header, description = "Resume an event stream")),
    responses((status = 200, description = "The pending messages: a JSON array, or with `Accept: text/event-stream` \
        one event per message. Each message has a `__type`: `urn:inin.com:status:userStatusMessage`, \
        `urn:inin.com:messaging:asyncOperationCompletedMessage`, and those with a schema of their name: \
        StatusMessagesMessage, StatusMessagesUserAccessMessage, ConnectionStateChangeMessage, \
        StationConnectionStateChangeMessage, EffectiveStationChangeMessage, UserStatusPreviousInfoMessage",
        content((Vec<Object> = "application/vnd.inin.icws+JSON"), (String = "text/event-stream"))),
        (status = 401, body = super::error::IcwsErrorBody)))]
pub async fn messages(
    State(state): State<AppState>,
    IcwsSession(session): IcwsSession,
    headers: HeaderMap,
) -> Response {
    let wants_stream = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("text/event-stream"));
    if let Err(err) = state.presence.sync_mailbox(&session).await {
        return IcwsError::from(err).into_response();
    }
    if wants_stream {
        let resume = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok());
        return Sse::new(event_stream(state.presence.clone(), session, resume)).into_response();
    }
    let (messages, _) = take(&state.presence, &session, None, Record::Now).await;
    let mut body = String::with_capacity(2 + messages.iter().map(|(_, m)| m.len() + 1).sum::<usize>());
    body.push('[');
    for (i, (_, message)) in messages.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(message);
    }
    body.push(']');
    (StatusCode::OK, [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))], body).into_response()
}

struct StreamState {
    presence: Arc<Presence>,
    session: Arc<Session>,
    resume: Option<u64>,
    ready: VecDeque<Event>,
    finished: bool,
    _guard: StreamGuard,
}

/// One `data:` event per message with its `id:`, `:` comments while idle; ends after the
/// session's last message.
fn event_stream(
    presence: Arc<Presence>,
    session: Arc<Session>,
    resume: Option<u64>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let state = StreamState {
        _guard: session.open_stream(),
        presence,
        session,
        resume,
        ready: VecDeque::new(),
        finished: false,
    };
    stream::unfold(state, |mut st| async move {
        loop {
            if let Some(event) = st.ready.pop_front() {
                return Some((Ok(event), st));
            }
            if st.finished {
                return None;
            }
            let session = st.session.clone();
            let changed = session.mailbox.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let (messages, closed) = take(&st.presence, &st.session, st.resume.take(), Record::Soon).await;
            st.ready.extend(messages.into_iter().map(|(id, m)| Event::default().id(id.to_string()).data(&*m)));
            if closed {
                st.finished = true;
                continue;
            }
            if !st.ready.is_empty() {
                continue;
            }
            if tokio::time::timeout(KEEP_ALIVE, changed).await.is_err() {
                st.presence.sessions.touch(&st.session);
                return Some((Ok(Event::default().comment("")), st));
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::domain::schema;

    #[test]
    fn the_documented_user_status_properties_are_the_accepted_ones() {
        let schema = serde_json::to_value(<UserStatusProperty as utoipa::PartialSchema>::schema()).expect("schema");
        assert_eq!(schema["enum"], serde_json::json!(USER_STATUS_PROPERTIES));
    }

    #[test]
    fn the_documented_list_limits_are_the_subscription_limit() {
        let statuses = schema::members::<UserStatusesSubscription>();
        let access = schema::members::<UserAccessSubscription>();
        for member in [&statuses[0], &access[0]] {
            assert_eq!((member.name.as_str(), member.max_items), ("userIds", Some(MAX_SUBSCRIBED_USERS)));
        }
    }
}
