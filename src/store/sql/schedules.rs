//! Scheduled statuses and the lifecycle's transitions, written once for both dialects.
//!
//! A transition is applied by a conditional write in the transaction that commits the user's
//! new status and its event: the schedule's state moves only from the state it was found in,
//! and a return only if the user still holds the status and `until` it was found from. Where
//! several instances find the same transition, the first to commit applies it; the others
//! wait for its row, then find it no longer due.

use async_trait::async_trait;

use super::schema::{USER_STATUS_COLUMNS, user_status_from_row};
use super::statuses::upsert;
use super::{Backend, Columns, Conn, SqlStore, Value};
use crate::domain::presence::{Timestamp, Until, UserStatus};
use crate::domain::schedule::{
    self, Held, MAX_PENDING_PER_USER, ScheduleFields, ScheduleState, ScheduledStatus, Transition, TransitionKind,
};
use crate::domain::session::Actor;
use crate::store::events::{Event, LoggedEvent};
use crate::store::{Conflict, Lifecycle, StoreError, StoreResult};

const SCHEDULE_COLUMNS: &str = "id, user_id, status_id, notes, forward_number, start_at, end_at, state, \
     before_status_id, before_notes, before_forward_number, before_until_at, before_has_date, before_has_time, \
     applied_until_at";

/// Users holding, with an `until`, a status that returns to another one (an existing status
/// that is not a forward status), unless a schedule in progress set that status and until (its
/// end applies instead).
const RETURNING_USERS: &str = "FROM user_statuses us \
     JOIN status_messages held ON held.status_id = us.status_id \
     JOIN status_messages back ON back.status_id = held.return_status_id AND NOT back.is_forward_status \
     WHERE us.until_at IS NOT NULL";

const NOT_SCHEDULED: &str = "NOT EXISTS (SELECT 1 FROM scheduled_statuses ss WHERE ss.user_id = us.user_id \
     AND ss.state = 'active' AND ss.status_id = us.status_id AND ss.applied_until_at = us.until_at)";

fn schedule_from_row(row: &impl Columns) -> StoreResult<ScheduledStatus> {
    let state = row.text("state")?;
    let until = |column: &str| -> StoreResult<Option<Until>> {
        Ok(row.opt_int(column)?.map(|at| Until { at, has_date: true, has_time: true }))
    };
    let before = match row.opt_text("before_status_id")? {
        Some(status_id) => Some(Held {
            status_id,
            notes: row.opt_text("before_notes")?,
            forward_number: row.opt_text("before_forward_number")?,
            until: match row.opt_int("before_until_at")? {
                Some(at) => {
                    Some(Until { at, has_date: row.flag("before_has_date")?, has_time: row.flag("before_has_time")? })
                }
                None => None,
            },
        }),
        None => None,
    };
    Ok(ScheduledStatus {
        id: row.int("id")?,
        fields: ScheduleFields {
            user_id: row.int("user_id")?,
            status_id: row.text("status_id")?,
            notes: row.opt_text("notes")?,
            forward_number: row.opt_text("forward_number")?,
            start: row.int("start_at")?,
            end: row.opt_int("end_at")?,
        },
        state: ScheduleState::parse(&state).ok_or_else(|| StoreError::Corrupt(format!("schedule state {state}")))?,
        before,
        applied_until: until("applied_until_at")?,
    })
}

/// The user's status, held against concurrent writers until the transaction ends.
async fn locked_status<C: Conn>(c: &mut C, user_id: i64) -> StoreResult<Option<UserStatus>> {
    let sql = format!("SELECT {USER_STATUS_COLUMNS} FROM user_statuses WHERE user_id = ?{}", C::FOR_UPDATE);
    c.row(&sql, &[user_id.into()]).await?.as_ref().map(user_status_from_row).transpose()
}

