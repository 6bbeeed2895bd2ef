//! The PostgreSQL event log and session table that make several instances one service.
//!
//! Data changes are appended by triggers (migration `0002_cluster.sql`) in the transaction that
//! makes them; presence sessions are appended here, with their row, in one transaction. Every
//! append takes one advisory lock until commit, so sequence numbers follow commit order.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgListener, PgPoolOptions};
use sqlx::{PgPool, Row};
use tokio::sync::{Notify, oneshot};

use crate::domain::session::EndReason;
use crate::store::events::{Event, EventLog, LoggedEvent, SessionRow, SessionWrite};
use crate::store::sql::Conn;
use crate::store::sql::log::{self as shared, Positions, WEBHOOK_WINDOW, WEBHOOKS_DONE};
use crate::store::{StoreError, StoreResult};

/// The channel instances are woken on.
pub const CHANNEL: &str = "ctid_events";

/// Records drained positions (`$1` session ids, `$2` positions), keeping the greatest, without
/// waiting for the flush (`synchronous_commit` off for this one statement): a position lost in
/// a database crash means messages handed out again, never one lost.
const RECORD_DRAINED: &str = "WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true)) \
     UPDATE sessions AS s SET drained = greatest(s.drained, v.upto) \
     FROM relaxed, unnest($1::text[], $2::bigint[]) AS v(id, upto) WHERE s.id = v.id";

/// The log and the session table of a PostgreSQL database, shared by every instance on it.
#[derive(Clone)]
pub struct PgLog {
    pool: PgPool,
    heads: Arc<Mutex<HeadReads>>,
    streamed: Positions,
    /// Woken on every `NOTIFY` of the channel (and after a lost connection).
    notified: Arc<Notify>,
}

/// Callers waiting for the next read of the head, and whether a task is reading it.
#[derive(Default)]
struct HeadReads {
    waiting: Vec<oneshot::Sender<Result<i64, String>>>,
    reading: bool,
}

impl PgLog {
    /// Connects with a small pool of its own (the store's pool serves requests), with the
    /// store's connection options (TLS included), and listens to the wake-up channel.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let (options, _) = super::tls::connect_options(url).map_err(StoreError::Config)?;
        let pool =
            PgPoolOptions::new().max_connections(4).acquire_timeout(Duration::from_secs(2)).connect_lazy_with(options);
        let log = Self { pool, heads: Arc::default(), streamed: Positions::default(), notified: Arc::default() };
        tokio::spawn(listen(log.pool.clone(), log.notified.clone()));
        Ok(log)
    }

    /// The head, read once for every caller waiting meanwhile.
    ///
    /// Concurrent callers share reads: every caller gets the result of a read that *started
    /// after it asked*, so it sees every change committed before it asked, and a burst of
    /// requests costs one query per round trip instead of one each.
    async fn shared_head(&self) -> StoreResult<i64> {
        let (answer, result) = oneshot::channel();
        let start_reader = {
            let mut heads = self.lock_heads();
            heads.waiting.push(answer);
            !std::mem::replace(&mut heads.reading, true)
        };
        if start_reader {
            // A task of its own: a caller that gives up cannot strand the others.
            tokio::spawn(self.clone().read_heads());
        }
        match result.await {
            Ok(Ok(head)) => Ok(head),
            Ok(Err(message)) => Err(StoreError::SharedRead(message)),
            Err(_) => Err(StoreError::SharedRead("the head reader stopped".into())),
        }
    }

    /// Reads the head for everyone waiting, again while callers keep arriving.
    async fn read_heads(self) {
        loop {
            let waiting = {
                let mut heads = self.lock_heads();
                if heads.waiting.is_empty() {
                    heads.reading = false;
                    return;
                }
                std::mem::take(&mut heads.waiting)
            };
            let read: Result<Option<i64>, _> =
                sqlx::query_scalar("SELECT max(seq) FROM events").fetch_one(&self.pool).await;
            let result = read.map(|head| head.unwrap_or(0)).map_err(|err| err.to_string());
            for answer in waiting {
                let _ = answer.send(result.clone());
            }
        }
    }

    fn lock_heads(&self) -> std::sync::MutexGuard<'_, HeadReads> {
        self.heads.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn write_streamed(self) {
        loop {
            let Some(pending) = self.streamed.take() else {
                return;
            };
            let (ids, positions): (Vec<String>, Vec<i64>) = pending.into_iter().unzip();
            let written = sqlx::query(RECORD_DRAINED).bind(&ids).bind(&positions).execute(&self.pool).await;
            if let Err(err) = written {
                // Not retried: a position not recorded means a possible repeat, never a loss.
                tracing::warn!(error = %err, sessions = ids.len(), "cannot record what event streams handed out");
            }
        }
    }
}

