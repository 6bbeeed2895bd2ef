//! `/icws/{sessionId}/status/...`: the status catalog and user statuses.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Serialize;

use super::body::IcwsObject;
use super::error::{IcwsError, IcwsJson, ok};
use super::session::IcwsSession;
use crate::domain::clock::{format_rfc3339_ms, now_ms, parse_rfc3339_ms};
use crate::domain::history::{ActorType, HistoryKind, HistoryRecord, Window};
use crate::domain::presence::{StatusChange, Until};
use crate::domain::schedule::{ScheduleState, ScheduledStatus};
use crate::http::AppState;
use crate::presence::render::{StatusMessageBody, UserStatusBody, UserStatusPreviousInfo, representation};
use crate::presence::{USER_HISTORY_CAP, dates};

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusMessageList {
    pub status_message_list: Vec<StatusMessageBody>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserAccess {
    pub user_id: String,
    pub status_messages: Vec<String>,
}

/// A user's pending and active scheduled statuses (ctid extension).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledStatusList {
    pub user_id: String,
    pub scheduled_status_list: Vec<ScheduledStatusItem>,
}

/// One scheduled status; dates as ICWS writes them (`YYYYMMDDTHHMMSSZ`), unset members omitted.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledStatusItem {
    pub id: i64,
    pub status_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub notes: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub forward_number: Option<String>,
    pub start_date_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub end_date_time: Option<String>,
    pub state: ScheduleState,
}

impl From<ScheduledStatus> for ScheduledStatusItem {
    fn from(s: ScheduledStatus) -> Self {
        Self {
            id: s.id,
            status_id: s.fields.status_id,
            notes: s.fields.notes,
            forward_number: s.fields.forward_number,
            start_date_time: dates::format(s.fields.start),
            end_date_time: s.fields.end.map(dates::format),
            state: s.state,
        }
    }
}

/// The status change a PUT body asks for (`until` nested or flat).
pub fn status_change(body: &IcwsObject) -> Result<StatusChange, IcwsError> {
    let input: StatusChangeInput = body.read()?;
    // The flat members are checked even when a nested `until` wins over them.
    let flat = until(input.until_date_time, input.has_date, input.has_time)?;
    let until = match input.until {
        Some(nested) => until(nested.until_date_time, nested.has_date, nested.has_time)?,
        None => flat,
    };
    Ok(StatusChange { status_id: input.status_id, notes: input.notes, forward_number: input.forward_number, until })
}

fn until(at: Option<String>, has_date: Option<bool>, has_time: Option<bool>) -> Result<Option<Until>, IcwsError> {
    let Some(text) = at else { return Ok(None) };
    let at = dates::parse(&text)
        .ok_or_else(|| IcwsError::invalid("untilDateTime", format!("The date-time {text:?} is not valid.")))?;
    Ok(Some(Until { at, has_date: has_date.unwrap_or(true), has_time: has_time.unwrap_or(true) }))
}

/// The status catalog.
#[utoipa::path(get, path = "/icws/{sessionId}/status/status-messages",
    operation_id = "icws_get_status_messages", tag = "icws status", security(("icws_session" = [])),
    params(("sessionId" = String, Path)),
    responses((status = 200, body = StatusMessageList), (status = 401, body = super::error::IcwsErrorBody)))]
pub async fn status_messages(
    State(state): State<AppState>,
    IcwsSession(session): IcwsSession,
) -> Result<IcwsJson<StatusMessageList>, IcwsError> {
    let catalog = state.presence.catalog(&session).await?;
    Ok(ok(StatusMessageList { status_message_list: catalog.into_iter().map(Into::into).collect() }))
}

/// The statuses a user may select, from their CTI profile.
#[utoipa::path(get, path = "/icws/{sessionId}/status/status-messages-user-access/{userId}",
    operation_id = "icws_get_status_messages_user_access", tag = "icws status", security(("icws_session" = [])),
    params(("sessionId" = String, Path), ("userId" = String, Path)),
    responses((status = 200, body = UserAccess), (status = 403, body = super::error::IcwsErrorBody),
        (status = 404, body = super::error::IcwsErrorBody)))]
pub async fn user_access(
    State(state): State<AppState>,
    IcwsSession(session): IcwsSession,
    Path((_, user)): Path<(String, String)>,
) -> Result<IcwsJson<UserAccess>, IcwsError> {
    let (user_id, status_messages) = state.presence.user_access(&session, &user).await?;
    Ok(ok(UserAccess { user_id, status_messages }))
}