/// Writes `status` as the schedule's doing, with its event; returns the event.
async fn write_status<C: Conn>(c: &mut C, status: UserStatus) -> StoreResult<Option<LoggedEvent>> {
    if !upsert(c, &status).await? {
        return Ok(None);
    }
    let event = Event::Status { status, cause: None, actor: Actor::Schedule };
    let seq = c.append(&event).await?;
    Ok(Some(LoggedEvent { seq, event: Some(event) }))
}

/// The status and event number of a committed status event.
fn committed(logged: Option<&LoggedEvent>) -> Option<(i64, UserStatus)> {
    match logged {
        Some(LoggedEvent { seq, event: Some(Event::Status { status, .. }) }) => Some((*seq, status.clone())),
        _ => None,
    }
}

/// Commits what a transition wrote: only status events, kept at hand for the engine.
async fn commit_transition<B: Backend>(
    backend: &B,
    tx: B::Tx,
    logged: Option<LoggedEvent>,
) -> StoreResult<Option<(i64, UserStatus)>> {
    let result = committed(logged.as_ref());
    backend.commit_statuses(tx, logged.into_iter().collect()).await?;
    Ok(result)
}

async fn start<B: Backend>(backend: &B, id: i64) -> StoreResult<Option<(i64, UserStatus)>> {
    let mut tx = backend.begin().await?;
    let sql = format!(
        "UPDATE scheduled_statuses SET state = CASE WHEN end_at IS NULL THEN 'done' ELSE 'active' END \
         WHERE id = ? AND state = 'pending' RETURNING {SCHEDULE_COLUMNS}"
    );
    let Some(row) = tx.row(&sql, &[id.into()]).await? else {
        return Ok(None);
    };
    let scheduled = schedule_from_row(&row)?;
    let catalog = format!("SELECT {} FROM status_messages WHERE status_id = ?", super::schema::status_columns());
    let entry = tx.row(&catalog, &[(&scheduled.fields.status_id).into()]).await?;
    let (Some(current), Some(entry)) = (locked_status(&mut *tx, scheduled.fields.user_id).await?, entry) else {
        return commit_transition(backend, tx, None).await;
    };
    let next = schedule::start(&current, &scheduled.fields, &super::schema::status_from_row(&entry)?);
    let before = Held::of(&current);
    let before_until = before.until;
    tx.run(
        "UPDATE scheduled_statuses SET before_status_id = ?, before_notes = ?, before_forward_number = ?, \
         before_until_at = ?, before_has_date = ?, before_has_time = ?, applied_until_at = ? WHERE id = ?",
        &[
            (&before.status_id).into(),
            (&before.notes).into(),
            (&before.forward_number).into(),
            before_until.map(|u| u.at).into(),
            before_until.is_some_and(|u| u.has_date).into(),
            before_until.is_some_and(|u| u.has_time).into(),
            next.until.map(|u| u.at).into(),
            id.into(),
        ],
    )
    .await?;
    let logged = write_status(&mut *tx, next).await?;
    commit_transition(backend, tx, logged).await
}

async fn end<B: Backend>(backend: &B, id: i64) -> StoreResult<Option<(i64, UserStatus)>> {
    let mut tx = backend.begin().await?;
    let sql = format!(
        "UPDATE scheduled_statuses SET state = 'done' WHERE id = ? AND state = 'active' RETURNING {SCHEDULE_COLUMNS}"
    );
    let Some(row) = tx.row(&sql, &[id.into()]).await? else {
        return Ok(None);
    };
    let mut scheduled = schedule_from_row(&row)?;
    // As it was found: still in progress.
    scheduled.state = ScheduleState::Active;
    let at = scheduled.fields.end.unwrap_or(scheduled.fields.start);
    let logged = match locked_status(&mut *tx, scheduled.fields.user_id).await? {
        Some(current) => match schedule::end(&current, &scheduled, at) {
            Some(next) => write_status(&mut *tx, next).await?,
            None => None,
        },
        None => None,
    };
    commit_transition(backend, tx, logged).await
}

