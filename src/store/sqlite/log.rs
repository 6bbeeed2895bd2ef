//! The SQLite event log and session table (migration `0005_event_log.sql`).
//!
//! One process writes the database, through one connection: the newest event number is
//! known after each commit without a query, and the engine is woken in-process.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::SqlitePool;
use tokio::sync::Notify;

use crate::domain::clock::now_ms;
use crate::domain::session::EndReason;
use crate::store::StoreResult;
use crate::store::events::{Event, EventLog, LoggedEvent, SessionRow, SessionWrite};
use crate::store::sql::log::{self as shared, Positions, WEBHOOK_WINDOW, WEBHOOKS_DONE};
use crate::store::sql::{Conn, Value};

/// How long drained positions wait before they are written together: a poll costs no commit.
const DRAINED_DELAY: Duration = Duration::from_secs(1);

/// The newest committed event, the newest that was not a status change, and who waits for
/// the next.
#[derive(Default)]
pub(super) struct Head {
    seq: AtomicI64,
    barrier: AtomicI64,
    appended: Notify,
}

impl Head {
    /// Records a commit that reached event `seq` and wakes the engine.
    pub(super) fn advance(&self, seq: i64) {
        self.barrier.fetch_max(seq, Ordering::AcqRel);
        self.advance_statuses(seq);
    }

    /// Records a commit of status changes only, that reached event `seq`.
    pub(super) fn advance_statuses(&self, seq: i64) {
        if self.seq.fetch_max(seq, Ordering::AcqRel) < seq {
            self.appended.notify_one();
        }
    }
}

/// The events this process appended last, in order, as it wrote them: the engine applies them
/// without reading them back. Events appended by triggers are not here: a gap sends the
/// engine to the database.
#[derive(Clone, Default)]
pub(super) struct Recent(Arc<Mutex<VecDeque<LoggedEvent>>>);

/// Most events kept at hand.
const RECENT: usize = 4096;

impl Recent {
    /// Keeps `events` (just committed, numbered above those kept).
    pub(super) fn keep(&self, events: Vec<LoggedEvent>) {
        let mut recent = self.0.lock().unwrap_or_else(|e| e.into_inner());
        recent.extend(events);
        let excess = recent.len().saturating_sub(RECENT);
        recent.drain(..excess);
    }

    /// The events numbered from `seq + 1` on without a gap, at most `limit`; `None` when
    /// event `seq + 1` is not at hand.
    fn after(&self, seq: i64, limit: i64) -> Option<Vec<LoggedEvent>> {
        let recent = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let first = recent.iter().position(|e| e.seq == seq + 1)?;
        let mut next = seq + 1;
        let run = recent
            .range(first..)
            .take(usize::try_from(limit).unwrap_or(0))
            .take_while(|e| {
                let follows = e.seq == next;
                next += 1;
                follows
            })
            .cloned()
            .collect();
        Some(run)
    }
}

/// The log and the session table of the SQLite database.
#[derive(Clone)]
pub struct SqliteLog {
    writer: SqlitePool,
    reader: SqlitePool,
    pub(super) head: Arc<Head>,
    pub(super) recent: Recent,
    drained: Positions,
}

impl SqliteLog {
    pub(super) fn new(writer: SqlitePool, reader: SqlitePool) -> Self {
        Self { writer, reader, head: Arc::default(), recent: Recent::default(), drained: Positions::default() }
    }

    /// Catches the head up with what the writer committed (at start, and after writes whose
    /// events triggers appended).
    pub(super) async fn refresh(&self) -> StoreResult<()> {
        let mut connection = self.writer.acquire().await?;
        self.head.advance(shared::head(&mut *connection).await?);
        Ok(())
    }

    fn record_lazily(&self, id: &str, upto: i64) {
        if self.drained.add(id, upto) {
            tokio::spawn(self.clone().write_drained());
        }
    }

    /// Writes the positions gathered over [`DRAINED_DELAY`] in one transaction, while there are some.
    async fn write_drained(self) {
        loop {
            tokio::time::sleep(DRAINED_DELAY).await;
            let Some(pending) = self.drained.take() else {
                return;
            };
            let pairs: Vec<(String, i64)> = pending.into_iter().collect();
            let json = serde_json::to_string(&pairs).unwrap_or_default();
            let written = sqlx::query(
                "UPDATE sessions SET drained = max(drained, v.upto) FROM (SELECT value ->> 0 AS id, \
                 value ->> 1 AS upto FROM json_each(?)) AS v WHERE sessions.id = v.id",
            )
            .bind(json)
            .execute(&self.writer)
            .await;
            if let Err(err) = written {
                // Not retried: a position not recorded means a possible repeat, never a loss.
                tracing::warn!(error = %err, sessions = pairs.len(), "cannot record what clients were handed");
            }
        }
    }
}