/// A user's status.
#[utoipa::path(get, path = "/icws/{sessionId}/status/user-statuses/{userId}",
    operation_id = "icws_get_user_status", tag = "icws status", security(("icws_session" = [])),
    params(("sessionId" = String, Path), ("userId" = String, Path)),
    responses((status = 200, body = UserStatusBody), (status = 401, body = super::error::IcwsErrorBody),
        (status = 403, body = super::error::IcwsErrorBody), (status = 404, body = super::error::IcwsErrorBody)))]
pub async fn get_user_status(
    State(state): State<AppState>,
    IcwsSession(session): IcwsSession,
    Path((_, user)): Path<(String, String)>,
) -> Result<IcwsJson<UserStatusBody>, IcwsError> {
    let view = state.presence.status(&session, &user).await?;
    Ok(ok(representation(view, &state.server_name)))
}

/// A user's previous info (the vendor SDK's `UserStatusPreviousInfos`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserStatusPreviousInfos {
    /// One entry per status the user has held, in catalog display order (the order clients
    /// list statuses in); statuses deleted from the catalog are left out.
    pub user_status_previous_info_list: Vec<UserStatusPreviousInfo>,
}

/// For each status a user has held, the notes (`""` when none) and the forward number they
/// last had with it. Same rights as a user's status.
#[utoipa::path(get, path = "/icws/{sessionId}/status/user-status-previous-info/{userId}",
    operation_id = "icws_get_user_status_previous_info", tag = "icws status", security(("icws_session" = [])),
    params(("sessionId" = String, Path), ("userId" = String, Path)),
    responses((status = 200, body = UserStatusPreviousInfos), (status = 401, body = super::error::IcwsErrorBody),
        (status = 403, body = super::error::IcwsErrorBody), (status = 404, body = super::error::IcwsErrorBody)))]
pub async fn get_previous_info(
    State(state): State<AppState>,
    IcwsSession(session): IcwsSession,
    Path((_, user)): Path<(String, String)>,
) -> Result<IcwsJson<UserStatusPreviousInfos>, IcwsError> {
    let list = state.presence.previous_info(&session, &user).await?;
    Ok(ok(UserStatusPreviousInfos { user_status_previous_info_list: list.into_iter().map(Into::into).collect() }))
}

/// The body of a status change. `until` may also be given flat: `untilDateTime`, `hasDate` and
/// `hasTime` at the top level. Other members are ignored.
// Declared in the order the members are checked.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusChangeInput {
    /// A status the user may select.
    #[schema(min_length = 1)]
    pub status_id: String,
    pub notes: Option<String>,
    /// Required by statuses that can have a forward number.
    pub forward_number: Option<String>,
    pub has_date: Option<bool>,
    pub has_time: Option<bool>,
    pub until_date_time: Option<String>,
    pub until: Option<UntilInput>,
}

/// When a status ends; without `untilDateTime`, it does not.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UntilInput {
    /// Default true.
    pub has_date: Option<bool>,
    /// Default true.
    pub has_time: Option<bool>,
    /// ISO 8601, e.g. `2012-02-16T16:42Z` or `20120216T164200Z`.
    pub until_date_time: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AsyncOperationAccepted {
    pub request_id: String,
}

/// Change a user's status: 202 once the change is committed.
#[utoipa::path(put, path = "/icws/{sessionId}/status/user-statuses/{userId}",
    operation_id = "icws_put_user_status", tag = "icws status", security(("icws_session" = [])),
    params(("sessionId" = String, Path), ("userId" = String, Path)),
    request_body(content = StatusChangeInput, example = json!({"statusId": "On Vacation", "notes": "Touring France",
        "until": {"untilDateTime": "2012-02-16T16:42Z", "hasDate": true, "hasTime": true}})),
    responses((status = 202, body = AsyncOperationAccepted), (status = 400, body = super::error::IcwsErrorBody),
        (status = 401, body = super::error::IcwsErrorBody), (status = 403, body = super::error::IcwsErrorBody),
        (status = 404, body = super::error::IcwsErrorBody)))]