async fn return_to<B: Backend>(
    backend: &B,
    user_id: i64,
    status_id: &str,
    at: Timestamp,
) -> StoreResult<Option<(i64, UserStatus)>> {
    let mut tx = backend.begin().await?;
    let Some(current) = locked_status(&mut *tx, user_id).await? else {
        return Ok(None);
    };
    if current.status_id != status_id || current.until.map(|u| u.at) != Some(at) {
        return Ok(None);
    }
    let sql = format!("SELECT back.status_id AS back {RETURNING_USERS} AND us.user_id = ? AND {NOT_SCHEDULED}");
    let Some(row) = tx.row(&sql, &[user_id.into()]).await? else {
        return Ok(None);
    };
    let logged = match schedule::return_to(&current, &row.text("back")?) {
        Some(next) => write_status(&mut *tx, next).await?,
        None => None,
    };
    commit_transition(backend, tx, logged).await
}

#[async_trait]
impl<B: Backend> Lifecycle for SqlStore<B> {
    async fn list_schedules(&self, user_id: i64, upcoming: bool) -> StoreResult<Vec<ScheduledStatus>> {
        let only = if upcoming { " AND state <> 'done'" } else { "" };
        let sql =
            format!("SELECT {SCHEDULE_COLUMNS} FROM scheduled_statuses WHERE user_id = ?{only} ORDER BY start_at, id");
        let rows = self.backend.reader().await?.rows(&sql, &[user_id.into()]).await?;
        rows.iter().map(schedule_from_row).collect()
    }

    async fn get_schedule(&self, user_id: i64, id: i64) -> StoreResult<ScheduledStatus> {
        let sql = format!("SELECT {SCHEDULE_COLUMNS} FROM scheduled_statuses WHERE id = ? AND user_id = ?");
        let row = self.backend.reader().await?.row(&sql, &[id.into(), user_id.into()]).await?;
        schedule_from_row(&row.ok_or(StoreError::NotFound)?)
    }

    async fn create_schedule(&self, f: &ScheduleFields) -> StoreResult<ScheduledStatus> {
        let mut tx = self.backend.begin().await?;
        // Schedules of one user are added one at a time: each sees the others.
        let user = format!("SELECT id FROM users WHERE id = ?{}", B::Conn::FOR_UPDATE);
        tx.row(&user, &[f.user_id.into()]).await?.ok_or(StoreError::NotFound)?;
        let upcoming = "FROM scheduled_statuses WHERE user_id = ? AND state <> 'done'";
        let count = tx.row(&format!("SELECT count(*) AS n {upcoming}"), &[f.user_id.into()]).await?;
        if count.map_or(Ok(0), |row| row.int("n"))? >= MAX_PENDING_PER_USER {
            return Err(StoreError::Conflict(Conflict::TooManySchedules));
        }
        let mut overlap = format!("SELECT id {upcoming} AND (end_at IS NULL OR end_at > ?)");
        let mut args: Vec<Value<'_>> = vec![f.user_id.into(), f.start.into()];
        if let Some(end) = f.end {
            overlap.push_str(" AND start_at < ?");
            args.push(end.into());
        }
        overlap.push_str(" ORDER BY start_at, id LIMIT 1");
        if let Some(row) = tx.row(&overlap, &args).await? {
            return Err(StoreError::Conflict(Conflict::ScheduleOverlaps(row.int("id")?)));
        }
        let insert = format!(
            "INSERT INTO scheduled_statuses (user_id, status_id, notes, forward_number, start_at, end_at) \
             VALUES (?, ?, ?, ?, ?, ?) RETURNING {SCHEDULE_COLUMNS}"
        );
        let args = [
            f.user_id.into(),
            (&f.status_id).into(),
            (&f.notes).into(),
            (&f.forward_number).into(),
            f.start.into(),
            f.end.into(),
        ];
        let row = tx.row(&insert, &args).await?.ok_or(StoreError::NotFound)?;
        let created = schedule_from_row(&row)?;
        tx.append(&Event::Schedules(f.user_id)).await?;
        self.backend.commit(tx).await?;
        Ok(created)
    }

