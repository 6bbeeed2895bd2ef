//! The PostgreSQL event log and session table that make several instances one service.
//!
//! Data changes are appended by triggers (migration `0002_cluster.sql`) in the transaction that
//! makes them; presence sessions are appended here, with their row, in one transaction. Every
//! append takes one advisory lock until commit, so sequence numbers follow commit order.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPoolOptions};
use sqlx::{PgPool, Row};
use tokio::sync::oneshot;

use super::{StoreError, StoreResult};

/// The channel instances are woken on.
pub const CHANNEL: &str = "ctid_events";

/// One entry of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedEvent {
    pub seq: i64,
    pub kind: String,
    pub user_id: Option<i64>,
    pub payload: Option<String>,
}

/// A session row, as an instance rebuilds it at start.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub id: String,
    pub record: String,
    pub drained: i64,
}

/// How a session row changes together with its log entry.
pub enum SessionWrite<'a> {
    Open { user_id: i64, record: &'a str },
    Update { record: &'a str },
    End,
}

/// Records drained positions (`$1` session ids, `$2` positions), keeping the greatest, without
/// waiting for the flush (`synchronous_commit` off for this one statement): a position lost in
/// a database crash means messages handed out again, never one lost.
const RECORD_DRAINED: &str = "WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true)) \
     UPDATE sessions AS s SET drained = greatest(s.drained, v.upto) \
     FROM relaxed, unnest($1::text[], $2::bigint[]) AS v(id, upto) WHERE s.id = v.id";

/// Access to the log and the session table.
#[derive(Clone)]
pub struct EventLog {
    pool: PgPool,
    heads: Arc<Mutex<HeadReads>>,
    streamed: Arc<Mutex<StreamedPositions>>,
}

/// Drained positions of event streams waiting to be written, and whether a task writes them.
#[derive(Default)]
struct StreamedPositions {
    pending: std::collections::HashMap<String, i64>,
    writing: bool,
}

/// Callers waiting for the next read of the head, and whether a task is reading it.
#[derive(Default)]
struct HeadReads {
    waiting: Vec<oneshot::Sender<Result<i64, String>>>,
    reading: bool,
}

impl EventLog {
    /// Connects with a small pool of its own (the store's pool serves requests), with the
    /// store's connection options (TLS included).
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let (options, _) = super::pg_tls::connect_options(url).map_err(StoreError::Config)?;
        let pool =
            PgPoolOptions::new().max_connections(4).acquire_timeout(Duration::from_secs(2)).connect_lazy_with(options);
        Ok(Self { pool, heads: Arc::default(), streamed: Arc::default() })
    }

    /// A listener on the wake-up channel (reconnects on its own after a failure).
    pub async fn listener(&self) -> StoreResult<PgListener> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(CHANNEL).await?;
        Ok(listener)
    }

    /// The number of the last committed event (0 when the log is empty).
    ///
    /// Concurrent callers share reads: every caller gets the result of a read that *started
    /// after it asked*, so it sees every change committed before it asked, and a burst of
    /// requests costs one query per round trip instead of one each.
    pub async fn head(&self) -> StoreResult<i64> {
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

    /// The head and the id of the last message handed to session `id`'s client.
    pub async fn head_and_drained(&self, id: &str) -> StoreResult<(i64, Option<i64>)> {
        let row = sqlx::query("SELECT (SELECT max(seq) FROM events), (SELECT drained FROM sessions WHERE id = $1)")
            .bind(id)
            .fetch_one(&self.pool)
            .await?;
        Ok((row.try_get::<Option<i64>, _>(0)?.unwrap_or(0), row.try_get(1)?))
    }

    /// The oldest event still held (events before it were purged).
    pub async fn floor(&self) -> StoreResult<i64> {
        let floor: Option<i64> = sqlx::query_scalar("SELECT min(seq) FROM events").fetch_one(&self.pool).await?;
        Ok(floor.unwrap_or(0))
    }

    /// Events after `seq`, in order, at most `limit`.
    pub async fn after(&self, seq: i64, limit: i64) -> StoreResult<Vec<LoggedEvent>> {
        let rows = sqlx::query("SELECT seq, kind, user_id, payload FROM events WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(seq)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(LoggedEvent {
                    seq: r.try_get(0)?,
                    kind: r.try_get(1)?,
                    user_id: r.try_get(2)?,
                    payload: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// Writes a session's row and appends its event in one transaction; returns the event's number.
    pub async fn write_session(
        &self,
        id: &str,
        write: SessionWrite<'_>,
        kind: &str,
        payload: &str,
    ) -> StoreResult<i64> {
        let mut tx = self.pool.begin().await?;
        let (user_id, found) = match write {
            SessionWrite::Open { user_id, record } => {
                sqlx::query("INSERT INTO sessions (id, user_id, record) VALUES ($1, $2, $3)")
                    .bind(id)
                    .bind(user_id)
                    .bind(record)
                    .execute(&mut *tx)
                    .await?;
                (Some(user_id), true)
            }
            SessionWrite::Update { record } => {
                let user: Option<i64> =
                    sqlx::query_scalar("UPDATE sessions SET record = $2 WHERE id = $1 RETURNING user_id")
                        .bind(id)
                        .bind(record)
                        .fetch_optional(&mut *tx)
                        .await?;
                (user, user.is_some())
            }
            SessionWrite::End => {
                let user: Option<i64> = sqlx::query_scalar("DELETE FROM sessions WHERE id = $1 RETURNING user_id")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                (user, user.is_some())
            }
        };
        if !found {
            // Ended meanwhile (elsewhere): nothing to log.
            return Ok(0);
        }
        let seq: i64 = sqlx::query_scalar("SELECT ctid_append_event($1, $2, $3)")
            .bind(kind)
            .bind(user_id)
            .bind(payload)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(seq)
    }

    /// Records that session `id`'s client has received every message up to `upto`.
    pub async fn set_drained(&self, id: &str, upto: i64) -> StoreResult<()> {
        sqlx::query(RECORD_DRAINED).bind([id]).bind([upto]).execute(&self.pool).await?;
        Ok(())
    }

    /// Records, soon and without waiting, that session `id`'s event stream has written every
    /// message up to `upto`. Positions of all streams are written together, one statement per
    /// round trip, the latest per session: thousands of busy streams cost a few statements a
    /// second instead of one per batch each. A client that reconnects elsewhere within that
    /// moment may be handed messages again (its `Last-Event-ID` prevents even that).
    pub fn set_streamed(&self, id: &str, upto: i64) {
        let start_writer = {
            let mut streamed = self.lock_streamed();
            let position = streamed.pending.entry(id.to_string()).or_insert(upto);
            *position = (*position).max(upto);
            !std::mem::replace(&mut streamed.writing, true)
        };
        if start_writer {
            tokio::spawn(self.clone().write_streamed());
        }
    }

    async fn write_streamed(self) {
        loop {
            let pending = {
                let mut streamed = self.lock_streamed();
                if streamed.pending.is_empty() {
                    streamed.writing = false;
                    return;
                }
                std::mem::take(&mut streamed.pending)
            };
            let (ids, positions): (Vec<String>, Vec<i64>) = pending.into_iter().unzip();
            let written = sqlx::query(RECORD_DRAINED).bind(&ids).bind(&positions).execute(&self.pool).await;
            if let Err(err) = written {
                // Not retried: a position not recorded means a possible repeat, never a loss.
                tracing::warn!(error = %err, sessions = ids.len(), "cannot record what event streams handed out");
            }
        }
    }

    fn lock_streamed(&self) -> std::sync::MutexGuard<'_, StreamedPositions> {
        self.streamed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records activity of these sessions now.
    pub async fn touch(&self, ids: &[String]) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        sqlx::query("UPDATE sessions SET last_seen = now() WHERE id = ANY($1)").bind(ids).execute(&self.pool).await?;
        Ok(())
    }

    /// Ends sessions without activity for `idle`, logging each end; returns how many.
    pub async fn expire(&self, idle: Duration, payload: impl Fn(&str) -> String) -> StoreResult<usize> {
        let mut tx = self.pool.begin().await?;
        let ended: Vec<(String, i64)> = sqlx::query_as(
            "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE last_seen < now() - $1::interval \
             ORDER BY last_seen LIMIT 1000 FOR UPDATE SKIP LOCKED) RETURNING id, user_id",
        )
        .bind(format!("{} milliseconds", idle.as_millis()))
        .fetch_all(&mut *tx)
        .await?;
        for (id, user_id) in &ended {
            sqlx::query("SELECT ctid_append_event('session_ended', $1, $2)")
                .bind(user_id)
                .bind(payload(id))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(ended.len())
    }

    /// Every open session and the log's head, read at one instant.
    pub async fn sessions(&self) -> StoreResult<(i64, Vec<SessionRow>)> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ").execute(&mut *tx).await?;
        let head: Option<i64> = sqlx::query_scalar("SELECT max(seq) FROM events").fetch_one(&mut *tx).await?;
        let rows = sqlx::query("SELECT id, record, drained FROM sessions ORDER BY id").fetch_all(&mut *tx).await?;
        tx.commit().await?;
        let rows = rows
            .iter()
            .map(|r| Ok(SessionRow { id: r.try_get(0)?, record: r.try_get(1)?, drained: r.try_get(2)? }))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((head.unwrap_or(0), rows))
    }

    /// Forgets events older than `age`, always keeping the newest one (the head).
    pub async fn purge(&self, age: Duration) -> StoreResult<u64> {
        let done =
            sqlx::query("DELETE FROM events WHERE at < now() - $1::interval AND seq < (SELECT max(seq) FROM events)")
                .bind(format!("{} milliseconds", age.as_millis()))
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected())
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
}