pub async fn put_user_status(
    State(state): State<AppState>,
    IcwsSession(session): IcwsSession,
    Path((_, user)): Path<(String, String)>,
    body: IcwsObject,
) -> Result<impl IntoResponse, IcwsError> {
    let change = status_change(&body)?;
    let request_id = state.presence.change_status(&session, &user, change).await?;
    Ok(IcwsJson(StatusCode::ACCEPTED, AsyncOperationAccepted { request_id }))
}

/// A user's upcoming scheduled statuses (ctid extension), under the same view rights as their
/// status.
#[utoipa::path(get, path = "/icws/{sessionId}/status/scheduled-statuses/{userId}",
    operation_id = "icws_get_scheduled_statuses", tag = "icws status", security(("icws_session" = [])),
    params(("sessionId" = String, Path), ("userId" = String, Path)),
    responses((status = 200, body = ScheduledStatusList), (status = 401, body = super::error::IcwsErrorBody),
        (status = 403, body = super::error::IcwsErrorBody), (status = 404, body = super::error::IcwsErrorBody)))]
pub async fn scheduled_statuses(
    State(state): State<AppState>,
    IcwsSession(session): IcwsSession,
    Path((_, user)): Path<(String, String)>,
) -> Result<IcwsJson<ScheduledStatusList>, IcwsError> {
    let (user_id, schedules) = state.presence.upcoming_schedules(&session, &user).await?;
    Ok(ok(ScheduledStatusList { user_id, scheduled_status_list: schedules.into_iter().map(Into::into).collect() }))
}

/// A user's presence history over a window (ctid extension).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusHistory {
    /// In time order (then by number), at most 1,000: the first ones of the window.
    pub items: Vec<StatusHistoryItem>,
    /// `true` when the window holds more records than `items` lists (ask again from the
    /// last `at`); omitted otherwise.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[schema(required = false)]
    pub truncated: bool,
}

/// One recorded change; members that do not apply to its kind (or were unset) are omitted.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusHistoryItem {
    /// The number of the change in ctid's event log: unique, growing with time.
    pub id: i64,
    /// When the change was made: RFC 3339 UTC with milliseconds.
    pub at: String,
    pub kind: HistoryKind,
    /// `status`: the new status.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub status_id: Option<String>,
    /// `status`: the notes, when any.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub notes: Option<String>,
    /// `status`: the forward number, when any.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub forward_number: Option<String>,
    /// `status`: the until, when any (RFC 3339 UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub until: Option<String>,
    /// `phone`: whether the user is now on the phone.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub on_phone: Option<bool>,
    /// `station`: the station logged in to (`""` stationless); omitted on a station logout.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub station: Option<String>,
    /// `session` and `station`: the presence session.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub session_id: Option<String>,
    pub actor: StatusHistoryActor,
}

/// Who made a change: a presence session's user (self or a supervisor), an administrator of
/// the configuration API, the telephony (`pbx`), the status lifecycle (`schedule`) or ctid
/// itself (`system`, an idle session ended).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StatusHistoryActor {
    #[serde(rename = "type")]
    pub kind: ActorType,
    /// The session's username (`user`) or the account (`admin`, when known); omitted otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub name: Option<String>,
}

impl From<HistoryRecord> for StatusHistoryItem {
    fn from(r: HistoryRecord) -> Self {
        let v = r.values;
        Self {
            id: r.id,
            at: format_rfc3339_ms(r.at),
            kind: r.kind,
            status_id: v.status_id,
            notes: v.notes,
            forward_number: v.forward_number,
            until: v.until.map(|seconds| format_rfc3339_ms(seconds.saturating_mul(1000))),
            on_phone: v.on_phone,
            station: v.station,
            session_id: v.session_id,
            actor: StatusHistoryActor { kind: r.actor, name: r.actor_name },
        }
    }
}

/// The window of `from` and `to` (RFC 3339), each defaulting from the other or to the last
/// 24 hours; an error names the parameter at fault.
fn history_window(params: &[(String, String)]) -> Result<Window, IcwsError> {
    let param = |name: &str| params.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
    let (from, to) = (param("from"), param("to"));
    for (name, text) in [("from", from), ("to", to)] {
        if let Some(text) = text
            && parse_rfc3339_ms(text).is_none()
        {
            return Err(IcwsError::invalid(
                name,
                format!("The parameter {name} ({text:?}) is not an RFC 3339 date-time from 1970 to 9999."),
            ));
        }
    }
    Window::parse(from, to, now_ms()).map_err(|_| {
        IcwsError::invalid("to", "The parameter to must not precede from, and the window may cover at most 400 days.")
    })
}