    async fn delete_schedule(&self, user_id: i64, id: i64, now: Timestamp) -> StoreResult<Option<(i64, UserStatus)>> {
        let mut tx = self.backend.begin().await?;
        let sql = format!("DELETE FROM scheduled_statuses WHERE id = ? AND user_id = ? RETURNING {SCHEDULE_COLUMNS}");
        let row = tx.row(&sql, &[id.into(), user_id.into()]).await?.ok_or(StoreError::NotFound)?;
        let deleted = schedule_from_row(&row)?;
        let mut logged = None;
        if deleted.state == ScheduleState::Active
            && let Some(current) = locked_status(&mut *tx, user_id).await?
            && let Some(next) = schedule::end(&current, &deleted, now)
        {
            logged = write_status(&mut *tx, next).await?;
        }
        tx.append(&Event::Schedules(user_id)).await?;
        self.backend.commit(tx).await?;
        Ok(committed(logged.as_ref()))
    }

    async fn next_transition(&self) -> StoreResult<Option<Timestamp>> {
        let sql = format!(
            "SELECT (SELECT us.until_at {RETURNING_USERS} ORDER BY us.until_at LIMIT 1) AS returns, \
             (SELECT min(start_at) FROM scheduled_statuses WHERE state = 'pending') AS starts, \
             (SELECT min(end_at) FROM scheduled_statuses WHERE state = 'active') AS ends"
        );
        let Some(row) = self.backend.reader().await?.row(&sql, &[]).await? else {
            return Ok(None);
        };
        let times = [row.opt_int("returns")?, row.opt_int("starts")?, row.opt_int("ends")?];
        Ok(times.into_iter().flatten().min())
    }

    async fn due_transitions(&self, now: Timestamp, limit: i64) -> StoreResult<Vec<Transition>> {
        let mut reader = self.backend.reader().await?;
        let args = [now.into(), limit.into()];
        let mut due = Vec::new();
        let schedules = |state: &str, column: &str| {
            format!(
                "SELECT id, user_id, {column} AS at FROM scheduled_statuses WHERE state = '{state}' AND {column} <= ? \
                 ORDER BY {column} LIMIT ?"
            )
        };
        for row in reader.rows(&schedules("active", "end_at"), &args).await? {
            due.push(Transition {
                user_id: row.int("user_id")?,
                at: row.int("at")?,
                kind: TransitionKind::End(row.int("id")?),
            });
        }
        for row in reader.rows(&schedules("pending", "start_at"), &args).await? {
            let kind = TransitionKind::Start(row.int("id")?);
            due.push(Transition { user_id: row.int("user_id")?, at: row.int("at")?, kind });
        }
        let returns = format!(
            "SELECT us.user_id, us.status_id, us.until_at {RETURNING_USERS} AND us.until_at <= ? AND {NOT_SCHEDULED} \
             ORDER BY us.until_at LIMIT ?"
        );
        for row in reader.rows(&returns, &args).await? {
            let kind = TransitionKind::Return { status_id: row.text("status_id")? };
            due.push(Transition { user_id: row.int("user_id")?, at: row.int("until_at")?, kind });
        }
        due.sort_by_key(Transition::order);
        Ok(due)
    }

    async fn apply_transition(&self, transition: &Transition) -> StoreResult<Option<(i64, UserStatus)>> {
        match &transition.kind {
            TransitionKind::Start(id) => start(&self.backend, *id).await,
            TransitionKind::End(id) => end(&self.backend, *id).await,
            TransitionKind::Return { status_id } => {
                return_to(&self.backend, transition.user_id, status_id, transition.at).await
            }
        }
    }

    async fn purge_schedules(&self, before: Timestamp) -> StoreResult<u64> {
        let sql = "DELETE FROM scheduled_statuses WHERE state = 'done' AND coalesce(end_at, start_at) < ?";
        Ok(self.backend.writer().await?.run(sql, &[before.into()]).await?)
    }
}
