//! The SQLite event log and session table (migration `0005_event_log.sql`).
//!
//! One process writes the database, through one connection: the newest event number is
//! known after each commit without a query, and the engine is woken in-process.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::{SqliteConnection, SqlitePool};
use tokio::sync::Notify;

use crate::domain::clock::now_ms;
use crate::domain::session::EndReason;
use crate::store::StoreResult;
use crate::store::events::{self, Event, EventLog, LoggedEvent, SessionRow, SessionWrite};

/// How long drained positions wait before they are written together: a poll costs no commit.
const DRAINED_DELAY: Duration = Duration::from_secs(1);

/// The newest committed event, and who waits for the next.
#[derive(Default)]
pub(super) struct Head {
    seq: AtomicI64,
    appended: Notify,
}

impl Head {
    /// The newest event number as transaction `tx` sees it (read before it commits).
    pub(super) async fn read(tx: &mut SqliteConnection) -> StoreResult<i64> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT max(seq) FROM events").fetch_one(tx).await?;
        Ok(seq.unwrap_or(0))
    }

    /// Records a commit that reached event `seq` and wakes the engine.
    pub(super) fn advance(&self, seq: i64) {
        if self.seq.fetch_max(seq, Ordering::AcqRel) < seq {
            self.appended.notify_one();
        }
    }
}

/// The log and the session table of the SQLite database.
#[derive(Clone)]
pub struct SqliteLog {
    pub(super) writer: SqlitePool,
    pub(super) reader: SqlitePool,
    pub(super) head: Arc<Head>,
    drained: Arc<Mutex<DrainedPositions>>,
}

#[derive(Default)]
struct DrainedPositions {
    pending: HashMap<String, i64>,
    writing: bool,
}

/// Appends `event` in transaction `tx`; returns its number.
pub(super) async fn append(tx: &mut SqliteConnection, event: &Event) -> StoreResult<i64> {
    let stored = event.encode();
    let seq = sqlx::query_scalar("INSERT INTO events (kind, user_id, payload) VALUES (?, ?, ?) RETURNING seq")
        .bind(stored.kind)
        .bind(stored.user_id)
        .bind(stored.payload)
        .fetch_one(tx)
        .await?;
    Ok(seq)
}

impl SqliteLog {
    pub(super) fn new(writer: SqlitePool, reader: SqlitePool) -> Self {
        Self { writer, reader, head: Arc::default(), drained: Arc::default() }
    }

    /// Catches the head up with what the writer committed outside a [`Head::read`] (and reads
    /// it once the database is open).
    pub(super) async fn refresh(&self) -> StoreResult<()> {
        let mut connection = self.writer.acquire().await?;
        self.head.advance(Head::read(&mut connection).await?);
        Ok(())
    }

    fn lock_drained(&self) -> std::sync::MutexGuard<'_, DrainedPositions> {
        self.drained.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn record_lazily(&self, id: &str, upto: i64) {
        let start_writer = {
            let mut drained = self.lock_drained();
            let position = drained.pending.entry(id.to_string()).or_insert(upto);
            *position = (*position).max(upto);
            !std::mem::replace(&mut drained.writing, true)
        };
        if start_writer {
            tokio::spawn(self.clone().write_drained());
        }
    }

    /// Writes the positions gathered over [`DRAINED_DELAY`] in one transaction, while there are some.
    async fn write_drained(self) {
        loop {
            tokio::time::sleep(DRAINED_DELAY).await;
            let pending = {
                let mut drained = self.lock_drained();
                if drained.pending.is_empty() {
                    drained.writing = false;
                    return;
                }
                std::mem::take(&mut drained.pending)
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
    async fn head(&self) -> StoreResult<i64> {
        Ok(self.head.seq.load(Ordering::Acquire))
    }

    /// One process serves every session: what it handed out is in its mailboxes already.
    async fn head_and_drained(&self, _id: &str) -> StoreResult<(i64, Option<i64>)> {
        Ok((self.head().await?, None))
    }

    async fn floor(&self) -> StoreResult<i64> {
        let floor: Option<i64> = sqlx::query_scalar("SELECT min(seq) FROM events").fetch_one(&self.reader).await?;
        Ok(floor.unwrap_or(0))
    }

    async fn after(&self, seq: i64, limit: i64) -> StoreResult<Vec<LoggedEvent>> {
        let rows: Vec<(i64, String, Option<i64>, Option<String>)> =
            sqlx::query_as("SELECT seq, kind, user_id, payload FROM events WHERE seq > ? ORDER BY seq LIMIT ?")
                .bind(seq)
                .bind(limit)
                .fetch_all(&self.reader)
                .await?;
        Ok(rows
            .iter()
            .map(|(seq, kind, user, payload)| events::logged(*seq, kind, *user, payload.as_deref()))
            .collect())
    }

    async fn appended(&self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.head.appended.notified()).await;
    }

    async fn write_session(&self, write: SessionWrite<'_>) -> StoreResult<i64> {
        let mut tx = self.writer.begin().await?;
        let event = match write {
            SessionWrite::Open(record) => {
                sqlx::query("INSERT INTO sessions (id, user_id, record) VALUES (?, ?, ?)")
                    .bind(&record.id)
                    .bind(record.user_id)
                    .bind(events::record_text(record))
                    .execute(&mut *tx)
                    .await?;
                Event::SessionOpened(record.clone())
            }
            SessionWrite::Change { record, topic } => {
                let found = sqlx::query("UPDATE sessions SET record = ? WHERE id = ?")
                    .bind(events::record_text(record))
                    .bind(&record.id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if found == 0 {
                    return Ok(0);
                }
                Event::SessionChanged { id: record.id.clone(), topic: topic.clone() }
            }
            SessionWrite::End { id, reason } => {
                let found = sqlx::query("DELETE FROM sessions WHERE id = ?").bind(id).execute(&mut *tx).await?;
                if found.rows_affected() == 0 {
                    return Ok(0);
                }
                Event::SessionEnded { id: id.to_string(), reason }
            }
        };
        let seq = append(&mut tx, &event).await?;
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
        let ended: Vec<String> = sqlx::query_scalar("DELETE FROM sessions WHERE last_seen < ? RETURNING id")
            .bind(cutoff)
            .fetch_all(&mut *tx)
            .await?;
        let mut head = 0;
        for id in &ended {
            head = append(&mut tx, &Event::SessionEnded { id: id.clone(), reason: Some(EndReason::Idle) }).await?;
        }
        tx.commit().await?;
        self.head.advance(head);
        Ok(ended.len())
    }

    async fn sessions(&self) -> StoreResult<(i64, Vec<SessionRow>)> {
        // On the writer: nothing commits between the two reads.
        let mut connection = self.writer.acquire().await?;
        let head = Head::read(&mut connection).await?;
        let rows: Vec<(String, String, i64)> =
            sqlx::query_as("SELECT id, record, drained FROM sessions ORDER BY id").fetch_all(&mut *connection).await?;
        self.head.advance(head);
        let rows = rows.iter().filter_map(|(id, record, drained)| events::session_row(id, record, *drained)).collect();
        Ok((head, rows))
    }

    async fn purge(&self, age: Duration) -> StoreResult<u64> {
        let cutoff = now_ms().saturating_sub(i64::try_from(age.as_millis()).unwrap_or(i64::MAX));
        let done = sqlx::query("DELETE FROM events WHERE at < ? AND seq < (SELECT max(seq) FROM events)")
            .bind(cutoff)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }

    async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.reader).await.is_ok()
    }
}
