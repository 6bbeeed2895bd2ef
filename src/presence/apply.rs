//! Applying the event log: the one way this engine learns of a change, whatever the store.
//!
//! Every change an instance must react to is a numbered event of the store's log, in commit
//! order: data changes (logged in the transaction that makes them) and presence session
//! changes (logins, logouts, subscriptions, stations). The engine applies the whole log in
//! order, so every instance holds every session, with the same subscriptions and the same
//! queued messages under the same ids; a message queued while applying event `n` gets an id
//! from `n × 65536`. A request first waits until its instance has applied everything
//! committed before it (the log's head: a shared query on PostgreSQL, a counter on SQLite), so
//! any instance answers for any session, and an instance that cannot reach the database
//! answers 503 rather than from a state it cannot check. Handing messages to a client records
//! the last id in the session row, so the next poll on another instance, or after a restart,
//! starts after it.

use std::sync::Arc;
use std::time::Duration;

use super::engine::{Presence, PresenceError, PresenceResult};
use super::mailbox::Kind;
use super::render;
use super::sessions::Session;
use crate::domain::session::{EndReason, Topic};
use crate::store::events::{Event, LoggedEvent, SessionWrite};
use crate::store::{Forget, StoreResult};

/// Ids the messages queued while applying one event may take.
const IDS_PER_EVENT: u64 = 1 << 16;
/// Longest a request waits for its instance to apply what was committed before it.
const SYNC_TIMEOUT: Duration = Duration::from_secs(5);
/// Events read from the log at a time.
const BATCH: i64 = 500;

fn seq_u64(seq: i64) -> u64 {
    u64::try_from(seq).unwrap_or(0)
}

impl Presence {
    /// Commits a change of a session's subscriptions or station and waits until it is applied.
    pub(super) async fn update_session(&self, session: &Arc<Session>, topic: Topic) -> PresenceResult<()> {
        let mut record = session.record();
        topic.apply_to(&mut record);
        let seq = self.log.write_session(SessionWrite::Change { record: &record, topic: &topic }).await?;
        if seq == 0 {
            return Err(PresenceError::SessionEnded);
        }
        self.wait_applied(seq).await
    }

    /// Waits until this instance has applied event `seq`.
    pub(super) async fn wait_applied(&self, seq: i64) -> PresenceResult<()> {
        if *self.applied.borrow() >= seq {
            return Ok(());
        }
        self.wake.notify_one();
        let mut applied = self.applied.subscribe();
        match tokio::time::timeout(SYNC_TIMEOUT, applied.wait_for(|a| *a >= seq)).await {
            Ok(Ok(_)) => Ok(()),
            _ => {
                tracing::warn!(seq, "the event log is not applied in time");
                Err(PresenceError::Unavailable)
            }
        }
    }

    /// Brings this instance up to every change committed so far, by any instance, that a
    /// request may depend on (see [`crate::store::EventLog::barrier`]). `Unavailable` when the
    /// database cannot tell.
    pub async fn sync(&self) -> PresenceResult<()> {
        let barrier = self.log.barrier().await?;
        self.wait_applied(barrier).await
    }

    /// Before handing a session's messages out: syncs, and drops what another instance has
    /// already handed to the client.
    pub async fn sync_mailbox(&self, session: &Session) -> PresenceResult<()> {
        let (head, drained) = self.log.head_and_drained(&session.id).await?;
        self.wait_applied(head).await?;
        if let Some(drained) = drained {
            session.mailbox.discard_through(seq_u64(drained));
        }
        Ok(())
    }

    /// Records, without waiting, that the event stream of `session` has written every message
    /// up to id `upto` (see [`crate::store::EventLog::set_streamed`]).
    pub fn record_streamed(&self, session: &Session, upto: u64) {
        self.log.set_streamed(&session.id, i64::try_from(upto).unwrap_or(i64::MAX));
    }

    /// Records that the client of `session` has every message up to id `upto`.
    pub async fn record_drained(&self, session: &Session, upto: u64) -> PresenceResult<()> {
        Ok(self.log.set_drained(&session.id, i64::try_from(upto).unwrap_or(i64::MAX)).await?)
    }