/// A user's presence history (ctid extension): every change of their status, phone, station
/// and presence session over `[from, to)`, with who made it, under the same view rights as
/// their status.
#[utoipa::path(get, path = "/icws/{sessionId}/status/status-history/{userId}",
    operation_id = "icws_get_status_history", tag = "icws status", security(("icws_session" = [])),
    params(("sessionId" = String, Path), ("userId" = String, Path),
        ("from" = Option<String>, Query, format = DateTime, description = "RFC 3339; default `to` minus 24 hours"),
        ("to" = Option<String>, Query, format = DateTime, description = "RFC 3339, excluded; default `from` plus 24 hours \
            (at most now), or now")),
    responses((status = 200, body = StatusHistory),
        (status = 400, description = "A bad `from` or `to`, `to` before `from`, or a window over 400 days",
            body = super::error::IcwsErrorBody),
        (status = 401, body = super::error::IcwsErrorBody),
        (status = 403, body = super::error::IcwsErrorBody), (status = 404, body = super::error::IcwsErrorBody)))]
pub async fn status_history(
    State(state): State<AppState>,
    IcwsSession(session): IcwsSession,
    Path((_, user)): Path<(String, String)>,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<IcwsJson<StatusHistory>, IcwsError> {
    let window = history_window(&params)?;
    let history = state.presence.user_history(&session, &user, window).await?;
    Ok(ok(StatusHistory { items: history.records.into_iter().map(Into::into).collect(), truncated: history.truncated }))
}

// The OpenAPI document and the docs state the cap as a literal.
const _: () = assert!(USER_HISTORY_CAP == 1000);

/// The time a user spent in each status and on the phone over a window (ctid extension).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TimeInStatus {
    /// RFC 3339, UTC.
    pub from: String,
    /// RFC 3339, UTC.
    pub to: String,
    /// In catalog display order; empty when the user has no time in the window.
    pub statuses: Vec<StatusTimeItem>,
    pub on_phone_seconds: f64,
}

/// The time spent in one status.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusTimeItem {
    pub status_id: String,
    /// `null` for a status no longer in the catalog.
    #[schema(required = true)]
    pub group_tag: Option<String>,
    /// Seconds, with millisecond precision.
    pub seconds: f64,
}

/// The time a user spent in each status and on the phone within `[from, to)`, up to now (ctid
/// extension), under the same view rights as their status. `from` and `to` as in
/// `/1.1/status_reports/time_in_status`.
#[utoipa::path(get, path = "/icws/{sessionId}/status/time-in-status/{userId}",
    operation_id = "icws_get_time_in_status", tag = "icws status", security(("icws_session" = [])),
    params(("sessionId" = String, Path), ("userId" = String, Path),
        ("from" = Option<String>, Query, description = "RFC 3339; default: `to` minus 24 hours"),
        ("to" = Option<String>, Query, description = "RFC 3339; default: `from` plus 24 hours, at most now")),
    responses((status = 200, body = TimeInStatus), (status = 400, body = super::error::IcwsErrorBody),
        (status = 401, body = super::error::IcwsErrorBody), (status = 403, body = super::error::IcwsErrorBody),
        (status = 404, body = super::error::IcwsErrorBody)))]
pub async fn time_in_status(
    State(state): State<AppState>,
    IcwsSession(session): IcwsSession,
    Path((_, user)): Path<(String, String)>,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<IcwsJson<TimeInStatus>, IcwsError> {
    let window = history_window(&params)?;
    let time = state.presence.time_in_status(&session, &user, window).await?;
    let (statuses, on_phone_ms) = time.map_or((Vec::new(), 0), |t| (t.statuses, t.on_phone_ms));
    Ok(ok(TimeInStatus {
        from: format_rfc3339_ms(window.from),
        to: format_rfc3339_ms(window.to),
        statuses: statuses
            .into_iter()
            .map(|s| StatusTimeItem { status_id: s.status_id, group_tag: s.group_tag, seconds: s.ms as f64 / 1000.0 })
            .collect(),
        on_phone_seconds: on_phone_ms as f64 / 1000.0,
    }))
}