#[async_trait]
impl EventLog for SqliteLog {
    /// Status changes are read from the store, not from the engine: a request waits only for
    /// the other events (sessions, rights, the catalog, users) to be applied, and a poll for
    /// everything ([`EventLog::head_and_drained`]).
    async fn barrier(&self) -> StoreResult<i64> {
        Ok(self.head.barrier.load(Ordering::Acquire))
    }

    async fn head(&self) -> StoreResult<i64> {
        Ok(self.head.seq.load(Ordering::Acquire))
    }

    /// One process serves every session: what it handed out is in its mailboxes already.
    async fn head_and_drained(&self, _id: &str) -> StoreResult<(i64, Option<i64>)> {
        Ok((self.head().await?, None))
    }

    async fn floor(&self) -> StoreResult<i64> {
        shared::floor(&mut *self.reader.acquire().await?).await
    }

    async fn after(&self, seq: i64, limit: i64) -> StoreResult<Vec<LoggedEvent>> {
        if let Some(events) = self.recent.after(seq, limit) {
            return Ok(events);
        }
        shared::events_after(&mut *self.reader.acquire().await?, seq, limit).await
    }

    async fn appended(&self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.head.appended.notified()).await;
    }

    async fn write_session(&self, write: SessionWrite<'_>) -> StoreResult<i64> {
        let mut tx = self.writer.begin().await?;
        let Some(seq) = shared::write_session(&mut *tx, write).await? else {
            return Ok(0);
        };
        tx.commit().await?;
        self.head.advance(seq);
        Ok(seq)
    }

    async fn set_drained(&self, id: &str, upto: i64) -> StoreResult<()> {
        self.record_lazily(id, upto);
        Ok(())
    }

    fn set_streamed(&self, id: &str, upto: i64) {
        self.record_lazily(id, upto);
    }

    async fn touch(&self, ids: &[String]) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        sqlx::query("UPDATE sessions SET last_seen = ? WHERE id IN (SELECT value FROM json_each(?))")
            .bind(now_ms())
            .bind(serde_json::to_string(ids).unwrap_or_default())
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn expire(&self, idle: Duration) -> StoreResult<usize> {
        let cutoff = now_ms().saturating_sub(i64::try_from(idle.as_millis()).unwrap_or(i64::MAX));
        let mut tx = self.writer.begin().await?;
        let ended: Vec<(String, i64)> =
            sqlx::query_as("DELETE FROM sessions WHERE last_seen < ? RETURNING id, user_id")
                .bind(cutoff)
                .fetch_all(&mut *tx)
                .await?;
        let mut head = 0;
        for (id, user) in &ended {
            let event = Event::SessionEnded { id: id.clone(), reason: Some(EndReason::Idle), user: Some(*user) };
            head = tx.append(&event).await?;
        }
        tx.commit().await?;
        self.head.advance(head);
        Ok(ended.len())
    }

    async fn sessions(&self) -> StoreResult<(i64, Vec<SessionRow>)> {
        // On the writer: nothing commits between the two reads.
        let mut connection = self.writer.acquire().await?;
        let head = shared::head(&mut *connection).await?;
        let rows = shared::session_rows(&mut *connection).await?;
        self.head.advance(head);
        Ok((head, rows))
    }

    async fn purge(&self, age: Duration) -> StoreResult<u64> {
        let before = |age: Duration| now_ms().saturating_sub(i64::try_from(age.as_millis()).unwrap_or(i64::MAX));
        let sql =
            format!("DELETE FROM events WHERE at < ? AND seq < (SELECT max(seq) FROM events) AND {WEBHOOKS_DONE}");
        let args = [Value::from(before(age)), before(age.max(WEBHOOK_WINDOW)).into()];
        Ok(self.writer.acquire().await?.run(&sql, &args).await?)
    }

    async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.reader).await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: i64) -> LoggedEvent {
        LoggedEvent { seq, event: Some(Event::Catalog) }
    }

    fn seqs(events: Option<Vec<LoggedEvent>>) -> Option<Vec<i64>> {
        events.map(|list| list.iter().map(|e| e.seq).collect())
    }

    #[test]
    fn recent_events_are_served_only_without_a_gap() {
        let recent = Recent::default();
        recent.keep(vec![event(5), event(6), event(7)]);
        recent.keep(vec![event(9)]);
        assert_eq!(seqs(recent.after(4, 500)), Some(vec![5, 6, 7]));
        assert_eq!(seqs(recent.after(5, 1)), Some(vec![6]));
        assert_eq!(seqs(recent.after(7, 500)), None, "event 8 (a trigger's) is not at hand");
        assert_eq!(seqs(recent.after(8, 500)), Some(vec![9]));
        assert_eq!(seqs(recent.after(2, 500)), None, "events before those kept are read from the database");
        recent.keep((10..10 + RECENT as i64).map(event).collect());
        assert_eq!(seqs(recent.after(4, 500)), None, "the oldest were let go");
    }
}