    /// Loads the open sessions, then applies the log as it grows, forever: woken by the log
    /// (a commit on SQLite, `NOTIFY` on PostgreSQL), by requests waiting for it, and once a
    /// second in case a wake-up was missed. A lost connection is retried; the log is read from
    /// where this instance stopped.
    pub async fn follow_log(self: Arc<Self>) {
        let mut loaded = false;
        loop {
            let step =
                if loaded { self.catch_up().await } else { self.load_sessions(false).await.map(|()| loaded = true) };
            if let Err(err) = step {
                tracing::error!(error = %err, "reading the event log failed; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
            if loaded {
                tokio::select! {
                    () = self.wake.notified() => {}
                    () = self.log.appended() => {}
                }
            }
        }
    }

    pub(super) async fn catch_up(&self) -> StoreResult<()> {
        loop {
            let applied = *self.applied.borrow();
            let events = self.log.after(applied, BATCH).await?;
            let Some(first) = events.first() else {
                return Ok(());
            };
            // A gap is normal (a rolled-back transaction took a number) unless the events
            // after this instance's position were purged: then it starts again from the tables.
            if first.seq > applied + 1 && self.log.floor().await? > applied + 1 {
                tracing::warn!(applied, first = first.seq, "the event log was purged past this instance; reloading");
                self.load_sessions(true).await?;
                continue;
            }
            for (index, logged) in events.iter().enumerate() {
                // A run of equal configuration events (a statement touching many rows) is
                // applied once, at its last.
                let repeated = matches!(logged.event, Some(Event::Profiles | Event::Catalog))
                    && events.get(index + 1).is_some_and(|next| next.event == logged.event);
                if !repeated {
                    self.apply_logged(logged).await;
                }
                self.applied.send_replace(logged.seq);
            }
        }
    }

    /// Takes every open session from the session table (at start, or after falling behind
    /// the log's retention: a `reload`, which also drops what the cache holds, since the
    /// events that would have told what changed are gone). Sessions that follow statuses get
    /// a fresh full state.
    pub(super) async fn load_sessions(&self, reload: bool) -> StoreResult<()> {
        let (head, rows) = self.log.sessions().await?;
        if reload {
            self.forget_cached(Forget::Everything);
        }
        self.sessions.set_id_floor(seq_u64(head) * IDS_PER_EVENT + IDS_PER_EVENT / 2);
        let open: std::collections::HashSet<&str> = rows.iter().map(|r| r.record.id.as_str()).collect();
        for gone in self.sessions.all().into_iter().filter(|s| !open.contains(s.id.as_str())) {
            self.end_session(&gone.id, None).await;
        }
        for row in &rows {
            let session = match self.sessions.get(&row.record.id) {
                Some(session) => session,
                None => {
                    // A session rebuilt after a restart has a full idle timeout from now: the
                    // time the server was down does not count against its client.
                    let session = self.sessions.insert(row.record.clone());
                    self.sessions.touch(&session);
                    session
                }
            };
            session.mailbox.discard_through(seq_u64(row.drained));
            self.reindex(&session).await;
        }
        self.applied.send_replace(head);
        tracing::info!(sessions = rows.len(), head, "sessions loaded from the database");
        Ok(())
    }

    /// Drops what the cache in front of the store holds of `what`, a change committed
    /// (perhaps elsewhere) having made it stale.
    fn forget_cached(&self, what: Forget) {
        if let Some(cache) = self.store.cache() {
            cache.forget(what);
        }
    }

    /// Applies one logged event here.
    pub(super) async fn apply_logged(&self, logged: &LoggedEvent) {
        self.sessions.set_id_floor(seq_u64(logged.seq).saturating_mul(IDS_PER_EVENT));
        let Some(event) = &logged.event else {
            return;
        };
        match event {
            Event::Status { status, cause, .. } => {
                if status.until.is_some() {
                    self.lifecycle_changed();
                }
                {
                    // Published as committed, not as read later: every instance sends the same.
                    let _guard = self.publication_lock(status.user_id).await;
                    if let Some(cache) = self.store.cache() {
                        cache.remember_status(status);
                    }
                    self.publish_status(status.user_id).await;
                    self.publish_previous_info(status);
                }
                self.published(status.user_id, logged.seq);
                if let Some(cause) = cause
                    && let Some(session) = self.sessions.get(&cause.session)
                {
                    session.mailbox.push(Kind::Other, render::async_completed(&cause.request, None).into());
                }
            }
            Event::UserChanged(user) => self.forget_cached(Forget::User(*user)),
            Event::Rights(user) => {
                self.forget_cached(Forget::User(*user));
                self.rights_changed(Some(&[*user])).await;
            }
            Event::ProfileRemoved(user) => {
                self.forget_cached(Forget::User(*user));
                self.user_removed(*user, EndReason::ProfileRemoved).await;
            }
            Event::UserDeleted(user) => {
                self.forget_cached(Forget::User(*user));
                self.forget_cached(Forget::Status(*user));
                self.user_removed(*user, EndReason::UserRemoved).await;
            }
            Event::Profiles => {
                self.forget_cached(Forget::Profiles);
                self.rights_changed(None).await;
            }
            Event::Schedules(_) => self.lifecycle_changed(),
            Event::Catalog => {
                self.lifecycle_changed();
                self.forget_cached(Forget::Catalog);
                self.catalog_changed().await;
            }
            Event::SessionOpened(record) => {
                self.sessions.insert(record.clone());
                self.publish_status_locked(record.user_id).await;
            }
            Event::SessionEnded { id, reason, .. } => self.end_session(id, *reason).await,
            Event::SessionChanged { id, topic, .. } => {
                if let Some(session) = self.sessions.get(id) {
                    self.apply_topic(&session, topic.clone()).await;
                }
            }
        }
    }
}
