//! Reports over the presence history (SPEC §6, time in status).

use crate::domain::report::{ReportQuery, UserTime};
use crate::store::Store;

use super::AppResult;

/// The time each user spent in each status and on the phone over the query's window, up to now.
pub async fn time_in_status(store: &dyn Store, query: &ReportQuery) -> AppResult<Vec<UserTime>> {
    Ok(store.time_in_status(query.window, &query.users, super::now_ms()).await?)
}

/// How long after a UTC day ends its rollup waits: records are stamped by the instance that
/// commits them, whose clock may run a little behind.
pub const ROLLUP_GRACE_MS: i64 = 5 * 60_000;
/// The days before this many days ago are neither rolled up nor kept (the history's longest
/// window).
pub const ROLLUP_KEPT_DAYS: i64 = crate::domain::history::MAX_WINDOW_MS / crate::domain::report::DAY_MS;

/// Rolls up every UTC day due by `now_ms`, one day per step (another instance may take any of
/// them), after forgetting the rollups older than [`ROLLUP_KEPT_DAYS`]; returns how many days
/// were done.
pub async fn roll_up(store: &dyn Store, now_ms: i64) -> AppResult<u64> {
    let first_day = crate::domain::report::day_of(now_ms) - ROLLUP_KEPT_DAYS;
    store.purge_rollups(first_day).await?;
    let mut days = 0;
    while store.roll_up_next_day(now_ms - ROLLUP_GRACE_MS, first_day).await?.is_some() {
        days += 1;
    }
    Ok(days)
}
