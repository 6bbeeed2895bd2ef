//! The presence history (SPEC §6): read by window and filters, exported, and purged past its
//! retention.

use std::time::Duration;

use crate::domain::clock::format_rfc3339_ms;
use crate::domain::history::{HistoryQuery, HistoryRecord};
use crate::domain::schedule::format_rfc3339;
use crate::store::Store;

use super::AppResult;

/// Records one purge removes at most, so that it never holds the database for long.
pub const PURGE_BATCH: i64 = 5_000;
/// Records one page of an export reads.
const EXPORT_PAGE: i64 = 1_000;

/// The records `query` selects; a user's own history (`query.user_id`) needs the user.
pub async fn list(store: &dyn Store, query: &HistoryQuery, own: bool) -> AppResult<(u64, Vec<HistoryRecord>)> {
    if let (true, Some(user)) = (own, query.user_id) {
        super::users::get(store, user).await?;
    }
    Ok(store.history(query).await?)
}

/// Every record of `query`'s window in time order, a page at a time, handed to `write`;
/// returns how many.
pub async fn export<E: From<super::AppError>>(
    store: &dyn Store,
    query: &HistoryQuery,
    mut write: impl FnMut(&HistoryRecord) -> Result<(), E>,
) -> Result<u64, E> {
    let mut after = None;
    let mut count = 0;
    loop {
        let page = store.history_after(query, after, EXPORT_PAGE).await.map_err(super::AppError::from)?;
        for record in &page {
            write(record)?;
            count += 1;
        }
        match page.last() {
            Some(last) if i64::try_from(page.len()).unwrap_or(0) == EXPORT_PAGE => after = Some((last.at, last.id)),
            _ => return Ok(count),
        }
    }
}

/// Forgets records older than `retention`, a batch at a time, but each user's last status
/// and phone records; and the reports' daily totals of the days before; returns how many records.
pub async fn purge(store: &dyn Store, retention: Duration) -> AppResult<u64> {
    let cutoff = super::now_ms() - i64::try_from(retention.as_millis()).unwrap_or(i64::MAX / 2);
    let mut purged = 0;
    loop {
        let batch = store.purge_history(cutoff, PURGE_BATCH).await?;
        purged += batch;
        if batch < u64::try_from(PURGE_BATCH).unwrap_or(u64::MAX) {
            // The reports' daily totals go with the records they were made of.
            store.purge_rollups(crate::domain::report::day_of(cutoff)).await?;
            return Ok(purged);
        }
        // Let other writers in between batches.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The CSV header of the history.
pub const CSV_HEADER: [&str; 14] = [
    "id",
    "at",
    "user_id",
    "username",
    "kind",
    "status_id",
    "notes",
    "forward_number",
    "until",
    "on_phone",
    "station",
    "session_id",
    "actor_type",
    "actor_name",
];

/// The columns of [`CSV_HEADER`] for one record; an absent value
/// is an empty field.
pub fn csv_fields(r: &HistoryRecord) -> [String; 14] {
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    let v = &r.values;
    [
        r.id.to_string(),
        format_rfc3339_ms(r.at),
        r.user_id.to_string(),
        text(&r.username),
        r.kind.as_str().to_string(),
        text(&v.status_id),
        text(&v.notes),
        text(&v.forward_number),
        v.until.map(format_rfc3339).unwrap_or_default(),
        v.on_phone.map(|on| on.to_string()).unwrap_or_default(),
        text(&v.station),
        text(&v.session_id),
        r.actor.as_str().to_string(),
        text(&r.actor_name),
    ]
}