#[async_trait]
impl EventLog for PgLog {
    async fn head(&self) -> StoreResult<i64> {
        self.shared_head().await
    }

    async fn head_and_drained(&self, id: &str) -> StoreResult<(i64, Option<i64>)> {
        let row = sqlx::query("SELECT (SELECT max(seq) FROM events), (SELECT drained FROM sessions WHERE id = $1)")
            .bind(id)
            .fetch_one(&self.pool)
            .await?;
        Ok((row.try_get::<Option<i64>, _>(0)?.unwrap_or(0), row.try_get(1)?))
    }

    async fn floor(&self) -> StoreResult<i64> {
        shared::floor(&mut *self.pool.acquire().await?).await
    }

    async fn after(&self, seq: i64, limit: i64) -> StoreResult<Vec<LoggedEvent>> {
        shared::events_after(&mut *self.pool.acquire().await?, seq, limit).await
    }

    async fn appended(&self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.notified.notified()).await;
    }

    async fn write_session(&self, write: SessionWrite<'_>) -> StoreResult<i64> {
        let mut tx = self.pool.begin().await?;
        let seq = shared::write_session(&mut *tx, write).await?;
        tx.commit().await?;
        Ok(seq.unwrap_or(0))
    }

    async fn set_drained(&self, id: &str, upto: i64) -> StoreResult<()> {
        sqlx::query(RECORD_DRAINED).bind([id]).bind([upto]).execute(&self.pool).await?;
        Ok(())
    }

    /// Positions of all streams are written together, one statement per round trip, the
    /// latest per session: thousands of busy streams cost a few statements a second instead of
    /// one per batch each. A client that reconnects elsewhere within that moment may be handed
    /// messages again (its `Last-Event-ID` prevents even that).
    fn set_streamed(&self, id: &str, upto: i64) {
        if self.streamed.add(id, upto) {
            tokio::spawn(self.clone().write_streamed());
        }
    }

    async fn touch(&self, ids: &[String]) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        sqlx::query("UPDATE sessions SET last_seen = now() WHERE id = ANY($1)").bind(ids).execute(&self.pool).await?;
        Ok(())
    }

    async fn expire(&self, idle: Duration) -> StoreResult<usize> {
        let mut tx = self.pool.begin().await?;
        let ended: Vec<(String, i64)> = sqlx::query_as(
            "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE last_seen < now() - $1::interval \
             ORDER BY last_seen LIMIT 1000 FOR UPDATE SKIP LOCKED) RETURNING id, user_id",
        )
        .bind(format!("{} milliseconds", idle.as_millis()))
        .fetch_all(&mut *tx)
        .await?;
        for (id, user) in &ended {
            tx.append(&Event::SessionEnded { id: id.clone(), reason: Some(EndReason::Idle), user: Some(*user) })
                .await?;
        }
        tx.commit().await?;
        Ok(ended.len())
    }

    async fn sessions(&self) -> StoreResult<(i64, Vec<SessionRow>)> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ").execute(&mut *tx).await?;
        let head = shared::head(&mut *tx).await?;
        let rows = shared::session_rows(&mut *tx).await?;
        tx.commit().await?;
        Ok((head, rows))
    }

    async fn purge(&self, age: Duration) -> StoreResult<u64> {
        let sql = format!(
            "DELETE FROM events WHERE at < now() - $1::interval AND seq < (SELECT max(seq) FROM events) AND {}",
            WEBHOOKS_DONE.replace('?', "now() - $2::interval")
        );
        let done = sqlx::query(&sql)
            .bind(format!("{} milliseconds", age.as_millis()))
            .bind(format!("{} milliseconds", age.max(WEBHOOK_WINDOW).as_millis()))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
}

/// Wakes the log's readers on every `NOTIFY`; after a lost connection, once reconnected.
async fn listen(pool: PgPool, notified: Arc<Notify>) {
    loop {
        match PgListener::connect_with(&pool).await {
            Ok(mut listener) => {
                if let Err(err) = listener.listen(CHANNEL).await {
                    tracing::warn!(error = %err, "cannot listen to the event log; retrying");
                } else {
                    loop {
                        match listener.try_recv().await {
                            Ok(Some(_)) => notified.notify_one(),
                            // The connection dropped: what was notified meanwhile is read from the log.
                            Ok(None) => notified.notify_one(),
                            Err(err) => {
                                tracing::warn!(error = %err, "the event log listener failed; reconnecting");
                                break;
                            }
                        }
                    }
                }
            }
            Err(err) => tracing::warn!(error = %err, "cannot listen to the event log; retrying"),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
