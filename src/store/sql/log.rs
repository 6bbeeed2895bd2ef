//! What the two event logs share: the session rows written with their events, the reading of
//! events and sessions, and the drained positions written together in the background.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::{Columns, Conn};
use crate::store::StoreResult;
use crate::store::events::{self, Event, LoggedEvent, SessionRow, SessionWrite};

/// Writes a session's row in transaction `c` and appends its event; returns the event's
/// number, or `None` when the session had already ended (elsewhere, perhaps): nothing to log.
pub(crate) async fn write_session<C: Conn>(c: &mut C, write: SessionWrite<'_>) -> StoreResult<Option<i64>> {
    let event = match write {
        SessionWrite::Open(record) => {
            c.run(
                "INSERT INTO sessions (id, user_id, record) VALUES (?, ?, ?)",
                &[(&record.id).into(), record.user_id.into(), events::record_text(record).into()],
            )
            .await?;
            Event::SessionOpened(record.clone())
        }
        SessionWrite::Change { record, topic } => {
            let sql = "UPDATE sessions SET record = ? WHERE id = ?";
            if c.run(sql, &[events::record_text(record).into(), (&record.id).into()]).await? == 0 {
                return Ok(None);
            }
            Event::SessionChanged { id: record.id.clone(), topic: topic.clone(), user: Some(record.user_id) }
        }
        SessionWrite::End { id, reason } => {
            let Some(row) = c.row("DELETE FROM sessions WHERE id = ? RETURNING user_id", &[id.into()]).await? else {
                return Ok(None);
            };
            Event::SessionEnded { id: id.to_string(), reason, user: Some(row.int("user_id")?) }
        }
    };
    c.append(&event).await.map(Some)
}

/// How long the log keeps events that an enabled webhook has not handled yet, at most: the
/// 24 hours a webhook may fail before it is disabled, and a margin.
pub(crate) const WEBHOOK_WINDOW: std::time::Duration = std::time::Duration::from_secs(25 * 3600);

/// The condition a purged event meets besides its age: every enabled webhook has handled it,
/// or it is older than `?` (the time [`WEBHOOK_WINDOW`] ago).
pub(crate) const WEBHOOKS_DONE: &str =
    "(at < ? OR seq <= coalesce((SELECT min(delivered_seq) FROM webhooks WHERE enabled), seq))";

/// Events after `seq`, in order, at most `limit`.
pub(crate) async fn events_after(c: &mut impl Conn, seq: i64, limit: i64) -> StoreResult<Vec<LoggedEvent>> {
    let sql = "SELECT seq, kind, user_id, payload FROM events WHERE seq > ? ORDER BY seq LIMIT ?";
    let rows = c.rows(sql, &[seq.into(), limit.into()]).await?;
    rows.iter()
        .map(|r| {
            let payload = r.opt_text("payload")?;
            Ok(events::logged(r.int("seq")?, &r.text("kind")?, r.opt_int("user_id")?, payload.as_deref()))
        })
        .collect()
}

/// The newest event number (0 when the log is empty).
pub(crate) async fn head(c: &mut impl Conn) -> StoreResult<i64> {
    let row = c.row("SELECT coalesce(max(seq), 0) AS head FROM events", &[]).await?;
    row.map_or(Ok(0), |row| row.int("head"))
}

/// The oldest event still held (0 when the log is empty).
pub(crate) async fn floor(c: &mut impl Conn) -> StoreResult<i64> {
    let row = c.row("SELECT coalesce(min(seq), 0) AS floor FROM events", &[]).await?;
    row.map_or(Ok(0), |row| row.int("floor"))
}

/// Every session row, skipping (and logging) a row that cannot be read.
pub(crate) async fn session_rows(c: &mut impl Conn) -> StoreResult<Vec<SessionRow>> {
    let rows = c.rows("SELECT id, record, drained FROM sessions ORDER BY id", &[]).await?;
    let mut sessions = Vec::with_capacity(rows.len());
    for row in &rows {
        let id = row.text("id")?;
        sessions.extend(events::session_row(&id, &row.text("record")?, row.int("drained")?));
    }
    Ok(sessions)
}

/// Positions (the last message handed out) of sessions, waiting to be written together.
#[derive(Clone, Default)]
pub(crate) struct Positions(Arc<Mutex<PendingPositions>>);

#[derive(Default)]
struct PendingPositions {
    pending: HashMap<String, i64>,
    writing: bool,
}

impl Positions {
    fn lock(&self) -> MutexGuard<'_, PendingPositions> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps `upto` for session `id` (the greatest position wins); true when no task writes
    /// the positions, and the caller must start one (which calls [`Positions::take`]).
    pub(crate) fn add(&self, id: &str, upto: i64) -> bool {
        let mut positions = self.lock();
        let position = positions.pending.entry(id.to_string()).or_insert(upto);
        *position = (*position).max(upto);
        !std::mem::replace(&mut positions.writing, true)
    }

    /// The positions to write now; `None` when there are none left, and the writing task ends.
    pub(crate) fn take(&self) -> Option<HashMap<String, i64>> {
        let mut positions = self.lock();
        if positions.pending.is_empty() {
            positions.writing = false;
            return None;
        }
        Some(std::mem::take(&mut positions.pending))
    }
}
