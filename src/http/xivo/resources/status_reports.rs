//! `/1.1/status_reports/time_in_status`: the time each user spent in each status and on the
//! phone over a window (ctid extension), in JSON or, on `Accept: text/csv`, CSV.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::app::reports as app;
use crate::domain::clock::format_rfc3339_ms;
use crate::domain::report::{ReportQuery, UserTime};
use crate::http::AppState;
use crate::http::xivo::error::XivoError;
use crate::http::xivo::negotiate::prefers_csv;

/// Milliseconds as seconds with millisecond precision.
pub fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// The report over a window.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TimeInStatusReport {
    /// RFC 3339, UTC.
    pub from: String,
    /// RFC 3339, UTC.
    pub to: String,
    /// By user id; users without any time in the window are left out.
    pub items: Vec<UserTimeBody>,
}

/// One user's time.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserTimeBody {
    pub user_id: i64,
    #[schema(required = true)]
    pub username: Option<String>,
    /// In catalog display order.
    pub statuses: Vec<StatusTimeBody>,
    pub on_phone_seconds: f64,
}

/// The time spent in one status.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StatusTimeBody {
    pub status_id: String,
    /// `null` for a status no longer in the catalog.
    #[schema(required = true)]
    pub group_tag: Option<String>,
    /// Seconds, with millisecond precision.
    pub seconds: f64,
}

fn representation(user: UserTime) -> UserTimeBody {
    UserTimeBody {
        user_id: user.user_id,
        username: user.username,
        statuses: user
            .statuses
            .into_iter()
            .map(|s| StatusTimeBody { status_id: s.status_id, group_tag: s.group_tag, seconds: seconds(s.ms) })
            .collect(),
        on_phone_seconds: seconds(user.on_phone_ms),
    }
}

/// The CSV of `items`: a header line, then one row per user and status.
fn csv_body(items: &[UserTimeBody]) -> Result<Vec<u8>, XivoError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let failed = |err: csv::Error| {
        tracing::error!(error = %err, "writing a CSV report failed");
        XivoError::unavailable()
    };
    writer.write_record(["user_id", "username", "status_id", "group_tag", "seconds"]).map_err(failed)?;
    for user in items {
        for status in &user.statuses {
            writer
                .write_record([
                    user.user_id.to_string().as_str(),
                    user.username.as_deref().unwrap_or_default(),
                    &status.status_id,
                    status.group_tag.as_deref().unwrap_or_default(),
                    &format!("{:.3}", status.seconds),
                ])
                .map_err(failed)?;
        }
    }
    writer.into_inner().map_err(|err| failed(err.into_error().into()))
}

/// The time each user spent in each status and on the phone within `[from, to)`, up to now.
#[utoipa::path(get, path = "/1.1/status_reports/time_in_status",
    operation_id = "time_in_status", tag = "status_reports",
    params(
        ("from" = Option<String>, Query, description = "RFC 3339; default: `to` minus 24 hours"),
        ("to" = Option<String>, Query, description = "RFC 3339; default: `from` plus 24 hours, at most now; at most 400 days after `from`"),
        ("user_id" = Option<Vec<i64>>, Query, explode = true, description = "Only these users (at most 1000)")),
    responses(
        (status = 200, description = "JSON, or with `Accept: text/csv` a header \
            `user_id,username,status_id,group_tag,seconds` then one row per user and status",
            content((TimeInStatusReport = "application/json"), (String = "text/csv"))),
        (status = 400, body = Vec<String>)))]
pub async fn time_in_status(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, XivoError> {
    let query = ReportQuery::parse(params.iter().map(|(k, v)| (k.as_str(), v.as_str())), crate::app::now_ms())?;
    let items: Vec<_> =
        app::time_in_status(state.store.as_ref(), &query).await?.into_iter().map(representation).collect();
    if prefers_csv(&headers) {
        let body = csv_body(&items)?;
        return Ok(
            ([(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"))], body).into_response()
        );
    }
    let (from, to) = (format_rfc3339_ms(query.window.from), format_rfc3339_ms(query.window.to));
    Ok(Json(TimeInStatusReport { from, to, items }).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_has_one_row_per_user_and_status() {
        let items = vec![UserTimeBody {
            user_id: 4,
            username: Some("a,b".into()),
            statuses: vec![StatusTimeBody {
                status_id: "Available".into(),
                group_tag: Some("Available".into()),
                seconds: 1.5,
            }],
            on_phone_seconds: 0.0,
        }];
        let text = String::from_utf8(csv_body(&items).expect("csv")).expect("utf-8");
        assert_eq!(text, "user_id,username,status_id,group_tag,seconds\n4,\"a,b\",Available,Available,1.500\n");
    }
}
